/* csv.h: an RFC 4180 CSV tokenizer over a caller-owned byte buffer.
 *
 * The reader never copies a field it does not have to: a field is a pointer
 * and a length into the buffer, or into the reader's scratch space for quoted
 * fields with doubled quotes. It skips a UTF-8 byte-order mark, accepts \n,
 * \r\n and \r line ends, quoted fields with commas, quotes and newlines, and
 * counts lines so every error can say FILE:LINE. It does no I/O: the caller
 * hands it the bytes (a mapped file, a request body, a test string).
 * Hand-written rather than libcsv because it is the hot path of the registry
 * report (docs/BENCHMARKS.md) and must give exact line numbers and the raw
 * bytes of each record (for rejects files). */
#ifndef AL_CSV_H
#define AL_CSV_H

#include <stddef.h>

#include "status.h"

#define CSV_MAX_FIELDS 256        /* more columns than this is an error */
#define CSV_MAX_RECORD (1u << 20) /* a record longer than 1 MiB is an error */

typedef struct csv_field {
	const char *p; /* not NUL-terminated */
	size_t len;
} csv_field;

typedef struct csv_reader {
	const char *buf, *cur, *end;
	long line;      /* line on which the current record starts, 1-based */
	long next_line; /* line on which the next record starts */
	size_t nfields;
	csv_field f[CSV_MAX_FIELDS];
	const char *raw; /* the current record's bytes, without its line end */
	size_t raw_len;
	char *scratch; /* unescaped quoted fields; owned by the reader */
	size_t scratch_cap;
} csv_reader;

/* Start reading len bytes at buf. The buffer must outlive the reader. */
void csv_init(csv_reader *r, const char *buf, size_t len);

/* Release the scratch space. The reader may be csv_init'ed again after. */
void csv_cleanup(csv_reader *r);

/* Read the next record into r->f[0..r->nfields-1]. Blank lines are skipped.
 * Returns 1 for a record, 0 at the end, or -1 with err set (AL_EINPUT for an
 * unterminated or stray quote, AL_ELIMIT past the limits above, AL_ENOMEM).
 * The message says "line N: ..." ; the caller prefixes the file name. After
 * an error the reader has skipped to the next line and may be called again. */
int csv_next(csv_reader *r, al_err *err);

/* Find the index of each of n wanted column names in the header record that
 * csv_next just read. idx[i] = -1 for a name that is absent. Returns AL_OK,
 * or AL_EINPUT when a column appears twice. *unknown receives a bitmask-free
 * count of header columns not in names (the caller warns about them by
 * walking the header again with csv_column_known). */
al_status csv_map_columns(const csv_reader *r, const char *const *names, size_t n, int *idx,
                          size_t *unknown, al_err *err);

/* 1 if field f equals the NUL-terminated string s. */
int csv_eq(csv_field f, const char *s);

/* Parse a field as a decimal integer with an optional leading '-'. Returns 1
 * on success, 0 when the field is empty, has other characters or overflows
 * a long. */
int csv_parse_long(csv_field f, long *out);

/* Parse a field as a finite decimal number (strtod syntax, no hex, no inf or
 * nan). Returns 1 on success, 0 otherwise. */
int csv_parse_double(csv_field f, double *out);

/* Write s quoted as RFC 4180 requires (only when it has to be) into out,
 * which must hold 2*len+3 bytes. Returns the number of bytes written. */
size_t csv_escape(char *out, const char *s, size_t len);

#endif
