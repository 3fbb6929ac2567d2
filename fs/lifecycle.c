/* The life of namespaces and containers: mkdir, rmdir, rename and unlink
 * (tree.h). Each change is made on disk first (core/store.h); everything
 * in memory that could fail is made before it, or the disk change is
 * undone, so that each is all-or-nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "files.h"
#include "identifiers.h"
#include "mounts.h"
#include "platform.h"
#include "store.h"
#include "tree_private.h"
#include "util.h"

static int mkdir_namespace(struct tree *t, const char *name, struct node *ret) REQUIRES(t)
{
        if (ns_find(t, name))
                return -EEXIST;
        bf_error err = { 0 };
        struct namespace *ns;
        int r = ns_new(t, name, &ns, &err);
        if (r < 0)
                return r;
        r = store_namespace_create(t->parts.store, name, &err);
        if (r < 0) {
                ns_free(t, ns);
                return r;
        }
        ns_insert(t, ns);
        ns->nlookup++;
        node_of_ns(ns, ret);
        return 0;
}

static int mkdir_container(struct tree *t, struct namespace *ns, const char *name, struct node *ret) REQUIRES(t)
{
        if (ns->removed)
                return -ENOENT;
        if (container_find(ns, name))
                return -EEXIST;
        bf_error err = { 0 };
        const char *platform = platform_host();
        struct store_log log = { .fd = -1 };
        int r = store_container_create(t->parts.store, ns->name, name, platform, &log, &err);
        if (r < 0)
                return r;
        struct container *c;
        r = container_new(t, ns->name, name, platform, NULL, &log, &c, &err);
        if (r < 0) {
                /* Nothing may stay of a mkdir that failed. */
                store_log_close(t->parts.store, &log);
                (void) store_container_remove(t->parts.store, ns->name, name, &err);
                return r;
        }
        container_insert(ns, c);
        c->nlookup++;
        node_of_container(c, 0, ret);
        /* A new container is about to be filled: its mount is asked for
         * before the reply, so that it comes as soon as the kernel knows
         * the directory. */
        struct rootfs *rootfs;
        if (container_use_rootfs(t, c, &rootfs) == 0)
                rootfs_want(rootfs);
        return 0;
}

int tree_mkdir(struct tree *t, const struct node *parent, const char *name, struct node *ret)
{
        if (parent->kind != NODE_ROOT && parent->kind != NODE_NAMESPACE)
                return parent->kind == NODE_FILE ? -ENOTDIR : -EPERM;
        if (!identifier_valid(name))
                return -EINVAL;
        tree_lock(t);
        int r = parent->kind == NODE_ROOT ? mkdir_namespace(t, name, ret) : mkdir_container(t, parent->ns, name, ret);
        tree_unlock(t);
        return r;
}

static int rmdir_namespace(struct tree *t, const char *name) REQUIRES(t)
{
        struct namespace *ns = ns_find(t, name);
        if (!ns)
                return -ENOENT;
        if (ns->containers)
                return -ENOTEMPTY;
        bf_error err = { 0 };
        int r = store_namespace_remove(t->parts.store, name, &err);
        if (r < 0)
                return r;
        ns_unlink(t, ns);
        ns->removed = true;
        ns_maybe_free(t, ns);
        return 0;
}

/* The container goes from the tree (ret: it, held, for its rootfs to be
 * taken off once the lock is let go). */
static int rmdir_container(struct tree *t, struct namespace *ns, const char *name, struct container **ret)
        REQUIRES(t)
{
        struct container *c = ns->removed ? NULL : container_find(ns, name);
        if (!c)
                return -ENOENT;
        if (c->unpack)
                return -EBUSY;
        /* Fails with ENOTEMPTY, changing nothing, unless the rootfs is
         * empty: rmdir never deletes data. */
        bf_error err = { 0 };
        int r = store_container_remove(t->parts.store, ns->name, name, &err);
        if (r < 0)
                return r;
        container_unlink(ns, c);
        c->removed = true;
        /* Freed once the kernel forgets it and its files are closed. */
        c->next = t->removed;
        t->removed = c;
        c->holders++;
        *ret = c;
        return 0;
}

/* rmdir of a container's rootfs is only reached without its bind mount
 * (rm -rf took it off): an empty rootfs "goes" like the virtual files, so
 * rm goes on to remove the container. */
static int rmdir_rootfs(struct tree *t, struct container *c) REQUIRES(t)
{
        if (c->removed)
                return -ENOENT;
        if (c->unpack)
                return -EBUSY;
        bf_error err = { 0 };
        bool empty = false;
        int r = store_rootfs_empty(t->parts.store, c->ns->name, c->id, &empty, &err);
        return r < 0 ? r : empty ? 0 : -ENOTEMPTY;
}

int tree_rmdir(struct tree *t, const struct node *parent, const char *name)
{
        struct container *gone = NULL;
        int r;
        tree_lock(t);
        switch (parent->kind) {
        case NODE_ROOT:
                r = rmdir_namespace(t, name);
                break;
        case NODE_NAMESPACE:
                r = rmdir_container(t, parent->ns, name, &gone);
                break;
        case NODE_CONTAINER:
                r = streq(name, "rootfs") ? rmdir_rootfs(t, parent->c) : file_find(name) ? -ENOTDIR : -ENOENT;
                break;
        case NODE_FILE:
                r = -ENOTDIR;
                break;
        default:
                r = -EIO;
        }
        tree_unlock(t);
        if (gone) {
                if (container_rootfs(gone))
                        rootfs_gone(container_rootfs(gone));
                container_put(gone);
        }
        return r;
}

int tree_unlink(struct tree *t, const struct node *parent, const char *name)
{
        if (parent->kind == NODE_FILE)
                return -ENOTDIR;
        if (parent->kind == NODE_CONTAINER) {
                /* Virtual files cannot go away; accepting the unlink lets rm
                 * -rf empty a container. rm would then stop at the rootfs mount
                 * point: take the mount off, so it goes on through FUSE. */
                if (streq(name, "rootfs"))
                        return -EISDIR;
                if (!file_find(name))
                        return -ENOENT;
                tree_lock(t);
                struct rootfs *rootfs = NULL;
                int r = container_use_rootfs(t, parent->c, &rootfs);
                tree_unlock(t);
                bf_error err = { 0 };
                if (r == 0)
                        (void) rootfs_detach(rootfs, &err);
                return 0;
        }
        tree_lock(t);
        bool exists = parent->kind == NODE_ROOT ? ns_find(t, name) != NULL :
                      parent->kind == NODE_NAMESPACE ? container_find(parent->ns, name) != NULL : false;
        tree_unlock(t);
        return exists ? -EISDIR : -ENOENT;
}

static int rename_namespace(struct tree *t, const char *name, const char *newname) REQUIRES(t)
{
        struct namespace *ns = ns_find(t, name);
        if (!ns)
                return -ENOENT;
        if (streq(name, newname))
                return 0;
        if (ns_find(t, newname))
                return -EEXIST;
        for (struct container *c = ns->containers; c; c = c->next)
                if (c->unpack)
                        return -EBUSY;
        _cleanup_free_ char *nn = strdup(newname);
        if (!nn)
                return -ENOMEM;
        bf_error err = { 0 };
        int r = store_namespace_rename(t->parts.store, name, newname, &err);
        if (r < 0)
                return r;
        ns_unlink(t, ns);
        free(ns->name);
        ns->name = TAKE_PTR(nn);
        ns_insert(t, ns);
        /* Renderings name the container (WithNamespacedCgroup). */
        for (struct container *c = ns->containers; c; c = c->next) {
                (void) bundle_rename(c->bundle, newname, c->id, &err);
                if (c->rootfs)
                        (void) rootfs_rename(c->rootfs, newname, c->id, &err);
        }
        return 0;
}

static int rename_container(struct tree *t, struct namespace *from, const char *name, struct namespace *to,
                            const char *newname) REQUIRES(t)
{
        struct container *c = from->removed ? NULL : container_find(from, name);
        if (!c || to->removed)
                return -ENOENT;
        if (from == to && streq(name, newname))
                return 0;
        if (container_find(to, newname))
                return -EEXIST;
        if (c->unpack)
                return -EBUSY;
        _cleanup_free_ char *nid = strdup(newname);
        if (!nid)
                return -ENOMEM;
        bf_error err = { 0 };
        int r = store_container_rename(t->parts.store, from->name, name, to->name, newname, &err);
        if (r < 0)
                return r;
        if (bundle_rename(c->bundle, to->name, newname, &err) < 0 ||
            (c->rootfs && rootfs_rename(c->rootfs, to->name, newname, &err) < 0)) {
                /* Back as it was, on disk and in the bundle. */
                (void) store_container_rename(t->parts.store, to->name, newname, from->name, name, &err);
                (void) bundle_rename(c->bundle, from->name, name, &err);
                return -ENOMEM;
        }
        /* The bind mount sits on the rootfs dentry and moves with it. */
        container_unlink(from, c);
        free(c->id);
        c->id = TAKE_PTR(nid);
        container_insert(to, c);
        return 0;
}

int tree_rename(struct tree *t, const struct node *parent, const char *name, const struct node *newparent,
                const char *newname, unsigned flags)
{
        if (flags & RENAME_EXCHANGE)
                return -EINVAL;
        if (parent->kind != newparent->kind || (parent->kind != NODE_ROOT && parent->kind != NODE_NAMESPACE))
                return -EPERM;
        if (!identifier_valid(newname))
                return -EINVAL;
        tree_lock(t);
        int r = parent->kind == NODE_ROOT ? rename_namespace(t, name, newname) :
                                            rename_container(t, parent->ns, name, newparent->ns, newname);
        tree_unlock(t);
        return r;
}
