/* frame.c: read model columns from CSV (frame.h).
 *
 * Categorical values are interned with an open-addressing hash table while
 * the file streams by, then the levels are sorted once and the codes
 * remapped, so a million client ids cost one pass and one sort. */
#include "frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

/* Interning table for one categorical column. */
typedef struct intern {
	int32_t *slot; /* level index + 1, 0 = empty */
	size_t cap;    /* power of two */
	size_t *off;   /* offset of each level in pool */
	uint32_t *len;
	int32_t n, ncap;
	char *pool;
	size_t pool_len, pool_cap;
} intern;

static uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 1099511628211ull;
	}
	return h;
}

static void intern_free(intern *t)
{
	free(t->slot);
	free(t->off);
	free(t->len);
	free(t->pool);
	memset(t, 0, sizeof *t);
}

static al_status intern_grow(intern *t)
{
	size_t cap = t->cap ? t->cap * 2 : 1024;
	int32_t *slot = calloc(cap, sizeof *slot);
	if (slot == NULL)
		return AL_ENOMEM;
	for (int32_t i = 0; i < t->n; i++) {
		size_t h = (size_t)hash_bytes(t->pool + t->off[i], t->len[i]) & (cap - 1);
		while (slot[h])
			h = (h + 1) & (cap - 1);
		slot[h] = i + 1;
	}
	free(t->slot);
	t->slot = slot;
	t->cap = cap;
	return AL_OK;
}

/* The level index of p[0..n), adding it when new; -1 when out of memory. */
static int32_t intern_get(intern *t, const char *p, size_t n)
{
	if ((size_t)(t->n + 1) * 2 > t->cap && intern_grow(t) != AL_OK)
		return -1;
	size_t h = (size_t)hash_bytes(p, n) & (t->cap - 1);
	while (t->slot[h]) {
		int32_t i = t->slot[h] - 1;
		/* A slot is non-zero only once entry i < t->n was stored, after
		 * off/len were grown to hold it; the analyzer cannot see that
		 * invariant through the calloc'd table of intern_grow. */
		// NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
		if (t->len[i] == n && memcmp(t->pool + t->off[i], p, n) == 0)
			return i;
		h = (h + 1) & (t->cap - 1);
	}
	if (t->n == t->ncap) {
		int32_t nc = t->ncap ? t->ncap * 2 : 256;
		size_t *off = realloc(t->off, (size_t)nc * sizeof *off);
		if (off == NULL)
			return -1;
		t->off = off;
		uint32_t *len = realloc(t->len, (size_t)nc * sizeof *len);
		if (len == NULL)
			return -1;
		t->len = len;
		t->ncap = nc;
	}
	if (t->pool_len + n + 1 > t->pool_cap) {
		size_t nc = t->pool_cap ? t->pool_cap * 2 : 4096;
		while (nc < t->pool_len + n + 1)
			nc *= 2;
		char *pool = realloc(t->pool, nc);
		if (pool == NULL)
			return -1;
		t->pool = pool;
		t->pool_cap = nc;
	}
	memcpy(t->pool + t->pool_len, p, n);
	t->pool[t->pool_len + n] = '\0';
	t->off[t->n] = t->pool_len;
	t->len[t->n] = (uint32_t)n;
	t->pool_len += n + 1;
	t->slot[h] = t->n + 1;
	return t->n++;
}

void frame_cleanup(frame *fr)
{
	if (fr == NULL)
		return;
	for (int i = 0; i < fr->ncols; i++) {
		free(fr->cols[i].num);
		free(fr->cols[i].code);
		free(fr->cols[i].levels);
		free(fr->cols[i].pool);
	}
	free(fr->line);
	memset(fr, 0, sizeof *fr);
}

int frame_find(const frame *fr, const char *name)
{
	for (int i = 0; i < fr->ncols; i++)
		if (strcmp(fr->cols[i].name, name) == 0)
			return i;
	return -1;
}

int32_t frame_level(const frame_col *c, const char *s)
{
	/* the same order finish_levels sorted by */
	double v = 0;
	if (c->levels_numeric) {
		csv_field f = {s, strlen(s)};
		if (!csv_parse_double(f, &v))
			return -1;
	}
	int32_t lo = 0, hi = c->nlevels;
	while (lo < hi) {
		int32_t mid = lo + (hi - lo) / 2;
		int d;
		double w = c->levels_numeric ? strtod(c->levels[mid], NULL) : 0;
		if (w != v)
			d = w < v ? -1 : 1;
		else
			d = strcmp(c->levels[mid], s);
		if (d == 0)
			return mid;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int is_missing(csv_field f)
{
	return f.len == 0 || (f.len == 2 && f.p[0] == 'N' && f.p[1] == 'A');
}

/* Sort order of levels: numerically when every level is a number (R's
 * factor() of a numeric column), else bytewise, which is R's order for the
 * ASCII identifiers of the test data and registries. */
typedef struct lev {
	const char *s;
	double v; /* the number, or 0 when the levels are not all numbers */
	int32_t i;
} lev;

static int cmp_level(const void *a, const void *b)
{
	const lev *x = a, *y = b;
	if (x->v != y->v)
		return x->v < y->v ? -1 : 1;
	return strcmp(x->s, y->s);
}

static al_status finish_levels(frame *fr, frame_col *c, intern *t)
{
	al_status st = AL_ENOMEM;
	size_t nl = (size_t)(t->n ? t->n : 1);
	lev *order = malloc(nl * sizeof *order);
	int32_t *remap = malloc(nl * sizeof *remap);
	if (order == NULL || remap == NULL)
		goto out;
	int numeric = 1;
	for (int32_t i = 0; i < t->n; i++) {
		csv_field f = {t->pool + t->off[i], t->len[i]};
		order[i] = (lev){f.p, 0, i};
		if (numeric && !csv_parse_double(f, &order[i].v))
			numeric = 0;
	}
	for (int32_t i = 0; i < t->n && !numeric; i++)
		order[i].v = 0;
	qsort(order, (size_t)t->n, sizeof *order, cmp_level);
	c->levels = malloc(nl * sizeof *c->levels);
	if (c->levels == NULL)
		goto out;
	for (int32_t k = 0; k < t->n; k++) {
		remap[order[k].i] = k;
		c->levels[k] = order[k].s;
	}
	for (size_t r = 0; r < fr->n; r++)
		c->code[r] = remap[c->code[r]];
	c->nlevels = t->n;
	c->levels_numeric = numeric;
	c->pool = t->pool; /* the frame owns the strings now */
	t->pool = NULL;
	st = AL_OK;
out:
	free(order);
	free(remap);
	return st;
}

/* Grow every column to the next capacity. A column whose type is known
 * keeps only the array it needs (numbers or codes): at 10^7 rows that
 * halves the peak memory of loading. */
static al_status grow_rows(frame *fr, size_t *cap, const int *typed)
{
	size_t nc = *cap ? *cap * 2 : 4096;
	if (nc > FRAME_MAX_ROWS)
		nc = FRAME_MAX_ROWS;
	uint32_t *line = realloc(fr->line, nc * sizeof *line);
	if (line == NULL)
		return AL_ENOMEM;
	fr->line = line;
	for (int i = 0; i < fr->ncols; i++) {
		frame_col *c = &fr->cols[i];
		int want_num = !typed[i] || !c->categorical,
		    want_code = !typed[i] || c->categorical;
		if (want_num) {
			double *num = realloc(c->num, nc * sizeof *num);
			if (num == NULL)
				return AL_ENOMEM;
			c->num = num;
		} else {
			free(c->num);
			c->num = NULL;
		}
		if (want_code) {
			int32_t *code = realloc(c->code, nc * sizeof *code);
			if (code == NULL)
				return AL_ENOMEM;
			c->code = code;
		} else {
			free(c->code);
			c->code = NULL;
		}
	}
	*cap = nc;
	return AL_OK;
}

al_status frame_load(frame *fr, const char *buf, size_t len, const char *file,
                     const char *const *names, const int *kind, int ncols,
                     const frame_filter *filters, int nfilters, al_err *err)
{
	al_status st = AL_OK;
	csv_reader r;
	intern tabs[FRAME_MAX_COLS];
	int idx[FRAME_MAX_COLS], fidx[8], typed[FRAME_MAX_COLS];
	const char *fnames[8];
	size_t cap = 0;
	char q[80];

	memset(fr, 0, sizeof *fr);
	memset(tabs, 0, sizeof tabs);
	snprintf(fr->file, sizeof fr->file, "%s", file);
	memset(&r, 0, sizeof r);
	csv_init(&r, buf, len);
	if (ncols > FRAME_MAX_COLS || nfilters > 8) {
		st = al_err_set(err, AL_ELIMIT, "%s: too many columns wanted", file);
		goto out;
	}
	fr->ncols = ncols;
	for (int i = 0; i < ncols; i++) {
		snprintf(fr->cols[i].name, FRAME_NAME, "%s", names[i]);
		fr->cols[i].categorical = (kind[i] & 3) == FRAME_CATEGORICAL;
		typed[i] = (kind[i] & 3) != FRAME_AUTO;
	}
	int rc = csv_next(&r, err);
	if (rc <= 0) {
		st = rc == 0 ? al_err_set(err, AL_EINPUT, "%s: empty file, expected a header", file)
		             : AL_EINPUT;
		if (rc < 0) {
			char m[AL_ERR_MAX];
			snprintf(m, sizeof m, "%s", err->msg);
			al_err_clear(err);
			al_err_set(err, AL_EINPUT, "%s: %s", file, m);
		}
		goto out;
	}
	size_t unknown;
	if ((st = csv_map_columns(&r, names, (size_t)ncols, idx, &unknown, err)) != AL_OK)
		goto out;
	for (int i = 0; i < nfilters; i++)
		fnames[i] = filters[i].col;
	if (nfilters > 0 &&
	    (st = csv_map_columns(&r, fnames, (size_t)nfilters, fidx, &unknown, err)) != AL_OK)
		goto out;
	/* an absent optional column is simply not loaded */
	int kept = 0;
	for (int i = 0; i < ncols; i++) {
		if (idx[i] < 0 && (kind[i] & FRAME_OPTIONAL))
			continue;
		if (kept != i) {
			fr->cols[kept] = fr->cols[i];
			idx[kept] = idx[i];
			typed[kept] = typed[i];
		}
		kept++;
	}
	for (int i = kept; i < ncols; i++)
		memset(&fr->cols[i], 0, sizeof fr->cols[i]);
	fr->ncols = ncols = kept;
	for (int i = 0; i < ncols + nfilters; i++) {
		int missing =
		    i < ncols ? idx[i] < 0 : (fidx[i - ncols] < 0 && !filters[i - ncols].optional);
		if (!missing)
			continue;
		char cols[512];
		size_t n = 0;
		cols[0] = '\0';
		for (size_t k = 0; k < r.nfields && n + 4 < sizeof cols; k++)
			n += (size_t)snprintf(cols + n, sizeof cols - n, "%s%s", k ? ", " : "",
			                      al_quote(q, sizeof q, r.f[k].p, r.f[k].len));
		st = al_err_set(err, AL_ENOTFOUND, "%s: no column %s (columns: %s)", file,
		                i < ncols ? fr->cols[i].name : filters[i - ncols].col, cols);
		goto out;
	}
	size_t maxf = 0;
	for (int i = 0; i < ncols; i++)
		if ((size_t)idx[i] > maxf)
			maxf = (size_t)idx[i];
	for (int i = 0; i < nfilters; i++)
		if (fidx[i] >= 0 && (size_t)fidx[i] > maxf)
			maxf = (size_t)fidx[i];

	for (;;) {
		rc = csv_next(&r, err);
		if (rc == 0)
			break;
		if (rc < 0) {
			char m[AL_ERR_MAX];
			snprintf(m, sizeof m, "%s", err->msg);
			al_err_clear(err);
			st = al_err_set(err, AL_EINPUT, "%s: %s", file, m);
			goto out;
		}
		if (r.nfields <= maxf) {
			st = al_err_set(err, AL_EINPUT, "%s:%ld: %zu fields, the header has more",
			                file, r.line, r.nfields);
			goto out;
		}
		int keep = 1;
		for (int i = 0; i < nfilters && keep; i++)
			if (fidx[i] >= 0 && !csv_eq(r.f[fidx[i]], filters[i].value))
				keep = 0;
		if (!keep) {
			fr->skipped++;
			continue;
		}
		int miss = 0;
		for (int i = 0; i < ncols; i++)
			if (is_missing(r.f[idx[i]]))
				miss = 1;
		if (miss) {
			fr->dropped++;
			continue;
		}
		if (fr->n == cap) {
			if (cap == FRAME_MAX_ROWS) {
				st = al_err_set(err, AL_ELIMIT, "%s: more than %u rows", file,
				                FRAME_MAX_ROWS);
				goto out;
			}
			if ((st = grow_rows(fr, &cap, typed)) != AL_OK) {
				al_err_set(err, st, "%s: out of memory at row %zu", file, fr->n);
				goto out;
			}
		}
		for (int i = 0; i < ncols; i++) {
			frame_col *c = &fr->cols[i];
			csv_field f = r.f[idx[i]];
			double v;
			if (!typed[i]) {
				/* the first value decides: a number makes the column numeric */
				c->categorical = !csv_parse_double(f, &v);
				typed[i] = 1;
			}
			if (c->categorical) {
				int32_t code = intern_get(&tabs[i], f.p, f.len);
				if (code < 0) {
					st = al_err_set(err, AL_ENOMEM, "%s: out of memory", file);
					goto out;
				}
				c->code[fr->n] = code;
			} else if (csv_parse_double(f, &v)) {
				c->num[fr->n] = v;
			} else {
				st = al_err_set(
				    err, AL_EINPUT, "%s:%ld: column %s: not a number (got \"%s\")",
				    file, r.line, c->name, al_quote(q, sizeof q, f.p, f.len));
				goto out;
			}
		}
		fr->line[fr->n] = (uint32_t)r.line;
		fr->n++;
	}
	if (fr->n == 0) {
		st = al_err_set(err, AL_EINPUT,
		                "%s: no complete rows (%zu dropped for missing values, "
		                "%zu filtered out)",
		                file, fr->dropped, fr->skipped);
		goto out;
	}
	for (int i = 0; i < ncols; i++) {
		frame_col *c = &fr->cols[i];
		if (c->categorical) {
			if (finish_levels(fr, c, &tabs[i]) != AL_OK) {
				st = al_err_set(err, AL_ENOMEM, "%s: out of memory", file);
				goto out;
			}
			free(c->num);
			c->num = NULL;
		} else {
			free(c->code);
			c->code = NULL;
		}
	}
out:
	for (int i = 0; i < FRAME_MAX_COLS; i++)
		intern_free(&tabs[i]);
	csv_cleanup(&r);
	if (st != AL_OK)
		frame_cleanup(fr);
	return st;
}
