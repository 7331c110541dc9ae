/* formula.h: model formulas in lme4 syntax, the subset used for longitudinal
 * data: `y ~ x + log(t) * g + I(x^2) + (1 + t | client) + (1 | a:b)`.
 *
 * Parsing only: the result names the data columns a model needs and says
 * how the fixed-effect terms, random-effect terms and numeric expressions are
 * built from them; lmm.c turns it into matrices. A formula is a fixed-size
 * value (no allocation), so parsing cannot leak. Errors quote the formula
 * and put a caret under the offending column. */
#ifndef AL_FORMULA_H
#define AL_FORMULA_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define FORMULA_MAX_TEXT    1024 /* formula length in bytes */
#define FORMULA_MAX_VARS    48   /* distinct variables (columns and expressions) */
#define FORMULA_MAX_COLS    32   /* distinct data columns */
#define FORMULA_MAX_NODES   256  /* expression nodes */
#define FORMULA_MAX_TERMS   64   /* fixed-effect terms */
#define FORMULA_MAX_RE      8    /* random-effect terms (after expanding a/b) */
#define FORMULA_MAX_RE_COLS 8    /* columns in one random-effect term */
#define FORMULA_MAX_GROUP   4    /* variables in one grouping factor a:b:... */
#define FORMULA_LABEL       64   /* bytes of a variable's label */

/* Operations of the numeric expression trees (inside log(), I() ...). */
typedef enum formula_op {
	FX_NUM,
	FX_COL,
	FX_NEG,
	FX_ADD,
	FX_SUB,
	FX_MUL,
	FX_DIV,
	FX_POW,
	FX_LOG,
	FX_LOG2,
	FX_LOG10,
	FX_LOG1P,
	FX_EXP,
	FX_SQRT,
	FX_ABS
} formula_op;

typedef struct formula_node {
	formula_op op;
	double num; /* FX_NUM */
	int col;    /* FX_COL: index into formula.cols */
	int a, b;   /* children (node indices), -1 when absent */
} formula_node;

/* A variable in R's sense: a bare column (numeric or categorical, as the
 * data decide) or a numeric expression such as log(session) or I(age^2). */
typedef struct formula_var {
	char label[FORMULA_LABEL]; /* as R prints it: "Days", "log(session)" */
	int expr;                  /* root node; a bare column is one FX_COL node */
	int col;                   /* the column when bare, else -1 */
	int pos;                   /* byte offset in the formula, for messages */
} formula_var;

/* A term is a set of variables (their interaction); bit i = variable i.
 * The empty set is the intercept. */
typedef uint64_t formula_term;

/* One random-effect term (LHS | GROUP), or (LHS || GROUP) with diag set. */
typedef struct formula_re {
	int intercept; /* LHS includes the intercept */
	int nterms;    /* LHS terms other than the intercept */
	formula_term terms[FORMULA_MAX_RE_COLS];
	int ngroup;                    /* variables of the grouping factor */
	int group[FORMULA_MAX_GROUP];  /* variable indices, in label order */
	char label[FORMULA_LABEL * 2]; /* "Subject", "batch:cask" */
	int diag;                      /* || : independent effects */
	int pos;                       /* offset of the term, for messages */
} formula_re;

typedef struct formula {
	char text[FORMULA_MAX_TEXT];
	int response;  /* variable index of the left side */
	int intercept; /* fixed part has an intercept */
	int nterms;    /* fixed terms, in R's order */
	formula_term terms[FORMULA_MAX_TERMS];
	int nre;
	formula_re re[FORMULA_MAX_RE];
	int nvars;
	formula_var vars[FORMULA_MAX_VARS];
	int nnodes;
	formula_node nodes[FORMULA_MAX_NODES];
	int ncols;
	char cols[FORMULA_MAX_COLS][FORMULA_LABEL]; /* data columns used */
	int col_pos[FORMULA_MAX_COLS];              /* first offset of each column */
} formula;

/* Parse text into f. AL_EINPUT with a message of the form
 *   formula: WHAT (column N)
 *     y ~ x + (1 | )
 *                  ^
 * or AL_ELIMIT when a limit above is exceeded. */
al_status formula_parse(formula *f, const char *text, al_err *err);

/* Evaluate expression node `node` for one row, given the values of the
 * formula's columns for that row (vals[c] for column c). Returns NaN or an
 * infinity for undefined operations (log of a non-positive number); the
 * caller reports them. */
double formula_eval(const formula *f, int node, const double *vals);

/* Write a caret line for byte offset pos of f->text into a message: the
 * formula, a newline, spaces and '^'. Returns the bytes written (< outsz). */
size_t formula_caret(const formula *f, int pos, char *out, size_t outsz);

/* Set mark[c] = value for every data column c under expression node,
 * except where mark[c] == keep. */
void formula_mark_cols(const formula *f, int node, int *mark, int value, int keep);

/* Number of variables in a term. */
int formula_term_order(formula_term t);

#endif
