# pg.sh: start a throwaway PostgreSQL cluster for a test (sourced after
# lib.sh). pg_start sets $PGURL, or returns 1 with $PGWHY saying why it
# cannot (then the caller skips, never passes). The cluster lives in $TMP
# with its socket there, on a free port, and is stopped and removed on exit.
# As root, initdb and postgres run as the unprivileged user postgres.
# ALLIANCE_TEST_PG=no skips these tests on purpose (they are counted as skipped).
PGURL= PGWHY= PGDATA_DIR= PGBIN=

pg_find() {
	for d in "${PG_BINDIR:-}" /usr/lib/postgresql/*/bin /usr/local/pgsql/bin; do
		[ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { PGBIN=$d; return 0; }
	done
	command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 &&
		{ PGBIN=$(dirname "$(command -v initdb)"); return 0; }
	return 1
}

pg_as() { # run a command as the cluster's owner
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_stop() {
	[ -n "$PGDATA_DIR" ] && [ -f "$PGDATA_DIR/postmaster.pid" ] &&
		pg_as "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$TMP"
}

pg_start() {
	if [ "${ALLIANCE_TEST_PG:-}" = no ]; then
		PGWHY="disabled by ALLIANCE_TEST_PG=no"
		return 1
	fi
	if ! pg_find; then
		PGWHY="PostgreSQL is not installed (Debian: apt-get install postgresql)"
		return 1
	fi
	if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
		PGWHY="running as root and there is no 'postgres' user to run the server as"
		return 1
	fi
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$TMP/pg" "$TMP/sock"
	[ "$(id -u)" -eq 0 ] && chown -R postgres "$TMP" && chmod 755 "$TMP"
	PGDATA_DIR=$TMP/pg/data
	trap pg_stop EXIT
	if ! pg_as "$PGBIN/initdb" -D "$PGDATA_DIR" -A trust -U postgres --no-sync -E UTF8 \
		>"$TMP/initdb.log" 2>&1; then
		PGWHY="initdb failed: $(tail -3 "$TMP/initdb.log" | tr '\n' ' ')"
		return 1
	fi
	if ! pg_as "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$TMP/pg/log" -w -t 30 \
		-o "-k $TMP/sock -p $port -c listen_addresses= -c fsync=off" start >/dev/null 2>&1; then
		PGWHY="the server did not start: $(tail -3 "$TMP/pg/log" | tr '\n' ' ')"
		return 1
	fi
	PGURL="postgresql:///postgres?host=$TMP/sock&port=$port&user=postgres"
	# pg_dump and pg_restore of the same version as the server
	PATH=$PGBIN:$PATH
	export PATH
	return 0
}
