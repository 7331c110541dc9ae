/* test_itemrow.c: every rule of the interchange formats gets its message
 * (FILE:LINE: column NAME: what (got "VALUE")), and rows assemble into
 * administrations in any order, with duplicates and conflicts naming both
 * lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/core/admin.h"
#include "testutil.h"

#define lib tu_lib

#define HEADER "client_id,therapist_id,session,date,modality,instrument,item,value\n"

/* Parse the header and the first data row of text; return the status and
 * leave the message in e. */
static al_status parse_one(const char *text, itemrow *row, al_err *e)
{
	csv_reader r = {0};
	itemrow_cols cols;
	csv_init(&r, text, strlen(text));
	al_err_clear(e);
	assert_int_equal(csv_next(&r, e), 1);
	al_status st = itemrow_header(&r, "f.csv", &cols, e);
	if (st == AL_OK) {
		assert_int_equal(csv_next(&r, e), 1);
		st = itemrow_parse(&cols, &r, &lib, "f.csv", row, e);
	}
	csv_cleanup(&r);
	return st;
}

static void test_good_rows(void **state)
{
	(void)state;
	itemrow row;
	al_err e = {0};
	assert_int_equal(parse_one(HEADER "C1,T1,3,2024-02-29,video,phq9,9,2\n", &row, &e), AL_OK);
	assert_int_equal(row.session, 3);
	assert_int_equal(row.item, 9);
	assert_int_equal(row.value, 2);
	assert_int_equal(row.mod, MOD_VIDEO);
	assert_string_equal(row.inst->id, "phq9");
	assert_int_equal(parse_one(HEADER "C1,T1,3,2024-02-29,video,phq9,9,\n", &row, &e), AL_OK);
	assert_int_equal(row.value, SCORE_SKIPPED);
	/* columns in another order, an unknown column, quoted fields */
	const char *t = "value,item,extra,instrument,modality,date,session,therapist_id,client_id\n"
	                "\"1\",2,x,gad7,phone,2023-12-31,1,\"T,2\",\"C\"\"9\"\n";
	csv_reader r = {0};
	itemrow_cols cols;
	csv_init(&r, t, strlen(t));
	assert_int_equal(csv_next(&r, &e), 1);
	assert_int_equal(itemrow_header(&r, "f.csv", &cols, &e), AL_OK);
	assert_string_equal(cols.unknown, "extra");
	assert_int_equal(csv_next(&r, &e), 1);
	assert_int_equal(itemrow_parse(&cols, &r, &lib, "f.csv", &row, &e), AL_OK);
	assert_int_equal(row.therapist.len, 3);
	assert_memory_equal(row.client.p, "C\"9", 3);
	csv_cleanup(&r);
}

static const struct bad_row {
	const char *row, *msg;
} bad_rows[] = {
    {"C1,T1,1,2024-02-30,in_person,phq9,1,2",
     "f.csv:2: column date: must be a real date written YYYY-MM-DD (got \"2024-02-30\")"},
    {"C1,T1,1,2023-02-29,in_person,phq9,1,2", "column date: must be a real date"},
    {"C1,T1,1,24-02-01,in_person,phq9,1,2", "column date: must be a real date"},
    {"C1,T1,1,2024-13-01,in_person,phq9,1,2", "column date: must be a real date"},
    {"C1,T1,1,2024-03-01,in_person,phq9,1,7",
     "f.csv:2: column value: phq9 item 1 takes whole numbers 0 to 3, or empty (got \"7\")"},
    {"C1,T1,1,2024-03-01,in_person,phq9,12,1",
     "f.csv:2: column item: phq9 has items 1 to 9 (got \"12\")"},
    {"C1,T1,1,2024-03-01,in_person,phq9,0,1", "column item: phq9 has items 1 to 9 (got \"0\")"},
    {"C1,T1,x,2024-03-01,in_person,phq9,1,1",
     "f.csv:2: column session: must be a whole number from 1 to 100000 (got \"x\")"},
    {"C1,T1,0,2024-03-01,in_person,phq9,1,1", "column session: must be a whole number"},
    {"C1,T1,1,2024-03-01,teleport,phq9,1,1",
     "f.csv:2: column modality: must be in_person, video or phone (got \"teleport\")"},
    {"C1,T1,1,2024-03-01,in_person,nosuch,1,1",
     "f.csv:2: column instrument: is not a loaded instrument (see 'alliance instruments') "
     "(got \"nosuch\")"},
    {"C1,T1,1,2024-03-01,in_person,phq9,1,1,extra",
     "f.csv:2: column 9: extra field: the header has fewer columns (got \"extra\")"},
    {"C1,T1,1,2024-03-01,in_person,phq9,1",
     "f.csv:2: column value: missing: the row has 7 fields, the header 8"},
    {",T1,1,2024-03-01,in_person,phq9,1,1",
     "f.csv:2: column client_id: must be 1-64 characters without control characters (got \"\")"},
    {"C1,,1,2024-03-01,in_person,phq9,1,1", "column therapist_id: must be 1-64 characters"},
    {"C1,T1,1,2024-03-01,in_person,phq9,1,-1", "column value: phq9 item 1 takes whole numbers"},
    {"C1,T1,1,2024-03-01,in_person,phq9,1,1.5", "(got \"1.5\")"},
    {"C\x01,T1,1,2024-03-01,in_person,phq9,1,1", "column client_id: must be 1-64 (got \"C?\")"},
    {"C1,T1,1,2024-03-01,in_person,wai_sr,1,0", "wai_sr item 1 takes whole numbers 1 to 5"},
    {"CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC,T1,1,2024-03-01,"
     "in_person,phq9,1,1",
     "column client_id: must be 1-64 characters"},
};

static void test_bad_rows(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof bad_rows / sizeof bad_rows[0]; i++) {
		char text[512];
		snprintf(text, sizeof text, HEADER "%s\n", bad_rows[i].row);
		itemrow row;
		al_err e = {0};
		al_status st = parse_one(text, &row, &e);
		/* the control-character case checks a prefix and the quoted value */
		const char *want = bad_rows[i].msg;
		const char *cut = strstr(want, " (got \"C?\")");
		int ok = st == AL_EINPUT &&
		         (cut ? strstr(e.msg, "must be 1-64") && strstr(e.msg, "(got \"C?\")")
		              : strstr(e.msg, want) != NULL);
		if (!ok)
			fail_msg("row %zu: status %d, message \"%s\", expected \"%s\"", i, st,
			         e.msg, want);
	}
}

static void test_headers(void **state)
{
	(void)state;
	itemrow row;
	al_err e = {0};
	assert_int_equal(
	    parse_one("client_id,therapist_id,session,date,modality,item,value\nx\n", &row, &e),
	    AL_EINPUT);
	assert_string_equal(e.msg, "f.csv:1: header: column instrument is missing");
	assert_int_equal(parse_one("a,b\n1,2\n", &row, &e), AL_EINPUT);
	assert_non_null(strstr(e.msg, "f.csv:1: header: needs item and value columns"));
	assert_int_equal(parse_one("client_id,client_id,item,value\n1,2,3,4\n", &row, &e),
	                 AL_EINPUT);
	assert_string_equal(e.msg, "f.csv:1: column client_id appears twice in the header");
	/* the score-level format */
	const char *t = "client_id,therapist_id,session,date,modality,instrument,score\n"
	                "C1,T1,1,2024-01-01,in_person,wai_sr,3.25\n";
	assert_int_equal(parse_one(t, &row, &e), AL_OK);
	assert_true(row.score == 3.25);
	t = "client_id,therapist_id,session,date,modality,instrument,score\n"
	    "C1,T1,1,2024-01-01,in_person,phq9,28\n";
	assert_int_equal(parse_one(t, &row, &e), AL_EINPUT);
	assert_string_equal(e.msg, "f.csv:2: column score: must be a number from 0 to 27 for phq9 "
	                           "(got \"28\")");
	t = "client_id,therapist_id,session,date,modality,instrument,score,scale\n"
	    "C1,T1,1,2024-01-01,in_person,wai_sr,3,nope\n";
	assert_int_equal(parse_one(t, &row, &e), AL_EINPUT);
	assert_non_null(strstr(e.msg, "column scale: must be total or a subscale"));
}

typedef struct collected {
	int n;
	admin a[8];
} collected;

static al_status collect(void *ctx, const admin *a, al_err *err)
{
	(void)err;
	collected *c = ctx;
	if (c->n < 8)
		c->a[c->n] = *a;
	c->n++;
	return AL_OK;
}

static void read_set(const char *text, admin_set *set, problems *pr, csv_reader *r)
{
	itemrow_cols cols;
	al_err e = {0};
	csv_init(r, text, strlen(text));
	admin_set_init(set, &lib, text, strlen(text));
	assert_int_equal(csv_next(r, &e), 1);
	assert_int_equal(itemrow_header(r, "f.csv", &cols, &e), AL_OK);
	while (csv_next(r, &e) == 1) {
		itemrow row;
		if (itemrow_parse(&cols, r, &lib, "f.csv", &row, &e) != AL_OK)
			problems_add(pr, &e);
		else
			assert_int_equal(admin_set_add(set, &row, r->line, &e), AL_OK);
	}
}

static void test_assembly(void **state)
{
	(void)state;
	const char *t = HEADER "B,T1,2,2024-01-08,video,phq2,2,1\n"
	                       "A,T1,1,2024-01-01,in_person,phq2,2,3\n"
	                       "B,T1,2,2024-01-08,video,phq2,1,0\n"
	                       "A,T1,1,2024-01-01,in_person,phq2,1,2\n"
	                       "A,T1,1,2024-01-01,in_person,gad2,1,\n";
	admin_set set;
	problems pr;
	csv_reader r = {0};
	collected c = {0};
	al_err e = {0};
	problems_init(&pr);
	read_set(t, &set, &pr, &r);
	assert_int_equal(admin_set_each(&set, "f.csv", &pr, collect, &c, &e), AL_OK);
	assert_int_equal(pr.total, 0);
	assert_int_equal(c.n, 3);
	/* order: client A (gad2 before phq2), then B */
	assert_string_equal(c.a[0].inst->id, "gad2");
	assert_int_equal(c.a[0].values[0], SCORE_SKIPPED);
	assert_int_equal(c.a[0].values[1], SCORE_SKIPPED); /* absent rows count as skipped */
	assert_string_equal(c.a[1].inst->id, "phq2");
	assert_int_equal(c.a[1].values[0], 2);
	assert_int_equal(c.a[1].values[1], 3);
	assert_int_equal(c.a[1].line, 3);
	assert_memory_equal(c.a[2].client, "B", 1);
	assert_int_equal(c.a[2].session, 2);
	assert_int_equal(c.a[2].nrows, 2);
	admin_set_cleanup(&set);
	csv_cleanup(&r);
	problems_cleanup(&pr);
}

static void test_conflicts(void **state)
{
	(void)state;
	const char *t = HEADER "A,T1,1,2024-01-01,in_person,phq2,1,2\n"
	                       "A,T1,1,2024-01-01,in_person,phq2,1,3\n"
	                       "A,T2,1,2024-01-02,video,phq2,2,3\n"
	                       "B,T1,1,2024-01-01,in_person,phq2,1,1\n";
	admin_set set;
	problems pr;
	csv_reader r = {0};
	collected c = {0};
	al_err e = {0};
	problems_init(&pr);
	read_set(t, &set, &pr, &r);
	assert_int_equal(admin_set_each(&set, "f.csv", &pr, collect, &c, &e), AL_OK);
	assert_int_equal(c.n, 1); /* only B is consistent */
	assert_int_equal(pr.total, 4);
	assert_string_equal(pr.msg[0],
	                    "f.csv:3: column item: item 1 of this administration "
	                    "(client A, session 1, phq2) is already on line 2 (got \"1\")");
	assert_string_equal(pr.msg[1],
	                    "f.csv:4: column therapist_id: differs from line 2 of the "
	                    "same administration (client A, session 1, phq2) (got \"T2\")");
	assert_non_null(strstr(pr.msg[2], "f.csv:4: column date: differs from line 2"));
	assert_non_null(strstr(pr.msg[3], "f.csv:4: column modality: differs from line 2"));
	admin_set_cleanup(&set);
	csv_cleanup(&r);
	problems_cleanup(&pr);
}

static al_status read_header(const char *text, int need_items, al_err *e)
{
	csv_reader r = {0};
	itemrow_cols cols;
	al_err_clear(e);
	csv_init(&r, text, strlen(text));
	al_status st = itemrow_read_header(&r, "f.csv", need_items, &cols, e);
	csv_cleanup(&r);
	return st;
}

static void test_read_header(void **state)
{
	(void)state;
	al_err e = {0};
	assert_int_equal(read_header(HEADER, 1, &e), AL_OK);
	assert_int_equal(read_header("", 1, &e), AL_EINPUT);
	assert_string_equal(e.msg, "f.csv: empty file: expected a header row");
	/* the tokenizer's own message, with the file name (it used to be lost) */
	assert_int_equal(read_header("client_id,\"therapist_id\n", 1, &e), AL_EINPUT);
	assert_string_equal(e.msg, "f.csv:1: quoted field never closed (a '\"' is missing)");
	const char *scores = "client_id,therapist_id,session,date,modality,instrument,score\n";
	assert_int_equal(read_header(scores, 0, &e), AL_OK);
	assert_int_equal(read_header(scores, 1, &e), AL_EINPUT);
	assert_non_null(strstr(e.msg, "f.csv:1: header: this is the score-level format"));
}

/* Regression: an empty set used to pass NULL to qsort (UBSan, found by the
 * fuzz corpus replay under make check). */
static void test_empty_set(void **state)
{
	(void)state;
	admin_set set;
	problems pr;
	collected c = {0};
	al_err e = {0};
	problems_init(&pr);
	admin_set_init(&set, &lib, "", 0);
	assert_int_equal(admin_set_each(&set, "f.csv", &pr, collect, &c, &e), AL_OK);
	assert_int_equal(c.n, 0);
	admin_set_cleanup(&set);
}

static void test_problem_cap(void **state)
{
	(void)state;
	problems pr;
	problems_init(&pr);
	for (int i = 0; i < 150; i++) {
		al_err e = {0};
		al_err_set(&e, AL_EINPUT, "problem %d", i);
		problems_add(&pr, &e);
	}
	assert_int_equal(pr.total, 150);
	assert_int_equal(pr.kept, PROBLEMS_KEEP);
	char buf[8192];
	FILE *f = fmemopen(buf, sizeof buf, "w");
	problems_print(&pr, f);
	fclose(f);
	assert_non_null(strstr(buf, "problem 99\n... and 50 more problems\n"));
	problems_cleanup(&pr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_rows), cmocka_unit_test(test_bad_rows),
	    cmocka_unit_test(test_headers),   cmocka_unit_test(test_assembly),
	    cmocka_unit_test(test_conflicts), cmocka_unit_test(test_problem_cap),
	    cmocka_unit_test(test_empty_set), cmocka_unit_test(test_read_header),
	};
	return cmocka_run_group_tests(tests, tu_setup_lib, tu_teardown_lib);
}
