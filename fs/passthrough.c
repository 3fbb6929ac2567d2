/* The rootfs through FUSE (passthrough.h). Nodes hold O_PATH descriptors
 * and are keyed by device and inode number within their rootfs. */
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

#include "inodes.h"
#include "lock.h"
#include "mounts.h"
#include "util.h"

#define PT_TIMEOUT 0.0  /* the real directory changes behind FUSE's back */

struct pt_node {
        struct inode inode;     /* INODE_PASSTHROUGH */
        struct passthrough *p;
        int fd;                 /* O_PATH */
        dev_t dev;
        ino_t ino;
        uint64_t nlookup GUARDED_BY(p->lock);
        struct pt_node *next GUARDED_BY(p->lock);
};

struct passthrough {
        struct inodes *inodes;
        dev_t state_dev;        /* files there show numbers from their own (inodes.h) */
        struct rootfs *rootfs;
        void *owner;
        mutex lock;
        struct pt_node *nodes GUARDED_BY(lock);
};

struct pt_dir {
        DIR *dir;
        bool stable;            /* on the state directory's file system: entries show stable numbers */
        off_t offset;
        struct dirent *entry;
};

int passthrough_new(struct inodes *inodes, dev_t state_dev, struct rootfs *rootfs, void *owner,
                    struct passthrough **ret, bf_error *err)
{
        struct passthrough *p = calloc(1, sizeof(*p));
        if (!p)
                return bf_error_oom(err);
        *p = (struct passthrough){ .inodes = inodes, .state_dev = state_dev, .rootfs = rootfs, .owner = owner };
        mutex_init(&p->lock);
        *ret = p;
        return 0;
}

static void node_free(struct passthrough *p, struct pt_node *n)
{
        inodes_remove(p->inodes, &n->inode);
        close(n->fd);
        free(n);
}

void passthrough_free(struct passthrough *p) NO_LOCK_ANALYSIS
{
        if (!p)
                return;
        while (p->nodes) {
                struct pt_node *n = p->nodes;
                p->nodes = n->next;
                node_free(p, n);
        }
        mutex_destroy(&p->lock);
        free(p);
}

bool passthrough_busy(struct passthrough *p)
{
        mutex_lock(&p->lock);
        bool busy = p->nodes != NULL;
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

void pt_forget(struct pt_node *n, uint64_t count)
{
        struct passthrough *p = n->p;
        mutex_lock(&p->lock);
        n->nlookup = n->nlookup > count ? n->nlookup - count : 0;
        bool gone = n->nlookup == 0;
        if (gone)
                for (struct pt_node **q = &p->nodes; *q; q = &(*q)->next)
                        if (*q == n) {
                                *q = n->next;
                                break;
                        }
        mutex_unlock(&p->lock);
        if (gone)
                node_free(p, n);
}

static int at_fd(const struct pt_at *at)
{
        return at->node ? at->node->fd : rootfs_fd(at->p->rootfs);
}

static void proc_path(char *out, size_t size, int fd)
{
        snprintf(out, size, "/proc/self/fd/%d", fd);
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
        if (fstatat(at_fd(at), "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        st->st_ino = shown_number(at->p, st, at->ino);
        return 0;
}

/* The node for the real file name under parent, made or found, with one
 * more kernel reference. */
static int pt_find(const struct pt_at *parent, const char *name, struct fuse_entry_param *e)
{
        memset(e, 0, sizeof(*e));
        struct passthrough *p = parent->p;
        _cleanup_close_ int fd = openat(at_fd(parent), name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        mutex_lock(&p->lock);
        struct pt_node *n;
        for (n = p->nodes; n; n = n->next)
                if (n->dev == st.st_dev && n->ino == st.st_ino)
                        break;
        if (!n) {
                bf_error err = { 0 };
                n = calloc(1, sizeof(*n));
                if (n)
                        *n = (struct pt_node){ .inode = { .kind = INODE_PASSTHROUGH }, .p = p, .fd = -1,
                                               .dev = st.st_dev, .ino = st.st_ino };
                if (!n || inodes_add(p->inodes, &n->inode, &err) < 0) {
                        mutex_unlock(&p->lock);
                        free(n);
                        return -ENOMEM;
                }
                n->fd = TAKE_FD(fd);
                n->next = p->nodes;
                p->nodes = n;
        }
        n->nlookup++;
        mutex_unlock(&p->lock);
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
        int r = pt_find(parent, name, &e);
        if (r == -ENOENT) {
                memset(&e, 0, sizeof(e));
                fuse_reply_entry(req, &e);
                return;
        }
        reply_entry_or_err(req, parent->p, r, &e);
}

void pt_getattr(fuse_req_t req, const struct pt_at *at)
{
        struct stat st;
        int r = pt_stat(at, &st);
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                fuse_reply_attr(req, &st, PT_TIMEOUT);
}

void pt_setattr(fuse_req_t req, const struct pt_at *at, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
        char path[64];
        int fd = at_fd(at);
        proc_path(path, sizeof(path), fd);
        int r = 0;
        if ((to_set & FUSE_SET_ATTR_MODE) && r == 0)
                r = (fi ? fchmod((int) fi->fh, attr->st_mode) : chmod(path, attr->st_mode)) < 0 ? -errno : 0;
        if ((to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) && r == 0) {
                uid_t u = to_set & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t) -1;
                gid_t g = to_set & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t) -1;
                r = fchownat(fd, "", u, g, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
        }
        if ((to_set & FUSE_SET_ATTR_SIZE) && r == 0)
                r = (fi ? ftruncate((int) fi->fh, attr->st_size) : truncate(path, attr->st_size)) < 0 ? -errno : 0;
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
                r = (fi ? futimens((int) fi->fh, tv) : utimensat(AT_FDCWD, path, tv, 0)) < 0 ? -errno : 0;
        }
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        pt_getattr(req, at);
}

void pt_readlink(fuse_req_t req, const struct pt_at *at)
{
        char target[PATH_MAX + 1];
        ssize_t l = readlinkat(at_fd(at), "", target, sizeof(target) - 1);
        if (l < 0) {
                fuse_reply_err(req, errno);
                return;
        }
        target[l] = '\0';
        fuse_reply_readlink(req, target);
}

/* New files belong to the caller (the daemon makes them as root), with the
 * group of a set-group-ID directory. */
static void give_to_caller(fuse_req_t req, const struct pt_at *parent, const char *name)
{
        const struct fuse_ctx *ctx = fuse_req_ctx(req);
        struct stat dir;
        gid_t gid = ctx->gid;
        if (fstatat(at_fd(parent), "", &dir, AT_EMPTY_PATH) == 0 && (dir.st_mode & S_ISGID))
                gid = dir.st_gid;
        if (ctx->uid != 0 || gid != 0)
                (void) fchownat(at_fd(parent), name, ctx->uid, gid, AT_SYMLINK_NOFOLLOW);
}

static void made(fuse_req_t req, const struct pt_at *parent, const char *name, int r)
{
        struct fuse_entry_param e;
        if (r == 0) {
                give_to_caller(req, parent, name);
                r = pt_find(parent, name, &e);
        }
        reply_entry_or_err(req, parent->p, r, &e);
}

void pt_mknod(fuse_req_t req, const struct pt_at *parent, const char *name, mode_t mode, dev_t rdev)
{
        made(req, parent, name, mknodat(at_fd(parent), name, mode, rdev) < 0 ? -errno : 0);
}

void pt_mkdir(fuse_req_t req, const struct pt_at *parent, const char *name, mode_t mode)
{
        made(req, parent, name, mkdirat(at_fd(parent), name, mode) < 0 ? -errno : 0);
}

void pt_symlink(fuse_req_t req, const char *link, const struct pt_at *parent, const char *name)
{
        made(req, parent, name, symlinkat(link, at_fd(parent), name) < 0 ? -errno : 0);
}

void pt_link(fuse_req_t req, const struct pt_at *at, const struct pt_at *newparent, const char *newname)
{
        char path[64];
        proc_path(path, sizeof(path), at_fd(at));
        int r = linkat(AT_FDCWD, path, at_fd(newparent), newname, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
        struct fuse_entry_param e;
        if (r == 0)
                r = pt_find(newparent, newname, &e);
        reply_entry_or_err(req, newparent->p, r, &e);
}

void pt_unlink(fuse_req_t req, const struct pt_at *parent, const char *name, bool dir)
{
        int r = unlinkat(at_fd(parent), name, dir ? AT_REMOVEDIR : 0) < 0 ? errno : 0;
        fuse_reply_err(req, r);
}

void pt_rename(fuse_req_t req, const struct pt_at *parent, const char *name, const struct pt_at *newparent,
               const char *newname, unsigned flags)
{
        int r = parent->p != newparent->p ? EXDEV :
                renameat2(at_fd(parent), name, at_fd(newparent), newname, flags) < 0 ? errno : 0;
        fuse_reply_err(req, r);
}

void pt_open(fuse_req_t req, const struct pt_at *at, struct fuse_file_info *fi)
{
        char path[64];
        proc_path(path, sizeof(path), at_fd(at));
        int fd = open(path, (fi->flags & ~O_NOFOLLOW) | O_CLOEXEC);
        if (fd < 0) {
                fuse_reply_err(req, errno);
                return;
        }
        fi->fh = (uint64_t) fd;
        fi->direct_io = 1;  /* the page cache belongs to the real file */
        if (fuse_reply_open(req, fi) != 0)
                close(fd);
}

void pt_create(fuse_req_t req, const struct pt_at *parent, const char *name, mode_t mode,
               struct fuse_file_info *fi)
{
        int fd = openat(at_fd(parent), name, (fi->flags | O_CREAT) & ~O_NOFOLLOW, mode);
        if (fd < 0) {
                fuse_reply_err(req, errno);
                return;
        }
        give_to_caller(req, parent, name);
        struct fuse_entry_param e;
        int r = pt_find(parent, name, &e);
        if (r < 0) {
                close(fd);
                fuse_reply_err(req, -r);
                return;
        }
        fi->fh = (uint64_t) fd;
        fi->direct_io = 1;
        if (fuse_reply_create(req, &e, fi) != 0) {
                close(fd);
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
        ssize_t n = pread((int) fi->fh, data, size, off);
        if (n < 0)
                fuse_reply_err(req, errno);
        else
                fuse_reply_buf(req, data, (size_t) n);
        free(data);
}

void pt_write(fuse_req_t req, const char *data, size_t size, off_t off, struct fuse_file_info *fi)
{
        ssize_t n = (fi->flags & O_APPEND) ? write((int) fi->fh, data, size) : pwrite((int) fi->fh, data, size, off);
        if (n < 0)
                fuse_reply_err(req, errno);
        else
                fuse_reply_write(req, (size_t) n);
}

void pt_flush(fuse_req_t req, struct fuse_file_info *fi)
{
        /* close(dup()) reports what close() would (NFS-like write-back errors) */
        int fd = dup((int) fi->fh);
        fuse_reply_err(req, fd < 0 ? errno : close(fd) < 0 ? errno : 0);
}

void pt_release(fuse_req_t req, struct fuse_file_info *fi)
{
        close((int) fi->fh);
        fuse_reply_err(req, 0);
}

void pt_fsync(fuse_req_t req, int datasync, struct fuse_file_info *fi)
{
        int r = datasync ? fdatasync((int) fi->fh) : fsync((int) fi->fh);
        fuse_reply_err(req, r < 0 ? errno : 0);
}

void pt_opendir(fuse_req_t req, const struct pt_at *at, struct fuse_file_info *fi)
{
        struct pt_dir *d = calloc(1, sizeof(*d));
        int fd = openat(at_fd(at), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (!d || fd < 0) {
                int e = d ? errno : ENOMEM;
                if (fd >= 0)
                        close(fd);
                free(d);
                fuse_reply_err(req, e);
                return;
        }
        struct stat st;
        d->stable = fstat(fd, &st) == 0 && st.st_dev == at->p->state_dev;
        d->dir = fdopendir(fd);
        if (!d->dir) {
                int e = errno;
                close(fd);
                free(d);
                fuse_reply_err(req, e);
                return;
        }
        fi->fh = (uint64_t) (uintptr_t) d;
        if (fuse_reply_open(req, fi) != 0) {
                closedir(d->dir);
                free(d);
        }
}

void pt_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi)
{
        struct pt_dir *d = (struct pt_dir *) (uintptr_t) fi->fh;
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
        struct pt_dir *d = (struct pt_dir *) (uintptr_t) fi->fh;
        closedir(d->dir);
        free(d);
        fuse_reply_err(req, 0);
}

void pt_statfs(fuse_req_t req, const struct pt_at *at)
{
        struct statvfs st;
        if (fstatvfs(at_fd(at), &st) < 0)
                fuse_reply_err(req, errno);
        else
                fuse_reply_statfs(req, &st);
}

/* Extended attributes go through /proc/self/fd, which O_PATH descriptors allow. */
/* The answer to getxattr or listxattr: the size asked for (size 0), the
 * value, or the error; value is freed. */
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
        char path[64];
        proc_path(path, sizeof(path), at_fd(at));
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
        char path[64];
        proc_path(path, sizeof(path), at_fd(at));
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
        char path[64];
        proc_path(path, sizeof(path), at_fd(at));
        fuse_reply_err(req, setxattr(path, name, value, size, flags) < 0 ? errno : 0);
}

void pt_removexattr(fuse_req_t req, const struct pt_at *at, const char *name)
{
        char path[64];
        proc_path(path, sizeof(path), at_fd(at));
        fuse_reply_err(req, removexattr(path, name) < 0 ? errno : 0);
}
