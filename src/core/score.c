/* score.c: scoring and change (see score.h). */
#include "score.h"

#include <math.h>
#include <stdio.h>

long score_prorate(long sum, int answered, int k)
{
	/* floor division of non-negatives: the numerator is >= 0 for sums of
	 * items whose minimum is >= 0, which the loader guarantees */
	return (2 * sum * k + answered) / (2L * answered);
}

static void score_items(const inst_def *d, const int *values, const int *items, int n,
                        int max_skipped, score_scale *out)
{
	long sum = 0;
	int a = 0;
	for (int j = 0; j < n; j++) {
		int i = items ? items[j] - 1 : j;
		int v = values[i];
		if (v == SCORE_SKIPPED)
			continue;
		const inst_item *it = &d->items[i];
		sum += it->reverse ? it->min + it->max - v : v;
		a++;
	}
	out->answered = a;
	out->valid = a > 0 && n - a <= max_skipped;
	if (!out->valid) {
		out->score = 0;
		return;
	}
	if (d->method == INST_MEAN)
		out->score = (double)sum / a;
	else if (a < n && d->prorate)
		out->score = (double)score_prorate(sum, a, n);
	else
		out->score = (double)sum;
}

al_status score_administration(const inst_def *d, const int *values, score_result *out, al_err *err)
{
	for (int i = 0; i < d->nitems; i++) {
		int v = values[i];
		if (v != SCORE_SKIPPED && (v < d->items[i].min || v > d->items[i].max))
			return al_err_set(err, AL_EINPUT, "item %d: answer %d is outside %d..%d",
			                  i + 1, v, d->items[i].min, d->items[i].max);
	}
	score_items(d, values, NULL, d->nitems, d->max_skipped, &out->total);
	out->nsub = d->nsub;
	for (int s = 0; s < d->nsub; s++)
		score_items(d, values, d->sub[s].items, d->sub[s].nitems, d->sub[s].max_skipped,
		            &out->sub[s]);
	out->band = out->total.valid ? inst_band_for(d, out->total.score) : NULL;
	if (!out->total.valid || !d->has_caseness)
		out->caseness = -1;
	else if (d->case_at_or_above)
		out->caseness = out->total.score >= d->caseness_cutoff;
	else
		out->caseness = out->total.score < d->caseness_cutoff;
	/* a critical answer alerts even when the administration has no valid
	 * total: a risk item answered is never ignored */
	out->ncritical = 0;
	for (int c = 0; c < d->ncritical; c++) {
		int v = values[d->critical[c].item - 1];
		if (v != SCORE_SKIPPED && v >= d->critical[c].at_least)
			out->critical[out->ncritical++] = c;
	}
	return AL_OK;
}

double change_sdiff(double sd, double reliability)
{
	double se = sd * sqrt(1.0 - reliability);
	return sqrt(2.0 * se * se);
}

double change_rci(double x1, double x2, double sd, double reliability)
{
	return (x2 - x1) / change_sdiff(sd, reliability);
}

int change_has_threshold(const inst_def *d)
{
	return d->rc_points > 0 || d->reliability > 0;
}

change_class change_reliable(const inst_def *d, double first, double last)
{
	/* "better" is a fall for higher_worse measures, a rise otherwise */
	double gain = d->direction == INST_HIGHER_WORSE ? first - last : last - first;
	if (d->rc_points > 0) {
		if (gain >= d->rc_points)
			return CHANGE_IMPROVED;
		if (-gain >= d->rc_points)
			return CHANGE_DETERIORATED;
		return CHANGE_NO_RELIABLE_CHANGE;
	}
	if (d->reliability > 0) {
		double z = gain / change_sdiff(d->rc_sd, d->reliability);
		if (z > 1.96)
			return CHANGE_IMPROVED;
		if (z < -1.96)
			return CHANGE_DETERIORATED;
	}
	return CHANGE_NO_RELIABLE_CHANGE;
}

change_cutoffs change_jt_cutoffs(double m_clin, double s_clin, double m_func, double s_func,
                                 inst_direction dir)
{
	change_cutoffs k;
	double toward_health = dir == INST_HIGHER_WORSE ? -1.0 : 1.0;
	k.a = m_clin + toward_health * 2.0 * s_clin;
	k.b = m_func - toward_health * 2.0 * s_func;
	k.c = (s_clin * m_func + s_func * m_clin) / (s_clin + s_func);
	return k;
}

jt_category change_jt_classify(double x1, double x2, double sd, double reliability, double c,
                               inst_direction dir)
{
	double rci = change_rci(x1, x2, sd, reliability);
	double toward_health = dir == INST_HIGHER_WORSE ? -rci : rci;
	if (toward_health < -1.96)
		return JT_DETERIORATED;
	if (toward_health <= 1.96)
		return JT_UNCHANGED;
	int crossed = dir == INST_HIGHER_WORSE ? x2 < c : x2 > c;
	return crossed ? JT_RECOVERED : JT_IMPROVED;
}

const char *change_jt_str(jt_category k)
{
	switch (k) {
	case JT_RECOVERED: return "recovered";
	case JT_IMPROVED: return "improved";
	case JT_UNCHANGED: return "unchanged";
	case JT_DETERIORATED: return "deteriorated";
	}
	return "unknown";
}
