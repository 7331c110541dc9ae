/* test_fastrow.c: the report's fast path (core/fastrow.c). What it takes it
 * must read exactly as csv.h and itemrow_parse do; what it declines goes to
 * them. Hand-made lines for each field's plain and not-plain forms, then
 * 20,000 seeded random mutations of real lines checked against itemrow. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/core/fastrow.h"
#include "testutil.h"

static inst_lib lib;
static itemrow_cols cols, cols_note;

static void header(const char *h, itemrow_cols *c)
{
	csv_reader r = {0};
	al_err e = {0};
	csv_init(&r, h, strlen(h));
	assert_int_equal(csv_next(&r, &e), 1);
	assert_int_equal(itemrow_header(&r, "t", c, &e), AL_OK);
	csv_cleanup(&r);
}

static int setup(void **state)
{
	(void)state;
	tu_load_shipped(&lib);
	header("client_id,therapist_id,session,date,modality,instrument,item,value\n", &cols);
	header("value,item,client_id,note,therapist_id,session,date,modality,instrument\n",
	       &cols_note);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	inst_lib_cleanup(&lib);
	return 0;
}

/* fastrow_parse on line (no '\n' needed), in a padded buffer. */
static int fast(fastrow *f, const char *line, report_row *r, char **keep)
{
	size_t n = strlen(line);
	char *buf = malloc(n + 2 + FASTROW_PAD);
	assert_non_null(buf);
	memcpy(buf, line, n);
	buf[n] = buf[n + 1] = '\n'; /* the line's end, then the sentinel */
	memset(buf + n + 2, 'x', FASTROW_PAD);
	const char *nl = NULL;
	int got = fastrow_parse(f, buf, buf + n + 1, r, &nl);
	*keep = buf; /* r points into it */
	return got;
}

static int fast1(const itemrow_cols *c, const char *line)
{
	fastrow f;
	report_row r;
	char *buf;
	fastrow_init(&f, c, &lib);
	/* the line is given twice: the second one must not differ from the
	 * first because of a cache */
	size_t n = strlen(line);
	char *two = malloc(2 * n + 2);
	assert_non_null(two);
	memcpy(two, line, n);
	two[n] = '\n';
	memcpy(two + n + 1, line, n + 1);
	int got = fast(&f, two, &r, &buf);
	free(buf);
	if (got == 1) {
		got = fast(&f, two + n + 1, &r, &buf);
		free(buf);
	}
	free(two);
	return got;
}

static void test_forms(void **state)
{
	(void)state;
	const char *ok[] = {
	    "C1,T1,1,2024-02-29,video,phq9,9,3",
	    "C1,T1,100000,2024-01-01,in_person,wai_sr,12,5",
	    "C1,T1,7,2024-01-01,phone,gad7,1,",
	    "C1,T1,7,2024-01-01,phone,gad7,1,0\r",
	    "\xef\xbb\xbf"
	    "C1,T 1,7,2024-01-01,phone,gad2,2,3",
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		assert_int_equal(fast1(&cols, ok[i]), 1);
	const char *declined[] = {
	    "C1,T1,01,2024-01-01,video,phq9,1,1",     /* leading zero */
	    "C1,T1,+1,2024-01-01,video,phq9,1,1",     /* sign */
	    "C1,T1,0,2024-01-01,video,phq9,1,1",      /* session 0 */
	    "C1,T1,100001,2024-01-01,video,phq9,1,1", /* too large */
	    "C1,T1,1,2023-02-29,video,phq9,1,1",      /* no such day */
	    "C1,T1,1,2024-1-01,video,phq9,1,1",       /* shape */
	    "C1,T1,1,2024-01-01,Video,phq9,1,1",      /* modality */
	    "C1,T1,1,2024-01-01,video,phq10,1,1",     /* instrument */
	    "C1,T1,1,2024-01-01,video,phq9,10,1",     /* item */
	    "C1,T1,1,2024-01-01,video,phq9,1,4",      /* value */
	    "C1,T1,1,2024-01-01,video,phq9,1,-1",     /* sign */
	    "C1,T1,1,2024-01-01,video,phq9,1,00",     /* leading zero */
	    "C1,T1,1,2024-01-01,video,phq9,1",        /* too few fields */
	    "C1,T1,1,2024-01-01,video,phq9,1,1,",     /* too many */
	    ",T1,1,2024-01-01,video,phq9,1,1",        /* empty id */
	    "C\t1,T1,1,2024-01-01,video,phq9,1,1",    /* control character */
	    "C1,T1,1,2024-01-01,video,phq9,1,1\r\r",  /* a CR in the value */
	};
	for (size_t i = 0; i < sizeof declined / sizeof declined[0]; i++) {
		int got = fast1(&cols, declined[i]);
		if (got != 0)
			fail_msg("took: %s", declined[i]);
	}
	assert_int_equal(fast1(&cols, "C1,T1,1,2024-01-01,video,\"phq9\",1,1"), -1);
	/* columns in any order; a lone CR in an ignored column is csv.h's */
	assert_int_equal(fast1(&cols_note, "2,7,C1,a note,T1,3,2024-01-01,video,gad7"), 1);
	assert_int_equal(fast1(&cols_note, "2,7,C1,a\rnote,T1,3,2024-01-01,video,gad7"), 0);
	/* a date of ten NULs is not the cached date */
	char nuls[] = "C1,T1,1,XXXXXXXXXX,video,phq9,1,1";
	fastrow f;
	report_row r;
	fastrow_init(&f, &cols, &lib);
	size_t n = strlen(nuls);
	char *b = malloc(n + 2 + FASTROW_PAD);
	assert_non_null(b);
	memcpy(b, nuls, n);
	memset(b + 9, 0, 10);
	b[n] = b[n + 1] = '\n';
	const char *nl;
	assert_int_equal(fastrow_parse(&f, b, b + n + 1, &r, &nl), 0);
	free(b);
}

/* A tiny deterministic generator (the tests must not depend on rand()). */
static uint64_t rng = 88172645463325252ull;
static uint32_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 11);
}

static void test_mutations(void **state)
{
	(void)state;
	static const char *base[] = {
	    "C0000017,T00041,12,2024-05-14,video,phq9,7,3",
	    "C0000017,T00041,3,2025-12-31,in_person,wai_sr,12,5",
	    "C0000017,T00041,3,2025-12-31,phone,gad7,1,",
	    "K9,T2,99999,2024-02-29,video,gad2,2,0\r",
	};
	static const char alphabet[] = "0123456789-,\"\r\n\t x\x7f\xff\xef\xbb\xbf\0";
	size_t taken = 0;
	fastrow f;
	fastrow_init(&f, &cols, &lib);
	for (int iter = 0; iter < 20000; iter++) {
		char line[128];
		size_t n = strlen(base[iter % 4]);
		memcpy(line, base[iter % 4], n);
		int edits = 1 + (int)(next() % 4);
		for (int k = 0; k < edits && n > 0; k++) {
			size_t at = next() % n;
			char ch = alphabet[next() % (sizeof alphabet - 1)];
			switch (next() % 3) {
			case 0: line[at] = ch; break;
			case 1:
				if (n < sizeof line - 1) {
					memmove(line + at + 1, line + at, n - at);
					line[at] = ch;
					n++;
				}
				break;
			default: memmove(line + at, line + at + 1, n - at - 1); n--;
			}
		}
		char buf[128 + 2 + FASTROW_PAD];
		memcpy(buf, line, n);
		buf[n] = buf[n + 1] = '\n'; /* the line's end, then the sentinel */
		memset(buf + n + 2, 'x', FASTROW_PAD);
		report_row r;
		const char *nl = NULL;
		int got = fastrow_parse(&f, buf, buf + n + 1, &r, &nl);
		if (got != 1 || nl == buf + n + 1)
			continue;
		/* taken: itemrow must read the same row from the same line */
		taken++;
		csv_reader rd = {0};
		al_err e = {0};
		itemrow ir;
		csv_init(&rd, buf, (size_t)(nl + 1 - buf));
		rd.cur = buf; /* a BOM inside a file is data */
		assert_int_equal(csv_next(&rd, &e), 1);
		if (itemrow_parse(&cols, &rd, &lib, "t", &ir, &e) != AL_OK)
			fail_msg("fast path took %.*s; itemrow: %s", (int)(nl - buf), buf, e.msg);
		assert_int_equal(ir.client.len, r.client_len);
		assert_memory_equal(ir.client.p, r.client, r.client_len);
		assert_int_equal(ir.therapist.len, r.therapist_len);
		assert_memory_equal(ir.therapist.p, r.therapist, r.therapist_len);
		assert_int_equal(ir.session, r.session);
		assert_int_equal(ir.days, r.days);
		assert_int_equal(ir.mod, r.mod);
		assert_int_equal(ir.inst - lib.defs, r.inst);
		assert_int_equal(ir.item, r.item);
		assert_int_equal(ir.value, r.value);
		csv_cleanup(&rd);
	}
	assert_true(taken > 1000); /* the test saw the fast path take lines */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_forms),
	    cmocka_unit_test(test_mutations),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
