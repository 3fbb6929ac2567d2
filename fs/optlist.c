/* Versions of an option list sharing one array (optlist.h). */
#include "optlist.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "optline.h"
#include "util.h"

#define ALIVE UINT64_MAX

/* The lines of some versions of a list; lines[0..used) are owned. A slot
 * is in a version when it is below the version's end and was not dead
 * yet at the version's stamp. */
struct optarray {
        refcount refs;
        size_t used;
        size_t cap;
        uint64_t stamp;         /* the newest version's */
        size_t ndead;           /* slots dead in the newest version */
        struct optline **lines;
        uint64_t *seqs;         /* increasing */
        bool *by_control;       /* written through a control file */
        uint64_t *dead;         /* the stamp from which the slot is dead (read atomically), or ALIVE */
};

/* A version's lines side by side, when some of its array's are dead. */
struct flat {
        struct optline **lines;
        uint64_t *seqs;
        bool *by_control;
};

struct optlist {
        refcount refs;
        struct optarray *arr;
        size_t upto;            /* the slots it looks at: [0, upto) */
        size_t n;               /* of which alive */
        size_t bytes;
        uint64_t stamp;
        struct flat *flat;      /* made on first use, published atomically */
};

static size_t line_bytes(const struct optline *l)
{
        return l->text_len + 1;
}

static bool alive_in(const struct optarray *arr, size_t slot, uint64_t stamp)
{
        return __atomic_load_n(&arr->dead[slot], __ATOMIC_RELAXED) > stamp;
}

static void optarray_unref(struct optarray *arr)
{
        if (!arr || !ref_put(&arr->refs))
                return;
        for (size_t i = 0; i < arr->used; i++)
                optline_unref(arr->lines[i]);
        free(arr->lines);
        free(arr->seqs);
        free(arr->by_control);
        free(arr->dead);
        free(arr);
}

static struct optarray *optarray_new(size_t cap)
{
        struct optarray *arr = calloc(1, sizeof(*arr));
        if (!arr)
                return NULL;
        ref_init(&arr->refs);
        arr->cap = cap ? cap : 8;
        arr->lines = malloc(arr->cap * sizeof(*arr->lines));
        arr->seqs = malloc(arr->cap * sizeof(*arr->seqs));
        arr->by_control = malloc(arr->cap * sizeof(*arr->by_control));
        arr->dead = malloc(arr->cap * sizeof(*arr->dead));
        if (!arr->lines || !arr->seqs || !arr->by_control || !arr->dead) {
                optarray_unref(arr);
                return NULL;
        }
        return arr;
}

static void optarray_push(struct optarray *arr, struct optline *l, uint64_t seq, bool by_control)
{
        arr->lines[arr->used] = optline_ref(l);
        arr->seqs[arr->used] = seq;
        arr->by_control[arr->used] = by_control;
        arr->dead[arr->used] = ALIVE;
        arr->used++;
}

/* The newest version of arr (takes a reference on arr). */
static struct optlist *version_of(struct optarray *arr, size_t n, size_t bytes)
{
        struct optlist *l = malloc(sizeof(*l));
        if (!l)
                return NULL;
        ref_get(&arr->refs);
        *l = (struct optlist){ .arr = arr, .upto = arr->used, .n = n, .bytes = bytes, .stamp = arr->stamp };
        ref_init(&l->refs);
        return l;
}

struct optlist *optlist_new(struct optline *const *lines, const uint64_t *seqs, const bool *by_control, size_t n)
{
        struct optarray *arr = optarray_new(n + 8);
        if (!arr)
                return NULL;
        size_t bytes = 0;
        for (size_t i = 0; i < n; i++) {
                optarray_push(arr, lines[i], seqs ? seqs[i] : i, by_control && by_control[i]);
                bytes += line_bytes(lines[i]);
        }
        struct optlist *l = version_of(arr, n, bytes);
        optarray_unref(arr);    /* the version holds it now, or nobody */
        return l;
}

/* The slot of the line numbered seq among arr's first `upto`, or upto. */
static size_t slot_of(const struct optarray *arr, size_t upto, uint64_t seq)
{
        size_t lo = 0, hi = upto;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (arr->seqs[mid] < seq)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo < upto && arr->seqs[lo] == seq ? lo : upto;
}

static int seq_cmp(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

/* A copy of cur's lines but those numbered drop, then more, with room to grow. */
static struct optlist *copy_changed(const struct optlist *cur, const uint64_t *drop, size_t ndrop,
                                    struct optline *const *more, size_t nmore, uint64_t first_seq, bool by_control)
{
        _cleanup_free_ uint64_t *sorted = ndrop ? malloc(ndrop * sizeof(*sorted)) : NULL;
        if (ndrop && !sorted)
                return NULL;
        if (ndrop) {
                memcpy(sorted, drop, ndrop * sizeof(*sorted));
                qsort(sorted, ndrop, sizeof(*sorted), seq_cmp);
        }
        size_t n = cur->n + nmore;
        struct optarray *arr = optarray_new(2 * n);
        if (!arr)
                return NULL;
        const struct optarray *from = cur->arr;
        size_t bytes = 0;
        for (size_t i = 0; i < cur->upto; i++) {
                if (!alive_in(from, i, cur->stamp) ||
                    (ndrop && bsearch(&from->seqs[i], sorted, ndrop, sizeof(*sorted), seq_cmp)))
                        continue;
                optarray_push(arr, from->lines[i], from->seqs[i], from->by_control[i]);
                bytes += line_bytes(from->lines[i]);
        }
        for (size_t i = 0; i < nmore; i++) {
                optarray_push(arr, more[i], first_seq + i, by_control);
                bytes += line_bytes(more[i]);
        }
        struct optlist *l = version_of(arr, arr->used, bytes);
        optarray_unref(arr);
        return l;
}

struct optlist *optlist_change(const struct optlist *cur, const uint64_t *drop, size_t ndrop,
                               struct optline *const *more, size_t nmore, uint64_t first_seq, bool by_control)
{
        struct optarray *arr = cur->arr;
        bool newest = cur->stamp == arr->stamp && cur->upto == arr->used;
        /* Once dead lines outnumber live ones, a copy (made once in as many
         * changes as lines) keeps the array's size within twice the list's. */
        bool crowded = arr->ndead + ndrop > cur->n - ndrop + nmore + 64;
        if (!newest || crowded || arr->cap - arr->used < nmore)
                return copy_changed(cur, drop, ndrop, more, nmore, first_seq, by_control);
        uint64_t stamp = arr->stamp + 1;
        size_t bytes = cur->bytes;
        for (size_t i = 0; i < ndrop; i++) {
                size_t slot = slot_of(arr, cur->upto, drop[i]);
                if (slot == cur->upto || !alive_in(arr, slot, cur->stamp))
                        continue;       /* not in cur: the caller's mistake, nothing to drop */
                __atomic_store_n(&arr->dead[slot], stamp, __ATOMIC_RELAXED);
                bytes -= line_bytes(arr->lines[slot]);
                arr->ndead++;
        }
        arr->stamp = stamp;
        for (size_t i = 0; i < nmore; i++) {
                optarray_push(arr, more[i], first_seq + i, by_control);
                bytes += line_bytes(more[i]);
        }
        return version_of(arr, arr->used - arr->ndead, bytes);
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
        if (l->flat) {
                free(l->flat->lines);
                free(l->flat->seqs);
                free(l->flat->by_control);
                free(l->flat);
        }
        optarray_unref(l->arr);
        free(l);
}

size_t optlist_len(const struct optlist *l)
{
        return l->n;
}

/* The version's lines side by side (NULL without memory). */
static const struct flat *flat_of(const struct optlist *l)
{
        struct flat *f = __atomic_load_n(&l->flat, __ATOMIC_ACQUIRE);
        if (f)
                return f;
        f = calloc(1, sizeof(*f));
        if (!f || !(f->lines = malloc((l->n + 1) * sizeof(*f->lines))) ||
            !(f->seqs = malloc((l->n + 1) * sizeof(*f->seqs))) ||
            !(f->by_control = malloc((l->n + 1) * sizeof(*f->by_control)))) {
                if (f) {
                        free(f->lines);
                        free(f->seqs);
                }
                free(f);
                return NULL;
        }
        size_t k = 0;
        for (size_t i = 0; i < l->upto && k < l->n; i++)
                if (alive_in(l->arr, i, l->stamp)) {
                        f->lines[k] = l->arr->lines[i];
                        f->by_control[k] = l->arr->by_control[i];
                        f->seqs[k++] = l->arr->seqs[i];
                }
        struct flat *expected = NULL;
        struct optlist *mut = (struct optlist *) l;     /* made once; readers only ever see it whole */
        if (!__atomic_compare_exchange_n(&mut->flat, &expected, f, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                free(f->lines);
                free(f->seqs);
                free(f->by_control);
                free(f);
                return expected;
        }
        return f;
}

struct optline *const *optlist_lines(const struct optlist *l)
{
        if (l->n == l->upto)
                return l->arr->lines;   /* nothing dead below its end */
        const struct flat *f = flat_of(l);
        return f ? f->lines : NULL;
}

uint64_t optlist_seq(const struct optlist *l, size_t i)
{
        if (l->n == l->upto)
                return l->arr->seqs[i];
        const struct flat *f = flat_of(l);
        return f ? f->seqs[i] : UINT64_MAX;
}

bool optlist_by_control(const struct optlist *l, size_t i)
{
        if (l->n == l->upto)
                return l->arr->by_control[i];
        const struct flat *f = flat_of(l);
        return f && f->by_control[i];
}

int optlist_has(const struct optlist *l, uint64_t seq)
{
        size_t slot = slot_of(l->arr, l->upto, seq);
        return slot < l->upto && alive_in(l->arr, slot, l->stamp);
}

struct optline *optlist_find(const struct optlist *l, uint64_t seq)
{
        size_t slot = slot_of(l->arr, l->upto, seq);
        return slot < l->upto && alive_in(l->arr, slot, l->stamp) ? l->arr->lines[slot] : NULL;
}

size_t optlist_bytes(const struct optlist *l)
{
        return l->bytes;
}
