/* Small helpers shared by every part: cleanup attributes, checked arithmetic. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void freep(void *p)
{
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
        if (*fd >= 0)
                close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void *steal_ptr(void *pp)
{
        void **p = pp;
        void *v = *p;
        *p = NULL;
        return v;
}
#define TAKE_PTR(p) steal_ptr(&(p))

static inline int take_fd(int *fd)
{
        int v = *fd;
        *fd = -1;
        return v;
}
#define TAKE_FD(fd) take_fd(&(fd))

static inline bool streq(const char *a, const char *b)
{
        return a == b || (a && b && __builtin_strcmp(a, b) == 0);
}

/* Bytes with their length, as Go holds a string: they may include NUL. */
struct span {
        const char *p;
        size_t len;
};

static inline bool span_eq(struct span a, struct span b)
{
        return a.len == b.len && (a.len == 0 || __builtin_memcmp(a.p, b.p, a.len) == 0);
}

/* Does the span hold exactly the C string s? */
static inline bool span_is(struct span a, const char *s)
{
        return span_eq(a, (struct span){ s, __builtin_strlen(s) });
}
