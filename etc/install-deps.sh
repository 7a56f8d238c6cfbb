#!/bin/sh
# Installs the Debian packages kmipd needs to build, test and run, if any is missing (prometheus: its
# promtool checks the /metrics exposition in test_status, as operators' Prometheus would read it; etcd-server
# and etcd-client: the etcd that test_jstream and test/etcd/cluster.sh start, and etcdctl to check its health).
# Runs apt-get as root, or through sudo when it needs no password; otherwise says what to install.
set -eu

PKGS="build-essential pkg-config clang libclang-rt-14-dev libssl-dev openssl libevent-dev libconfig-dev \
liblmdb-dev lmdb-utils libcmocka-dev python3 python3-pykmip valgrind softhsm2 libp11-kit-dev dpkg-dev debhelper prometheus \
etcd-server etcd-client"

missing=""
for p in $PKGS; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then
	SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	SUDO="sudo -n"
else
	echo "install-deps: these Debian packages are missing:$missing" >&2
	echo "install-deps: run as root: apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
