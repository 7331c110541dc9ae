/* store_int.h: what the files of src/store share and nobody else sees: the
 * store handle, the statement catalogue and small helpers to run it. */
#ifndef AL_STORE_INT_H
#define AL_STORE_INT_H

#include <stdio.h>

#include "store.h"

/* The statement catalogue (store.c holds the SQL, indexed by these). */
enum store_query {
	Q_SCHEMA_VERSION,
	Q_SCHEMA_ADD,
	Q_META_GET,
	Q_META_SET,
	Q_PRACTICE_ADD,
	Q_IDS,
	Q_COUNTER_ADD,
	Q_USER_GET,
	Q_USER_ADD,
	Q_SUPERVISE,
	Q_CLIENT_GET,
	Q_CLIENT_ADD,
	Q_CLIENT_NAME,
	Q_COURSE_ADD,
	Q_SESSION_GET,
	Q_SESSION_ADD,
	Q_ADMIN_ADD,
	Q_ADMIN_GET,
	Q_ANSWERS_ADD,
	Q_SCORE_ADD,
	Q_ALERT_ADD,
	Q_NOTE_LAST,
	Q_NOTE_ADD,
	Q_NOTE_ALL,
	Q_NOTE_SET,
	Q_NAME_ALL,
	Q_NAME_SET,
	Q_AUDIT_LAST,
	Q_AUDIT_ADD,
	Q_AUDIT_ALL,
	Q_AUDIT_ENDS,
	Q_EXPORT,
	Q_COUNTS,
	Q_COUNT
};

/* A block of identifiers reserved from the counters table. */
typedef struct store_ids {
	int64_t next, end;
} store_ids;

enum { ID_USER, ID_CLIENT, ID_COURSE, ID_SESSION, ID_ADMIN, ID_ALERT, ID_NOTE, ID_KINDS };

struct store {
	const store_ops *ops;
	store_drv *drv;
	const store_ops *real_ops; /* under the fault wrapper, when armed */
	store_drv *real_drv;
	char url[1024];
	char keyfile[1024];
	char actor[128];
	int64_t practice;
	int in_tx;
	int has_key;
	unsigned char key[STORE_KEY_BYTES];
	store_ids ids[ID_KINDS];
};

#define VI(x)     ((store_val){.t = SV_INT, .i = (x)})
#define VR(x)     ((store_val){.t = SV_REAL, .d = (x)})
#define VT(s)     ((store_val){.t = SV_TEXT, .p = (s), .len = strlen(s)})
#define VTN(s, n) ((store_val){.t = SV_TEXT, .p = (s), .len = (n)})
#define VB(s, n)  ((store_val){.t = SV_BLOB, .p = (s), .len = (n)})
#define VNULL     ((store_val){.t = SV_NULL})

/* Run catalogue statement q. */
al_status store_q(store *s, int q, const store_val *p, int n, store_row_fn fn, void *ctx,
                  int64_t *changes, al_err *err);
/* Run q and take the first column of its first row as an integer; *out is
 * left alone when there is no row or it is NULL. */
al_status store_q_int(store *s, int q, const store_val *p, int n, int64_t *out, al_err *err);
/* Reserve the next identifier of a kind for the store's practice. */
al_status store_next_id(store *s, int kind, int64_t *id, al_err *err);
/* Begin a write transaction unless one is open; *own says whether this call
 * opened it (and so must end it with store_end). */
al_status store_tx(store *s, int *own, al_err *err);
/* End a transaction this call opened: commit when st is AL_OK, else roll
 * back. Returns the final status. */
al_status store_end(store *s, int own, al_status st, al_err *err);
/* The current UTC time as YYYY-MM-DDTHH:MM:SSZ into out[32]. */
void store_now(char *out);

/* Find the client by code, or create it; then its open course of treatment,
 * or a new one starting on date (YYYY-MM-DD...). No audit entry. */
al_status store_client_locate(store *s, const char *code, size_t code_len, int64_t therapist,
                              const unsigned char *box, size_t boxlen, const char *date,
                              int64_t *client, int64_t *course, int *created, al_err *err);
/* Administrations and sessions (store.c), shared with the importer. */
al_status store_admin_add(store *s, int64_t client, int64_t session, const inst_def *d,
                          const int *values, store_source src, int after, const char *now,
                          int64_t *admin, int *added, score_result *r, al_err *err);
al_status store_session_ensure(store *s, int64_t course, int number, const char *date, modality mod,
                               int64_t therapist, int known_new, int64_t *id, al_err *err);
size_t store_answers_text(const inst_def *d, const int *values, char *out);

al_status store_schema_read(store *s, int *version, al_err *err);
al_status store_migrate(store *s, al_err *err);

/* Encrypt len bytes with the store's key: nonce || secretbox. Caller frees
 * *out (*outlen bytes). AL_EAUTH without a key. */
al_status store_seal(store *s, const void *msg, size_t len, unsigned char **out, size_t *outlen,
                     al_err *err);
/* Decrypt into a malloc'ed NUL-terminated string. AL_EAUTH on a wrong key. */
al_status store_open_box(store *s, const void *box, size_t len, char **out, al_err *err);

/* The fault wrapper's table and its connection (store_fault.c). */
al_status store_fault_wrap(const store_ops *inner_ops, store_drv *inner, long fail_at,
                           al_status how, int sticky, const store_ops **ops, store_drv **out);
long store_fault_count(const store_drv *d);
void store_fault_unwrap(store_drv *d);

#endif
