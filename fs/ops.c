/* The FUSE operations (ops.h). Requests on a rootfs served through FUSE,
 * and below it, go to the passthrough; the others to the tree (lookups,
 * attributes, directories and their changes) or to an open file: of a
 * container's own files (openfile.h) or of a scratch file (scratch.h). */
#include "ops.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "content.h"
#include "files.h"
#include "lock.h"
#include "mounts.h"
#include "openfile.h"
#include "passthrough.h"
#include "rootfs_image.h"
#include "scratch.h"
#include "store.h"
#include "tree.h"
#include "util.h"

#define ENTRY_TIMEOUT 60.0

static struct ops_ctx *ctx_of(fuse_req_t req)
{
        return fuse_req_userdata(req);
}

/* The node of ino; on failure the request is answered. */
static bool node_get(fuse_req_t req, fuse_ino_t ino, struct node *ret)
{
        int r = tree_node(ctx_of(req)->tree, ino, ret);
        if (r < 0)
                fuse_reply_err(req, -r);
        return r == 0;
}

/* A request on a rootfs or below it reached FUSE: its bind mount is not
 * there (yet, or any more). It is served by passthrough. */
static bool passthrough(const struct node *n)
{
        if (n->kind != NODE_ROOTFS && n->kind != NODE_PT)
                return false;
        rootfs_touch(container_rootfs(n->c));
        return true;
}

static void reply_entry(fuse_req_t req, const struct node *n)
{
        struct tree *t = ctx_of(req)->tree;
        struct fuse_entry_param e = { .ino = n->ino, .generation = n->generation, .entry_timeout = ENTRY_TIMEOUT };
        int r = tree_stat(t, n, &e.attr, &e.attr_timeout);
        if (r < 0 || fuse_reply_entry(req, &e) != 0) {
                tree_forget(t, n->ino, 1);
                if (r < 0)
                        fuse_reply_err(req, -r);
        }
}

static void reply_attr(fuse_req_t req, const struct node *n)
{
        struct stat st;
        double timeout;
        int r = tree_stat(ctx_of(req)->tree, n, &st, &timeout);
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                fuse_reply_attr(req, &st, timeout);
}

static void reply_negative(fuse_req_t req)
{
        struct fuse_entry_param e = { 0 };
        fuse_reply_entry(req, &e);      /* not cached */
}

static struct caller caller_of(fuse_req_t req)
{
        const struct fuse_ctx *ctx = fuse_req_ctx(req);
        return (struct caller){ .pid = ctx->pid, .uid = ctx->uid, .gid = ctx->gid };
}

/* An open file is one of a container's own files (an openfile) or a
 * scratch file, told apart by the low bit of the handle, whatever its node
 * stands for by now (a scratch file renamed onto a control file stays
 * one for the descriptors opened before). */
#define FH_SCRATCH 1

static bool fh_is_scratch(const struct fuse_file_info *fi)
{
        return fi->fh & FH_SCRATCH;
}

static struct scratch *fh_scratch(const struct fuse_file_info *fi)
{
        return (struct scratch *) (uintptr_t) (fi->fh & ~(uint64_t) FH_SCRATCH);
}

static void fh_set_scratch(struct fuse_file_info *fi, struct scratch *s)
{
        fi->fh = (uint64_t) (uintptr_t) s | FH_SCRATCH;
}

static struct openfile *openfile_of(const struct fuse_file_info *fi)
{
        return (struct openfile *) (uintptr_t) (fi->fh & ~(uint64_t) FH_SCRATCH);
}

/* ---- the tree ---------------------------------------------------------------- */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
        struct node p, n;
        if (!node_get(req, parent, &p))
                return;
        if (passthrough(&p)) {
                pt_lookup(req, &p.pt, name);
                return;
        }
        struct caller who = caller_of(req);
        int r = tree_lookup(ctx_of(req)->tree, &p, name, &who, &n);
        if (r == -ENOENT)
                reply_negative(req);
        else if (r < 0)
                fuse_reply_err(req, -r);
        else
                reply_entry(req, &n);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
        tree_forget(ctx_of(req)->tree, ino, nlookup);
        fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
        for (size_t i = 0; i < count; i++)
                tree_forget(ctx_of(req)->tree, forgets[i].ino, forgets[i].nlookup);
        fuse_reply_none(req);
}

/* The attributes of a rootfs asked through FUSE (mounts.h): the kernel
 * asks for them before it walks into the rootfs, holding nothing the
 * mount's walk needs. While the mount is being made they wait for it;
 * once it is there, and for a walk that passed the mount point just
 * before it was made, the answer is ESTALE, and the kernel walks the path
 * again, into the mount. */
struct rootfs_attr_wait {
        fuse_req_t req;
        struct rootfs *rootfs;
        int tid;
        struct pt_at pt;
};

static void rootfs_attr_after_mount(void *arg, bool mounted)
{
        struct rootfs_attr_wait *w = arg;
        if (mounted && rootfs_walk_again(w->rootfs, w->tid))
                fuse_reply_err(w->req, ESTALE);
        else
                pt_getattr(w->req, &w->pt, NULL);
        free(w);
}

/* True if the request was answered or is waiting for the mount. */
static bool rootfs_attr_wait(fuse_req_t req, const struct node *n)
{
        struct rootfs *r = container_rootfs(n->c);
        int tid = (int) fuse_req_ctx(req)->pid;
        rootfs_want(r);
        struct rootfs_attr_wait *w = malloc(sizeof(*w));
        if (!w)
                return false;
        *w = (struct rootfs_attr_wait){ .req = req, .rootfs = r, .tid = tid, .pt = n->pt };
        if (rootfs_after_mount(r, rootfs_attr_after_mount, w))
                return true;
        free(w);
        return false;
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct node n;
        if (!node_get(req, ino, &n))
                return;
        if (n.kind == NODE_ROOTFS && rootfs_attr_wait(req, &n))
                return;
        if (passthrough(&n))
                pt_getattr(req, &n.pt, fi);
        else
                reply_attr(req, &n);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
        struct node n;
        if (!node_get(req, ino, &n))
                return;
        if (passthrough(&n)) {
                pt_setattr(req, &n.pt, attr, to_set, fi);
                return;
        }
        int r;
        if (fi && fh_is_scratch(fi)) {
                /* ftruncate(2), fchmod(2)... of a scratch file's descriptor */
                r = scratch_setattr(fh_scratch(fi), attr, to_set);
        } else {
                struct caller who = caller_of(req);
                r = tree_setattr(ctx_of(req)->tree, &n, attr, to_set, &who);
                if (r == 0 && (to_set & FUSE_SET_ATTR_SIZE) && n.kind == NODE_FILE) {
                        bf_error err = { 0 };
                        r = openfile_truncate(n.c, n.file, fi ? openfile_of(fi) : NULL, attr->st_size, &err);
                }
        }
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                reply_attr(req, &n);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
        struct node p, n;
        if (!node_get(req, parent, &p))
                return;
        if (passthrough(&p)) {
                pt_mkdir(req, &p.pt, name, mode);
                return;
        }
        struct caller who = caller_of(req);
        int r = tree_mkdir(ctx_of(req)->tree, &p, name, &who, &n);
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                reply_entry(req, &n);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
        struct node p;
        if (!node_get(req, parent, &p))
                return;
        if (passthrough(&p))
                pt_unlink(req, &p.pt, name, true);
        else
                fuse_reply_err(req, -tree_rmdir(ctx_of(req)->tree, &p, name));
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
        struct node p;
        if (!node_get(req, parent, &p))
                return;
        struct caller who = caller_of(req);
        if (passthrough(&p))
                pt_unlink(req, &p.pt, name, false);
        else
                fuse_reply_err(req, -tree_unlink(ctx_of(req)->tree, &p, name, &who));
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
                      unsigned flags)
{
        struct node p, np;
        if (!node_get(req, parent, &p) || !node_get(req, newparent, &np))
                return;
        bool pt = passthrough(&p), npt = passthrough(&np);
        if (pt && npt)
                pt_rename(req, &p.pt, name, &np.pt, newname, flags);
        else if (pt || npt)
                fuse_reply_err(req, EXDEV);
        else {
                struct caller who = caller_of(req);
                fuse_reply_err(req, -tree_rename(ctx_of(req)->tree, &p, name, &np, newname, flags, &who));
        }
}

/* Besides the tree's own directories, only scratch files (regular files and
 * symbolic links) can be made, in a container directory; and anything in a
 * rootfs served through FUSE. */
static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
        struct node p, n;
        if (!node_get(req, parent, &p))
                return;
        if (passthrough(&p)) {
                pt_mknod(req, &p.pt, name, mode, rdev);
                return;
        }
        if (!S_ISREG(mode)) {
                fuse_reply_err(req, EPERM);
                return;
        }
        struct caller who = caller_of(req);
        struct scratch *s = NULL;
        int r = tree_create(ctx_of(req)->tree, &p, name, mode, &who, &n, &s);
        scratch_unref(s);
        if (r == 0 && n.kind != NODE_SCRATCH) {
                tree_forget(ctx_of(req)->tree, n.ino, 1);
                r = -EEXIST;    /* only open(2) makes a container's file anew */
        }
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                reply_entry(req, &n);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
        struct node p, n;
        if (!node_get(req, parent, &p))
                return;
        if (passthrough(&p)) {
                pt_create(req, &p.pt, name, mode, fi);
                return;
        }
        struct ops_ctx *ctx = ctx_of(req);
        struct caller who = caller_of(req);
        struct scratch *s = NULL;
        int r = tree_create(ctx->tree, &p, name, mode, &who, &n, &s);
        struct openfile *of = NULL;
        if (r == 0 && !s) {
                /* A container's file made anew: it starts empty (opts: a new list). */
                bf_error err = { 0 };
                r = openfile_open(ctx->files, n.c, n.file, tree_file_shown(&n), fi->flags | O_TRUNC, who.uid, &of,
                                  &err);
                if (r < 0)
                        tree_forget(ctx->tree, n.ino, 1);
        }
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        struct fuse_entry_param e = { .ino = n.ino, .generation = n.generation, .entry_timeout = ENTRY_TIMEOUT };
        r = tree_stat(ctx->tree, &n, &e.attr, &e.attr_timeout);
        fi->direct_io = 1;
        fi->keep_cache = 0;
        if (s)
                fh_set_scratch(fi, s);
        else
                fi->fh = (uint64_t) (uintptr_t) of;
        if (r < 0 || fuse_reply_create(req, &e, fi) != 0) {
                if (r < 0)
                        fuse_reply_err(req, -r);
                tree_forget(ctx->tree, n.ino, 1);
                scratch_unref(s);
                if (of)
                        openfile_release(of);
        }
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
        struct node p, n;
        if (!node_get(req, parent, &p))
                return;
        if (passthrough(&p)) {
                pt_symlink(req, link, &p.pt, name);
                return;
        }
        struct caller who = caller_of(req);
        int r = tree_symlink(ctx_of(req)->tree, &p, name, link, &who, &n);
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                reply_entry(req, &n);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
        struct node n, p;
        if (!node_get(req, ino, &n) || !node_get(req, newparent, &p))
                return;
        bool npt = passthrough(&p);
        if (npt && n.kind == NODE_PT)
                pt_link(req, &n.pt, &p.pt, newname);
        else
                fuse_reply_err(req, npt ? EXDEV : EPERM);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
        struct node n;
        if (!node_get(req, ino, &n))
                return;
        if (passthrough(&n))
                pt_readlink(req, &n.pt);
        else if (n.kind == NODE_SCRATCH && scratch_link(n.scratch))
                fuse_reply_readlink(req, scratch_link(n.scratch));
        else
                fuse_reply_err(req, EINVAL);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
        struct node n;
        if (!node_get(req, ino, &n))
                return;
        if (passthrough(&n))
                pt_getxattr(req, &n.pt, name, size);
        else
                fuse_reply_err(req, ENODATA);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
        struct node n;
        if (!node_get(req, ino, &n))
                return;
        if (passthrough(&n))
                pt_listxattr(req, &n.pt, size);
        else if (size == 0)
                fuse_reply_xattr(req, 0);
        else
                fuse_reply_buf(req, NULL, 0);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags)
{
        struct node n;
        if (!node_get(req, ino, &n))
                return;
        if (passthrough(&n))
                pt_setxattr(req, &n.pt, name, value, size, flags);
        else
                fuse_reply_err(req, ENOTSUP);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
        struct node n;
        if (!node_get(req, ino, &n))
                return;
        if (passthrough(&n))
                pt_removexattr(req, &n.pt, name);
        else
                fuse_reply_err(req, ENOTSUP);
}

/* umount(8) looks at the tree with statfs(2) right before unmounting it,
 * and the kernel refuses to unmount a tree with mounts below it: for
 * umount run by root, take the rootfs bind mounts off first. (If the
 * unmount then fails anyway, they come back at the next use.) Only root
 * may unmount the tree, and only what the kernel says is trusted: the
 * caller's uid, and the program it runs (/proc/<pid>/exe); a process's
 * name is its own to choose (PR_SET_NAME). fusermount3 -u asks nothing
 * first; fusermount3 -u -z and stopping the daemon work. */
static bool caller_is_root_umount(fuse_req_t req)
{
        const struct fuse_ctx *ctx = fuse_req_ctx(req);
        if (ctx->uid != 0)
                return false;
        char path[64], exe[PATH_MAX];
        snprintf(path, sizeof(path), "/proc/%d/exe", (int) ctx->pid);
        ssize_t n = readlink(path, exe, sizeof(exe) - 1);
        if (n <= 0)
                return false;
        exe[n] = '\0';
        const char *base = strrchr(exe, '/');
        return streq(base ? base + 1 : exe, "umount");
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
        struct node n;
        if (!node_get(req, ino, &n))
                return;
        if (ino == FUSE_ROOT_ID && caller_is_root_umount(req))
                mounts_detach_all(ctx_of(req)->mounts);
        if (passthrough(&n)) {
                pt_statfs(req, &n.pt);
                return;
        }
        struct statvfs st;
        int r = store_statvfs(ctx_of(req)->store, &st);
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                fuse_reply_statfs(req, &st);
}

/* ---- directories ---------------------------------------------------------------- */

/* A directory's listing, taken once at opendir so that offsets stay valid
 * across readdir calls. The kernel can release a directory the moment it
 * has a reply, while the thread that replied is still returning: a
 * reference holds the buffer until then. */
struct dirbuf {
        refcount refs;
        fuse_req_t req;         /* for fuse_add_direntry's sizes only */
        char *p;
        size_t len;
        struct open_dirs *set;
        struct dirbuf *prev, *next;     /* in set->head while the kernel holds it */
};

struct open_dirs {
        mutex lock;
        struct dirbuf *head GUARDED_BY(lock);
};

int open_dirs_new(struct open_dirs **ret)
{
        struct open_dirs *d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        mutex_init(&d->lock);
        *ret = d;
        return 0;
}

static void dirbuf_free(struct dirbuf *b)
{
        free(b->p);
        free(b);
}

void open_dirs_free(struct open_dirs *d) NO_LOCK_ANALYSIS
{
        if (!d)
                return;
        while (d->head) {
                struct dirbuf *b = d->head;
                d->head = b->next;
                dirbuf_free(b);
        }
        mutex_destroy(&d->lock);
        free(d);
}

static void open_dirs_add(struct open_dirs *d, struct dirbuf *b)
{
        mutex_lock(&d->lock);
        b->set = d;
        b->next = d->head;
        if (b->next)
                b->next->prev = b;
        d->head = b;
        mutex_unlock(&d->lock);
}

static struct dirbuf *dirbuf_ref(struct dirbuf *b)
{
        ref_get(&b->refs);
        return b;
}

static void dirbuf_unref(struct dirbuf *b)
{
        if (!ref_put(&b->refs))
                return;
        struct open_dirs *d = b->set;
        if (d) {
                mutex_lock(&d->lock);
                if (b->prev)
                        b->prev->next = b->next;
                else
                        d->head = b->next;
                if (b->next)
                        b->next->prev = b->prev;
                mutex_unlock(&d->lock);
        }
        dirbuf_free(b);
}

static int dirbuf_add(void *userdata, const char *name, uint64_t ino, mode_t type)
{
        struct dirbuf *b = userdata;
        struct stat st = { .st_ino = ino, .st_mode = type };
        size_t need = fuse_add_direntry(b->req, NULL, 0, name, NULL, 0);
        char *p = realloc(b->p, b->len + need);
        if (!p)
                return -ENOMEM;
        b->p = p;
        fuse_add_direntry(b->req, b->p + b->len, need, name, &st, (off_t) (b->len + need));
        b->len += need;
        return 0;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct node n;
        if (!node_get(req, ino, &n))
                return;
        if (passthrough(&n)) {
                pt_opendir(req, &n.pt, fi);
                return;
        }
        if (n.kind == NODE_FILE || n.kind == NODE_SCRATCH) {
                fuse_reply_err(req, ENOTDIR);
                return;
        }
        struct dirbuf *b = calloc(1, sizeof(*b));
        if (!b) {
                fuse_reply_err(req, ENOMEM);
                return;
        }
        ref_init(&b->refs);
        b->req = req;
        struct stat self;
        double timeout;
        int r = tree_stat(ctx_of(req)->tree, &n, &self, &timeout);
        if (r == 0)
                r = dirbuf_add(b, ".", self.st_ino, S_IFDIR);
        if (r == 0)
                r = dirbuf_add(b, "..", FUSE_ROOT_ID, S_IFDIR);
        if (r == 0)
                r = tree_list(ctx_of(req)->tree, &n, dirbuf_add, b);
        b->req = NULL;
        if (r < 0) {
                dirbuf_unref(b);
                fuse_reply_err(req, -r);
                return;
        }
        open_dirs_add(ctx_of(req)->dirs, b);
        fi->fh = (uint64_t) (uintptr_t) b;
        fi->cache_readdir = 0;
        if (fuse_reply_open(req, fi) != 0)
                dirbuf_unref(b);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
        struct node n;
        if (!node_get(req, ino, &n))
                return;
        if (passthrough(&n)) {
                pt_readdir(req, size, off, fi);
                return;
        }
        struct dirbuf *b = dirbuf_ref((struct dirbuf *) (uintptr_t) fi->fh);
        if (off < 0 || (size_t) off >= b->len)
                fuse_reply_buf(req, NULL, 0);
        else
                fuse_reply_buf(req, b->p + off, b->len - (size_t) off < size ? b->len - (size_t) off : size);
        dirbuf_unref(b);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct node n;
        if (tree_node(ctx_of(req)->tree, ino, &n) == 0 && (n.kind == NODE_ROOTFS || n.kind == NODE_PT)) {
                pt_releasedir(req, fi);
                return;
        }
        dirbuf_unref((struct dirbuf *) (uintptr_t) fi->fh);
        fuse_reply_err(req, 0);
}

/* ---- files ------------------------------------------------------------------------ */

/* An open of config.json whose container's rootfs mount is being made:
 * a runtime reads config.json before it takes the rootfs, so the open is
 * answered once the mount is there (mounts.h). */
struct config_open_wait {
        fuse_req_t req;
        struct fuse_file_info fi;
};

static void config_open_after_mount(void *arg, bool mounted)
{
        (void) mounted;
        struct config_open_wait *w = arg;
        if (fuse_reply_open(w->req, &w->fi) != 0)
                openfile_release(openfile_of(&w->fi));
        free(w);
}

/* True if the reply is sent once the mount is there (at once if it is). */
static bool config_open_wait(fuse_req_t req, const struct node *n, const struct fuse_file_info *fi)
{
        struct rootfs *r = n->file->kind == FILE_CONFIG ? container_rootfs(n->c) : NULL;
        if (!r)
                return false;
        rootfs_want(r);
        struct config_open_wait *w = malloc(sizeof(*w));
        if (!w)
                return false;
        *w = (struct config_open_wait){ .req = req, .fi = *fi };
        if (rootfs_after_mount(r, config_open_after_mount, w))
                return true;
        free(w);
        return false;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct node n;
        if (!node_get(req, ino, &n))
                return;
        if (passthrough(&n)) {
                pt_open(req, &n.pt, fi);
                return;
        }
        if (n.kind == NODE_SCRATCH) {
                int r = scratch_link(n.scratch) ? -ELOOP : 0;
                if (r == 0 && (fi->flags & O_TRUNC))
                        r = scratch_setattr(n.scratch, &(struct stat){ .st_size = 0 }, FUSE_SET_ATTR_SIZE);
                if (r < 0) {
                        fuse_reply_err(req, -r);
                        return;
                }
                fh_set_scratch(fi, scratch_ref(n.scratch));
                fi->direct_io = 1;
                fi->keep_cache = 0;
                if (fuse_reply_open(req, fi) != 0)
                        scratch_unref(n.scratch);
                return;
        }
        if (n.kind != NODE_FILE) {
                fuse_reply_err(req, EISDIR);
                return;
        }
        bf_error err = { 0 };
        struct openfile *of;
        int r = openfile_open(ctx_of(req)->files, n.c, n.file, tree_file_shown(&n), fi->flags, fuse_req_ctx(req)->uid,
                              &of, &err);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        /* Generated content: never cached by the kernel, sizes from getattr. */
        fi->direct_io = 1;
        fi->keep_cache = 0;
        fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY;     /* nothing to do at close */
        fi->fh = (uint64_t) (uintptr_t) of;
        if (config_open_wait(req, &n, fi))
                return;
        if (fuse_reply_open(req, fi) != 0)
                openfile_release(of);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
        struct node n;
        if (!node_get(req, ino, &n))
                return;
        if (passthrough(&n)) {
                pt_read(req, size, off, fi);
                return;
        }
        if (fh_is_scratch(fi)) {
                char *out = malloc(size ? size : 1);
                size_t len = 0;
                if (!out) {
                        fuse_reply_err(req, ENOMEM);
                        return;
                }
                scratch_read(fh_scratch(fi), off, size, out, &len);
                fuse_reply_buf(req, out, len);
                free(out);
                return;
        }
        struct content *c;
        size_t start, len;
        bf_error err = { 0 };
        int r = openfile_read(openfile_of(fi), off, size, &c, &start, &len, &err);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        fuse_reply_buf(req, content_data(c) + start, len);
        content_unref(c);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
        struct node n;
        if (!node_get(req, ino, &n))
                return;
        if (passthrough(&n)) {
                pt_write(req, data, size, off, fi);
                return;
        }
        if (fh_is_scratch(fi)) {
                int r = scratch_write(fh_scratch(fi), off, fi->flags & O_APPEND, data, size);
                if (r < 0)
                        fuse_reply_err(req, -r);
                else
                        fuse_reply_write(req, size);
                return;
        }
        if (n.kind == NODE_FILE && n.file->kind == FILE_ROOTFS_IMAGE) {
                /* Answered once the image is unpacked, from the thread unpacking it. */
                rootfs_image_write(ctx_of(req)->unpacks, req, n.c, openfile_opener(openfile_of(fi)), data, size);
                return;
        }
        bf_error err = { 0 };
        size_t count;
        int r = openfile_write(openfile_of(fi), data, size, &count, &err);
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                fuse_reply_write(req, count);     /* short: the writer sends the rest again */
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct node n;
        if (!node_get(req, ino, &n))
                return;
        if (passthrough(&n)) {
                pt_flush(req, fi);
                return;
        }
        if (fh_is_scratch(fi)) {
                fuse_reply_err(req, 0);
                return;
        }
        bf_error err = { 0 };
        fuse_reply_err(req, -openfile_flush(openfile_of(fi), fuse_req_ctx(req)->pid, &err));
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct node n;
        if (tree_node(ctx_of(req)->tree, ino, &n) == 0 && (n.kind == NODE_ROOTFS || n.kind == NODE_PT)) {
                pt_release(req, fi);
                return;
        }
        if (fh_is_scratch(fi))
                scratch_unref(fh_scratch(fi));
        else
                openfile_release(openfile_of(fi));
        fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
        struct node n;
        if (!node_get(req, ino, &n))
                return;
        if (passthrough(&n))
                pt_fsync(req, datasync, fi);
        else
                fuse_reply_err(req, 0);     /* accepted writes are durable already */
}

/* The session ends: unpacks still running are cancelled and answered
 * while it can still take their answers. */
static void op_destroy(void *userdata)
{
        struct ops_ctx *ctx = userdata;
        image_unpacks_stop(ctx->unpacks);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
        (void) userdata;
        if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
                conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
        /* Writes must arrive whole and in order; nothing may be cached. */
        conn->want &= ~(unsigned) (FUSE_CAP_ASYNC_DIO | FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_ASYNC_READ);
        conn->max_write = OPTS_WRITE_MAX;
}

static const struct fuse_lowlevel_ops ops = {
        .init = op_init,
        .destroy = op_destroy,
        .lookup = op_lookup,
        .forget = op_forget,
        .forget_multi = op_forget_multi,
        .getattr = op_getattr,
        .setattr = op_setattr,
        .mknod = op_mknod,
        .mkdir = op_mkdir,
        .unlink = op_unlink,
        .rmdir = op_rmdir,
        .symlink = op_symlink,
        .rename = op_rename,
        .link = op_link,
        .open = op_open,
        .read = op_read,
        .write = op_write,
        .flush = op_flush,
        .release = op_release,
        .opendir = op_opendir,
        .readdir = op_readdir,
        .releasedir = op_releasedir,
        .statfs = op_statfs,
        .create = op_create,
        .readlink = op_readlink,
        .fsync = op_fsync,
        .getxattr = op_getxattr,
        .listxattr = op_listxattr,
        .setxattr = op_setxattr,
        .removexattr = op_removexattr,
};

const struct fuse_lowlevel_ops *ops_table(void)
{
        return &ops;
}
