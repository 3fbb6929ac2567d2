/* The rootfs bind mounts (mounts.h). */
#include "mounts.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "mount_helper.h"
#include "util.h"

/* A rootfs taken off for rm -rf is mounted again once unused this long. */
#define REMOUNT_IDLE_MS 2000

enum mount_state {
        MOUNT_PENDING,      /* not made yet (the rootfs is served through FUSE) */
        MOUNT_DONE,
        MOUNT_DETACHED,     /* taken off while the container's files are unlinked (rm -rf) */
        MOUNT_FAILED,
};

struct rootfs {
        refcount refs;
        struct mounts *m;
        int fd;                                 /* O_PATH of the real directory */
        mutex lock;
        char *ns GUARDED_BY(lock);
        char *id GUARDED_BY(lock);
        enum mount_state state GUARDED_BY(lock);
        bool gone GUARDED_BY(lock);             /* the container was removed */
        bool queued GUARDED_BY(lock);
        struct timespec active GUARDED_BY(lock);   /* last use through FUSE */
        struct rootfs *queue_next GUARDED_BY(m->lock);
        struct rootfs *prev, *next GUARDED_BY(m->lock);    /* every rootfs */
};

struct mounts {
        char *mountpoint;
        mounts_log_fn log;
        void *log_userdata;
        struct mount_helper *helper;
        pthread_t thread;
        mutex lock;
        pthread_cond_t wake GUARDED_BY(lock);
        struct rootfs *queue, *queue_tail GUARDED_BY(lock);
        struct rootfs *all GUARDED_BY(lock);
        bool running GUARDED_BY(lock);
        bool stopping GUARDED_BY(lock);
};

static void logf_(struct mounts *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct mounts *m, const char *fmt, ...)
{
        if (!m->log)
                return;
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        m->log(m->log_userdata, msg);
}

static long ms_since(const struct timespec *t)
{
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* Where r is mounted: <mnt>/<ns>/<id>/rootfs. */
static int target_of(struct rootfs *r, char *out, size_t size) EXCLUDES(r->lock)
{
        mutex_lock(&r->lock);
        int n = snprintf(out, size, "%s/%s/%s/rootfs", r->m->mountpoint, r->ns, r->id);
        mutex_unlock(&r->lock);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

/* ---- each rootfs -------------------------------------------------------- */

int rootfs_new(struct mounts *m, const char *dir, const char *ns, const char *id, struct rootfs **ret,
               bf_error *err)
{
        int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && mkdir(dir, 0755) == 0)
                fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return bf_error_set(err, errno, "opening %s: %s", dir, strerror(errno));
        struct rootfs *r = calloc(1, sizeof(*r));
        char *n = strdup(ns), *i = strdup(id);
        if (!r || !n || !i) {
                close(fd);
                free(r);
                free(n);
                free(i);
                return bf_error_oom(err);
        }
        ref_init(&r->refs);
        r->m = m;
        r->fd = fd;
        mutex_init(&r->lock);
        r->ns = n;
        r->id = i;
        r->state = MOUNT_PENDING;
        clock_gettime(CLOCK_MONOTONIC, &r->active);
        mutex_lock(&m->lock);
        r->next = m->all;
        if (r->next)
                r->next->prev = r;
        m->all = r;
        mutex_unlock(&m->lock);
        *ret = r;
        return 0;
}

static struct rootfs *rootfs_ref(struct rootfs *r)
{
        ref_get(&r->refs);
        return r;
}

void rootfs_unref(struct rootfs *r) NO_LOCK_ANALYSIS
{
        if (!r || !ref_put(&r->refs))
                return;
        struct mounts *m = r->m;
        mutex_lock(&m->lock);
        if (r->prev)
                r->prev->next = r->next;
        else
                m->all = r->next;
        if (r->next)
                r->next->prev = r->prev;
        mutex_unlock(&m->lock);
        close(r->fd);
        free(r->ns);
        free(r->id);
        mutex_destroy(&r->lock);
        free(r);
}

int rootfs_fd(const struct rootfs *r)
{
        return r->fd;
}

void rootfs_touch(struct rootfs *r)
{
        mutex_lock(&r->lock);
        clock_gettime(CLOCK_MONOTONIC, &r->active);
        mutex_unlock(&r->lock);
}

int rootfs_rename(struct rootfs *r, const char *ns, const char *id, bf_error *err)
{
        char *n = strdup(ns), *i = strdup(id);
        if (!n || !i) {
                free(n);
                free(i);
                return bf_error_oom(err);
        }
        mutex_lock(&r->lock);
        free(r->ns);
        free(r->id);
        r->ns = n;
        r->id = i;
        bool failed = r->state == MOUNT_FAILED;
        mutex_unlock(&r->lock);
        if (failed)
                rootfs_queue(r);        /* it may have failed on the old name */
        return 0;
}

/* Take r's mount off; the state becomes `after`. */
static int unmount(struct rootfs *r, enum mount_state after, bf_error *err)
{
        char target[PATH_MAX];
        int e = target_of(r, target, sizeof(target));
        if (e == 0)
                e = mount_helper_unmount(r->m->helper, r->fd, target);
        if (e < 0)
                return bf_error_set(err, -e, "unmounting %s: %s", target, strerror(-e));
        mutex_lock(&r->lock);
        r->state = after;
        clock_gettime(CLOCK_MONOTONIC, &r->active);
        mutex_unlock(&r->lock);
        return 0;
}

int rootfs_detach(struct rootfs *r, bf_error *err)
{
        mutex_lock(&r->lock);
        enum mount_state st = r->state;
        mutex_unlock(&r->lock);
        if (st == MOUNT_DETACHED) {
                rootfs_touch(r);
                return 0;
        }
        if (st != MOUNT_DONE)
                return 0;
        int e = unmount(r, MOUNT_DETACHED, err);
        if (e == 0)
                rootfs_queue(r);        /* back once idle, if the container stays */
        return e;
}

void rootfs_gone(struct rootfs *r)
{
        /* A mount made by now is ours to take off; one still being made is
         * taken off by the thread making it, which sees `gone`. */
        mutex_lock(&r->lock);
        r->gone = true;
        enum mount_state st = r->state;
        mutex_unlock(&r->lock);
        bf_error err = { 0 };
        if (st == MOUNT_DONE && unmount(r, MOUNT_PENDING, &err) < 0)
                logf_(r->m, "%s", err.msg);
}

/* ---- the thread that makes mounts ----------------------------------------- */

static void mount_one(struct mounts *m, struct rootfs *r)
{
        int e = 0;
        char target[PATH_MAX];
        for (int attempt = 0; attempt < 50; attempt++) {
                if (attempt)
                        usleep(10 * 1000);      /* a rename is finishing */
                e = target_of(r, target, sizeof(target));
                if (e == 0)
                        e = mount_helper_mount(m->helper, r->fd, target);
                mutex_lock(&r->lock);
                bool gone = r->gone;
                if (e == 0)
                        r->state = gone ? MOUNT_PENDING : MOUNT_DONE;
                mutex_unlock(&r->lock);
                if (e == 0 && gone)
                        (void) mount_helper_unmount(m->helper, r->fd, target);
                if (e == 0 || gone)
                        return;
                if (e != -ENOENT)
                        break;
        }
        logf_(m, "bind-mounting the rootfs on %s: %s (it is served through FUSE)", target, strerror(-e));
        mutex_lock(&r->lock);
        r->state = MOUNT_FAILED;
        mutex_unlock(&r->lock);
}

/* A detached rootfs goes back under its mount once nobody has used it
 * through FUSE for a while (rm -rf has finished or given up). False while
 * it is still in use. */
static bool remount_if_idle(struct mounts *m, struct rootfs *r)
{
        mutex_lock(&r->lock);
        bool detached = r->state == MOUNT_DETACHED && !r->gone;
        long idle = ms_since(&r->active);
        mutex_unlock(&r->lock);
        if (!detached)
                return true;
        if (idle < REMOUNT_IDLE_MS)
                return false;
        mount_one(m, r);
        return true;
}

static void queue_push(struct mounts *m, struct rootfs *r) REQUIRES(m->lock)
{
        r->queue_next = NULL;
        if (m->queue_tail)
                m->queue_tail->queue_next = r;
        else
                m->queue = r;
        m->queue_tail = r;
}

static void *mounter(void *userdata)
{
        struct mounts *m = userdata;
        mutex_lock(&m->lock);
        for (;;) {
                while (!m->queue && !m->stopping)
                        cond_wait(&m->wake, &m->lock);
                if (m->stopping)
                        break;
                struct rootfs *r = m->queue;
                m->queue = r->queue_next;
                if (!m->queue)
                        m->queue_tail = NULL;
                mutex_unlock(&m->lock);

                mutex_lock(&r->lock);
                enum mount_state st = r->state;
                mutex_unlock(&r->lock);
                bool done = true;
                if (st == MOUNT_DETACHED)
                        done = remount_if_idle(m, r);
                else if (st != MOUNT_DONE)
                        mount_one(m, r);

                mutex_lock(&m->lock);
                if (!done) {
                        /* not idle yet: look again later, after the rest of the queue */
                        queue_push(m, r);
                        struct timespec deadline;
                        clock_gettime(CLOCK_REALTIME, &deadline);
                        deadline.tv_nsec += 200 * 1000000L;
                        if (deadline.tv_nsec >= 1000000000L) {
                                deadline.tv_sec++;
                                deadline.tv_nsec -= 1000000000L;
                        }
                        cond_timedwait(&m->wake, &m->lock, &deadline);
                        continue;
                }
                mutex_unlock(&m->lock);
                mutex_lock(&r->lock);
                r->queued = false;
                mutex_unlock(&r->lock);
                rootfs_unref(r);        /* the queue's reference */
                mutex_lock(&m->lock);
        }
        mutex_unlock(&m->lock);
        return NULL;
}

void rootfs_queue(struct rootfs *r)
{
        struct mounts *m = r->m;
        mutex_lock(&r->lock);
        bool queued = r->queued;
        r->queued = true;
        mutex_unlock(&r->lock);
        if (queued)
                return;
        mutex_lock(&m->lock);
        if (m->stopping) {
                /* nobody would mount it */
                mutex_unlock(&m->lock);
                mutex_lock(&r->lock);
                r->queued = false;
                mutex_unlock(&r->lock);
                return;
        }
        queue_push(m, rootfs_ref(r));
        pthread_cond_signal(&m->wake);
        mutex_unlock(&m->lock);
}

/* ---- all mounts ------------------------------------------------------------ */

int mounts_new(const char *mountpoint, mounts_log_fn log, void *log_userdata, struct mounts **ret,
               bf_error *err)
{
        struct mounts *m = calloc(1, sizeof(*m));
        if (!m || !(m->mountpoint = strdup(mountpoint))) {
                free(m);
                return bf_error_oom(err);
        }
        m->log = log;
        m->log_userdata = log_userdata;
        mutex_init(&m->lock);
        pthread_cond_init(&m->wake, NULL);
        *ret = m;
        return 0;
}

int mounts_start(struct mounts *m, bf_error *err)
{
        int r = mount_helper_start(&m->helper, err);
        if (r < 0)
                return r;
        mutex_lock(&m->lock);
        int e = pthread_create(&m->thread, NULL, mounter, m);
        m->running = e == 0;
        mutex_unlock(&m->lock);
        if (e != 0)
                return bf_error_set(err, e, "starting the mount thread: %s", strerror(e));
        return 0;
}

/* Every rootfs, each with a reference. */
static struct rootfs **all_rootfs(struct mounts *m, size_t *ret_n)
{
        mutex_lock(&m->lock);
        size_t n = 0;
        for (struct rootfs *r = m->all; r; r = r->next)
                n++;
        struct rootfs **all = calloc(n ? n : 1, sizeof(*all));
        size_t i = 0;
        for (struct rootfs *r = m->all; all && r; r = r->next)
                all[i++] = rootfs_ref(r);
        mutex_unlock(&m->lock);
        *ret_n = i;
        return all;
}

/* Take every mount off; `after` says what comes next. */
static void unmount_all(struct mounts *m, enum mount_state after)
{
        size_t n;
        struct rootfs **all = all_rootfs(m, &n);
        for (size_t i = 0; all && i < n; i++) {
                struct rootfs *r = all[i];
                mutex_lock(&r->lock);
                bool mounted = r->state == MOUNT_DONE;
                mutex_unlock(&r->lock);
                bf_error err = { 0 };
                if (mounted && unmount(r, after, &err) < 0)
                        logf_(m, "%s", err.msg);
                else if (mounted && after == MOUNT_DETACHED)
                        rootfs_queue(r);        /* back once idle, if the tree stays */
                rootfs_unref(r);
        }
        free(all);
}

void mounts_detach_all(struct mounts *m)
{
        unmount_all(m, MOUNT_DETACHED);
}

static void stop_thread(struct mounts *m)
{
        mutex_lock(&m->lock);
        bool running = m->running;
        m->running = false;
        m->stopping = true;
        pthread_cond_broadcast(&m->wake);
        mutex_unlock(&m->lock);
        if (running)
                pthread_join(m->thread, NULL);
        /* What is still queued loses the queue's reference (nothing is
         * queued once stopping is set). */
        mutex_lock(&m->lock);
        struct rootfs *queue = m->queue;
        m->queue = m->queue_tail = NULL;
        mutex_unlock(&m->lock);
        while (queue) {
                struct rootfs *r = queue;
                queue = r->queue_next;
                mutex_lock(&r->lock);
                r->queued = false;
                mutex_unlock(&r->lock);
                rootfs_unref(r);
        }
}

void mounts_stop(struct mounts *m)
{
        stop_thread(m);
        unmount_all(m, MOUNT_PENDING);
}

void mounts_free(struct mounts *m)
{
        if (!m)
                return;
        stop_thread(m);
        mount_helper_stop(TAKE_PTR(m->helper));
        pthread_cond_destroy(&m->wake);
        mutex_destroy(&m->lock);
        free(m->mountpoint);
        free(m);
}
