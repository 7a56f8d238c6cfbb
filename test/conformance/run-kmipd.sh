#!/bin/sh
# Runs the OASIS conformance test cases against a private kmipd: temporary certificates and store, a free
# port, no key pool (every key is generated when asked), Destroy only of objects that are not Active (the
# spec's rule, which the test cases check), leases of an hour (server.lease_time: the test cases list a Lease
# Time among every key's attributes, and show it as 3600 s).
# Usage: test/conformance/run-kmipd.sh BUILD VECTORS [FILE...]
# Without files it runs the KMIP 1.4 and 2.1 mandatory sets of VECTORS, each in a kmipd of its own, in name
# order (SASED-M-3 finds what SASED-M-2 made), and prints the total. CONFORMANCE_FLAGS adds runner options ("--verbose", "--timeout 120");
# KMIPD_OPTIONS adds kmipd options, split at spaces ("-o crypto.rng_seed_max=16"), for the optional files
# that test one of several behaviours a server may choose (CS-RNG-O-1 to 4).
#
# Exit status: 0 when the runner worked, whatever the results (test failures are the server's to fix and
# the count says how many), 1 when the runner broke (its status 2) or kmipd could not be started.
set -u
build=${1:?usage: run-kmipd.sh BUILD VECTORS [FILE...]}
vectors=${2:?usage: run-kmipd.sh BUILD VECTORS [FILE...]}
shift 2
runner="$build/conformance/kmip-conformance"
opts=${CONFORMANCE_FLAGS:-}
if [ $# -eq 0 ]; then
	# Each version's set on a kmipd of its own: the test cases assume an empty server, and a file that fails
	# half way in one set must not leave objects that a file of the other set then finds (TL-M-3 looks for
	# the one key its TL-M-2 made). The counts of both runs, then their total.
	[ -d "$vectors/oasis-profiles-v1.4-os/mandatory" ] || { echo "conformance: no test cases at $vectors" >&2; exit 1; }
	out=$(mktemp /tmp/kmipd-conformance-out-XXXXXX)
	status=0
	for set in v1.4 v2.1; do
		"$0" "$build" "$vectors" "$vectors"/oasis-profiles-$set-os/mandatory/*.xml >"$out.one" || status=1
		cat "$out.one"
		cat "$out.one" >>"$out"
	done
	awk '/^[0-9]+ passed, [0-9]+ failed$/ { p += $1; f += $3 } END { printf "total: %d passed, %d failed\n", p, f }' \
		"$out"
	rm -f "$out" "$out.one"
	exit $status
fi
[ -e "$1" ] || { echo "conformance: no test cases at $vectors" >&2; exit 1; }

dir=$(mktemp -d /tmp/kmipd-conformance-XXXXXX)
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

etc/mkcerts.sh "$dir/certs" >/dev/null || { echo "conformance: mkcerts failed" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(umask 077 && head -c 32 /dev/urandom >"$dir/master.key") || { echo "conformance: no master key" >&2; exit 1; }
# shellcheck disable=SC2086
"$build/kmipd" -f -o server.listen=127.0.0.1 -o server.port="$port" -o store.path="$dir/store" \
	-o store.master_key_file="$dir/master.key" \
	-o tls.cert_file="$dir/certs/server.crt" -o tls.key_file="$dir/certs/server.key" \
	-o tls.clients_ca_cert_file="$dir/certs/ca.crt" -o keygen.pool_size=0 \
	-o compat.destroy_active=false -o server.lease_time=3600 -o log.level=warn ${KMIPD_OPTIONS:-} \
	2>"$dir/kmipd.log" &
pid=$!
up=""
for _ in $(seq 100); do
	if ! kill -0 "$pid" 2>/dev/null; then
		break
	fi
	if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null; then
		up=1
		break
	fi
	sleep 0.1
done
if [ -z "$up" ]; then
	echo "conformance: kmipd did not start:" >&2
	cat "$dir/kmipd.log" >&2
	exit 1
fi

# shellcheck disable=SC2086
"$runner" --host 127.0.0.1 --port "$port" --ca "$dir/certs/ca.crt" --cert "$dir/certs/client.crt" \
	--key "$dir/certs/client.key" $opts "$@"
rc=$?
if ! kill -0 "$pid" 2>/dev/null; then
	echo "conformance: kmipd exited during the run; its log:"
	tail -20 "$dir/kmipd.log"
	pid=""
fi
case $rc in
0|1) exit 0 ;;
*) echo "conformance: the runner failed (status $rc)" >&2; exit 1 ;;
esac
