/* Creating, starting and stopping a filesystem instance (bfs.h). */
#include "bfs.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <syslog.h>
#include <unistd.h>

#include "budget.h"
#include "cache.h"
#include "files.h"
#include "handles.h"
#include "inodes.h"
#include "mounts.h"
#include "openfile.h"
#include "ops.h"
#include "passthrough.h"
#include "rootfs_image.h"
#include "store.h"
#include "tree.h"
#include "util.h"

struct bfs {
        bfs_log_fn log;
        char *mountpoint;       /* real path */
        struct store *store;
        struct budget *budget;
        struct cache *cache;
        struct inodes *inodes;
        struct handles *handles;
        struct mounts *mounts;
        struct passthroughs *passthroughs;
        struct tree *tree;
        struct openfiles *files;
        struct image_unpacks *unpacks;
        struct ops_ctx ops;
};

static void log_at(struct bfs *fs, int priority, const char *msg)
{
        if (fs->log)
                fs->log(priority, msg);
}

static void log_warning(void *userdata, const char *msg)
{
        log_at(userdata, LOG_WARNING, msg);
}

static void log_error(void *userdata, const char *msg)
{
        log_at(userdata, LOG_ERR, msg);
}

/* The state directory holds every root filesystem (setuid programs and
 * device nodes included) and the files the daemon writes as root: an
 * existing one must belong to the daemon's user and be closed to everyone
 * else. Another owner could swap its files for symlinks the daemon would
 * follow; a looser mode would let anyone reach into root filesystems past
 * the tree. Such a directory is refused, not repaired: the path may name
 * something else than what was meant (a typo for /etc is not to be
 * chmod'ed). A missing directory is created 0700 by store_open. */
static int state_dir_check(const char *path, bf_error *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return 0;       /* missing: made by store_open, which also reports other errors */
        if (st.st_uid != geteuid())
                return bf_error_set(err, EPERM, "state directory %s belongs to uid %u, not to uid %u that runs bundlefs",
                                    path, (unsigned) st.st_uid, (unsigned) geteuid());
        if (st.st_mode & 077)
                return bf_error_set(err, EPERM, "state directory %s has mode %04o: others may reach into it; "
                                    "make it 0700 (chmod 0700 %s)", path, (unsigned) (st.st_mode & 07777), path);
        return 0;
}

static void bfs_freep(struct bfs **fs)
{
        bfs_free(*fs);
}

int bfs_new(const char *state_dir, const char *mountpoint, size_t max_memory, bfs_log_fn log, struct bfs **ret,
            bf_error *err)
{
        _cleanup_(bfs_freep) struct bfs *fs = calloc(1, sizeof(*fs));
        if (!fs)
                return bf_error_oom(err);
        fs->log = log;
        char *mnt = fs->mountpoint = realpath(mountpoint, NULL);
        if (!mnt)
                return bf_error_set(err, errno, "mount point %s: %s", mountpoint, strerror(errno));
        int r = files_init(err);
        if (r < 0)
                return r;
        r = state_dir_check(state_dir, err);
        if (r < 0)
                return r;
        r = store_open(state_dir, &fs->store, err);
        if (r < 0)
                return r;
        r = budget_new(max_memory, &fs->budget, err);
        if (r < 0)
                return r;
        r = cache_new(BFS_CACHE_SIZE_DEFAULT, &fs->cache, err);
        if (r < 0)
                return r;
        r = inodes_new(&fs->inodes, err);
        if (r < 0)
                return r;
        r = handles_new(&fs->handles, err);
        if (r < 0)
                return r;
        r = mounts_new(mnt, fs->handles, log_error, fs, &fs->mounts, err);
        if (r < 0)
                return r;
        struct rlimit nofile = { 0 };
        (void) getrlimit(RLIMIT_NOFILE, &nofile);
        r = passthroughs_new(fs->handles, getuid(), (unsigned long) nofile.rlim_cur, &fs->passthroughs, err);
        if (r < 0)
                return r;
        r = openfiles_new(getuid(), &fs->files, err);
        if (r < 0)
                return r;
        r = image_unpacks_new(getuid(), &fs->unpacks, err);
        if (r < 0)
                return r;
        struct tree_parts parts = {
                .store = fs->store,
                .cache = fs->cache,
                .mounts = fs->mounts,
                .passthroughs = fs->passthroughs,
                .inodes = fs->inodes,
                .budget = fs->budget,
                .files = fs->files,
                .uid = getuid(),
                .gid = getgid(),
        };
        r = tree_new(&parts, &fs->tree, err);
        if (r < 0)
                return r;
        r = tree_load(fs->tree, log_warning, fs, err);
        if (r < 0)
                return r;
        struct open_dirs *dirs;
        r = open_dirs_new(&dirs);
        if (r < 0)
                return bf_error_oom(err);
        fs->ops = (struct ops_ctx){ .tree = fs->tree, .files = fs->files, .mounts = fs->mounts, .store = fs->store,
                                    .unpacks = fs->unpacks, .dirs = dirs };
        *ret = TAKE_PTR(fs);
        return 0;
}

void bfs_free(struct bfs *fs)
{
        if (!fs)
                return;
        image_unpacks_free(fs->unpacks);        /* before the containers they hold */
        if (fs->mounts)
                mounts_stop(fs->mounts);
        openfiles_free(fs->files);      /* those the kernel never released */
        open_dirs_free(fs->ops.dirs);
        tree_free(fs->tree);
        mounts_free(fs->mounts);
        passthroughs_free(fs->passthroughs);
        handles_free(fs->handles);
        inodes_free(fs->inodes);
        cache_free(fs->cache);
        budget_free(fs->budget);
        store_close(fs->store);
        free(fs->mountpoint);
        free(fs);
}

void bfs_set_cache_size(struct bfs *fs, size_t bytes)
{
        cache_set_max(fs->cache, bytes);
}

struct fuse_session *bfs_session_new(struct bfs *fs, struct fuse_args *args)
{
        return fuse_session_new(args, ops_table(), sizeof(struct fuse_lowlevel_ops), &fs->ops);
}

int bfs_start(struct bfs *fs, bf_error *err)
{
        int r = openfiles_start(fs->files, fs->mountpoint, err);
        if (r < 0)
                return r;
        return mounts_start(fs->mounts, err);
}

void bfs_stop(struct bfs *fs)
{
        /* An unpack is cancelled (its rootfs left empty) and its write
         * answered before the mounts go. */
        image_unpacks_stop(fs->unpacks);
        mounts_stop(fs->mounts);
}
