/* test_lmm.c: the mixed-model engine against lme4 (values from
 * tests/data/lmm/NAME_tight.json, lme4 1.1-31 converged fully), the frame
 * loader, predictions, and the error paths of model building. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/core/formula.h"
#include "../../src/core/frame.h"
#include "../../src/core/lmm.h"

static char *slurp(const char *name, size_t *len)
{
	char path[1024];
	const char *root = getenv("ROOT");
	snprintf(path, sizeof path, "%s/tests/data/lmm/%s", root ? root : ".", name);
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	char *buf = malloc(1 << 20);
	assert_non_null(buf);
	*len = fread(buf, 1, 1 << 20, fp);
	fclose(fp);
	return buf;
}

/* Load text's columns for formula f (grouping columns categorical). */
static al_status load(frame *fr, formula *f, const char *ftext, const char *buf, size_t len,
                      al_err *e)
{
	al_status st = formula_parse(f, ftext, e);
	if (st != AL_OK)
		return st;
	const char *names[FORMULA_MAX_COLS];
	int cat[FORMULA_MAX_COLS];
	for (int c = 0; c < f->ncols; c++) {
		names[c] = f->cols[c];
		cat[c] = 0;
		for (int k = 0; k < f->nre; k++)
			for (int g = 0; g < f->re[k].ngroup; g++)
				if (f->vars[f->re[k].group[g]].col == c)
					cat[c] = 1;
	}
	return frame_load(fr, buf, len, "t.csv", names, cat, f->ncols, NULL, 0, e);
}

static void close_rel(double got, double want, double tol)
{
	if (fabs(got - want) > tol * fabs(want))
		fail_msg("%.12g vs %.12g (tol %g)", got, want, tol);
}

static formula F;

static void fit_sleepstudy(int reml, lmm_model **out, frame *fr, char **buf)
{
	size_t len;
	al_err e = {0};
	lmm_opts o;
	lmm_opts_default(&o);
	o.reml = reml;
	*buf = slurp("sleepstudy.csv", &len);
	assert_int_equal(load(fr, &F, "Reaction ~ Days + (Days | Subject)", *buf, len, &e), AL_OK);
	assert_int_equal(lmm_new(out, &F, fr, &o, &e), AL_OK);
	assert_int_equal(lmm_fit(*out, &o, &e), AL_OK);
}

static void test_sleepstudy_reml(void **state)
{
	(void)state;
	lmm_model *m;
	frame fr;
	char *buf;
	fit_sleepstudy(1, &m, &fr, &buf);
	assert_int_equal(m->n, 180);
	assert_int_equal(m->p, 2);
	assert_true(m->converged);
	assert_true(m->criterion <= 1743.62827196 * (1 + 1e-10));
	close_rel(m->criterion, 1743.62827196, 1e-7);
	close_rel(m->beta[0], 251.405104848, 1e-5);
	close_rel(m->beta[1], 10.4672859596, 1e-5);
	close_rel(m->se[0], 6.82455577628, 1e-5);
	close_rel(m->se[1], 1.54578893243, 1e-5);
	assert_int_equal(m->nterms, 1);
	assert_string_equal(m->terms[0].group, "Subject");
	assert_int_equal(m->terms[0].nlev, 18);
	close_rel(m->terms[0].sd[0], 24.7404476167, 1e-4);
	close_rel(m->terms[0].sd[1], 5.92213325958, 1e-4);
	close_rel(m->terms[0].corr[1][0], 0.0655513428535, 1e-4);
	close_rel(m->sigma, 25.5918158926, 1e-4);
	/* the BLUPs of subject 308 (lme4: 2.2585509, 9.1989758) */
	close_rel(m->terms[0].ranef[0], 2.25855094990116, 1e-3);
	close_rel(m->terms[0].ranef[1], 9.1989757655659, 1e-4);
	/* prediction for a new subject: population curve and its band */
	const char *nd = "Days,Subject\n0,new\n9,308\n";
	frame nf;
	al_err e = {0};
	const char *names[] = {"Days", "Subject"};
	int cat[] = {0, 1};
	assert_int_equal(frame_load(&nf, nd, strlen(nd), "nd.csv", names, cat, 2, NULL, 0, &e),
	                 AL_OK);
	double fit[2], var[2];
	assert_int_equal(lmm_predict(m, &nf, fit, var, &e), AL_OK);
	close_rel(fit[0], m->beta[0], 1e-12);
	double v0 = m->vcov[0] + m->terms[0].sd[0] * m->terms[0].sd[0] + m->sigma * m->sigma;
	close_rel(var[0], v0, 1e-10);
	close_rel(fit[1],
	          m->beta[0] + 9 * m->beta[1] + m->terms[0].ranef[0] + 9 * m->terms[0].ranef[1],
	          1e-12);
	frame_cleanup(&nf);
	lmm_free(m);
	frame_cleanup(&fr);
	free(buf);
}

static void test_sleepstudy_ml(void **state)
{
	(void)state;
	lmm_model *m;
	frame fr;
	char *buf;
	fit_sleepstudy(0, &m, &fr, &buf);
	close_rel(m->criterion, 1751.93934446, 1e-7);
	close_rel(m->loglik, -875.96967223, 1e-7);
	close_rel(m->aic, 1763.93934446, 1e-7);
	close_rel(m->se[0], 6.63227642116, 1e-5);
	/* the deviance at lme4's start is finite and higher */
	double th[3] = {1, 0, 1};
	assert_true(lmm_deviance(m, th, 0) > m->criterion);
	lmm_free(m);
	frame_cleanup(&fr);
	free(buf);
}

static void test_crossed(void **state)
{
	(void)state;
	size_t len;
	char *buf = slurp("penicillin.csv", &len);
	frame fr;
	al_err e = {0};
	lmm_opts o;
	lmm_opts_default(&o);
	lmm_model *m;
	assert_int_equal(load(&fr, &F, "diameter ~ 1 + (1 | plate) + (1 | sample)", buf, len, &e),
	                 AL_OK);
	assert_int_equal(lmm_new(&m, &F, &fr, &o, &e), AL_OK);
	assert_int_equal(lmm_fit(m, &o, &e), AL_OK);
	close_rel(m->criterion, 330.860588991, 1e-7);
	assert_string_equal(m->terms[0].group, "plate"); /* 24 levels before 6 */
	close_rel(m->terms[0].sd[0], 0.846704399499, 1e-4);
	close_rel(m->terms[1].sd[0], 1.93155870072, 1e-4);
	lmm_free(m);
	/* the dense block limit gives a clear error, not an allocation */
	o.max_dense = 4;
	assert_int_equal(lmm_new(&m, &F, &fr, &o, &e), AL_ELIMIT);
	assert_non_null(strstr(e.msg, "dense block"));
	assert_null(m);
	frame_cleanup(&fr);
	free(buf);
}

/* Pastes (casks within batches) takes the nested path; forcing the dense
 * block must give the same fit. */
static void test_nested_equals_dense(void **state)
{
	(void)state;
	size_t len;
	char *buf = slurp("pastes.csv", &len);
	frame fr;
	al_err e = {0};
	lmm_opts o;
	lmm_opts_default(&o);
	lmm_model *a, *b;
	assert_int_equal(load(&fr, &F, "strength ~ 1 + (1 | batch/cask)", buf, len, &e), AL_OK);
	assert_int_equal(lmm_new(&a, &F, &fr, &o, &e), AL_OK);
	assert_int_equal(lmm_fit(a, &o, &e), AL_OK);
	o.nested = 0;
	assert_int_equal(lmm_new(&b, &F, &fr, &o, &e), AL_OK);
	assert_int_equal(lmm_fit(b, &o, &e), AL_OK);
	close_rel(a->criterion, 246.990745853, 1e-9);
	close_rel(b->criterion, a->criterion, 1e-10);
	double th[2] = {1.3, 0.7};
	close_rel(lmm_deviance(a, th, 1), lmm_deviance(b, th, 1), 1e-12);
	close_rel(a->beta[0], b->beta[0], 1e-9);
	close_rel(a->se[0], b->se[0], 1e-6);
	for (int k = 0; k < 2; k++) {
		close_rel(a->terms[k].sd[0], b->terms[k].sd[0], 1e-6);
		for (int l = 0; l < a->terms[k].nlev; l++)
			assert_true(fabs(a->terms[k].ranef[l] - b->terms[k].ranef[l]) < 1e-5);
	}
	lmm_free(a);
	lmm_free(b);
	frame_cleanup(&fr);
	free(buf);
}

static void expect_model_error(const char *csv, const char *ftext, al_status st, const char *what)
{
	frame fr;
	al_err e = {0};
	lmm_opts o;
	lmm_opts_default(&o);
	lmm_model *m = NULL;
	al_status got = load(&fr, &F, ftext, csv, strlen(csv), &e);
	if (got == AL_OK)
		got = lmm_new(&m, &F, &fr, &o, &e);
	assert_int_equal(got, st);
	if (strstr(e.msg, what) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", e.msg, what);
	assert_null(m);
	frame_cleanup(&fr);
}

static void test_errors(void **state)
{
	(void)state;
	const char *ok = "y,x,g,c\n1,1,a,p\n2,2,a,q\n3,3,b,p\n5,4,b,q\n4,5,c,p\n6,6,c,q\n";
	expect_model_error(ok, "y ~ x", AL_EINPUT, "no random-effect term");
	expect_model_error(ok, "y ~ z + (1 | g)", AL_ENOTFOUND, "no column z");
	expect_model_error(ok, "g ~ x + (1 | c)", AL_EINPUT, "response g is not numeric");
	expect_model_error(ok, "y ~ x + (c | g)", AL_EINPUT, "random slopes need numeric");
	expect_model_error(ok, "y ~ log(c) + (1 | g)", AL_EINPUT,
	                   "column c in log(c) is not numeric");
	expect_model_error(ok, "y ~ x + (1 | x)", AL_EINPUT, "as many levels as observations");
	expect_model_error("y,x,g\n1,1,a\n2,2,a\n3,3,a\n", "y ~ x + (1 | g)", AL_EINPUT,
	                   "only one level");
	expect_model_error("y,x,g\n1,1,a\n2,-1,a\n3,3,b\n4,2,b\n", "y ~ sqrt(x) + (1 | g)",
	                   AL_EINPUT, "t.csv:3: column x: sqrt(x) is undefined (got \"-1\")");
	expect_model_error("y,x,g\n1,1,a\n2,x,a\n", "y ~ x + (1 | g)", AL_EINPUT,
	                   "t.csv:3: column x: not a number (got \"x\")");
	expect_model_error("y,x,g\n1,,a\nNA,2,a\n", "y ~ x + (1 | g)", AL_EINPUT,
	                   "no complete rows");
	expect_model_error("y,x,g\n1,1,a\n2,2,a\n3,3,b\n5,4,b\n4,5,c\n6,6,c\n",
	                   "y ~ x + I(2*x) + (1 | g)", AL_EINPUT, "rank deficient: column I(2*x)");
	expect_model_error(ok, "y ~ x + I(x^0) + (1 | g)", AL_EINPUT, "I(x^0) is constant");
	expect_model_error("y,g\n1,a\n1,a\n1,b\n1,b\n", "y ~ 1 + (1 | g)", AL_EINPUT,
	                   "response y is constant");
	expect_model_error("a,b\n1,\"2\n", "a ~ b + (1 | b)", AL_EINPUT, "t.csv:");
}

static void test_frame(void **state)
{
	(void)state;
	const char *csv = "id,instrument,score,scale\nc10,phq9,5,total\nc2,gad7,3,total\n"
	                  "c2,phq9,7,item\nc2,phq9,8,total\nc1,phq9,,total\n";
	const char *names[] = {"id", "score"};
	int cat[] = {1, 0};
	frame_filter flt[] = {{"instrument", "phq9", 0}, {"scale", "total", 1}, {"site", "x", 1}};
	frame fr;
	al_err e = {0};
	assert_int_equal(frame_load(&fr, csv, strlen(csv), "f.csv", names, cat, 2, flt, 3, &e),
	                 AL_OK);
	assert_int_equal(fr.n, 2);
	assert_int_equal(fr.dropped, 1);
	assert_int_equal(fr.skipped, 2);
	assert_int_equal(fr.cols[0].nlevels, 2);
	assert_string_equal(fr.cols[0].levels[0], "c10"); /* bytewise: c10 < c2 */
	assert_int_equal(frame_level(&fr.cols[0], "c2"), 1);
	assert_int_equal(frame_level(&fr.cols[0], "c3"), -1);
	assert_int_equal(fr.line[1], 5);
	frame_cleanup(&fr);
	/* numeric levels sort as numbers, as R's factor() of numbers does */
	const char *csv2 = "g,y\n10,1\n9,2\n100,3\n";
	const char *n2[] = {"g"};
	int c2[] = {1};
	assert_int_equal(frame_load(&fr, csv2, strlen(csv2), "f.csv", n2, c2, 1, NULL, 0, &e),
	                 AL_OK);
	assert_string_equal(fr.cols[0].levels[0], "9");
	assert_string_equal(fr.cols[0].levels[2], "100");
	assert_int_equal(frame_level(&fr.cols[0], "100"), 2);
	frame_cleanup(&fr);
	flt[0].col = "nope";
	assert_int_equal(frame_load(&fr, csv, strlen(csv), "f.csv", names, cat, 2, flt, 1, &e),
	                 AL_ENOTFOUND);
	assert_non_null(strstr(e.msg, "no column nope"));
	assert_int_equal(frame_load(&fr, "", 0, "f.csv", names, cat, 2, NULL, 0, &e), AL_EINPUT);
	frame_cleanup(&fr); /* harmless after a failed load */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sleepstudy_reml), cmocka_unit_test(test_sleepstudy_ml),
	    cmocka_unit_test(test_crossed),         cmocka_unit_test(test_nested_equals_dense),
	    cmocka_unit_test(test_errors),          cmocka_unit_test(test_frame),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
