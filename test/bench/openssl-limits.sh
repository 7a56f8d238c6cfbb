#!/bin/sh
# What OpenSSL alone does on this machine, as the yardstick for kmipd's TLS and key-generation figures:
#   - RSA-2048 signatures and verifications per second on one core (`openssl speed rsa2048`): a full
#     mutual-TLS handshake with an RSA server certificate costs the server one signature and two or three
#     verifications (client certificate chain, CertificateVerify), so sign/s bounds full handshakes/s per core;
#   - `openssl s_time` full (-new) and resumed (-reuse) TLS 1.2 handshakes, one connection at a time, against
#     `openssl s_server` and against kmipd and PyKMIP's server, all with the same client certificate;
#   - RSA-2048 key generation (`openssl genrsa 2048`) on one core and on every core, the yardstick for
#     CreateKeyPair.
# Usage: test/bench/openssl-limits.sh [BUILD] [SECONDS] [GENRSA_SECONDS]   (defaults: build 3 10)
# Servers run on CPU 0, clients on CPU 1.
set -u
build=${1:-build}
secs=${2:-3}
gsecs=${3:-10}
. test/bench/lib.sh

make_dir openssl
ss_pid=
# openssl s_server too, when the run is interrupted during its row.
trap '[ -n "$ss_pid" ] && kill "$ss_pid" 2>/dev/null && wait "$ss_pid" 2>/dev/null; bench_cleanup' EXIT
make_certs || exit 1
c=$dir/certs
p0=$(pin_cpu 0)
p1=$(pin_cpu 1)

now() {
	date +%s.%N
}

echo "$(openssl version), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2086
$p0 openssl speed -seconds "$secs" rsa2048 2>/dev/null | awk '$1 == "rsa" && $2 == "2048" {
	printf "openssl speed rsa2048, one core:          %8.0f sign/s  %8.0f verify/s\n", $(NF-1), $NF }'

# s_time: handshakes per real second over one connection at a time ("N connections in T real seconds").
s_time() {
	# shellcheck disable=SC2086
	$p1 openssl s_time -connect "127.0.0.1:$1" "$2" -time "$secs" -cert "$c/client.crt" -key "$c/client.key" \
		-CAfile "$c/ca.crt" -tls1_2 2>/dev/null | awk '/real seconds/ { n = $1; t = $4 } END {
		if (t > 0) printf "%8.0f/s", n / t; else printf "  failed" }'
}

s_time_row() {
	printf 's_time against %-26s full %s   resumed %s\n' "$1:" "$(s_time "$2" -new)" "$(s_time "$2" -reuse)"
}

port=$(free_port)
# shellcheck disable=SC2086
$p0 openssl s_server -accept "127.0.0.1:$port" -cert "$c/server.crt" -key "$c/server.key" -CAfile "$c/ca.crt" \
	-Verify 4 -tls1_2 -quiet -naccept 10000000 >/dev/null 2>&1 &
ss_pid=$!
if wait_port "$port" "$ss_pid"; then
	s_time_row "openssl s_server" "$port"
fi
kill "$ss_pid" 2>/dev/null
wait "$ss_pid" 2>/dev/null
ss_pid=
if start_kmipd kmipd-store keygen.pool_size=0; then
	s_time_row kmipd "$kmipd_port"
	stop_kmipd
fi
if start_pykmip; then
	s_time_row "PyKMIP's server" "$pykmip_port"
	stop_pykmip
fi

# Key pairs generated per second by NPROC loops of `openssl genrsa 2048` for gsecs seconds.
genrsa_rate() {
	n=$1
	t0=$(now)
	i=0
	while [ "$i" -lt "$n" ]; do
		(
			end=$(($(date +%s) + gsecs))
			k=0
			while [ "$(date +%s)" -lt "$end" ]; do
				openssl genrsa 2048 >/dev/null 2>&1
				k=$((k + 1))
			done
			# CPU seconds of the genrsa processes: the second line of `times` ("0m1.5s 0m0.1s").
			# (times runs in this shell, not in a pipeline's subshell, which has no children.)
			times >"$dir/times.$i"
			cpu=$(sed -n 2p "$dir/times.$i" | awk '{ for (j = 1; j <= 2; j++) { split($j, t, "m"); s += t[1] * 60 + t[2] } }
			    END { print s }')
			echo "$k $cpu" >"$dir/genrsa.$i"
		) &
		i=$((i + 1))
	done
	wait
	t1=$(now)
	cat "$dir"/genrsa.* | awk -v t0="$t0" -v t1="$t1" '{ s += $1; c += $2 } END {
		printf "%6.2f/s (%d keys in %.1f s, %.0f ms of CPU per key)", s / (t1 - t0), s, t1 - t0, s ? 1000 * c / s : 0 }'
	rm -f "$dir"/genrsa.* "$dir"/times.*
}
printf 'openssl genrsa 2048, one process:         %s\n' "$(genrsa_rate 1)"
printf 'openssl genrsa 2048, %d processes:         %s\n' "$(nproc)" "$(genrsa_rate "$(nproc)")"
