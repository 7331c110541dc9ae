/* csv.c: RFC 4180 tokenizer (see csv.h). */
#include "csv.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void csv_init(csv_reader *r, const char *buf, size_t len)
{
	char *scratch = r->scratch;
	size_t cap = r->scratch_cap;
	memset(r, 0, offsetof(csv_reader, f));
	r->scratch = scratch;
	r->scratch_cap = cap;
	r->buf = r->cur = buf;
	r->end = buf + len;
	if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
		r->cur += 3;
	r->line = r->next_line = 1;
	r->nfields = 0;
}

void csv_cleanup(csv_reader *r)
{
	free(r->scratch);
	r->scratch = NULL;
	r->scratch_cap = 0;
}

/* Move past the line end at p (\n, \r\n or \r), if any. */
static const char *skip_eol(const char *p, const char *end)
{
	if (p < end && *p == '\r') {
		p++;
		if (p < end && *p == '\n')
			p++;
	} else if (p < end && *p == '\n') {
		p++;
	}
	return p;
}

/* After an error, skip to the start of the next physical line so that a
 * caller that keeps going resynchronises. */
static void resync(csv_reader *r, const char *p)
{
	while (p < r->end && *p != '\n' && *p != '\r')
		p++;
	r->cur = skip_eol(p, r->end);
	r->next_line++;
}

/* Find where the record starting at p ends, honouring quotes. Used only for
 * records with doubled quotes, to size the scratch space once. */
static size_t record_span(const char *p, const char *end)
{
	const char *s = p;
	int inq = 0;
	for (; p < end; p++) {
		if (*p == '"')
			inq = !inq;
		else if (!inq && (*p == '\n' || *p == '\r'))
			break;
	}
	return (size_t)(p - s);
}

int csv_next(csv_reader *r, al_err *err)
{
	const char *p = r->cur, *end = r->end;

	/* skip blank lines */
	while (p < end && (*p == '\n' || *p == '\r')) {
		const char *q = skip_eol(p, end);
		p = q;
		r->next_line++;
	}
	r->nfields = 0;
	if (p >= end) {
		r->cur = p;
		return 0;
	}
	r->line = r->next_line;
	r->raw = p;
	size_t sused = 0;
	int scratch_ready = 0;

	for (;;) {
		if (r->nfields == CSV_MAX_FIELDS) {
			resync(r, p);
			al_err_set(err, AL_ELIMIT, "line %ld: more than %d columns", r->line,
			           CSV_MAX_FIELDS);
			return -1;
		}
		csv_field *f = &r->f[r->nfields++];
		if (p < end && *p == '"') {
			/* quoted field */
			const char *s = ++p;
			int escaped = 0;
			for (;;) {
				const char *q = memchr(p, '"', (size_t)(end - p));
				if (q == NULL) {
					long at = r->line;
					r->cur = end;
					al_err_set(err, AL_EINPUT,
					           "line %ld: quoted field never closed (a '\"' is "
					           "missing)",
					           at);
					return -1;
				}
				for (const char *c = p; c < q; c++)
					if (*c == '\n' ||
					    (*c == '\r' && (c + 1 == q || c[1] != '\n')))
						r->next_line++;
				if (q + 1 < end && q[1] == '"') {
					escaped = 1;
					p = q + 2;
					continue;
				}
				p = q + 1;
				break;
			}
			const char *close = p - 1;
			if (!escaped) {
				f->p = s;
				f->len = (size_t)(close - s);
			} else {
				if (!scratch_ready) {
					size_t span = record_span(r->raw, end) + 1;
					if (span > CSV_MAX_RECORD) {
						resync(r, p);
						al_err_set(err, AL_ELIMIT,
						           "line %ld: record longer than %u bytes",
						           r->line, CSV_MAX_RECORD);
						return -1;
					}
					if (span > r->scratch_cap) {
						char *n = realloc(r->scratch, span);
						if (n == NULL) {
							resync(r, p);
							al_err_set(err, AL_ENOMEM,
							           "line %ld: out of memory",
							           r->line);
							return -1;
						}
						r->scratch = n;
						r->scratch_cap = span;
					}
					scratch_ready = 1;
				}
				char *o = r->scratch + sused;
				size_t n = 0;
				for (const char *c = s; c < close; c++) {
					o[n++] = *c;
					if (*c == '"')
						c++; /* a doubled quote stands for one */
				}
				f->p = o;
				f->len = n;
				sused += n;
			}
			if (p < end && *p != ',' && *p != '\n' && *p != '\r') {
				long at = r->line;
				resync(r, p);
				al_err_set(err, AL_EINPUT,
				           "line %ld: column %zu: text after a closing quote", at,
				           r->nfields);
				return -1;
			}
		} else {
			const char *s = p;
			while (p < end && *p != ',' && *p != '\n' && *p != '\r') {
				if (*p == '"') {
					long at = r->line;
					resync(r, p);
					al_err_set(
					    err, AL_EINPUT,
					    "line %ld: column %zu: quote inside an unquoted field",
					    at, r->nfields);
					return -1;
				}
				p++;
			}
			f->p = s;
			f->len = (size_t)(p - s);
		}
		if (p < end && *p == ',') {
			p++;
			continue;
		}
		break;
	}
	r->raw_len = (size_t)(p - r->raw);
	if (r->raw_len > CSV_MAX_RECORD) {
		resync(r, p);
		al_err_set(err, AL_ELIMIT, "line %ld: record longer than %u bytes", r->line,
		           CSV_MAX_RECORD);
		return -1;
	}
	if (p < end) {
		p = skip_eol(p, end);
		r->next_line++;
	}
	r->cur = p;
	return 1;
}

int csv_eq(csv_field f, const char *s)
{
	size_t n = strlen(s);
	return f.len == n && memcmp(f.p, s, n) == 0;
}

al_status csv_map_columns(const csv_reader *r, const char *const *names, size_t n, int *idx,
                          size_t *unknown, al_err *err)
{
	size_t unk = 0;
	for (size_t i = 0; i < n; i++)
		idx[i] = -1;
	for (size_t c = 0; c < r->nfields; c++) {
		size_t i;
		for (i = 0; i < n; i++)
			if (csv_eq(r->f[c], names[i]))
				break;
		if (i == n) {
			unk++;
			continue;
		}
		if (idx[i] >= 0)
			return al_err_set(err, AL_EINPUT,
			                  "line %ld: column %s appears twice in the header",
			                  r->line, names[i]);
		idx[i] = (int)c;
	}
	if (unknown)
		*unknown = unk;
	return AL_OK;
}

int csv_parse_long(csv_field f, long *out)
{
	const char *p = f.p, *e = f.p + f.len;
	int neg = 0;
	if (p < e && *p == '-') {
		neg = 1;
		p++;
	}
	if (p == e || e - p > 18)
		return 0; /* empty, or too long to be sure of no overflow */
	long v = 0;
	for (; p < e; p++) {
		if (*p < '0' || *p > '9')
			return 0;
		v = v * 10 + (*p - '0');
	}
	*out = neg ? -v : v;
	return 1;
}

int csv_parse_double(csv_field f, double *out)
{
	char tmp[64];
	if (f.len == 0 || f.len >= sizeof tmp)
		return 0;
	for (size_t i = 0; i < f.len; i++) {
		char c = f.p[i];
		/* only plain decimal notation: no hex, inf, nan or spaces */
		if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' ||
		      c == 'E'))
			return 0;
	}
	memcpy(tmp, f.p, f.len);
	tmp[f.len] = '\0';
	char *endp;
	errno = 0;
	double v = strtod(tmp, &endp);
	if (*endp != '\0' || errno == ERANGE || !isfinite(v))
		return 0;
	*out = v;
	return 1;
}

size_t csv_escape(char *out, const char *s, size_t len)
{
	int need = 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') {
			need = 1;
			break;
		}
	if (!need) {
		memcpy(out, s, len);
		return len;
	}
	size_t n = 0;
	out[n++] = '"';
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '"')
			out[n++] = '"';
		out[n++] = s[i];
	}
	out[n++] = '"';
	return n;
}
