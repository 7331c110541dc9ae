/* problems.h: the list of input problems a reader found, kept to the first
 * PROBLEMS_KEEP messages and counted beyond that (data-format.md section 3:
 * "at most the first 100 problems and then a count"). */
#ifndef AL_PROBLEMS_H
#define AL_PROBLEMS_H

#include <stdio.h>

#include "status.h"

#define PROBLEMS_KEEP 100

typedef struct problems {
	size_t total; /* all problems found */
	size_t kept;
	char *msg[PROBLEMS_KEEP];
	int oom; /* a message could not be stored */
} problems;

void problems_init(problems *p);
void problems_cleanup(problems *p);
/* Record the message in err (then clear err). */
void problems_add(problems *p, al_err *err);
/* Print the kept messages, one per line, then "... and N more problems". */
void problems_print(const problems *p, FILE *out);

#endif
