/* status.c: names of statuses and the error record (see status.h). */
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *al_status_str(al_status s)
{
	switch (s) {
	case AL_OK: return "ok";
	case AL_ENOMEM: return "out of memory";
	case AL_EIO: return "input/output error";
	case AL_EINPUT: return "malformed input";
	case AL_ELIMIT: return "input exceeds a limit";
	case AL_ENOTFOUND: return "not found";
	case AL_ENUMERIC: return "numerical failure";
	case AL_ESTORE: return "database error";
	case AL_EBUSY: return "database busy";
	case AL_EAUTH: return "not allowed";
	case AL_EUSAGE: return "usage error";
	case AL_EINTERNAL: return "internal error";
	}
	return "unknown status";
}

al_status al_err_set(al_err *err, al_status s, const char *fmt, ...)
{
	if (err == NULL || err->status != AL_OK)
		return s;
	err->status = s;
	va_list ap;
	va_start(ap, fmt);
	/* clang-analyzer 14 misreads va_start here */
	// NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized)
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return s;
}

void al_err_clear(al_err *err)
{
	if (err != NULL) {
		err->status = AL_OK;
		err->msg[0] = '\0';
	}
}

char *al_quote(char *out, size_t outsz, const char *val, size_t len)
{
	size_t n = 0;
	if (outsz == 0)
		return out;
	for (size_t i = 0; i < len && n + 1 < outsz; i++) {
		unsigned char c = (unsigned char)val[i];
		if (n + 4 >= outsz && i + 1 < len) {
			/* room only for the ellipsis: say the value was cut */
			memcpy(out + n, "...", 3);
			n += 3;
			break;
		}
		out[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[n] = '\0';
	return out;
}
