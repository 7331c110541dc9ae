/* cmd_export.c: `alliance export --db URL --format csv -o OUT.csv`: every
 * item answer in the database, as the item-level long format. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../os/os.h"
#include "../store/store.h"
#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: alliance export [--db URL] [--format csv] [-o OUT.csv] [--quiet]\n\n"
	             "Write every item answer of the practice in the item-level long format\n"
	             "(client_id,therapist_id,session,date,modality,instrument,item,value; see\n"
	             "docs/FORMATS.md), one row per item, skipped items with an empty value,\n"
	             "ordered by client (in the order they were added), session, instrument and\n"
	             "item. Importing a registry and exporting it gives the same rows. The export\n"
	             "is recorded in the audit log.\n\n"
	             "  --db URL        the database (default: $ALLIANCE_DB, else alliance.db)\n"
	             "  --format csv    the only format so far\n"
	             "  -o, --output F  where to write (default: standard output); the file\n"
	             "                  appears whole or not at all\n"
	             "  -q, --quiet     no summary on stderr\n");
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"db", required_argument, NULL, 'd'},     {"format", required_argument, NULL, 'f'},
	    {"output", required_argument, NULL, 'o'}, {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
	store_opts so = {0};
	const char *outpath = "-";
	int quiet = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': so.url = optarg; break;
		case 'f':
			if (strcmp(optarg, "csv") != 0) {
				fprintf(stderr,
				        "alliance: export: unknown format '%s' (only csv)\n",
				        optarg);
				return CLI_USAGE;
			}
			break;
		case 'o': outpath = optarg; break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return CLI_OK;
		default: usage(stderr); return CLI_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	al_err err = {0};
	store *s = NULL;
	os_out out = {0};
	int rc = CLI_FAIL;
	size_t rows = 0;
	if (store_open(&s, &so, &err) != AL_OK || os_out_open(&out, outpath, &err) != AL_OK ||
	    store_export_items(s, out.fp, &rows, &err) != AL_OK ||
	    os_out_commit(&out, &err) != AL_OK) {
		rc = cli_fail(&err);
		goto out;
	}
	if (!quiet)
		fprintf(stderr, "alliance: %zu item rows exported\n", rows);
	rc = CLI_OK;
out:
	os_out_abort(&out);
	store_close(s);
	return rc;
}
