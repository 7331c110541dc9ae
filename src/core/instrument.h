/* instrument.h: questionnaire definitions, loaded from JSON data files.
 *
 * An instrument is data, not code: instruments/<id>.json says how many items
 * it has, their answer ranges and reverse keys, how it is scored, how a
 * score is read (severity bands, caseness, reliable change, norms), its
 * LOINC codes, the items that must raise an alert, and the published source
 * of every clinical fact. This module parses and validates one definition
 * from a JSON text it is handed; it does no I/O. A malformed definition
 * gives "FILE: path.to.field: what is wrong". Item wording is never part of
 * a definition (it is copyrighted): items carry the project's own topic
 * labels, and a site's licensed wording comes from a wording pack. */
#ifndef AL_INSTRUMENT_H
#define AL_INSTRUMENT_H

#include <stddef.h>

#include "status.h"

#define INST_MAX_ITEMS     64
#define INST_MAX_SUBSCALES 8
#define INST_MAX_BANDS     12
#define INST_MAX_CRITICAL  8
#define INST_MAX_SOURCES   16
#define INST_ID_MAX        32

typedef enum inst_respondent { INST_CLIENT, INST_THERAPIST } inst_respondent;
typedef enum inst_timing { INST_BEFORE, INST_AFTER, INST_ANYTIME } inst_timing;
typedef enum inst_method { INST_SUM, INST_MEAN } inst_method;
typedef enum inst_direction { INST_HIGHER_WORSE, INST_HIGHER_BETTER } inst_direction;

typedef struct inst_item {
	int number;     /* 1..nitems, in order */
	char label[96]; /* the project's own topic label, not the item's wording */
	int min, max;   /* answer range, inclusive */
	int reverse;    /* scored as min + max - value */
	char loinc[16]; /* LOINC code of the item, "" if none */
} inst_item;

typedef struct inst_subscale {
	char name[32];
	int nitems;
	int items[INST_MAX_ITEMS]; /* item numbers */
	int max_skipped;
} inst_subscale;

typedef struct inst_band {
	double from; /* a score >= from (and < the next band's from) */
	char label[48];
} inst_band;

typedef struct inst_critical {
	int item;        /* item number */
	int at_least;    /* alert when the answer is >= at_least */
	char alert[32];  /* alert kind, e.g. "risk" */
	char label[128]; /* what the alert says, in the project's words */
} inst_critical;

typedef struct inst_source {
	char key[32];
	char cite[384];
} inst_source;

typedef struct inst_def {
	char id[INST_ID_MAX];
	char name[128];
	char version[16];
	inst_respondent respondent;
	inst_timing timing;
	int validated;           /* 0 for the project's own, not-validated forms */
	char licence_status[32]; /* "free", "free_with_registration", "licence_required" ... */
	char licence_holder[128];
	char licence_obtain[512]; /* what a site must obtain before use */

	int nitems;
	inst_item items[INST_MAX_ITEMS];

	inst_method method;
	int max_skipped; /* more skipped items than this: no score */
	int prorate;     /* sums: prorate over answered items */
	inst_direction direction;
	double score_min, score_max; /* derived from the items and method */
	int nsub;
	inst_subscale sub[INST_MAX_SUBSCALES];

	int nbands;
	inst_band bands[INST_MAX_BANDS];
	int has_caseness;
	double caseness_cutoff;
	int case_at_or_above; /* 1: score >= cutoff is a case; 0: score < cutoff */
	double rc_points;     /* published reliable-change points, 0 if none */
	double reliability;   /* for the Jacobson-Truax RCI, 0 if none */
	double rc_sd;         /* SD that goes with reliability */
	int has_norms;
	double clin_mean, clin_sd, func_mean, func_sd;

	char loinc_panel[16], loinc_total[16];
	int ncritical;
	inst_critical critical[INST_MAX_CRITICAL];
	int nsources;
	inst_source sources[INST_MAX_SOURCES];
	char notes[1024]; /* what a reader of the definition should know */
} inst_def;

/* Parse and validate one definition from len bytes of JSON. file names the
 * definition in messages. On error *out is untouched and err says
 * "FILE: path.to.field: what is wrong". */
al_status inst_parse(const char *json, size_t len, const char *file, inst_def *out, al_err *err);

/* A set of definitions, looked up by id. */
typedef struct inst_lib {
	size_t n, cap;
	inst_def *defs;
} inst_lib;

void inst_lib_init(inst_lib *lib);
void inst_lib_cleanup(inst_lib *lib);
/* Add a parsed definition; AL_EINPUT if its id is already present. */
al_status inst_lib_add(inst_lib *lib, const inst_def *def, const char *file, al_err *err);
/* Definitions sorted by id (after all adds). */
void inst_lib_sort(inst_lib *lib);
const inst_def *inst_lib_find(const inst_lib *lib, const char *id, size_t len);

/* The band label for a score, or NULL when the instrument has none. */
const char *inst_band_for(const inst_def *d, double score);
const char *inst_respondent_str(inst_respondent r);
const char *inst_timing_str(inst_timing t);

/* A wording pack: a site's licensed item texts for one instrument and
 * language. NULL entries mean no wording for that item. */
typedef struct inst_wording {
	char instrument[INST_ID_MAX];
	char language[16];
	char *text[INST_MAX_ITEMS]; /* owned */
} inst_wording;

/* Parse a pack ({"instrument": ID, "language": L, "items": {"1": "..."}})
 * and check it against d: every item number must exist. */
al_status inst_wording_parse(const char *json, size_t len, const char *file, const inst_def *d,
                             inst_wording *out, al_err *err);
void inst_wording_cleanup(inst_wording *w);

#endif
