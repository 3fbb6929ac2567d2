/* The tree of namespaces and containers (tree.h). */
#include "tree_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budget.h"
#include "bundle.h"
#include "files.h"
#include "inodes.h"
#include "mounts.h"
#include "optline.h"
#include "platform.h"
#include "identifiers.h"
#include "rootfs_image.h"
#include "scratch.h"
#include "store.h"
#include "util.h"

uint64_t persistent_id(struct tree *t, const char *ns, const char *id, struct timespec *ret_born)
{
        struct stat st;
        struct timespec born;
        if (store_dir_stat(t->parts.store, ns, id, &st, &born) < 0) {
                if (ret_born)
                        clock_gettime(CLOCK_REALTIME, ret_born);
                return 0;
        }
        if (ret_born)
                *ret_born = born.tv_sec ? born : st.st_ctim;
        return st.st_dev == t->state_dev ? st.st_ino : 0;
}

/* ---- namespaces ------------------------------------------------------------ */

struct namespace *ns_find(struct tree *t, const char *name) REQUIRES(t)
{
        for (struct namespace *ns = t->namespaces; ns; ns = ns->next)
                if (streq(ns->name, name))
                        return ns;
        return NULL;
}

struct namespace *ns_find_settled(struct tree *t, const char *name) REQUIRES(t) NO_LOCK_ANALYSIS
{
        struct namespace *ns;
        while ((ns = ns_find(t, name)) && ns->creating)
                cond_wait(&t->created, &t->lock);
        return ns;
}

void ns_insert(struct tree *t, struct namespace *ns) REQUIRES(t)
{
        struct namespace **p = &t->namespaces;
        while (*p && strcmp((*p)->name, ns->name) < 0)
                p = &(*p)->next;
        ns->next = *p;
        *p = ns;
}

void ns_unlink(struct tree *t, struct namespace *ns) REQUIRES(t)
{
        for (struct namespace **p = &t->namespaces; *p; p = &(*p)->next)
                if (*p == ns) {
                        *p = ns->next;
                        return;
                }
}

void ns_free(struct tree *t, struct namespace *ns)
{
        if (ns->inode.slot)
                inodes_remove(t->parts.inodes, &ns->inode);
        free(ns->buckets);
        free(ns->name);
        free(ns);
}

int ns_new(struct tree *t, const char *name, struct namespace **ret, bf_error *err)
{
        struct namespace *ns = calloc(1, sizeof(*ns));
        if (!ns || !(ns->name = strdup(name))) {
                free(ns);
                return bf_error_oom(err);
        }
        ns->inode.kind = INODE_NAMESPACE;
        int r = inodes_add(t->parts.inodes, &ns->inode, err);
        if (r < 0) {
                ns_free(t, ns);
                return r;
        }
        *ret = ns;
        return 0;
}

void ns_maybe_free(struct tree *t, struct namespace *ns) REQUIRES(t)
{
        if (ns->removed && !ns->nlookup)
                ns_free(t, ns);
}

/* ---- a namespace's containers -------------------------------------------------- */

static size_t id_hash(const char *id)
{
        size_t h = 14695981039346656037ULL;     /* FNV-1a */
        for (const unsigned char *p = (const unsigned char *) id; *p; p++)
                h = (h ^ *p) * 1099511628211ULL;
        return h;
}

struct container *container_find(struct namespace *ns, const char *id)
{
        if (!ns->nbuckets) {
                /* no table (out of memory when the first was made) */
                for (struct container *c = ns->containers; c; c = c->next)
                        if (streq(c->id, id))
                                return c;
                return NULL;
        }
        for (struct container *c = ns->buckets[id_hash(id) & (ns->nbuckets - 1)]; c; c = c->hash_next)
                if (streq(c->id, id))
                        return c;
        return NULL;
}

static void hash_add(struct namespace *ns, struct container *c)
{
        if (ns->count + 1 > ns->nbuckets) {
                size_t n = ns->nbuckets ? 2 * ns->nbuckets : 16;
                struct container **b = calloc(n, sizeof(*b));
                if (b) {
                        for (size_t i = 0; i < ns->nbuckets; i++)
                                for (struct container *x = ns->buckets[i], *next; x; x = next) {
                                        next = x->hash_next;
                                        x->hash_next = b[id_hash(x->id) & (n - 1)];
                                        b[id_hash(x->id) & (n - 1)] = x;
                                }
                        free(ns->buckets);
                        ns->buckets = b;
                        ns->nbuckets = n;
                }
        }
        /* Without a larger table, chains just get longer. */
        if (!ns->nbuckets)
                return;
        struct container **slot = &ns->buckets[id_hash(c->id) & (ns->nbuckets - 1)];
        c->hash_next = *slot;
        *slot = c;
        ns->count++;
}

static void hash_remove(struct namespace *ns, struct container *c)
{
        if (!ns->nbuckets)
                return;
        for (struct container **p = &ns->buckets[id_hash(c->id) & (ns->nbuckets - 1)]; *p; p = &(*p)->hash_next)
                if (*p == c) {
                        *p = c->hash_next;
                        c->hash_next = NULL;
                        ns->count--;
                        return;
                }
}

void container_insert(struct namespace *ns, struct container *c)
{
        /* At the end: in order when loading, else sorted when next listed
         * (a mkdir walks no list, whatever the namespace's size). */
        if (ns->last && strcmp(ns->last->id, c->id) > 0)
                ns->unsorted = true;
        c->next = NULL;
        if (ns->last)
                ns->last->next = c;
        else
                ns->containers = c;
        ns->last = c;
        c->ns = ns;
        hash_add(ns, c);
}

/* The n containers of list, sorted by id (a merge sort). */
static struct container *sorted_by_id(struct container *list, size_t n)
{
        if (n < 2)
                return list;
        struct container *mid = list;
        for (size_t i = 1; i < n / 2; i++)
                mid = mid->next;
        struct container *b = sorted_by_id(mid->next, n - n / 2);
        mid->next = NULL;
        struct container *a = sorted_by_id(list, n / 2), *out = NULL, **tail = &out;
        while (a && b) {
                struct container **least = strcmp(a->id, b->id) <= 0 ? &a : &b;
                *tail = *least;
                tail = &(*least)->next;
                *least = (*least)->next;
        }
        *tail = a ? a : b;
        return out;
}

/* A namespace lists its containers sorted by id. */
static void containers_sort(struct namespace *ns)
{
        if (!ns->unsorted)
                return;
        size_t n = 0;
        for (struct container *c = ns->containers; c; c = c->next)
                n++;
        ns->containers = sorted_by_id(ns->containers, n);
        for (ns->last = ns->containers; ns->last && ns->last->next; ns->last = ns->last->next)
                ;
        ns->unsorted = false;
}

void container_unlink(struct namespace *ns, struct container *c)
{
        struct container *prev = NULL;
        for (struct container **p = &ns->containers; *p; prev = *p, p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        if (ns->last == c)
                                ns->last = prev;
                        hash_remove(ns, c);
                        return;
                }
}

/* ---- containers ------------------------------------------------------------------- */

static void container_free(struct container *c)
{
        if (!c)
                return;
        if (c->pt)
                passthrough_free(c->pt);
        bundle_free(c->bundle);
        free(c->anew);
        rootfs_unref(c->rootfs);
        if (c->inode.slot)
                inodes_remove(c->tree->parts.inodes, &c->inode);
        free(c->id);
        free(c);
}

static void container_freep(struct container **c)
{
        container_free(*c);
}

void container_discard(struct container *c)
{
        container_free(c);
}

/* A container's parts but its bundle. Its rootfs comes at its first use. */
static int container_parts(struct tree *t, const char *ns, const char *id, struct container **ret, bf_error *err)
{
        _cleanup_(container_freep) struct container *c = calloc(1, sizeof(*c));
        if (!c || !(c->id = strdup(id)))
                return bf_error_oom(err);
        c->tree = t;
        c->inode.kind = INODE_CONTAINER;
        c->persistent = persistent_id(t, ns, id, &c->born);
        int r = inodes_add(t->parts.inodes, &c->inode, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

/* A container's parts in memory: everything that can fail without memory
 * or descriptors, before anything is kept. */
int container_new(struct tree *t, const char *ns, const char *id, const char *platform,
                  const struct store_container *loaded, const struct store_log *log, struct container **ret,
                  bf_error *err)
{
        _cleanup_(container_freep) struct container *c = NULL;
        int r = container_parts(t, ns, id, &c, err);
        if (r < 0)
                return r;
        r = bundle_new(t->parts.store, t->parts.cache, t->parts.budget, ns, id, platform, loaded, log, &c->bundle,
                       err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

/* A container whose list could not be loaded: shown, with `error` saying
 * why; it can be renamed and removed. */
static int container_new_broken(struct tree *t, const char *ns, const char *id, const char *reason,
                                struct container **ret, bf_error *err)
{
        _cleanup_(container_freep) struct container *c = NULL;
        int r = container_parts(t, ns, id, &c, err);
        if (r < 0)
                return r;
        r = bundle_new_broken(t->parts.store, t->parts.cache, ns, id, platform_host(), reason, &c->bundle, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

/* Free what was removed once nobody holds it. */
void container_maybe_free(struct tree *t, struct container *c) REQUIRES(t)
{
        if (!c->removed || c->nlookup || c->holders || (c->pt && passthrough_busy(c->pt)))
                return;
        for (struct container **p = &t->removed; *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        container_free(c);
}

bool container_get(struct container *c)
{
        struct tree *t = c->tree;
        tree_lock(t);
        bool ok = !c->removed;
        if (ok)
                c->holders++;
        tree_unlock(t);
        return ok;
}

void container_put(struct container *c)
{
        struct tree *t = c->tree;
        tree_lock(t);
        c->holders--;
        container_maybe_free(t, c);
        tree_unlock(t);
}

bool container_removed(struct container *c)
{
        struct tree *t = c->tree;
        tree_lock(t);
        bool removed = c->removed;
        tree_unlock(t);
        return removed;
}

struct bundle *container_bundle(const struct container *c)
{
        return c->bundle;
}

struct rootfs *container_rootfs(const struct container *c)
{
        return __atomic_load_n(&c->rootfs, __ATOMIC_ACQUIRE);
}

int container_use_rootfs(struct tree *t, struct container *c, struct rootfs **ret) REQUIRES(t)
{
        if (c->rootfs) {
                *ret = c->rootfs;
                return 0;
        }
        if (c->removed)
                return -ENOENT;
        bf_error err = { 0 };
        _cleanup_free_ char *dir = store_rootfs_path(t->parts.store, c->ns->name, c->id);
        if (!dir)
                return -ENOMEM;
        /* mkdir made none (nor does a start make one a crash lost). */
        bool made;
        int e = store_rootfs_make(t->parts.store, c->ns->name, c->id, &made, &err);
        if (e < 0)
                return e;
        if (made)
                bundle_rootfs_made(c->bundle, c->ns->name, c->id);
        struct rootfs *r;
        e = rootfs_new(t->parts.mounts, dir, c->ns->name, c->id, &r, &err);
        if (e < 0)
                return e;
        struct passthrough *pt;
        e = passthrough_new(t->parts.passthroughs, t->parts.inodes, t->state_dev, r, c, &pt, &err);
        if (e < 0) {
                rootfs_unref(r);
                return e;
        }
        /* tree_node reads them without the lock, for requests on a rootfs
         * the kernel could only name once this look-up answered. */
        __atomic_store_n(&c->pt, pt, __ATOMIC_RELEASE);
        __atomic_store_n(&c->rootfs, r, __ATOMIC_RELEASE);
        *ret = r;
        return 0;
}

int container_unpack_begin(struct container *c, struct image_unpack *job)
{
        struct tree *t = c->tree;
        tree_lock(t);
        int r = c->removed ? -ENOENT : c->unpack ? -EBUSY : 0;
        if (r == 0)
                c->unpack = job;
        tree_unlock(t);
        return r;
}

void container_unpack_end(struct container *c)
{
        struct tree *t = c->tree;
        tree_lock(t);
        c->unpack = NULL;
        tree_unlock(t);
}

bool container_unpacking(struct container *c, void (*show)(const struct image_unpack *job, struct buf *out),
                         struct buf *out)
{
        struct tree *t = c->tree;
        tree_lock(t);
        bool busy = c->unpack != NULL;
        if (busy && show)
                show(c->unpack, out);
        tree_unlock(t);
        return busy;
}

/* ---- the tree --------------------------------------------------------------------------- */

int tree_new(const struct tree_parts *parts, struct tree **ret, bf_error *err)
{
        struct tree *t = calloc(1, sizeof(*t));
        if (!t)
                return bf_error_oom(err);
        int r = scratch_pool_new(&t->pool, err);
        if (r < 0) {
                free(t);
                return r;
        }
        mutex_init(&t->lock);
        pthread_cond_init(&t->created, NULL);
        t->parts = *parts;
        struct stat st;
        if (store_dir_stat(parts->store, NULL, NULL, &st, NULL) == 0)
                t->state_dev = st.st_dev;
        *ret = t;
        return 0;
}

void tree_free(struct tree *t) NO_LOCK_ANALYSIS
{
        if (!t)
                return;
        /* Scratch files first: they hold their containers. */
        while (t->orphans) {
                struct entry *e = t->orphans;
                t->orphans = e->next;
                entry_free(t, e);
        }
        for (struct namespace *ns = t->namespaces; ns; ns = ns->next)
                for (struct container *c = ns->containers; c; c = c->next)
                        while (c->entries) {
                                struct entry *e = c->entries;
                                c->entries = e->next;
                                entry_free(t, e);
                        }
        while (t->namespaces) {
                struct namespace *ns = t->namespaces;
                t->namespaces = ns->next;
                while (ns->containers) {
                        struct container *c = ns->containers;
                        ns->containers = c->next;
                        container_free(c);
                }
                ns_free(t, ns);
        }
        /* Removed containers the kernel never forgot (it sends no FORGET
         * at unmount) or whose open files it never released. */
        while (t->removed) {
                struct container *c = t->removed;
                t->removed = c->next;
                container_free(c);
        }
        scratch_pool_free(t->pool);
        pthread_cond_destroy(&t->created);
        mutex_destroy(&t->lock);
        free(t);
}

struct loading {
        struct tree *tree;
        void (*warn)(void *userdata, const char *msg);
        void *userdata;
};

static void load_warn_store(void *userdata, const char *msg)
{
        struct loading *l = userdata;
        if (l->warn)
                l->warn(l->userdata, msg);
}

static void load_warn(struct loading *l, const char *ns, const char *id, const char *why)
{
        char msg[BF_ERROR_MAX + 256];
        snprintf(msg, sizeof(msg), "%s/%s: its option list was not loaded (reads fail with EIO): %s", ns, id, why);
        load_warn_store(l, msg);
}

/* An unpack into the container's rootfs that a crash cut short is undone
 * before anyone sees it (rootfs_image.h). */
static void load_undo_unpack(struct loading *l, const char *ns, const char *id)
{
        _cleanup_free_ char *dir = store_rootfs_path(l->tree->parts.store, ns, id);
        char ref[256], msg[BF_ERROR_MAX + 128];
        bf_error err = { 0 };
        int r = dir ? rootfs_image_recover(dir, ref, sizeof(ref), &err) : bf_error_oom(&err);
        if (r > 0)
                snprintf(msg, sizeof(msg), "%s/%s: the unpack of %s was cut short: its rootfs was emptied", ns, id,
                         ref);
        else if (r < 0)
                snprintf(msg, sizeof(msg), "%s/%s: undoing an unpack cut short: %s", ns, id, err.msg);
        if (r != 0)
                load_warn_store(l, msg);
}

static int load_visit(void *userdata, struct store_container *sc) NO_LOCK_ANALYSIS
{
        struct loading *l = userdata;
        struct tree *t = l->tree;
        bf_error err = { 0 };
        if (!sc->id) {
                struct namespace *ns;
                int r = ns_new(t, sc->ns, &ns, &err);
                if (r == 0) {
                        ns->persistent = persistent_id(t, sc->ns, NULL, NULL);
                        ns_insert(t, ns);
                }
                return r;
        }
        struct namespace *ns = ns_find(t, sc->ns);
        if (!ns)
                return -ENOENT;
        struct container *c = NULL;
        int r = sc->error ? -sc->error : 0;
        /* Within the limits (the store checked them as it loaded). The
         * bundle takes references to the lines it keeps; the store frees
         * the rest. */
        if (r == 0 && (r = budget_take(t->parts.budget, 0, sc->footprint, &err)) == 0) {
                r = container_new(t, sc->ns, sc->id, sc->platform ? sc->platform : platform_host(), sc, &sc->log, &c,
                                  &err);
                if (r < 0)
                        budget_give(t->parts.budget, sc->footprint);
        }
        if (r < 0) {
                /* Never hidden: it exists on disk, and its name is taken. */
                const char *why = sc->error ? sc->reason : err.msg;
                char msg[BF_ERROR_MAX];
                snprintf(msg, sizeof(msg), "%s", why);
                load_warn(l, sc->ns, sc->id, msg);
                r = container_new_broken(t, sc->ns, sc->id, msg, &c, &err);
                if (r < 0)
                        return r;
        }
        container_insert(ns, c);
        load_undo_unpack(l, sc->ns, sc->id);
        return 0;
}

int tree_load(struct tree *t, void (*warn)(void *userdata, const char *msg), void *userdata, bf_error *err)
{
        struct loading l = { .tree = t, .warn = warn, .userdata = userdata };
        struct store_limits limits = {
                .list_max = budget_list_max(t->parts.budget),
                .total_max = budget_max(t->parts.budget),
        };
        return store_load(t->parts.store, &limits, load_visit, &l, load_warn_store, err);
}

/* ---- nodes -------------------------------------------------------------------------------- */

void node_of_container(struct container *c, unsigned part, struct node *ret)
{
        *ret = (struct node){
                .kind = NODE_CONTAINER,
                .ino = inode_number(&c->inode, part),
                .generation = c->inode.generation,
                .c = c,
        };
        if (part == ROOTFS_PART) {
                ret->kind = NODE_ROOTFS;
                ret->pt = (struct pt_at){ .p = __atomic_load_n(&c->pt, __ATOMIC_ACQUIRE), .node = NULL, .ino = ret->ino };
        } else if (part) {
                ret->kind = NODE_FILE;
                ret->file = file_at(part - 1);
        }
}

void node_of_ns(struct namespace *ns, struct node *ret)
{
        *ret = (struct node){
                .kind = NODE_NAMESPACE,
                .ino = inode_number(&ns->inode, 0),
                .generation = ns->inode.generation,
                .ns = ns,
        };
}

void node_of_entry(struct entry *e, struct node *ret)
{
        *ret = (struct node){
                .kind = e->alias ? NODE_FILE : NODE_SCRATCH,
                .ino = inode_number(&e->inode, 0),
                .generation = e->inode.generation,
                .c = e->c,
                .file = e->alias,
                .scratch = e->data,
        };
}

int tree_node(struct tree *t, uint64_t ino, struct node *ret)
{
        if (ino == FUSE_ROOT_ID) {
                *ret = (struct node){ .kind = NODE_ROOT, .ino = ino };
                return 0;
        }
        struct inode *o = inodes_get(t->parts.inodes, ino);
        unsigned part = inode_part(ino);
        if (!o)
                return -ESTALE;
        switch (o->kind) {
        case INODE_NAMESPACE:
                if (part)
                        return -ESTALE;
                node_of_ns((struct namespace *) o, ret);
                return 0;
        case INODE_CONTAINER:
                if ((part != ROOTFS_PART && part > files_count()) ||
                    (part == ROOTFS_PART && !((struct container *) o)->pt))
                        return -ESTALE;
                node_of_container((struct container *) o, part, ret);
                if (part == ROOTFS_PART && !ret->pt.p)
                        return -ESTALE;         /* never looked up */
                return 0;
        case INODE_PASSTHROUGH: {
                struct pt_node *n = (struct pt_node *) o;
                struct passthrough *p = pt_node_passthrough(n);
                *ret = (struct node){
                        .kind = NODE_PT,
                        .ino = ino,
                        .generation = o->generation,
                        .c = passthrough_owner(p),
                        .pt = { .p = p, .node = n, .ino = ino },
                };
                return 0;
        }
        case INODE_SCRATCH: {
                if (part)
                        return -ESTALE;
                /* alias is set once, under the tree's lock */
                tree_lock(t);
                node_of_entry((struct entry *) o, ret);
                tree_unlock(t);
                return 0;
        }
        }
        return -ESTALE;
}

static int lookup_in_container(struct tree *t, struct container *c, const char *name, const struct caller *who,
                               struct node *ret) EXCLUDES(t)
{
        const struct file_def *f = file_find(name);
        if (f && may_make_anew(t, c, f, who->pid))
                return -ENOENT;
        int r = -ENOENT;
        tree_lock(t);
        if (c->removed) {
                /* gone */
        } else if (f || streq(name, "rootfs")) {
                /* The rootfs is made at the container's first use, and
                 * its mount asked for: after a mkdir (whose reply is no
                 * look-up of the directory) that may be the look-up of a
                 * file (rootfs.image needs the rootfs, config.json's open
                 * waits for the mount). */
                struct rootfs *rootfs;
                bool first_use = !c->rootfs;
                int u = container_use_rootfs(t, c, &rootfs);
                r = f ? 0 : u;
                if (r == 0) {
                        if ((!f || first_use) && u == 0)
                                rootfs_want(rootfs);
                        c->nlookup++;
                        node_of_container(c, f ? (unsigned) file_index(f) + 1 : ROOTFS_PART, ret);
                }
        } else {
                struct entry *e = entry_find(t, c, name);
                if (e) {
                        e->nlookup++;
                        node_of_entry(e, ret);
                        r = 0;
                }
        }
        tree_unlock(t);
        return r;
}

int tree_lookup(struct tree *t, const struct node *parent, const char *name, const struct caller *who,
                struct node *ret)
{
        if (parent->kind == NODE_CONTAINER)
                return lookup_in_container(t, parent->c, name, who, ret);
        int r = -ENOENT;
        tree_lock(t);
        switch (parent->kind) {
        case NODE_ROOT: {
                struct namespace *ns = ns_find(t, name);
                if (ns) {
                        ns->nlookup++;
                        node_of_ns(ns, ret);
                        r = 0;
                }
                break;
        }
        case NODE_NAMESPACE: {
                struct container *c = parent->ns->removed ? NULL : container_find(parent->ns, name);
                if (c) {
                        /* About to be used: its mount is started now, since
                         * nothing that walks into it can wait for it. (If
                         * the rootfs cannot be had, the look-up of rootfs
                         * says why.) */
                        struct rootfs *rootfs;
                        if (container_use_rootfs(t, c, &rootfs) == 0)
                                rootfs_want(rootfs);
                        c->nlookup++;
                        node_of_container(c, 0, ret);
                        r = 0;
                }
                break;
        }
        default:
                r = -ENOTDIR;
        }
        tree_unlock(t);
        return r;
}

void tree_forget(struct tree *t, uint64_t ino, uint64_t count)
{
        if (ino == FUSE_ROOT_ID)
                return;
        struct inode *o = inodes_get(t->parts.inodes, ino);
        if (!o)
                return;
        tree_lock(t);
        switch (o->kind) {
        case INODE_NAMESPACE: {
                struct namespace *ns = (struct namespace *) o;
                ns->nlookup = ns->nlookup > count ? ns->nlookup - count : 0;
                ns_maybe_free(t, ns);
                break;
        }
        case INODE_CONTAINER: {
                struct container *c = (struct container *) o;
                c->nlookup = c->nlookup > count ? c->nlookup - count : 0;
                container_maybe_free(t, c);
                break;
        }
        case INODE_PASSTHROUGH: {
                struct container *c = passthrough_owner(pt_node_passthrough((struct pt_node *) o));
                pt_forget((struct pt_node *) o, count);
                container_maybe_free(t, c);
                break;
        }
        case INODE_SCRATCH: {
                struct entry *e = (struct entry *) o;
                e->nlookup = e->nlookup > count ? e->nlookup - count : 0;
                entry_maybe_free(t, e);
                break;
        }
        }
        tree_unlock(t);
}

/* ---- attributes ------------------------------------------------------------------------------ */

#define DIR_ATTR_TIMEOUT 1.0

static bool ts_after(struct timespec a, struct timespec b)
{
        return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

/* The number stat shows for part `part` of container c (inodes.h). */
static uint64_t container_shown(const struct container *c, unsigned part)
{
        return inode_shown(c->persistent, part, inode_number(&c->inode, part));
}

static uint64_t ns_shown(const struct namespace *ns)
{
        return inode_shown(ns->persistent, 0, inode_number(&ns->inode, 0));
}

/* What the rootfs of c shows (its real directory's number). A container
 * listed before anything used its rootfs (right after its mkdir) gets it
 * made now. */
static uint64_t rootfs_shown(struct tree *t, struct container *c) REQUIRES(t)
{
        struct rootfs *unused;
        if (!c->pt && container_use_rootfs(t, c, &unused) < 0)
                return inode_shown(0, 0, inode_number(&c->inode, ROOTFS_PART));
        struct stat st;
        struct pt_at at = { .p = c->pt, .node = NULL, .ino = inode_number(&c->inode, ROOTFS_PART) };
        return pt_stat(&at, &st) == 0 ? st.st_ino : inode_shown(0, 0, at.ino);
}

/* A directory of the state (the namespaces, or one namespace) stands for a
 * directory of the tree: its entries change together, so do its times. */
static void dir_times(struct tree *t, const char *ns, struct stat *st)
{
        struct stat real;
        if (store_dir_stat(t->parts.store, ns, NULL, &real, NULL) == 0)
                st->st_atim = st->st_mtim = st->st_ctim = real.st_mtim;
}

uint64_t tree_file_shown(const struct node *n)
{
        return container_shown(n->c, (unsigned) file_index(n->file) + 1);
}

int tree_stat(struct tree *t, const struct node *n, struct stat *st, double *ret_timeout)
{
        memset(st, 0, sizeof(*st));
        st->st_uid = t->parts.uid;
        st->st_gid = t->parts.gid;
        st->st_nlink = 1;
        st->st_blksize = 4096;
        *ret_timeout = DIR_ATTR_TIMEOUT;
        switch (n->kind) {
        case NODE_ROOT:
        case NODE_NAMESPACE:
                /* ".", "..", and each subdirectory's ".." */
                st->st_mode = S_IFDIR | 0755;
                st->st_ino = FUSE_ROOT_ID;
                tree_lock(t);
                st->st_nlink = 2;
                if (n->kind == NODE_ROOT) {
                        for (struct namespace *ns = t->namespaces; ns; ns = ns->next)
                                st->st_nlink++;
                        dir_times(t, NULL, st);
                } else {
                        st->st_ino = ns_shown(n->ns);
                        st->st_nlink += n->ns->removed ? 0 : n->ns->count;
                        dir_times(t, n->ns->name, st);
                }
                tree_unlock(t);
                return 0;
        case NODE_CONTAINER: {
                st->st_mode = S_IFDIR | 0755;
                st->st_nlink = 3;       /* and rootfs's ".." */
                st->st_ino = container_shown(n->c, 0);
                /* Its entries' last change: when it was made, or a scratch
                 * file since. (Not its files' writes: the kernel keeps a
                 * directory's attributes a while, and tar -c would see them
                 * change under it.) */
                tree_lock(t);
                struct timespec when = ts_after(n->c->entries_changed, n->c->born) ? n->c->entries_changed : n->c->born;
                tree_unlock(t);
                st->st_atim = st->st_mtim = st->st_ctim = when;
                return 0;
        }
        case NODE_ROOTFS:
        case NODE_PT:
                /* the real directory's attributes, under its stable number */
                *ret_timeout = 0;
                return pt_stat(&n->pt, st);
        case NODE_FILE: {
                st->st_mode = S_IFREG | n->file->mode;
                st->st_ino = tree_file_shown(n);
                *ret_timeout = 0;
                /* Sizes are exact: the content is generated, as a read would. */
                size_t size = 0;
                struct timespec mtime = { 0 };
                if (n->file->kind == FILE_ROOTFS_IMAGE) {
                        (void) rootfs_image_stat(n->c, &size, &mtime);
                        if (!mtime.tv_sec && !mtime.tv_nsec)
                                mtime = n->c->born;
                } else {
                        (void) bundle_stat(n->c->bundle, n->file, &size, &mtime);
                }
                st->st_size = (off_t) size;
                st->st_blocks = (st->st_size + 511) / 512;
                st->st_atim = st->st_mtim = st->st_ctim = mtime;
                return 0;
        }
        case NODE_SCRATCH:
                scratch_stat(n->scratch, st);
                st->st_ino = inode_shown(0, 0, n->ino);
                *ret_timeout = 0;
                return 0;
        }
        return -EIO;
}

int tree_setattr(struct tree *t, const struct node *n, const struct stat *attr, int to_set, const struct caller *who)
{
        if (n->kind == NODE_SCRATCH)
                return scratch_setattr(n->scratch, attr, to_set);
        /* The tree's own mode and owner stay: setting them to what they are
         * is no change (cp -p, tar -x and rsync -a restore them), anything
         * else is refused. Times follow the content, and are left as they
         * are. */
        if (!(to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)))
                return 0;
        struct stat st;
        double timeout;
        int r = tree_stat(t, n, &st, &timeout);
        if (r < 0)
                return r;
        if ((to_set & FUSE_SET_ATTR_UID) && attr->st_uid != st.st_uid)
                return -EPERM;
        if ((to_set & FUSE_SET_ATTR_GID) && attr->st_gid != st.st_gid)
                return -EPERM;
        mode_t mode = attr->st_mode & 07777, now = st.st_mode & 07777;
        if (!(to_set & FUSE_SET_ATTR_MODE) || mode == now)
                return 0;
        /* no more than it has, while the process that made it anew sets it up */
        if ((mode & ~now) == 0 && n->kind == NODE_FILE && made_anew_by(t, n->c, n->file, who))
                return 0;
        return -EPERM;
}

int tree_list(struct tree *t, const struct node *dir, tree_list_fn add, void *ctx)
{
        int r = 0;
        tree_lock(t);
        if (dir->kind == NODE_ROOT) {
                for (struct namespace *ns = t->namespaces; ns && r == 0; ns = ns->next)
                        r = add(ctx, ns->name, ns_shown(ns), S_IFDIR);
        } else if (dir->kind == NODE_NAMESPACE) {
                containers_sort(dir->ns);
                for (struct container *c = dir->ns->containers; c && r == 0; c = c->next)
                        r = add(ctx, c->id, container_shown(c, 0), S_IFDIR);
        } else if (dir->kind == NODE_CONTAINER && !dir->c->removed) {
                struct container *c = dir->c;
                for (size_t i = 0; i < files_count() && r == 0; i++)
                        r = add(ctx, file_at(i)->name, container_shown(c, (unsigned) i + 1), S_IFREG);
                if (r == 0)
                        r = add(ctx, "rootfs", rootfs_shown(t, c), S_IFDIR);
                for (struct entry *e = c->entries; e && r == 0; e = e->next)
                        r = add(ctx, e->name, inode_shown(0, 0, inode_number(&e->inode, 0)),
                                scratch_link(e->data) ? S_IFLNK : S_IFREG);
        }
        tree_unlock(t);
        return r;
}
