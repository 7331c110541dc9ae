/* bytes.h: equality of short byte strings, inline.
 *
 * The registry report's hot path compares ids, modality and instrument names
 * a few bytes long tens of millions of times; a call to memcmp costs more
 * than the comparison itself there (measured: docs/BENCHMARKS.md), so they
 * are compared eight bytes at a time in place. */
#ifndef AL_BYTES_H
#define AL_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 1 if a[0..n) equals b[0..n). */
__attribute__((always_inline)) static inline int bytes_eq(const char *a, const char *b, size_t n)
{
	for (; n >= 8; a += 8, b += 8, n -= 8) {
		uint64_t x, y;
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return 0;
	}
	for (; n > 0; n--)
		if (*a++ != *b++)
			return 0;
	return 1;
}

#endif
