/* The tree: namespaces, their containers and each container's files, what
 * the kernel's inode numbers name, and the life of it all (mkdir, rmdir,
 * rename, unlink). Each change is all-or-nothing, on disk (core/store.h)
 * and in memory. A container is made of its bundle (bundle.h: the spec
 * side), its rootfs (mounts.h) and the nodes the kernel holds below that
 * rootfs (passthrough.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "error.h"
#include "lock.h"
#include "passthrough.h"

struct buf;
struct bundle;
struct cache;
struct container;
struct file_def;
struct image_unpack;
struct inodes;
struct mounts;
struct namespace;
struct passthroughs;
struct rootfs;
struct store;

/* The tree's lock guards its namespaces and their containers' membership. */
struct CAPABILITY("mutex") tree;

struct tree_parts {
        struct store *store;
        struct cache *cache;
        struct mounts *mounts;
        struct passthroughs *passthroughs;
        struct inodes *inodes;
        uid_t uid;              /* owner of everything shown */
        gid_t gid;
};

int tree_new(const struct tree_parts *parts, struct tree **ret, bf_error *err);
/* Load every namespace and container from the store; a container that
 * cannot be loaded is reported through warn and left on disk. */
int tree_load(struct tree *t, void (*warn)(void *userdata, const char *msg), void *userdata, bf_error *err);
void tree_free(struct tree *t);

enum node_kind {
        NODE_ROOT,
        NODE_NAMESPACE,
        NODE_CONTAINER,
        NODE_FILE,
        NODE_ROOTFS,        /* <id>/rootfs itself: served by passthrough when not mounted */
        NODE_PT,            /* below a rootfs served by passthrough */
};

/* What an inode number names. */
struct node {
        enum node_kind kind;
        uint64_t ino;
        uint64_t generation;
        struct namespace *ns;           /* NAMESPACE */
        struct container *c;            /* CONTAINER, FILE, ROOTFS, PT */
        const struct file_def *file;    /* FILE */
        struct pt_at pt;                /* ROOTFS, PT */
};

/* The node of an inode number the kernel holds (-ESTALE: none). */
int tree_node(struct tree *t, uint64_t ino, struct node *ret);
/* The entry name in directory parent, with one more kernel reference on
 * it (-ENOENT: none). Not for directories served by passthrough. Looking
 * up a container or its rootfs asks for the rootfs's mount (mounts.h). */
int tree_lookup(struct tree *t, const struct node *parent, const char *name, struct node *ret);
/* The kernel dropped count references to ino. */
void tree_forget(struct tree *t, uint64_t ino, uint64_t count);
/* Attributes, and how long the kernel may keep them. Changes nothing
 * anyone can see. */
int tree_stat(struct tree *t, const struct node *n, struct stat *ret, double *ret_timeout);
/* Every entry of a directory (not "." and ".."), in order. */
typedef int (*tree_list_fn)(void *ctx, const char *name, uint64_t ino, mode_t type);
int tree_list(struct tree *t, const struct node *dir, tree_list_fn add, void *ctx);

/* mkdir of a namespace or a container (ret: the new directory, with a
 * kernel reference). */
int tree_mkdir(struct tree *t, const struct node *parent, const char *name, struct node *ret);
/* rmdir of a namespace, a container (its rootfs must be empty) or of a
 * container's unmounted rootfs (rm -rf). */
int tree_rmdir(struct tree *t, const struct node *parent, const char *name);
/* unlink of a container's file: accepted, nothing changes (rm -rf). */
int tree_unlink(struct tree *t, const struct node *parent, const char *name);
int tree_rename(struct tree *t, const struct node *parent, const char *name, const struct node *newparent,
                const char *newname, unsigned flags);

/* A container stays while someone holds it (an open file). False: it was
 * removed, nothing taken. */
bool container_get(struct container *c);
void container_put(struct container *c);
bool container_removed(struct container *c);
struct bundle *container_bundle(const struct container *c);
/* Its rootfs, NULL until its first use made it. */
struct rootfs *container_rootfs(const struct container *c);

/* An image being unpacked into c's rootfs (rootfs_image.h), one at a time:
 * meanwhile rmdir and rename of c, or of its namespace, fail with EBUSY.
 * -EBUSY when one is already, -ENOENT once c was removed. */
int container_unpack_begin(struct container *c, struct image_unpack *job);
void container_unpack_end(struct container *c);
/* Is an image being unpacked into c's rootfs? If so and show is given,
 * show(job, out) is called with the tree's lock held: it may take no lock. */
bool container_unpacking(struct container *c, void (*show)(const struct image_unpack *job, struct buf *out),
                         struct buf *out);
