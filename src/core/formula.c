/* formula.c: a recursive-descent parser for lme4 model formulas (formula.h).
 *
 * Terms follow R's formula algebra (Chambers & Hastie 1992, as implemented
 * by R's terms()): `+` is union, `-` removes, `:` is interaction, `a*b` is
 * a + b + a:b, `a/b` is a + a:b, `0`/`-1` drop the intercept; terms are then
 * ordered by degree, stably. Random-effect terms `(lhs | g)` follow lme4:
 * `(x || g)` has independent effects, `(1 | a/b)` expands to (1 | a) and
 * (1 | b:a), the names lme4 gives them. */
#include "formula.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SET_MAX FORMULA_MAX_TERMS

/* A set of terms; the empty term (mask 0) is the intercept. */
typedef struct tset {
	int n;
	formula_term t[SET_MAX];
	int drop_icpt; /* a literal 0 was added: remove the intercept */
} tset;

typedef struct parser {
	formula *f;
	const char *s;
	int pos;
	al_err *err;
	int failed;
} parser;

int formula_term_order(formula_term t)
{
	int k = 0;
	while (t) {
		t &= t - 1;
		k++;
	}
	return k;
}

size_t formula_caret(const formula *f, int pos, char *out, size_t outsz)
{
	int n = snprintf(out, outsz, "  %s\n  %*s^", f->text, pos, "");
	if (n < 0)
		return 0;
	return (size_t)n < outsz ? (size_t)n : outsz - 1;
}

static void fail(parser *p, int pos, const char *what)
{
	if (p->failed)
		return;
	p->failed = 1;
	char caret[FORMULA_MAX_TEXT * 2 + 16];
	formula_caret(p->f, pos, caret, sizeof caret);
	al_err_set(p->err, AL_EINPUT, "formula: %s (column %d)\n%s", what, pos + 1, caret);
}

static void fail_limit(parser *p, int pos, const char *what)
{
	if (p->failed)
		return;
	p->failed = 1;
	al_err_set(p->err, AL_ELIMIT, "formula: %s (column %d)", what, pos + 1);
}

static void skip_ws(parser *p)
{
	while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
	       p->s[p->pos] == '\r')
		p->pos++;
}

static char peek(parser *p)
{
	skip_ws(p);
	return p->s[p->pos];
}

static int accept(parser *p, char c)
{
	if (peek(p) == c) {
		p->pos++;
		return 1;
	}
	return 0;
}

static int is_ident_start(char c)
{
	return isalpha((unsigned char)c) || c == '.' || c == '_' || c == '`';
}

/* Read an identifier (or `quoted name`) into out. */
static int read_ident(parser *p, char *out, size_t outsz)
{
	skip_ws(p);
	int start = p->pos;
	size_t n = 0;
	if (p->s[p->pos] == '`') {
		p->pos++;
		while (p->s[p->pos] && p->s[p->pos] != '`') {
			if (n + 1 < outsz)
				out[n++] = p->s[p->pos];
			p->pos++;
		}
		if (p->s[p->pos] != '`') {
			fail(p, start, "unterminated `name`");
			return 0;
		}
		p->pos++;
	} else {
		if (!is_ident_start(p->s[p->pos])) {
			fail(p, start, "expected a column name");
			return 0;
		}
		while (isalnum((unsigned char)p->s[p->pos]) || p->s[p->pos] == '.' ||
		       p->s[p->pos] == '_') {
			if (n + 1 < outsz)
				out[n++] = p->s[p->pos];
			p->pos++;
		}
	}
	if (n + 1 >= outsz) {
		fail_limit(p, start, "name too long");
		return 0;
	}
	out[n] = '\0';
	return 1;
}

static int add_col(parser *p, const char *name, int pos)
{
	formula *f = p->f;
	for (int i = 0; i < f->ncols; i++)
		if (strcmp(f->cols[i], name) == 0)
			return i;
	if (f->ncols == FORMULA_MAX_COLS) {
		fail_limit(p, pos, "too many columns");
		return -1;
	}
	snprintf(f->cols[f->ncols], FORMULA_LABEL, "%s", name);
	f->col_pos[f->ncols] = pos;
	return f->ncols++;
}

static int add_node(parser *p, formula_op op, double num, int col, int a, int b, int pos)
{
	formula *f = p->f;
	if (f->nnodes == FORMULA_MAX_NODES) {
		fail_limit(p, pos, "expression too long");
		return -1;
	}
	formula_node *n = &f->nodes[f->nnodes];
	n->op = op;
	n->num = num;
	n->col = col;
	n->a = a;
	n->b = b;
	return f->nnodes++;
}

/* Find or add a variable by label. */
static int add_var(parser *p, const char *label, int expr, int col, int pos)
{
	formula *f = p->f;
	for (int i = 0; i < f->nvars; i++)
		if (strcmp(f->vars[i].label, label) == 0)
			return i;
	if (f->nvars == FORMULA_MAX_VARS) {
		fail_limit(p, pos, "too many variables");
		return -1;
	}
	formula_var *v = &f->vars[f->nvars];
	snprintf(v->label, sizeof v->label, "%s", label);
	v->expr = expr;
	v->col = col;
	v->pos = pos;
	return f->nvars++;
}

/* ---- numeric expressions inside function calls ---- */

static int aexpr(parser *p);

static const struct {
	const char *name;
	formula_op op;
} funcs[] = {
    {"log", FX_LOG}, {"log2", FX_LOG2}, {"log10", FX_LOG10}, {"log1p", FX_LOG1P},
    {"exp", FX_EXP}, {"sqrt", FX_SQRT}, {"abs", FX_ABS},
};

static int aatom(parser *p)
{
	char c = peek(p);
	int start = p->pos;
	if (c == '(') {
		p->pos++;
		int e = aexpr(p);
		if (!accept(p, ')'))
			fail(p, p->pos, "expected ')'");
		return e;
	}
	if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)p->s[p->pos + 1]))) {
		char *end;
		double v = strtod(p->s + p->pos, &end);
		p->pos = (int)(end - p->s);
		return add_node(p, FX_NUM, v, -1, -1, -1, start);
	}
	if (!is_ident_start(c)) {
		fail(p, start, "expected a number, a column or '('");
		return -1;
	}
	char name[FORMULA_LABEL];
	if (!read_ident(p, name, sizeof name))
		return -1;
	if (peek(p) == '(') {
		p->pos++;
		int op = -1;
		if (strcmp(name, "I") == 0)
			op = -2;
		for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++)
			if (strcmp(name, funcs[i].name) == 0)
				op = (int)funcs[i].op;
		if (op == -1) {
			fail(
			    p, start,
			    "unknown function (known: log, log2, log10, log1p, exp, sqrt, abs, I)");
			return -1;
		}
		int e = aexpr(p);
		if (!accept(p, ')')) {
			fail(p, p->pos, "expected ')'");
			return -1;
		}
		return op == -2 ? e : add_node(p, (formula_op)op, 0, -1, e, -1, start);
	}
	int col = add_col(p, name, start);
	if (col < 0)
		return -1;
	return add_node(p, FX_COL, 0, col, -1, -1, start);
}

static int afactor(parser *p);

static int apow(parser *p)
{
	int a = aatom(p);
	int pos = p->pos;
	if (!p->failed && accept(p, '^')) {
		int b = afactor(p);
		return add_node(p, FX_POW, 0, -1, a, b, pos);
	}
	return a;
}

static int afactor(parser *p)
{
	int pos = p->pos;
	if (accept(p, '-')) {
		int a = afactor(p);
		return add_node(p, FX_NEG, 0, -1, a, -1, pos);
	}
	if (accept(p, '+'))
		return afactor(p);
	return apow(p);
}

static int aterm(parser *p)
{
	int a = afactor(p);
	while (!p->failed) {
		int pos = p->pos;
		if (accept(p, '*'))
			a = add_node(p, FX_MUL, 0, -1, a, afactor(p), pos);
		else if (accept(p, '/'))
			a = add_node(p, FX_DIV, 0, -1, a, afactor(p), pos);
		else
			break;
	}
	return a;
}

static int aexpr(parser *p)
{
	int a = aterm(p);
	while (!p->failed) {
		int pos = p->pos;
		if (accept(p, '+'))
			a = add_node(p, FX_ADD, 0, -1, a, aterm(p), pos);
		else if (accept(p, '-'))
			a = add_node(p, FX_SUB, 0, -1, a, aterm(p), pos);
		else
			break;
	}
	return a;
}

double formula_eval(const formula *f, int node, const double *vals)
{
	const formula_node *n = &f->nodes[node];
	double a = n->a >= 0 ? formula_eval(f, n->a, vals) : 0;
	double b = n->b >= 0 ? formula_eval(f, n->b, vals) : 0;
	switch (n->op) {
	case FX_NUM: return n->num;
	case FX_COL: return vals[n->col];
	case FX_NEG: return -a;
	case FX_ADD: return a + b;
	case FX_SUB: return a - b;
	case FX_MUL: return a * b;
	case FX_DIV: return a / b;
	case FX_POW: return b == 2 ? a * a : pow(a, b);
	case FX_LOG: return a > 0 ? log(a) : NAN;
	case FX_LOG2: return a > 0 ? log2(a) : NAN;
	case FX_LOG10: return a > 0 ? log10(a) : NAN;
	case FX_LOG1P: return a > -1 ? log1p(a) : NAN;
	case FX_EXP: return exp(a);
	case FX_SQRT: return a >= 0 ? sqrt(a) : NAN;
	case FX_ABS: return fabs(a);
	}
	return NAN;
}

void formula_mark_cols(const formula *f, int node, int *mark, int value, int keep)
{
	if (node < 0)
		return;
	const formula_node *n = &f->nodes[node];
	if (n->op == FX_COL && mark[n->col] != keep)
		mark[n->col] = value;
	formula_mark_cols(f, n->a, mark, value, keep);
	formula_mark_cols(f, n->b, mark, value, keep);
}

/* ---- term algebra ---- */

static int set_has(const tset *s, formula_term t)
{
	for (int i = 0; i < s->n; i++)
		if (s->t[i] == t)
			return 1;
	return 0;
}

static void set_add(parser *p, tset *s, formula_term t)
{
	if (set_has(s, t))
		return;
	if (s->n == SET_MAX) {
		fail_limit(p, p->pos, "too many terms");
		return;
	}
	s->t[s->n++] = t;
}

static void set_union(parser *p, tset *a, const tset *b)
{
	for (int i = 0; i < b->n; i++)
		set_add(p, a, b->t[i]);
	if (b->drop_icpt)
		a->drop_icpt = 1;
}

static void set_remove(tset *a, formula_term t)
{
	for (int i = 0; i < a->n; i++)
		if (a->t[i] == t) {
			memmove(&a->t[i], &a->t[i + 1], (size_t)(a->n - i - 1) * sizeof a->t[0]);
			a->n--;
			return;
		}
}

static void set_product(parser *p, tset *out, const tset *a, const tset *b)
{
	tset r = {0};
	for (int i = 0; i < a->n; i++)
		for (int j = 0; j < b->n; j++)
			set_add(p, &r, a->t[i] | b->t[j]);
	*out = r;
}

static void parse_sum(parser *p, tset *s, int top);

/* The label of a call: its source text with runs of blanks made one space. */
static void call_label(parser *p, int start, int end, char *out, size_t outsz)
{
	size_t n = 0;
	int space = 0;
	for (int i = start; i < end && n + 1 < outsz; i++) {
		char c = p->s[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			space = 1;
			continue;
		}
		if (space && n > 0 && n + 2 < outsz)
			out[n++] = ' ';
		space = 0;
		out[n++] = c;
	}
	out[n] = '\0';
	if (end - start >= (int)outsz)
		fail_limit(p, start, "expression too long");
}

static void parse_re(parser *p, const tset *lhs, int diag, int start);

static void parse_atom(parser *p, tset *s)
{
	s->n = 0;
	s->drop_icpt = 0;
	char c = peek(p);
	int start = p->pos;
	if (c == '(') {
		p->pos++;
		tset in = {0};
		/* a random-effect term has an implicit intercept on its left side */
		parse_sum(p, &in, 1);
		if (p->failed)
			return;
		if (peek(p) == '|') {
			p->pos++;
			int diag = accept(p, '|');
			parse_re(p, &in, diag, start);
			if (!accept(p, ')'))
				fail(p, p->pos, "expected ')' after the grouping factor");
			s->n = -1; /* marks "a random-effect term" to the caller */
			return;
		}
		if (!accept(p, ')')) {
			fail(p, p->pos, "expected ')'");
			return;
		}
		/* a parenthesised sum: no implicit intercept of its own */
		set_remove(&in, 0);
		*s = in;
		return;
	}
	if (isdigit((unsigned char)c)) {
		char *end;
		double v = strtod(p->s + p->pos, &end);
		p->pos = (int)(end - p->s);
		if (v == 1) {
			s->t[s->n++] = 0;
		} else if (v == 0) {
			s->drop_icpt = 1;
		} else {
			fail(p, start, "only 0 and 1 may stand alone as numbers");
		}
		return;
	}
	if (!is_ident_start(c)) {
		fail(p, start, c ? "expected a term" : "formula ends too early");
		return;
	}
	char name[FORMULA_LABEL];
	if (!read_ident(p, name, sizeof name))
		return;
	int v;
	if (peek(p) == '(') {
		p->pos = start;
		int e = aatom(p);
		if (p->failed)
			return;
		char label[FORMULA_LABEL];
		skip_ws(p);
		call_label(p, start, p->pos, label, sizeof label);
		v = add_var(p, label, e, -1, start);
	} else {
		int col = add_col(p, name, start);
		if (col < 0)
			return;
		int e = add_node(p, FX_COL, 0, col, -1, -1, start);
		v = add_var(p, name, e, col, start);
	}
	if (v < 0)
		return;
	s->t[s->n++] = (formula_term)1 << v;
}

static int is_re(const tset *s)
{
	return s->n == -1;
}

static void parse_inter(parser *p, tset *s)
{
	int start = p->pos;
	parse_atom(p, s);
	while (!p->failed && peek(p) == ':') {
		int pos = p->pos++;
		tset b;
		parse_atom(p, &b);
		if (is_re(s) || is_re(&b)) {
			fail(p, pos, "a random-effect term cannot be part of an interaction");
			return;
		}
		set_product(p, s, s, &b);
	}
	(void)start;
}

static void parse_prod(parser *p, tset *s)
{
	parse_inter(p, s);
	while (!p->failed) {
		int pos = p->pos;
		char c = peek(p);
		if (c != '*' && c != '/')
			break;
		p->pos++;
		tset b, ab;
		parse_inter(p, &b);
		if (p->failed)
			return;
		if (is_re(s) || is_re(&b)) {
			fail(p, pos, "a random-effect term cannot be part of an interaction");
			return;
		}
		if (c == '*') {
			set_product(p, &ab, s, &b);
			set_union(p, s, &b);
			set_union(p, s, &ab);
		} else {
			/* a/b = a + (all of a):b */
			formula_term all = 0;
			for (int i = 0; i < s->n; i++)
				all |= s->t[i];
			tset one = {.n = 1, .t = {all}};
			set_product(p, &ab, &one, &b);
			set_union(p, s, &ab);
		}
	}
}

/* top: this sum is the right side of the formula or of a bar, so it starts
 * with R's implicit intercept. */
static void parse_sum(parser *p, tset *s, int top)
{
	s->n = 0;
	s->drop_icpt = 0;
	if (top)
		s->t[s->n++] = 0;
	int sign = 1;
	if (accept(p, '-'))
		sign = -1;
	else
		accept(p, '+');
	for (;;) {
		skip_ws(p);
		int pos = p->pos;
		tset b;
		parse_prod(p, &b);
		if (p->failed)
			return;
		if (is_re(&b)) {
			if (!top || sign < 0) {
				fail(p, pos, "a random-effect term must be added at the top level");
				return;
			}
		} else if (sign > 0) {
			set_union(p, s, &b);
			if (b.drop_icpt)
				set_remove(s, 0);
		} else {
			for (int i = 0; i < b.n; i++)
				set_remove(s, b.t[i]);
			if (b.drop_icpt)
				set_add(p, s, 0); /* - 0 : keep the intercept */
		}
		if (accept(p, '+'))
			sign = 1;
		else if (accept(p, '-'))
			sign = -1;
		else
			break;
	}
}

static void add_re(parser *p, const tset *lhs, int diag, int start, const int *gv, int ng)
{
	formula *f = p->f;
	if (f->nre == FORMULA_MAX_RE) {
		fail_limit(p, start, "too many random-effect terms");
		return;
	}
	formula_re *r = &f->re[f->nre];
	memset(r, 0, sizeof *r);
	r->diag = diag;
	r->pos = start;
	r->intercept = set_has(lhs, 0);
	for (int i = 0; i < lhs->n; i++) {
		if (lhs->t[i] == 0)
			continue;
		if (r->nterms == FORMULA_MAX_RE_COLS) {
			fail_limit(p, start, "too many columns in a random-effect term");
			return;
		}
		r->terms[r->nterms++] = lhs->t[i];
	}
	if (!r->intercept && r->nterms == 0) {
		fail(p, start, "random-effect term with no effects");
		return;
	}
	r->ngroup = ng;
	size_t n = 0;
	for (int i = 0; i < ng; i++) {
		r->group[i] = gv[i];
		const char *l = f->vars[gv[i]].label;
		size_t k = strlen(l);
		if (n + k + 2 >= sizeof r->label) {
			fail_limit(p, start, "grouping factor name too long");
			return;
		}
		if (i)
			r->label[n++] = ':';
		memcpy(r->label + n, l, k + 1);
		n += k;
	}
	f->nre++;
}

/* GROUP := name ((':' | '/') name)* */
static void parse_re(parser *p, const tset *lhs, int diag, int start)
{
	int cur[FORMULA_MAX_GROUP];
	int ncur = 0;
	char joiner = 0; /* what came before this name: 0, ':' or '/' */
	for (;;) {
		skip_ws(p);
		int pos = p->pos;
		char name[FORMULA_LABEL];
		if (!is_ident_start(p->s[p->pos])) {
			fail(p, pos, "expected a grouping column");
			return;
		}
		if (!read_ident(p, name, sizeof name))
			return;
		if (peek(p) == '(') {
			fail(p, pos, "a grouping factor must be a column, not an expression");
			return;
		}
		int col = add_col(p, name, pos);
		if (col < 0)
			return;
		int e = add_node(p, FX_COL, 0, col, -1, -1, pos);
		int v = add_var(p, name, e, col, pos);
		if (v < 0)
			return;
		if (ncur == FORMULA_MAX_GROUP) {
			fail_limit(p, pos, "too many variables in a grouping factor");
			return;
		}
		if (joiner == '/') {
			/* after a/ the new name comes first: a/b is b:a, as lme4 names it */
			memmove(cur + 1, cur, (size_t)ncur * sizeof cur[0]);
			cur[0] = v;
		} else {
			cur[ncur] = v;
		}
		ncur++;
		char c = peek(p);
		if (c == '/') {
			add_re(p, lhs, diag, start, cur, ncur); /* a/b includes (1 | a) */
			p->pos++;
			joiner = '/';
			continue;
		}
		if (c == ':') {
			p->pos++;
			joiner = ':';
			continue;
		}
		break;
	}
	add_re(p, lhs, diag, start, cur, ncur);
}

static int cmp_order(const formula_term *a, const formula_term *b)
{
	return formula_term_order(*a) - formula_term_order(*b);
}

al_status formula_parse(formula *f, const char *text, al_err *err)
{
	memset(f, 0, sizeof *f);
	size_t len = strlen(text);
	if (len >= FORMULA_MAX_TEXT)
		return al_err_set(err, AL_ELIMIT, "formula: longer than %d bytes",
		                  FORMULA_MAX_TEXT - 1);
	memcpy(f->text, text, len + 1);
	parser P = {.f = f, .s = f->text, .err = err};
	parser *p = &P;
	skip_ws(p);
	int rpos = p->pos;
	if (peek(p) == '~' || peek(p) == '\0') {
		fail(p, rpos, "expected the response column before '~'");
		return AL_EINPUT;
	}
	int e = aexpr(p);
	if (p->failed)
		return err ? err->status : AL_EINPUT;
	char label[FORMULA_LABEL];
	skip_ws(p);
	int rend = p->pos;
	while (rend > rpos && (f->text[rend - 1] == ' ' || f->text[rend - 1] == '\t'))
		rend--;
	call_label(p, rpos, rend, label, sizeof label);
	const formula_node *rn = &f->nodes[e];
	f->response = add_var(p, label, e, rn->op == FX_COL ? rn->col : -1, rpos);
	if (!accept(p, '~')) {
		fail(p, p->pos, "expected '~'");
		return err ? err->status : AL_EINPUT;
	}
	tset s;
	parse_sum(p, &s, 1);
	if (!p->failed && peek(p) != '\0')
		fail(p, p->pos, peek(p) == ')' ? "unbalanced ')'" : "unexpected character");
	if (p->failed)
		return err ? err->status : AL_EINPUT;
	formula_term resp = (formula_term)1 << f->response;
	f->intercept = set_has(&s, 0);
	for (int i = 0; i < s.n; i++) {
		if (s.t[i] == 0)
			continue;
		if (s.t[i] & resp) {
			fail(p, f->vars[f->response].pos,
			     "the response also appears on the right side");
			return AL_EINPUT;
		}
		f->terms[f->nterms++] = s.t[i];
	}
	/* R orders terms by degree, keeping the written order within a degree
	 * (insertion sort is stable) */
	for (int i = 1; i < f->nterms; i++) {
		formula_term t = f->terms[i];
		int j = i;
		while (j > 0 && cmp_order(&f->terms[j - 1], &t) > 0) {
			f->terms[j] = f->terms[j - 1];
			j--;
		}
		f->terms[j] = t;
	}
	return AL_OK;
}
