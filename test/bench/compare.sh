#!/bin/sh
# kmipd and PyKMIP's server side by side: both started on loopback with the same certificates (etc/mkcerts.sh,
# RSA-2048, mutual TLS required, TLS 1.2, the only version PyKMIP's server speaks) and a private store each,
# the same kmip-bench workloads run against one and then the other, and a table of both with their ratio,
# each server's CPU time during the measured seconds and its peak memory. Every run is bounded in time.
#
# Usage: [KMIPD_OPTS="key=value ..."] test/bench/compare.sh [BUILD] [SECONDS] [WORKLOAD...]
#   SECONDS   measured seconds per workload and server (default 5; one more of warm-up)
#   WORKLOAD  names from the list below (default: all)
#   KMIPD_OPTS  more kmipd -o overrides, such as "tls.session_tickets=false"
# The servers' loops run on CPU 0 and kmip-bench on CPU 1 (taskset); kmipd's key-generation workers are not
# pinned. kmipd runs without a key-pair pool (keygen.pool_size=0), so CreateKeyPair is measured as sustained
# generation, not as a pool being emptied.
set -u
build=${1:-build}
secs=${2:-5}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
bench="$build/bench/kmip-bench"
. test/bench/lib.sh

# name|what|duration factor|kmip-bench arguments. PyKMIP's Locate reads every object, so the workloads that
# add many objects (create, mix) come last; CreateKeyPair and the Veeam flow run four times longer, since
# RSA key generation takes 0.06 to 1.2 s a key and a few keys would say little.
workloads='get-1|Get, 1 connection, 1 in flight|1|-m get -c 1 -d 1
get-16x8|Get, 16 connections x 8 pipelined|1|-m get -c 16 -d 8
locate|Locate by name, 4 connections x 4|1|-m locate -c 4 -d 4
handshake|full mutual-TLS handshakes, 4 connections|1|-m handshake -c 4
resume|resumed TLS handshakes, 8 connections|1|-m handshake-resume -c 8
ckp|CreateKeyPair RSA-2048, 4 connections|4|-m create-key-pair -c 4
veeam|Veeam flow (11 requests), 4 connections|4|-m veeam -c 4
create|Create AES-256, 16 connections x 4|1|-m create -c 16 -d 4
mix|get 80 locate 15 create 5, 16 x 4|1|-m get:80,locate:15,create:5 -c 16 -d 4'

if [ $# -gt 0 ]; then
	want=" $* "
else
	want=""
fi

[ -x "$bench" ] || { echo "compare: $bench is missing (make $bench)" >&2; exit 1; }
make_dir compare

make_certs || exit 1
start_kmipd kmipd-store keygen.pool_size=0 || exit 1
start_pykmip || exit 1

echo "kmipd pid $kmipd_pid port $kmipd_port; PyKMIP pid $pykmip_pid port $pykmip_port; $secs s per run;" \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)"
bench_pin=$(pin_cpu 1)
echo "$workloads" | while IFS='|' read -r name what factor args; do
	case "$want" in "" | *" $name "*) ;; *) continue ;; esac
	for server in kmipd pykmip; do
		if [ "$server" = kmipd ]; then
			port=$kmipd_port pid=$kmipd_pid
		else
			port=$pykmip_port pid=$pykmip_pid
		fi
		# shellcheck disable=SC2086
		timeout -k 5 $((secs * factor * 2 + 90)) $bench_pin "$bench" -p "$port" --certs "$dir/certs" \
			--server-pid "$pid" -t $((secs * factor)) -w 1 --timeout 30 --format line --label "$name" $args \
			>"$dir/$name.$server" 2>"$dir/$name.$server.err"
		rc=$?
		if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
			echo "compare: $name against $server failed (exit $rc):" >&2
			head -5 "$dir/$name.$server.err" >&2
		fi
	done
	printf '%s|%s\n' "$name" "$what" >>"$dir/ran"
done

[ -f "$dir/ran" ] || { echo "compare: no workload ran" >&2; exit 1; }
printf '\n%-10s %-42s %11s %11s %8s %17s %17s %13s %9s\n' workload "" "kmipd/s" "PyKMIP/s" ratio \
	"kmipd p50/p99 ms" "PyKMIP p50/p99" "CPU ms/op k|P" "errors"
while IFS='|' read -r name what; do
	k="$dir/$name.kmipd"
	p="$dir/$name.pykmip"
	awk -v name="$name" -v what="$what" -v kf="$k" -v pf="$p" '
	function load(file, v,    line, n, i, kv) {
		if ((getline line < file) <= 0)
			return 0
		n = split(line, kv, " ")
		for (i = 1; i <= n; i++) {
			split(kv[i], pair, "=")
			v[pair[1]] = pair[2]
		}
		return 1
	}
	function cpu(v) {
		return v["ops"] > 0 && v["server_cpu_s"] != "" ? sprintf("%.2f", 1000 * v["server_cpu_s"] / v["ops"]) : "-"
	}
	BEGIN {
		hk = load(kf, K); hp = load(pf, P)
		ks = hk ? K["ops_per_s"] : 0; ps = hp ? P["ops_per_s"] : 0
		ratio = ps > 0 ? sprintf("%.1fx", ks / ps) : "-"
		printf "%-10s %-42s %11s %11s %8s %17s %17s %13s %9s\n", name, what,
		    hk ? sprintf("%.1f", ks) : "failed", hp ? sprintf("%.1f", ps) : "failed", ratio,
		    hk ? K["p50_ms"] "/" K["p99_ms"] : "-", hp ? P["p50_ms"] "/" P["p99_ms"] : "-",
		    cpu(K) "|" cpu(P), (hk ? K["errors"] : "-") "|" (hp ? P["errors"] : "-")
	}'
done <"$dir/ran"

# Memory: the last run's view of each server (VmRSS now, VmHWM peak of the main process, all processes).
last=$(tail -1 "$dir/ran" | cut -d'|' -f1)
for server in kmipd pykmip; do
	f="$dir/$last.$server"
	[ -s "$f" ] || continue
	awk -v s="$server" -v hwm="$(field server_hwm_kb "$f")" -v tree="$(field server_tree_rss_kb "$f")" 'BEGIN {
		printf "%-7s peak RSS %6.1f MiB (VmHWM of the server process), %6.1f MiB now with its child processes\n",
		    s, hwm / 1024, tree / 1024 }'
done
echo "CPU ms/op: server CPU time (its loop and child processes, /proc/PID/stat) per measured operation."
