/* Scratch files' bytes and attributes (scratch.h). */
#include "scratch.h"

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <stdlib.h>
#include <string.h>

#include "lock.h"
#include "util.h"

struct scratch_pool {
        size_t bytes;           /* held by all scratch files (atomic) */
        mutex lock;
        struct scratch *all GUARDED_BY(lock);  /* for those the kernel never released at the end */
};

struct scratch {
        refcount refs;
        struct scratch_pool *pool;
        struct scratch *prev, *next;    /* in pool->all */
        char *link;             /* immutable; NULL for a regular file */
        mutex lock;
        char *data GUARDED_BY(lock);
        size_t len GUARDED_BY(lock);            /* bytes, all counted in the pool */
        size_t cap GUARDED_BY(lock);
        mode_t mode GUARDED_BY(lock);           /* permission bits */
        uid_t uid GUARDED_BY(lock);
        gid_t gid GUARDED_BY(lock);
        struct timespec atime GUARDED_BY(lock), mtime GUARDED_BY(lock), ctime GUARDED_BY(lock);
};

int scratch_pool_new(struct scratch_pool **ret, bf_error *err)
{
        struct scratch_pool *pool = calloc(1, sizeof(*pool));
        if (!pool)
                return bf_error_oom(err);
        mutex_init(&pool->lock);
        *ret = pool;
        return 0;
}

static void scratch_free(struct scratch *s);

void scratch_pool_free(struct scratch_pool *pool) NO_LOCK_ANALYSIS
{
        if (!pool)
                return;
        /* Scratch files still open when the daemon stops: the kernel sends
         * no release for them. */
        while (pool->all) {
                struct scratch *s = pool->all;
                pool->all = s->next;
                scratch_free(s);
        }
        mutex_destroy(&pool->lock);
        free(pool);
}

/* Take n more bytes from the pool, or fail with ENOSPC. */
static int pool_take(struct scratch_pool *pool, size_t n)
{
        size_t held = __atomic_load_n(&pool->bytes, __ATOMIC_RELAXED);
        do {
                if (n > SCRATCH_BYTES_MAX - held)
                        return -ENOSPC;
        } while (!__atomic_compare_exchange_n(&pool->bytes, &held, held + n, true, __ATOMIC_RELAXED,
                                              __ATOMIC_RELAXED));
        return 0;
}

static void pool_give(struct scratch_pool *pool, size_t n)
{
        __atomic_sub_fetch(&pool->bytes, n, __ATOMIC_RELAXED);
}

static void scratch_free(struct scratch *s) NO_LOCK_ANALYSIS
{
        pool_give(s->pool, s->len + (s->link ? strlen(s->link) : 0));
        free(s->data);
        free(s->link);
        mutex_destroy(&s->lock);
        free(s);
}

static struct timespec now(void)
{
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        return t;
}

int scratch_new(struct scratch_pool *pool, mode_t mode, uid_t uid, gid_t gid, const char *link,
                struct scratch **ret, bf_error *err)
{
        size_t linklen = link ? strlen(link) : 0;
        if (linklen > SCRATCH_LINK_MAX)
                return bf_error_set(err, ENAMETOOLONG, "a symbolic link's target is at most %d bytes",
                                    SCRATCH_LINK_MAX);
        if (linklen && pool_take(pool, linklen) < 0)
                return bf_error_set(err, ENOSPC, "scratch files hold at most %zu bytes in all", SCRATCH_BYTES_MAX);
        struct scratch *s = calloc(1, sizeof(*s));
        if (!s || (link && !(s->link = strdup(link)))) {
                free(s);
                if (linklen)
                        pool_give(pool, linklen);
                return bf_error_oom(err);
        }
        ref_init(&s->refs);
        s->pool = pool;
        mutex_init(&s->lock);
        mutex_lock(&s->lock);
        s->mode = link ? 0777 : mode & 07777;
        s->uid = uid;
        s->gid = gid;
        s->atime = s->mtime = s->ctime = now();
        mutex_unlock(&s->lock);
        mutex_lock(&pool->lock);
        s->next = pool->all;
        if (s->next)
                s->next->prev = s;
        pool->all = s;
        mutex_unlock(&pool->lock);
        *ret = s;
        return 0;
}

struct scratch *scratch_ref(struct scratch *s)
{
        ref_get(&s->refs);
        return s;
}

void scratch_unref(struct scratch *s)
{
        if (!s || !ref_put(&s->refs))
                return;
        struct scratch_pool *pool = s->pool;
        mutex_lock(&pool->lock);
        if (s->prev)
                s->prev->next = s->next;
        else
                pool->all = s->next;
        if (s->next)
                s->next->prev = s->prev;
        mutex_unlock(&pool->lock);
        scratch_free(s);
}

void scratch_stat(struct scratch *s, struct stat *st)
{
        mutex_lock(&s->lock);
        *st = (struct stat){
                .st_mode = (s->link ? S_IFLNK : S_IFREG) | s->mode,
                .st_nlink = 1,
                .st_uid = s->uid,
                .st_gid = s->gid,
                .st_size = (off_t) (s->link ? strlen(s->link) : s->len),
                .st_blksize = 4096,
                .st_atim = s->atime,
                .st_mtim = s->mtime,
                .st_ctim = s->ctime,
        };
        st->st_blocks = (st->st_size + 511) / 512;
        mutex_unlock(&s->lock);
}

const char *scratch_link(const struct scratch *s)
{
        return s->link;
}

/* Make the content len bytes long (new bytes are zeros). */
static int resize(struct scratch *s, size_t len) REQUIRES(s->lock)
{
        if (len > SCRATCH_FILE_MAX)
                return -EFBIG;
        if (len <= s->len) {
                pool_give(s->pool, s->len - len);
                s->len = len;
                return 0;
        }
        if (pool_take(s->pool, len - s->len) < 0)
                return -ENOSPC;
        if (len > s->cap) {
                size_t cap = s->cap ? s->cap : 256;
                while (cap < len)
                        cap *= 2;
                char *p = realloc(s->data, cap);
                if (!p) {
                        pool_give(s->pool, len - s->len);
                        return -ENOMEM;
                }
                s->data = p;
                s->cap = cap;
        }
        memset(s->data + s->len, 0, len - s->len);
        s->len = len;
        return 0;
}

int scratch_setattr(struct scratch *s, const struct stat *attr, int to_set)
{
        int r = 0;
        struct timespec t = now();
        mutex_lock(&s->lock);
        if (to_set & FUSE_SET_ATTR_SIZE) {
                if (s->link)
                        r = -EINVAL;
                else if (attr->st_size < 0)
                        r = -EINVAL;
                else
                        r = resize(s, (size_t) attr->st_size);
                if (r == 0)
                        s->mtime = t;
        }
        if (r == 0 && (to_set & FUSE_SET_ATTR_MODE))
                s->mode = attr->st_mode & 07777;
        if (r == 0 && (to_set & FUSE_SET_ATTR_UID))
                s->uid = attr->st_uid;
        if (r == 0 && (to_set & FUSE_SET_ATTR_GID))
                s->gid = attr->st_gid;
        if (r == 0 && (to_set & FUSE_SET_ATTR_ATIME))
                s->atime = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? t : attr->st_atim;
        if (r == 0 && (to_set & FUSE_SET_ATTR_MTIME))
                s->mtime = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? t : attr->st_mtim;
        if (r == 0)
                s->ctime = t;
        mutex_unlock(&s->lock);
        return r;
}

void scratch_read(struct scratch *s, off_t off, size_t size, char *out, size_t *ret_len)
{
        mutex_lock(&s->lock);
        size_t n = 0;
        if (off >= 0 && (size_t) off < s->len) {
                n = s->len - (size_t) off < size ? s->len - (size_t) off : size;
                memcpy(out, s->data + off, n);
        }
        s->atime = now();
        mutex_unlock(&s->lock);
        *ret_len = n;
}

int scratch_write(struct scratch *s, off_t off, bool append, const char *data, size_t size)
{
        if (s->link)
                return -EINVAL;
        mutex_lock(&s->lock);
        size_t at = append ? s->len : (size_t) off;
        int r = 0;
        if (!append && off < 0)
                r = -EINVAL;
        else if (at > SCRATCH_FILE_MAX || size > SCRATCH_FILE_MAX - at)
                r = -EFBIG;
        else if (at + size > s->len)
                r = resize(s, at + size);
        if (r == 0 && size) {
                memcpy(s->data + at, data, size);
                s->mtime = s->ctime = now();
        }
        mutex_unlock(&s->lock);
        return r;
}

int scratch_content(struct scratch *s, char **ret, size_t *ret_len)
{
        mutex_lock(&s->lock);
        char *p = malloc(s->len + 1);
        if (p) {
                if (s->len)
                        memcpy(p, s->data, s->len);
                p[s->len] = '\0';
                *ret_len = s->len;
        }
        mutex_unlock(&s->lock);
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}
