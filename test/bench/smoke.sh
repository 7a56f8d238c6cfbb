#!/bin/sh
# test_bench_smoke: kmip-bench against a private kmipd for a few seconds, checking responses only. Each case
# must end with zero errors and with operations done; no figure is judged. Prints cmocka's summary lines,
# which test/run-tests.sh counts. Installed as BUILD/test/test_bench_smoke; kmip-bench is BUILD/bench/kmip-bench.
# Environment: KMIPD_BIN (default build/kmipd), KMIPD_SRCDIR (default .) for etc/mkcerts.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bench="$here/../bench/kmip-bench"
kmipd=${KMIPD_BIN:-build/kmipd}
src=${KMIPD_SRCDIR:-.}
dir=$(mktemp -d /tmp/kmipd-bench-smoke-XXXXXX)
pid=
passed=0
failed=""

cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

# Prints the value of key in a kmip-bench --format line output file.
field() {
	tr ' ' '\n' <"$2" | sed -n "s/^$1=//p"
}

# Runs one case: NAME CHECK ARGS...; CHECK is "ops" (operations done) or "resumed" (resumed handshakes done).
case_run() {
	name=$1
	check=$2
	shift 2
	echo "[ RUN      ] $name"
	"$bench" -p "$port" --certs "$dir/certs" --format line --label "$name" "$@" >"$dir/out" 2>"$dir/err"
	rc=$?
	cat "$dir/out"
	errors=$(field errors "$dir/out")
	n=$(field "$check" "$dir/out")
	if [ "$rc" -eq 0 ] && [ "${errors:-1}" = 0 ] && [ "${n:-0}" -gt 0 ] 2>/dev/null; then
		echo "[       OK ] $name"
		passed=$((passed + 1))
	else
		cat "$dir/err"
		echo "kmip-bench exited with $rc, errors=${errors:-?}, $check=${n:-?}"
		echo "[  FAILED  ] $name"
		failed="$failed $name"
	fi
}

echo "[==========] Running 3 test(s)."
if ! [ -x "$bench" ] || ! [ -x "$kmipd" ]; then
	echo "test_bench_smoke: $bench or $kmipd is missing"
	echo "[  FAILED  ] 1 test(s), listed below:"
	echo "[  FAILED  ] setup"
	exit 1
fi
# EC certificates: made in a fraction of the time RSA ones take, and the figures do not matter here.
if ! KMIPD_KEY_TYPE=ec "$src/etc/mkcerts.sh" "$dir/certs" >/dev/null; then
	echo "[  FAILED  ] 1 test(s), listed below:"
	echo "[  FAILED  ] setup (mkcerts)"
	exit 1
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(umask 077 && head -c 32 /dev/urandom >"$dir/master.key") || { echo "smoke: no master key" >&2; exit 1; }
"$kmipd" -f -o server.listen=127.0.0.1 -o server.port="$port" -o store.path="$dir/store" \
	-o store.master_key_file="$dir/master.key" \
	-o tls.cert_file="$dir/certs/server.crt" -o tls.key_file="$dir/certs/server.key" \
	-o tls.clients_ca_cert_file="$dir/certs/ca.crt" -o keygen.pool_size=4 -o log.level=warn \
	-o server.max_connections_per_source=0 -o server.handshake_rate_per_source=0 \
	2>"$dir/kmipd.log" &
pid=$!
ready=0
for _ in $(seq 150); do
	if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.5).close()" 2>/dev/null; then
		ready=1
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [ "$ready" -ne 1 ]; then
	cat "$dir/kmipd.log"
	echo "[  FAILED  ] 1 test(s), listed below:"
	echo "[  FAILED  ] setup (kmipd did not start)"
	exit 1
fi

case_run requests_mix ops -m get:60,locate:25,create:15 -c 8 -d 4 -t 2 -w 0.5
case_run veeam_flow ops -m veeam -c 2 -t 3 -w 0 --timeout 60
case_run handshake_resume resumed -m handshake-resume -c 2 -t 1 -w 0

if ! kill -0 "$pid" 2>/dev/null; then
	cat "$dir/kmipd.log"
	failed="$failed kmipd_alive"
fi
echo "[==========] 3 test(s) run."
echo "[  PASSED  ] $passed test(s)."
if [ -n "$failed" ]; then
	set -- $failed
	echo "[  FAILED  ] $# test(s), listed below:"
	for f in "$@"; do
		echo "[  FAILED  ] $f"
	done
	exit 1
fi
exit 0
