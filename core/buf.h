/* A growable byte buffer for rendered output. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct buf {
        char *p;
        size_t len;
        size_t cap;
        bool oom;       /* set once an allocation failed; later appends are dropped */
} buf;

bool buf_grow(buf *b, size_t extra);

static inline void buf_put(buf *b, const void *s, size_t n)
{
        if (b->cap - b->len < n + 1 && !buf_grow(b, n + 1))
                return;
        memcpy(b->p + b->len, s, n);
        b->len += n;
        b->p[b->len] = '\0';
}

static inline void buf_putc(buf *b, char c)
{
        if (b->cap - b->len < 2 && !buf_grow(b, 2))
                return;
        b->p[b->len++] = c;
        b->p[b->len] = '\0';
}

static inline void buf_puts(buf *b, const char *s)
{
        buf_put(b, s, strlen(s));
}

void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_put_u64(buf *b, unsigned long long v);
void buf_put_i64(buf *b, long long v);
void buf_free(buf *b);
/* Hand the bytes to the caller (NUL-terminated, possibly NULL when empty). */
char *buf_steal(buf *b, size_t *ret_len);
