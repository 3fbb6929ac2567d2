/* What each user's open files hold (pins.h). Two search trees (tsearch):
 * each uid's open files and bytes, and how many of a uid's open files hold
 * each distinct bytes. */
#include "pins.h"

#include <search.h>
#include <stdbool.h>
#include <stdlib.h>

#include "content.h"
#include "lock.h"
#include "util.h"

struct usage {
        uid_t uid;
        size_t open;
        size_t bytes;
};

/* One uid's open files holding the same bytes. */
struct held {
        uid_t uid;
        const void *key;        /* content_bytes_key */
        size_t size;
        size_t count;
};

struct pins {
        mutex lock;
        void *usage GUARDED_BY(lock);   /* struct usage, by uid */
        void *held GUARDED_BY(lock);    /* struct held, by uid and bytes */
};

static int usage_cmp(const void *a, const void *b)
{
        uid_t x = ((const struct usage *) a)->uid, y = ((const struct usage *) b)->uid;
        return x < y ? -1 : x > y;
}

static int held_cmp(const void *a, const void *b)
{
        const struct held *x = a, *y = b;
        if (x->uid != y->uid)
                return x->uid < y->uid ? -1 : 1;
        return x->key < y->key ? -1 : x->key > y->key;
}

int pins_new(struct pins **ret, bf_error *err)
{
        struct pins *p = calloc(1, sizeof(*p));
        if (!p)
                return bf_error_oom(err);
        mutex_init(&p->lock);
        *ret = p;
        return 0;
}

void pins_free(struct pins *p) NO_LOCK_ANALYSIS
{
        if (!p)
                return;
        tdestroy(p->usage, free);
        tdestroy(p->held, free);
        mutex_destroy(&p->lock);
        free(p);
}

/* uid's usage, made when missing (NULL without memory). */
static struct usage *usage_of(struct pins *p, uid_t uid) REQUIRES(p->lock)
{
        struct usage want = { .uid = uid };
        void *found = tfind(&want, &p->usage, usage_cmp);
        if (found)
                return *(struct usage **) found;
        struct usage *u = malloc(sizeof(*u));
        if (!u)
                return NULL;
        *u = want;
        if (!tsearch(u, &p->usage, usage_cmp)) {
                free(u);
                return NULL;
        }
        return u;
}

static void usage_drop_if_idle(struct pins *p, struct usage *u) REQUIRES(p->lock)
{
        if (u->open || u->bytes)
                return;
        tdelete(u, &p->usage, usage_cmp);
        free(u);
}

int pins_open(struct pins *p, uid_t uid, bf_error *err)
{
        mutex_lock(&p->lock);
        struct usage *u = usage_of(p, uid);
        int r = !u ? bf_error_oom(err) :
                u->open >= PINS_OPEN_MAX ?
                     bf_error_set(err, EMFILE, "uid %u has %d files of the tree open already", (unsigned) uid,
                                  PINS_OPEN_MAX) : 0;
        if (r == 0)
                u->open++;
        mutex_unlock(&p->lock);
        return r;
}

void pins_close(struct pins *p, uid_t uid)
{
        mutex_lock(&p->lock);
        struct usage *u = usage_of(p, uid);
        if (u && u->open) {
                u->open--;
                usage_drop_if_idle(p, u);
        }
        mutex_unlock(&p->lock);
}

static struct held *held_find(struct pins *p, uid_t uid, const struct content *c) REQUIRES(p->lock)
{
        struct held want = { .uid = uid, .key = content_bytes_key(c) };
        void *found = tfind(&want, &p->held, held_cmp);
        return found ? *(struct held **) found : NULL;
}

int pins_swap(struct pins *p, uid_t uid, const struct content *hold, const struct content *drop, bf_error *err)
{
        if (hold && drop && content_same_bytes(hold, drop))
                return 0;
        int r = 0;
        mutex_lock(&p->lock);
        struct usage *u = usage_of(p, uid);
        if (!u) {
                mutex_unlock(&p->lock);
                return bf_error_oom(err);
        }
        struct held *old = drop ? held_find(p, uid, drop) : NULL;
        struct held *now = hold ? held_find(p, uid, hold) : NULL;
        if (hold && !now) {
                /* New bytes for this uid: within the bound, or the only ones it holds. */
                size_t size = content_len(hold);
                size_t after = u->bytes + size - (old && old->count == 1 ? old->size : 0);
                bool alone = after == size;
                if (after > PINS_BYTES_MAX && !alone) {
                        r = bf_error_set(err, EMFILE, "uid %u holds %zu MiB of the tree's files open already "
                                         "(at most %zu MiB)", (unsigned) uid, u->bytes >> 20, PINS_BYTES_MAX >> 20);
                } else if (!(now = malloc(sizeof(*now)))) {
                        r = bf_error_oom(err);
                } else {
                        *now = (struct held){ .uid = uid, .key = content_bytes_key(hold), .size = size };
                        if (!tsearch(now, &p->held, held_cmp)) {
                                free(TAKE_PTR(now));
                                r = bf_error_oom(err);
                        } else {
                                u->bytes += size;
                        }
                }
        }
        if (r == 0 && now)
                now->count++;
        if (r == 0 && old && --old->count == 0) {
                u->bytes -= old->size;
                tdelete(old, &p->held, held_cmp);
                free(old);
        }
        usage_drop_if_idle(p, u);
        mutex_unlock(&p->lock);
        return r;
}
