/* cmd_etr.c: `alliance etr fit|check`: expected treatment response curves
 * (Finch, Lambert & Schaalje 2001; see core/etr.h) fitted on a score-level
 * registry CSV, and the session-by-session on-track check of clients. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/etr.h"
#include "../os/os.h"
#include "cli.h"
#include "lmm_cli.h"

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: alliance etr fit SCORES.csv --instrument ID -o MODEL.json\n"
	    "                        [--percentiles LO,HI] [--higher-better] [--ml]\n"
	    "       alliance etr check --model MODEL.json SCORES.csv [--client ID] [-o OUT.csv]\n\n"
	    "Expected treatment response (Finch, Lambert & Schaalje 2001). SCORES.csv has the\n"
	    "columns client_id,therapist_id,session,date,modality,instrument,score[,scale];\n"
	    "rows of other instruments, and of scales other than \"total\", are ignored.\n\n"
	    "fit   fits score ~ log(session) * intake + (log(session) | client_id), where intake\n"
	    "      is the client's score at their lowest-numbered session (session 1 when\n"
	    "      recorded), on the scores after intake; writes the fixed effects, variance\n"
	    "      components, residual SD and band percentiles (default 10,90) as JSON.\n"
	    "check compares each client's scores with the curve expected for their intake and\n"
	    "      its prediction band; CSV out: client_id,session,observed,expected,lower,upper,\n"
	    "      status (\"on track\" or \"not on track\": above the upper line when higher\n"
	    "      scores are worse, below the lower line with --higher-better).\n");
}

/* Load client_id, session, score of one instrument (and scale total). */
static al_status load_scores(const char *path, const char *instrument, frame *fr, al_err *err)
{
	os_map map = {0};
	al_status st = os_map_file(&map, path, err);
	if (st != AL_OK)
		return st;
	const char *names[] = {"client_id", "session", "score"};
	int cat[] = {FRAME_CATEGORICAL, FRAME_NUMERIC, FRAME_NUMERIC};
	frame_filter flt[] = {{"instrument", instrument, 0}, {"scale", "total", 1}};
	st = frame_load(fr, map.data, map.len, path, names, cat, 3, flt, 2, err);
	if (st == AL_OK && (fr->cols[1].categorical || fr->cols[2].categorical))
		st = al_err_set(err, AL_EINPUT, "%s: session and score must be numbers", path);
	os_map_release(&map);
	if (st == AL_EINPUT && strstr(err->msg, "no complete rows") != NULL) {
		al_err_clear(err);
		st =
		    al_err_set(err, AL_EINPUT, "%s: no scores for instrument %s", path, instrument);
	}
	return st;
}

static int parse_pcts(const char *s, double *lo, double *hi)
{
	char *end;
	*lo = strtod(s, &end);
	if (*end != ',')
		return 0;
	*hi = strtod(end + 1, &end);
	return *end == '\0' && *lo > 0 && *lo < *hi && *hi < 100;
}

static int etr_fit_cmd(int argc, char **argv)
{
	const char *data = NULL, *out = NULL;
	al_err err = {0};
	etr_model m = {0};
	lmm_opts o;
	frame fr = {0};
	char *js = NULL;
	int rc = CLI_FAIL;
	lmm_opts_default(&o);
	m.lower_pct = 10;
	m.upper_pct = 90;
	m.higher_is_worse = 1;
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			usage(stdout);
			return CLI_OK;
		} else if (strcmp(argv[i], "--instrument") == 0 && i + 1 < argc) {
			snprintf(m.instrument, sizeof m.instrument, "%s", argv[++i]);
		} else if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) &&
		           i + 1 < argc) {
			out = argv[++i];
		} else if (strcmp(argv[i], "--percentiles") == 0 && i + 1 < argc) {
			if (!parse_pcts(argv[++i], &m.lower_pct, &m.upper_pct)) {
				fprintf(stderr,
				        "alliance etr: --percentiles wants LO,HI with 0 < LO < HI "
				        "< 100 "
				        "(got \"%s\")\n",
				        argv[i]);
				return CLI_USAGE;
			}
		} else if (strcmp(argv[i], "--higher-better") == 0) {
			m.higher_is_worse = 0;
		} else if (strcmp(argv[i], "--ml") == 0) {
			o.reml = 0;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "alliance etr fit: unknown option %s\n", argv[i]);
			return CLI_USAGE;
		} else if (data == NULL) {
			data = argv[i];
		} else {
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (data == NULL || out == NULL || m.instrument[0] == '\0') {
		usage(stderr);
		return CLI_USAGE;
	}
	if (load_scores(data, m.instrument, &fr, &err) != AL_OK)
		goto done;
	if (etr_fit(&fr, &o, &m, &err) != AL_OK)
		goto done;
	js = etr_model_json(&m);
	if (js == NULL) {
		al_err_set(&err, AL_ENOMEM, "out of memory");
		goto done;
	}
	os_out f = {0};
	if (os_out_open(&f, out, &err) != AL_OK)
		goto done;
	fprintf(f.fp, "%s\n", js);
	if (os_out_commit(&f, &err) != AL_OK)
		goto done;
	if (!m.converged)
		fprintf(stderr, "alliance etr: warning: %s\n", m.convergence);
	fprintf(stderr, "alliance etr: %s: %zu scores of %d clients after intake\n", m.instrument,
	        m.nobs, m.nclients);
	rc = CLI_OK;
done:
	if (rc != CLI_OK)
		rc = cli_fail(&err);
	free(js);
	frame_cleanup(&fr);
	return rc;
}

typedef struct obs {
	size_t row;
	double session;
} obs;

static int cmp_obs(const void *a, const void *b)
{
	const obs *x = a, *y = b;
	if (x->session != y->session)
		return x->session < y->session ? -1 : 1;
	return (x->row > y->row) - (x->row < y->row);
}

static int etr_check_cmd(int argc, char **argv)
{
	const char *data = NULL, *model = NULL, *client = NULL, *out = "-";
	al_err err = {0};
	etr_model m;
	frame fr = {0};
	os_map mm = {0};
	os_out f = {0};
	double *intake = NULL, *isess = NULL;
	obs *rows = NULL;
	size_t *start = NULL;
	int rc = CLI_FAIL;
	for (int i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			usage(stdout);
			return CLI_OK;
		} else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) {
			model = argv[++i];
		} else if (strcmp(argv[i], "--client") == 0 && i + 1 < argc) {
			client = argv[++i];
		} else if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) &&
		           i + 1 < argc) {
			out = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "alliance etr check: unknown option %s\n", argv[i]);
			return CLI_USAGE;
		} else if (data == NULL) {
			data = argv[i];
		} else {
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (data == NULL || model == NULL) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (os_map_file(&mm, model, &err) != AL_OK)
		goto done;
	if (etr_model_parse(&m, mm.data, mm.len, &err) != AL_OK) {
		char msg[AL_ERR_MAX];
		snprintf(msg, sizeof msg, "%s", err.msg);
		al_err_clear(&err);
		al_err_set(&err, AL_EINPUT, "%s: %s", model, msg);
		goto done;
	}
	if (load_scores(data, m.instrument, &fr, &err) != AL_OK)
		goto done;
	const frame_col *cl = &fr.cols[0];
	int32_t only = -1;
	if (client != NULL && (only = frame_level(cl, client)) < 0) {
		al_err_set(&err, AL_ENOTFOUND, "%s: no %s scores of client %s", data, m.instrument,
		           client);
		goto done;
	}
	size_t nl = (size_t)cl->nlevels;
	intake = malloc(nl * sizeof *intake);
	isess = malloc(nl * sizeof *isess);
	rows = malloc(fr.n * sizeof *rows);
	start = calloc(nl + 1, sizeof *start);
	if (!intake || !isess || !rows || !start) {
		al_err_set(&err, AL_ENOMEM, "out of memory");
		goto done;
	}
	if (etr_intake(&fr, intake, isess, &err) != AL_OK)
		goto done;
	/* rows grouped by client (in level order), then by session */
	for (size_t i = 0; i < fr.n; i++)
		start[cl->code[i] + 1]++;
	for (size_t c = 0; c < nl; c++)
		start[c + 1] += start[c];
	{
		size_t *fill = calloc(nl, sizeof *fill);
		if (fill == NULL) {
			al_err_set(&err, AL_ENOMEM, "out of memory");
			goto done;
		}
		for (size_t i = 0; i < fr.n; i++) {
			int32_t c = cl->code[i];
			rows[start[c] + fill[c]++] = (obs){i, fr.cols[1].num[i]};
		}
		free(fill);
	}
	if (os_out_open(&f, out, &err) != AL_OK)
		goto done;
	fprintf(f.fp, "client_id,session,observed,expected,lower,upper,status\n");
	for (size_t c = 0; c < nl; c++) {
		if (only >= 0 && (int32_t)c != only)
			continue;
		qsort(rows + start[c], start[c + 1] - start[c], sizeof *rows, cmp_obs);
		for (size_t r = start[c]; r < start[c + 1]; r++) {
			size_t i = rows[r].row;
			double s = fr.cols[1].num[i], y = fr.cols[2].num[i], mu, lo, hi;
			if (!(s > 0)) {
				os_out_abort(&f);
				al_err_set(&err, AL_EINPUT,
				           "%s:%u: column session: must be positive (got "
				           "\"%g\")",
				           data, (unsigned)fr.line[i], s);
				goto done;
			}
			etr_expect(&m, intake[c], s, &mu, &lo, &hi);
			lmm_cli_field(f.fp, cl->levels[c]);
			fprintf(f.fp, ",%g,%g,%.4f,%.4f,%.4f,%s\n", s, y, mu, lo, hi,
			        etr_status(&m, y, lo, hi));
		}
	}
	if (os_out_commit(&f, &err) != AL_OK)
		goto done;
	rc = CLI_OK;
done:
	if (rc != CLI_OK)
		rc = cli_fail(&err);
	os_map_release(&mm);
	frame_cleanup(&fr);
	free(intake);
	free(isess);
	free(rows);
	free(start);
	return rc;
}

int cmd_etr(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (cli_is_help(argv[1])) {
		usage(stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "fit") == 0)
		return etr_fit_cmd(argc - 1, argv + 1);
	if (strcmp(argv[1], "check") == 0)
		return etr_check_cmd(argc - 1, argv + 1);
	fprintf(stderr, "alliance etr: unknown subcommand '%s' (fit or check)\n", argv[1]);
	return CLI_USAGE;
}
