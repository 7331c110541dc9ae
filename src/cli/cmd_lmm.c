/* cmd_lmm.c: `alliance lmm 'FORMULA' DATA.csv`: fit a linear mixed model
 * and print it the way summary(lmer(...)) does, or as JSON in the shape of
 * shared/bench/baseline_lme4.R so the two compare directly. */
#include <gsl/gsl_cdf.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/formula.h"
#include "../core/frame.h"
#include "../core/lmm.h"
#include "../os/os.h"
#include "cli.h"
#include "lmm_cli.h"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: alliance lmm 'FORMULA' DATA.csv [--ml] [--json] [--ranef OUT.csv]\n\n"
	    "Fit a linear mixed model by REML (or ML with --ml), as lme4's lmer does.\n"
	    "FORMULA is lme4 syntax, e.g. 'score ~ log(session) + (log(session) | client_id)':\n"
	    "numeric and categorical columns (treatment contrasts), log() exp() sqrt() I(),\n"
	    "* and :, 0 + or - 1, random terms (1 | g), (1 + x | g), (x || g), (1 | a/b),\n"
	    "(1 | a:b), crossed terms. Rows with an empty or NA value are dropped.\n\n"
	    "  --ml            maximum likelihood instead of REML\n"
	    "  --json          print a JSON object (method, nobs, fixef, se, sdcor, sigma,\n"
	    "                  criterion, logLik, AIC, BIC, converged, ...)\n"
	    "  --ranef OUT.csv write the conditional modes (BLUPs):\n"
	    "                  group,level,term,estimate\n"
	    "  --predict NEW.csv  predict the rows of NEW.csv (the formula's columns; the\n"
	    "                  response may be absent) with prediction intervals:\n"
	    "                  line,fit,lower,upper. A group level seen in DATA adds its\n"
	    "                  conditional mode; an unseen one gets the population curve\n"
	    "                  and the random effects' variance in its interval.\n"
	    "  --level P       prediction interval coverage (default 0.95)\n"
	    "  -o OUT.csv      where --predict writes (default standard output)\n");
}

/* Names of variance components as lme4's as.data.frame(VarCorr()) gives
 * them: "group/term", "group/term1/term2", with `||` terms split into
 * groups made unique as R's make.unique does ("Subject", "Subject.1"). */
static void group_names(const lmm_model *m, char names[][FORMULA_LABEL * 2 + 8], int *ncomp)
{
	int n = 0;
	for (int k = 0; k < m->nterms; k++) {
		const lmm_term *t = &m->terms[k];
		int reps = t->diag ? t->p : 1;
		for (int r = 0; r < reps; r++) {
			int seen = 0;
			for (int i = 0; i < n; i++) {
				const char *dot = strrchr(names[i], '.');
				size_t len = strlen(t->group);
				if (strcmp(names[i], t->group) == 0 ||
				    (dot && (size_t)(dot - names[i]) == len &&
				     strncmp(names[i], t->group, len) == 0))
					seen++;
			}
			if (seen)
				snprintf(names[n], FORMULA_LABEL * 2 + 8, "%s.%d", t->group, seen);
			else
				snprintf(names[n], FORMULA_LABEL * 2 + 8, "%s", t->group);
			n++;
		}
	}
	*ncomp = n;
}

json_t *lmm_cli_json(const lmm_model *m)
{
	json_t *o = json_object(), *fx = json_object(), *se = json_object(), *sd = json_object();
	char gn[FORMULA_MAX_RE * FORMULA_MAX_RE_COLS][FORMULA_LABEL * 2 + 8];
	char key[512];
	int ng;
	group_names(m, gn, &ng);
	json_object_set_new(o, "method", json_string(m->reml ? "REML" : "ML"));
	json_object_set_new(o, "nobs", json_integer((json_int_t)m->n));
	for (int j = 0; j < m->p; j++) {
		json_object_set_new(fx, m->xnames[j], json_real(m->beta[j]));
		json_object_set_new(se, m->xnames[j], json_real(m->se[j]));
	}
	json_object_set_new(o, "fixef", fx);
	json_object_set_new(o, "se", se);
	int gi = 0;
	for (int k = 0; k < m->nterms; k++) {
		const lmm_term *t = &m->terms[k];
		if (t->diag) {
			for (int i = 0; i < t->p; i++) {
				snprintf(key, sizeof key, "%s/%s", gn[gi++], t->names[i]);
				json_object_set_new(sd, key, json_real(t->sd[i]));
			}
			continue;
		}
		for (int i = 0; i < t->p; i++) {
			snprintf(key, sizeof key, "%s/%s", gn[gi], t->names[i]);
			json_object_set_new(sd, key, json_real(t->sd[i]));
		}
		for (int j = 0; j < t->p; j++)
			for (int i = j + 1; i < t->p; i++) {
				snprintf(key, sizeof key, "%s/%s/%s", gn[gi], t->names[j],
				         t->names[i]);
				json_object_set_new(sd, key, json_real(t->corr[i][j]));
			}
		gi++;
	}
	json_object_set_new(sd, "Residual/NA", json_real(m->sigma));
	json_object_set_new(o, "sdcor", sd);
	json_object_set_new(o, "sigma", json_real(m->sigma));
	json_object_set_new(o, "criterion", json_real(m->criterion));
	json_object_set_new(o, "logLik", json_real(m->loglik));
	json_object_set_new(o, "AIC", json_real(m->aic));
	json_object_set_new(o, "BIC", json_real(m->bic));
	json_t *ngrp = json_object();
	for (int k = 0; k < m->nterms; k++)
		json_object_set_new(ngrp, m->terms[k].group, json_integer(m->terms[k].nlev));
	json_object_set_new(o, "ngroups", ngrp);
	json_t *th = json_array();
	for (int i = 0; i < m->ntheta; i++)
		json_array_append_new(th, json_real(m->theta[i]));
	json_object_set_new(o, "theta", th);
	json_object_set_new(o, "converged", json_boolean(m->converged));
	json_object_set_new(o, "convergence", json_string(m->conv_msg));
	json_object_set_new(o, "max_grad", json_real(isfinite(m->max_scgrad) ? m->max_scgrad : -1));
	json_object_set_new(o, "singular", json_boolean(m->singular));
	json_object_set_new(o, "evaluations", json_integer(m->nevals));
	return o;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* R's quantile(type = 7) of sorted x[0..n). */
static double quantile7(const double *x, size_t n, double q)
{
	double h = (double)(n - 1) * q;
	size_t lo = (size_t)h;
	if (lo + 1 >= n)
		return x[n - 1];
	return x[lo] + (h - (double)lo) * (x[lo + 1] - x[lo]);
}

/* "Scaled residuals" as summary.merMod prints them: quantiles of the
 * residuals over sigma. */
static void print_residuals(FILE *out, const lmm_model *m)
{
	double *fit = malloc(m->n * sizeof *fit), *y = malloc(m->n * sizeof *y);
	if (fit != NULL && y != NULL) {
		lmm_fitted(m, fit, y);
		for (size_t i = 0; i < m->n; i++)
			y[i] = (y[i] - fit[i]) / m->sigma;
		qsort(y, m->n, sizeof *y, cmp_double);
		fprintf(out, "Scaled residuals:\n %9s %9s %9s %9s %9s\n", "Min", "1Q", "Median",
		        "3Q", "Max");
		fprintf(out, " %9.4f %9.4f %9.4f %9.4f %9.4f\n\n", y[0], quantile7(y, m->n, 0.25),
		        quantile7(y, m->n, 0.5), quantile7(y, m->n, 0.75), y[m->n - 1]);
	}
	free(fit);
	free(y);
}

static void print_summary(FILE *out, const lmm_model *m, const char *data)
{
	fprintf(out, "Linear mixed model fit by %s\n", m->reml ? "REML" : "maximum likelihood");
	fprintf(out, "Formula: %s\n   Data: %s\n", m->f.text, data);
	if (m->fr->dropped)
		fprintf(out, "   (%zu rows with missing values dropped)\n", m->fr->dropped);
	fputc('\n', out);
	if (m->reml) {
		fprintf(out, "REML criterion at convergence: %.1f\n\n", m->criterion);
	} else {
		fprintf(out, "%10s %10s %10s %10s %10s\n", "AIC", "BIC", "logLik", "deviance",
		        "df.resid");
		fprintf(out, "%10.1f %10.1f %10.1f %10.1f %10zu\n\n", m->aic, m->bic, m->loglik,
		        m->criterion, m->n - (size_t)m->df);
	}
	print_residuals(out, m);
	char gn[FORMULA_MAX_RE * FORMULA_MAX_RE_COLS][FORMULA_LABEL * 2 + 8];
	int ng, gi = 0;
	group_names(m, gn, &ng);
	fprintf(out, "Random effects:\n %-12s %-14s %12s %10s %s\n", "Groups", "Name", "Variance",
	        "Std.Dev.", "Corr");
	for (int k = 0; k < m->nterms; k++) {
		const lmm_term *t = &m->terms[k];
		for (int i = 0; i < t->p; i++) {
			const char *g = "";
			if (t->diag || i == 0)
				g = gn[gi];
			fprintf(out, " %-12s %-14s %12.4g %10.4g", g, t->names[i],
			        t->sd[i] * t->sd[i], t->sd[i]);
			if (!t->diag)
				for (int j = 0; j < i; j++)
					fprintf(out, " %5.2f", t->corr[i][j]);
			fputc('\n', out);
			if (t->diag)
				gi++;
		}
		if (!t->diag)
			gi++;
	}
	fprintf(out, " %-12s %-14s %12.4g %10.4g\n", "Residual", "", m->sigma * m->sigma, m->sigma);
	fprintf(out, "Number of obs: %zu, groups: ", m->n);
	for (int k = 0; k < m->nterms; k++)
		fprintf(out, "%s %s, %d", k ? ";" : "", m->terms[k].group, m->terms[k].nlev);
	fprintf(out, "\n\nFixed effects:\n %-20s %12s %12s %9s\n", "", "Estimate", "Std. Error",
	        "t value");
	for (int j = 0; j < m->p; j++)
		fprintf(out, " %-20s %12.6g %12.6g %9.3f\n", m->xnames[j], m->beta[j], m->se[j],
		        m->beta[j] / m->se[j]);
	if (m->p > 1) {
		fprintf(out, "\nCorrelation of Fixed Effects:\n %-12s", "");
		for (int j = 0; j + 1 < m->p; j++) /* R abbreviates the intercept */
			fprintf(out, " %-8.8s",
			        strcmp(m->xnames[j], "(Intercept)") == 0 ? "(Intr)" : m->xnames[j]);
		fputc('\n', out);
		for (int i = 1; i < m->p; i++) {
			fprintf(out, " %-12.12s", m->xnames[i]);
			for (int j = 0; j < i; j++)
				fprintf(out, " %8.3f",
				        m->vcov[i * m->p + j] / (m->se[i] * m->se[j]));
			fputc('\n', out);
		}
	}
	fprintf(out,
	        "\nConvergence: %s (max|scaled grad| %.2g, min Hessian eigenvalue %.3g, "
	        "%d evaluations)\n",
	        m->conv_msg, m->max_scgrad, m->min_eig, m->nevals);
}

void lmm_cli_field(FILE *fp, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

static al_status write_ranef(const lmm_model *m, const char *path, al_err *err)
{
	os_out o = {0};
	al_status st = os_out_open(&o, path, err);
	if (st != AL_OK)
		return st;
	char gn[FORMULA_MAX_RE * FORMULA_MAX_RE_COLS][FORMULA_LABEL * 2 + 8];
	int ng, gi = 0;
	group_names(m, gn, &ng);
	fprintf(o.fp, "group,level,term,estimate\n");
	for (int k = 0; k < m->nterms; k++) {
		const lmm_term *t = &m->terms[k];
		for (int l = 0; l < t->nlev; l++)
			for (int j = 0; j < t->p; j++) {
				const char *g = gn[gi + (t->diag ? j : 0)];
				lmm_cli_field(o.fp, g);
				fputc(',', o.fp);
				lmm_cli_field(o.fp, t->levels[l]);
				fputc(',', o.fp);
				lmm_cli_field(o.fp, t->names[j]);
				fprintf(o.fp, ",%.17g\n",
				        t->ranef[(size_t)l * (size_t)t->p + (size_t)j]);
			}
		gi += t->diag ? t->p : 1;
	}
	return os_out_commit(&o, err);
}

/* Point a missing-column error at the column in the formula. */
static void caret_missing(const formula *f, al_err *err)
{
	char pat[FORMULA_LABEL + 16], caret[FORMULA_MAX_TEXT * 2 + 16];
	for (int c = 0; c < f->ncols; c++) {
		snprintf(pat, sizeof pat, "no column %s (", f->cols[c]);
		if (strstr(err->msg, pat) == NULL)
			continue;
		formula_caret(f, f->col_pos[c], caret, sizeof caret);
		size_t n = strlen(err->msg);
		snprintf(err->msg + n, sizeof err->msg - n, "\n%s", caret);
		return;
	}
}

static al_status predict(const lmm_model *m, const char *path, double level, const char *out,
                         al_err *err)
{
	os_map map = {0};
	frame nd = {0};
	os_out o = {0};
	double *fit = NULL, *var = NULL;
	const char *names[FORMULA_MAX_COLS];
	int cat[FORMULA_MAX_COLS];
	al_status st = os_map_file(&map, path, err);
	if (st != AL_OK)
		return st;
	lmm_column_kinds(&m->f, cat);
	for (int c = 0; c < m->f.ncols; c++) {
		names[c] = m->f.cols[c];
		/* the response is not needed; other columns are as in the fit */
		if (c == m->f.vars[m->f.response].col)
			cat[c] |= FRAME_OPTIONAL;
		else
			cat[c] = m->fr->cols[frame_find(m->fr, names[c])].categorical
			             ? FRAME_CATEGORICAL
			             : FRAME_NUMERIC;
	}
	if ((st = frame_load(&nd, map.data, map.len, path, names, cat, m->f.ncols, NULL, 0, err)) !=
	    AL_OK)
		goto out;
	fit = malloc(nd.n * sizeof *fit);
	var = malloc(nd.n * sizeof *var);
	if (fit == NULL || var == NULL) {
		st = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if ((st = lmm_predict(m, &nd, fit, var, err)) != AL_OK)
		goto out;
	if ((st = os_out_open(&o, out, err)) != AL_OK)
		goto out;
	double z = gsl_cdf_ugaussian_Pinv(0.5 + level / 2);
	fprintf(o.fp, "line,fit,lower,upper\n");
	for (size_t i = 0; i < nd.n; i++) {
		double sd = sqrt(var[i]);
		fprintf(o.fp, "%u,%.10g,%.10g,%.10g\n", (unsigned)nd.line[i], fit[i],
		        fit[i] - z * sd, fit[i] + z * sd);
	}
	st = os_out_commit(&o, err);
out:
	free(fit);
	free(var);
	frame_cleanup(&nd);
	os_map_release(&map);
	return st;
}

al_status lmm_cli_load(const char *formula_text, const char *path, formula *f, frame *fr,
                       const frame_filter *filters, int nfilters, al_err *err)
{
	os_map map = {0};
	al_status st = formula_parse(f, formula_text, err);
	if (st != AL_OK)
		return st;
	if ((st = os_map_file(&map, path, err)) != AL_OK)
		return st;
	const char *names[FORMULA_MAX_COLS];
	int cat[FORMULA_MAX_COLS];
	for (int c = 0; c < f->ncols; c++)
		names[c] = f->cols[c];
	lmm_column_kinds(f, cat);
	st = frame_load(fr, map.data, map.len, path, names, cat, f->ncols, filters, nfilters, err);
	if (st == AL_ENOTFOUND)
		caret_missing(f, err);
	os_map_release(&map);
	return st;
}

int cmd_lmm(int argc, char **argv)
{
	const char *ftext = NULL, *data = NULL, *ranef = NULL, *pred = NULL, *out = "-";
	double level = 0.95;
	int json = 0, rc = CLI_FAIL;
	al_err err = {0};
	lmm_opts o;
	formula *f = NULL;
	frame fr = {0};
	lmm_model *m = NULL;
	lmm_opts_default(&o);
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			usage(stdout);
			return CLI_OK;
		} else if (strcmp(argv[i], "--ml") == 0) {
			o.reml = 0;
		} else if (strcmp(argv[i], "--reml") == 0) {
			o.reml = 1;
		} else if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (strcmp(argv[i], "--ranef") == 0 && i + 1 < argc) {
			ranef = argv[++i];
		} else if (strcmp(argv[i], "--predict") == 0 && i + 1 < argc) {
			pred = argv[++i];
		} else if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) &&
		           i + 1 < argc) {
			out = argv[++i];
		} else if (strcmp(argv[i], "--level") == 0 && i + 1 < argc) {
			char *end;
			level = strtod(argv[++i], &end);
			if (*end != '\0' || !(level > 0 && level < 1)) {
				fprintf(stderr,
				        "alliance lmm: --level wants a number between 0 and 1 (got "
				        "\"%s\")\n",
				        argv[i]);
				return CLI_USAGE;
			}
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "alliance lmm: unknown option %s\n", argv[i]);
			usage(stderr);
			return CLI_USAGE;
		} else if (ftext == NULL) {
			ftext = argv[i];
		} else if (data == NULL) {
			data = argv[i];
		} else {
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (ftext == NULL || data == NULL) {
		usage(stderr);
		return CLI_USAGE;
	}
	f = malloc(sizeof *f);
	if (f == NULL) {
		al_err_set(&err, AL_ENOMEM, "out of memory");
		goto out;
	}
	if (lmm_cli_load(ftext, data, f, &fr, NULL, 0, &err) != AL_OK)
		goto out;
	if (lmm_new(&m, f, &fr, &o, &err) != AL_OK)
		goto out;
	if (lmm_fit(m, &o, &err) != AL_OK)
		goto out;
	if (ranef != NULL && write_ranef(m, ranef, &err) != AL_OK)
		goto out;
	if (pred != NULL) {
		if (predict(m, pred, level, out, &err) != AL_OK)
			goto out;
		if (strcmp(out, "-") == 0) {
			rc = CLI_OK; /* the predictions are the output */
			goto out;
		}
	}
	if (json) {
		json_t *j = lmm_cli_json(m);
		if (j == NULL || json_dumpf(j, stdout,
		                            JSON_INDENT(1) | JSON_PRESERVE_ORDER |
		                                JSON_REAL_PRECISION(15)) != 0) {
			json_decref(j);
			al_err_set(&err, AL_ENOMEM, "cannot write JSON");
			goto out;
		}
		fputc('\n', stdout);
		json_decref(j);
	} else {
		print_summary(stdout, m, data);
	}
	rc = CLI_OK;
out:
	if (rc != CLI_OK)
		rc = cli_fail(&err);
	lmm_free(m);
	frame_cleanup(&fr);
	free(f);
	return rc;
}
