/* fuzz_csv.c: the CSV tokenizer on arbitrary bytes (a thin shim). */
#include <stddef.h>
#include <stdint.h>

#include "../src/core/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	csv_reader r = {0};
	al_err e = {0};
	csv_init(&r, (const char *)data, size);
	for (int guard = 0; guard < 1000000; guard++) {
		al_err_clear(&e);
		int got = csv_next(&r, &e);
		if (got == 0)
			break;
		if (got > 0)
			for (size_t i = 0; i < r.nfields; i++) {
				long v;
				double d;
				(void)csv_parse_long(r.f[i], &v);
				(void)csv_parse_double(r.f[i], &d);
			}
	}
	csv_cleanup(&r);
	return 0;
}
