/* fastrow.h: the registry report's fast path: one plain item-level line to a
 * report_row, without csv.h.
 *
 * It accepts only the plainest form of each field (no quotes; digits
 * without sign or leading zero; a date it has just seen or that
 * itemrow_parse_date accepts; a known modality and instrument; an item and
 * value in the loaded ranges) and declines everything else, so that the
 * caller can hand the line to csv.h and itemrow_parse, which decide and say
 * what is wrong. The promise, checked by tests/unit/test_fastrow.c and
 * fuzz/fuzz_fastrow.c: a line it accepts, itemrow_parse accepts with the
 * same values. */
#ifndef AL_FASTROW_H
#define AL_FASTROW_H

#include <stddef.h>

#include "itemrow.h"
#include "report.h"

#define FASTROW_INST_CACHE 8 /* instrument names a reader remembers */
#define FASTROW_PAD        8 /* bytes readable after the sentinel */

/* One reader's caches (dates and instrument names it has checked). */
typedef struct fastrow {
	const itemrow_cols *cols;
	const inst_lib *lib;
	int extra_cols; /* the header has columns the report ignores */
	char last_date[10];
	int last_days;
	int ninst;
	char inst_name[FASTROW_INST_CACHE][INST_ID_MAX];
	size_t inst_len[FASTROW_INST_CACHE];
	int inst_ix[FASTROW_INST_CACHE];
} fastrow;

/* cols (an item-level header) and lib must outlive f. */
void fastrow_init(fastrow *f, const itemrow_cols *cols, const inst_lib *lib);

/* The line starting at p. *e must be '\n' (a sentinel after the buffer's
 * data), with FASTROW_PAD readable bytes after it: the line ends at the
 * first '\n' at or after p. Returns
 *   1  out is the row (its strings point into the line); *nlp = its '\n';
 *   0  declined: csv.h and itemrow_parse must decide; *nlp = its '\n';
 *  -1  the line has a '"' (the record may go on past the '\n'); *nlp unset.
 * When *nlp == e the line is not whole in the buffer, and the result means
 * nothing. */
int fastrow_parse(fastrow *f, const char *p, const char *e, report_row *out, const char **nlp);

#endif
