/* fastrow.c: the registry report's fast path for plain lines (see
 * fastrow.h). Hand-written because it is the report's hot loop: csv.h plus
 * itemrow_parse take four times the CPU per row (docs/BENCHMARKS.md). */
#include "fastrow.h"

#include <stdint.h>
#include <string.h>

#include "bytes.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "fastrow_parse reads words little-endian; port it (or use the slow path) here"
#endif

void fastrow_init(fastrow *f, const itemrow_cols *cols, const inst_lib *lib)
{
	memset(f, 0, sizeof *f);
	f->cols = cols;
	f->lib = lib;
	f->extra_cols = cols->nheader > (size_t)COL_VALUE + 1;
	/* the date cache holds only a date that itemrow_parse_date accepted:
	 * zeros would let a field of ten NULs through */
	memcpy(f->last_date, "1970-01-01", 10);
	f->last_days = 0;
}

__attribute__((always_inline)) static inline int plain_uint(const char *p, size_t n, size_t maxlen,
                                                            int *out)
{
	if (n == 0 || n > maxlen || p[0] == '0')
		return 0;
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(p[i] - '0');
		if (d > 9)
			return 0;
		v = v * 10 + (int)d;
	}
	*out = v;
	return 1;
}

static inline int plain_id(const char *p, size_t n)
{
	if (n == 0 || n > ITEMROW_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

/* See fastrow.h. The fields are found eight bytes at a time: the commas,
 * quotes and newlines of a word as a bitmask (exact, no false positives),
 * taken in order up to the first newline. Then each field must be in its
 * plainest form; anything else returns 0 and itemrow_parse decides. */
int fastrow_parse(fastrow *fr, const char *p, const char *e, report_row *out, const char **nlp)
{
	const itemrow_cols *cols = fr->cols;
	const char *fp[CSV_MAX_FIELDS];
	size_t fl[CSV_MAX_FIELDS];
	size_t k = 0, nh = cols->nheader;
	const char *s = p, *nl = NULL;
	/* Eight bytes at a time: the commas, quotes and newlines of a word as a
	 * bitmask (exact, no false positives), taken in order up to the first
	 * newline. The buffer has padding past its sentinel for the last word. */
	const uint64_t ones = 0x0101010101010101ull, low7 = 0x7f7f7f7f7f7f7f7full;
	for (const char *c = p; nl == NULL; c += 8) {
		uint64_t x;
		memcpy(&x, c, 8);
		uint64_t xc = x ^ (ones * ','), xq = x ^ (ones * '"'), xn = x ^ (ones * '\n');
		uint64_t m = ~(((xc & low7) + low7) | xc | low7) |
		             ~(((xq & low7) + low7) | xq | low7) |
		             ~(((xn & low7) + low7) | xn | low7);
		while (m) {
			const char *q = c + (__builtin_ctzll(m) >> 3);
			m &= m - 1;
			if (*q == '\n') {
				nl = q;
				break;
			}
			if (*q == '"')
				return -1;
			if (k + 1 == nh) { /* too many fields: the slow path says so */
				*nlp = memchr(q, '\n', (size_t)(e + 1 - q));
				return memchr(q, '"', (size_t)(*nlp - q)) ? -1 : 0;
			}
			fp[k] = s;
			fl[k] = (size_t)(q - s);
			k++;
			s = q + 1;
		}
	}
	*nlp = nl;
	if (nl == e)
		return 0;
	const char *end = nl > s && nl[-1] == '\r' ? nl - 1 : nl;
	fp[k] = s;
	fl[k] = (size_t)(end - s);
	if (++k != nh)
		return 0;
	/* A lone CR ends a record for csv.h. In the report's own columns it
	 * fails the checks below anyway; in an ignored column only this sees it. */
	if (fr->extra_cols && memchr(p, '\r', (size_t)(end - p)))
		return 0;
	const int *ix = cols->idx;
	size_t len;
	const char *f;

	f = fp[ix[COL_CLIENT]], len = fl[ix[COL_CLIENT]];
	if (!plain_id(f, len))
		return 0;
	out->client = f, out->client_len = len;
	f = fp[ix[COL_THERAPIST]], len = fl[ix[COL_THERAPIST]];
	if (!plain_id(f, len))
		return 0;
	out->therapist = f, out->therapist_len = len;
	f = fp[ix[COL_SESSION]], len = fl[ix[COL_SESSION]];
	if (!plain_uint(f, len, 6, &out->session) || out->session > ITEMROW_SESSION_MAX)
		return 0;
	f = fp[ix[COL_DATE]], len = fl[ix[COL_DATE]];
	if (len != 10)
		return 0;
	uint64_t d8, l8;
	uint16_t d2, l2;
	memcpy(&d8, f, 8), memcpy(&l8, fr->last_date, 8);
	memcpy(&d2, f + 8, 2), memcpy(&l2, fr->last_date + 8, 2);
	if (d8 != l8 || d2 != l2) {
		int d = itemrow_parse_date((csv_field){f, len});
		if (d < 0)
			return 0;
		memcpy(fr->last_date, f, 10);
		fr->last_days = d;
	}
	out->days = fr->last_days;
	f = fp[ix[COL_MODALITY]], len = fl[ix[COL_MODALITY]];
	if (len == 9 && bytes_eq(f, "in_person", 9))
		out->mod = MOD_IN_PERSON;
	else if (len == 5 && bytes_eq(f, "video", 5))
		out->mod = MOD_VIDEO;
	else if (len == 5 && bytes_eq(f, "phone", 5))
		out->mod = MOD_PHONE;
	else
		return 0;
	f = fp[ix[COL_INSTRUMENT]], len = fl[ix[COL_INSTRUMENT]];
	int hit = -1;
	for (int i = 0; i < fr->ninst; i++)
		if (fr->inst_len[i] == len && bytes_eq(fr->inst_name[i], f, len)) {
			hit = fr->inst_ix[i];
			break;
		}
	if (hit < 0) {
		const inst_def *d = len > 0 ? inst_lib_find(fr->lib, f, len) : NULL;
		if (d == NULL || len >= INST_ID_MAX)
			return 0;
		hit = (int)(d - fr->lib->defs);
		if (fr->ninst < FASTROW_INST_CACHE) {
			memcpy(fr->inst_name[fr->ninst], f, len);
			fr->inst_len[fr->ninst] = len;
			fr->inst_ix[fr->ninst++] = hit;
		}
	}
	out->inst = hit;
	const inst_def *d = &fr->lib->defs[out->inst];
	f = fp[ix[COL_ITEM]], len = fl[ix[COL_ITEM]];
	if (!plain_uint(f, len, 2, &out->item) || out->item > d->nitems)
		return 0;
	f = fp[ix[COL_VALUE]], len = fl[ix[COL_VALUE]];
	if (len == 0) {
		out->value = SCORE_SKIPPED;
	} else {
		int v;
		if (len == 1 && f[0] == '0')
			v = 0;
		else if (!plain_uint(f, len, 3, &v))
			return 0;
		const inst_item *it = &d->items[out->item - 1];
		if (v < it->min || v > it->max)
			return 0;
		out->value = v;
	}
	return 1;
}
