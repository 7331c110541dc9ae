/* score.h: scoring one administration of an instrument, and reading change
 * between two scores (reliable change, clinical significance).
 *
 * Pure functions over an inst_def and the item answers; nothing allocates.
 * Reliable change follows Jacobson & Truax (1991), "Clinical significance:
 * a statistical approach to defining meaningful change in psychotherapy
 * research", J Consult Clin Psychol 59(1):12-19: RCI = (x2 - x1) / S_diff,
 * S_diff = sqrt(2 S_E^2), S_E = s1 sqrt(1 - r_xx); cut-offs a, b, c. Where an
 * instrument publishes a points threshold (NHS Talking Therapies: PHQ-9 6,
 * GAD-7 4) that threshold is used instead. */
#ifndef AL_SCORE_H
#define AL_SCORE_H

#include <limits.h>

#include "instrument.h"

#define SCORE_SKIPPED INT_MIN /* an item that was not answered */

typedef struct score_scale {
	int valid; /* 0: too many skipped items, no score */
	int answered;
	double score; /* sum (prorated) or mean */
} score_scale;

typedef struct score_result {
	score_scale total;
	int nsub;
	score_scale sub[INST_MAX_SUBSCALES];
	const char *band;                /* severity band label, NULL if none or invalid */
	int caseness;                    /* 1 case, 0 not, -1 unknown (no cut-off or no score) */
	int ncritical;                   /* critical items whose answer raised an alert */
	int critical[INST_MAX_CRITICAL]; /* indexes into def->critical */
} score_result;

/* Score answers values[0..def->nitems-1] (SCORE_SKIPPED for a skipped item).
 * An answer outside its item's range is AL_EINPUT with "item N: ..." in err.
 * Too many skips is not an error: the result says valid = 0. */
al_status score_administration(const inst_def *def, const int *values, score_result *out,
                               al_err *err);

/* Prorated sum of a answered items out of k: floor((2*sum*k + a) / (2*a)),
 * the prorated mean times k rounded half up, in integer arithmetic. a > 0. */
long score_prorate(long sum, int answered, int k);

typedef enum change_class {
	CHANGE_NO_RELIABLE_CHANGE = 0,
	CHANGE_IMPROVED,
	CHANGE_DETERIORATED
} change_class;

/* Standard error of the difference, S_diff = sd * sqrt(2 (1 - r)). */
double change_sdiff(double sd, double reliability);
/* Jacobson-Truax RCI for a change from x1 to x2. */
double change_rci(double x1, double x2, double sd, double reliability);
/* Reliable improvement or deterioration from first to last, by the
 * instrument's published points where it has them, else by |RCI| > 1.96.
 * Returns CHANGE_NO_RELIABLE_CHANGE when the instrument has neither. */
change_class change_reliable(const inst_def *def, double first, double last);
/* 1 if the instrument can say whether a change is reliable. */
int change_has_threshold(const inst_def *def);

/* The three Jacobson-Truax cut-offs for a measure with the given direction:
 * a: two SDs beyond the clinical mean, toward health;
 * b: two SDs beyond the functional mean, toward the clinical;
 * c: (s_clin * m_func + s_func * m_clin) / (s_clin + s_func), where the two
 *    distributions' likelihoods cross (equal-variance weighting). */
typedef struct change_cutoffs {
	double a, b, c;
} change_cutoffs;
change_cutoffs change_jt_cutoffs(double m_clin, double s_clin, double m_func, double s_func,
                                 inst_direction dir);

/* Jacobson-Truax categories of one client's change. */
typedef enum jt_category {
	JT_RECOVERED,   /* reliably improved and crossed cut-off c */
	JT_IMPROVED,    /* reliably improved, not across c */
	JT_UNCHANGED,   /* no reliable change */
	JT_DETERIORATED /* reliably worse */
} jt_category;
jt_category change_jt_classify(double x1, double x2, double sd, double reliability, double c,
                               inst_direction dir);
const char *change_jt_str(jt_category k);

#endif
