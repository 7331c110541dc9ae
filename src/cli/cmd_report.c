/* cmd_report.c: `alliance report REGISTRY.csv --out DIR`: the registry report
 * (shared/spec/registry-report.md) over a whole item-level file.
 *
 * This is the speed-critical command (docs/BENCHMARKS.md), so it reads the
 * file differently from `alliance score`:
 *  - The file is read with pread() in 4 MiB blocks into one reusable buffer
 *    per thread, never mapped whole, so memory holds only the report's state
 *    (core/report.h: 32 bytes per administration plus hash slots).
 *  - The data after the header is cut into one byte range per thread, each
 *    cut just after a '\n'. A cut is only right if that '\n' is not inside a
 *    quoted field: the thread before it checks that its last record ended
 *    exactly at the cut; if not (a quoted field with a newline spans it) the
 *    threads' work is thrown away and the file is read again by one thread.
 *  - A line without a '"' goes through a hand-written fast path
 *    (core/fastrow.h) that accepts only the plain forms of each field
 *    (digits without sign or leading zero, a cached date, ...); anything
 *    else, and every quoted record, goes through csv.h and itemrow_parse,
 *    which decide. So the fast path can
 *    never accept a row that itemrow_parse would refuse, and every message
 *    is itemrow's.
 *  - The first pass only counts bad rows and flags administrations that
 *    break a rule spanning rows. When there is any, a second, single-threaded
 *    pass reads the file again to produce the exact messages (with line
 *    numbers; a thread starting mid-file does not know its line) and, with
 *    --keep-going, to write rejects.csv in file order. The clean file, the
 *    case that must be fast, is read once. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/admin.h"
#include "../core/fastrow.h"
#include "../core/report.h"
#include "../os/instdir.h"
#include "../os/os.h"
#include "cli.h"

#define BLOCK       (4u << 20) /* bytes read at a time */
#define MAX_THREADS 16

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: alliance report REGISTRY.csv --out DIR [--keep-going] [--threads N]\n"
	    "                       [--instruments DIR] [--quiet]\n\n"
	    "The registry report (docs/REPORT.md): score every phq9, gad7 and wai_sr\n"
	    "administration of an item-level file, classify each client's change, find\n"
	    "alliance ruptures and repairs, and sum up per therapist and for the service.\n"
	    "Writes DIR/client_summary.csv, DIR/therapist_summary.csv and DIR/overall.json.\n\n"
	    "  -o, --out DIR       where to write (created if missing)\n"
	    "  -k, --keep-going    use the valid administrations; write every rejected row\n"
	    "                      unchanged to DIR/rejects.csv and count them in overall.json\n"
	    "  -j, --threads N     reader threads (default: the number of processors)\n"
	    "  --instruments DIR   instrument definitions (see 'alliance instruments --help')\n"
	    "  -q, --quiet         no progress bar or summary on stderr\n\n"
	    "Every malformed row is reported as FILE:LINE: column NAME: problem (got \"VALUE\"),\n"
	    "as are an item given twice and an administration whose rows disagree on\n"
	    "therapist_id, date or modality (naming both lines). Without --keep-going\n"
	    "nothing is written then, and the exit status is 1.\n");
}

/* What every thread shares, read-only while they run. */
typedef struct job {
	const char *file;
	int fd;
	uint64_t size;
	const itemrow_cols *cols;
	const inst_lib *lib;
} job;

typedef struct worker {
	const job *job;
	uint64_t start, end; /* records that start in [start, end) */
	uint64_t stop;       /* where the record after the last one read starts */
	report_acc acc;
	csv_reader rd;
	char *buf;
	al_status st;
	al_err err;
	_Atomic uint64_t done; /* bytes and rows so far, for the progress bar */
	_Atomic uint64_t nrows;
	_Atomic int finished;
	double secs;                    /* how long the reader ran (ALLIANCE_TIMING) */
	report_row batch[REPORT_BATCH]; /* fast-path rows not yet added; they */
	size_t nbatch;                  /* point into buf */
	fastrow fast;                   /* the fast path's caches */
	/* the second pass (collect = 1): messages and rejects */
	int collect;
	long line;               /* line of the next record */
	const report_acc *flags; /* the merged first pass */
	problems *pr;
	admin_set *set;
	FILE *rejects; /* NULL without --keep-going */
	uint64_t rejected_rows;
	int skipping; /* in an over-long record: to its line end, 1 as after an
	               * error (quotes ignored), 2 in quotes, 3 out of quotes */
} worker;

static void row_from_item(const inst_lib *lib, const itemrow *r, report_row *out)
{
	out->client = r->client.p;
	out->client_len = r->client.len;
	out->therapist = r->therapist.p;
	out->therapist_len = r->therapist.len;
	out->session = r->session;
	out->days = r->days;
	out->mod = (int)r->mod;
	out->inst = (int)(r->inst - lib->defs);
	out->item = r->item;
	out->value = r->value;
}

static void put_reject(worker *w, const char *p, size_t n)
{
	if (w->rejects == NULL)
		return;
	if (n > 0 && p[n - 1] == '\r' && !w->skipping)
		n--;
	fwrite(p, 1, n, w->rejects);
	if (!w->skipping) /* else the rest of the record follows (worker_run) */
		fputc('\n', w->rejects);
	w->rejected_rows++;
}

/* One record that w->rd has just read (got: csv_next's result), checked by
 * itemrow_parse. The first pass counts and accumulates it; the second pass
 * (w->collect) says what is wrong with it, at its line in the file, and
 * keeps the rows of flagged administrations for the messages and rejects. */
static al_status take_csv(worker *w, int got, const al_err *cerr)
{
	const job *j = w->job;
	csv_reader *rd = &w->rd;
	if (got == 0)
		return AL_OK;
	long line = w->line + rd->line - 1;
	if (got < 0) {
		if (!w->collect) {
			w->acc.rows++;
			w->acc.bad_rows++;
			return AL_OK;
		}
		const char *m = cerr->msg;
		if (strncmp(m, "line ", 5) == 0) { /* "line N: what" */
			const char *c = strchr(m, ':');
			m = c ? c + 2 : m;
		}
		al_err e = {0};
		al_err_set(&e, AL_EINPUT, "%s:%ld: %s", j->file, line, m);
		problems_add(w->pr, &e);
		size_t n = (size_t)(rd->cur - rd->raw);
		while (n > 0 && (rd->raw[n - 1] == '\n' || rd->raw[n - 1] == '\r') && !w->skipping)
			n--;
		put_reject(w, rd->raw, n);
		return AL_OK;
	}
	al_err e = {0};
	itemrow ir;
	rd->line = line;
	if (!w->collect) {
		w->acc.rows++;
		if (itemrow_parse(j->cols, rd, j->lib, j->file, &ir, &e) != AL_OK) {
			w->acc.bad_rows++;
			return AL_OK;
		}
		report_row row;
		row_from_item(j->lib, &ir, &row);
		return report_acc_add(&w->acc, &row, &w->err);
	}
	if (itemrow_parse(j->cols, rd, j->lib, j->file, &ir, &e) != AL_OK) {
		problems_add(w->pr, &e);
		put_reject(w, rd->raw, rd->raw_len);
		return AL_OK;
	}
	if (report_acc_is_flagged(w->flags, ir.client.p, ir.client.len, ir.session,
	                          (int)(ir.inst - j->lib->defs))) {
		put_reject(w, rd->raw, rd->raw_len);
		return admin_set_add(w->set, &ir, line, &w->err);
	}
	return AL_OK;
}

/* Every record of p[0..n), which holds whole lines and no '"': the slow
 * path for lines the fast path would not take (csv.h also ends a record at
 * a lone '\r', as `alliance score` does). */
static al_status take_lines(worker *w, const char *p, size_t n)
{
	al_err e = {0};
	int got;
	csv_init(&w->rd, p, n);
	w->rd.cur = p; /* csv_init skips a BOM: only the file's first is one */
	do {
		al_err_clear(&e);
		got = csv_next(&w->rd, &e);
		al_status st = take_csv(w, got, &e);
		if (st != AL_OK)
			return st;
	} while (got != 0);
	w->line += w->rd.next_line - 1;
	return AL_OK;
}

/* Add the rows the fast path has batched. */
static al_status flush(worker *w)
{
	al_status st = report_acc_add_many(&w->acc, w->batch, w->nbatch, &w->err);
	w->nbatch = 0;
	return st;
}

/* Where the record starting at p ends (its '\n' outside quotes), or NULL if
 * it does not end before e. Used for the header only. */
static const char *quoted_end(const char *p, const char *e)
{
	int inq = 0;
	for (; p < e; p++) {
		if (*p == '"')
			inq = !inq;
		else if (*p == '\n' && !inq)
			return p;
	}
	return NULL;
}

static void *worker_run(void *arg)
{
	worker *w = arg;
	const job *j = w->job;
	double t0 = os_now();
	size_t cap = 2 * (size_t)BLOCK + CSV_MAX_RECORD;
	w->buf = malloc(cap + 16); /* padding: see fastrow.h */
	if (w->buf == NULL) {
		w->st = al_err_set(&w->err, AL_ENOMEM, "out of memory for a read buffer");
		goto out;
	}
	uint64_t pos = w->start;  /* file offset of the next byte to read */
	size_t carry = 0;         /* bytes of an unfinished record at buf[0] */
	uint64_t base = w->start; /* file offset of buf[0] */
	int done = 0;
	w->stop = w->start;
	while (!done) {
		size_t want = cap - carry;
		if (want > BLOCK)
			want = BLOCK;
		ssize_t got = 0;
		if (pos < j->size) {
			got = pread(j->fd, w->buf + carry, want, (off_t)pos);
			if (got < 0) {
				if (errno == EINTR)
					continue;
				w->st =
				    al_err_set(&w->err, AL_EIO, "%s: %s", j->file, strerror(errno));
				goto out;
			}
		}
		pos += (uint64_t)got;
		int eof = pos >= j->size || got == 0;
		size_t len = carry + (size_t)got;
		w->buf[len] = '\n'; /* the sentinel fastrow_parse needs */
		const char *p = w->buf, *e = w->buf + len;
		const char *no_nl = e; /* no '\n' from here to e: the fast path
		                        * would scan to e and decline every line */
		if (w->skipping) {
			/* the rest of an over-long record: csv.h ends it at the first
			 * line end outside quotes (its first line was counted) */
			const char *q = p;
			for (; q < e; q++) {
				if (*q == '"' && w->skipping != 1)
					w->skipping = w->skipping == 2 ? 3 : 2;
				else if (*q != '\n' && *q != '\r')
					continue;
				else if (w->skipping != 2)
					break;
				else if (*q == '\n' || q + 1 == e || q[1] != '\n')
					w->line++; /* a line end in quotes: a line of the record */
			}
			if (w->rejects)
				fwrite(p, 1, (size_t)(q - p), w->rejects);
			if (q < e) {
				if (w->rejects)
					fputc('\n', w->rejects);
				w->skipping = 0;
				q += *q == '\r' && q + 1 < e && q[1] == '\n' ? 2 : 1;
			}
			p = q;
			w->stop = base + (uint64_t)(p - w->buf);
		}
		while (p < e) {
			uint64_t off = base + (uint64_t)(p - w->buf);
			if (off >= w->end) {
				done = 1;
				break;
			}
			/* the common case: a whole line, tried on the fast path */
			const char *nl = NULL;
			report_row *row = &w->batch[w->nbatch];
			int f = -2;
			if (p < no_nl)
				f = fastrow_parse(&w->fast, p, e, row, &nl);
			if (f >= 0 && nl == e) {
				f = -2;    /* not whole in the buffer: see below */
				no_nl = p; /* lone CR line ends: csv.h takes them one by one */
			}
			if (f > 0 && !w->collect) {
				w->acc.rows++;
				/* the row of the client just added costs no look-up:
				 * add it now; batch the others (see report.h) */
				int added = 0;
				if (w->nbatch == 0)
					w->st = report_acc_add_same(&w->acc, row, &added, &w->err);
				if (!added && ++w->nbatch == REPORT_BATCH)
					w->st = flush(w);
			} else if (f > 0) {
				/* second pass: a good row matters only if its
				 * administration was flagged */
				if (w->flags->nflagged > 0 &&
				    report_acc_is_flagged(w->flags, row->client, row->client_len,
				                          row->session, row->inst))
					w->st = take_lines(w, p, (size_t)(nl + 1 - p));
				else
					w->line++;
			} else if (f == 0) {
				if ((w->st = flush(w)) == AL_OK)
					w->st = take_lines(w, p, (size_t)(nl + 1 - p));
			}
			if (f >= 0) {
				if (w->st != AL_OK)
					goto out;
				p = nl + 1;
				w->stop = base + (uint64_t)(p - w->buf);
				continue;
			}
			/* -1: a quote; -2: the line is not whole in the buffer.
			 * Either way csv.h below reads the record. */
			/* A '"', or the last bytes of the buffer: csv.h reads one
			 * record, which may span lines. If it ran into the end of the
			 * buffer, read more first, unless the file ends there or the
			 * record is already longer than a record may be. */
			if ((w->st = flush(w)) != AL_OK)
				goto out;
			al_err ce = {0};
			csv_init(&w->rd, p, (size_t)(e - p));
			w->rd.cur = p; /* a BOM here is data, as in alliance score */
			int rgot = csv_next(&w->rd, &ce);
			int forced = (size_t)(e - p) > CSV_MAX_RECORD;
			if (w->rd.cur >= e && !eof && !forced)
				break;
			/* longer than a record may be and no end in the buffer: one bad
			 * record that ends further on, at a line end outside quotes (a
			 * quote still open at e, or csv.h's resync to the line end) */
			if (forced && !eof && w->rd.cur >= e && rgot < 0) {
				w->skipping = strstr(ce.msg, "never closed") ? 2 : 1;
			}
			if ((w->st = take_csv(w, rgot, &ce)) != AL_OK)
				goto out;
			w->line += w->rd.next_line - 1;
			p = w->rd.cur;
			w->stop = base + (uint64_t)(p - w->buf);
			if (w->skipping == 2) {
				/* csv.h counts the line end of a resync, not those in an
				 * open quote: count them, and the record's own */
				for (const char *c = w->rd.raw; c < e; c++)
					if (*c == '\n' ||
					    (*c == '\r' && (c + 1 == e || c[1] != '\n')))
						w->line++;
				w->line++;
			}
			if (w->skipping)
				break;
			if (forced && p >= e) {
				/* a quote never closed: like csv.h, it runs to the end of
				 * the file, and nothing after it is a record */
				w->stop = j->size;
				done = 1;
				break;
			}
		}
		if ((w->st = flush(w)) != AL_OK) /* before buf moves */
			goto out;
		atomic_store_explicit(&w->done, w->stop - w->start, memory_order_relaxed);
		atomic_store_explicit(&w->nrows, w->acc.rows, memory_order_relaxed);
		if (done || (eof && p >= e))
			break;
		carry = (size_t)(e - p);
		memmove(w->buf, p, carry);
		base += (uint64_t)(p - w->buf);
	}
	if (w->skipping && w->rejects) /* the file ended inside that record */
		fputc('\n', w->rejects);
out:
	free(w->buf);
	w->buf = NULL;
	w->secs = os_now() - t0;
	atomic_store(&w->finished, 1);
	return NULL;
}

/* ---- the command ---- */

/* The offset just after the first '\n' at or after from, or size. */
static uint64_t next_line_start(int fd, uint64_t from, uint64_t size)
{
	char b[65536];
	while (from < size) {
		ssize_t n = pread(fd, b, sizeof b, (off_t)from);
		if (n <= 0)
			return size;
		const char *nl = memchr(b, '\n', (size_t)n);
		if (nl)
			return from + (uint64_t)(nl - b) + 1;
		from += (uint64_t)n;
	}
	return size;
}

static void worker_init(worker *w, const job *j, uint64_t start, uint64_t end)
{
	memset(w, 0, sizeof *w);
	w->job = j;
	w->start = start;
	w->end = end;
	fastrow_init(&w->fast, j->cols, j->lib);
}

/* Run nt workers over [start, size) and wait, drawing progress. */
static al_status run_workers(worker *ws, int nt, os_progress *prog, al_err *err)
{
	pthread_t tid[MAX_THREADS];
	int started = 0;
	for (int i = 0; i < nt; i++) {
		if (pthread_create(&tid[i], NULL, worker_run, &ws[i]) != 0) {
			ws[i].st = al_err_set(&ws[i].err, AL_ENOMEM, "cannot start a thread");
			break;
		}
		started++;
	}
	for (;;) {
		int fin = 0;
		uint64_t done = 0, rows = 0;
		for (int i = 0; i < started; i++) {
			fin += atomic_load(&ws[i].finished);
			done += atomic_load_explicit(&ws[i].done, memory_order_relaxed);
			rows += atomic_load_explicit(&ws[i].nrows, memory_order_relaxed);
		}
		if (prog)
			os_progress_update(prog, done, rows);
		if (fin == started)
			break;
		struct timespec ts = {0, prog && prog->on ? 50000000 : 2000000};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	for (int i = 0; i < nt; i++)
		if (ws[i].st != AL_OK) {
			if (err->status == AL_OK)
				*err = ws[i].err;
			return ws[i].st;
		}
	return AL_OK;
}

static al_status noop_admin(void *ctx, const admin *a, al_err *err)
{
	(void)ctx, (void)a, (void)err;
	return AL_OK;
}

static int out_open(os_out *o, const char *dir, const char *name, al_err *err)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return os_out_open(o, path, err) == AL_OK;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
	                                     {"keep-going", no_argument, NULL, 'k'},
	                                     {"threads", required_argument, NULL, 'j'},
	                                     {"instruments", required_argument, NULL, 'i'},
	                                     {"quiet", no_argument, NULL, 'q'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *outdir = NULL, *instdir = NULL;
	int quiet = 0, keep = 0, forced = 0, c;
	long nthreads = sysconf(_SC_NPROCESSORS_ONLN);
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:kj:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': outdir = optarg; break;
		case 'k': keep = 1; break;
		case 'j': {
			char *end;
			nthreads = strtol(optarg, &end, 10);
			forced = 1;
			if (*end || nthreads < 1 || nthreads > MAX_THREADS) {
				fprintf(stderr, "alliance: report: --threads takes 1 to %d\n",
				        MAX_THREADS);
				return CLI_USAGE;
			}
			break;
		}
		case 'i': instdir = optarg; break;
		case 'q': quiet = 1; break;
		case 'h': usage(stdout); return CLI_OK;
		default: usage(stderr); return CLI_USAGE;
		}
	}
	if (argc - optind != 1 || outdir == NULL) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > MAX_THREADS)
		nthreads = MAX_THREADS;
	const char *file = argv[optind];
	al_err err = {0};
	inst_lib lib;
	int rc = CLI_FAIL, fd = -1;
	worker *ws = NULL;
	int nt = 0;
	csv_reader hr = {0};
	char *head = NULL;
	problems pr;
	admin_set set;
	report_result res = {0};
	os_out out[4] = {{0}};
	problems_init(&pr);
	static const char none[1];
	admin_set_init(&set, NULL, none, 0);

	if (os_load_instruments(cli_instruments_dir(instdir), &lib, &err) != AL_OK)
		return cli_fail(&err);
	set.lib = &lib;
	fd = open(file, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		al_err_set(&err, fd < 0 ? AL_ENOTFOUND : AL_EIO, "%s: %s", file,
		           fd < 0 ? strerror(errno) : "not a regular file");
		rc = cli_fail(&err);
		goto out;
	}
	job j = {.file = file, .fd = fd, .size = (uint64_t)st.st_size, .lib = &lib};

	/* the header: the first record of the first MiB */
	size_t hcap = CSV_MAX_RECORD;
	head = malloc(hcap);
	ssize_t hn = head ? pread(fd, head, hcap, 0) : -1;
	if (hn < 0) {
		al_err_set(&err, head ? AL_EIO : AL_ENOMEM, "%s: cannot read", file);
		rc = cli_fail(&err);
		goto out;
	}
	/* csv_next must see the header's line end to know it is whole */
	const char *hend = head + hn;
	const char *hnl = quoted_end(head, hend);
	csv_init(&hr, head, hnl ? (size_t)(hnl - head + 1) : (size_t)hn);
	itemrow_cols cols;
	if (itemrow_read_header(&hr, file, 1, &cols, &err) != AL_OK) {
		rc = cli_fail(&err);
		goto out;
	}
	if (cols.unknown[0] && !quiet)
		fprintf(stderr, "alliance: %s:1: warning: unknown columns ignored: %s\n", file,
		        cols.unknown);
	j.cols = &cols;
	uint64_t data0 = (uint64_t)(hr.cur - head);
	long line0 = hr.next_line;
	const char *hraw = hr.raw;
	size_t hraw_len = hr.raw_len;

	/* first pass: one byte range per thread */
	uint64_t region = j.size - data0;
	/* a small file is not worth a thread, unless asked for (the tests) */
	nt = region < 2 * (uint64_t)BLOCK && !forced ? 1 : (int)nthreads;
	ws = calloc((size_t)nt, sizeof *ws);
	if (ws == NULL) {
		al_err_set(&err, AL_ENOMEM, "out of memory");
		rc = cli_fail(&err);
		goto out;
	}
	uint64_t from = data0;
	for (int i = 0; i < nt; i++) {
		uint64_t to =
		    i == nt - 1
		        ? j.size
		        : next_line_start(fd, data0 + region * (uint64_t)(i + 1) / (uint64_t)nt,
		                          j.size);
		if (to < from)
			to = from;
		worker_init(&ws[i], &j, from, to);
		from = to;
	}
	for (int i = 0; i < nt; i++)
		if (report_acc_init(&ws[i].acc, &lib, &err) != AL_OK) {
			rc = cli_fail(&err);
			goto out;
		}
	os_progress prog;
	os_progress_start(&prog, "report", j.size - data0, quiet);
	if (run_workers(ws, nt, &prog, &err) != AL_OK) {
		rc = cli_fail(&err);
		goto out;
	}
	int cuts_ok = 1;
	for (int i = 0; i + 1 < nt; i++)
		cuts_ok &= ws[i].stop == ws[i].end;
	if (!cuts_ok) {
		/* a quoted field with a newline spans a cut: read again, whole */
		for (int i = 0; i < nt; i++) {
			report_acc_cleanup(&ws[i].acc);
			csv_cleanup(&ws[i].rd);
		}
		nt = 1;
		worker_init(&ws[0], &j, data0, j.size);
		if (report_acc_init(&ws[0].acc, &lib, &err) != AL_OK ||
		    run_workers(ws, 1, &prog, &err) != AL_OK) {
			rc = cli_fail(&err);
			goto out;
		}
	}
	double t_scan = os_now();
	for (int i = 1; i < nt; i++)
		if (report_acc_merge(&ws[0].acc, &ws[i].acc, &err) != AL_OK) {
			rc = cli_fail(&err);
			goto out;
		}
	os_progress_end(&prog, ws[0].acc.rows);
	double t_merge = os_now(), t_sum = 0;
	report_acc *acc = &ws[0].acc;

	report_extra x = {.rows = acc->rows, .keep_going = keep};
	if (keep) {
		if (os_mkdirs(outdir, &err) != AL_OK ||
		    !out_open(&out[3], outdir, "rejects.csv", &err)) {
			rc = cli_fail(&err);
			goto out;
		}
		fwrite(hraw, 1, hraw_len, out[3].fp);
		fputc('\n', out[3].fp);
	}
	if (acc->bad_rows > 0 || acc->nflagged > 0) {
		/* second pass: the exact messages, and the rejected rows */
		worker *w = calloc(1, sizeof *w);
		if (w == NULL) {
			al_err_set(&err, AL_ENOMEM, "out of memory");
			rc = cli_fail(&err);
			goto out;
		}
		worker_init(w, &j, data0, j.size);
		w->collect = 1;
		w->line = line0;
		w->flags = acc;
		w->pr = &pr;
		w->set = &set;
		w->rejects = keep ? out[3].fp : NULL;
		al_status s2 = run_workers(w, 1, NULL, &err);
		if (s2 == AL_OK && set.n > 0) /* admin_set_each qsorts rows: not NULL */
			s2 = admin_set_each(&set, file, &pr, noop_admin, NULL, &err);
		x.rejected_rows = w->rejected_rows;
		x.rejected_administrations = acc->nflagged;
		csv_cleanup(&w->rd);
		free(w);
		if (s2 != AL_OK) {
			rc = cli_fail(&err);
			goto out;
		}
		if (pr.total > 0) {
			problems_print(&pr, stderr);
			if (!keep) {
				fprintf(stderr, "alliance: %s: %zu problem%s; nothing written\n",
				        file, pr.total, pr.total == 1 ? "" : "s");
				goto out;
			}
		}
	}
	if (report_summarize(acc, &res, &err) != AL_OK) {
		rc = cli_fail(&err);
		goto out;
	}
	t_sum = os_now();
	if (os_mkdirs(outdir, &err) != AL_OK ||
	    !out_open(&out[0], outdir, "client_summary.csv", &err) ||
	    !out_open(&out[1], outdir, "therapist_summary.csv", &err) ||
	    !out_open(&out[2], outdir, "overall.json", &err) ||
	    report_write_clients(acc, &res, out[0].fp, &err) != AL_OK ||
	    report_write_therapists(acc, &res, out[1].fp, &err) != AL_OK ||
	    report_write_overall(&res, &x, out[2].fp, &err) != AL_OK) {
		rc = cli_fail(&err);
		goto out;
	}
	for (int i = 0; i < 4; i++)
		if (out[i].fp && os_out_commit(&out[i], &err) != AL_OK) {
			rc = cli_fail(&err);
			goto out;
		}
	if (!quiet) {
		fprintf(stderr,
		        "alliance: %llu rows, %llu administrations (%llu without a score), %zu "
		        "clients, %zu therapists; report written to %s\n",
		        (unsigned long long)acc->rows, (unsigned long long)res.administrations,
		        (unsigned long long)res.invalid, res.nclients, res.ntherapists, outdir);
		if (keep)
			fprintf(stderr,
			        "alliance: %llu rows rejected (%llu administrations whose rows "
			        "conflict) written to %s/rejects.csv\n",
			        (unsigned long long)x.rejected_rows,
			        (unsigned long long)x.rejected_administrations, outdir);
	}
	if (getenv("ALLIANCE_TIMING"))
		fprintf(
		    stderr,
		    "report: %d thread%s%s; read %.3fs, merge %.3fs, summary %.3fs, write %.3fs\n",
		    nt, nt == 1 ? "" : "s",
		    cuts_ok ? "" : " (a quoted newline spans a cut: read again whole)",
		    t_scan - prog.t0, t_merge - t_scan, t_sum - t_merge, os_now() - t_sum);
	if (getenv("ALLIANCE_TIMING"))
		for (int i = 0; i < nt; i++)
			fprintf(stderr, "report: reader %d: %.3fs, %llu rows\n", i, ws[i].secs,
			        (unsigned long long)ws[i].acc.rows);
	rc = CLI_OK;
out:
	for (int i = 0; i < 4; i++)
		os_out_abort(&out[i]);
	report_result_cleanup(&res);
	for (int i = 0; i < nt; i++) {
		report_acc_cleanup(&ws[i].acc);
		csv_cleanup(&ws[i].rd);
	}
	free(ws);
	free(head);
	csv_cleanup(&hr);
	admin_set_cleanup(&set);
	problems_cleanup(&pr);
	if (fd >= 0)
		close(fd);
	inst_lib_cleanup(&lib);
	return rc;
}
