/* status.h: the one status type of alliance and the caller-owned error record.
 *
 * Every fallible function returns an al_status. Detail for a person (what is
 * wrong, and where: file, line, column) goes into an al_err the caller owns,
 * so errors cost nothing when nobody asks and never need freeing.
 * Expected outcomes ("not converged", "no rows") are results, not statuses. */
#ifndef AL_STATUS_H
#define AL_STATUS_H

#include <stddef.h>

typedef enum al_status {
	AL_OK = 0,
	AL_ENOMEM,    /* an allocation failed */
	AL_EIO,       /* a file or device could not be read or written */
	AL_EINPUT,    /* the input (file, request, formula) is malformed */
	AL_ELIMIT,    /* the input is larger than a hard limit allows */
	AL_ENOTFOUND, /* a named thing (file, instrument, column, row) is absent */
	AL_ENUMERIC,  /* a computation is undefined on this data (singular, NaN) */
	AL_ESTORE,    /* the database refused or failed */
	AL_EBUSY,     /* the database is locked; the call may succeed later */
	AL_EAUTH,     /* not allowed: wrong key, token or role */
	AL_EUSAGE,    /* the command line is wrong */
	AL_EINTERNAL  /* a bug: a state that should be impossible */
} al_status;

/* A message of at most AL_ERR_MAX-1 bytes. The first error set wins unless
 * cleared: the root cause is what a person needs to see. */
#define AL_ERR_MAX 1024
typedef struct al_err {
	al_status status;
	char msg[AL_ERR_MAX];
} al_err;

/* The fixed English name of a status ("out of memory", ...). Never NULL. */
const char *al_status_str(al_status s);

/* Record status s with a printf-style message in err (err may be NULL) and
 * return s, so a failure reads: return al_err_set(err, AL_EINPUT, "...").
 * An err that already holds an error keeps it. */
al_status al_err_set(al_err *err, al_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Forget any recorded error. */
void al_err_clear(al_err *err);

/* Copy at most max bytes of a value into out (size outsz) for quoting in a
 * message: control characters become '?', and a cut value ends in "...".
 * Returns out. Used for the (got "VALUE") part of input errors. */
char *al_quote(char *out, size_t outsz, const char *val, size_t len);

#endif
