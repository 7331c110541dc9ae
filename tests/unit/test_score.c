/* test_score.c: scoring one administration (reverse keys, prorating, skipped
 * items, subscales, bands, caseness, critical items) and the Jacobson-Truax
 * reliable change index and cut-offs against values computed by hand from
 * the published formulas (Jacobson & Truax 1991). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/core/csv.h"
#include "../../src/core/score.h"
#include "../../src/os/os.h"
#include "testutil.h"

#define S SCORE_SKIPPED

#define lib tu_lib

static score_result score(const char *id, const int *v)
{
	score_result r;
	al_err e = {0};
	if (score_administration(tu_find(&lib, id), v, &r, &e) != AL_OK)
		fail_msg("%s", e.msg);
	return r;
}

static void test_prorate_formula(void **state)
{
	(void)state;
	/* floor((2*sum*K + a) / (2a)): the prorated mean times K, half up */
	assert_int_equal(score_prorate(10, 8, 9), 11); /* 11.25 -> 11 */
	assert_int_equal(score_prorate(12, 8, 9), 14); /* 13.5  -> 14 */
	assert_int_equal(score_prorate(0, 8, 9), 0);
	assert_int_equal(score_prorate(24, 8, 9), 27);
	assert_int_equal(score_prorate(7, 6, 7), 8); /* 8.1667 -> 8 */
	assert_int_equal(score_prorate(3, 6, 7), 4); /* 3.5 -> 4 */
}

static void test_phq9(void **state)
{
	(void)state;
	int all[9] = {1, 2, 3, 0, 1, 2, 3, 0, 0};
	score_result r = score("phq9", all);
	assert_true(r.total.valid);
	assert_true(r.total.score == 12);
	assert_string_equal(r.band, "moderate");
	assert_int_equal(r.caseness, 1);
	assert_int_equal(r.ncritical, 0);

	int one_skip[9] = {1, 2, 3, S, 1, 2, 3, 0, 0}; /* 12 over 8 -> 13.5 -> 14 */
	r = score("phq9", one_skip);
	assert_true(r.total.valid && r.total.score == 14);
	assert_int_equal(r.total.answered, 8);

	int two_skips[9] = {1, 2, 3, S, S, 2, 3, 0, 1};
	r = score("phq9", two_skips);
	assert_false(r.total.valid);
	assert_null(r.band);
	assert_int_equal(r.caseness, -1);
	/* item 9 answered 1: the risk alert fires even without a valid total */
	assert_int_equal(r.ncritical, 1);

	int low[9] = {0, 1, 0, 1, 0, 1, 0, 1, 0};
	r = score("phq9", low);
	assert_true(r.total.score == 4);
	assert_string_equal(r.band, "minimal");
	assert_int_equal(r.caseness, 0);

	int bad[9] = {0, 1, 0, 4, 0, 1, 0, 1, 0};
	score_result rr;
	al_err e = {0};
	assert_int_equal(score_administration(tu_find(&lib, "phq9"), bad, &rr, &e), AL_EINPUT);
	assert_string_equal(e.msg, "item 4: answer 4 is outside 0..3");
}

static void test_rci_by_hand(void **state)
{
	(void)state;
	/* SD 7.5, reliability .88: S_E = 7.5 * sqrt(.12) = 2.598076;
	 * S_diff = sqrt(2) * S_E = 3.674235; RCI(20 -> 12) = -8 / 3.674235 */
	assert_true(fabs(change_sdiff(7.5, 0.88) - 3.6742346141747677) < 1e-12);
	assert_true(fabs(change_rci(20, 12, 7.5, 0.88) - (-2.177324215807269)) < 1e-12);

	/* cut-offs, higher = worse: clinical 20 (SD 5), functional 5 (SD 4):
	 * a = 20 - 10 = 10, b = 5 + 8 = 13, c = (5*5 + 4*20) / 9 = 11.6667 */
	change_cutoffs k = change_jt_cutoffs(20, 5, 5, 4, INST_HIGHER_WORSE);
	assert_true(fabs(k.a - 10) < 1e-12);
	assert_true(fabs(k.b - 13) < 1e-12);
	assert_true(fabs(k.c - 105.0 / 9.0) < 1e-12);
	/* higher = better mirrors a and b; c is the same weighting */
	k = change_jt_cutoffs(70, 10, 110, 12, INST_HIGHER_BETTER);
	assert_true(fabs(k.a - 90) < 1e-12);
	assert_true(fabs(k.b - 86) < 1e-12);
	assert_true(fabs(k.c - (10.0 * 110 + 12.0 * 70) / 22.0) < 1e-12);
}

static void test_reliable_points(void **state)
{
	(void)state;
	const inst_def *phq9 = tu_find(&lib, "phq9");
	assert_int_equal(change_reliable(phq9, 18, 12), CHANGE_IMPROVED); /* -6 */
	assert_int_equal(change_reliable(phq9, 18, 13), CHANGE_NO_RELIABLE_CHANGE);
	assert_int_equal(change_reliable(phq9, 10, 16), CHANGE_DETERIORATED);
	assert_true(change_has_threshold(phq9));
}

/* Jacobson & Truax (1991) Table 2 (shared/data): 30 pre/post scores where
 * higher is better. With the pre-test SD of the sample (11.8256612656),
 * reliability .80 and an illustrative functional norm of 120 (SD 10),
 * the formulas give S_diff 7.4792048874 and c 102.3983950822, and the
 * categories 12 recovered, 4 improved, 13 unchanged, 1 deteriorated
 * (each computed separately by hand from the formulas). */
static void test_jt_table2(void **state)
{
	(void)state;
	const char *shared = getenv("SHARED");
	char path[4096];
	snprintf(path, sizeof path, "%s/data/jacobson-truax-1991-table2.csv",
	         shared ? shared : "../shared");
	os_map m;
	al_err e = {0};
	if (os_map_file(&m, path, &e) != AL_OK) {
		skip(); /* shared/ is not beside this checkout */
		return;
	}
	csv_reader r = {0};
	csv_init(&r, m.data, m.len);
	double pre[64], post[64];
	int n = 0;
	assert_int_equal(csv_next(&r, &e), 1); /* header */
	while (csv_next(&r, &e) == 1 && n < 64) {
		assert_true(csv_parse_double(r.f[1], &pre[n]));
		assert_true(csv_parse_double(r.f[2], &post[n]));
		n++;
	}
	assert_int_equal(n, 30);
	double mean = 0, ss = 0;
	for (int i = 0; i < n; i++)
		mean += pre[i];
	mean /= n;
	for (int i = 0; i < n; i++)
		ss += (pre[i] - mean) * (pre[i] - mean);
	double sd = sqrt(ss / (n - 1));
	assert_true(fabs(sd - 11.8256612656) < 1e-9);
	assert_true(fabs(change_sdiff(sd, 0.80) - 7.4792048874) < 1e-9);
	change_cutoffs k = change_jt_cutoffs(mean, sd, 120, 10, INST_HIGHER_BETTER);
	assert_true(fabs(k.c - 102.3983950822) < 1e-9);
	int count[4] = {0};
	for (int i = 0; i < n; i++)
		count[change_jt_classify(pre[i], post[i], sd, 0.80, k.c, INST_HIGHER_BETTER)]++;
	assert_int_equal(count[JT_RECOVERED], 12);
	assert_int_equal(count[JT_IMPROVED], 4);
	assert_int_equal(count[JT_UNCHANGED], 13);
	assert_int_equal(count[JT_DETERIORATED], 1);
	assert_string_equal(change_jt_str(JT_RECOVERED), "recovered");
	csv_cleanup(&r);
	os_map_release(&m);
}

static void test_gad7(void **state)
{
	(void)state;
	int v[7] = {3, 3, 2, S, 1, 1, 0}; /* 10 over 6 -> 11.67 -> 12 */
	score_result r = score("gad7", v);
	assert_true(r.total.valid && r.total.score == 12);
	assert_string_equal(r.band, "moderate");
	assert_int_equal(r.caseness, 1); /* >= 8 */
	int low[7] = {1, 1, 1, 1, 1, 1, 1};
	r = score("gad7", low);
	assert_true(r.total.score == 7);
	assert_int_equal(r.caseness, 0);
	assert_int_equal(change_reliable(tu_find(&lib, "gad7"), 12, 8), CHANGE_IMPROVED);
	assert_int_equal(change_reliable(tu_find(&lib, "gad7"), 12, 9), CHANGE_NO_RELIABLE_CHANGE);
}

static void test_wai_sr(void **state)
{
	(void)state;
	/* task 1,2,10,12; bond 3,5,7,9; goal 4,6,8,11 */
	int v[12] = {5, 4, 3, 2, 3, 2, 3, 2, 3, 5, 2, 4};
	score_result r = score("wai_sr", v);
	assert_true(r.total.valid);
	assert_true(fabs(r.total.score - 38.0 / 12.0) < 1e-15);
	const inst_def *d = tu_find(&lib, "wai_sr");
	for (int s = 0; s < d->nsub; s++) {
		double want = strcmp(d->sub[s].name, "task") == 0   ? (5 + 4 + 5 + 4) / 4.0
		              : strcmp(d->sub[s].name, "bond") == 0 ? (3 + 3 + 3 + 3) / 4.0
		                                                    : (2 + 2 + 2 + 2) / 4.0;
		assert_true(r.sub[s].valid);
		assert_true(fabs(r.sub[s].score - want) < 1e-15);
	}
	/* two skips: the total is the mean of the ten answered */
	int two[12] = {5, S, 3, 2, 3, 2, 3, 2, 3, 5, S, 4};
	r = score("wai_sr", two);
	assert_true(r.total.valid && fabs(r.total.score - 32.0 / 10.0) < 1e-15);
	/* task lost one item (still valid), goal lost one (valid) */
	int three[12] = {5, S, 3, S, 3, 2, 3, 2, 3, 5, S, 4};
	r = score("wai_sr", three);
	assert_false(r.total.valid);
	int one[12] = {S, S, 3, 2, 3, 2, 3, 2, 3, 5, 2, 4}; /* task loses 2 of 4 */
	r = score("wai_sr", one);
	assert_true(r.total.valid);
	for (int s = 0; s < d->nsub; s++)
		if (strcmp(d->sub[s].name, "task") == 0)
			assert_false(r.sub[s].valid);
}

static void test_core10_reverse(void **state)
{
	(void)state;
	/* items 2 and 3 are reverse-keyed on 0..4: an answer a scores 4 - a */
	int v[10] = {2, 4, 3, 1, 0, 0, 2, 1, 2, 1};
	score_result r = score("core10", v);
	assert_true(r.total.score == 2 + 0 + 1 + 1 + 0 + 0 + 2 + 1 + 2 + 1);
	int w[10] = {2, 0, 0, 1, 0, 0, 2, 1, 2, 1};
	r = score("core10", w);
	assert_true(r.total.score == 2 + 4 + 4 + 1 + 0 + 0 + 2 + 1 + 2 + 1);
	assert_int_equal(r.caseness, 1); /* 17 >= 11 */
	int risk[10] = {0, 4, 4, 0, 0, 2, 0, 0, 0, 0};
	r = score("core10", risk);
	assert_true(r.total.score == 2);
	assert_int_equal(r.ncritical, 1);
}

static void test_higher_better(void **state)
{
	(void)state;
	int v[4] = {5, 6, 7, 6}; /* ORS 24: below the cut-off 25 is clinical */
	score_result r = score("ors", v);
	assert_true(r.total.score == 24);
	assert_int_equal(r.caseness, 1);
	int w[4] = {7, 6, 7, 6};
	r = score("ors", w);
	assert_int_equal(r.caseness, 0);
	const inst_def *ors = tu_find(&lib, "ors");
	assert_int_equal(change_reliable(ors, 20, 25), CHANGE_IMPROVED);
	assert_int_equal(change_reliable(ors, 25, 20), CHANGE_DETERIORATED);
	/* GBO: a mean of the goals rated, up to two skipped */
	int g[3] = {4, S, S};
	r = score("gbo", g);
	assert_true(r.total.valid && r.total.score == 4);
	int none[3] = {S, S, S};
	r = score("gbo", none);
	assert_false(r.total.valid);
}

/* Every shipped instrument: a full administration scores the (reverse-keyed)
 * sum or mean computed here item by item; as many skips as allowed still
 * scores (prorated sums: the prorated mean times K, half up); one more skip
 * gives no score. */
static void test_every_instrument(void **state)
{
	(void)state;
	for (size_t n = 0; n < lib.n; n++) {
		const inst_def *d = &lib.defs[n];
		int v[INST_MAX_ITEMS];
		long sum = 0;
		for (int i = 0; i < d->nitems; i++) {
			const inst_item *it = &d->items[i];
			v[i] = it->min + (i * 7 + 3) % (it->max - it->min + 1);
			sum += it->reverse ? it->max + it->min - v[i] : v[i];
		}
		score_result r = score(d->id, v);
		double want = d->method == INST_MEAN ? (double)sum / d->nitems : (double)sum;
		if (!r.total.valid || fabs(r.total.score - want) > 1e-12)
			fail_msg("%s: full administration scored %g, expected %g", d->id,
			         r.total.score, want);
		assert_true(r.total.score >= d->score_min && r.total.score <= d->score_max);
		/* skip the first max_skipped items */
		long part = 0;
		int a = 0;
		for (int i = 0; i < d->nitems; i++) {
			if (i < d->max_skipped) {
				v[i] = S;
				continue;
			}
			const inst_item *it = &d->items[i];
			part += it->reverse ? it->max + it->min - v[i] : v[i];
			a++;
		}
		r = score(d->id, v);
		if (d->method == INST_MEAN)
			want = (double)part / a;
		else
			want = floor((double)part * d->nitems / a + 0.5);
		if (!r.total.valid || fabs(r.total.score - want) > 1e-12)
			fail_msg("%s: with %d skipped scored %g, expected %g", d->id,
			         d->max_skipped, r.total.score, want);
		v[d->max_skipped] = S;
		r = score(d->id, v);
		if (r.total.valid)
			fail_msg("%s: %d skipped items must leave no score", d->id,
			         d->max_skipped + 1);
	}
	assert_true(lib.n >= 11);
}

static void test_short_forms(void **state)
{
	(void)state;
	int p4[4] = {2, 0, 3, 1}; /* PHQ-4: anxiety items 1-2, depression 3-4 */
	score_result r = score("phq4", p4);
	assert_true(r.total.score == 6);
	assert_string_equal(r.band, "moderate");
	const inst_def *d = tu_find(&lib, "phq4");
	for (int s = 0; s < d->nsub; s++)
		assert_true(r.sub[s].score == (strcmp(d->sub[s].name, "anxiety") == 0 ? 2 : 4));
	int p2[2] = {2, 1};
	r = score("phq2", p2);
	assert_int_equal(r.caseness, 1); /* >= 3 */
	int g2[2] = {1, 1};
	r = score("gad2", g2);
	assert_int_equal(r.caseness, 0);
	int srs[4] = {9, 9, 9, 8}; /* 35: below 36 flags a possible alliance problem */
	r = score("srs", srs);
	assert_int_equal(r.caseness, 1);
	int u[3] = {3, 3, 2};
	r = score("ucla3", u);
	assert_true(r.total.score == 8);
	int one_skip[2] = {2, S};
	r = score("phq2", one_skip);
	assert_false(r.total.valid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_prorate_formula), cmocka_unit_test(test_phq9),
	    cmocka_unit_test(test_rci_by_hand),     cmocka_unit_test(test_reliable_points),
	    cmocka_unit_test(test_jt_table2),       cmocka_unit_test(test_gad7),
	    cmocka_unit_test(test_wai_sr),          cmocka_unit_test(test_core10_reverse),
	    cmocka_unit_test(test_higher_better),   cmocka_unit_test(test_every_instrument),
	    cmocka_unit_test(test_short_forms),
	};
	return cmocka_run_group_tests(tests, tu_setup_lib, tu_teardown_lib);
}
