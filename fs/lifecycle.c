/* The life of namespaces and containers: mkdir, rmdir, rename and unlink;
 * and of the names in a container directory: scratch files made, renamed
 * and removed, and the container's own files, which stay (tree.h). Each
 * change of namespaces and containers is made on disk first
 * (core/store.h); everything in memory that could fail is made before it,
 * or the disk change is undone, so that each is all-or-nothing. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "content.h"
#include "files.h"
#include "identifiers.h"
#include "mounts.h"
#include "openfile.h"
#include "platform.h"
#include "scratch.h"
#include "store.h"
#include "tree_private.h"
#include "util.h"

static struct timespec monotonic_in(int seconds)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_sec += seconds;
        return t;
}

static struct timespec realtime_now(void)
{
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        return t;
}

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
        ns->persistent = persistent_id(t, name, NULL, NULL);
        ns_insert(t, ns);
        ns->nlookup++;
        node_of_ns(ns, ret);
        return 0;
}

/* A new container of namespace ns on disk and in memory, not in the tree
 * yet: its directory, then what memory needs (its inode, its bundle), then
 * its journal record; nothing stays of one that failed. No log yet: the
 * first write makes it. The store's names are held shared throughout, so
 * that no rename or removal settles the young containers (store.h) between
 * the directory and its record. */
static int container_make(struct tree *t, const char *ns, const char *name, struct container **ret) EXCLUDES(t)
{
        bf_error err = { 0 };
        struct store *store = t->parts.store;
        rwlock_lock_shared(store_names(store));
        int r = store_container_create(store, ns, name, &err);
        if (r < 0)
                goto out;
        struct store_log log = { .fd = -1 };
        struct container *c;
        r = container_new(t, ns, name, platform_host(), NULL, &log, &c, &err);
        if (r < 0) {
                store_container_abort(store, ns, name);
                goto out;
        }
        r = store_container_commit(store, ns, name, &err);
        if (r < 0) {
                container_discard(c);
                store_container_abort(store, ns, name);
                goto out;
        }
        *ret = c;
out:
        rwlock_unlock_shared(store_names(store));
        return r;
}

static int mkdir_container(struct tree *t, struct namespace *ns, const char *name, const struct proc_id *creator,
                           struct node *ret) REQUIRES(t)
{
        if (ns->removed)
                return -ENOENT;
        if (container_find(ns, name))
                return -EEXIST;
        /* The disk's part is made with the tree's lock let go: mkdirs in
         * other namespaces (the kernel makes those of one directory one at
         * a time) run beside it and share the journal's flush, and the
         * tree answers meanwhile. The name is the directory's on disk
         * (a second mkdir or a rename onto it gets EEXIST), and the
         * namespace stays as it is until `creating` goes down. */
        char nsname[IDENTIFIER_MAX + 1];
        snprintf(nsname, sizeof(nsname), "%s", ns->name);
        ns->creating++;
        tree_unlock(t);
        struct container *c = NULL;
        int r = container_make(t, nsname, name, &c);
        tree_lock(t);
        if (--ns->creating == 0)
                pthread_cond_broadcast(&t->created);
        if (r < 0)
                return r;
        container_insert(ns, c);
        c->nlookup++;
        c->creator = *creator;
        c->creator_until = monotonic_in(CREATE_ANEW_SECONDS);
        node_of_container(c, 0, ret);
        /* No rootfs and no mount yet: both come at the container's first
         * use (its look-ups, tree.c; mounts.h), as after a start, so that
         * making many containers makes no mounts nobody uses. */
        return 0;
}

int tree_mkdir(struct tree *t, const struct node *parent, const char *name, const struct caller *who,
               struct node *ret)
{
        if (parent->kind != NODE_ROOT && parent->kind != NODE_NAMESPACE)
                return parent->kind == NODE_FILE || parent->kind == NODE_SCRATCH ? -ENOTDIR : -EPERM;
        if (!identifier_valid(name))
                return -EINVAL;
        /* Whoever makes a container may then create its files as new ones
         * (cp -r and tar -x into a new container), as in any new directory. */
        struct proc_id creator = { 0 };
        if (parent->kind == NODE_NAMESPACE)
                (void) proc_id_of(who->pid, &creator);
        tree_lock(t);
        int r = parent->kind == NODE_ROOT ? mkdir_namespace(t, name, ret) :
                                            mkdir_container(t, parent->ns, name, &creator, ret);
        tree_unlock(t);
        return r;
}

static int rmdir_namespace(struct tree *t, const char *name) REQUIRES(t)
{
        struct namespace *ns = ns_find(t, name);
        if (!ns)
                return -ENOENT;
        if (ns->containers || ns->creating)
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
        /* Scratch files are entries like any (rm -rf removes them first). */
        if (c->nentries)
                return -ENOTEMPTY;
        /* Fails with ENOTEMPTY, changing nothing, unless the rootfs is
         * empty: rmdir never deletes data. */
        bf_error err = { 0 };
        struct store *store = t->parts.store;
        rwlock_lock(store_names(store));
        int r = store_container_remove(store, ns->name, name, &err);
        rwlock_unlock(store_names(store));
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
                r = streq(name, "rootfs")                             ? rmdir_rootfs(t, parent->c) :
                    file_find(name) || entry_find(t, parent->c, name) ? -ENOTDIR :
                                                                        -ENOENT;
                break;
        case NODE_FILE:
        case NODE_SCRATCH:
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

/* ---- scratch files and the container's own files ------------------------------------ */

struct entry *entry_find(struct tree *t, struct container *c, const char *name) REQUIRES(t)
{
        (void) t;
        for (struct entry *e = c->entries; e; e = e->next)
                if (streq(e->name, name))
                        return e;
        return NULL;
}

void entry_free(struct tree *t, struct entry *e)
{
        inodes_remove(t->parts.inodes, &e->inode);
        scratch_unref(e->data);
        free(e->name);
        free(e);
}

void entry_maybe_free(struct tree *t, struct entry *e) REQUIRES(t)
{
        if (e->name || e->nlookup)
                return;
        for (struct entry **p = &t->orphans; *p; p = &(*p)->next)
                if (*p == e) {
                        *p = e->next;
                        break;
                }
        struct container *c = e->c;
        entry_free(t, e);
        c->holders--;
        container_maybe_free(t, c);
}

void entry_unname(struct tree *t, struct entry *e) REQUIRES(t)
{
        struct container *c = e->c;
        for (struct entry **p = &c->entries; *p; p = &(*p)->next)
                if (*p == e) {
                        *p = e->next;
                        break;
                }
        c->nentries--;
        c->entries_changed = realtime_now();
        free(TAKE_PTR(e->name));
        e->next = t->orphans;
        t->orphans = e;
        entry_maybe_free(t, e);
}

/* A new scratch file named name in c (one kernel reference). */
static int entry_new(struct tree *t, struct container *c, const char *name, mode_t mode, const struct caller *who,
                     const char *link, struct entry **ret) REQUIRES(t)
{
        if (strlen(name) > NAME_MAX)
                return -ENAMETOOLONG;
        if (c->nentries >= SCRATCH_DIR_MAX)
                return -ENOSPC;
        bf_error err = { 0 };
        struct entry *e = calloc(1, sizeof(*e));
        if (!e || !(e->name = strdup(name))) {
                free(e);
                return -ENOMEM;
        }
        int r = scratch_new(t->pool, mode, who->uid, who->gid, link, &e->data, &err);
        if (r == 0) {
                e->inode.kind = INODE_SCRATCH;
                r = inodes_add(t->parts.inodes, &e->inode, &err);
                if (r < 0)
                        scratch_unref(e->data);
        }
        if (r < 0) {
                free(e->name);
                free(e);
                return r;
        }
        e->c = c;
        c->holders++;
        e->nlookup = 1;
        e->next = c->entries;
        c->entries = e;
        c->nentries++;
        c->entries_changed = realtime_now();
        *ret = e;
        return 0;
}

static bool expired(const struct timespec *until, const struct timespec *now)
{
        return now->tv_sec >= until->tv_sec;
}

/* Remember a, in place of an expired record or of the oldest. */
static void anew_add(struct container *c, const struct anew *a)
{
        if (!c->anew && !(c->anew = calloc(ANEW_MAX, sizeof(*c->anew))))
                return;         /* not remembered: an exclusive create fails as usual */
        struct timespec now = monotonic_in(0);
        struct anew *slot = &c->anew[0];
        for (size_t i = 0; i < ANEW_MAX; i++) {
                struct anew *x = &c->anew[i];
                if (!x->who.tgid || expired(&x->until, &now)) {
                        slot = x;
                        break;
                }
                if (x->until.tv_sec < slot->until.tv_sec)
                        slot = x;
        }
        *slot = *a;
}

bool may_make_anew(struct tree *t, struct container *c, const struct file_def *f, pid_t pid)
{
        unsigned index = (unsigned) file_index(f);
        struct timespec now = monotonic_in(0);
        struct proc_id who[2] = { 0 };
        size_t n = 0;
        tree_lock(t);
        if (c->creator.tgid && !(c->made & (1ULL << index)) && !expired(&c->creator_until, &now))
                who[n++] = c->creator;
        for (size_t i = 0; c->anew && i < ANEW_MAX && n < ARRAY_SIZE(who); i++) {
                const struct anew *a = &c->anew[i];
                if (a->who.tgid && a->file == index && !a->made && !expired(&a->until, &now) &&
                    !(n && proc_id_eq(&who[0], &a->who)))
                        who[n++] = a->who;
        }
        tree_unlock(t);
        if (!n)
                return false;
        struct proc_id caller;
        if (proc_id_of(pid, &caller) < 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (proc_id_eq(&who[i], &caller))
                        return proc_creating_exclusively(pid);
        return false;
}

/* Process who's exclusive create of file f of c makes it anew: done, once
 * (the maker's right is used up; a removal becomes a making). */
static void made_anew(struct container *c, const struct file_def *f, const struct proc_id *who)
{
        unsigned index = (unsigned) file_index(f);
        c->made |= 1ULL << index;
        struct anew made = { .who = *who, .file = index, .until = monotonic_in(CREATE_ANEW_SECONDS), .made = true };
        bool found = false;
        for (size_t i = 0; c->anew && i < ANEW_MAX; i++) {
                struct anew *a = &c->anew[i];
                if (a->who.tgid && a->file == index && !a->made) {
                        *a = found ? (struct anew){ 0 } : made;
                        found = true;
                }
        }
        if (!found && who->tgid)
                anew_add(c, &made);
}

bool made_anew_by(struct tree *t, struct container *c, const struct file_def *f, const struct caller *who)
{
        struct proc_id pid;
        if (proc_id_of(who->pid, &pid) < 0)
                return false;
        struct timespec now = monotonic_in(0);
        unsigned index = (unsigned) file_index(f);
        bool made = false;
        tree_lock(t);
        for (size_t i = 0; c->anew && i < ANEW_MAX && !made; i++) {
                const struct anew *a = &c->anew[i];
                made = a->made && a->file == index && !expired(&a->until, &now) && proc_id_eq(&a->who, &pid);
        }
        tree_unlock(t);
        return made;
}

static int unlink_in_container(struct tree *t, struct container *c, const char *name, const struct caller *who)
{
        if (streq(name, "rootfs"))
                return -EISDIR;
        const struct file_def *f = file_find(name);
        if (f) {
                /* The container's files cannot go away; accepting the unlink
                 * lets rm -rf empty a container, and the caller create the
                 * file anew right after (tar -x, install, mv across file
                 * systems, git checkout unlink first). rm would then stop at
                 * the rootfs mount point: take the mount off, so it goes on
                 * through FUSE. */
                struct proc_id pid;
                bool known = proc_id_of(who->pid, &pid) == 0;
                tree_lock(t);
                if (known && !c->removed)
                        anew_add(c, &(struct anew){ .who = pid, .file = (unsigned) file_index(f),
                                                    .until = monotonic_in(CREATE_ANEW_SECONDS) });
                struct rootfs *rootfs = NULL;
                int r = container_use_rootfs(t, c, &rootfs);
                tree_unlock(t);
                bf_error err = { 0 };
                if (r == 0)
                        (void) rootfs_detach(rootfs, &err);
                return 0;
        }
        tree_lock(t);
        struct entry *e = c->removed ? NULL : entry_find(t, c, name);
        if (e)
                entry_unname(t, e);
        tree_unlock(t);
        return e ? 0 : -ENOENT;
}

int tree_unlink(struct tree *t, const struct node *parent, const char *name, const struct caller *who)
{
        if (parent->kind == NODE_FILE || parent->kind == NODE_SCRATCH)
                return -ENOTDIR;
        if (parent->kind == NODE_CONTAINER)
                return unlink_in_container(t, parent->c, name, who);
        tree_lock(t);
        bool exists = parent->kind == NODE_ROOT ? ns_find(t, name) != NULL :
                      parent->kind == NODE_NAMESPACE ? container_find(parent->ns, name) != NULL : false;
        tree_unlock(t);
        return exists ? -EISDIR : -ENOENT;
}

/* New names for the bundles of a namespace's containers, made before the
 * rename on disk so that keeping them cannot fail. */
struct renames {
        struct bundle_name **names;
        size_t n;
};

static void renames_free(struct renames *rn)
{
        for (size_t i = 0; i < rn->n; i++)
                bundle_name_free(rn->names[i]);
        free(rn->names);
}

static int renames_prepare(struct namespace *ns, const char *newname, struct renames *rn, bf_error *err)
{
        rn->names = calloc(ns->count + 1, sizeof(*rn->names));
        if (!rn->names)
                return bf_error_oom(err);
        for (struct container *c = ns->containers; c; c = c->next) {
                int r = bundle_name_new(c->bundle, newname, c->id, &rn->names[rn->n], err);
                if (r < 0)
                        return r;
                rn->n++;
        }
        return 0;
}

static int rename_namespace(struct tree *t, const char *name, const char *newname) REQUIRES(t)
{
        /* A mkdir under way in it knows it by its name. */
        struct namespace *ns = ns_find_settled(t, name);
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
        struct store *store = t->parts.store;
        _cleanup_(renames_free) struct renames rn = { 0 };
        rwlock_lock(store_names(store));
        int r = renames_prepare(ns, newname, &rn, &err);
        if (r == 0)
                r = store_namespace_rename(store, name, newname, &err);
        if (r < 0) {
                rwlock_unlock(store_names(store));
                return r;
        }
        ns_unlink(t, ns);
        free(ns->name);
        ns->name = TAKE_PTR(nn);
        ns_insert(t, ns);
        /* Renderings name the container (WithNamespacedCgroup). */
        size_t i = 0;
        for (struct container *c = ns->containers; c; c = c->next) {
                bundle_rename(c->bundle, TAKE_PTR(rn.names[i++]));
                /* Only the place of its bind mount: should this fail, the
                 * rootfs is served through FUSE. */
                if (c->rootfs)
                        (void) rootfs_rename(c->rootfs, newname, c->id, &err);
        }
        rwlock_unlock(store_names(store));
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
        struct store *store = t->parts.store;
        struct bundle_name *bn = NULL;
        rwlock_lock(store_names(store));
        int r = bundle_name_new(c->bundle, to->name, newname, &bn, &err);
        if (r == 0)
                r = store_container_rename(store, from->name, name, to->name, newname, &err);
        if (r < 0) {
                rwlock_unlock(store_names(store));
                bundle_name_free(bn);
                return r;
        }
        if (c->rootfs && rootfs_rename(c->rootfs, to->name, newname, &err) < 0) {
                /* Back as it was on disk; the bundle was not renamed yet. */
                (void) store_container_rename(store, to->name, newname, from->name, name, &err);
                rwlock_unlock(store_names(store));
                bundle_name_free(bn);
                return -ENOMEM;
        }
        bundle_rename(c->bundle, bn);
        rwlock_unlock(store_names(store));
        container_unlink(from, c);
        free(c->id);
        c->id = TAKE_PTR(nid);
        container_insert(to, c);
        return 0;
}

/* The content of a scratch file renamed onto f of c: committed as one
 * change, unless it is what f shows already (sed -i or rsync -a that change
 * nothing leave the list as it is). */
static int commit_onto(struct tree *t, struct container *c, const struct file_def *f, struct scratch *data,
                       const struct caller *who)
{
        if (scratch_link(data))
                return -EPERM;  /* a symbolic link has no content to give */
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = scratch_content(data, &text, &len);
        if (r < 0)
                return r;
        bf_error err = { 0 };
        struct content *now = NULL;
        bool same = bundle_read(container_bundle(c), f, &now, &err) == 0 && content_len(now) == len &&
                    memcmp(content_data(now), text, len) == 0;
        content_unref(now);
        if (same)
                return 0;
        err = (bf_error){ 0 };
        return openfile_commit_whole(t->parts.files, c, f, who->uid, text, len, &err);
}

static int rename_in_container(struct tree *t, struct container *c, const char *name, const char *newname,
                               unsigned flags, const struct caller *who)
{
        if (flags & RENAME_EXCHANGE)
                return -EINVAL;
        if (strlen(newname) > NAME_MAX)
                return -ENAMETOOLONG;
        const struct file_def *to = file_find(newname);
        tree_lock(t);
        struct entry *e = c->removed ? NULL : entry_find(t, c, name);
        struct entry *target = e && !to ? entry_find(t, c, newname) : NULL;
        int r = 0;
        if (!e)
                /* The container's own files cannot move: EXDEV has tools copy. */
                r = file_find(name) ? -EXDEV : streq(name, "rootfs") ? -EPERM : -ENOENT;
        else if (e == target)
                r = 0;
        else if ((to || target || streq(newname, "rootfs")) && (flags & RENAME_NOREPLACE))
                r = -EEXIST;
        else if (streq(newname, "rootfs"))
                r = -EISDIR;
        else if (to && !(to->mode & 0200))
                r = -EACCES;    /* config.json and error are read-only */
        else if (to && to->kind == FILE_ROOTFS_IMAGE)
                /* An unpack is answered later, from a thread of its own, as
                 * a write: EXDEV has mv copy, that is write. */
                r = -EXDEV;
        if (r < 0 || e == target) {
                tree_unlock(t);
                return r;
        }
        if (!to) {
                /* A scratch file takes a new name, replacing another one. */
                char *nn = strdup(newname);
                if (!nn) {
                        tree_unlock(t);
                        return -ENOMEM;
                }
                free(e->name);
                e->name = nn;
                c->entries_changed = realtime_now();
                if (target)
                        entry_unname(t, target);
                tree_unlock(t);
                return 0;
        }
        /* Onto a file of the container: its content is committed with no
         * lock of the tree held (a commit takes the bundle's write lock, and
         * renders, which may look at the tree). The kernel holds the
         * directory meanwhile, so the names stay. */
        struct scratch *data = scratch_ref(e->data);
        e->nlookup++;
        tree_unlock(t);
        r = commit_onto(t, c, to, data, who);
        scratch_unref(data);
        tree_lock(t);
        if (r == 0 && e->name && streq(e->name, name)) {
                /* The kernel's dentry for the name is this node now. */
                e->alias = to;
                entry_unname(t, e);
        }
        e->nlookup--;
        entry_maybe_free(t, e);
        tree_unlock(t);
        return r;
}

int tree_rename(struct tree *t, const struct node *parent, const char *name, const struct node *newparent,
                const char *newname, unsigned flags, const struct caller *who)
{
        if (parent->kind == NODE_CONTAINER || newparent->kind == NODE_CONTAINER)
                return parent->kind == newparent->kind && parent->c == newparent->c ?
                               rename_in_container(t, parent->c, name, newname, flags, who) :
                               -EXDEV;
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

/* ---- making files in a container directory ---------------------------------------------- */

int tree_create(struct tree *t, const struct node *parent, const char *name, mode_t mode, const struct caller *who,
                struct node *ret, struct scratch **ret_scratch)
{
        if (parent->kind != NODE_CONTAINER)
                return parent->kind == NODE_FILE || parent->kind == NODE_SCRATCH ? -ENOTDIR : -EPERM;
        struct container *c = parent->c;
        const struct file_def *f = file_find(name);
        struct proc_id pid = { 0 };
        if (f)
                (void) proc_id_of(who->pid, &pid);
        int r = 0;
        tree_lock(t);
        if (c->removed) {
                r = -ENOENT;
        } else if (streq(name, "rootfs") || entry_find(t, c, name)) {
                r = -EEXIST;
        } else if (f) {
                /* The lookup said it is not there: an exclusive create
                 * that makes it anew (tree_lookup). */
                made_anew(c, f, &pid);
                c->nlookup++;
                node_of_container(c, (unsigned) file_index(f) + 1, ret);
                *ret_scratch = NULL;
        } else {
                struct entry *e;
                r = entry_new(t, c, name, mode, who, NULL, &e);
                if (r == 0) {
                        node_of_entry(e, ret);
                        *ret_scratch = scratch_ref(e->data);
                }
        }
        tree_unlock(t);
        return r;
}

int tree_symlink(struct tree *t, const struct node *parent, const char *name, const char *target,
                 const struct caller *who, struct node *ret)
{
        if (parent->kind != NODE_CONTAINER)
                return parent->kind == NODE_FILE || parent->kind == NODE_SCRATCH ? -ENOTDIR : -EPERM;
        struct container *c = parent->c;
        int r;
        tree_lock(t);
        if (c->removed) {
                r = -ENOENT;
        } else if (streq(name, "rootfs") || file_find(name) || entry_find(t, c, name)) {
                r = -EEXIST;
        } else {
                struct entry *e;
                r = entry_new(t, c, name, 0777, who, target, &e);
                if (r == 0)
                        node_of_entry(e, ret);
        }
        tree_unlock(t);
        return r;
}
