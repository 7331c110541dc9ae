/* store_sqlite.c: the embedded backend (libsqlite3), one database file.
 *
 * WAL so readers run beside the one writer; synchronous=FULL because what a
 * person submitted must survive a power cut once we said it was saved;
 * foreign keys on; a busy timeout so a second writer waits rather than
 * fails at once. Write transactions are BEGIN IMMEDIATE: the write lock is
 * taken up front, where the busy timeout applies, instead of failing half
 * way with SQLITE_BUSY on the first write. Statements are prepared once per
 * catalogue slot and reset after each run. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

#define BUSY_TIMEOUT_MS 5000

struct store_drv {
	sqlite3 *db;
	sqlite3_stmt *stmt[STORE_MAX_STMTS];
};

static al_status fail(store_drv *d, int rc, const char *what, al_err *err)
{
	al_status st = (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) ? AL_EBUSY : AL_ESTORE;
	if (rc == SQLITE_NOMEM)
		st = AL_ENOMEM;
	return al_err_set(err, st, "sqlite: %s: %s", what,
	                  d->db ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc));
}

static void sq_close(store_drv *d)
{
	if (d == NULL)
		return;
	for (int i = 0; i < STORE_MAX_STMTS; i++)
		sqlite3_finalize(d->stmt[i]);
	sqlite3_close(d->db);
	free(d);
}

static al_status sq_exec(store_drv *d, const char *sql, al_err *err)
{
	char *msg = NULL;
	int rc = sqlite3_exec(d->db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		al_status st = rc == SQLITE_BUSY ? AL_EBUSY : AL_ESTORE;
		al_err_set(err, st, "sqlite: %s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return st;
	}
	return AL_OK;
}

static al_status sq_begin(store_drv *d, int write, al_err *err)
{
	return sq_exec(d, write ? "BEGIN IMMEDIATE" : "BEGIN", err);
}

static al_status sq_commit(store_drv *d, al_err *err)
{
	return sq_exec(d, "COMMIT", err);
}

static void sq_rollback(store_drv *d)
{
	if (!sqlite3_get_autocommit(d->db))
		sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
}

/* The catalogue writes $1, $2 ... as PostgreSQL does; SQLite numbers "$1"
 * by first appearance, not by its digits, so rewrite them as ?1, ?2. */
static char *to_sqlite(const char *sql)
{
	char *s = strdup(sql);
	if (s == NULL)
		return NULL;
	for (char *p = s; *p; p++)
		if (*p == '$' && isdigit((unsigned char)p[1]))
			*p = '?';
	return s;
}

static al_status sq_run(store_drv *d, int slot, const char *sql, const store_val *params, int n,
                        store_row_fn fn, void *ctx, int64_t *changes, al_err *err)
{
	al_status st = AL_OK;
	if (slot < 0 || slot >= STORE_MAX_STMTS)
		return al_err_set(err, AL_EINTERNAL, "sqlite: statement slot %d out of range",
		                  slot);
	sqlite3_stmt *s = d->stmt[slot];
	if (s == NULL) {
		char *text = to_sqlite(sql);
		if (text == NULL)
			return al_err_set(err, AL_ENOMEM, "out of memory");
		int rc = sqlite3_prepare_v3(d->db, text, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
		free(text);
		if (rc != SQLITE_OK)
			return fail(d, rc, "prepare", err);
		d->stmt[slot] = s;
	}
	for (int i = 0; i < n; i++) {
		const store_val *v = &params[i];
		int rc = SQLITE_OK;
		switch (v->t) {
		case SV_NULL: rc = sqlite3_bind_null(s, i + 1); break;
		case SV_INT: rc = sqlite3_bind_int64(s, i + 1, v->i); break;
		case SV_REAL: rc = sqlite3_bind_double(s, i + 1, v->d); break;
		case SV_TEXT:
			rc =
			    sqlite3_bind_text64(s, i + 1, v->p, v->len, SQLITE_STATIC, SQLITE_UTF8);
			break;
		case SV_BLOB:
			rc = sqlite3_bind_blob64(s, i + 1, v->p, v->len, SQLITE_STATIC);
			break;
		}
		if (rc != SQLITE_OK) {
			st = fail(d, rc, "bind", err);
			goto out;
		}
	}
	for (;;) {
		int rc = sqlite3_step(s);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			st = fail(d, rc, "step", err);
			goto out;
		}
		if (fn == NULL)
			continue;
		store_val cols[32];
		int nc = sqlite3_column_count(s);
		if (nc > 32)
			nc = 32;
		for (int i = 0; i < nc; i++) {
			store_val *c = &cols[i];
			memset(c, 0, sizeof *c);
			switch (sqlite3_column_type(s, i)) {
			case SQLITE_NULL: c->t = SV_NULL; break;
			case SQLITE_INTEGER:
				c->t = SV_INT;
				c->i = sqlite3_column_int64(s, i);
				c->d = (double)c->i;
				break;
			case SQLITE_FLOAT:
				c->t = SV_REAL;
				c->d = sqlite3_column_double(s, i);
				break;
			case SQLITE_TEXT:
				c->t = SV_TEXT;
				c->p = sqlite3_column_text(s, i);
				c->len = (size_t)sqlite3_column_bytes(s, i);
				break;
			default:
				c->t = SV_BLOB;
				c->p = sqlite3_column_blob(s, i);
				c->len = (size_t)sqlite3_column_bytes(s, i);
				break;
			}
		}
		st = fn(ctx, cols, nc, err);
		if (st != AL_OK)
			goto out;
	}
	if (changes != NULL)
		*changes = sqlite3_changes64(d->db);
out:
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return st;
}

/* Copy all of from into to with the online backup API: readers and the
 * writer of the live database are not stopped, and the copy is consistent. */
static al_status copy_db(sqlite3 *from, sqlite3 *to, store_drv *d, al_err *err)
{
	sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
	if (b == NULL)
		return al_err_set(err, AL_ESTORE, "sqlite: backup: %s", sqlite3_errmsg(to));
	int rc;
	while ((rc = sqlite3_backup_step(b, 1024)) == SQLITE_OK || rc == SQLITE_BUSY ||
	       rc == SQLITE_LOCKED)
		sqlite3_sleep(rc == SQLITE_OK ? 0 : 10);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE)
		return fail(d, rc, "backup", err);
	return AL_OK;
}

/* SQLite creates a missing file with mode 0644 less the umask, readable by
 * every local user; the database and its backups hold clients' answers
 * (PHQ-9 item 9 among them). Create a missing file 0600 first; SQLite gives
 * its -wal, -shm and -journal files the same mode. An existing file keeps
 * the mode its owner chose. */
static al_status create_private(const char *path, al_err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
		return AL_OK;
	}
	if (errno == EEXIST)
		return AL_OK;
	return al_err_set(err, AL_EIO, "%s: %s", path, strerror(errno));
}

static al_status sq_backup(store_drv *d, const char *path, al_err *err)
{
	sqlite3 *to = NULL;
	al_status st = create_private(path, err);
	if (st != AL_OK)
		return st;
	int rc = sqlite3_open_v2(path, &to, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		st = al_err_set(err, AL_EIO, "%s: %s", path,
		                to ? sqlite3_errmsg(to) : "cannot open");
		goto out;
	}
	st = copy_db(d->db, to, d, err);
out:
	sqlite3_close(to);
	return st;
}

/* The schema version of a would-be backup, 0 when it has none. SQLite opens
 * an empty file or any other database without complaint, and the backup API
 * would copy it over the live database: look before replacing anything. */
static int backup_version(sqlite3 *from)
{
	sqlite3_stmt *q = NULL;
	int version = 0;
	if (sqlite3_prepare_v2(from, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &q,
	                       NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return version;
}

/* The backup's key check, "" when it holds none. */
static void backup_key_check(sqlite3 *from, char *out, size_t outsz)
{
	sqlite3_stmt *q = NULL;
	out[0] = '\0';
	if (sqlite3_prepare_v2(from, "SELECT value FROM meta WHERE name = 'key_check'", -1, &q,
	                       NULL) == SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0) != NULL)
		snprintf(out, outsz, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
}

static al_status sq_restore(store_drv *d, const char *path, const char *key_check, al_err *err)
{
	sqlite3 *from = NULL;
	al_status st;
	int rc = sqlite3_open_v2(path, &from, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		st = al_err_set(err, AL_EIO, "%s: %s", path,
		                from ? sqlite3_errmsg(from) : "cannot open");
		goto out;
	}
	int version = backup_version(from);
	if (version != STORE_SCHEMA_VERSION) {
		st = al_err_set(err, AL_EINPUT,
		                "%s: not a backup of an alliance database at schema version %d "
		                "(found version %d); nothing was restored",
		                path, STORE_SCHEMA_VERSION, version);
		goto out;
	}
	char have[80];
	backup_key_check(from, have, sizeof have);
	if (key_check != NULL && have[0] != '\0' && strcmp(have, key_check) != 0) {
		st = al_err_set(err, AL_EAUTH,
		                "%s: the backup was sealed with another key than the current key "
		                "file (made before a key rotation?); nothing was restored",
		                path);
		goto out;
	}
	for (int i = 0; i < STORE_MAX_STMTS; i++) {
		sqlite3_finalize(d->stmt[i]);
		d->stmt[i] = NULL;
	}
	st = copy_db(from, d->db, d, err);
out:
	sqlite3_close(from);
	return st;
}

static const store_ops sqlite_ops = {
    .name = "sqlite",
    .blob_type = "BLOB",
    .close = sq_close,
    .exec = sq_exec,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .run = sq_run,
    .backup = sq_backup,
    .restore = sq_restore,
};

al_status store_sqlite_open(const char *path, int busy_ms, const store_ops **ops, store_drv **out,
                            al_err *err)
{
	store_drv *d = calloc(1, sizeof *d);
	if (d == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	al_status st = create_private(path, err);
	if (st != AL_OK)
		goto fail;
	int rc = sqlite3_open_v2(
	    path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		st = al_err_set(err, rc == SQLITE_NOMEM ? AL_ENOMEM : AL_ESTORE, "%s: %s", path,
		                d->db ? sqlite3_errmsg(d->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(d->db, busy_ms > 0 ? busy_ms : BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(d->db, 0);
	st = sq_exec(d, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
	             err);
	if (st != AL_OK) {
		char msg[AL_ERR_MAX];
		snprintf(msg, sizeof msg, "%s", err->msg);
		al_err_clear(err);
		st = al_err_set(err, st, "%s: %s", path, msg);
		goto fail;
	}
	*ops = &sqlite_ops;
	*out = d;
	return AL_OK;
fail:
	sq_close(d);
	return st;
}
