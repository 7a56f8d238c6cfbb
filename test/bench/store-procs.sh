#!/bin/sh
# Creates (durable writes) and Gets through two kmipd processes that share one store, against one kmipd:
# what server.workers = 2 does to the store, before the master exists (two ports instead of one shared
# socket; the store is the same LMDB environment, each process with its own, as the workers will have).
# Usage: test/bench/store-procs.sh BUILD [SECONDS] [CONNECTIONS]
#
# Rows: Create from CONNECTIONS connections to one kmipd; the same split over two kmipd processes (half the
# connections each, run at once, figures summed); Gets from one process while the other takes Creates. Every
# Create is durable (store.sync = full, group commit) and answered only after its group commit. Errors are
# counted by kmip-bench (a conflict or any failure is an error, never a figure).
set -u
build=${1:-build}
seconds=${2:-5}
conns=${3:-16}
half=$((conns / 2))
[ "$half" -ge 1 ] || half=1
. test/bench/lib.sh

make_dir store-procs
make_certs || exit 1
pid_b=

# Stops the second kmipd too (bench_cleanup stops the one in kmipd_pid).
stop_b() {
	if [ -n "$pid_b" ]; then
		kill "$pid_b" 2>/dev/null
		wait "$pid_b" 2>/dev/null
		pid_b=
	fi
}
trap 'stop_b; bench_cleanup' EXIT

# Runs kmip-bench against PORT (server PID) with MIX and N connections into FILE, in the background.
load() {
	"$build/bench/kmip-bench" -p "$1" --certs "$dir/certs" -c "$4" -d 1 -m "$3" -t "$seconds" -w 1 \
		--keys 64 --names "bench-$3" --format line --server-pid "$2" >"$5" 2>>"$dir/load.err" &
}

# One row: LABEL and the kmip-bench outputs to sum.
row() {
	_label=$1
	shift
	cat "$@" | awk -v l="$_label" '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		ops += v["ops_per_s"]; err += v["errors"]; cpu += v["server_cpu_s"]; n += v["ops"]
		if (v["p50_ms"] > p50) p50 = v["p50_ms"]; if (v["p99_ms"] > p99) p99 = v["p99_ms"]
	} END {
		printf "| %-44s | %9.0f | %7.2f | %7.2f | %6d | %8.3f |\n", l, ops, p50, p99, err, (n > 0 ? 1000 * cpu / n : 0)
	}'
}

run_kmipd a "store.path=$dir/shared" keygen.pool_size=0 || exit 1
pid_a=$kmipd_pid
port_a=$kmipd_port
echo "store-procs: ${seconds} s per run, Create durable (store.sync = full, group commit), $conns connections in all"
echo
printf '| %-44s | %9s | %7s | %7s | %6s | %8s |\n' "run" "ops/s" "p50 ms" "p99 ms" "errors" "cpu ms/op"
echo "|----------------------------------------------|-----------|---------|---------|--------|----------|"
load "$port_a" "$pid_a" create "$conns" "$dir/one"
wait $!
row "Create, 1 kmipd, $conns connections" "$dir/one"

# The second process, on the same store path: its own LMDB environment.
kmipd_pid=
run_kmipd b "store.path=$dir/shared" keygen.pool_size=0 || exit 1
pid_b=$kmipd_pid
port_b=$kmipd_port
kmipd_pid=$pid_a
load "$port_a" "$pid_a" create "$half" "$dir/two-a"
la=$!
load "$port_b" "$pid_b" create "$half" "$dir/two-b"
lb=$!
wait "$la" "$lb"
row "Create, 2 kmipd on one store, $half + $half" "$dir/two-a" "$dir/two-b"

load "$port_a" "$pid_a" create "$half" "$dir/mixed-w"
la=$!
load "$port_b" "$pid_b" get "$half" "$dir/mixed-r"
lb=$!
wait "$la" "$lb"
row "Create on one kmipd ($half connections)" "$dir/mixed-w"
row "Get on the other meanwhile ($half connections)" "$dir/mixed-r"
load "$port_b" "$pid_b" get "$half" "$dir/alone-r"
wait $!
row "Get on it alone ($half connections)" "$dir/alone-r"
[ -s "$dir/load.err" ] && sed 's/^/kmip-bench: /' "$dir/load.err" | head -5
echo "(cpu ms/op: the server process's CPU time per operation; the two kmipd and the load share 2 cores)"
