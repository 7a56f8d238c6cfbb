#!/bin/sh
# Installation and the Debian package, with cmocka's output lines (run by test/run-tests.sh):
#   install   make install DESTDIR=... PREFIX=/usr puts every file where it belongs, with its mode, and
#             make uninstall takes them away again but the configuration;
#   deb       dpkg-buildpackage (DEB_BUILD_OPTIONS=nocheck: the suite is what runs this) builds kmipd_*.deb
#             from a copy of the source alone, and the package holds the same files, a working kmipd and
#             the maintainer scripts.
# Environment: KMIPD_BIN (its folder is the build folder), KMIPD_SRCDIR (default ".").
# The cases are called by name (case_$c): shellcheck cannot see it.
# shellcheck disable=SC2317
set -u
src=${KMIPD_SRCDIR:-.}
bin=${KMIPD_BIN:-build/kmipd}
build=$(dirname "$bin")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kmipd-package.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=""
started=$(date +%s)

# What PREFIX=/usr SYSCONFDIR=/etc install puts where, with the mode of each file.
expected() {
	cat <<LIST
0640 etc/kmipd/kmipd.conf
0644 etc/logrotate.d/kmipd
0644 $1/kmipd.service
0644 usr/lib/sysusers.d/kmipd.conf
0644 usr/lib/tmpfiles.d/kmipd.conf
0755 usr/sbin/kmipctl
0755 usr/sbin/kmipd
0644 usr/share/kmipd/kmipctl.conf
0644 usr/share/kmipd/kmipd.conf
0755 usr/share/kmipd/mkcerts.sh
LIST
	for m in "$src"/etc/*.5 "$src"/etc/*.8; do
		echo "0644 usr/share/man/man${m##*.}/$(basename "$m")"
	done
}

fail() {
	echo "    $*"
	return 1
}

case_install() {
	root=$tmp/root
	make -s -C "$src" install BUILD="$(cd "$build" && pwd)" DESTDIR="$root" PREFIX=/usr >"$tmp/install.log" 2>&1 ||
		{ cat "$tmp/install.log"; fail "make install failed"; return 1; }
	(cd "$root" && find . -type f -printf '%m %P\n' | sed 's/^\([0-7][0-7][0-7]\) /0\1 /' | sort) >"$tmp/got"
	expected usr/lib/systemd/system | sort >"$tmp/want"
	diff -u "$tmp/want" "$tmp/got" || { fail "installed files differ (- expected, + installed)"; return 1; }
	grep -q '^ExecStart=/usr/sbin/kmipd -f -c /etc/kmipd/kmipd.conf$' "$root/usr/lib/systemd/system/kmipd.service" ||
		{ fail "the unit does not start /usr/sbin/kmipd"; return 1; }
	"$root/usr/sbin/kmipd" -V | grep -q '^kmipd ' || { fail "the installed kmipd does not run"; return 1; }
	# A second install keeps the operator's configuration.
	echo "# mine" >>"$root/etc/kmipd/kmipd.conf"
	make -s -C "$src" install BUILD="$(cd "$build" && pwd)" DESTDIR="$root" PREFIX=/usr >"$tmp/install.log" 2>&1 ||
		{ cat "$tmp/install.log"; fail "make install over an installation failed"; return 1; }
	tail -1 "$root/etc/kmipd/kmipd.conf" | grep -q '^# mine$' || { fail "install replaced kmipd.conf"; return 1; }
	[ -f "$root/etc/kmipd/kmipd.conf.sample" ] || { fail "no kmipd.conf.sample beside the kept file"; return 1; }
	make -s -C "$src" uninstall DESTDIR="$root" PREFIX=/usr >"$tmp/uninstall.log" 2>&1 ||
		{ cat "$tmp/uninstall.log"; fail "make uninstall failed"; return 1; }
	left=$(cd "$root" && find . -type f | sort | tr '\n' ' ')
	[ "$left" = "./etc/kmipd/kmipd.conf " ] || { fail "make uninstall left: $left"; return 1; }
	return 0
}

case_deb() {
	copy=$tmp/pkg/kmipd
	mkdir -p "$copy"
	# The source alone: no build folders, no state, no ../shared.
	(cd "$src" && tar --exclude=./build --exclude=./build-asan --exclude=./build-fuzz --exclude=./state \
		--exclude=./kmipd --exclude=./kmipctl --exclude=./.git -cf - .) | tar -C "$copy" -xf - ||
		{ fail "cannot copy the source"; return 1; }
	(cd "$copy" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) >"$tmp/deb.log" 2>&1 ||
		{ tail -30 "$tmp/deb.log"; fail "dpkg-buildpackage failed"; return 1; }
	deb=$(find "$tmp/pkg" -maxdepth 1 -name 'kmipd_*_*.deb' | head -1)
	[ -n "$deb" ] || { fail "no kmipd_*.deb made"; return 1; }
	echo "    $(basename "$deb"): $(du -k "$deb" | cut -f1) KiB"
	dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\.\//, "", $6); print $6 }' | grep -v '^usr/share/doc/' |
		sort >"$tmp/debfiles"
	# dh_compress gzips the man pages.
	expected lib/systemd/system | awk '{ print $2 }' | sed 's|^\(usr/share/man/.*\)$|\1.gz|' | sort >"$tmp/wantfiles"
	diff -u "$tmp/wantfiles" "$tmp/debfiles" || { fail "the package's files differ (- expected, + in the .deb)"; return 1; }
	dpkg-deb -f "$deb" Depends | grep -q 'libssl3' || { fail "Depends lacks the shared libraries"; return 1; }
	dpkg-deb -e "$deb" "$tmp/control" || { fail "no control part"; return 1; }
	for s in postinst postrm conffiles; do
		[ -f "$tmp/control/$s" ] || { fail "the package has no $s"; return 1; }
	done
	grep -q '^/etc/kmipd/kmipd.conf$' "$tmp/control/conffiles" || { fail "kmipd.conf is no conffile"; return 1; }
	sh -n "$tmp/control/postinst" || { fail "postinst does not parse"; return 1; }
	dpkg-deb -x "$deb" "$tmp/x" || { fail "cannot unpack the package"; return 1; }
	"$tmp/x/usr/sbin/kmipd" -V | grep -q '^kmipd ' || { fail "the packaged kmipd does not run"; return 1; }
	return 0
}

echo "[==========] Running 2 test(s)."
for c in install deb; do
	echo "[ RUN      ] $c"
	if "case_$c"; then
		echo "[       OK ] $c"
		passed=$((passed + 1))
	else
		echo "[  FAILED  ] $c"
		failed="$failed $c"
	fi
done
echo "[==========] 2 test(s) run in $(( $(date +%s) - started )) s."
echo "[  PASSED  ] $passed test(s)."
if [ -n "$failed" ]; then
	n=$(echo "$failed" | wc -w)
	echo "[  FAILED  ] $n test(s), listed below:"
	for c in $failed; do echo "[  FAILED  ] $c"; done
	exit 1
fi
exit 0
