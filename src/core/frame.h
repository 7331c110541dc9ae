/* frame.h: the columns a model needs, read once from a CSV buffer.
 *
 * A column is numeric (doubles) or categorical (level codes into sorted
 * level strings, as R's factor() orders them). Rows with a missing value
 * ("" or NA) in any wanted column are dropped and counted, as lme4's default
 * na.omit does; rows failing a filter (instrument == "phq9") are skipped
 * before their other fields are parsed. No I/O: the caller hands the bytes. */
#ifndef AL_FRAME_H
#define AL_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define FRAME_MAX_COLS 32
#define FRAME_NAME     64
#define FRAME_MAX_ROWS 100000000u /* 1e8 rows: beyond, AL_ELIMIT */

typedef struct frame_col {
	char name[FRAME_NAME];
	int categorical;
	double *num;   /* numeric: n values */
	int32_t *code; /* categorical: n codes in 0..nlevels-1 */
	int32_t nlevels;
	const char **levels; /* categorical: level strings, sorted */
	char *pool;          /* storage of the level strings */
	int levels_numeric;  /* levels sorted as numbers (all were numbers) */
} frame_col;

typedef struct frame {
	size_t n; /* rows kept */
	int ncols;
	frame_col cols[FRAME_MAX_COLS];
	uint32_t *line; /* the CSV line of each kept row, for messages */
	size_t dropped; /* rows dropped for a missing value */
	size_t skipped; /* rows that failed a filter */
	char file[256]; /* name used in messages */
} frame;

/* FRAME_OPTIONAL may be or'ed in: an absent column is then left out of
 * the frame instead of being an error (find columns with frame_find). */
enum { FRAME_AUTO = 0, FRAME_CATEGORICAL = 1, FRAME_NUMERIC = 2, FRAME_OPTIONAL = 4 };

/* Keep only rows where column `col` equals `value`. A filter whose column
 * is absent is an error unless optional is set (then it is ignored). */
typedef struct frame_filter {
	const char *col;
	const char *value;
	int optional;
} frame_filter;

/* Read columns names[0..ncols-1] from the CSV text buf[0..len) whose first
 * record is the header. kind[i] is FRAME_CATEGORICAL for grouping factors,
 * FRAME_NUMERIC for columns that must be numbers (a response, the argument
 * of log()), or FRAME_AUTO: numeric when the first non-missing value is a
 * number, and then every value must be.
 * Errors (fr is cleaned up on error):
 *   AL_ENOTFOUND  "FILE: no column NAME (columns: ...)"
 *   AL_EINPUT     "FILE:LINE: column NAME: not a number (got "VALUE")",
 *                 CSV syntax errors, no rows left
 *   AL_ELIMIT, AL_ENOMEM. */
al_status frame_load(frame *fr, const char *buf, size_t len, const char *file,
                     const char *const *names, const int *kind, int ncols,
                     const frame_filter *filters, int nfilters, al_err *err);

/* Release everything; a zeroed or cleaned frame is fine. */
void frame_cleanup(frame *fr);

/* The index of column name in fr, or -1. */
int frame_find(const frame *fr, const char *name);

/* The code of level s in a categorical column, or -1 when absent
 * (binary search: O(log levels)). */
int32_t frame_level(const frame_col *c, const char *s);

#endif
