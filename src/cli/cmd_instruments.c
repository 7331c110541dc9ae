/* cmd_instruments.c: `alliance instruments [show ID]`: what questionnaires
 * are loaded, and everything a definition says about one of them. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../core/score.h"
#include "../os/instdir.h"
#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: alliance instruments [--instruments DIR] [show ID [--wording DIR] [--lang "
	        "L]]\n\n"
	        "List the loaded questionnaires, or show one: items, scoring, interpretation,\n"
	        "codes, alerts, licence and the published sources of its facts.\n\n"
	        "  --instruments DIR  definitions directory (default: $ALLIANCE_INSTRUMENTS or\n"
	        "                     the instruments/ folder of the installation)\n"
	        "  --wording DIR      a site's licensed wording packs (ID.LANG.json); without one\n"
	        "                     items show the project's topic labels, marked [label]\n"
	        "  --lang L           wording language (default en)\n");
}

static void show(const inst_def *d, const inst_wording *w)
{
	printf("%s  %s (version %s)\n", d->id, d->name, d->version);
	printf("answered by the %s, %s%s\n", inst_respondent_str(d->respondent),
	       inst_timing_str(d->timing), d->validated ? "" : "  ** NOT VALIDATED **");
	printf("licence: %s (%s)\n  %s\n", d->licence_status, d->licence_holder, d->licence_obtain);
	printf("\nitems (%d):\n", d->nitems);
	for (int i = 0; i < d->nitems; i++) {
		const inst_item *it = &d->items[i];
		const char *text = w != NULL ? w->text[i] : NULL;
		printf("  %2d  %d-%d%s  %s%s%s%s%s\n", it->number, it->min, it->max,
		       it->reverse ? " reversed" : "", text ? "" : "[label] ",
		       text ? text : it->label, it->loinc[0] ? "  (LOINC " : "", it->loinc,
		       it->loinc[0] ? ")" : "");
	}
	printf("\nscoring: %s of items, %g to %g, %s; at most %d item%s skipped%s\n",
	       d->method == INST_SUM ? "sum" : "mean", d->score_min, d->score_max,
	       d->direction == INST_HIGHER_WORSE ? "higher is worse" : "higher is better",
	       d->max_skipped, d->max_skipped == 1 ? "" : "s",
	       d->prorate ? " (prorated, rounded half up)" : "");
	for (int s = 0; s < d->nsub; s++) {
		printf("  subscale %s: items", d->sub[s].name);
		for (int j = 0; j < d->sub[s].nitems; j++)
			printf(" %d", d->sub[s].items[j]);
		printf(" (at most %d skipped)\n", d->sub[s].max_skipped);
	}
	if (d->nbands > 0) {
		printf("severity:");
		for (int b = 0; b < d->nbands; b++)
			printf("%s %g+ %s", b ? "," : "", d->bands[b].from, d->bands[b].label);
		printf("\n");
	}
	if (d->has_caseness)
		printf("caseness: score %s %g\n", d->case_at_or_above ? ">=" : "<",
		       d->caseness_cutoff);
	if (d->rc_points > 0)
		printf("reliable change: %g points\n", d->rc_points);
	else if (d->reliability > 0)
		printf("reliable change: |RCI| > 1.96 with reliability %g, SD %g (S_diff %.3f)\n",
		       d->reliability, d->rc_sd, change_sdiff(d->rc_sd, d->reliability));
	if (d->has_norms) {
		change_cutoffs k = change_jt_cutoffs(d->clin_mean, d->clin_sd, d->func_mean,
		                                     d->func_sd, d->direction);
		printf(
		    "norms: clinical %g (SD %g), functional %g (SD %g); cut-offs a %.2f b %.2f c "
		    "%.2f\n",
		    d->clin_mean, d->clin_sd, d->func_mean, d->func_sd, k.a, k.b, k.c);
	}
	if (d->loinc_panel[0] || d->loinc_total[0])
		printf("LOINC: panel %s, total %s\n", d->loinc_panel[0] ? d->loinc_panel : "-",
		       d->loinc_total[0] ? d->loinc_total : "-");
	for (int c = 0; c < d->ncritical; c++)
		printf("alert (%s): item %d >= %d: %s\n", d->critical[c].alert, d->critical[c].item,
		       d->critical[c].at_least, d->critical[c].label);
	if (d->notes[0])
		printf("\nnotes: %s\n", d->notes);
	printf("\nsources:\n");
	for (int s = 0; s < d->nsources; s++)
		printf("  [%s] %s\n", d->sources[s].key, d->sources[s].cite);
}

int cmd_instruments(int argc, char **argv)
{
	static const struct option opts[] = {{"instruments", required_argument, NULL, 'i'},
	                                     {"wording", required_argument, NULL, 'w'},
	                                     {"lang", required_argument, NULL, 'l'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *dir = NULL, *wdir = NULL, *lang = "en";
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'i': dir = optarg; break;
		case 'w': wdir = optarg; break;
		case 'l': lang = optarg; break;
		case 'h': usage(stdout); return CLI_OK;
		default: usage(stderr); return CLI_USAGE;
		}
	}
	int nargs = argc - optind;
	if (!(nargs == 0 || (nargs == 2 && strcmp(argv[optind], "show") == 0))) {
		usage(stderr);
		return CLI_USAGE;
	}
	inst_lib lib;
	al_err err = {0};
	if (os_load_instruments(cli_instruments_dir(dir), &lib, &err) != AL_OK)
		return cli_fail(&err);
	int rc = CLI_OK;
	if (nargs == 0) {
		for (size_t i = 0; i < lib.n; i++) {
			const inst_def *d = &lib.defs[i];
			printf("%-8s %2d items  %-9s %-14s %s%s\n", d->id, d->nitems,
			       inst_respondent_str(d->respondent), inst_timing_str(d->timing),
			       d->name, d->validated ? "" : " (not validated)");
		}
		goto out;
	}
	const char *id = argv[optind + 1];
	const inst_def *d = inst_lib_find(&lib, id, strlen(id));
	if (d == NULL) {
		fprintf(stderr, "alliance: no instrument \"%s\" (see 'alliance instruments')\n",
		        id);
		rc = CLI_FAIL;
		goto out;
	}
	inst_wording w;
	int have = 0;
	if (wdir != NULL) {
		al_status st = os_load_wording(wdir, d, lang, &w, &err);
		if (st == AL_OK)
			have = 1;
		else if (st != AL_ENOTFOUND) {
			rc = cli_fail(&err);
			goto out;
		}
	}
	show(d, have ? &w : NULL);
	if (have)
		inst_wording_cleanup(&w);
out:
	inst_lib_cleanup(&lib);
	return rc;
}
