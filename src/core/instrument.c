/* instrument.c: parse and validate instrument definitions (see instrument.h).
 *
 * Validation is strict and names the field: a definition drives scores that
 * a clinician reads, so a typo must stop the program at start, not skew a
 * score later. Every clinical fact (bands, caseness, reliable change, norms)
 * must name a source that the file's "sources" table cites. */
#include "instrument.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The context of one parse: where errors go and the file they name. */
typedef struct pctx {
	const char *file;
	al_err *err;
	inst_def *d;
} pctx;

static al_status bad(pctx *c, const char *path, const char *what)
{
	return al_err_set(c->err, AL_EINPUT, "%s: %s: %s", c->file, path, what);
}

static al_status get_string(pctx *c, json_t *obj, const char *key, const char *path, char *out,
                            size_t outsz, int required)
{
	char p[160];
	snprintf(p, sizeof p, "%s%s%s", path, path[0] ? "." : "", key);
	json_t *v = json_object_get(obj, key);
	if (v == NULL) {
		if (!required) {
			out[0] = '\0';
			return AL_OK;
		}
		return bad(c, p, "is missing");
	}
	if (!json_is_string(v))
		return bad(c, p, "must be a string");
	size_t n = json_string_length(v);
	if (n == 0 && required)
		return bad(c, p, "must not be empty");
	if (n >= outsz) {
		char m[64];
		snprintf(m, sizeof m, "is longer than %zu characters", outsz - 1);
		return bad(c, p, m);
	}
	memcpy(out, json_string_value(v), n + 1);
	return AL_OK;
}

static al_status get_int(pctx *c, json_t *obj, const char *key, const char *path, int *out,
                         int required, int dflt)
{
	char p[160];
	snprintf(p, sizeof p, "%s%s%s", path, path[0] ? "." : "", key);
	json_t *v = json_object_get(obj, key);
	if (v == NULL) {
		if (required)
			return bad(c, p, "is missing");
		*out = dflt;
		return AL_OK;
	}
	if (!json_is_integer(v) || json_integer_value(v) < -1000000 ||
	    json_integer_value(v) > 1000000)
		return bad(c, p, "must be an integer between -1000000 and 1000000");
	*out = (int)json_integer_value(v);
	return AL_OK;
}

static al_status get_number(pctx *c, json_t *obj, const char *key, const char *path, double *out)
{
	char p[160];
	snprintf(p, sizeof p, "%s%s%s", path, path[0] ? "." : "", key);
	json_t *v = json_object_get(obj, key);
	if (v == NULL)
		return bad(c, p, "is missing");
	if (!json_is_number(v) || !isfinite(json_number_value(v)))
		return bad(c, p, "must be a number");
	*out = json_number_value(v);
	return AL_OK;
}

static al_status get_bool(pctx *c, json_t *obj, const char *key, const char *path, int *out,
                          int dflt)
{
	char p[160];
	snprintf(p, sizeof p, "%s%s%s", path, path[0] ? "." : "", key);
	json_t *v = json_object_get(obj, key);
	if (v == NULL) {
		*out = dflt;
		return AL_OK;
	}
	if (!json_is_boolean(v))
		return bad(c, p, "must be true or false");
	*out = json_is_true(v);
	return AL_OK;
}

static al_status get_object(pctx *c, json_t *obj, const char *key, const char *path, json_t **out,
                            int required)
{
	char p[160];
	snprintf(p, sizeof p, "%s%s%s", path, path[0] ? "." : "", key);
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (v == NULL)
		return required ? bad(c, p, "is missing") : AL_OK;
	if (!json_is_object(v))
		return bad(c, p, "must be an object");
	*out = v;
	return AL_OK;
}

/* A fact's "source" must name an entry of the file's sources table. */
static al_status check_source(pctx *c, json_t *obj, const char *path)
{
	char key[32];
	al_status st = get_string(c, obj, "source", path, key, sizeof key, 1);
	if (st != AL_OK)
		return st;
	for (int i = 0; i < c->d->nsources; i++)
		if (strcmp(c->d->sources[i].key, key) == 0)
			return AL_OK;
	char p[160], m[96];
	snprintf(p, sizeof p, "%s.source", path);
	snprintf(m, sizeof m, "names \"%s\", which is not in \"sources\"", key);
	return bad(c, p, m);
}

static al_status enum_of(pctx *c, json_t *obj, const char *key, const char *path,
                         const char *const *names, int n, int *out)
{
	char s[32];
	al_status st = get_string(c, obj, key, path, s, sizeof s, 1);
	if (st != AL_OK)
		return st;
	for (int i = 0; i < n; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return AL_OK;
		}
	char p[160], m[200];
	snprintf(p, sizeof p, "%s%s%s", path, path[0] ? "." : "", key);
	int k = snprintf(m, sizeof m, "must be one of");
	for (int i = 0; i < n && k < (int)sizeof m; i++)
		k += snprintf(m + k, sizeof m - (size_t)k, "%s \"%s\"", i ? "," : "", names[i]);
	return bad(c, p, m);
}

static al_status parse_sources(pctx *c, json_t *root)
{
	json_t *src;
	al_status st = get_object(c, root, "sources", "", &src, 1);
	if (st != AL_OK)
		return st;
	const char *key;
	json_t *v;
	json_object_foreach(src, key, v)
	{
		char p[96];
		snprintf(p, sizeof p, "sources.%.60s", key);
		if (c->d->nsources == INST_MAX_SOURCES)
			return bad(c, "sources", "has too many entries");
		if (!json_is_string(v) || json_string_length(v) == 0)
			return bad(c, p, "must be a citation string");
		if (strlen(key) >= sizeof c->d->sources[0].key ||
		    json_string_length(v) >= sizeof c->d->sources[0].cite)
			return bad(c, p, "is too long");
		inst_source *s = &c->d->sources[c->d->nsources++];
		snprintf(s->key, sizeof s->key, "%s", key);
		snprintf(s->cite, sizeof s->cite, "%s", json_string_value(v));
	}
	if (c->d->nsources == 0)
		return bad(c, "sources", "must cite at least one source");
	return AL_OK;
}

static al_status parse_items(pctx *c, json_t *root)
{
	inst_def *d = c->d;
	json_t *items = json_object_get(root, "items");
	if (items == NULL)
		return bad(c, "items", "is missing");
	if (!json_is_array(items) || json_array_size(items) == 0)
		return bad(c, "items", "must be a non-empty array");
	if (json_array_size(items) > INST_MAX_ITEMS)
		return bad(c, "items", "has more items than alliance supports (64)");
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it)
	{
		char p[32];
		snprintf(p, sizeof p, "items[%zu]", i);
		if (!json_is_object(it))
			return bad(c, p, "must be an object");
		inst_item *x = &d->items[i];
		al_status st;
		if ((st = get_int(c, it, "number", p, &x->number, 1, 0)) != AL_OK)
			return st;
		if (x->number != (int)i + 1) {
			char pp[48], m[96];
			snprintf(pp, sizeof pp, "%s.number", p);
			snprintf(m, sizeof m, "must be %zu (items are numbered in order from 1)",
			         i + 1);
			return bad(c, pp, m);
		}
		if ((st = get_string(c, it, "label", p, x->label, sizeof x->label, 1)) != AL_OK ||
		    (st = get_int(c, it, "min", p, &x->min, 1, 0)) != AL_OK ||
		    (st = get_int(c, it, "max", p, &x->max, 1, 0)) != AL_OK ||
		    (st = get_bool(c, it, "reverse", p, &x->reverse, 0)) != AL_OK ||
		    (st = get_string(c, it, "loinc", p, x->loinc, sizeof x->loinc, 0)) != AL_OK)
			return st;
		if (x->min < 0 || x->max <= x->min || x->max > 1000) {
			char pp[48];
			snprintf(pp, sizeof pp, "%s.max", p);
			return bad(c, pp, "answer range must satisfy 0 <= min < max <= 1000");
		}
	}
	d->nitems = (int)json_array_size(items);
	return AL_OK;
}

/* Item numbers of a subscale: a non-empty array of distinct item numbers. */
static al_status parse_item_list(pctx *c, json_t *arr, const char *path, int *out, int *n)
{
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return bad(c, path, "must be a non-empty array of item numbers");
	size_t i;
	json_t *v;
	int seen[INST_MAX_ITEMS + 1] = {0};
	json_array_foreach(arr, i, v)
	{
		char p[96];
		snprintf(p, sizeof p, "%s[%zu]", path, i);
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > c->d->nitems)
			return bad(c, p, "must be an item number of this instrument");
		int k = (int)json_integer_value(v);
		if (seen[k]++)
			return bad(c, p, "repeats an item");
		out[i] = k;
	}
	*n = (int)json_array_size(arr);
	return AL_OK;
}

static al_status parse_scoring(pctx *c, json_t *root)
{
	inst_def *d = c->d;
	json_t *s;
	al_status st = get_object(c, root, "scoring", "", &s, 1);
	if (st != AL_OK)
		return st;
	static const char *const methods[] = {"sum", "mean"};
	static const char *const dirs[] = {"higher_worse", "higher_better"};
	int m = 0, dir = 0;
	if ((st = enum_of(c, s, "method", "scoring", methods, 2, &m)) != AL_OK ||
	    (st = enum_of(c, s, "direction", "scoring", dirs, 2, &dir)) != AL_OK ||
	    (st = get_int(c, s, "max_skipped", "scoring", &d->max_skipped, 1, 0)) != AL_OK ||
	    (st = get_bool(c, s, "prorate", "scoring", &d->prorate, 0)) != AL_OK)
		return st;
	d->method = (inst_method)m;
	d->direction = (inst_direction)dir;
	if (d->max_skipped < 0 || d->max_skipped >= d->nitems)
		return bad(c, "scoring.max_skipped",
		           "must be between 0 and the number of items - 1");
	if (d->method == INST_MEAN && d->prorate)
		return bad(c, "scoring.prorate",
		           "applies to sums only (a mean needs no prorating)");
	if (d->method == INST_SUM && d->max_skipped > 0 && !d->prorate)
		return bad(c, "scoring.prorate",
		           "must be true when a sum allows skipped items (else totals are biased)");
	/* score range follows from the items */
	double lo = 0, hi = 0;
	for (int i = 0; i < d->nitems; i++) {
		lo += d->items[i].min;
		hi += d->items[i].max;
	}
	if (d->method == INST_MEAN) {
		lo /= d->nitems;
		hi /= d->nitems;
	}
	d->score_min = lo;
	d->score_max = hi;

	json_t *subs = json_object_get(s, "subscales");
	if (subs == NULL)
		return AL_OK;
	if (!json_is_array(subs))
		return bad(c, "scoring.subscales", "must be an array");
	if (json_array_size(subs) > INST_MAX_SUBSCALES)
		return bad(c, "scoring.subscales", "has too many subscales (8 at most)");
	size_t i;
	json_t *sub;
	json_array_foreach(subs, i, sub)
	{
		char p[48], pi[64];
		snprintf(p, sizeof p, "scoring.subscales[%zu]", i);
		snprintf(pi, sizeof pi, "%s.items", p);
		if (!json_is_object(sub))
			return bad(c, p, "must be an object");
		inst_subscale *x = &d->sub[i];
		if ((st = get_string(c, sub, "name", p, x->name, sizeof x->name, 1)) != AL_OK ||
		    (st = parse_item_list(c, json_object_get(sub, "items"), pi, x->items,
		                          &x->nitems)) != AL_OK ||
		    (st = get_int(c, sub, "max_skipped", p, &x->max_skipped, 1, 0)) != AL_OK)
			return st;
		if (strcmp(x->name, "total") == 0)
			return bad(c, p, "a subscale cannot be called \"total\"");
		for (size_t j = 0; j < i; j++)
			if (strcmp(d->sub[j].name, x->name) == 0)
				return bad(c, p, "repeats the name of another subscale");
		if (x->max_skipped < 0 || x->max_skipped >= x->nitems)
			return bad(c, p,
			           "max_skipped must be between 0 and its number of items - 1");
	}
	d->nsub = (int)json_array_size(subs);
	return AL_OK;
}

static al_status parse_norm(pctx *c, json_t *obj, const char *path, double *mean, double *sd)
{
	al_status st;
	if ((st = get_number(c, obj, "mean", path, mean)) != AL_OK ||
	    (st = get_number(c, obj, "sd", path, sd)) != AL_OK ||
	    (st = check_source(c, obj, path)) != AL_OK)
		return st;
	if (!(*sd > 0)) {
		char p[96];
		snprintf(p, sizeof p, "%s.sd", path);
		return bad(c, p, "must be positive");
	}
	return AL_OK;
}

static al_status parse_interpretation(pctx *c, json_t *root)
{
	inst_def *d = c->d;
	json_t *in, *o;
	al_status st = get_object(c, root, "interpretation", "", &in, 1);
	if (st != AL_OK)
		return st;

	if ((st = get_object(c, in, "severity", "interpretation", &o, 0)) != AL_OK)
		return st;
	if (o != NULL) {
		if ((st = check_source(c, o, "interpretation.severity")) != AL_OK)
			return st;
		json_t *bands = json_object_get(o, "bands");
		if (!json_is_array(bands) || json_array_size(bands) == 0)
			return bad(c, "interpretation.severity.bands", "must be a non-empty array");
		if (json_array_size(bands) > INST_MAX_BANDS)
			return bad(c, "interpretation.severity.bands",
			           "has too many bands (12 at most)");
		size_t i;
		json_t *b;
		json_array_foreach(bands, i, b)
		{
			char p[64];
			snprintf(p, sizeof p, "interpretation.severity.bands[%zu]", i);
			if (!json_is_object(b))
				return bad(c, p, "must be an object");
			inst_band *x = &d->bands[i];
			if ((st = get_number(c, b, "from", p, &x->from)) != AL_OK ||
			    (st = get_string(c, b, "label", p, x->label, sizeof x->label, 1)) !=
			        AL_OK)
				return st;
			if (i == 0 && x->from > d->score_min)
				return bad(
				    c, p, "the first band must start at or below the lowest score");
			if (i > 0 && !(x->from > d->bands[i - 1].from))
				return bad(c, p, "bands must be in increasing order of \"from\"");
			if (x->from > d->score_max)
				return bad(c, p, "starts above the highest possible score");
		}
		d->nbands = (int)json_array_size(bands);
	}

	if ((st = get_object(c, in, "caseness", "interpretation", &o, 0)) != AL_OK)
		return st;
	if (o != NULL) {
		static const char *const when[] = {"at_or_above", "below"};
		int w = 0;
		if ((st = get_number(c, o, "cutoff", "interpretation.caseness",
		                     &d->caseness_cutoff)) != AL_OK ||
		    (st = enum_of(c, o, "case_when", "interpretation.caseness", when, 2, &w)) !=
		        AL_OK ||
		    (st = check_source(c, o, "interpretation.caseness")) != AL_OK)
			return st;
		d->case_at_or_above = w == 0;
		d->has_caseness = 1;
	}

	if ((st = get_object(c, in, "reliable_change", "interpretation", &o, 0)) != AL_OK)
		return st;
	if (o != NULL) {
		const char *p = "interpretation.reliable_change";
		if ((st = check_source(c, o, p)) != AL_OK)
			return st;
		if (json_object_get(o, "points") != NULL) {
			if ((st = get_number(c, o, "points", p, &d->rc_points)) != AL_OK)
				return st;
			if (!(d->rc_points > 0))
				return bad(c, "interpretation.reliable_change.points",
				           "must be positive");
		}
		if (json_object_get(o, "reliability") != NULL || json_object_get(o, "sd") != NULL) {
			if ((st = get_number(c, o, "reliability", p, &d->reliability)) != AL_OK ||
			    (st = get_number(c, o, "sd", p, &d->rc_sd)) != AL_OK)
				return st;
			if (!(d->reliability > 0 && d->reliability < 1))
				return bad(c, "interpretation.reliable_change.reliability",
				           "must be between 0 and 1");
			if (!(d->rc_sd > 0))
				return bad(c, "interpretation.reliable_change.sd",
				           "must be positive");
		}
		if (d->rc_points == 0 && d->reliability == 0)
			return bad(c, p, "needs \"points\", or \"reliability\" and \"sd\"");
	}

	if ((st = get_object(c, in, "norms", "interpretation", &o, 0)) != AL_OK)
		return st;
	if (o != NULL) {
		json_t *cl, *fn;
		if ((st = get_object(c, o, "clinical", "interpretation.norms", &cl, 1)) != AL_OK ||
		    (st = get_object(c, o, "functional", "interpretation.norms", &fn, 1)) !=
		        AL_OK ||
		    (st = parse_norm(c, cl, "interpretation.norms.clinical", &d->clin_mean,
		                     &d->clin_sd)) != AL_OK ||
		    (st = parse_norm(c, fn, "interpretation.norms.functional", &d->func_mean,
		                     &d->func_sd)) != AL_OK)
			return st;
		d->has_norms = 1;
	}
	return AL_OK;
}

static al_status parse_codes_and_alerts(pctx *c, json_t *root)
{
	inst_def *d = c->d;
	json_t *codes;
	al_status st = get_object(c, root, "codes", "", &codes, 0);
	if (st != AL_OK)
		return st;
	if (codes != NULL && ((st = get_string(c, codes, "loinc_panel", "codes", d->loinc_panel,
	                                       sizeof d->loinc_panel, 0)) != AL_OK ||
	                      (st = get_string(c, codes, "loinc_total", "codes", d->loinc_total,
	                                       sizeof d->loinc_total, 0)) != AL_OK))
		return st;
	json_t *crit = json_object_get(root, "critical_items");
	if (crit == NULL)
		return AL_OK;
	if (!json_is_array(crit))
		return bad(c, "critical_items", "must be an array");
	if (json_array_size(crit) > INST_MAX_CRITICAL)
		return bad(c, "critical_items", "has too many entries (8 at most)");
	size_t i;
	json_t *v;
	json_array_foreach(crit, i, v)
	{
		char p[48];
		snprintf(p, sizeof p, "critical_items[%zu]", i);
		if (!json_is_object(v))
			return bad(c, p, "must be an object");
		inst_critical *x = &d->critical[i];
		if ((st = get_int(c, v, "item", p, &x->item, 1, 0)) != AL_OK ||
		    (st = get_int(c, v, "at_least", p, &x->at_least, 1, 0)) != AL_OK ||
		    (st = get_string(c, v, "alert", p, x->alert, sizeof x->alert, 1)) != AL_OK ||
		    (st = get_string(c, v, "label", p, x->label, sizeof x->label, 1)) != AL_OK ||
		    (st = check_source(c, v, p)) != AL_OK)
			return st;
		if (x->item < 1 || x->item > d->nitems)
			return bad(c, p, "item must be an item number of this instrument");
		const inst_item *it = &d->items[x->item - 1];
		if (x->at_least <= it->min || x->at_least > it->max)
			return bad(
			    c, p, "at_least must be above the item's minimum and within its range");
	}
	d->ncritical = (int)json_array_size(crit);
	return AL_OK;
}

al_status inst_parse(const char *json, size_t len, const char *file, inst_def *out, al_err *err)
{
	json_error_t je;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL)
		return al_err_set(err, AL_EINPUT, "%s:%d:%d: not valid JSON: %s", file, je.line,
		                  je.column, je.text);
	inst_def *d = calloc(1, sizeof *d);
	al_status st = AL_ENOMEM;
	if (d == NULL) {
		al_err_set(err, AL_ENOMEM, "%s: out of memory", file);
		goto out;
	}
	pctx c = {file, err, d};
	if (!json_is_object(root)) {
		st = bad(&c, "(top)", "must be a JSON object");
		goto out;
	}
	static const char *const who[] = {"client", "therapist"};
	static const char *const when[] = {"before_session", "after_session", "any"};
	int w1 = 0, w2 = 0;
	json_t *lic;
	if ((st = get_string(&c, root, "id", "", d->id, sizeof d->id, 1)) != AL_OK ||
	    (st = get_string(&c, root, "name", "", d->name, sizeof d->name, 1)) != AL_OK ||
	    (st = get_string(&c, root, "version", "", d->version, sizeof d->version, 1)) != AL_OK ||
	    (st = enum_of(&c, root, "respondent", "", who, 2, &w1)) != AL_OK ||
	    (st = enum_of(&c, root, "timing", "", when, 3, &w2)) != AL_OK ||
	    (st = get_bool(&c, root, "validated", "", &d->validated, 1)) != AL_OK ||
	    (st = get_object(&c, root, "licence", "", &lic, 1)) != AL_OK ||
	    (st = get_string(&c, lic, "status", "licence", d->licence_status,
	                     sizeof d->licence_status, 1)) != AL_OK ||
	    (st = get_string(&c, lic, "holder", "licence", d->licence_holder,
	                     sizeof d->licence_holder, 1)) != AL_OK ||
	    (st = get_string(&c, lic, "obtain", "licence", d->licence_obtain,
	                     sizeof d->licence_obtain, 1)) != AL_OK ||
	    (st = get_string(&c, root, "notes", "", d->notes, sizeof d->notes, 0)) != AL_OK)
		goto out;
	for (const char *p = d->id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) {
			st = bad(&c, "id", "must use only a-z, 0-9 and _");
			goto out;
		}
	d->respondent = (inst_respondent)w1;
	d->timing = (inst_timing)w2;
	if ((st = parse_sources(&c, root)) != AL_OK || (st = parse_items(&c, root)) != AL_OK ||
	    (st = parse_scoring(&c, root)) != AL_OK ||
	    (st = parse_interpretation(&c, root)) != AL_OK ||
	    (st = parse_codes_and_alerts(&c, root)) != AL_OK)
		goto out;
	*out = *d;
	st = AL_OK;
out:
	free(d);
	json_decref(root);
	return st;
}

void inst_lib_init(inst_lib *lib)
{
	memset(lib, 0, sizeof *lib);
}

void inst_lib_cleanup(inst_lib *lib)
{
	free(lib->defs);
	memset(lib, 0, sizeof *lib);
}

al_status inst_lib_add(inst_lib *lib, const inst_def *def, const char *file, al_err *err)
{
	if (inst_lib_find(lib, def->id, strlen(def->id)) != NULL)
		return al_err_set(err, AL_EINPUT, "%s: id: instrument \"%s\" is defined twice",
		                  file, def->id);
	if (lib->n == lib->cap) {
		size_t cap = lib->cap ? lib->cap * 2 : 16;
		inst_def *n = realloc(lib->defs, cap * sizeof *n);
		if (n == NULL)
			return al_err_set(err, AL_ENOMEM, "%s: out of memory", file);
		lib->defs = n;
		lib->cap = cap;
	}
	lib->defs[lib->n++] = *def;
	return AL_OK;
}

static int by_id(const void *a, const void *b)
{
	return strcmp(((const inst_def *)a)->id, ((const inst_def *)b)->id);
}

void inst_lib_sort(inst_lib *lib)
{
	if (lib->n > 1)
		qsort(lib->defs, lib->n, sizeof *lib->defs, by_id);
}

const inst_def *inst_lib_find(const inst_lib *lib, const char *id, size_t len)
{
	/* compare lengths first: id comes from input and may hold NUL bytes
	 * or be longer than any instrument id */
	for (size_t i = 0; i < lib->n; i++)
		if (strlen(lib->defs[i].id) == len && memcmp(lib->defs[i].id, id, len) == 0)
			return &lib->defs[i];
	return NULL;
}

const char *inst_band_for(const inst_def *d, double score)
{
	const char *label = NULL;
	for (int i = 0; i < d->nbands && d->bands[i].from <= score; i++)
		label = d->bands[i].label;
	return label;
}

const char *inst_respondent_str(inst_respondent r)
{
	return r == INST_CLIENT ? "client" : "therapist";
}

const char *inst_timing_str(inst_timing t)
{
	return t == INST_BEFORE ? "before_session" : t == INST_AFTER ? "after_session" : "any";
}

al_status inst_wording_parse(const char *json, size_t len, const char *file, const inst_def *d,
                             inst_wording *out, al_err *err)
{
	json_error_t je;
	memset(out, 0, sizeof *out);
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL)
		return al_err_set(err, AL_EINPUT, "%s:%d:%d: not valid JSON: %s", file, je.line,
		                  je.column, je.text);
	al_status st = AL_OK;
	json_t *inst = json_object_get(root, "instrument");
	json_t *lang = json_object_get(root, "language");
	json_t *items = json_object_get(root, "items");
	if (!json_is_string(inst) || strcmp(json_string_value(inst), d->id) != 0) {
		st = al_err_set(err, AL_EINPUT, "%s: instrument: must be \"%s\"", file, d->id);
		goto out;
	}
	if (!json_is_string(lang) || json_string_length(lang) == 0 ||
	    json_string_length(lang) >= sizeof out->language) {
		st = al_err_set(err, AL_EINPUT,
		                "%s: language: must be a language tag such as \"en\"", file);
		goto out;
	}
	if (!json_is_object(items)) {
		st = al_err_set(err, AL_EINPUT,
		                "%s: items: must be an object of item number to text", file);
		goto out;
	}
	snprintf(out->instrument, sizeof out->instrument, "%s", d->id);
	snprintf(out->language, sizeof out->language, "%s", json_string_value(lang));
	const char *key;
	json_t *v;
	json_object_foreach(items, key, v)
	{
		char *end;
		long k = strtol(key, &end, 10);
		if (*end != '\0' || k < 1 || k > d->nitems) {
			st = al_err_set(err, AL_EINPUT, "%s: items.%.40s: %s has no such item",
			                file, key, d->id);
			goto out;
		}
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > 2000) {
			st = al_err_set(err, AL_EINPUT,
			                "%s: items.%s: must be a text of 1-2000 bytes", file, key);
			goto out;
		}
		out->text[k - 1] = strdup(json_string_value(v));
		if (out->text[k - 1] == NULL) {
			st = al_err_set(err, AL_ENOMEM, "%s: out of memory", file);
			goto out;
		}
	}
out:
	if (st != AL_OK)
		inst_wording_cleanup(out);
	json_decref(root);
	return st;
}

void inst_wording_cleanup(inst_wording *w)
{
	for (int i = 0; i < INST_MAX_ITEMS; i++) {
		free(w->text[i]);
		w->text[i] = NULL;
	}
}
