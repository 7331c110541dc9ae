/* test_frame.c: reading the columns a model needs from CSV text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/core/frame.h"

/* Regression: an optional column that is absent and requested last was
 * reported as "no column" (the column count was only set inside the loop's
 * last iteration, which the absent column skipped). */
static void test_optional_last_absent(void **state)
{
	(void)state;
	const char *csv = "a,b\n1,x\n2,y\n";
	const char *names[] = {"a", "b", "zz"};
	const int kind[] = {FRAME_NUMERIC, FRAME_CATEGORICAL, FRAME_NUMERIC | FRAME_OPTIONAL};
	frame fr = {0};
	al_err e = {0};
	assert_int_equal(frame_load(&fr, csv, strlen(csv), "f.csv", names, kind, 3, NULL, 0, &e),
	                 AL_OK);
	assert_int_equal(fr.ncols, 2);
	assert_int_equal(fr.n, 2);
	assert_int_equal(frame_find(&fr, "zz"), -1);
	assert_true(frame_find(&fr, "b") >= 0);
	frame_cleanup(&fr);

	/* a required column that is absent is still an error naming it */
	const int req[] = {FRAME_NUMERIC, FRAME_CATEGORICAL, FRAME_NUMERIC};
	assert_int_equal(frame_load(&fr, csv, strlen(csv), "f.csv", names, req, 3, NULL, 0, &e),
	                 AL_ENOTFOUND);
	assert_non_null(strstr(e.msg, "f.csv: no column zz"));
	frame_cleanup(&fr);
}

static void test_bad_number(void **state)
{
	(void)state;
	const char *csv = "a,b\n1,x\nnope,y\n";
	const char *names[] = {"a"};
	const int kind[] = {FRAME_NUMERIC};
	frame fr = {0};
	al_err e = {0};
	assert_int_equal(frame_load(&fr, csv, strlen(csv), "f.csv", names, kind, 1, NULL, 0, &e),
	                 AL_EINPUT);
	assert_non_null(strstr(e.msg, "f.csv:3: column a:"));
	assert_non_null(strstr(e.msg, "(got \"nope\")"));
	frame_cleanup(&fr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_optional_last_absent),
	    cmocka_unit_test(test_bad_number),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
