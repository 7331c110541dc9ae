/* fuzz_formula.c: a model formula and a small data set, through the
 * formula parser, the frame loader and a (short) mixed-model fit, as
 * 'alliance lmm' runs them. Input: the formula up to the first newline,
 * then CSV text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../src/core/lmm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t flen = nl ? (size_t)(nl - (const char *)data) : size;
	if (flen >= FORMULA_MAX_TEXT)
		return 0;
	char text[FORMULA_MAX_TEXT];
	memcpy(text, data, flen);
	text[flen] = '\0';
	static formula f;
	al_err e = {0};
	if (formula_parse(&f, text, &e) != AL_OK || nl == NULL)
		return 0;
	const char *csv = nl + 1;
	size_t clen = size - flen - 1;
	const char *names[FORMULA_MAX_COLS];
	int cat[FORMULA_MAX_COLS];
	for (int c = 0; c < f.ncols; c++)
		names[c] = f.cols[c];
	lmm_column_kinds(&f, cat);
	frame fr = {0};
	if (frame_load(&fr, csv, clen, "fuzz", names, cat, f.ncols, NULL, 0, &e) != AL_OK)
		return 0;
	lmm_opts o;
	lmm_opts_default(&o);
	o.maxeval = 300; /* bound the work per input; the answer is not checked */
	o.threads = 1;
	lmm_model *m = NULL;
	if (lmm_new(&m, &f, &fr, &o, &e) == AL_OK)
		(void)lmm_fit(m, &o, &e);
	lmm_free(m);
	frame_cleanup(&fr);
	return 0;
}
