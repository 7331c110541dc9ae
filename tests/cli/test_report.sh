# test_report.sh: `alliance report` against the pandas reference
# (shared/bench/baseline_pandas.py, compared with compare_reports.py) on
# generated registries of several seeds and sizes and their variants
# (shuffled, CRLF + BOM, every field quoted, quoted newlines across thread
# cuts, clients with one instrument or no valid score), and its errors
# (every --dirty row kind, duplicate items, conflicting rows, nothing
# written, --keep-going and rejects.csv, exit codes, --help).
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
GEN="$SHARED/bench/gen_registry.py"
CMP="$SHARED/bench/compare_reports.py"
PD="$SHARED/bench/baseline_pandas.py"
cd "$TMP" || exit 1

check "--help exits 0" "$ALLIANCE" report --help
contains "--help shows usage" "$out" "usage: alliance report REGISTRY.csv --out DIR"
fails "no arguments is a usage error" "$ALLIANCE" report
"$ALLIANCE" report >/dev/null 2>&1
[ $? -eq 2 ] && ok "usage error exits 2" || notok "usage error exits 2"
"$ALLIANCE" report some.csv >/dev/null 2>&1
[ $? -eq 2 ] && ok "--out is required (exit 2)" || notok "--out is required (exit 2)"
"$ALLIANCE" report some.csv --out o --threads 0 >/dev/null 2>&1
[ $? -eq 2 ] && ok "--threads 0 is a usage error" || notok "--threads 0 is a usage error"
fails "missing file fails" "$ALLIANCE" report nosuch.csv --out o
contains "missing file is named" "$out" "nosuch.csv"

if ! need_shared; then
	skip "reference comparisons" "shared/bench is missing"
	exit 0
fi
if ! $PY -c 'import pandas' 2>/dev/null; then
	skip "reference comparisons" "pandas is missing"
	have_pd=0
else
	have_pd=1
fi

# agree NAME FILE [alliance options]: the report of FILE equals pandas'
agree() {
	name=$1 file=$2
	shift 2
	rm -rf al pd
	if ! out=$("$ALLIANCE" report "$file" --out al -q "$@" 2>&1); then
		notok "$name" "alliance failed" "$out"
		return
	fi
	if ! out=$($PY "$PD" "$file" pd 2>&1); then
		notok "$name" "pandas failed" "$out"
		return
	fi
	if out=$(python3 "$CMP" pd al 2>&1); then ok "$name"; else notok "$name" "$out"; fi
}

# seeds and sizes, one thread and several (the cuts land mid-client)
for spec in "1 300" "2 1000" "3 2500"; do
	set -- $spec
	python3 "$GEN" --clients "$2" --seed "$1" --out "g$1" 2>/dev/null
	if [ "$have_pd" = 1 ]; then
		agree "seed $1, $2 clients: agrees with pandas" "g$1/registry_items.csv"
		agree "seed $1, $2 clients, 3 threads: agrees" "g$1/registry_items.csv" --threads 3
	fi
done
F=g2/registry_items.csv

# variants of one registry, written by python with fixed seeds
python3 - "$F" <<'EOF'
import csv, random, sys
src = sys.argv[1]
lines = open(src, newline="").read().split("\n")
hdr, body = lines[0], [l for l in lines[1:] if l]
rows = list(csv.reader(open(src, newline="")))

sh = body[:]
random.Random(11).shuffle(sh)
open("shuffled.csv", "w", newline="").write(hdr + "\n" + "\n".join(sh) + "\n")
open("crlf_bom.csv", "w", newline="", encoding="utf-8").write(
    "\ufeff" + hdr + "\r\n" + "\r\n".join(body) + "\r\n")
with open("quoted.csv", "w", newline="") as f:
    csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
# an extra column with newlines inside quotes, on every 7th row, shuffled
# too: some thread cuts land inside a quoted field and must be caught
with open("notes.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(rows[0] + ["note"])
    rest = rows[1:]
    random.Random(5).shuffle(rest)
    for i, r in enumerate(rest):
        w.writerow(r + ["line one\nline, two\n\"three\"" if i % 7 == 0 else ""])
# the columns in another order
order = [7, 3, 0, 6, 5, 1, 4, 2]
with open("reordered.csv", "w", newline="") as f:
    csv.writer(f, lineterminator="\n").writerows([[r[i] for i in order] for r in rows])
# rows of another loaded instrument (gad2) among them
with open("other.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(rows[0])
    for i, r in enumerate(rows[1:]):
        w.writerow(r)
        if r[5] == "gad7" and r[6] in ("1", "2") and i % 3 == 0:
            w.writerow(r[:5] + ["gad2"] + r[6:])
# clients with one instrument only, and clients with no valid score at all
out = [rows[0]]
for r in rows[1:]:
    n = int(r[0][1:])
    if n % 5 == 0 and r[5] != "phq9":
        continue                       # phq9 only
    if n % 5 == 1 and r[5] != "wai_sr":
        continue                       # wai_sr only
    if n % 5 == 2:
        r = r[:7] + [""]               # everything skipped: nothing valid
    if n % 5 == 3 and r[5] == "gad7" and int(r[6]) <= 2:
        r = r[:7] + [""]               # gad7 always two skips: invalid
    out.append(r)
with open("partial.csv", "w", newline="") as f:
    csv.writer(f, lineterminator="\n").writerows(out)
EOF
if [ "$have_pd" = 1 ]; then
	agree "shuffled rows agree" shuffled.csv
	agree "shuffled rows, 2 threads, agree" shuffled.csv --threads 2
	agree "CRLF and a BOM agree" crlf_bom.csv --threads 2
	agree "every field quoted agrees" quoted.csv --threads 3
	for j in 2 3 5 7; do
		agree "quoted newlines across $j thread cuts agree" notes.csv --threads $j
	done
	agree "one instrument or no valid score agree" partial.csv --threads 2
	agree "columns in another order agree" reordered.csv --threads 2
fi
# other instruments: checked, left out of the report, counted
if [ "$have_pd" = 1 ]; then
	grep -v ',gad2,' other.csv >other_clean.csv
	rm -rf oth pdo
	"$ALLIANCE" report other.csv --out oth -q
	$PY "$PD" other_clean.csv pdo >/dev/null 2>&1
	n_other=$(($(wc -l <other.csv) - $(wc -l <other_clean.csv)))
	contains "other instruments counted" "$(cat oth/overall.json)" '"other_instrument_administrations": '
	python3 - oth/overall.json "$n_other" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d.pop("other_instrument_administrations")
d["rows"] -= int(sys.argv[2])
json.dump(d, open(sys.argv[1], "w"))
EOF
	out=$(python3 "$CMP" pdo oth 2>&1) && ok "other instruments are left out of the report" ||
		notok "other instruments are left out of the report" "$out"
fi

# outputs: exact headers, sorted ids, nothing else in DIR
"$ALLIANCE" report "$F" --out exact -q
contains "client header" "$(head -1 exact/client_summary.csv)" \
	"client_id,therapist_id,n_sessions,eligible,phq9_first,phq9_last,gad7_first,gad7_last,case_first,case_last,reliable_improvement,reliable_deterioration,recovered,reliable_recovery,alliance_n,alliance_mean,ruptures,repaired"
contains "therapist header" "$(head -1 exact/therapist_summary.csv)" \
	"therapist_id,clients,eligible,reliable_improvement_rate,reliable_deterioration_rate,recovery_rate,reliable_recovery_rate,alliance_mean,rupture_rate,repair_rate"
[ "$(ls exact | tr '\n' ' ')" = "client_summary.csv overall.json therapist_summary.csv " ] &&
	ok "only the three files are written" || notok "only the three files are written" "$(ls exact)"
if tail -n +2 exact/client_summary.csv | cut -d, -f1 | LC_ALL=C sort -c 2>/dev/null; then
	ok "clients sorted by id"
else
	notok "clients sorted by id"
fi
[ -z "$("$ALLIANCE" report "$F" --out exact -q 2>&1)" ] && ok "silent with --quiet" ||
	notok "silent with --quiet"
out=$("$ALLIANCE" report "$F" --out exact 2>&1)
contains "a summary line without --quiet" "$out" "report written to exact"
case "$out" in *"%"*) notok "no progress bar when stderr is not a terminal" "$out" ;; *) ok "no progress bar when stderr is not a terminal" ;; esac

# a progress line on a terminal (script(1) gives one), none with --quiet
if command -v script >/dev/null 2>&1; then
	out=$(script -qec "'$ALLIANCE' report '$F' --out tty" /dev/null 2>&1)
	contains "progress on a terminal" "$out" "rows in"
	out=$(script -qec "'$ALLIANCE' report '$F' --out tty -q" /dev/null 2>&1)
	[ -z "$out" ] && ok "no progress on a terminal with --quiet" ||
		notok "no progress on a terminal with --quiet" "$out"
else
	skip "progress on a terminal" "script(1) is missing"
fi

# --dirty: every kind of bad row, all or nothing
python3 "$GEN" --clients 40 --seed 4 --out d --dirty 2>/dev/null
D=d/registry_items.csv
fails "a dirty file fails" "$ALLIANCE" report "$D" --out dout
"$ALLIANCE" report "$D" --out dout >/dev/null 2>&1
[ $? -eq 1 ] && ok "bad input exits 1" || notok "bad input exits 1"
[ ! -e dout ] && ok "nothing written on error" || notok "nothing written on error" "$(ls -R dout)"
"$ALLIANCE" report "$D" --out dout 2>msgs.txt
msgs=$(cat msgs.txt)
score_msgs=$("$ALLIANCE" score "$D" -q -o /dev/null 2>&1)
[ "$msgs" = "$score_msgs" ] && ok "the same messages as alliance score" ||
	notok "the same messages as alliance score" "$msgs" "$score_msgs"
contains "impossible date" "$msgs" "column date: must be a real date written YYYY-MM-DD (got \"2024-02-30\")"
contains "value out of range" "$msgs" "column value: phq9 item 1 takes whole numbers 0 to 3, or empty (got \"7\")"
contains "no such item" "$msgs" "column item: phq9 has items 1 to 9 (got \"12\")"
contains "session not a number" "$msgs" "column session: must be a whole number from 1 to 100000 (got \"x\")"
contains "unknown modality" "$msgs" "column modality: must be in_person, video or phone (got \"teleport\")"
contains "unknown instrument" "$msgs" "column instrument: is not a loaded instrument"
contains "extra field" "$msgs" "extra field: the header has fewer columns (got \"extra\")"
contains "empty client id" "$msgs" "column client_id: must be 1-64 characters without control characters (got \"\")"
contains "negative value" "$msgs" "(got \"-1\")"
contains "not an integer" "$msgs" "(got \"1.5\")"
contains "FILE:LINE prefix" "$msgs" "$D:"
contains "count and nothing written" "$msgs" "10 problems; nothing written"

# --keep-going: the valid rows are used, the rejects kept unchanged
check "--keep-going succeeds" "$ALLIANCE" report "$D" --out kg --keep-going -q
head -1 "$D" >want_rej.csv
tail -n 10 "$D" >>want_rej.csv
cmp -s want_rej.csv kg/rejects.csv && ok "rejects.csv: header and the bad rows, unchanged" ||
	notok "rejects.csv: header and the bad rows, unchanged" "$(diff want_rej.csv kg/rejects.csv)"
contains "rejected_rows counted" "$(cat kg/overall.json)" '"rejected_rows": 10'
contains "rejected_administrations counted" "$(cat kg/overall.json)" '"rejected_administrations": 0'
if [ "$have_pd" = 1 ]; then
	head -n -10 "$D" >clean.csv
	$PY "$PD" clean.csv pdclean >/dev/null 2>&1
	# the references know nothing of rejects: compare without those keys
	python3 - kg/overall.json <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("rejected_rows", "rejected_administrations"):
    d.pop(k)
d["rows"] -= 10
json.dump(d, open(sys.argv[1], "w"))
EOF
	out=$(python3 "$CMP" pdclean kg 2>&1) && ok "--keep-going report equals the clean file's" ||
		notok "--keep-going report equals the clean file's" "$out"
fi

# rules across rows: an item twice, rows that disagree (name both lines)
python3 - "$F" <<'EOF'
import sys
lines = open(sys.argv[1]).read().split("\n")
hdr, body = lines[0], [l for l in lines[1:] if l]
dup = list(body)
dup.append(body[3])                    # line 5 again, at the end
open("dup.csv", "w").write(hdr + "\n" + "\n".join(dup) + "\n")
con = list(body)
f = con[19].split(",")                 # line 21: another therapist
f[1] = "T09999"
con[19] = ",".join(f)
f = con[40].split(",")                 # line 42: another date
f[3] = "2030-01-01"
con[40] = ",".join(f)
open("conflict.csv", "w").write(hdr + "\n" + "\n".join(con) + "\n")
EOF
n_dup=$(($(wc -l <dup.csv)))
for j in 1 2; do
	fails "duplicate item fails ($j threads)" "$ALLIANCE" report dup.csv --out dd --threads $j
	contains "duplicate names both lines ($j threads)" "$out" \
		"dup.csv:$n_dup: column item: item 4 of this administration (client C0000001, session 1, phq9) is already on line 5 (got \"4\")"
	fails "conflicting rows fail ($j threads)" "$ALLIANCE" report conflict.csv --out dd --threads $j
	contains "therapist conflict names both lines ($j threads)" "$out" \
		"conflict.csv:21: column therapist_id: differs from line 18 of the same administration (client C0000001, session 1, wai_sr) (got \"T09999\")"
	contains "date conflict named ($j threads)" "$out" "conflict.csv:42: column date: differs from line"
done
[ ! -e dd ] && ok "nothing written on a conflict" || notok "nothing written on a conflict"
check "--keep-going with conflicts succeeds" "$ALLIANCE" report conflict.csv --out kc -k -q --threads 2
contains "conflicting administrations counted" "$(cat kc/overall.json)" '"rejected_administrations": 2'
# the wai_sr administration of line 21 (12 rows) and the one of line 42
want=$(awk -F, 'NR > 1 && $1 == "C0000001" && (($2 == "T09999") || ($3 == 1 && $6 == "wai_sr") || ($3 == 2 && $6 == "gad7"))' conflict.csv | wc -l)
got=$(($(wc -l <kc/rejects.csv) - 1))
contains "every row of a conflicting administration is rejected" "$got rows" "$want rows"
contains "rejected_rows counts them" "$(cat kc/overall.json)" "\"rejected_rows\": $got"

# mangled files (stray quotes, commas, newlines, lone CRs, NULs): no crash,
# the same result with 1 and 3 threads, and the same row messages as
# `alliance score` (which stops before the rules across rows)
python3 - "$F" <<'EOF'
import random, sys
src = open(sys.argv[1], "rb").read()[:300000]
for s in range(12):
    r = random.Random(s)
    b = bytearray(src)
    for _ in range(r.randint(1, 40)):
        i = r.randrange(len(b))
        ch = r.choice(b'",\n\r\x00x9-')
        op = r.random()
        if op < 0.5:
            b[i] = ch
        elif op < 0.8:
            b.insert(i, ch)
        else:
            del b[i]
    open("mangled%d.csv" % s, "wb").write(b)
EOF
crash="" diffs="" rowmsg=""
for s in 0 1 2 3 4 5 6 7 8 9 10 11; do
	m=mangled$s.csv
	rm -rf m1 m3
	"$ALLIANCE" report $m --out m1 -k -q -j1 >e1 2>&1
	r1=$?
	"$ALLIANCE" report $m --out m3 -k -q -j3 >e3 2>&1
	r3=$?
	{ [ $r1 -gt 1 ] || [ $r3 -gt 1 ]; } && crash="$crash $m"
	if cmp -s e1 e3 && diff -r m1 m3 >/dev/null 2>&1; then :; else diffs="$diffs $m"; fi
	"$ALLIANCE" report $m --out m0 -q 2>&1 | grep -v "differs from line\|already on line\|; nothing written" | head -100 >rep.txt
	"$ALLIANCE" score $m -q -o /dev/null 2>&1 | grep -v "; nothing written" >sco.txt
	cmp -s rep.txt sco.txt || rowmsg="$rowmsg $m"
done
[ -z "$crash" ] && ok "mangled files: no crash" || notok "mangled files: no crash" "$crash"
[ -z "$diffs" ] && ok "mangled files: 1 and 3 threads agree" || notok "mangled files: 1 and 3 threads agree" "$diffs"
[ -z "$rowmsg" ] && ok "mangled files: row messages as alliance score" ||
	notok "mangled files: row messages as alliance score" "$rowmsg"

# odd files
: >empty.csv
fails "an empty file fails" "$ALLIANCE" report empty.csv --out e
contains "an empty file says so" "$out" "empty file"
head -1 "$F" >hdr.csv
check "a header without rows gives an empty report" "$ALLIANCE" report hdr.csv --out h -q
contains "empty report counts nothing" "$(cat h/overall.json)" '"rows": 0'
printf 'client_id,therapist_id,session,date,modality,instrument,item,value\nC1,T1,1,\0\0\0\0\0\0\0\0\0\0,video,phq9,1,1\n' >nuls.csv
fails "a date of ten NULs is refused (not taken from the date cache)" "$ALLIANCE" report nuls.csv --out n
contains "the NUL date is named" "$out" "nuls.csv:2: column date:"
printf 'client_id,therapist_id,session,date,modality,instrument,item,value,note\nC1,T1,1,2024-01-01,video,phq9,1,1,a\rb\n' >cr.csv
"$ALLIANCE" report cr.csv --out c -q >cr_report.txt 2>&1
"$ALLIANCE" score cr.csv -q -o /dev/null >cr_score.txt 2>&1
cmp -s cr_report.txt cr_score.txt && ok "a lone CR in an ignored column ends the record, as in score" ||
	notok "a lone CR in an ignored column ends the record, as in score" "$(cat cr_report.txt)"
# a record longer than a record may be (1 MiB), without quotes: csv.h ends it
# at its line end and reads on; the rows after it must not be lost
$PY - <<'EOF'
H = "client_id,therapist_id,session,date,modality,instrument,item,value\n"
s1 = "".join("C1,T1,1,2024-01-01,video,phq9,%d,1\n" % i for i in range(1, 10))
s2 = "".join("C1,T1,2,2024-01-08,video,phq9,%d,2\n" % i for i in range(1, 10))
open("long.csv", "w").write(H + s1 + "x" * (5 << 20) + "\n" + s2)
open("long_rej.csv", "w").write(H + "x" * (5 << 20) + "\n")
EOF
check "an over-long line with --keep-going succeeds" "$ALLIANCE" report long.csv --out lg -k -q
contains "the rows after an over-long line are read" "$(cat lg/overall.json)" '"rows": 19'
contains "the client after an over-long line has both sessions" "$(cat lg/client_summary.csv)" "C1,T1,2,"
cmp -s long_rej.csv lg/rejects.csv && ok "the over-long line is rejected whole, unchanged" ||
	notok "the over-long line is rejected whole, unchanged" "$(wc -c <lg/rejects.csv) bytes"
# the same with a quoted field over 1 MiB (and a newline in it) that does
# close: csv.h ends the record at the line end after the closing quote
$PY - <<'EOF'
H = "client_id,therapist_id,session,date,modality,instrument,item,value\n"
s1 = "".join("C1,T1,1,2024-01-01,video,phq9,%d,1\n" % i for i in range(1, 10))
s2 = "".join("C1,T1,2,2024-01-08,video,phq9,%d,2\n" % i for i in range(1, 10))
bad = 'C9,"' + "x" * (5 << 20) + '\n' + "y" * (1 << 20) + '",1\n'
open("longq.csv", "w").write(H + s1 + bad + s2 + "C1,T1,2,2024-01-08,video,phq9,1,x\n")
open("longq_rej.csv", "w").write(H + bad + "C1,T1,2,2024-01-08,video,phq9,1,x\n")
EOF
check "an over-long quoted field with --keep-going succeeds" "$ALLIANCE" report longq.csv --out lq -k -q
contains "the rows after an over-long quoted field are read" "$(cat lq/overall.json)" '"rows": 20'
cmp -s longq_rej.csv lq/rejects.csv && ok "the over-long quoted record is rejected whole, unchanged" ||
	notok "the over-long quoted record is rejected whole, unchanged" "$(wc -c <lq/rejects.csv) bytes"
"$ALLIANCE" report longq.csv --out lq2 -q 2>&1 | grep -c ':22: column value' >lq.txt
[ "$(cat lq.txt)" = 1 ] && ok "the line after an over-long quoted field is numbered right" ||
	notok "the line after an over-long quoted field is numbered right"
# lone CR line ends (csv.h takes them): the fast path must not rescan the
# rest of its buffer for a '\n' at every line (that was quadratic: 15 s for
# 10 MB). Checked by instruction counts (callgrind counts are repeatable,
# unlike times): 4 times the lines must cost about 4 times the work above
# the fixed cost of a header-only file (the quadratic reader cost 12.8x).
if [ -n "${ALLIANCE_SANITIZED:-}" ]; then
	skip "lone CR line ends: read in linear time" "instruction counts need the plain build (make test), not the sanitized one"
elif command -v valgrind >/dev/null 2>&1; then
	head -1 g1/registry_items.csv | tr '\n' '\r' >cr0.csv
	head -1001 g1/registry_items.csv | tr '\n' '\r' >cr1.csv
	head -4001 g1/registry_items.csv | tr '\n' '\r' >cr4.csv
	icount() {
		valgrind --tool=callgrind --callgrind-out-file=/dev/null \
			"$ALLIANCE" report "$1" --out "cr_$1" -q -k --threads 1 2>&1 |
			sed -n 's/.*Collected : //p'
	}
	c0=$(icount cr0.csv) c1=$(icount cr1.csv) c4=$(icount cr4.csv)
	ratio=$($PY -c "print(round(($c4 - $c0) / max($c1 - $c0, 1), 2))")
	if $PY -c "import sys; sys.exit(0 if $ratio < 8 else 1)"; then
		ok "lone CR line ends: read in linear time (4x the lines, ${ratio}x the work)"
	else
		notok "lone CR line ends: read in linear time" "4x the lines cost ${ratio}x the work"
	fi
else
	skip "lone CR line ends: read in linear time" "valgrind is missing"
fi
printf 'client_id,therapist_id,session,date,modality,instrument,score\n' >scores.csv
fails "the score-level format is refused" "$ALLIANCE" report scores.csv --out s
contains "score format named" "$out" "score-level format"
exit 0
