/* arena.c: region allocator (see arena.h). */
#include "arena.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
	arena_block *next;
	size_t size, used;
	alignas(max_align_t) unsigned char data[];
};

#define ARENA_BLOCK ((size_t)64 * 1024)

void arena_init(arena *a, size_t max)
{
	a->head = NULL;
	a->used_total = 0;
	a->max = max;
}

void arena_cleanup(arena *a)
{
	arena_block *b = a->head;
	while (b != NULL) {
		arena_block *n = b->next;
		free(b);
		b = n;
	}
	a->head = NULL;
	a->used_total = 0;
}

void *arena_alloc(arena *a, size_t n)
{
	const size_t al = alignof(max_align_t);
	n = (n + al - 1) & ~(al - 1);
	if (n == 0)
		n = al;
	arena_block *b = a->head;
	if (b == NULL || b->size - b->used < n) {
		size_t size = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
		if (a->max && a->used_total + size + sizeof *b > a->max)
			return NULL;
		b = malloc(sizeof *b + size);
		if (b == NULL)
			return NULL;
		b->size = size;
		b->used = 0;
		/* a big one-off allocation goes behind the current block so the
		 * current block's free space is not wasted */
		if (a->head != NULL && size != ARENA_BLOCK) {
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
		a->used_total += size + sizeof *b;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

char *arena_strndup(arena *a, const char *s, size_t len)
{
	char *p = arena_alloc(a, len + 1);
	if (p != NULL) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}
