/* cli.h: the alliance commands. Each lives in src/cli/cmd_<name>.c as
 * `int cmd_<name>(int argc, char **argv)` with argv[0] the command's name,
 * and returns the process exit status:
 *   0 success, 1 failure (bad input, I/O, database), 2 usage error. */
#ifndef AL_CLI_H
#define AL_CLI_H

#include "../core/status.h"

#define CLI_OK    0
#define CLI_FAIL  1
#define CLI_USAGE 2

int cmd_instruments(int argc, char **argv);
int cmd_score(int argc, char **argv);
int cmd_lmm(int argc, char **argv);
int cmd_etr(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_report(int argc, char **argv);

/* Print "alliance: MESSAGE" for err on stderr and return CLI_FAIL (or
 * CLI_USAGE for AL_EUSAGE). */
int cli_fail(const al_err *err);

/* The instruments directory: --instruments DIR, else $ALLIANCE_INSTRUMENTS,
 * else the directory installed beside the binary (../instruments relative
 * to it, for a build tree), else the compiled-in data directory. */
const char *cli_instruments_dir(const char *opt);

/* 1 if s is "-h" or "--help". */
int cli_is_help(const char *s);

#endif
