/* Bump allocator: everything a rendering builds lives in one arena and is
 * released at once, so the spec model needs no per-field free. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct arena_chunk;

typedef struct arena {
        struct arena_chunk *head;
        char *cur;
        char *end;
        size_t used;        /* bytes handed out, for limits and statistics */
        size_t limit;       /* 0 = unlimited; past it allocations fail */
        size_t chunk_min;   /* size of the first chunk */
} arena;

void arena_init(arena *a, size_t limit);
/* For many small arenas (one per option line): a small first chunk. */
void arena_init_small(arena *a);
/* Free every chunk but the first, which is kept for reuse. */
void arena_reset(arena *a);
void arena_done(arena *a);
/* Bytes the arena holds from malloc (its chunks). */
size_t arena_footprint(const arena *a);

void *arena_alloc_slow(arena *a, size_t size);

/* Zeroed, 16-byte aligned; NULL when out of memory or over the limit. */
static inline void *arena_alloc(arena *a, size_t size)
{
        size = (size + 15) & ~(size_t) 15;
        if ((size_t) (a->end - a->cur) >= size && size && (!a->limit || a->used + size <= a->limit)) {
                void *p = a->cur;
                a->cur += size;
                a->used += size;
                memset(p, 0, size);
                return p;
        }
        return arena_alloc_slow(a, size);
}

char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_strdup(arena *a, const char *s);
char *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
