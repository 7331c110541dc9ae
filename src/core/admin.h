/* admin.h: assembling item-level rows into administrations.
 *
 * An administration is (client_id, session, instrument); its rows may come
 * in any order, anywhere in the file. The set keeps every checked row (its
 * text fields point into the input buffer, or into the set's arena when the
 * reader had to unescape them), sorts them, and hands each administration
 * to a callback, after checking the rules that span rows: no item twice,
 * and one therapist, date and modality per administration. Those problems
 * name both lines. */
#ifndef AL_ADMIN_H
#define AL_ADMIN_H

#include <stdint.h>

#include "arena.h"
#include "itemrow.h"
#include "problems.h"

typedef struct admin_row {
	const char *client, *therapist, *date;
	uint8_t client_len, therapist_len, mod;
	uint8_t item;
	uint16_t inst; /* index into the instrument library */
	int32_t session;
	int32_t value; /* SCORE_SKIPPED for a skipped item */
	long line;
} admin_row;

typedef struct admin_set {
	admin_row *rows;
	size_t n, cap;
	arena strings;
	const char *buf, *bufend; /* the input buffer */
	const inst_lib *lib;
} admin_set;

typedef struct admin {
	const char *client, *therapist, *date;
	size_t client_len, therapist_len;
	int session;
	modality mod;
	const inst_def *inst;
	int values[INST_MAX_ITEMS]; /* SCORE_SKIPPED where skipped or absent */
	int nrows;
	long line; /* first line of the administration */
} admin;

/* buf..buf+len is the input the rows' fields may point into. */
void admin_set_init(admin_set *s, const inst_lib *lib, const char *buf, size_t len);
void admin_set_cleanup(admin_set *s);
/* Keep a checked item-level row read on line. AL_ENOMEM only. */
al_status admin_set_add(admin_set *s, const itemrow *r, long line, al_err *err);

typedef al_status (*admin_fn)(void *ctx, const admin *a, al_err *err);

/* Call fn for each administration in order of client_id (bytes), session,
 * instrument id. Administrations whose rows conflict are reported to pr and
 * not passed on. A status other than AL_OK from fn stops the walk. */
al_status admin_set_each(admin_set *s, const char *file, problems *pr, admin_fn fn, void *ctx,
                         al_err *err);

#endif
