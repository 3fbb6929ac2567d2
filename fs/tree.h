/* The tree: namespaces, their containers and each container's files, what
 * the kernel's inode numbers name, their attributes, and the life of it all
 * (mkdir, rmdir, rename, unlink, and scratch files made in a container).
 * Each change is all-or-nothing, on disk (core/store.h) and in memory. A
 * container is made of its bundle (bundle.h: the spec side), its rootfs
 * (mounts.h), the nodes the kernel holds below that rootfs
 * (passthrough.h) and its scratch files (scratch.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "error.h"
#include "lock.h"
#include "passthrough.h"

struct budget;
struct buf;
struct bundle;
struct cache;
struct container;
struct file_def;
struct image_unpack;
struct inodes;
struct mounts;
struct namespace;
struct openfiles;
struct passthroughs;
struct rootfs;
struct scratch;
struct store;

/* The tree's lock guards its namespaces and their containers' membership. */
struct CAPABILITY("mutex") tree;

struct tree_parts {
        struct store *store;
        struct cache *cache;
        struct mounts *mounts;
        struct passthroughs *passthroughs;
        struct inodes *inodes;
        struct budget *budget;
        struct openfiles *files;        /* commits of scratch files renamed onto a container's files */
        uid_t uid;              /* owner of everything shown */
        gid_t gid;
};

/* Who a request comes from (FUSE's context). */
struct caller {
        pid_t pid;              /* its thread */
        uid_t uid;
        gid_t gid;
};

int tree_new(const struct tree_parts *parts, struct tree **ret, bf_error *err);
/* Load every namespace and container from the store. A container whose
 * list cannot be loaded is in the tree all the same: `error` says why, and
 * reads of its other files fail with EIO (warn says so too). */
int tree_load(struct tree *t, void (*warn)(void *userdata, const char *msg), void *userdata, bf_error *err);
void tree_free(struct tree *t);

enum node_kind {
        NODE_ROOT,
        NODE_NAMESPACE,
        NODE_CONTAINER,
        NODE_FILE,
        NODE_ROOTFS,        /* <id>/rootfs itself: served by passthrough when not mounted */
        NODE_PT,            /* below a rootfs served by passthrough */
        NODE_SCRATCH,       /* a scratch file in a container directory */
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
        struct scratch *scratch;        /* SCRATCH: valid while the kernel holds the node */
};

/* The node of an inode number the kernel holds (-ESTALE: none). */
int tree_node(struct tree *t, uint64_t ino, struct node *ret);
/* The entry name in directory parent, with one more kernel reference on
 * it (-ENOENT: none). Not for directories served by passthrough. Looking
 * up a container or its rootfs asks for the rootfs's mount (mounts.h). A
 * container's file looks absent to an exclusive create (O_CREAT|O_EXCL)
 * that may make it anew: from a process that unlinked it, or made the
 * container, shortly before (lifecycle.c). */
int tree_lookup(struct tree *t, const struct node *parent, const char *name, const struct caller *who,
                struct node *ret);
/* The kernel dropped count references to ino. */
void tree_forget(struct tree *t, uint64_t ino, uint64_t count);
/* Attributes, and how long the kernel may keep them. Changes nothing
 * anyone can see. st_ino is the stable number (inodes.h); mtime and ctime
 * are when the content last changed (atime too). */
int tree_stat(struct tree *t, const struct node *n, struct stat *ret, double *ret_timeout);
/* The number stat shows for n, a container's file (what the kernel names
 * it by, in /proc/<pid>/fdinfo too). */
uint64_t tree_file_shown(const struct node *n);
/* chmod, chown and utimes (FUSE_SET_ATTR_* bits of to_set): a scratch
 * file takes them, and a size; the tree's own files and directories keep
 * theirs, so a mode or owner other than the current one is refused (EPERM)
 * and times are accepted and left as they are (a size is the caller's:
 * openfile_truncate). The process that just made a file anew sets it up as
 * any new file of its own (install makes it 0600 while it copies): a mode
 * that takes permissions away is accepted then, and the file keeps its
 * own. */
int tree_setattr(struct tree *t, const struct node *n, const struct stat *attr, int to_set, const struct caller *who);
/* Every entry of a directory (not "." and ".."), in order. */
typedef int (*tree_list_fn)(void *ctx, const char *name, uint64_t ino, mode_t type);
int tree_list(struct tree *t, const struct node *dir, tree_list_fn add, void *ctx);

/* mkdir of a namespace or a container (ret: the new directory, with a
 * kernel reference). */
int tree_mkdir(struct tree *t, const struct node *parent, const char *name, const struct caller *who,
               struct node *ret);
/* rmdir of a namespace, a container (its rootfs must be empty) or of a
 * container's unmounted rootfs (rm -rf). */
int tree_rmdir(struct tree *t, const struct node *parent, const char *name);
/* unlink of a container's file: accepted, nothing changes (rm -rf), but
 * the caller may create it anew right after; of a scratch file: it goes. */
int tree_unlink(struct tree *t, const struct node *parent, const char *name, const struct caller *who);
/* rename of a namespace or container; in a container directory, of a
 * scratch file: onto a control file, opts or platform it commits its
 * content as one change (refused: both stay), onto config.json or error
 * EACCES. A container's own files cannot move (EXDEV: tools copy). */
int tree_rename(struct tree *t, const struct node *parent, const char *name, const struct node *newparent,
                const char *newname, unsigned flags, const struct caller *who);
/* create(2) in a container directory (ret: with a kernel reference): a new
 * scratch file, *ret_scratch a reference for the open file; or one of the
 * container's files made anew (tree_lookup), *ret_scratch NULL: the caller
 * opens it as a new, empty file. */
int tree_create(struct tree *t, const struct node *parent, const char *name, mode_t mode, const struct caller *who,
                struct node *ret, struct scratch **ret_scratch);
/* symlink(2) in a container directory: a scratch symbolic link. */
int tree_symlink(struct tree *t, const struct node *parent, const char *name, const char *target,
                 const struct caller *who, struct node *ret);

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
