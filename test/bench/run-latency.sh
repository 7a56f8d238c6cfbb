#!/bin/sh
# Starts a private kmipd (temporary certificates and store, no key pool so every pair is generated) and runs
# bench_latency against it. Usage: test/bench/run-latency.sh BUILD [SECONDS] [STORMERS]
set -u
build=${1:-build}
. test/bench/lib.sh

make_dir bench
make_certs || exit 1
run_kmipd store keygen.pool_size=0 || exit 1
"$build/bench/bench_latency" 127.0.0.1 "$kmipd_port" "$dir/certs/ca.crt" "$dir/certs/client.crt" \
	"$dir/certs/client.key" "${2:-5}" "${3:-4}"
