/* fuzz_instruments.h: the shipped instrument library for fuzz targets that
 * read answers. Defines LLVMFuzzerInitialize, which loads $ROOT/instruments
 * (or ./instruments) into fuzz_lib once, before the first input. */
#ifndef AL_FUZZ_INSTRUMENTS_H
#define AL_FUZZ_INSTRUMENTS_H

#include <stdio.h>
#include <stdlib.h>

#include "../src/os/instdir.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);

static inst_lib fuzz_lib;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	const char *root = getenv("ROOT");
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/instruments", root ? root : ".");
	al_err e = {0};
	if (os_load_instruments(dir, &fuzz_lib, &e) != AL_OK) {
		fprintf(stderr, "%s: %s\n", (*argv)[0], e.msg);
		exit(1);
	}
	return 0;
}

#endif
