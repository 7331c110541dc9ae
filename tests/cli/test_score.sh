# test_score.sh: 'alliance score' and 'alliance instruments' end to end:
# scores equal an independent computation on generated registries, every
# malformed row is reported with FILE:LINE, and a failed run writes nothing.
. "$ROOT/tests/cli/lib.sh"

check "alliance --help" "$ALLIANCE" --help
check "score --help" "$ALLIANCE" score --help
check "instruments --help" "$ALLIANCE" instruments --help
fails "no command is a usage error" "$ALLIANCE"
fails "unknown command" "$ALLIANCE" frobnicate
contains "unknown command says so" "$out" "unknown command 'frobnicate'"

out=$("$ALLIANCE" instruments 2>&1)
for id in phq9 gad7 phq2 gad2 phq4 core10 wai_sr ors srs ucla3 gbo; do
	contains "instrument $id is listed" "$out" "$id "
done
out=$("$ALLIANCE" instruments show wai_sr 2>&1)
contains "show lists subscales" "$out" "subscale goal: items 4 6 8 11"
contains "show marks labels without wording" "$out" "[label]"
mkdir -p "$TMP/wording"
printf '{"instrument":"phq9","language":"en","items":{"1":"WORDING-FROM-PACK"}}' >"$TMP/wording/phq9.en.json"
out=$("$ALLIANCE" instruments show phq9 --wording "$TMP/wording" 2>&1)
contains "a wording pack replaces the label" "$out" "WORDING-FROM-PACK"
contains "items without pack wording keep the marked label" "$out" "[label] Low mood"
fails "show an unknown instrument" "$ALLIANCE" instruments show nosuch
mkdir -p "$TMP/badinst" && cp "$ROOT/instruments/phq9.json" "$TMP/badinst/"
sed -i 's/"max_skipped": 1/"max_skipped": "one"/' "$TMP/badinst/phq9.json"
fails "a malformed definition stops the load" "$ALLIANCE" instruments --instruments "$TMP/badinst"
contains "the definition error names file and field" "$out" "phq9.json: scoring.max_skipped: must be an integer"

if ! need_shared; then
	skip "scores equal the independent computation" "shared/bench not found at $SHARED"
else
	for seed in 1 2; do
		python3 "$SHARED/bench/gen_registry.py" --clients 150 --seed $seed --out "$TMP/g$seed" 2>/dev/null
		check "score seed $seed" "$ALLIANCE" score -q "$TMP/g$seed/registry_items.csv" -o "$TMP/s$seed.csv"
		check "seed $seed scores equal the independent computation" \
			python3 "$ROOT/tests/tools/score_ref.py" "$TMP/g$seed/registry_items.csv" "$TMP/s$seed.csv"
	done
	# the same rows shuffled, with CRLF line ends, every field quoted and a BOM
	python3 - "$TMP/g1/registry_items.csv" "$TMP/mangled.csv" <<'PY'
import csv, random, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
head, body = rows[0], rows[1:]
random.Random(5).shuffle(body)
with open(sys.argv[2], "w", newline="", encoding="utf-8-sig") as f:
    csv.writer(f, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows([head] + body)
PY
	check "score a shuffled, quoted, CRLF file with a BOM" "$ALLIANCE" score -q "$TMP/mangled.csv" -o "$TMP/m.csv"
	check "its scores equal the original's" cmp "$TMP/s1.csv" "$TMP/m.csv"

	python3 "$SHARED/bench/gen_registry.py" --clients 20 --seed 3 --dirty --out "$TMP/d" 2>/dev/null
	fails "a dirty file fails" "$ALLIANCE" score "$TMP/d/registry_items.csv" -o "$TMP/d/out.csv"
	for msg in 'column date: must be a real date written YYYY-MM-DD (got "2024-02-30")' \
		'column value: phq9 item 1 takes whole numbers 0 to 3, or empty (got "7")' \
		'column item: phq9 has items 1 to 9 (got "12")' \
		'column session: must be a whole number from 1 to 100000 (got "x")' \
		'column modality: must be in_person, video or phone (got "teleport")' \
		'column instrument: is not a loaded instrument' \
		'column 9: extra field' \
		'column client_id: must be 1-64 characters' \
		'(got "-1")' '(got "1.5")' '10 problems; nothing written'; do
		contains "dirty: $msg" "$out" "$msg"
	done
	contains "errors carry FILE:LINE" "$out" "$TMP/d/registry_items.csv:"
	if ls "$TMP/d" | grep -q out.csv; then notok "a failed run leaves no output file" "$(ls "$TMP/d")"; else ok "a failed run leaves no output file"; fi

	# duplicate item and conflicting therapist: both lines are named
	head -1 "$TMP/g1/registry_items.csv" >"$TMP/dup.csv"
	sed -n '2,3p' "$TMP/g1/registry_items.csv" >>"$TMP/dup.csv"
	sed -n '2p' "$TMP/g1/registry_items.csv" >>"$TMP/dup.csv"
	sed -n '3p' "$TMP/g1/registry_items.csv" | sed 's/,T[0-9]*,/,TX,/' >>"$TMP/dup.csv"
	fails "a duplicate item fails" "$ALLIANCE" score "$TMP/dup.csv" -o "$TMP/dup.out"
	contains "the duplicate names both lines" "$out" "dup.csv:4: column item: item 1 of this administration"
	contains "the duplicate names the first line" "$out" "is already on line 2"
	contains "the conflict names both lines" "$out" "dup.csv:5: column therapist_id: differs from line 2"
fi

printf 'client_id,therapist_id\n' >"$TMP/short.csv"
fails "a header without the format's columns fails" "$ALLIANCE" score "$TMP/short.csv"
contains "the header error says what is missing" "$out" "short.csv:1: header: needs item and value columns"
: >"$TMP/empty.csv"
fails "an empty file fails" "$ALLIANCE" score "$TMP/empty.csv"
contains "the empty file error says so" "$out" "empty file"
fails "a missing file fails" "$ALLIANCE" score "$TMP/nope.csv"
contains "the missing file error names it" "$out" "nope.csv: No such file"
printf 'client_id,therapist_id,session,date,modality,instrument,item,value\nC1,T1,1,2024-01-01,video,phq9,1,"2\n' >"$TMP/q.csv"
fails "an unterminated quote fails" "$ALLIANCE" score "$TMP/q.csv"
contains "the quote error has FILE:LINE" "$out" "q.csv:2: quoted field never closed"
fails "a bad option is a usage error" "$ALLIANCE" score --frob x
printf 'client_id,"therapist_id\n' >"$TMP/hdr.csv"
fails "a header the tokenizer rejects fails" "$ALLIANCE" score "$TMP/hdr.csv"
contains "the header error keeps the tokenizer's reason" "$out" "hdr.csv:1: quoted field never closed"
