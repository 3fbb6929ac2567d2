/* Immutable, shared file content (content.h). */
#include "content.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "deps.h"
#include "lock.h"
#include "util.h"

/* The bytes, shared by every content showing them. */
struct bytes {
        refcount refs;
        struct content_shelf *shelf GUARDED_BY(shelf_lock);     /* where they are known, or NULL */
        uint64_t version;       /* of the rendering that made them */
        size_t len;
        char data[];
};

struct content {
        refcount refs;
        uint64_t version;
        struct deps *deps;
        struct bytes *b;
};

struct content_shelf {
        struct bytes *latest GUARDED_BY(shelf_lock);    /* no reference: cleared when they go */
};

/* Guards every shelf and the bytes' way back to theirs; taken last (the
 * last reference to bytes may go under any other lock). */
static mutex shelf_lock = { PTHREAD_MUTEX_INITIALIZER };

/* A reference to bytes that are not going already. */
static bool ref_get_live(refcount *r)
{
        unsigned n = __atomic_load_n(&r->n, __ATOMIC_RELAXED);
        while (n)
                if (__atomic_compare_exchange_n(&r->n, &n, n + 1, true, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                        return true;
        return false;
}

static struct bytes *bytes_new(const char *data, size_t len, uint64_t version)
{
        struct bytes *b = malloc(sizeof(*b) + len + 1);
        if (!b)
                return NULL;
        ref_init(&b->refs);
        b->shelf = NULL;
        b->version = version;
        b->len = len;
        if (len)
                memcpy(b->data, data, len);
        b->data[len] = '\0';
        return b;
}

static void bytes_unref(struct bytes *b)
{
        if (!b || !ref_put(&b->refs))
                return;
        mutex_lock(&shelf_lock);
        if (b->shelf && b->shelf->latest == b)
                b->shelf->latest = NULL;
        mutex_unlock(&shelf_lock);
        free(b);
}

static struct content *content_of(struct bytes *b, uint64_t version, struct deps *deps)
{
        struct content *c = malloc(sizeof(*c));
        if (!c) {
                bytes_unref(b);
                deps_free(deps);
                return NULL;
        }
        ref_init(&c->refs);
        c->version = version;
        c->deps = deps;
        c->b = b;
        return c;
}

struct content *content_new(const char *data, size_t len, uint64_t version, struct deps *deps)
{
        struct bytes *b = bytes_new(data, len, version);
        if (!b) {
                deps_free(deps);
                return NULL;
        }
        return content_of(b, version, deps);
}

/* The bytes on the shelf, if they are data (or, data NULL, of version). */
static struct bytes *shelf_find(struct content_shelf *shelf, const char *data, size_t len, uint64_t version)
{
        mutex_lock(&shelf_lock);
        struct bytes *b = shelf->latest;
        if (b && !ref_get_live(&b->refs))
                b = NULL;
        mutex_unlock(&shelf_lock);
        if (!b)
                return NULL;
        bool same = data ? b->len == len && memcmp(b->data, data, len) == 0 : b->version == version;
        if (same)
                return b;
        bytes_unref(b);
        return NULL;
}

struct content *content_new_shared(struct content_shelf *shelf, const char *data, size_t len, uint64_t version,
                                   struct deps *deps)
{
        struct bytes *b = shelf_find(shelf, data, len, version);
        if (!b && !data) {
                errno = 0;
                return NULL;
        }
        if (!b) {
                if (!(b = bytes_new(data, len, version))) {
                        deps_free(deps);
                        errno = ENOMEM;
                        return NULL;
                }
                mutex_lock(&shelf_lock);
                b->shelf = shelf;
                shelf->latest = b;
                mutex_unlock(&shelf_lock);
        }
        struct content *c = content_of(b, version, deps);
        if (!c)
                errno = ENOMEM;
        return c;
}

struct content *content_ref(struct content *c)
{
        if (c)
                ref_get(&c->refs);
        return c;
}

void content_unref(struct content *c)
{
        if (!c || !ref_put(&c->refs))
                return;
        deps_free(c->deps);
        bytes_unref(c->b);
        free(c);
}

const char *content_data(const struct content *c)
{
        return c->b->data;
}

size_t content_len(const struct content *c)
{
        return c->b->len;
}

uint64_t content_version(const struct content *c)
{
        return c->version;
}

bool content_current(const struct content *c)
{
        return !c->deps || deps_still_valid(c->deps);
}

struct timespec content_inputs_changed(const struct content *c)
{
        return c->deps ? deps_latest_change(c->deps) : (struct timespec){ 0 };
}

size_t content_footprint(const struct content *c)
{
        return sizeof(*c) + sizeof(*c->b) + c->b->len + 1;
}

bool content_same_bytes(const struct content *a, const struct content *b)
{
        return a->b == b->b;
}

const void *content_bytes_key(const struct content *c)
{
        return c->b;
}

struct content_shelf *content_shelves_new(size_t n)
{
        return calloc(n ? n : 1, sizeof(struct content_shelf));
}

struct content_shelf *content_shelf_at(struct content_shelf *shelves, size_t i)
{
        return &shelves[i];
}

void content_shelves_free(struct content_shelf *shelves, size_t n)
{
        if (!shelves)
                return;
        mutex_lock(&shelf_lock);
        for (size_t i = 0; i < n; i++)
                if (shelves[i].latest)
                        shelves[i].latest->shelf = NULL;
        mutex_unlock(&shelf_lock);
        free(shelves);
}
