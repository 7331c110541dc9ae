/* problems.c: bounded list of input problems (see problems.h). */
#include "problems.h"

#include <stdlib.h>
#include <string.h>

void problems_init(problems *p)
{
	memset(p, 0, sizeof *p);
}

void problems_cleanup(problems *p)
{
	for (size_t i = 0; i < p->kept; i++)
		free(p->msg[i]);
	memset(p, 0, sizeof *p);
}

void problems_add(problems *p, al_err *err)
{
	p->total++;
	if (p->kept < PROBLEMS_KEEP) {
		char *m = strdup(err->msg[0] ? err->msg : al_status_str(err->status));
		if (m != NULL)
			p->msg[p->kept++] = m;
		else
			p->oom = 1;
	}
	al_err_clear(err);
}

void problems_print(const problems *p, FILE *out)
{
	for (size_t i = 0; i < p->kept; i++)
		fprintf(out, "%s\n", p->msg[i]);
	if (p->total > p->kept)
		fprintf(out, "... and %zu more problem%s\n", p->total - p->kept,
		        p->total - p->kept == 1 ? "" : "s");
}
