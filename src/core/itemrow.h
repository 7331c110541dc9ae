/* itemrow.h: one row of the interchange formats (shared/spec/data-format.md),
 * checked field by field.
 *
 * The item-level long format has one row per answered or skipped item; the
 * score-level format one row per administration with its score. Columns are
 * found by header name, in any order. Every rule of the format is checked
 * here, once, for every reader (score, report, import), so that a bad row
 * gets the same message everywhere:
 *   FILE:LINE: column NAME: what is wrong (got "VALUE") */
#ifndef AL_ITEMROW_H
#define AL_ITEMROW_H

#include "csv.h"
#include "instrument.h"
#include "score.h"

enum itemrow_col {
	COL_CLIENT,
	COL_THERAPIST,
	COL_SESSION,
	COL_DATE,
	COL_MODALITY,
	COL_INSTRUMENT,
	COL_ITEM,
	COL_VALUE,
	COL_SCORE,
	COL_SCALE,
	ITEMROW_NCOLS
};

typedef enum rowfmt { ROWFMT_ITEMS, ROWFMT_SCORES } rowfmt;

typedef enum modality { MOD_IN_PERSON, MOD_VIDEO, MOD_PHONE, MOD_COUNT } modality;

#define ITEMROW_ID_MAX      64     /* client and therapist ids: 1..64 bytes */
#define ITEMROW_SESSION_MAX 100000 /* a course longer than this is a typo */

typedef struct itemrow_cols {
	rowfmt format;
	int idx[ITEMROW_NCOLS]; /* header position of each column, -1 if absent */
	size_t nheader;         /* fields a row must have */
	char unknown[256];      /* unknown column names, comma-separated ("" if none) */
} itemrow_cols;

typedef struct itemrow {
	csv_field client, therapist, date, scale;
	int session;
	int days; /* the date as days since 1970-01-01 */
	modality mod;
	const inst_def *inst;
	int item;     /* item format: 1..K */
	int value;    /* item format: the answer or SCORE_SKIPPED */
	double score; /* score format */
} itemrow;

/* Read the header record r has just read. The format is items when item and
 * value columns are present, scores when a score column is. A missing column
 * is "FILE:LINE: header: column NAME is missing". */
al_status itemrow_header(const csv_reader *r, const char *file, itemrow_cols *cols, al_err *err);

/* Read the header record with csv_next and map it with itemrow_header. An
 * empty file, a header the tokenizer rejects, or (need_items) a file in the
 * score-level format are AL_EINPUT with a "FILE:..." message. */
al_status itemrow_read_header(csv_reader *r, const char *file, int need_items, itemrow_cols *cols,
                              al_err *err);

/* Check the record r has just read and fill out. The fields of out point
 * into r's buffer or scratch space: copy them to keep them. */
al_status itemrow_parse(const itemrow_cols *cols, const csv_reader *r, const inst_lib *lib,
                        const char *file, itemrow *out, al_err *err);

const char *modality_str(modality m);

/* Days since 1970-01-01 of a valid YYYY-MM-DD date, or -1 (wrong shape,
 * impossible day, or a year outside 1900..2999). */
int itemrow_parse_date(csv_field f);

#endif
