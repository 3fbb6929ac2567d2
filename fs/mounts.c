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

#include "handles.h"
#include "lock.h"
#include "mount_helper.h"
#include "util.h"

enum mount_state {
        MOUNT_IDLE,         /* not mounted: made at the next use */
        MOUNT_QUEUED,       /* wanted: queued, or being made */
        MOUNT_DONE,
        MOUNT_OFF,          /* taken off (rm -rf, umount) or failed: made again at a use once idle a while */
};

struct rootfs {
        refcount refs;
        struct mounts *m;
        /* The real directory: its handle, or where its filesystem has
         * none, an O_PATH descriptor (fd; -1 otherwise). */
        struct fhandle *handle;
        int fd;
        dev_t dev;
        ino_t ino;
        /* The rest is guarded by m->lock. */
        char *ns;
        char *id;
        enum mount_state state;
        bool gone;                      /* the container was removed */
        bool detach;                    /* rm -rf came while it was being made: take it off once made */
        bool in_queue;
        struct timespec active;         /* last use through FUSE, or when it was taken off */
        struct timespec made;           /* when the mount was made */
        struct rootfs *qprev, *qnext;   /* in the queue */
        struct rootfs *prev, *next;     /* every rootfs */
};

/* A request waiting for a mount (rootfs_after_mount). */
struct waiter {
        struct rootfs *r;
        rootfs_done_fn done;
        void *arg;
        bool mounted;                   /* set when it is taken off the list */
        struct timespec deadline;       /* CLOCK_MONOTONIC */
        struct waiter *next;
};

/* A thread told to walk again into a new mount (rootfs_walk_again). The
 * rootfs is only compared, never followed. */
struct walked {
        const struct rootfs *r;
        int tid;
        struct timespec when;
};

#define WALKED_KEPT 64

struct mounts {
        char *mountpoint;
        struct handles *handles;
        mounts_log_fn log;
        void *log_userdata;
        struct mount_helper *helper;
        pthread_t mounter, timer;
        mutex lock;
        pthread_cond_t wake GUARDED_BY(lock);           /* the mounter: the queue changed */
        pthread_cond_t waits GUARDED_BY(lock);          /* the timer: the waiters changed (CLOCK_MONOTONIC) */
        struct rootfs *qhead, *qtail GUARDED_BY(lock);  /* wanted; those waited for first */
        struct rootfs *all GUARDED_BY(lock);
        struct waiter *waiters, *waiters_tail GUARDED_BY(lock);        /* in order of deadline */
        struct walked walked[WALKED_KEPT] GUARDED_BY(lock);    /* a ring */
        unsigned walked_next GUARDED_BY(lock);
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

static struct timespec now_mono(void)
{
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return t;
}

static long ms_since(const struct timespec *t)
{
        struct timespec now = now_mono();
        return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static bool passed(const struct timespec *deadline, const struct timespec *now)
{
        return now->tv_sec > deadline->tv_sec || (now->tv_sec == deadline->tv_sec && now->tv_nsec >= deadline->tv_nsec);
}

/* Where r is mounted: <mnt>/<ns>/<id>/rootfs. */
static int target_of(struct rootfs *r, char *out, size_t size) EXCLUDES(r->m->lock)
{
        mutex_lock(&r->m->lock);
        int n = snprintf(out, size, "%s/%s/%s/rootfs", r->m->mountpoint, r->ns, r->id);
        mutex_unlock(&r->m->lock);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

static struct rootfs *rootfs_ref(struct rootfs *r)
{
        ref_get(&r->refs);
        return r;
}

/* ---- the queue ---------------------------------------------------------------- */

static void queue_remove(struct mounts *m, struct rootfs *r) REQUIRES(m->lock)
{
        if (r->qprev)
                r->qprev->qnext = r->qnext;
        else
                m->qhead = r->qnext;
        if (r->qnext)
                r->qnext->qprev = r->qprev;
        else
                m->qtail = r->qprev;
        r->qprev = r->qnext = NULL;
        r->in_queue = false;
}

static void queue_add(struct mounts *m, struct rootfs *r, bool first) REQUIRES(m->lock)
{
        r->in_queue = true;
        if (first) {
                r->qprev = NULL;
                r->qnext = m->qhead;
                if (m->qhead)
                        m->qhead->qprev = r;
                else
                        m->qtail = r;
                m->qhead = r;
        } else {
                r->qnext = NULL;
                r->qprev = m->qtail;
                if (m->qtail)
                        m->qtail->qnext = r;
                else
                        m->qhead = r;
                m->qtail = r;
        }
        pthread_cond_signal(&m->wake);
}

/* ---- waiting requests ---------------------------------------------------------- */

/* Take off the list the waiters for r (NULL: every one), or those whose
 * deadline passed (now not NULL), noting whether their mount is there. */
static struct waiter *waiters_take(struct mounts *m, struct rootfs *r, const struct timespec *now)
        REQUIRES(m->lock)
{
        struct waiter *taken = NULL, **tail = &taken, *prev = NULL;
        for (struct waiter *w = m->waiters, *next; w; w = next) {
                next = w->next;
                if (now && !passed(&w->deadline, now))
                        break;  /* in order of deadline */
                if (r && w->r != r) {
                        prev = w;
                        continue;
                }
                if (prev)
                        prev->next = next;
                else
                        m->waiters = next;
                if (m->waiters_tail == w)
                        m->waiters_tail = prev;
                w->mounted = w->r->state == MOUNT_DONE;
                w->next = NULL;
                *tail = w;
                tail = &w->next;
        }
        return taken;
}

/* Answer them (no lock held). */
static void waiters_answer(struct waiter *w)
{
        while (w) {
                struct waiter *next = w->next;
                w->done(w->arg, w->mounted);
                rootfs_unref(w->r);
                free(w);
                w = next;
        }
}

/* r's mount was made, or failed, or will not be: answer who waits for it. */
static void finished(struct mounts *m, struct rootfs *r) EXCLUDES(m->lock)
{
        mutex_lock(&m->lock);
        struct waiter *w = waiters_take(m, r, NULL);
        mutex_unlock(&m->lock);
        waiters_answer(w);
}

bool rootfs_after_mount(struct rootfs *r, rootfs_done_fn done, void *arg)
{
        struct mounts *m = r->m;
        struct waiter *w = malloc(sizeof(*w));
        if (!w)
                return false;   /* answered now, without the mount */
        mutex_lock(&m->lock);
        if (r->state != MOUNT_QUEUED || m->stopping) {
                /* Decided under the lock: a mount made since the caller
                 * last asked is answered as made, never as missing. */
                bool made = r->state == MOUNT_DONE && !m->stopping;
                mutex_unlock(&m->lock);
                free(w);
                if (made)
                        done(arg, true);
                return made;
        }
        struct timespec deadline = now_mono();
        deadline.tv_sec += ROOTFS_WAIT_MS / 1000;
        deadline.tv_nsec += (ROOTFS_WAIT_MS % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
                deadline.tv_sec++;
                deadline.tv_nsec -= 1000000000L;
        }
        *w = (struct waiter){ .r = rootfs_ref(r), .done = done, .arg = arg, .deadline = deadline };
        if (m->waiters_tail)
                m->waiters_tail->next = w;
        else
                m->waiters = w;
        m->waiters_tail = w;
        if (m->waiters == w)
                pthread_cond_signal(&m->waits);
        /* Someone waits for this one: it goes first. */
        if (r->in_queue) {
                queue_remove(m, r);
                queue_add(m, r, true);
        }
        mutex_unlock(&m->lock);
        return true;
}

bool rootfs_walk_again(struct rootfs *r, int tid)
{
        struct mounts *m = r->m;
        mutex_lock(&m->lock);
        bool again = r->state == MOUNT_DONE && ms_since(&r->made) < ROOTFS_WAIT_MS;
        for (unsigned i = 0; again && i < WALKED_KEPT; i++) {
                const struct walked *w = &m->walked[i];
                again = !(w->r == r && w->tid == tid && ms_since(&w->when) < 2 * ROOTFS_WAIT_MS);
        }
        if (again) {
                m->walked[m->walked_next] = (struct walked){ .r = r, .tid = tid, .when = now_mono() };
                m->walked_next = (m->walked_next + 1) % WALKED_KEPT;
        }
        mutex_unlock(&m->lock);
        return again;
}

/* Ends the waits that last too long. */
static void *timer_main(void *userdata)
{
        struct mounts *m = userdata;
        mutex_lock(&m->lock);
        while (!m->stopping) {
                if (!m->waiters) {
                        cond_wait(&m->waits, &m->lock);
                        continue;
                }
                struct timespec now = now_mono();
                struct waiter *late = waiters_take(m, NULL, &now);
                if (!late) {
                        struct timespec deadline = m->waiters->deadline;
                        cond_timedwait(&m->waits, &m->lock, &deadline);
                        continue;
                }
                mutex_unlock(&m->lock);
                waiters_answer(late);
                mutex_lock(&m->lock);
        }
        mutex_unlock(&m->lock);
        return NULL;
}

/* ---- each rootfs -------------------------------------------------------------- */

int rootfs_new(struct mounts *m, const char *dir, const char *ns, const char *id, struct rootfs **ret,
               bf_error *err)
{
        _cleanup_close_ int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return bf_error_set(err, errno, "opening %s: %s", dir, strerror(errno));
        struct fhandle *h = NULL;
        int e = fhandle_of(m->handles, fd, &h);
        if (e < 0 && e != -EOPNOTSUPP)
                return bf_error_set(err, -e, "the file handle of %s: %s", dir, strerror(-e));
        struct rootfs *r = calloc(1, sizeof(*r));
        char *n = strdup(ns), *i = strdup(id);
        if (!r || !n || !i) {
                fhandle_free(h);
                free(r);
                free(n);
                free(i);
                return bf_error_oom(err);
        }
        ref_init(&r->refs);
        r->m = m;
        r->handle = h;
        r->fd = h ? -1 : TAKE_FD(fd);   /* no handles there: the descriptor stays */
        r->dev = st.st_dev;
        r->ino = st.st_ino;
        r->ns = n;
        r->id = i;
        r->state = MOUNT_IDLE;
        r->active = now_mono();
        mutex_lock(&m->lock);
        r->next = m->all;
        if (r->next)
                r->next->prev = r;
        m->all = r;
        mutex_unlock(&m->lock);
        *ret = r;
        return 0;
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
        fhandle_free(r->handle);
        if (r->fd >= 0)
                close(r->fd);
        free(r->ns);
        free(r->id);
        free(r);
}

int rootfs_open(struct rootfs *r, int flags)
{
        if (r->handle)
                return fhandle_open(r->m->handles, r->handle, flags);
        int fd = openat(r->fd, ".", flags | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

void rootfs_touch(struct rootfs *r)
{
        struct timespec now = now_mono();
        mutex_lock(&r->m->lock);
        r->active = now;
        mutex_unlock(&r->m->lock);
}

int rootfs_rename(struct rootfs *r, const char *ns, const char *id, bf_error *err)
{
        char *n = strdup(ns), *i = strdup(id);
        if (!n || !i) {
                free(n);
                free(i);
                return bf_error_oom(err);
        }
        mutex_lock(&r->m->lock);
        free(r->ns);
        free(r->id);
        r->ns = n;
        r->id = i;
        mutex_unlock(&r->m->lock);
        return 0;
}

void rootfs_want(struct rootfs *r)
{
        struct mounts *m = r->m;
        mutex_lock(&m->lock);
        bool want = !m->stopping && !r->gone &&
                    (r->state == MOUNT_IDLE || (r->state == MOUNT_OFF && ms_since(&r->active) >= ROOTFS_REMOUNT_IDLE_MS));
        if (want) {
                r->state = MOUNT_QUEUED;
                queue_add(m, rootfs_ref(r), false);
        }
        mutex_unlock(&m->lock);
}

/* Take r's mount off; the state becomes `after`. */
static int unmount(struct rootfs *r, enum mount_state after, bf_error *err)
{
        char target[PATH_MAX];
        int e = target_of(r, target, sizeof(target));
        if (e == 0)
                e = mount_helper_unmount(r->m->helper, r->dev, r->ino, target);
        if (e < 0)
                return bf_error_set(err, -e, "unmounting %s: %s", target, strerror(-e));
        struct timespec now = now_mono();
        mutex_lock(&r->m->lock);
        r->state = after;
        r->active = now;
        mutex_unlock(&r->m->lock);
        return 0;
}

/* r is not to be mounted after all (rm -rf, removed): out of the queue,
 * the state `after`. True if it was queued (the caller drops the queue's
 * reference and answers its waiters). */
static bool unqueue(struct mounts *m, struct rootfs *r, enum mount_state after) REQUIRES(m->lock)
{
        if (!r->in_queue)
                return false;
        queue_remove(m, r);
        r->state = after;
        r->active = now_mono();
        return true;
}

int rootfs_detach(struct rootfs *r, bf_error *err)
{
        struct mounts *m = r->m;
        mutex_lock(&m->lock);
        enum mount_state st = r->state;
        bool unqueued = false;
        if (st == MOUNT_QUEUED) {
                unqueued = unqueue(m, r, MOUNT_OFF);
                if (!unqueued)
                        r->detach = true;       /* being made: taken off once made */
        } else if (st != MOUNT_DONE) {
                /* Kept off while rm -rf goes on through FUSE. */
                r->state = MOUNT_OFF;
                r->active = now_mono();
        }
        mutex_unlock(&m->lock);
        if (unqueued) {
                finished(m, r);
                rootfs_unref(r);
        }
        return st == MOUNT_DONE ? unmount(r, MOUNT_OFF, err) : 0;
}

void rootfs_gone(struct rootfs *r)
{
        /* A mount made by now is ours to take off; one being made is taken
         * off by the thread making it, which sees `gone`. */
        struct mounts *m = r->m;
        mutex_lock(&m->lock);
        r->gone = true;
        enum mount_state st = r->state;
        bool unqueued = unqueue(m, r, MOUNT_IDLE);
        mutex_unlock(&m->lock);
        if (unqueued) {
                finished(m, r);
                rootfs_unref(r);
        }
        bf_error err = { 0 };
        if (st == MOUNT_DONE && unmount(r, MOUNT_IDLE, &err) < 0)
                logf_(m, "%s", err.msg);
}

/* ---- the thread that makes mounts ------------------------------------------------ */

static void mount_one(struct mounts *m, struct rootfs *r)
{
        int e = 0;
        char target[PATH_MAX];
        for (int attempt = 0; attempt < 50; attempt++) {
                if (attempt)
                        usleep(10 * 1000);      /* a rename is finishing */
                e = target_of(r, target, sizeof(target));
                /* A descriptor for this request only: the helper gets its copy. */
                _cleanup_close_ int fd = e < 0 ? -1 : rootfs_open(r, O_PATH | O_DIRECTORY);
                if (e == 0 && fd < 0)
                        e = fd;
                if (e == 0)
                        e = mount_helper_mount(m->helper, fd, target);
                struct timespec now = now_mono();
                mutex_lock(&m->lock);
                bool gone = r->gone, detach = r->detach;
                r->detach = false;
                if (e == 0) {
                        r->state = gone ? MOUNT_IDLE : detach ? MOUNT_OFF : MOUNT_DONE;
                        r->active = r->made = now;
                }
                mutex_unlock(&m->lock);
                if (e == 0 && (gone || detach))
                        (void) mount_helper_unmount(m->helper, r->dev, r->ino, target);
                if (e == 0 || gone || detach) {
                        if (e < 0) {
                                mutex_lock(&m->lock);
                                r->state = gone ? MOUNT_IDLE : MOUNT_OFF;
                                mutex_unlock(&m->lock);
                        }
                        return;
                }
                if (e != -ENOENT)
                        break;
        }
        logf_(m, "bind-mounting the rootfs on %s: %s (it is served through FUSE)", target, strerror(-e));
        struct timespec now = now_mono();
        mutex_lock(&m->lock);
        r->state = MOUNT_OFF;
        r->active = now;
        mutex_unlock(&m->lock);
}

static void *mounter_main(void *userdata)
{
        struct mounts *m = userdata;
        mutex_lock(&m->lock);
        for (;;) {
                while (!m->qhead && !m->stopping)
                        cond_wait(&m->wake, &m->lock);
                if (m->stopping)
                        break;
                struct rootfs *r = m->qhead;
                queue_remove(m, r);
                mutex_unlock(&m->lock);
                mount_one(m, r);
                finished(m, r);
                rootfs_unref(r);        /* the queue's reference */
                mutex_lock(&m->lock);
        }
        mutex_unlock(&m->lock);
        return NULL;
}

/* ---- all mounts ------------------------------------------------------------------- */

int mounts_new(const char *mountpoint, struct handles *handles, mounts_log_fn log, void *log_userdata,
               struct mounts **ret, bf_error *err)
{
        struct mounts *m = calloc(1, sizeof(*m));
        if (!m || !(m->mountpoint = strdup(mountpoint))) {
                free(m);
                return bf_error_oom(err);
        }
        m->handles = handles;
        m->log = log;
        m->log_userdata = log_userdata;
        mutex_init(&m->lock);
        pthread_cond_init(&m->wake, NULL);
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&m->waits, &attr);
        pthread_condattr_destroy(&attr);
        *ret = m;
        return 0;
}

int mounts_start(struct mounts *m, bf_error *err)
{
        int r = mount_helper_start(&m->helper, err);
        if (r < 0)
                return r;
        int e = pthread_create(&m->mounter, NULL, mounter_main, m);
        if (e == 0) {
                e = pthread_create(&m->timer, NULL, timer_main, m);
                if (e != 0) {
                        mutex_lock(&m->lock);
                        m->stopping = true;
                        pthread_cond_broadcast(&m->wake);
                        mutex_unlock(&m->lock);
                        pthread_join(m->mounter, NULL);
                }
        }
        if (e != 0)
                return bf_error_set(err, e, "starting the mount threads: %s", strerror(e));
        mutex_lock(&m->lock);
        m->running = true;
        mutex_unlock(&m->lock);
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
                mutex_lock(&m->lock);
                bool mounted = r->state == MOUNT_DONE;
                mutex_unlock(&m->lock);
                bf_error err = { 0 };
                if (mounted && unmount(r, after, &err) < 0)
                        logf_(m, "%s", err.msg);
                rootfs_unref(r);
        }
        free(all);
}

void mounts_detach_all(struct mounts *m)
{
        unmount_all(m, MOUNT_OFF);
}

/* Stop both threads, forget the queue and answer every waiter. */
static void stop_threads(struct mounts *m)
{
        mutex_lock(&m->lock);
        bool running = m->running;
        m->running = false;
        m->stopping = true;
        pthread_cond_broadcast(&m->wake);
        pthread_cond_broadcast(&m->waits);
        mutex_unlock(&m->lock);
        if (running) {
                pthread_join(m->mounter, NULL);
                pthread_join(m->timer, NULL);
        }
        /* Nothing is queued or waits once stopping is set. */
        mutex_lock(&m->lock);
        struct rootfs *queue = NULL;
        while (m->qhead) {
                struct rootfs *r = m->qhead;
                queue_remove(m, r);
                r->state = MOUNT_IDLE;
                r->qnext = queue;
                queue = r;
        }
        struct waiter *w = waiters_take(m, NULL, NULL);
        mutex_unlock(&m->lock);
        waiters_answer(w);
        while (queue) {
                struct rootfs *r = queue;
                queue = r->qnext;
                rootfs_unref(r);
        }
}

void mounts_stop(struct mounts *m)
{
        stop_threads(m);
        unmount_all(m, MOUNT_IDLE);
}

void mounts_free(struct mounts *m)
{
        if (!m)
                return;
        stop_threads(m);
        mount_helper_stop(TAKE_PTR(m->helper));
        pthread_cond_destroy(&m->wake);
        pthread_cond_destroy(&m->waits);
        mutex_destroy(&m->lock);
        free(m->mountpoint);
        free(m);
}
