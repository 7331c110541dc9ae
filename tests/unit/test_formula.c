/* test_formula.c: the lme4 formula parser: terms in R's order, random-effect
 * terms as lme4 expands them, and the caret in every kind of error. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/core/formula.h"

static formula F;

static int var(const char *label)
{
	for (int i = 0; i < F.nvars; i++)
		if (strcmp(F.vars[i].label, label) == 0)
			return i;
	return -1;
}

static formula_term term(const char *a, const char *b)
{
	formula_term t = (formula_term)1 << var(a);
	if (b != NULL)
		t |= (formula_term)1 << var(b);
	return t;
}

static void test_growth(void **state)
{
	(void)state;
	al_err e = {0};
	assert_int_equal(formula_parse(&F, "score ~ log(session) + (log(session) | client_id)", &e),
	                 AL_OK);
	assert_true(F.intercept);
	assert_int_equal(F.nterms, 1);
	assert_string_equal(
	    F.vars[F.terms[0] == term("log(session)", NULL) ? var("log(session)") : 0].label,
	    "log(session)");
	assert_int_equal(F.nre, 1);
	assert_true(F.re[0].intercept);
	assert_int_equal(F.re[0].nterms, 1);
	assert_string_equal(F.re[0].label, "client_id");
	assert_int_equal(F.ncols, 3);
	assert_string_equal(F.cols[0], "score");
	assert_string_equal(F.cols[1], "session");
	assert_string_equal(F.cols[2], "client_id");
	double v[3] = {0, M_E, 0};
	assert_true(fabs(formula_eval(&F, F.vars[var("log(session)")].expr, v) - 1) < 1e-15);
	v[1] = 0;
	assert_true(isnan(formula_eval(&F, F.vars[var("log(session)")].expr, v)));
}

static void test_star_and_order(void **state)
{
	(void)state;
	al_err e = {0};
	assert_int_equal(formula_parse(&F, "y ~ a:b + x * g + I(x^2) + (1 | s)", &e), AL_OK);
	/* degree 1 first, in written order, then degree 2 */
	assert_int_equal(F.nterms, 5);
	assert_true(F.terms[0] == term("x", NULL));
	assert_true(F.terms[1] == term("g", NULL));
	assert_true(F.terms[2] == term("I(x^2)", NULL));
	assert_true(F.terms[3] == term("a", "b"));
	assert_true(F.terms[4] == term("x", "g"));
	double v[8] = {0};
	v[3] = 3; /* column x is the fourth column: y a b x */
	assert_string_equal(F.cols[3], "x");
	assert_true(formula_eval(&F, F.vars[var("I(x^2)")].expr, v) == 9);
}

static void test_intercepts(void **state)
{
	(void)state;
	al_err e = {0};
	assert_int_equal(formula_parse(&F, "y ~ 0 + x + (0 + x | g)", &e), AL_OK);
	assert_false(F.intercept);
	assert_false(F.re[0].intercept);
	assert_int_equal(formula_parse(&F, "y ~ x - 1 + (x | g)", &e), AL_OK);
	assert_false(F.intercept);
	assert_true(F.re[0].intercept);
	assert_int_equal(formula_parse(&F, "y ~ 1 + (1 | g)", &e), AL_OK);
	assert_true(F.intercept);
	assert_int_equal(F.nterms, 0);
}

static void test_random_terms(void **state)
{
	(void)state;
	al_err e = {0};
	assert_int_equal(formula_parse(&F, "y ~ 1 + (1 | batch/cask)", &e), AL_OK);
	assert_int_equal(F.nre, 2);
	assert_string_equal(F.re[0].label, "batch");
	assert_string_equal(F.re[1].label, "cask:batch");
	assert_int_equal(formula_parse(&F, "y ~ 1 + (1 | batch:cask) + (Days || Subject)", &e),
	                 AL_OK);
	assert_int_equal(F.nre, 2);
	assert_string_equal(F.re[0].label, "batch:cask");
	assert_int_equal(F.re[0].ngroup, 2);
	assert_true(F.re[1].diag);
	assert_true(F.re[1].intercept);
	assert_int_equal(F.re[1].nterms, 1);
	assert_int_equal(formula_parse(&F, "y ~ t + (1 | therapist) + (log(t) | client)", &e),
	                 AL_OK);
	assert_int_equal(F.nre, 2);
}

static void expect_error(const char *text, al_status st, const char *what, int col)
{
	al_err e = {0};
	assert_int_equal(formula_parse(&F, text, &e), st);
	if (strstr(e.msg, what) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", e.msg, what);
	if (col > 0) {
		char c[32];
		snprintf(c, sizeof c, "(column %d)", col);
		if (strstr(e.msg, c) == NULL)
			fail_msg("message \"%s\" lacks \"%s\"", e.msg, c);
		/* the caret line: col-1 spaces after the two-space indent */
		const char *nl = strrchr(e.msg, '\n');
		assert_non_null(nl);
		assert_int_equal((int)strlen(nl + 1), col + 2);
		assert_int_equal(nl[col + 2], '^');
	}
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("y ~ x + (1 | )", AL_EINPUT, "expected a grouping column", 14);
	expect_error("y x", AL_EINPUT, "expected '~'", 3);
	expect_error("~ x", AL_EINPUT, "response", 1);
	expect_error("y ~ foo(x)", AL_EINPUT, "unknown function", 5);
	expect_error("y ~ x + (1 | g", AL_EINPUT, "expected ')'", 15);
	expect_error("y ~ x)", AL_EINPUT, "unbalanced", 6);
	expect_error("y ~ x + 2", AL_EINPUT, "only 0 and 1", 9);
	expect_error("y ~ x:(1 | g)", AL_EINPUT, "interaction", 6);
	expect_error("y ~ x + (1 | log(g))", AL_EINPUT, "grouping factor must be a column", 14);
	expect_error("y ~ y + x", AL_EINPUT, "response also appears", 1);
	expect_error("y ~ x + ", AL_EINPUT, "formula ends too early", 9);
	expect_error("y ~ (0 | g)", AL_EINPUT, "no effects", 5);
	char big[FORMULA_MAX_TEXT + 10];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	expect_error(big, AL_ELIMIT, "longer than", 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_growth),     cmocka_unit_test(test_star_and_order),
	    cmocka_unit_test(test_intercepts), cmocka_unit_test(test_random_terms),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
