/* The render cache: each container's built spec (live, for the next write
 * to extend) and rendered config.json (for readers), bounded together by
 * the cache size with the least recently used evicted first. A reader
 * serves a cached config.json only after checking that nothing the
 * rendering read has changed since (deps.h). */
#include <stdlib.h>
#include <string.h>

#include "deps.h"
#include "internal.h"

struct rendered *rendered_new(uint64_t version, const buf *json, struct deps *deps)
{
        struct rendered *rd = malloc(sizeof(*rd) + json->len);
        if (!rd)
                return NULL;
        rd->refs = 1;
        rd->version = version;
        rd->deps = deps;
        rd->len = json->len;
        memcpy(rd->data, json->p, json->len);
        return rd;
}

struct rendered *rendered_ref(struct rendered *rd)
{
        if (rd)
                __atomic_add_fetch(&rd->refs, 1, __ATOMIC_RELAXED);
        return rd;
}

void rendered_unref(struct rendered *rd)
{
        if (!rd || __atomic_sub_fetch(&rd->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return;
        deps_free(rd->deps);
        free(rd);
}

void live_free(struct live *l)
{
        if (!l)
                return;
        arena_done(&l->a);
        deps_free(l->deps);
        free(l);
}

/* ---- the LRU list (cache_lock) ------------------------------------------- */

static void lru_unlink(struct bfs *fs, struct container *c)
{
        if (!c->in_lru)
                return;
        if (c->lru_prev)
                c->lru_prev->lru_next = c->lru_next;
        else
                fs->lru_head = c->lru_next;
        if (c->lru_next)
                c->lru_next->lru_prev = c->lru_prev;
        else
                fs->lru_tail = c->lru_prev;
        c->lru_prev = c->lru_next = NULL;
        c->in_lru = false;
}

static void lru_push_front(struct bfs *fs, struct container *c)
{
        lru_unlink(fs, c);
        c->lru_next = fs->lru_head;
        if (fs->lru_head)
                fs->lru_head->lru_prev = c;
        fs->lru_head = c;
        if (!fs->lru_tail)
                fs->lru_tail = c;
        c->in_lru = true;
}

/* Account for what c holds now; a container holding nothing leaves the list.
 * used: c was just used, so it moves to the front. */
static void set_bytes(struct bfs *fs, struct container *c, size_t bytes, bool used)
{
        fs->cache_bytes = fs->cache_bytes - c->cache_bytes + bytes;
        c->cache_bytes = bytes;
        if (!bytes)
                lru_unlink(fs, c);
        else if (used || !c->in_lru)
                lru_push_front(fs, c);
}

/* What c holds, its live state counted only when the caller may look at it. */
static size_t bytes_of(const struct container *c, size_t live_bytes)
{
        return (c->rendered ? sizeof(*c->rendered) + c->rendered->len : 0) + live_bytes;
}

/* Evict from the least recently used end until within budget, in one pass
 * (the list's order is left as it is). A live state whose container is being
 * written is skipped (its write_lock is busy), and so is keep. */
static void evict(struct bfs *fs, const struct container *keep)
{
        struct container *c = fs->lru_tail;
        while (c && fs->cache_bytes > fs->cache_max) {
                struct container *prev = c->lru_prev;
                if (c != keep) {
                        rendered_unref(c->rendered);
                        c->rendered = NULL;
                        size_t live_bytes = c->cache_bytes - bytes_of(c, 0);
                        if (c->live && pthread_mutex_trylock(&c->write_lock) == 0) {
                                live_free(c->live);
                                c->live = NULL;
                                live_bytes = 0;
                                pthread_mutex_unlock(&c->write_lock);
                        }
                        set_bytes(fs, c, bytes_of(c, live_bytes), false);
                }
                c = prev;
        }
}

struct rendered *cache_get(struct bfs *fs, struct container *c, uint64_t version)
{
        pthread_mutex_lock(&fs->cache_lock);
        struct rendered *rd = NULL;
        if (c->rendered && c->rendered->version == version) {
                rd = rendered_ref(c->rendered);
                lru_push_front(fs, c);
        }
        pthread_mutex_unlock(&fs->cache_lock);
        return rd;
}

void cache_put(struct bfs *fs, struct container *c, struct rendered *rd)
{
        pthread_mutex_lock(&fs->cache_lock);
        uint64_t current = __atomic_load_n(&c->version, __ATOMIC_ACQUIRE);
        if (rd->version == current) {
                size_t live_bytes = c->cache_bytes - bytes_of(c, 0);
                rendered_unref(c->rendered);
                c->rendered = rendered_ref(rd);
                set_bytes(fs, c, bytes_of(c, live_bytes), true);
                evict(fs, c);
        }
        pthread_mutex_unlock(&fs->cache_lock);
}

void cache_update(struct bfs *fs, struct container *c)
{
        size_t live_bytes = c->live ? sizeof(*c->live) + arena_footprint(&c->live->a) : 0;
        pthread_mutex_lock(&fs->cache_lock);
        uint64_t current = __atomic_load_n(&c->version, __ATOMIC_ACQUIRE);
        if (c->rendered && c->rendered->version != current) {
                rendered_unref(c->rendered);
                c->rendered = NULL;
        }
        set_bytes(fs, c, bytes_of(c, live_bytes), true);
        evict(fs, c);
        pthread_mutex_unlock(&fs->cache_lock);
}

void cache_forget(struct bfs *fs, struct container *c)
{
        pthread_mutex_lock(&fs->cache_lock);
        rendered_unref(c->rendered);
        c->rendered = NULL;
        set_bytes(fs, c, 0, false);
        pthread_mutex_unlock(&fs->cache_lock);
}

void bfs_set_cache_size(struct bfs *fs, size_t bytes)
{
        pthread_mutex_lock(&fs->cache_lock);
        fs->cache_max = bytes;
        evict(fs, NULL);
        pthread_mutex_unlock(&fs->cache_lock);
}
