#!/bin/sh
# Connection scaling: for each count N, a fresh kmipd, N idle mutual-TLS connections opened and held by
# kmip-bench (the first handshake full, the others resuming its TLS 1.2 session, 128 in flight), the server's
# resident memory before and after (bytes per held connection), then Get over 16 more connections x 8
# pipelined for SECONDS with the N connections still open.
#
# Usage: [KMIPD_OPTS="key=value ..."] test/bench/scale.sh [BUILD] [SECONDS] [N...]
#   (defaults: build 5 0 10000 50000 100000; KMIPD_OPTS adds kmipd -o overrides)
#
# File descriptors: kmipd needs one per connection and kmip-bench one per connection too, so this script
# raises its own limit (`ulimit -n`, inherited by both) to the largest N plus a margin, and starts kmipd with
# server.max_connections=200000 and server.idle_timeout=0. Raising the hard limit needs CAP_SYS_RESOURCE
# (root outside a container, or LimitNOFILE= in a systemd unit); where the hard limit is lower, counts above it
# are reported as not possible and the largest count it allows is measured instead. By hand:
#   ulimit -n 210000
#   kmipd -f ... -o server.max_connections=200000 -o server.idle_timeout=0 &
#   kmip-bench --certs DIR -p PORT --idle 100000 --parallel 128 -c 16 -d 8 -m get --server-pid PID
# kmip-bench spreads connections over source addresses 127.0.0.1..127.0.0.k (k = 1 + N / 20000), so no
# source address needs more than the 28,000-odd ephemeral ports of net.ipv4.ip_local_port_range.
set -u
build=${1:-build}
secs=${2:-5}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- 0 10000 50000 100000
bench="$build/bench/kmip-bench"
. test/bench/lib.sh

# Each side needs a descriptor per connection plus a few (16 Get connections, listeners, the store, workers).
margin=600
max=0
for n in "$@"; do
	[ "$n" -gt "$max" ] && max=$n
done
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] && hard=$((max + 4096))
if [ "$hard" -lt $((max + margin)) ]; then
	# Raising the hard limit needs CAP_SYS_RESOURCE; without it, measure as far as the limit allows.
	ulimit -Hn $((max + margin)) 2>/dev/null && hard=$((max + margin))
fi
want=$((max + margin))
[ "$want" -gt "$hard" ] && want=$hard
if ! ulimit -n "$want" 2>/dev/null; then
	echo "scale: cannot raise the open file limit to $want" >&2
	exit 1
fi
limit=$(ulimit -n)
largest=$((limit - margin))
extra=""
for n in "$@"; do
	if [ "$n" -gt "$largest" ]; then
		extra=$largest
	fi
done
[ -n "$extra" ] && set -- "$@" "$extra"

make_dir scale
make_certs || exit 1
bench_pin=$(pin_cpu 1)

echo "load average $(cut -d' ' -f1-3 /proc/loadavg); open file limit $(ulimit -n)"
printf '%8s %8s %9s %9s %10s %10s %11s %10s %15s %8s\n' idle held "open s" "opened/s" "RSS MiB" "RSS after" \
	"B/conn" "Get/s" "Get p50/p99 ms" errors
for n in "$@"; do
	if [ "$n" -gt "$largest" ]; then
		printf '%8d  not possible here: the open file hard limit is %s and raising it needs CAP_SYS_RESOURCE\n' \
			"$n" "$hard"
		continue
	fi
	start_kmipd "store-$n" keygen.pool_size=0 server.max_connections=200000 server.idle_timeout=0 \
		server.max_handshakes=1024 || exit 1
	out="$dir/scale.$n"
	idle_args=""
	[ "$n" -gt 0 ] && idle_args="--idle $n --parallel 128"
	# shellcheck disable=SC2086
	timeout -k 5 $((secs + 120 + n / 500)) $bench_pin "$bench" -p "$kmipd_port" --certs "$dir/certs" \
		--server-pid "$kmipd_pid" $idle_args -c 16 -d 8 -m get -t "$secs" -w 1 --timeout 60 \
		--format line --label "idle-$n" >"$out" 2>"$out.err"
	rc=$?
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
		echo "scale: $n idle connections: kmip-bench exited with $rc" >&2
		head -5 "$out.err" >&2
	fi
	if [ -s "$out" ]; then
		awk -v n="$n" '{
			for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
			idle = n > 0
			before = (idle ? v["idle_rss_before_kb"] : v["server_rss_kb"]) / 1024
			after = (idle ? v["idle_rss_after_kb"] : v["server_rss_kb"]) / 1024
			printf "%8d %8s %9s %9s %10.1f %10.1f %11s %10.0f %15s %8s\n", n, (idle ? v["idle_held"] : "-"),
			    (idle ? v["idle_secs"] : "-"), (idle ? sprintf("%.0f", v["idle_per_s"]) : "-"), before, after,
			    (idle ? v["idle_bytes_per_conn"] : "-"), v["ops_per_s"], v["p50_ms"] "/" v["p99_ms"], v["errors"]
		}' "$out"
	fi
	stop_kmipd
done
echo "RSS: kmipd's VmRSS before the idle set and one second after its last handshake; B/conn is the difference"
echo "divided by the connections opened. Get runs over 16 further connections while the idle ones stay open."
