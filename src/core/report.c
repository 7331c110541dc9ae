/* report.c: accumulation and summary of the registry report (see report.h).
 *
 * Two hash tables do the work: interned ids (clients, therapists) and
 * administrations keyed by (client, session, instrument). Both are open
 * addressing over power-of-two arrays of 32- or 64-bit slots: the file is
 * read once and every row touches them, so they are written here rather than
 * taken from a general library (docs/BENCHMARKS.md). The summary sorts
 * nothing larger than the list of clients: administrations are bucketed by
 * client rank, and each client's few administrations are put in session
 * order by insertion sort (they usually arrive in order). */
#include "report.h"

#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "score.h"

#define NONE UINT32_MAX

/* Every allocation of this module goes through these three, so that a test
 * can make the n-th one fail (report_fail_alloc, report.h). */
long report_fail_alloc;

static int alloc_fails(void)
{
	return report_fail_alloc > 0 && --report_fail_alloc == 0;
}

static void *r_malloc(size_t n)
{
	return alloc_fails() ? NULL : malloc(n);
}

static void *r_calloc(size_t n, size_t size)
{
	return alloc_fails() ? NULL : calloc(n, size);
}

static void *r_realloc(void *p, size_t n)
{
	return alloc_fails() ? NULL : realloc(p, n);
}

/* The spec's rules, fixed: items, skips allowed, scored as a mean. */
static const struct rule {
	const char *id;
	int k, maxmiss, mean;
} rules[REPORT_NINST] = {{"phq9", 9, 1, 0}, {"gad7", 7, 1, 0}, {"wai_sr", 12, 2, 1}};

/* Every valid wai_sr mean is total/answered with answered in 1..12; scaled
 * by lcm(1..12) its sum over any set of administrations is an exact
 * integer, so alliance means are one correctly rounded division. */
#define WAI_SCALE 27720

static uint64_t hash_bytes(const char *p, size_t n)
{
	uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
	while (n >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		h = (h ^ v) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
		p += 8;
		n -= 8;
	}
	uint64_t v = 0;
	memcpy(&v, p, n);
	h = (h ^ v) * 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 29;
	h *= 0x9E3779B97F4A7C15ull;
	return h ^ (h >> 32);
}

static uint64_t hash_key(uint32_t client, uint32_t session, uint32_t inst)
{
	uint64_t h = ((uint64_t)client << 32 | session) * 0x9E3779B97F4A7C15ull;
	h ^= (uint64_t)inst * 0xff51afd7ed558ccdull;
	h ^= h >> 31;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 29);
}

/* ---- interned strings ---- */

static void strtab_cleanup(report_strtab *t)
{
	free(t->bytes);
	free(t->ent);
	free(t->slot);
	memset(t, 0, sizeof *t);
}

const char *report_strtab_get(const report_strtab *t, uint32_t i, size_t *len)
{
	*len = (size_t)(t->ent[i] & 0xff);
	return t->bytes + (t->ent[i] >> 8);
}

static inline int strtab_eq(const report_strtab *t, uint32_t i, const char *p, size_t n)
{
	uint64_t e = t->ent[i];
	return (e & 0xff) == n && bytes_eq(t->bytes + (e >> 8), p, n);
}

static al_status strtab_grow_slots(report_strtab *t, al_err *err)
{
	uint32_t n = t->nslot ? t->nslot * 2 : 1024;
	uint64_t *s = r_calloc(n, sizeof *s);
	if (s == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory for %u ids", t->n);
	for (uint32_t i = 0; i < t->nslot; i++) {
		uint64_t v = t->slot[i];
		if (v == 0)
			continue;
		uint32_t j = (uint32_t)(v >> 32) & (n - 1);
		while (s[j] != 0)
			j = (j + 1) & (n - 1);
		s[j] = v;
	}
	free(t->slot);
	t->slot = s;
	t->nslot = n;
	return AL_OK;
}

/* The index of p[0..n) (n <= 255), adding it when new. */
static al_status strtab_intern_h(report_strtab *t, const char *p, size_t n, uint64_t h,
                                 uint32_t *out, al_err *err)
{
	if (t->nslot == 0 && strtab_grow_slots(t, err) != AL_OK)
		return err->status;
	uint32_t tag = (uint32_t)h;
	uint32_t j = tag & (t->nslot - 1);
	for (;;) {
		uint64_t v = t->slot[j];
		if (v == 0)
			break;
		if ((uint32_t)(v >> 32) == tag && strtab_eq(t, (uint32_t)v - 1, p, n)) {
			*out = (uint32_t)v - 1;
			return AL_OK;
		}
		j = (j + 1) & (t->nslot - 1);
	}
	if (t->n == NONE - 1)
		return al_err_set(err, AL_ELIMIT, "more than %u distinct ids", NONE - 1);
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 1024;
		uint64_t *e = r_realloc(t->ent, (size_t)cap * sizeof *e);
		if (e == NULL)
			return al_err_set(err, AL_ENOMEM, "out of memory for %u ids", t->n);
		t->ent = e;
		t->cap = cap;
	}
	if (t->nbytes + n > t->capbytes) {
		size_t cap = t->capbytes ? t->capbytes * 2 : 16384;
		while (cap < t->nbytes + n)
			cap *= 2;
		char *b = r_realloc(t->bytes, cap);
		if (b == NULL)
			return al_err_set(err, AL_ENOMEM, "out of memory for %u ids", t->n);
		t->bytes = b;
		t->capbytes = cap;
	}
	memcpy(t->bytes + t->nbytes, p, n);
	t->ent[t->n] = (uint64_t)t->nbytes << 8 | n;
	t->nbytes += n;
	t->slot[j] = (uint64_t)tag << 32 | (t->n + 1);
	*out = t->n++;
	if ((uint64_t)t->n * 2 > t->nslot)
		return strtab_grow_slots(t, err);
	return AL_OK;
}

static al_status strtab_intern(report_strtab *t, const char *p, size_t n, uint32_t *out,
                               al_err *err)
{
	return strtab_intern_h(t, p, n, hash_bytes(p, n), out, err);
}

static uint32_t strtab_find(const report_strtab *t, const char *p, size_t n)
{
	if (t->nslot == 0)
		return NONE;
	uint64_t h = hash_bytes(p, n);
	uint32_t tag = (uint32_t)h;
	for (uint32_t j = tag & (t->nslot - 1);; j = (j + 1) & (t->nslot - 1)) {
		uint64_t v = t->slot[j];
		if (v == 0)
			return NONE;
		if ((uint32_t)(v >> 32) == tag && strtab_eq(t, (uint32_t)v - 1, p, n))
			return (uint32_t)v - 1;
	}
}

/* ---- administrations ---- */

al_status report_acc_init(report_acc *a, const inst_lib *lib, al_err *err)
{
	memset(a, 0, sizeof *a);
	a->lib = lib;
	a->last_client = a->last_ther = a->last_adm = NONE;
	if (lib->n > 256)
		return al_err_set(err, AL_ELIMIT, "the report handles at most 256 instruments");
	for (size_t i = 0; i < 256; i++)
		a->kind[i] = -1;
	for (int k = 0; k < REPORT_NINST; k++) {
		const inst_def *d = inst_lib_find(lib, rules[k].id, strlen(rules[k].id));
		if (d == NULL)
			return al_err_set(
			    err, AL_ENOTFOUND,
			    "instrument %s is not loaded; the registry report needs it",
			    rules[k].id);
		if (d->nitems != rules[k].k)
			return al_err_set(err, AL_EINPUT,
			                  "instrument %s: the registry report needs %d items, the "
			                  "definition has %d",
			                  rules[k].id, rules[k].k, d->nitems);
		a->kind[d - lib->defs] = k;
	}
	return AL_OK;
}

void report_acc_cleanup(report_acc *a)
{
	strtab_cleanup(&a->clients);
	strtab_cleanup(&a->therapists);
	free(a->adm);
	free(a->aslot);
	free(a->run);
	memset(a, 0, sizeof *a);
	a->last_client = a->last_ther = a->last_adm = NONE;
}

/* Where a client's administrations are. While all of them came in one run
 * (the file is grouped by client, the common case), they sit side by side
 * at adm[first .. first+n) and are found by a short scan, without touching
 * the hash table: on a sorted file the table stays empty. A client whose
 * rows come back after another client's, or with more than RUN_MAX
 * administrations, moves into the hash table for good (n = RUN_HASHED). */
#define RUN_MAX    96
#define RUN_HASHED UINT32_MAX

static al_status adm_grow_slots(report_acc *a, al_err *err)
{
	size_t n = a->naslot ? a->naslot * 2 : 4096;
	uint32_t *s = r_calloc(n, sizeof *s);
	if (s == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory after %zu administrations",
		                  a->nadm);
	for (size_t i = 0; i < a->nadm; i++) {
		const report_admin *d = &a->adm[i];
		if (a->run[d->client].n != RUN_HASHED)
			continue;
		size_t j = hash_key(d->client, d->session, d->inst) & (n - 1);
		while (s[j] != 0)
			j = (j + 1) & (n - 1);
		s[j] = (uint32_t)i + 1;
	}
	free(a->aslot);
	a->aslot = s;
	a->naslot = n;
	return AL_OK;
}

/* The slot where (client, session, inst) is or would go. */
static size_t adm_slot(const report_acc *a, uint32_t client, uint32_t session, uint32_t inst)
{
	size_t mask = a->naslot - 1;
	for (size_t j = hash_key(client, session, inst) & mask;; j = (j + 1) & mask) {
		uint32_t v = a->aslot[j];
		if (v == 0)
			return j;
		const report_admin *d = &a->adm[v - 1];
		if (d->client == client && d->session == session && d->inst == inst)
			return j;
	}
}

static al_status hash_put(report_acc *a, uint32_t i, al_err *err)
{
	if ((a->nhashed + 1) * 2 > a->naslot && adm_grow_slots(a, err) != AL_OK)
		return err->status;
	const report_admin *d = &a->adm[i];
	a->aslot[adm_slot(a, d->client, d->session, d->inst)] = i + 1;
	a->nhashed++;
	return AL_OK;
}

/* The administration's index, or NONE. */
static uint32_t adm_find(const report_acc *a, uint32_t client, uint32_t session, uint32_t inst)
{
	const report_run *r = &a->run[client];
	if (r->n != RUN_HASHED) {
		for (uint32_t i = r->first + r->n; i-- > r->first;)
			if (a->adm[i].session == session && a->adm[i].inst == inst)
				return i;
		return NONE;
	}
	size_t j = adm_slot(a, client, session, inst);
	return a->aslot[j] ? a->aslot[j] - 1 : NONE;
}

/* Find or add the administration; *isnew says which. */
static al_status adm_get(report_acc *a, uint32_t client, uint32_t session, uint32_t inst,
                         uint32_t *out, int *isnew, al_err *err)
{
	if (client >= a->caprun) {
		size_t cap = a->caprun ? a->caprun * 2 : 4096;
		while (cap <= client)
			cap *= 2;
		report_run *n = r_realloc(a->run, cap * sizeof *n);
		if (n == NULL)
			return al_err_set(err, AL_ENOMEM, "out of memory after %u clients", client);
		memset(n + a->caprun, 0, (cap - a->caprun) * sizeof *n);
		a->run = n;
		a->caprun = cap;
	}
	uint32_t i = adm_find(a, client, session, inst);
	if (i != NONE) {
		*out = i;
		*isnew = 0;
		return AL_OK;
	}
	if (a->nadm >= NONE - 1)
		return al_err_set(err, AL_ELIMIT, "more than %u administrations", NONE - 1);
	if (a->nadm == a->capadm) {
		size_t cap = a->capadm ? a->capadm * 2 : 4096;
		report_admin *n = r_realloc(a->adm, cap * sizeof *n);
		if (n == NULL)
			return al_err_set(err, AL_ENOMEM, "out of memory after %zu administrations",
			                  a->nadm);
		a->adm = n;
		a->capadm = cap;
	}
	i = (uint32_t)a->nadm++;
	report_admin *d = &a->adm[i];
	memset(d, 0, sizeof *d);
	d->client = client;
	d->session = session;
	d->inst = (uint8_t)inst;
	*out = i;
	*isnew = 1;
	report_run *r = &a->run[client];
	if (r->n == 0)
		r->first = i;
	if (r->n != RUN_HASHED && r->first + r->n == i && r->n < RUN_MAX) {
		r->n++;
		return AL_OK;
	}
	if (r->n != RUN_HASHED) { /* the run ends here: hash what it had */
		uint32_t first = r->first, n = r->n;
		r->n = RUN_HASHED;
		for (uint32_t k = first; k < first + n; k++)
			if (hash_put(a, k, err) != AL_OK)
				return err->status;
	}
	return hash_put(a, i, err);
}

static void flag(report_acc *a, report_admin *d)
{
	if (!d->flagged) {
		d->flagged = 1;
		a->nflagged++;
	}
}

/* Add r, whose client is c. */
__attribute__((always_inline)) static inline al_status add_row(report_acc *a, const report_row *r,
                                                               uint32_t c, al_err *err)
{
	uint32_t t = a->last_ther;
	if (t == NONE || !strtab_eq(&a->therapists, t, r->therapist, r->therapist_len)) {
		if (strtab_intern(&a->therapists, r->therapist, r->therapist_len, &t, err) != AL_OK)
			return err->status;
		a->last_ther = t;
	}
	uint32_t i = a->last_adm;
	report_admin *d;
	if (i != NONE && (d = &a->adm[i])->client == c && d->session == (uint32_t)r->session &&
	    d->inst == (uint32_t)r->inst) {
		if (d->therapist != t || d->days != r->days || d->mod != r->mod)
			flag(a, d);
	} else {
		int isnew;
		if (adm_get(a, c, (uint32_t)r->session, (uint32_t)r->inst, &i, &isnew, err) !=
		    AL_OK)
			return err->status;
		a->last_adm = i;
		d = &a->adm[i];
		if (isnew) {
			d->therapist = t;
			d->days = r->days;
			d->mod = (uint8_t)r->mod;
		} else if (d->therapist != t || d->days != r->days || d->mod != r->mod) {
			flag(a, d);
		}
	}
	uint64_t bit = 1ull << ((unsigned)(r->item - 1) & 63);
	if (d->seen & bit)
		flag(a, d);
	d->seen |= bit;
	if (r->value != SCORE_SKIPPED && a->kind[r->inst] >= 0) {
		d->sum = (uint16_t)(d->sum + r->value);
		d->answered++;
	}
	return AL_OK;
}

al_status report_acc_add_same(report_acc *a, const report_row *r, int *added, al_err *err)
{
	uint32_t c = a->last_client;
	*added = c != NONE && strtab_eq(&a->clients, c, r->client, r->client_len);
	return *added ? add_row(a, r, c, err) : AL_OK;
}

al_status report_acc_add(report_acc *a, const report_row *r, al_err *err)
{
	uint32_t c = a->last_client;
	if (c == NONE || !strtab_eq(&a->clients, c, r->client, r->client_len)) {
		if (strtab_intern(&a->clients, r->client, r->client_len, &c, err) != AL_OK)
			return err->status;
		a->last_client = c;
	}
	return add_row(a, r, c, err);
}

/* Rows in file order mostly belong to the client and administration of the
 * row before, and then cost no lookup. When they do not (a shuffled file)
 * every row waits for two or three cache misses in the hash tables; taking
 * rows in batches lets those misses overlap: first every new client's slot
 * is prefetched, then its run, then the administration's slot and entry,
 * and only then are the rows added, in order. */
al_status report_acc_add_many(report_acc *a, const report_row *r, size_t n, al_err *err)
{
	uint32_t cl[REPORT_BATCH];
	uint64_t ch[REPORT_BATCH];
	uint8_t same[REPORT_BATCH];
	while (n > REPORT_BATCH) {
		if (report_acc_add_many(a, r, REPORT_BATCH, err) != AL_OK)
			return err->status;
		r += REPORT_BATCH;
		n -= REPORT_BATCH;
	}
	const report_strtab *ct = &a->clients;
	size_t nsame = 0;
	for (size_t i = 0; i < n; i++) {
		same[i] = i > 0 ? r[i].client_len == r[i - 1].client_len &&
		                      bytes_eq(r[i].client, r[i - 1].client, r[i].client_len)
		                : a->last_client != NONE &&
		                      strtab_eq(ct, a->last_client, r[0].client, r[0].client_len);
		if (same[i]) {
			nsame++;
			continue;
		}
		ch[i] = hash_bytes(r[i].client, r[i].client_len);
		if (ct->nslot)
			__builtin_prefetch(&ct->slot[(uint32_t)ch[i] & (ct->nslot - 1)]);
	}
	if (nsame == n) { /* the usual case: one client's rows */
		for (size_t i = 0; i < n; i++)
			if (add_row(a, &r[i], a->last_client, err) != AL_OK)
				return err->status;
		return AL_OK;
	}
	for (size_t i = 0; i < n; i++) {
		if (same[i]) {
			cl[i] = i > 0 ? cl[i - 1] : a->last_client;
			continue;
		}
		if (strtab_intern_h(&a->clients, r[i].client, r[i].client_len, ch[i], &cl[i],
		                    err) != AL_OK)
			return err->status;
		if (cl[i] < a->caprun)
			__builtin_prefetch(&a->run[cl[i]]);
	}
	for (size_t i = 0; i < n; i++) {
		if (same[i] || cl[i] >= a->caprun || a->run[cl[i]].n != RUN_HASHED || !a->naslot)
			continue;
		size_t j =
		    hash_key(cl[i], (uint32_t)r[i].session, (uint32_t)r[i].inst) & (a->naslot - 1);
		__builtin_prefetch(&a->aslot[j]);
		ch[i] = j;
	}
	for (size_t i = 0; i < n; i++) {
		if (same[i] || cl[i] >= a->caprun || a->run[cl[i]].n != RUN_HASHED || !a->naslot)
			continue;
		uint32_t v = a->aslot[ch[i] & (a->naslot - 1)];
		if (v)
			__builtin_prefetch(&a->adm[v - 1], 1);
	}
	for (size_t i = 0; i < n; i++) {
		a->last_client = cl[i];
		if (add_row(a, &r[i], cl[i], err) != AL_OK)
			return err->status;
	}
	return AL_OK;
}

al_status report_acc_merge(report_acc *dst, const report_acc *src, al_err *err)
{
	al_status st = AL_OK;
	uint32_t *cmap = r_calloc((size_t)src->clients.n + 1, sizeof *cmap);
	uint32_t *tmap = r_calloc((size_t)src->therapists.n + 1, sizeof *tmap);
	if (cmap == NULL || tmap == NULL) {
		st = al_err_set(err, AL_ENOMEM, "out of memory merging %u clients", src->clients.n);
		goto out;
	}
	for (uint32_t i = 0; i < src->clients.n; i++) {
		size_t n;
		const char *p = report_strtab_get(&src->clients, i, &n);
		if ((st = strtab_intern(&dst->clients, p, n, &cmap[i], err)) != AL_OK)
			goto out;
	}
	for (uint32_t i = 0; i < src->therapists.n; i++) {
		size_t n;
		const char *p = report_strtab_get(&src->therapists, i, &n);
		if ((st = strtab_intern(&dst->therapists, p, n, &tmap[i], err)) != AL_OK)
			goto out;
	}
	for (size_t i = 0; i < src->nadm; i++) {
		const report_admin *s = &src->adm[i];
		uint32_t j = 0;
		int isnew = 0;
		if ((st = adm_get(dst, cmap[s->client], s->session, s->inst, &j, &isnew, err)) !=
		    AL_OK)
			goto out;
		report_admin *d = &dst->adm[j];
		if (isnew) {
			*d = *s;
			d->client = cmap[s->client];
			d->therapist = tmap[s->therapist];
			if (d->flagged)
				dst->nflagged++;
			continue;
		}
		if (s->flagged || (d->seen & s->seen) || d->therapist != tmap[s->therapist] ||
		    d->days != s->days || d->mod != s->mod)
			flag(dst, d);
		d->seen |= s->seen;
		d->sum = (uint16_t)(d->sum + s->sum);
		d->answered = (uint8_t)(d->answered + s->answered);
	}
	dst->rows += src->rows;
	dst->bad_rows += src->bad_rows;
	dst->last_client = dst->last_ther = dst->last_adm = NONE;
out:
	free(cmap);
	free(tmap);
	return st;
}

int report_acc_is_flagged(const report_acc *a, const char *client, size_t client_len, int session,
                          int inst)
{
	uint32_t c = strtab_find(&a->clients, client, client_len);
	if (c == NONE || c >= a->caprun || session < 1)
		return 0;
	uint32_t i = adm_find(a, c, (uint32_t)session, (uint32_t)inst);
	return i != NONE && a->adm[i].flagged;
}

/* ---- summary ---- */

typedef struct id_ref {
	const char *p;
	size_t len;
	uint32_t idx;
} id_ref;

static int id_cmp(const void *pa, const void *pb)
{
	const id_ref *a = pa, *b = pb;
	int c = memcmp(a->p, b->p, a->len < b->len ? a->len : b->len);
	return c != 0 ? c : (a->len > b->len) - (a->len < b->len);
}

/* rank[i] = position of string i in byte order; order[r] = its inverse. */
static al_status sort_ids(const report_strtab *t, uint32_t **rank, uint32_t **order, al_err *err)
{
	id_ref *v = r_malloc(((size_t)t->n + 1) * sizeof *v);
	*rank = r_malloc(((size_t)t->n + 1) * sizeof **rank);
	*order = r_malloc(((size_t)t->n + 1) * sizeof **order);
	if (v == NULL || *rank == NULL || *order == NULL) {
		free(v);
		return al_err_set(err, AL_ENOMEM, "out of memory sorting %u ids", t->n);
	}
	for (uint32_t i = 0; i < t->n; i++) {
		v[i].p = report_strtab_get(t, i, &v[i].len);
		v[i].idx = i;
	}
	qsort(v, t->n, sizeof *v, id_cmp);
	for (uint32_t r = 0; r < t->n; r++) {
		(*rank)[v[r].idx] = r;
		(*order)[r] = v[r].idx;
	}
	free(v);
	return AL_OK;
}

static int adm_before(const report_acc *a, uint32_t x, uint32_t y)
{
	const report_admin *p = &a->adm[x], *q = &a->adm[y];
	if (p->session != q->session)
		return p->session < q->session;
	return a->kind[p->inst] < a->kind[q->inst];
}

static double wai_score(const report_admin *d)
{
	return (double)d->sum / (double)d->answered;
}

static void add_to_group(report_group *g, const report_client *c)
{
	g->clients++;
	g->eligible += c->eligible;
	g->improved += c->improved;
	g->deteriorated += c->deteriorated;
	g->eligible_case += c->eligible && c->case_first;
	g->recovered += c->recovered;
	g->reliable_recovery += c->reliable_recovery;
	if (c->alliance_n > 0) {
		g->alliance_clients++;
		g->alliance_sum += c->alliance_mean;
	}
	g->ruptures += (uint64_t)c->ruptures;
	g->chances += c->alliance_n > 1 ? (uint64_t)(c->alliance_n - 1) : 0;
	g->repaired += (uint64_t)c->repaired;
}

/* One client from its valid administrations ix[0..n), in session order. */
static void follow_client(const report_acc *a, const uint32_t *ix, size_t n, double *wai,
                          report_client *c, int64_t *wai_sum)
{
	int prev_session = -1;
	size_t nw = 0;
	int64_t S = 0;
	c->phq9_first = c->phq9_last = c->gad7_first = c->gad7_last = -1;
	for (size_t i = 0; i < n; i++) {
		const report_admin *d = &a->adm[ix[i]];
		if ((int)d->session != prev_session) {
			c->n_sessions++;
			prev_session = (int)d->session;
		}
		int k = a->kind[d->inst];
		if (k == REPORT_WAI) {
			wai[nw++] = wai_score(d);
			S += (int64_t)d->sum * (WAI_SCALE / d->answered);
			continue;
		}
		int score = (int)score_prorate(d->sum, d->answered, rules[k].k);
		if (k == REPORT_PHQ9) {
			if (c->phq9_n++ == 0)
				c->phq9_first = score;
			c->phq9_last = score;
		} else {
			if (c->gad7_n++ == 0)
				c->gad7_first = score;
			c->gad7_last = score;
		}
	}
	c->therapist = a->adm[ix[n - 1]].therapist;
	c->eligible = c->phq9_n >= 2 && c->gad7_n >= 2;
	c->case_first =
	    (c->phq9_n > 0 && c->phq9_first >= 10) || (c->gad7_n > 0 && c->gad7_first >= 8);
	c->case_last =
	    (c->phq9_n > 0 && c->phq9_last >= 10) || (c->gad7_n > 0 && c->gad7_last >= 8);
	int dp = c->phq9_last - c->phq9_first, dg = c->gad7_last - c->gad7_first;
	int imp = (c->phq9_n > 0 && dp <= -6) || (c->gad7_n > 0 && dg <= -4);
	int det = (c->phq9_n > 0 && dp >= 6) || (c->gad7_n > 0 && dg >= 4);
	c->improved = c->eligible && imp && !det;
	c->deteriorated = c->eligible && det && !imp;
	c->recovered = c->eligible && c->case_first && !c->case_last;
	c->reliable_recovery = c->recovered && c->improved;
	c->alliance_n = (int)nw;
	if (nw > 0)
		c->alliance_mean = (double)S / ((double)WAI_SCALE * (double)nw);
	/* Ruptures and repairs compare the scores as the references do, in
	 * doubles, so that a drop of exactly 0.75 is judged the same way. */
	for (size_t k = 1; k < nw; k++) {
		double prev = wai[k - 1];
		if (!(wai[k] <= prev - 0.75))
			continue;
		c->ruptures++;
		double back = prev - 0.375;
		if ((k + 1 < nw && wai[k + 1] >= back) || (k + 2 < nw && wai[k + 2] >= back))
			c->repaired++;
	}
	*wai_sum = S;
}

al_status report_summarize(const report_acc *a, report_result *out, al_err *err)
{
	memset(out, 0, sizeof *out);
	al_status st = AL_OK;
	uint32_t *crank = NULL, *corder = NULL, *trank = NULL, *torder = NULL;
	uint32_t *start = NULL, *list = NULL;
	double *wai = NULL;
	uint32_t nc = a->clients.n;

	if ((st = sort_ids(&a->clients, &crank, &corder, err)) != AL_OK)
		goto out;
	if ((st = sort_ids(&a->therapists, &trank, &torder, err)) != AL_OK)
		goto out;
	start = r_calloc((size_t)nc + 2, sizeof *start);
	if (start == NULL)
		goto oom;
	/* count the valid administrations of each client (by rank) */
	size_t nvalid = 0;
	for (size_t i = 0; i < a->nadm; i++) {
		const report_admin *d = &a->adm[i];
		if (d->flagged) {
			out->flagged++;
			continue;
		}
		int k = a->kind[d->inst];
		if (k < 0) {
			out->other_administrations++;
			continue;
		}
		out->administrations++;
		if (d->answered == 0 || rules[k].k - d->answered > rules[k].maxmiss) {
			out->invalid++;
			continue;
		}
		start[crank[d->client] + 2]++;
		nvalid++;
	}
	for (uint32_t r = 0; r < nc; r++)
		start[r + 2] += start[r + 1];
	list = r_malloc((nvalid + 1) * sizeof *list);
	if (list == NULL)
		goto oom;
	for (size_t i = 0; i < a->nadm; i++) {
		const report_admin *d = &a->adm[i];
		int k = a->kind[d->inst];
		if (d->flagged || k < 0 || d->answered == 0 ||
		    rules[k].k - d->answered > rules[k].maxmiss)
			continue;
		list[start[crank[d->client] + 1]++] = (uint32_t)i;
	}
	/* now client rank r owns list[start[r] .. start[r+1]) */
	size_t maxn = 0;
	for (uint32_t r = 0; r < nc; r++)
		if (start[r + 1] - start[r] > maxn)
			maxn = start[r + 1] - start[r];
	wai = r_malloc((maxn + 1) * sizeof *wai);
	out->clients = r_malloc(((size_t)nc + 1) * sizeof *out->clients);
	out->therapists = r_calloc((size_t)a->therapists.n + 1, sizeof *out->therapists);
	if (wai == NULL || out->clients == NULL || out->therapists == NULL)
		goto oom;
	for (uint32_t r = 0; r < nc; r++) {
		uint32_t *ix = list + start[r];
		size_t n = start[r + 1] - start[r];
		if (n == 0)
			continue;
		for (size_t i = 1; i < n; i++) { /* insertion sort: usually in order already */
			uint32_t v = ix[i];
			size_t j = i;
			while (j > 0 && adm_before(a, v, ix[j - 1])) {
				ix[j] = ix[j - 1];
				j--;
			}
			ix[j] = v;
		}
		report_client *c = &out->clients[out->nclients++];
		memset(c, 0, sizeof *c);
		c->client = corder[r];
		int64_t S;
		follow_client(a, ix, n, wai, c, &S);
		for (size_t i = 0; i < n; i++) {
			const report_admin *d = &a->adm[ix[i]];
			if (a->kind[d->inst] == REPORT_WAI) {
				out->mod_sum[d->mod] += (int64_t)d->sum * (WAI_SCALE / d->answered);
				out->mod_n[d->mod]++;
			}
		}
		add_to_group(&out->all, c);
		add_to_group(&out->therapists[trank[c->therapist]], c);
	}
	/* keep the therapists that have clients, in id order */
	size_t nt = 0;
	for (uint32_t r = 0; r < a->therapists.n; r++) {
		if (out->therapists[r].clients == 0)
			continue;
		out->therapists[nt] = out->therapists[r];
		out->therapists[nt].therapist = torder[r];
		nt++;
	}
	out->ntherapists = nt;
	goto out;
oom:
	st = al_err_set(err, AL_ENOMEM, "out of memory summarising %u clients", nc);
out:
	free(crank);
	free(corder);
	free(trank);
	free(torder);
	free(start);
	free(list);
	free(wai);
	if (st != AL_OK)
		report_result_cleanup(out);
	return st;
}

void report_result_cleanup(report_result *r)
{
	free(r->clients);
	free(r->therapists);
	memset(r, 0, sizeof *r);
}

/* ---- output ---- */

static void put_id(FILE *f, const report_strtab *t, uint32_t i)
{
	size_t n;
	const char *p = report_strtab_get(t, i, &n);
	char buf[2 * 255 + 3];
	size_t len = csv_escape(buf, p, n);
	fwrite(buf, 1, len, f);
}

static al_status io_status(FILE *f, const char *what, al_err *err)
{
	if (ferror(f))
		return al_err_set(err, AL_EIO, "writing %s failed", what);
	return AL_OK;
}

/* Append the decimal digits of v >= 0 at o; returns the new end. */
static char *put_uint(char *o, unsigned v)
{
	char tmp[12];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*o++ = tmp[--n];
	return o;
}

/* One line of client_summary.csv into o (at least 2 * 2 * 255 + 160 bytes);
 * returns its end. Integers are formatted by hand (the file has a line per
 * client: printf was a tenth of the whole run); the mean keeps "%.6f". */
static char *client_line(char *o, const report_acc *a, const report_client *c)
{
	size_t n;
	const char *p = report_strtab_get(&a->clients, c->client, &n);
	o += csv_escape(o, p, n);
	*o++ = ',';
	p = report_strtab_get(&a->therapists, c->therapist, &n);
	o += csv_escape(o, p, n);
	*o++ = ',';
	o = put_uint(o, (unsigned)c->n_sessions);
	*o++ = ',';
	*o++ = (char)('0' + c->eligible);
	const int have[4] = {c->phq9_n > 0, c->phq9_n > 0, c->gad7_n > 0, c->gad7_n > 0};
	const int score[4] = {c->phq9_first, c->phq9_last, c->gad7_first, c->gad7_last};
	for (int i = 0; i < 4; i++) {
		*o++ = ',';
		if (have[i])
			o = put_uint(o, (unsigned)score[i]);
	}
	const uint8_t flags[6] = {c->case_first,   c->case_last, c->improved,
	                          c->deteriorated, c->recovered, c->reliable_recovery};
	for (int i = 0; i < 6; i++) {
		*o++ = ',';
		*o++ = (char)('0' + flags[i]);
	}
	*o++ = ',';
	o = put_uint(o, (unsigned)c->alliance_n);
	*o++ = ',';
	if (c->alliance_n > 0)
		o += snprintf(o, 32, "%.6f", c->alliance_mean);
	*o++ = ',';
	o = put_uint(o, (unsigned)c->ruptures);
	*o++ = ',';
	o = put_uint(o, (unsigned)c->repaired);
	*o++ = '\n';
	return o;
}

al_status report_write_clients(const report_acc *a, const report_result *r, FILE *f, al_err *err)
{
	fputs("client_id,therapist_id,n_sessions,eligible,phq9_first,phq9_last,gad7_first,"
	      "gad7_last,case_first,case_last,reliable_improvement,reliable_deterioration,"
	      "recovered,reliable_recovery,alliance_n,alliance_mean,ruptures,repaired\n",
	      f);
	char buf[65536];
	char *o = buf;
	for (size_t i = 0; i < r->nclients; i++) {
		if (o - buf > (long)sizeof buf - 2048) {
			fwrite(buf, 1, (size_t)(o - buf), f);
			o = buf;
		}
		o = client_line(o, a, &r->clients[i]);
	}
	if (o > buf)
		fwrite(buf, 1, (size_t)(o - buf), f);
	return io_status(f, "client_summary.csv", err);
}

static void put_rate(FILE *f, uint64_t num, uint64_t den)
{
	if (den == 0)
		fputc(',', f);
	else
		fprintf(f, ",%.6f", (double)num / (double)den);
}

static void put_group_csv(FILE *f, const report_group *g)
{
	fprintf(f, ",%llu,%llu", (unsigned long long)g->clients, (unsigned long long)g->eligible);
	put_rate(f, g->improved, g->eligible);
	put_rate(f, g->deteriorated, g->eligible);
	put_rate(f, g->recovered, g->eligible_case);
	put_rate(f, g->reliable_recovery, g->eligible_case);
	if (g->alliance_clients == 0)
		fputc(',', f);
	else
		fprintf(f, ",%.6f", g->alliance_sum / (double)g->alliance_clients);
	put_rate(f, g->ruptures, g->chances);
	put_rate(f, g->repaired, g->ruptures);
	fputc('\n', f);
}

al_status report_write_therapists(const report_acc *a, const report_result *r, FILE *f, al_err *err)
{
	fputs("therapist_id,clients,eligible,reliable_improvement_rate,"
	      "reliable_deterioration_rate,recovery_rate,reliable_recovery_rate,alliance_mean,"
	      "rupture_rate,repair_rate\n",
	      f);
	for (size_t i = 0; i < r->ntherapists; i++) {
		put_id(f, &a->therapists, r->therapists[i].therapist);
		put_group_csv(f, &r->therapists[i]);
	}
	return io_status(f, "therapist_summary.csv", err);
}

/* The shortest "%.*g" that reads back as the same double. */
static void put_num(FILE *f, double v)
{
	char buf[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, f);
}

static void put_ratio(FILE *f, const char *key, double num, uint64_t den, int last)
{
	fprintf(f, "  \"%s\": ", key);
	if (den == 0)
		fputs("null", f);
	else
		put_num(f, num / (double)den);
	fputs(last ? "\n" : ",\n", f);
}

al_status report_write_overall(const report_result *r, const report_extra *x, FILE *f, al_err *err)
{
	const report_group *g = &r->all;
	fputs("{\n \"administrations\": ", f);
	fprintf(f, "%llu,\n \"all\": {\n", (unsigned long long)r->administrations);
	put_ratio(f, "alliance_mean", g->alliance_sum, g->alliance_clients, 0);
	fprintf(f, "  \"clients\": %llu,\n  \"eligible\": %llu,\n", (unsigned long long)g->clients,
	        (unsigned long long)g->eligible);
	put_ratio(f, "recovery_rate", (double)g->recovered, g->eligible_case, 0);
	put_ratio(f, "reliable_deterioration_rate", (double)g->deteriorated, g->eligible, 0);
	put_ratio(f, "reliable_improvement_rate", (double)g->improved, g->eligible, 0);
	put_ratio(f, "reliable_recovery_rate", (double)g->reliable_recovery, g->eligible_case, 0);
	put_ratio(f, "repair_rate", (double)g->repaired, g->ruptures, 0);
	put_ratio(f, "rupture_rate", (double)g->ruptures, g->chances, 1);
	fputs(" },\n \"alliance_by_modality\": {", f);
	int first = 1;
	/* keys in byte order, as the references write them */
	static const modality order[MOD_COUNT] = {MOD_IN_PERSON, MOD_PHONE, MOD_VIDEO};
	for (int i = 0; i < MOD_COUNT; i++) {
		modality m = order[i];
		if (r->mod_n[m] == 0)
			continue;
		fprintf(f, "%s\n  \"%s\": ", first ? "" : ",", modality_str(m));
		put_num(f, (double)r->mod_sum[m] / ((double)WAI_SCALE * (double)r->mod_n[m]));
		first = 0;
	}
	fputs(first ? "},\n" : "\n },\n", f);
	fprintf(f, " \"invalid_administrations\": %llu,\n", (unsigned long long)r->invalid);
	if (r->other_administrations > 0)
		fprintf(f, " \"other_instrument_administrations\": %llu,\n",
		        (unsigned long long)r->other_administrations);
	if (x->keep_going)
		fprintf(f, " \"rejected_administrations\": %llu,\n \"rejected_rows\": %llu,\n",
		        (unsigned long long)x->rejected_administrations,
		        (unsigned long long)x->rejected_rows);
	fprintf(f, " \"rows\": %llu\n}\n", (unsigned long long)x->rows);
	return io_status(f, "overall.json", err);
}
