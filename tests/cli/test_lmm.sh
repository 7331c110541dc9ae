# test_lmm.sh: `alliance lmm` against lme4 on the classic data sets, and its
# error messages. The golden JSON comes from tests/data/lmm/regen.R (R is
# not needed here): the criterion must be no higher than lme4's default fit
# (1e-7 relative), and the estimates must match lme4 driven to convergence.
. "$ROOT/tests/cli/lib.sh"
D="$ROOT/tests/data/lmm"
CMP="$ROOT/tests/cli/lmm_compare.py"
tab=$(printf '\t')
while IFS="$tab" read -r name csv method form; do
	flag=""
	[ "$method" = ML ] && flag=--ml
	if ! "$ALLIANCE" lmm "$form" "$D/$csv" $flag --json >"$TMP/$name.json" 2>"$TMP/err"; then
		notok "lmm $name runs" "$(cat "$TMP/err")"
		continue
	fi
	if r=$(python3 "$CMP" --criterion "$D/$name.json" "$TMP/$name.json"); then
		ok "lmm $name: criterion no higher than lme4's"
	else
		notok "lmm $name: criterion no higher than lme4's" "$r"
	fi
	if r=$(python3 "$CMP" "$D/${name}_tight.json" "$TMP/$name.json"); then
		ok "lmm $name: estimates match lme4"
	else
		notok "lmm $name: estimates match lme4" "$r"
	fi
done <"$D/fits.tsv"

# conditional modes (BLUPs) against ranef() of lme4
check "lmm --ranef writes BLUPs" "$ALLIANCE" lmm 'Reaction ~ Days + (Days | Subject)' \
	"$D/sleepstudy.csv" --ranef "$TMP/re.csv"
if r=$(python3 - "$D/sleepstudy_reml_ranef.csv" "$TMP/re.csv" <<'PY'
import csv, sys
gold = {}
for row in csv.DictReader(open(sys.argv[1])):
    gold[(row["level"], "(Intercept)")] = float(row["(Intercept)"])
    gold[(row["level"], "Days")] = float(row["Days"])
ours = {(r["level"], r["term"]): float(r["estimate"]) for r in csv.DictReader(open(sys.argv[2]))}
assert set(gold) == set(ours), "levels differ"
scale = max(abs(v) for v in gold.values())
bad = [k for k in gold if abs(gold[k] - ours[k]) > 1e-4 * scale]
print(bad)
sys.exit(1 if bad else 0)
PY
); then ok "BLUPs match lme4's ranef within 1e-4 of their scale"; else notok "BLUPs match lme4's ranef" "$r"; fi

out=$("$ALLIANCE" lmm 'Reaction ~ Days + (Days | Subject)' "$D/sleepstudy.csv")
contains "summary names the fit" "$out" "Linear mixed model fit by REML"
contains "summary has the REML criterion" "$out" "REML criterion at convergence: 1743.6"
contains "summary has fixed effects" "$out" "Fixed effects:"
contains "summary counts groups" "$out" "Subject, 18"
contains "summary has lme4's scaled residuals" "$out" "-3.9536   -0.4634    0.0231    0.4634    5.1793"
contains "summary has the fixed-effect correlation" "$out" "-0.138"
contains "the correlation header abbreviates the intercept as R does" "$out" "(Intr)"
out=$("$ALLIANCE" lmm 'Reaction ~ Days + (Days | Subject)' "$D/sleepstudy.csv" --ml)
contains "ML summary has logLik" "$out" "logLik"

# errors: a caret under the formula, clear messages, exit status 1 or 2
fails "formula error fails" "$ALLIANCE" lmm 'Reaction ~ Days + (Days | )' "$D/sleepstudy.csv"
contains "formula error has a caret" "$out" "^"
contains "formula error says what" "$out" "expected a grouping column"
fails "unknown column fails" "$ALLIANCE" lmm 'Reaction ~ Dayz + (1 | Subject)' "$D/sleepstudy.csv"
contains "unknown column is named" "$out" "no column Dayz"
fails "no random term fails" "$ALLIANCE" lmm 'Reaction ~ Days' "$D/sleepstudy.csv"
contains "no random term says so" "$out" "random-effect term"
printf 'y,x,c,g\n1,1,5,a\n2,2,5,a\n3,3,5,b\n5,4,5,b\n4,5,5,c\n6,6,5,c\n' >"$TMP/const.csv"
fails "constant column fails" "$ALLIANCE" lmm 'y ~ x + c + (1 | g)' "$TMP/const.csv"
contains "constant column is named" "$out" "column c is constant"
printf 'y,x,z,g\n1,1,2,a\n2,2,4,a\n3,3,6,b\n5,4,8,b\n4,5,10,c\n6,6,12,c\n' >"$TMP/rank.csv"
fails "rank-deficient design fails" "$ALLIANCE" lmm 'y ~ x + z + (1 | g)' "$TMP/rank.csv"
contains "rank deficiency is named" "$out" "rank deficient: column z"
printf 'y,x,g\n1,1,a\n2,2,a\n3,3,a\n' >"$TMP/one.csv"
fails "one-level group fails" "$ALLIANCE" lmm 'y ~ x + (1 | g)' "$TMP/one.csv"
contains "one-level group says so" "$out" "only one level"
printf 'y,x,g\n1,1,a\n2,oops,a\n3,3,b\n' >"$TMP/bad.csv"
fails "bad number fails" "$ALLIANCE" lmm 'y ~ x + (1 | g)' "$TMP/bad.csv"
contains "bad number has FILE:LINE: column" "$out" "bad.csv:3: column x: not a number (got \"oops\")"
printf 'y,t,g\n1,1,a\n2,0,a\n3,3,b\n4,2,b\n' >"$TMP/log0.csv"
fails "log of zero fails" "$ALLIANCE" lmm 'y ~ log(t) + (1 | g)' "$TMP/log0.csv"
contains "log of zero has FILE:LINE" "$out" "log0.csv:3: column t: log(t) is undefined (got \"0\")"
fails "missing file fails" "$ALLIANCE" lmm 'y ~ 1 + (1 | g)' "$TMP/nonexistent.csv"
"$ALLIANCE" lmm >/dev/null 2>&1
[ $? -eq 2 ] && ok "no arguments is a usage error" || notok "no arguments is a usage error"
check "lmm --help" "$ALLIANCE" lmm --help

# predictions with intervals for new data (the response column may be absent)
printf 'Days,Subject\n0,308\n0,new\n' >"$TMP/nd.csv"
check "lmm --predict runs" "$ALLIANCE" lmm 'Reaction ~ Days + (Days | Subject)' "$D/sleepstudy.csv" \
	--predict "$TMP/nd.csv" -o "$TMP/pred.csv"
if r=$(python3 - "$TMP/pred.csv" "$TMP/$name.json" "$TMP/sleepstudy_reml.json" "$D/sleepstudy_reml_ranef.csv" <<'PY'
import csv, json, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
m = json.load(open(sys.argv[3]))
b0 = m["fixef"]["(Intercept)"]
blup = [float(r["(Intercept)"]) for r in csv.DictReader(open(sys.argv[4])) if r["level"] == "308"][0]
known, new = rows
assert known["line"] == "2" and new["line"] == "3"
assert abs(float(known["fit"]) - (b0 + blup)) < 1e-3 * abs(b0), (known, b0 + blup)
assert abs(float(new["fit"]) - b0) < 1e-9 * abs(b0)
sd = (float(new["upper"]) - float(new["fit"])) / 1.959963984540054
v = m["se"]["(Intercept)"] ** 2 + m["sdcor"]["Subject/(Intercept)"] ** 2 + m["sigma"] ** 2
assert abs(sd - math.sqrt(v)) < 1e-6 * sd, (sd, math.sqrt(v))
assert float(known["upper"]) - float(known["lower"]) < float(new["upper"]) - float(new["lower"])
PY
); then ok "predictions: conditional for a known subject, population band for a new one"; else notok "predictions" "$r"; fi
fails "unknown column in --predict data fails" "$ALLIANCE" lmm 'Reaction ~ Days + (Days | Subject)' \
	"$D/sleepstudy.csv" --predict "$D/dyestuff.csv"
fails "unknown column points into the formula" "$ALLIANCE" lmm 'Reaction ~ Dayz + (1 | Subject)' "$D/sleepstudy.csv"
contains "caret under the unknown column" "$out" "$(printf '  Reaction ~ Dayz + (1 | Subject)\n             ^')"
