/* The tree module's own: its structures, shared by tree.c (the tree and
 * its nodes) and lifecycle.c (mkdir, rmdir, rename, unlink). Nothing
 * outside fs/tree*.c and fs/lifecycle.c includes this. */
#pragma once

#include <pthread.h>
#include <time.h>

#include "caller.h"
#include "inodes.h"
#include "tree.h"

struct image_unpack;
struct optline;
struct store_container;
struct scratch;
struct store_log;

#define ROOTFS_PART (INO_PARTS - 1)

/* How long after a process removed one of a container's files, or made
 * the container, its exclusive create of that file makes it anew. */
#define CREATE_ANEW_SECONDS 60
/* Removals (and makings) remembered for that in one container; the oldest
 * go first. */
#define ANEW_MAX 32

/* A scratch file's place in the tree (scratch.h holds its bytes). */
struct entry {
        struct inode inode;             /* INODE_SCRATCH */
        struct container *c;            /* held (holders) while the entry lives */
        char *name;                     /* NULL once unlinked or renamed away */
        struct entry *next;             /* in c's entries while named, else in the tree's orphans */
        struct scratch *data;
        uint64_t nlookup;               /* the kernel's references */
        /* Renamed onto this file of c: the kernel's node for the name now
         * (its dentry moved with the rename), standing for the file. */
        const struct file_def *alias;
};

struct namespace {
        struct inode inode;             /* INODE_NAMESPACE */
        uint64_t persistent;            /* its state directory's inode number (inodes.h), 0: none */
        char *name;
        struct namespace *next;         /* sorted by name */
        /* Its containers: a list (for readdir, sorted by id unless
         * `unsorted`: made since the last listing) and a hash table by id
         * (for look-ups), so that neither a look-up nor a mkdir nor loading
         * walks the list. */
        struct container *containers, *last;
        bool unsorted;
        struct container **buckets;     /* nbuckets is a power of two */
        size_t nbuckets;
        size_t count;
        /* mkdirs of containers under way in it, with the tree's lock let
         * go (lifecycle.c): it is neither renamed nor removed meanwhile. */
        unsigned creating;
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
        uint64_t persistent;            /* its state directory's inode number (inodes.h), 0: none */
        struct timespec born;           /* its state directory's birth */
        struct image_unpack *unpack;    /* an image being unpacked into its rootfs, or NULL */
        struct entry *entries;          /* its scratch files, by name */
        unsigned nentries;
        struct timespec entries_changed;        /* a scratch file made, removed or renamed (0: none yet) */
        /* The process that made it with mkdir, until `until` (monotonic):
         * its exclusive creates of the container's files make them anew
         * (cp -r, tar -x into a new container), once each (`made`). */
        struct proc_id creator;
        struct timespec creator_until;
        uint64_t made;
        struct anew *anew;              /* ANEW_MAX of them, made at the first unlink */
};

/* A process removed one of a container's files (unlink): until `until`
 * (monotonic), its exclusive create of that name makes the file anew
 * (tar -x, install, mv across file systems, git checkout). Once it did
 * (`made`, also for the container's maker), it may narrow the file's mode
 * as a new file's (tree_setattr). */
struct anew {
        struct proc_id who;             /* tgid 0: a free place */
        unsigned file;                  /* file_index */
        struct timespec until;
        bool made;
};

/* Everything here is guarded by the tree's lock, and nothing else is
 * taken while it is held but a bundle's, a rootfs's or a passthrough's
 * own lock (DEVELOPERS.md, "Locks"). */
struct CAPABILITY("mutex") tree {
        mutex lock;
        pthread_cond_t created;         /* a namespace's `creating` went down */
        struct tree_parts parts;
        dev_t state_dev;                /* inode numbers from there are persistent ids */
        struct scratch_pool *pool;
        struct namespace *namespaces;
        struct container *removed;      /* removed, still known to the kernel or open */
        struct entry *orphans;          /* scratch files with no name, still known to the kernel */
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
/* ns_find, once no mkdir is under way in that namespace (the lock is let
 * go while it waits). */
struct namespace *ns_find_settled(struct tree *t, const char *name) REQUIRES(t);
void ns_insert(struct tree *t, struct namespace *ns) REQUIRES(t);
void ns_unlink(struct tree *t, struct namespace *ns) REQUIRES(t);
int ns_new(struct tree *t, const char *name, struct namespace **ret, bf_error *err);
void ns_free(struct tree *t, struct namespace *ns);
/* Free a removed namespace once the kernel forgot it. */
void ns_maybe_free(struct tree *t, struct namespace *ns) REQUIRES(t);

struct container *container_find(struct namespace *ns, const char *id);
void container_insert(struct namespace *ns, struct container *c);
void container_unlink(struct namespace *ns, struct container *c);
/* A container's parts in memory (the log becomes its bundle's; the
 * lines' footprint is taken from the budget already). */
int container_new(struct tree *t, const char *ns, const char *id, const char *platform,
                  const struct store_container *loaded, const struct store_log *log, struct container **ret,
                  bf_error *err);
/* Free a container made by container_new that never joined the tree. */
void container_discard(struct container *c);
/* Free a removed container once nobody holds it. */
void container_maybe_free(struct tree *t, struct container *c) REQUIRES(t);
/* Its rootfs and passthrough, made now if this is the first use. */
int container_use_rootfs(struct tree *t, struct container *c, struct rootfs **ret) REQUIRES(t);

/* The node of a container's part (0: its directory, 1 + i: file i,
 * ROOTFS_PART: its rootfs), of a namespace, and of a scratch file. */
void node_of_container(struct container *c, unsigned part, struct node *ret);
void node_of_ns(struct namespace *ns, struct node *ret);
void node_of_entry(struct entry *e, struct node *ret);

/* The persistent id of the state directory of namespace ns or container
 * ns/id (inodes.h): its inode number there, or 0; and (ret_born, if not
 * NULL) when it was made (its ctime where the file system does not say). */
uint64_t persistent_id(struct tree *t, const char *ns, const char *id, struct timespec *ret_born);

/* Scratch files (lifecycle.c). */
struct entry *entry_find(struct tree *t, struct container *c, const char *name) REQUIRES(t);
/* The entry no longer has a name (unlinked, or renamed away): freed once
 * the kernel forgets it. */
void entry_unname(struct tree *t, struct entry *e) REQUIRES(t);
/* Free an entry with no name once the kernel forgot it. */
void entry_maybe_free(struct tree *t, struct entry *e) REQUIRES(t);
void entry_free(struct tree *t, struct entry *e);
/* May the caller's exclusive create make file f of c anew (a removal of
 * it, or c's making, by its process shortly before)? (Reads /proc: no lock
 * held.) */
bool may_make_anew(struct tree *t, struct container *c, const struct file_def *f, pid_t pid) EXCLUDES(t);
/* Did the process who make file f of c anew, shortly before? (Reads /proc.) */
bool made_anew_by(struct tree *t, struct container *c, const struct file_def *f, const struct caller *who) EXCLUDES(t);
