/* testutil.h: shared helpers for the unit tests (linked into each). */
#ifndef AL_TESTUTIL_H
#define AL_TESTUTIL_H

#include "../../src/core/instrument.h"

/* Load the repository's instruments/ (ROOT from tests/run.sh, else "."),
 * failing the test on error. */
void tu_load_shipped(inst_lib *lib);
/* The shipped definition of id, failing the test when absent. */
const inst_def *tu_find(const inst_lib *lib, const char *id);
/* The shipped library, loaded by tu_setup_lib and freed by tu_teardown_lib
 * (cmocka group setup/teardown). */
extern inst_lib tu_lib;
int tu_setup_lib(void **state);
int tu_teardown_lib(void **state);
/* Path of a file under the repository root, in a static buffer. */
const char *tu_path(const char *rel);

#endif
