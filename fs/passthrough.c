/* The rootfs through FUSE (passthrough.h). Nodes are keyed by device and
 * inode number within their rootfs, in a hash table, and named by file
 * handles; every request opens what it works on and closes it. */
#include "passthrough.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "handles.h"
#include "inodes.h"
#include "lock.h"
#include "mounts.h"
#include "util.h"

#define PT_TIMEOUT 0.0  /* the real directory changes behind FUSE's back */

/* What one uid holds through the passthrough. */
struct uid_use {
        uid_t uid;
        size_t nodes;
        size_t files;
        struct uid_use *next;
};

struct passthroughs {
        struct handles *handles;
        uid_t owner;
        size_t files_uid_max, files_all_max;
        mutex lock;
        struct uid_use *uses GUARDED_BY(lock);  /* uids holding something, limited ones only */
        size_t files_all GUARDED_BY(lock);      /* files of limited uids */
        /* Every open file: those the kernel never released (it may not,
         * when the session ends first) are closed with the passthroughs. */
        struct pt_file *open GUARDED_BY(lock);
};

#define NO_UID ((uid_t) -1)

struct pt_node {
        struct inode inode;     /* INODE_PASSTHROUGH */
        struct passthrough *p;
        struct fhandle *handle; /* or, on a filesystem without handles: */
        int fd;                 /* an O_PATH descriptor (-1 otherwise) */
        dev_t dev;
        ino_t ino;
        uid_t charged;          /* the uid it counts against, NO_UID for none */
        uint64_t nlookup GUARDED_BY(p->lock);
        bool hashed GUARDED_BY(p->lock);                /* else in p->stale */
        struct pt_node *hash_next GUARDED_BY(p->lock);  /* in its bucket or in p->stale */
};

struct passthrough {
        struct passthroughs *pts;
        struct inodes *inodes;
        dev_t state_dev;        /* files there show numbers from their own (inodes.h) */
        struct rootfs *rootfs;
        void *owner;
        mutex lock;
        struct pt_node **buckets GUARDED_BY(lock);      /* nbuckets: a power of two */
        size_t nbuckets GUARDED_BY(lock);
        /* Nodes whose inode number a new file has now: the kernel still
         * holds them, look-ups no longer find them. */
        struct pt_node *stale GUARDED_BY(lock);
        size_t count GUARDED_BY(lock);                  /* every node, stale ones too */
};

/* An open file or directory (fi->fh). */
struct pt_file {
        struct passthroughs *pts;
        int fd;
        uid_t charged;
        DIR *dir;               /* directories: fd is dirfd(dir) */
        bool stable;            /* on the state directory's file system: entries show stable numbers */
        off_t offset;
        struct dirent *entry;
        struct pt_file *prev, *next;    /* in pts->open */
};

/* ---- limits ------------------------------------------------------------------ */

int passthroughs_new(struct handles *handles, uid_t owner, unsigned long nofile, struct passthroughs **ret,
                     bf_error *err)
{
        struct passthroughs *pts = calloc(1, sizeof(*pts));
        if (!pts)
                return bf_error_oom(err);
        pts->handles = handles;
        pts->owner = owner;
        pts->files_uid_max = nofile / PT_FILES_UID_SHARE;
        pts->files_all_max = nofile / PT_FILES_ALL_SHARE;
        mutex_init(&pts->lock);
        *ret = pts;
        return 0;
}

static void file_close(struct pt_file *f);

void passthroughs_free(struct passthroughs *pts) NO_LOCK_ANALYSIS
{
        if (!pts)
                return;
        while (pts->open) {
                struct pt_file *f = pts->open;
                pts->open = f->next;
                file_close(f);
        }
        while (pts->uses) {
                struct uid_use *u = pts->uses;
                pts->uses = u->next;
                free(u);
        }
        mutex_destroy(&pts->lock);
        free(pts);
}

static bool limited(const struct passthroughs *pts, uid_t uid)
{
        return uid != 0 && uid != pts->owner && uid != NO_UID;
}

static struct uid_use *use_of(struct passthroughs *pts, uid_t uid, bool make) REQUIRES(pts->lock)
{
        for (struct uid_use *u = pts->uses; u; u = u->next)
                if (u->uid == uid)
                        return u;
        if (!make)
                return NULL;
        struct uid_use *u = calloc(1, sizeof(*u));
        if (!u)
                return NULL;
        u->uid = uid;
        u->next = pts->uses;
        pts->uses = u;
        return u;
}

static void use_drop_if_unused(struct passthroughs *pts, struct uid_use *u) REQUIRES(pts->lock)
{
        if (u->nodes || u->files)
                return;
        for (struct uid_use **p = &pts->uses; *p; p = &(*p)->next)
                if (*p == u) {
                        *p = u->next;
                        free(u);
                        return;
                }
}

/* Count a node (nodes) and/or an open file (files) against uid: the uid
 * it counts against (NO_UID: none), or a negative errno. */
static int charge(struct passthroughs *pts, uid_t uid, size_t nodes, size_t files, uid_t *ret)
{
        *ret = NO_UID;
        if (!limited(pts, uid))
                return 0;
        mutex_lock(&pts->lock);
        struct uid_use *u = use_of(pts, uid, true);
        int r = 0;
        if (!u)
                r = -ENOMEM;
        else if (u->nodes + nodes > PT_NODES_PER_UID)
                r = -ENFILE;
        else if (files && (u->files + files > pts->files_uid_max || pts->files_all + files > pts->files_all_max))
                r = -EMFILE;
        if (r == 0) {
                u->nodes += nodes;
                u->files += files;
                pts->files_all += files;
                *ret = uid;
        } else if (u) {
                use_drop_if_unused(pts, u);
        }
        mutex_unlock(&pts->lock);
        return r;
}

static void uncharge(struct passthroughs *pts, uid_t uid, size_t nodes, size_t files)
{
        if (uid == NO_UID)
                return;
        mutex_lock(&pts->lock);
        struct uid_use *u = use_of(pts, uid, false);
        if (u) {
                u->nodes -= nodes;
                u->files -= files;
                pts->files_all -= files;
                use_drop_if_unused(pts, u);
        }
        mutex_unlock(&pts->lock);
}

static uid_t caller(fuse_req_t req)
{
        return fuse_req_ctx(req)->uid;
}

/* ---- passthroughs and their nodes --------------------------------------------- */

int passthrough_new(struct passthroughs *pts, struct inodes *inodes, dev_t state_dev, struct rootfs *rootfs,
                    void *owner, struct passthrough **ret, bf_error *err)
{
        struct passthrough *p = calloc(1, sizeof(*p));
        if (!p)
                return bf_error_oom(err);
        *p = (struct passthrough){ .pts = pts, .inodes = inodes, .state_dev = state_dev, .rootfs = rootfs, .owner = owner };
        mutex_init(&p->lock);
        *ret = p;
        return 0;
}

static size_t node_hash(dev_t dev, ino_t ino)
{
        uint64_t h = ((uint64_t) dev * 0x9e3779b97f4a7c15ULL) ^ (uint64_t) ino * 0xff51afd7ed558ccdULL;
        return (size_t) (h ^ (h >> 32));
}

/* A node that was never in the table. */
static void node_discard(struct pt_node *n)
{
        uncharge(n->p->pts, n->charged, 1, n->fd >= 0 ? 1 : 0);
        fhandle_free(n->handle);
        if (n->fd >= 0)
                close(n->fd);
        free(n);
}

static void node_free(struct passthrough *p, struct pt_node *n)
{
        inodes_remove(p->inodes, &n->inode);
        uncharge(p->pts, n->charged, 1, n->fd >= 0 ? 1 : 0);
        fhandle_free(n->handle);
        if (n->fd >= 0)
                close(n->fd);
        free(n);
}

void passthrough_free(struct passthrough *p) NO_LOCK_ANALYSIS
{
        if (!p)
                return;
        for (size_t i = 0; i < p->nbuckets; i++)
                while (p->buckets[i]) {
                        struct pt_node *n = p->buckets[i];
                        p->buckets[i] = n->hash_next;
                        node_free(p, n);
                }
        while (p->stale) {
                struct pt_node *n = p->stale;
                p->stale = n->hash_next;
                node_free(p, n);
        }
        free(p->buckets);
        mutex_destroy(&p->lock);
        free(p);
}

bool passthrough_busy(struct passthrough *p)
{
        mutex_lock(&p->lock);
        bool busy = p->count != 0;
        mutex_unlock(&p->lock);
        return busy;
}

struct passthrough *pt_node_passthrough(struct pt_node *n)
{
        return n->p;
}

void *passthrough_owner(struct passthrough *p)
{
        return p->owner;
}

static struct pt_node *node_find(struct passthrough *p, dev_t dev, ino_t ino) REQUIRES(p->lock)
{
        if (!p->nbuckets)
                return NULL;
        for (struct pt_node *n = p->buckets[node_hash(dev, ino) & (p->nbuckets - 1)]; n; n = n->hash_next)
                if (n->dev == dev && n->ino == ino)
                        return n;
        return NULL;
}

/* Room for one more node (the table doubles when full; without memory,
 * chains grow). False: no table at all. */
static bool node_room(struct passthrough *p) REQUIRES(p->lock)
{
        if (p->count + 1 <= p->nbuckets)
                return true;
        size_t n = p->nbuckets ? 2 * p->nbuckets : 64;
        struct pt_node **b = calloc(n, sizeof(*b));
        if (!b)
                return p->nbuckets != 0;
        for (size_t i = 0; i < p->nbuckets; i++)
                for (struct pt_node *x = p->buckets[i], *next; x; x = next) {
                        next = x->hash_next;
                        size_t k = node_hash(x->dev, x->ino) & (n - 1);
                        x->hash_next = b[k];
                        b[k] = x;
                }
        free(p->buckets);
        p->buckets = b;
        p->nbuckets = n;
        return true;
}

static void node_insert(struct passthrough *p, struct pt_node *n) REQUIRES(p->lock)
{
        size_t k = node_hash(n->dev, n->ino) & (p->nbuckets - 1);
        n->hash_next = p->buckets[k];
        p->buckets[k] = n;
        n->hashed = true;
        p->count++;
}

/* Out of the table (into p->stale, or gone: the kernel forgot it). */
static void node_unhash(struct passthrough *p, struct pt_node *n, bool forgotten) REQUIRES(p->lock)
{
        struct pt_node **q = n->hashed ? &p->buckets[node_hash(n->dev, n->ino) & (p->nbuckets - 1)] : &p->stale;
        for (; *q; q = &(*q)->hash_next)
                if (*q == n) {
                        *q = n->hash_next;
                        break;
                }
        n->hashed = false;
        if (forgotten) {
                p->count--;
                return;
        }
        n->hash_next = p->stale;
        p->stale = n;
}

/* Is n the file h names? (A node without a handle holds a descriptor,
 * which keeps its inode number from being given to another file.) */
static bool node_is(const struct pt_node *n, const struct fhandle *h)
{
        return n->handle && h ? fhandle_same(n->handle, h) : !n->handle && !h;
}

/* The node of (dev, ino) that is the file h names, with one more kernel
 * reference; a node of that number that is another file is put aside. */
static struct pt_node *node_take(struct passthrough *p, dev_t dev, ino_t ino, const struct fhandle *h)
        REQUIRES(p->lock)
{
        struct pt_node *n = node_find(p, dev, ino);
        if (n && !node_is(n, h)) {
                node_unhash(p, n, false);
                n = NULL;
        }
        if (n)
                n->nlookup++;
        return n;
}

void pt_forget(struct pt_node *n, uint64_t count)
{
        struct passthrough *p = n->p;
        mutex_lock(&p->lock);
        n->nlookup = n->nlookup > count ? n->nlookup - count : 0;
        bool gone = n->nlookup == 0;
        if (gone)
                node_unhash(p, n, true);
        mutex_unlock(&p->lock);
        if (gone)
                node_free(p, n);
}

/* A new O_PATH descriptor of what `at` names, or a negative errno. */
static int at_fd(const struct pt_at *at)
{
        if (!at->node)
                return rootfs_open(at->p->rootfs, O_PATH);
        if (at->node->handle)
                return fhandle_open(at->p->pts->handles, at->node->handle, O_PATH);
        int fd = fcntl(at->node->fd, F_DUPFD_CLOEXEC, 0);
        return fd < 0 ? -errno : fd;
}

static void proc_path(char *out, size_t size, int fd)
{
        snprintf(out, size, "/proc/self/fd/%d", fd);
}

/* A new descriptor of what `at` names, opened with flags (never
 * following a final symbolic link). */
static int at_reopen(const struct pt_at *at, int flags)
{
        flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_NOFOLLOW);
        if (!at->node)
                return rootfs_open(at->p->rootfs, flags);
        if (at->node->handle)
                return fhandle_open(at->p->pts->handles, at->node->handle, flags);
        char path[64];
        proc_path(path, sizeof(path), at->node->fd);
        int fd = open(path, flags | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* The number a real file shows through the tree: from its own inode
 * number when it lives on the state directory's file system, so that it
 * stays the same across restarts (inodes.h). */
static ino_t shown_number(const struct passthrough *p, const struct stat *st, fuse_ino_t node)
{
        return inode_shown(st->st_dev == p->state_dev ? st->st_ino : 0, 0, node);
}

int pt_stat(const struct pt_at *at, struct stat *st)
{
        _cleanup_close_ int fd = at_fd(at);
        if (fd < 0)
                return fd;
        if (fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        st->st_ino = shown_number(at->p, st, at->ino);
        return 0;
}

/* The node for the real file name under parent, made or found, with one
 * more kernel reference; a new one counts against uid. */
static int pt_find(const struct pt_at *parent, const char *name, uid_t uid, struct fuse_entry_param *e)
{
        memset(e, 0, sizeof(*e));
        struct passthrough *p = parent->p;
        _cleanup_close_ int dirfd = at_fd(parent);
        if (dirfd < 0)
                return dirfd;
        _cleanup_close_ int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        struct fhandle *h = NULL;
        int r = fhandle_of(p->pts->handles, fd, &h);
        if (r < 0 && r != -EOPNOTSUPP)
                return r;
        mutex_lock(&p->lock);
        struct pt_node *n = node_take(p, st.st_dev, st.st_ino, h);
        mutex_unlock(&p->lock);
        if (n) {
                fhandle_free(h);
        } else {
                uid_t charged;
                r = charge(p->pts, uid, 1, h ? 0 : 1, &charged);
                if (r < 0) {
                        fhandle_free(h);
                        return r;
                }
                struct pt_node *made = calloc(1, sizeof(*made));
                if (!made) {
                        uncharge(p->pts, charged, 1, h ? 0 : 1);
                        fhandle_free(h);
                        return -ENOMEM;
                }
                *made = (struct pt_node){ .inode = { .kind = INODE_PASSTHROUGH }, .p = p, .handle = h,
                                          .fd = h ? -1 : TAKE_FD(fd), .dev = st.st_dev, .ino = st.st_ino,
                                          .charged = charged, .nlookup = 1 };
                bf_error err = { 0 };
                r = 0;
                mutex_lock(&p->lock);
                n = node_take(p, st.st_dev, st.st_ino, h);     /* made meanwhile by another look-up? */
                if (!n && (!node_room(p) || inodes_add(p->inodes, &made->inode, &err) < 0)) {
                        r = -ENOMEM;
                } else if (!n) {
                        node_insert(p, made);
                        n = TAKE_PTR(made);
                }
                mutex_unlock(&p->lock);
                if (made)
                        node_discard(made);
                if (r < 0)
                        return r;
        }
        e->ino = inode_number(&n->inode, 0);
        st.st_ino = shown_number(p, &st, e->ino);
        e->attr = st;
        e->generation = n->inode.generation;
        e->attr_timeout = PT_TIMEOUT;
        e->entry_timeout = PT_TIMEOUT;
        return 0;
}

static void reply_entry_or_err(fuse_req_t req, struct passthrough *p, int r, struct fuse_entry_param *e)
{
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        if (fuse_reply_entry(req, e) != 0) {
                struct inode *o = inodes_get(p->inodes, e->ino);
                if (o)
                        pt_forget((struct pt_node *) o, 1);
        }
}

void pt_lookup(fuse_req_t req, const struct pt_at *parent, const char *name)
{
        struct fuse_entry_param e;
        int r = pt_find(parent, name, caller(req), &e);
        if (r == -ENOENT) {
                memset(&e, 0, sizeof(e));
                fuse_reply_entry(req, &e);
                return;
        }
        reply_entry_or_err(req, parent->p, r, &e);
}

static struct pt_file *file_of(const struct fuse_file_info *fi)
{
        return fi ? (struct pt_file *) (uintptr_t) fi->fh : NULL;
}

void pt_getattr(fuse_req_t req, const struct pt_at *at, struct fuse_file_info *fi)
{
        struct stat st;
        struct pt_file *f = file_of(fi);
        int r = 0;
        if (f && fstat(f->fd, &st) == 0)
                st.st_ino = shown_number(at->p, &st, at->ino);  /* the open file itself, even unlinked */
        else
                r = pt_stat(at, &st);
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                fuse_reply_attr(req, &st, PT_TIMEOUT);
}

void pt_setattr(fuse_req_t req, const struct pt_at *at, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
        _cleanup_close_ int fd = at_fd(at);
        if (fd < 0) {
                fuse_reply_err(req, -fd);
                return;
        }
        struct pt_file *f = file_of(fi);
        char path[64];
        proc_path(path, sizeof(path), fd);
        int r = 0;
        if ((to_set & FUSE_SET_ATTR_MODE) && r == 0)
                r = (f ? fchmod(f->fd, attr->st_mode) : chmod(path, attr->st_mode)) < 0 ? -errno : 0;
        if ((to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) && r == 0) {
                uid_t u = to_set & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t) -1;
                gid_t g = to_set & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t) -1;
                r = fchownat(fd, "", u, g, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
        }
        if ((to_set & FUSE_SET_ATTR_SIZE) && r == 0)
                r = (f ? ftruncate(f->fd, attr->st_size) : truncate(path, attr->st_size)) < 0 ? -errno : 0;
        if ((to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) && r == 0) {
                struct timespec tv[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_OMIT } };
                if (to_set & FUSE_SET_ATTR_ATIME_NOW)
                        tv[0].tv_nsec = UTIME_NOW;
                else if (to_set & FUSE_SET_ATTR_ATIME)
                        tv[0] = attr->st_atim;
                if (to_set & FUSE_SET_ATTR_MTIME_NOW)
                        tv[1].tv_nsec = UTIME_NOW;
                else if (to_set & FUSE_SET_ATTR_MTIME)
                        tv[1] = attr->st_mtim;
                r = (f ? futimens(f->fd, tv) : utimensat(AT_FDCWD, path, tv, 0)) < 0 ? -errno : 0;
        }
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        pt_getattr(req, at, fi);
}

void pt_readlink(fuse_req_t req, const struct pt_at *at)
{
        _cleanup_close_ int fd = at_fd(at);
        if (fd < 0) {
                fuse_reply_err(req, -fd);
                return;
        }
        char target[PATH_MAX + 1];
        ssize_t l = readlinkat(fd, "", target, sizeof(target) - 1);
        if (l < 0) {
                fuse_reply_err(req, errno);
                return;
        }
        target[l] = '\0';
        fuse_reply_readlink(req, target);
}

/* New files belong to the caller (the daemon makes them as root), with the
 * group of a set-group-ID directory. */
static void give_to_caller(fuse_req_t req, int dirfd, const char *name)
{
        const struct fuse_ctx *ctx = fuse_req_ctx(req);
        struct stat dir;
        gid_t gid = ctx->gid;
        if (fstatat(dirfd, "", &dir, AT_EMPTY_PATH) == 0 && (dir.st_mode & S_ISGID))
                gid = dir.st_gid;
        if (ctx->uid != 0 || gid != 0)
                (void) fchownat(dirfd, name, ctx->uid, gid, AT_SYMLINK_NOFOLLOW);
}

/* Can uid have one more node? (Checked before making a file, so that a
 * refused request makes nothing.) */
static int room_for_node(struct passthroughs *pts, uid_t uid)
{
        uid_t charged;
        int r = charge(pts, uid, 1, 0, &charged);
        if (r == 0)
                uncharge(pts, charged, 1, 0);
        return r;
}

enum make_kind { MAKE_NODE, MAKE_DIR, MAKE_SYMLINK };

static void make(fuse_req_t req, const struct pt_at *parent, const char *name, enum make_kind kind, mode_t mode,
                 dev_t rdev, const char *link)
{
        struct fuse_entry_param e;
        _cleanup_close_ int dirfd = at_fd(parent);
        int r = dirfd < 0 ? dirfd : room_for_node(parent->p->pts, caller(req));
        if (r == 0) {
                int k = kind == MAKE_DIR ? mkdirat(dirfd, name, mode) :
                        kind == MAKE_SYMLINK ? symlinkat(link, dirfd, name) : mknodat(dirfd, name, mode, rdev);
                r = k < 0 ? -errno : 0;
        }
        if (r == 0) {
                give_to_caller(req, dirfd, name);
                r = pt_find(parent, name, caller(req), &e);
        }
        reply_entry_or_err(req, parent->p, r, &e);
}

void pt_mknod(fuse_req_t req, const struct pt_at *parent, const char *name, mode_t mode, dev_t rdev)
{
        make(req, parent, name, MAKE_NODE, mode, rdev, NULL);
}

void pt_mkdir(fuse_req_t req, const struct pt_at *parent, const char *name, mode_t mode)
{
        make(req, parent, name, MAKE_DIR, mode, 0, NULL);
}

void pt_symlink(fuse_req_t req, const char *link, const struct pt_at *parent, const char *name)
{
        make(req, parent, name, MAKE_SYMLINK, 0, 0, link);
}

void pt_link(fuse_req_t req, const struct pt_at *at, const struct pt_at *newparent, const char *newname)
{
        _cleanup_close_ int fd = at_fd(at), dirfd = at_fd(newparent);
        int r = fd < 0 ? fd : dirfd < 0 ? dirfd : 0;
        if (r == 0) {
                char path[64];
                proc_path(path, sizeof(path), fd);
                r = linkat(AT_FDCWD, path, dirfd, newname, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
        }
        struct fuse_entry_param e;
        if (r == 0)
                r = pt_find(newparent, newname, caller(req), &e);
        reply_entry_or_err(req, newparent->p, r, &e);
}

void pt_unlink(fuse_req_t req, const struct pt_at *parent, const char *name, bool dir)
{
        _cleanup_close_ int dirfd = at_fd(parent);
        int r = dirfd < 0 ? -dirfd : unlinkat(dirfd, name, dir ? AT_REMOVEDIR : 0) < 0 ? errno : 0;
        fuse_reply_err(req, r);
}

void pt_rename(fuse_req_t req, const struct pt_at *parent, const char *name, const struct pt_at *newparent,
               const char *newname, unsigned flags)
{
        if (parent->p != newparent->p) {
                fuse_reply_err(req, EXDEV);
                return;
        }
        _cleanup_close_ int from = at_fd(parent), to = at_fd(newparent);
        int r = from < 0 ? -from : to < 0 ? -to : renameat2(from, name, to, newname, flags) < 0 ? errno : 0;
        fuse_reply_err(req, r);
}

/* An open file (or directory) of the caller's, counted against its uid. */
static int file_new(fuse_req_t req, struct passthroughs *pts, struct pt_file **ret)
{
        struct pt_file *f = calloc(1, sizeof(*f));
        if (!f)
                return -ENOMEM;
        f->pts = pts;
        f->fd = -1;
        int r = charge(pts, caller(req), 0, 1, &f->charged);
        if (r < 0) {
                free(f);
                return r;
        }
        mutex_lock(&pts->lock);
        f->next = pts->open;
        if (f->next)
                f->next->prev = f;
        pts->open = f;
        mutex_unlock(&pts->lock);
        *ret = f;
        return 0;
}

static void file_close(struct pt_file *f)
{
        if (f->dir)
                closedir(f->dir);
        else if (f->fd >= 0)
                close(f->fd);
        uncharge(f->pts, f->charged, 0, 1);
        free(f);
}

static void file_free(struct pt_file *f)
{
        struct passthroughs *pts = f->pts;
        mutex_lock(&pts->lock);
        if (f->prev)
                f->prev->next = f->next;
        else
                pts->open = f->next;
        if (f->next)
                f->next->prev = f->prev;
        mutex_unlock(&pts->lock);
        file_close(f);
}

/* Open files are answered with direct_io: the page cache belongs to the
 * real file. */
static void reply_open(fuse_req_t req, struct pt_file *f, struct fuse_file_info *fi)
{
        fi->fh = (uint64_t) (uintptr_t) f;
        fi->direct_io = 1;
        if (fuse_reply_open(req, fi) != 0)
                file_free(f);
}

void pt_open(fuse_req_t req, const struct pt_at *at, struct fuse_file_info *fi)
{
        struct passthroughs *pts = at->p->pts;
        struct pt_file *f;
        int r = file_new(req, pts, &f);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        f->fd = at_reopen(at, fi->flags);
        if (f->fd < 0) {
                fuse_reply_err(req, -f->fd);
                file_free(f);
                return;
        }
        reply_open(req, f, fi);
}

void pt_create(fuse_req_t req, const struct pt_at *parent, const char *name, mode_t mode,
               struct fuse_file_info *fi)
{
        struct passthroughs *pts = parent->p->pts;
        struct pt_file *f;
        _cleanup_close_ int dirfd = at_fd(parent);
        int r = dirfd < 0 ? dirfd : room_for_node(pts, caller(req));
        if (r == 0)
                r = file_new(req, pts, &f);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        f->fd = openat(dirfd, name, (fi->flags | O_CREAT | O_CLOEXEC) & ~O_NOFOLLOW, mode);
        if (f->fd < 0) {
                fuse_reply_err(req, errno);
                file_free(f);
                return;
        }
        give_to_caller(req, dirfd, name);
        struct fuse_entry_param e;
        r = pt_find(parent, name, caller(req), &e);
        if (r < 0) {
                file_free(f);
                fuse_reply_err(req, -r);
                return;
        }
        fi->fh = (uint64_t) (uintptr_t) f;
        fi->direct_io = 1;
        if (fuse_reply_create(req, &e, fi) != 0) {
                file_free(f);
                struct inode *o = inodes_get(parent->p->inodes, e.ino);
                if (o)
                        pt_forget((struct pt_node *) o, 1);
        }
}

void pt_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
        char *data = malloc(size ? size : 1);
        if (!data) {
                fuse_reply_err(req, ENOMEM);
                return;
        }
        ssize_t n = pread(file_of(fi)->fd, data, size, off);
        if (n < 0)
                fuse_reply_err(req, errno);
        else
                fuse_reply_buf(req, data, (size_t) n);
        free(data);
}

void pt_write(fuse_req_t req, const char *data, size_t size, off_t off, struct fuse_file_info *fi)
{
        int fd = file_of(fi)->fd;
        ssize_t n = (fi->flags & O_APPEND) ? write(fd, data, size) : pwrite(fd, data, size, off);
        if (n < 0)
                fuse_reply_err(req, errno);
        else
                fuse_reply_write(req, (size_t) n);
}

void pt_flush(fuse_req_t req, struct fuse_file_info *fi)
{
        /* close(dup()) reports what close() would (NFS-like write-back errors) */
        int fd = dup(file_of(fi)->fd);
        fuse_reply_err(req, fd < 0 ? errno : close(fd) < 0 ? errno : 0);
}

void pt_release(fuse_req_t req, struct fuse_file_info *fi)
{
        file_free(file_of(fi));
        fuse_reply_err(req, 0);
}

void pt_fsync(fuse_req_t req, int datasync, struct fuse_file_info *fi)
{
        int fd = file_of(fi)->fd;
        int r = datasync ? fdatasync(fd) : fsync(fd);
        fuse_reply_err(req, r < 0 ? errno : 0);
}

void pt_opendir(fuse_req_t req, const struct pt_at *at, struct fuse_file_info *fi)
{
        struct passthroughs *pts = at->p->pts;
        struct pt_file *f;
        int r = file_new(req, pts, &f);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        int fd = at_reopen(at, O_RDONLY | O_DIRECTORY);
        if (fd < 0) {
                fuse_reply_err(req, -fd);
                file_free(f);
                return;
        }
        struct stat st;
        f->stable = fstat(fd, &st) == 0 && st.st_dev == at->p->state_dev;
        f->dir = fdopendir(fd);
        if (!f->dir) {
                fuse_reply_err(req, errno);
                close(fd);
                file_free(f);
                return;
        }
        f->fd = fd;
        fi->fh = (uint64_t) (uintptr_t) f;
        if (fuse_reply_open(req, fi) != 0)
                file_free(f);
}

void pt_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
        struct pt_file *d = file_of(fi);
        char *out = malloc(size ? size : 1);
        if (!out) {
                fuse_reply_err(req, ENOMEM);
                return;
        }
        if (off != d->offset) {
                seekdir(d->dir, off);
                d->entry = NULL;
                d->offset = off;
        }
        size_t used = 0;
        for (;;) {
                if (!d->entry) {
                        errno = 0;
                        d->entry = readdir(d->dir);
                        if (!d->entry)
                                break;
                }
                /* A mount point below shows the number of what it covers, as anywhere. */
                ino_t ino = d->stable ? inode_shown(d->entry->d_ino, 0, 0) : d->entry->d_ino;
                struct stat st = { .st_ino = ino, .st_mode = (mode_t) d->entry->d_type << 12 };
                off_t next = telldir(d->dir);
                size_t l = fuse_add_direntry(req, out + used, size - used, d->entry->d_name, &st, next);
                if (l > size - used)
                        break;
                used += l;
                d->entry = NULL;
                d->offset = next;
        }
        fuse_reply_buf(req, out, used);
        free(out);
}

void pt_releasedir(fuse_req_t req, struct fuse_file_info *fi)
{
        pt_release(req, fi);
}

void pt_statfs(fuse_req_t req, const struct pt_at *at)
{
        _cleanup_close_ int fd = at_fd(at);
        struct statvfs st;
        if (fd < 0)
                fuse_reply_err(req, -fd);
        else if (fstatvfs(fd, &st) < 0)
                fuse_reply_err(req, errno);
        else
                fuse_reply_statfs(req, &st);
}

/* Extended attributes go through /proc/self/fd, which O_PATH descriptors
 * allow. The answer to getxattr or listxattr: the size asked for (size
 * 0), the value, or the error; value is freed. */
static void reply_xattr(fuse_req_t req, char *value, size_t size, ssize_t l)
{
        if (l < 0)
                fuse_reply_err(req, errno);
        else if (size == 0)
                fuse_reply_xattr(req, (size_t) l);
        else
                fuse_reply_buf(req, value, (size_t) l);
        free(value);
}

void pt_getxattr(fuse_req_t req, const struct pt_at *at, const char *name, size_t size)
{
        _cleanup_close_ int fd = at_fd(at);
        if (fd < 0) {
                fuse_reply_err(req, -fd);
                return;
        }
        char path[64];
        proc_path(path, sizeof(path), fd);
        char *value = size ? malloc(size) : NULL;
        if (size && !value) {
                fuse_reply_err(req, ENOMEM);
                return;
        }
        ssize_t l = getxattr(path, name, value, size);
        reply_xattr(req, value, size, l);
}

void pt_listxattr(fuse_req_t req, const struct pt_at *at, size_t size)
{
        _cleanup_close_ int fd = at_fd(at);
        if (fd < 0) {
                fuse_reply_err(req, -fd);
                return;
        }
        char path[64];
        proc_path(path, sizeof(path), fd);
        char *value = size ? malloc(size) : NULL;
        if (size && !value) {
                fuse_reply_err(req, ENOMEM);
                return;
        }
        ssize_t l = listxattr(path, value, size);
        reply_xattr(req, value, size, l);
}

void pt_setxattr(fuse_req_t req, const struct pt_at *at, const char *name, const char *value, size_t size, int flags)
{
        _cleanup_close_ int fd = at_fd(at);
        if (fd < 0) {
                fuse_reply_err(req, -fd);
                return;
        }
        char path[64];
        proc_path(path, sizeof(path), fd);
        fuse_reply_err(req, setxattr(path, name, value, size, flags) < 0 ? errno : 0);
}

void pt_removexattr(fuse_req_t req, const struct pt_at *at, const char *name)
{
        _cleanup_close_ int fd = at_fd(at);
        if (fd < 0) {
                fuse_reply_err(req, -fd);
                return;
        }
        char path[64];
        proc_path(path, sizeof(path), fd);
        fuse_reply_err(req, removexattr(path, name) < 0 ? errno : 0);
}
