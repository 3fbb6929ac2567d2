/* Inode numbers (inodes.h): a table of slots in chunks that never move, so
 * a look-up needs no lock; a list of free slots for reuse. */
#include "inodes.h"

#include <stdlib.h>

#include "lock.h"
#include "util.h"

#define CHUNK_SLOTS 4096
#define CHUNKS_MAX 4096         /* 16M objects at once */

struct chunk {
        struct inode *slots[CHUNK_SLOTS];
        uint32_t generations[CHUNK_SLOTS];      /* of the slot's last user */
};

struct inodes {
        mutex lock;
        struct chunk *chunks[CHUNKS_MAX];       /* set once, then read without the lock */
        uint32_t used GUARDED_BY(lock);         /* slots handed out so far (slot 0: the root's) */
        uint32_t *free GUARDED_BY(lock);        /* slots given back */
        size_t nfree, free_cap GUARDED_BY(lock);
};

int inodes_new(struct inodes **ret, bf_error *err)
{
        struct inodes *t = calloc(1, sizeof(*t));
        if (!t)
                return bf_error_oom(err);
        mutex_init(&t->lock);
        t->used = 1;
        *ret = t;
        return 0;
}

void inodes_free(struct inodes *t)
{
        if (!t)
                return;
        for (size_t i = 0; i < CHUNKS_MAX; i++)
                free(t->chunks[i]);
        free(t->free);
        mutex_destroy(&t->lock);
        free(t);
}

int inodes_add(struct inodes *t, struct inode *obj, bf_error *err)
{
        mutex_lock(&t->lock);
        uint32_t slot;
        if (t->nfree) {
                slot = t->free[--t->nfree];
        } else if (t->used / CHUNK_SLOTS < CHUNKS_MAX) {
                slot = t->used;
                struct chunk **c = &t->chunks[slot / CHUNK_SLOTS];
                if (!*c) {
                        struct chunk *n = calloc(1, sizeof(*n));
                        if (!n) {
                                mutex_unlock(&t->lock);
                                return bf_error_oom(err);
                        }
                        __atomic_store_n(c, n, __ATOMIC_RELEASE);
                }
                t->used++;
        } else {
                mutex_unlock(&t->lock);
                return bf_error_set(err, ENFILE, "more than %d objects in the tree", CHUNKS_MAX * CHUNK_SLOTS);
        }
        struct chunk *c = t->chunks[slot / CHUNK_SLOTS];
        obj->slot = slot;
        obj->generation = ++c->generations[slot % CHUNK_SLOTS];
        __atomic_store_n(&c->slots[slot % CHUNK_SLOTS], obj, __ATOMIC_RELEASE);
        mutex_unlock(&t->lock);
        return 0;
}

void inodes_remove(struct inodes *t, struct inode *obj)
{
        mutex_lock(&t->lock);
        struct chunk *c = t->chunks[obj->slot / CHUNK_SLOTS];
        __atomic_store_n(&c->slots[obj->slot % CHUNK_SLOTS], NULL, __ATOMIC_RELEASE);
        if (t->nfree == t->free_cap) {
                size_t cap = t->free_cap ? 2 * t->free_cap : 64;
                uint32_t *f = realloc(t->free, cap * sizeof(*f));
                if (!f) {
                        /* the slot is lost, not reused wrongly */
                        mutex_unlock(&t->lock);
                        return;
                }
                t->free = f;
                t->free_cap = cap;
        }
        t->free[t->nfree++] = obj->slot;
        mutex_unlock(&t->lock);
}

struct inode *inodes_get(struct inodes *t, uint64_t ino)
{
        uint64_t slot = ino / INO_PARTS;
        if (slot / CHUNK_SLOTS >= CHUNKS_MAX)
                return NULL;
        struct chunk *c = __atomic_load_n(&t->chunks[slot / CHUNK_SLOTS], __ATOMIC_ACQUIRE);
        return c ? __atomic_load_n(&c->slots[slot % CHUNK_SLOTS], __ATOMIC_ACQUIRE) : NULL;
}
