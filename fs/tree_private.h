/* The tree module's own: its structures, shared by tree.c (the tree and
 * its nodes) and lifecycle.c (mkdir, rmdir, rename, unlink). Nothing
 * outside fs/tree*.c and fs/lifecycle.c includes this. */
#pragma once

#include "inodes.h"
#include "tree.h"

struct image_unpack;
struct optline;
struct store_container;
struct store_log;

#define ROOTFS_PART (INO_PARTS - 1)

struct namespace {
        struct inode inode;             /* INODE_NAMESPACE */
        char *name;
        struct namespace *next;         /* sorted by name */
        /* Its containers: a list sorted by id (for readdir) and a hash
         * table by id (for look-ups), so that neither a look-up nor loading
         * a large namespace in order walks the list. */
        struct container *containers, *last;
        struct container **buckets;     /* nbuckets is a power of two */
        size_t nbuckets;
        size_t count;
        bool removed;
        uint64_t nlookup;               /* the kernel's references */
};

struct container {
        struct inode inode;             /* INODE_CONTAINER: part 0 its directory, 1 + i file i, ROOTFS_PART its rootfs */
        struct tree *tree;
        struct namespace *ns;
        char *id;
        struct container *next;         /* in ns's list; once removed, in the tree's removed list */
        struct container *hash_next;
        bool removed;
        uint64_t nlookup;               /* the kernel's references to its directory, files and rootfs */
        unsigned holders;               /* open files */
        struct bundle *bundle;
        /* Made at the first use (container_use_rootfs) and then kept;
         * set under the tree's lock, read atomically. */
        struct rootfs *rootfs;
        struct passthrough *pt;
        struct image_unpack *unpack;    /* an image being unpacked into its rootfs, or NULL */
};

/* Everything here is guarded by the tree's lock, and nothing else is
 * taken while it is held but a bundle's, a rootfs's or a passthrough's
 * own lock (DEVELOPERS.md, "Locks"). */
struct CAPABILITY("mutex") tree {
        mutex lock;
        struct tree_parts parts;
        struct namespace *namespaces;
        struct container *removed;      /* removed, still known to the kernel or open */
};

static inline void tree_lock(struct tree *t) ACQUIRE(t) NO_LOCK_ANALYSIS
{
        mutex_lock(&t->lock);
}

static inline void tree_unlock(struct tree *t) RELEASE(t) NO_LOCK_ANALYSIS
{
        mutex_unlock(&t->lock);
}

struct namespace *ns_find(struct tree *t, const char *name) REQUIRES(t);
void ns_insert(struct tree *t, struct namespace *ns) REQUIRES(t);
void ns_unlink(struct tree *t, struct namespace *ns) REQUIRES(t);
int ns_new(struct tree *t, const char *name, struct namespace **ret, bf_error *err);
void ns_free(struct tree *t, struct namespace *ns);
/* Free a removed namespace once the kernel forgot it. */
void ns_maybe_free(struct tree *t, struct namespace *ns) REQUIRES(t);

struct container *container_find(struct namespace *ns, const char *id);
void container_insert(struct namespace *ns, struct container *c);
void container_unlink(struct namespace *ns, struct container *c);
/* A container's parts in memory (the log becomes its bundle's). */
int container_new(struct tree *t, const char *ns, const char *id, const char *platform,
                  const struct store_container *loaded, const struct store_log *log, struct container **ret,
                  bf_error *err);
/* Free a removed container once nobody holds it. */
void container_maybe_free(struct tree *t, struct container *c) REQUIRES(t);
/* Its rootfs and passthrough, made now if this is the first use. */
int container_use_rootfs(struct tree *t, struct container *c, struct rootfs **ret) REQUIRES(t);

/* The node of a container's part (0: its directory, 1 + i: file i,
 * ROOTFS_PART: its rootfs), and of a namespace. */
void node_of_container(struct container *c, unsigned part, struct node *ret);
void node_of_ns(struct namespace *ns, struct node *ret);
