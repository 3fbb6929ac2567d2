/* Internal structures of the filesystem layer. */
#pragma once

#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "bfs.h"
#include "buf.h"
#include "optline.h"
#include "spec.h"
#include "store.h"

/* ---- immutable option lists ---------------------------------------------- */

/* A version of a container's option list; shared by readers, never changed.
 * Versions share one array of lines: appending to the newest version fills
 * the array's spare room (no reader looks past its own n), so an append
 * costs O(lines appended), not O(list length). */
struct optarray;

struct optlist {
        int refs;
        size_t n;
        struct optline **lines;         /* the array's first n */
        struct optarray *arr;
        size_t bytes;                   /* of the list as opts shows it */
};

struct optlist *optlist_new(struct optline *const *lines, size_t n, struct optline *const *more, size_t nmore);
/* cur's first `base` lines and then more: in place when base is all of cur
 * and cur's array has room past it, else a copy. */
struct optlist *optlist_extend(struct optlist *cur, size_t base, struct optline *const *more, size_t nmore);
struct optlist *optlist_ref(struct optlist *l);
void optlist_unref(struct optlist *l);

/* ---- nodes ---------------------------------------------------------------- */

enum node_kind {
        NODE_ROOT,
        NODE_NAMESPACE,
        NODE_CONTAINER,
        NODE_FILE,
        NODE_ROOTFS,        /* <id>/rootfs itself: passthrough to the real directory */
        NODE_PT,            /* a file below an unmounted rootfs (passthrough.c) */
};

struct namespace;
struct container;
struct file_def;

struct node {
        enum node_kind kind;
        uint64_t nlookup;               /* the kernel's references (tree lock) */
        struct namespace *ns;           /* NAMESPACE */
        struct container *c;            /* CONTAINER, FILE, ROOTFS */
        const struct file_def *file;    /* FILE */
};

/* ---- the tree ------------------------------------------------------------- */

enum mount_state {
        MOUNT_PENDING,      /* bind mount not made yet (the rootfs is served by passthrough) */
        MOUNT_DONE,
        MOUNT_DETACHED,     /* taken off while the container's files are unlinked (rm -rf) */
        MOUNT_FAILED,
};

struct pt_node;
struct deps;

/* A container's built spec, kept so the next write can apply its lines to
 * it instead of replaying the list (the container's write_lock). */
struct live {
        arena a;
        struct spec spec;
        struct deps *deps;              /* what building it read */
        uint64_t version;               /* of the list it was built from */
        size_t compact_at;              /* arena footprint at which to build afresh */
};

/* A config.json as rendered for a version of the list, shared by readers
 * (fs->cache_lock guards the container's pointer to it). */
struct rendered {
        int refs;
        uint64_t version;
        struct deps *deps;
        size_t len;
        char data[];
};

struct container {
        struct bfs *fs;
        /* tree lock */
        struct namespace *ns;
        struct container *next;         /* in ns->containers, sorted by id; once removed, in fs->removed */
        struct container *hash_next;    /* in ns->buckets */
        bool removed;
        unsigned open_handles;
        struct pt_node *pt_nodes;       /* passthrough nodes the kernel holds */
        int rootfs_fd;                  /* O_PATH of the real rootfs directory */

        /* Writers take write_lock for the whole check-and-keep, so the list
         * cannot change under a check; renders never hold a lock, since an
         * option may read this very container's files through the mount. */
        pthread_mutex_t write_lock;
        pthread_mutex_t lock;           /* everything below, held briefly */
        pthread_cond_t mount_cond;
        char *id;                       /* also under the tree lock for writers */
        char *ns_name;
        struct optlist *list;
        uint64_t version;               /* counts changes of list */
        char *platform;
        struct store_log log;
        char *error;                    /* NULL: none (most containers never have one) */
        bool error_from_read;           /* set by a failed read, cleared by a good one */
        struct timespec mtime;
        enum mount_state mount;
        bool gone;                      /* removed: a mount made now is taken off again */
        bool mount_queued;
        struct timespec rootfs_active;  /* last passthrough use, to mount again once idle */
        struct container *mount_next;   /* in the mounter's queue (fs->mount_lock) */

        struct live *live;              /* write_lock */
        /* fs->cache_lock */
        struct rendered *rendered;
        size_t cache_bytes;             /* what live and rendered hold */
        bool in_lru;
        struct container *lru_prev, *lru_next;

        struct node dir;
        struct node rootfs;
        struct node *files;             /* one per file_defs entry */
};

struct namespace {
        char *name;
        struct namespace *next;         /* sorted by name */
        struct container *containers;   /* sorted by id */
        struct container *last;
        struct container **buckets;     /* by id; nbuckets is a power of two */
        size_t nbuckets;
        size_t count;
        bool removed;
        struct node node;
};

struct bfs {
        struct store store;
        char *mountpoint;
        bfs_log_fn log;
        uid_t uid;
        gid_t gid;

        pthread_mutex_t tree_lock;
        struct namespace *namespaces;
        struct node root;
        struct container *removed;      /* removed, still known to the kernel (by next) */
        /* Open control, opts and config.json files (ops.c), under the tree
         * lock: a release the kernel still had queued when the session
         * ended never comes, so bfs_free frees what is left. */
        struct handle *handles;

        /* The cached renderings (live and rendered) of all containers, least
         * recently used last, within cache_max bytes. */
        pthread_mutex_t cache_lock;
        struct container *lru_head, *lru_tail;
        size_t cache_bytes;
        size_t cache_max;

        /* Log descriptors held open between writes (atomic): beyond
         * LOG_FDS_MAX a log is opened for each write, so the number of
         * containers is not bound by the open-file limit. */
        unsigned log_fds;

        struct mount_helper *helper;    /* makes the bind mounts (mount_helper.h) */
        pthread_mutex_t mount_lock;
        pthread_cond_t mount_wake;
        struct container *mount_queue;
        struct container *mount_queue_tail;
        pthread_t mounter;
        bool mounter_running;
        bool stopping;
};

void bfs_log(struct bfs *fs, int priority, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Free the open files the kernel never released (ops.c; at the end only). */
void handles_free_all(struct bfs *fs);

/* ---- files of a container -------------------------------------------------- */

enum file_kind {
        FILE_CONFIG,        /* config.json */
        FILE_OPTS,
        FILE_PLATFORM,
        FILE_ERROR,
        FILE_CONTROL,       /* sugar over opts (core/ctl.h) */
};

struct ctl;

struct file_def {
        const char *name;
        enum file_kind kind;
        mode_t mode;
        const struct ctl *ctl;          /* FILE_CONTROL */
};

/* Every file of a container directory (files.c): set up by
 * file_defs_init, once, before anything else uses them. */
extern const struct file_def *file_defs;
extern size_t file_defs_count;
int file_defs_init(bf_error *err);
const struct file_def *file_def_find(const char *name);

#define LOG_FDS_MAX 1024

#define CONTROL_VALUE_MAX (64 * 1024)
#define OPTS_WRITE_MAX (1024 * 1024)
#define OPTS_LINES_MAX 100000

/* ---- the tree (tree.c; callers hold fs->tree_lock) ---------------------------- */

struct namespace *ns_find(struct bfs *fs, const char *name);
struct container *container_find(struct namespace *ns, const char *id);
void ns_insert(struct bfs *fs, struct namespace *ns);
void ns_unlink(struct bfs *fs, struct namespace *ns);
void container_insert(struct namespace *ns, struct container *c);
void container_unlink(struct namespace *ns, struct container *c);
struct namespace *ns_new(const char *name);
void ns_free(struct namespace *ns);
/* Free what is gone from the tree once the kernel holds no reference. */
void maybe_free_container(struct container *c);
void maybe_free_ns(struct namespace *ns);
void node_forget(struct node *n, uint64_t count);
/* Drop a reference taken with open_handles++ (takes the tree lock). */
void container_put(struct bfs *fs, struct container *c);

/* ---- the render cache (cache.c) --------------------------------------------- */

struct rendered *rendered_new(uint64_t version, const buf *json, struct deps *deps);
struct rendered *rendered_ref(struct rendered *rd);
void rendered_unref(struct rendered *rd);
void live_free(struct live *l);
/* c's rendered config.json for version, if cached (a reference). */
struct rendered *cache_get(struct bfs *fs, struct container *c, uint64_t version);
/* Keep rd as c's rendered config.json unless c has moved past its version. */
void cache_put(struct bfs *fs, struct container *c, struct rendered *rd);
/* c's cached state changed size (the caller holds c->write_lock): account
 * for it and evict the least recently used over the budget. */
void cache_update(struct bfs *fs, struct container *c);
/* c is being freed: drop what it has cached. */
void cache_forget(struct bfs *fs, struct container *c);

/* ---- container operations (container.c) ------------------------------------ */

struct container *container_new(struct bfs *fs, struct namespace *ns, const char *id, const char *platform,
                                struct optline **lines, size_t nlines, struct store_log log);
void container_free(struct container *c);

/* Everything a rendering needs, taken under the container lock. */
struct snapshot {
        struct optlist *list;
        uint64_t version;               /* counts changes of list */
        char *platform;
        char *ns;
        char *id;
        char *rootfs;
};
int container_snapshot(struct bfs *fs, struct container *c, struct snapshot *ret);
void snapshot_done(struct snapshot *s);

/* The content a read of file f shows now (rendering as needed). On failure
 * the container's error file says why. */
int container_read(struct bfs *fs, struct container *c, const struct file_def *f, buf *out, bf_error *err);
/* The size such a read returns, without building the content where it is
 * known (opts, a cached config.json). */
int container_size(struct bfs *fs, struct container *c, const struct file_def *f, size_t *ret, bf_error *err);

/* The option lines an open control file has kept, so that later writes to
 * the same open file (a shell writes line by line) replace them: one value,
 * one option line. */
struct value_state {
        bool kept;
        uint64_t version;       /* the list version right after they were kept */
        size_t start;           /* index of their first line */
};

/* Check lines against the list and keep them durably: the write path of
 * opts (append; vs NULL) and of every control file. No lines: accepted,
 * nothing kept. */
int container_append(struct bfs *fs, struct container *c, struct optline *const *lines, size_t n,
                     struct value_state *vs, bf_error *err);
/* Check a whole new list and replace the old one atomically. */
int container_replace(struct bfs *fs, struct container *c, struct optline **lines, size_t n, bf_error *err);
/* Check that lines render after `base` (NULL: the empty list), for the
 * staged list of an opts file opened with O_TRUNC. */
int container_check(struct bfs *fs, struct container *c, struct optline *const *base, size_t nbase,
                    struct optline *const *more, size_t nmore, bf_error *err);
int container_set_platform(struct bfs *fs, struct container *c, const char *value, size_t len, bf_error *err);
/* Record why a write was refused (one line in `error`). */
void container_refuse(struct container *c, const bf_error *err);


/* ---- the rootfs through FUSE (passthrough.c) -------------------------------- */

bool node_is_pt(const struct node *n);
int pt_stat(const struct node *n, struct stat *st);
void pt_forget(struct node *n, uint64_t count);     /* tree lock held */
void pt_free_all(struct container *c);              /* tree lock held */
void pt_lookup(fuse_req_t req, struct bfs *fs, struct node *parent, const char *name);
void pt_getattr(fuse_req_t req, struct node *n);
void pt_setattr(fuse_req_t req, struct node *n, struct stat *attr, int to_set, struct fuse_file_info *fi);
void pt_readlink(fuse_req_t req, struct node *n);
void pt_mknod(fuse_req_t req, struct bfs *fs, struct node *parent, const char *name, mode_t mode, dev_t rdev);
void pt_mkdir(fuse_req_t req, struct bfs *fs, struct node *parent, const char *name, mode_t mode);
void pt_symlink(fuse_req_t req, struct bfs *fs, const char *link, struct node *parent, const char *name);
void pt_link(fuse_req_t req, struct bfs *fs, struct node *n, struct node *newparent, const char *newname);
void pt_unlink(fuse_req_t req, struct node *parent, const char *name, bool dir);
void pt_rename(fuse_req_t req, struct node *parent, const char *name, struct node *newparent, const char *newname,
               unsigned flags);
void pt_open(fuse_req_t req, struct node *n, struct fuse_file_info *fi);
void pt_create(fuse_req_t req, struct bfs *fs, struct node *parent, const char *name, mode_t mode,
               struct fuse_file_info *fi);
void pt_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi);
void pt_write(fuse_req_t req, const char *data, size_t size, off_t off, struct fuse_file_info *fi);
void pt_flush(fuse_req_t req, struct fuse_file_info *fi);
void pt_release(fuse_req_t req, struct fuse_file_info *fi);
void pt_fsync(fuse_req_t req, int datasync, struct fuse_file_info *fi);
void pt_opendir(fuse_req_t req, struct node *n, struct fuse_file_info *fi);
void pt_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi);
void pt_releasedir(fuse_req_t req, struct fuse_file_info *fi);
void pt_statfs(fuse_req_t req, struct node *n);
void pt_getxattr(fuse_req_t req, struct node *n, const char *name, size_t size);
void pt_listxattr(fuse_req_t req, struct node *n, size_t size);
void pt_setxattr(fuse_req_t req, struct node *n, const char *name, const char *value, size_t size, int flags);
void pt_removexattr(fuse_req_t req, struct node *n, const char *name);

/* ---- mounts (mounts.c) ------------------------------------------------------ */

void mount_queue(struct bfs *fs, struct container *c);
int mounter_start(struct bfs *fs, bf_error *err);
void mounter_stop(struct bfs *fs);
/* Detach the rootfs bind mount of c (lazily: a running container may hold it);
 * the state becomes `after` (MOUNT_PENDING when the container goes away,
 * MOUNT_DETACHED to mount again once the rootfs is idle). */
int rootfs_unmount(struct bfs *fs, struct container *c, const char *ns, const char *id, enum mount_state after,
                   bf_error *err);
/* Take every rootfs bind mount off (for an unmount of the tree). */
void bfs_detach_all(struct bfs *fs);
/* The rootfs was used through FUSE just now (keeps a detached rootfs unmounted). */
void rootfs_touch(struct container *c);
