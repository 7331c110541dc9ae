/* test_report.c: the registry report's accumulation and summary
 * (core/report.c) on hand-made administrations whose results follow from
 * the spec (shared/spec/registry-report.md) by hand: prorating, validity,
 * first/last scores, classification, ruptures and repairs, therapist of a
 * client, merging partial administrations from two readers, and the flags
 * for an item twice or rows that disagree. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/core/report.h"
#include "../../src/core/score.h"
#include "testutil.h"

#define S SCORE_SKIPPED
/* cmocka 1.1 has no assert_double_equal */
#define assert_near(a, b, tol) assert_true(fabs((double)(a) - (double)(b)) <= (tol))

static inst_lib lib;

static int setup(void **state)
{
	(void)state;
	tu_load_shipped(&lib);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	inst_lib_cleanup(&lib);
	return 0;
}

static int inst_ix(const char *id)
{
	return (int)(tu_find(&lib, id) - lib.defs);
}

static void add_row(report_acc *a, const char *client, const char *ther, int session,
                    const char *inst, int item, int value, int days, int mod)
{
	report_row r = {.client = client,
	                .client_len = strlen(client),
	                .therapist = ther,
	                .therapist_len = strlen(ther),
	                .session = session,
	                .days = days,
	                .mod = mod,
	                .inst = inst_ix(inst),
	                .item = item,
	                .value = value};
	al_err err = {0};
	assert_int_equal(report_acc_add(a, &r, &err), AL_OK);
}

/* Every item of one administration; values[i] for item i+1 (S: skipped,
 * -2: no row at all). */
static void add_admin(report_acc *a, const char *client, const char *ther, int session,
                      const char *inst, const int *values, int k)
{
	for (int i = 0; i < k; i++)
		if (values[i] != -2)
			add_row(a, client, ther, session, inst, i + 1, values[i],
			        19723 + 7 * session, MOD_IN_PERSON);
}

static void wai_all(report_acc *a, const char *client, const char *ther, int session, int v)
{
	int vals[12];
	for (int i = 0; i < 12; i++)
		vals[i] = v;
	add_admin(a, client, ther, session, "wai_sr", vals, 12);
}

static const report_client *find_client(const report_acc *a, const report_result *r, const char *id)
{
	for (size_t i = 0; i < r->nclients; i++) {
		size_t n;
		const char *p = report_strtab_get(&a->clients, r->clients[i].client, &n);
		if (n == strlen(id) && memcmp(p, id, n) == 0)
			return &r->clients[i];
	}
	return NULL;
}

static void test_prorate_and_validity(void **state)
{
	(void)state;
	report_acc a;
	al_err err = {0};
	assert_int_equal(report_acc_init(&a, &lib, &err), AL_OK);
	/* one skip of 9: prorated floor((2*8*9 + 8) / 16) = 9 */
	int one_skip[9] = {1, 1, 1, 1, 1, 1, 1, 1, S};
	add_admin(&a, "A", "T1", 1, "phq9", one_skip, 9);
	/* one item absent (no row) counts as skipped: same score */
	int absent[9] = {1, 1, 1, 1, 1, 1, 1, 1, -2};
	add_admin(&a, "A", "T1", 2, "phq9", absent, 9);
	/* two skips: no score */
	int two_skips[9] = {3, 3, 3, 3, 3, 3, 3, S, S};
	add_admin(&a, "A", "T1", 3, "phq9", two_skips, 9);
	/* nothing answered: no score, still an administration */
	int none[7] = {S, S, S, S, S, S, S};
	add_admin(&a, "A", "T1", 3, "gad7", none, 7);
	/* wai_sr: two skips allowed, mean of the answered */
	int w2[12] = {5, 5, 5, 5, 5, 5, 5, 5, 5, 4, S, S};
	add_admin(&a, "A", "T1", 1, "wai_sr", w2, 12);
	int w3[12] = {5, 5, 5, 5, 5, 5, 5, 5, 5, S, S, S};
	add_admin(&a, "A", "T1", 2, "wai_sr", w3, 12);
	/* a client with nothing valid is not in the report */
	add_admin(&a, "B", "T1", 1, "gad7", none, 7);

	report_result r;
	assert_int_equal(report_summarize(&a, &r, &err), AL_OK);
	assert_int_equal(r.administrations, 7);
	assert_int_equal(r.invalid, 4);
	assert_int_equal(r.nclients, 1);
	const report_client *c = find_client(&a, &r, "A");
	assert_non_null(c);
	assert_int_equal(c->phq9_first, 9);
	assert_int_equal(c->phq9_last, 9);
	assert_int_equal(c->phq9_n, 2);
	assert_int_equal(c->gad7_n, 0);
	assert_int_equal(c->n_sessions, 2);
	assert_int_equal(c->alliance_n, 1);
	assert_near(c->alliance_mean, 4.9, 1e-12);
	assert_int_equal(c->eligible, 0);
	assert_int_equal(r.mod_n[MOD_IN_PERSON], 1);
	report_result_cleanup(&r);
	report_acc_cleanup(&a);
}

static void test_classification(void **state)
{
	(void)state;
	report_acc a;
	al_err err = {0};
	assert_int_equal(report_acc_init(&a, &lib, &err), AL_OK);
	/* phq9 20 -> 12 -> 9 (-11), gad7 15 -> 10 (-5): reliably improved,
	 * case at first, not at last (9 < 10, 10 >= 8 keeps it a case!) */
	int p1[9] = {3, 3, 3, 3, 3, 2, 1, 1, 1}, p2[9] = {2, 2, 2, 2, 1, 1, 1, 1, 0};
	int p3[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
	int g1[7] = {3, 3, 3, 2, 2, 1, 1}, g2[7] = {2, 2, 2, 1, 1, 1, 1};
	add_admin(&a, "C1", "T1", 1, "phq9", p1, 9);
	add_admin(&a, "C1", "T1", 1, "gad7", g1, 7);
	add_admin(&a, "C1", "T1", 2, "phq9", p2, 9);
	add_admin(&a, "C1", "T2", 3, "phq9", p3, 9);
	add_admin(&a, "C1", "T2", 3, "gad7", g2, 7);
	/* C2: gad7 4 -> 8 (+4): deteriorated; phq9 5 -> 5 */
	int q[9] = {1, 1, 1, 1, 1, 0, 0, 0, 0};
	int h1[7] = {1, 1, 1, 1, 0, 0, 0}, h2[7] = {2, 2, 1, 1, 1, 1, 0};
	add_admin(&a, "C2", "T1", 1, "phq9", q, 9);
	add_admin(&a, "C2", "T1", 1, "gad7", h1, 7);
	add_admin(&a, "C2", "T1", 2, "phq9", q, 9);
	add_admin(&a, "C2", "T1", 2, "gad7", h2, 7);

	report_result r;
	assert_int_equal(report_summarize(&a, &r, &err), AL_OK);
	const report_client *c = find_client(&a, &r, "C1");
	assert_non_null(c);
	assert_int_equal(c->phq9_first, 20);
	assert_int_equal(c->phq9_last, 9);
	assert_int_equal(c->gad7_first, 15);
	assert_int_equal(c->gad7_last, 10);
	assert_true(c->eligible && c->case_first && c->case_last && c->improved);
	assert_false(c->deteriorated || c->recovered || c->reliable_recovery);
	assert_int_equal(c->n_sessions, 3);
	size_t n;
	const char *t = report_strtab_get(&a.therapists, c->therapist, &n);
	assert_memory_equal(t, "T2", 2); /* the therapist of the last session */
	c = find_client(&a, &r, "C2");
	assert_non_null(c);
	assert_true(c->eligible && c->deteriorated);
	assert_false(c->improved || c->case_first);
	assert_true(c->case_last); /* gad7 8 >= 8 */
	/* groups: T1 has C2, T2 has C1 */
	assert_int_equal(r.ntherapists, 2);
	assert_int_equal(r.therapists[0].clients, 1);
	assert_int_equal(r.therapists[0].deteriorated, 1);
	assert_int_equal(r.therapists[1].improved, 1);
	assert_int_equal(r.therapists[1].eligible_case, 1);
	assert_int_equal(r.all.clients, 2);
	assert_int_equal(r.all.eligible, 2);
	report_result_cleanup(&r);
	report_acc_cleanup(&a);
}

static void test_ruptures(void **state)
{
	(void)state;
	report_acc a;
	al_err err = {0};
	assert_int_equal(report_acc_init(&a, &lib, &err), AL_OK);
	/* 4.0, 3.25 (a drop of exactly 0.75: a rupture), 3.5, 3.75 (>= 4 -
	 * 0.375 two later: repaired), 2.0 (a rupture, nothing after) */
	wai_all(&a, "R", "T1", 1, 4);
	int w[12] = {4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3};
	add_admin(&a, "R", "T1", 2, "wai_sr", w, 12);
	int w3[12] = {4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3};
	add_admin(&a, "R", "T1", 3, "wai_sr", w3, 12);
	int w4[12] = {4, 4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3};
	add_admin(&a, "R", "T1", 4, "wai_sr", w4, 12);
	wai_all(&a, "R", "T1", 5, 2);
	report_result r;
	assert_int_equal(report_summarize(&a, &r, &err), AL_OK);
	const report_client *c = find_client(&a, &r, "R");
	assert_non_null(c);
	assert_int_equal(c->alliance_n, 5);
	assert_near(c->alliance_mean, (4 + 3.25 + 3.5 + 3.75 + 2) / 5, 1e-12);
	assert_int_equal(c->ruptures, 2);
	assert_int_equal(c->repaired, 1);
	assert_int_equal(r.all.chances, 4);
	report_result_cleanup(&r);
	report_acc_cleanup(&a);
}

/* Rows of many clients interleaved: the hash path must give the same as the
 * run path. */
static void test_interleaved(void **state)
{
	(void)state;
	report_acc a, b;
	al_err err = {0};
	assert_int_equal(report_acc_init(&a, &lib, &err), AL_OK);
	assert_int_equal(report_acc_init(&b, &lib, &err), AL_OK);
	char id[16];
	for (int c = 0; c < 300; c++) { /* in order */
		snprintf(id, sizeof id, "K%03d", c);
		for (int s = 1; s <= 3; s++)
			wai_all(&a, id, "T1", s, 1 + (c + s) % 5);
	}
	for (int s = 1; s <= 3; s++) /* interleaved: session-major, items split */
		for (int half = 0; half < 2; half++)
			for (int c = 299; c >= 0; c--) {
				snprintf(id, sizeof id, "K%03d", c);
				for (int i = 1 + half * 6; i <= 6 + half * 6; i++)
					add_row(&b, id, "T1", s, "wai_sr", i, 1 + (c + s) % 5,
					        19723 + 7 * s, MOD_IN_PERSON);
			}
	report_result ra, rb;
	assert_int_equal(report_summarize(&a, &ra, &err), AL_OK);
	assert_int_equal(report_summarize(&b, &rb, &err), AL_OK);
	assert_int_equal(ra.nclients, 300);
	assert_int_equal(rb.nclients, 300);
	assert_int_equal(b.nflagged, 0);
	for (size_t i = 0; i < 300; i++) {
		assert_int_equal(ra.clients[i].alliance_n, rb.clients[i].alliance_n);
		assert_int_equal(ra.clients[i].ruptures, rb.clients[i].ruptures);
		assert_near(ra.clients[i].alliance_mean, rb.clients[i].alliance_mean, 0);
	}
	assert_int_equal(ra.administrations, rb.administrations);
	report_result_cleanup(&ra);
	report_result_cleanup(&rb);
	report_acc_cleanup(&a);
	report_acc_cleanup(&b);
}

/* report_acc_add_many (batched, prefetching) gives what report_acc_add
 * gives, on rows in a scrambled order, in batches of odd sizes. */
static void test_add_many(void **state)
{
	(void)state;
	enum { NC = 200, NR = NC * 2 * 12 };
	static char ids[NC][16];
	static report_row rows[NR];
	size_t n = 0;
	for (int c = 0; c < NC; c++) {
		snprintf(ids[c], sizeof ids[c], "S%03d", c);
		for (int s = 1; s <= 2; s++)
			for (int i = 1; i <= 12; i++)
				rows[n++] = (report_row){
				    .client = ids[c],
				    .client_len = 4,
				    .therapist = c % 2 ? "T1" : "T2",
				    .therapist_len = 2,
				    .session = s,
				    .days = 19723 + s,
				    .mod = MOD_VIDEO,
				    .inst = inst_ix("wai_sr"),
				    .item = i,
				    .value = i == 12 && c % 7 == 0 ? S : 1 + (c * s + i) % 5};
	}
	/* a fixed scramble: stride through the rows */
	static report_row mixed[NR];
	for (size_t i = 0; i < NR; i++)
		mixed[i] = rows[(i * 7919) % NR];
	mixed[10] = mixed[3]; /* one row twice: flagged either way (and one lost) */
	report_acc a, b;
	al_err err = {0};
	assert_int_equal(report_acc_init(&a, &lib, &err), AL_OK);
	assert_int_equal(report_acc_init(&b, &lib, &err), AL_OK);
	for (size_t i = 0; i < NR; i++)
		assert_int_equal(report_acc_add(&a, &mixed[i], &err), AL_OK);
	for (size_t i = 0; i < NR;) {
		size_t k = NR - i < 37 ? NR - i : 37;
		assert_int_equal(report_acc_add_many(&b, mixed + i, k, &err), AL_OK);
		i += k;
	}
	assert_int_equal(a.nadm, b.nadm);
	assert_int_equal(a.nflagged, 1);
	assert_int_equal(b.nflagged, 1);
	report_result ra, rb;
	assert_int_equal(report_summarize(&a, &ra, &err), AL_OK);
	assert_int_equal(report_summarize(&b, &rb, &err), AL_OK);
	assert_int_equal(ra.nclients, rb.nclients);
	for (size_t i = 0; i < ra.nclients; i++) {
		assert_int_equal(ra.clients[i].alliance_n, rb.clients[i].alliance_n);
		assert_true(ra.clients[i].alliance_mean == rb.clients[i].alliance_mean);
	}
	report_result_cleanup(&ra);
	report_result_cleanup(&rb);
	report_acc_cleanup(&a);
	report_acc_cleanup(&b);
}

static void test_merge_and_flags(void **state)
{
	(void)state;
	report_acc a, b;
	al_err err = {0};
	assert_int_equal(report_acc_init(&a, &lib, &err), AL_OK);
	assert_int_equal(report_acc_init(&b, &lib, &err), AL_OK);
	int pa[9] = {3, 3, 3, 3, 3, -2, -2, -2, -2}, pb[9] = {-2, -2, -2, -2, -2, 3, 3, 3, 3};
	/* M1 session 1 split over two readers: one whole administration */
	add_admin(&a, "M1", "T1", 1, "phq9", pa, 9);
	add_admin(&b, "M1", "T1", 1, "phq9", pb, 9);
	/* M1 session 2: item 5 in both halves: flagged */
	int pc[9] = {-2, -2, -2, -2, 3, 3, 3, 3, 3};
	add_admin(&a, "M1", "T1", 2, "phq9", pa, 9);
	add_admin(&b, "M1", "T1", 2, "phq9", pc, 9);
	/* M2: another therapist in the second half: flagged */
	add_admin(&a, "M2", "T1", 1, "phq9", pa, 9);
	add_admin(&b, "M2", "T9", 1, "phq9", pb, 9);
	/* M3 within one reader: an item twice, and another modality */
	add_row(&a, "M3", "T1", 1, "gad7", 1, 1, 19730, MOD_IN_PERSON);
	add_row(&a, "M3", "T1", 1, "gad7", 1, 2, 19730, MOD_IN_PERSON);
	add_row(&a, "M3", "T1", 2, "gad7", 1, 1, 19737, MOD_IN_PERSON);
	add_row(&a, "M3", "T1", 2, "gad7", 2, 1, 19737, MOD_VIDEO);
	assert_int_equal(a.nflagged, 2);
	a.rows = 10;
	b.rows = 5;
	assert_int_equal(report_acc_merge(&a, &b, &err), AL_OK);
	assert_int_equal(a.nflagged, 4);
	assert_int_equal(a.rows, 15);
	assert_true(report_acc_is_flagged(&a, "M1", 2, 2, inst_ix("phq9")));
	assert_false(report_acc_is_flagged(&a, "M1", 2, 1, inst_ix("phq9")));
	assert_true(report_acc_is_flagged(&a, "M2", 2, 1, inst_ix("phq9")));
	assert_true(report_acc_is_flagged(&a, "M3", 2, 1, inst_ix("gad7")));
	assert_true(report_acc_is_flagged(&a, "M3", 2, 2, inst_ix("gad7")));
	assert_false(report_acc_is_flagged(&a, "nobody", 6, 1, inst_ix("gad7")));
	report_result r;
	assert_int_equal(report_summarize(&a, &r, &err), AL_OK);
	assert_int_equal(r.flagged, 4);
	assert_int_equal(r.administrations, 1);
	const report_client *c = find_client(&a, &r, "M1");
	assert_non_null(c);
	assert_int_equal(c->phq9_first, 27);
	report_result_cleanup(&r);
	report_acc_cleanup(&a);
	report_acc_cleanup(&b);
}

/* The whole life of a report (two readers' accumulators, one with shuffled
 * rows so the hash tables are used, merged, summarised, written) with the
 * n-th allocation failing: AL_ENOMEM, nothing leaked (make check), for
 * every n until a run needs no more allocations than that. */
static al_status life(void)
{
	report_acc a, b;
	report_result r = {0};
	al_err err = {0};
	al_status st = AL_OK;
	char *buf = NULL;
	size_t len = 0;
	int ia = report_acc_init(&a, &lib, &err), ib = report_acc_init(&b, &lib, &err);
	assert_int_equal(ia, AL_OK);
	assert_int_equal(ib, AL_OK);
	char id[16], th[16];
	for (int c = 0; c < 1500; c++) {
		int cc = c % 2 ? c : (c * 7) % 1500; /* shuffled halves */
		snprintf(id, sizeof id, "F%05d", cc);
		snprintf(th, sizeof th, "T%d", cc % 40);
		report_acc *x = c < 750 ? &a : &b;
		for (int sess = 1; sess <= 2; sess++)
			for (int i = 1; i <= 12; i += 11) {
				report_row row = {.client = id,
				                  .client_len = strlen(id),
				                  .therapist = th,
				                  .therapist_len = strlen(th),
				                  .session = sess,
				                  .days = 19723 + sess,
				                  .mod = MOD_PHONE,
				                  .inst = inst_ix("wai_sr"),
				                  .item = i,
				                  .value = 3};
				if ((st = report_acc_add(x, &row, &err)) != AL_OK)
					goto out;
			}
	}
	if ((st = report_acc_merge(&a, &b, &err)) != AL_OK)
		goto out;
	if ((st = report_summarize(&a, &r, &err)) != AL_OK)
		goto out;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	st = report_write_clients(&a, &r, f, &err);
	fclose(f);
out:
	free(buf);
	report_result_cleanup(&r);
	report_acc_cleanup(&a);
	report_acc_cleanup(&b);
	return st;
}

static void test_alloc_failures(void **state)
{
	(void)state;
	long n;
	for (n = 1;; n++) {
		report_fail_alloc = n;
		al_status st = life();
		int hit = report_fail_alloc == 0;
		report_fail_alloc = 0;
		if (!hit) {
			assert_int_equal(st, AL_OK);
			break;
		}
		assert_int_equal(st, AL_ENOMEM);
	}
	assert_true(n > 20); /* the life above allocates that often at least */
}

static void test_output(void **state)
{
	(void)state;
	report_acc a;
	al_err err = {0};
	assert_int_equal(report_acc_init(&a, &lib, &err), AL_OK);
	wai_all(&a, "Z,1", "T1", 1, 3);
	int p[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
	add_admin(&a, "A", "T1", 1, "phq9", p, 9);
	report_result r;
	assert_int_equal(report_summarize(&a, &r, &err), AL_OK);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(report_write_clients(&a, &r, f, &err), AL_OK);
	fclose(f);
	/* sorted by id, quoted where needed, empty where there is no score */
	assert_non_null(strstr(buf, "\nA,T1,1,0,9,9,,,0,0,0,0,0,0,0,,0,0\n"
	                            "\"Z,1\",T1,1,0,,,,,0,0,0,0,0,0,1,3.000000,0,0\n"));
	free(buf);
	f = open_memstream(&buf, &len);
	report_extra x = {.rows = 21};
	assert_int_equal(report_write_overall(&r, &x, f, &err), AL_OK);
	fclose(f);
	assert_non_null(strstr(buf, "\"rupture_rate\": null"));
	assert_non_null(strstr(buf, "\"in_person\": 3\n"));
	assert_non_null(strstr(buf, "\"rows\": 21"));
	assert_null(strstr(buf, "rejected"));
	free(buf);
	report_result_cleanup(&r);
	report_acc_cleanup(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prorate_and_validity),
	    cmocka_unit_test(test_classification),
	    cmocka_unit_test(test_ruptures),
	    cmocka_unit_test(test_interleaved),
	    cmocka_unit_test(test_add_many),
	    cmocka_unit_test(test_merge_and_flags),
	    cmocka_unit_test(test_alloc_failures),
	    cmocka_unit_test(test_output),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
