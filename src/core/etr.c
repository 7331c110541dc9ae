/* etr.c: expected treatment response curves and the on-track check
 * (etr.h; Finch, Lambert & Schaalje 2001). */
#include "etr.h"

#include <gsl/gsl_cdf.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ETR_REFERENCE                                                                              \
	"Finch, Lambert & Schaalje (2001). Psychotherapy quality control: the statistical "        \
	"generation of expected recovery curves for integration into an early warning "            \
	"system. Clinical Psychology & Psychotherapy 8(4):231-242."

static const char *const fix_names[ETR_NFIX] = {"(Intercept)", "log(session)", "intake",
                                                "log(session):intake"};

al_status etr_intake(const frame *fr, double *intake, double *intake_session, al_err *err)
{
	const frame_col *cl = &fr->cols[0], *se = &fr->cols[1], *sc = &fr->cols[2];
	if (!cl->categorical || se->categorical || sc->categorical)
		return al_err_set(err, AL_EINPUT, "%s: session and score must be numbers",
		                  fr->file);
	for (int32_t c = 0; c < cl->nlevels; c++) {
		intake[c] = NAN;
		intake_session[c] = -1;
	}
	for (size_t i = 0; i < fr->n; i++) {
		int32_t c = cl->code[i];
		/* the lowest session; the first row in the file among equals */
		if (intake_session[c] < 0 || se->num[i] < intake_session[c]) {
			intake_session[c] = se->num[i];
			intake[c] = sc->num[i];
		}
	}
	return AL_OK;
}

al_status etr_fit(const frame *fr, const lmm_opts *o, etr_model *m, al_err *err)
{
	al_status st;
	const frame_col *cl = &fr->cols[0], *se = &fr->cols[1], *sc = &fr->cols[2];
	size_t nl = (size_t)(cl->nlevels ? cl->nlevels : 1);
	double *intake = malloc(nl * sizeof *intake), *isess = malloc(nl * sizeof *isess);
	frame d = {0};
	formula *f = malloc(sizeof *f);
	lmm_model *lm = NULL;
	int32_t *seen = NULL;
	if (intake == NULL || isess == NULL || f == NULL) {
		st = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((st = etr_intake(fr, intake, isess, err)) != AL_OK)
		goto out;
	/* the derived frame: post-intake rows, with the client's intake score */
	snprintf(d.file, sizeof d.file, "%s", fr->file);
	d.ncols = 4;
	const char *names[4] = {"score", "session", "intake", "client_id"};
	for (int k = 0; k < 4; k++)
		snprintf(d.cols[k].name, FRAME_NAME, "%s", names[k]);
	size_t n = fr->n ? fr->n : 1;
	d.cols[0].num = malloc(n * sizeof(double));
	d.cols[1].num = malloc(n * sizeof(double));
	d.cols[2].num = malloc(n * sizeof(double));
	d.cols[3].code = malloc(n * sizeof(int32_t));
	d.cols[3].levels = malloc(nl * sizeof(char *));
	d.line = malloc(n * sizeof *d.line);
	seen = calloc(nl, sizeof *seen);
	if (!d.cols[0].num || !d.cols[1].num || !d.cols[2].num || !d.cols[3].code ||
	    !d.cols[3].levels || !d.line || !seen) {
		st = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	d.cols[3].categorical = 1;
	d.cols[3].nlevels = cl->nlevels;
	d.cols[3].levels_numeric = cl->levels_numeric;
	memcpy(d.cols[3].levels, cl->levels, nl * sizeof(char *)); /* fr's strings */
	int nclients = 0;
	for (size_t i = 0; i < fr->n; i++) {
		int32_t c = cl->code[i];
		if (!(se->num[i] > isess[c]))
			continue;
		if (!(se->num[i] > 0)) {
			st = al_err_set(err, AL_EINPUT,
			                "%s:%u: column session: must be positive (got "
			                "\"%g\")",
			                fr->file, (unsigned)fr->line[i], se->num[i]);
			goto out;
		}
		d.cols[0].num[d.n] = sc->num[i];
		d.cols[1].num[d.n] = se->num[i];
		d.cols[2].num[d.n] = intake[c];
		d.cols[3].code[d.n] = c;
		d.line[d.n] = fr->line[i];
		d.n++;
		if (!seen[c]++)
			nclients++;
	}
	if (nclients < 3) {
		st = al_err_set(err, AL_EINPUT,
		                "%s: %d clients have scores after their intake; the "
		                "expected-response model needs at least 3",
		                fr->file, nclients);
		goto out;
	}
	if ((st = formula_parse(f, ETR_FORMULA, err)) != AL_OK)
		goto out;
	if ((st = lmm_new(&lm, f, &d, o, err)) != AL_OK)
		goto out;
	if ((st = lmm_fit(lm, o, err)) != AL_OK)
		goto out;
	if (lm->p != ETR_NFIX || lm->terms[0].p != 2) {
		st = al_err_set(err, AL_EINTERNAL, "unexpected design for the ETR model");
		goto out;
	}
	m->reml = lm->reml;
	m->nobs = lm->n;
	m->nclients = nclients;
	memcpy(m->beta, lm->beta, sizeof m->beta);
	memcpy(m->vcov, lm->vcov, sizeof m->vcov);
	lmm_term_cov(lm, 0, m->tau);
	m->sigma = lm->sigma;
	m->converged = lm->converged;
	snprintf(m->convergence, sizeof m->convergence, "%s", lm->conv_msg);
out:
	lmm_free(lm);
	frame_cleanup(&d); /* frees the copied pointer array, not fr's strings */
	free(f);
	free(intake);
	free(isess);
	free(seen);
	return st;
}

void etr_expect(const etr_model *m, double intake, double session, double *mean, double *lo,
                double *hi)
{
	double ls = log(session);
	double x[ETR_NFIX] = {1, ls, intake, ls * intake};
	double mu = 0, v = m->sigma * m->sigma;
	for (int a = 0; a < ETR_NFIX; a++) {
		mu += x[a] * m->beta[a];
		for (int b = 0; b < ETR_NFIX; b++)
			v += x[a] * m->vcov[a * ETR_NFIX + b] * x[b];
	}
	v += m->tau[0] + 2 * ls * m->tau[1] + ls * ls * m->tau[3];
	double sd = sqrt(v);
	*mean = mu;
	*lo = mu + gsl_cdf_ugaussian_Pinv(m->lower_pct / 100) * sd;
	*hi = mu + gsl_cdf_ugaussian_Pinv(m->upper_pct / 100) * sd;
}

const char *etr_status(const etr_model *m, double observed, double lo, double hi)
{
	int off = m->higher_is_worse ? observed > hi : observed < lo;
	return off ? "not on track" : "on track";
}

char *etr_model_json(const etr_model *m)
{
	json_t *o = json_object(), *fx = json_object(), *vc = json_array(), *tau = json_array();
	json_object_set_new(o, "model", json_string("expected treatment response"));
	json_object_set_new(o, "reference", json_string(ETR_REFERENCE));
	json_object_set_new(o, "formula", json_string(ETR_FORMULA));
	json_object_set_new(o, "intake",
	                    json_string("score at the client's lowest-numbered session "
	                                "(session 1 when recorded); fitted on the later "
	                                "sessions"));
	json_object_set_new(o, "instrument", json_string(m->instrument));
	json_object_set_new(o, "method", json_string(m->reml ? "REML" : "ML"));
	json_object_set_new(o, "nobs", json_integer((json_int_t)m->nobs));
	json_object_set_new(o, "nclients", json_integer(m->nclients));
	for (int a = 0; a < ETR_NFIX; a++) {
		json_object_set_new(fx, fix_names[a], json_real(m->beta[a]));
		json_t *row = json_array();
		for (int b = 0; b < ETR_NFIX; b++)
			json_array_append_new(row, json_real(m->vcov[a * ETR_NFIX + b]));
		json_array_append_new(vc, row);
	}
	json_object_set_new(o, "fixef", fx);
	json_object_set_new(o, "vcov", vc);
	for (int a = 0; a < 2; a++) {
		json_t *row = json_array();
		for (int b = 0; b < 2; b++)
			json_array_append_new(row, json_real(m->tau[a * 2 + b]));
		json_array_append_new(tau, row);
	}
	json_object_set_new(o, "re_cov", tau);
	json_t *sd = json_object();
	json_object_set_new(sd, "client_id/(Intercept)", json_real(sqrt(m->tau[0])));
	json_object_set_new(sd, "client_id/log(session)", json_real(sqrt(m->tau[3])));
	double den = sqrt(m->tau[0] * m->tau[3]);
	json_object_set_new(sd, "client_id/(Intercept)/log(session)",
	                    json_real(den > 0 ? m->tau[1] / den : 0));
	json_object_set_new(sd, "Residual/NA", json_real(m->sigma));
	json_object_set_new(o, "sdcor", sd);
	json_object_set_new(o, "sigma", json_real(m->sigma));
	json_t *pc = json_array();
	json_array_append_new(pc, json_real(m->lower_pct));
	json_array_append_new(pc, json_real(m->upper_pct));
	json_object_set_new(o, "percentiles", pc);
	json_object_set_new(o, "higher_is_worse", json_boolean(m->higher_is_worse));
	json_object_set_new(o, "converged", json_boolean(m->converged));
	json_object_set_new(o, "convergence", json_string(m->convergence));
	char *s = json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	json_decref(o);
	return s;
}

static al_status get_num(json_t *o, const char *key, double *out, al_err *err)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_number(v))
		return al_err_set(err, AL_EINPUT, "model: %s: expected a number", key);
	*out = json_number_value(v);
	return AL_OK;
}

static al_status get_matrix(json_t *o, const char *key, int n, double *out, al_err *err)
{
	json_t *a = json_object_get(o, key);
	if (!json_is_array(a) || json_array_size(a) != (size_t)n)
		return al_err_set(err, AL_EINPUT, "model: %s: expected a %dx%d matrix", key, n, n);
	for (int i = 0; i < n; i++) {
		json_t *row = json_array_get(a, (size_t)i);
		if (!json_is_array(row) || json_array_size(row) != (size_t)n)
			return al_err_set(err, AL_EINPUT, "model: %s[%d]: expected %d numbers", key,
			                  i, n);
		for (int j = 0; j < n; j++) {
			json_t *v = json_array_get(row, (size_t)j);
			if (!json_is_number(v))
				return al_err_set(err, AL_EINPUT,
				                  "model: %s[%d][%d]: expected a number", key, i,
				                  j);
			out[i * n + j] = json_number_value(v);
		}
	}
	return AL_OK;
}

al_status etr_model_parse(etr_model *m, const char *text, size_t len, al_err *err)
{
	json_error_t je;
	al_status st = AL_OK;
	memset(m, 0, sizeof *m);
	json_t *o = json_loadb(text, len, 0, &je);
	if (o == NULL)
		return al_err_set(err, AL_EINPUT, "model: line %d: %s", je.line, je.text);
	json_t *v = json_object_get(o, "instrument");
	if (!json_is_string(v) || json_string_length(v) >= sizeof m->instrument) {
		st = al_err_set(err, AL_EINPUT, "model: instrument: expected a short string");
		goto out;
	}
	snprintf(m->instrument, sizeof m->instrument, "%s", json_string_value(v));
	json_t *fx = json_object_get(o, "fixef");
	for (int a = 0; a < ETR_NFIX && st == AL_OK; a++) {
		if (!json_is_object(fx)) {
			st = al_err_set(err, AL_EINPUT, "model: fixef: expected an object");
			break;
		}
		json_t *b = json_object_get(fx, fix_names[a]);
		if (!json_is_number(b))
			st = al_err_set(err, AL_EINPUT, "model: fixef.%s: expected a number",
			                fix_names[a]);
		else
			m->beta[a] = json_number_value(b);
	}
	if (st != AL_OK || (st = get_matrix(o, "vcov", ETR_NFIX, m->vcov, err)) != AL_OK ||
	    (st = get_matrix(o, "re_cov", 2, m->tau, err)) != AL_OK ||
	    (st = get_num(o, "sigma", &m->sigma, err)) != AL_OK)
		goto out;
	json_t *pc = json_object_get(o, "percentiles");
	if (!json_is_array(pc) || json_array_size(pc) != 2 ||
	    !json_is_number(json_array_get(pc, 0)) || !json_is_number(json_array_get(pc, 1))) {
		st = al_err_set(err, AL_EINPUT, "model: percentiles: expected [lower, upper]");
		goto out;
	}
	m->lower_pct = json_number_value(json_array_get(pc, 0));
	m->upper_pct = json_number_value(json_array_get(pc, 1));
	if (!(m->lower_pct > 0 && m->lower_pct < m->upper_pct && m->upper_pct < 100)) {
		st = al_err_set(err, AL_EINPUT, "model: percentiles: need 0 < lower < upper < 100");
		goto out;
	}
	v = json_object_get(o, "higher_is_worse");
	m->higher_is_worse = v == NULL ? 1 : json_is_true(v);
	v = json_object_get(o, "method");
	m->reml = !(json_is_string(v) && strcmp(json_string_value(v), "ML") == 0);
	v = json_object_get(o, "nobs");
	m->nobs = json_is_integer(v) ? (size_t)json_integer_value(v) : 0;
	v = json_object_get(o, "nclients");
	m->nclients = json_is_integer(v) ? (int)json_integer_value(v) : 0;
	v = json_object_get(o, "converged");
	m->converged = json_is_true(v);
	if (!(m->sigma > 0)) {
		st = al_err_set(err, AL_EINPUT, "model: sigma: must be positive");
		goto out;
	}
out:
	json_decref(o);
	return st;
}
