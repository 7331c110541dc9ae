/* arena.h: a region allocator. Many small allocations, one free: for the
 * strings of a file being read, or everything a web request touches. A hard
 * maximum keeps hostile input from growing memory without bound. */
#ifndef AL_ARENA_H
#define AL_ARENA_H

#include <stddef.h>

typedef struct arena_block arena_block;
typedef struct arena {
	arena_block *head;
	size_t used_total; /* bytes handed out plus block overhead */
	size_t max;        /* 0 = no limit */
} arena;

/* An empty arena that will refuse to grow beyond max bytes (0: no limit). */
void arena_init(arena *a, size_t max);
/* Free every block. The arena may be used again after. */
void arena_cleanup(arena *a);
/* n bytes aligned for any type, or NULL when out of memory or over max. */
void *arena_alloc(arena *a, size_t n);
/* A NUL-terminated copy of s[0..len), or NULL. */
char *arena_strndup(arena *a, const char *s, size_t len);

#endif
