#!/bin/sh
# This tree's kmipd against the kmipd of an earlier commit, side by side: the earlier one is built in a
# temporary git worktree, both run on loopback with the same certificates and a private store each (loops
# pinned to CPU 0, kmip-bench to CPU 1), and each workload runs against one then the other, ROUNDS times in
# turn, so that the machine's noise falls on both alike. Prints, per workload, the medians of operations per
# second and of server CPU time per operation (its loop and workers, /proc/PID/stat) for each, and the ratio.
#
# Usage: test/bench/versus.sh [BUILD] [BASE] [ROUNDS] [SECONDS] [WORKLOAD...]
#   BASE      the earlier commit (default: BENCH_BASE, else aba05a5, the last before issue 18)
#   ROUNDS    runs per workload and server (default 5); SECONDS per run (default 5, one more of warm-up)
set -u
build=${1:-build}
base=${2:-${BENCH_BASE:-aba05a5}}
rounds=${3:-5}
secs=${4:-5}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
[ $# -gt 0 ] && shift
bench="$build/bench/kmip-bench"
. test/bench/lib.sh

# name|what|kmip-bench arguments
# (TLS 1.2 unless named; the RSA keys are named, so that only the first run makes them.)
workloads='get-1|Get, 1 connection, 1 in flight|-m get -c 1 -d 1
get-16x1|Get, 16 connections x 1|-m get -c 16 -d 1
get-16x8|Get, 16 connections x 8 pipelined|-m get -c 16 -d 8
get-16x1-13|Get, 16 x 1, TLS 1.3|-m get -c 16 -d 1 --tls 1.3
get-16x8-13|Get, 16 x 8, TLS 1.3|-m get -c 16 -d 8 --tls 1.3
rsa-16x1|Get RSA-2048 private key, 16 x 1|-m get -c 16 -d 1 --objects rsa --names versus-rsa
rsa-16x8|Get RSA-2048 private key, 16 x 8|-m get -c 16 -d 8 --objects rsa --names versus-rsa
locate|Locate by name, 4 connections x 4|-m locate -c 4 -d 4
create|Create AES-256, 16 connections x 4|-m create -c 16 -d 4'
want=""
[ $# -gt 0 ] && want=" $* "

[ -x "$bench" ] || { echo "versus: $bench is missing (make $bench)" >&2; exit 1; }
[ -x "$build/kmipd" ] || { echo "versus: $build/kmipd is missing" >&2; exit 1; }
dir=$(mktemp -d /tmp/kmipd-versus-XXXXXX)
wt="$dir/base-tree"
new_pid= old_pid=
cleanup() {
	for p in $new_pid $old_pid; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	git worktree remove --force "$wt" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

git worktree add --detach -q "$wt" "$base" || { echo "versus: no commit $base" >&2; exit 1; }
echo "versus: building kmipd at $(git -C "$wt" log -1 --format='%h %s' | cut -c1-80)"
make -C "$wt" -j2 build/kmipd >"$dir/build.log" 2>&1 || { tail -20 "$dir/build.log" >&2; exit 1; }
make_certs || exit 1

# Starts one kmipd binary (not in a subshell: its pid must be ours to stop); sets started_pid, started_port.
# Extra arguments go to kmipd (a master key, for a kmipd that seals key material).
start() {
	_bin=$1 _name=$2
	shift 2
	started_port=$(free_port)
	"$_bin" "$@" -f -o server.listen=127.0.0.1 -o server.port="$started_port" -o store.path="$dir/store-$_name" \
		-o tls.cert_file="$dir/certs/server.crt" -o tls.key_file="$dir/certs/server.key" \
		-o tls.clients_ca_cert_file="$dir/certs/ca.crt" -o log.level=warn -o keygen.pool_size=0 \
		>/dev/null 2>"$dir/$_name.log" &
	started_pid=$!
	wait_port "$started_port" "$started_pid" || { cat "$dir/$_name.log" >&2; return 1; }
	pin_pid "$started_pid" 0
}
(umask 077 && head -c 32 /dev/urandom >"$dir/master.key") || exit 1
start "$build/kmipd" new -o store.master_key_file="$dir/master.key" || exit 1
new_pid=$started_pid new_port=$started_port
# A base that seals key material too gets a master key of its own, so that both do the same work per Get.
if grep -q '"store.master_key_file"' "$wt/core/config.c" 2>/dev/null; then
	(umask 077 && head -c 32 /dev/urandom >"$dir/master-old.key") || exit 1
	start "$wt/build/kmipd" old -o store.master_key_file="$dir/master-old.key" || exit 1
else
	start "$wt/build/kmipd" old || exit 1
fi
old_pid=$started_pid old_port=$started_port
bench_pin=$(pin_cpu 1)
echo "versus: this tree (pid $new_pid) against $base (pid $old_pid), $rounds rounds of $secs s;" \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)"

echo "$workloads" | while IFS='|' read -r name what args; do
	case "$want" in "" | *" $name "*) ;; *) continue ;; esac
	r=0
	while [ "$r" -lt "$rounds" ]; do
		for who in new old; do
			if [ "$who" = new ]; then port=$new_port pid=$new_pid; else port=$old_port pid=$old_pid; fi
			# shellcheck disable=SC2086
			timeout -k 5 $((secs * 2 + 60)) $bench_pin "$bench" -p "$port" --certs "$dir/certs" \
				--server-pid "$pid" -t "$secs" -w 1 --timeout 30 --format line --label "$name" $args \
				>>"$dir/$name.$who" 2>>"$dir/$name.$who.err" ||
				echo "versus: $name against $who failed" >&2
		done
		r=$((r + 1))
	done
	printf '%s|%s\n' "$name" "$what" >>"$dir/ran"
done
[ -f "$dir/ran" ] || { echo "versus: no workload ran" >&2; exit 1; }

printf '\n%-9s %-36s %11s %11s %7s %15s %15s %7s\n' workload "" "this ops/s" "base ops/s" ratio \
	"this CPU ms/op" "base CPU ms/op" ratio
while IFS='|' read -r name what; do
	no=$(median ops_per_s "$dir/$name.new")
	oo=$(median ops_per_s "$dir/$name.old")
	nc=$(median cpu "$dir/$name.new")
	oc=$(median cpu "$dir/$name.old")
	awk -v n="$name" -v w="$what" -v no="$no" -v oo="$oo" -v nc="$nc" -v oc="$oc" 'BEGIN {
		printf "%-9s %-36s %11.1f %11.1f %7.3f %15.4f %15.4f %7.3f\n", n, w, no, oo, (oo > 0 ? no / oo : 0),
		    nc, oc, (oc > 0 ? nc / oc : 0) }'
done <"$dir/ran"
echo "Medians of $rounds runs each, taken in turn; CPU ms/op: server CPU time per measured operation."
