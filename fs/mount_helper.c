/* The mount helper process (see mount_helper.h). The daemon sends each
 * request over a socket pair, a mount with the source directory's
 * descriptor attached; the helper serves it in a thread of its own and
 * answers with the request's number and a negative errno or 0. */
#include "mount_helper.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

enum helper_op {
        HELPER_MOUNT = 1,
        HELPER_UNMOUNT = 2,
};

struct helper_request {
        uint64_t id;
        uint32_t op;
        uint64_t dev, ino;      /* the source directory (unmount) */
        char target[PATH_MAX];
};

struct helper_answer {
        uint64_t id;
        int32_t result;
};

/* A caller waiting for its answer (on its own stack). */
struct waiter {
        uint64_t id;
        int32_t result;
        bool answered;
        struct waiter *next;
};

struct mount_helper {
        int sock;
        pid_t pid;
        /* Guards everything below. One waiting caller at a time reads the
         * answers, for everyone. */
        pthread_mutex_t lock;
        pthread_cond_t answered;
        uint64_t next_id;
        struct waiter *waiting;
        bool reading;
        bool broken;            /* the helper is gone */
};

/* ---- the helper process ------------------------------------------------ */

/* The mounts this helper made and holds, by source directory: each taken
 * off through its descriptor, without walking the tree. */
struct held {
        dev_t dev;
        ino_t ino;
        int tree;
        struct held *next;
};

#define HELD_BUCKETS 4096

static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static struct held *held[HELD_BUCKETS];    /* held_lock */
static size_t held_count, held_max;        /* held_lock */
static int answer_sock;

static struct held **held_bucket(dev_t dev, ino_t ino)
{
        uint64_t h = ((uint64_t) dev * 0x9e3779b97f4a7c15ULL) ^ (uint64_t) ino;
        return &held[(h ^ (h >> 29)) % HELD_BUCKETS];
}

/* Does target show the directory (dev, ino) (is it mounted there)? Never
 * asks the tree for attributes: those of a rootfs not mounted yet may be
 * waiting for this very mount. */
static bool shows(dev_t dev, ino_t ino, const char *target)
{
        struct statx stx;
        return statx(AT_FDCWD, target, AT_STATX_DONT_SYNC, STATX_INO, &stx) == 0 &&
               makedev(stx.stx_dev_major, stx.stx_dev_minor) == dev && stx.stx_ino == ino;
}

/* The held mount of the directory (dev, ino), taken off the table. */
static struct held *held_take(dev_t dev, ino_t ino)
{
        pthread_mutex_lock(&held_lock);
        struct held *h = NULL;
        for (struct held **p = held_bucket(dev, ino); *p; p = &(*p)->next)
                if ((*p)->dev == dev && (*p)->ino == ino) {
                        h = *p;
                        *p = h->next;
                        held_count--;
                        break;
                }
        pthread_mutex_unlock(&held_lock);
        return h;
}

static void tree_detach(int tree);

static void held_detach(struct held *h)
{
        tree_detach(h->tree);   /* EINVAL: someone took it off already */
        close(h->tree);
        free(h);
}

static void tree_detach(int tree)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", tree);
        (void) umount2(path, MNT_DETACH);
}

static int do_mount(int source, const char *target)
{
        struct stat st;
        if (fstat(source, &st) < 0)
                return -errno;
        if (shows(st.st_dev, st.st_ino, target))
                return 0;
        _cleanup_close_ int tree =
                (int) syscall(SYS_open_tree, source, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (tree < 0)
                return -errno;
        /* Private: taking it off later must not reach the copies that running
         * containers (their own mount namespaces) hold. */
        struct mount_attr attr = { .propagation = MS_PRIVATE };
        (void) syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof(attr));
        if (syscall(SYS_move_mount, tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return -errno;
        struct held *old = held_take(st.st_dev, st.st_ino);     /* one taken off behind our back */
        if (old)
                held_detach(old);
        struct held *h = malloc(sizeof(*h));
        pthread_mutex_lock(&held_lock);
        if (h && held_count < held_max) {
                /* Kept, to be taken off without a walk. */
                *h = (struct held){ .dev = st.st_dev, .ino = st.st_ino, .tree = TAKE_FD(tree) };
                struct held **b = held_bucket(st.st_dev, st.st_ino);
                h->next = *b;
                *b = h;
                held_count++;
                h = NULL;
        }
        pthread_mutex_unlock(&held_lock);
        free(h);        /* not kept: taken off by its path */
        return 0;
}

static int do_unmount(dev_t dev, ino_t ino, const char *target)
{
        struct held *h = held_take(dev, ino);
        if (h) {
                held_detach(h);
                return 0;
        }
        /* Not held (made beyond the limit, or by this helper's predecessor):
         * by its path. */
        if (!shows(dev, ino, target))
                return 0;
        if (umount2(target, UMOUNT_NOFOLLOW) == 0)
                return 0;
        /* A running container (or a shell inside) holds it: detach lazily. */
        if (errno == EBUSY && umount2(target, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
                return 0;
        return -errno;
}

struct job {
        struct helper_request req;
        int fd;
        struct job *next;
};

/* Requests are served by a pool of threads that wait for them: one that
 * is free takes the next, and one more is started when none is (a walk
 * may wait long, and an unmount must never wait for it). */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_work = PTHREAD_COND_INITIALIZER;
static struct job *pool_jobs, **pool_tail = &pool_jobs;    /* pool_lock */
static unsigned pool_idle;                                  /* pool_lock */

static void *serve(void *arg)
{
        struct job *j = arg;
        struct helper_answer a = { .id = j->req.id, .result = -EINVAL };
        if (j->req.op == HELPER_MOUNT)
                a.result = j->fd < 0 ? -EBADF : do_mount(j->fd, j->req.target);
        else if (j->req.op == HELPER_UNMOUNT)
                a.result = do_unmount((dev_t) j->req.dev, (ino_t) j->req.ino, j->req.target);
        if (j->fd >= 0)
                close(j->fd);
        free(j);
        (void) send(answer_sock, &a, sizeof(a), MSG_NOSIGNAL);    /* one message: atomic */
        return NULL;
}

static void *pool_thread(void *arg)
{
        (void) arg;
        for (;;) {
                pthread_mutex_lock(&pool_lock);
                pool_idle++;
                while (!pool_jobs)
                        pthread_cond_wait(&pool_work, &pool_lock);
                pool_idle--;
                struct job *j = pool_jobs;
                pool_jobs = j->next;
                if (!pool_jobs)
                        pool_tail = &pool_jobs;
                pthread_mutex_unlock(&pool_lock);
                serve(j);
        }
        return NULL;
}

/* Hand j to a free thread of the pool, or to a new one. */
static void pool_give(struct job *j, const pthread_attr_t *attr)
{
        j->next = NULL;
        pthread_mutex_lock(&pool_lock);
        *pool_tail = j;
        pool_tail = &j->next;
        bool idle = pool_idle > 0;
        if (idle)
                pthread_cond_signal(&pool_work);
        pthread_mutex_unlock(&pool_lock);
        pthread_t t;
        if (!idle && pthread_create(&t, attr, pool_thread, NULL) != 0) {
                /* No thread: served here, if it is still waiting. */
                pthread_mutex_lock(&pool_lock);
                struct job *mine = NULL;
                for (struct job **p = &pool_jobs; *p; p = &(*p)->next)
                        if (*p == j) {
                                mine = j;
                                *p = j->next;
                                if (!*p)
                                        pool_tail = p;
                                break;
                        }
                pthread_mutex_unlock(&pool_lock);
                if (mine)
                        serve(mine);
        }
}

/* One request with its descriptor; false at the end of the conversation. */
static bool receive(int sock, struct job *j)
{
        char control[CMSG_SPACE(sizeof(int))];
        struct iovec iov = { .iov_base = &j->req, .iov_len = sizeof(j->req) };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                              .msg_controllen = sizeof(control) };
        ssize_t n;
        do
                n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n <= 0)
                return false;
        j->fd = -1;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                memcpy(&j->fd, CMSG_DATA(c), sizeof(int));
        j->req.target[sizeof(j->req.target) - 1] = '\0';
        return (size_t) n == sizeof(j->req);
}

static _Noreturn void helper_main(int sock)
{
        /* Only the socket stays open: above all, no /dev/fuse descriptor. */
        int keep = dup3(sock, 3, O_CLOEXEC) < 0 && sock != 3 ? sock : 3;
        (void) syscall(SYS_close_range, 0, keep - 1, 0);
        (void) syscall(SYS_close_range, keep + 1, ~0U, 0);
        /* Stop with the daemon, not with the signals meant for it: it still
         * asks for unmounts while it shuts down. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        prctl(PR_SET_NAME, "bundlefs-mount");
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        signal(SIGPIPE, SIG_IGN);
        if (getppid() == 1)
                _exit(0);
        answer_sock = keep;
        /* Each mount held is a descriptor: as many as the limit allows. */
        struct rlimit nofile;
        if (getrlimit(RLIMIT_NOFILE, &nofile) == 0) {
                nofile.rlim_cur = nofile.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &nofile);
                (void) getrlimit(RLIMIT_NOFILE, &nofile);
                held_max = nofile.rlim_cur > HELPER_FDS_SPARE ? (size_t) nofile.rlim_cur - HELPER_FDS_SPARE : 0;
        }
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 64 * 1024);
        for (;;) {
                struct job *j = malloc(sizeof(*j));
                if (!j || !receive(keep, j)) {
                        free(j);
                        break;
                }
                pool_give(j, &attr);
        }
        /* The daemon has gone: its mounts stay (a running container may use
         * them; the next daemon cleans up). */
        _exit(0);
}

/* ---- the daemon's side -------------------------------------------------- */

int mount_helper_start(struct mount_helper **ret, bf_error *err)
{
        _cleanup_free_ struct mount_helper *h = calloc(1, sizeof(*h));
        if (!h)
                return bf_error_oom(err);
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
                return bf_error_set(err, errno, "starting the mount helper: %s", strerror(errno));
        pid_t pid = fork();
        if (pid < 0) {
                int e = errno;
                close(sv[0]);
                close(sv[1]);
                return bf_error_set(err, e, "starting the mount helper: %s", strerror(e));
        }
        if (pid == 0)
                helper_main(sv[1]);
        close(sv[1]);
        pthread_mutex_init(&h->lock, NULL);
        pthread_cond_init(&h->answered, NULL);
        h->sock = sv[0];
        h->pid = pid;
        *ret = TAKE_PTR(h);
        return 0;
}

void mount_helper_stop(struct mount_helper *h)
{
        if (!h)
                return;
        /* The helper exits when the conversation ends; nobody may be waiting
         * for an answer by now. */
        shutdown(h->sock, SHUT_RDWR);
        close(h->sock);
        while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
                ;
        pthread_cond_destroy(&h->answered);
        pthread_mutex_destroy(&h->lock);
        free(h);
}

/* Hand an answer to its waiter (lock held). */
static void deliver(struct mount_helper *h, const struct helper_answer *a)
{
        for (struct waiter *w = h->waiting; w; w = w->next)
                if (w->id == a->id) {
                        w->result = a->result;
                        w->answered = true;
                        return;
                }
}

static void unwait(struct mount_helper *h, struct waiter *me)
{
        for (struct waiter **p = &h->waiting; *p; p = &(*p)->next)
                if (*p == me) {
                        *p = me->next;
                        return;
                }
}

static int request(struct mount_helper *h, enum helper_op op, int source_fd, dev_t dev, ino_t ino,
                   const char *target)
{
        if (!h)
                return -ESRCH;  /* not started */
        struct helper_request req = { .op = op, .dev = (uint64_t) dev, .ino = (uint64_t) ino };
        if (strlen(target) >= sizeof(req.target))
                return -ENAMETOOLONG;
        strcpy(req.target, target);
        char control[CMSG_SPACE(sizeof(int))] = { 0 };
        struct iovec iov = { .iov_base = &req, .iov_len = sizeof(req) };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        if (source_fd >= 0) {
                msg.msg_control = control;
                msg.msg_controllen = sizeof(control);
                struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &source_fd, sizeof(int));
        }

        struct waiter me = { 0 };
        pthread_mutex_lock(&h->lock);
        if (h->broken) {
                pthread_mutex_unlock(&h->lock);
                return -EPIPE;
        }
        me.id = req.id = ++h->next_id;
        me.next = h->waiting;
        h->waiting = &me;
        /* Sent under the lock: numbers go out in order, and one message is
         * never interleaved with another. */
        if (sendmsg(h->sock, &msg, MSG_NOSIGNAL) != (ssize_t) sizeof(req)) {
                unwait(h, &me);
                pthread_mutex_unlock(&h->lock);
                return -EPIPE;
        }
        while (!me.answered && !h->broken) {
                if (h->reading) {
                        pthread_cond_wait(&h->answered, &h->lock);
                        continue;
                }
                /* Read answers for everyone until ours comes. */
                h->reading = true;
                pthread_mutex_unlock(&h->lock);
                struct helper_answer a;
                ssize_t n;
                do
                        n = recv(h->sock, &a, sizeof(a), 0);
                while (n < 0 && errno == EINTR);
                pthread_mutex_lock(&h->lock);
                h->reading = false;
                if (n == (ssize_t) sizeof(a))
                        deliver(h, &a);
                else
                        h->broken = true;
                pthread_cond_broadcast(&h->answered);
        }
        unwait(h, &me);
        pthread_mutex_unlock(&h->lock);
        return me.answered ? me.result : -EPIPE;
}

int mount_helper_mount(struct mount_helper *h, int source_fd, const char *target)
{
        return request(h, HELPER_MOUNT, source_fd, 0, 0, target);
}

int mount_helper_unmount(struct mount_helper *h, dev_t dev, ino_t ino, const char *target)
{
        return request(h, HELPER_UNMOUNT, -1, dev, ino, target);
}
