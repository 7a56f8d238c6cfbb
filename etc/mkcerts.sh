#!/bin/sh
# Makes development certificates for kmipd: one CA for the server and its clients, a server identity and an
# ECDSA P-256 one to serve beside it (server-ec.crt, for tls.ecdsa_cert_file), client identities (two
# clients, an ECDSA one, an administrator, a backup server with an OU and URI, DNS and email subjectAltNames,
# one from another CA, one already expired) and PKCS#12 bundles.
#
# Usage: etc/mkcerts.sh [-f] [-a ALG] [-g GROUP] DIR [HOSTNAME...]
#        etc/mkcerts.sh revoke DIR NAME|CERTFILE
#        etc/mkcerts.sh crl DIR
#        etc/mkcerts.sh [-a ALG] [-g GROUP] csr DIR [HOSTNAME...]
#        etc/mkcerts.sh sign DIR CSRFILE [CERTFILE]
#        etc/mkcerts.sh [-a ALG] client DIR NAME [CN]
#   -f          regenerate every file, even those that exist
#   -a ALG      rsa or ec: the key type of what this run makes (default KMIPD_KEY_TYPE, else rsa); with csr,
#               ec makes the ECDSA pair's server-ec.key and server-ec.csr instead of server.key and server.csr
#   -g GROUP    let GROUP (the service's, e.g. kmipd) read what kmipd reads: DIR 0750, server.key and
#               server-ec.key 0640, the certificates and the CRL 0640, all group GROUP; the CA key stays 0600
#   HOSTNAME    DNS names for the server certificate besides localhost (default: `hostname -f`)
#   revoke      on the CA machine: marks a client certificate revoked (NAME is DIR/NAME.crt, or give a
#               certificate file) and writes DIR/crl.pem, the CRL to copy to kmipd's tls.crl_file
#   crl         writes DIR/crl.pem again (a CRL is valid KMIPD_CRL_DAYS days: reissue it before then)
# Production, with the CA key kept off the key server:
#   csr         on the key server: writes DIR/server.key (never leaves it) and DIR/server.csr to take to
#               the CA machine (-a ec: server-ec.key and server-ec.csr, for tls.ecdsa_cert_file)
#   sign        on the CA machine (DIR made by a plain run, or your own ca.crt/ca.key there): signs the CSR
#               as a TLS server certificate for the names it asks (CERTFILE, default the CSR's name .crt),
#               RSA or EC as the request's key; copy it and DIR/ca.crt (and crl.pem) back to the key server
#   client      on the CA machine: a client certificate DIR/NAME.crt, .key and .p12 with CN (default NAME),
#               its key RSA-2048 or (-a ec) EC P-256
# The first run writes an empty crl.pem. The CA's revocation database is DIR/ca-db (openssl ca's index).
# Environment:
#   KMIPD_P12_PASSWORD  password of client.p12 and server.p12 (default "kmipd-dev")
#   KMIPD_KEY_TYPE      rsa (default: RSA-2048, what every Windows SChannel release accepts) or ec (P-256):
#                       the key type of the CA, server.crt and the client certificates (as -a); server-ec and
#                       client-ec are EC P-256 whatever it says (with ec, server.crt is EC too and kmipd
#                       refuses server-ec beside it: use it alone)
#   KMIPD_CRL_DAYS      days a CRL stays current (default 30)
#   KMIPD_CRL_LASTUPDATE, KMIPD_CRL_NEXTUPDATE  explicit CRL dates (YYYYMMDDHHMMSSZ), for tests
#   KMIPD_P12_COMPAT    "legacy" makes the .p12 files with 3DES and a SHA-1 MAC for Windows before
#                       Server 2019 / 10 1709, which cannot import AES-encrypted PKCS#12 files
#
# Files that exist are left alone, so running it again is cheap; a file whose inputs were remade is remade too
# (a new CA reissues every certificate it signs). Prints the files it made, one a line; errors go to stderr.
# Development use only: the keys sit unencrypted in DIR.
set -eu

prog=mkcerts
die() {
	echo "$prog: $*" >&2
	exit 1
}

mode=make
force=0
group=""
alg=""
usage="usage: $0 [-f] [-a rsa|ec] [-g GROUP] DIR [HOSTNAME...] | revoke DIR NAME | crl DIR |
       [-a rsa|ec] [-g GROUP] csr DIR [HOSTNAME...] | sign DIR CSRFILE [CERTFILE] | [-a rsa|ec] client DIR NAME [CN]"
while getopts fa:g: opt; do
	case "$opt" in
	f) force=1 ;;
	a) alg=$OPTARG ;;
	g) group=$OPTARG ;;
	*) echo "$usage" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
case "${1:-}" in
revoke | crl | csr | sign | client)
	mode=$1
	shift
	;;
esac
[ $# -ge 1 ] || { echo "$usage" >&2; exit 2; }
dir=$1
shift
target=""
target2=""
case "$mode" in
revoke)
	[ $# -eq 1 ] || { echo "usage: $0 revoke DIR NAME|CERTFILE" >&2; exit 2; }
	target=$1
	shift
	;;
crl)
	[ $# -eq 0 ] || { echo "usage: $0 crl DIR" >&2; exit 2; }
	;;
sign | client)
	if [ $# -lt 1 ] || [ $# -gt 2 ]; then
		echo "$usage" >&2
		exit 2
	fi
	target=$1
	target2=${2:-}
	set --
	;;
esac
if [ -n "$group" ]; then
	getent group "$group" >/dev/null 2>&1 || die "no group '$group' on this machine"
fi

command -v openssl >/dev/null 2>&1 || die "openssl not found in PATH"
ver=$(openssl version 2>/dev/null) || die "openssl does not run"
case "$ver" in
"OpenSSL 3."*) ;;
*) die "need OpenSSL 3, found: $ver" ;;
esac

p12pass=${KMIPD_P12_PASSWORD:-kmipd-dev}
keytype=${alg:-${KMIPD_KEY_TYPE:-rsa}}
case "$keytype" in
rsa | ec) ;;
*) die "-a or KMIPD_KEY_TYPE must be rsa or ec, not '$keytype'" ;;
esac
case "${KMIPD_P12_COMPAT:-}" in
"") p12alg="-keypbe AES-256-CBC -certpbe AES-256-CBC -macalg sha256" ;;
legacy) p12alg="-keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1" ;;
*) die "KMIPD_P12_COMPAT must be empty or legacy" ;;
esac

# True when the argument can be a DNS name in a certificate.
valid_host() {
	case "$1" in
	"" | .* | *..* | *[!A-Za-z0-9.*-]*) return 1 ;;
	esac
	return 0
}

for h in "$@"; do
	valid_host "$h" || die "bad host name '$h'"
done
if [ $# -eq 0 ]; then
	# A machine name that cannot go in a certificate (an underscore, say) is left out, not fatal.
	h=$(hostname -f 2>/dev/null || true)
	valid_host "$h" || h=$(hostname 2>/dev/null || true)
	if valid_host "$h"; then set -- "$h"; fi
fi
sans="DNS:localhost"
for h in "$@"; do
	[ "$h" = localhost ] || sans="$sans,DNS:$h"
done
sans="$sans,IP:127.0.0.1,IP:::1"

# The password goes to openssl through the environment, never the command line where ps would show it.
MKCERTS_P12PASS=$p12pass
export MKCERTS_P12PASS

# keyEncipherment only means something for RSA keys; some Windows releases want it on RSA server certificates.
if [ "$keytype" = rsa ]; then
	server_ku="digitalSignature,keyEncipherment"
else
	server_ku="digitalSignature"
fi

umask 077
mkdir -p "$dir" || die "cannot create $dir"
chmod 0700 "$dir" || die "cannot chmod $dir"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mkcerts.XXXXXX") || die "cannot make a temporary folder"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM
errlog=$tmp/err

# Runs a command with its output kept aside; on failure shows that output and stops.
run() {
	if ! "$@" >"$errlog" 2>&1; then
		cat "$errlog" >&2
		die "failed: $*"
	fi
}

# Extensions for every certificate, in one file so the system openssl.cnf plays no part.
cat >"$tmp/ext.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,$server_ku
extendedKeyUsage = serverAuth
subjectAltName = $sans
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[server_ec_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $sans
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[server_csr_ext]
subjectAltName = $sans
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_san_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = URI:spiffe://example.com/backup/vault1,DNS:vault1.backup.example.com,email:backup@example.com
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

made=""
# Records a made file and prints its path.
note() {
	for f in "$@"; do
		made="$made $f"
		echo "$dir/$f"
	done
}

# True when NAME was made by this run.
was_made() {
	case " $made " in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

# True when any of the files is missing, -f was given, or an input in the rest of the list was made now.
# Usage: need OUT... -- IN...
need() {
	r=1
	[ "$force" -eq 1 ] && r=0
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		[ -e "$dir/$1" ] || r=0
		shift
	done
	[ $# -gt 0 ] && shift
	for f in "$@"; do
		was_made "$f" && r=0
	done
	return $r
}

# Makes a private key: FILE [TYPE (default: the run's, rsa or ec)]
newkey() {
	if [ "${2:-$keytype}" = ec ]; then
		run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"
	else
		run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"
	fi
	chmod 0600 "$1"
}

serial() {
	echo "0x$(openssl rand -hex 16)"
}

# Self-signed CA: NAME CN
make_ca() {
	newkey "$tmp/$1.key"
	run openssl req -new -x509 -config "$tmp/ext.cnf" -extensions ca_ext -key "$tmp/$1.key" \
		-subj "/O=kmipd development/CN=$2" -days 3650 -sha256 -set_serial "$(serial)" \
		-out "$tmp/$1.crt"
	mv -f "$tmp/$1.key" "$dir/$1.key"
	mv -f "$tmp/$1.crt" "$dir/$1.crt"
	note "$1.crt" "$1.key"
}

# Leaf certificate: NAME CN EXTENSIONS CA-NAME [SUBJECT-PREFIX (default /O=kmipd development)] [KEY-TYPE]
make_leaf() {
	newkey "$tmp/$1.key" "${6:-}"
	run openssl req -new -config "$tmp/ext.cnf" -key "$tmp/$1.key" -subj "${5:-/O=kmipd development}/CN=$2" \
		-out "$tmp/$1.csr"
	run openssl x509 -req -in "$tmp/$1.csr" -CA "$dir/$4.crt" -CAkey "$dir/$4.key" -set_serial "$(serial)" \
		-days 825 -sha256 -extfile "$tmp/ext.cnf" -extensions "$3" -out "$tmp/$1.crt"
	mv -f "$tmp/$1.key" "$dir/$1.key"
	mv -f "$tmp/$1.crt" "$dir/$1.crt"
	note "$1.crt" "$1.key"
}

# A client certificate signed by the CA whose validity ended in the past. OpenSSL 3.4 and later can set the
# dates in `x509 -req`; older releases need `openssl ca`, which wants a database of its own.
make_expired() {
	newkey "$tmp/$1.key"
	run openssl req -new -config "$tmp/ext.cnf" -key "$tmp/$1.key" -subj "/O=kmipd development/CN=$2" \
		-out "$tmp/$1.csr"
	if openssl x509 -help 2>&1 | grep -q -- '-not_before'; then
		run openssl x509 -req -in "$tmp/$1.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
			-set_serial "$(serial)" -not_before 20200101000000Z -not_after 20210101000000Z -sha256 \
			-extfile "$tmp/ext.cnf" -extensions client_ext -out "$tmp/$1.crt"
	else
		mkdir "$tmp/ca"
		: >"$tmp/ca/index.txt"
		openssl rand -hex 16 >"$tmp/ca/serial"
		cat >"$tmp/ca/ca.cnf" <<EOF
[ca]
default_ca = throwaway
[throwaway]
database = $tmp/ca/index.txt
serial = $tmp/ca/serial
new_certs_dir = $tmp/ca
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
organizationName = optional
commonName = supplied
EOF
		run openssl ca -batch -config "$tmp/ca/ca.cnf" -cert "$dir/ca.crt" -keyfile "$dir/ca.key" \
			-startdate 20200101000000Z -enddate 20210101000000Z -preserveDN -notext \
			-extfile "$tmp/ext.cnf" -extensions client_ext -in "$tmp/$1.csr" -out "$tmp/$1.crt"
	fi
	if openssl x509 -in "$tmp/$1.crt" -noout -checkend 0 >/dev/null 2>&1; then
		die "$1.crt came out still valid"
	fi
	mv -f "$tmp/$1.key" "$dir/$1.key"
	mv -f "$tmp/$1.crt" "$dir/$1.crt"
	note "$1.crt" "$1.key"
}

# PKCS#12 bundle of a certificate, its key and the CA: NAME FRIENDLY-NAME
make_p12() {
	# shellcheck disable=SC2086
	run openssl pkcs12 -export -in "$dir/$1.crt" -inkey "$dir/$1.key" \
		-certfile "$dir/ca.crt" -name "$2" $p12alg -iter 2048 -passout env:MKCERTS_P12PASS \
		-out "$tmp/$1.p12"
	mv -f "$tmp/$1.p12" "$dir/$1.p12"
	note "$1.p12"
}

# The revocation database of openssl ca, kept in DIR/ca-db with a config naming only what -revoke and
# -gencrl use, so the system openssl.cnf plays no part.
ca_db() {
	mkdir -p "$dir/ca-db" || die "cannot create $dir/ca-db"
	[ -e "$dir/ca-db/index.txt" ] || : >"$dir/ca-db/index.txt"
	[ -e "$dir/ca-db/crlnumber" ] || echo 01 >"$dir/ca-db/crlnumber"
	cat >"$dir/ca-db/ca.cnf" <<EOF
[ca]
default_ca = kmipd_ca
[kmipd_ca]
database = $dir/ca-db/index.txt
crlnumber = $dir/ca-db/crlnumber
new_certs_dir = $dir/ca-db
certificate = $dir/ca.crt
private_key = $dir/ca.key
default_md = sha256
default_crl_days = ${KMIPD_CRL_DAYS:-30}
unique_subject = no
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
EOF
}

# Writes DIR/crl.pem from the database: every certificate revoked so far.
make_crl() {
	ca_db
	set -- -gencrl -config "$dir/ca-db/ca.cnf" -out "$tmp/crl.pem"
	[ -n "${KMIPD_CRL_LASTUPDATE:-}" ] && set -- "$@" -crl_lastupdate "$KMIPD_CRL_LASTUPDATE"
	[ -n "${KMIPD_CRL_NEXTUPDATE:-}" ] && set -- "$@" -crl_nextupdate "$KMIPD_CRL_NEXTUPDATE"
	run openssl ca "$@"
	chmod 0644 "$tmp/crl.pem"
	mv -f "$tmp/crl.pem" "$dir/crl.pem"
	note crl.pem
}

# With -g: what kmipd reads becomes readable by its group (the unit runs it as that user, and a reload
# reads the files again after privileges are dropped). The CA key, when there is one, stays 0600.
share_with_group() {
	[ -n "$group" ] || return 0
	chgrp "$group" "$dir" || die "cannot give $dir to group $group"
	chmod 0750 "$dir" || die "cannot chmod $dir"
	for f in server.key server.crt server-ec.key server-ec.crt ca.crt crl.pem server.p12; do
		[ -e "$dir/$f" ] || continue
		chgrp "$group" "$dir/$f" || die "cannot give $dir/$f to group $group"
		chmod 0640 "$dir/$f" || die "cannot chmod $dir/$f"
	done
}

if [ "$mode" = csr ]; then
	# On the key server: its private key is made here and never leaves; only the request goes out.
	base=server
	if [ "$keytype" = ec ]; then base=server-ec; fi
	if need $base.key --; then
		newkey "$tmp/$base.key"
		mv -f "$tmp/$base.key" "$dir/$base.key"
		note $base.key
	fi
	run openssl req -new -config "$tmp/ext.cnf" -key "$dir/$base.key" -subj "/CN=${1:-localhost}" \
		-reqexts server_csr_ext -out "$tmp/$base.csr"
	chmod 0644 "$tmp/$base.csr"
	mv -f "$tmp/$base.csr" "$dir/$base.csr"
	note $base.csr
	share_with_group
	exit 0
fi

if [ "$mode" != make ]; then
	[ -e "$dir/ca.crt" ] && [ -e "$dir/ca.key" ] || die "no CA in $dir: run $0 $dir first"
	if [ "$mode" = sign ]; then
		[ -r "$target" ] || die "cannot read $target"
		run openssl req -in "$target" -noout -verify
		# Only the names are taken from the request: the usages are the CA's to set.
		names=$(openssl req -in "$target" -noout -text | sed -n '/Subject Alternative Name/{n;p;}' |
			sed 's/^ *//; s/IP Address:/IP:/g')
		[ -n "$names" ] || die "$target asks for no subjectAltName: make it with $0 csr"
		cn=$(openssl req -in "$target" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p')
		esc=$(printf '%s' "$names" | sed 's/[&|\\]/\\&/g')
		sed -i "s|^subjectAltName = .*|subjectAltName = $esc|" "$tmp/ext.cnf"
		out=${target2:-${target%.csr}.crt}
		# keyEncipherment means nothing for an EC key: an EC request gets digitalSignature alone.
		ext=server_ext
		if openssl req -in "$target" -noout -text | grep -q 'Public Key Algorithm: id-ecPublicKey'; then
			ext=server_ec_ext
		fi
		run openssl x509 -req -in "$target" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -set_serial "$(serial)" \
			-days 825 -sha256 -extfile "$tmp/ext.cnf" -extensions $ext -out "$tmp/signed.crt"
		chmod 0644 "$tmp/signed.crt"
		mv -f "$tmp/signed.crt" "$out"
		echo "$out"
		echo "$prog: signed ${cn:-?} for $names; copy $out and $dir/ca.crt to the key server" >&2
		exit 0
	fi
	if [ "$mode" = client ]; then
		case "$target" in
		"" | *[!A-Za-z0-9._-]*) die "bad client name '$target'" ;;
		esac
		make_leaf "$target" "${target2:-$target}" client_ext ca
		make_p12 "$target" "${target2:-$target}"
		exit 0
	fi
	if [ "$mode" = revoke ]; then
		case "$target" in
		*/* | *.crt | *.pem) cert=$target ;;
		*) cert=$dir/$target.crt ;;
		esac
		[ -r "$cert" ] || die "cannot read $cert"
		ca_db
		sn=$(openssl x509 -in "$cert" -noout -serial | sed 's/^serial=//')
		if grep -q "^R.*	$sn	" "$dir/ca-db/index.txt"; then
			echo "$prog: $cert (serial $sn) was already revoked" >&2
		else
			run openssl ca -config "$dir/ca-db/ca.cnf" -revoke "$cert"
		fi
	fi
	make_crl
	exit 0
fi

if need ca.crt ca.key --; then make_ca ca "kmipd development CA"; fi
if need server.crt server.key -- ca.crt; then make_leaf server "${1:-localhost}" server_ext ca; fi
# The ECDSA identity served beside server.crt (tls.ecdsa_cert_file), and an ECDSA client.
if need server-ec.crt server-ec.key -- ca.crt; then
	make_leaf server-ec "${1:-localhost}" server_ec_ext ca "" ec
fi
if need client-ec.crt client-ec.key -- ca.crt; then make_leaf client-ec kmip-client-ec client_ext ca "" ec; fi
if need client.crt client.key -- ca.crt; then make_leaf client kmip-client client_ext ca; fi
if need client2.crt client2.key -- ca.crt; then make_leaf client2 kmip-client-2 client_ext ca; fi
if need admin.crt admin.key -- ca.crt; then make_leaf admin kmip-admin client_ext ca; fi
# A backup server: an OU and URI, DNS and email subjectAltNames (the URI first), for access.grants and
# access.identity = san:dns / san:uri tests.
if need backup.crt backup.key -- ca.crt; then
	make_leaf backup kmip-backup client_san_ext ca "/O=kmipd development/OU=Backup Servers"
fi
if need client.p12 -- client.crt ca.crt; then make_p12 client kmip-client; fi
if need server.p12 -- server.crt ca.crt; then make_p12 server kmipd-server; fi
if need other-ca.crt other-ca.key --; then make_ca other-ca "kmipd other CA"; fi
if need other-client.crt other-client.key -- other-ca.crt; then
	make_leaf other-client kmip-client client_ext other-ca
fi
if need expired-client.crt expired-client.key -- ca.crt; then make_expired expired-client kmip-client; fi
if need crl.pem -- ca.crt; then
	# A new CA starts a new database: the old one's revocations mean nothing under it.
	if was_made ca.crt; then rm -rf "$dir/ca-db"; fi
	make_crl
fi
share_with_group
exit 0
