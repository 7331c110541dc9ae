# lib.sh: TAP helpers for the CLI tests (sourced). Each check prints
# "ok N - name" or "not ok N - name" with the reason; skip prints a SKIP line.
# $ALLIANCE is the binary under test, $SHARED the shared/ folder, $ROOT the repo.
set -u
n=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
# check NAME CMD...: the command must exit 0
check() { name=$1; shift; if out=$("$@" 2>&1); then ok "$name"; else notok "$name" "command failed: $*" "$out"; fi; }
# fails NAME CMD...: the command must exit non-zero (output kept in $out)
fails() { name=$1; shift; if out=$("$@" 2>&1); then notok "$name" "expected failure: $*" "$out"; else ok "$name"; fi; }
# contains NAME TEXT NEEDLE: TEXT must contain NEEDLE
contains() { case "$2" in *"$3"*) ok "$1" ;; *) notok "$1" "expected to find: $3" "in: $2" ;; esac; }
need_shared() { [ -f "$SHARED/bench/gen_registry.py" ]; }
