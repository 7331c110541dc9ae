#!/bin/sh
# import.sh: time 'alliance import' of the 100,000-client registry into a
# fresh SQLite database (docs/BENCHMARKS.md, "## Import"). Not a test: it
# takes about a minute and 2.5 GB of disk. The registry is generated once
# into $WORK (default /tmp/alliance-bench) and reused.
# Usage: bench/import.sh [CLIENTS] [SEED]     (defaults 100000 7)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
WORK=${WORK:-/tmp/alliance-bench}
CLIENTS=${1:-100000}
SEED=${2:-7}
reg="$WORK/reg-$CLIENTS-$SEED/registry_items.csv"
db="$WORK/import-$CLIENTS.db"
mkdir -p "$WORK"
[ -x "$ROOT/build/alliance" ] || make -C "$ROOT" --no-print-directory >/dev/null
if [ ! -f "$reg" ]; then
	echo "generating $CLIENTS clients (seed $SEED) into $(dirname "$reg")" >&2
	python3 "$SHARED/bench/gen_registry.py" --clients "$CLIENTS" --seed "$SEED" \
		--out "$(dirname "$reg")" >&2
fi
rm -f "$db" "$db-wal" "$db-shm" "$db.key"
"$ROOT/build/alliance" init --db "$db" -q
cat "$reg" >/dev/null # warm the page cache, as the reference runs do
timer=""
[ -x /usr/bin/time ] && timer="/usr/bin/time -f %e_s_wall_%M_KB_peak"
echo "importing $(wc -l <"$reg") lines ($(du -hL "$reg" | cut -f1)) into $db" >&2
$timer "$ROOT/build/alliance" import "$reg" --db "$db"
echo "database: $(du -h "$db" | cut -f1)" >&2
# the same file again: every administration is found, nothing changes
$timer "$ROOT/build/alliance" import "$reg" --db "$db" -q
