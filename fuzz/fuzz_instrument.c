/* fuzz_instrument.c: instrument definitions and wording packs from
 * arbitrary JSON (a thin shim into the loader). */
#include <stddef.h>
#include <stdint.h>

#include "../src/core/score.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static inst_def d;
	al_err e = {0};
	if (inst_parse((const char *)data, size, "fuzz", &d, &e) != AL_OK)
		return 0;
	/* a definition that loads must score any in-range answers */
	int v[INST_MAX_ITEMS];
	for (int i = 0; i < d.nitems; i++)
		v[i] = i % 3 == 2 ? SCORE_SKIPPED : d.items[i].max;
	score_result r;
	if (score_administration(&d, v, &r, &e) != AL_OK)
		__builtin_trap();
	inst_wording w;
	if (inst_wording_parse((const char *)data, size, "fuzz", &d, &w, &e) == AL_OK)
		inst_wording_cleanup(&w);
	return 0;
}
