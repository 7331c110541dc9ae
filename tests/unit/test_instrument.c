/* test_instrument.c: the definition loader accepts a good definition, names
 * the field of every kind of bad one, and reads wording packs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/core/instrument.h"
#include "../../src/os/instdir.h"

/* A small valid definition; the error cases each replace one fragment. */
static const char *good =
    "{\"id\":\"t3\",\"name\":\"Test three\",\"version\":\"1\",\"respondent\":\"client\","
    "\"timing\":\"after_session\",\"licence\":{\"status\":\"free\",\"holder\":\"nobody\","
    "\"obtain\":\"nothing\"},\"sources\":{\"s1\":\"A book (2020).\"},"
    "\"items\":[{\"number\":1,\"label\":\"one\",\"min\":0,\"max\":4},"
    "{\"number\":2,\"label\":\"two\",\"min\":0,\"max\":4,\"reverse\":true},"
    "{\"number\":3,\"label\":\"three\",\"min\":0,\"max\":4}],"
    "\"scoring\":{\"method\":\"sum\",\"max_skipped\":1,\"prorate\":true,"
    "\"direction\":\"higher_worse\",\"subscales\":[{\"name\":\"ab\",\"items\":[1,2],"
    "\"max_skipped\":0}]},"
    "\"interpretation\":{\"severity\":{\"source\":\"s1\",\"bands\":[{\"from\":0,\"label\":"
    "\"low\"},{\"from\":6,\"label\":\"high\"}]},\"caseness\":{\"cutoff\":6,\"case_when\":"
    "\"at_or_above\",\"source\":\"s1\"},\"reliable_change\":{\"reliability\":0.8,\"sd\":3,"
    "\"source\":\"s1\"},\"norms\":{\"clinical\":{\"mean\":8,\"sd\":2,\"source\":\"s1\"},"
    "\"functional\":{\"mean\":2,\"sd\":1,\"source\":\"s1\"}}},"
    "\"codes\":{\"loinc_panel\":\"1-1\"},"
    "\"critical_items\":[{\"item\":3,\"at_least\":2,\"alert\":\"risk\",\"label\":\"x\","
    "\"source\":\"s1\"}]}";

static char *replaced(const char *from, const char *to)
{
	const char *at = strstr(good, from);
	assert_non_null(at);
	size_t n = strlen(good) - strlen(from) + strlen(to) + 1;
	char *s = malloc(n);
	assert_non_null(s);
	snprintf(s, n, "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
	return s;
}

static void test_good(void **state)
{
	(void)state;
	inst_def d;
	al_err e = {0};
	assert_int_equal(inst_parse(good, strlen(good), "t3.json", &d, &e), AL_OK);
	assert_string_equal(d.id, "t3");
	assert_int_equal(d.nitems, 3);
	assert_true(d.items[1].reverse);
	assert_true(d.score_max == 12.0);
	assert_int_equal(d.nsub, 1);
	assert_int_equal(d.sub[0].items[1], 2);
	assert_int_equal(d.nbands, 2);
	assert_string_equal(inst_band_for(&d, 5.0), "low");
	assert_string_equal(inst_band_for(&d, 6.0), "high");
	assert_true(d.has_caseness && d.case_at_or_above);
	assert_true(d.has_norms && d.clin_sd == 2.0);
	assert_int_equal(d.ncritical, 1);
	assert_string_equal(d.loinc_panel, "1-1");
}

static const struct bad_case {
	const char *from, *to, *msg;
} bad_cases[] = {
    {"\"id\":\"t3\"", "\"id\":\"T 3\"", "t.json: id: must use only a-z, 0-9 and _"},
    {"\"id\":\"t3\",", "", "t.json: id: is missing"},
    {"\"respondent\":\"client\"", "\"respondent\":\"dog\"", "respondent: must be one of"},
    {"\"number\":2,", "\"number\":5,", "items[1].number: must be 2"},
    {"\"max\":4,\"reverse\"", "\"max\":0,\"reverse\"", "items[1].max: answer range"},
    {"\"reverse\":true", "\"reverse\":1", "items[1].reverse: must be true or false"},
    {"\"label\":\"one\",", "", "items[0].label: is missing"},
    {"\"method\":\"sum\"", "\"method\":\"median\"", "scoring.method: must be one of"},
    {"\"prorate\":true", "\"prorate\":false", "scoring.prorate: must be true"},
    {"\"max_skipped\":1,", "\"max_skipped\":3,", "scoring.max_skipped: must be between"},
    {"\"items\":[1,2]", "\"items\":[1,9]", "scoring.subscales[0].items[1]: must be an item"},
    {"\"items\":[1,2]", "\"items\":[1,1]", "scoring.subscales[0].items[1]: repeats"},
    {"\"from\":6", "\"from\":-1", "severity.bands[1]: bands must be in increasing order"},
    {"\"from\":6", "\"from\":13", "severity.bands[1]: starts above the highest"},
    {"\"case_when\":\"at_or_above\"", "\"case_when\":\"over\"", "caseness.case_when"},
    {"\"reliability\":0.8", "\"reliability\":1.5", "reliable_change.reliability: must be"},
    {"\"sd\":3,", "", "reliable_change.sd: is missing"},
    {"\"mean\":8,\"sd\":2,", "\"mean\":8,\"sd\":0,", "norms.clinical.sd: must be positive"},
    {"\"source\":\"s1\"},\"reliable", "\"source\":\"s9\"},\"reliable",
     "caseness.source: names \"s9\", which is not in \"sources\""},
    {"\"sources\":{\"s1\":\"A book (2020).\"},", "", "sources: is missing"},
    {"\"item\":3,\"at_least\":2", "\"item\":3,\"at_least\":0", "critical_items[0]: at_least"},
    {"\"item\":3,\"at_least\":2", "\"item\":4,\"at_least\":2", "critical_items[0]: item must"},
    {"{\"id\"", "[{\"id\"", "not valid JSON"},
};

static void test_bad(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		char *s = replaced(bad_cases[i].from, bad_cases[i].to);
		inst_def d;
		al_err e = {0};
		al_status st = inst_parse(s, strlen(s), "t.json", &d, &e);
		if (st != AL_EINPUT || strstr(e.msg, bad_cases[i].msg) == NULL)
			fail_msg("case %zu: status %d, message \"%s\", expected \"%s\"", i, st,
			         e.msg, bad_cases[i].msg);
		free(s);
	}
	inst_def d;
	al_err e = {0};
	assert_int_equal(inst_parse("[]", 2, "t.json", &d, &e), AL_EINPUT);
	assert_non_null(strstr(e.msg, "must be a JSON object"));
}

static void test_lib(void **state)
{
	(void)state;
	inst_lib lib;
	inst_def d;
	al_err e = {0};
	inst_lib_init(&lib);
	assert_int_equal(inst_parse(good, strlen(good), "t3.json", &d, &e), AL_OK);
	assert_int_equal(inst_lib_add(&lib, &d, "a.json", &e), AL_OK);
	assert_int_equal(inst_lib_add(&lib, &d, "b.json", &e), AL_EINPUT);
	assert_non_null(strstr(e.msg, "b.json: id: instrument \"t3\" is defined twice"));
	assert_non_null(inst_lib_find(&lib, "t3", 2));
	assert_null(inst_lib_find(&lib, "t", 1));
	/* regression: a NUL inside a long input field read past the id */
	static const char nul[48] = "t3\0xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
	assert_null(inst_lib_find(&lib, nul, sizeof nul));
	assert_null(inst_lib_find(&lib, "t3\0", 3));
	inst_lib_cleanup(&lib);
}

static void test_wording(void **state)
{
	(void)state;
	inst_def d;
	inst_wording w;
	al_err e = {0};
	assert_int_equal(inst_parse(good, strlen(good), "t3.json", &d, &e), AL_OK);
	const char *pack = "{\"instrument\":\"t3\",\"language\":\"en\",\"items\":{\"2\":\"Two?\"}}";
	assert_int_equal(inst_wording_parse(pack, strlen(pack), "p.json", &d, &w, &e), AL_OK);
	assert_null(w.text[0]);
	assert_string_equal(w.text[1], "Two?");
	inst_wording_cleanup(&w);
	const char *bad = "{\"instrument\":\"t3\",\"language\":\"en\",\"items\":{\"4\":\"x\"}}";
	assert_int_equal(inst_wording_parse(bad, strlen(bad), "p.json", &d, &w, &e), AL_EINPUT);
	assert_non_null(strstr(e.msg, "p.json: items.4: t3 has no such item"));
	al_err_clear(&e);
	const char *other = "{\"instrument\":\"zz\",\"language\":\"en\",\"items\":{}}";
	assert_int_equal(inst_wording_parse(other, strlen(other), "p.json", &d, &w, &e), AL_EINPUT);
}

/* Every shipped definition loads, cites its sources and has no wording. */
static void test_shipped(void **state)
{
	(void)state;
	const char *root = getenv("ROOT");
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/instruments", root ? root : ".");
	inst_lib lib;
	al_err e = {0};
	if (os_load_instruments(dir, &lib, &e) != AL_OK)
		fail_msg("%s", e.msg);
	const inst_def *phq9 = inst_lib_find(&lib, "phq9", 4);
	assert_non_null(phq9);
	assert_int_equal(phq9->nitems, 9);
	assert_string_equal(phq9->loinc_panel, "44249-1");
	assert_string_equal(phq9->loinc_total, "44261-6");
	assert_int_equal(phq9->ncritical, 1);
	assert_int_equal(phq9->critical[0].item, 9);
	assert_int_equal(phq9->critical[0].at_least, 1);
	assert_true(phq9->rc_points == 6 && phq9->caseness_cutoff == 10);
	for (size_t i = 0; i < lib.n; i++)
		assert_true(lib.defs[i].nsources > 0);
	inst_lib_cleanup(&lib);
	assert_int_equal(os_load_instruments("/nonexistent", &lib, &e), AL_ENOTFOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_lib),     cmocka_unit_test(test_wording),
	    cmocka_unit_test(test_shipped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
