/* Versions of an option list sharing one array (optlist.h). */
#include "optlist.h"

#include <stdlib.h>

#include "optline.h"
#include "util.h"

/* The lines of some versions of a list; lines[0..used) are owned. */
struct optarray {
        refcount refs;
        size_t used;
        size_t cap;
        struct optline *lines[];
};

struct optlist {
        refcount refs;
        size_t n;
        struct optarray *arr;
        size_t bytes;
};

static size_t lines_bytes(struct optline *const *lines, size_t n)
{
        size_t b = 0;
        for (size_t i = 0; i < n; i++)
                b += lines[i]->text_len + 1;
        return b;
}

static void optarray_unref(struct optarray *arr)
{
        if (!arr || !ref_put(&arr->refs))
                return;
        for (size_t i = 0; i < arr->used; i++)
                optline_unref(arr->lines[i]);
        free(arr);
}

/* A version of arr: its first n lines (takes a reference on arr). */
static struct optlist *version_of(struct optarray *arr, size_t n, size_t bytes)
{
        struct optlist *l = malloc(sizeof(*l));
        if (!l)
                return NULL;
        ref_get(&arr->refs);
        *l = (struct optlist){ .n = n, .arr = arr, .bytes = bytes };
        ref_init(&l->refs);
        return l;
}

/* A new array holding lines then more, with room for cap lines. */
static struct optlist *make(struct optline *const *lines, size_t n, struct optline *const *more, size_t nmore,
                            size_t cap)
{
        if (cap < n + nmore)
                cap = n + nmore;
        struct optarray *arr = malloc(sizeof(*arr) + cap * sizeof(arr->lines[0]));
        if (!arr)
                return NULL;
        *arr = (struct optarray){ .used = n + nmore, .cap = cap };
        ref_init(&arr->refs);
        for (size_t i = 0; i < n; i++)
                arr->lines[i] = optline_ref(lines[i]);
        for (size_t i = 0; i < nmore; i++)
                arr->lines[n + i] = optline_ref(more[i]);
        struct optlist *l = version_of(arr, n + nmore, lines_bytes(arr->lines, n + nmore));
        optarray_unref(arr);    /* the version holds it now, or nobody */
        return l;
}

struct optlist *optlist_new(struct optline *const *lines, size_t n)
{
        return make(lines, n, NULL, 0, 8);
}

struct optlist *optlist_extend(const struct optlist *cur, size_t base, struct optline *const *more, size_t nmore)
{
        struct optarray *arr = cur->arr;
        if (base != cur->n || arr->used != cur->n || arr->cap - arr->used < nmore)
                /* A copy with room to grow: appends stay amortised O(1). */
                return make(arr->lines, base, more, nmore, 2 * (base + nmore));
        for (size_t i = 0; i < nmore; i++)
                arr->lines[arr->used + i] = optline_ref(more[i]);
        arr->used += nmore;
        return version_of(arr, base + nmore, cur->bytes + lines_bytes(more, nmore));
}

struct optlist *optlist_ref(struct optlist *l)
{
        if (l)
                ref_get(&l->refs);
        return l;
}

void optlist_unref(struct optlist *l)
{
        if (!l || !ref_put(&l->refs))
                return;
        optarray_unref(l->arr);
        free(l);
}

size_t optlist_len(const struct optlist *l)
{
        return l->n;
}

struct optline *const *optlist_lines(const struct optlist *l)
{
        return l->arr->lines;
}

size_t optlist_bytes(const struct optlist *l)
{
        return l->bytes;
}
