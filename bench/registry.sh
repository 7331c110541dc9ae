#!/bin/sh
# registry.sh: the registry report benchmark (docs/BENCHMARKS.md). Runs
# `alliance report` and the DuckDB reference (and pandas with --with-pandas)
# side by side on the same generated registry, checks that the reports
# agree (shared/bench/compare_reports.py), and prints wall time, peak
# memory (/usr/bin/time) and the ratios.
#
# usage: bench/registry.sh [--clients N] [--seed S] [--runs R] [--threads T]
#                          [--with-pandas]
# The registry is generated once into bench/data/ (gitignored); DuckDB
# (@duckdb/node-api 1.5.6-r.1) is installed once into
# ${XDG_CACHE_HOME:-~/.cache}/alliance-bench. Each program runs R times
# (alternating, from the page cache); the best wall time and the largest
# peak memory are reported.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$(cd "$ROOT/.." && pwd)/shared}
clients=100000 seed=7 runs=1 pandas=0 threads=""
usage() { sed -n '8,9p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case $1 in
	--clients) clients=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--threads) threads=$2; shift 2 ;;
	--with-pandas) pandas=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
[ -f "$SHARED/bench/gen_registry.py" ] || { echo "registry.sh: $SHARED/bench is missing" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "registry.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

data="$ROOT/bench/data/reg-$clients-$seed"
file="$data/registry_items.csv"
if [ ! -f "$file" ]; then
	echo "generating $clients clients, seed $seed, into $data ..." >&2
	python3 "$SHARED/bench/gen_registry.py" --clients "$clients" --seed "$seed" --out "$data.tmp"
	rm -rf "$data" && mv "$data.tmp" "$data"
fi
make -C "$ROOT" --no-print-directory -s build/alliance
cache="${XDG_CACHE_HOME:-$HOME/.cache}/alliance-bench"
if [ ! -d "$cache/node_modules/@duckdb/node-api" ]; then
	echo "installing @duckdb/node-api@1.5.6-r.1 into $cache ..." >&2
	mkdir -p "$cache"
	(cd "$cache" && npm install --silent --no-save @duckdb/node-api@1.5.6-r.1 >&2)
fi
out="$ROOT/bench/out"
rm -rf "$out"
mkdir -p "$out"

# measure NAME CMD...: run once, append "wall kb" to $out/NAME.times
measure() {
	name=$1
	shift
	if ! /usr/bin/time -f "%e %M" -o "$out/$name.t" "$@" >"$out/$name.log" 2>&1; then
		echo "registry.sh: $name failed:" >&2
		cat "$out/$name.log" >&2
		exit 1
	fi
	tail -1 "$out/$name.t" >>"$out/$name.times"
}
# best NAME: "best_wall max_mb"
best() { awk '{ if (w == "" || $1 < w) w = $1; if ($2 > m) m = $2 } END { printf "%s %.0f\n", w, m / 1024 }' "$out/$1.times"; }

cat "$file" >/dev/null # into the page cache: every program reads from it
measure cat sh -c "cat \"\$1\" >/dev/null" cat "$file"
jt=""
[ -n "$threads" ] && jt="--threads $threads"
i=0
while [ "$i" -lt "$runs" ]; do
	# shellcheck disable=SC2086
	measure alliance "$ROOT/build/alliance" report "$file" --out "$out/alliance" -q $jt
	measure duckdb env NODE_PATH="$cache/node_modules" node "$SHARED/bench/baseline_duckdb.mjs" \
		"$file" "$out/duckdb" $threads
	i=$((i + 1))
done
[ "$pandas" = 1 ] && measure pandas /usr/bin/python3 "$SHARED/bench/baseline_pandas.py" "$file" "$out/pandas"

agree=$(python3 "$SHARED/bench/compare_reports.py" "$out/duckdb" "$out/alliance" | tail -1)
[ "$pandas" = 1 ] && agree="$agree (duckdb); $(python3 "$SHARED/bench/compare_reports.py" "$out/pandas" "$out/alliance" | tail -1) (pandas)"

set -- $(best alliance)
aw=$1 am=$2
set -- $(best duckdb)
dw=$1 dm=$2
set -- $(best cat)
cw=$1
rows=$(($(wc -l <"$file") - 1))
mb=$(($(wc -c <"$file") / 1000000))
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
cores=$(nproc)
mem=$(free -g | awk '/^Mem:/ { print $2 }')
echo "machine:  $cpu, $cores cores, $mem GiB"
echo "registry: $clients clients, seed $seed, $rows rows, $mb MB ($runs run(s), best wall, peak RSS)"
printf '%-10s %8s s %7s MB\n' "cat" "$cw" "-"
printf '%-10s %8s s %7s MB\n' "alliance" "$aw" "$am"
printf '%-10s %8s s %7s MB\n' "duckdb" "$dw" "$dm"
if [ "$pandas" = 1 ]; then
	set -- $(best pandas)
	printf '%-10s %8s s %7s MB\n' "pandas" "$1" "$2"
fi
awk -v aw="$aw" -v dw="$dw" -v am="$am" -v dm="$dm" -v cw="$cw" 'BEGIN {
	printf "alliance / duckdb: wall %.3f (target <= 0.25), memory %.3f (limit 400 MB)\n", aw / dw, am / dm
	if (cw > 0) printf "alliance / cat: %.1f times the time to read the file once\n", aw / cw }'
echo "reports: $agree"
case $agree in *differences*) exit 1 ;; esac
