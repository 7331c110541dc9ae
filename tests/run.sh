#!/bin/sh
# Run the whole test suite and end with one summary line, "N passed, N failed,
# N skipped". Every test speaks TAP: the cmocka unit binaries (through
# CMOCKA_MESSAGE_OUTPUT=TAP) and the CLI scripts (through tests/cli/lib.sh).
# A test that skips says why and is counted as skipped, never as passed.
# Usage: tests/run.sh BUILD_DIR SHARED_DIR
set -u
BUILD=${1:-build}
SHARED=${2:-../shared}
# tests change directory: make the path absolute when it exists
[ -d "$SHARED" ] && SHARED=$(cd "$SHARED" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ALLIANCE="$ROOT/$BUILD/alliance"
export ALLIANCE SHARED ROOT BUILD
export CMOCKA_MESSAGE_OUTPUT=TAP
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pass=0 fail=0 skip=0 failed_names=""

run_one() { # name, command...
	name=$1; shift
	"$@" >"$log" 2>&1
	rc=$?
	p=$(grep -c '^ok ' "$log" | tr -d ' ')
	s=$(grep -c '^ok .*# *SKIP' "$log" | tr -d ' ')
	f=$(grep -c '^not ok ' "$log" | tr -d ' ')
	p=$((p - s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# crashed or failed outside any test: that is a failure too
		f=1
		echo "not ok - $name exited with status $rc" >>"$log"
	fi
	if [ "$p" -eq 0 ] && [ "$f" -eq 0 ] && [ "$s" -eq 0 ]; then
		f=1
		echo "not ok - $name ran no test" >>"$log"
	fi
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	if [ "$f" -gt 0 ]; then
		failed_names="$failed_names $name"
		echo "FAIL $name ($p passed, $f failed)"
		grep -v '^ok ' "$log" | head -60 | sed 's/^/    /'
	else
		if [ "$s" -gt 0 ]; then echo "ok   $name ($p passed, $s skipped)"; else echo "ok   $name ($p passed)"; fi
		grep '# *SKIP' "$log" | sed 's/^/    /'
	fi
}

for t in "$ROOT/$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	run_one "unit/$(basename "$t")" "$t"
done
for t in "$ROOT/$BUILD"/fuzz/replay_*; do
	[ -x "$t" ] || continue
	name=${t##*/replay_}
	extra=""
	[ "$name" = instrument ] && extra="$ROOT/instruments"
	run_one "fuzz/$name corpus" "$t" "$ROOT/fuzz/corpus/$name" $extra
done
for t in "$ROOT"/tests/cli/test_*.sh; do
	[ -f "$t" ] || continue
	run_one "cli/$(basename "$t" .sh)" sh "$t"
done
echo
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
