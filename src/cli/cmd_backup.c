/* cmd_backup.c: `alliance backup --db URL -o FILE` and `alliance restore
 * --db URL FILE`: a consistent copy of a live database (SQLite's online
 * backup API; pg_dump's custom format for PostgreSQL), and back. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../store/store.h"
#include "cli.h"

static void usage(FILE *out, int restore)
{
	if (restore)
		fprintf(
		    out,
		    "usage: alliance restore [--db URL] FILE\n\n"
		    "Replace the whole database with a copy made by 'alliance backup'\n"
		    "(pg_restore --clean for PostgreSQL). The key file is not part of a backup:\n"
		    "the database needs the key it was backed up with.\n\n"
		    "  --db URL   the database (default: $ALLIANCE_DB, else alliance.db)\n");
	else
		fprintf(
		    out,
		    "usage: alliance backup [--db URL] -o FILE\n\n"
		    "Copy the database while it is in use: SQLite's online backup API (the copy\n"
		    "is itself an SQLite database), or pg_dump --format=custom for PostgreSQL.\n"
		    "The key file is not included; back it up separately.\n\n"
		    "  --db URL        the database (default: $ALLIANCE_DB, else alliance.db)\n"
		    "  -o, --output F  the backup file\n");
}

static int run(int argc, char **argv, int restore)
{
	static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
	                                     {"output", required_argument, NULL, 'o'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	store_opts so = {0};
	const char *file = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, restore ? "h" : "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': so.url = optarg; break;
		case 'o': file = optarg; break;
		case 'h': usage(stdout, restore); return CLI_OK;
		default: usage(stderr, restore); return CLI_USAGE;
		}
	}
	if (restore && argc - optind == 1)
		file = argv[optind++];
	if (file == NULL || optind != argc) {
		usage(stderr, restore);
		return CLI_USAGE;
	}
	al_err err = {0};
	store *s = NULL;
	int rc = CLI_OK;
	if (store_open(&s, &so, &err) != AL_OK ||
	    (restore ? store_restore(s, file, &err) : store_backup(s, file, &err)) != AL_OK)
		rc = cli_fail(&err);
	store_close(s);
	return rc;
}

int cmd_backup(int argc, char **argv)
{
	return run(argc, argv, 0);
}

int cmd_restore(int argc, char **argv)
{
	return run(argc, argv, 1);
}
