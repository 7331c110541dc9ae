/* fuzz_itemrow.c: a whole item- or score-level file through the row checks
 * and the administration assembly, as 'alliance score' reads it. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../src/core/admin.h"
#include "fuzz_instruments.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static al_status each(void *ctx, const admin *a, al_err *err)
{
	(void)ctx;
	score_result r;
	return score_administration(a->inst, a->values, &r, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	csv_reader r = {0};
	al_err e = {0};
	admin_set set;
	problems pr;
	itemrow_cols cols;
	problems_init(&pr);
	admin_set_init(&set, &fuzz_lib, buf, size);
	csv_init(&r, buf, size);
	if (csv_next(&r, &e) == 1 && itemrow_header(&r, "fuzz", &cols, &e) == AL_OK) {
		int got;
		while ((got = csv_next(&r, &e)) != 0) {
			itemrow row;
			if (got < 0 ||
			    itemrow_parse(&cols, &r, &fuzz_lib, "fuzz", &row, &e) != AL_OK) {
				problems_add(&pr, &e);
				continue;
			}
			if (cols.format == ROWFMT_ITEMS &&
			    admin_set_add(&set, &row, r.line, &e) != AL_OK)
				break;
		}
		al_err_clear(&e);
		if (admin_set_each(&set, "fuzz", &pr, each, NULL, &e) != AL_OK)
			abort(); /* values were range-checked: scoring cannot fail */
	}
	admin_set_cleanup(&set);
	problems_cleanup(&pr);
	csv_cleanup(&r);
	return 0;
}
