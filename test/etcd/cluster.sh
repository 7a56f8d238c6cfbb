#!/bin/sh
# An etcd cluster on loopback for tests (issue 19): N members (3 by default) on free ports, their data on
# tmpfs (/dev/shm), started with Debian's etcd (etc/install-deps.sh installs it) and checked healthy with
# etcdctl before the script returns.
#
#   test/etcd/cluster.sh start [-n N] [-s CERTDIR] [DIR] [-- ETCD_FLAGS...]
#       starts the members with their data and logs in DIR (made if missing; by default a new folder
#       /dev/shm/kmipd-etcd.XXXXXX), waits until `etcdctl endpoint health` passes on every member (30 s at
#       most), then prints two lines: DIR, and the client endpoints separated by commas
#       (http://127.0.0.1:PORT,...). ETCD_FLAGS go to every member (such as
#       --experimental-watch-progress-notify-interval=1s). On failure it prints the members' logs, stops
#       what it started and exits 1. With -s, clients speak TLS (https://127.0.0.1:PORT) and must show a
#       certificate signed by CERTDIR/ca.crt: the members use CERTDIR/server.crt and server.key (which needs
#       the clientAuth usage too: etcd's gateway presents it to etcd itself), etcdctl CERTDIR/client.crt
#       and client.key.
#   test/etcd/cluster.sh stop DIR       stops the members (TERM, KILL after 5 s) and removes DIR
#   test/etcd/cluster.sh kill DIR I     kill -9 member I (0-based), for fault tests; its data stays
#   test/etcd/cluster.sh restart DIR I  starts member I again with its data and the flags it had
#   test/etcd/cluster.sh endpoints DIR  prints the client endpoints again
#   test/etcd/cluster.sh health DIR     etcdctl endpoint health on every member; exits 1 unless all are
#
# DIR holds: endpoints (one line), etcdctl.args (with -s), member-I.pid, member-I.args, member-I.log and the
# data folders member-I.
set -eu

usage() {
	sed -n '2,27p' "$0" >&2
	exit 2
}

# Prints 2*N free TCP ports on 127.0.0.1, held all at once while they are picked so that none repeats.
free_ports() {
	python3 -c '
import socket, sys
socks = []
for _ in range(2 * int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
' "$1"
}

# Starts member $2 of cluster dir $1 from its saved arguments, in the background, its pid in member-I.pid.
start_member() {
	# shellcheck disable=SC2046
	(cd "$1" && exec etcd $(cat "$1/member-$2.args") >>"$1/member-$2.log" 2>&1) &
	echo $! >"$1/member-$2.pid"
}

# Exits 0 when every member of cluster dir $1 answers etcdctl endpoint health.
health() {
	# shellcheck disable=SC2046
	ETCDCTL_API=3 etcdctl --endpoints="$(cat "$1/endpoints")" --dial-timeout=2s --command-timeout=3s \
		$(cat "$1/etcdctl.args" 2>/dev/null) endpoint health >/dev/null 2>&1
}

# Stops every member of cluster dir $1: TERM, then KILL for any still there after 5 s.
stop_members() {
	for f in "$1"/member-*.pid; do
		[ -f "$f" ] || continue
		kill "$(cat "$f")" 2>/dev/null || true
	done
	i=0
	while [ $i -lt 50 ]; do
		alive=0
		for f in "$1"/member-*.pid; do
			[ -f "$f" ] || continue
			kill -0 "$(cat "$f")" 2>/dev/null && alive=1
		done
		[ $alive -eq 0 ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	for f in "$1"/member-*.pid; do
		[ -f "$f" ] || continue
		kill -9 "$(cat "$f")" 2>/dev/null || true
	done
}

cmd=${1:-}
[ -n "$cmd" ] || usage
shift
case "$cmd" in
start)
	n=3
	dir=""
	certs=""
	while [ $# -gt 0 ]; do
		case "$1" in
		-n) n=$2; shift 2 ;;
		-s) certs=$(cd "$2" && pwd); shift 2 ;;
		--) shift; break ;;
		-*) usage ;;
		*) dir=$1; shift ;;
		esac
	done
	case "$n" in '' | *[!0-9]*) usage ;; esac
	[ "$n" -ge 1 ] && [ "$n" -le 9 ] || usage
	command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
		{ echo "cluster.sh: etcd and etcdctl are missing (etc/install-deps.sh installs them)" >&2; exit 1; }
	if [ -z "$dir" ]; then
		dir=$(mktemp -d /dev/shm/kmipd-etcd.XXXXXX)
	else
		mkdir -p "$dir"
	fi
	dir=$(cd "$dir" && pwd)
	scheme=http
	tlsflags=""
	if [ -n "$certs" ]; then
		scheme=https
		tlsflags="--cert-file $certs/server.crt --key-file $certs/server.key --trusted-ca-file $certs/ca.crt"
		tlsflags="$tlsflags --client-cert-auth"
		echo "--cacert $certs/ca.crt --cert $certs/client.crt --key $certs/client.key" >"$dir/etcdctl.args"
	fi
	set -- $(free_ports "$n") "$@"
	cluster=""
	clients=""
	i=0
	while [ $i -lt "$n" ]; do
		eval "c$i=\$1 p$i=\$2"
		cluster="${cluster:+$cluster,}m$i=http://127.0.0.1:$2"
		clients="${clients:+$clients,}$scheme://127.0.0.1:$1"
		shift 2
		i=$((i + 1))
	done
	echo "$clients" >"$dir/endpoints"
	i=0
	while [ $i -lt "$n" ]; do
		eval "c=\$c$i p=\$p$i"
		# One line of arguments per member (no spaces inside any), reused by restart.
		echo "--name m$i --data-dir $dir/member-$i --listen-client-urls $scheme://127.0.0.1:$c" \
			"--advertise-client-urls $scheme://127.0.0.1:$c --listen-peer-urls http://127.0.0.1:$p $tlsflags" \
			"--initial-advertise-peer-urls http://127.0.0.1:$p --initial-cluster $cluster" \
			"--initial-cluster-token kmipd-test-$$ --initial-cluster-state new $*" >"$dir/member-$i.args"
		start_member "$dir" $i
		i=$((i + 1))
	done
	i=0
	until health "$dir"; do
		i=$((i + 1))
		if [ $i -ge 100 ]; then
			echo "cluster.sh: the cluster in $dir is not healthy after 30 s; its logs:" >&2
			tail -n 20 "$dir"/member-*.log >&2 || true
			stop_members "$dir"
			rm -rf "$dir"
			exit 1
		fi
		sleep 0.3
	done
	echo "$dir"
	echo "$clients"
	;;
stop)
	[ $# -eq 1 ] && [ -f "$1/endpoints" ] || usage
	stop_members "$1"
	rm -rf "$1"
	;;
kill)
	[ $# -eq 2 ] && [ -f "$1/member-$2.pid" ] || usage
	kill -9 "$(cat "$1/member-$2.pid")" 2>/dev/null || true
	;;
restart)
	[ $# -eq 2 ] && [ -f "$1/member-$2.args" ] || usage
	sed -i 's/--initial-cluster-state new/--initial-cluster-state existing/' "$1/member-$2.args"
	start_member "$1" "$2"
	;;
endpoints)
	[ $# -eq 1 ] && [ -f "$1/endpoints" ] || usage
	cat "$1/endpoints"
	;;
health)
	[ $# -eq 1 ] && [ -f "$1/endpoints" ] || usage
	health "$1"
	;;
*)
	usage
	;;
esac
