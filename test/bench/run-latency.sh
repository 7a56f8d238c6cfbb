#!/bin/sh
# Starts a private kmipd (temporary certificates and store, no key pool so every pair is generated) and runs
# bench_latency against it. Usage: test/bench/run-latency.sh BUILD [SECONDS] [STORMERS]
set -eu
build=${1:-build}
dir=$(mktemp -d /tmp/kmipd-bench-XXXXXX)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
etc/mkcerts.sh "$dir/certs" >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$build/kmipd" -f -o server.listen=127.0.0.1 -o server.port="$port" -o store.path="$dir/store" \
	-o tls.cert_file="$dir/certs/server.crt" -o tls.key_file="$dir/certs/server.key" \
	-o tls.clients_ca_cert_file="$dir/certs/ca.crt" -o keygen.pool_size=0 -o log.level=warn \
	2>"$dir/kmipd.log" &
pid=$!
for _ in $(seq 100); do
	grep -q "listening on\|store" "$dir/kmipd.log" 2>/dev/null && break
	sleep 0.1
done
sleep 0.5
"$build/bench/bench_latency" 127.0.0.1 "$port" "$dir/certs/ca.crt" "$dir/certs/client.crt" \
	"$dir/certs/client.key" "${2:-5}" "${3:-4}"
