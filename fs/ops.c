/* The FUSE operations: each request finds its node and hands it to the
 * tree (namespaces, containers) or to the container's files. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <unistd.h>

#include "ctl.h"
#include "internal.h"
#include "options.h"
#include "platform.h"
#include "utf8.h"
#include "util.h"

#define ENTRY_TIMEOUT 60.0
#define DIR_ATTR_TIMEOUT 1.0

/* An open file: its content is generated once per open (reads), and writes
 * of an opts file opened with O_TRUNC build a new list here. */
struct handle {
        struct node *node;
        buf content;
        bool readable;
        bool replace;               /* opts opened with O_TRUNC */
        bool refused;               /* a write was refused: close keeps the old list */
        bool dirty;                 /* staged lines not committed yet */
        struct optlist *before;     /* the list a first commit replaced (replace mode) */
        struct optline **staged;
        size_t nstaged, cap;
        buf partial;                /* an unfinished last line (replace mode) */
        buf value;                  /* control files: what this open file was given so far */
        struct value_state vs;
        uid_t opener;               /* the uid that opened the file */
        bool host_paths_allowed;    /* opened by the mount's owner or root */
        int refs;                   /* see struct dirbuf */
        struct handle *prev, *next; /* in fs->handles (tree lock) */
};

static struct bfs *fs_of(fuse_req_t req)
{
        return fuse_req_userdata(req);
}

static struct node *node_of(struct bfs *fs, fuse_ino_t ino)
{
        return ino == FUSE_ROOT_ID ? &fs->root : (struct node *) (uintptr_t) ino;
}

static fuse_ino_t ino_of(struct bfs *fs, const struct node *n)
{
        return n == &fs->root ? FUSE_ROOT_ID : (fuse_ino_t) (uintptr_t) n;
}

/* ---- attributes -------------------------------------------------------------- */

static int fill_attr(struct bfs *fs, struct node *n, struct stat *st, double *timeout)
{
        memset(st, 0, sizeof(*st));
        st->st_ino = ino_of(fs, n);
        st->st_uid = fs->uid;
        st->st_gid = fs->gid;
        st->st_nlink = 1;
        *timeout = DIR_ATTR_TIMEOUT;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        st->st_atim = st->st_mtim = st->st_ctim = now;
        switch (n->kind) {
        case NODE_ROOT:
        case NODE_NAMESPACE:
                st->st_mode = S_IFDIR | 0755;
                st->st_nlink = 2;
                return 0;
        case NODE_CONTAINER:
                st->st_mode = S_IFDIR | 0755;
                st->st_nlink = 3;
                pthread_mutex_lock(&n->c->lock);
                st->st_mtim = st->st_ctim = n->c->mtime;
                pthread_mutex_unlock(&n->c->lock);
                return 0;
        case NODE_ROOTFS:
        case NODE_PT:
                /* the real directory's attributes, under this node's number */
                *timeout = 0;
                return pt_stat(n, st);
        case NODE_FILE: {
                st->st_mode = S_IFREG | n->file->mode;
                *timeout = 0;
                /* Sizes are exact: the content is generated, as a read would. */
                bf_error err = { 0 };
                size_t size;
                if (container_size(fs, n->c, n->file, &size, &err) == 0)
                        st->st_size = (off_t) size;
                pthread_mutex_lock(&n->c->lock);
                if (n->file->kind == FILE_OPTS || n->file->kind == FILE_PLATFORM || n->file->kind == FILE_ERROR)
                        st->st_mtim = st->st_ctim = n->c->mtime;
                pthread_mutex_unlock(&n->c->lock);
                return 0;
        }
        }
        return -EIO;
}

static void reply_entry(fuse_req_t req, struct bfs *fs, struct node *n)
{
        struct fuse_entry_param e = { 0 };
        double attr_timeout;
        int r = fill_attr(fs, n, &e.attr, &attr_timeout);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        e.ino = ino_of(fs, n);
        e.generation = 1;
        e.attr_timeout = attr_timeout;
        e.entry_timeout = ENTRY_TIMEOUT;
        pthread_mutex_lock(&fs->tree_lock);
        n->nlookup++;
        pthread_mutex_unlock(&fs->tree_lock);
        if (fuse_reply_entry(req, &e) != 0) {
                pthread_mutex_lock(&fs->tree_lock);
                node_forget(n, 1);
                pthread_mutex_unlock(&fs->tree_lock);
        }
}

/* A request on the rootfs or below it reached FUSE: its bind mount is not
 * there (yet, or any more). It is served by passthrough. */
static bool passthrough(struct node *n)
{
        if (!node_is_pt(n))
                return false;
        rootfs_touch(n->c);
        return true;
}

/* ---- lookup, forget, getattr ----------------------------------------------------- */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
        struct bfs *fs = fs_of(req);
        struct node *p = node_of(fs, parent), *n = NULL;
        pthread_mutex_lock(&fs->tree_lock);
        switch (p->kind) {
        case NODE_ROOT: {
                struct namespace *ns = ns_find(fs, name);
                n = ns ? &ns->node : NULL;
                break;
        }
        case NODE_NAMESPACE: {
                struct container *c = p->ns->removed ? NULL : container_find(p->ns, name);
                n = c ? &c->dir : NULL;
                break;
        }
        case NODE_CONTAINER:
                if (p->c->removed)
                        break;
                if (streq(name, "rootfs")) {
                        n = &p->c->rootfs;
                } else {
                        const struct file_def *f = file_def_find(name);
                        n = f ? &p->c->files[f - file_defs] : NULL;
                }
                break;
        case NODE_FILE:
                pthread_mutex_unlock(&fs->tree_lock);
                fuse_reply_err(req, ENOTDIR);
                return;
        case NODE_ROOTFS:
        case NODE_PT:
                pthread_mutex_unlock(&fs->tree_lock);
                if (passthrough(p))
                        pt_lookup(req, fs, p, name);
                return;
        }
        pthread_mutex_unlock(&fs->tree_lock);
        if (!n) {
                struct fuse_entry_param e = { 0 };
                fuse_reply_entry(req, &e);  /* negative, not cached */
                return;
        }
        reply_entry(req, fs, n);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
        struct bfs *fs = fs_of(req);
        pthread_mutex_lock(&fs->tree_lock);
        node_forget(node_of(fs, ino), nlookup);
        pthread_mutex_unlock(&fs->tree_lock);
        fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
        struct bfs *fs = fs_of(req);
        pthread_mutex_lock(&fs->tree_lock);
        for (size_t i = 0; i < count; i++)
                node_forget(node_of(fs, forgets[i].ino), forgets[i].nlookup);
        pthread_mutex_unlock(&fs->tree_lock);
        fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        (void) fi;
        struct bfs *fs = fs_of(req);
        if (passthrough(node_of(fs, ino))) {
                pt_getattr(req, node_of(fs, ino));
                return;
        }
        struct stat st;
        double timeout;
        int r = fill_attr(fs, node_of(fs, ino), &st, &timeout);
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                fuse_reply_attr(req, &st, timeout);
}

/* ---- directories ------------------------------------------------------------------ */

/* The kernel can close a file (and send its release) the moment it has a
 * reply, while the thread that replied is still returning: buffers a reply
 * is made from are held by a reference until then. */
struct dirbuf {
        char *p;
        size_t len;
        int refs;
};

static struct dirbuf *dirbuf_ref(struct dirbuf *b)
{
        __atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
        return b;
}

static void dirbuf_unref(struct dirbuf *b)
{
        if (__atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return;
        free(b->p);
        free(b);
}

static void dirbuf_add(fuse_req_t req, struct dirbuf *b, const char *name, fuse_ino_t ino, mode_t mode)
{
        struct stat st = { .st_ino = ino, .st_mode = mode };
        size_t old = b->len;
        size_t need = fuse_add_direntry(req, NULL, 0, name, NULL, 0);
        char *p = realloc(b->p, old + need);
        if (!p)
                return;
        b->p = p;
        b->len += need;
        fuse_add_direntry(req, b->p + old, need, name, &st, (off_t) b->len);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct bfs *fs = fs_of(req);
        struct node *n = node_of(fs, ino);
        if (passthrough(n)) {
                pt_opendir(req, n, fi);
                return;
        }
        if (n->kind == NODE_FILE) {
                fuse_reply_err(req, ENOTDIR);
                return;
        }
        /* The listing is taken once, so offsets stay valid across readdir calls. */
        struct dirbuf *b = calloc(1, sizeof(*b));
        if (!b) {
                fuse_reply_err(req, ENOMEM);
                return;
        }
        b->refs = 1;
        dirbuf_add(req, b, ".", ino, S_IFDIR);
        dirbuf_add(req, b, "..", FUSE_ROOT_ID, S_IFDIR);
        pthread_mutex_lock(&fs->tree_lock);
        if (n->kind == NODE_ROOT) {
                for (struct namespace *ns = fs->namespaces; ns; ns = ns->next)
                        dirbuf_add(req, b, ns->name, ino_of(fs, &ns->node), S_IFDIR);
        } else if (n->kind == NODE_NAMESPACE) {
                for (struct container *c = n->ns->containers; c; c = c->next)
                        dirbuf_add(req, b, c->id, ino_of(fs, &c->dir), S_IFDIR);
        } else if (n->kind == NODE_CONTAINER && !n->c->removed) {
                for (size_t i = 0; i < file_defs_count; i++)
                        dirbuf_add(req, b, file_defs[i].name, ino_of(fs, &n->c->files[i]), S_IFREG);
                dirbuf_add(req, b, "rootfs", ino_of(fs, &n->c->rootfs), S_IFDIR);
        }
        pthread_mutex_unlock(&fs->tree_lock);
        fi->fh = (uint64_t) (uintptr_t) b;
        fi->cache_readdir = 0;
        if (fuse_reply_open(req, fi) != 0)
                dirbuf_unref(b);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
        if (passthrough(node_of(fs_of(req), ino))) {
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
        if (node_is_pt(node_of(fs_of(req), ino))) {
                pt_releasedir(req, fi);
                return;
        }
        dirbuf_unref((struct dirbuf *) (uintptr_t) fi->fh);
        fuse_reply_err(req, 0);
}

static void log_error(struct bfs *fs, const char *what, const bf_error *err)
{
        bfs_log(fs, LOG_ERR, "%s: %s", what, err->msg);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
        (void) mode;
        struct bfs *fs = fs_of(req);
        struct node *p = node_of(fs, parent);
        bf_error err = { 0 };
        if (passthrough(p)) {
                pt_mkdir(req, fs, p, name, mode);
                return;
        }
        if (p->kind == NODE_CONTAINER || p->kind == NODE_FILE) {
                fuse_reply_err(req, p->kind == NODE_FILE ? ENOTDIR : EPERM);
                return;
        }
        if (!identifier_valid(name)) {
                fuse_reply_err(req, EINVAL);
                return;
        }
        pthread_mutex_lock(&fs->tree_lock);
        if (p->kind == NODE_ROOT) {
                struct namespace *ns = NULL;
                int r = ns_find(fs, name) ? -EEXIST : 0;
                if (r == 0 && (r = store_namespace_create(&fs->store, name, &err)) < 0)
                        log_error(fs, "mkdir", &err);
                if (r == 0 && !(ns = ns_new(name)))
                        r = -ENOMEM;
                if (r == 0)
                        ns_insert(fs, ns);
                pthread_mutex_unlock(&fs->tree_lock);
                if (r < 0)
                        fuse_reply_err(req, -r);
                else
                        reply_entry(req, fs, &ns->node);
                return;
        }
        struct namespace *ns = p->ns;
        int r = ns->removed ? -ENOENT : container_find(ns, name) ? -EEXIST : 0;
        struct store_log log = { .fd = -1 };
        const char *platform = platform_host();
        if (r == 0 && (r = store_container_create(&fs->store, ns->name, name, platform, &log, &err)) < 0)
                log_error(fs, "mkdir", &err);
        struct container *c = NULL;
        if (r == 0 && !(c = container_new(fs, ns, name, platform, NULL, 0, log))) {
                close(log.fd);
                r = -ENOMEM;
        }
        if (r == 0)
                container_insert(ns, c);
        pthread_mutex_unlock(&fs->tree_lock);
        if (r < 0) {
                fuse_reply_err(req, -r);
                return;
        }
        /* Queued before the reply, so the mounter walks to the new rootfs first. */
        mount_queue(fs, c);
        reply_entry(req, fs, &c->dir);
}

/* rm -rf of a container unlinks its files first: take the rootfs bind mount
 * off then, so rm can go on to remove the (then FUSE) rootfs directory and
 * the container. The mount comes back once the rootfs is idle, if the
 * container stays. */
static void container_unlinked(struct bfs *fs, struct container *c)
{
        pthread_mutex_lock(&c->lock);
        enum mount_state ms = c->mount;
        char *ns = strdup(c->ns_name), *id = strdup(c->id);
        pthread_mutex_unlock(&c->lock);
        bf_error err = { 0 };
        if (ms == MOUNT_DONE && ns && id) {
                if (rootfs_unmount(fs, c, ns, id, MOUNT_DETACHED, &err) < 0)
                        log_error(fs, "unlink", &err);
                else
                        mount_queue(fs, c);
        } else if (ms == MOUNT_DETACHED) {
                rootfs_touch(c);
        }
        free(ns);
        free(id);
}

static int rmdir_container(struct bfs *fs, struct namespace *parent, const char *name)
{
        bf_error err = { 0 };
        pthread_mutex_lock(&fs->tree_lock);
        struct container *c = container_find(parent, name);
        char *ns_name = strdup(parent->name);
        if (c)
                c->open_handles++;
        pthread_mutex_unlock(&fs->tree_lock);
        if (!c || !ns_name) {
                free(ns_name);
                return c ? (container_put(fs, c), -ENOMEM) : -ENOENT;
        }
        /* Fails with ENOTEMPTY, changing nothing, unless the rootfs is empty:
         * rmdir never deletes data. */
        int r = store_container_remove(&fs->store, ns_name, name, &err);
        if (r < 0 && r != -ENOTEMPTY)
                log_error(fs, "rmdir", &err);
        if (r == 0) {
                pthread_mutex_lock(&fs->tree_lock);
                container_unlink(c->ns, c);
                c->removed = true;
                /* Freed once the kernel forgets it, or when the daemon stops. */
                c->next = fs->removed;
                fs->removed = c;
                pthread_mutex_unlock(&fs->tree_lock);
                /* A mount made by now is ours to take off; one still being made
                 * is taken off by the mounter, which sees `removed`. */
                pthread_mutex_lock(&c->lock);
                c->gone = true;
                enum mount_state ms = c->mount;
                pthread_mutex_unlock(&c->lock);
                if (ms == MOUNT_DONE && rootfs_unmount(fs, c, ns_name, name, MOUNT_PENDING, &err) < 0)
                        log_error(fs, "rmdir", &err);
        }
        free(ns_name);
        container_put(fs, c);
        return r;
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
        struct bfs *fs = fs_of(req);
        struct node *p = node_of(fs, parent);
        bf_error err = { 0 };
        int r = 0;
        if (passthrough(p)) {
                pt_unlink(req, p, name, true);
                return;
        }
        switch (p->kind) {
        case NODE_FILE:
                r = -ENOTDIR;
                break;
        case NODE_CONTAINER:
                if (streq(name, "rootfs")) {
                        /* Only reached without the bind mount (rm -rf took it off):
                         * an empty rootfs "goes" like the virtual files, so rm
                         * goes on to remove the container. */
                        pthread_mutex_lock(&p->c->lock);
                        char *ns = strdup(p->c->ns_name), *id = strdup(p->c->id);
                        pthread_mutex_unlock(&p->c->lock);
                        bool empty = false;
                        r = ns && id ? store_rootfs_empty(&fs->store, ns, id, &empty, &err) : -ENOMEM;
                        if (r == 0 && !empty)
                                r = -ENOTEMPTY;
                        free(ns);
                        free(id);
                } else {
                        r = file_def_find(name) ? -ENOTDIR : -ENOENT;
                }
                break;
        case NODE_ROOT: {
                pthread_mutex_lock(&fs->tree_lock);
                struct namespace *ns = ns_find(fs, name);
                r = !ns ? -ENOENT : ns->containers ? -ENOTEMPTY : 0;
                if (r == 0 && (r = store_namespace_remove(&fs->store, name, &err)) < 0)
                        log_error(fs, "rmdir", &err);
                if (r == 0) {
                        ns_unlink(fs, ns);
                        ns->removed = true;
                        maybe_free_ns(ns);
                }
                pthread_mutex_unlock(&fs->tree_lock);
                break;
        }
        case NODE_NAMESPACE:
                r = rmdir_container(fs, p->ns, name);
                break;
        default:
                r = -EIO;
        }
        fuse_reply_err(req, r < 0 ? -r : 0);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
        struct bfs *fs = fs_of(req);
        struct node *p = node_of(fs, parent);
        int r;
        if (passthrough(p)) {
                pt_unlink(req, p, name, false);
                return;
        }
        switch (p->kind) {
        case NODE_CONTAINER:
                /* Virtual files cannot go away; accepting the unlink lets rm -rf
                 * empty a container. */
                r = streq(name, "rootfs") ? -EISDIR : file_def_find(name) ? 0 : -ENOENT;
                if (r == 0)
                        container_unlinked(fs, p->c);
                break;
        case NODE_FILE:
                r = -ENOTDIR;
                break;
        default: {
                pthread_mutex_lock(&fs->tree_lock);
                bool exists = p->kind == NODE_ROOT ? ns_find(fs, name) != NULL : container_find(p->ns, name) != NULL;
                pthread_mutex_unlock(&fs->tree_lock);
                r = exists ? -EISDIR : -ENOENT;
        }
        }
        fuse_reply_err(req, -r);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
                      unsigned flags)
{
        struct bfs *fs = fs_of(req);
        struct node *p = node_of(fs, parent), *np = node_of(fs, newparent);
        bf_error err = { 0 };
        int r = 0;
        if (node_is_pt(p) || node_is_pt(np)) {
                if (passthrough(p) && passthrough(np))
                        pt_rename(req, p, name, np, newname, flags);
                else
                        fuse_reply_err(req, EXDEV);
                return;
        }
        if (flags & RENAME_EXCHANGE) {
                fuse_reply_err(req, EINVAL);
                return;
        }
        if (p->kind != np->kind || (p->kind != NODE_ROOT && p->kind != NODE_NAMESPACE)) {
                fuse_reply_err(req, EPERM);
                return;
        }
        if (!identifier_valid(newname)) {
                fuse_reply_err(req, EINVAL);
                return;
        }
        pthread_mutex_lock(&fs->tree_lock);
        if (p->kind == NODE_ROOT) {
                struct namespace *ns = ns_find(fs, name);
                r = !ns ? -ENOENT : streq(name, newname) ? 1 : ns_find(fs, newname) ? -EEXIST : 0;
                char *nn = r == 0 ? strdup(newname) : NULL;
                if (r == 0 && !nn)
                        r = -ENOMEM;
                if (r == 0 && (r = store_namespace_rename(&fs->store, name, newname, &err)) < 0) {
                        log_error(fs, "rename", &err);
                        free(nn);
                }
                if (r == 0) {
                        ns_unlink(fs, ns);
                        free(ns->name);
                        ns->name = nn;
                        ns_insert(fs, ns);
                        for (struct container *c = ns->containers; c; c = c->next) {
                                pthread_mutex_lock(&c->lock);
                                char *copy = strdup(newname);
                                if (copy) {
                                        free(c->ns_name);
                                        c->ns_name = copy;
                                }
                                /* Renderings name the container (WithNamespacedCgroup). */
                                __atomic_store_n(&c->version, c->version + 1, __ATOMIC_RELEASE);
                                pthread_mutex_unlock(&c->lock);
                        }
                }
        } else {
                struct container *c = container_find(p->ns, name);
                r = !c ? -ENOENT : (p->ns == np->ns && streq(name, newname)) ? 1 :
                    container_find(np->ns, newname) ? -EEXIST : 0;
                char *nid = r == 0 ? strdup(newname) : NULL, *nns = r == 0 ? strdup(np->ns->name) : NULL;
                if (r == 0 && (!nid || !nns))
                        r = -ENOMEM;
                if (r == 0 &&
                    (r = store_container_rename(&fs->store, p->ns->name, name, np->ns->name, newname, &err)) < 0)
                        log_error(fs, "rename", &err);
                if (r == 0) {
                        /* The bind mount sits on the rootfs dentry and moves with it. */
                        container_unlink(p->ns, c);
                        pthread_mutex_lock(&c->lock);
                        free(c->id);
                        free(c->ns_name);
                        c->id = TAKE_PTR(nid);
                        c->ns_name = TAKE_PTR(nns);
                        __atomic_store_n(&c->version, c->version + 1, __ATOMIC_RELEASE);
                        clock_gettime(CLOCK_REALTIME, &c->mtime);
                        bool unmounted = c->mount == MOUNT_FAILED;
                        pthread_mutex_unlock(&c->lock);
                        container_insert(np->ns, c);
                        if (unmounted)
                                mount_queue(fs, c);     /* it may have failed on the old name */
                }
                free(nid);
                free(nns);
        }
        pthread_mutex_unlock(&fs->tree_lock);
        fuse_reply_err(req, r < 0 ? -r : 0);
}

/* Nothing but the tree's own directories and files can be made, except in
 * a rootfs served through FUSE. */
static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
        struct bfs *fs = fs_of(req);
        struct node *p = node_of(fs, parent);
        if (passthrough(p))
                pt_mknod(req, fs, p, name, mode, rdev);
        else
                fuse_reply_err(req, EPERM);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
        struct bfs *fs = fs_of(req);
        struct node *p = node_of(fs, parent);
        if (passthrough(p))
                pt_create(req, fs, p, name, mode, fi);
        else
                fuse_reply_err(req, EPERM);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
        struct bfs *fs = fs_of(req);
        struct node *p = node_of(fs, parent);
        if (passthrough(p))
                pt_symlink(req, fs, link, p, name);
        else
                fuse_reply_err(req, EPERM);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
        struct bfs *fs = fs_of(req);
        struct node *n = node_of(fs, ino), *p = node_of(fs, newparent);
        if (passthrough(p) && node_is_pt(n))
                pt_link(req, fs, n, p, newname);
        else
                fuse_reply_err(req, node_is_pt(p) ? EXDEV : EPERM);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
        struct node *n = node_of(fs_of(req), ino);
        if (passthrough(n))
                pt_readlink(req, n);
        else
                fuse_reply_err(req, EINVAL);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
        struct node *n = node_of(fs_of(req), ino);
        if (passthrough(n))
                pt_getxattr(req, n, name, size);
        else
                fuse_reply_err(req, ENODATA);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
        struct node *n = node_of(fs_of(req), ino);
        if (passthrough(n))
                pt_listxattr(req, n, size);
        else if (size == 0)
                fuse_reply_xattr(req, 0);
        else
                fuse_reply_buf(req, NULL, 0);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags)
{
        struct node *n = node_of(fs_of(req), ino);
        if (passthrough(n))
                pt_setxattr(req, n, name, value, size, flags);
        else
                fuse_reply_err(req, ENOTSUP);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
        struct node *n = node_of(fs_of(req), ino);
        if (passthrough(n))
                pt_removexattr(req, n, name);
        else
                fuse_reply_err(req, ENOTSUP);
}

/* ---- files ----------------------------------------------------------------------- */

static void handle_free(struct handle *h)
{
        if (__atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return;
        buf_free(&h->content);
        buf_free(&h->partial);
        buf_free(&h->value);
        optline_free_all(h->staged, h->nstaged);
        optlist_unref(h->before);
        free(h);
}

static void handle_link(struct bfs *fs, struct handle *h)
{
        h->prev = NULL;
        h->next = fs->handles;
        if (h->next)
                h->next->prev = h;
        fs->handles = h;
}

static void handle_unlink(struct bfs *fs, struct handle *h)
{
        if (h->prev)
                h->prev->next = h->next;
        else
                fs->handles = h->next;
        if (h->next)
                h->next->prev = h->prev;
}

void handles_free_all(struct bfs *fs)
{
        while (fs->handles) {
                struct handle *h = fs->handles;
                handle_unlink(fs, h);
                h->refs = 1;
                handle_free(h);
        }
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct bfs *fs = fs_of(req);
        struct node *n = node_of(fs, ino);
        if (passthrough(n)) {
                pt_open(req, n, fi);
                return;
        }
        if (n->kind != NODE_FILE) {
                fuse_reply_err(req, EISDIR);
                return;
        }
        int acc = fi->flags & O_ACCMODE;
        bool writing = acc != O_RDONLY;
        if (writing && !(n->file->mode & 0200)) {
                fuse_reply_err(req, EACCES);
                return;
        }
        struct handle *h = calloc(1, sizeof(*h));
        if (!h) {
                fuse_reply_err(req, ENOMEM);
                return;
        }
        h->node = n;
        h->refs = 1;
        /* As for any file, a write acts with the rights of the one who opened it. */
        h->opener = fuse_req_ctx(req)->uid;
        h->host_paths_allowed = h->opener == fs->uid || h->opener == 0;
        h->readable = acc != O_WRONLY;
        h->replace = n->file->kind == FILE_OPTS && writing && (fi->flags & O_TRUNC);
        h->dirty = h->replace;
        if (h->readable) {
                bf_error err = { 0 };
                int r = container_read(fs, n->c, n->file, &h->content, &err);
                if (r < 0) {
                        handle_free(h);
                        fuse_reply_err(req, -r);
                        return;
                }
        }
        pthread_mutex_lock(&fs->tree_lock);
        if (n->c->removed) {
                pthread_mutex_unlock(&fs->tree_lock);
                handle_free(h);
                fuse_reply_err(req, ENOENT);
                return;
        }
        n->c->open_handles++;
        handle_link(fs, h);
        pthread_mutex_unlock(&fs->tree_lock);
        /* Generated content: never cached by the kernel, sizes from getattr. */
        fi->direct_io = 1;
        fi->keep_cache = 0;
        fi->noflush = !writing;     /* nothing to do at close: one round trip less */
        fi->fh = (uint64_t) (uintptr_t) h;
        if (fuse_reply_open(req, fi) != 0) {
                pthread_mutex_lock(&fs->tree_lock);
                handle_unlink(fs, h);
                n->c->open_handles--;
                maybe_free_container(n->c);
                pthread_mutex_unlock(&fs->tree_lock);
                handle_free(h);
        }
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
        if (passthrough(node_of(fs_of(req), ino))) {
                pt_read(req, size, off, fi);
                return;
        }
        struct handle *h = (struct handle *) (uintptr_t) fi->fh;
        if (!h->readable) {
                fuse_reply_err(req, EBADF);
                return;
        }
        __atomic_add_fetch(&h->refs, 1, __ATOMIC_RELAXED);
        if (off < 0 || (size_t) off >= h->content.len)
                fuse_reply_buf(req, NULL, 0);
        else
                fuse_reply_buf(req, h->content.p + off,
                               h->content.len - (size_t) off < size ? h->content.len - (size_t) off : size);
        handle_free(h);
}

/* Lines that name host paths (optline_uses_host_paths) are kept to the
 * mount's owner and root: rendering reads those paths with the daemon's
 * credentials and in its mount namespace, beyond the kernel's checks of the
 * caller (which, holding CAP_DAC_OVERRIDE, may write any file of the tree).
 * Checked before anything looks at the paths, so a refusal tells nothing
 * about them. */
static int refuse_host_paths(struct bfs *fs, const struct handle *h, struct optline *const *lines, size_t n,
                             bf_error *err)
{
        if (h->host_paths_allowed)
                return 0;
        for (size_t i = 0; i < n; i++) {
                if (!optline_uses_host_paths(lines[i]))
                        continue;
                int r = bf_error_set(err, EPERM, "%s: only the mount's owner (uid %u) or root may name host paths, "
                                     "not uid %u", optline_option_name(lines[i]), (unsigned) fs->uid,
                                     (unsigned) h->opener);
                if (n > 1)
                        bf_error_prefix(err, "line %zu", i + 1);
                return r;
        }
        return 0;
}

/* An append to opts: the lines of text, parsed here once, checked and kept. */
static int append_text(struct bfs *fs, struct handle *h, const char *text, size_t len, bf_error *err)
{
        struct container *c = h->node->c;
        struct optline **lines = NULL;
        size_t n = 0;
        int r = optline_parse_text(text, len, &lines, &n, err);
        if (r == 0)
                r = refuse_host_paths(fs, h, lines, n, err);
        if (r < 0)
                container_refuse(c, err);
        else
                r = container_append(fs, c, lines, n, NULL, err);
        optline_free_all(lines, n);
        return r;
}

/* Replace mode: complete lines are checked against the staged list as they
 * arrive; an unfinished last line waits for the next write or the close. */
static int stage_lines(struct bfs *fs, struct handle *h, const char *text, size_t len, bf_error *err)
{
        struct optline **lines = NULL;
        size_t n = 0;
        int r = optline_parse_text(text, len, &lines, &n, err);
        if (r < 0)
                return r;
        if ((r = refuse_host_paths(fs, h, lines, n, err)) < 0) {
                optline_free_all(lines, n);
                return r;
        }
        if (n && (r = container_check(fs, h->node->c, h->staged, h->nstaged, lines, n, err)) < 0) {
                optline_free_all(lines, n);
                return r;
        }
        if (h->nstaged + n > h->cap) {
                size_t cap = h->cap ? h->cap : 16;
                while (cap < h->nstaged + n)
                        cap *= 2;
                struct optline **s = realloc(h->staged, cap * sizeof(*s));
                if (!s) {
                        optline_free_all(lines, n);
                        return bf_error_set(err, ENOMEM, "out of memory");
                }
                h->staged = s;
                h->cap = cap;
        }
        memcpy(h->staged + h->nstaged, lines, n * sizeof(*lines));
        h->nstaged += n;
        free(lines);
        return 0;
}

/* Replace mode commits at every close (flush), so that close reports a
 * failure and a read right after it sees the new list. But a shell's
 * `cmd > opts` closes a copy of the descriptor before cmd writes, which
 * commits the list staged so far (empty). A write refused after such a
 * commit puts back the list the commit replaced: close keeps the old list. */
static void replace_refused(struct bfs *fs, struct handle *h, const bf_error *why)
{
        struct container *c = h->node->c;
        h->refused = true;
        if (h->before) {
                bf_error err = { 0 };
                if (container_replace(fs, c, h->before->lines, h->before->n, &err) < 0)
                        bfs_log(fs, LOG_ERR, "putting back the option list after a refused write: %s", err.msg);
                optlist_unref(TAKE_PTR(h->before));
        }
        container_refuse(c, why);
}

static int write_replace(struct bfs *fs, struct handle *h, const char *data, size_t size, bf_error *err)
{
        /* as for appends: a first piece of exactly 1 MiB ending within a line
         * starts a write over the limit */
        if (size == OPTS_WRITE_MAX && data[size - 1] != '\n' && !h->partial.len)
                return bf_error_set(err, EFBIG, "a write to opts carries at most %d bytes", OPTS_WRITE_MAX);
        if (h->partial.len + size > OPTS_WRITE_MAX)
                return bf_error_set(err, EFBIG, "an option line is longer than %d bytes", OPTS_WRITE_MAX);
        const char *last_nl = NULL;
        for (size_t i = size; i-- > 0;)
                if (data[i] == '\n') {
                        last_nl = data + i;
                        break;
                }
        if (!last_nl) {
                buf_put(&h->partial, data, size);
                return h->partial.oom ? bf_error_set(err, ENOMEM, "out of memory") : 0;
        }
        size_t head = (size_t) (last_nl - data) + 1;
        buf text = { 0 };
        buf_put(&text, h->partial.p ? h->partial.p : "", h->partial.len);
        buf_put(&text, data, head);
        int r = text.oom ? bf_error_set(err, ENOMEM, "out of memory") : stage_lines(fs, h, text.p, text.len, err);
        buf_free(&text);
        if (r < 0)
                return r;
        h->partial.len = 0;
        buf_put(&h->partial, data + head, size - head);
        h->dirty = true;
        return 0;
}

/* The kernel hands a write over in pieces of at most 1 MiB, cut where the
 * writer's buffer crosses 256 pages: a piece that ends within a line and is
 * that large is continued by the next one. */
#define PAGE_SPLIT_MIN (OPTS_WRITE_MAX - 4095)

/* Appending: each write(2) carries whole lines, all kept or none. */
static int write_append(struct bfs *fs, struct handle *h, const char *data, size_t size, bf_error *err)
{
        struct container *c = h->node->c;
        bool cut = size >= PAGE_SPLIT_MIN && data[size - 1] != '\n';
        /* A piece of exactly 1 MiB that ends within a line, with nothing before
         * it, is the start of a write over the limit. */
        if (size > OPTS_WRITE_MAX || (cut && size == OPTS_WRITE_MAX && !h->partial.len)) {
                int r = bf_error_set(err, EFBIG, "a write to opts carries at most %d bytes", OPTS_WRITE_MAX);
                container_refuse(c, err);
                return r;
        }
        buf text = { 0 };
        buf_put(&text, h->partial.p ? h->partial.p : "", h->partial.len);
        buf_put(&text, data, size);
        size_t keep = text.len;
        if (cut) {
                /* hold the unfinished line for the next piece (or the close) */
                while (keep && text.p[keep - 1] != '\n')
                        keep--;
        }
        if (text.len - keep > OPTLINE_MAX) {
                buf_free(&text);
                int r = bf_error_set(err, EFBIG, "an option line is longer than %d bytes", OPTLINE_MAX);
                container_refuse(c, err);
                return r;
        }
        int r = text.oom ? bf_error_set(err, ENOMEM, "out of memory") : 0;
        if (r == 0 && keep)
                r = append_text(fs, h, text.p, keep, err);
        /* A refused write takes the start of its line (held from an earlier
         * piece of the same write) with it: close must not keep a torn line. */
        h->partial.len = 0;
        if (r == 0)
                buf_put(&h->partial, text.p + keep, text.len - keep);
        buf_free(&text);
        return r;
}

/* A value written to platform is text: a NUL byte would cut it short where
 * it becomes a C string, and a platform is UTF-8. */
static int value_text_check(const char *data, size_t size, bf_error *err)
{
        if (memchr(data, '\0', size))
                return bf_error_set(err, EINVAL, "a value may not contain a NUL byte");
        if (!utf8_valid(data, size))
                return bf_error_set(err, EINVAL, "a value must be valid UTF-8");
        return 0;
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off,
                     struct fuse_file_info *fi)
{
        struct bfs *fs = fs_of(req);
        if (passthrough(node_of(fs, ino))) {
                pt_write(req, data, size, off, fi);
                return;
        }
        struct handle *h = (struct handle *) (uintptr_t) fi->fh;
        struct container *c = h->node->c;
        const struct file_def *f = h->node->file;
        bf_error err = { 0 };
        int r;
        if (c->removed) {
                fuse_reply_err(req, ENOENT);
                return;
        }
        switch (f->kind) {
        case FILE_OPTS:
                if (h->replace) {
                        r = h->refused ? bf_error_set(&err, EINVAL, "an earlier write to this open file was refused") :
                                         write_replace(fs, h, data, size, &err);
                        if (r < 0)
                                replace_refused(fs, h, &err);
                        break;
                }
                r = write_append(fs, h, data, size, &err);
                break;
        case FILE_PLATFORM:
                r = value_text_check(data, size, &err);
                if (r < 0)
                        container_refuse(c, &err);
                else
                        r = container_set_platform(fs, c, data, size, &err);
                break;
        case FILE_CONTROL: {
                /* One open file writes one value, whether in one write(2) or
                 * line by line as a shell does: each write extends it, and the
                 * option line it makes replaces the one kept before. */
                if (h->value.len + size > CONTROL_VALUE_MAX) {
                        r = bf_error_set(&err, EFBIG, "a value is at most %d bytes", CONTROL_VALUE_MAX);
                        container_refuse(c, &err);
                        break;
                }
                buf value = { 0 };
                buf_put(&value, h->value.p ? h->value.p : "", h->value.len);
                buf_put(&value, data, size);
                struct optline **lines = NULL;
                size_t n = 0;
                r = value.oom ? bf_error_set(&err, ENOMEM, "out of memory") :
                                ctl_parse(f->ctl, value.p, value.len, &lines, &n, &err);
                if (r == 0 && (r = refuse_host_paths(fs, h, lines, n, &err)) < 0)
                        bf_error_prefix(&err, "%s", f->name);
                if (r < 0)
                        container_refuse(c, &err);
                else
                        r = container_append(fs, c, lines, n, &h->vs, &err);
                if (r == 0) {
                        buf_free(&h->value);
                        h->value = value;
                } else {
                        buf_free(&value);
                }
                optline_free_all(lines, n);
                break;
        }
        default:
                r = -EACCES;
        }
        if (r < 0)
                fuse_reply_err(req, -r);
        else
                fuse_reply_write(req, size);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct bfs *fs = fs_of(req);
        if (node_is_pt(node_of(fs, ino))) {
                pt_flush(req, fi);
                return;
        }
        struct handle *h = (struct handle *) (uintptr_t) fi->fh;
        int r = 0;
        if (!h->replace && h->partial.len) {
                /* the end of a write cut by the kernel, with no final newline */
                bf_error err = { 0 };
                r = append_text(fs, h, h->partial.p, h->partial.len, &err);
                h->partial.len = 0;
        }
        if (h->replace && h->dirty && !h->refused) {
                bf_error err = { 0 };
                if (h->partial.len) {
                        r = stage_lines(fs, h, h->partial.p, h->partial.len, &err);
                        h->partial.len = 0;
                }
                /* the list before the first commit, to put back if a later write is refused */
                struct snapshot before = { 0 };
                if (r == 0 && !h->before && container_snapshot(fs, h->node->c, &before) < 0)
                        r = bf_error_set(&err, ENOMEM, "out of memory");
                if (r == 0)
                        r = container_replace(fs, h->node->c, h->staged, h->nstaged, &err);
                if (r == 0 && before.list)
                        h->before = optlist_ref(before.list);
                snapshot_done(&before);
                if (r < 0) {
                        replace_refused(fs, h, &err);
                } else {
                        h->dirty = false;
                }
        }
        fuse_reply_err(req, r < 0 ? -r : 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        struct bfs *fs = fs_of(req);
        if (node_is_pt(node_of(fs, ino))) {
                pt_release(req, fi);
                return;
        }
        struct handle *h = (struct handle *) (uintptr_t) fi->fh;
        struct container *c = h->node->c;
        pthread_mutex_lock(&fs->tree_lock);
        handle_unlink(fs, h);
        c->open_handles--;
        maybe_free_container(c);
        pthread_mutex_unlock(&fs->tree_lock);
        handle_free(h);
        fuse_reply_err(req, 0);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
        (void) attr;
        struct bfs *fs = fs_of(req);
        struct node *n = node_of(fs, ino);
        if (passthrough(n)) {
                pt_setattr(req, n, attr, to_set, fi);
                return;
        }
        if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
                fuse_reply_err(req, EPERM);
                return;
        }
        if ((to_set & FUSE_SET_ATTR_SIZE) && n->kind == NODE_FILE) {
                /* truncate(opts, 0) empties the list; other files ignore truncation
                 * (a shell's > opens them with O_TRUNC before writing). */
                if (attr->st_size != 0) {
                        fuse_reply_err(req, EINVAL);
                        return;
                }
                struct handle *h = fi ? (struct handle *) (uintptr_t) fi->fh : NULL;
                if (n->file->kind == FILE_OPTS && !(h && h->replace)) {
                        bf_error err = { 0 };
                        int r = container_replace(fs, n->c, NULL, 0, &err);
                        if (r < 0) {
                                fuse_reply_err(req, -r);
                                return;
                        }
                } else if (n->file->kind == FILE_CONFIG || n->file->kind == FILE_ERROR) {
                        fuse_reply_err(req, EACCES);
                        return;
                }
        }
        op_getattr(req, ino, fi);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
        if (node_is_pt(node_of(fs_of(req), ino)))
                pt_fsync(req, datasync, fi);
        else
                fuse_reply_err(req, 0);     /* accepted writes are durable already */
}

/* umount(8) looks at the tree with statfs(2) right before unmounting it,
 * and the kernel refuses to unmount a tree with mounts below it: take the
 * rootfs bind mounts off first. (If the unmount then fails anyway, they come
 * back once the rootfs is used again.) fusermount3 -u asks nothing first;
 * fusermount3 -u -z and stopping the daemon work. */
static bool caller_is_umount(fuse_req_t req)
{
        char path[64], comm[32] = { 0 };
        snprintf(path, sizeof(path), "/proc/%d/comm", (int) fuse_req_ctx(req)->pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return false;
        bool is = fgets(comm, sizeof(comm), f) && streq(comm, "umount\n");
        fclose(f);
        return is;
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
        struct bfs *fs = fs_of(req);
        if (ino == FUSE_ROOT_ID && caller_is_umount(req))
                bfs_detach_all(fs);
        if (passthrough(node_of(fs, ino))) {
                pt_statfs(req, node_of(fs, ino));
                return;
        }
        struct statvfs st;
        if (fstatvfs(fs->store.dirfd, &st) < 0)
                fuse_reply_err(req, errno);
        else
                fuse_reply_statfs(req, &st);
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

const struct fuse_lowlevel_ops *bfs_fuse_ops(void)
{
        return &ops;
}
