# test_store.sh: the database commands end to end on SQLite: init, import
# (all or nothing, keep-going, idempotent), export round trip, backup and
# restore, audit verify against tampering, key rotation, --help.
. "$(dirname "$0")/lib.sh"
db="$TMP/practice.db"

for c in init import export backup restore audit key; do
	check "$c --help" "$ALLIANCE" "$c" --help
done
fails "a bad option is a usage error" "$ALLIANCE" import --no-such-option x.csv

fails "import into a database that does not exist" "$ALLIANCE" import x.csv --db "$TMP/none.db" -q
check "init creates the database" "$ALLIANCE" init --db "sqlite:$db"
contains "init says the schema version" "$out" "schema version 1"
if [ -f "$db.key" ] && [ "$(stat -c %a "$db.key")" = 600 ]; then ok "key file created, mode 0600"; else notok "key file created, mode 0600" "$(ls -l "$db.key" 2>&1)"; fi
mode() { stat -c %a "$1" 2>/dev/null; }
db0="$TMP/private.db"
(umask 022 && "$ALLIANCE" init --db "$db0" -q && "$ALLIANCE" backup --db "$db0" -o "$TMP/private-backup.db")
if [ "$(mode "$db0")" = 600 ]; then ok "a new database file is mode 0600 whatever the umask"; else notok "a new database file is mode 0600 whatever the umask" "$(ls -l "$db0"* 2>&1)"; fi
(umask 077 && "$ALLIANCE" export --db "$db0" -o "$TMP/private-export.csv" -q)
if [ "$(mode "$TMP/private-export.csv")" = 600 ]; then ok "export honours a umask of 077"; else notok "export honours a umask of 077" "$(ls -l "$TMP/private-export.csv" 2>&1)"; fi
if [ "$(mode "$TMP/private-backup.db")" = 600 ]; then ok "a new backup file is mode 0600"; else notok "a new backup file is mode 0600" "$(ls -l "$TMP/private-backup.db" 2>&1)"; fi
check "init again is an upgrade with nothing to do" "$ALLIANCE" init --db "$db" -q
if ALLIANCE_DB="$db" "$ALLIANCE" audit verify >/dev/null 2>&1; then ok "\$ALLIANCE_DB names the database"; else notok "\$ALLIANCE_DB names the database"; fi

if ! need_shared; then
	skip "import round trip" "no ../shared/bench/gen_registry.py"
	exit 0
fi
python3 "$SHARED/bench/gen_registry.py" --clients 40 --seed 3 --out "$TMP/reg" >/dev/null 2>&1
python3 "$SHARED/bench/gen_registry.py" --clients 40 --seed 3 --out "$TMP/dirty" --dirty >/dev/null 2>&1
reg="$TMP/reg/registry_items.csv"
dirty="$TMP/dirty/registry_items.csv"

fails "a dirty registry is refused" "$ALLIANCE" import "$dirty" --db "$db" -q
contains "with FILE:LINE: column messages" "$out" "registry_items.csv:"
contains "naming the column" "$out" ": column "
contains "and nothing imported" "$out" "nothing imported"
"$ALLIANCE" export --db "$db" -o "$TMP/empty.csv" -q
if [ "$(wc -l <"$TMP/empty.csv")" -eq 1 ]; then ok "nothing was written"; else notok "nothing was written" "$(wc -l <"$TMP/empty.csv") lines"; fi

check "import a registry" "$ALLIANCE" import "$reg" --db "$db"
contains "import reports what it added" "$out" "already present"
cp "$db" "$TMP/before.db"
check "import it again" "$ALLIANCE" import "$reg" --db "$db"
contains "re-import adds nothing" "$out" " 0 added"
check "export" "$ALLIANCE" export --db "$db" --format csv -o "$TMP/out.csv" -q
if [ "$(head -1 "$reg")" = "$(head -1 "$TMP/out.csv")" ] &&
	[ "$(tail -n +2 "$reg" | sort)" = "$(tail -n +2 "$TMP/out.csv" | sort)" ]; then
	ok "import then export gives the same rows"
else
	tail -n +2 "$reg" | sort >"$TMP/a.csv"
	tail -n +2 "$TMP/out.csv" | sort >"$TMP/b.csv"
	notok "import then export gives the same rows" "$(diff "$TMP/a.csv" "$TMP/b.csv" | head -5)"
fi

db2="$TMP/kg.db"
"$ALLIANCE" init --db "$db2" -q
fails "keep-going still exits 1 when rows were rejected" "$ALLIANCE" import "$dirty" --db "$db2" --keep-going --rejects "$TMP/rejects.csv"
contains "keep-going says where the rejects went" "$out" "rejected to"
bad=$(tail -n +2 "$TMP/rejects.csv" | wc -l)
if [ "$bad" -ge 5 ] && [ "$(head -1 "$TMP/rejects.csv")" = "$(head -1 "$dirty")" ]; then ok "rejects file holds the header and the bad rows ($bad)"; else notok "rejects file holds the header and the bad rows" "$(cat "$TMP/rejects.csv")"; fi
"$ALLIANCE" export --db "$db2" -o "$TMP/kg.csv" -q
if [ "$(tail -n +2 "$TMP/kg.csv" | sort)" = "$(tail -n +2 "$reg" | sort)" ]; then ok "keep-going imports every good row"; else notok "keep-going imports every good row"; fi

check "backup" "$ALLIANCE" backup --db "$db" -o "$TMP/backup.db"
sqlite3 "$db" "DELETE FROM scores; DELETE FROM item_answers;" 2>/dev/null
check "restore" "$ALLIANCE" restore --db "$db" "$TMP/backup.db"
"$ALLIANCE" export --db "$db" -o "$TMP/out2.csv" -q
if cmp -s "$TMP/out.csv" "$TMP/out2.csv"; then ok "backup and restore round trip"; else notok "backup and restore round trip"; fi

check "audit verify" "$ALLIANCE" audit verify --db "$db"
contains "audit verify counts the entries" "$out" "intact"
if command -v sqlite3 >/dev/null 2>&1; then
	sqlite3 "$db" "UPDATE audit_log SET detail = 'nothing to see' WHERE seq = 2"
	fails "audit verify finds a tampered entry" "$ALLIANCE" audit verify --db "$db"
	contains "and names the first broken one" "$out" "entry 2"
else
	skip "audit verify finds a tampered entry" "no sqlite3 command-line tool"
fi

db3="$TMP/key.db"
"$ALLIANCE" init --db "$db3" -q
k1=$(cat "$db3.key")
check "key rotate" "$ALLIANCE" key rotate --db "$db3"
k2=$(cat "$db3.key")
if [ "$k1" != "$k2" ] && [ "$(stat -c %a "$db3.key")" = 600 ]; then ok "the key file changed, still 0600"; else notok "the key file changed, still 0600"; fi
check "the rotated database opens" "$ALLIANCE" audit verify --db "$db3"
echo "$k1" >"$TMP/old.key"
fails "the old key is refused" "$ALLIANCE" key rotate --db "$db3" --key "$TMP/old.key"
contains "as not belonging" "$out" "does not belong"
