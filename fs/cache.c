/* Kept renderings within a budget (cache.h). */
#include "cache.h"

#include <stdlib.h>

#include "content.h"
#include "lock.h"
#include "util.h"

struct cache_slot {
        struct cache *cache;
        bool (*drop_kept)(void *owner);
        void *owner;
        struct content *rendered GUARDED_BY(cache->lock);
        size_t kept_bytes GUARDED_BY(cache->lock);
        size_t bytes GUARDED_BY(cache->lock);      /* rendered and kept together */
        bool in_lru GUARDED_BY(cache->lock);
        struct cache_slot *prev, *next GUARDED_BY(cache->lock);
};

struct cache {
        mutex lock;
        struct cache_slot *head, *tail GUARDED_BY(lock);       /* most recently used first */
        size_t bytes GUARDED_BY(lock);
        size_t max GUARDED_BY(lock);
};

int cache_new(size_t max, struct cache **ret, bf_error *err)
{
        struct cache *c = calloc(1, sizeof(*c));
        if (!c)
                return bf_error_oom(err);
        mutex_init(&c->lock);
        c->max = max;
        *ret = c;
        return 0;
}

void cache_free(struct cache *c)
{
        if (!c)
                return;
        mutex_destroy(&c->lock);
        free(c);
}

static void lru_unlink(struct cache *c, struct cache_slot *s) REQUIRES(c->lock)
{
        if (!s->in_lru)
                return;
        if (s->prev)
                s->prev->next = s->next;
        else
                c->head = s->next;
        if (s->next)
                s->next->prev = s->prev;
        else
                c->tail = s->prev;
        s->prev = s->next = NULL;
        s->in_lru = false;
}

static void lru_push_front(struct cache *c, struct cache_slot *s) REQUIRES(c->lock)
{
        lru_unlink(c, s);
        s->next = c->head;
        if (c->head)
                c->head->prev = s;
        c->head = s;
        if (!c->tail)
                c->tail = s;
        s->in_lru = true;
}

/* Account for what s holds now; a slot holding nothing leaves the list.
 * used: it was just used, so it moves to the front. */
static void account(struct cache *c, struct cache_slot *s, bool used) REQUIRES(c->lock)
{
        size_t bytes = (s->rendered ? content_footprint(s->rendered) : 0) + s->kept_bytes;
        c->bytes = c->bytes - s->bytes + bytes;
        s->bytes = bytes;
        if (!bytes)
                lru_unlink(c, s);
        else if (used || !s->in_lru)
                lru_push_front(c, s);
}

/* Evict from the least recently used end until within budget, in one pass
 * (the list's order is left as it is). keep is spared. */
static void evict(struct cache *c, const struct cache_slot *keep) REQUIRES(c->lock)
{
        struct cache_slot *s = c->tail;
        while (s && c->bytes > c->max) {
                struct cache_slot *prev = s->prev;
                if (s != keep) {
                        content_unref(TAKE_PTR(s->rendered));
                        if (s->kept_bytes && s->drop_kept(s->owner))
                                s->kept_bytes = 0;
                        account(c, s, false);
                }
                s = prev;
        }
}

void cache_set_max(struct cache *c, size_t max)
{
        mutex_lock(&c->lock);
        c->max = max;
        evict(c, NULL);
        mutex_unlock(&c->lock);
}

struct cache_slot *cache_slot_new(struct cache *c, bool (*drop_kept)(void *owner), void *owner)
{
        struct cache_slot *s = calloc(1, sizeof(*s));
        if (!s)
                return NULL;
        *s = (struct cache_slot){ .cache = c, .drop_kept = drop_kept, .owner = owner };
        return s;
}

void cache_slot_free(struct cache_slot *s)
{
        if (!s)
                return;
        struct cache *c = s->cache;
        mutex_lock(&c->lock);
        content_unref(TAKE_PTR(s->rendered));
        s->kept_bytes = 0;
        account(c, s, false);
        mutex_unlock(&c->lock);
        free(s);
}

struct content *cache_get(struct cache_slot *s, uint64_t version)
{
        struct cache *c = s->cache;
        mutex_lock(&c->lock);
        struct content *r = NULL;
        if (s->rendered && content_version(s->rendered) == version) {
                r = content_ref(s->rendered);
                lru_push_front(c, s);
        }
        mutex_unlock(&c->lock);
        return r;
}

void cache_put(struct cache_slot *s, struct content *content, uint64_t current)
{
        struct cache *c = s->cache;
        mutex_lock(&c->lock);
        if (content_version(content) == current) {
                content_unref(s->rendered);
                s->rendered = content_ref(content);
                account(c, s, true);
                evict(c, s);
        }
        mutex_unlock(&c->lock);
}

void cache_kept(struct cache_slot *s, size_t bytes, uint64_t current)
{
        struct cache *c = s->cache;
        mutex_lock(&c->lock);
        if (s->rendered && content_version(s->rendered) != current)
                content_unref(TAKE_PTR(s->rendered));
        s->kept_bytes = bytes;
        account(c, s, true);
        evict(c, s);
        mutex_unlock(&c->lock);
}
