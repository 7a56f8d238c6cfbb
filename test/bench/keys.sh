#!/bin/sh
# Key material at rest (issue 13): what sealing costs a Get, and what a large encrypted store costs a start.
#
# 1. Get over KMIP, encrypted against clear: two kmipd of this tree on loopback with the same certificates,
#    one sealing material (store.encryption = true, the default, under a master key file) and one with
#    store.encryption=false, loops pinned to CPU 0, kmip-bench to CPU 1, no key-pair pool. Each holds the same
#    objects, made once before the rounds: 16 AES-256 keys and 16 RSA-2048 key pairs, Gotten by their private
#    halves as Veeam Gets them. Each workload runs against one server then the other, ROUNDS times in turn
#    (A B A B ...), so the machine's drift falls on both; prints the medians (and ranges) of Get/s and of server
#    CPU time per Get, the ratios of the medians (encrypted / clear) and those of each round's two runs.
# 2. Unless OBJECTS is 0: bench_store fills an encrypted store of OBJECTS objects (-k, kept) and kmipd is
#    started on it OPENS times, in turn with an empty encrypted store, each time after the store's file left
#    the page cache (posix_fadvise, that file only): seconds from exec to the log line that follows the
#    store's opening ("store ...: N objects", before "listening on") and to the first answered
#    request (test/bench/ready.py). Then a store of OBJECTS objects kept in clear (bench_store -E -k) is
#    encrypted by `kmipctl encrypt`: seconds and objects per second. Each fill takes about 40 s here.
#
# Usage: test/bench/keys.sh [BUILD] [ROUNDS] [SECONDS] [OBJECTS] [OPENS] [WORKLOAD...]
#   ROUNDS   runs per workload and server (default 5); SECONDS per run, whole (default 3, one more of warm-up)
#   OBJECTS  objects of the large stores (default 1000000; 0 skips part 2); OPENS timed starts (default 5)
#   WORKLOAD names from the list below (default: get-aes get-rsa)
# The large stores go under /var/tmp (about 1 GB each for a million objects) and are removed at the end.
set -u
build=${1:-build}
rounds=${2:-5}
secs=${3:-3}
objects=${4:-1000000}
opens=${5:-5}
if [ $# -gt 5 ]; then shift 5; else set --; fi
want=" ${*:-get-aes get-rsa} "
bench="$build/bench/kmip-bench"
. test/bench/lib.sh

# name|what|kmip-bench arguments (the objects are named by set-up below, so every run Gets the same ones)
workloads='get-aes|Get AES-256, 16 connections x 8|-m get -c 16 -d 8 --objects aes --names keys-aes
get-rsa|Get RSA-2048 private key, 16 x 8|-m get -c 16 -d 8 --objects rsa --names keys-rsa
get-aes-1|Get AES-256, 1 connection x 1|-m get -c 1 -d 1 --objects aes --names keys-aes
get-rsa-1|Get RSA-2048 private key, 1 x 1|-m get -c 1 -d 1 --objects rsa --names keys-rsa'

for f in "$bench" "$build/kmipd" "$build/kmipctl" "$build/bench/bench_store"; do
	[ -x "$f" ] || { echo "keys: $f is missing (make bench builds it)" >&2; exit 1; }
done
make_dir keys
big=
enc_pid='' clear_pid=''
keys_cleanup() {
	for p in $enc_pid $clear_pid; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -n "$big" ] && rm -rf "$big"
	rm -rf "$dir"
}
trap keys_cleanup EXIT
make_certs || exit 1

# 1. Get, encrypted against clear.
start_kmipd enc keygen.pool_size=0 || exit 1
enc_pid=$kmipd_pid enc_port=$kmipd_port
start_kmipd clear keygen.pool_size=0 store.encryption=false || exit 1
clear_pid=$kmipd_pid clear_port=$kmipd_port
kmipd_pid=
bench_pin=$(pin_cpu 1)
echo "keys: encrypted kmipd (pid $enc_pid) against clear (pid $clear_pid), $rounds rounds of $secs s;" \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)"

# Set-up: the objects in both stores, and their first Get (which clears Fresh, a write) out of the way.
for who in enc clear; do
	if [ "$who" = enc ]; then port=$enc_port; else port=$clear_port; fi
	for o in aes rsa; do
		timeout -k 5 300 "$bench" -p "$port" --certs "$dir/certs" -m get -c 1 -t 0.5 -w 0 --timeout 120 \
			--keys 16 --objects "$o" --names "keys-$o" --format line >/dev/null 2>"$dir/setup.err" || {
			echo "keys: set-up of $o keys against $who failed:" >&2
			head -5 "$dir/setup.err" >&2
			exit 1
		}
	done
done

echo "$workloads" | while IFS='|' read -r name what args; do
	case "$want" in *" $name "*) ;; *) continue ;; esac
	r=0
	while [ "$r" -lt "$rounds" ]; do
		for who in enc clear; do
			if [ "$who" = enc ]; then port=$enc_port pid=$enc_pid; else port=$clear_port pid=$clear_pid; fi
			# shellcheck disable=SC2086
			timeout -k 5 $((secs * 2 + 60)) $bench_pin "$bench" -p "$port" --certs "$dir/certs" \
				--server-pid "$pid" -t "$secs" -w 1 --timeout 30 --format line --label "$name-$r" $args \
				>>"$dir/$name.$who" 2>>"$dir/$name.$who.err" ||
				echo "keys: $name against $who failed: $(head -1 "$dir/$name.$who.err")" >&2
		done
		r=$((r + 1))
	done
	printf '%s|%s\n' "$name" "$what" >>"$dir/ran"
done
[ -f "$dir/ran" ] || { echo "keys: no workload ran" >&2; exit 1; }

# Prints one "ratio=" line per round: FIELD (as in stats) of the encrypted run over that of the clear run
# of the same round, so that each ratio compares two runs a few seconds apart. Usage: paired FIELD NAME
paired() {
	awk -v f="$1" 'function val(    i, kv, v) {
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		label = v["label"]
		if (f == "cpu") return v["ops"] > 0 ? v["server_cpu_s"] / v["ops"] : 0
		return v[f]
	}
	NR == FNR { x = val(); enc[label] = x; next }
	{ x = val(); if (x > 0 && label in enc) print "ratio=" enc[label] / x }' "$dir/$2.enc" "$dir/$2.clear"
}

# One line of the table: FIELD's medians (least-greatest) against each server times SCALE with DECIMALS, the
# ratio of the medians and the paired ratios. Usage: row NAME FIELD TEXT SCALE DECIMALS
row() {
	_n=$1 _f=$2 _t=$3 _k=$4 _d=$5
	paired "$_f" "$_n" >"$dir/ratios"
	# shellcheck disable=SC2046
	set -- $(stats "$_f" "$dir/$_n.enc") $(stats "$_f" "$dir/$_n.clear") $(stats ratio "$dir/ratios")
	awk -v n="$_n" -v t="$_t" -v k="$_k" -v d="$_d" -v e="$1" -v e0="$2" -v e1="$3" -v c="$4" -v c0="$5" \
	    -v c1="$6" -v r="$7" -v r0="$8" -v r1="$9" 'BEGIN {
		f = "%." d "f"
		printf "%-9s %-40s %22s %22s %6.3f %20s\n", n, t, sprintf(f " (" f "-" f ")", e * k, e0 * k, e1 * k),
		    sprintf(f " (" f "-" f ")", c * k, c0 * k, c1 * k), (c > 0 ? e / c : 0),
		    sprintf("%.3f (%.3f-%.3f)", r, r0, r1) }'
}
printf '\n%-9s %-40s %22s %22s %6s %20s\n' workload "" encrypted clear ratio "paired ratios"
while IFS='|' read -r name what; do
	row "$name" ops_per_s "$what, Get/s" 1 0
	row "$name" cpu "  server CPU us per Get" 1000 2
done <"$dir/ran"
errs=$(cat "$dir"/*.enc "$dir"/*.clear 2>/dev/null | tr ' ' '\n' | sed -n 's/^errors=//p' | awk '{ s += $1 } END { print s + 0 }')
echo "Medians (least-greatest) of $rounds runs each, taken in turn; server CPU: its loop and workers per measured" \
	"Get; ratio: of the medians, encrypted / clear; paired ratios: the median (least-greatest) of each round's" \
	"encrypted run over its clear one. Goal: Get/s at least 0.9 of clear. Errors: $errs."
kill "$enc_pid" "$clear_pid" 2>/dev/null
wait "$enc_pid" "$clear_pid" 2>/dev/null
enc_pid='' clear_pid=''

[ "$objects" -gt 0 ] || exit 0

# 2. A large encrypted store: its fill, then kmipd's start on it (and on an empty one, in turn).
big=$(mktemp -d /var/tmp/kmipd-keys-XXXXXX) || exit 1
mkdir "$big/enc" "$big/clear" "$dir/empty"
echo
echo "keys: filling an encrypted store of $objects objects (bench_store -n $objects -k)"
"$build/bench/bench_store" -n "$objects" -k -d "$big/enc" -q 1000 -t 0.2 >"$big/enc.out" 2>&1 ||
	{ cat "$big/enc.out" >&2; exit 1; }
grep -E '^\| (fill|open the filled)' "$big/enc.out"
held=$(sed -n 's/.*; \([0-9]*\) objects;.*/\1/p' "$big/enc.out")

# Starts kmipd on store STORE with master key KEY under test/bench/ready.py, which prints log= and request=;
# with a third argument, the store's file leaves the page cache first.
timed_start() {
	_port=$(free_port)
	# shellcheck disable=SC2046
	"$PY" test/bench/ready.py --certs "$dir/certs" --port "$_port" --log "$dir/ready.log" \
		$([ $# -gt 2 ] && echo --evict "$1/data.mdb") -- \
		"$build/kmipd" -f -o server.listen=127.0.0.1 -o server.port="$_port" -o store.path="$1" \
		-o store.master_key_file="$2" -o tls.cert_file="$dir/certs/server.crt" \
		-o tls.key_file="$dir/certs/server.key" -o tls.clients_ca_cert_file="$dir/certs/ca.crt" \
		-o log.level=info -o keygen.pool_size=0
}
timed_start "$dir/empty/store" "$dir/master.key" >/dev/null || exit 1	# makes the empty store and keyring
r=0
while [ "$r" -lt "$opens" ]; do
	timed_start "$big/enc/store" "$big/enc/master.key" cold >>"$dir/open.big" ||
		{ cat "$dir/ready.log" >&2; exit 1; }
	timed_start "$dir/empty/store" "$dir/master.key" cold >>"$dir/open.empty" || exit 1
	r=$((r + 1))
done
for what in big empty; do
	if [ "$what" = big ]; then label="$held objects"; else label="empty store"; fi
	printf 'kmipd start, %-16s exec to "store ...: N objects" %s s, to the first answered request %s s\n' \
		"$label:" "$(stats log "$dir/open.$what" | awk '{ printf "%.3f (%.3f-%.3f)", $1, $2, $3 }')" \
		"$(stats request "$dir/open.$what" | awk '{ printf "%.3f (%.3f-%.3f)", $1, $2, $3 }')"
done
echo "Medians (least-greatest) of $opens starts each, taken in turn, each after the store's file left the page cache."

# The same count kept in clear, encrypted by kmipctl encrypt.
echo
echo "keys: filling a store of $objects objects in clear (bench_store -E -n $objects -k)"
"$build/bench/bench_store" -E -n "$objects" -k -d "$big/clear" -q 1000 -t 0.2 >"$big/clear.out" 2>&1 ||
	{ cat "$big/clear.out" >&2; exit 1; }
grep -E '^\| fill' "$big/clear.out"
held=$(sed -n 's/.*; \([0-9]*\) objects;.*/\1/p' "$big/clear.out")
"$build/kmipctl" master-key create "$big/clear/master.key" >/dev/null || exit 1
cat >"$big/clear/kmipd.conf" <<EOF
tls: { cert_file = "$dir/certs/server.crt"; key_file = "$dir/certs/server.key";
	clients_ca_cert_file = "$dir/certs/ca.crt"; };
store: { path = "$big/clear/store"; master_key_file = "$big/clear/master.key"; };
EOF
before=$(du -sk "$big/clear/store" | cut -f1)
t0=$(date +%s.%N)
"$build/kmipctl" encrypt -c "$big/clear/kmipd.conf" >"$big/encrypt.out" 2>&1 || { cat "$big/encrypt.out" >&2; exit 1; }
t1=$(date +%s.%N)
after=$(du -sk "$big/clear/store" | cut -f1)
awk -v n="$held" -v t0="$t0" -v t1="$t1" -v b="$before" -v a="$after" 'BEGIN {
	printf "kmipctl encrypt: %d objects in %.1f s, %.0f objects/s; store %.0f MiB in clear, %.0f MiB encrypted " \
	    "and compacted\n", n, t1 - t0, n / (t1 - t0), b / 1024, a / 1024 }'
