/* store_pg.c: the PostgreSQL backend (libpq), for a service that outgrows
 * one machine (and, unchanged, for Citus: docs/SCALING.md).
 *
 * Parameters go as text, blobs as binary; results come back as text and
 * are typed by their column's type OID. Each catalogue slot is prepared once
 * per connection as "s<slot>". Serialisation failures and deadlocks are
 * AL_EBUSY (try again); a dropped connection is AL_ESTORE and stays so.
 * Backup and restore run pg_dump / pg_restore on the same URL. */
#include <libpq-fe.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"

/* Type OIDs from PostgreSQL's catalog/pg_type.h (stable since 7.x). */
#define OID_BYTEA   17
#define OID_INT8    20
#define OID_INT2    21
#define OID_INT4    23
#define OID_FLOAT4  700
#define OID_FLOAT8  701
#define OID_NUMERIC 1700

struct store_drv {
	PGconn *conn;
	char *url;
	unsigned char prepared[STORE_MAX_STMTS];
};

static al_status pg_fail(store_drv *d, const PGresult *res, const char *what, al_err *err)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(d->conn);
	al_status st = AL_ESTORE;
	if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	              strcmp(state, "55P03") == 0))
		st = AL_EBUSY;
	if (PQstatus(d->conn) != CONNECTION_OK)
		msg = "connection lost";
	char clean[512];
	snprintf(clean, sizeof clean, "%s", msg && msg[0] ? msg : "unknown error");
	size_t n = strlen(clean);
	while (n > 0 && (clean[n - 1] == '\n' || clean[n - 1] == ' '))
		clean[--n] = '\0';
	return al_err_set(err, st, "postgresql: %s: %s", what, clean);
}

static void pg_close(store_drv *d)
{
	if (d == NULL)
		return;
	PQfinish(d->conn);
	free(d->url);
	free(d);
}

static al_status pg_exec(store_drv *d, const char *sql, al_err *err)
{
	PGresult *r = PQexec(d->conn, sql);
	al_status st = AL_OK;
	ExecStatusType t = PQresultStatus(r);
	if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK)
		st = pg_fail(d, r, "exec", err);
	PQclear(r);
	return st;
}

static al_status pg_begin(store_drv *d, int write, al_err *err)
{
	(void)write; /* row locks serialise writers where it matters (counters) */
	return pg_exec(d, "BEGIN", err);
}

static al_status pg_commit(store_drv *d, al_err *err)
{
	return pg_exec(d, "COMMIT", err);
}

static void pg_rollback(store_drv *d)
{
	if (PQtransactionStatus(d->conn) != PQTRANS_IDLE) {
		PGresult *r = PQexec(d->conn, "ROLLBACK");
		PQclear(r);
	}
}

static al_status pg_run(store_drv *d, int slot, const char *sql, const store_val *params, int n,
                        store_row_fn fn, void *ctx, int64_t *changes, al_err *err)
{
	char name[16];
	al_status st = AL_OK;
	PGresult *r = NULL;
	if (slot < 0 || slot >= STORE_MAX_STMTS || n > 16)
		return al_err_set(err, AL_EINTERNAL, "postgresql: bad statement slot %d", slot);
	snprintf(name, sizeof name, "s%d", slot);
	if (!d->prepared[slot]) {
		r = PQprepare(d->conn, name, sql, 0, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			st = pg_fail(d, r, "prepare", err);
			goto out;
		}
		PQclear(r);
		r = NULL;
		d->prepared[slot] = 1;
	}
	const char *vals[16];
	int lens[16], fmts[16];
	char nums[16][32];
	for (int i = 0; i < n; i++) {
		const store_val *v = &params[i];
		lens[i] = 0;
		fmts[i] = 0;
		switch (v->t) {
		case SV_NULL: vals[i] = NULL; break;
		case SV_INT:
			snprintf(nums[i], sizeof nums[i], "%lld", (long long)v->i);
			vals[i] = nums[i];
			break;
		case SV_REAL:
			snprintf(nums[i], sizeof nums[i], "%.17g", v->d);
			vals[i] = nums[i];
			break;
		case SV_TEXT:
		case SV_BLOB:
			/* text as binary too: its bytes need no terminating NUL then */
			vals[i] = v->p ? v->p : "";
			lens[i] = (int)v->len;
			fmts[i] = 1;
			break;
		}
	}
	r = PQexecPrepared(d->conn, name, n, vals, lens, fmts, 0);
	ExecStatusType t = PQresultStatus(r);
	if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) {
		st = pg_fail(d, r, "run", err);
		goto out;
	}
	if (changes != NULL) {
		const char *ct = PQcmdTuples(r);
		*changes = ct[0] ? strtoll(ct, NULL, 10) : 0;
	}
	if (fn == NULL || t != PGRES_TUPLES_OK)
		goto out;
	int nc = PQnfields(r);
	if (nc > 32)
		nc = 32;
	Oid types[32];
	for (int c = 0; c < nc; c++)
		types[c] = PQftype(r, c);
	for (int row = 0, nr = PQntuples(r); row < nr && st == AL_OK; row++) {
		store_val cols[32];
		unsigned char *owned[32] = {0};
		for (int c = 0; c < nc; c++) {
			store_val *v = &cols[c];
			memset(v, 0, sizeof *v);
			if (PQgetisnull(r, row, c)) {
				v->t = SV_NULL;
				continue;
			}
			const char *s = PQgetvalue(r, row, c);
			switch (types[c]) {
			case OID_INT2:
			case OID_INT4:
			case OID_INT8:
				v->t = SV_INT;
				v->i = strtoll(s, NULL, 10);
				v->d = (double)v->i;
				break;
			case OID_FLOAT4:
			case OID_FLOAT8:
			case OID_NUMERIC:
				v->t = SV_REAL;
				v->d = strtod(s, NULL);
				break;
			case OID_BYTEA: {
				size_t len = 0;
				owned[c] = PQunescapeBytea((const unsigned char *)s, &len);
				if (owned[c] == NULL) {
					st = al_err_set(err, AL_ENOMEM, "out of memory");
					break;
				}
				v->t = SV_BLOB;
				v->p = owned[c];
				v->len = len;
				break;
			}
			default:
				v->t = SV_TEXT;
				v->p = s;
				v->len = (size_t)PQgetlength(r, row, c);
				break;
			}
		}
		if (st == AL_OK)
			st = fn(ctx, cols, nc, err);
		for (int c = 0; c < nc; c++)
			PQfreemem(owned[c]);
	}
out:
	PQclear(r);
	return st;
}

al_status store_pg_split_password(const char *url, char *out, size_t outsz, char *pw, size_t pwsz,
                                  al_err *err)
{
	char *perr = NULL;
	if (outsz > 0)
		out[0] = '\0';
	if (pwsz > 0)
		pw[0] = '\0';
	PQconninfoOption *opts = PQconninfoParse(url, &perr);
	if (opts == NULL) {
		al_status st = al_err_set(err, AL_EINPUT, "database URL: %s",
		                          perr ? perr : "cannot be parsed");
		PQfreemem(perr);
		return st;
	}
	al_status st = AL_OK;
	size_t n = 0;
	for (PQconninfoOption *o = opts; o->keyword != NULL && st == AL_OK; o++) {
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "password") == 0) {
			if (strlen(o->val) >= pwsz)
				st = al_err_set(err, AL_ELIMIT, "database URL: password too long");
			else
				snprintf(pw, pwsz, "%s", o->val);
			continue;
		}
		/* keyword='value' with \ and ' escaped, as libpq reads it */
		size_t need = strlen(o->keyword) + 2 * strlen(o->val) + 5;
		if (n + need >= outsz) {
			st = al_err_set(err, AL_ELIMIT, "database URL: too long");
			break;
		}
		n += (size_t)snprintf(out + n, outsz - n, "%s%s='", n ? " " : "", o->keyword);
		for (const char *c = o->val; *c; c++) {
			if (*c == '\\' || *c == '\'')
				out[n++] = '\\';
			out[n++] = *c;
		}
		out[n++] = '\'';
		out[n] = '\0';
	}
	PQconninfoFree(opts);
	return st;
}

/* Run argv (pg_dump or pg_restore) and wait for it. A password, when given,
 * goes through the child's environment, never its command line. */
static al_status run_tool(char *const argv[], const char *password, al_err *err)
{
	pid_t pid = fork();
	if (pid < 0)
		return al_err_set(err, AL_EIO, "%s: cannot start: fork failed", argv[0]);
	if (pid == 0) {
		umask(077); /* pg_dump's file holds client data: owner only */
		if (password != NULL && password[0] != '\0')
			setenv("PGPASSWORD", password, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	int status = 0;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return al_err_set(err, AL_ESTORE, "%s failed (exit status %d)%s", argv[0],
		                  WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		                  WIFEXITED(status) && WEXITSTATUS(status) == 127
		                      ? ": is it installed and on PATH?"
		                      : "");
	return AL_OK;
}

static al_status pg_backup(store_drv *d, const char *path, al_err *err)
{
	char conninfo[4096], pw[1024];
	al_status st =
	    store_pg_split_password(d->url, conninfo, sizeof conninfo, pw, sizeof pw, err);
	if (st != AL_OK)
		return st;
	char *const argv[] = {"pg_dump",    "--format=custom", "--no-owner", "--file",
	                      (char *)path, "--dbname",        conninfo,     NULL};
	st = run_tool(argv, pw, err);
	sodium_memzero(pw, sizeof pw);
	return st;
}

/* The key check a custom-format dump holds, "" when none: pg_restore lists
 * the meta table's rows as COPY text into a private temporary file. */
static al_status dump_key_check(const char *path, char *out, size_t outsz, al_err *err)
{
	const char *tmp = getenv("TMPDIR");
	char name[1024];
	snprintf(name, sizeof name, "%s/alliance-restore-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	out[0] = '\0';
	int fd = mkstemp(name);
	if (fd < 0)
		return al_err_set(err, AL_EIO, "%s: cannot make a temporary file", name);
	close(fd);
	char *const argv[] = {"pg_restore", "--data-only", "--table=meta", "--file", name,
	                      (char *)path, NULL};
	al_status st = run_tool(argv, NULL, err);
	FILE *f = st == AL_OK ? fopen(name, "r") : NULL;
	if (f != NULL) {
		char line[256];
		while (fgets(line, sizeof line, f) != NULL)
			if (strncmp(line, "key_check\t", 10) == 0) {
				snprintf(out, outsz, "%.*s", (int)strcspn(line + 10, "\r\n"),
				         line + 10);
				break;
			}
		fclose(f);
	}
	unlink(name);
	return st;
}

static al_status pg_restore(store_drv *d, const char *path, const char *key_check, al_err *err)
{
	char have[80];
	al_status st = dump_key_check(path, have, sizeof have, err);
	if (st != AL_OK)
		return st;
	if (key_check != NULL && have[0] != '\0' && strcmp(have, key_check) != 0)
		return al_err_set(err, AL_EAUTH,
		                  "%s: the backup was sealed with another key than the current key "
		                  "file (made before a key rotation?); nothing was restored",
		                  path);
	/* The prepared statements name tables that are about to be replaced. */
	PGresult *r = PQexec(d->conn, "DEALLOCATE ALL");
	PQclear(r);
	memset(d->prepared, 0, sizeof d->prepared);
	char conninfo[4096], pw[1024];
	if ((st = store_pg_split_password(d->url, conninfo, sizeof conninfo, pw, sizeof pw, err)) !=
	    AL_OK)
		return st;
	char *const argv[] = {
	    "pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
	    "--dbname",   conninfo,  (char *)path,  NULL};
	st = run_tool(argv, pw, err);
	sodium_memzero(pw, sizeof pw);
	return st;
}

static const store_ops pg_ops = {
    .name = "postgresql",
    .blob_type = "BYTEA",
    .close = pg_close,
    .exec = pg_exec,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .run = pg_run,
    .backup = pg_backup,
    .restore = pg_restore,
};

al_status store_pg_open(const char *url, const store_ops **ops, store_drv **out, al_err *err)
{
	store_drv *d = calloc(1, sizeof *d);
	if (d == NULL || (d->url = strdup(url)) == NULL) {
		free(d);
		return al_err_set(err, AL_ENOMEM, "out of memory");
	}
	d->conn = PQconnectdb(url);
	if (PQstatus(d->conn) != CONNECTION_OK) {
		char msg[512];
		snprintf(msg, sizeof msg, "%s", PQerrorMessage(d->conn));
		size_t n = strlen(msg);
		while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
			msg[--n] = '\0';
		pg_close(d);
		return al_err_set(err, AL_ESTORE, "postgresql: cannot connect: %s", msg);
	}
	/* Quiet the NOTICEs of CREATE ... IF NOT EXISTS on stderr. */
	PGresult *r = PQexec(d->conn, "SET client_min_messages = warning");
	PQclear(r);
	*ops = &pg_ops;
	*out = d;
	return AL_OK;
}
