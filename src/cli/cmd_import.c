/* cmd_import.c: `alliance import REGISTRY.csv --db URL`: a registry in the
 * item- or score-level format into the practice database, all or nothing
 * unless --keep-going. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../core/problems.h"
#include "../os/instdir.h"
#include "../os/os.h"
#include "../store/store.h"
#include "cli.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: alliance import FILE.csv [--db URL] [--keep-going [--rejects FILE]]\n"
	             "                       [--instruments DIR] [--quiet]\n\n"
	             "Import a registry in the item-level or score-level format (docs/FORMATS.md)\n"
	             "into the practice database: therapists, clients, courses of treatment,\n"
	             "sessions and administrations are created as needed, with the scores derived\n"
	             "from item answers. Administrations already in the database are left as they\n"
	             "are, so importing the same file twice changes nothing.\n\n"
	             "By default the import is all or nothing: every malformed row is reported as\n"
	             "FILE:LINE: column NAME: problem (got \"VALUE\") and nothing is written.\n\n"
	             "  --db URL          sqlite:PATH, PATH or postgresql://... (default:\n"
	             "                    $ALLIANCE_DB, else alliance.db); see 'alliance init'\n"
	             "  -k, --keep-going  import the valid administrations, reject the bad rows\n"
	             "  --rejects FILE    with --keep-going: write rejected rows, unchanged and\n"
	             "                    under the header, to FILE (default: FILE.rejects.csv)\n"
	             "  --instruments DIR instrument definitions\n"
	             "  -q, --quiet       no progress bar or summary\n\n"
	             "The exit status is 1 when any row had a problem, even with --keep-going.\n");
}

int cmd_import(int argc, char **argv)
{
	static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
	                                     {"keep-going", no_argument, NULL, 'k'},
	                                     {"rejects", required_argument, NULL, 'r'},
	                                     {"instruments", required_argument, NULL, 'i'},
	                                     {"quiet", no_argument, NULL, 'q'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	store_opts so = {0};
	store_import_opts io = {0};
	const char *dir = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "kqh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': so.url = optarg; break;
		case 'k': io.keep_going = 1; break;
		case 'r': io.rejects = optarg; break;
		case 'i': dir = optarg; break;
		case 'q': io.quiet = 1; break;
		case 'h': usage(stdout); return CLI_OK;
		default: usage(stderr); return CLI_USAGE;
		}
	}
	if (argc - optind != 1 || (io.rejects && !io.keep_going)) {
		usage(stderr);
		return CLI_USAGE;
	}
	io.file = argv[optind];
	char rejects[4096];
	if (io.keep_going && io.rejects == NULL) {
		snprintf(rejects, sizeof rejects, "%s.rejects.csv", io.file);
		io.rejects = rejects;
	}
	al_err err = {0};
	inst_lib lib;
	os_map m = {0};
	store *s = NULL;
	problems pr;
	int rc = CLI_FAIL;
	problems_init(&pr);
	if (os_load_instruments(cli_instruments_dir(dir), &lib, &err) != AL_OK)
		return cli_fail(&err);
	io.lib = &lib;
	if (os_map_file(&m, io.file, &err) != AL_OK) {
		rc = cli_fail(&err);
		goto out;
	}
	if (store_open(&s, &so, &err) != AL_OK) {
		rc = cli_fail(&err);
		goto out;
	}
	store_import_stats st;
	double t0 = os_now();
	al_status status = store_import(s, m.data, m.len, &io, &st, &pr, &err);
	if (pr.total > 0)
		problems_print(&pr, stderr);
	if (status != AL_OK) {
		rc = cli_fail(&err);
		goto out;
	}
	if (!io.quiet) {
		fprintf(stderr,
		        "alliance: %s: %zu rows, %zu administrations: %zu added (%zu without a "
		        "score), %zu already present; %zu new clients; %.1f s\n",
		        io.file, st.rows, st.admins, st.added, st.invalid, st.present,
		        st.clients_added, os_now() - t0);
		if (st.rejected_rows > 0)
			fprintf(stderr, "alliance: %zu problem%s; %zu rows rejected to %s\n",
			        pr.total, pr.total == 1 ? "" : "s", st.rejected_rows, io.rejects);
	}
	rc = pr.total > 0 ? CLI_FAIL : CLI_OK;
out:
	store_close(s);
	problems_cleanup(&pr);
	os_map_release(&m);
	inst_lib_cleanup(&lib);
	return rc;
}
