/* itemrow.c: field-by-field checks of interchange rows (see itemrow.h). */
#include "itemrow.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char *const col_names[ITEMROW_NCOLS] = {
    "client_id",  "therapist_id", "session", "date",  "modality",
    "instrument", "item",         "value",   "score", "scale",
};

static const char *const mod_names[MOD_COUNT] = {"in_person", "video", "phone"};

const char *modality_str(modality m)
{
	return (unsigned)m < MOD_COUNT ? mod_names[m] : "unknown";
}

al_status itemrow_header(const csv_reader *r, const char *file, itemrow_cols *cols, al_err *err)
{
	memset(cols, 0, sizeof *cols);
	size_t unknown;
	al_err e = {0};
	if (csv_map_columns(r, col_names, ITEMROW_NCOLS, cols->idx, &unknown, &e) != AL_OK)
		return al_err_set(err, AL_EINPUT, "%s:%s", file, e.msg + 5 /* drop "line " */);
	if (cols->idx[COL_ITEM] >= 0 || cols->idx[COL_VALUE] >= 0)
		cols->format = ROWFMT_ITEMS;
	else if (cols->idx[COL_SCORE] >= 0)
		cols->format = ROWFMT_SCORES;
	else
		return al_err_set(
		    err, AL_EINPUT,
		    "%s:%ld: header: needs item and value columns (item-level format) "
		    "or a score column (score-level format)",
		    file, r->line);
	int last = cols->format == ROWFMT_ITEMS ? COL_VALUE : COL_INSTRUMENT;
	for (int c = 0; c <= last; c++) {
		if (cols->format == ROWFMT_SCORES && (c == COL_ITEM || c == COL_VALUE))
			continue;
		if (cols->idx[c] < 0)
			return al_err_set(err, AL_EINPUT, "%s:%ld: header: column %s is missing",
			                  file, r->line, col_names[c]);
	}
	if (cols->format == ROWFMT_SCORES && cols->idx[COL_SCORE] < 0)
		return al_err_set(err, AL_EINPUT, "%s:%ld: header: column score is missing", file,
		                  r->line);
	if (cols->format == ROWFMT_ITEMS) {
		/* score and scale mean nothing in the item format */
		if (cols->idx[COL_SCORE] >= 0)
			unknown++;
		if (cols->idx[COL_SCALE] >= 0)
			unknown++;
		cols->idx[COL_SCORE] = cols->idx[COL_SCALE] = -1;
	}
	cols->nheader = r->nfields;
	if (unknown > 0) {
		size_t n = 0;
		for (size_t i = 0; i < r->nfields; i++) {
			int known = 0;
			for (int c = 0; c < ITEMROW_NCOLS; c++)
				if (cols->idx[c] == (int)i)
					known = 1;
			if (known)
				continue;
			int k = snprintf(cols->unknown + n, sizeof cols->unknown - n, "%s%.*s",
			                 n ? ", " : "", (int)(r->f[i].len > 60 ? 60 : r->f[i].len),
			                 r->f[i].p);
			if (k < 0 || (size_t)k >= sizeof cols->unknown - n)
				break;
			n += (size_t)k;
		}
	}
	return AL_OK;
}

al_status itemrow_read_header(csv_reader *r, const char *file, int need_items, itemrow_cols *cols,
                              al_err *err)
{
	al_err e = {0};
	int got = csv_next(r, &e);
	if (got == 0)
		return al_err_set(err, AL_EINPUT, "%s: empty file: expected a header row", file);
	if (got < 0) /* csv.h says "line N: ..."; make it FILE:N: ... */
		return al_err_set(err, e.status, "%s:%s", file,
		                  strncmp(e.msg, "line ", 5) == 0 ? e.msg + 5 : e.msg);
	al_status st = itemrow_header(r, file, cols, err);
	if (st == AL_OK && need_items && cols->format != ROWFMT_ITEMS)
		st =
		    al_err_set(err, AL_EINPUT,
		               "%s:%ld: header: this is the score-level format; this command needs "
		               "the item-level format (item and value columns)",
		               file, r->line);
	return st;
}

static al_status field_err(const char *file, const csv_reader *r, const char *col, csv_field f,
                           const char *what, al_err *err)
{
	char q[80];
	al_quote(q, sizeof q, f.p, f.len);
	return al_err_set(err, AL_EINPUT, "%s:%ld: column %s: %s (got \"%s\")", file, r->line, col,
	                  what, q);
}

static int valid_id(csv_field f)
{
	if (f.len < 1 || f.len > ITEMROW_ID_MAX)
		return 0;
	for (size_t i = 0; i < f.len; i++) {
		unsigned char c = (unsigned char)f.p[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (the era-based civil-days algorithm; exact for all years used here). */
static int days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int era = y / 400;
	int yoe = y - era * 400;
	int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int itemrow_parse_date(csv_field f)
{
	const char *p = f.p;
	if (f.len != 10 || p[4] != '-' || p[7] != '-')
		return -1;
	int v[8], k = 0;
	for (int i = 0; i < 10; i++) {
		if (i == 4 || i == 7)
			continue;
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v[k++] = p[i] - '0';
	}
	int y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
	int m = v[4] * 10 + v[5];
	int d = v[6] * 10 + v[7];
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1)
		return -1;
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d > mdays[m - 1] + (m == 2 && leap))
		return -1;
	return days_from_civil(y, m, d);
}

al_status itemrow_parse(const itemrow_cols *cols, const csv_reader *r, const inst_lib *lib,
                        const char *file, itemrow *out, al_err *err)
{
	if (r->nfields > cols->nheader) {
		char col[24];
		snprintf(col, sizeof col, "%zu", cols->nheader + 1);
		return field_err(file, r, col, r->f[cols->nheader],
		                 "extra field: the header has fewer columns", err);
	}
	if (r->nfields < cols->nheader) {
		/* name the first known column the row is too short to have */
		const char *name = NULL;
		size_t best = SIZE_MAX;
		for (int c = 0; c < ITEMROW_NCOLS; c++)
			if (cols->idx[c] >= (int)r->nfields && (size_t)cols->idx[c] < best) {
				best = (size_t)cols->idx[c];
				name = col_names[c];
			}
		return al_err_set(
		    err, AL_EINPUT,
		    "%s:%ld: column %s: missing: the row has %zu fields, the header %zu", file,
		    r->line, name ? name : "(unknown)", r->nfields, cols->nheader);
	}
	const int *ix = cols->idx;
	csv_field f;
	long v;

	out->client = f = r->f[ix[COL_CLIENT]];
	if (!valid_id(f))
		return field_err(file, r, "client_id", f,
		                 "must be 1-64 characters without control characters", err);
	out->therapist = f = r->f[ix[COL_THERAPIST]];
	if (!valid_id(f))
		return field_err(file, r, "therapist_id", f,
		                 "must be 1-64 characters without control characters", err);
	f = r->f[ix[COL_SESSION]];
	if (!csv_parse_long(f, &v) || v < 1 || v > ITEMROW_SESSION_MAX)
		return field_err(file, r, "session", f, "must be a whole number from 1 to 100000",
		                 err);
	out->session = (int)v;
	out->date = f = r->f[ix[COL_DATE]];
	if ((out->days = itemrow_parse_date(f)) < 0)
		return field_err(file, r, "date", f, "must be a real date written YYYY-MM-DD", err);
	f = r->f[ix[COL_MODALITY]];
	int m;
	for (m = 0; m < MOD_COUNT; m++)
		if (csv_eq(f, mod_names[m]))
			break;
	if (m == MOD_COUNT)
		return field_err(file, r, "modality", f, "must be in_person, video or phone", err);
	out->mod = (modality)m;
	f = r->f[ix[COL_INSTRUMENT]];
	out->inst = inst_lib_find(lib, f.p, f.len);
	if (out->inst == NULL || f.len == 0)
		return field_err(file, r, "instrument", f,
		                 "is not a loaded instrument (see 'alliance instruments')", err);
	const inst_def *d = out->inst;

	if (cols->format == ROWFMT_SCORES) {
		f = r->f[ix[COL_SCORE]];
		if (!csv_parse_double(f, &out->score) || out->score < d->score_min ||
		    out->score > d->score_max) {
			char what[96];
			snprintf(what, sizeof what, "must be a number from %g to %g for %s",
			         d->score_min, d->score_max, d->id);
			return field_err(file, r, "score", f, what, err);
		}
		out->scale = ix[COL_SCALE] >= 0 ? r->f[ix[COL_SCALE]] : (csv_field){"total", 5};
		if (ix[COL_SCALE] >= 0 && !csv_eq(out->scale, "total")) {
			int found = 0;
			for (int s = 0; s < d->nsub; s++)
				found |= csv_eq(out->scale, d->sub[s].name);
			if (!found)
				return field_err(file, r, "scale", out->scale,
				                 "must be total or a subscale of the instrument",
				                 err);
		}
		out->item = 0;
		out->value = SCORE_SKIPPED;
		return AL_OK;
	}

	f = r->f[ix[COL_ITEM]];
	if (!csv_parse_long(f, &v) || v < 1 || v > d->nitems) {
		char what[64];
		snprintf(what, sizeof what, "%s has items 1 to %d", d->id, d->nitems);
		return field_err(file, r, "item", f, what, err);
	}
	out->item = (int)v;
	f = r->f[ix[COL_VALUE]];
	if (f.len == 0) {
		out->value = SCORE_SKIPPED;
	} else {
		const inst_item *it = &d->items[out->item - 1];
		if (!csv_parse_long(f, &v) || v < it->min || v > it->max) {
			char what[96];
			snprintf(what, sizeof what,
			         "%s item %d takes whole numbers %d to %d, or empty", d->id,
			         out->item, it->min, it->max);
			return field_err(file, r, "value", f, what, err);
		}
		out->value = (int)v;
	}
	out->score = 0;
	return AL_OK;
}
