/* cmd_key.c: `alliance key rotate --db URL`: a new key for the encrypted
 * fields (notes, display names), everything re-encrypted in one transaction. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../store/store.h"
#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: alliance key rotate [--db URL] [--key FILE]\n\n"
	             "Make a new key, re-encrypt every therapist note and client display name\n"
	             "with it in one transaction, and replace the key file. Until the\n"
	             "transaction commits the old key stays in force; a rotation cut off after\n"
	             "the commit is completed the next time the database is opened (the new key\n"
	             "waits in FILE.new).\n\n"
	             "  --db URL    the database (default: $ALLIANCE_DB, else alliance.db)\n"
	             "  --key FILE  the key file (see 'alliance init --help')\n");
}

int cmd_key(int argc, char **argv)
{
	static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
	                                     {"key", required_argument, NULL, 'k'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	store_opts so = {0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': so.url = optarg; break;
		case 'k': so.key = optarg; break;
		case 'h': usage(stdout); return CLI_OK;
		default: usage(stderr); return CLI_USAGE;
		}
	}
	if (argc - optind != 1 || strcmp(argv[optind], "rotate") != 0) {
		usage(stderr);
		return CLI_USAGE;
	}
	al_err err = {0};
	store *s = NULL;
	int rc = CLI_OK;
	if (store_open(&s, &so, &err) != AL_OK || store_key_rotate(s, &err) != AL_OK)
		rc = cli_fail(&err);
	else
		printf("%s: new key in place\n", store_key_file(s));
	store_close(s);
	return rc;
}
