/* store.c: the practice database above the backends (see store.h): opening
 * by URL, the statement catalogue, identifiers, transactions, people, notes,
 * submissions, the audit chain, export, backup and keys.
 *
 * Everything here is written once for both engines. The one SQL dialect is
 * the common subset of SQLite 3.35+ and PostgreSQL 12+ (ON CONFLICT,
 * RETURNING, $N parameters), so a statement that works in one test run
 * works in the other, and the same behavioural suite covers both. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/csv.h"
#include "store_int.h"

static const char *const catalogue[Q_COUNT] = {
    [Q_SCHEMA_VERSION] = "SELECT coalesce(max(version), 0) FROM schema_version",
    [Q_SCHEMA_ADD] = "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
    [Q_META_GET] = "SELECT value FROM meta WHERE name = $1",
    [Q_META_SET] = "INSERT INTO meta (name, value) VALUES ($1, $2) "
                   "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
    [Q_PRACTICE_ADD] = "INSERT INTO practices (practice_id, name, created_at) "
                       "VALUES ($1, $2, $3) ON CONFLICT (practice_id) DO NOTHING",
    [Q_IDS] = "UPDATE counters SET next_id = next_id + $3 "
              "WHERE practice_id = $1 AND name = $2 RETURNING next_id",
    [Q_COUNTER_ADD] = "INSERT INTO counters (practice_id, name, next_id) VALUES ($1, $2, 1) "
                      "ON CONFLICT (practice_id, name) DO NOTHING",
    [Q_USER_GET] = "SELECT user_id FROM users WHERE practice_id = $1 AND login = $2",
    [Q_USER_ADD] = "INSERT INTO users (practice_id, user_id, login, role, created_at) "
                   "VALUES ($1, $2, $3, $4, $5)",
    [Q_SUPERVISE] = "INSERT INTO supervision (practice_id, supervisor_id, supervisee_id) "
                    "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    [Q_CLIENT_GET] = "SELECT c.client_id, c.therapist_id, "
                     "(SELECT max(k.course_id) FROM courses k WHERE k.practice_id = "
                     "c.practice_id AND k.client_id = c.client_id AND k.ended_on IS NULL) "
                     "FROM clients c WHERE c.practice_id = $1 AND c.code = $2",
    [Q_CLIENT_ADD] = "INSERT INTO clients (practice_id, client_id, code, display_name, "
                     "therapist_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
    [Q_CLIENT_NAME] = "SELECT display_name FROM clients WHERE practice_id = $1 AND code = $2",
    [Q_COURSE_ADD] = "INSERT INTO courses (practice_id, course_id, client_id, therapist_id, "
                     "started_on) VALUES ($1, $2, $3, $4, $5)",
    [Q_SESSION_GET] = "SELECT session_id FROM sessions "
                      "WHERE practice_id = $1 AND course_id = $2 AND number = $3",
    [Q_SESSION_ADD] = "INSERT INTO sessions (practice_id, session_id, course_id, number, "
                      "held_on, modality, therapist_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    [Q_ADMIN_ADD] = "INSERT INTO administrations (practice_id, admin_id, client_id, "
                    "session_id, instrument, instrument_version, respondent, timing, source, "
                    "submitted_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
                    "ON CONFLICT (practice_id, session_id, instrument, timing) DO NOTHING",
    [Q_ADMIN_GET] = "SELECT admin_id FROM administrations WHERE practice_id = $1 AND "
                    "session_id = $2 AND instrument = $3 AND timing = $4",
    [Q_ANSWERS_ADD] = "INSERT INTO item_answers (practice_id, admin_id, answers) "
                      "VALUES ($1, $2, $3)",
    [Q_SCORE_ADD] = "INSERT INTO scores (practice_id, admin_id, scale, score, band) "
                    "VALUES ($1, $2, $3, $4, $5) "
                    "ON CONFLICT (practice_id, admin_id, scale) DO NOTHING",
    [Q_ALERT_ADD] = "INSERT INTO alerts (practice_id, alert_id, client_id, admin_id, kind, "
                    "trigger_text, raised_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    [Q_NOTE_LAST] = "SELECT version, client_id, body FROM notes WHERE practice_id = $1 AND "
                    "note_id = $2 ORDER BY version DESC LIMIT 1",
    [Q_NOTE_ADD] = "INSERT INTO notes (practice_id, note_id, version, client_id, author_id, "
                   "written_at, body) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    [Q_NOTE_ALL] = "SELECT practice_id, note_id, version, body FROM notes",
    [Q_NOTE_SET] = "UPDATE notes SET body = $4 "
                   "WHERE practice_id = $1 AND note_id = $2 AND version = $3",
    [Q_NAME_ALL] = "SELECT practice_id, client_id, display_name FROM clients "
                   "WHERE display_name IS NOT NULL",
    [Q_NAME_SET] = "UPDATE clients SET display_name = $3 "
                   "WHERE practice_id = $1 AND client_id = $2",
    [Q_AUDIT_LAST] = "SELECT hash FROM audit_log WHERE practice_id = $1 AND seq = $2",
    [Q_AUDIT_ADD] = "INSERT INTO audit_log (practice_id, seq, at, actor, action, object, "
                    "detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    [Q_AUDIT_ALL] = "SELECT practice_id, seq, at, actor, action, object, detail, prev_hash, "
                    "hash FROM audit_log ORDER BY practice_id, seq",
    [Q_AUDIT_ENDS] = "SELECT c.practice_id, c.next_id - 1, (SELECT max(a.seq) FROM audit_log a "
                     "WHERE a.practice_id = c.practice_id) FROM counters c WHERE c.name = $1",
    [Q_EXPORT] = "SELECT c.code, u.login, se.number, se.held_on, se.modality, a.instrument, "
                 "ia.answers FROM administrations a "
                 "JOIN item_answers ia ON ia.practice_id = a.practice_id AND "
                 "ia.admin_id = a.admin_id "
                 "JOIN sessions se ON se.practice_id = a.practice_id AND "
                 "se.session_id = a.session_id "
                 "JOIN clients c ON c.practice_id = a.practice_id AND c.client_id = a.client_id "
                 "LEFT JOIN users u ON u.practice_id = se.practice_id AND "
                 "u.user_id = se.therapist_id "
                 "WHERE a.practice_id = $1 ORDER BY a.client_id, se.number, a.instrument, a.timing",
    [Q_COUNTS] = "SELECT (SELECT count(*) FROM users WHERE practice_id = $1), "
                 "(SELECT count(*) FROM clients WHERE practice_id = $1), "
                 "(SELECT count(*) FROM courses WHERE practice_id = $1), "
                 "(SELECT count(*) FROM sessions WHERE practice_id = $1), "
                 "(SELECT count(*) FROM administrations WHERE practice_id = $1), "
                 "(SELECT count(*) FROM item_answers WHERE practice_id = $1), "
                 "(SELECT count(*) FROM scores WHERE practice_id = $1), "
                 "(SELECT count(*) FROM alerts WHERE practice_id = $1), "
                 "(SELECT count(*) FROM notes WHERE practice_id = $1), "
                 "(SELECT count(*) FROM audit_log WHERE practice_id = $1)",
};

static const char *const id_names[ID_KINDS] = {"user",  "client", "course", "session",
                                               "admin", "alert",  "note"};

#define ID_BLOCK 256 /* identifiers reserved per trip to the counters table */

/* ---- helpers --------------------------------------------------------- */

al_status store_q(store *s, int q, const store_val *p, int n, store_row_fn fn, void *ctx,
                  int64_t *changes, al_err *err)
{
	return s->ops->run(s->drv, q, catalogue[q], p, n, fn, ctx, changes, err);
}

typedef struct int_ctx {
	int64_t *out;
	int seen;
} int_ctx;

static al_status take_int(void *ctx, const store_val *c, int n, al_err *err)
{
	(void)err;
	int_ctx *k = ctx;
	if (!k->seen && n > 0 && c[0].t != SV_NULL)
		*k->out = c[0].t == SV_REAL ? (int64_t)c[0].d : c[0].i;
	k->seen = 1;
	return AL_OK;
}

al_status store_q_int(store *s, int q, const store_val *p, int n, int64_t *out, al_err *err)
{
	int_ctx k = {out, 0};
	return store_q(s, q, p, n, take_int, &k, NULL, err);
}

void store_now(char *out)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void forget_ids(store *s)
{
	memset(s->ids, 0, sizeof s->ids);
}

/* Reserve n identifiers of counter name: the first is returned in *first. */
static al_status reserve(store *s, const char *name, int64_t n, int64_t *first, al_err *err)
{
	int64_t next = -1;
	store_val p[3] = {VI(s->practice), VT(name), VI(n)};
	al_status st = store_q_int(s, Q_IDS, p, 3, &next, err);
	if (st != AL_OK)
		return st;
	if (next < 0)
		return al_err_set(err, AL_ESTORE,
		                  "%s: practice %lld has no '%s' counter (run 'alliance init')",
		                  s->url, (long long)s->practice, name);
	*first = next - n;
	return AL_OK;
}

al_status store_next_id(store *s, int kind, int64_t *id, al_err *err)
{
	store_ids *b = &s->ids[kind];
	if (b->next >= b->end) {
		int64_t first = 0;
		al_status st = reserve(s, id_names[kind], ID_BLOCK, &first, err);
		if (st != AL_OK)
			return st;
		b->next = first;
		b->end = first + ID_BLOCK;
	}
	*id = b->next++;
	return AL_OK;
}

al_status store_begin(store *s, al_err *err)
{
	if (s->in_tx)
		return al_err_set(err, AL_EINTERNAL, "store_begin: a transaction is already open");
	al_status st = s->ops->begin(s->drv, 1, err);
	if (st == AL_OK)
		s->in_tx = 1;
	return st;
}

al_status store_commit(store *s, al_err *err)
{
	al_status st = s->ops->commit(s->drv, err);
	if (st != AL_OK) {
		s->ops->rollback(s->drv);
		forget_ids(s);
	}
	s->in_tx = 0;
	return st;
}

void store_rollback(store *s)
{
	if (s->in_tx)
		s->ops->rollback(s->drv);
	s->in_tx = 0;
	/* identifiers reserved in the rolled-back transaction were given back */
	forget_ids(s);
}

al_status store_tx(store *s, int *own, al_err *err)
{
	*own = !s->in_tx;
	return *own ? store_begin(s, err) : AL_OK;
}

al_status store_end(store *s, int own, al_status st, al_err *err)
{
	if (!own)
		return st;
	if (st == AL_OK)
		return store_commit(s, err);
	store_rollback(s);
	return st;
}

const char *store_role_str(store_role r)
{
	switch (r) {
	case ROLE_ADMIN: return "admin";
	case ROLE_THERAPIST: return "therapist";
	case ROLE_SUPERVISOR: return "supervisor";
	}
	return "therapist";
}

const char *store_source_str(store_source r)
{
	switch (r) {
	case SRC_LINK: return "link";
	case SRC_KIOSK: return "kiosk";
	case SRC_STAFF: return "staff";
	case SRC_IMPORT: return "import";
	}
	return "staff";
}

/* ---- keys --------------------------------------------------------------- */

#define KEY_HEX ((size_t)2 * STORE_KEY_BYTES)

void store_key_path(const char *url, char *out, size_t outsz)
{
	if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
		snprintf(out, outsz, "alliance.key");
		return;
	}
	if (strncmp(url, "sqlite:", 7) == 0)
		url += 7;
	snprintf(out, outsz, "%s.key", url);
}

static al_status key_read(const char *path, unsigned char *key, al_err *err)
{
	char hex[KEY_HEX + 2] = {0};
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return errno == ENOENT ? AL_ENOTFOUND
		                       : al_err_set(err, AL_EIO, "%s: %s", path, strerror(errno));
	size_t n = fread(hex, 1, sizeof hex - 1, f);
	fclose(f);
	size_t bin = 0;
	if (n < KEY_HEX ||
	    sodium_hex2bin(key, STORE_KEY_BYTES, hex, KEY_HEX, NULL, &bin, NULL) != 0 ||
	    bin != STORE_KEY_BYTES)
		return al_err_set(err, AL_EAUTH, "%s: not a key file (expected %zu hex digits)",
		                  path, KEY_HEX);
	sodium_memzero(hex, sizeof hex);
	return AL_OK;
}

/* Write a new key file readable by its owner only; refuses to overwrite. */
static al_status key_write(const char *path, const unsigned char *key, al_err *err)
{
	char hex[KEY_HEX + 2];
	sodium_bin2hex(hex, sizeof hex, key, STORE_KEY_BYTES);
	hex[KEY_HEX] = '\n';
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return al_err_set(err, AL_EIO, "%s: %s", path, strerror(errno));
	al_status st = AL_OK;
	if (write(fd, hex, KEY_HEX + 1) != (ssize_t)(KEY_HEX + 1) || fsync(fd) != 0)
		st = al_err_set(err, AL_EIO, "%s: %s", path, strerror(errno));
	close(fd);
	sodium_memzero(hex, sizeof hex);
	if (st != AL_OK)
		unlink(path);
	return st;
}

/* A keyed hash of a fixed text: lets the database say whether a key file is
 * the one its data was sealed with, without holding the key. */
static void key_check(const unsigned char *key, char *hex)
{
	static const char msg[] = "alliance key check";
	unsigned char h[16];
	crypto_generichash(h, sizeof h, (const unsigned char *)msg, sizeof msg - 1, key,
	                   STORE_KEY_BYTES);
	sodium_bin2hex(hex, 33, h, sizeof h);
}

typedef struct text_ctx {
	char *buf;
	size_t size;
	int seen;
} text_ctx;

static al_status take_text(void *ctx, const store_val *c, int n, al_err *err)
{
	(void)err;
	text_ctx *k = ctx;
	if (n > 0 && c[0].t == SV_TEXT && !k->seen) {
		size_t len = c[0].len < k->size - 1 ? c[0].len : k->size - 1;
		memcpy(k->buf, c[0].p, len);
		k->buf[len] = '\0';
		k->seen = 1;
	}
	return AL_OK;
}

static al_status meta_get(store *s, const char *name, char *out, size_t outsz, int *found,
                          al_err *err)
{
	text_ctx k = {out, outsz, 0};
	store_val p[1] = {VT(name)};
	al_status st = store_q(s, Q_META_GET, p, 1, take_text, &k, NULL, err);
	*found = k.seen;
	return st;
}

static al_status meta_set(store *s, const char *name, const char *value, al_err *err)
{
	store_val p[2] = {VT(name), VT(value)};
	return store_q(s, Q_META_SET, p, 2, NULL, NULL, NULL, err);
}

/* Load the key file, or create it on init. A key file whose check does not
 * match the database is refused, except that a KEYFILE.new which matches
 * means a rotation committed but was cut off before the rename: finish it. */
static al_status key_setup(store *s, int init, al_err *err)
{
	char want[40], have[40], newpath[1100];
	int found = 0;
	al_status st = meta_get(s, "key_check", want, sizeof want, &found, err);
	if (st != AL_OK)
		return st;
	st = key_read(s->keyfile, s->key, err);
	if (st == AL_ENOTFOUND) {
		if (!init || found) {
			if (found && init)
				return al_err_set(
				    err, AL_EAUTH,
				    "%s: key file missing, but the database holds data sealed "
				    "with a key: restore the key file",
				    s->keyfile);
			return AL_OK; /* no key: encrypted fields are unavailable */
		}
		randombytes_buf(s->key, STORE_KEY_BYTES);
		st = key_write(s->keyfile, s->key, err);
		if (st != AL_OK)
			return st;
		key_check(s->key, have);
		st = meta_set(s, "key_check", have, err);
		if (st != AL_OK)
			return st;
		s->has_key = 1;
		return AL_OK;
	}
	if (st != AL_OK)
		return st;
	key_check(s->key, have);
	if (!found) {
		if (init && (st = meta_set(s, "key_check", have, err)) != AL_OK)
			return st;
		s->has_key = 1;
		return AL_OK;
	}
	if (strcmp(have, want) != 0) {
		snprintf(newpath, sizeof newpath, "%s.new", s->keyfile);
		if (key_read(newpath, s->key, err) == AL_OK) {
			key_check(s->key, have);
			if (strcmp(have, want) == 0 && rename(newpath, s->keyfile) == 0) {
				s->has_key = 1;
				return AL_OK;
			}
		}
		sodium_memzero(s->key, sizeof s->key);
		al_err_clear(err);
		return al_err_set(err, AL_EAUTH, "%s: this key file does not belong to %s",
		                  s->keyfile, s->url);
	}
	s->has_key = 1;
	return AL_OK;
}

/* Inside a write transaction, before sealing: is this connection's key
 * still the database's? Another process may have rotated it since we opened
 * the store, and a box sealed with the old key could never be opened again
 * (that key file is gone). The transaction's write lock keeps the answer
 * true until commit. */
static al_status key_current(store *s, al_err *err)
{
	char want[40], have[40];
	int found = 0;
	al_status st = meta_get(s, "key_check", want, sizeof want, &found, err);
	if (st != AL_OK)
		return st;
	if (!s->has_key)
		return AL_OK; /* store_seal refuses */
	key_check(s->key, have);
	if (found && strcmp(have, want) != 0)
		return al_err_set(err, AL_EAUTH,
		                  "%s: the key was rotated since this connection opened the "
		                  "database: open it again",
		                  s->url);
	return AL_OK;
}

al_status store_seal(store *s, const void *msg, size_t len, unsigned char **out, size_t *outlen,
                     al_err *err)
{
	if (!s->has_key)
		return al_err_set(err, AL_EAUTH,
		                  "%s: no key file (create one with 'alliance init')", s->keyfile);
	size_t n = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + len;
	unsigned char *b = malloc(n);
	if (b == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	randombytes_buf(b, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(b + crypto_secretbox_NONCEBYTES, msg, len, b, s->key);
	*out = b;
	*outlen = n;
	return AL_OK;
}

al_status store_open_box(store *s, const void *box, size_t len, char **out, al_err *err)
{
	if (!s->has_key)
		return al_err_set(err, AL_EAUTH, "%s: no key file", s->keyfile);
	const unsigned char *b = box;
	if (len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
		return al_err_set(err, AL_EAUTH, "an encrypted field is too short");
	size_t n = len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
	char *m = malloc(n + 1);
	if (m == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	if (crypto_secretbox_open_easy((unsigned char *)m, b + crypto_secretbox_NONCEBYTES,
	                               len - crypto_secretbox_NONCEBYTES, b, s->key) != 0) {
		free(m);
		return al_err_set(err, AL_EAUTH, "%s: cannot decrypt: wrong key", s->keyfile);
	}
	m[n] = '\0';
	*out = m;
	return AL_OK;
}

/* ---- open and close ------------------------------------------------------ */

static int is_pg(const char *url)
{
	return strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
}

static al_status init_practice(store *s, al_err *err)
{
	char now[32];
	store_now(now);
	int own;
	al_status st = store_tx(s, &own, err);
	if (st != AL_OK)
		return st;
	store_val p[3] = {VI(s->practice), VT("default practice"), VT(now)};
	st = store_q(s, Q_PRACTICE_ADD, p, 3, NULL, NULL, NULL, err);
	for (int k = 0; k < ID_KINDS && st == AL_OK; k++) {
		store_val c[2] = {VI(s->practice), VT(id_names[k])};
		st = store_q(s, Q_COUNTER_ADD, c, 2, NULL, NULL, NULL, err);
	}
	if (st == AL_OK) {
		store_val c[2] = {VI(s->practice), VT("audit")};
		st = store_q(s, Q_COUNTER_ADD, c, 2, NULL, NULL, NULL, err);
	}
	return store_end(s, own, st, err);
}

al_status store_open(store **out, const store_opts *o, al_err *err)
{
	*out = NULL;
	if (sodium_init() < 0)
		return al_err_set(err, AL_EINTERNAL, "libsodium cannot initialise");
	store *s = calloc(1, sizeof *s);
	if (s == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	al_status st;
	const char *url = o->url;
	if (url == NULL || url[0] == '\0')
		url = getenv("ALLIANCE_DB");
	if (url == NULL || url[0] == '\0')
		url = STORE_DEFAULT_DB;
	snprintf(s->url, sizeof s->url, "%s", url);
	const char *key = o->key ? o->key : getenv("ALLIANCE_KEY");
	if (key != NULL && key[0] != '\0')
		snprintf(s->keyfile, sizeof s->keyfile, "%s", key);
	else
		store_key_path(url, s->keyfile, sizeof s->keyfile);
	const char *actor = o->actor ? o->actor : getenv("ALLIANCE_USER");
	if (actor != NULL && actor[0] != '\0') {
		snprintf(s->actor, sizeof s->actor, "%s", actor);
	} else {
		const char *u = getenv("USER");
		snprintf(s->actor, sizeof s->actor, "cli:%s", u && u[0] ? u : "unknown");
	}
	s->practice = o->practice > 0 ? o->practice : 1;
	if (is_pg(url)) {
		st = store_pg_open(url, &s->ops, &s->drv, err);
	} else {
		const char *path = strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
		struct stat sb;
		if (path[0] == '\0') {
			st = al_err_set(err, AL_EINPUT, "%s: no file name after 'sqlite:'", url);
			goto fail;
		}
		if (!o->init && stat(path, &sb) != 0) {
			st = al_err_set(
			    err, AL_ENOTFOUND,
			    "%s: no such database (create it with 'alliance init --db %s')", path,
			    url);
			goto fail;
		}
		st = store_sqlite_open(path, o->busy_ms, &s->ops, &s->drv, err);
	}
	if (st != AL_OK)
		goto fail;
	int version = 0;
	st = o->init ? store_migrate(s, err) : store_schema_read(s, &version, err);
	if (st != AL_OK)
		goto fail;
	if (!o->init && version != STORE_SCHEMA_VERSION) {
		st = al_err_set(
		    err, AL_ESTORE,
		    version < STORE_SCHEMA_VERSION
		        ? "%s: the database schema is version %d, this alliance needs %d: "
		          "run 'alliance init --db URL' to upgrade it"
		        : "%s: the database schema is version %d, newer than this "
		          "alliance (%d): upgrade alliance",
		    s->url, version, STORE_SCHEMA_VERSION);
		goto fail;
	}
	if (o->init && (st = init_practice(s, err)) != AL_OK)
		goto fail;
	if ((st = key_setup(s, o->init, err)) != AL_OK)
		goto fail;
	*out = s;
	return AL_OK;
fail:
	store_close(s);
	return st;
}

void store_close(store *s)
{
	if (s == NULL)
		return;
	if (s->in_tx)
		store_rollback(s);
	if (s->real_ops != NULL) {
		store_fault_unwrap(s->drv);
		s->ops = s->real_ops;
		s->drv = s->real_drv;
	}
	if (s->ops != NULL)
		s->ops->close(s->drv);
	sodium_memzero(s->key, sizeof s->key);
	free(s);
}

const char *store_url(const store *s)
{
	return s->url;
}
const char *store_key_file(const store *s)
{
	return s->keyfile;
}
const char *store_backend(const store *s)
{
	return (s->real_ops ? s->real_ops : s->ops)->name;
}

int store_schema_version(store *s, int *version, al_err *err)
{
	return store_schema_read(s, version, err);
}

void store_fault_arm(store *s, long fail_at, al_status how, int sticky)
{
	if (s->real_ops == NULL) {
		s->real_ops = s->ops;
		s->real_drv = s->drv;
	} else {
		store_fault_unwrap(s->drv);
	}
	if (store_fault_wrap(s->real_ops, s->real_drv, fail_at, how, sticky, &s->ops, &s->drv) !=
	    AL_OK) {
		s->ops = s->real_ops; /* out of memory in a test: run unwrapped */
		s->drv = s->real_drv;
		s->real_ops = NULL;
		s->real_drv = NULL;
	}
}

long store_fault_calls(const store *s)
{
	return s->real_ops ? store_fault_count(s->drv) : 0;
}

/* ---- the audit chain ------------------------------------------------------- */

#define HASH_BYTES 32

/* hash = BLAKE2b-256(prev_hash, practice, seq, at, actor, action, object,
 * detail), each text followed by a NUL so fields cannot run together. */
static void audit_hash(unsigned char *out, const unsigned char *prev, int64_t practice, int64_t seq,
                       const store_val *txt)
{
	crypto_generichash_state h;
	crypto_generichash_init(&h, NULL, 0, HASH_BYTES);
	crypto_generichash_update(&h, prev, HASH_BYTES);
	unsigned char num[16];
	for (int i = 0; i < 8; i++) {
		num[i] = (unsigned char)((uint64_t)practice >> (8 * i));
		num[8 + i] = (unsigned char)((uint64_t)seq >> (8 * i));
	}
	crypto_generichash_update(&h, num, sizeof num);
	static const unsigned char zero = 0;
	for (int i = 0; i < 5; i++) {
		crypto_generichash_update(&h, txt[i].p, txt[i].len);
		crypto_generichash_update(&h, &zero, 1);
	}
	crypto_generichash_final(&h, out, HASH_BYTES);
}

typedef struct blob_ctx {
	unsigned char *out;
	size_t size;
	int seen;
} blob_ctx;

static al_status take_blob(void *ctx, const store_val *c, int n, al_err *err)
{
	(void)err;
	blob_ctx *k = ctx;
	if (n > 0 && c[0].t == SV_BLOB && c[0].len == k->size) {
		memcpy(k->out, c[0].p, k->size);
		k->seen = 1;
	}
	return AL_OK;
}

al_status store_audit(store *s, const char *action, const char *object, const char *detail,
                      al_err *err)
{
	int own;
	al_status st = store_tx(s, &own, err);
	if (st != AL_OK)
		return st;
	/* The counter's row lock also serialises appenders on PostgreSQL, so
	 * two transactions cannot both chain onto the same entry. */
	int64_t seq = 0;
	st = reserve(s, "audit", 1, &seq, err);
	if (st != AL_OK)
		goto out;
	unsigned char prev[HASH_BYTES] = {0}, hash[HASH_BYTES];
	if (seq > 1) {
		blob_ctx k = {prev, HASH_BYTES, 0};
		store_val p[2] = {VI(s->practice), VI(seq - 1)};
		st = store_q(s, Q_AUDIT_LAST, p, 2, take_blob, &k, NULL, err);
		if (st != AL_OK)
			goto out;
		if (!k.seen) {
			st = al_err_set(err, AL_ESTORE, "audit log: entry %lld is missing",
			                (long long)(seq - 1));
			goto out;
		}
	}
	char now[32];
	store_now(now);
	store_val txt[5] = {VT(now), VT(s->actor), VT(action), VT(object), VT(detail)};
	audit_hash(hash, prev, s->practice, seq, txt);
	store_val p[9] = {VI(s->practice),
	                  VI(seq),
	                  txt[0],
	                  txt[1],
	                  txt[2],
	                  txt[3],
	                  txt[4],
	                  VB(prev, HASH_BYTES),
	                  VB(hash, HASH_BYTES)};
	st = store_q(s, Q_AUDIT_ADD, p, 9, NULL, NULL, NULL, err);
out:
	return store_end(s, own, st, err);
}

typedef struct verify_ctx {
	int64_t practice, seq;
	unsigned char last[HASH_BYTES];
	long n;
} verify_ctx;

static al_status verify_row(void *ctx, const store_val *c, int n, al_err *err)
{
	verify_ctx *v = ctx;
	if (n < 9)
		return al_err_set(err, AL_EINTERNAL, "audit: short row");
	int64_t practice = c[0].i, seq = c[1].i;
	if (practice != v->practice) {
		v->practice = practice;
		v->seq = 0;
		memset(v->last, 0, HASH_BYTES);
	}
	char what[200];
	snprintf(what, sizeof what, "audit log: practice %lld, entry %lld (%.*s %.*s at %.*s)",
	         (long long)practice, (long long)seq, (int)(c[4].len > 40 ? 40 : c[4].len),
	         (const char *)c[4].p, (int)(c[5].len > 60 ? 60 : c[5].len), (const char *)c[5].p,
	         (int)(c[2].len > 20 ? 20 : c[2].len), (const char *)c[2].p);
	for (int i = 2; i <= 6; i++)
		if (c[i].t != SV_TEXT)
			return al_err_set(err, AL_ESTORE, "%s: a field is not text", what);
	if (seq != v->seq + 1)
		return al_err_set(err, AL_ESTORE, "%s: entries %lld to %lld are missing", what,
		                  (long long)v->seq + 1, (long long)seq - 1);
	if (c[7].t != SV_BLOB || c[7].len != HASH_BYTES || memcmp(c[7].p, v->last, HASH_BYTES) != 0)
		return al_err_set(err, AL_ESTORE,
		                  "%s: prev_hash does not match the entry before it", what);
	unsigned char h[HASH_BYTES];
	audit_hash(h, v->last, practice, seq, &c[2]);
	if (c[8].t != SV_BLOB || c[8].len != HASH_BYTES || memcmp(c[8].p, h, HASH_BYTES) != 0)
		return al_err_set(err, AL_ESTORE,
		                  "%s: hash does not match its contents: the entry was altered",
		                  what);
	memcpy(v->last, h, HASH_BYTES);
	v->seq = seq;
	v->n++;
	return AL_OK;
}

/* The chain cannot show that its newest entries were removed: the audit
 * counter, advanced in the same transaction as each entry, says how many
 * each practice must have. */
static al_status verify_end(void *ctx, const store_val *c, int n, al_err *err)
{
	(void)ctx;
	if (n < 3)
		return al_err_set(err, AL_EINTERNAL, "audit: short row");
	int64_t want = c[1].i, have = c[2].t == SV_NULL ? 0 : c[2].i;
	if (have != want)
		return al_err_set(err, AL_ESTORE,
		                  "audit log: practice %lld has entries up to %lld, its counter "
		                  "says %lld: entries %lld to %lld are missing",
		                  (long long)c[0].i, (long long)have, (long long)want,
		                  (long long)(have < want ? have + 1 : want + 1),
		                  (long long)(have < want ? want : have));
	return AL_OK;
}

al_status store_audit_verify(store *s, long *entries, al_err *err)
{
	verify_ctx v = {.practice = -1};
	al_status st = store_q(s, Q_AUDIT_ALL, NULL, 0, verify_row, &v, NULL, err);
	*entries = v.n;
	if (st == AL_OK) {
		store_val p[1] = {VT("audit")};
		st = store_q(s, Q_AUDIT_ENDS, p, 1, verify_end, NULL, NULL, err);
	}
	return st;
}

/* ---- people ---------------------------------------------------------------- */

al_status store_user_ensure(store *s, const char *login, store_role role, int64_t *id, al_err *err)
{
	int own;
	al_status st = store_tx(s, &own, err);
	if (st != AL_OK)
		return st;
	*id = 0;
	store_val p[5] = {VI(s->practice), VT(login)};
	st = store_q_int(s, Q_USER_GET, p, 2, id, err);
	if (st == AL_OK && *id == 0) {
		char now[32];
		store_now(now);
		st = store_next_id(s, ID_USER, id, err);
		p[1] = VI(*id);
		p[2] = VT(login);
		p[3] = VT(store_role_str(role));
		p[4] = VT(now);
		if (st == AL_OK)
			st = store_q(s, Q_USER_ADD, p, 5, NULL, NULL, NULL, err);
		if (st == AL_OK)
			st = store_audit(s, "user.add", login, store_role_str(role), err);
	}
	return store_end(s, own, st, err);
}

al_status store_supervise(store *s, int64_t supervisor, int64_t supervisee, al_err *err)
{
	store_val p[3] = {VI(s->practice), VI(supervisor), VI(supervisee)};
	return store_q(s, Q_SUPERVISE, p, 3, NULL, NULL, NULL, err);
}

typedef struct client_row {
	int64_t id, therapist, course;
	int seen;
} client_row;

static al_status take_client(void *ctx, const store_val *c, int n, al_err *err)
{
	(void)err;
	client_row *k = ctx;
	if (n >= 3) {
		k->id = c[0].i;
		k->therapist = c[1].t == SV_INT ? c[1].i : 0;
		k->course = c[2].t == SV_INT ? c[2].i : 0;
		k->seen = 1;
	}
	return AL_OK;
}

static al_status client_get(store *s, const char *code, size_t len, client_row *k, al_err *err)
{
	memset(k, 0, sizeof *k);
	store_val p[2] = {VI(s->practice), VTN(code, len)};
	return store_q(s, Q_CLIENT_GET, p, 2, take_client, k, NULL, err);
}

al_status store_client_locate(store *s, const char *code, size_t code_len, int64_t therapist,
                              const unsigned char *box, size_t boxlen, const char *date,
                              int64_t *client, int64_t *course, int *created, al_err *err)
{
	client_row k;
	*created = 0;
	al_status st = client_get(s, code, code_len, &k, err);
	if (st != AL_OK)
		return st;
	if (!k.seen) {
		char now[32];
		store_now(now);
		if ((st = store_next_id(s, ID_CLIENT, &k.id, err)) != AL_OK)
			return st;
		store_val p[6] = {VI(s->practice),
		                  VI(k.id),
		                  VTN(code, code_len),
		                  box ? VB(box, boxlen) : VNULL,
		                  therapist ? VI(therapist) : VNULL,
		                  VT(now)};
		if ((st = store_q(s, Q_CLIENT_ADD, p, 6, NULL, NULL, NULL, err)) != AL_OK)
			return st;
		*created = 1;
	}
	*client = k.id;
	*course = k.course;
	if (k.course != 0)
		return AL_OK;
	if ((st = store_next_id(s, ID_COURSE, course, err)) != AL_OK)
		return st;
	store_val c[5] = {VI(s->practice), VI(*course), VI(k.id), therapist ? VI(therapist) : VNULL,
	                  VTN(date, 10)};
	return store_q(s, Q_COURSE_ADD, c, 5, NULL, NULL, NULL, err);
}

al_status store_client_ensure(store *s, const char *code, size_t code_len, int64_t therapist,
                              const char *display_name, int64_t *id, al_err *err)
{
	int own;
	al_status st = store_tx(s, &own, err);
	if (st != AL_OK)
		return st;
	unsigned char *box = NULL;
	size_t boxlen = 0;
	int64_t course;
	int created = 0;
	char now[32];
	store_now(now);
	if (display_name != NULL &&
	    ((st = key_current(s, err)) != AL_OK ||
	     (st = store_seal(s, display_name, strlen(display_name), &box, &boxlen, err)) != AL_OK))
		goto out;
	st = store_client_locate(s, code, code_len, therapist, box, boxlen, now, id, &course,
	                         &created, err);
	if (st != AL_OK || !created)
		goto out;
	char obj[ITEMROW_ID_MAX + 16];
	snprintf(obj, sizeof obj, "client %.*s", (int)code_len, code);
	st = store_audit(s, "client.add", obj, display_name ? "with display name" : "", err);
out:
	free(box);
	return store_end(s, own, st, err);
}

typedef struct box_ctx {
	unsigned char *p;
	size_t len;
	int seen, null;
	int64_t a, b;
} box_ctx;

/* Keep a copy of column col (a blob) and the integers of columns ia, ib. */
static al_status copy_box(box_ctx *k, const store_val *c, int n, int col, al_err *err)
{
	if (k->seen || n <= col)
		return AL_OK;
	k->seen = 1;
	if (c[col].t == SV_NULL) {
		k->null = 1;
		return AL_OK;
	}
	k->p = malloc(c[col].len ? c[col].len : 1);
	if (k->p == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	memcpy(k->p, c[col].p, c[col].len);
	k->len = c[col].len;
	return AL_OK;
}

static al_status take_name(void *ctx, const store_val *c, int n, al_err *err)
{
	return copy_box(ctx, c, n, 0, err);
}

al_status store_client_name(store *s, const char *code, char *out, size_t outsz, al_err *err)
{
	int own;
	al_status st = store_tx(s, &own, err);
	if (st != AL_OK)
		return st;
	box_ctx k = {0};
	char *name = NULL;
	store_val p[2] = {VI(s->practice), VT(code)};
	if ((st = store_q(s, Q_CLIENT_NAME, p, 2, take_name, &k, NULL, err)) != AL_OK)
		goto out;
	if (!k.seen) {
		st = al_err_set(err, AL_ENOTFOUND, "no client with code %s", code);
		goto out;
	}
	out[0] = '\0';
	if (!k.null) {
		if ((st = store_open_box(s, k.p, k.len, &name, err)) != AL_OK)
			goto out;
		snprintf(out, outsz, "%s", name);
	}
	char obj[128];
	snprintf(obj, sizeof obj, "client %s", code);
	st = store_audit(s, "client.read_name", obj, "", err);
out:
	free(k.p);
	if (name)
		sodium_memzero(name, strlen(name));
	free(name);
	return store_end(s, own, st, err);
}

/* ---- notes ------------------------------------------------------------------- */

static al_status take_note(void *ctx, const store_val *c, int n, al_err *err)
{
	box_ctx *k = ctx;
	if (n >= 3 && !k->seen) {
		k->a = c[0].i; /* version */
		k->b = c[1].i; /* client */
	}
	return copy_box(k, c, n, 2, err);
}

al_status store_note_write(store *s, const char *client_code, int64_t author, const char *text,
                           int64_t *note, al_err *err)
{
	int own;
	al_status st = store_tx(s, &own, err);
	if (st != AL_OK)
		return st;
	unsigned char *box = NULL;
	size_t boxlen;
	box_ctx k = {0};
	client_row c;
	int64_t version = 1;
	if ((st = client_get(s, client_code, strlen(client_code), &c, err)) != AL_OK)
		goto out;
	if (!c.seen) {
		st = al_err_set(err, AL_ENOTFOUND, "no client with code %s", client_code);
		goto out;
	}
	if (*note != 0) {
		store_val p[2] = {VI(s->practice), VI(*note)};
		if ((st = store_q(s, Q_NOTE_LAST, p, 2, take_note, &k, NULL, err)) != AL_OK)
			goto out;
		if (!k.seen || k.b != c.id) {
			st = al_err_set(err, AL_ENOTFOUND, "no note %lld for client %s",
			                (long long)*note, client_code);
			goto out;
		}
		version = k.a + 1;
	} else if ((st = store_next_id(s, ID_NOTE, note, err)) != AL_OK) {
		goto out;
	}
	if ((st = key_current(s, err)) != AL_OK ||
	    (st = store_seal(s, text, strlen(text), &box, &boxlen, err)) != AL_OK)
		goto out;
	char now[32];
	store_now(now);
	store_val p[7] = {VI(s->practice), VI(*note), VI(version),    VI(c.id),
	                  VI(author),      VT(now),   VB(box, boxlen)};
	if ((st = store_q(s, Q_NOTE_ADD, p, 7, NULL, NULL, NULL, err)) != AL_OK)
		goto out;
	char obj[160], detail[32];
	snprintf(obj, sizeof obj, "client %s note %lld", client_code, (long long)*note);
	snprintf(detail, sizeof detail, "version %lld", (long long)version);
	st = store_audit(s, "note.write", obj, detail, err);
out:
	free(k.p);
	free(box);
	return store_end(s, own, st, err);
}

al_status store_note_read(store *s, int64_t note, char **text, int *version, al_err *err)
{
	*text = NULL;
	int own;
	al_status st = store_tx(s, &own, err);
	if (st != AL_OK)
		return st;
	box_ctx k = {0};
	store_val p[2] = {VI(s->practice), VI(note)};
	if ((st = store_q(s, Q_NOTE_LAST, p, 2, take_note, &k, NULL, err)) != AL_OK)
		goto out;
	if (!k.seen || k.null) {
		st = al_err_set(err, AL_ENOTFOUND, "no note %lld", (long long)note);
		goto out;
	}
	if ((st = store_open_box(s, k.p, k.len, text, err)) != AL_OK)
		goto out;
	*version = (int)k.a;
	char obj[64];
	snprintf(obj, sizeof obj, "note %lld", (long long)note);
	st = store_audit(s, "note.read", obj, "", err);
out:
	free(k.p);
	if (st != AL_OK && own) {
		free(*text);
		*text = NULL;
	}
	st = store_end(s, own, st, err);
	if (st != AL_OK) {
		free(*text);
		*text = NULL;
	}
	return st;
}

/* ---- administrations ------------------------------------------------------- */

/* "1,0,,3": the answers in item order, empty where skipped. out holds at
 * least INST_MAX_ITEMS * 12 bytes. */
size_t store_answers_text(const inst_def *d, const int *values, char *out)
{
	char *o = out;
	for (int i = 0; i < d->nitems; i++) {
		if (i > 0)
			*o++ = ',';
		if (values[i] != SCORE_SKIPPED)
			o += sprintf(o, "%d", values[i]);
	}
	*o = '\0';
	return (size_t)(o - out);
}

/* Add an administration with its answers and scores to session. *added is 0
 * when one was already there (nothing is changed then). */
al_status store_admin_add(store *s, int64_t client, int64_t session, const inst_def *d,
                          const int *values, store_source src, int after, const char *now,
                          int64_t *admin, int *added, score_result *r, al_err *err)
{
	al_status st = store_next_id(s, ID_ADMIN, admin, err);
	if (st != AL_OK)
		return st;
	int64_t changes = 0;
	store_val p[10] = {VI(s->practice),
	                   VI(*admin),
	                   VI(client),
	                   VI(session),
	                   VT(d->id),
	                   VT(d->version),
	                   VT(d->respondent == INST_THERAPIST ? "therapist" : "client"),
	                   VT(after ? "after" : "before"),
	                   VT(store_source_str(src)),
	                   VT(now)};
	if ((st = store_q(s, Q_ADMIN_ADD, p, 10, NULL, NULL, &changes, err)) != AL_OK)
		return st;
	*added = changes > 0;
	if (!*added)
		return AL_OK;
	if (values == NULL)
		return AL_OK;
	char text[INST_MAX_ITEMS * 12];
	size_t tl = store_answers_text(d, values, text);
	store_val a[3] = {VI(s->practice), VI(*admin), VTN(text, tl)};
	if ((st = store_q(s, Q_ANSWERS_ADD, a, 3, NULL, NULL, NULL, err)) != AL_OK)
		return st;
	if ((st = score_administration(d, values, r, err)) != AL_OK)
		return st;
	if (!r->total.valid)
		return AL_OK;
	store_val sc[5] = {VI(s->practice), VI(*admin), VT("total"), VR(r->total.score),
	                   r->band ? VT(r->band) : VNULL};
	if ((st = store_q(s, Q_SCORE_ADD, sc, 5, NULL, NULL, NULL, err)) != AL_OK)
		return st;
	for (int k = 0; k < r->nsub; k++) {
		if (!r->sub[k].valid)
			continue;
		store_val ss[5] = {VI(s->practice), VI(*admin), VT(d->sub[k].name),
		                   VR(r->sub[k].score), VNULL};
		if ((st = store_q(s, Q_SCORE_ADD, ss, 5, NULL, NULL, NULL, err)) != AL_OK)
			return st;
	}
	return AL_OK;
}

/* The session numbered number in course, created when absent. */
al_status store_session_ensure(store *s, int64_t course, int number, const char *date, modality mod,
                               int64_t therapist, int known_new, int64_t *id, al_err *err)
{
	al_status st;
	*id = 0;
	if (!known_new) {
		store_val p[3] = {VI(s->practice), VI(course), VI(number)};
		if ((st = store_q_int(s, Q_SESSION_GET, p, 3, id, err)) != AL_OK || *id != 0)
			return st;
	}
	if ((st = store_next_id(s, ID_SESSION, id, err)) != AL_OK)
		return st;
	store_val p[7] = {VI(s->practice),
	                  VI(*id),
	                  VI(course),
	                  VI(number),
	                  VTN(date, 10),
	                  VT(modality_str(mod)),
	                  therapist ? VI(therapist) : VNULL};
	return store_q(s, Q_SESSION_ADD, p, 7, NULL, NULL, NULL, err);
}

al_status store_submit(store *s, const store_submission *sub, int *alerts, al_err *err)
{
	if (alerts)
		*alerts = 0;
	if (sub->date == NULL || strlen(sub->date) != 10 || sub->session < 1)
		return al_err_set(err, AL_EINPUT,
		                  "submission: a session number and date are needed");
	int own;
	al_status st = store_tx(s, &own, err);
	if (st != AL_OK)
		return st;
	client_row c;
	if ((st = client_get(s, sub->client, strlen(sub->client), &c, err)) != AL_OK)
		goto out;
	if (!c.seen || c.course == 0) {
		st = al_err_set(err, AL_ENOTFOUND, "no client with code %s in treatment",
		                sub->client);
		goto out;
	}
	int64_t session, admin;
	if ((st = store_session_ensure(s, c.course, sub->session, sub->date, sub->mod, c.therapist,
	                               0, &session, err)) != AL_OK)
		goto out;
	char now[32];
	store_now(now);
	int added = 0;
	score_result r;
	memset(&r, 0, sizeof r);
	if ((st = store_admin_add(s, c.id, session, sub->inst, sub->values, sub->source, sub->after,
	                          now, &admin, &added, &r, err)) != AL_OK)
		goto out;
	if (!added) {
		st = al_err_set(err, AL_EINPUT, "client %s, session %d: %s is already recorded",
		                sub->client, sub->session, sub->inst->id);
		goto out;
	}
	for (int k = 0; k < r.ncritical; k++) {
		const inst_critical *cr = &sub->inst->critical[r.critical[k]];
		char trig[256];
		snprintf(trig, sizeof trig, "%s item %d answered %d (alert at %d or more): %s",
		         sub->inst->id, cr->item, sub->values[cr->item - 1], cr->at_least,
		         cr->label);
		int64_t alert;
		if ((st = store_next_id(s, ID_ALERT, &alert, err)) != AL_OK)
			goto out;
		store_val p[7] = {VI(s->practice), VI(alert), VI(c.id), VI(admin),
		                  VT(cr->alert),   VT(trig),  VT(now)};
		if ((st = store_q(s, Q_ALERT_ADD, p, 7, NULL, NULL, NULL, err)) != AL_OK)
			goto out;
		if (alerts)
			(*alerts)++;
	}
	char obj[160], detail[64];
	snprintf(obj, sizeof obj, "client %s session %d", sub->client, sub->session);
	snprintf(detail, sizeof detail, "%s via %s, %d alert%s", sub->inst->id,
	         store_source_str(sub->source), r.ncritical, r.ncritical == 1 ? "" : "s");
	st = store_audit(s, "submit", obj, detail, err);
out:
	return store_end(s, own, st, err);
}

/* ---- export ------------------------------------------------------------------ */

typedef struct export_ctx {
	FILE *out;
	size_t rows;
} export_ctx;

static void put_text(FILE *f, const store_val *v)
{
	char buf[2 * 256 + 3];
	size_t len = v->t == SV_TEXT ? v->len : 0;
	if (len > 256)
		len = 256;
	size_t n = csv_escape(buf, v->t == SV_TEXT ? v->p : "", len);
	fwrite(buf, 1, n, f);
}

static al_status export_row(void *ctx, const store_val *c, int n, al_err *err)
{
	export_ctx *x = ctx;
	if (n < 7 || c[6].t != SV_TEXT)
		return al_err_set(err, AL_EINTERNAL, "export: unexpected row");
	const char *a = c[6].p, *end = a + c[6].len;
	for (int item = 1;; item++) {
		const char *comma = memchr(a, ',', (size_t)(end - a));
		const char *stop = comma ? comma : end;
		put_text(x->out, &c[0]);
		fputc(',', x->out);
		put_text(x->out, &c[1]);
		fprintf(x->out, ",%lld,%.*s,%.*s,%.*s,%d,%.*s\n", (long long)c[2].i, (int)c[3].len,
		        (const char *)c[3].p, (int)c[4].len, (const char *)c[4].p, (int)c[5].len,
		        (const char *)c[5].p, item, (int)(stop - a), a);
		x->rows++;
		if (comma == NULL)
			break;
		a = comma + 1;
	}
	if (ferror(x->out))
		return al_err_set(err, AL_EIO, "export: write error");
	return AL_OK;
}

al_status store_export_items(store *s, FILE *out, size_t *rows, al_err *err)
{
	int own;
	al_status st = store_tx(s, &own, err);
	if (st != AL_OK)
		return st;
	export_ctx x = {out, 0};
	fputs("client_id,therapist_id,session,date,modality,instrument,item,value\n", out);
	store_val p[1] = {VI(s->practice)};
	st = store_q(s, Q_EXPORT, p, 1, export_row, &x, NULL, err);
	*rows = x.rows;
	if (st == AL_OK) {
		char detail[64];
		snprintf(detail, sizeof detail, "%zu item rows", x.rows);
		st = store_audit(s, "export", "all clients", detail, err);
	}
	return store_end(s, own, st, err);
}

static al_status take_counts(void *ctx, const store_val *c, int n, al_err *err)
{
	(void)err;
	store_counts *k = ctx;
	int64_t *f[] = {&k->users,   &k->clients, &k->courses, &k->sessions, &k->admins,
	                &k->answers, &k->scores,  &k->alerts,  &k->notes,    &k->audit};
	for (int i = 0; i < n && i < (int)(sizeof f / sizeof f[0]); i++)
		*f[i] = c[i].i;
	return AL_OK;
}

al_status store_count(store *s, store_counts *out, al_err *err)
{
	memset(out, 0, sizeof *out);
	store_val p[1] = {VI(s->practice)};
	return store_q(s, Q_COUNTS, p, 1, take_counts, out, NULL, err);
}

/* ---- backup, restore, key rotation ----------------------------------------- */

al_status store_backup(store *s, const char *path, al_err *err)
{
	al_status st = s->ops->backup(s->drv, path, err);
	if (st == AL_OK)
		st = store_audit(s, "backup", path, "", err);
	return st;
}

al_status store_restore(store *s, const char *path, al_err *err)
{
	if (s->in_tx)
		return al_err_set(err, AL_EINTERNAL, "restore inside a transaction");
	forget_ids(s);
	/* A backup sealed with another key (made before a rotation) would leave
	 * a database that refuses this key file at every open. */
	char check[40];
	if (s->has_key)
		key_check(s->key, check);
	al_status st = s->ops->restore(s->drv, path, s->has_key ? check : NULL, err);
	if (st == AL_OK)
		st = store_audit(s, "restore", path, "", err);
	return st;
}

typedef struct reseal {
	int64_t practice, id, version;
	unsigned char *box;
	size_t len;
} reseal;

typedef struct reseal_list {
	reseal *v;
	size_t n, cap;
	int cols; /* 4: notes (practice, note, version, body); 3: names */
} reseal_list;

static al_status take_reseal(void *ctx, const store_val *c, int n, al_err *err)
{
	reseal_list *l = ctx;
	if (n < l->cols || c[l->cols - 1].t != SV_BLOB)
		return AL_OK;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		reseal *v = realloc(l->v, cap * sizeof *v);
		if (v == NULL)
			return al_err_set(err, AL_ENOMEM, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	reseal *r = &l->v[l->n];
	const store_val *b = &c[l->cols - 1];
	r->practice = c[0].i;
	r->id = c[1].i;
	r->version = l->cols == 4 ? c[2].i : 0;
	r->box = malloc(b->len ? b->len : 1);
	if (r->box == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	memcpy(r->box, b->p, b->len);
	r->len = b->len;
	l->n++;
	return AL_OK;
}

static void reseal_free(reseal_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].box);
	free(l->v);
}

/* Decrypt each box with the old key and seal it with the new one. */
static al_status reseal_all(store *s, reseal_list *l, const unsigned char *newkey, int q,
                            al_err *err)
{
	for (size_t i = 0; i < l->n; i++) {
		char *plain = NULL;
		unsigned char *box = NULL;
		size_t boxlen;
		al_status st = store_open_box(s, l->v[i].box, l->v[i].len, &plain, err);
		if (st != AL_OK || plain == NULL)
			return st != AL_OK ? st : AL_EINTERNAL;
		unsigned char old[STORE_KEY_BYTES];
		memcpy(old, s->key, sizeof old);
		memcpy(s->key, newkey, STORE_KEY_BYTES);
		st = store_seal(s, plain, strlen(plain), &box, &boxlen, err);
		memcpy(s->key, old, sizeof old);
		sodium_memzero(old, sizeof old);
		sodium_memzero(plain, strlen(plain));
		free(plain);
		if (st != AL_OK)
			return st;
		store_val p[4] = {VI(l->v[i].practice), VI(l->v[i].id), VI(l->v[i].version),
		                  VB(box, boxlen)};
		if (q == Q_NAME_SET)
			p[2] = p[3];
		st = store_q(s, q, p, q == Q_NAME_SET ? 3 : 4, NULL, NULL, NULL, err);
		free(box);
		if (st != AL_OK)
			return st;
	}
	return AL_OK;
}

al_status store_key_rotate(store *s, al_err *err)
{
	if (!s->has_key)
		return al_err_set(err, AL_EAUTH, "%s: no key file to rotate", s->keyfile);
	unsigned char newkey[STORE_KEY_BYTES];
	char newpath[1100], oldpath[1100], check[40];
	snprintf(newpath, sizeof newpath, "%s.new", s->keyfile);
	snprintf(oldpath, sizeof oldpath, "%s.old", s->keyfile);
	randombytes_buf(newkey, sizeof newkey);
	reseal_list notes = {.cols = 4}, names = {.cols = 3};
	unlink(newpath); /* a leftover of a rotation that never committed */
	al_status st = key_write(newpath, newkey, err);
	if (st != AL_OK)
		goto out;
	if ((st = store_begin(s, err)) != AL_OK)
		goto out_unlink;
	st = store_q(s, Q_NOTE_ALL, NULL, 0, take_reseal, &notes, NULL, err);
	if (st == AL_OK)
		st = store_q(s, Q_NAME_ALL, NULL, 0, take_reseal, &names, NULL, err);
	if (st == AL_OK)
		st = reseal_all(s, &notes, newkey, Q_NOTE_SET, err);
	if (st == AL_OK)
		st = reseal_all(s, &names, newkey, Q_NAME_SET, err);
	key_check(newkey, check);
	if (st == AL_OK)
		st = meta_set(s, "key_check", check, err);
	if (st == AL_OK) {
		char detail[96];
		snprintf(detail, sizeof detail, "%zu note versions, %zu display names", notes.n,
		         names.n);
		st = store_audit(s, "key.rotate", s->keyfile, detail, err);
	}
	if (st != AL_OK) {
		store_rollback(s);
		goto out_unlink;
	}
	if ((st = store_commit(s, err)) != AL_OK)
		goto out_unlink;
	/* Committed: the database now needs the new key. Keep the old file as
	 * .old until the new one is in place; a crash in between is repaired at
	 * the next open (key_setup finds the matching .new). */
	unlink(oldpath);
	if (link(s->keyfile, oldpath) != 0 || rename(newpath, s->keyfile) != 0) {
		st = al_err_set(err, AL_EIO,
		                "%s: %s; the new key is in %s: move it into place by hand",
		                s->keyfile, strerror(errno), newpath);
		goto out;
	}
	unlink(oldpath);
	memcpy(s->key, newkey, sizeof newkey);
	goto out;
out_unlink:
	unlink(newpath);
out:
	sodium_memzero(newkey, sizeof newkey);
	reseal_free(&notes);
	reseal_free(&names);
	return st;
}
