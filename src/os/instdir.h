/* instdir.h: loading instrument definitions and wording packs from disk.
 * The parsing is core/instrument.c; this is only the file walking. */
#ifndef AL_INSTDIR_H
#define AL_INSTDIR_H

#include "../core/instrument.h"

/* Load every .json file of DIR into lib (sorted by id). The first bad file stops
 * the load with its message; lib is then left empty. */
al_status os_load_instruments(const char *dir, inst_lib *lib, al_err *err);

/* Load the wording pack DIR/<id>.<lang>.json for d. AL_ENOTFOUND (err
 * untouched) when the site has no pack for it; other errors are set. */
al_status os_load_wording(const char *dir, const inst_def *d, const char *lang, inst_wording *out,
                          al_err *err);

#endif
