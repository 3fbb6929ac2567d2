#include "arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct arena_chunk {
        struct arena_chunk *next;
        size_t size;
        char data[] __attribute__((aligned(16)));
};

#define ARENA_CHUNK_MIN (16 * 1024)

void arena_init(arena *a, size_t limit)
{
        *a = (arena){ .limit = limit, .chunk_min = ARENA_CHUNK_MIN };
}

void arena_init_small(arena *a)
{
        /* An option line (struct, arguments and text) fits most of the time,
         * and with the chunk header and malloc's own, the chunk takes 256 bytes. */
        *a = (arena){ .chunk_min = 256 - 32 };
}

void *arena_alloc_slow(arena *a, size_t size)
{
        if (size == 0)
                size = 16;
        if (a->limit && a->used + size > a->limit)
                return NULL;
        /* Grow geometrically so long renderings need O(log n) chunks. */
        size_t want = a->chunk_min ? a->chunk_min : ARENA_CHUNK_MIN;
        if (a->head)
                want = a->head->size < (8u << 20) ? a->head->size * 2 : (16u << 20);
        if (a->head && size > want / 2) {
                /* A large block gets a chunk of its own, of its size, behind the
                 * current one, which goes on serving small blocks: a chunk
                 * twice its size would be half empty (a long option line
                 * would take three times its length). */
                struct arena_chunk *own = malloc(sizeof(*own) + size);
                if (!own)
                        return NULL;
                own->size = size;
                own->next = a->head->next;
                a->head->next = own;
                a->used += size;
                memset(own->data, 0, size);
                return own->data;
        }
        if (want < size)
                want = size;
        struct arena_chunk *c = malloc(sizeof(*c) + want);
        if (!c)
                return NULL;
        c->size = want;
        c->next = a->head;
        a->head = c;
        a->cur = c->data + size;
        a->end = c->data + want;
        a->used += size;
        memset(c->data, 0, size);
        return c->data;
}

void arena_reset(arena *a)
{
        struct arena_chunk *c = a->head;
        if (!c)
                return;
        /* Keep the current chunk (the largest of the geometric ones) to avoid
         * malloc churn in loops. */
        struct arena_chunk *rest = c->next;
        while (rest) {
                struct arena_chunk *n = rest->next;
                free(rest);
                rest = n;
        }
        c->next = NULL;
        a->cur = c->data;
        a->end = c->data + c->size;
        a->used = 0;
}

void arena_done(arena *a)
{
        struct arena_chunk *c = a->head;
        while (c) {
                struct arena_chunk *n = c->next;
                free(c);
                c = n;
        }
        *a = (arena){ 0 };
}

size_t arena_footprint(const arena *a)
{
        size_t n = 0;
        for (const struct arena_chunk *c = a->head; c; c = c->next)
                n += sizeof(*c) + c->size;
        return n;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
        char *p = arena_alloc(a, n + 1);
        if (p) {
                memcpy(p, s, n);
                p[n] = '\0';
        }
        return p;
}

char *arena_strdup(arena *a, const char *s)
{
        return arena_strndup(a, s, strlen(s));
}

char *arena_printf(arena *a, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return NULL;
        char *p = arena_alloc(a, (size_t) n + 1);
        if (!p)
                return NULL;
        va_start(ap, fmt);
        vsnprintf(p, (size_t) n + 1, fmt, ap);
        va_end(ap);
        return p;
}
