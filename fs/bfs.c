/* Creating, starting and stopping a filesystem instance. */
#include <fcntl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "internal.h"
#include "mount_helper.h"
#include "util.h"

void bfs_log(struct bfs *fs, int priority, const char *fmt, ...)
{
        if (!fs->log)
                return;
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        fs->log(priority, msg);
}

static void load_warn(void *userdata, const char *msg)
{
        bfs_log(userdata, LOG_WARNING, "%s", msg);
}

static int load_visit(void *userdata, struct store_container *sc)
{
        struct bfs *fs = userdata;
        if (!sc->id) {
                struct namespace *ns = ns_new(sc->ns);
                if (!ns)
                        return -ENOMEM;
                ns_insert(fs, ns);
                return 0;
        }
        struct namespace *ns = ns_find(fs, sc->ns);
        if (!ns)
                return -ENOENT;
        errno = 0;
        struct container *c =
                container_new(fs, ns, sc->id, sc->platform, sc->lines, sc->nlines, sc->log);
        if (!c)
                return errno ? -errno : -ENOMEM;        /* EMFILE, say: the reason is logged */
        container_insert(ns, c);
        /* The container holds its own references now. */
        free(sc->platform);
        optline_free_all(sc->lines, sc->nlines);
        return 0;
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

int bfs_new(const char *state_dir, const char *mountpoint, bfs_log_fn log, struct bfs **ret, bf_error *err)
{
        int r = file_defs_init(err);
        if (r < 0)
                return r;
        struct bfs *fs = calloc(1, sizeof(*fs));
        if (!fs)
                return bf_error_set(err, ENOMEM, "out of memory");
        fs->log = log;
        fs->uid = getuid();
        fs->gid = getgid();
        fs->root = (struct node){ .kind = NODE_ROOT };
        pthread_mutex_init(&fs->tree_lock, NULL);
        pthread_mutex_init(&fs->mount_lock, NULL);
        pthread_mutex_init(&fs->cache_lock, NULL);
        fs->cache_max = BFS_CACHE_SIZE_DEFAULT;
        pthread_cond_init(&fs->mount_wake, NULL);
        fs->mountpoint = realpath(mountpoint, NULL);
        if (!fs->mountpoint) {
                int e = errno;
                free(fs);
                return bf_error_set(err, e, "mount point %s: %s", mountpoint, strerror(e));
        }
        r = state_dir_check(state_dir, err);
        if (r == 0)
                r = store_open(state_dir, &fs->store, err);
        if (r == 0)
                r = store_load(&fs->store, load_visit, fs, load_warn, err);
        if (r < 0) {
                bfs_free(fs);
                return r;
        }
        *ret = fs;
        return 0;
}

void bfs_free(struct bfs *fs)
{
        if (!fs)
                return;
        mounter_stop(fs);
        mount_helper_stop(TAKE_PTR(fs->helper));
        handles_free_all(fs);
        struct namespace *ns = fs->namespaces;
        while (ns) {
                struct namespace *next = ns->next;
                struct container *c = ns->containers;
                while (c) {
                        struct container *cn = c->next;
                        container_free(c);
                        c = cn;
                }
                ns_free(ns);
                ns = next;
        }
        /* Removed containers the kernel never forgot (it sends no FORGET at
         * unmount). */
        while (fs->removed) {
                struct container *c = fs->removed;
                fs->removed = c->next;
                container_free(c);
        }
        if (fs->store.path)
                store_close(&fs->store);
        pthread_mutex_destroy(&fs->tree_lock);
        pthread_mutex_destroy(&fs->mount_lock);
        pthread_mutex_destroy(&fs->cache_lock);
        pthread_cond_destroy(&fs->mount_wake);
        free(fs->mountpoint);
        free(fs);
}

/* Every container, each with a reference the caller drops with container_put. */
static struct container **all_containers(struct bfs *fs, size_t *ret_n)
{
        pthread_mutex_lock(&fs->tree_lock);
        size_t n = 0;
        for (struct namespace *ns = fs->namespaces; ns; ns = ns->next)
                for (struct container *c = ns->containers; c; c = c->next)
                        n++;
        struct container **all = calloc(n ? n : 1, sizeof(*all));
        size_t i = 0;
        for (struct namespace *ns = fs->namespaces; all && ns; ns = ns->next)
                for (struct container *c = ns->containers; c; c = c->next) {
                        c->open_handles++;
                        all[i++] = c;
                }
        pthread_mutex_unlock(&fs->tree_lock);
        *ret_n = i;
        return all;
}

int bfs_start(struct bfs *fs, bf_error *err)
{
        int r = mount_helper_start(&fs->helper, err);
        if (r == 0)
                r = mounter_start(fs, err);
        if (r < 0)
                return r;
        size_t n;
        struct container **all = all_containers(fs, &n);
        if (!all)
                return bf_error_set(err, ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                mount_queue(fs, all[i]);
                container_put(fs, all[i]);
        }
        free(all);
        return 0;
}

/* Take off every rootfs bind mount; `after` says what comes next. */
static void unmount_all(struct bfs *fs, enum mount_state after)
{
        size_t n;
        struct container **all = all_containers(fs, &n);
        for (size_t i = 0; all && i < n; i++) {
                struct container *c = all[i];
                pthread_mutex_lock(&c->lock);
                bool mounted = c->mount == MOUNT_DONE;
                char *ns = strdup(c->ns_name), *id = strdup(c->id);
                pthread_mutex_unlock(&c->lock);
                bf_error err = { 0 };
                /* Walking to each rootfs is served by the session, still running. */
                if (mounted && ns && id) {
                        if (rootfs_unmount(fs, c, ns, id, after, &err) < 0)
                                bfs_log(fs, LOG_WARNING, "%s", err.msg);
                        else if (after == MOUNT_DETACHED)
                                mount_queue(fs, c);     /* back once idle, if the tree stays */
                }
                free(ns);
                free(id);
                container_put(fs, c);
        }
        free(all);
}

void bfs_stop(struct bfs *fs)
{
        mounter_stop(fs);
        unmount_all(fs, MOUNT_PENDING);
}

void bfs_detach_all(struct bfs *fs)
{
        unmount_all(fs, MOUNT_DETACHED);
}
