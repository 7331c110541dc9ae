/* store_fault.c: a backend that wraps another and makes call N fail.
 *
 * For tests, in the manner of SQLite's fault-injecting VFS: a test runs an
 * operation once to count its backend calls, then again for every N from 1
 * to that count with call N failing, and checks each time that the error is
 * clean, nothing partial was written and nothing leaked. A failure is
 * "busy" (AL_EBUSY), an I/O error (AL_ESTORE) or, sticky, a lost connection:
 * call N and every call after it fail. rollback and close are never failed,
 * as a real engine rolls back by itself when the connection dies. */
#include <stdlib.h>

#include "store_int.h"

struct store_drv {
	const store_ops *in;
	store_drv *d;
	long calls, fail_at;
	al_status how;
	int sticky, dead;
};

static al_status inject(store_drv *f, al_err *err)
{
	f->calls++;
	if (f->dead || (f->fail_at > 0 && f->calls == f->fail_at)) {
		if (f->sticky)
			f->dead = 1;
		if (f->sticky)
			return al_err_set(err, AL_ESTORE,
			                  "injected fault at call %ld: connection lost", f->calls);
		if (f->how == AL_EBUSY)
			return al_err_set(err, AL_EBUSY,
			                  "injected fault at call %ld: database is locked",
			                  f->calls);
		return al_err_set(err, f->how, "injected fault at call %ld: disk I/O error",
		                  f->calls);
	}
	return AL_OK;
}

static void f_close(store_drv *f)
{
	(void)f; /* the store closes the inner backend itself */
}

static al_status f_exec(store_drv *f, const char *sql, al_err *err)
{
	al_status st = inject(f, err);
	return st != AL_OK ? st : f->in->exec(f->d, sql, err);
}

static al_status f_begin(store_drv *f, int write, al_err *err)
{
	al_status st = inject(f, err);
	return st != AL_OK ? st : f->in->begin(f->d, write, err);
}

static al_status f_commit(store_drv *f, al_err *err)
{
	al_status st = inject(f, err);
	return st != AL_OK ? st : f->in->commit(f->d, err);
}

static void f_rollback(store_drv *f)
{
	f->in->rollback(f->d);
}

static al_status f_run(store_drv *f, int slot, const char *sql, const store_val *params, int n,
                       store_row_fn fn, void *ctx, int64_t *changes, al_err *err)
{
	al_status st = inject(f, err);
	return st != AL_OK ? st : f->in->run(f->d, slot, sql, params, n, fn, ctx, changes, err);
}

static al_status f_backup(store_drv *f, const char *path, al_err *err)
{
	al_status st = inject(f, err);
	return st != AL_OK ? st : f->in->backup(f->d, path, err);
}

static al_status f_restore(store_drv *f, const char *path, const char *key_check, al_err *err)
{
	al_status st = inject(f, err);
	return st != AL_OK ? st : f->in->restore(f->d, path, key_check, err);
}

static const store_ops fault_ops = {
    .name = "fault",
    .blob_type = "BLOB",
    .close = f_close,
    .exec = f_exec,
    .begin = f_begin,
    .commit = f_commit,
    .rollback = f_rollback,
    .run = f_run,
    .backup = f_backup,
    .restore = f_restore,
};

al_status store_fault_wrap(const store_ops *inner_ops, store_drv *inner, long fail_at,
                           al_status how, int sticky, const store_ops **ops, store_drv **out)
{
	store_drv *f = calloc(1, sizeof *f);
	if (f == NULL)
		return AL_ENOMEM;
	f->in = inner_ops;
	f->d = inner;
	f->fail_at = fail_at;
	f->how = how;
	f->sticky = sticky;
	*ops = &fault_ops;
	*out = f;
	return AL_OK;
}

long store_fault_count(const store_drv *f)
{
	return f->calls;
}

void store_fault_unwrap(store_drv *f)
{
	free(f);
}
