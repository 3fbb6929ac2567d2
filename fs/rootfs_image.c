/* The rootfs.image file: images unpacked into rootfs directories
 * (rootfs_image.h). */
#include "rootfs_image.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "bundle.h"
#include "content.h"
#include "lock.h"
#include "mounts.h"
#include "oci.h"
#include "openfile.h"
#include "platform.h"
#include "tree.h"
#include "unpack.h"
#include "utf8.h"
#include "util.h"

/* The mark on a rootfs directory: "unpacking <ref>" from before an unpack
 * writes anything until it is done, then "<ref>". A trusted.* attribute:
 * only a process holding CAP_SYS_ADMIN sees or sets it. */
#define MARK "trusted.bundlefs.image"
#define MARK_UNPACKING "unpacking "
#define MARK_MAX (sizeof(MARK_UNPACKING) + ROOTFS_IMAGE_REF_MAX)

/* Unpacking threads (and the reader threads they start, which inherit it)
 * are this much nicer than the daemon: the tree's own requests come first. */
#define UNPACK_NICENESS 10

enum job_state {
        JOB_WAITING,            /* for a thread */
        JOB_UNPACKING,
};

enum job_cancel {
        CANCEL_NONE,
        CANCEL_INTERRUPT,       /* the writer got a signal */
        CANCEL_STOP,            /* the filesystem is stopping */
};

struct image_unpack {
        struct image_unpacks *set;
        fuse_req_t req;
        size_t size;                    /* of the write, for its answer */
        struct container *c;            /* held */
        char *ref;
        char *platform;
        atomic_bool cancel;
        _Atomic int why;                /* enum job_cancel */
        _Atomic int state;              /* enum job_state */
        struct unpack_progress progress;
        struct image_unpack *next GUARDED_BY(set->lock);        /* in the queue */
        struct image_unpack *prev_all, *next_all GUARDED_BY(set->lock);
};

struct image_unpacks {
        uid_t owner;
        size_t max;                     /* threads */
        mutex lock;
        pthread_cond_t wake GUARDED_BY(lock);   /* a job is queued, or stopping */
        pthread_cond_t gone GUARDED_BY(lock);   /* a job was answered */
        struct image_unpack *queue, *tail GUARDED_BY(lock);
        struct image_unpack *all GUARDED_BY(lock);      /* queued or running, until answered */
        pthread_t threads[UNPACKS_MAX] GUARDED_BY(lock);
        size_t nthreads GUARDED_BY(lock);
        bool stopping GUARDED_BY(lock);
};

/* ---- the mark ------------------------------------------------------------------ */

static int mark_set(int dirfd, const char *prefix, const char *ref, bf_error *err)
{
        char value[MARK_MAX];
        int n = snprintf(value, sizeof(value), "%s%s", prefix, ref);
        if (fsetxattr(dirfd, MARK, value, (size_t) n, 0) < 0)
                return bf_error_set(err, errno, "marking the rootfs (extended attribute %s): %s", MARK,
                                    strerror(errno));
        if (fsync(dirfd) < 0)
                return bf_error_set(err, errno, "syncing the rootfs directory: %s", strerror(errno));
        return 0;
}

/* The mark's value as a string in value (MARK_MAX bytes), "" when none. */
static int mark_get(int dirfd, const char *path, char *value, bf_error *err)
{
        ssize_t n = path ? lgetxattr(path, MARK, value, MARK_MAX - 1) : fgetxattr(dirfd, MARK, value, MARK_MAX - 1);
        if (n < 0 && errno != ENODATA && errno != ENOTSUP)
                return bf_error_set(err, errno, "reading the rootfs's mark (%s): %s", MARK, strerror(errno));
        value[n < 0 ? 0 : n] = '\0';
        return 0;
}

static bool mark_unpacking(const char *value)
{
        return strncmp(value, MARK_UNPACKING, strlen(MARK_UNPACKING)) == 0;
}

/* After a failed unpack, which emptied the root: that is made durable
 * before the mark goes (until then a crash has the load empty it again). */
static void mark_clear(int dirfd)
{
        if (syncfs(dirfd) == 0 && (fremovexattr(dirfd, MARK) == 0 || errno == ENODATA))
                (void) fsync(dirfd);
}

/* ---- the rootfs ------------------------------------------------------------------ */

/* A descriptor to read and write the rootfs directory itself. Its
 * container was looked up to reach rootfs.image, which made the rootfs. */
static int rootfs_dir_open(struct container *c, bf_error *err)
{
        struct rootfs *r = container_rootfs(c);
        int fd = r ? rootfs_open(r, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -ENOENT;
        return fd < 0 ? bf_error_set(err, -fd, "opening the rootfs: %s", strerror(-fd)) : fd;
}

/* Refused early, without waiting for a thread (the unpack checks again). */
static int rootfs_check_empty(int dirfd, bf_error *err)
{
        int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd < 0 ? NULL : fdopendir(fd);
        if (!d) {
                int e = errno;
                if (fd >= 0)
                        close(fd);
                return bf_error_set(err, e, "reading the rootfs: %s", strerror(e));
        }
        struct dirent *de;
        int r = 0;
        while (r == 0 && (errno = 0, de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        r = bf_error_set(err, ENOTEMPTY, "the rootfs is not empty (\"%.100s\"): an image is only "
                                         "unpacked into an empty one", de->d_name);
        if (r == 0 && errno)
                r = bf_error_set(err, errno, "reading the rootfs: %s", strerror(errno));
        closedir(d);
        return r;
}

/* ---- a written value ---------------------------------------------------------------- */

/* One image layout reference, checked (the final newline, or CRLF, is no
 * part of it): malloc'd in *ret. */
static int ref_parse(const char *data, size_t size, char **ret, bf_error *err)
{
        if (size > CONTROL_VALUE_MAX)
                return bf_error_set(err, EFBIG, "a value is at most %d bytes", CONTROL_VALUE_MAX);
        if (memchr(data, '\0', size))
                return bf_error_set(err, EINVAL, "a value may not contain a NUL byte");
        if (!utf8_valid(data, size))
                return bf_error_set(err, EINVAL, "a value must be valid UTF-8");
        if (size && data[size - 1] == '\n')
                size--;
        if (size && data[size - 1] == '\r')
                size--;
        if (size == 0)
                return bf_error_set(err, EINVAL, "empty value");
        if (memchr(data, '\n', size))
                return bf_error_set(err, EINVAL, "one line expected");
        if (data[size - 1] == '\r')
                return bf_error_set(err, EINVAL, "a value cannot end in a carriage return");
        if (size > ROOTFS_IMAGE_REF_MAX)
                return bf_error_set(err, ENAMETOOLONG, "a reference is at most %d bytes", ROOTFS_IMAGE_REF_MAX);
        _cleanup_free_ char *text = strndup(data, size);
        if (!text)
                return bf_error_oom(err);
        if (!oci_ref_is(text))
                return bf_error_set(err, EINVAL, "expected an image layout reference oci:<dir>[:<tag>|@<digest>]");
        arena a;
        arena_init_small(&a);
        struct oci_ref ref;
        int r = oci_ref_parse(&a, text, &ref, err);
        arena_done(&a);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(text);
        return 0;
}

/* ---- what a read shows ------------------------------------------------------------------ */

static void job_show(const struct image_unpack *j, buf *out)
{
        uint64_t layers = atomic_load(&j->progress.layers);
        if (atomic_load(&j->state) == JOB_WAITING)
                buf_printf(out, "waiting to unpack %s\n", j->ref);
        else if (!layers)
                buf_printf(out, "unpacking %s\n", j->ref);
        else
                buf_printf(out, "unpacking %s: layer %" PRIu64 " of %" PRIu64 ", %" PRIu64 " MiB\n", j->ref,
                           atomic_load(&j->progress.layer), layers, atomic_load(&j->progress.bytes) >> 20);
}

/* The progress of an unpack under way, else the reference last unpacked. */
/* What a read shows, and (ret_changed, if not NULL) when it last changed:
 * now while an unpack makes progress, else when the mark last changed (the
 * rootfs directory's ctime: at least that, and stable while nothing
 * changes there). */
static int show(struct container *c, buf *out, struct timespec *ret_changed, bf_error *err)
{
        if (container_unpacking(c, job_show, out)) {
                if (ret_changed)
                        clock_gettime(CLOCK_REALTIME, ret_changed);
                return out->oom ? bf_error_oom(err) : 0;
        }
        _cleanup_close_ int fd = rootfs_dir_open(c, err);
        if (fd < 0)
                return fd;
        struct stat st;
        if (ret_changed)
                *ret_changed = fstat(fd, &st) == 0 ? st.st_ctim : (struct timespec){ 0 };
        char value[MARK_MAX];
        int r = mark_get(fd, NULL, value, err);
        if (r < 0)
                return r;
        if (*value && !mark_unpacking(value)) {
                buf_puts(out, value);
                buf_putc(out, '\n');
        }
        return out->oom ? bf_error_oom(err) : 0;
}

int rootfs_image_open(struct container *c, bool writing, struct content **ret, bf_error *err)
{
        if (writing && container_unpacking(c, NULL, NULL)) {
                int r = bf_error_set(err, EBUSY, "rootfs.image: an image is being unpacked into this rootfs");
                bundle_refuse(container_bundle(c), err);
                return r;
        }
        if (!ret)
                return 0;
        _cleanup_(buf_free) buf out = { 0 };
        int r = show(c, &out, NULL, err);
        if (r < 0)
                return r;
        struct content *content = content_new(out.p ? out.p : "", out.len, 0, NULL);
        if (!content)
                return bf_error_oom(err);
        *ret = content;
        return 0;
}

int rootfs_image_stat(struct container *c, size_t *ret_size, struct timespec *ret_mtime)
{
        _cleanup_(buf_free) buf out = { 0 };
        bf_error err = { 0 };
        int r = show(c, &out, ret_mtime, &err);
        if (r < 0)
                return r;
        *ret_size = out.len;
        return 0;
}

/* ---- one unpack ---------------------------------------------------------------------------- */

static void job_free(struct image_unpack *j)
{
        if (!j)
                return;
        free(j->ref);
        free(j->platform);
        free(j);
}

static void job_freep(struct image_unpack **j)
{
        job_free(*j);
}

/* The image resolved for the container's platform, and unpacked into its
 * rootfs between the two marks. */
static int job_run(struct image_unpack *j, bf_error *err)
{
        if (atomic_load(&j->cancel))
                return bf_error_set(err, ECANCELED, "cancelled before it started");
        atomic_store(&j->state, JOB_UNPACKING);
        struct platform p;
        int r = platform_parse(j->platform, &p, err);
        if (r < 0)
                return r;
        _cleanup_close_ int root = rootfs_dir_open(j->c, err);
        if (root < 0)
                return root;
        arena a;
        arena_init(&a, 0);
        struct oci_image *img = NULL;
        r = oci_image_open(&a, j->ref, &p, NULL, &img, err);
        if (r == 0)
                r = rootfs_check_empty(root, err);
        if (r == 0)
                r = mark_set(root, MARK_UNPACKING, j->ref, err);
        if (r == 0) {
                struct unpack_options o = { .cancel = &j->cancel, .progress = &j->progress };
                r = unpack_image(img, root, &o, err);
                if (r == 0 && (r = mark_set(root, "", j->ref, err)) < 0) {
                        /* it would be taken for half unpacked */
                        bf_error ignored = { 0 };
                        (void) unpack_empty_dir(root, &ignored);
                }
                if (r < 0)
                        mark_clear(root);
        }
        if (img)
                oci_image_close(img);
        arena_done(&a);
        return r;
}

/* The write's answer; the job goes. */
static void job_answer(struct image_unpack *j, int r, bf_error *err) EXCLUDES(j->set->lock)
{
        struct image_unpacks *u = j->set;
        struct bundle *b = container_bundle(j->c);
        if (r == -ECANCELED && atomic_load(&j->why) == CANCEL_INTERRUPT)
                r = bf_error_set(err, EINTR, "interrupted: the unpack was cancelled, the rootfs left empty");
        else if (r == -ECANCELED && atomic_load(&j->why) == CANCEL_STOP)
                r = bf_error_set(err, ECANCELED, "the filesystem is stopping: the unpack was cancelled, the rootfs "
                                 "left empty");
        if (r < 0) {
                bf_error_prefix(err, "rootfs.image");
                bundle_refuse(b, err);
        } else {
                bundle_accepted(b);
        }
        /* Done before the answer: a read right after the write shows what it did. */
        container_unpack_end(j->c);
        fuse_req_interrupt_func(j->req, NULL, NULL);    /* waits for a callback under way */
        if (r < 0)
                fuse_reply_err(j->req, -r);
        else
                fuse_reply_write(j->req, j->size);
        container_put(j->c);
        mutex_lock(&u->lock);
        if (j->prev_all)
                j->prev_all->next_all = j->next_all;
        else
                u->all = j->next_all;
        if (j->next_all)
                j->next_all->prev_all = j->prev_all;
        pthread_cond_broadcast(&u->gone);
        mutex_unlock(&u->lock);
        job_free(j);
}

static void *unpack_thread(void *data)
{
        struct image_unpacks *u = data;
        id_t self = (id_t) gettid();
        errno = 0;
        int nice = getpriority(PRIO_PROCESS, self);
        if (errno == 0)
                (void) setpriority(PRIO_PROCESS, self, nice + UNPACK_NICENESS < 19 ? nice + UNPACK_NICENESS : 19);
        mutex_lock(&u->lock);
        for (;;) {
                while (!u->queue && !u->stopping)
                        cond_wait(&u->wake, &u->lock);
                struct image_unpack *j = u->queue;
                if (!j)
                        break;
                u->queue = j->next;
                if (!u->queue)
                        u->tail = NULL;
                mutex_unlock(&u->lock);
                bf_error err = { 0 };
                int r = job_run(j, &err);
                job_answer(j, r, &err);
                mutex_lock(&u->lock);
        }
        mutex_unlock(&u->lock);
        return NULL;
}

/* The writer's signal (a FUSE interrupt) cancels its unpack. */
static void job_interrupted(fuse_req_t req, void *data)
{
        (void) req;
        struct image_unpack *j = data;
        int none = CANCEL_NONE;
        atomic_compare_exchange_strong(&j->why, &none, CANCEL_INTERRUPT);
        atomic_store(&j->cancel, true);
}

/* Queue j (it owns the request from now on), starting the threads if
 * there are none yet. */
static int job_queue(struct image_unpacks *u, struct image_unpack *j, bf_error *err) EXCLUDES(u->lock)
{
        mutex_lock(&u->lock);
        int r = 0;
        if (u->stopping)
                r = bf_error_set(err, ECANCELED, "the filesystem is stopping");
        while (r == 0 && u->nthreads < u->max) {
                int e = pthread_create(&u->threads[u->nthreads], NULL, unpack_thread, u);
                if (e != 0) {
                        if (!u->nthreads)
                                r = bf_error_set(err, e, "starting a thread: %s", strerror(e));
                        break;
                }
                u->nthreads++;
        }
        if (r == 0) {
                if (u->tail)
                        u->tail->next = j;
                else
                        u->queue = j;
                u->tail = j;
                j->next_all = u->all;
                if (u->all)
                        u->all->prev_all = j;
                u->all = j;
                pthread_cond_signal(&u->wake);
        }
        mutex_unlock(&u->lock);
        return r;
}

/* Everything that can be refused at once; then the job is queued. */
static int job_start(struct image_unpacks *u, fuse_req_t req, struct container *c, uid_t opener,
                     const char *data, size_t size, bf_error *err)
{
        _cleanup_free_ char *ref = NULL;
        int r = ref_parse(data, size, &ref, err);
        if (r < 0)
                return r;
        /* The layout is read with the daemon's credentials. */
        if (opener != u->owner && opener != 0)
                return bf_error_set(err, EPERM, "only the mount's owner (uid %u) or root may name host paths, "
                                    "not uid %u", (unsigned) u->owner, (unsigned) opener);
        _cleanup_(job_freep) struct image_unpack *j = calloc(1, sizeof(*j));
        if (!j || !(j->platform = bundle_platform(container_bundle(c))))
                return bf_error_oom(err);
        j->set = u;
        j->req = req;
        j->size = size;
        j->ref = TAKE_PTR(ref);
        if (!container_get(c))
                return bf_error_set(err, ENOENT, "the container was removed");
        j->c = c;
        r = container_unpack_begin(c, j);
        if (r == -EBUSY)
                bf_error_set(err, EBUSY, "an image is being unpacked into this rootfs");
        else if (r < 0)
                bf_error_set(err, -r, "the container was removed");
        if (r == 0) {
                int fd = rootfs_dir_open(c, err);
                r = fd < 0 ? fd : rootfs_check_empty(fd, err);
                if (fd >= 0)
                        close(fd);
                if (r == 0) {
                        fuse_req_interrupt_func(req, job_interrupted, j);
                        r = job_queue(u, j, err);
                        if (r == 0) {
                                j = NULL;       /* the thread's now */
                                return 0;
                        }
                        fuse_req_interrupt_func(req, NULL, NULL);
                }
                container_unpack_end(c);
        }
        container_put(c);
        return r;
}

void rootfs_image_write(struct image_unpacks *u, fuse_req_t req, struct container *c, uid_t opener,
                        const char *data, size_t size)
{
        bf_error err = { 0 };
        int r = job_start(u, req, c, opener, data, size, &err);
        if (r == 0)
                return;
        bf_error_prefix(&err, "rootfs.image");
        bundle_refuse(container_bundle(c), &err);
        fuse_reply_err(req, -r);
}

/* ---- all unpacks --------------------------------------------------------------------------- */

int image_unpacks_new(uid_t owner, struct image_unpacks **ret, bf_error *err)
{
        struct image_unpacks *u = calloc(1, sizeof(*u));
        if (!u)
                return bf_error_oom(err);
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        u->owner = owner;
        u->max = cpus >= 2 * UNPACKS_MAX ? UNPACKS_MAX : cpus >= 2 ? (size_t) cpus / 2 : 1;
        mutex_init(&u->lock);
        pthread_cond_init(&u->wake, NULL);
        pthread_cond_init(&u->gone, NULL);
        *ret = u;
        return 0;
}

void image_unpacks_stop(struct image_unpacks *u)
{
        if (!u)
                return;
        mutex_lock(&u->lock);
        u->stopping = true;
        for (struct image_unpack *j = u->all; j; j = j->next_all) {
                int none = CANCEL_NONE;
                atomic_compare_exchange_strong(&j->why, &none, CANCEL_STOP);
                atomic_store(&j->cancel, true);
        }
        pthread_cond_broadcast(&u->wake);
        pthread_t threads[UNPACKS_MAX];
        size_t n = u->nthreads;
        memcpy(threads, u->threads, n * sizeof(*threads));
        u->nthreads = 0;
        mutex_unlock(&u->lock);
        for (size_t i = 0; i < n; i++)
                pthread_join(threads[i], NULL);
        /* Another stop may be joining them: wait until every write is answered. */
        mutex_lock(&u->lock);
        while (u->all)
                cond_wait(&u->gone, &u->lock);
        mutex_unlock(&u->lock);
}

void image_unpacks_free(struct image_unpacks *u)
{
        if (!u)
                return;
        image_unpacks_stop(u);
        pthread_cond_destroy(&u->wake);
        pthread_cond_destroy(&u->gone);
        mutex_destroy(&u->lock);
        free(u);
}

/* ---- after a crash --------------------------------------------------------------------------- */

int rootfs_image_recover(const char *dir, char *ret_ref, size_t ref_size, bf_error *err)
{
        char value[MARK_MAX];
        int r = mark_get(-1, dir, value, err);
        if (r < 0)
                return r == -ENOENT ? 0 : r;
        if (!mark_unpacking(value))
                return 0;
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return bf_error_set(err, errno, "opening %s: %s", dir, strerror(errno));
        r = unpack_empty_dir(fd, err);
        if (r < 0)
                return r;
        mark_clear(fd);
        snprintf(ret_ref, ref_size, "%s", value + strlen(MARK_UNPACKING));
        return 1;
}
