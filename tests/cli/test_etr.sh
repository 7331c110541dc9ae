# test_etr.sh: `alliance etr fit` and `check` on a generated registry
# (shared/bench/gen_registry.py); skipped when shared/ is absent.
. "$ROOT/tests/cli/lib.sh"
D="$ROOT/tests/data/lmm"
if ! need_shared; then
	skip "etr on a generated registry" "no $SHARED/bench/gen_registry.py"
	exit 0
fi
python3 "$SHARED/bench/gen_registry.py" --clients 400 --seed 3 --out "$TMP/reg" --format scores >/dev/null 2>&1
S="$TMP/reg/registry_scores.csv"
check "etr fit runs" "$ALLIANCE" etr fit "$S" --instrument phq9 -o "$TMP/m.json"
if r=$(python3 - "$TMP/m.json" "$D/etr_phq9_c400_s3.json" "$S" <<'PY'
import hashlib, json, sys
m = json.load(open(sys.argv[1]))
for k in ("fixef", "vcov", "re_cov", "sdcor", "sigma", "percentiles", "instrument", "reference", "intake"):
    assert k in m, "missing " + k
assert m["instrument"] == "phq9" and m["percentiles"] == [10, 90], m["percentiles"]
assert "Finch" in m["reference"]
g = json.load(open(sys.argv[2]))
if hashlib.md5(open(sys.argv[3], "rb").read()).hexdigest() == g["md5"]:
    for k, v in g["fixef"].items():
        assert abs(m["fixef"][k] - v) <= 1e-5 * abs(v), (k, m["fixef"][k], v)
    assert abs(m["sigma"] - g["sigma"]) <= 1e-4 * g["sigma"]
    print("matched lme4")
else:
    print("generator output changed: lme4 comparison not made")
PY
); then ok "etr model JSON has its fields ($r)"; else notok "etr model JSON" "$r"; fi
check "etr check runs" "$ALLIANCE" etr check --model "$TMP/m.json" "$S" -o "$TMP/c.csv"
head=$(head -1 "$TMP/c.csv")
contains "etr check header" "$head" "client_id,session,observed,expected,lower,upper,status"
if r=$(python3 - "$TMP/c.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
st = {r["status"] for r in rows}
assert st == {"on track", "not on track"}, st
off = sum(r["status"] == "not on track" for r in rows) / len(rows)
# about 10% of scores lie above the 90th percentile of the band
assert 0.03 < off < 0.2, off
for r in rows:
    lo, mu, hi, y = float(r["lower"]), float(r["expected"]), float(r["upper"]), float(r["observed"])
    assert lo < mu < hi
    assert (r["status"] == "not on track") == (y > hi), r
print("%.3f off track" % off)
PY
); then ok "etr check statuses follow the band ($r)"; else notok "etr check statuses" "$r"; fi
out=$("$ALLIANCE" etr check --model "$TMP/m.json" "$S" --client C0000002)
n=$(printf '%s\n' "$out" | grep -c '^C0000002,')
total=$(printf '%s\n' "$out" | grep -vc '^client_id')
[ "$n" -gt 0 ] && [ "$n" -eq "$total" ] && ok "etr check --client keeps one client" || notok "etr check --client" "$out"
check "etr fit with --percentiles" "$ALLIANCE" etr fit "$S" --instrument phq9 --percentiles 5,95 -o "$TMP/m2.json"
contains "percentiles stored" "$(cat "$TMP/m2.json")" "95"
fails "unknown instrument fails" "$ALLIANCE" etr fit "$S" --instrument nope -o "$TMP/x.json"
contains "unknown instrument says so" "$out" "no scores for instrument nope"
fails "unknown client fails" "$ALLIANCE" etr check --model "$TMP/m.json" "$S" --client ZZZ
contains "unknown client is named" "$out" "client ZZZ"
echo '{"instrument": "phq9"}' >"$TMP/bad.json"
fails "bad model fails" "$ALLIANCE" etr check --model "$TMP/bad.json" "$S"
contains "bad model names the field" "$out" "fixef"
fails "bad percentiles fail" "$ALLIANCE" etr fit "$S" --instrument phq9 --percentiles 90,10 -o "$TMP/y.json"
"$ALLIANCE" etr >/dev/null 2>&1
[ $? -eq 2 ] && ok "etr without a subcommand is a usage error" || notok "etr usage"
check "etr --help" "$ALLIANCE" etr --help
printf 'client_id,therapist_id,session,date,modality,instrument,score\nA,T,1,d,m,phq9,x\n' >"$TMP/bad.csv"
fails "bad score fails" "$ALLIANCE" etr fit "$TMP/bad.csv" --instrument phq9 -o "$TMP/z.json"
contains "bad score has FILE:LINE: column" "$out" "bad.csv:2: column score"

# the growth model and a crossed therapist term on the same registry
awk -F, 'NR==1 || $6=="phq9"' "$S" >"$TMP/phq9.csv"
if r=$("$ALLIANCE" lmm 'score ~ log(session) + (1 | therapist_id) + (log(session) | client_id)' \
	"$TMP/phq9.csv" --json 2>&1) && printf '%s' "$r" | python3 -c '
import json, sys
m = json.load(sys.stdin)
assert m["converged"], m["convergence"]
assert m["fixef"]["log(session)"] < 0, m["fixef"]
assert set(m["ngroups"]) == {"client_id", "therapist_id"}, m["ngroups"]
assert list(m["ngroups"])[0] == "client_id"  # most levels first, as lme4
'; then ok "crossed growth model converges on a registry"; else notok "crossed growth model" "$r"; fi
