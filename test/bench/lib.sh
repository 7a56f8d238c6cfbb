# Shell functions shared by the benchmark scripts (sourced, not run). They start kmipd and PyKMIP's server on
# loopback with the certificates of etc/mkcerts.sh in a private folder, and stop them by their process ids.
# The caller sets: build (the build folder), dir (its private temporary folder).

PY=/usr/bin/python3	# Debian's interpreter, which has python3-pykmip (a pyenv shim in PATH may not)

# Makes the run's private folder $dir (/tmp/kmipd-NAME-XXXXXX) and has bench_cleanup run when the script exits
# or is interrupted.
make_dir() {
	dir=$(mktemp -d "/tmp/kmipd-$1-XXXXXX")
	kmipd_pid=
	pykmip_pid=
	trap bench_cleanup EXIT
	trap 'exit 1' HUP INT TERM
}

# Stops the servers this library started and removes $dir.
bench_cleanup() {
	stop_kmipd
	stop_pykmip
	rm -rf "$dir"
}

# Prints a TCP port that was free a moment ago on 127.0.0.1.
free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits up to 30 s until something accepts on 127.0.0.1:PORT while PID lives. Returns 1 otherwise.
wait_port() {
	_i=0
	while [ "$_i" -lt 300 ]; do
		if "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.5).close()" 2>/dev/null; then
			return 0
		fi
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# Waits until server PID accepts on PORT; otherwise prints its LOG and says that NAME did not start, and
# returns 1. Usage: wait_started PID PORT LOG NAME
wait_started() {
	wait_port "$2" "$1" && return 0
	cat "$3" >&2
	echo "$4 did not start" >&2
	return 1
}

# Prints "taskset -c N" when taskset exists and the machine has CPU N, for commands to run pinned (a prefix
# rather than a function, so that $! of a background command is the command's own process id).
pin_cpu() {
	if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -gt "$1" ]; then
		echo "taskset -c $1"
	fi
}

# Moves the (single-threaded) process PID to CPU N; its children started before keep their affinity.
pin_pid() {
	if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -gt "$2" ]; then
		taskset -pc "$2" "$1" >/dev/null
	fi
}

# Makes the certificates once per run: RSA-2048, what Veeam's Windows SChannel uses.
make_certs() {
	etc/mkcerts.sh "$dir/certs" >/dev/null
}

# Starts kmipd on a free port with its store in $dir/NAME; extra arguments are more -o overrides, and so are
# the words of $KMIPD_OPTS (for instance KMIPD_OPTS="tls.session_tickets=false").
# Sets kmipd_pid and kmipd_port. The loop is pinned to CPU 0 after start-up, the key-generation workers
# (forked at start-up) are not.
start_kmipd() {
	run_kmipd "$@" || return 1
	pin_pid "$kmipd_pid" 0
}

# The same without pinning: the loop runs wherever the scheduler puts it.
run_kmipd() {
	_name=$1
	shift
	kmipd_port=$(free_port)
	_args=""
	for _o in "$@" ${KMIPD_OPTS:-}; do
		_args="$_args -o $_o"
	done
	# Encrypted, as in production, unless the options choose (store.encryption=false for the side by side).
	case "$*" in
	*store.encryption=false*|*store.master_key*) ;;
	*)
		[ -f "$dir/master.key" ] || (umask 077 && head -c 32 /dev/urandom >"$dir/master.key")
		_args="$_args -o store.master_key_file=$dir/master.key"
		;;
	esac
	# Every load client connects from 127.0.0.1: the per-source limits would measure themselves, so off.
	# shellcheck disable=SC2086
	"$build/kmipd" -f -o server.listen=127.0.0.1 -o server.port="$kmipd_port" -o store.path="$dir/$_name" \
		-o tls.cert_file="$dir/certs/server.crt" -o tls.key_file="$dir/certs/server.key" \
		-o tls.clients_ca_cert_file="$dir/certs/ca.crt" -o log.level=warn \
		-o server.max_connections_per_source=0 -o server.handshake_rate_per_source=0 $_args \
		2>"$dir/$_name.log" &
	kmipd_pid=$!
	wait_started "$kmipd_pid" "$kmipd_port" "$dir/$_name.log" kmipd
}

stop_kmipd() {
	if [ -n "${kmipd_pid:-}" ]; then
		kill "$kmipd_pid" 2>/dev/null
		wait "$kmipd_pid" 2>/dev/null
		kmipd_pid=
	fi
}

# Starts PyKMIP's server (test/bench/pykmip-server.py) in its own process group, pinned to CPU 0 like kmipd's
# loop. Sets pykmip_pid (also its group id) and pykmip_port.
start_pykmip() {
	pykmip_port=$(free_port)
	mkdir -p "$dir/pykmip"
	# shellcheck disable=SC2046
	$(pin_cpu 0) setsid "$PY" test/bench/pykmip-server.py --dir "$dir/pykmip" --certs "$dir/certs" \
		--port "$pykmip_port" >"$dir/pykmip/out" 2>&1 &
	pykmip_pid=$!
	wait_started "$pykmip_pid" "$pykmip_port" "$dir/pykmip/out" "PyKMIP's server"
}

# SIGINT ends PyKMIP's accept loop at once (SIGTERM waits for its socket timeout); then its group goes.
stop_pykmip() {
	if [ -n "${pykmip_pid:-}" ]; then
		kill -INT "$pykmip_pid" 2>/dev/null
		_i=0
		while kill -0 "$pykmip_pid" 2>/dev/null && [ "$_i" -lt 50 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		kill -KILL -- "-$pykmip_pid" 2>/dev/null
		wait "$pykmip_pid" 2>/dev/null
		pykmip_pid=
	fi
}

# Prints the value of KEY from a kmip-bench --format line output file.
field() {
	tr ' ' '\n' <"$2" | sed -n "s/^$1=//p"
}

# Prints the median, the least and the greatest value of one field over the kmip-bench --format line outputs
# in FILE, one run a line ("-" when there is none). The field "cpu" is the server's CPU time per measured
# operation in ms (server_cpu_s / ops). Usage: stats FIELD FILE
stats() {
	[ -s "$2" ] || { echo "- - -"; return; }
	awk -v f="$1" '{
		for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		if (f == "cpu") x[n++] = v["ops"] > 0 ? 1000 * v["server_cpu_s"] / v["ops"] : 0
		else x[n++] = v[f]
	} END {
		if (n == 0) { print "- - -"; exit }
		for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
		printf "%.4f %.4f %.4f\n", n % 2 ? x[(n - 1) / 2] : (x[n / 2 - 1] + x[n / 2]) / 2, x[0], x[n - 1]
	}' "$2"
}

# The median alone. Usage: median FIELD FILE
median() {
	stats "$1" "$2" | cut -d' ' -f1
}
