/* cmd_init.c: `alliance init [--db URL]`: create the practice database, or
 * upgrade its schema to this version, and create its key file. */
#include <getopt.h>
#include <stdio.h>

#include "../store/store.h"
#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: alliance init [--db URL] [--key FILE] [--quiet]\n\n"
	        "Create the practice database, or bring an existing one up to this version\n"
	        "of the schema (migrations are numbered and only ever go forward), and create\n"
	        "the key file that encrypts therapist notes and client display names.\n\n"
	        "  --db URL     sqlite:PATH, a plain PATH, or postgresql://USER@HOST/DB\n"
	        "               (default: $ALLIANCE_DB, else alliance.db)\n"
	        "  --key FILE   the key file (default: $ALLIANCE_KEY, else PATH.key beside an\n"
	        "               SQLite database, alliance.key for PostgreSQL). It is created\n"
	        "               with mode 0600; keep it out of the database's backups, and\n"
	        "               back it up separately: without it notes cannot be read.\n"
	        "  -q, --quiet  print nothing on success\n");
}

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
	                                     {"key", required_argument, NULL, 'k'},
	                                     {"quiet", no_argument, NULL, 'q'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	store_opts so = {.init = 1};
	int quiet = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': so.url = optarg; break;
		case 'k': so.key = optarg; break;
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
	if (store_open(&s, &so, &err) != AL_OK)
		return cli_fail(&err);
	int v = 0;
	if (store_schema_version(s, &v, &err) != AL_OK) {
		store_close(s);
		return cli_fail(&err);
	}
	if (!quiet)
		printf("%s: %s database at schema version %d; key file %s\n", store_url(s),
		       store_backend(s), v, store_key_file(s));
	store_close(s);
	return CLI_OK;
}
