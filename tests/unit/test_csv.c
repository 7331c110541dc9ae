/* test_csv.c: the CSV tokenizer on RFC 4180 cases and every error path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/core/csv.h"

static int next(csv_reader *r, al_err *e)
{
	al_err_clear(e);
	return csv_next(r, e);
}

static void assert_field(const csv_reader *r, size_t i, const char *s)
{
	assert_true(i < r->nfields);
	assert_int_equal(r->f[i].len, strlen(s));
	assert_memory_equal(r->f[i].p, s, strlen(s));
}

static void test_plain(void **state)
{
	(void)state;
	const char *s = "a,b,c\n1,,3\n";
	csv_reader r = {0};
	al_err e = {0};
	csv_init(&r, s, strlen(s));
	assert_int_equal(next(&r, &e), 1);
	assert_int_equal(r.nfields, 3);
	assert_field(&r, 0, "a");
	assert_field(&r, 2, "c");
	assert_int_equal(r.line, 1);
	assert_int_equal(next(&r, &e), 1);
	assert_field(&r, 1, "");
	assert_field(&r, 2, "3");
	assert_int_equal(r.line, 2);
	assert_int_equal(next(&r, &e), 0);
	csv_cleanup(&r);
}

static void test_bom_crlf_quotes(void **state)
{
	(void)state;
	const char *s = "\xEF\xBB\xBF\"a\",\"b,c\"\r\n\"x\"\"y\",\"multi\r\nline\"\r\n\r\nlast,row";
	csv_reader r = {0};
	al_err e = {0};
	csv_init(&r, s, strlen(s));
	assert_int_equal(next(&r, &e), 1);
	assert_field(&r, 0, "a");
	assert_field(&r, 1, "b,c");
	assert_int_equal(next(&r, &e), 1);
	assert_int_equal(r.line, 2);
	assert_field(&r, 0, "x\"y");
	assert_field(&r, 1, "multi\r\nline");
	assert_int_equal(next(&r, &e), 1);
	/* the record after a two-line field and a blank line starts on line 5 */
	assert_int_equal(r.line, 5);
	assert_field(&r, 0, "last");
	assert_field(&r, 1, "row");
	assert_memory_equal(r.raw, "last,row", r.raw_len);
	assert_int_equal(next(&r, &e), 0);
	csv_cleanup(&r);
}

static void test_errors(void **state)
{
	(void)state;
	csv_reader r = {0};
	al_err e = {0};
	const char *s1 = "a,\"open\nb,c\n";
	csv_init(&r, s1, strlen(s1));
	assert_int_equal(next(&r, &e), -1);
	assert_int_equal(e.status, AL_EINPUT);
	assert_non_null(strstr(e.msg, "line 1: quoted field never closed"));

	const char *s2 = "a,\"x\"y,c\nok\n";
	csv_init(&r, s2, strlen(s2));
	assert_int_equal(next(&r, &e), -1);
	assert_non_null(strstr(e.msg, "line 1: column 2: text after a closing quote"));
	/* the reader resynchronises on the next line */
	assert_int_equal(next(&r, &e), 1);
	assert_int_equal(r.line, 2);
	assert_field(&r, 0, "ok");

	const char *s3 = "a,b\"c\n";
	csv_init(&r, s3, strlen(s3));
	assert_int_equal(next(&r, &e), -1);
	assert_non_null(strstr(e.msg, "quote inside an unquoted field"));

	char many[CSV_MAX_FIELDS * 2 + 8];
	size_t n = 0;
	for (int i = 0; i <= CSV_MAX_FIELDS; i++) {
		many[n++] = 'x';
		many[n++] = ',';
	}
	many[n++] = '\n';
	csv_init(&r, many, n);
	assert_int_equal(next(&r, &e), -1);
	assert_int_equal(e.status, AL_ELIMIT);

	/* a record over the 1 MiB limit, plain and with doubled quotes */
	size_t big = CSV_MAX_RECORD + 16;
	char *s4 = malloc(big + 8);
	assert_non_null(s4);
	memset(s4, 'x', big);
	memcpy(s4 + big, "\nok\n", 4);
	csv_init(&r, s4, big + 4);
	assert_int_equal(next(&r, &e), -1);
	assert_int_equal(e.status, AL_ELIMIT);
	assert_non_null(strstr(e.msg, "line 1: record longer than"));
	assert_int_equal(next(&r, &e), 1);
	assert_field(&r, 0, "ok");
	s4[0] = '"';
	s4[1] = '"';
	s4[2] = '"';
	s4[big - 1] = '"';
	csv_init(&r, s4, big + 4);
	assert_int_equal(next(&r, &e), -1);
	assert_int_equal(e.status, AL_ELIMIT);
	free(s4);
	csv_cleanup(&r);
}

static void test_numbers(void **state)
{
	(void)state;
	long v;
	double d;
	assert_true(csv_parse_long((csv_field){"42", 2}, &v));
	assert_int_equal(v, 42);
	assert_true(csv_parse_long((csv_field){"-7", 2}, &v));
	assert_int_equal(v, -7);
	assert_false(csv_parse_long((csv_field){"", 0}, &v));
	assert_false(csv_parse_long((csv_field){"1.5", 3}, &v));
	assert_false(csv_parse_long((csv_field){" 1", 2}, &v));
	assert_false(csv_parse_long((csv_field){"1234567890123456789", 19}, &v));
	assert_true(csv_parse_double((csv_field){"2.5", 3}, &d));
	assert_true(d == 2.5);
	assert_false(csv_parse_double((csv_field){"nan", 3}, &d));
	assert_false(csv_parse_double((csv_field){"0x10", 4}, &d));
	assert_false(csv_parse_double((csv_field){"1e999", 5}, &d));
}

static void test_escape(void **state)
{
	(void)state;
	char out[64];
	size_t n = csv_escape(out, "plain", 5);
	assert_memory_equal(out, "plain", n);
	n = csv_escape(out, "a,\"b\"", 5);
	assert_int_equal(n, 9);
	assert_memory_equal(out, "\"a,\"\"b\"\"\"", n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain),  cmocka_unit_test(test_bom_crlf_quotes),
	    cmocka_unit_test(test_errors), cmocka_unit_test(test_numbers),
	    cmocka_unit_test(test_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
