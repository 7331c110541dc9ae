/* lmm_cli.h: pieces of `alliance lmm` that `alliance etr` reuses: loading a
 * formula's columns from a CSV file and the JSON form of a fitted model. */
#ifndef AL_LMM_CLI_H
#define AL_LMM_CLI_H

#include <jansson.h>
#include <stdio.h>

#include "../core/formula.h"
#include "../core/frame.h"
#include "../core/lmm.h"

/* Parse formula_text into f and load its columns from the CSV file at path
 * into fr (grouping columns categorical), keeping rows that pass filters. */
al_status lmm_cli_load(const char *formula_text, const char *path, formula *f, frame *fr,
                       const frame_filter *filters, int nfilters, al_err *err);

/* The model as a new JSON object (baseline_lme4.R's keys and more). */
json_t *lmm_cli_json(const lmm_model *m);

/* Write s to fp as one CSV field, quoted as RFC 4180 requires. */
void lmm_cli_field(FILE *fp, const char *s);

#endif
