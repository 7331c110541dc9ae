/* cmd_score.c: `alliance score ITEMS.csv [-o SCORES.csv]`: item-level answers
 * in, one score row per valid administration and scale out.
 *
 * All or nothing: the whole file is checked before a single row is written,
 * and the output appears only when every row was good. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../core/admin.h"
#include "../os/instdir.h"
#include "../os/os.h"
#include "cli.h"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: alliance score ITEMS.csv [-o SCORES.csv] [--instruments DIR] [--quiet]\n\n"
	    "Score item-level answers (client_id,therapist_id,session,date,modality,\n"
	    "instrument,item,value; see docs/FORMATS.md) into the score-level format, one\n"
	    "row per valid administration and scale:\n"
	    "  client_id,therapist_id,session,date,modality,instrument,score,scale\n"
	    "scale is \"total\" or a subscale name. Sums are prorated when items were\n"
	    "skipped; an administration with more skipped items than its instrument allows\n"
	    "has no score and no row. Rows are sorted by client_id, session, instrument.\n\n"
	    "  -o, --output FILE   where to write (default: standard output)\n"
	    "  --instruments DIR   instrument definitions (see 'alliance instruments --help')\n"
	    "  -q, --quiet         no progress bar or summary on stderr\n\n"
	    "Every malformed row is reported as FILE:LINE: column NAME: problem (got \"VALUE\"),\n"
	    "and then nothing is written; the exit status is 1.\n");
}

typedef struct score_ctx {
	FILE *out;
	size_t admins, invalid, rows_out;
	char fmt[32];
} score_ctx;

static void put_field(FILE *out, const char *s, size_t len)
{
	char buf[2 * ITEMROW_ID_MAX + 3];
	size_t n = csv_escape(buf, s, len);
	fwrite(buf, 1, n, out);
}

static void put_row(score_ctx *c, const admin *a, double score, const char *scale)
{
	FILE *o = c->out;
	put_field(o, a->client, a->client_len);
	fputc(',', o);
	put_field(o, a->therapist, a->therapist_len);
	fprintf(o, ",%d,%.10s,%s,%s,", a->session, a->date, modality_str(a->mod), a->inst->id);
	if (a->inst->method == INST_SUM)
		fprintf(o, "%.0f", score);
	else
		fprintf(o, "%.6f", score);
	fprintf(o, ",%s\n", scale);
	c->rows_out++;
}

static al_status on_admin(void *ctx, const admin *a, al_err *err)
{
	score_ctx *c = ctx;
	score_result r;
	al_status st = score_administration(a->inst, a->values, &r, err);
	if (st != AL_OK) /* values were range-checked when read: a bug */
		return al_err_set(err, AL_EINTERNAL, "score: %s", err->msg);
	c->admins++;
	if (!r.total.valid) {
		c->invalid++;
		return AL_OK;
	}
	put_row(c, a, r.total.score, "total");
	for (int s = 0; s < r.nsub; s++)
		if (r.sub[s].valid)
			put_row(c, a, r.sub[s].score, a->inst->sub[s].name);
	return AL_OK;
}

int cmd_score(int argc, char **argv)
{
	static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
	                                     {"instruments", required_argument, NULL, 'i'},
	                                     {"quiet", no_argument, NULL, 'q'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *outpath = "-", *dir = NULL;
	int quiet = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': outpath = optarg; break;
		case 'i': dir = optarg; break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return CLI_OK;
		default: usage(stderr); return CLI_USAGE;
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		return CLI_USAGE;
	}
	const char *file = argv[optind];
	al_err err = {0};
	inst_lib lib;
	os_map m = {0};
	csv_reader r = {0};
	admin_set set;
	problems pr;
	os_out out = {0};
	int rc = CLI_FAIL;
	problems_init(&pr);
	if (os_load_instruments(cli_instruments_dir(dir), &lib, &err) != AL_OK)
		return cli_fail(&err);
	if (os_map_file(&m, file, &err) != AL_OK) {
		rc = cli_fail(&err);
		goto out_lib;
	}
	admin_set_init(&set, &lib, m.data, m.len);
	csv_init(&r, m.data, m.len);
	itemrow_cols cols;
	if (itemrow_read_header(&r, file, 1, &cols, &err) != AL_OK) {
		rc = cli_fail(&err);
		goto out;
	}
	if (cols.unknown[0] && !quiet)
		fprintf(stderr, "alliance: %s:1: warning: unknown columns ignored: %s\n", file,
		        cols.unknown);
	os_progress prog;
	os_progress_start(&prog, "reading", m.len, quiet);
	size_t nrows = 0;
	for (;;) {
		int got = csv_next(&r, &err);
		if (got == 0)
			break;
		if (got < 0) {
			char msg[AL_ERR_MAX];
			snprintf(msg, sizeof msg, "%s", err.msg);
			al_err_clear(&err);
			al_err_set(&err, AL_EINPUT, "%s:%s", file, msg + 5); /* "line N: ..." */
			problems_add(&pr, &err);
			continue;
		}
		nrows++;
		itemrow row;
		if (itemrow_parse(&cols, &r, &lib, file, &row, &err) != AL_OK) {
			problems_add(&pr, &err);
			continue;
		}
		if (admin_set_add(&set, &row, r.line, &err) != AL_OK) {
			rc = cli_fail(&err);
			goto out;
		}
		if ((nrows & 0xffff) == 0)
			os_progress_update(&prog, (uint64_t)(r.cur - m.data), nrows);
	}
	os_progress_end(&prog, nrows);
	score_ctx sc = {0};
	if (pr.total == 0) {
		if (os_out_open(&out, outpath, &err) != AL_OK) {
			rc = cli_fail(&err);
			goto out;
		}
		sc.out = out.fp;
		fputs("client_id,therapist_id,session,date,modality,instrument,score,scale\n",
		      out.fp);
		if (admin_set_each(&set, file, &pr, on_admin, &sc, &err) != AL_OK) {
			rc = cli_fail(&err);
			goto out;
		}
	}
	if (pr.total > 0) {
		problems_print(&pr, stderr);
		fprintf(stderr, "alliance: %s: %zu problem%s; nothing written\n", file, pr.total,
		        pr.total == 1 ? "" : "s");
		goto out;
	}
	if (os_out_commit(&out, &err) != AL_OK) {
		rc = cli_fail(&err);
		goto out;
	}
	if (!quiet)
		fprintf(stderr,
		        "alliance: %zu rows, %zu administrations scored, %zu without a score (too "
		        "many skipped items); %zu score rows written to %s\n",
		        nrows, sc.admins, sc.invalid, sc.rows_out,
		        strcmp(outpath, "-") == 0 ? "standard output" : outpath);
	rc = CLI_OK;
out:
	os_out_abort(&out);
	problems_cleanup(&pr);
	admin_set_cleanup(&set);
	csv_cleanup(&r);
	os_map_release(&m);
out_lib:
	inst_lib_cleanup(&lib);
	return rc;
}
