/* Each container's rootfs is a real directory in the state directory,
 * bind-mounted onto <mnt>/<ns>/<id>/rootfs so file I/O in it is native and a
 * running container keeps its root without the daemon. Mounting walks the
 * mounted tree, so it runs in its own thread while the session serves. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "util.h"

#define MOUNT_WAIT_SECONDS 10

static void target_path(struct bfs *fs, const char *ns, const char *id, char *out, size_t size)
{
        snprintf(out, size, "%s/%s/%s/rootfs", fs->mountpoint, ns, id);
}

/* Is the bind mount of this rootfs what the path shows? */
static bool is_mounted(const char *source, const char *target)
{
        struct stat a, b;
        return stat(source, &a) == 0 && stat(target, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void set_state(struct container *c, enum mount_state st)
{
        pthread_mutex_lock(&c->lock);
        c->mount = st;
        c->mount_queued = false;
        pthread_cond_broadcast(&c->mount_cond);
        pthread_mutex_unlock(&c->lock);
}

static void mount_one(struct bfs *fs, struct container *c)
{
        for (int attempt = 0; attempt < 5; attempt++) {
                struct snapshot s;
                if (container_snapshot(fs, c, &s) < 0)
                        break;
                char target[PATH_MAX];
                target_path(fs, s.ns, s.id, target, sizeof(target));
                int r = 0;
                if (!is_mounted(s.rootfs, target))
                        r = mount(s.rootfs, target, NULL, MS_BIND, NULL) < 0 ? -errno : 0;
                if (r == 0) {
                        snapshot_done(&s);
                        set_state(c, MOUNT_DONE);
                        return;
                }
                /* Renamed or removed while mounting: look again. */
                bool removed;
                pthread_mutex_lock(&fs->tree_lock);
                removed = c->removed;
                pthread_mutex_unlock(&fs->tree_lock);
                if (removed || r != -ENOENT) {
                        if (!removed)
                                bfs_log(fs, LOG_ERR, "bind-mounting %s on %s: %s", s.rootfs, target, strerror(-r));
                        snapshot_done(&s);
                        break;
                }
                snapshot_done(&s);
        }
        set_state(c, MOUNT_FAILED);
}

static void *mounter(void *userdata)
{
        struct bfs *fs = userdata;
        fs->mounter_tid = gettid();
        pthread_mutex_lock(&fs->mount_lock);
        for (;;) {
                while (!fs->mount_queue && !fs->stopping)
                        pthread_cond_wait(&fs->mount_wake, &fs->mount_lock);
                if (fs->stopping)
                        break;
                struct container *c = fs->mount_queue;
                fs->mount_queue = c->mount_next;
                c->mount_next = NULL;
                pthread_mutex_unlock(&fs->mount_lock);
                mount_one(fs, c);
                container_put(fs, c);   /* the queue's reference */
                pthread_mutex_lock(&fs->mount_lock);
        }
        pthread_mutex_unlock(&fs->mount_lock);
        return NULL;
}

void mount_queue(struct bfs *fs, struct container *c)
{
        pthread_mutex_lock(&c->lock);
        bool queued = c->mount_queued;
        c->mount_queued = true;
        pthread_mutex_unlock(&c->lock);
        if (queued)
                return;
        /* The queue keeps the container alive like an open file would. */
        pthread_mutex_lock(&fs->tree_lock);
        c->open_handles++;
        pthread_mutex_unlock(&fs->tree_lock);
        pthread_mutex_lock(&fs->mount_lock);
        struct container **p = &fs->mount_queue;
        while (*p)
                p = &(*p)->mount_next;
        *p = c;
        pthread_cond_signal(&fs->mount_wake);
        pthread_mutex_unlock(&fs->mount_lock);
}

void mount_wait(struct container *c)
{
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += MOUNT_WAIT_SECONDS;
        pthread_mutex_lock(&c->lock);
        while (c->mount == MOUNT_PENDING)
                if (pthread_cond_timedwait(&c->mount_cond, &c->lock, &deadline) == ETIMEDOUT)
                        break;
        pthread_mutex_unlock(&c->lock);
}

int mounter_start(struct bfs *fs, bf_error *err)
{
        int r = pthread_create(&fs->mounter, NULL, mounter, fs);
        if (r != 0)
                return bf_error_set(err, r, "starting the mount thread: %s", strerror(r));
        fs->mounter_running = true;
        return 0;
}

void mounter_stop(struct bfs *fs)
{
        if (!fs->mounter_running)
                return;
        pthread_mutex_lock(&fs->mount_lock);
        fs->stopping = true;
        pthread_cond_broadcast(&fs->mount_wake);
        pthread_mutex_unlock(&fs->mount_lock);
        pthread_join(fs->mounter, NULL);
        fs->mounter_running = false;
}

int rootfs_unmount(struct bfs *fs, struct container *c, const char *ns, const char *id, bf_error *err)
{
        char target[PATH_MAX];
        target_path(fs, ns, id, target, sizeof(target));
        char *source = store_rootfs_path(&fs->store, ns, id);
        bool ours = source && is_mounted(source, target);
        free(source);
        int r = 0;
        if (ours && umount2(target, UMOUNT_NOFOLLOW) < 0) {
                /* A running container (or a shell inside) holds it: detach lazily. */
                if (errno != EBUSY || umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
                        r = bf_error_set(err, errno, "unmounting %s: %s", target, strerror(errno));
        }
        if (r == 0)
                set_state(c, MOUNT_PENDING);
        return r;
}
