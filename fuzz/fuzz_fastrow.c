/* fuzz_fastrow.c: the report's fast path against the row checks. Every line
 * of the input (under a fixed item-level header, or the input's own first
 * line when it is one) goes through fastrow_parse; a line it accepts must be
 * accepted by csv.h and itemrow_parse with the same values, or the target
 * aborts. Accepted rows are then accumulated, summarised and written, as
 * 'alliance report' does. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/fastrow.h"
#include "fuzz_instruments.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_field(csv_field a, const char *p, size_t n)
{
	return a.len == n && memcmp(a.p, p, n) == 0;
}

/* The line at p (its '\n' at nl) as csv.h and itemrow_parse read it must
 * give r. */
static void check_row(const itemrow_cols *cols, const char *p, const char *nl, const report_row *r)
{
	csv_reader rd = {0};
	al_err e = {0};
	itemrow ir;
	csv_init(&rd, p, (size_t)(nl + 1 - p));
	rd.cur = p; /* a BOM inside a file is data (csv_init skips it) */
	if (csv_next(&rd, &e) != 1 ||
	    itemrow_parse(cols, &rd, &fuzz_lib, "fuzz", &ir, &e) != AL_OK ||
	    !same_field(ir.client, r->client, r->client_len) ||
	    !same_field(ir.therapist, r->therapist, r->therapist_len) || ir.session != r->session ||
	    ir.days != r->days || (int)ir.mod != r->mod || ir.inst - fuzz_lib.defs != r->inst ||
	    ir.item != r->item || ir.value != r->value) {
		fprintf(stderr,
		        "fuzz_fastrow: the fast path took a line itemrow reads otherwise: "
		        "%.*s\n(%s)\n",
		        (int)(nl - p), p, e.msg);
		abort();
	}
	csv_cleanup(&rd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char header[] =
	    "client_id,therapist_id,session,date,modality,instrument,item,value\n";
	/* the input, a sentinel '\n' and the padding fastrow_parse may read */
	char *buf = malloc(size + 1 + FASTROW_PAD);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\n';
	memset(buf + size + 1, 'x', FASTROW_PAD);
	const char *e = buf + size, *p = buf;

	/* the input's first line is the header when it reads as one */
	csv_reader hr = {0};
	al_err err = {0};
	itemrow_cols cols;
	const char *nl = memchr(buf, '\n', size + 1);
	csv_init(&hr, buf, (size_t)(nl + 1 - buf));
	if (csv_next(&hr, &err) == 1 && itemrow_header(&hr, "fuzz", &cols, &err) == AL_OK &&
	    cols.format == ROWFMT_ITEMS) {
		p = nl + 1;
	} else {
		al_err_clear(&err);
		csv_init(&hr, header, sizeof header - 1);
		if (csv_next(&hr, &err) != 1 || itemrow_header(&hr, "fuzz", &cols, &err) != AL_OK)
			abort();
	}

	fastrow fr;
	report_acc acc;
	fastrow_init(&fr, &cols, &fuzz_lib);
	if (report_acc_init(&acc, &fuzz_lib, &err) != AL_OK)
		abort();
	while (p < e) {
		report_row r;
		nl = NULL;
		int got = fastrow_parse(&fr, p, e, &r, &nl);
		if (got < 0) { /* a quote: csv.h's business; skip the line */
			nl = memchr(p, '\n', (size_t)(e + 1 - p));
		} else if (got > 0 && nl != e) {
			check_row(&cols, p, nl, &r);
			if (report_acc_add(&acc, &r, &err) != AL_OK)
				break;
		}
		p = nl + 1;
	}
	report_result res;
	if (report_summarize(&acc, &res, &err) == AL_OK) {
		FILE *out = fopen("/dev/null", "w");
		if (out != NULL) {
			report_extra x = {.rows = acc.rows};
			report_write_clients(&acc, &res, out, &err);
			report_write_therapists(&acc, &res, out, &err);
			report_write_overall(&res, &x, out, &err);
			fclose(out);
		}
		report_result_cleanup(&res);
	}
	report_acc_cleanup(&acc);
	csv_cleanup(&hr);
	free(buf);
	return 0;
}
