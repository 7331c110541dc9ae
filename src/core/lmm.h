/* lmm.h: linear mixed models fitted by REML or ML through the profiled
 * deviance of Bates, Mächler, Bolker & Walker (2015), "Fitting linear
 * mixed-effects models using lme4", J. Stat. Softw. 67(1), with lme4's
 * parameterisation (relative covariance factor Λθ, lower-triangular blocks,
 * θ ≥ 0 on diagonals) so that estimates match lme4's.
 *
 * Structure: the random-effect term with the most levels (clients) is kept
 * block-diagonal: one small Cholesky factor per level. Everything else
 * (other terms, the fixed effects and the response) forms one dense block
 * whose order m = q2 + p + 1 is bounded by lmm_opts.max_dense; its Cholesky
 * is LAPACK's. Rows are read once into per-level cross-products, so each
 * deviance evaluation costs O(levels · p1² · nz + m³), independent of the
 * number of rows. */
#ifndef AL_LMM_H
#define AL_LMM_H

#include <stddef.h>
#include <stdint.h>

#include "formula.h"
#include "frame.h"
#include "status.h"

#define LMM_MAX_P 256 /* fixed-effect columns */

typedef struct lmm_opts {
	int reml;         /* 1 REML (default), 0 ML */
	double ftol_abs;  /* optimizer stop: change of the deviance (1e-10) */
	double xtol_abs;  /* optimizer stop: change of theta (1e-10) */
	int maxeval;      /* deviance evaluations per optimizer run (100000) */
	double grad_tol;  /* lme4's check.conv.grad tolerance (2e-3) */
	double fd_step;   /* finite-difference step for the checks (1e-4) */
	double sing_tol;  /* theta below this on a diagonal: singular fit (1e-4) */
	double rank_tol;  /* relative pivot below which X is rank deficient (1e-9) */
	size_t max_dense; /* largest order of the dense block (3000) */
	int threads;      /* threads for the per-level work, 1 or 2 (2) */
	int nested;       /* use the nested (block-diagonal) second term when
	                   * it applies (1); 0 forces the dense block */
} lmm_opts;

void lmm_opts_default(lmm_opts *o);

/* The frame_load kinds of f's data columns (cat[0..f->ncols-1]): grouping
 * columns categorical, columns inside an expression and the response
 * numeric, the rest decided by the data (FRAME_AUTO). */
void lmm_column_kinds(const formula *f, int *cat);

/* One random-effect term, in lme4's order (most levels first). */
typedef struct lmm_term {
	char group[FORMULA_LABEL * 2]; /* "Subject", "cask:batch" */
	int nlev;
	const char **levels; /* level names; owned by the model or the frame */
	int p;               /* columns */
	char names[FORMULA_MAX_RE_COLS][FORMULA_LABEL]; /* "(Intercept)", "Days" */
	int diag;                                       /* independent effects (||) */
	int ntheta, theta_off;
	double sd[FORMULA_MAX_RE_COLS];
	double corr[FORMULA_MAX_RE_COLS][FORMULA_MAX_RE_COLS];
	double *ranef; /* conditional modes: nlev × p, row-major */
	/* private: how to build this term's columns */
	int32_t *code; /* level of each row (training data) */
	int ncolspec;
} lmm_term;

typedef struct lmm_work lmm_work;

typedef struct lmm_model {
	formula f;
	const frame *fr; /* training data; must outlive the model */
	int reml;
	size_t n; /* observations */
	int p;
	char (*xnames)[FORMULA_LABEL * 2]; /* p fixed-effect column names */
	int nterms;
	lmm_term terms[FORMULA_MAX_RE];
	int ntheta;
	/* results of lmm_fit */
	double *theta;     /* ntheta */
	double *beta, *se; /* p */
	double *vcov;      /* p × p */
	double sigma;
	double criterion; /* REML criterion or deviance (-2 logLik) */
	double loglik, aic, bic;
	int df;            /* parameters: p + ntheta + 1 */
	int nevals;        /* deviance evaluations */
	int opt_status;    /* NLopt's result code */
	double max_grad;   /* max |gradient| of the deviance */
	double max_scgrad; /* lme4's check: max min(|H^-1 g| (scaled), |g|) */
	double min_eig;    /* smallest eigenvalue of the Hessian */
	int singular;      /* a variance at the boundary (theta ~ 0) */
	int converged;     /* optimizer ok, gradient and Hessian checks pass */
	char conv_msg[256];
	lmm_work *w;
} lmm_model;

/* Build the model for formula f on frame fr (whose columns are f->cols, in
 * order, as frame_load read them): design, checks, cross-products.
 * Errors: AL_EINPUT for a categorical response or slope, a constant
 * column, a rank-deficient design, a grouping factor with one level or as
 * many levels as rows, undefined values (log of 0: "FILE:LINE: column C:
 * log(C) is undefined (got "0")"); AL_ELIMIT when the dense block exceeds
 * o->max_dense; AL_ENOMEM. On success *out is the caller's (lmm_free). */
al_status lmm_new(lmm_model **out, const formula *f, const frame *fr, const lmm_opts *o,
                  al_err *err);

/* Fit by REML (o->reml) or ML: optimise theta with NLopt's BOBYQA, then
 * compute estimates, standard errors, conditional modes and lme4's
 * convergence checks. Non-convergence is a result (m->converged), not an
 * error; AL_ENUMERIC when the deviance cannot be evaluated at the start. */
al_status lmm_fit(lmm_model *m, const lmm_opts *o, al_err *err);

/* The profiled deviance at theta (REML when reml); for tests. */
double lmm_deviance(lmm_model *m, const double *theta, int reml);

/* Predict the rows of newdata (columns named as in the formula; the
 * response may be absent). A group level unseen in the training data gets
 * the population prediction. fit[i] is the prediction; var[i] the variance
 * of a new observation around it: x'Vx + σ² plus, for an unseen level,
 * z'Σz (the random effect is unknown); for a seen level the conditional
 * mode is added to fit and its uncertainty is not counted. Errors as
 * lmm_new, AL_ENOTFOUND for a fixed-effect level not in the training data. */
al_status lmm_predict(const lmm_model *m, const frame *newdata, double *fit, double *var,
                      al_err *err);

/* Fitted values x'β + z'b of the training rows (fitted[0..n)); the
 * residuals are y - fitted. Call after lmm_fit. */
void lmm_fitted(const lmm_model *m, double *fitted, double *y);

/* Covariance matrix Σ_k (p × p, row-major) of term k's random effects. */
void lmm_term_cov(const lmm_model *m, int k, double *cov);

void lmm_free(lmm_model *m);

#endif
