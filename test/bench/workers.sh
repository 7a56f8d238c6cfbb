#!/bin/sh
# Issue 18: the same kmipd with one worker process and with two (server.workers), side by side in one run.
#
#  1. Server CPU time per operation, summed over every process of each server (the master and its workers,
#     read from /proc by kmip-bench --server-pid), both servers pinned to CPU 0 and kmip-bench to CPU 1, for:
#     Get (16 connections x 8 in flight), full handshakes from an ECDSA P-256 client certificate against the
#     RSA-2048 server certificate, resumed handshakes by ticket and by session id (TLS 1.2, every reconnect a
#     new connection, spread over the workers), and Create (durable writes). The second worker must add no
#     cost; the resumed share must stay at 99 % or more with two workers.
#  2. LMDB's writer lock (kmipctl status: store.write_lock): taken and waited for during the Get runs (the
#     read path: none) and the Create runs (how often and how long one worker waited for the other).
#  3. Full handshakes (ECDSA client, RSA-2048 server) with the two workers pinned to CPU 0 and CPU 1 and
#     kmip-bench free to run on both: each worker's share of a core, the throughput, and the ceiling two
#     cores allow, 2 / (server + client CPU per handshake); the one-worker server beside it, unpinned.
#
# Usage: test/bench/workers.sh [BUILD] [SECONDS] [ROUNDS]   (defaults: build 5 3)
# Each case runs ROUNDS times, the two servers taken in turn; the tables show medians (least-greatest).
set -u
build=${1:-build}
secs=${2:-5}
rounds=${3:-3}
bench="$build/bench/kmip-bench"
. test/bench/lib.sh

[ -x "$bench" ] || { echo "workers.sh: no kmip-bench at $bench" >&2; exit 1; }
make_dir workers
servers=""
# Both servers go at exit (lib.sh's cleanup knows only the last one started).
stop_all() {
	for _p in $servers; do
		kill "$_p" 2>/dev/null
	done
	for _p in $servers; do
		wait "$_p" 2>/dev/null
	done
	rm -rf "$dir"
}
trap stop_all EXIT
make_certs || exit 1
c=$dir/certs

# Prints PID and the pids of all its descendants.
tree() {
	_all=$1
	_new=$1
	while [ -n "$_new" ]; do
		_next=""
		for _p in $_new; do
			_next="$_next $(pgrep -P "$_p" | tr '\n' ' ')"
		done
		_new=$(echo $_next)
		_all="$_all $_new"
	done
	echo $_all
}

# Moves PID and every descendant to CPUS.
pin_tree() {
	command -v taskset >/dev/null 2>&1 || return 0
	for _p in $(tree "$1"); do
		taskset -pc "$2" "$_p" >/dev/null 2>&1
	done
}

# utime + stime of one process, in clock ticks.
ticks() {
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# The worker processes of a master (its children, in pid order); a single process is its own worker.
workers_of() {
	_w=$(pgrep -P "$1" -x kmipd | sort -n | tr '\n' ' ')
	if [ "$2" -gt 1 ]; then echo "$_w"; else echo "$1"; fi
}

# Starts kmipd NAME with W workers; sets pid_NAME, port_NAME.
start_server() {
	_n=$1
	_w=$2
	shift 2
	run_kmipd "$_n" server.workers="$_w" keygen.pool_size=0 admin.socket="$dir/$_n.sock" "$@" || exit 1
	servers="$servers $kmipd_pid"
	eval "pid_$_n=$kmipd_pid port_$_n=$kmipd_port"
	# run_kmipd's server is this shell's child, and stop_kmipd would stop only the last one: forget it.
	kmipd_pid=
	# Worker processes (and their key generators) are forked after the master answers: wait for them.
	_i=0
	while [ "$_w" -gt 1 ] && [ "$(workers_of "$(eval echo \$pid_$_n)" "$_w" | wc -w)" -lt "$_w" ] &&
	    [ "$_i" -lt 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
}

# Prints the writer-lock figures of server NAME: "taken waits wait_us commits".
lock_figures() {
	"$build/kmipctl" status -S "$dir/$1.sock" --json 2>/dev/null | "$PY" -c '
import json, sys
s = json.load(sys.stdin).get("store", {})
l = s.get("write_lock", {})
print(l.get("taken", 0), l.get("waits", 0), l.get("wait_us", 0), s.get("group_commits", 0))'
}

start_server w1 1
start_server w2 2
echo "load average $(cut -d' ' -f1-3 /proc/loadavg); kmipd with 1 worker (pid $pid_w1) and with 2 (pid $pid_w2:" \
	"workers $(workers_of "$pid_w2" 2))"

# 1 and 2: CPU per operation, pinned.
client_pin=$(pin_cpu 1)
ec="--cert $c/client-ec.crt --key $c/client-ec.key"
cases="get handshake resume-ticket resume-id create"
for round in $(seq "$rounds"); do
	for case in $cases; do
		for n in w1 w2; do
			eval "pid=\$pid_$n port=\$port_$n"
			pin_tree "$pid" 0
			case $case in
			get) args="-m get -c 16 -d 8 --names wbench" ;;
			handshake) args="-m handshake -c 16 $ec" ;;
			resume-ticket) args="-m handshake-resume -c 16" ;;
			resume-id) args="-m handshake-resume -c 16 --no-tickets" ;;
			create) args="-m create -c 16 -d 1" ;;
			esac
			before=$(lock_figures "$n")
			# shellcheck disable=SC2086
			$client_pin "$bench" -p "$port" --certs "$c" --server-pid "$pid" $args -t "$secs" -w 1 \
				--format line --label "$case-$n" >>"$dir/$case.$n" 2>>"$dir/$case.$n.err"
			after=$(lock_figures "$n")
			echo "$before $after" | awk '{ printf "taken=%d waits=%d wait_us=%d commits=%d\n",
			    $5 - $1, $6 - $2, $7 - $3, $8 - $4 }' >>"$dir/$case.$n.lock"
		done
	done
done

# Resumed share of one run file: resumed / (full + resumed), in percent.
share() {
	[ -s "$1" ] || { echo "-"; return; }
	awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	    f += v["full"]; r += v["resumed"] } END { printf "%.2f", (f + r > 0) ? 100 * r / (f + r) : 0 }' "$1"
}

echo
echo "Server CPU per operation, all processes summed; servers on CPU 0, kmip-bench on CPU 1 (median of $rounds)"
printf '%-14s %12s %12s %14s %14s %7s %10s %10s\n' case "1w ops/s" "2w ops/s" "1w CPU ms/op" "2w CPU ms/op" \
	"2w/1w" "1w resumed" "2w resumed"
for case in $cases; do
	o1=$(median ops_per_s "$dir/$case.w1")
	o2=$(median ops_per_s "$dir/$case.w2")
	c1=$(median cpu "$dir/$case.w1")
	c2=$(median cpu "$dir/$case.w2")
	ratio=$(awk -v a="$c1" -v b="$c2" 'BEGIN { if (a + 0 > 0) printf "%.2f", b / a; else print "-" }')
	r1=-
	r2=-
	case $case in resume-*) r1="$(share "$dir/$case.w1") %"; r2="$(share "$dir/$case.w2") %" ;; esac
	printf '%-14s %12.0f %12.0f %14.4f %14.4f %7s %10s %10s\n' "$case" "$o1" "$o2" "$c1" "$c2" "$ratio" "$r1" "$r2"
done
errs=$(cat "$dir"/*.w1 "$dir"/*.w2 | tr ' ' '\n' | sed -n 's/^errors=//p' | awk '{ s += $1 } END { print s + 0 }')
echo "errors in all runs: $errs"

echo
echo "LMDB's writer lock during the runs above (kmipctl status store.write_lock, summed over the rounds)"
printf '%-8s %-6s %10s %10s %14s %10s %12s\n' case server taken waits "waited ms" commits "writes/s"
for case in get create; do
	for n in w1 w2; do
		awk -v c="$case" -v n="$n" -v ops="$(median ops_per_s "$dir/$case.$n")" '{
			for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2] }
		} END { printf "%-8s %-6s %10d %10d %14.1f %10d %12s\n", c, n, v["taken"], v["waits"],
		    v["wait_us"] / 1000, v["commits"], c == "create" ? sprintf("%.0f", ops) : "-" }' "$dir/$case.$n.lock"
	done
done

# 3. Full handshakes with each worker on a core of its own.
echo
echo "Full handshakes (ECDSA P-256 client, RSA-2048 server), 16 connections; 2 workers pinned to CPU 0 and 1,"
echo "kmip-bench and the 1-worker server unpinned (median of $rounds)"
for n in w1 w2; do
	eval "pid=\$pid_$n port=\$port_$n"
	ws=$(workers_of "$pid" "${n#w}")
	pin_tree "$pid" 0-1
	if [ "$n" = w2 ]; then
		set -- $ws
		pin_tree "$1" 0
		pin_tree "$2" 1
	fi
	for round in $(seq "$rounds"); do
		t0=$(date +%s.%N)
		b0=""
		for w in $ws; do b0="$b0 $(ticks "$w")"; done
		# shellcheck disable=SC2086
		"$bench" -p "$port" --certs "$c" --server-pid "$pid" -m handshake -c 16 $ec -t "$secs" -w 1 \
			--format line --label "spread-$n" >>"$dir/spread.$n" 2>>"$dir/spread.$n.err"
		t1=$(date +%s.%N)
		b1=""
		for w in $ws; do b1="$b1 $(ticks "$w")"; done
		echo "$t0 $t1 $(getconf CLK_TCK) | $b0 | $b1" >>"$dir/spread.$n.share"
	done
done
printf '%-7s %10s %12s %12s %10s %20s\n' server "hs/s" "server ms" "client ms" "ceiling/s" "share of a core"
for n in w1 w2; do
	o=$(median ops_per_s "$dir/spread.$n")
	s=$(median cpu "$dir/spread.$n")
	cl=$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	    x[m++] = v["ops"] > 0 ? 1000 * v["client_cpu_s"] / v["ops"] : 0 }
	    END { for (i = 0; i < m; i++) for (j = i + 1; j < m; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
	    printf "%.4f", m % 2 ? x[(m - 1) / 2] : (x[m / 2 - 1] + x[m / 2]) / 2 }' "$dir/spread.$n")
	ceil=$(awk -v s="$s" -v c="$cl" 'BEGIN { printf "%.0f", (s + c > 0) ? 2000 / (s + c) : 0 }')
	# Each worker's CPU over the wall time of its runs, per round: "w0% w1%", the median round by w0.
	shares=$(awk -F'|' '{ split($1, t, " "); n = split($2, a, " "); split($3, b, " "); line = ""
	    for (i = 1; i <= n; i++) line = line sprintf("%s%.0f%%", i > 1 ? " + " : "", 100 * (b[i] - a[i]) / t[3] / (t[2] - t[1]))
	    print line }' "$dir/spread.$n.share" | sort | sed -n "$(((rounds + 1) / 2))p")
	printf '%-7s %10.0f %12.4f %12.4f %10s %20s\n' "$n" "$o" "$s" "$cl" "$ceil" "$shares"
done
echo "server/client ms: CPU per handshake; ceiling: 2 cores / (server + client CPU per handshake). The shares"
echo "span the whole kmip-bench run (warm-up and set-up included), so they understate the measured seconds."

# 4. Durable Creates with the workers on cores of their own: how often one waits for the other's commit.
echo
echo "Create (16 connections, durable group commits), pinned as above; writer-lock figures summed over $rounds runs"
printf '%-7s %10s %10s %10s %14s %16s
' server "writes/s" taken waits "waited ms" "wait per commit"
for n in w1 w2; do
	eval "pid=\$pid_$n port=\$port_$n"
	for round in $(seq "$rounds"); do
		before=$(lock_figures "$n")
		"$bench" -p "$port" --certs "$c" --server-pid "$pid" -m create -c 16 -d 1 -t "$secs" -w 1 \
			--format line --label "spread-create-$n" >>"$dir/spread-create.$n" 2>>"$dir/spread-create.$n.err"
		after=$(lock_figures "$n")
		echo "$before $after" | awk '{ printf "taken=%d waits=%d wait_us=%d commits=%d\n",
		    $5 - $1, $6 - $2, $7 - $3, $8 - $4 }' >>"$dir/spread-create.$n.lock"
	done
	awk -v n="$n" -v ops="$(median ops_per_s "$dir/spread-create.$n")" '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2] }
	} END { printf "%-7s %10.0f %10d %10d %14.1f %13.3f ms\n", n, ops, v["taken"], v["waits"], v["wait_us"] / 1000,
	    (v["taken"] > 0) ? v["wait_us"] / 1000 / v["taken"] : 0 }' "$dir/spread-create.$n.lock"
done
