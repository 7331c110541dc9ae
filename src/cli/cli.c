/* cli.c: helpers shared by the commands (see cli.h). */
#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef AL_DATADIR
#define AL_DATADIR "/usr/local/share/alliance"
#endif

int cli_fail(const al_err *err)
{
	fprintf(stderr, "alliance: %s\n", err->msg[0] ? err->msg : al_status_str(err->status));
	return err->status == AL_EUSAGE ? CLI_USAGE : CLI_FAIL;
}

static int is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *cli_instruments_dir(const char *opt)
{
	static char found[PATH_MAX];
	if (opt != NULL)
		return opt;
	const char *env = getenv("ALLIANCE_INSTRUMENTS");
	if (env != NULL && env[0] != '\0')
		return env;
	/* a build tree: build/alliance next to instruments/ */
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		for (int up = 0; up < 3; up++) {
			char *slash = strrchr(exe, '/');
			if (slash == NULL)
				break;
			*slash = '\0';
			if (snprintf(found, sizeof found, "%s/instruments", exe) <
			        (int)sizeof found &&
			    is_dir(found))
				return found;
		}
	}
	snprintf(found, sizeof found, "%s/instruments", AL_DATADIR);
	return found;
}

int cli_is_help(const char *s)
{
	return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0;
}
