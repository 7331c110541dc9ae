/* lmm.c: the linear mixed model engine (lmm.h).
 *
 * The penalized least squares problem of Bates et al. (2015, sections 3.2 to
 * 3.6) is solved through one blocked Cholesky factorisation of
 *
 *   [ Λ1'Z1'Z1Λ1 + I   Λ1'Z1'D Λd ]      D = [Z2 X y], Λd = diag(Λ2, I, 1)
 *   [ Λd'D'Z1Λ1        Λd'D'DΛd + diag(I_q2, 0, 0) ]
 *
 * where Z1 is the term with the most levels. Its block is block-diagonal,
 * so it factors level by level (L_g, p1 × p1), and the off-diagonal block
 * is sparse by level: each level touches the X and y columns and the few
 * Z2 columns of the other groups it meets. What is left is the dense Schur
 * complement of order m = q2 + p + 1, factored by LAPACK; its last diagonal
 * element is the penalized residual r, its X block is R_X. Then
 *   REML: d = log|L|² + log|R_X|² + (n-p)(1 + log(2π r²/(n-p)))
 *   ML:   d = log|L|² + n(1 + log(2π r²/n))            (eq. 34, 41).
 * The small per-level Cholesky factors are written out by hand: calling
 * LAPACK for a 2 × 2 matrix a hundred thousand times per evaluation costs
 * more in call overhead and argument checking than the arithmetic. */
#include "lmm.h"

#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <nlopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ORDER        4 /* variables in one interaction */
#define LMM_THREADS      2
#define LMM_BLOCK_MAX    16 /* X and y columns summed in blocks (see factor_range) */
#define LMM_BLOCK_PACKED (LMM_BLOCK_MAX * (LMM_BLOCK_MAX + 1) / 2)

/* One design column: the product of numeric variables and factor
 * indicators (level >= 0: 1 when the row's code is that level). */
typedef struct colspec {
	int nf;
	int var[MAX_ORDER];
	int32_t level[MAX_ORDER];
} colspec;

struct lmm_work {
	int fcol[FORMULA_MAX_COLS];   /* formula column -> frame column */
	int varcat[FORMULA_MAX_VARS]; /* variable is categorical */
	colspec *xspec;               /* p */
	colspec zspec[FORMULA_MAX_RE][FORMULA_MAX_RE_COLS];
	int64_t *keys[FORMULA_MAX_RE]; /* sorted level keys of a:b groups */
	char *pools[FORMULA_MAX_RE];   /* level names of a:b groups */
	const char **names[FORMULA_MAX_RE];
	int32_t *codes[FORMULA_MAX_RE]; /* owned codes of a:b groups */
	int p1, q2, m;
	int32_t n1;
	int d_off[FORMULA_MAX_RE]; /* first D column of each term k >= 1 */
	int *colterm;              /* D column < q2 -> term */
	double *A11;               /* n1 × p1 × p1 */
	size_t *bstart;            /* n1 + 1 */
	int32_t *bcol;             /* D column of each B row */
	double *B;                 /* B rows × p1 */
	double *C;                 /* m × m, column-major, symmetric */
	/* evaluation workspace */
	double *W, *Lg, *Cw;
	double *acc; /* per thread: sum and compensation, packed */
	int threads;
	/* nested mode: a second term whose levels each first-term level meets
	 * at most one of (clients within therapists). Its block of the Schur
	 * complement stays block-diagonal, so only the border [X y] is dense:
	 * O(levels2 · (p2 + p)²) per evaluation instead of O(q2³). */
	int nested, p2, n2;
	double *C22, *C2b; /* n2 × p2 × p2 and n2 × p2 × r (r = p + 1) */
	double *L22, *E2b; /* the same shapes at the current theta */
	double *acc2;      /* per thread: n2 × (p2² + p2 r) */
	double T[FORMULA_MAX_RE][FORMULA_MAX_RE_COLS * FORMULA_MAX_RE_COLS];
	double ldL, ldRX, r2;
	int reml;
	int nevals;
	const lmm_opts *opts;
};

void lmm_opts_default(lmm_opts *o)
{
	o->reml = 1;
	o->ftol_abs = 0;
	o->xtol_abs = 1e-10;
	o->maxeval = 100000;
	o->grad_tol = 2e-3;
	o->fd_step = 1e-4;
	o->sing_tol = 1e-4;
	o->rank_tol = 1e-9;
	o->max_dense = 3000;
	o->threads = 2;
	o->nested = 1;
}

/* ---- small dense helpers (row-major p × p, p <= 8) ---- */

/* In-place lower Cholesky of a symmetric positive definite a; 0 on failure. */
static inline __attribute__((always_inline)) int chol_small(int p, double *a)
{
	for (int j = 0; j < p; j++) {
		double d = a[j * p + j];
		for (int k = 0; k < j; k++)
			d -= a[j * p + k] * a[j * p + k];
		if (!(d > 0))
			return 0;
		d = sqrt(d);
		a[j * p + j] = d;
		for (int i = j + 1; i < p; i++) {
			double s = a[i * p + j];
			for (int k = 0; k < j; k++)
				s -= a[i * p + k] * a[j * p + k];
			a[i * p + j] = s / d;
		}
		for (int i = 0; i < j; i++)
			a[i * p + j] = 0;
	}
	return 1;
}

/* Fill the relative covariance factors T_k from theta (lme4's order: the
 * lower triangle of each term, column by column). */
static void theta_to_T(lmm_model *m, const double *theta)
{
	for (int k = 0; k < m->nterms; k++) {
		lmm_term *t = &m->terms[k];
		double *T = m->w->T[k];
		const double *th = theta + t->theta_off;
		int p = t->p, idx = 0;
		memset(T, 0, sizeof m->w->T[k]);
		for (int j = 0; j < p; j++)
			for (int i = j; i < (t->diag ? j + 1 : p); i++)
				T[i * p + j] = th[idx++];
	}
}

/* ---- rows ---- */

/* Evaluate the formula's variables for row i of frame fr (categorical
 * variables give their level code). Returns -1 when all are finite, else
 * the index of the first variable that is not. */
static int row_vars(const lmm_model *m, const frame *fr, const int *fcol, size_t i, double *vv)
{
	const formula *f = &m->f;
	double cv[FORMULA_MAX_COLS];
	for (int c = 0; c < f->ncols; c++) {
		const frame_col *col = &fr->cols[fcol[c]];
		cv[c] = col->categorical ? (double)col->code[i] : col->num[i];
	}
	for (int v = 0; v < f->nvars; v++) {
		if (m->w->varcat[v]) {
			vv[v] = cv[f->vars[v].col];
			continue;
		}
		vv[v] = formula_eval(f, f->vars[v].expr, cv);
		if (!isfinite(vv[v]))
			return v;
	}
	return -1;
}

static double spec_value(const colspec *s, const double *vv)
{
	double x = 1;
	for (int i = 0; i < s->nf; i++) {
		if (s->level[i] >= 0)
			x *= (int32_t)vv[s->var[i]] == s->level[i] ? 1.0 : 0.0;
		else
			x *= vv[s->var[i]];
	}
	return x;
}

/* The first data column under expression node `node`, or -1. */
static int first_col(const formula *f, int node)
{
	if (node < 0)
		return -1;
	const formula_node *n = &f->nodes[node];
	if (n->op == FX_COL)
		return n->col;
	int c = first_col(f, n->a);
	return c >= 0 ? c : first_col(f, n->b);
}

/* The first categorical column under node, or -1. */
static int cat_col(const lmm_model *m, int node)
{
	if (node < 0)
		return -1;
	const formula_node *n = &m->f.nodes[node];
	if (n->op == FX_COL)
		return m->fr->cols[m->w->fcol[n->col]].categorical ? n->col : -1;
	int c = cat_col(m, n->a);
	return c >= 0 ? c : cat_col(m, n->b);
}

static double fmin_d(double a, double b)
{
	return a < b ? a : b;
}

/* ---- design ---- */

static int term_has(const formula *f, formula_term t)
{
	if (t == 0)
		return f->intercept;
	for (int i = 0; i < f->nterms; i++)
		if (f->terms[i] == t)
			return 1;
	return 0;
}

static al_status input_err(const lmm_model *m, al_err *err, int pos, const char *fmt, const char *a)
{
	char what[512], caret[FORMULA_MAX_TEXT * 2 + 16];
	snprintf(what, sizeof what, fmt, a);
	formula_caret(&m->f, pos, caret, sizeof caret);
	return al_err_set(err, AL_EINPUT, "%s: %s\n%s", m->fr->file, what, caret);
}

/* The fixed-effect columns in R's order and with R's names. Treatment
 * contrasts for a factor whose term without it is in the model (R's rule
 * for marginality), indicator columns otherwise. */
static al_status build_xspec(lmm_model *m, al_err *err)
{
	const formula *f = &m->f;
	lmm_work *w = m->w;
	int cap = LMM_MAX_P;
	w->xspec = calloc((size_t)cap, sizeof *w->xspec);
	m->xnames = calloc((size_t)cap, sizeof *m->xnames);
	if (w->xspec == NULL || m->xnames == NULL)
		return al_err_set(err, AL_ENOMEM, "out of memory");
	int p = 0;
	if (f->intercept) {
		w->xspec[p].nf = 0;
		snprintf(m->xnames[p], sizeof m->xnames[p], "(Intercept)");
		p++;
	}
	for (int ti = 0; ti < f->nterms; ti++) {
		formula_term t = f->terms[ti];
		int vars[MAX_ORDER], nv = 0, nlev[MAX_ORDER], first[MAX_ORDER];
		if (formula_term_order(t) > MAX_ORDER)
			return al_err_set(err, AL_ELIMIT,
			                  "formula: interactions of more than %d variables",
			                  MAX_ORDER);
		for (int v = 0; v < f->nvars; v++)
			if (t & ((formula_term)1 << v))
				vars[nv++] = v;
		int ncomb = 1;
		for (int i = 0; i < nv; i++) {
			int v = vars[i];
			if (w->varcat[v]) {
				const frame_col *c = &m->fr->cols[w->fcol[f->vars[v].col]];
				int contr = term_has(f, t & ~((formula_term)1 << v));
				first[i] = contr ? 1 : 0;
				nlev[i] = c->nlevels - first[i];
				if (c->nlevels < 2)
					return input_err(m, err, f->vars[v].pos,
					                 "column %s has only one value: a factor "
					                 "needs two levels",
					                 f->vars[v].label);
			} else {
				first[i] = 0;
				nlev[i] = 1;
			}
			ncomb *= nlev[i];
		}
		if (p + ncomb > cap)
			return al_err_set(err, AL_ELIMIT, "more than %d fixed-effect columns",
			                  LMM_MAX_P);
		for (int c = 0; c < ncomb; c++) {
			colspec *s = &w->xspec[p];
			char *name = m->xnames[p];
			size_t nl = 0;
			int rest = c;
			s->nf = nv;
			for (int i = 0; i < nv; i++) {
				int v = vars[i];
				s->var[i] = v;
				const char *lab = f->vars[v].label;
				if (w->varcat[v]) {
					int lev = first[i] + rest % nlev[i];
					rest /= nlev[i];
					s->level[i] = lev;
					const frame_col *fc = &m->fr->cols[w->fcol[f->vars[v].col]];
					nl += (size_t)snprintf(name + nl, sizeof m->xnames[p] - nl,
					                       "%s%s%s", i ? ":" : "", lab,
					                       fc->levels[lev]);
				} else {
					s->level[i] = -1;
					nl += (size_t)snprintf(name + nl, sizeof m->xnames[p] - nl,
					                       "%s%s", i ? ":" : "", lab);
				}
				if (nl >= sizeof m->xnames[p])
					nl = sizeof m->xnames[p] - 1;
			}
			p++;
		}
	}
	if (p == 0)
		return al_err_set(err, AL_EINPUT,
		                  "formula: no fixed effects (at least an intercept "
		                  "is needed)");
	m->p = p;
	return AL_OK;
}

typedef struct keyidx {
	int64_t key;
	size_t row;
} keyidx;

static int cmp_key(const void *a, const void *b)
{
	int64_t x = ((const keyidx *)a)->key, y = ((const keyidx *)b)->key;
	return (x > y) - (x < y);
}

/* Codes and names for a grouping factor a:b: the combinations that occur,
 * in the order of their components' levels. */
static al_status build_interaction(lmm_model *m, int k, const formula_re *re, al_err *err)
{
	lmm_work *w = m->w;
	const frame *fr = m->fr;
	size_t n = fr->n;
	al_status st = AL_ENOMEM;
	keyidx *ki = malloc(n * sizeof *ki);
	const frame_col *cols[FORMULA_MAX_GROUP];
	int64_t mult[FORMULA_MAX_GROUP];
	int64_t total = 1;
	if (ki == NULL)
		goto out;
	for (int g = re->ngroup - 1; g >= 0; g--) {
		cols[g] = &fr->cols[w->fcol[m->f.vars[re->group[g]].col]];
		mult[g] = total;
		total *= cols[g]->nlevels;
		if (total > ((int64_t)1 << 60)) {
			st = al_err_set(err, AL_ELIMIT, "grouping factor %s: too many combinations",
			                re->label);
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		int64_t key = 0;
		for (int g = 0; g < re->ngroup; g++)
			key += mult[g] * cols[g]->code[i];
		ki[i] = (keyidx){key, i};
	}
	qsort(ki, n, sizeof *ki, cmp_key);
	int32_t nl = 0;
	size_t pool_len = 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || ki[i].key != ki[i - 1].key) {
			nl++;
			for (int g = 0; g < re->ngroup; g++)
				pool_len += strlen(cols[g]->levels[cols[g]->code[ki[i].row]]) + 1;
		}
	}
	w->codes[k] = malloc(n * sizeof *w->codes[k]);
	w->keys[k] = malloc((size_t)nl * sizeof *w->keys[k]);
	w->pools[k] = malloc(pool_len + 1);
	w->names[k] = malloc((size_t)nl * sizeof *w->names[k]);
	if (!w->codes[k] || !w->keys[k] || !w->pools[k] || !w->names[k])
		goto out;
	int32_t l = -1;
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || ki[i].key != ki[i - 1].key) {
			l++;
			w->keys[k][l] = ki[i].key;
			w->names[k][l] = w->pools[k] + off;
			for (int g = 0; g < re->ngroup; g++) {
				const char *s = cols[g]->levels[cols[g]->code[ki[i].row]];
				size_t len = strlen(s);
				memcpy(w->pools[k] + off, s, len);
				off += len;
				w->pools[k][off++] = g + 1 < re->ngroup ? ':' : '\0';
			}
		}
		w->codes[k][ki[i].row] = l;
	}
	m->terms[k].nlev = nl;
	m->terms[k].levels = w->names[k];
	m->terms[k].code = w->codes[k];
	st = AL_OK;
out:
	if (st == AL_ENOMEM)
		al_err_set(err, st, "out of memory");
	free(ki);
	return st;
}

static al_status build_terms(lmm_model *m, al_err *err)
{
	const formula *f = &m->f;
	lmm_work *w = m->w;
	al_status st;
	int order[FORMULA_MAX_RE] = {0};
	lmm_term tmp[FORMULA_MAX_RE];
	for (int k = 0; k < f->nre; k++) {
		const formula_re *re = &f->re[k];
		lmm_term *t = &m->terms[k];
		memset(t, 0, sizeof *t);
		snprintf(t->group, sizeof t->group, "%s", re->label);
		t->diag = re->diag;
		int c = 0;
		if (re->intercept) {
			w->zspec[k][c].nf = 0;
			snprintf(t->names[c], sizeof t->names[c], "(Intercept)");
			c++;
		}
		for (int i = 0; i < re->nterms; i++) {
			colspec *s = &w->zspec[k][c];
			size_t nl = 0;
			if (formula_term_order(re->terms[i]) > MAX_ORDER)
				return al_err_set(err, AL_ELIMIT, "formula: interaction too long");
			for (int v = 0; v < f->nvars; v++) {
				if (!(re->terms[i] & ((formula_term)1 << v)))
					continue;
				if (w->varcat[v])
					return input_err(
					    m, err, f->vars[v].pos,
					    "%s is categorical: random slopes need numeric columns",
					    f->vars[v].label);
				s->var[s->nf] = v;
				s->level[s->nf] = -1;
				s->nf++;
				/* (through a local buffer: f and t are both inside *m) */
				char part[FORMULA_LABEL + 2];
				snprintf(part, sizeof part, "%s%s", nl ? ":" : "",
				         f->vars[v].label);
				size_t pl = strlen(part);
				if (nl + pl >= sizeof t->names[c])
					pl = sizeof t->names[c] - 1 - nl;
				memcpy(t->names[c] + nl, part, pl);
				nl += pl;
				t->names[c][nl] = '\0';
			}
			c++;
		}
		t->p = c;
		if (re->ngroup == 1) {
			const frame_col *gc = &m->fr->cols[w->fcol[f->vars[re->group[0]].col]];
			t->nlev = gc->nlevels;
			t->levels = gc->levels;
			t->code = gc->code;
		} else if ((st = build_interaction(m, k, re, err)) != AL_OK) {
			return st;
		}
		if (t->nlev < 2)
			return input_err(
			    m, err, re->pos,
			    "grouping factor %s has only one level: a random effect needs at "
			    "least two groups",
			    re->label);
		if ((size_t)t->nlev >= m->n)
			return input_err(
			    m, err, re->pos,
			    "grouping factor %s has as many levels as observations: the "
			    "random effects are not identifiable from the residual",
			    re->label);
	}
	/* lme4 orders terms by decreasing number of levels, stably */
	for (int k = 0; k < f->nre; k++)
		order[k] = k;
	for (int i = 1; i < f->nre; i++) {
		int o = order[i], j = i;
		while (j > 0 && m->terms[order[j - 1]].nlev < m->terms[o].nlev) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = o;
	}
	colspec zs[FORMULA_MAX_RE][FORMULA_MAX_RE_COLS] = {0};
	int64_t *keys[FORMULA_MAX_RE] = {0};
	char *pools[FORMULA_MAX_RE] = {0};
	const char **names[FORMULA_MAX_RE] = {0};
	int32_t *codes[FORMULA_MAX_RE] = {0};
	for (int k = 0; k < f->nre; k++) {
		tmp[k] = m->terms[order[k]];
		memcpy(zs[k], w->zspec[order[k]], sizeof zs[k]);
		keys[k] = w->keys[order[k]];
		pools[k] = w->pools[order[k]];
		names[k] = w->names[order[k]];
		codes[k] = w->codes[order[k]];
	}
	m->nterms = f->nre;
	int off = 0;
	for (int k = 0; k < f->nre; k++) {
		m->terms[k] = tmp[k];
		memcpy(w->zspec[k], zs[k], sizeof zs[k]);
		w->keys[k] = keys[k];
		w->pools[k] = pools[k];
		w->names[k] = names[k];
		w->codes[k] = codes[k];
		lmm_term *t = &m->terms[k];
		t->ntheta = t->diag ? t->p : t->p * (t->p + 1) / 2;
		t->theta_off = off;
		off += t->ntheta;
	}
	m->ntheta = off;
	return AL_OK;
}

/* Read every row once into the per-level cross-products (see the file
 * comment): A11_g = Z1g'Z1g, B_g = D_g'Z1g (sparse rows), C = D'D. */
static al_status build_crossprod(lmm_model *m, const lmm_opts *o, al_err *err)
{
	lmm_work *w = m->w;
	const frame *fr = m->fr;
	size_t n = fr->n;
	al_status st = AL_ENOMEM;
	int p = m->p, p1 = m->terms[0].p;
	size_t *start = NULL, bcap = 0, nb = 0;
	uint32_t *perm = NULL; /* rows < FRAME_MAX_ROWS fit */
	int32_t *mark = NULL;
	double *xmin = NULL, *xmax = NULL;
	size_t bad_line = 0;
	int bad_var = -1;
	double ymin = INFINITY, ymax = -INFINITY;

	w->p1 = p1;
	w->n1 = m->terms[0].nlev;
	w->q2 = 0;
	for (int k = 1; k < m->nterms; k++) {
		w->d_off[k] = w->q2;
		w->q2 += m->terms[k].nlev * m->terms[k].p;
	}
	size_t mm = (size_t)w->q2 + (size_t)p + 1;
	size_t nbord = (size_t)p + 1; /* the border: X and y */
	size_t n1 = (size_t)w->n1;
	start = calloc(n1 + 1, sizeof *start);
	perm = malloc(n * sizeof *perm);
	w->A11 = calloc(n1 * (size_t)(p1 * p1), sizeof *w->A11);
	w->bstart = calloc(n1 + 1, sizeof *w->bstart);
	w->threads = o->threads < 1 ? 1 : o->threads > LMM_THREADS ? LMM_THREADS : o->threads;
	w->colterm = calloc((size_t)w->q2 + 1, sizeof *w->colterm);
	mark = malloc(((size_t)w->q2 + 1) * sizeof *mark);
	xmin = malloc((size_t)p * sizeof *xmin);
	xmax = malloc((size_t)p * sizeof *xmax);
	w->Lg = malloc(n1 * (size_t)(p1 * p1) * sizeof *w->Lg);
	if (!start || !perm || !w->A11 || !w->bstart || !w->colterm || !mark || !xmin || !xmax ||
	    !w->Lg)
		goto out;
	for (int k = 1; k < m->nterms; k++)
		for (int c = 0; c < m->terms[k].nlev * m->terms[k].p; c++)
			w->colterm[w->d_off[k] + c] = k;
	for (int j = 0; j < p; j++) {
		xmin[j] = INFINITY;
		xmax[j] = -INFINITY;
	}
	for (int c = 0; c < w->q2; c++)
		mark[c] = -1;
	/* counting sort of the rows by level of the first term */
	const int32_t *g0 = m->terms[0].code;
	for (size_t i = 0; i < n; i++)
		start[g0[i] + 1]++;
	for (size_t g = 0; g < n1; g++)
		start[g + 1] += start[g];
	{
		size_t *fill = w->bstart; /* borrowed as a cursor, reset below */
		for (size_t i = 0; i < n; i++)
			perm[start[g0[i]] + fill[g0[i]]++] = (uint32_t)i;
		memset(fill, 0, (n1 + 1) * sizeof *fill);
	}
	int nz = 1 + p;
	for (int k = 1; k < m->nterms; k++)
		nz += m->terms[k].p;
	int *dcol = malloc((size_t)nz * sizeof *dcol);
	double *dval = malloc((size_t)nz * sizeof *dval);
	double vv[FORMULA_MAX_VARS], z0[FORMULA_MAX_RE_COLS];
	if (!dcol || !dval) {
		free(dcol);
		free(dval);
		goto out;
	}
	for (size_t g = 0; g < n1; g++) {
		/* which Z2 columns does this level meet? */
		size_t b0 = nb;
		for (size_t r = start[g]; r < start[g + 1]; r++) {
			size_t i = perm[r];
			for (int k = 1; k < m->nterms; k++) {
				int base = w->d_off[k] + m->terms[k].code[i] * m->terms[k].p;
				if (mark[base] >= 0)
					continue;
				if (nb + (size_t)m->terms[k].p + (size_t)p + 1 > bcap) {
					size_t nc = bcap ? bcap * 2 : 1024;
					while (nc < nb + (size_t)m->terms[k].p + (size_t)p + 1)
						nc *= 2;
					int32_t *bc = realloc(w->bcol, nc * sizeof *bc);
					if (bc == NULL)
						goto out_free;
					w->bcol = bc;
					bcap = nc;
				}
				mark[base] = (int32_t)(nb - b0);
				for (int j = 0; j < m->terms[k].p; j++)
					w->bcol[nb++] = base + j;
			}
		}
		if (nb + (size_t)p + 1 > bcap) {
			size_t nc = bcap ? bcap * 2 : 1024;
			while (nc < nb + (size_t)p + 1)
				nc *= 2;
			int32_t *bc = realloc(w->bcol, nc * sizeof *bc);
			if (bc == NULL)
				goto out_free;
			w->bcol = bc;
			bcap = nc;
		}
		size_t nbz = nb - b0;
		for (int j = 0; j <= p; j++)
			w->bcol[nb++] = w->q2 + j;
		w->bstart[g + 1] = nb;
		/* B itself is allocated after this pass, when its size is known */
		for (size_t r = b0; r < b0 + nbz; r++)
			if (w->bcol[r] < w->q2)
				mark[w->bcol[r]] = -1;
	}
	w->B = calloc((nb ? nb : 1) * (size_t)p1, sizeof *w->B);
	w->W = malloc((nb ? nb : 1) * (size_t)p1 * sizeof *w->W);
	if (w->B == NULL || w->W == NULL)
		goto out_free;
	/* nested: every first-term level meets at most one level of the second */
	w->nested =
	    o->nested && m->nterms == 2 && nbord * (nbord + 1) / 2 <= (size_t)4 * LMM_BLOCK_PACKED;
	for (size_t g = 0; g < n1 && w->nested; g++)
		if (w->bstart[g + 1] - w->bstart[g] - nbord > (size_t)m->terms[1].p)
			w->nested = 0;
	if (w->nested) {
		size_t p2 = (size_t)m->terms[1].p, n2 = (size_t)m->terms[1].nlev;
		w->p2 = (int)p2;
		w->n2 = (int)n2;
		w->m = (int)nbord;
		w->C22 = calloc(n2 * p2 * p2, sizeof *w->C22);
		w->C2b = calloc(n2 * p2 * nbord, sizeof *w->C2b);
		w->L22 = malloc(n2 * p2 * p2 * sizeof *w->L22);
		w->E2b = malloc(n2 * p2 * nbord * sizeof *w->E2b);
		w->acc2 = malloc(LMM_THREADS * n2 * (p2 * p2 + p2 * nbord) * sizeof *w->acc2);
		w->C = calloc(nbord * nbord, sizeof *w->C);
		w->Cw = calloc(nbord * nbord, sizeof *w->Cw);
		w->acc =
		    malloc((size_t)LMM_THREADS * 2 * (nbord * (nbord + 1) / 2) * sizeof *w->acc);
		if (!w->C22 || !w->C2b || !w->L22 || !w->E2b || !w->acc2 || !w->C || !w->Cw ||
		    !w->acc)
			goto out_free;
	} else {
		if (mm > o->max_dense) {
			st = al_err_set(
			    err, AL_ELIMIT,
			    "the random-effect terms after the first (%s, %d levels) and the "
			    "fixed effects need a dense block of order %zu, more than the limit "
			    "%zu; put the factor with the most levels first or use fewer levels",
			    m->terms[0].group, m->terms[0].nlev, mm, o->max_dense);
			goto out_free;
		}
		w->m = (int)mm;
		w->C = calloc(mm * mm, sizeof *w->C);
		w->Cw = calloc(mm * mm, sizeof *w->Cw);
		w->acc = malloc((size_t)LMM_THREADS * 2 * (mm * (mm + 1) / 2) * sizeof *w->acc);
		if (!w->C || !w->Cw || !w->acc)
			goto out_free;
	}
	for (size_t g = 0; g < n1; g++) {
		size_t b0 = w->bstart[g], b1 = w->bstart[g + 1];
		size_t nbz = b1 - b0 - (size_t)p - 1;
		for (size_t r = b0; r < b0 + nbz; r++)
			mark[w->bcol[r]] = (int32_t)(r - b0);
		double *A = w->A11 + g * (size_t)(p1 * p1);
		double *Bg = w->B + b0 * (size_t)p1;
		for (size_t r = start[g]; r < start[g + 1]; r++) {
			size_t i = perm[r];
			int bv = row_vars(m, fr, w->fcol, i, vv);
			double y = bv < 0 ? vv[m->f.response] : NAN;
			if (bv < 0 && !isfinite(y))
				bv = m->f.response;
			int nd = 0;
			for (int k = 1; k < m->nterms && bv < 0; k++) {
				int pk = m->terms[k].p;
				int base = w->d_off[k] + m->terms[k].code[i] * pk;
				for (int j = 0; j < pk; j++) {
					dcol[nd] = base + j;
					dval[nd++] = spec_value(&w->zspec[k][j], vv);
				}
			}
			if (bv >= 0) {
				if (bad_line == 0 || fr->line[i] < bad_line) {
					bad_line = fr->line[i];
					bad_var = bv;
				}
				continue;
			}
			for (int j = 0; j < p; j++) {
				double x = spec_value(&w->xspec[j], vv);
				dcol[nd] = w->q2 + j;
				dval[nd++] = x;
				if (x < xmin[j])
					xmin[j] = x;
				if (x > xmax[j])
					xmax[j] = x;
			}
			dcol[nd] = w->q2 + p;
			dval[nd++] = y;
			ymin = y < ymin ? y : ymin;
			ymax = y > ymax ? y : ymax;
			for (int j = 0; j < p1; j++)
				z0[j] = spec_value(&w->zspec[0][j], vv);
			for (int a = 0; a < p1; a++)
				for (int b = 0; b < p1; b++)
					A[a * p1 + b] += z0[a] * z0[b];
			for (int d = 0; d < nd; d++) {
				int c = dcol[d];
				size_t lr = c < w->q2 ? (size_t)mark[c] : nbz + (size_t)(c - w->q2);
				for (int j = 0; j < p1; j++)
					Bg[lr * (size_t)p1 + (size_t)j] += dval[d] * z0[j];
				for (int e = 0; e < nd; e++) {
					int ce = dcol[e];
					double v = dval[d] * dval[e];
					if (!w->nested) {
						w->C[(size_t)c + (size_t)ce * mm] += v;
					} else if (c >= w->q2 && ce >= w->q2) {
						w->C[(size_t)(c - w->q2) +
						     (size_t)(ce - w->q2) * nbord] += v;
					} else if (c < w->q2 && ce < w->q2) {
						/* one level per row: c and ce are in the same block
						 */
						size_t l = (size_t)c / (size_t)w->p2;
						w->C22[(l * (size_t)w->p2 +
						        (size_t)c % (size_t)w->p2) *
						           (size_t)w->p2 +
						       (size_t)ce % (size_t)w->p2] += v;
					} else if (c < w->q2) {
						size_t l = (size_t)c / (size_t)w->p2;
						w->C2b[(l * (size_t)w->p2 +
						        (size_t)c % (size_t)w->p2) *
						           nbord +
						       (size_t)(ce - w->q2)] += v;
					}
				}
			}
		}
		for (size_t r = b0; r < b0 + nbz; r++)
			mark[w->bcol[r]] = -1;
	}
	free(dcol);
	free(dval);
	dcol = NULL;
	if (bad_line) {
		const formula_var *v = &m->f.vars[bad_var];
		const frame_col *fc = NULL;
		double val = 0;
		/* quote the value of the variable's first column on that line */
		int c = first_col(&m->f, v->expr);
		for (size_t i = 0; i < n && c >= 0; i++)
			if (fr->line[i] == bad_line) {
				fc = &fr->cols[w->fcol[c]];
				val = fc->num[i];
				break;
			}
		st =
		    al_err_set(err, AL_EINPUT, "%s:%zu: column %s: %s is undefined (got \"%.15g\")",
		               fr->file, bad_line, fc ? fc->name : "?", v->label, val);
		goto out;
	}
	if (ymin == ymax) {
		st = al_err_set(err, AL_EINPUT,
		                "%s: the response %s is constant (every row is %.15g): "
		                "there is no variation to model",
		                fr->file, m->f.vars[m->f.response].label, ymin);
		goto out;
	}
	/* constant or collinear fixed-effect columns: a Cholesky of X'X that
	 * stops at the first negligible pivot, which names the culprit */
	{
		double *xx = malloc((size_t)(p * p) * sizeof *xx);
		if (xx == NULL)
			goto out;
		for (int a = 0; a < p; a++)
			for (int b = 0; b < p; b++)
				xx[a * p + b] =
				    w->nested
				        ? w->C[(size_t)a + (size_t)b * nbord]
				        : w->C[(size_t)(w->q2 + a) + (size_t)(w->q2 + b) * mm];
		for (int j = 0; j < p; j++) {
			double orig = xx[j * p + j];
			double d = orig;
			for (int k = 0; k < j; k++)
				d -= xx[j * p + k] * xx[j * p + k];
			if (!(d > o->rank_tol * orig) || orig == 0) {
				free(xx);
				if (xmin[j] == xmax[j] && m->f.intercept && j > 0)
					st = al_err_set(
					    err, AL_EINPUT,
					    "%s: fixed-effect column %s is constant (every row is "
					    "%.15g): "
					    "it cannot be estimated beside the intercept",
					    fr->file, m->xnames[j], xmin[j]);
				else
					st = al_err_set(
					    err, AL_EINPUT,
					    "%s: the fixed-effects design is rank deficient: "
					    "column %s "
					    "is a linear combination of the columns before it",
					    fr->file, m->xnames[j]);
				goto out;
			}
			d = sqrt(d);
			xx[j * p + j] = d;
			for (int i = j + 1; i < p; i++) {
				double s = xx[i * p + j];
				for (int k = 0; k < j; k++)
					s -= xx[i * p + k] * xx[j * p + k];
				xx[i * p + j] = s / d;
			}
		}
		free(xx);
	}
	st = AL_OK;
	goto out;
out_free:
	free(dcol);
	free(dval);
out:
	if (st == AL_ENOMEM)
		al_err_set(err, st, "out of memory building the model");
	free(start);
	free(perm);
	free(mark);
	free(xmin);
	free(xmax);
	return st;
}

al_status lmm_new(lmm_model **out, const formula *f, const frame *fr, const lmm_opts *o,
                  al_err *err)
{
	al_status st;
	*out = NULL;
	lmm_model *m = calloc(1, sizeof *m);
	if (m == NULL || (m->w = calloc(1, sizeof *m->w)) == NULL) {
		free(m);
		return al_err_set(err, AL_ENOMEM, "out of memory");
	}
	m->f = *f;
	m->fr = fr;
	m->n = fr->n;
	m->reml = o->reml;
	lmm_work *w = m->w;
	if (f->nre == 0) {
		st = al_err_set(err, AL_EINPUT,
		                "formula: no random-effect term such as (1 | group); "
		                "a linear mixed model needs at least one");
		goto out;
	}
	for (int c = 0; c < f->ncols; c++) {
		w->fcol[c] = frame_find(fr, f->cols[c]);
		if (w->fcol[c] < 0) {
			st = al_err_set(err, AL_EINTERNAL, "column %s was not loaded", f->cols[c]);
			goto out;
		}
	}
	for (int v = 0; v < f->nvars; v++) {
		const formula_var *fv = &f->vars[v];
		if (fv->col >= 0) {
			w->varcat[v] = fr->cols[w->fcol[fv->col]].categorical;
			continue;
		}
		/* an expression: every column under it must be numeric */
		int c = cat_col(m, fv->expr);
		if (c >= 0) {
			char what[256];
			snprintf(what, sizeof what, "column %s in %%s is not numeric", f->cols[c]);
			st = input_err(m, err, fv->pos, what, fv->label);
			goto out;
		}
	}
	if (w->varcat[f->response]) {
		st = input_err(m, err, f->vars[f->response].pos, "the response %s is not numeric",
		               f->vars[f->response].label);
		goto out;
	}
	if ((st = build_xspec(m, err)) != AL_OK)
		goto out;
	if ((st = build_terms(m, err)) != AL_OK)
		goto out;
	if ((st = build_crossprod(m, o, err)) != AL_OK)
		goto out;
	m->theta = calloc((size_t)m->ntheta, sizeof *m->theta);
	m->beta = calloc((size_t)m->p, sizeof *m->beta);
	m->se = calloc((size_t)m->p, sizeof *m->se);
	m->vcov = calloc((size_t)m->p * (size_t)m->p, sizeof *m->vcov);
	for (int k = 0; k < m->nterms && st == AL_OK; k++) {
		m->terms[k].ranef =
		    calloc((size_t)m->terms[k].nlev * (size_t)m->terms[k].p, sizeof(double));
		if (m->terms[k].ranef == NULL)
			st = AL_ENOMEM;
	}
	if (st != AL_OK || !m->theta || !m->beta || !m->se || !m->vcov) {
		st = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
out:
	if (st != AL_OK) {
		lmm_free(m);
		return st;
	}
	*out = m;
	return AL_OK;
}

void lmm_free(lmm_model *m)
{
	if (m == NULL)
		return;
	lmm_work *w = m->w;
	if (w != NULL) {
		free(w->xspec);
		for (int k = 0; k < FORMULA_MAX_RE; k++) {
			free(w->keys[k]);
			free(w->pools[k]);
			free(w->names[k]);
			free(w->codes[k]);
		}
		free(w->colterm);
		free(w->A11);
		free(w->bstart);
		free(w->bcol);
		free(w->B);
		free(w->C);
		free(w->W);
		free(w->Lg);
		free(w->Cw);
		free(w->acc);
		free(w->C22);
		free(w->C2b);
		free(w->L22);
		free(w->E2b);
		free(w->acc2);
		free(w);
	}
	for (int k = 0; k < m->nterms; k++)
		free(m->terms[k].ranef);
	free(m->xnames);
	free(m->theta);
	free(m->beta);
	free(m->se);
	free(m->vcov);
	free(m);
}

/* ---- the profiled deviance ---- */

/* acc + s with the rounding error kept in comp (Neumaier 1974). */
static inline void neumaier(double *acc, double *comp, double s)
{
	double t = *acc + s;
	if (fabs(*acc) >= fabs(s))
		*comp += (*acc - t) + s;
	else
		*comp += (s - t) + *acc;
	*acc = t;
}

/* One thread's share of the levels of the first term: factor L_g, form
 * W_g, and accumulate Σ W_g W_g' (compensated) and log|L_g|². */
typedef struct part {
	lmm_model *m;
	int32_t g0, g1;
	double *acc, *comp; /* packed lower triangle, m(m+1)/2 */
	double *acc2;       /* nested mode: this thread's n2 × (p2² + p2 m) sums */
	double mant;        /* Π|L_g|² = mant · 2^expo */
	long expo;
	int fail;
} part;

/* Multiply mant by |L|² for the p × p Cholesky factor L of level k. The
 * log-determinant sums are kept as a product with the binary exponent split
 * off every 16 levels: one log per thread instead of p per level, and no
 * overflow. */
static inline void det_accumulate(const double *L, size_t p, size_t k, double *mant, long *expo)
{
	double det = 1;
	for (size_t i = 0; i < p; i++)
		det *= L[i * p + i];
	*mant *= det * det;
	if ((k & 15) == 15) {
		int e;
		*mant = frexp(*mant, &e);
		*expo += e;
	}
}

static inline __attribute__((always_inline)) void factor_range(part *pt, const int p1)
{
	lmm_model *m = pt->m;
	lmm_work *w = m->w;
	int q2 = w->q2;
	size_t mm = (size_t)w->m;
	const double *T0 = w->T[0];
	double *acc = pt->acc, *comp = pt->comp;
	size_t npk = mm * (mm + 1) / 2;
	double blk[LMM_BLOCK_PACKED] = {0}; /* level sums of a block of 64 */
	double mant = 1;
	long expo = 0;
	memset(acc, 0, mm * (mm + 1) / 2 * sizeof *acc);
	memset(comp, 0, mm * (mm + 1) / 2 * sizeof *comp);
	size_t p2 = (size_t)w->p2, per2 = p2 * p2 + p2 * mm;
	if (w->nested)
		memset(pt->acc2, 0, (size_t)w->n2 * per2 * sizeof *pt->acc2);
	/* A_g T0, rewritten for each level; zeroed once here, not per level */
	double AT[FORMULA_MAX_RE_COLS * FORMULA_MAX_RE_COLS] = {0};
	for (int32_t g = pt->g0; g < pt->g1; g++) {
		const double *A = w->A11 + (size_t)g * (size_t)(p1 * p1);
		double *L = w->Lg + (size_t)g * (size_t)(p1 * p1);
		for (int i = 0; i < p1; i++)
			for (int j = 0; j < p1; j++) {
				double s = 0;
				for (int t = j; t < p1; t++)
					s += A[i * p1 + t] * T0[t * p1 + j];
				AT[i * p1 + j] = s;
			}
		for (int i = 0; i < p1; i++)
			for (int j = 0; j <= i; j++) {
				double s = 0;
				for (int t = i; t < p1; t++)
					s += T0[t * p1 + i] * AT[t * p1 + j];
				L[i * p1 + j] = s + (i == j);
				L[j * p1 + i] = L[i * p1 + j];
			}
		if (!chol_small(p1, L)) {
			pt->fail = 1;
			return;
		}
		det_accumulate(L, (size_t)p1, (size_t)g, &mant, &expo);
		size_t b0 = w->bstart[g], b1 = w->bstart[g + 1];
		const double *Bg = w->B + b0 * (size_t)p1;
		double *Wg = w->W + b0 * (size_t)p1;
		size_t nb = b1 - b0;
		/* W = Λd' B T0, then W ← W L^-T */
		for (size_t r = 0; r < nb; r++)
			for (int j = 0; j < p1; j++) {
				double s = 0;
				for (int t = j; t < p1; t++)
					s += Bg[r * (size_t)p1 + (size_t)t] * T0[t * p1 + j];
				Wg[r * (size_t)p1 + (size_t)j] = s;
			}
		for (size_t r = 0; r < nb;) {
			int c = w->bcol[b0 + r];
			if (c >= q2)
				break;
			int k = w->colterm[c];
			int pk = m->terms[k].p;
			const double *T = w->T[k];
			for (int j = 0; j < p1; j++) {
				double tmp[FORMULA_MAX_RE_COLS];
				for (int a = 0; a < pk; a++) {
					double s = 0;
					for (int t = a; t < pk; t++)
						s += T[t * pk + a] *
						     Wg[(r + (size_t)t) * (size_t)p1 + (size_t)j];
					tmp[a] = s;
				}
				for (int a = 0; a < pk; a++)
					Wg[(r + (size_t)a) * (size_t)p1 + (size_t)j] = tmp[a];
			}
			r += (size_t)pk;
		}
		for (size_t r = 0; r < nb; r++) {
			double *x = Wg + r * (size_t)p1;
			for (int i = 0; i < p1; i++) {
				double s = x[i];
				for (int j = 0; j < i; j++)
					s -= L[i * p1 + j] * x[j];
				x[i] = s / L[i * p1 + i];
			}
		}
		/* Σ W_g W_g'. These sums over 10^5..10^6 levels nearly cancel y'y,
		 * and plain double rounding makes the deviance noisy at 1e-11
		 * relative, enough to stall BOBYQA and the finite-difference checks
		 * on large data. When only X and y are touched (one term), levels
		 * are summed in blocks of 64 in plain double and the block sums
		 * compensated (Neumaier); otherwise every product is compensated. */
		if (w->nested) {
			/* the border rows (X, y) are the last mm rows of W_g */
			size_t nbz = nb - mm;
			const double *Wb = Wg + nbz * (size_t)p1;
			for (size_t a = 0; a < mm; a++)
				for (size_t b = 0; b <= a; b++) {
					double sum = 0;
					for (int j = 0; j < p1; j++)
						sum += Wb[a * (size_t)p1 + (size_t)j] *
						       Wb[b * (size_t)p1 + (size_t)j];
					size_t k = b * mm - b * (b + 1) / 2 + a;
					if (mm <= LMM_BLOCK_MAX)
						blk[k] += sum;
					else
						neumaier(&acc[k], &comp[k], sum);
				}
			if (mm <= LMM_BLOCK_MAX && ((g & 63) == 63 || g + 1 == pt->g1))
				for (size_t k = 0; k < npk; k++) {
					neumaier(&acc[k], &comp[k], blk[k]);
					blk[k] = 0;
				}
			if (nbz > 0) {
				size_t l = (size_t)w->bcol[b0] / p2;
				double *a22 = pt->acc2 + l * per2, *a2b = a22 + p2 * p2;
				for (size_t i = 0; i < p2; i++) {
					const double *wi = Wg + i * (size_t)p1;
					for (size_t j = 0; j < p2; j++) {
						double sum = 0;
						for (int t = 0; t < p1; t++)
							sum +=
							    wi[t] * Wg[j * (size_t)p1 + (size_t)t];
						a22[i * p2 + j] += sum;
					}
					for (size_t j = 0; j < mm; j++) {
						double sum = 0;
						for (int t = 0; t < p1; t++)
							sum +=
							    wi[t] * Wb[j * (size_t)p1 + (size_t)t];
						a2b[i * mm + j] += sum;
					}
				}
			}
			continue;
		}
		if (q2 == 0 && mm <= LMM_BLOCK_MAX) {
			for (size_t a = 0; a < nb; a++)
				for (size_t b = 0; b <= a; b++) {
					double sum = 0;
					for (int j = 0; j < p1; j++)
						sum += Wg[a * (size_t)p1 + (size_t)j] *
						       Wg[b * (size_t)p1 + (size_t)j];
					blk[b * mm - b * (b + 1) / 2 + a] += sum;
				}
			if ((g & 63) == 63 || g + 1 == pt->g1) {
				for (size_t k = 0; k < npk; k++) {
					neumaier(&acc[k], &comp[k], blk[k]);
					blk[k] = 0;
				}
			}
			continue;
		}
		for (size_t a = 0; a < nb; a++) {
			size_t ca = (size_t)w->bcol[b0 + a];
			for (size_t b = 0; b < nb; b++) {
				size_t cb = (size_t)w->bcol[b0 + b];
				if (ca < cb)
					continue;
				double sum = 0;
				for (int j = 0; j < p1; j++)
					sum += Wg[a * (size_t)p1 + (size_t)j] *
					       Wg[b * (size_t)p1 + (size_t)j];
				size_t k = cb * mm - cb * (cb + 1) / 2 + ca;
				neumaier(&acc[k], &comp[k], sum);
			}
		}
	}
	{
		int e;
		mant = frexp(mant, &e);
		expo += e;
	}
	pt->mant = mant;
	pt->expo = expo;
	pt->fail = 0;
}

/* The per-level arithmetic specialised for the common small orders, so the
 * compiler unrolls the tiny loops (p1 = 2 is the growth-curve case). */
static void *factor_part(void *arg)
{
	part *pt = arg;
	switch (pt->m->w->p1) {
	case 1: factor_range(pt, 1); break;
	case 2: factor_range(pt, 2); break;
	case 3: factor_range(pt, 3); break;
	default: factor_range(pt, pt->m->w->p1); break;
	}
	return NULL;
}

/* Nested mode, before the levels of the first term are visited: the
 * second term's diagonal blocks T2' C22_l T2 + I and border T2' C2b_l. */
static void nested_init(lmm_model *m)
{
	lmm_work *w = m->w;
	int p2 = w->p2;
	size_t mm = (size_t)w->m;
	const double *T = w->T[1];
	for (int l = 0; l < w->n2; l++) {
		const double *C = w->C22 + (size_t)l * (size_t)(p2 * p2);
		double *L = w->L22 + (size_t)l * (size_t)(p2 * p2);
		const double *B = w->C2b + (size_t)l * (size_t)p2 * mm;
		double *E = w->E2b + (size_t)l * (size_t)p2 * mm;
		for (int i = 0; i < p2; i++)
			for (int j = 0; j < p2; j++) {
				double sum = 0;
				for (int a = i; a < p2; a++)
					for (int b = j; b < p2; b++)
						sum +=
						    T[a * p2 + i] * C[a * p2 + b] * T[b * p2 + j];
				L[i * p2 + j] = sum + (i == j);
			}
		for (int i = 0; i < p2; i++)
			for (size_t j = 0; j < mm; j++) {
				double sum = 0;
				for (int a = i; a < p2; a++)
					sum += T[a * p2 + i] * B[(size_t)a * mm + j];
				E[(size_t)i * mm + j] = sum;
			}
	}
}

/* Nested mode, after the levels: subtract the threads' sums, factor each
 * diagonal block L_l, form E_l = L_l^-1 (border) and take E_l'E_l from the
 * dense border (compensated, like the first term's sums). */
static int nested_finish(lmm_model *m, int np, double *const *acc2, double *ld)
{
	lmm_work *w = m->w;
	size_t p2 = (size_t)w->p2, mm = (size_t)w->m, per2 = p2 * p2 + p2 * mm;
	double sub[LMM_BLOCK_PACKED * 4], comp[LMM_BLOCK_PACKED * 4];
	size_t npk = mm * (mm + 1) / 2;
	if (npk > sizeof sub / sizeof sub[0])
		return -1; /* border too wide for this path; lmm_new checks */
	memset(sub, 0, npk * sizeof *sub);
	memset(comp, 0, npk * sizeof *comp);
	double mant = 1;
	long expo = 0;
	for (size_t l = 0; l < (size_t)w->n2; l++) {
		double *L = w->L22 + l * p2 * p2, *E = w->E2b + l * p2 * mm;
		for (int t = 0; t < np; t++) {
			const double *a22 = acc2[t] + l * per2, *a2b = a22 + p2 * p2;
			for (size_t i = 0; i < p2 * p2; i++)
				L[i] -= a22[i];
			for (size_t i = 0; i < p2 * mm; i++)
				E[i] -= a2b[i];
		}
		if (!chol_small((int)p2, L))
			return -1;
		det_accumulate(L, p2, (size_t)l, &mant, &expo);
		for (size_t j = 0; j < mm; j++)
			for (size_t i = 0; i < p2; i++) {
				double v = E[i * mm + j];
				for (size_t k = 0; k < i; k++)
					v -= L[i * p2 + k] * E[k * mm + j];
				E[i * mm + j] = v / L[i * p2 + i];
			}
		for (size_t a = 0; a < mm; a++)
			for (size_t b = 0; b <= a; b++) {
				double v = 0;
				for (size_t i = 0; i < p2; i++)
					v += E[i * mm + a] * E[i * mm + b];
				neumaier(&sub[b * mm - b * (b + 1) / 2 + a],
				         &comp[b * mm - b * (b + 1) / 2 + a], v);
			}
	}
	for (size_t b = 0; b < mm; b++)
		for (size_t a = b; a < mm; a++) {
			size_t k = b * mm - b * (b + 1) / 2 + a;
			w->Cw[a + b * mm] -= sub[k] + comp[k];
		}
	*ld += log(mant) + (double)expo * M_LN2;
	return 0;
}

/* Factor everything for theta; 0 on success. Leaves L_g in w->Lg, the
 * off-diagonal block in w->W and the dense factor in w->Cw. */
static int factor(lmm_model *m, const double *theta)
{
	lmm_work *w = m->w;
	int q2 = w->q2;
	size_t mm = (size_t)w->m;
	theta_to_T(m, theta);
	/* Cw = Λd' C Λd + diag(I_q2, 0) */
	memcpy(w->Cw, w->C, mm * mm * sizeof *w->Cw);
	if (w->nested)
		nested_init(m);
	for (int k = 1; k < m->nterms && !w->nested; k++) {
		int pk = m->terms[k].p;
		const double *T = w->T[k];
		double tmp[FORMULA_MAX_RE_COLS];
		for (int l = 0; l < m->terms[k].nlev; l++) {
			size_t c0 = (size_t)w->d_off[k] + (size_t)l * (size_t)pk;
			/* columns: Cw[:, c0..] T */
			for (size_t i = 0; i < mm; i++) {
				for (int j = 0; j < pk; j++) {
					double s = 0;
					for (int t = j; t < pk; t++)
						s += w->Cw[i + (c0 + (size_t)t) * mm] *
						     T[t * pk + j];
					tmp[j] = s;
				}
				for (int j = 0; j < pk; j++)
					w->Cw[i + (c0 + (size_t)j) * mm] = tmp[j];
			}
			/* rows: T' Cw[c0.., :] */
			for (size_t i = 0; i < mm; i++) {
				for (int j = 0; j < pk; j++) {
					double s = 0;
					for (int t = j; t < pk; t++)
						s += T[t * pk + j] *
						     w->Cw[(c0 + (size_t)t) + i * mm];
					tmp[j] = s;
				}
				for (int j = 0; j < pk; j++)
					w->Cw[(c0 + (size_t)j) + i * mm] = tmp[j];
			}
		}
	}
	for (int c = 0; c < q2 && !w->nested; c++)
		w->Cw[(size_t)c + (size_t)c * mm] += 1;
	/* the block-diagonal part, level by level, on up to two threads */
	part parts[LMM_THREADS] = {0};
	int np = w->n1 >= 20000 && w->threads > 1 ? w->threads : 1;
	pthread_t tid[LMM_THREADS];
	int started[LMM_THREADS] = {0};
	for (int t = 0; t < np; t++) {
		parts[t] = (part){
		    .m = m,
		    .g0 = (int32_t)((int64_t)w->n1 * t / np),
		    .g1 = (int32_t)((int64_t)w->n1 * (t + 1) / np),
		    .acc = w->acc + (size_t)t * 2 * (mm * (mm + 1) / 2),
		    .comp = w->acc + ((size_t)t * 2 + 1) * (mm * (mm + 1) / 2),
		    .acc2 = w->nested ? w->acc2 + (size_t)t * (size_t)w->n2 *
		                                      ((size_t)(w->p2 * w->p2) + (size_t)w->p2 * mm)
		                      : NULL,
		    .fail = 1};
		if (t > 0 && pthread_create(&tid[t], NULL, factor_part, &parts[t]) == 0)
			started[t] = 1;
	}
	factor_part(&parts[0]);
	for (int t = 1; t < np; t++) {
		if (started[t])
			pthread_join(tid[t], NULL);
		else
			factor_part(&parts[t]); /* no thread: do it here */
	}
	double ld = 0;
	for (int t = 0; t < np; t++) {
		if (parts[t].fail)
			return -1;
		ld += log(parts[t].mant) + (double)parts[t].expo * M_LN2;
	}
	for (size_t cb = 0; cb < mm; cb++)
		for (size_t ca = cb; ca < mm; ca++) {
			size_t k = cb * mm - cb * (cb + 1) / 2 + ca;
			double sub = 0, cs = 0;
			for (int t = 0; t < np; t++) {
				sub += parts[t].acc[k];
				cs += parts[t].comp[k];
			}
			w->Cw[ca + cb * mm] -= sub + cs;
		}
	double *acc2s[LMM_THREADS];
	for (int t = 0; t < np; t++)
		acc2s[t] = parts[t].acc2;
	if (w->nested && nested_finish(m, np, acc2s, &ld) != 0)
		return -1;
	if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', (lapack_int)mm, w->Cw, (lapack_int)mm) != 0)
		return -1;
	int off = w->nested ? 0 : q2; /* where X starts in the dense factor */
	for (int c = 0; c < off; c++)
		ld += 2 * log(w->Cw[(size_t)c + (size_t)c * mm]);
	double ldx = 0;
	for (int c = off; c < off + m->p; c++)
		ldx += 2 * log(w->Cw[(size_t)c + (size_t)c * mm]);
	double r = w->Cw[(mm - 1) + (mm - 1) * mm];
	w->ldL = ld;
	w->ldRX = ldx;
	w->r2 = r * r;
	return 0;
}

double lmm_deviance(lmm_model *m, const double *theta, int reml)
{
	lmm_work *w = m->w;
	w->nevals++;
	if (factor(m, theta) != 0 || !(w->r2 > 0))
		return HUGE_VAL;
	double n = (double)m->n, p = (double)m->p;
	if (reml)
		return w->ldL + w->ldRX + (n - p) * (1 + log(2 * M_PI * w->r2 / (n - p)));
	return w->ldL + n * (1 + log(2 * M_PI * w->r2 / n));
}

static double objective(unsigned n, const double *x, double *grad, void *data)
{
	(void)n;
	(void)grad;
	lmm_model *m = data;
	return lmm_deviance(m, x, m->w->reml);
}

/* Gradient g and Hessian H (row-major) of the deviance at theta by
 * central differences with step h, as lme4's deriv12 computes them. */
static void derivs(lmm_model *m, const double *theta, double f0, double h, double *g, double *H)
{
	int nt = m->ntheta;
	double th[64];
	memcpy(th, theta, (size_t)nt * sizeof *th);
	for (int i = 0; i < nt; i++) {
		th[i] = theta[i] + h;
		double fp = lmm_deviance(m, th, m->reml);
		th[i] = theta[i] - h;
		double fm = lmm_deviance(m, th, m->reml);
		th[i] = theta[i];
		g[i] = (fp - fm) / (2 * h);
		H[i * nt + i] = (fp - 2 * f0 + fm) / (h * h);
	}
	for (int i = 0; i < nt; i++)
		for (int j = 0; j < i; j++) {
			double f4[4];
			for (int s = 0; s < 4; s++) {
				th[i] = theta[i] + (s & 1 ? -h : h);
				th[j] = theta[j] + (s & 2 ? -h : h);
				f4[s] = lmm_deviance(m, th, m->reml);
			}
			th[i] = theta[i];
			th[j] = theta[j];
			H[i * nt + j] = H[j * nt + i] =
			    (f4[0] - f4[1] - f4[2] + f4[3]) / (4 * h * h);
		}
}

/* 1 if theta index i is a diagonal element (bounded below by 0). */
static int is_diag_theta(const lmm_model *m, int i)
{
	for (int k = 0; k < m->nterms; k++) {
		const lmm_term *t = &m->terms[k];
		int idx = t->theta_off;
		for (int j = 0; j < t->p; j++) {
			if (idx == i)
				return 1;
			idx += t->diag ? 1 : t->p - j;
		}
	}
	return 0;
}

/* Newton steps on the finite-difference gradient and Hessian after BOBYQA.
 * On large data (10^6 rows) the deviance is ~10^6 and BOBYQA's quadratic
 * model stops where the gradient is still of order 1 (lme4 then warns that
 * the model failed to converge); a few safeguarded Newton steps, accepted
 * only when they lower the deviance, finish the job. */
static void polish(lmm_model *m, const lmm_opts *o, double *fmin)
{
	int nt = m->ntheta;
	double g[64], H[64 * 64], L[64 * 64], d[64], th[64];
	for (int it = 0; it < 8; it++) {
		derivs(m, m->theta, *fmin, o->fd_step, g, H);
		memcpy(L, H, (size_t)(nt * nt) * sizeof *L);
		if (!chol_small(nt, L))
			return;
		/* d = -H^-1 g */
		for (int i = 0; i < nt; i++) {
			double s = -g[i];
			for (int j = 0; j < i; j++)
				s -= L[i * nt + j] * d[j];
			d[i] = s / L[i * nt + i];
		}
		for (int i = nt - 1; i >= 0; i--) {
			double s = d[i];
			for (int j = i + 1; j < nt; j++)
				s -= L[j * nt + i] * d[j];
			d[i] = s / L[i * nt + i];
		}
		int improved = 0;
		for (double step = 1; step > 1e-3 && !improved; step /= 4) {
			for (int i = 0; i < nt; i++) {
				th[i] = m->theta[i] + step * d[i];
				if (th[i] < 0 && is_diag_theta(m, i))
					th[i] = 0;
			}
			double f = lmm_deviance(m, th, m->reml);
			if (f < *fmin) {
				memcpy(m->theta, th, (size_t)nt * sizeof *th);
				*fmin = f;
				improved = 1;
			}
		}
		if (!improved)
			return;
	}
}

/* lme4's convergence checks (checkConv): the gradient and Hessian of the
 * deviance by central differences; the gradient scaled by the Cholesky
 * factor of the Hessian must be small. */
static void check_convergence(lmm_model *m, const lmm_opts *o, double fmin)
{
	int nt = m->ntheta;
	double g[64], H[64 * 64];
	derivs(m, m->theta, fmin, o->fd_step, g, H);
	m->max_grad = 0;
	for (int i = 0; i < nt; i++)
		if (fabs(g[i]) > m->max_grad)
			m->max_grad = fabs(g[i]);
	double Hc[64 * 64], ev[64];
	memcpy(Hc, H, (size_t)(nt * nt) * sizeof *Hc);
	m->min_eig = NAN;
	if (LAPACKE_dsyev(LAPACK_ROW_MAJOR, 'N', 'L', nt, Hc, nt, ev) == 0)
		m->min_eig = ev[0];
	memcpy(Hc, H, (size_t)(nt * nt) * sizeof *Hc);
	int hess_ok = chol_small(nt, Hc);
	if (hess_ok) {
		/* solve(chol(H), g) in R: R = L', back substitution */
		double sg[64] = {0};
		for (int i = nt - 1; i >= 0; i--) {
			double s = g[i];
			for (int j = i + 1; j < nt; j++)
				s -= Hc[j * nt + i] * sg[j];
			sg[i] = s / Hc[i * nt + i];
		}
		m->max_scgrad = 0;
		for (int i = 0; i < nt; i++) {
			double v = fmin_d(fabs(sg[i]), fabs(g[i]));
			if (v > m->max_scgrad)
				m->max_scgrad = v;
		}
	} else {
		m->max_scgrad = m->max_grad;
	}
	/* restore the factorisation at the optimum */
	lmm_deviance(m, m->theta, m->reml);
	m->singular = 0;
	for (int k = 0; k < m->nterms; k++) {
		const lmm_term *t = &m->terms[k];
		int idx = t->theta_off;
		for (int j = 0; j < t->p; j++) {
			if (fabs(m->theta[idx]) < o->sing_tol)
				m->singular = 1;
			idx += t->diag ? 1 : t->p - j;
		}
	}
	int opt_ok = m->opt_status > 0 && m->opt_status != NLOPT_MAXEVAL_REACHED;
	int grad_ok = m->max_scgrad < o->grad_tol;
	m->converged = opt_ok && grad_ok && (hess_ok || m->singular);
	if (!opt_ok)
		snprintf(m->conv_msg, sizeof m->conv_msg,
		         "optimizer stopped early (NLopt status %d)", m->opt_status);
	else if (!grad_ok)
		snprintf(m->conv_msg, sizeof m->conv_msg,
		         "failed to converge with max|grad| = %.3g (tol = %g)", m->max_scgrad,
		         o->grad_tol);
	else if (!hess_ok && !m->singular)
		snprintf(m->conv_msg, sizeof m->conv_msg,
		         "Hessian is not positive definite (smallest eigenvalue %.3g)", m->min_eig);
	else if (m->singular)
		snprintf(m->conv_msg, sizeof m->conv_msg, "boundary (singular) fit");
	else
		snprintf(m->conv_msg, sizeof m->conv_msg, "converged");
}

/* Estimates at the optimum from the factorisation (Bates et al. 2015,
 * section 3.6): solve for [u2; beta] with the dense factor, then u1 level by
 * level; b = Λu. vcov(beta) = σ² (R_X R_X')^-1. */
static al_status estimates(lmm_model *m, al_err *err)
{
	lmm_work *w = m->w;
	int p = m->p, p1 = w->p1, q2 = w->q2;
	size_t mm = (size_t)w->m;
	int off = w->nested ? 0 : q2; /* where X starts in the dense factor */
	al_status st = AL_OK;
	/* x = [u2; beta], indexed like the columns of D without y */
	double *x = malloc(((size_t)q2 + (size_t)p) * sizeof *x);
	double *rx = malloc((size_t)(p * p) * sizeof *rx);
	if (x == NULL || rx == NULL) {
		st = al_err_set(err, AL_ENOMEM, "out of memory");
		goto out;
	}
	double *xd = x + (q2 - off); /* the part the dense factor solves */
	for (size_t i = 0; i + 1 < mm; i++)
		xd[i] = w->Cw[(mm - 1) + i * mm];
	if (LAPACKE_dtrtrs(LAPACK_COL_MAJOR, 'L', 'T', 'N', (lapack_int)(mm - 1), 1, w->Cw,
	                   (lapack_int)mm, xd, (lapack_int)(mm - 1)) != 0) {
		st = al_err_set(err, AL_ENUMERIC, "singular system at the optimum");
		goto out;
	}
	if (w->nested) {
		/* u_l = L_l^-T (E_l[:, y] - E_l[:, X] beta), level by level */
		size_t p2 = (size_t)w->p2;
		for (size_t l = 0; l < (size_t)w->n2; l++) {
			const double *L = w->L22 + l * p2 * p2, *E = w->E2b + l * p2 * mm;
			double *u = x + l * p2;
			for (size_t i = 0; i < p2; i++) {
				double v = E[i * mm + mm - 1];
				for (int j = 0; j < p; j++)
					v -= E[i * mm + (size_t)j] * x[q2 + j];
				u[i] = v;
			}
			for (size_t i = p2; i-- > 0;) {
				double v = u[i];
				for (size_t j = i + 1; j < p2; j++)
					v -= L[j * p2 + i] * u[j];
				u[i] = v / L[i * p2 + i];
			}
		}
	}
	for (int j = 0; j < p; j++)
		m->beta[j] = x[q2 + j];
	double n = (double)m->n;
	double s2 = w->r2 / (m->reml ? n - p : n);
	m->sigma = sqrt(s2);
	/* conditional modes of the first term */
	const double *T0 = w->T[0];
	for (int32_t g = 0; g < w->n1; g++) {
		size_t b0 = w->bstart[g], b1 = w->bstart[g + 1];
		const double *Wg = w->W + b0 * (size_t)p1;
		const double *L = w->Lg + (size_t)g * (size_t)(p1 * p1);
		double rhs[FORMULA_MAX_RE_COLS] = {0}, u[FORMULA_MAX_RE_COLS] = {0};
		size_t nb = b1 - b0;
		for (int j = 0; j < p1; j++) {
			double s = Wg[(nb - 1) * (size_t)p1 + (size_t)j];
			for (size_t r = 0; r + 1 < nb; r++)
				s -= Wg[r * (size_t)p1 + (size_t)j] * x[w->bcol[b0 + r]];
			rhs[j] = s;
		}
		for (int i = p1 - 1; i >= 0; i--) {
			double s = rhs[i];
			for (int j = i + 1; j < p1; j++)
				s -= L[j * p1 + i] * u[j];
			u[i] = s / L[i * p1 + i];
		}
		double *b = m->terms[0].ranef + (size_t)g * (size_t)p1;
		for (int i = 0; i < p1; i++) {
			double s = 0;
			for (int j = 0; j <= i; j++)
				s += T0[i * p1 + j] * u[j];
			b[i] = s;
		}
	}
	for (int k = 1; k < m->nterms; k++) {
		int pk = m->terms[k].p;
		const double *T = w->T[k];
		for (int l = 0; l < m->terms[k].nlev; l++) {
			const double *u = x + w->d_off[k] + (size_t)l * (size_t)pk;
			double *b = m->terms[k].ranef + (size_t)l * (size_t)pk;
			for (int i = 0; i < pk; i++) {
				double s = 0;
				for (int j = 0; j <= i; j++)
					s += T[i * pk + j] * u[j];
				b[i] = s;
			}
		}
	}
	/* vcov */
	for (int a = 0; a < p; a++)
		for (int b = 0; b < p; b++)
			rx[a + b * p] =
			    a >= b ? w->Cw[(size_t)(off + a) + (size_t)(off + b) * mm] : 0;
	if (LAPACKE_dpotri(LAPACK_COL_MAJOR, 'L', p, rx, p) != 0) {
		st = al_err_set(err, AL_ENUMERIC, "R_X is singular at the optimum");
		goto out;
	}
	for (int a = 0; a < p; a++)
		for (int b = 0; b < p; b++) {
			double v = a >= b ? rx[a + b * p] : rx[b + a * p];
			m->vcov[a * p + b] = s2 * v;
		}
	for (int j = 0; j < p; j++)
		m->se[j] = sqrt(m->vcov[j * p + j]);
	/* variance components */
	for (int k = 0; k < m->nterms; k++) {
		lmm_term *t = &m->terms[k];
		double cov[FORMULA_MAX_RE_COLS * FORMULA_MAX_RE_COLS];
		lmm_term_cov(m, k, cov);
		for (int i = 0; i < t->p; i++)
			t->sd[i] = sqrt(cov[i * t->p + i]);
		for (int i = 0; i < t->p; i++)
			for (int j = 0; j < t->p; j++) {
				double d = t->sd[i] * t->sd[j];
				t->corr[i][j] = i == j ? 1 : (d > 0 ? cov[i * t->p + j] / d : 0);
			}
	}
out:
	free(x);
	free(rx);
	return st;
}

void lmm_term_cov(const lmm_model *m, int k, double *cov)
{
	const lmm_term *t = &m->terms[k];
	const double *T = m->w->T[k];
	int p = t->p;
	double s2 = m->sigma * m->sigma;
	for (int i = 0; i < p; i++)
		for (int j = 0; j < p; j++) {
			double s = 0;
			for (int l = 0; l < p; l++)
				s += T[i * p + l] * T[j * p + l];
			cov[i * p + j] = s2 * s;
		}
}

/* One BOBYQA run from theta; returns NLopt's status. */
static int optimise(lmm_model *m, const lmm_opts *o, double *theta, double *fmin)
{
	int nt = m->ntheta;
	nlopt_opt opt = nlopt_create(NLOPT_LN_BOBYQA, (unsigned)nt);
	if (opt == NULL)
		return NLOPT_OUT_OF_MEMORY;
	double lb[64], ub[64], step[64];
	for (int i = 0; i < nt; i++) {
		lb[i] = -HUGE_VAL;
		ub[i] = HUGE_VAL;
		step[i] = 0.2 * (fabs(theta[i]) > 0.05 ? fabs(theta[i]) : 1);
	}
	for (int k = 0; k < m->nterms; k++) {
		const lmm_term *t = &m->terms[k];
		int idx = t->theta_off;
		for (int j = 0; j < t->p; j++) {
			lb[idx] = 0;
			if (theta[idx] < 0)
				theta[idx] = 0;
			idx += t->diag ? 1 : t->p - j;
		}
	}
	nlopt_set_lower_bounds(opt, lb);
	nlopt_set_upper_bounds(opt, ub);
	nlopt_set_initial_step(opt, step);
	nlopt_set_min_objective(opt, objective, m);
	if (o->ftol_abs > 0)
		nlopt_set_ftol_abs(opt, o->ftol_abs);
	nlopt_set_xtol_abs1(opt, o->xtol_abs);
	nlopt_set_maxeval(opt, o->maxeval);
	nlopt_result r = nlopt_optimize(opt, theta, fmin);
	nlopt_destroy(opt);
	return (int)r;
}

al_status lmm_fit(lmm_model *m, const lmm_opts *o, al_err *err)
{
	lmm_work *w = m->w;
	int nt = m->ntheta;
	if (nt > 64)
		return al_err_set(err, AL_ELIMIT, "more than 64 covariance parameters");
	m->reml = o->reml;
	w->reml = o->reml;
	w->opts = o;
	w->nevals = 0;
	/* lme4's start: 1 on diagonals, 0 below */
	for (int k = 0; k < m->nterms; k++) {
		const lmm_term *t = &m->terms[k];
		int idx = t->theta_off;
		for (int j = 0; j < t->p; j++) {
			m->theta[idx] = 1;
			idx += t->diag ? 1 : t->p - j;
		}
	}
	double f0 = lmm_deviance(m, m->theta, m->reml);
	if (!isfinite(f0))
		return al_err_set(err, AL_ENUMERIC,
		                  "%s: the deviance cannot be evaluated at the start "
		                  "(is the response constant?)",
		                  m->fr->file);
	double fmin = f0;
	m->opt_status = optimise(m, o, m->theta, &fmin);
	/* BOBYQA stops on a small change in f; a restart from the optimum with
	 * fresh trust-region radii costs little and often finds a bit more */
	if (m->opt_status > 0) {
		double th2[64], f2 = fmin;
		memcpy(th2, m->theta, (size_t)nt * sizeof *th2);
		int r2 = optimise(m, o, th2, &f2);
		if (r2 > 0 && f2 < fmin) {
			memcpy(m->theta, th2, (size_t)nt * sizeof *th2);
			fmin = f2;
		}
	}
	if (m->opt_status < 0 && m->opt_status != NLOPT_ROUNDOFF_LIMITED)
		return al_err_set(err, AL_ENUMERIC, "optimizer failed (NLopt status %d)",
		                  m->opt_status);
	if (m->opt_status == NLOPT_ROUNDOFF_LIMITED)
		m->opt_status = NLOPT_SUCCESS;
	polish(m, o, &fmin);
	check_convergence(m, o, fmin); /* ends with the factorisation at theta */
	m->criterion = lmm_deviance(m, m->theta, m->reml);
	m->nevals = w->nevals;
	al_status st = estimates(m, err);
	if (st != AL_OK)
		return st;
	m->df = m->p + m->ntheta + 1;
	m->loglik = -m->criterion / 2;
	m->aic = m->criterion + 2.0 * m->df;
	m->bic = m->criterion + log((double)m->n) * m->df;
	return AL_OK;
}

al_status lmm_predict(const lmm_model *m, const frame *nd, double *fit, double *var, al_err *err)
{
	const formula *f = &m->f;
	const lmm_work *w = m->w;
	al_status st = AL_OK;
	int fcol[FORMULA_MAX_COLS];
	int32_t *maps[FORMULA_MAX_COLS] = {0};
	double cv[FORMULA_MAX_COLS], vv[FORMULA_MAX_VARS];
	int p = m->p;
	for (int c = 0; c < f->ncols; c++) {
		fcol[c] = frame_find(nd, f->cols[c]);
		const frame_col *tc = &m->fr->cols[w->fcol[c]];
		if (fcol[c] < 0) {
			if (c == f->vars[f->response].col)
				continue;
			st =
			    al_err_set(err, AL_ENOTFOUND, "%s: no column %s", nd->file, f->cols[c]);
			goto out;
		}
		const frame_col *nc = &nd->cols[fcol[c]];
		if (tc->categorical != nc->categorical) {
			st = al_err_set(err, AL_EINPUT,
			                "%s: column %s is %s here but was %s in the fit", nd->file,
			                f->cols[c], nc->categorical ? "categorical" : "numeric",
			                tc->categorical ? "categorical" : "numeric");
			goto out;
		}
		if (tc->categorical) {
			maps[c] = malloc((size_t)(nc->nlevels ? nc->nlevels : 1) * sizeof *maps[c]);
			if (maps[c] == NULL) {
				st = al_err_set(err, AL_ENOMEM, "out of memory");
				goto out;
			}
			for (int32_t l = 0; l < nc->nlevels; l++)
				maps[c][l] = frame_level(tc, nc->levels[l]);
		}
	}
	for (size_t i = 0; i < nd->n; i++) {
		for (int c = 0; c < f->ncols; c++) {
			if (fcol[c] < 0) {
				cv[c] = 0;
				continue;
			}
			const frame_col *nc = &nd->cols[fcol[c]];
			cv[c] = nc->categorical ? (double)maps[c][nc->code[i]] : nc->num[i];
		}
		for (int v = 0; v < f->nvars; v++) {
			if (v == f->response)
				continue;
			if (w->varcat[v]) {
				vv[v] = cv[f->vars[v].col];
				continue;
			}
			vv[v] = formula_eval(f, f->vars[v].expr, cv);
			if (!isfinite(vv[v])) {
				st = al_err_set(err, AL_EINPUT, "%s:%u: %s is undefined", nd->file,
				                (unsigned)nd->line[i], f->vars[v].label);
				goto out;
			}
		}
		double x[LMM_MAX_P], mu = 0, v = m->sigma * m->sigma;
		for (int j = 0; j < p; j++) {
			const colspec *s = &w->xspec[j];
			for (int t = 0; t < s->nf; t++)
				if (s->level[t] >= 0 && vv[s->var[t]] < 0) {
					const frame_col *nc =
					    &nd->cols[fcol[f->vars[s->var[t]].col]];
					st = al_err_set(err, AL_ENOTFOUND,
					                "%s:%u: column %s: level not in the "
					                "fitted data (got \"%s\")",
					                nd->file, (unsigned)nd->line[i], nc->name,
					                nc->levels[nc->code[i]]);
					goto out;
				}
			x[j] = spec_value(s, vv);
			mu += x[j] * m->beta[j];
		}
		for (int a = 0; a < p; a++)
			for (int b = 0; b < p; b++)
				v += x[a] * m->vcov[a * p + b] * x[b];
		for (int k = 0; k < m->nterms; k++) {
			const lmm_term *t = &m->terms[k];
			const formula_re *re = NULL;
			/* find this term's grouping variables by its label */
			for (int r = 0; r < f->nre; r++)
				if (strcmp(f->re[r].label, t->group) == 0 &&
				    f->re[r].diag == t->diag)
					re = &f->re[r];
			double z[FORMULA_MAX_RE_COLS];
			for (int j = 0; j < t->p; j++)
				z[j] = spec_value(&w->zspec[k][j], vv);
			int32_t lev = -1;
			if (re != NULL && re->ngroup == 1) {
				lev = (int32_t)vv[re->group[0]];
			} else if (re != NULL && w->keys[k] != NULL) {
				int64_t key = 0, mult = 1;
				for (int g = re->ngroup - 1; g >= 0 && key >= 0; g--) {
					int32_t c = (int32_t)vv[re->group[g]];
					if (c < 0)
						key = -1;
					else
						key += mult * c;
					mult *=
					    m->fr->cols[w->fcol[f->vars[re->group[g]].col]].nlevels;
				}
				int32_t lo = 0, hi = t->nlev;
				while (key >= 0 && lo < hi) {
					int32_t mid = lo + (hi - lo) / 2;
					if (w->keys[k][mid] < key)
						lo = mid + 1;
					else
						hi = mid;
				}
				if (key >= 0 && lo < t->nlev && w->keys[k][lo] == key)
					lev = lo;
			}
			if (lev >= 0) {
				for (int j = 0; j < t->p; j++)
					mu +=
					    z[j] * t->ranef[(size_t)lev * (size_t)t->p + (size_t)j];
			} else {
				double cov[FORMULA_MAX_RE_COLS * FORMULA_MAX_RE_COLS];
				lmm_term_cov(m, k, cov);
				for (int a = 0; a < t->p; a++)
					for (int b = 0; b < t->p; b++)
						v += z[a] * cov[a * t->p + b] * z[b];
			}
		}
		fit[i] = mu;
		var[i] = v;
	}
out:
	for (int c = 0; c < FORMULA_MAX_COLS; c++)
		free(maps[c]);
	return st;
}

void lmm_fitted(const lmm_model *m, double *fitted, double *y)
{
	const lmm_work *w = m->w;
	double vv[FORMULA_MAX_VARS];
	for (size_t i = 0; i < m->n; i++) {
		/* rows were checked finite when the model was built */
		(void)row_vars(m, m->fr, w->fcol, i, vv);
		double mu = 0;
		for (int j = 0; j < m->p; j++)
			mu += spec_value(&w->xspec[j], vv) * m->beta[j];
		for (int k = 0; k < m->nterms; k++) {
			const lmm_term *t = &m->terms[k];
			const double *b = t->ranef + (size_t)t->code[i] * (size_t)t->p;
			for (int j = 0; j < t->p; j++)
				mu += spec_value(&w->zspec[k][j], vv) * b[j];
		}
		fitted[i] = mu;
		y[i] = vv[m->f.response];
	}
}

/* The kinds of the formula's columns for frame_load: grouping columns are
 * categorical, columns inside an expression and the response numeric. */
void lmm_column_kinds(const formula *f, int *cat)
{
	for (int c = 0; c < f->ncols; c++) {
		cat[c] = FRAME_AUTO;
		for (int k = 0; k < f->nre; k++)
			for (int g = 0; g < f->re[k].ngroup; g++)
				if (f->vars[f->re[k].group[g]].col == c)
					cat[c] = FRAME_CATEGORICAL;
	}
	for (int v = 0; v < f->nvars; v++) {
		if (f->vars[v].col >= 0 && v != f->response)
			continue;
		formula_mark_cols(f, f->vars[v].expr, cat, FRAME_NUMERIC, FRAME_CATEGORICAL);
	}
}
