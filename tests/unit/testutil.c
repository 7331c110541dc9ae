/* testutil.c: shared helpers for the unit tests (see testutil.h). */
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/os/instdir.h"

const char *tu_path(const char *rel)
{
	static char buf[4096];
	const char *root = getenv("ROOT");
	snprintf(buf, sizeof buf, "%s/%s", root ? root : ".", rel);
	return buf;
}

void tu_load_shipped(inst_lib *lib)
{
	al_err e = {0};
	if (os_load_instruments(tu_path("instruments"), lib, &e) != AL_OK)
		fail_msg("%s", e.msg);
}

const inst_def *tu_find(const inst_lib *lib, const char *id)
{
	const inst_def *d = inst_lib_find(lib, id, strlen(id));
	if (d == NULL)
		fail_msg("instrument %s is not shipped", id);
	return d;
}

inst_lib tu_lib;

int tu_setup_lib(void **state)
{
	(void)state;
	tu_load_shipped(&tu_lib);
	return 0;
}

int tu_teardown_lib(void **state)
{
	(void)state;
	inst_lib_cleanup(&tu_lib);
	return 0;
}
