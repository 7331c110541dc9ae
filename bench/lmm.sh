#!/bin/sh
# bench/lmm.sh: alliance lmm against lme4 on the PHQ-9 growth model of a
# synthetic registry, side by side in one run.
#   bench/lmm.sh [CLIENTS] [--no-r]      (default 100000 clients)
# Generates the registry under bench/data/ when missing (gen_registry.py
# from ../shared), keeps the PHQ-9 rows, then fits
#   score ~ log(session) + (log(session) | client_id)
# with lme4 (shared/bench/baseline_lme4.R: its own fit time) and with the
# whole `alliance lmm` process, each under /usr/bin/time -v for peak RSS,
# compares the estimates and prints the time ratio. Not part of `make test`.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
CLIENTS=${1:-100000}
RUN_R=1
[ "${2:-}" = "--no-r" ] && RUN_R=0
command -v Rscript >/dev/null 2>&1 || RUN_R=0
FORMULA='score ~ log(session) + (log(session) | client_id)'
DATA="$ROOT/bench/data"
OUT="$ROOT/bench/out"
mkdir -p "$DATA" "$OUT"
REG="$DATA/reg_$CLIENTS"
PHQ="$DATA/phq9_$CLIENTS.csv"
if [ ! -f "$PHQ" ]; then
	echo "generating $CLIENTS clients (seed 7) ..." >&2
	python3 "$SHARED/bench/gen_registry.py" --clients "$CLIENTS" --seed 7 --out "$REG" --format scores >&2
	awk -F, 'NR==1 || $6=="phq9"' "$REG/registry_scores.csv" >"$PHQ"
	rm -rf "$REG" # only the PHQ-9 rows are needed
fi
[ -x "$ROOT/build/alliance" ] || make -C "$ROOT" -s all
rows=$(($(wc -l <"$PHQ") - 1))
echo "data: $PHQ ($rows rows, $CLIENTS clients)"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"

peak() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }
wall() { sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$1" |
	awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }'; }

/usr/bin/time -v "$ROOT/build/alliance" lmm "$FORMULA" "$PHQ" --json >"$OUT/alliance.json" 2>"$OUT/alliance.time"
a_secs=$(wall "$OUT/alliance.time")
a_rss=$(peak "$OUT/alliance.time")
echo "alliance lmm: ${a_secs} s for the whole process, peak RSS $((a_rss / 1024)) MB"
if [ "$RUN_R" -eq 1 ]; then
	/usr/bin/time -v Rscript "$SHARED/bench/baseline_lme4.R" "$PHQ" "$FORMULA" >"$OUT/lme4.json" 2>"$OUT/lme4.time"
	r_rss=$(peak "$OUT/lme4.time")
	r_wall=$(wall "$OUT/lme4.time")
	python3 - "$OUT/lme4.json" "$OUT/alliance.json" "$a_secs" "$r_rss" "$a_rss" "$r_wall" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); a = json.load(open(sys.argv[2]))
asecs, rrss, arss, rwall = float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
print("lme4: %.2f s fit (%.1f s for the Rscript process), peak RSS %d MB, %s"
      % (r["seconds"], rwall, rrss // 1024,
         "converged" if r["converged_without_warning"] else "with a convergence warning"))
print("alliance: %s (max|scaled grad| %.2g)" % (a["convergence"], a["max_grad"]))
print("criterion: alliance %.6f, lme4 %.6f (alliance - lme4 = %.3g)"
      % (a["criterion"], r["criterion"], a["criterion"] - r["criterion"]))
for key in ("fixef", "se", "sdcor"):
    worst = max(abs(a[key][k] - v) / max(abs(v), 1e-12) for k, v in r[key].items())
    print("%-6s largest relative difference %.2g" % (key, worst))
print("speed: alliance (whole process) takes %.3f of lme4's fit time: %.1fx faster"
      % (asecs / r["seconds"], r["seconds"] / asecs))
PY
else
	python3 -c "
import json,sys; a=json.load(open('$OUT/alliance.json'))
print('alliance: criterion %.6f, %s' % (a['criterion'], a['convergence']))"
fi
