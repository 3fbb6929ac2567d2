#include "store.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

#include "files.h"
#include "lock.h"
#include "optline.h"
#include "util.h"

#define LOG_NAME "log"
#define LOG_NEW_NAME "log.new"
#define LOG_HEADER_V1 "bundlefs-log 1\n"
#define LOG_HEADER_V2_PREFIX "bundlefs-log 2 "
#define LOG_HEADER_FMT LOG_HEADER_V2_PREFIX "%016" PRIx64 "\n"
#define JOURNAL_NAME "journal"
#define JOURNAL_HEADER "bundlefs-journal 1\n"
#define FORMAT_TEXT "bundlefs-state 1\n"
#define RECORD_HEADER_MAX 64

/* The shared journal and its group commit (see store.h). */
struct journal {
        mutex lock;
        pthread_cond_t done;                    /* a flush ended */
        int fd;
        size_t size GUARDED_BY(lock);           /* bytes on disk (read unlocked as a hint) */
        buf pending GUARDED_BY(lock);           /* records waiting for the next flush */
        uint64_t queued GUARDED_BY(lock);       /* records queued so far */
        uint64_t durable GUARDED_BY(lock);      /* records durable so far */
        bool flushing GUARDED_BY(lock);         /* a writer is flushing a batch */
        int error GUARDED_BY(lock);             /* a flush failed: the journal is unusable (errno) */
};

struct store {
        int dirfd;          /* <state> */
        int nsfd;           /* <state>/namespaces */
        int lockfd;
        char *path;
        unsigned log_fds;   /* log descriptors kept between writes (atomic) */
        struct journal journal;
};

static int sys_error(bf_error *err, const char *what, const char *name)
{
        int e = errno;
        return bf_error_set(err, e, "%s %s: %s", what, name, strerror(e));
}

static int fsync_dir_at(int dirfd, const char *name, bf_error *err)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return sys_error(err, "syncing", name);
        return 0;
}

static void store_freep(struct store **s)
{
        store_close(*s);
}

int store_open(const char *path, struct store **ret, bf_error *err)
{
        _cleanup_(store_freep) struct store *st = calloc(1, sizeof(*st));
        if (!st)
                return bf_error_oom(err);
        *st = (struct store){ .dirfd = -1, .nsfd = -1, .lockfd = -1, .journal = { .fd = -1 } };
        mutex_init(&st->journal.lock);
        pthread_cond_init(&st->journal.done, NULL);
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return sys_error(err, "creating state directory", path);
        _cleanup_close_ int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return sys_error(err, "opening state directory", path);

        _cleanup_close_ int lockfd = openat(dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lockfd < 0)
                return sys_error(err, "opening", "lock");
        if (flock(lockfd, LOCK_EX | LOCK_NB) < 0)
                return bf_error_set(err, EBUSY, "state directory %s is in use by another bundlefs", path);
        /* Who holds it, for an administrator to see. */
        char pid[32];
        int pl = snprintf(pid, sizeof(pid), "%d\n", (int) getpid());
        if (ftruncate(lockfd, 0) < 0 || pwrite(lockfd, pid, (size_t) pl, 0) != pl)
                return sys_error(err, "writing", "lock");

        char text[64] = { 0 };
        _cleanup_close_ int ffd = openat(dirfd, "format", O_RDONLY | O_CLOEXEC);
        if (ffd >= 0) {
                ssize_t n = read(ffd, text, sizeof(text) - 1);
                if (n < 0)
                        return sys_error(err, "reading", "format");
                unsigned v = 0;
                if (sscanf(text, "bundlefs-state %u", &v) != 1)
                        return bf_error_set(err, EINVAL, "%s/format: not a bundlefs state directory", path);
                if (v != STORE_FORMAT_VERSION)
                        return bf_error_set(err, EINVAL, "%s: state format %u, this bundlefs reads format %d", path,
                                            v, STORE_FORMAT_VERSION);
        } else if (errno == ENOENT) {
                /* A new state directory: only an empty one may become one. */
                _cleanup_close_ int tmp = openat(dirfd, "format.new", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (tmp < 0 || fd_write_all(tmp, FORMAT_TEXT, strlen(FORMAT_TEXT)) < 0 || fsync(tmp) < 0)
                        return sys_error(err, "writing", "format");
                if (mkdirat(dirfd, "namespaces", 0700) < 0 && errno != EEXIST)
                        return sys_error(err, "creating", "namespaces");
                if (renameat(dirfd, "format.new", dirfd, "format") < 0 || fsync(dirfd) < 0)
                        return sys_error(err, "writing", "format");
        } else {
                return sys_error(err, "opening", "format");
        }
        int nsfd = openat(dirfd, "namespaces", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (nsfd < 0)
                return sys_error(err, "opening", "namespaces");
        st->nsfd = nsfd;
        st->dirfd = TAKE_FD(dirfd);
        st->lockfd = TAKE_FD(lockfd);
        st->path = strdup(path);
        if (!st->path)
                return bf_error_oom(err);
        *ret = TAKE_PTR(st);
        return 0;
}

void store_close(struct store *s)
{
        if (!s)
                return;
        if (s->nsfd >= 0)
                close(s->nsfd);
        if (s->dirfd >= 0)
                close(s->dirfd);
        if (s->lockfd >= 0)
                close(s->lockfd);
        if (s->journal.fd >= 0)
                close(s->journal.fd);
        buf_free(&s->journal.pending);
        mutex_destroy(&s->journal.lock);
        pthread_cond_destroy(&s->journal.done);
        free(s->path);
        free(s);
}

int store_statvfs(struct store *s, struct statvfs *ret)
{
        return fstatvfs(s->dirfd, ret) < 0 ? -errno : 0;
}

/* ---- records ------------------------------------------------------------- */

/* "<type> <length> <crc32>\n" and the payload, in out. */
static void record_build(buf *out, char type, const char *p1, size_t n1, const char *p2, size_t n2)
{
        uint32_t crc = (uint32_t) crc32(0, (const Bytef *) p1, (uInt) n1);
        if (n2)
                crc = (uint32_t) crc32(crc, (const Bytef *) p2, (uInt) n2);
        buf_printf(out, "%c %zu %08" PRIx32 "\n", type, n1 + n2, crc);
        buf_put(out, p1, n1);
        if (n2)
                buf_put(out, p2, n2);
}

/* The numbers in record headers are parsed within the header: never with
 * sscanf, which measures the whole rest of the buffer (a log or the journal,
 * megabytes) with strlen at every call. */

/* Decimal digits at [p, end) into *ret; where they stop, or NULL (no digit,
 * or past SIZE_MAX). */
static const char *parse_size(const char *p, const char *end, size_t *ret)
{
        const char *start = p;
        size_t v = 0;
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
                size_t d = (size_t) (*p - '0');
                if (v > (SIZE_MAX - d) / 10)
                        return NULL;
                v = v * 10 + d;
        }
        if (p == start)
                return NULL;
        *ret = v;
        return p;
}

/* Exactly `digits` lower-case hex digits at [p, end) into *ret. */
static const char *parse_hex(const char *p, const char *end, size_t digits, uint64_t *ret)
{
        if ((size_t) (end - p) < digits)
                return NULL;
        uint64_t v = 0;
        for (size_t i = 0; i < digits; i++, p++) {
                unsigned d;
                if (*p >= '0' && *p <= '9')
                        d = (unsigned) (*p - '0');
                else if (*p >= 'a' && *p <= 'f')
                        d = (unsigned) (*p - 'a' + 10);
                else
                        return NULL;
                v = v << 4 | d;
        }
        *ret = v;
        return p;
}

/* Parse the record at data[pos..n): its type and payload, and where the
 * next one starts. False for a torn or damaged record. */
static bool record_parse(const char *data, size_t n, size_t pos, char *ret_type, const char **ret_payload,
                         size_t *ret_len, size_t *ret_next)
{
        const char *p = data + pos;
        const char *nl = memchr(p, '\n', n - pos < RECORD_HEADER_MAX ? n - pos : RECORD_HEADER_MAX);
        if (!nl || nl - p < 2 || p[1] != ' ')
                return false;
        char type = p[0];
        size_t len;
        uint64_t crc;
        const char *q = parse_size(p + 2, nl, &len);
        if (!q || q == nl || *q != ' ' || parse_hex(q + 1, nl, 8, &crc) != nl)
                return false;
        size_t body = (size_t) (nl - data) + 1;
        if (len > n - body || (uint32_t) crc32(0, (const Bytef *) data + body, (uInt) len) != crc)
                return false;
        *ret_type = type;
        *ret_payload = data + body;
        *ret_len = len;
        *ret_next = body + len;
        return true;
}

/* Write a batch of journal records and make them durable. */
static int journal_flush_batch(struct journal *j, const buf *batch)
{
        int r = fd_write_all(j->fd, batch->p, batch->len);
        if (r == 0 && fdatasync(j->fd) < 0)
                r = -errno;
        return r;
}

/* Queue a journal record and wait until it is durable. The first writer to
 * find no flush under way flushes everything queued so far, its own record
 * and those of writers that queued while the previous flush ran: one
 * fdatasync for the whole batch. */
static int journal_commit(struct journal *j, const char *rec, size_t len, bf_error *err)
{
        mutex_lock(&j->lock);
        if (j->error) {
                int e = j->error;
                mutex_unlock(&j->lock);
                return bf_error_set(err, EIO, "the journal failed earlier (%s): restart bundlefs", strerror(e));
        }
        buf_put(&j->pending, rec, len);
        if (j->pending.oom) {
                /* buf_put added nothing; what others queued stays. */
                j->pending.oom = false;
                mutex_unlock(&j->lock);
                return bf_error_oom(err);
        }
        uint64_t mine = ++j->queued;
        while (j->durable < mine && !j->error) {
                if (j->flushing) {
                        cond_wait(&j->done, &j->lock);
                        continue;
                }
                j->flushing = true;
                buf batch = j->pending;
                j->pending = (buf){ 0 };
                uint64_t upto = j->queued;
                mutex_unlock(&j->lock);
                int r = journal_flush_batch(j, &batch);
                mutex_lock(&j->lock);
                if (r == 0) {
                        __atomic_store_n(&j->size, j->size + batch.len, __ATOMIC_RELAXED);  /* read unlocked as a hint */
                        j->durable = upto;
                } else {
                        /* The file's state is unknown past its last flush (a failed
                         * fdatasync may have dropped dirty pages): stop using it. */
                        j->error = -r;
                }
                /* Keep the larger allocation for the next batch. */
                if (!j->pending.len && batch.cap > j->pending.cap) {
                        buf_free(&j->pending);
                        batch.len = 0;
                        j->pending = batch;
                } else {
                        buf_free(&batch);
                }
                j->flushing = false;
                pthread_cond_broadcast(&j->done);
        }
        int e = j->durable >= mine ? 0 : j->error;
        mutex_unlock(&j->lock);
        if (e)
                return bf_error_set(err, EIO, "writing the journal: %s", strerror(e));
        return 0;
}

/* The journal has no records once every log is synced. */
static int journal_reset(struct store *s, bf_error *err)
{
        struct journal *j = &s->journal;
        if (syncfs(s->dirfd) < 0)
                return sys_error(err, "syncing", "the state directory");
        size_t hl = strlen(JOURNAL_HEADER);
        if (ftruncate(j->fd, (off_t) hl) < 0 || fdatasync(j->fd) < 0)
                return sys_error(err, "emptying", JOURNAL_NAME);
        __atomic_store_n(&j->size, hl, __ATOMIC_RELAXED);
        return 0;
}

/* After a commit: empty the journal once it is large. Every record in it
 * was written to its log before it was queued, so syncing the file system
 * makes the journal redundant. Appends wait meanwhile (rarely: every
 * STORE_JOURNAL_MAX bytes). */
static void journal_maybe_reset(struct store *s)
{
        struct journal *j = &s->journal;
        mutex_lock(&j->lock);
        while (j->flushing)
                cond_wait(&j->done, &j->lock);
        if (j->size > STORE_JOURNAL_MAX && !j->error && !j->pending.len) {
                bf_error err = { 0 };
                if (journal_reset(s, &err) < 0)
                        j->error = err.code ? err.code : EIO;
        }
        mutex_unlock(&j->lock);
}

/* Append a record to a log, then make it durable through the journal. */
static int log_append(struct store *s, struct store_log *log, char type, const char *p1, size_t n1, const char *p2,
                      size_t n2, bf_error *err)
{
        buf rec = { 0 };
        record_build(&rec, type, p1, n1, p2, n2);
        buf jrec = { 0 };
        char head[64];
        int hl = snprintf(head, sizeof(head), "%016" PRIx64 " %zu\n", log->id, log->size);
        record_build(&jrec, 'J', head, (size_t) hl, rec.p, rec.len);
        int r = rec.oom || jrec.oom ? bf_error_oom(err) : 0;
        /* A log longer than the loader reads would not load again. */
        if (r == 0 && log->size + rec.len > STORE_LOG_MAX)
                r = bf_error_set(err, EFBIG, "the option log would grow past %zu MiB (replacing the list compacts it)",
                                 STORE_LOG_MAX >> 20);
        if (r == 0) {
                /* One write(2): the record reaches the file whole or is cut at the end. */
                int w = fd_write_all(log->fd, rec.p, rec.len);
                if (w < 0)
                        r = bf_error_set(err, -w, "writing the option log: %s", strerror(-w));
        }
        if (r == 0)
                r = journal_commit(&s->journal, jrec.p, jrec.len, err);
        if (r == 0) {
                log->size += rec.len;
        } else if (ftruncate(log->fd, (off_t) log->size) < 0) {
                /* Later records must follow valid ones: stop accepting any. */
                int e = errno;
                mutex_lock(&s->journal.lock);
                if (!s->journal.error)
                        s->journal.error = e;
                mutex_unlock(&s->journal.lock);
        }
        bool large = r == 0 && __atomic_load_n(&s->journal.size, __ATOMIC_RELAXED) > STORE_JOURNAL_MAX;
        buf_free(&rec);
        buf_free(&jrec);
        if (large)
                journal_maybe_reset(s);
        return r;
}

int store_log_acquire(struct store *s, const char *ns, const char *id, struct store_log *log, bf_error *err)
{
        if (log->fd >= 0)
                return 0;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s/" LOG_NAME, ns, id);
        _cleanup_close_ int fd = openat(s->nsfd, path, O_RDWR | O_APPEND | O_CLOEXEC);
        if (fd < 0)
                return sys_error(err, "opening log of", id);
        char head[64] = { 0 }, want[64];
        snprintf(want, sizeof(want), LOG_HEADER_FMT, log->id);
        ssize_t n = pread(fd, head, strlen(want), 0);
        if (n != (ssize_t) strlen(want) || memcmp(head, want, strlen(want)) != 0)
                return bf_error_set(err, EIO, "%s/%s: the option log changed under bundlefs", ns, id);
        log->fd = TAKE_FD(fd);
        log->kept = false;
        return 0;
}

void store_log_release(struct store *s, struct store_log *log)
{
        if (log->fd < 0 || log->kept)
                return;
        if (__atomic_add_fetch(&s->log_fds, 1, __ATOMIC_RELAXED) <= STORE_LOG_FDS_MAX) {
                log->kept = true;
                return;
        }
        __atomic_sub_fetch(&s->log_fds, 1, __ATOMIC_RELAXED);
        close(TAKE_FD(log->fd));
}

void store_log_close(struct store *s, struct store_log *log)
{
        if (log->fd < 0)
                return;
        if (log->kept)
                __atomic_sub_fetch(&s->log_fds, 1, __ATOMIC_RELAXED);
        close(TAKE_FD(log->fd));
        log->kept = false;
}

int store_append_lines(struct store *s, struct store_log *log, const char *text, size_t len, bf_error *err)
{
        return log_append(s, log, 'A', text, len, NULL, 0, err);
}

/* "<count> <number>...\n" */
static void drop_header(buf *out, const uint64_t *drop, size_t ndrop)
{
        buf_printf(out, "%zu", ndrop);
        for (size_t i = 0; i < ndrop; i++)
                buf_printf(out, " %" PRIu64, drop[i]);
        buf_putc(out, '\n');
}

int store_append_control(struct store *s, struct store_log *log, const uint64_t *drop, size_t ndrop,
                         const char *text, size_t len, bf_error *err)
{
        buf head = { 0 };
        drop_header(&head, drop, ndrop);
        int r = head.oom ? bf_error_oom(err) : log_append(s, log, 'C', head.p, head.len, text, len, err);
        buf_free(&head);
        return r;
}

int store_truncate_append(struct store *s, struct store_log *log, size_t keep, const char *text, size_t len,
                          bf_error *err)
{
        char head[32];
        int hl = snprintf(head, sizeof(head), "%zu\n", keep);
        return log_append(s, log, 'T', head, (size_t) hl, text, len, err);
}

int store_append_platform(struct store *s, struct store_log *log, const char *platform, bf_error *err)
{
        return log_append(s, log, 'P', platform, strlen(platform), NULL, 0, err);
}

static uint64_t log_id_new(void)
{
        uint64_t id = 0;
        while (id == 0)
                if (getrandom(&id, sizeof(id), 0) != sizeof(id))
                        id = 0;
        return id;
}

/* Write a complete log (header, platform, runs of lines) to <dirfd>/log.new,
 * sync it and rename it over log. */
static int log_write_new(int dirfd, const char *platform, const struct store_run *runs, size_t nruns,
                         struct store_log *ret, bf_error *err)
{
        _cleanup_close_ int fd = openat(dirfd, LOG_NEW_NAME, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0600);
        if (fd < 0)
                return sys_error(err, "creating", LOG_NEW_NAME);
        uint64_t id = log_id_new();
        buf b = { 0 };
        buf_printf(&b, LOG_HEADER_FMT, id);
        record_build(&b, 'P', platform, strlen(platform), NULL, 0);
        for (size_t i = 0; i < nruns; i++) {
                if (!runs[i].len)
                        continue;
                if (runs[i].by_control)
                        record_build(&b, 'C', "0\n", 2, runs[i].text, runs[i].len);
                else
                        record_build(&b, 'A', runs[i].text, runs[i].len, NULL, 0);
        }
        if (b.oom) {
                buf_free(&b);
                return bf_error_oom(err);
        }
        int r = fd_write_all(fd, b.p, b.len);
        size_t size = b.len;
        buf_free(&b);
        if (r < 0 || fdatasync(fd) < 0)
                return sys_error(err, "writing", LOG_NEW_NAME);
        if (renameat(dirfd, LOG_NEW_NAME, dirfd, LOG_NAME) < 0 || fsync(dirfd) < 0)
                return sys_error(err, "renaming", LOG_NEW_NAME);
        *ret = (struct store_log){ .fd = TAKE_FD(fd), .size = size, .id = id };
        return 0;
}

/* ---- loading ------------------------------------------------------------- */

struct loaded {
        char *platform;
        /* Every line added to the list, numbered by its index; NULL once
         * dropped (by a T or C record). */
        struct optline **lines;
        bool *control;          /* added by a C record: written through a control file */
        size_t n, cap;
        size_t live;
};

static void loaded_free(struct loaded *l)
{
        free(l->platform);
        for (size_t i = 0; i < l->n; i++)
                optline_unref(l->lines[i]);
        free(l->lines);
        free(l->control);
        *l = (struct loaded){ 0 };
}

static int loaded_add_lines(struct loaded *l, const char *p, size_t len, bool control, bf_error *err)
{
        struct optline **lines;
        size_t n;
        int r = optline_parse_text(p, len, &lines, &n, err);
        if (r < 0)
                return r;
        if (l->n + n > l->cap) {
                size_t cap = l->cap ? l->cap : 16;
                while (cap < l->n + n)
                        cap *= 2;
                struct optline **grown = realloc(l->lines, cap * sizeof(*grown));
                bool *cgrown = grown ? realloc(l->control, cap * sizeof(*cgrown)) : NULL;
                if (grown)
                        l->lines = grown;
                if (!cgrown) {
                        optline_free_all(lines, n);
                        return bf_error_oom(err);
                }
                l->control = cgrown;
                l->cap = cap;
        }
        for (size_t i = 0; i < n; i++) {
                l->lines[l->n + i] = lines[i];
                l->control[l->n + i] = control;
        }
        l->n += n;
        l->live += n;
        free(lines);
        return 0;
}

static void loaded_drop(struct loaded *l, size_t i)
{
        optline_unref(TAKE_PTR(l->lines[i]));
        l->live--;
}

/* Apply one log record to what was loaded so far. */
static int loaded_apply(struct loaded *out, char type, const char *p, size_t len, bf_error *err)
{
        if (type == 'P') {
                free(out->platform);
                out->platform = strndup(p, len);
                return out->platform ? 0 : bf_error_oom(err);
        }
        if (type == 'A')
                return loaded_add_lines(out, p, len, false, err);
        const char *nl = memchr(p, '\n', len);
        size_t hl = nl ? (size_t) (nl - p) + 1 : 0;
        if (type == 'T') {
                size_t keep = 0;
                if (!nl || parse_size(p, nl, &keep) != nl || keep > out->live)
                        return bf_error_set(err, EINVAL, "bad T record");
                size_t kept = 0;
                for (size_t i = 0; i < out->n; i++)
                        if (out->lines[i] && kept++ >= keep)
                                loaded_drop(out, i);
                return loaded_add_lines(out, p + hl, len - hl, false, err);
        }
        if (type == 'C') {
                /* "<count> <number>...\n": the lines dropped, then the lines added */
                size_t count = 0, seq;
                const char *q = nl ? parse_size(p, nl, &count) : NULL;
                for (size_t i = 0; q && i < count; i++) {
                        if (q == nl || *q != ' ' || !(q = parse_size(q + 1, nl, &seq)) || seq >= out->n ||
                            !out->lines[seq])
                                q = NULL;
                        else
                                loaded_drop(out, seq);
                }
                if (!q || q != nl)
                        return bf_error_set(err, EINVAL, "bad C record");
                return loaded_add_lines(out, p + hl, len - hl, true, err);
        }
        return bf_error_set(err, EINVAL, "unknown record type '%c'", type);
}

/* The lines left, in canonical form (for a log written anew). */
static void loaded_print(const struct loaded *l, buf *out)
{
        for (size_t i = 0; i < l->n; i++)
                if (l->lines[i]) {
                        buf_put(out, l->lines[i]->text, l->lines[i]->text_len);
                        buf_putc(out, '\n');
                }
}

/* The lines left, with their numbers and provenance, for the caller (who
 * owns the arrays then). */
static int loaded_finish(struct loaded *l, struct store_container *c, bf_error *err)
{
        size_t n = l->live;
        c->lines = malloc((n + 1) * sizeof(*c->lines));
        c->seqs = malloc((n + 1) * sizeof(*c->seqs));
        c->by_control = malloc((n + 1) * sizeof(*c->by_control));
        if (!c->lines || !c->seqs || !c->by_control) {
                free(c->lines);
                free(c->seqs);
                free(c->by_control);
                return bf_error_oom(err);
        }
        size_t k = 0;
        for (size_t i = 0; i < l->n; i++)
                if (l->lines[i]) {
                        c->lines[k] = TAKE_PTR(l->lines[i]);
                        c->seqs[k] = i;
                        c->by_control[k++] = l->control[i];
                }
        c->nlines = k;
        c->next_seq = l->n;
        c->platform = TAKE_PTR(l->platform);
        l->live = 0;
        return 0;
}

/* Parse a log; *valid gets the length of its good prefix. Records past a bad
 * one are not trusted. A format-1 log has no id (*ret_id = 0). */
static int log_parse(const char *data, size_t n, struct loaded *out, uint64_t *ret_id, size_t *valid, bool *torn,
                     bf_error *err)
{
        size_t pos;
        uint64_t id = 0;
        const char *end = data + n;
        size_t v2 = strlen(LOG_HEADER_V2_PREFIX);
        const char *idend;
        if (n >= strlen(LOG_HEADER_V1) && memcmp(data, LOG_HEADER_V1, strlen(LOG_HEADER_V1)) == 0)
                pos = strlen(LOG_HEADER_V1);
        else if (n > v2 && memcmp(data, LOG_HEADER_V2_PREFIX, v2) == 0 &&
                 (idend = parse_hex(data + v2, end, 16, &id)) && idend < end && *idend == '\n' && id)
                pos = (size_t) (idend - data) + 1;
        else
                return bf_error_set(err, EINVAL, "not a bundlefs option log");
        while (pos < n) {
                char type;
                const char *payload;
                size_t len, next;
                if (!record_parse(data, n, pos, &type, &payload, &len, &next))
                        break;
                int r = loaded_apply(out, type, payload, len, err);
                if (r < 0)
                        return r;
                pos = next;
        }
        *torn = pos < n;
        *valid = pos;
        *ret_id = id;
        if (!out->platform)
                return bf_error_set(err, EINVAL, "the option log has no platform record");
        return 0;
}

/* A container being loaded. */
struct loading {
        char *ns;
        char *id;               /* NULL: the namespace itself */
        struct loaded l;
        struct store_log log;
        buf replayed;           /* journal records its log lacked, to write back */
};

static void loading_free(struct loading *ld)
{
        free(ld->ns);
        free(ld->id);
        loaded_free(&ld->l);
        buf_free(&ld->replayed);
        if (ld->log.fd >= 0)
                close(ld->log.fd);
}

static void warnf(void (*warn)(void *, const char *), void *userdata, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void warnf(void (*warn)(void *, const char *), void *userdata, const char *fmt, ...)
{
        if (!warn)
                return;
        char msg[BF_ERROR_MAX + 256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        warn(userdata, msg);
}

static int load_container(int nsdirfd, const char *ns, const char *id, struct loading *ret,
                          void (*warn)(void *, const char *), void *userdata, bf_error *err)
{
        _cleanup_close_ int cdir = openat(nsdirfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cdir < 0)
                return sys_error(err, "opening container", id);
        _cleanup_close_ int fd = openat(cdir, LOG_NAME, O_RDWR | O_APPEND | O_CLOEXEC);
        if (fd < 0)
                return sys_error(err, "opening log of", id);
        _cleanup_free_ char *data = NULL;
        size_t n = 0;
        int r = fd_read_all(fd, LOG_NAME, STORE_LOG_MAX, &data, &n, err);
        if (r < 0)
                return r;
        struct loaded l = { 0 };
        size_t valid = 0;
        bool torn = false;
        uint64_t log_id = 0;
        r = log_parse(data, n, &l, &log_id, &valid, &torn, err);
        if (r == 0 && torn) {
                /* The tail was never acknowledged, or the journal has it: cut it
                 * before appending again. */
                if (ftruncate(fd, (off_t) valid) < 0 || fdatasync(fd) < 0)
                        r = sys_error(err, "truncating log of", id);
                else
                        warnf(warn, userdata, "%s/%s: dropped %zu bytes of an unfinished write from the log", ns, id,
                              n - valid);
        }
        if (r == 0 && log_id == 0) {
                /* A format-1 log: give it an id, so the journal can name it. */
                buf text = { 0 };
                loaded_print(&l, &text);
                struct store_log nl = { .fd = -1 };
                struct store_run run = { .text = text.p ? text.p : "", .len = text.len };
                r = text.oom ? bf_error_oom(err) : log_write_new(cdir, l.platform, &run, 1, &nl, err);
                buf_free(&text);
                if (r == 0) {
                        close(fd);
                        fd = nl.fd;
                        valid = nl.size;
                        log_id = nl.id;
                        /* numbered afresh, as the new log numbers them */
                        struct loaded again = { .platform = TAKE_PTR(l.platform) };
                        for (size_t i = 0; r == 0 && i < l.n; i++)
                                if (l.lines[i])
                                        r = loaded_add_lines(&again, l.lines[i]->text, l.lines[i]->text_len, false,
                                                             err);
                        loaded_free(&l);
                        l = again;
                }
        }
        char *nsc = strdup(ns), *idc = strdup(id);
        if (r == 0 && (!nsc || !idc))
                r = bf_error_oom(err);
        if (r < 0) {
                free(nsc);
                free(idc);
                loaded_free(&l);
                return r;
        }
        *ret = (struct loading){
                .ns = nsc,
                .id = idc,
                .l = l,
                .log = { .fd = TAKE_FD(fd), .size = valid, .id = log_id },
        };
        return 0;
}

static int name_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* A container a crash left half made (".new-<id>") or half removed
 * (".del-<id>"): neither was acknowledged. Left in place it would make its
 * namespace impossible to remove, and the next removal of <id> fail. Its
 * rootfs is removed only when empty (it always is: one is made empty, the
 * other had lost its rootfs already). */
static void remove_leftover(int dirfd, const char *name)
{
        _cleanup_close_ int cdir = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cdir < 0)
                return;
        unlinkat(cdir, LOG_NAME, 0);
        unlinkat(cdir, LOG_NEW_NAME, 0);
        unlinkat(cdir, "rootfs", AT_REMOVEDIR);
        if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0)
                (void) fsync(dirfd);
}

/* Directory entries that are identifiers, sorted; leftovers of unfinished
 * creations and removals are removed. */
static int list_dir(int dirfd, char ***ret, size_t *ret_n, bf_error *err)
{
        int fd = dup(dirfd);
        if (fd < 0)
                return sys_error(err, "listing", "directory");
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return sys_error(err, "listing", "directory");
        }
        rewinddir(d);
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strncmp(de->d_name, ".new-", 5) == 0 || strncmp(de->d_name, ".del-", 5) == 0)
                        remove_leftover(fd, de->d_name);
                if (!identifier_valid(de->d_name))
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        char **nn = realloc(names, cap * sizeof(*nn));
                        if (!nn)
                                break;
                        names = nn;
                }
                if (!(names[n] = strdup(de->d_name)))
                        break;
                n++;
        }
        closedir(d);
        if (n)
                qsort(names, n, sizeof(*names), name_cmp);
        *ret = names;
        *ret_n = n;
        return 0;
}

static void free_names(char **names, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

static int by_log_id(const void *a, const void *b)
{
        uint64_t x = (*(struct loading *const *) a)->log.id, y = (*(struct loading *const *) b)->log.id;
        return x < y ? -1 : x > y;
}

/* Write journal records back into logs that lack them (their unsynced tail
 * was lost), then empty the journal. */
static int journal_replay(struct store *s, struct loading *all, size_t n, void (*warn)(void *, const char *),
                          void *userdata, bf_error *err)
{
        struct journal *j = &s->journal;
        _cleanup_close_ int fd = openat(s->dirfd, JOURNAL_NAME, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return sys_error(err, "opening", JOURNAL_NAME);
        _cleanup_free_ char *data = NULL;
        size_t size = 0;
        int r = fd_read_all(fd, JOURNAL_NAME, STORE_LOG_MAX, &data, &size, err);
        if (r < 0)
                return r;
        size_t hl = strlen(JOURNAL_HEADER);
        if (size == 0) {
                if (fd_write_all(fd, JOURNAL_HEADER, hl) < 0 || fdatasync(fd) < 0 || fsync(s->dirfd) < 0)
                        return sys_error(err, "creating", JOURNAL_NAME);
                j->fd = TAKE_FD(fd);
                j->size = hl;
                return 0;
        }
        if (size < hl || memcmp(data, JOURNAL_HEADER, hl) != 0)
                return bf_error_set(err, EINVAL, "%s/%s: not a bundlefs journal", s->path, JOURNAL_NAME);

        _cleanup_free_ struct loading **index = calloc(n ? n : 1, sizeof(*index));
        if (!index)
                return bf_error_oom(err);
        size_t ni = 0;
        for (size_t i = 0; i < n; i++)
                if (all[i].id)
                        index[ni++] = &all[i];
        qsort(index, ni, sizeof(*index), by_log_id);

        size_t pos = hl, replayed = 0;
        while (pos < size) {
                char type;
                const char *p;
                size_t len, next;
                if (!record_parse(data, size, pos, &type, &p, &len, &next) || type != 'J')
                        break;  /* a torn tail: never acknowledged */
                pos = next;
                /* "<log id> <offset>\n", then the log's record. */
                const char *nl = memchr(p, '\n', len), *q;
                uint64_t id;
                size_t offset;
                if (!nl || !(q = parse_hex(p, nl, 16, &id)) || q == nl || *q != ' ' ||
                    parse_size(q + 1, nl, &offset) != nl)
                        continue;
                const char *rec = nl + 1;
                size_t rec_len = len - (size_t) (rec - p);
                struct loading key = { .log = { .id = id } }, *kp = &key;
                struct loading **found = bsearch(&kp, index, ni, sizeof(*index), by_log_id);
                if (!found)
                        continue;       /* its container was removed, or its list replaced */
                struct loading *ld = *found;
                if (ld->log.size > offset)
                        continue;       /* the log has it */
                if (ld->log.size < offset) {
                        warnf(warn, userdata, "%s/%s: a journal record past the end of the log, skipped", ld->ns,
                              ld->id);
                        continue;
                }
                char rtype;
                const char *payload;
                size_t plen, rnext;
                if (!record_parse(rec, rec_len, 0, &rtype, &payload, &plen, &rnext) || rnext != rec_len)
                        continue;
                if ((r = loaded_apply(&ld->l, rtype, payload, plen, err)) < 0)
                        return r;
                buf_put(&ld->replayed, rec, rec_len);
                if (ld->replayed.oom)
                        return bf_error_oom(err);
                ld->log.size += rec_len;
                replayed++;
        }
        /* One write per log, not one per record. */
        for (size_t i = 0; i < ni; i++) {
                struct loading *ld = index[i];
                if (ld->replayed.len && fd_write_all(ld->log.fd, ld->replayed.p, ld->replayed.len) < 0)
                        return sys_error(err, "writing log of", ld->id);
                buf_free(&ld->replayed);
        }
        if (replayed)
                warnf(warn, userdata, "wrote %zu records back from the journal", replayed);
        j->fd = TAKE_FD(fd);
        j->size = size;
        return size > hl ? journal_reset(s, err) : 0;
}

int store_load(struct store *s, store_visit_fn visit, void *userdata, void (*warn)(void *, const char *),
               bf_error *err)
{
        char **nss = NULL;
        size_t nns = 0;
        int r = list_dir(s->nsfd, &nss, &nns, err);
        if (r < 0)
                return r;
        struct loading *all = NULL;
        size_t n = 0, cap = 0;
        for (size_t i = 0; i < nns && r == 0; i++) {
                _cleanup_close_ int nsdir = openat(s->nsfd, nss[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (nsdir < 0)
                        continue;
                char **ids = NULL;
                size_t nids = 0;
                r = list_dir(nsdir, &ids, &nids, err);
                if (r == 0 && n + nids + 1 > cap) {
                        size_t ncap = cap ? cap : 64;
                        while (ncap < n + nids + 1)
                                ncap *= 2;
                        struct loading *grown = realloc(all, ncap * sizeof(*all));
                        if (grown) {
                                all = grown;
                                cap = ncap;
                        } else {
                                r = bf_error_oom(err);
                        }
                }
                if (r == 0) {
                        all[n] = (struct loading){ .ns = strdup(nss[i]), .log = { .fd = -1 } };
                        r = all[n++].ns ? 0 : bf_error_oom(err);
                }
                for (size_t k = 0; k < nids && r == 0; k++) {
                        bf_error cerr = { 0 };
                        if (load_container(nsdir, nss[i], ids[k], &all[n], warn, userdata, &cerr) == 0)
                                n++;
                        else
                                warnf(warn, userdata, "%s/%s: not loaded (left on disk): %s", nss[i], ids[k],
                                      cerr.msg);
                }
                free_names(ids, nids);
        }
        free_names(nss, nns);
        if (r == 0)
                r = journal_replay(s, all, n, warn, userdata, err);
        for (size_t i = 0; i < n; i++) {
                if (r == 0) {
                        struct store_container c = {
                                .ns = all[i].ns,
                                .id = all[i].id,
                                .log = all[i].log,
                        };
                        int v = all[i].id ? loaded_finish(&all[i].l, &c, err) : 0;
                        if (v < 0) {
                                r = v;
                                loading_free(&all[i]);
                                continue;
                        }
                        v = visit(userdata, &c);
                        /* What the callback did not take. */
                        free(c.platform);
                        optline_free_all(c.lines, c.nlines);
                        free(c.seqs);
                        free(c.by_control);
                        if (v == 0) {
                                /* The callback owns these now. */
                                all[i].log.fd = -1;
                        } else if (all[i].id) {
                                warnf(warn, userdata, "%s/%s: not loaded (left on disk): %s", all[i].ns, all[i].id,
                                      strerror(-v));
                        } else {
                                r = bf_error_set(err, -v, "namespace %s: %s", all[i].ns, strerror(-v));
                        }
                }
                loading_free(&all[i]);
        }
        free(all);
        return r;
}

/* ---- namespaces and containers ------------------------------------------- */

int store_namespace_create(struct store *s, const char *ns, bf_error *err)
{
        if (mkdirat(s->nsfd, ns, 0755) < 0)
                return sys_error(err, "creating namespace", ns);
        if (fsync(s->nsfd) < 0)
                return sys_error(err, "syncing", "namespaces");
        return 0;
}

int store_namespace_remove(struct store *s, const char *ns, bf_error *err)
{
        if (unlinkat(s->nsfd, ns, AT_REMOVEDIR) < 0)
                return sys_error(err, "removing namespace", ns);
        if (fsync(s->nsfd) < 0)
                return sys_error(err, "syncing", "namespaces");
        return 0;
}

int store_namespace_rename(struct store *s, const char *from, const char *to, bf_error *err)
{
        if (renameat2(s->nsfd, from, s->nsfd, to, RENAME_NOREPLACE) < 0)
                return sys_error(err, "renaming namespace", from);
        if (fsync(s->nsfd) < 0)
                return sys_error(err, "syncing", "namespaces");
        return 0;
}

int store_container_create(struct store *s, const char *ns, const char *id, const char *platform,
                           struct store_log *ret_log, bf_error *err)
{
        _cleanup_close_ int nsdir = openat(s->nsfd, ns, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (nsdir < 0)
                return sys_error(err, "opening namespace", ns);
        /* Built under a temporary name and renamed into place whole. */
        char tmp[128];
        snprintf(tmp, sizeof(tmp), ".new-%s", id);
        if (mkdirat(nsdir, tmp, 0755) < 0 && errno != EEXIST)
                return sys_error(err, "creating", tmp);
        _cleanup_close_ int cdir = openat(nsdir, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct store_log log = { .fd = -1 };
        int r = cdir < 0 ? sys_error(err, "opening", tmp) :
                mkdirat(cdir, "rootfs", 0755) < 0 && errno != EEXIST ? sys_error(err, "creating", "rootfs") :
                log_write_new(cdir, platform, NULL, 0, &log, err);
        if (r == 0 && renameat2(nsdir, tmp, nsdir, id, RENAME_NOREPLACE) < 0) {
                int e = errno;
                close(TAKE_FD(log.fd));
                r = bf_error_set(err, e, "creating container %s: %s", id, strerror(e));
        }
        if (r < 0) {
                /* A failed mkdir leaves nothing behind (a namespace holding a
                 * half-made container could not be removed). */
                if (cdir >= 0) {
                        unlinkat(cdir, LOG_NEW_NAME, 0);
                        unlinkat(cdir, LOG_NAME, 0);
                        unlinkat(cdir, "rootfs", AT_REMOVEDIR);
                }
                unlinkat(nsdir, tmp, AT_REMOVEDIR);
                return r;
        }
        if (fsync(nsdir) < 0) {
                close(log.fd);
                return sys_error(err, "syncing namespace", ns);
        }
        *ret_log = log;
        return 0;
}

int store_container_remove(struct store *s, const char *ns, const char *id, bf_error *err)
{
        _cleanup_close_ int nsdir = openat(s->nsfd, ns, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (nsdir < 0)
                return sys_error(err, "opening namespace", ns);
        /* The rootfs goes first, and only if empty: nothing else has changed
         * when it is not (ENOTEMPTY). A container found without one later gets
         * an empty one. */
        char path[256];
        snprintf(path, sizeof(path), "%s/rootfs", id);
        if (unlinkat(nsdir, path, AT_REMOVEDIR) < 0 && errno != ENOENT) {
                if (errno == ENOTEMPTY || errno == EEXIST)
                        return bf_error_set(err, ENOTEMPTY, "%s/%s: the rootfs is not empty", ns, id);
                return sys_error(err, "removing the rootfs of", id);
        }
        /* Renamed away, so a crash never leaves a half-removed container. */
        char tmp[128];
        snprintf(tmp, sizeof(tmp), ".del-%s", id);
        if (renameat(nsdir, id, nsdir, tmp) < 0)
                return sys_error(err, "removing container", id);
        if (fsync(nsdir) < 0)
                return sys_error(err, "syncing namespace", ns);
        _cleanup_close_ int cdir = openat(nsdir, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cdir >= 0) {
                unlinkat(cdir, LOG_NAME, 0);
                unlinkat(cdir, LOG_NEW_NAME, 0);
        }
        if (unlinkat(nsdir, tmp, AT_REMOVEDIR) < 0)
                return sys_error(err, "removing container", id);
        return fsync_dir_at(s->nsfd, ns, err);
}

int store_container_rename(struct store *s, const char *ns, const char *id, const char *to_ns, const char *to_id,
                           bf_error *err)
{
        _cleanup_close_ int from = openat(s->nsfd, ns, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int to = openat(s->nsfd, to_ns, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (from < 0 || to < 0)
                return sys_error(err, "opening namespace", from < 0 ? ns : to_ns);
        if (renameat2(from, id, to, to_id, RENAME_NOREPLACE) < 0)
                return sys_error(err, "renaming container", id);
        if (fsync(to) < 0 || (strcmp(ns, to_ns) != 0 && fsync(from) < 0))
                return sys_error(err, "syncing namespace", to_ns);
        return 0;
}

int store_rootfs_empty(struct store *s, const char *ns, const char *id, bool *ret, bf_error *err)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s/rootfs", ns, id);
        int fd = openat(s->nsfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return sys_error(err, "opening", path);
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return sys_error(err, "listing", path);
        }
        bool empty = true;
        struct dirent *de;
        while (empty && (de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        empty = false;
        closedir(d);
        *ret = empty;
        return 0;
}

int store_dir_stat(struct store *s, const char *ns, const char *id, struct stat *ret, struct timespec *ret_birth)
{
        char path[512];
        if (!ns)
                snprintf(path, sizeof(path), ".");
        else if (!id)
                snprintf(path, sizeof(path), "%s", ns);
        else
                snprintf(path, sizeof(path), "%s/%s", ns, id);
        struct statx x;
        if (statx(s->nsfd, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &x) < 0)
                return -errno;
        *ret = (struct stat){
                .st_dev = makedev(x.stx_dev_major, x.stx_dev_minor),
                .st_ino = x.stx_ino,
                .st_mode = x.stx_mode,
                .st_nlink = x.stx_nlink,
                .st_uid = x.stx_uid,
                .st_gid = x.stx_gid,
                .st_size = (off_t) x.stx_size,
                .st_atim = { .tv_sec = x.stx_atime.tv_sec, .tv_nsec = x.stx_atime.tv_nsec },
                .st_mtim = { .tv_sec = x.stx_mtime.tv_sec, .tv_nsec = x.stx_mtime.tv_nsec },
                .st_ctim = { .tv_sec = x.stx_ctime.tv_sec, .tv_nsec = x.stx_ctime.tv_nsec },
        };
        if (ret_birth)
                *ret_birth = (x.stx_mask & STATX_BTIME) ?
                                     (struct timespec){ .tv_sec = x.stx_btime.tv_sec, .tv_nsec = x.stx_btime.tv_nsec } :
                                     (struct timespec){ 0 };
        return 0;
}

char *store_rootfs_path(const struct store *s, const char *ns, const char *id)
{
        char *p;
        if (asprintf(&p, "%s/namespaces/%s/%s/rootfs", s->path, ns, id) < 0)
                return NULL;
        return p;
}

int store_rewrite(struct store *s, const char *ns, const char *id, const char *platform, const struct store_run *runs,
                  size_t nruns, struct store_log *ret_log, bf_error *err)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", ns, id);
        _cleanup_close_ int cdir = openat(s->nsfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cdir < 0)
                return sys_error(err, "opening container", path);
        return log_write_new(cdir, platform, runs, nruns, ret_log, err);
}

int store_replace(struct store *s, const char *ns, const char *id, const char *platform, const char *text,
                  size_t len, struct store_log *ret_log, bf_error *err)
{
        struct store_run run = { .text = text, .len = len };
        return store_rewrite(s, ns, id, platform, &run, 1, ret_log, err);
}
