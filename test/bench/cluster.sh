#!/bin/sh
# Issue 19: a clustered kmipd node (store.backend = etcd, a three-member etcd on /dev/shm) beside a
# single-machine kmipd (store.backend = lmdb), the same build and the same settings otherwise, in one run.
#
#  1. Get over persistent connections (16 connections x 8 in flight, 16 named AES keys): reads are answered
#     from each node's own LMDB copy, so the clustered node should match the single one within noise.
#  2. Acknowledged durable writes (Create, 16 connections x 4 in flight): the single kmipd answers once its
#     group commit is fsynced; the clustered node once etcd's quorum committed the group and the node's watch
#     applied it. etcd's CPU time per write (its three members summed) is shown beside.
#
# Each case runs ROUNDS times, the two servers taken in turn (the first of each pair alternating); the table
# shows medians (least-greatest) and the ratio clustered / single of the medians. Both kmipd loops are pinned
# to CPU 0 and kmip-bench to CPU 1; etcd's members run wherever the scheduler puts them. etcd's data is on
# tmpfs (test/etcd/cluster.sh), so its fsyncs cost nothing here: on disks, each write also waits for a
# majority of members' fsync.
#
# Usage: test/bench/cluster.sh [BUILD] [SECONDS] [ROUNDS]   (defaults: build 5 3)
set -u
build=${1:-build}
secs=${2:-5}
rounds=${3:-3}
bench="$build/bench/kmip-bench"
. test/bench/lib.sh

[ -x "$bench" ] || { echo "cluster.sh: no kmip-bench at $bench" >&2; exit 1; }
[ -x "$build/kmipd" ] || { echo "cluster.sh: no kmipd at $build/kmipd" >&2; exit 1; }
make_dir cluster
servers=""
etcd_dir=""
# Both kmipd and the etcd cluster go at exit (lib.sh's cleanup knows only the last kmipd started).
stop_all() {
	for _p in $servers; do
		kill "$_p" 2>/dev/null
	done
	for _p in $servers; do
		wait "$_p" 2>/dev/null
	done
	[ -n "$etcd_dir" ] && test/etcd/cluster.sh stop "$etcd_dir"
	rm -rf "$dir"
}
trap stop_all EXIT
make_certs || exit 1
c=$dir/certs

# Three members on loopback, data on /dev/shm; progress notifications every second (kmipd's watch relies on
# them when idle) and compaction as a production cluster would run it.
etcd_out=$(test/etcd/cluster.sh start -n 3 -- --experimental-watch-progress-notify-interval=1s \
	--auto-compaction-mode=periodic --auto-compaction-retention=1h) || exit 1
etcd_dir=$(echo "$etcd_out" | sed -n 1p)
endpoints=$(echo "$etcd_out" | sed -n 2p)
etcd_pids=$(cat "$etcd_dir"/member-*.pid | tr '\n' ' ')

# Starts kmipd NAME (pinned to CPU 0) with the shared settings and more -o overrides; sets pid_NAME, port_NAME.
start_server() {
	_n=$1
	shift
	start_kmipd "$_n" keygen.pool_size=0 admin.socket="$dir/$_n.sock" "$@" || exit 1
	servers="$servers $kmipd_pid"
	eval "pid_$_n=$kmipd_pid port_$_n=$kmipd_port"
	# stop_all stops both; bench_cleanup would stop only the last one.
	kmipd_pid=
}

start_server single store.backend=lmdb
start_server cluster store.backend=etcd store.etcd_endpoints="$endpoints" store.etcd_node_name=bench \
	store.etcd_prefix=/kmipd-bench/
echo "load average $(cut -d' ' -f1-3 /proc/loadavg); single kmipd pid $pid_single, clustered node pid" \
	"$pid_cluster, etcd members $etcd_pids($endpoints)"

# etcd transactions the clustered node has had answered so far (kmipctl status: cluster.txns).
txns() {
	"$build/kmipctl" status -S "$dir/cluster.sock" --json 2>/dev/null |
		"$PY" -c 'import json, sys; print(json.load(sys.stdin).get("cluster", {}).get("txns", 0))' 2>/dev/null ||
		echo 0
}

# utime + stime of the etcd members together, in clock ticks.
etcd_ticks() {
	for _p in $etcd_pids; do
		sed 's/.*) //' "/proc/$_p/stat" 2>/dev/null | awk '{ print $12 + $13 }'
	done | awk '{ s += $1 } END { print s + 0 }'
}

client_pin=$(pin_cpu 1)
for case in get create; do
	case $case in
	get) args="-m get -c 16 -d 8 --keys 16 --names cbench" ;;
	create) args="-m create -c 16 -d 4" ;;
	esac
	for round in $(seq "$rounds"); do
		if [ $((round % 2)) -eq 1 ]; then order="single cluster"; else order="cluster single"; fi
		for n in $order; do
			eval "pid=\$pid_$n port=\$port_$n"
			t0=$(etcd_ticks)
			x0=$(txns)
			# shellcheck disable=SC2086
			$client_pin "$bench" -p "$port" --certs "$c" --server-pid "$pid" $args -t "$secs" -w 1 \
				--format line --label "$case-$n" >>"$dir/$case.$n" 2>>"$dir/$case.$n.err"
			t1=$(etcd_ticks)
			x1=$(txns)
			# etcd's CPU over the whole kmip-bench run (set-up and warm-up too), per measured operation.
			tail -1 "$dir/$case.$n" | tr ' ' '\n' | sed -n 's/^ops=//p' |
				awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
				'{ printf "%.4f\n", ($1 > 0) ? 1000 * d / hz / $1 : 0 }' >>"$dir/$case.$n.etcd"
			# Creates per etcd transaction (set-up and warm-up included on both sides of the ratio).
			tail -1 "$dir/$case.$n" | tr ' ' '\n' | sed -n 's/^ops=//p' |
				awk -v x=$((x1 - x0)) -v s="$secs" '{ printf "%.1f\n", (x > 0) ? $1 * (s + 1) / s / x : 0 }' \
				>>"$dir/$case.$n.group"
		done
	done
done

# The median of the numbers in FILE, one a line ("-" when there is none).
median_of() {
	sort -g "$1" 2>/dev/null | awk '{ x[n++] = $1 } END {
		if (n == 0) print "-"; else printf "%.4f\n", n % 2 ? x[(n - 1) / 2] : (x[n / 2 - 1] + x[n / 2]) / 2 }'
}

# ops/s as "median (least-greatest)".
spread() {
	stats ops_per_s "$1" | awk '{ if ($1 == "-") print "-"; else printf "%.0f (%.0f-%.0f)", $1, $2, $3 }'
}

echo
echo "Clustered node (etcd, 3 members) against a single-machine kmipd; ${secs} s runs, median of $rounds" \
	"(least-greatest); kmipd on CPU 0, kmip-bench on CPU 1"
printf '%-26s %20s %20s %6s %14s %16s %10s %8s\n' case "single ops/s" "clustered ops/s" "c / s" \
	"p99 ms s / c" "kmipd CPU ms/op" "etcd ms/op" "ops/txn"
for case in get create; do
	os=$(median ops_per_s "$dir/$case.single")
	oc=$(median ops_per_s "$dir/$case.cluster")
	ratio=$(awk -v a="$os" -v b="$oc" 'BEGIN { if (a + 0 > 0) printf "%.2f", b / a; else print "-" }')
	ps=$(median p99_ms "$dir/$case.single")
	pc=$(median p99_ms "$dir/$case.cluster")
	cs=$(median cpu "$dir/$case.single")
	cc=$(median cpu "$dir/$case.cluster")
	ec=$(median_of "$dir/$case.cluster.etcd")
	gr=-
	[ "$case" = create ] && gr=$(median_of "$dir/$case.cluster.group" | awk '{ printf "%.1f", $1 }')
	case $case in
	get) label="Get, 16 x 8 in flight" ;;
	create) label="Create (durable), 16 x 4" ;;
	esac
	printf '%-26s %20s %20s %6s %14s %16s %10s %8s\n' "$label" "$(spread "$dir/$case.single")" \
		"$(spread "$dir/$case.cluster")" "$ratio" \
		"$(printf '%.2f / %.2f' "$ps" "$pc" 2>/dev/null)" \
		"$(printf '%.4f / %.4f' "$cs" "$cc" 2>/dev/null)" "$ec" "$gr"
done
errs=$(cat "$dir"/get.single "$dir"/get.cluster "$dir"/create.single "$dir"/create.cluster 2>/dev/null |
	tr ' ' '\n' | sed -n 's/^errors=//p' | awk '{ s += $1 } END { print s + 0 }')
echo "errors in all runs: $errs"
for f in "$dir"/*.err; do
	[ -s "$f" ] && sed "s|^|$(basename "$f" .err): |" "$f" | head -3
done
# The clustered node's own view after the runs: its state and applied revision.
"$build/kmipctl" status -S "$dir/cluster.sock" --json 2>/dev/null | "$PY" -c '
import json, sys
c = json.load(sys.stdin).get("cluster", {})
if c:
    print("clustered node: state %s, applied revision %s, staleness %s ms" %
          (c.get("state"), c.get("applied_revision"), c.get("staleness_ms")))' 2>/dev/null
echo "c / s: clustered over single, of the medians. kmipd CPU: the server process's CPU per operation; etcd:"
echo "the three members' CPU over each whole clustered run (set-up and warm-up included) per measured operation;"
echo "ops/txn: Creates per etcd transaction, about (the warm-up second's Creates estimated at the measured rate)."
exit 0
