/* store.h: the practice database, behind one storage interface.
 *
 * Two layers. At the bottom, a backend (SQLite in store_sqlite.c, PostgreSQL
 * in store_pg.c) is one table of function pointers, store_ops: run a
 * prepared statement, begin, commit, roll back, back up. Every statement the
 * program runs is one of a fixed catalogue (store.c), written once in the
 * SQL both engines speak, with $1, $2 ... placeholders; values are always
 * bound, never pasted into SQL text. A test-only wrapper (store_fault.c)
 * sits between the two layers and can make call N fail.
 *
 * Above it, the functions a program calls (store_open, store_submit,
 * store_export ...) are written once for both backends. Each one that reads
 * or writes client data appends an entry to the audit log, in the same
 * transaction, so the log records who did what and when, and each entry's
 * BLAKE2b hash covers the entry before it (store_audit_verify).
 *
 * Ownership: a store is opened by store_open and released by store_close
 * (store_close(NULL) does nothing). Errors: AL_ESTORE (the database refused
 * or failed; the message names the engine's reason), AL_EBUSY (locked, may
 * succeed later), AL_EINPUT (a bad URL or argument), AL_EAUTH (wrong key),
 * AL_ENOMEM, AL_EIO (key or backup files). A failed write function leaves
 * nothing behind: it runs in a transaction it rolls back. */
#ifndef AL_STORE_H
#define AL_STORE_H

#include <stdint.h>
#include <stdio.h>

#include "../core/instrument.h"
#include "../core/itemrow.h"
#include "../core/score.h"
#include "../core/status.h"

/* ---- the backend interface ------------------------------------------- */

typedef enum store_type { SV_NULL, SV_INT, SV_REAL, SV_TEXT, SV_BLOB } store_type;

/* A bound parameter or a result column. p/len point to text (not
 * NUL-terminated) or blob bytes owned by whoever made the value; a result's
 * bytes are valid only during the row callback. */
typedef struct store_val {
	store_type t;
	int64_t i;
	double d;
	const void *p;
	size_t len;
} store_val;

/* Called once per result row; a status other than AL_OK stops the query
 * and is returned by run. */
typedef al_status (*store_row_fn)(void *ctx, const store_val *cols, int ncols, al_err *err);

typedef struct store_drv store_drv; /* a backend's connection */

#define STORE_MAX_STMTS 64 /* size of a backend's prepared-statement cache */

typedef struct store_ops {
	const char *name;      /* "sqlite" or "postgresql" */
	const char *blob_type; /* the column type of byte strings: BLOB, BYTEA */
	void (*close)(store_drv *d);
	/* Run a script of statements without parameters (migrations). */
	al_status (*exec)(store_drv *d, const char *sql, al_err *err);
	/* Start a transaction; write = 1 takes the write lock at once. */
	al_status (*begin)(store_drv *d, int write, al_err *err);
	al_status (*commit)(store_drv *d, al_err *err);
	/* Never fails visibly: a lost connection has rolled back anyway. */
	void (*rollback)(store_drv *d);
	/* Run catalogue statement slot (0..STORE_MAX_STMTS-1), whose text is sql,
	 * with n parameters; call fn (may be NULL) for each row. *changes (may be
	 * NULL) receives the rows an INSERT/UPDATE/DELETE touched. The backend
	 * prepares sql once per slot and reuses it. */
	al_status (*run)(store_drv *d, int slot, const char *sql, const store_val *params, int n,
	                 store_row_fn fn, void *ctx, int64_t *changes, al_err *err);
	/* Copy the whole database to a file, or replace it from one. restore
	 * refuses (AL_EAUTH) a backup whose meta key_check is not key_check
	 * (NULL: not checked), and one that is not a database of this schema. */
	al_status (*backup)(store_drv *d, const char *path, al_err *err);
	al_status (*restore)(store_drv *d, const char *path, const char *key_check, al_err *err);
} store_ops;

/* Backends: connect to a URL already stripped of nothing (the backend
 * parses its own form). */
al_status store_sqlite_open(const char *path, int busy_ms, const store_ops **ops, store_drv **d,
                            al_err *err);
al_status store_pg_open(const char *url, const store_ops **ops, store_drv **d, al_err *err);

/* Split a PostgreSQL URL or conninfo string into a conninfo string without
 * the password (for the command lines of pg_dump and pg_restore, which
 * other local users can read) and the password itself ("" when none), which
 * the tools then get through their environment. AL_EINPUT for a string
 * libpq cannot parse, AL_ELIMIT when out or pw is too small. */
al_status store_pg_split_password(const char *url, char *out, size_t outsz, char *pw, size_t pwsz,
                                  al_err *err);

/* ---- the store -------------------------------------------------------- */

typedef struct store store;

#define STORE_KEY_BYTES      32
#define STORE_DEFAULT_DB     "alliance.db"
#define STORE_SCHEMA_VERSION 1

/* What opening needs. Fields may be NULL for their defaults. */
typedef struct store_opts {
	const char
	    *url; /* sqlite:PATH, PATH, postgresql://... ; NULL: $ALLIANCE_DB, else alliance.db */
	const char *key;   /* key file; NULL: $ALLIANCE_KEY, else URL-derived (store_key_path) */
	const char *actor; /* who, for the audit log; NULL: $ALLIANCE_USER, else "cli:$USER" */
	int64_t practice;  /* tenant; 0 means 1, the default practice */
	int init;          /* 1: create or upgrade the schema and the key file */
	int busy_ms;       /* SQLite: how long a writer waits for the lock; 0: 5000 */
} store_opts;

/* Open the database. Without init, a database whose schema is older than
 * this program is AL_ESTORE "... run 'alliance init'", and one newer than
 * it is refused too. With init, missing migrations are applied (each in its
 * own transaction, forward only) and a missing key file is created. */
al_status store_open(store **out, const store_opts *o, al_err *err);
void store_close(store *s);

/* The URL actually used, and the key file path. */
const char *store_url(const store *s);
const char *store_key_file(const store *s);
const char *store_backend(const store *s);
int store_schema_version(store *s, int *version, al_err *err);

/* The key file for a URL when none is given: PATH.key beside an SQLite file,
 * alliance.key in the current directory for PostgreSQL. */
void store_key_path(const char *url, char *out, size_t outsz);

/* Interpose a wrapper that makes backend call number fail_at (1-based)
 * fail with status how (AL_EBUSY, AL_ESTORE as an I/O error, or, with
 * sticky = 1, a lost connection: that call and every later one fail).
 * fail_at 0 never fails and only counts. For tests (store_fault.c). */
void store_fault_arm(store *s, long fail_at, al_status how, int sticky);
/* Backend calls made since the wrapper was armed. */
long store_fault_calls(const store *s);

/* ---- transactions ------------------------------------------------------ */

al_status store_begin(store *s, al_err *err);
al_status store_commit(store *s, al_err *err);
void store_rollback(store *s);

/* ---- people ------------------------------------------------------------ */

typedef enum store_role { ROLE_ADMIN, ROLE_THERAPIST, ROLE_SUPERVISOR } store_role;

/* Find or create the user with this login; *id receives its id. */
al_status store_user_ensure(store *s, const char *login, store_role role, int64_t *id, al_err *err);
al_status store_supervise(store *s, int64_t supervisor, int64_t supervisee, al_err *err);

/* Find or create a client by pseudonymous code, treated by therapist.
 * display_name (may be NULL) is stored encrypted. */
al_status store_client_ensure(store *s, const char *code, size_t code_len, int64_t therapist,
                              const char *display_name, int64_t *id, al_err *err);
/* The decrypted display name into out (size outsz); "" when none.
 * AL_ENOTFOUND for an unknown client. Audited as a read. */
al_status store_client_name(store *s, const char *code, char *out, size_t outsz, al_err *err);

/* ---- notes (encrypted, versioned: an edit adds a version) --------------- */

/* Add a new note (*note = 0 on entry) or a new version of note *note. */
al_status store_note_write(store *s, const char *client_code, int64_t author, const char *text,
                           int64_t *note, al_err *err);
/* The latest version's text, malloc'ed into *text (caller frees), and its
 * version number. */
al_status store_note_read(store *s, int64_t note, char **text, int *version, al_err *err);

/* ---- a check-in: one administration submitted by or for a client -------- */

typedef enum store_source { SRC_LINK, SRC_KIOSK, SRC_STAFF, SRC_IMPORT } store_source;

typedef struct store_submission {
	const char *client; /* client code; the client must exist */
	int session;        /* session number within the client's open course */
	const char *date;   /* YYYY-MM-DD of the session */
	modality mod;
	const inst_def *inst;
	const int *values; /* inst->nitems answers, SCORE_SKIPPED if skipped */
	store_source source;
	int after; /* 1: answered after the session */
} store_submission;

/* Record the administration, its item answers, its derived scores and an
 * alert for each critical item answered at or above its threshold, in one
 * transaction. *alerts (may be NULL) receives the number of alerts raised.
 * An administration already present for (session, instrument, timing) is
 * AL_EINPUT. */
al_status store_submit(store *s, const store_submission *sub, int *alerts, al_err *err);

/* ---- bulk import and export --------------------------------------------- */

typedef struct store_import_stats {
	size_t rows, admins, added, present, invalid, clients_added, rejected_rows;
} store_import_stats;

typedef struct store_import_opts {
	const char *file; /* for messages and the audit log */
	const inst_lib *lib;
	int keep_going;      /* keep valid administrations; reject rows */
	const char *rejects; /* keep_going: where rejected rows go (NULL: none) */
	int quiet;           /* no progress bar */
} store_import_opts;

/* Import an item- or score-level file (shared/spec/data-format.md) held in
 * buf[0..len). Problems are collected in pr with FILE:LINE: messages; unless
 * keep_going, any problem means nothing is written (AL_EINPUT). */
struct problems;
al_status store_import(store *s, const char *buf, size_t len, const store_import_opts *o,
                       store_import_stats *st, struct problems *pr, al_err *err);

/* Write every item answer as the item-level long format to out, sorted by
 * client code, session, instrument, item. *rows receives the count. */
al_status store_export_items(store *s, FILE *out, size_t *rows, al_err *err);

/* How many rows each table holds for the store's practice (no audit entry:
 * counts are not client data). */
typedef struct store_counts {
	int64_t users, clients, courses, sessions, admins, answers, scores, alerts, notes, audit;
} store_counts;
al_status store_count(store *s, store_counts *out, al_err *err);

/* ---- audit, backup, keys ------------------------------------------------ */

/* Append an audit entry (in the caller's transaction if one is open). */
al_status store_audit(store *s, const char *action, const char *object, const char *detail,
                      al_err *err);
/* Check every practice's hash chain. *entries receives the count checked.
 * A broken chain is AL_ESTORE with the first broken entry in err. */
al_status store_audit_verify(store *s, long *entries, al_err *err);

al_status store_backup(store *s, const char *path, al_err *err);
al_status store_restore(store *s, const char *path, al_err *err);

/* Re-encrypt every note and display name under a new key, then replace the
 * key file (the old one is kept as KEYFILE.old until the commit is done). */
al_status store_key_rotate(store *s, al_err *err);

const char *store_role_str(store_role r);
const char *store_source_str(store_source r);

#endif
