/* main.c: the alliance command line. One table of commands; each command
 * parses its own options and has its own --help. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#define ALLIANCE_VERSION "0.1.0"

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
    {"instruments", cmd_instruments, "list the questionnaires, or show one"},
    {"score", cmd_score, "score item-level answers into score-level rows"},
    {"report", cmd_report, "the registry report: outcomes, ruptures, per therapist"},
    {"lmm", cmd_lmm, "fit a linear mixed model (lme4 formula syntax)"},
    {"etr", cmd_etr, "expected treatment response: fit curves, check clients"},
    {"init", cmd_init, "create or upgrade the practice database"},
    {"import", cmd_import, "import a registry file into the database"},
    {"export", cmd_export, "export the database's item answers as CSV"},
    {"backup", cmd_backup, "copy the live database to a file"},
    {"restore", cmd_restore, "replace the database with a backup"},
    {"audit", cmd_audit, "verify the audit log's hash chain"},
    {"key", cmd_key, "rotate the key that encrypts notes and names"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: alliance COMMAND [OPTIONS] [ARGS]\n\n"
	             "Measure the therapeutic alliance and outcomes, session by session.\n\n"
	             "commands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
	        "\n'alliance COMMAND --help' describes a command; 'man alliance' all of them.\n"
	        "alliance --version prints the version.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("alliance %s\n", ALLIANCE_VERSION);
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "alliance: unknown command '%s' (see 'alliance --help')\n", argv[1]);
	return CLI_USAGE;
}
