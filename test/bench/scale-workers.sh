#!/bin/sh
# Issue 18: N idle mutual-TLS connections held by one kmipd with W worker processes (one process may hold
# only about 20,000 descriptors here, so 100,000 needs W >= 6), opened by several kmip-bench processes at
# once, each from a source address of its own; then Get over 16 more connections x 8 in flight with all of
# them open, against the same Get before they were opened.
#
# Usage: test/bench/scale-workers.sh [BUILD] [SECONDS] [N] [W]   (defaults: build 5 100000 7)
#
# Memory: the kmipd processes' VmRSS summed (master and workers) before and after the idle set; per
# connection is the difference over the connections held (the kernel's socket buffers are not in it). The
# held connections resume one TLS 1.2 session (tickets), 64 handshakes in flight per kmip-bench process.
set -u
build=${1:-build}
secs=${2:-5}
n=${3:-100000}
w=${4:-7}
per=16000		# connections per kmip-bench process: under its descriptor limit, within one source's ports
bench="$build/bench/kmip-bench"
. test/bench/lib.sh

[ -x "$bench" ] || { echo "scale-workers.sh: no kmip-bench at $bench" >&2; exit 1; }
make_dir scalew
holders=""
stop_holders() {
	for _p in $holders; do
		kill "$_p" 2>/dev/null
	done
	for _p in $holders; do
		wait "$_p" 2>/dev/null
	done
	holders=""
}
trap 'stop_holders; [ -n "${KEEP:-}" ] && cp -r "$dir" /tmp/scalew-keep; bench_cleanup' EXIT
make_certs || exit 1
c=$dir/certs
ulimit -n "$(ulimit -Hn)" 2>/dev/null

# VmRSS of PID and its worker processes (not their key generators), in KiB.
tree_rss() {
	_sum=0
	for _p in $1 $(pgrep -P "$1" -x kmipd); do
		_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$_p/status" 2>/dev/null)
		_sum=$((_sum + ${_kb:-0}))
	done
	echo "$_sum"
}

# Connections established to the server's port, counted on the server's side.
established() {
	ss -Htn state established "( sport = :$kmipd_port )" | wc -l
}

# Get over 16 connections x 8 from source address 127.0.0.250, into FILE.
get_run() {
	"$bench" -p "$kmipd_port" --certs "$c" --server-pid "$kmipd_pid" --source-base 250 -c 16 -d 8 -m get \
		--names scalew -t "$secs" -w 1 --format line --label "$1" >"$dir/$1" 2>"$dir/$1.err"
}

max=$((per + 2000))
run_kmipd scalew server.workers="$w" keygen.pool_size=0 server.max_connections="$max" server.idle_timeout=0 \
	server.max_handshakes=1024 admin.socket="$dir/admin.sock" || exit 1
sleep 1
echo "load average $(cut -d' ' -f1-3 /proc/loadavg); kmipd pid $kmipd_pid with $w workers" \
	"($(pgrep -P "$kmipd_pid" -x kmipd | wc -l) running), server.max_connections=$max per worker"
get_run get-before
rss0=$(tree_rss "$kmipd_pid")

# The holders: each opens its share and holds it until stopped.
t0=$(date +%s.%N)
left=$n
i=0
while [ "$left" -gt 0 ]; do
	k=$per
	[ "$left" -lt "$k" ] && k=$left
	"$bench" -p "$kmipd_port" --certs "$c" --source-base $((10 + i)) --sources 1 --idle "$k" --parallel 64 \
		-c 0 -t 3600 -w 0 --timeout 120 --format line --label "hold-$i" >"$dir/hold.$i" 2>"$dir/hold.$i.err" &
	holders="$holders $!"
	left=$((left - k))
	i=$((i + 1))
done
# Until all are up, or nothing more came for 15 s (what failed is in the holders' error files).
last=0
still=0
while [ "$still" -lt 15 ]; do
	sleep 1
	now=$(established)
	[ "$now" -ge "$n" ] && break
	if [ "$now" -gt "$last" ]; then still=0; else still=$((still + 1)); fi
	last=$now
done
t1=$(date +%s.%N)
held=$(established)
sleep 2
rss1=$(tree_rss "$kmipd_pid")
get_run get-with
per_worker=$("$build/kmipctl" status -S "$dir/admin.sock" --json 2>/dev/null | "$PY" -c '
import json, sys
print(" ".join(str(w.get("connections_open", "?")) for w in json.load(sys.stdin).get("workers", [])))')
stop_holders

awk -v n="$n" -v held="$held" -v t0="$t0" -v t1="$t1" -v r0="$rss0" -v r1="$rss1" -v pw="$per_worker" \
    -v p="$i" 'BEGIN {
	printf "idle connections asked %d, held %d (kmip-bench processes: %d), opened in %.1f s (%.0f/s)\n",
	    n, held, p, t1 - t0, held / (t1 - t0)
	printf "per worker: %s\n", pw
	printf "kmipd RSS (master + workers): %.1f MiB before, %.1f MiB with them: %.0f bytes per connection\n",
	    r0 / 1024, r1 / 1024, (held > 0) ? (r1 - r0) * 1024 / held : 0
}'
for f in get-before get-with; do
	printf '%-11s Get/s %8.0f  p50 %s ms  p99 %s ms  errors %s  server CPU %.4f ms/Get\n' "$f" \
		"$(field ops_per_s "$dir/$f")" "$(field p50_ms "$dir/$f")" "$(field p99_ms "$dir/$f")" \
		"$(field errors "$dir/$f")" "$(median cpu "$dir/$f")"
done
