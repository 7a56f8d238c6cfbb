#!/bin/sh
# Full handshakes per second, and the server's CPU time per handshake, with kmipd's RSA-2048 server
# certificate and with its ECDSA P-256 one (tls.ecdsa_cert_file), from an ECDSA P-256 client certificate
# (client-ec) and from an RSA-2048 one (client), over TLS 1.2 and 1.3: eight cases side by side in one run.
# Two kmipd run at once, one with the RSA pair alone and one with the ECDSA pair beside it (which a client
# offering ECDSA, as OpenSSL's does by default, is served); the cases are taken in turn, ROUNDS times, and
# the table shows each one's median (least-greatest).
#
# Usage: test/bench/handshakes.sh [KMIPD] [WORKERS] [SECONDS] [ROUNDS] [CONNECTIONS]
#        (defaults: build/kmipd 1 5 3 16)
#   KMIPD        the kmipd binary to measure; kmip-bench is $KMIP_BENCH (default build/bench/kmip-bench)
#   WORKERS      server.workers; 1 passes nothing (a kmipd before issue 18 does not know the key)
#   SECONDS      measured seconds of each case (after 1 s of warm-up)
#   CONNECTIONS  kmip-bench connections, each one connect, full handshake, close_notify, again
# Both kmipd and all their processes (workers, key generation) run on CPU $SERVER_CPUS (default 0, taskset
# at exec, inherited by every child), kmip-bench on $CLIENT_CPUS (default 1). The server's CPU time is what
# kmip-bench --server-pid reads from /proc/PID/stat (utime + stime) before and after the measured seconds
# for the process it is given and every descendant: with workers, the master and all its workers. The key
# generation workers are among them; with keygen.pool_size=0 they stay idle (a few ms in a run).
set -u
kmipd=${1:-build/kmipd}
workers=${2:-1}
secs=${3:-5}
rounds=${4:-3}
conns=${5:-16}
bench=${KMIP_BENCH:-build/bench/kmip-bench}
scpus=${SERVER_CPUS:-0}
ccpus=${CLIENT_CPUS:-1}
. test/bench/lib.sh

[ -x "$kmipd" ] || { echo "handshakes.sh: no kmipd at $kmipd" >&2; exit 1; }
[ -x "$bench" ] || { echo "handshakes.sh: no kmip-bench at $bench (make $bench)" >&2; exit 1; }
make_dir handshakes
rsa_pid=
ec_pid=
# The servers are started from a command substitution, so they are not this shell's children: wait by polling.
stop_servers() {
	for _p in $rsa_pid $ec_pid; do
		kill "$_p" 2>/dev/null
		_i=0
		while kill -0 "$_p" 2>/dev/null && [ "$_i" -lt 100 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
	done
	rm -rf "$dir"
}
trap stop_servers EXIT
make_certs || exit 1
c=$dir/certs

# Prints "taskset -c CPUS" when taskset exists and every CPU of the list is on this machine.
pin_list() {
	command -v taskset >/dev/null 2>&1 || return 0
	for _c in $(echo "$1" | tr ',' ' '); do
		case "$_c" in *-*) _c=${_c#*-} ;; esac
		[ "$(nproc)" -gt "$_c" ] || return 0
	done
	echo "taskset -c $1"
}
ps_=$(pin_list "$scpus")
pc_=$(pin_list "$ccpus")

# Starts a kmipd named NAME (its store and log in $dir) with the extra -o overrides; prints "PID PORT".
start_one() {
	_name=$1
	shift
	_port=$(free_port)
	_w=""
	[ "$workers" = 1 ] || _w="-o server.workers=$workers"
	_args=""
	for _o in "$@"; do
		_args="$_args -o $_o"
	done
	# shellcheck disable=SC2086
	$ps_ "$kmipd" -f -c /dev/null -o server.listen=127.0.0.1 -o server.port="$_port" \
		-o store.path="$dir/$_name" -o store.encryption=false -o log.level=warn \
		-o tls.cert_file="$c/server.crt" -o tls.key_file="$c/server.key" -o tls.clients_ca_cert_file="$c/ca.crt" \
		-o server.max_connections_per_source=0 -o server.handshake_rate_per_source=0 \
		-o keygen.pool_size=0 $_w $_args >/dev/null 2>"$dir/$_name.log" &
	_pid=$!
	wait_started "$_pid" "$_port" "$dir/$_name.log" "kmipd ($_name)" || return 1
	echo "$_pid $_port"
}

s=$(start_one rsa) || exit 1
rsa_pid=${s% *}
rsa_port=${s#* }
s=$(start_one ec tls.ecdsa_cert_file="$c/server-ec.crt" tls.ecdsa_key_file="$c/server-ec.key") || exit 1
ec_pid=${s% *}
ec_port=${s#* }

echo "$(openssl version), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); kmipd $kmipd," \
	"server.workers=$workers on CPU $scpus, kmip-bench on CPU $ccpus, $conns connections, $secs s x $rounds"
r=1
while [ "$r" -le "$rounds" ]; do
	for tls in 1.2 1.3; do
		for client in client-ec client; do
			for server in rsa ec; do
				if [ "$server" = rsa ]; then pid=$rsa_pid port=$rsa_port; else pid=$ec_pid port=$ec_port; fi
				# shellcheck disable=SC2086
				$pc_ "$bench" --ca "$c/ca.crt" --cert "$c/$client.crt" --key "$c/$client.key" -p "$port" \
					-m handshake -c "$conns" -t "$secs" -w 1 --tls "$tls" --server-pid "$pid" \
					--format line >>"$dir/$server.$client.$tls" 2>>"$dir/bench.err" ||
					echo "kmip-bench failed or saw errors: $server $client TLS $tls (see below)" >&2
				echo >>"$dir/$server.$client.$tls"
			done
		done
	done
	r=$((r + 1))
done

printf '%-16s %-16s %-4s %-26s %-24s %-22s %s\n' "server cert" "client cert" TLS "full handshakes/s" \
	"server CPU ms/handshake" "client CPU ms/hs" "ceiling, 2 cores"
for tls in 1.2 1.3; do
	for client in client-ec client; do
		for server in rsa ec; do
			f=$dir/$server.$client.$tls
			sed -i '/^$/d' "$f"
			key=$(field server_key "$f" | sort -u | tr '\n' ' ')
			[ "$client" = client-ec ] && ck="ECDSA P-256" || ck="RSA-2048"
			# Handshakes/s two cores could carry if the server and the client used nothing else.
			ceil=$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
				if (v["ops"] > 0) { s += v["server_cpu_s"] / v["ops"]; k += v["client_cpu_s"] / v["ops"]; n++ } }
				END { if (n > 0 && s + k > 0) printf "%.0f/s", 2 * n / (s + k); else print "-" }' "$f")
			printf '%-16s %-16s %-4s %-26s %-24s %-22s %s\n' "$key" "$ck" "$tls" \
				"$(stats ops_per_s "$f" | awk '{ printf "%.0f (%.0f-%.0f)", $1, $2, $3 }')" \
				"$(stats cpu "$f" | awk '{ printf "%.3f (%.3f-%.3f)", $1, $2, $3 }')" \
				"$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
					if (v["ops"] > 0) print 1000 * v["client_cpu_s"] / v["ops"] }' "$f" | sort -n |
					awk '{ x[n++] = $1 } END { if (n) printf "%.3f", x[int((n - 1) / 2)]; else print "-" }')" \
				"$ceil"
			if awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } if (v["errors"] > 0) e = 1 }
				END { exit !e }' "$f"; then
				echo "  (errors in this case: $(field errors "$f" | tr '\n' ' '))"
			fi
		done
	done
done
[ -s "$dir/bench.err" ] && { echo "kmip-bench said:"; sort "$dir/bench.err" | uniq -c | sort -rn | head -10; }
echo "server cert: the key of the certificate kmip-bench was shown. CPU: the server's (all its processes)"
echo "and kmip-bench's per measured handshake; ceiling: 2 / (server + client CPU per handshake)."
