#!/bin/sh
# Issue 14: what an honest tenant sees while another tenant attacks the server. For each case a fresh kmipd
# (loop pinned to CPU 0, no key-pair pool, Credentials configured, 4 MiB messages so that the cases' large
# requests are accepted) is started; the attacker sets up what it needs (its objects), then the honest client
# (build/bench/kmip-attack -m honest, client.crt) runs SECONDS without an attacker ("idle") and SECONDS again
# while the attacker (kmip-attack -m CASE, client2.crt, at nice 10 so that it does not take the honest
# client's core) runs; then the server is stopped. The idle runs thus alternate with the attacked ones and
# share their noise. The honest client issues on a fixed schedule, one request in flight per series: Get of
# an AES key over a persistent connection (RATE a second), a fresh connection with a full handshake and a Get
# (2 a second), CreateKeyPair P-256 (2 a second); each latency runs from the moment the request was due, so a
# stall counts for every request that fell due during it. Prints one table: per case the honest Get p50, p99
# and max idle and attacked, the ratio of the p99s, the other two series' p99, kmipd's peak RSS and loop CPU
# share during the attacked run, and what the attacker achieved.
#
# Usage: test/bench/attack.sh [BUILD] [SECONDS] [ROUNDS] [RATE] [CASE...]
#   SECONDS  per measured run (default 10); ROUNDS of every case, medians printed (default 1); RATE Get/s (20)
#   CASE     rsa attrs bigresp handshake creds locate keygen partial (default: all, in that order)
# Environment: KMIPD_OPTS more kmipd -o overrides for every case (as in lib.sh), ATTACK_OPTS more
# kmip-attack options for every attacker.
set -u
build=${1:-build}
secs=${2:-10}
rounds=${3:-1}
rate=${4:-20}
if [ $# -gt 4 ]; then shift 4; else set --; fi
cases=${*:-rsa attrs bigresp handshake creds locate keygen partial}
tool="$build/bench/kmip-attack"
. test/bench/lib.sh

for f in "$tool" "$build/kmipd" "$build/kmipctl"; do
	[ -x "$f" ] || { echo "attack: $f is missing (make bench builds it)" >&2; exit 1; }
done
make_dir attack
attacker_pid=
attack_cleanup() {
	[ -n "$attacker_pid" ] && kill -KILL "$attacker_pid" 2>/dev/null
	stop_hard
	# ATTACK_KEEP=DIR keeps the raw lines (honest.out, att.CASE.ROUND) and the logs there.
	[ -n "${ATTACK_KEEP:-}" ] && mkdir -p "$ATTACK_KEEP" && cp "$dir"/honest.* "$dir"/att.* "$dir"/*.log \
		"$ATTACK_KEEP"/ 2>/dev/null
	rm -rf "$dir"
}
trap attack_cleanup EXIT
make_certs || exit 1
# A username/password the attacker of the creds case never guesses (100,000 PBKDF2 iterations by default).
cred=$(printf 'bench-Pa55-w0rd\n' | "$build/kmipctl" hash-password bench) || exit 1

# Stops kmipd: SIGTERM, and SIGKILL when it has not gone within 5 s (a loop busy in an attack's request
# may not get to its signal for a long time).
stop_hard() {
	[ -n "${kmipd_pid:-}" ] || return 0
	kill "$kmipd_pid" 2>/dev/null
	_i=0
	while kill -0 "$kmipd_pid" 2>/dev/null && [ "$_i" -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -KILL "$kmipd_pid" 2>/dev/null
	wait "$kmipd_pid" 2>/dev/null
	kmipd_pid=
}

# Waits up to SECS seconds for FILE while PID lives. Usage: wait_file FILE PID SECS
wait_file() {
	_i=0
	while [ ! -e "$1" ]; do
		kill -0 "$2" 2>/dev/null || return 1
		[ "$_i" -ge $(($3 * 10)) ] && return 1
		sleep 0.1
		_i=$((_i + 1))
	done
}

# The kmipd options of one case, besides the common ones.
case_opts() {
	case "$1" in
	handshake) echo "server.max_connections=256" ;;	# 10,000 scaled down: 300 sockets fill it
	esac
}

# Starts the honest client of a run labelled LABEL and waits until its connections are open and its key made
# (before the attack starts, so that a stalled loop cannot delay its set-up past the attack). Its line goes to
# $dir/honest.out. Usage: honest_start LABEL
honest_start() {
	rm -f "$dir/h.ready" "$dir/h.go"
	honest_label=$1
	# shellcheck disable=SC2046
	timeout -k 5 $((secs + 240)) $(pin_cpu 1) "$tool" -m honest --certs "$dir/certs" -p "$kmipd_port" \
		--server-pid "$kmipd_pid" -t "$secs" --rate "$rate" --label "$1" --ready "$dir/h.ready" \
		--go "$dir/h.go" >>"$dir/honest.out" 2>>"$dir/honest.err" &
	honest_pid=$!
	wait_file "$dir/h.ready" "$honest_pid" 120 ||
		echo "attack: the honest client did not start ($1): $(tail -1 "$dir/honest.err")" >&2
}

# Starts the honest client's clock and waits for its run to end.
honest_finish() {
	touch "$dir/h.go"
	wait "$honest_pid" || echo "attack: the honest client failed ($honest_label): $(tail -1 "$dir/honest.err")" >&2
}

echo "attack: $rounds round(s) of $secs s per run, honest Get at $rate/s; load average" \
	"$(cut -d' ' -f1-3 /proc/loadavg) at the start"
r=0
while [ "$r" -lt "$rounds" ]; do
	for c in $cases; do
		# shellcheck disable=SC2046
		# The per-source limits at their defaults (lib.sh turns them off for load from one address): the
		# attackers come from 127.0.0.2, the honest client from 127.0.0.1.
		start_kmipd "case-$c-$r" keygen.pool_size=0 server.max_message_size=4194304 \
			server.max_connections_per_source=1000 server.handshake_rate_per_source=100 \
			"access.credentials=$cred" $(case_opts "$c") || exit 1
		# The attacker's set-up first (its objects), so that the idle run sees the same store; it then
		# waits for $dir/a.go.
		rm -f "$dir/a.ready" "$dir/a.go"
		# shellcheck disable=SC2046,SC2086
		$(pin_cpu 1) nice -n 10 "$tool" -m "$c" --certs "$dir/certs" -p "$kmipd_port" -t 100000 \
			--ready "$dir/a.ready" --go "$dir/a.go" ${ATTACK_OPTS:-} >"$dir/att.$c.$r" 2>>"$dir/att.err" &
		attacker_pid=$!
		if wait_file "$dir/a.ready" "$attacker_pid" 900; then
			sleep 1
			honest_start "idle-$c"
			honest_finish
			honest_start "$c"
			touch "$dir/a.go"
			sleep 1		# the attack under way
			honest_finish
		else
			echo "attack: $c: the attacker did not get ready: $(tail -2 "$dir/att.err")" >&2
		fi
		kill -TERM "$attacker_pid" 2>/dev/null
		wait "$attacker_pid"
		attacker_pid=
		stop_hard
	done
	r=$((r + 1))
done

# The median of FIELD over the honest lines labelled LABEL. Usage: med LABEL FIELD
med() {
	grep "^label=$1 " "$dir/honest.out" >"$dir/sel" 2>/dev/null
	median "$2" "$dir/sel"
}

# What the attacker of CASE achieved, from its line of the last round.
achieved() {
	_f="$dir/att.$1.$((rounds - 1))"
	[ -s "$_f" ] || { echo "-"; return; }
	tr ' ' '\n' <"$_f" | awk -F= -v c="$1" '{ v[$1] = $2 } END {
		s = v["secs"] > 0 ? v["secs"] : 1; ans = v["ok"] + v["refused"]
		if (c == "rsa") printf "%d of %d keys answered (%d ok), %.2f/s", ans, v["sent"], v["ok"], ans / s
		else if (c == "attrs") printf "%d values on its object; %d Get Attributes answered, %.2f/s", v["setup"], ans, ans / s
		else if (c == "bigresp") printf "%d conns x 64 Gets of %.0f KiB unread (%d sent, %d closed)", v["level_max"], v["setup"] / 1024, v["sent"], v["closed"]
		else if (c == "handshake") printf "%d silent sockets held, %d connects, %d closed by kmipd", v["level_max"], v["conns"], v["closed"]
		else if (c == "creds") printf "%d wrong Credentials answered, %.0f/s, on %d connections", ans, ans / s, v["conns"]
		else if (c == "locate") printf "%d own objects; %d Locates answered, %.1f/s", v["setup"], ans, ans / s
		else if (c == "keygen") printf "%d RSA-4096 pairs made, %.2f/s, %d refused", v["ok"], v["ok"] / s, v["refused"]
		else if (c == "partial") printf "%d conns x %.0f MiB partial (%.0f MiB sent, %d closed)", v["level_max"], (v["sent"] > 0 ? v["mib"] / v["sent"] : 0), v["mib"], v["closed"]
		else printf "sent %d ok %d refused %d closed %d", v["sent"], v["ok"], v["refused"], v["closed"]
	}'
}

printf '\n%-9s %-20s %-26s %7s %14s %15s %15s %13s %5s  %s\n' case "idle Get p50/p99/max" \
	"attacked Get p50/p99/max" "p99 x" "svc p99 (n)" "conn+Get p99" "P-256 CKP p99" "RSS MiB" "loop" \
	"attacker (its own figures)"
for c in $cases; do
	grep -q "^label=$c " "$dir/honest.out" 2>/dev/null || { printf '%-9s (no run)\n' "$c"; continue; }
	awk -v c="$c" -v a="$(achieved "$c")" \
	    -v i50="$(med "idle-$c" get_p50)" -v i99="$(med "idle-$c" get_p99)" -v imx="$(med "idle-$c" get_max)" \
	    -v a50="$(med "$c" get_p50)" -v a99="$(med "$c" get_p99)" -v amx="$(med "$c" get_max)" \
	    -v ic="$(med "idle-$c" conn_p99)" -v ac="$(med "$c" conn_p99)" \
	    -v ie="$(med "idle-$c" ec_p99)" -v ae="$(med "$c" ec_p99)" \
	    -v ir="$(med "idle-$c" rss_peak_kib)" -v ar="$(med "$c" rss_peak_kib)" \
	    -v lc="$(med "$c" loop_cpu)" -v sv="$(med "$c" get_svc_p99)" -v sn="$(med "$c" get_svc_n)" \
	    -v err="$(med "$c" get_err)" -v cerr="$(med "$c" conn_err)" -v eerr="$(med "$c" ec_err)" 'BEGIN {
		printf "%-9s %-20s %-26s %7s %14s %15s %15s %13s %4.0f%%  %s%s\n", c,
		    sprintf("%.2f/%.2f/%.1f", i50, i99, imx), sprintf("%.2f/%.1f/%.1f", a50, a99, amx),
		    (i99 > 0 ? sprintf("%.1f", a99 / i99) : "-"), sprintf("%.1f (%d)", sv, sn), sprintf("%.0f->%.0f", ic, ac),
		    sprintf("%.0f->%.0f", ie, ae), sprintf("%.0f->%.0f", ir / 1024, ar / 1024), 100 * lc, a,
		    (err + cerr + eerr > 0 ? sprintf("; honest errors: %d Get, %d conn+Get, %d CKP", err, cerr, eerr) : "") }'
done
echo "Milliseconds, from each request's due time; medians over $rounds round(s). idle: the same server and store" \
	"just before the attack. svc p99 (n): attacked Get from sending to the response (the wait behind a stall that" \
	"a paced client would also have counted is left out), and how many were answered. conn+Get: a new connection (full handshake) and one Get, 2/s; P-256 CKP: CreateKeyPair" \
	"P-256, 2/s; both idle->attacked. RSS: kmipd's peak VmRSS during the idle->attacked run. loop: kmipd's main" \
	"process CPU share during the attacked run. Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
