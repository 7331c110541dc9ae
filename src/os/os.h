/* os.h: the operating-system edge of alliance: mapped input files, output
 * files that appear whole or not at all, and a progress bar on stderr.
 * core/ never includes this; cli/, store/ and web/ do. */
#ifndef AL_OS_H
#define AL_OS_H

#include <stdio.h>
#include <stdint.h>

#include "../core/status.h"

/* A whole file mapped read-only into memory (or read, for pipes). */
typedef struct os_map {
	const char *data;
	size_t len;
	int mapped; /* 1: munmap on release; 0: free */
} os_map;

/* Map path ("-" reads standard input). AL_EIO/AL_ENOTFOUND with err set
 * ("PATH: reason"). An empty file maps to len 0. */
al_status os_map_file(os_map *m, const char *path, al_err *err);
void os_map_release(os_map *m);

/* An output file written under a temporary name beside its final path and
 * renamed into place by os_out_commit, so readers never see half a file and
 * a failed run leaves nothing behind. */
typedef struct os_out {
	FILE *fp;
	char *path; /* final path */
	char *tmp;  /* temporary path */
} os_out;

/* path "-" writes to standard output directly (commit only flushes). */
al_status os_out_open(os_out *o, const char *path, al_err *err);
/* Flush, fsync and rename into place. Always releases o. */
al_status os_out_commit(os_out *o, al_err *err);
/* Remove the temporary file. Safe on a zeroed or committed o. */
void os_out_abort(os_out *o);

/* Create a directory and its parents if they do not exist. */
al_status os_mkdirs(const char *path, al_err *err);

/* A progress bar on stderr, drawn only when stderr is a terminal and quiet
 * is 0. total is in bytes (0 = unknown). Redraws at most 10 times a second. */
typedef struct os_progress {
	int on;
	const char *what;
	uint64_t total;
	double t0, last;
} os_progress;

void os_progress_start(os_progress *p, const char *what, uint64_t total_bytes, int quiet);
/* done bytes and rows so far */
void os_progress_update(os_progress *p, uint64_t done_bytes, uint64_t rows);
void os_progress_end(os_progress *p, uint64_t rows);

/* Seconds on a monotonic clock. */
double os_now(void);

#endif
