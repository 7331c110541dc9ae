/* os.c: files and the progress bar (see os.h). */
#define _GNU_SOURCE
#include "os.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

al_status os_map_file(os_map *m, const char *path, al_err *err)
{
	memset(m, 0, sizeof *m);
	int fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return al_err_set(err, errno == ENOENT ? AL_ENOTFOUND : AL_EIO, "%s: %s", path,
		                  strerror(errno));
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return al_err_set(err, AL_EIO, "%s: %s", path, strerror(e));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return al_err_set(err, AL_EIO, "%s: is a directory, not a file", path);
	}
	if (S_ISREG(st.st_mode)) {
		if (st.st_size == 0) {
			close(fd);
			m->data = "";
			return AL_OK;
		}
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		close(fd);
		if (p == MAP_FAILED)
			return al_err_set(err, AL_EIO, "%s: cannot map: %s", path, strerror(errno));
		madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
		m->data = p;
		m->len = (size_t)st.st_size;
		m->mapped = 1;
		return AL_OK;
	}
	/* a pipe or terminal: read it all */
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	if (buf == NULL) {
		close(fd);
		return al_err_set(err, AL_ENOMEM, "%s: out of memory", path);
	}
	for (;;) {
		if (len == cap) {
			char *n = realloc(buf, cap * 2);
			if (n == NULL) {
				free(buf);
				close(fd);
				return al_err_set(err, AL_ENOMEM, "%s: out of memory", path);
			}
			buf = n;
			cap *= 2;
		}
		ssize_t k = read(fd, buf + len, cap - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return al_err_set(err, AL_EIO, "%s: %s", path, strerror(e));
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	close(fd);
	m->data = buf;
	m->len = len;
	return AL_OK;
}

void os_map_release(os_map *m)
{
	if (m->mapped)
		munmap((void *)m->data, m->len);
	else if (m->len > 0)
		free((void *)m->data);
	memset(m, 0, sizeof *m);
}

al_status os_out_open(os_out *o, const char *path, al_err *err)
{
	memset(o, 0, sizeof *o);
	if (strcmp(path, "-") == 0) {
		o->fp = stdout;
		return AL_OK;
	}
	o->path = strdup(path);
	if (o->path == NULL || asprintf(&o->tmp, "%s.tmp.XXXXXX", path) < 0) {
		free(o->path);
		o->path = NULL;
		o->tmp = NULL;
		return al_err_set(err, AL_ENOMEM, "%s: out of memory", path);
	}
	int fd = mkostemp(o->tmp, O_CLOEXEC);
	if (fd < 0) {
		al_err_set(err, AL_EIO, "%s: cannot create: %s", path, strerror(errno));
		free(o->path);
		free(o->tmp);
		memset(o, 0, sizeof *o);
		return AL_EIO;
	}
	/* mkostemp makes 0600; outputs are ordinary files, so give them the mode
	 * open(2) would: 0666 less the umask. A fixed 0644 overrode a umask of
	 * 077 and left exports of every client's answers readable by all. */
	mode_t mask = umask(077);
	umask(mask);
	fchmod(fd, 0666 & ~mask);
	o->fp = fdopen(fd, "w");
	if (o->fp == NULL) {
		close(fd);
		unlink(o->tmp);
		free(o->path);
		free(o->tmp);
		memset(o, 0, sizeof *o);
		return al_err_set(err, AL_ENOMEM, "%s: out of memory", path);
	}
	setvbuf(o->fp, NULL, _IOFBF, 1 << 16);
	return AL_OK;
}

al_status os_out_commit(os_out *o, al_err *err)
{
	al_status st = AL_OK;
	if (o->fp == NULL)
		return AL_OK;
	if (o->tmp == NULL) {
		if (fflush(o->fp) != 0 || ferror(o->fp))
			st = al_err_set(err, AL_EIO, "standard output: write failed");
		memset(o, 0, sizeof *o);
		return st;
	}
	if (fflush(o->fp) != 0 || ferror(o->fp) || fsync(fileno(o->fp)) != 0)
		st = al_err_set(err, AL_EIO, "%s: write failed: %s", o->path, strerror(errno));
	if (fclose(o->fp) != 0 && st == AL_OK)
		st = al_err_set(err, AL_EIO, "%s: write failed: %s", o->path, strerror(errno));
	o->fp = NULL;
	if (st == AL_OK && rename(o->tmp, o->path) != 0)
		st = al_err_set(err, AL_EIO, "%s: cannot rename into place: %s", o->path,
		                strerror(errno));
	if (st != AL_OK)
		unlink(o->tmp);
	free(o->tmp);
	free(o->path);
	memset(o, 0, sizeof *o);
	return st;
}

void os_out_abort(os_out *o)
{
	if (o->fp != NULL && o->tmp != NULL)
		fclose(o->fp);
	if (o->tmp != NULL)
		unlink(o->tmp);
	free(o->tmp);
	free(o->path);
	memset(o, 0, sizeof *o);
}

al_status os_mkdirs(const char *path, al_err *err)
{
	char buf[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof buf)
		return al_err_set(err, AL_EIO, "%s: bad directory name", path);
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] == '/' || buf[i] == '\0') {
			char c = buf[i];
			buf[i] = '\0';
			if (mkdir(buf, 0755) != 0 && errno != EEXIST)
				return al_err_set(err, AL_EIO, "%s: cannot create directory: %s",
				                  buf, strerror(errno));
			buf[i] = c;
		}
	}
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return al_err_set(err, AL_EIO, "%s: not a directory", path);
	return AL_OK;
}

double os_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void os_progress_start(os_progress *p, const char *what, uint64_t total_bytes, int quiet)
{
	memset(p, 0, sizeof *p);
	p->on = !quiet && isatty(STDERR_FILENO);
	p->what = what;
	p->total = total_bytes;
	p->t0 = p->last = os_now();
}

static void human_rows(char *out, size_t n, uint64_t rows)
{
	if (rows >= 10000000)
		snprintf(out, n, "%.1fM", (double)rows / 1e6);
	else if (rows >= 10000)
		snprintf(out, n, "%.0fk", (double)rows / 1e3);
	else
		snprintf(out, n, "%llu", (unsigned long long)rows);
}

void os_progress_update(os_progress *p, uint64_t done, uint64_t rows)
{
	if (!p->on)
		return;
	double now = os_now();
	if (now - p->last < 0.1)
		return;
	p->last = now;
	double el = now - p->t0, mb = (double)done / 1e6, rate = el > 0 ? mb / el : 0;
	char r[32];
	human_rows(r, sizeof r, rows);
	if (p->total > 0) {
		double frac = (double)done / (double)p->total;
		if (frac > 1)
			frac = 1;
		int w = 30, fill = (int)(frac * w);
		char bar[31];
		for (int i = 0; i < w; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[w] = '\0';
		double left = rate > 0 ? ((double)p->total / 1e6 - mb) / rate : 0;
		fprintf(stderr, "\r%s [%s] %3.0f%%  %s rows  %.0f/%.0f MB  %.0f MB/s  %.0fs left ",
		        p->what, bar, frac * 100, r, mb, (double)p->total / 1e6, rate, left);
	} else {
		fprintf(stderr, "\r%s  %s rows  %.0f MB  %.0f MB/s ", p->what, r, mb, rate);
	}
	fflush(stderr);
}

void os_progress_end(os_progress *p, uint64_t rows)
{
	if (!p->on)
		return;
	char r[32];
	human_rows(r, sizeof r, rows);
	fprintf(stderr, "\r%s: %s rows in %.1fs%*s\n", p->what, r, os_now() - p->t0, 40, "");
	p->on = 0;
}
