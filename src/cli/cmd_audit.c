/* cmd_audit.c: `alliance audit verify --db URL`: check the audit log's hash
 * chain and name the first entry that was altered, removed or reordered. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../store/store.h"
#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: alliance audit verify [--db URL]\n\n"
	             "Every read and write of client data appends an entry (who, what, when) to\n"
	             "the audit log; each entry's BLAKE2b hash covers its contents and the hash\n"
	             "of the entry before it. verify recomputes the chain of every practice and\n"
	             "reports the first broken entry; the exit status is then 1.\n\n"
	             "  --db URL   the database (default: $ALLIANCE_DB, else alliance.db)\n");
}

int cmd_audit(int argc, char **argv)
{
	static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	store_opts so = {0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': so.url = optarg; break;
		case 'h': usage(stdout); return CLI_OK;
		default: usage(stderr); return CLI_USAGE;
		}
	}
	if (argc - optind != 1 || strcmp(argv[optind], "verify") != 0) {
		usage(stderr);
		return CLI_USAGE;
	}
	al_err err = {0};
	store *s = NULL;
	long n = 0;
	int rc = CLI_OK;
	if (store_open(&s, &so, &err) != AL_OK || store_audit_verify(s, &n, &err) != AL_OK) {
		if (n > 0)
			fprintf(stderr, "alliance: %ld entries before it are intact\n", n);
		rc = cli_fail(&err);
	} else {
		printf("audit log intact: %ld entries\n", n);
	}
	store_close(s);
	return rc;
}
