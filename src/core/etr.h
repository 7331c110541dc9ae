/* etr.h: expected treatment response, the early-warning method of the
 * feedback literature: Finch, Lambert & Schaalje (2001), "Psychotherapy
 * quality control: the statistical generation of expected recovery curves
 * for integration into an early warning system", Clinical Psychology &
 * Psychotherapy 8(4):231-242.
 *
 * A mixed model `score ~ log(session) * intake + (log(session) | client)`
 * gives the trajectory expected for clients who started at the same
 * severity; a client whose score falls outside the prediction band for
 * their intake score (by default the 90th percentile, on an instrument where
 * higher is worse) is not on track.
 *
 * Intake is the client's score at their lowest-numbered session, which is
 * session 1 when it was recorded (the first score otherwise). The model is
 * fitted on the scores after that session, so the outcome never contains
 * its own predictor. */
#ifndef AL_ETR_H
#define AL_ETR_H

#include <stddef.h>

#include "frame.h"
#include "lmm.h"
#include "status.h"

#define ETR_FORMULA "score ~ log(session) * intake + (log(session) | client_id)"
#define ETR_NFIX    4 /* (Intercept), log(session), intake, log(session):intake */

typedef struct etr_model {
	char instrument[32];
	int reml;
	size_t nobs; /* post-intake scores fitted */
	int nclients;
	double beta[ETR_NFIX];
	double vcov[ETR_NFIX * ETR_NFIX];
	double tau[4]; /* covariance of (intercept, log-session slope) */
	double sigma;
	double lower_pct, upper_pct; /* band percentiles, e.g. 10 and 90 */
	int higher_is_worse;         /* 1: above the upper line is off track */
	int converged;
	char convergence[256];
} etr_model;

/* Per-client intake scores of a frame whose columns 0, 1, 2 are client_id
 * (categorical), session and score (numeric): intake[c] and
 * intake_session[c] for client code c (NAN/-1 when absent). */
al_status etr_intake(const frame *fr, double *intake, double *intake_session, al_err *err);

/* Fit the expected-trajectory model to fr (columns as etr_intake). The
 * caller sets lower_pct, upper_pct, higher_is_worse and instrument in m
 * beforehand; the rest is filled in. AL_EINPUT when fewer than three
 * clients have scores after intake; errors of lmm_new and lmm_fit. */
al_status etr_fit(const frame *fr, const lmm_opts *o, etr_model *m, al_err *err);

/* The expected score at session s for a client with intake score x, and
 * the band [lo, hi] between the model's percentiles for a new client:
 * Var = x'V x + z'T z + σ² (z = (1, log s)). */
void etr_expect(const etr_model *m, double intake, double session, double *mean, double *lo,
                double *hi);

/* "on track" or "not on track" for an observed score and its band. */
const char *etr_status(const etr_model *m, double observed, double lo, double hi);

/* The model as JSON text (caller frees), or NULL when out of memory. */
char *etr_model_json(const etr_model *m);

/* Read a model from JSON text; AL_EINPUT with "FIELD: what is wrong". */
al_status etr_model_parse(etr_model *m, const char *text, size_t len, al_err *err);

#endif
