/* store_import.c: a registry file (item- or score-level format) into the
 * practice database, in one transaction.
 *
 * Every row is checked first (itemrow, and admin for the rules that span
 * rows) with the same FILE:LINE: messages as every other reader. Then the
 * administrations are written in client order, so the client, course and
 * session last written can be remembered instead of looked up: a fresh
 * client needs no SELECT at all, which is what makes 18.9 million rows fit
 * in the time budget (docs/BENCHMARKS.md). Re-importing a file finds every
 * administration already present and changes nothing.
 *
 * With keep_going, rows with problems are written unchanged to the rejects
 * file and the rest is imported, except that an administration is kept or
 * rejected whole: when its rows conflict, or when one of its rows is bad
 * (an answer out of range), all its rows go to the rejects file, so that a
 * corrected rejects file can be imported as it is. */
#include <stdlib.h>
#include <string.h>

#include "../core/admin.h"
#include "../core/problems.h"
#include "../os/os.h"
#include "store_int.h"

/* Therapists of the file, by login: a small open-addressing table. */
typedef struct tslot {
	char login[ITEMROW_ID_MAX + 1];
	int64_t id;
} tslot;

typedef struct imp {
	store *s;
	const store_import_opts *o;
	store_import_stats *st;
	char now[32];
	tslot *tab;
	size_t tcap, tn;
	char client[ITEMROW_ID_MAX + 1]; /* the client last seen */
	int64_t client_id, course_id;
	int client_new;
	int session; /* the session last seen, and its id */
	int64_t session_id;
	os_progress prog;
	/* keep_going: lines to reject */
	long *bad;
	size_t nbad, badcap;
	const admin_set *set;
	size_t cursor;
	/* keep_going: administrations with a bad row, "client\x1fsession\x1finstrument" */
	char **taint;
	size_t ntaint, taintcap;
} imp;

static uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603u; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211u;
	return h;
}

static al_status therapist_id(imp *m, const char *login, size_t len, int64_t *id, al_err *err)
{
	if (m->tn * 2 >= m->tcap) {
		size_t cap = m->tcap ? m->tcap * 2 : 64;
		tslot *t = calloc(cap, sizeof *t);
		if (t == NULL)
			return al_err_set(err, AL_ENOMEM, "out of memory");
		for (size_t i = 0; i < m->tcap; i++) {
			if (!m->tab[i].id)
				continue;
			size_t j = hash_bytes(m->tab[i].login, strlen(m->tab[i].login)) & (cap - 1);
			while (t[j].id)
				j = (j + 1) & (cap - 1);
			t[j] = m->tab[i];
		}
		free(m->tab);
		m->tab = t;
		m->tcap = cap;
	}
	size_t j = hash_bytes(login, len) & (m->tcap - 1);
	while (m->tab[j].id) {
		if (strlen(m->tab[j].login) == len && memcmp(m->tab[j].login, login, len) == 0) {
			*id = m->tab[j].id;
			return AL_OK;
		}
		j = (j + 1) & (m->tcap - 1);
	}
	char name[ITEMROW_ID_MAX + 1];
	memcpy(name, login, len);
	name[len] = '\0';
	al_status st = store_user_ensure(m->s, name, ROLE_THERAPIST, id, err);
	if (st != AL_OK)
		return st;
	memcpy(m->tab[j].login, name, len + 1);
	m->tab[j].id = *id;
	m->tn++;
	return AL_OK;
}

/* Make (client, course, session) current, creating what is missing. */
static al_status locate(imp *m, const char *client, size_t clen, const char *therapist, size_t tlen,
                        int session, const char *date, modality mod, al_err *err)
{
	store *s = m->s;
	int64_t ther = 0;
	al_status st = therapist_id(m, therapist, tlen, &ther, err);
	if (st != AL_OK)
		return st;
	if (strlen(m->client) != clen || memcmp(m->client, client, clen) != 0) {
		m->client[0] = '\0';
		m->session = 0;
		st = store_client_locate(s, client, clen, ther, NULL, 0, date, &m->client_id,
		                         &m->course_id, &m->client_new, err);
		if (st != AL_OK)
			return st;
		memcpy(m->client, client, clen);
		m->client[clen] = '\0';
		if (m->client_new)
			m->st->clients_added++;
	}
	if (session != m->session) {
		st = store_session_ensure(s, m->course_id, session, date, mod, ther, m->client_new,
		                          &m->session_id, err);
		if (st != AL_OK)
			return st;
		m->session = session;
	}
	return AL_OK;
}

static al_status reject_line(imp *m, long line, al_err *err)
{
	if (m->nbad == m->badcap) {
		size_t cap = m->badcap ? 2 * m->badcap : 256;
		long *b = realloc(m->bad, cap * sizeof *b);
		if (b == NULL)
			return al_err_set(err, AL_ENOMEM, "out of memory");
		m->bad = b;
		m->badcap = cap;
	}
	m->bad[m->nbad++] = line;
	return AL_OK;
}

/* The key of the administration a bad row belongs to, from its raw fields
 * (NULL when the row is too short to say). Caller frees. */
static char *raw_key(const itemrow_cols *cols, const csv_reader *r)
{
	int ic = cols->idx[COL_CLIENT], is = cols->idx[COL_SESSION], ii = cols->idx[COL_INSTRUMENT];
	if (ic < 0 || is < 0 || ii < 0 || (size_t)ic >= r->nfields || (size_t)is >= r->nfields ||
	    (size_t)ii >= r->nfields)
		return NULL;
	const csv_field *c = &r->f[ic], *se = &r->f[is], *in = &r->f[ii];
	char *k = malloc(c->len + se->len + in->len + 3);
	if (k != NULL)
		sprintf(k, "%.*s\x1f%.*s\x1f%.*s", (int)c->len, c->p, (int)se->len, se->p,
		        (int)in->len, in->p);
	return k;
}

static al_status taint(imp *m, char *key, al_err *err)
{
	if (key == NULL)
		return AL_OK;
	if (m->ntaint == m->taintcap) {
		size_t cap = m->taintcap ? 2 * m->taintcap : 64;
		char **t = realloc(m->taint, cap * sizeof *t);
		if (t == NULL) {
			free(key);
			return al_err_set(err, AL_ENOMEM, "out of memory");
		}
		m->taint = t;
		m->taintcap = cap;
	}
	m->taint[m->ntaint++] = key;
	return AL_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int tainted(const imp *m, const admin *a)
{
	if (m->ntaint == 0)
		return 0;
	char key[2 * ITEMROW_ID_MAX + INST_ID_MAX + 16];
	snprintf(key, sizeof key, "%.*s\x1f%d\x1f%s", (int)a->client_len, a->client, a->session,
	         a->inst->id);
	const char *k = key;
	return bsearch(&k, m->taint, m->ntaint, sizeof *m->taint, cmp_str) != NULL;
}

static int same_group(const admin_set *set, const admin_row *r, const admin *a)
{
	return r->client_len == a->client_len && memcmp(r->client, a->client, a->client_len) == 0 &&
	       r->session == a->session && &set->lib->defs[r->inst] == a->inst;
}

/* keep_going: every row before the administration a (or all remaining rows
 * when a is NULL) that belongs to no administration passed on was part of
 * a conflicting one: reject it. Relies on admin_set_each walking the sorted
 * rows in order. */
static al_status reject_skipped(imp *m, const admin *a, int reject_a, al_err *err)
{
	const admin_set *set = m->set;
	while (m->cursor < set->n && (a == NULL || !same_group(set, &set->rows[m->cursor], a))) {
		al_status st = reject_line(m, set->rows[m->cursor].line, err);
		if (st != AL_OK)
			return st;
		m->cursor++;
	}
	while (a != NULL && m->cursor < set->n && same_group(set, &set->rows[m->cursor], a)) {
		if (reject_a) {
			al_status st = reject_line(m, set->rows[m->cursor].line, err);
			if (st != AL_OK)
				return st;
		}
		m->cursor++;
	}
	return AL_OK;
}

static al_status on_admin(void *ctx, const admin *a, al_err *err)
{
	imp *m = ctx;
	al_status st;
	if (m->o->keep_going) {
		int bad = tainted(m, a);
		if ((st = reject_skipped(m, a, bad, err)) != AL_OK || bad)
			return st;
	}
	st = locate(m, a->client, a->client_len, a->therapist, a->therapist_len, a->session,
	            a->date, a->mod, err);
	if (st != AL_OK)
		return st;
	int64_t admin_id;
	int added = 0;
	score_result r;
	st = store_admin_add(m->s, m->client_id, m->session_id, a->inst, a->values, SRC_IMPORT,
	                     a->inst->timing == INST_AFTER, m->now, &admin_id, &added, &r, err);
	if (st != AL_OK)
		return st;
	m->st->admins++;
	if (added) {
		m->st->added++;
		if (!r.total.valid)
			m->st->invalid++;
	} else {
		m->st->present++;
	}
	if ((m->st->admins & 0x3fff) == 0)
		os_progress_update(&m->prog, m->st->admins, m->st->admins);
	return AL_OK;
}

/* A score-level row: its administration (without item answers) and one
 * score for its scale. */
static al_status score_row(imp *m, const itemrow *row, al_err *err)
{
	store *s = m->s;
	char date[11];
	memcpy(date, row->date.p, 10);
	date[10] = '\0';
	al_status st = locate(m, row->client.p, row->client.len, row->therapist.p,
	                      row->therapist.len, row->session, date, row->mod, err);
	if (st != AL_OK)
		return st;
	int64_t admin_id = 0;
	int added = 0;
	int after = row->inst->timing == INST_AFTER;
	st = store_admin_add(s, m->client_id, m->session_id, row->inst, NULL, SRC_IMPORT, after,
	                     m->now, &admin_id, &added, NULL, err);
	if (st != AL_OK)
		return st;
	if (!added) {
		store_val p[4] = {VI(s->practice), VI(m->session_id), VT(row->inst->id),
		                  VT(after ? "after" : "before")};
		if ((st = store_q_int(s, Q_ADMIN_GET, p, 4, &admin_id, err)) != AL_OK)
			return st;
	}
	int64_t changes = 0;
	store_val sc[5] = {VI(s->practice), VI(admin_id),
	                   row->scale.len ? VTN(row->scale.p, row->scale.len) : VT("total"),
	                   VR(row->score), VNULL};
	if ((st = store_q(s, Q_SCORE_ADD, sc, 5, NULL, NULL, &changes, err)) != AL_OK)
		return st;
	m->st->admins++;
	if (changes > 0)
		m->st->added++;
	else
		m->st->present++;
	return AL_OK;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;
	return (x > y) - (x < y);
}

/* Copy the header and every rejected record, unchanged, to the rejects file. */
static al_status write_rejects(imp *m, const char *buf, size_t len, al_err *err)
{
	qsort(m->bad, m->nbad, sizeof *m->bad, cmp_long);
	os_out out = {0};
	csv_reader r = {0};
	al_status st = os_out_open(&out, m->o->rejects, err);
	if (st != AL_OK)
		return st;
	csv_init(&r, buf, len);
	size_t k = 0;
	int first = 1;
	al_err ignore = {0};
	while (csv_next(&r, &ignore) != 0) {
		al_err_clear(&ignore);
		while (k < m->nbad && m->bad[k] < r.line)
			k++;
		if (first || (k < m->nbad && m->bad[k] == r.line)) {
			fwrite(r.raw, 1, r.raw_len, out.fp);
			fputc('\n', out.fp);
			if (!first)
				m->st->rejected_rows++;
		}
		first = 0;
	}
	csv_cleanup(&r);
	return os_out_commit(&out, err);
}

al_status store_import(store *s, const char *buf, size_t len, const store_import_opts *o,
                       store_import_stats *stats, problems *pr, al_err *err)
{
	imp m;
	memset(&m, 0, sizeof m);
	memset(stats, 0, sizeof *stats);
	m.s = s;
	m.o = o;
	m.st = stats;
	store_now(m.now);
	admin_set set;
	csv_reader r = {0};
	itemrow_cols cols;
	al_status st = AL_OK;
	int own = 0, in_tx = 0;
	admin_set_init(&set, o->lib, buf, len);
	m.set = &set;
	csv_init(&r, buf, len);
	if ((st = itemrow_read_header(&r, o->file, 0, &cols, err)) != AL_OK)
		goto out;
	if (cols.unknown[0] && !o->quiet)
		fprintf(stderr, "alliance: %s:1: warning: unknown columns ignored: %s\n", o->file,
		        cols.unknown);
	if ((st = store_tx(s, &own, err)) != AL_OK)
		goto out;
	in_tx = 1;
	os_progress_start(&m.prog, "reading", len, o->quiet);
	for (;;) {
		int got = csv_next(&r, err);
		if (got == 0)
			break;
		if (got < 0) {
			char msg[AL_ERR_MAX];
			snprintf(msg, sizeof msg, "%s", err->msg);
			al_err_clear(err);
			al_err_set(err, AL_EINPUT, "%s:%s", o->file, msg + 5); /* "line N: ..." */
			problems_add(pr, err);
			if (o->keep_going && (st = reject_line(&m, r.line, err)) != AL_OK)
				goto out_prog;
			continue;
		}
		stats->rows++;
		itemrow row;
		if (itemrow_parse(&cols, &r, o->lib, o->file, &row, err) != AL_OK) {
			problems_add(pr, err);
			if (o->keep_going && ((st = reject_line(&m, r.line, err)) != AL_OK ||
			                      (cols.format == ROWFMT_ITEMS &&
			                       (st = taint(&m, raw_key(&cols, &r), err)) != AL_OK)))
				goto out_prog;
			continue;
		}
		if (cols.format == ROWFMT_ITEMS)
			st = admin_set_add(&set, &row, r.line, err);
		else if (o->keep_going || pr->total == 0)
			st = score_row(&m, &row, err);
		if (st != AL_OK)
			goto out_prog;
		if ((stats->rows & 0xffff) == 0)
			os_progress_update(&m.prog, (uint64_t)(r.cur - buf), stats->rows);
	}
	os_progress_end(&m.prog, stats->rows);
	if (cols.format == ROWFMT_ITEMS && (o->keep_going || pr->total == 0)) {
		os_progress_start(&m.prog, "writing", set.n / 8 + 1, o->quiet);
		if (m.ntaint > 0)
			qsort(m.taint, m.ntaint, sizeof *m.taint, cmp_str);
		st = admin_set_each(&set, o->file, pr, on_admin, &m, err);
		if (st == AL_OK && o->keep_going)
			st = reject_skipped(&m, NULL, 0, err);
		os_progress_end(&m.prog, stats->admins);
		if (st != AL_OK)
			goto out;
	}
	if (pr->total > 0 && !o->keep_going) {
		st = al_err_set(err, AL_EINPUT, "%s: %zu problem%s; nothing imported", o->file,
		                pr->total, pr->total == 1 ? "" : "s");
		goto out;
	}
	char detail[200];
	snprintf(detail, sizeof detail,
	         "%zu rows, %zu administrations: %zu added, %zu already present, %zu rejected rows",
	         stats->rows, stats->admins, stats->added, stats->present, m.nbad);
	if ((st = store_audit(s, "import", o->file, detail, err)) != AL_OK)
		goto out;
	if (o->keep_going && o->rejects != NULL && m.nbad > 0 &&
	    (st = write_rejects(&m, buf, len, err)) != AL_OK)
		goto out;
	stats->rejected_rows = m.nbad;
	goto out;
out_prog:
	os_progress_end(&m.prog, stats->rows);
out:
	if (in_tx)
		st = store_end(s, own, st, err);
	free(m.tab);
	free(m.bad);
	for (size_t i = 0; i < m.ntaint; i++)
		free(m.taint[i]);
	free(m.taint);
	admin_set_cleanup(&set);
	csv_cleanup(&r);
	return st;
}
