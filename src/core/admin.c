/* admin.c: rows to administrations (see admin.h). */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void admin_set_init(admin_set *s, const inst_lib *lib, const char *buf, size_t len)
{
	memset(s, 0, sizeof *s);
	arena_init(&s->strings, 0);
	s->lib = lib;
	s->buf = buf;
	s->bufend = buf + len;
}

void admin_set_cleanup(admin_set *s)
{
	free(s->rows);
	arena_cleanup(&s->strings);
	memset(s, 0, sizeof *s);
}

/* A field that points into the reader's scratch space must be copied; one
 * that points into the input buffer can be kept as it is. */
static const char *keep(admin_set *s, csv_field f)
{
	if (f.p >= s->buf && f.p + f.len <= s->bufend)
		return f.p;
	return arena_strndup(&s->strings, f.p, f.len);
}

al_status admin_set_add(admin_set *s, const itemrow *r, long line, al_err *err)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4096;
		admin_row *n = realloc(s->rows, cap * sizeof *n);
		if (n == NULL)
			return al_err_set(err, AL_ENOMEM, "out of memory after %zu rows", s->n);
		s->rows = n;
		s->cap = cap;
	}
	admin_row *w = &s->rows[s->n];
	w->client = keep(s, r->client);
	w->therapist = keep(s, r->therapist);
	w->date = keep(s, r->date);
	if (w->client == NULL || w->therapist == NULL || w->date == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory after %zu rows", s->n);
	w->client_len = (uint8_t)r->client.len;
	w->therapist_len = (uint8_t)r->therapist.len;
	w->mod = (uint8_t)r->mod;
	w->item = (uint8_t)r->item;
	w->inst = (uint16_t)(r->inst - s->lib->defs);
	w->session = r->session;
	w->value = r->value;
	w->line = line;
	s->n++;
	return AL_OK;
}

static int bytes_cmp(const char *a, size_t na, const char *b, size_t nb)
{
	int c = memcmp(a, b, na < nb ? na : nb);
	return c != 0 ? c : (na > nb) - (na < nb);
}

static int row_cmp(const void *pa, const void *pb)
{
	const admin_row *a = pa, *b = pb;
	int c = bytes_cmp(a->client, a->client_len, b->client, b->client_len);
	if (c != 0)
		return c;
	if (a->session != b->session)
		return a->session < b->session ? -1 : 1;
	if (a->inst != b->inst) /* the library is sorted by id */
		return a->inst < b->inst ? -1 : 1;
	if (a->item != b->item)
		return a->item < b->item ? -1 : 1;
	return (a->line > b->line) - (a->line < b->line);
}

static int same_admin(const admin_row *a, const admin_row *b)
{
	return a->session == b->session && a->inst == b->inst && a->client_len == b->client_len &&
	       memcmp(a->client, b->client, a->client_len) == 0;
}

static void conflict(const char *file, problems *pr, const admin_row *r, const admin_row *first,
                     const inst_def *d, const char *col, const char *val, size_t len)
{
	al_err e = {0};
	char q[80];
	al_quote(q, sizeof q, val, len);
	al_err_set(&e, AL_EINPUT,
	           "%s:%ld: column %s: differs from line %ld of the same administration (client "
	           "%.*s, session %d, %s) (got \"%s\")",
	           file, r->line, col, first->line, (int)first->client_len, first->client,
	           first->session, d->id, q);
	problems_add(pr, &e);
}

al_status admin_set_each(admin_set *s, const char *file, problems *pr, admin_fn fn, void *ctx,
                         al_err *err)
{
	if (s->n > 1) /* qsort(NULL, 0, ...) is undefined */
		qsort(s->rows, s->n, sizeof *s->rows, row_cmp);
	admin a;
	for (size_t i = 0; i < s->n;) {
		size_t j = i + 1;
		while (j < s->n && same_admin(&s->rows[i], &s->rows[j]))
			j++;
		/* rows i..j-1: one administration, sorted by item then line */
		const admin_row *first = &s->rows[i];
		for (size_t k = i + 1; k < j; k++)
			if (s->rows[k].line < first->line)
				first = &s->rows[k];
		const inst_def *d = &s->lib->defs[first->inst];
		int ok = 1;
		for (size_t k = i; k < j; k++) {
			const admin_row *r = &s->rows[k];
			if (k > i && r->item == s->rows[k - 1].item) {
				al_err e = {0};
				al_err_set(&e, AL_EINPUT,
				           "%s:%ld: column item: item %d of this administration "
				           "(client %.*s, "
				           "session %d, %s) is already on line %ld (got \"%d\")",
				           file, r->line, r->item, (int)r->client_len, r->client,
				           r->session, d->id, s->rows[k - 1].line, r->item);
				problems_add(pr, &e);
				ok = 0;
			}
			if (r == first)
				continue;
			if (r->therapist_len != first->therapist_len ||
			    memcmp(r->therapist, first->therapist, r->therapist_len) != 0) {
				conflict(file, pr, r, first, d, "therapist_id", r->therapist,
				         r->therapist_len);
				ok = 0;
			}
			if (memcmp(r->date, first->date, 10) != 0) {
				conflict(file, pr, r, first, d, "date", r->date, 10);
				ok = 0;
			}
			if (r->mod != first->mod) {
				const char *m = modality_str((modality)r->mod);
				conflict(file, pr, r, first, d, "modality", m, strlen(m));
				ok = 0;
			}
		}
		if (ok) {
			a.client = first->client;
			a.client_len = first->client_len;
			a.therapist = first->therapist;
			a.therapist_len = first->therapist_len;
			a.date = first->date;
			a.session = first->session;
			a.mod = (modality)first->mod;
			a.inst = d;
			a.line = first->line;
			a.nrows = (int)(j - i);
			for (int k = 0; k < d->nitems; k++)
				a.values[k] = SCORE_SKIPPED;
			for (size_t k = i; k < j; k++)
				a.values[s->rows[k].item - 1] = s->rows[k].value;
			al_status st = fn(ctx, &a, err);
			if (st != AL_OK)
				return st;
		}
		i = j;
	}
	return AL_OK;
}
