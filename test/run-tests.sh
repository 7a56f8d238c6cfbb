#!/bin/sh
# Runs every test binary under BUILD/test (cmocka unit tests and integration tests), then prints one
# closing line "N passed, N failed" counting test cases. Usage: test/run-tests.sh BUILD [VECTORS] [FILTER]
# FILTER runs only the binaries whose name contains it, or, given as several space-separated names, only
# those binaries (make test-vectors).
set -u
build=${1:-build}
export KMIP_VECTORS="${2:-../shared/kmip-vectors}"
filter=${3:-}
export KMIPD_BIN="$build/kmipd" KMIPCTL_BIN="$build/kmipctl"
passed=0
failed=0
bad=""
for t in "$build"/test/test_*; do
	[ -x "$t" ] || continue
	case "$filter" in
	*" "*) case " $filter " in *" $(basename "$t") "*) ;; *) continue ;; esac ;;
	*) case "$t" in *"$filter"*) ;; *) continue ;; esac ;;
	esac
	out=$(mktemp)
	"$t" >"$out" 2>&1
	rc=$?
	cat "$out"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
	rm -f "$out"
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1	# crashed or failed outside a test case
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$rc" -eq 0 ] || bad="$bad $(basename "$t")"
done
[ -z "$bad" ] || echo "failing binaries:$bad"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ -z "$bad" ]
