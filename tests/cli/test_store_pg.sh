# test_store_pg.sh: the storage behavioural suite (tests/unit/test_store.c)
# and the database commands, against a throwaway PostgreSQL cluster. Where
# PostgreSQL is absent every test here is reported as skipped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg.sh"
SUITE="$ROOT/$BUILD/tests/test_store"
NSUITE=21

if ! pg_start; then
	i=0
	while [ $i -lt $NSUITE ]; do i=$((i + 1)); skip "store suite on PostgreSQL, test $i" "$PGWHY"; done
	skip "alliance commands on PostgreSQL" "$PGWHY"
	exit 0
fi

# The suite speaks TAP itself; its lines count here. A crash is a failure.
if ALLIANCE_TEST_DB=$PGURL CMOCKA_MESSAGE_OUTPUT=TAP "$SUITE" >"$TMP/suite.log" 2>&1; then
	grep -E '^(not )?ok ' "$TMP/suite.log" | grep -v ' - store (postgresql)$' | sed 's/ - / - postgresql: /'
else
	grep -E '^(not )?ok ' "$TMP/suite.log" | grep -v ' - store (postgresql)$' | sed 's/ - / - postgresql: /'
	notok "store suite on PostgreSQL" "$(grep -v '^ok ' "$TMP/suite.log" | head -40)"
fi

# The commands, end to end, on the same server.
db=$PGURL
reg="$TMP/reg.csv"
cat >"$reg" <<'EOF'
client_id,therapist_id,session,date,modality,instrument,item,value
P1,T1,1,2025-01-06,video,gad2,1,1
P1,T1,1,2025-01-06,video,gad2,2,3
P2,T2,1,2025-01-07,phone,gad2,1,
P2,T2,1,2025-01-07,phone,gad2,2,0
EOF
psql "$db" -qc 'DROP SCHEMA public CASCADE; CREATE SCHEMA public' >/dev/null 2>&1
check "init --db postgresql://" "$ALLIANCE" init --db "$db" --key "$TMP/pg.key" -q
check "import into PostgreSQL" "$ALLIANCE" import "$reg" --db "$db" -q
check "export from PostgreSQL" "$ALLIANCE" export --db "$db" -o "$TMP/out.csv" -q
if [ "$(tail -n +2 "$reg" | sort)" = "$(tail -n +2 "$TMP/out.csv" | sort)" ]; then
	ok "PostgreSQL export gives the imported rows back"
else
	notok "PostgreSQL export gives the imported rows back" "$(cat "$TMP/out.csv")"
fi
check "backup with pg_dump" "$ALLIANCE" backup --db "$db" -o "$TMP/pg.dump"
psql "$db" -qc "DELETE FROM scores; DELETE FROM item_answers" >/dev/null 2>&1
check "restore with pg_restore" "$ALLIANCE" restore --db "$db" "$TMP/pg.dump"
"$ALLIANCE" export --db "$db" -o "$TMP/out2.csv" -q
if cmp -s "$TMP/out.csv" "$TMP/out2.csv"; then ok "PostgreSQL backup round trip"; else notok "PostgreSQL backup round trip" "$(cat "$TMP/out2.csv")"; fi
check "audit verify on PostgreSQL" "$ALLIANCE" audit verify --db "$db"
psql "$db" -qc "UPDATE audit_log SET detail = 'nothing' WHERE seq = 3" >/dev/null 2>&1
fails "audit verify finds a tampered entry" "$ALLIANCE" audit verify --db "$db"
contains "and names it" "$out" "entry 3"
