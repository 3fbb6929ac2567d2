#include "buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

bool buf_grow(buf *b, size_t extra)
{
        if (b->oom)
                return false;
        size_t need = b->len + extra;
        if (need < b->len) {
                b->oom = true;
                return false;
        }
        size_t cap = b->cap ? b->cap : 256;
        while (cap < need)
                cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
                b->oom = true;
                return false;
        }
        b->p = p;
        b->cap = cap;
        return true;
}

void buf_printf(buf *b, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0 || (b->cap - b->len < (size_t) n + 1 && !buf_grow(b, (size_t) n + 1)))
                return;
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, (size_t) n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t) n;
}

void buf_put_u64(buf *b, unsigned long long v)
{
        char tmp[24];
        char *e = tmp + sizeof(tmp), *s = e;
        do {
                *--s = (char) ('0' + v % 10);
                v /= 10;
        } while (v);
        buf_put(b, s, (size_t) (e - s));
}

void buf_put_i64(buf *b, long long v)
{
        if (v < 0) {
                buf_putc(b, '-');
                buf_put_u64(b, 0ull - (unsigned long long) v);
        } else
                buf_put_u64(b, (unsigned long long) v);
}

void buf_free(buf *b)
{
        free(b->p);
        *b = (buf){ 0 };
}

char *buf_steal(buf *b, size_t *ret_len)
{
        char *p = b->p;
        if (ret_len)
                *ret_len = b->len;
        *b = (buf){ 0 };
        return p;
}
