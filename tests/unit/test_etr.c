/* test_etr.c: expected-treatment-response curves (Finch, Lambert &
 * Schaalje 2001): the band arithmetic, the on-track rule in both
 * directions, the intake rule, and the model's JSON round trip and errors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/core/etr.h"

static etr_model model(void)
{
	etr_model m = {0};
	strcpy(m.instrument, "phq9");
	m.beta[0] = 1;
	m.beta[1] = -2;
	m.beta[2] = 0.9;
	m.beta[3] = -0.1;
	m.tau[0] = 4;
	m.tau[1] = m.tau[2] = -1;
	m.tau[3] = 2;
	m.sigma = 2;
	m.lower_pct = 10;
	m.upper_pct = 90;
	m.higher_is_worse = 1;
	m.reml = 1;
	return m;
}

static void test_expect(void **state)
{
	(void)state;
	etr_model m = model();
	double mu, lo, hi;
	etr_expect(&m, 20, 1, &mu, &lo, &hi);
	/* session 1: log 1 = 0, mean 1 + 0.9 * 20, var tau00 + sigma^2 */
	assert_true(fabs(mu - 19) < 1e-12);
	double z90 = 1.2815515655446004;
	assert_true(fabs(hi - (19 + z90 * sqrt(8))) < 1e-9);
	assert_true(fabs(lo - (19 - z90 * sqrt(8))) < 1e-9);
	etr_expect(&m, 20, M_E, &mu, &lo, &hi);
	assert_true(fabs(mu - (1 - 2 + 18 - 2)) < 1e-12);
	assert_true(fabs(hi - mu - z90 * sqrt(4 - 2 + 2 + 4)) < 1e-9);
	assert_string_equal(etr_status(&m, hi + 0.1, lo, hi), "not on track");
	assert_string_equal(etr_status(&m, lo - 5, lo, hi), "on track");
	m.higher_is_worse = 0;
	assert_string_equal(etr_status(&m, lo - 0.1, lo, hi), "not on track");
	assert_string_equal(etr_status(&m, hi + 5, lo, hi), "on track");
}

static void test_json(void **state)
{
	(void)state;
	etr_model m = model(), r;
	al_err e = {0};
	char *js = etr_model_json(&m);
	assert_non_null(js);
	assert_non_null(strstr(js, "Finch, Lambert & Schaalje (2001)"));
	assert_int_equal(etr_model_parse(&r, js, strlen(js), &e), AL_OK);
	assert_string_equal(r.instrument, "phq9");
	for (int i = 0; i < ETR_NFIX; i++)
		assert_true(r.beta[i] == m.beta[i]);
	assert_true(r.tau[3] == 2 && r.sigma == 2 && r.upper_pct == 90 && r.higher_is_worse);
	free(js);
	const char *bad[][2] = {
	    {"{", "model: line"},
	    {"{\"instrument\": 3}", "instrument"},
	    {"{\"instrument\": \"phq9\"}", "fixef"},
	    {"{\"instrument\": \"phq9\", \"fixef\": {\"(Intercept)\": 1, \"log(session)\": 1, "
	     "\"intake\": 1, \"log(session):intake\": 1}, \"vcov\": [[1]]}",
	     "vcov"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		al_err_clear(&e);
		assert_int_equal(etr_model_parse(&r, bad[i][0], strlen(bad[i][0]), &e), AL_EINPUT);
		if (strstr(e.msg, bad[i][1]) == NULL)
			fail_msg("\"%s\" lacks \"%s\"", e.msg, bad[i][1]);
	}
}

static void test_intake(void **state)
{
	(void)state;
	/* client b has no session 1: their first score is the intake */
	const char *csv = "client_id,session,score\na,2,9\na,1,20\nb,3,15\nb,4,12\na,1,99\n";
	const char *names[] = {"client_id", "session", "score"};
	int kind[] = {FRAME_CATEGORICAL, FRAME_NUMERIC, FRAME_NUMERIC};
	frame fr;
	al_err e = {0};
	assert_int_equal(frame_load(&fr, csv, strlen(csv), "s.csv", names, kind, 3, NULL, 0, &e),
	                 AL_OK);
	double in[2], is[2];
	assert_int_equal(etr_intake(&fr, in, is, &e), AL_OK);
	assert_true(in[0] == 20 && is[0] == 1); /* the first row of the lowest session */
	assert_true(in[1] == 15 && is[1] == 3);
	/* too few clients with later scores to fit */
	etr_model m = model();
	lmm_opts o;
	lmm_opts_default(&o);
	assert_int_equal(etr_fit(&fr, &o, &m, &e), AL_EINPUT);
	assert_non_null(strstr(e.msg, "at least 3"));
	frame_cleanup(&fr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_expect),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_intake),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
