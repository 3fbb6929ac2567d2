/* Each container's rootfs is a real directory in the state directory,
 * bind-mounted onto <mnt>/<ns>/<id>/rootfs so file I/O in it is native and a
 * running container keeps its root without the daemon. Mounting walks the
 * mounted tree, so the mount helper process does it (mount_helper.h), fed by
 * a thread of its own while the session serves; until the mount is there,
 * the FUSE directory below it passes requests through to the same real
 * directory (passthrough.c). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "mount_helper.h"
#include "util.h"

/* A rootfs taken off for rm -rf is mounted again once unused this long. */
#define REMOUNT_IDLE_MS 2000

static void target_path(struct bfs *fs, const char *ns, const char *id, char *out, size_t size)
{
        snprintf(out, size, "%s/%s/%s/rootfs", fs->mountpoint, ns, id);
}

static long ms_since(const struct timespec *t)
{
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

void rootfs_touch(struct container *c)
{
        pthread_mutex_lock(&c->lock);
        clock_gettime(CLOCK_MONOTONIC, &c->rootfs_active);
        pthread_mutex_unlock(&c->lock);
}

static void mount_one(struct bfs *fs, struct container *c)
{
        for (int attempt = 0; attempt < 50; attempt++) {
                if (attempt)
                        usleep(10 * 1000);      /* a rename is finishing */
                struct snapshot s;
                if (container_snapshot(fs, c, &s) < 0)
                        break;
                char target[PATH_MAX];
                target_path(fs, s.ns, s.id, target, sizeof(target));
                int r = mount_helper_mount(fs->helper, c->rootfs_fd, target);
                pthread_mutex_lock(&c->lock);
                /* rmdir may have come while mounting: it left the mount to us. */
                bool removed = c->gone;
                if (r == 0)
                        c->mount = removed ? MOUNT_PENDING : MOUNT_DONE;
                pthread_mutex_unlock(&c->lock);
                if (r == 0) {
                        if (removed)
                                (void) mount_helper_unmount(fs->helper, c->rootfs_fd, target);
                        snapshot_done(&s);
                        return;
                }
                /* Renamed while mounting: look again. */
                if (removed || r != -ENOENT || attempt == 49) {
                        if (!removed)
                                bfs_log(fs, LOG_ERR, "bind-mounting %s on %s: %s (its rootfs is served "
                                                     "through FUSE)", s.rootfs, target, strerror(-r));
                        snapshot_done(&s);
                        break;
                }
                snapshot_done(&s);
        }
        pthread_mutex_lock(&c->lock);
        c->mount = MOUNT_FAILED;
        pthread_mutex_unlock(&c->lock);
}

/* A detached rootfs goes back under its bind mount once nobody has used it
 * through FUSE for a while (rm -rf has finished or given up). Returns true
 * if the container was mounted or no longer needs it. */
static bool remount_if_idle(struct bfs *fs, struct container *c)
{
        pthread_mutex_lock(&c->lock);
        bool detached = c->mount == MOUNT_DETACHED;
        long idle = ms_since(&c->rootfs_active);
        bool removed = c->gone;
        pthread_mutex_unlock(&c->lock);
        if (!detached || removed)
                return true;
        if (idle < REMOUNT_IDLE_MS)
                return false;
        mount_one(fs, c);
        return true;
}

/* Append c to the mounter's queue (mount_lock held). */
static void queue_push(struct bfs *fs, struct container *c)
{
        c->mount_next = NULL;
        if (fs->mount_queue_tail)
                fs->mount_queue_tail->mount_next = c;
        else
                fs->mount_queue = c;
        fs->mount_queue_tail = c;
}

static void *mounter(void *userdata)
{
        struct bfs *fs = userdata;
        pthread_mutex_lock(&fs->mount_lock);
        for (;;) {
                while (!fs->mount_queue && !fs->stopping)
                        pthread_cond_wait(&fs->mount_wake, &fs->mount_lock);
                if (fs->stopping)
                        break;
                struct container *c = fs->mount_queue;
                fs->mount_queue = c->mount_next;
                if (!fs->mount_queue)
                        fs->mount_queue_tail = NULL;
                c->mount_next = NULL;
                pthread_mutex_unlock(&fs->mount_lock);

                pthread_mutex_lock(&c->lock);
                enum mount_state st = c->mount;
                pthread_mutex_unlock(&c->lock);
                bool done = true;
                if (st == MOUNT_DETACHED)
                        done = remount_if_idle(fs, c);
                else
                        mount_one(fs, c);

                pthread_mutex_lock(&fs->mount_lock);
                if (!done) {
                        /* not idle yet: look again later, after the rest of the queue */
                        queue_push(fs, c);
                        struct timespec deadline;
                        clock_gettime(CLOCK_REALTIME, &deadline);
                        deadline.tv_nsec += 200 * 1000000L;
                        if (deadline.tv_nsec >= 1000000000L) {
                                deadline.tv_sec++;
                                deadline.tv_nsec -= 1000000000L;
                        }
                        pthread_cond_timedwait(&fs->mount_wake, &fs->mount_lock, &deadline);
                        continue;
                }
                pthread_mutex_unlock(&fs->mount_lock);
                pthread_mutex_lock(&c->lock);
                c->mount_queued = false;
                pthread_mutex_unlock(&c->lock);
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
        if (fs->stopping) {
                /* (a request served while the daemon stops): nobody would mount it */
                pthread_mutex_unlock(&fs->mount_lock);
                pthread_mutex_lock(&c->lock);
                c->mount_queued = false;
                pthread_mutex_unlock(&c->lock);
                container_put(fs, c);
                return;
        }
        queue_push(fs, c);
        pthread_cond_signal(&fs->mount_wake);
        pthread_mutex_unlock(&fs->mount_lock);
}

int mounter_start(struct bfs *fs, bf_error *err)
{
        /* Under the lock: the signal thread may stop the mounter at any time. */
        pthread_mutex_lock(&fs->mount_lock);
        int r = pthread_create(&fs->mounter, NULL, mounter, fs);
        fs->mounter_running = r == 0;
        pthread_mutex_unlock(&fs->mount_lock);
        if (r != 0)
                return bf_error_set(err, r, "starting the mount thread: %s", strerror(r));
        return 0;
}

void mounter_stop(struct bfs *fs)
{
        pthread_mutex_lock(&fs->mount_lock);
        bool running = fs->mounter_running;
        fs->mounter_running = false;
        fs->stopping = true;
        pthread_cond_broadcast(&fs->mount_wake);
        pthread_mutex_unlock(&fs->mount_lock);
        if (running)
                pthread_join(fs->mounter, NULL);
        /* Whatever is still queued loses the queue's reference. Requests are
         * still served while the daemon stops, so the queue is taken under the
         * lock (mount_queue adds nothing once stopping is set). */
        pthread_mutex_lock(&fs->mount_lock);
        struct container *queue = fs->mount_queue;
        fs->mount_queue = fs->mount_queue_tail = NULL;
        pthread_mutex_unlock(&fs->mount_lock);
        while (queue) {
                struct container *c = queue;
                queue = c->mount_next;
                c->mount_next = NULL;
                pthread_mutex_lock(&c->lock);
                c->mount_queued = false;
                pthread_mutex_unlock(&c->lock);
                container_put(fs, c);
        }
}

int rootfs_unmount(struct bfs *fs, struct container *c, const char *ns, const char *id, enum mount_state after,
                   bf_error *err)
{
        char target[PATH_MAX];
        target_path(fs, ns, id, target, sizeof(target));
        int r = mount_helper_unmount(fs->helper, c->rootfs_fd, target);
        if (r < 0)
                return bf_error_set(err, -r, "unmounting %s: %s", target, strerror(-r));
        pthread_mutex_lock(&c->lock);
        c->mount = after;
        clock_gettime(CLOCK_MONOTONIC, &c->rootfs_active);
        pthread_mutex_unlock(&c->lock);
        return 0;
}
