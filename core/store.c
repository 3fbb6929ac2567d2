#include "store.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

#include "files.h"
#include "optline.h"
#include "util.h"

#define LOG_NAME "log"
#define LOG_NEW_NAME "log.new"
#define LOG_HEADER_V1 "bundlefs-log 1\n"
#define LOG_HEADER_V2_PREFIX "bundlefs-log 2 "
#define LOG_HEADER_FMT LOG_HEADER_V2_PREFIX "%016" PRIx64 "\n"
#define JOURNAL_NAME "journal"
#define JOURNAL_NEW_NAME "journal.new"
#define JOURNAL_HEADER_V1 "bundlefs-journal 1\n"
#define JOURNAL_HEADER_PREFIX "bundlefs-journal 2 "
#define JOURNAL_HEADER_FMT JOURNAL_HEADER_PREFIX "%016" PRIx64 "\n"
#define JOURNAL_HEADER_LEN (sizeof(JOURNAL_HEADER_PREFIX) - 1 + 17)
#define FORMAT_NAME "format"
#define FORMAT_FMT "bundlefs-state %d\n"
#define RECORD_HEADER_MAX 64
/* Young logs synced one by one up to this many; beyond, the file system at once. */
#define YOUNG_SYNC_MAX 16
/* "<ns>/<id>/log.new" and the like: names are identifiers of at most 76 characters. */
#define REL_PATH_MAX 256

/* Journal record types: an append to a log ("<log id> <offset>\n" and the
 * log's record), a log created by a first write ("<log id> <ns>/<id>\n" and
 * the whole new log), and a mark that every young log before it is durable. */
#define JOURNAL_APPEND 'J'
#define JOURNAL_NEW_LOG 'N'
#define JOURNAL_SETTLED 'C'

/* A writer waiting for its journal record to be durable. */
struct ticket {
        struct ticket *next;
        bool done;
        int result;             /* 0: durable; else -errno, nothing of the record can replay */
        uint64_t young_id;      /* a log created by this record: young once durable */
        const char *young_path;
};

/* A log created by a first write whose directory entry may not be durable
 * yet: its journal record names the container, which must not move until
 * it is settled. */
struct young {
        uint64_t id;
        char path[REL_PATH_MAX];        /* "<ns>/<id>" */
};

/* The shared journal and its group commit (see store.h). */
struct journal {
        mutex lock;
        pthread_cond_t done;                    /* a flush ended */
        int fd;
        uint64_t epoch GUARDED_BY(lock);
        size_t size GUARDED_BY(lock);           /* header and records: where the next batch goes */
        buf pending GUARDED_BY(lock);           /* records waiting for the next flush */
        struct ticket *waiting GUARDED_BY(lock);        /* their writers, in order */
        struct ticket **waiting_tail GUARDED_BY(lock);
        bool flushing GUARDED_BY(lock);         /* a writer is flushing a batch */
        int error GUARDED_BY(lock);             /* a flush failed with an unknown outcome: no more writes */
        struct young *young GUARDED_BY(lock);
        size_t nyoung, young_cap, young_reserved GUARDED_BY(lock);
};

/* Descriptors kept in reserve, so that writes and syncs go on when
 * containers have taken every other one (mkdir then fails with EMFILE). */
#define RESERVE_FDS 8

struct store {
        int dirfd;          /* <state> */
        int nsfd;           /* <state>/namespaces */
        int lockfd;
        int format;         /* the version found; 1 is upgraded once loaded */
        char *path;
        unsigned log_fds;   /* log descriptors kept between writes (atomic) */
        mutex reserve_lock;
        int reserve[RESERVE_FDS] GUARDED_BY(reserve_lock);     /* duplicates of dirfd, or -1 */
        rwlock names;
        struct journal journal;
};

rwlock *store_names(struct store *s)
{
        return &s->names;
}

/* ---- errors and paths ------------------------------------------------------ */

/* "<what> <name>: <reason>", the reason of errno e. Messages name things
 * as the tree shows them, never the state directory's own path: they may
 * end up in a container's world-readable `error`. */
static int fail(bf_error *err, int e, const char *what, const char *name)
{
        if (e == ENOSPC || e == EDQUOT)
                return bf_error_set(err, e, "%s %s: no space left on the state directory's file system", what, name);
        return bf_error_set(err, e, "%s %s: %s", what, name, strerror(e));
}

static int sys_error(bf_error *err, const char *what, const char *name)
{
        return fail(err, errno, what, name);
}

/* "<ns>/<id>" or "<ns>/<id>/<leaf>" into out. */
static int rel_path(char out[static REL_PATH_MAX], const char *ns, const char *id, const char *leaf, bf_error *err)
{
        int n = leaf ? snprintf(out, REL_PATH_MAX, "%s/%s/%s", ns, id, leaf) :
                       snprintf(out, REL_PATH_MAX, "%s/%s", ns, id);
        if (n < 0 || n >= REL_PATH_MAX)
                return bf_error_set(err, ENAMETOOLONG, "%s/%s: name too long", ns, id);
        return 0;
}

/* The paths of a container below namespaces/. */
struct cpaths {
        char dir[REL_PATH_MAX];         /* <ns>/<id> */
        char log[REL_PATH_MAX];
        char log_new[REL_PATH_MAX];
        char rootfs[REL_PATH_MAX];
};

static int cpaths_of(struct cpaths *p, const char *ns, const char *id, bf_error *err)
{
        if (snprintf(p->dir, REL_PATH_MAX, "%s/%s", ns, id) >= REL_PATH_MAX ||
            snprintf(p->log, REL_PATH_MAX, "%s/%s/" LOG_NAME, ns, id) >= REL_PATH_MAX ||
            snprintf(p->log_new, REL_PATH_MAX, "%s/%s/" LOG_NEW_NAME, ns, id) >= REL_PATH_MAX ||
            snprintf(p->rootfs, REL_PATH_MAX, "%s/%s/rootfs", ns, id) >= REL_PATH_MAX)
                return bf_error_set(err, ENAMETOOLONG, "%s/%s: name too long", ns, id);
        return 0;
}

/* Give a reserved descriptor back to the system: false when none is left. */
static bool reserve_release(struct store *s)
{
        bool released = false;
        mutex_lock(&s->reserve_lock);
        for (int i = 0; i < RESERVE_FDS && !released; i++)
                if (s->reserve[i] >= 0) {
                        close(TAKE_FD(s->reserve[i]));
                        released = true;
                }
        mutex_unlock(&s->reserve_lock);
        return released;
}

/* Take back what was released, as far as the limit allows; true when the
 * reserve is whole. */
static bool reserve_refill(struct store *s)
{
        bool whole = true;
        mutex_lock(&s->reserve_lock);
        for (int i = 0; i < RESERVE_FDS; i++)
                if (s->reserve[i] < 0 && (s->reserve[i] = fcntl(s->dirfd, F_DUPFD_CLOEXEC, 3)) < 0)
                        whole = false;
        mutex_unlock(&s->reserve_lock);
        return whole;
}

/* openat(2), drawing on the reserve when out of descriptors. */
static int open_at(struct store *s, int dirfd, const char *path, int flags, mode_t mode)
{
        for (;;) {
                int fd = openat(dirfd, path, flags, mode);
                if (fd >= 0 || (errno != EMFILE && errno != ENFILE) || !reserve_release(s))
                        return fd;
        }
}

/* fsync a file or directory below namespaces/ ("" for namespaces/ itself).
 * Out of descriptors, the whole file system is synced instead: a step that
 * must not fail for want of one. */
static int sync_path(struct store *s, const char *rel, int flags, bf_error *err)
{
        if (!*rel)
                return fsync(s->nsfd) < 0 ? sys_error(err, "syncing", "the namespaces") : 0;
        int fd = open_at(s, s->nsfd, rel, flags | O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0 && errno == ENOENT && !(flags & O_DIRECTORY))
                return 0;       /* a log replaced since: the new one was synced */
        if (fd < 0 && (errno == EMFILE || errno == ENFILE))
                return syncfs(s->dirfd) < 0 ? sys_error(err, "syncing", rel) : 0;
        int r = fd < 0 || fsync(fd) < 0 ? sys_error(err, "syncing", rel) : 0;
        if (fd >= 0)
                close(fd);
        reserve_refill(s);
        return r;
}

static int sync_dir(struct store *s, const char *rel, bf_error *err)
{
        return sync_path(s, rel, O_DIRECTORY, err);
}

static int sync_file(struct store *s, const char *rel, bf_error *err)
{
        return sync_path(s, rel, 0, err);
}

static uint64_t random_id(void)
{
        uint64_t id = 0;
        while (id == 0)
                if (getrandom(&id, sizeof(id), 0) != sizeof(id))
                        id = 0;
        return id;
}

/* ---- records ------------------------------------------------------------- */

static void put_hex8(char *at, uint32_t v)
{
        static const char digits[] = "0123456789abcdef";
        for (int i = 7; i >= 0; i--, v >>= 4)
                at[i] = digits[v & 0xf];
}

/* "<type> <length> <crc32>\n", formatted by hand: it is on the path of every
 * write, where printf's format parsing cost more than the rest of the
 * record. */
static void record_header_put(buf *out, char type, size_t len, uint32_t crc)
{
        char h[RECORD_HEADER_MAX], digits[24];
        size_t nd = 0, n = 0;
        do {
                digits[nd++] = (char) ('0' + len % 10);
                len /= 10;
        } while (len);
        h[n++] = type;
        h[n++] = ' ';
        while (nd)
                h[n++] = digits[--nd];
        h[n++] = ' ';
        put_hex8(h + n, crc);
        n += 8;
        h[n++] = '\n';
        buf_put(out, h, n);
}

/* A record's header and the payload, in out. */
static void record_build(buf *out, char type, const char *p1, size_t n1, const char *p2, size_t n2)
{
        uint32_t crc = (uint32_t) crc32(0, (const Bytef *) p1, (uInt) n1);
        if (n2)
                crc = (uint32_t) crc32(crc, (const Bytef *) p2, (uInt) n2);
        record_header_put(out, type, n1 + n2, crc);
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

struct record {
        char type;
        const char *payload;
        size_t len;
        size_t next;            /* where the next record starts */
        size_t crc_at;          /* where the CRC's digits are */
};

/* The header of the record at data[pos..n), without checking its CRC. */
static bool record_header(const char *data, size_t n, size_t pos, struct record *ret)
{
        const char *p = data + pos;
        const char *nl = memchr(p, '\n', n - pos < RECORD_HEADER_MAX ? n - pos : RECORD_HEADER_MAX);
        if (!nl || nl - p < 2 || p[1] != ' ')
                return false;
        size_t len;
        uint64_t crc;
        const char *q = parse_size(p + 2, nl, &len);
        if (!q || q == nl || *q != ' ' || parse_hex(q + 1, nl, 8, &crc) != nl)
                return false;
        size_t body = (size_t) (nl - data) + 1;
        if (len > n - body)
                return false;
        *ret = (struct record){
                .type = p[0],
                .payload = data + body,
                .len = len,
                .next = body + len,
                .crc_at = (size_t) (q + 1 - data),
        };
        return true;
}

/* Parse the record at data[pos..n), its CRC seeded with seed (the journal's
 * epoch; 0 in logs). False for a torn, damaged or foreign record. */
static bool record_parse(const char *data, size_t n, size_t pos, uint32_t seed, struct record *ret)
{
        if (!record_header(data, n, pos, ret))
                return false;
        uint64_t crc = 0;
        parse_hex(data + ret->crc_at, data + n, 8, &crc);
        return (uint32_t) crc32(seed, (const Bytef *) ret->payload, (uInt) ret->len) == (uint32_t) crc;
}

/* ---- the journal ------------------------------------------------------------- */

static uint32_t epoch_seed(uint64_t epoch)
{
        unsigned char b[8];
        for (int i = 0; i < 8; i++)
                b[i] = (unsigned char) (epoch >> (8 * i));
        return (uint32_t) crc32(0, b, sizeof(b));
}

/* Give every record of a batch its CRC, seeded with the epoch it is written in. */
static void batch_seal(buf *batch, uint64_t epoch)
{
        uint32_t seed = epoch_seed(epoch);
        struct record rec;
        for (size_t pos = 0; pos < batch->len && record_header(batch->p, batch->len, pos, &rec); pos = rec.next) {
                put_hex8(batch->p + rec.crc_at, (uint32_t) crc32(seed, (const Bytef *) rec.payload, (uInt) rec.len));
        }
}

/* A journal record built by a writer; its CRC is set when it is written. */
static void journal_record(buf *out, char type, const char *p1, size_t n1, const char *p2, size_t n2)
{
        record_header_put(out, type, n1 + n2, 0);
        buf_put(out, p1, n1);
        buf_put(out, p2, n2);
}

/* Start a new epoch: sync the file system, so that every log holds what the
 * journal says, then write a header with a new epoch. Records of the old
 * one no longer replay. */
static int journal_new_epoch(struct store *s, uint64_t *ret_epoch, bf_error *err)
{
        if (syncfs(s->dirfd) < 0)
                return sys_error(err, "syncing", "the state directory");
        uint64_t epoch = random_id();
        char head[JOURNAL_HEADER_LEN + 1];
        snprintf(head, sizeof(head), JOURNAL_HEADER_FMT, epoch);
        if (pwrite(s->journal.fd, head, JOURNAL_HEADER_LEN, 0) != (ssize_t) JOURNAL_HEADER_LEN ||
            fdatasync(s->journal.fd) < 0)
                return sys_error(err, "writing", "the journal");
        *ret_epoch = epoch;
        return 0;
}

/* Write a sealed batch at offset and make it durable. A write that fails
 * (a file system that must allocate even to overwrite, full) is made
 * unreadable at its first byte, so that nothing of it replays: -errno, and
 * the journal goes on. A failed fdatasync leaves the file's state unknown
 * (the kernel may have dropped the pages it failed to write): *ret_fatal. */
static int journal_write(int fd, const buf *batch, size_t offset, bool *ret_fatal)
{
        ssize_t w = pwrite(fd, batch->p, batch->len, (off_t) offset);
        if (w == (ssize_t) batch->len)
                return fdatasync(fd) < 0 ? (*ret_fatal = true, -EIO) : 0;
        int e = w < 0 ? errno : ENOSPC;
        if (pwrite(fd, "", 1, (off_t) offset) != 1 || fdatasync(fd) < 0)
                *ret_fatal = true;
        return -e;
}

/* Flush everything queued (the caller is the flusher; the lock is let go
 * meanwhile). A batch that does not fit in what is left of the file starts
 * a new epoch instead: syncing the file system makes every queued record's
 * log durable already. */
static void journal_flush(struct store *s, struct journal *j) REQUIRES(j->lock)
{
        j->flushing = true;
        buf batch = j->pending;
        j->pending = (buf){ 0 };
        struct ticket *tickets = j->waiting;
        j->waiting = NULL;
        j->waiting_tail = &j->waiting;
        size_t offset = j->size;
        uint64_t epoch = j->epoch;
        mutex_unlock(&j->lock);

        bool fatal = false, fits = offset + batch.len <= STORE_JOURNAL_SIZE;
        int r = 0;
        bf_error err = { 0 };
        if (fits) {
                batch_seal(&batch, epoch);
                r = journal_write(j->fd, &batch, offset, &fatal);
        } else {
                r = journal_new_epoch(s, &epoch, &err);
                fatal = r < 0;
                offset = JOURNAL_HEADER_LEN;
        }

        mutex_lock(&j->lock);
        if (fatal && !j->error)
                j->error = EIO;
        if (r == 0) {
                j->epoch = epoch;
                j->size = offset + (fits ? batch.len : 0);
                if (!fits)
                        j->nyoung = 0;  /* synced: none is young any more */
        }
        for (struct ticket *t = tickets, *next; t; t = next) {
                next = t->next;
                if (t->young_id) {
                        j->young_reserved--;
                        /* Durable in the journal, not yet where it is (unless synced whole). */
                        if (r == 0 && fits) {
                                struct young *y = &j->young[j->nyoung++];
                                y->id = t->young_id;
                                snprintf(y->path, sizeof(y->path), "%s", t->young_path);
                        }
                }
                t->result = r;
                t->done = true;
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

/* Make room in the young set for a log being created (its record may be
 * durable any moment; adding it then must not fail). */
static int young_reserve(struct journal *j, bf_error *err) REQUIRES(j->lock)
{
        size_t need = j->nyoung + j->young_reserved + 1;
        if (need > j->young_cap) {
                size_t cap = j->young_cap ? 2 * j->young_cap : 64;
                while (cap < need)
                        cap *= 2;
                struct young *grown = realloc(j->young, cap * sizeof(*grown));
                if (!grown)
                        return bf_error_oom(err);
                j->young = grown;
                j->young_cap = cap;
        }
        j->young_reserved++;
        return 0;
}

/* Queue a journal record and wait until it is durable. The first writer to
 * find no flush under way flushes everything queued so far, its own record
 * and those of writers that queued while the previous flush ran: one
 * fdatasync for the whole batch. */
static int journal_commit(struct store *s, const buf *rec, struct ticket *t, bf_error *err)
{
        struct journal *j = &s->journal;
        mutex_lock(&j->lock);
        if (j->error) {
                mutex_unlock(&j->lock);
                return bf_error_set(err, EIO, "writes stopped after a failed flush of the journal "
                                    "(an I/O error: what it held is unknown); restart bundlefs");
        }
        if (t->young_id && young_reserve(j, err) < 0) {
                mutex_unlock(&j->lock);
                return -ENOMEM;
        }
        buf_put(&j->pending, rec->p, rec->len);
        if (j->pending.oom) {
                /* buf_put added nothing; what others queued stays. */
                j->pending.oom = false;
                if (t->young_id)
                        j->young_reserved--;
                mutex_unlock(&j->lock);
                return bf_error_oom(err);
        }
        *j->waiting_tail = t;
        j->waiting_tail = &t->next;
        while (!t->done) {
                if (j->flushing)
                        cond_wait(&j->done, &j->lock);
                else
                        journal_flush(s, j);
        }
        int r = t->result;
        mutex_unlock(&j->lock);
        if (r == -EIO)
                return bf_error_set(err, EIO, "flushing the journal failed with an I/O error: writes stop "
                                    "until bundlefs is restarted");
        return r < 0 ? fail(err, -r, "writing", "the journal") : 0;
}

/* Make every young log durable where it is, and say so in the journal, so
 * that no journal record names a container that is about to move. Renames
 * and removals call this first, holding the names alone (so no log is
 * being created meanwhile). */
static int young_settle(struct store *s, bf_error *err) REQUIRES(store_names(s))
{
        struct journal *j = &s->journal;
        mutex_lock(&j->lock);
        size_t n = j->nyoung;
        _cleanup_free_ struct young *all = n ? malloc(n * sizeof(*all)) : NULL;
        if (all)
                memcpy(all, j->young, n * sizeof(*all));
        mutex_unlock(&j->lock);
        if (n == 0)
                return 0;
        bool whole = !all || n > YOUNG_SYNC_MAX;
        for (size_t i = 0; i < n && !whole; i++) {
                char log[REL_PATH_MAX];
                snprintf(log, sizeof(log), "%s/" LOG_NAME, all[i].path);
                if (sync_file(s, log, err) < 0 || sync_dir(s, all[i].path, err) < 0)
                        whole = true;
        }
        if (whole && syncfs(s->dirfd) < 0)
                return sys_error(err, "syncing", "the state directory");
        _cleanup_(buf_free) buf rec = { 0 };
        journal_record(&rec, JOURNAL_SETTLED, "", 0, "", 0);
        if (rec.oom)
                return bf_error_oom(err);
        struct ticket t = { 0 };
        int r = journal_commit(s, &rec, &t, err);
        if (r < 0)
                return r;
        mutex_lock(&j->lock);
        j->nyoung = 0;
        mutex_unlock(&j->lock);
        return 0;
}

/* A new journal: the file allocated and zero-filled to its full size, so
 * that writing it in place never needs a block, then renamed into place. */
static int journal_create(struct store *s, uint64_t *ret_epoch, bf_error *err)
{
        _cleanup_close_ int fd = open_at(s, s->dirfd, JOURNAL_NEW_NAME, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return sys_error(err, "creating", "the journal");
        int r = fallocate(fd, 0, 0, (off_t) STORE_JOURNAL_SIZE);
        if (r < 0 && errno != EOPNOTSUPP) {
                r = sys_error(err, "allocating", "the journal");
                unlinkat(s->dirfd, JOURNAL_NEW_NAME, 0);
                return r;
        }
        static const char zeros[65536];
        uint64_t epoch = random_id();
        char head[JOURNAL_HEADER_LEN + 1];
        snprintf(head, sizeof(head), JOURNAL_HEADER_FMT, epoch);
        r = fd_write_all(fd, head, JOURNAL_HEADER_LEN);
        for (size_t done = JOURNAL_HEADER_LEN; r == 0 && done < STORE_JOURNAL_SIZE; done += sizeof(zeros)) {
                size_t n = STORE_JOURNAL_SIZE - done < sizeof(zeros) ? STORE_JOURNAL_SIZE - done : sizeof(zeros);
                r = fd_write_all(fd, zeros, n);
        }
        if (r < 0 || fdatasync(fd) < 0 || renameat(s->dirfd, JOURNAL_NEW_NAME, s->dirfd, JOURNAL_NAME) < 0 ||
            fsync(s->dirfd) < 0) {
                r = fail(err, r < 0 ? -r : errno, "creating", "the journal");
                unlinkat(s->dirfd, JOURNAL_NEW_NAME, 0);
                return r;
        }
        if (s->journal.fd >= 0)
                close(s->journal.fd);
        s->journal.fd = TAKE_FD(fd);
        *ret_epoch = epoch;
        return 0;
}

/* ---- opening and closing ------------------------------------------------------ */

static void store_freep(struct store **s)
{
        store_close(*s);
}

static int format_write(struct store *s, int version, bf_error *err)
{
        char text[64];
        int n = snprintf(text, sizeof(text), FORMAT_FMT, version);
        _cleanup_close_ int tmp = openat(s->dirfd, "format.new", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (tmp < 0 || fd_write_all(tmp, text, (size_t) n) < 0 || fsync(tmp) < 0 ||
            renameat(s->dirfd, "format.new", s->dirfd, FORMAT_NAME) < 0 || fsync(s->dirfd) < 0)
                return sys_error(err, "writing", "the state's format version");
        s->format = version;
        return 0;
}

/* Check the format version, or make the directory a state directory: only
 * an empty one may become one. */
static int format_check(struct store *s, const char *path, bf_error *err)
{
        _cleanup_close_ int ffd = openat(s->dirfd, FORMAT_NAME, O_RDONLY | O_CLOEXEC);
        if (ffd < 0 && errno != ENOENT)
                return sys_error(err, "opening", FORMAT_NAME);
        if (ffd < 0) {
                if (mkdirat(s->dirfd, "namespaces", 0700) < 0 && errno != EEXIST)
                        return sys_error(err, "creating", "namespaces");
                return format_write(s, STORE_FORMAT_VERSION, err);
        }
        char text[64] = { 0 };
        if (read(ffd, text, sizeof(text) - 1) < 0)
                return sys_error(err, "reading", FORMAT_NAME);
        unsigned v = 0;
        if (sscanf(text, "bundlefs-state %u", &v) != 1)
                return bf_error_set(err, EINVAL, "%s/format: not a bundlefs state directory", path);
        if (v != 1 && v != STORE_FORMAT_VERSION)
                return bf_error_set(err, EINVAL, "%s: state format %u, this bundlefs reads formats 1 and %d", path,
                                    v, STORE_FORMAT_VERSION);
        s->format = (int) v;
        return 0;
}

int store_open(const char *path, struct store **ret, bf_error *err)
{
        _cleanup_(store_freep) struct store *st = calloc(1, sizeof(*st));
        if (!st)
                return bf_error_oom(err);
        *st = (struct store){ .dirfd = -1, .nsfd = -1, .lockfd = -1, .journal = { .fd = -1 } };
        for (int i = 0; i < RESERVE_FDS; i++)
                st->reserve[i] = -1;
        mutex_init(&st->reserve_lock);
        st->journal.waiting_tail = &st->journal.waiting;
        mutex_init(&st->journal.lock);
        pthread_cond_init(&st->journal.done, NULL);
        rwlock_init(&st->names);
        if (!(st->path = strdup(path)))
                return bf_error_oom(err);
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return bf_error_set(err, errno, "creating state directory %s: %s", path, strerror(errno));
        st->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (st->dirfd < 0)
                return bf_error_set(err, errno, "opening state directory %s: %s", path, strerror(errno));

        st->lockfd = openat(st->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (st->lockfd < 0)
                return sys_error(err, "opening", "lock");
        if (flock(st->lockfd, LOCK_EX | LOCK_NB) < 0)
                return bf_error_set(err, EBUSY, "state directory %s is in use by another bundlefs", path);
        /* Who holds it, for an administrator to see. */
        char pid[32];
        int pl = snprintf(pid, sizeof(pid), "%d\n", (int) getpid());
        if (ftruncate(st->lockfd, 0) < 0 || pwrite(st->lockfd, pid, (size_t) pl, 0) != pl)
                return sys_error(err, "writing", "lock");

        int r = format_check(st, path, err);
        if (r < 0)
                return r;
        st->nsfd = openat(st->dirfd, "namespaces", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (st->nsfd < 0)
                return sys_error(err, "opening", "namespaces");
        if (!reserve_refill(st))
                return sys_error(err, "reserving descriptors for", "the state directory");
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
        for (int i = 0; i < RESERVE_FDS; i++)
                if (s->reserve[i] >= 0)
                        close(s->reserve[i]);
        mutex_destroy(&s->reserve_lock);
        buf_free(&s->journal.pending);
        free(s->journal.young);
        mutex_destroy(&s->journal.lock);
        pthread_cond_destroy(&s->journal.done);
        rwlock_destroy(&s->names);
        free(s->path);
        free(s);
}

int store_statvfs(struct store *s, struct statvfs *ret)
{
        return fstatvfs(s->dirfd, ret) < 0 ? -errno : 0;
}

/* ---- logs ------------------------------------------------------------------------ */

/* A log's first bytes: its header and the platform record. */
static void log_head(buf *out, uint64_t id, const char *platform)
{
        buf_printf(out, LOG_HEADER_FMT, id);
        record_build(out, 'P', platform, strlen(platform), NULL, 0);
}

/* A write the journal did not take: cut the record off the log again, and
 * sync that, so that nothing of a refused write can come back. A log that
 * was being created goes again (emptied and synced first: an empty log is
 * no log, should the unlink not last). A log that cannot be cut back takes
 * no more appends (its tail is dropped when it is loaded). */
static void log_cut(struct store *s, struct store_log *log, const char *young_log)
{
        if (log->young) {
                (void) (ftruncate(log->fd, 0) == 0 && fdatasync(log->fd) == 0);
                unlinkat(s->nsfd, young_log, 0);
                store_log_close(s, log);
                *log = (struct store_log){ .fd = -1 };
                return;
        }
        if (ftruncate(log->fd, (off_t) log->size) < 0 || fdatasync(log->fd) < 0)
                log->damaged = true;
}

/* Append a record to a log, then make it durable through the journal. */
static int log_append(struct store *s, struct store_log *log, char type, const char *p1, size_t n1, const char *p2,
                      size_t n2, bf_error *err)
{
        if (log->damaged)
                return bf_error_set(err, EIO, "the option log could not be cut back after a failed write; "
                                    "restart bundlefs");
        _cleanup_(buf_free) buf rec = { 0 };
        record_build(&rec, type, p1, n1, p2, n2);
        if (rec.oom)
                return bf_error_oom(err);
        /* A log longer than the loader reads would not load again. */
        if (log->size + rec.len > STORE_LOG_MAX)
                return bf_error_set(err, EFBIG, "the option log would grow past %zu MiB (replacing the list compacts it)",
                                    STORE_LOG_MAX >> 20);
        _cleanup_(buf_free) buf jrec = { 0 };
        struct ticket t = { 0 };
        char young_dir[REL_PATH_MAX] = "", young_log[REL_PATH_MAX] = "";
        if (log->young) {
                /* The whole new log, and where it is ("<log id> <ns>/<id>\n" first). */
                journal_record(&jrec, JOURNAL_NEW_LOG, log->young, log->young_len, rec.p, rec.len);
                const char *name = log->young + 17, *nl = memchr(name, '\n', log->young_len - 17);
                snprintf(young_dir, sizeof(young_dir), "%.*s", (int) (nl - name), name);
                snprintf(young_log, sizeof(young_log), "%s/" LOG_NAME, young_dir);
                t.young_id = log->id;
                t.young_path = young_dir;
        } else {
                char head[64];
                int hl = snprintf(head, sizeof(head), "%016" PRIx64 " %zu\n", log->id, log->size);
                journal_record(&jrec, JOURNAL_APPEND, head, (size_t) hl, rec.p, rec.len);
        }
        if (jrec.oom) {
                log_cut(s, log, young_log);
                return bf_error_oom(err);
        }
        /* One write(2): the record reaches the file whole or is cut at the end. */
        int r = fd_write_all(log->fd, rec.p, rec.len);
        if (r < 0) {
                r = fail(err, -r, "writing", "the option log");
                log_cut(s, log, young_log);
                return r;
        }
        r = journal_commit(s, &jrec, &t, err);
        if (r < 0) {
                log_cut(s, log, young_log);
                return r;
        }
        log->size += rec.len;
        free(TAKE_PTR(log->young));
        log->young_len = 0;
        return 0;
}

/* A first write's log: header and platform written (not synced); the
 * append that follows makes all of it durable through the journal. */
static int log_create(struct store *s, const char *ns, const char *id, const char *platform, struct store_log *log,
                      bf_error *err)
{
        char rel[REL_PATH_MAX];
        int r = rel_path(rel, ns, id, LOG_NAME, err);
        if (r < 0)
                return r;
        uint64_t log_id = random_id();
        _cleanup_(buf_free) buf young = { 0 };
        buf_printf(&young, "%016" PRIx64 " %s/%s\n", log_id, ns, id);
        size_t head_at = young.len;
        log_head(&young, log_id, platform);
        if (young.oom)
                return bf_error_oom(err);
        _cleanup_close_ int fd = open_at(s, s->nsfd, rel, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0)
                return sys_error(err, "creating the option log of", id);
        r = fd_write_all(fd, young.p + head_at, young.len - head_at);
        if (r < 0) {
                r = fail(err, -r, "writing", "the option log");
                unlinkat(s->nsfd, rel, 0);
                return r;
        }
        size_t len = young.len;
        *log = (struct store_log){
                .fd = TAKE_FD(fd),
                .size = len - head_at,
                .id = log_id,
                .young = buf_steal(&young, &len),
                .young_len = len,
        };
        return 0;
}

int store_log_acquire(struct store *s, const char *ns, const char *id, const char *platform, struct store_log *log,
                      bf_error *err)
{
        if (log->fd >= 0)
                return 0;
        if (log->id == 0)
                return log_create(s, ns, id, platform, log, err);
        char rel[REL_PATH_MAX];
        int r = rel_path(rel, ns, id, LOG_NAME, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = open_at(s, s->nsfd, rel, O_RDWR | O_APPEND | O_CLOEXEC, 0);
        if (fd < 0)
                return sys_error(err, "opening the option log of", id);
        char head[64] = { 0 }, want[64];
        int wl = snprintf(want, sizeof(want), LOG_HEADER_FMT, log->id);
        if (pread(fd, head, (size_t) wl, 0) != wl || memcmp(head, want, (size_t) wl) != 0)
                return bf_error_set(err, EIO, "%s/%s: the option log changed under bundlefs", ns, id);
        log->fd = TAKE_FD(fd);
        log->kept = false;
        return 0;
}

void store_log_release(struct store *s, struct store_log *log)
{
        if (log->fd < 0 || log->kept)
                return;
        /* The reserve first: a descriptor it lent is given back. */
        if (!reserve_refill(s)) {
                close(TAKE_FD(log->fd));
                reserve_refill(s);
                return;
        }
        if (__atomic_add_fetch(&s->log_fds, 1, __ATOMIC_RELAXED) <= STORE_LOG_FDS_MAX) {
                log->kept = true;
                return;
        }
        __atomic_sub_fetch(&s->log_fds, 1, __ATOMIC_RELAXED);
        close(TAKE_FD(log->fd));
}

void store_log_close(struct store *s, struct store_log *log)
{
        free(TAKE_PTR(log->young));
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

/* Write a complete log (header, platform, runs of lines: A records, or C
 * records dropping nothing for lines a control file wrote) to
 * <dir>/log.new, sync it and rename it over <dir>/log, then sync <dir>. */
static int log_write_new(struct store *s, const struct cpaths *p, const char *platform, const struct store_run *runs,
                         size_t nruns, struct store_log *ret, bf_error *err)
{
        const char *dir = p->dir, *tmp = p->log_new, *rel = p->log;
        uint64_t id = random_id();
        _cleanup_(buf_free) buf b = { 0 };
        log_head(&b, id, platform);
        for (size_t i = 0; i < nruns; i++) {
                if (!runs[i].len)
                        continue;
                if (runs[i].by_control)
                        record_build(&b, 'C', "0\n", 2, runs[i].text, runs[i].len);
                else
                        record_build(&b, 'A', runs[i].text, runs[i].len, NULL, 0);
        }
        if (b.oom)
                return bf_error_oom(err);
        if (b.len > STORE_LOG_MAX)
                return bf_error_set(err, EFBIG, "the option log would be larger than %zu MiB", STORE_LOG_MAX >> 20);
        _cleanup_close_ int fd = open_at(s, s->nsfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0600);
        if (fd < 0)
                return sys_error(err, "creating a new option log for", dir);
        int r = fd_write_all(fd, b.p, b.len);
        if (r < 0 || fdatasync(fd) < 0) {
                r = fail(err, r < 0 ? -r : errno, "writing a new option log for", dir);
                unlinkat(s->nsfd, tmp, 0);
                return r;
        }
        if (renameat(s->nsfd, tmp, s->nsfd, rel) < 0) {
                r = sys_error(err, "renaming the new option log of", dir);
                unlinkat(s->nsfd, tmp, 0);
                return r;
        }
        r = sync_dir(s, dir, err);
        if (r < 0) {
                /* The new log is in place, maybe not for good: what the disk
                 * holds is unknown, as after a failed flush. */
                mutex_lock(&s->journal.lock);
                s->journal.error = EIO;
                mutex_unlock(&s->journal.lock);
                return r;
        }
        *ret = (struct store_log){ .fd = TAKE_FD(fd), .size = b.len, .id = id };
        return 0;
}

int store_rewrite(struct store *s, const char *ns, const char *id, const char *platform, const struct store_run *runs,
                  size_t nruns, struct store_log *ret_log, bf_error *err)
{
        struct cpaths p;
        int r = cpaths_of(&p, ns, id, err);
        if (r < 0)
                return r;
        mutex_lock(&s->journal.lock);
        int stopped = s->journal.error;
        mutex_unlock(&s->journal.lock);
        if (stopped)
                return bf_error_set(err, EIO, "writes stopped after a failed flush (an I/O error); restart bundlefs");
        return log_write_new(s, &p, platform, runs, nruns, ret_log, err);
}

int store_replace(struct store *s, const char *ns, const char *id, const char *platform, const char *text,
                  size_t len, struct store_log *ret_log, bf_error *err)
{
        struct store_run run = { .text = text, .len = len };
        return store_rewrite(s, ns, id, platform, &run, 1, ret_log, err);
}

/* ---- loading ------------------------------------------------------------- */

/* What the whole load may take, and has taken so far. */
struct budget {
        size_t list_max, total_max;     /* 0: no limit */
        size_t total;
};

struct loaded {
        char *platform;
        /* Every line added to the list, numbered by its index; NULL once
         * dropped (by a T or C record). */
        struct optline **lines;
        bool *control;          /* added by a C record: written through a control file */
        size_t n, cap;
        size_t live;            /* lines not dropped */
        size_t footprint;       /* what they hold */
        struct budget *budget;
        int over;               /* a limit was passed (EFBIG, ENOMEM): records are checked, lines not kept */
        char reason[160];
};

static void lines_free(struct loaded *l)
{
        for (size_t i = 0; i < l->n; i++)
                optline_unref(l->lines[i]);
        free(TAKE_PTR(l->lines));
        free(TAKE_PTR(l->control));
        l->n = l->cap = l->live = 0;
        if (l->budget)
                l->budget->total -= l->footprint;
        l->footprint = 0;
}

static void loaded_free(struct loaded *l)
{
        free(TAKE_PTR(l->platform));
        lines_free(l);
}

/* The list no longer fits: its lines go, its records are still checked. */
static void loaded_over(struct loaded *l, int code)
{
        struct budget *b = l->budget;
        if (code == EFBIG)
                snprintf(l->reason, sizeof(l->reason), "its option list would take more than %zu MiB of memory, "
                         "the limit of one list (a quarter of --max-memory)", b->list_max >> 20);
        else
                snprintf(l->reason, sizeof(l->reason), "the option lists would take more than %zu MiB of memory "
                         "in all (--max-memory)", b->total_max >> 20);
        lines_free(l);
        l->over = code;
}

static int loaded_add_lines(struct loaded *l, const char *p, size_t len, bool control, bf_error *err)
{
        if (l->over)
                return 0;
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
        size_t more = 0;
        for (size_t i = 0; i < n; i++) {
                more += optline_footprint(lines[i]);
                l->lines[l->n + i] = lines[i];
                l->control[l->n + i] = control;
        }
        l->n += n;
        l->live += n;
        free(lines);
        l->footprint += more;
        struct budget *b = l->budget;
        if (!b)
                return 0;
        b->total += more;
        if (b->list_max && l->footprint > b->list_max)
                loaded_over(l, EFBIG);
        else if (b->total_max && b->total > b->total_max)
                loaded_over(l, ENOMEM);
        return 0;
}

static void loaded_drop(struct loaded *l, size_t i)
{
        size_t f = optline_footprint(l->lines[i]);
        l->footprint -= f;
        if (l->budget)
                l->budget->total -= f;
        optline_unref(TAKE_PTR(l->lines[i]));
        l->live--;
}

/* Apply one log record to what was loaded so far. Past a limit (l->over)
 * the lines are gone: a record is checked for its form alone. */
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
                if (!nl || parse_size(p, nl, &keep) != nl || (!out->over && keep > out->live))
                        return bf_error_set(err, EINVAL, "a damaged record (T)");
                size_t kept = 0;
                for (size_t i = 0; !out->over && i < out->n; i++)
                        if (out->lines[i] && kept++ >= keep)
                                loaded_drop(out, i);
                return loaded_add_lines(out, p + hl, len - hl, false, err);
        }
        if (type == 'C') {
                /* "<count> <number>...\n": the lines dropped, then the lines added */
                size_t count = 0, seq;
                const char *q = nl ? parse_size(p, nl, &count) : NULL;
                for (size_t i = 0; q && i < count; i++) {
                        if (q == nl || *q != ' ' || !(q = parse_size(q + 1, nl, &seq)))
                                q = NULL;
                        else if (out->over)
                                continue;
                        else if (seq >= out->n || !out->lines[seq])
                                q = NULL;
                        else
                                loaded_drop(out, seq);
                }
                if (!q || q != nl)
                        return bf_error_set(err, EINVAL, "a damaged record (C)");
                return loaded_add_lines(out, p + hl, len - hl, true, err);
        }
        return bf_error_set(err, EINVAL, "a record of unknown type '%c'", type);
}

/* The lines left, numbered afresh from 0 as a log written anew numbers
 * them. */
static void loaded_renumber(struct loaded *l)
{
        size_t k = 0;
        for (size_t i = 0; i < l->n; i++)
                if (l->lines[i]) {
                        l->lines[k] = l->lines[i];
                        l->control[k++] = l->control[i];
                }
        l->n = k;
}

/* The lines left, in canonical form, in runs by who wrote them (for a log
 * written anew); runs point into text. */
static int loaded_runs(const struct loaded *l, buf *text, struct store_run **ret, size_t *ret_n, bf_error *err)
{
        struct store_run *runs = malloc((l->live + 1) * sizeof(*runs));
        if (!runs)
                return bf_error_oom(err);
        size_t n = 0;
        for (size_t i = 0; i < l->n; i++) {
                if (!l->lines[i])
                        continue;
                size_t at = text->len;
                optline_print(text, l->lines[i]);
                buf_putc(text, '\n');
                if (n && runs[n - 1].by_control == l->control[i])
                        runs[n - 1].len += text->len - at;
                else
                        runs[n++] = (struct store_run){ .by_control = l->control[i], .len = text->len - at };
        }
        if (text->oom) {
                free(runs);
                return bf_error_oom(err);
        }
        /* The text is whole now: point the runs into it. */
        for (size_t i = 0, at = 0; i < n; at += runs[i].len, i++)
                runs[i].text = text->p + at;
        *ret = runs;
        *ret_n = n;
        return 0;
}

/* The lines left, with their numbers and provenance, for the visitor (the
 * store frees whatever it leaves). */
static int loaded_finish(struct loaded *l, struct store_container *c, bf_error *err)
{
        size_t n = l->live;
        c->lines = malloc((n + 1) * sizeof(*c->lines));
        c->seqs = malloc((n + 1) * sizeof(*c->seqs));
        c->by_control = malloc((n + 1) * sizeof(*c->by_control));
        if (!c->lines || !c->seqs || !c->by_control) {
                free(TAKE_PTR(c->lines));
                free(TAKE_PTR(c->seqs));
                free(TAKE_PTR(c->by_control));
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
        c->footprint = l->footprint;
        c->platform = TAKE_PTR(l->platform);
        l->live = 0;
        return 0;
}

/* The records of data[pos..n) applied; where the good ones end. Records
 * past a bad one are not trusted. */
static int records_apply(struct loaded *out, const char *data, size_t n, size_t pos, size_t *ret_valid, bf_error *err)
{
        struct record rec;
        for (; pos < n && record_parse(data, n, pos, 0, &rec); pos = rec.next) {
                int r = loaded_apply(out, rec.type, rec.payload, rec.len, err);
                if (r < 0)
                        return r;
        }
        *ret_valid = pos;
        return 0;
}

/* The header of a log: its id (0 for format 1) and where its records start. */
static bool log_header(const char *data, size_t n, uint64_t *ret_id, size_t *ret_pos)
{
        size_t v1 = strlen(LOG_HEADER_V1), v2 = strlen(LOG_HEADER_V2_PREFIX);
        const char *idend;
        if (n >= v1 && memcmp(data, LOG_HEADER_V1, v1) == 0) {
                *ret_id = 0;
                *ret_pos = v1;
                return true;
        }
        if (n > v2 && memcmp(data, LOG_HEADER_V2_PREFIX, v2) == 0 &&
            (idend = parse_hex(data + v2, data + n, 16, ret_id)) && idend < data + n && *idend == '\n' && *ret_id) {
                *ret_pos = (size_t) (idend - data) + 1;
                return true;
        }
        return false;
}

/* A container being loaded. */
struct loading {
        char *ns;
        char *id;               /* NULL: the namespace itself */
        struct loaded l;
        bool has_log;
        bool rewrite;           /* replayed holds the whole log, made again from the journal */
        struct store_log log;   /* id 0: none, or unreadable */
        buf replayed;           /* journal records its log lacked, to write back */
        int error;              /* the list could not be loaded */
        char reason[BF_ERROR_MAX];
};

static void loading_free(struct loading *ld)
{
        free(ld->ns);
        free(ld->id);
        loaded_free(&ld->l);
        buf_free(&ld->replayed);
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

struct mapping {
        void *p;
        size_t n;
};

static void mapping_done(struct mapping *m)
{
        if (m->p)
                munmap(m->p, m->n);
}

/* A file mapped for reading: its pages are the page cache's, not the
 * daemon's memory, however large the file. */
static int map_file(int fd, const char *name, size_t max, struct mapping *ret, bf_error *err)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return sys_error(err, "reading", name);
        if ((size_t) st.st_size > max)
                return bf_error_set(err, EFBIG, "%s is larger than %zu MiB", name, max >> 20);
        *ret = (struct mapping){ .n = (size_t) st.st_size };
        if (!ret->n)
                return 0;
        ret->p = mmap(NULL, ret->n, PROT_READ, MAP_PRIVATE, fd, 0);
        if (ret->p == MAP_FAILED) {
                ret->p = NULL;
                return sys_error(err, "reading", name);
        }
        return 0;
}

/* Load one container's log into ld (which names it already). A log that
 * cannot be loaded is ld->error, with the reason; the container exists all
 * the same. */
static int load_log(struct store *s, struct loading *ld, void (*warn)(void *, const char *), void *userdata,
                    bf_error *err)
{
        struct cpaths p;
        int r = cpaths_of(&p, ld->ns, ld->id, err);
        if (r < 0)
                return r;
        const char *dir = p.dir, *rel = p.log;
        unlinkat(s->nsfd, p.log_new, 0);        /* a replacement that never finished */

        _cleanup_close_ int fd = open_at(s, s->nsfd, rel, O_RDWR | O_CLOEXEC, 0);
        if (fd < 0 && errno == ENOENT)
                return 0;               /* never written: an empty list */
        if (fd < 0)
                return sys_error(err, "opening the option log of", dir);
        _cleanup_(mapping_done) struct mapping m = { 0 };
        r = map_file(fd, "the option log", STORE_LOG_MAX, &m, err);
        if (r < 0)
                return r;
        if (m.n == 0) {
                /* A first write refused after the log was made. */
                unlinkat(s->nsfd, rel, 0);
                return 0;
        }
        ld->has_log = true;
        size_t pos;
        uint64_t id;
        if (!log_header(m.p, m.n, &id, &pos))
                return bf_error_set(err, EINVAL, "its option log is damaged (no bundlefs-log header)");
        ld->log.id = id;
        size_t valid;
        r = records_apply(&ld->l, m.p, m.n, pos, &valid, err);
        if (r < 0)
                return r;
        if (!ld->l.platform)
                return bf_error_set(err, EINVAL, "its option log has no platform record");
        ld->log.size = valid;
        if (valid < m.n) {
                /* The tail was never acknowledged, or the journal has it: cut it
                 * before appending again. */
                if (ftruncate(fd, (off_t) valid) < 0 || fdatasync(fd) < 0)
                        return sys_error(err, "truncating the option log of", dir);
                warnf(warn, userdata, "%s: dropped %zu bytes of an unfinished write from the log", dir, m.n - valid);
        }
        if (ld->log.id || ld->l.over)
                return 0;
        /* A format-1 log: give it an id, so the journal can name it. */
        _cleanup_(buf_free) buf text = { 0 };
        _cleanup_free_ struct store_run *runs = NULL;
        size_t nruns = 0;
        r = loaded_runs(&ld->l, &text, &runs, &nruns, err);
        if (r < 0)
                return r;
        struct store_log nl = { .fd = -1 };
        r = log_write_new(s, &p, ld->l.platform, runs, nruns, &nl, err);
        if (r < 0)
                return r;
        close(nl.fd);
        ld->log = (struct store_log){ .fd = -1, .size = nl.size, .id = nl.id };
        loaded_renumber(&ld->l);        /* as the new log numbers them */
        return 0;
}

static int load_container(struct store *s, const char *ns, const char *id, struct loading *ret, struct budget *budget,
                          void (*warn)(void *, const char *), void *userdata, bf_error *err)
{
        *ret = (struct loading){ .ns = strdup(ns), .id = strdup(id), .log = { .fd = -1 } };
        if (!ret->ns || !ret->id)
                return bf_error_oom(err);
        ret->l.budget = budget;
        bf_error lerr = { 0 };
        if (load_log(s, ret, warn, userdata, &lerr) < 0) {
                ret->error = lerr.code ? lerr.code : EIO;
                snprintf(ret->reason, sizeof(ret->reason), "%s", lerr.msg);
                lines_free(&ret->l);
        }
        return 0;
}

static int name_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* A container a crash left half made (".new-<id>", by earlier versions) or
 * half removed (".del-<id>"): neither was acknowledged. Left in place it
 * would make its namespace impossible to remove. Its rootfs is removed only
 * when empty (it always is: one is made empty, the other had lost its
 * rootfs already). */
static void remove_leftover(int dirfd, const char *name)
{
        _cleanup_close_ int cdir = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cdir < 0)
                return;
        unlinkat(cdir, LOG_NAME, 0);
        unlinkat(cdir, LOG_NEW_NAME, 0);
        unlinkat(cdir, "rootfs", AT_REMOVEDIR);
        unlinkat(dirfd, name, AT_REMOVEDIR);
}

static bool is_leftover(const char *name)
{
        return strncmp(name, ".new-", 5) == 0 || strncmp(name, ".del-", 5) == 0;
}

static void free_names(char **names, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

/* Directory entries that are identifiers, sorted; leftovers of unfinished
 * creations and removals are removed. */
static int list_dir(int dirfd, const char *what, char ***ret, size_t *ret_n, bf_error *err)
{
        int fd = dup(dirfd);
        if (fd < 0)
                return sys_error(err, "listing", what);
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return sys_error(err, "listing", what);
        }
        rewinddir(d);
        char **names = NULL;
        size_t n = 0, cap = 0;
        int r = 0;
        struct dirent *de;
        while (r == 0 && (de = readdir(d))) {
                if (is_leftover(de->d_name))
                        remove_leftover(fd, de->d_name);
                if (!identifier_valid(de->d_name))
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        char **grown = realloc(names, cap * sizeof(*grown));
                        if (!grown) {
                                r = bf_error_oom(err);
                                break;
                        }
                        names = grown;
                }
                if (!(names[n] = strdup(de->d_name)))
                        r = bf_error_oom(err);
                else
                        n++;
        }
        closedir(d);
        if (r < 0) {
                free_names(names, n);
                return r;
        }
        if (n)
                qsort(names, n, sizeof(*names), name_cmp);
        *ret = names;
        *ret_n = n;
        return 0;
}

/* Everything loaded: namespaces and their containers, in order. */
struct load {
        struct store *s;
        struct loading *all;
        size_t n, cap;
        struct budget budget;
        void (*warn)(void *, const char *);
        void *userdata;
};

static struct loading *load_add(struct load *ld, bf_error *err)
{
        if (ld->n == ld->cap) {
                size_t cap = ld->cap ? 2 * ld->cap : 64;
                struct loading *grown = realloc(ld->all, cap * sizeof(*grown));
                if (!grown) {
                        bf_error_oom(err);
                        return NULL;
                }
                ld->all = grown;
                ld->cap = cap;
        }
        return &ld->all[ld->n];
}

static int load_namespace(struct load *ld, const char *ns, bf_error *err)
{
        struct loading *slot = load_add(ld, err);
        if (!slot)
                return -ENOMEM;
        *slot = (struct loading){ .ns = strdup(ns), .log = { .fd = -1 } };
        if (!slot->ns)
                return bf_error_oom(err);
        ld->n++;
        _cleanup_close_ int nsdir = open_at(ld->s, ld->s->nsfd, ns, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (nsdir < 0)
                return sys_error(err, "opening namespace", ns);
        char **ids = NULL;
        size_t nids = 0;
        int r = list_dir(nsdir, ns, &ids, &nids, err);
        if (r < 0)
                return r;
        for (size_t k = 0; k < nids && r == 0; k++) {
                if (!(slot = load_add(ld, err)))
                        r = -ENOMEM;
                else if ((r = load_container(ld->s, ns, ids[k], slot, &ld->budget, ld->warn, ld->userdata, err)) == 0)
                        ld->n++;
                else
                        loading_free(slot);
        }
        free_names(ids, nids);
        return r;
}

/* ---- replaying the journal --------------------------------------------------- */

static int by_log_id(const void *a, const void *b)
{
        uint64_t x = (*(struct loading *const *) a)->log.id, y = (*(struct loading *const *) b)->log.id;
        return x < y ? -1 : x > y;
}

static struct loading *find_by_id(struct loading **index, size_t n, uint64_t id)
{
        struct loading key = { .log = { .id = id } }, *kp = &key;
        struct loading **found = bsearch(&kp, index, n, sizeof(*index), by_log_id);
        return found ? *found : NULL;
}

static struct loading *find_by_name(struct load *ld, const char *ns, size_t nslen, const char *id, size_t idlen)
{
        /* all[] is sorted by namespace, then id, each namespace first. */
        size_t lo = 0, hi = ld->n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                struct loading *x = &ld->all[mid];
                int c = strncmp(x->ns, ns, nslen);
                if (c == 0 && x->ns[nslen])
                        c = 1;
                if (c == 0)
                        c = !x->id ? -1 : strncmp(x->id, id, idlen) ? strncmp(x->id, id, idlen) : x->id[idlen] ? 1 : 0;
                if (c == 0)
                        return x;
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return NULL;
}

/* A log created by a first write, lost with its directory's unsynced
 * entry (or its data): made again from the journal's copy. A log that is
 * there but short gets the tail it lacks; one whose container has another
 * log now (replaced since) is left alone. */
static int replay_new_log(struct load *ld, struct loading **index, size_t nindex, const char *p, size_t len,
                          bf_error *err)
{
        const char *nl = memchr(p, '\n', len), *q, *slash;
        uint64_t id;
        if (!nl || !(q = parse_hex(p, nl, 16, &id)) || q == nl || *q != ' ' ||
            !(slash = memchr(q, '/', (size_t) (nl - q))))
                return 0;
        const char *content = nl + 1;
        size_t clen = len - (size_t) (content - p), from;
        uint64_t hid;
        size_t pos;
        if (!log_header(content, clen, &hid, &pos) || hid != id)
                return 0;
        struct loading *c = find_by_id(index, nindex, id);
        if (c) {
                if (c->log.size >= clen || c->replayed.len)
                        return 0;       /* the log has it */
                from = c->log.size;
        } else {
                c = find_by_name(ld, q + 1, (size_t) (slash - q - 1), slash + 1, (size_t) (nl - slash - 1));
                if (!c || !c->id || c->log.id)
                        return 0;
                loaded_free(&c->l);
                c->l = (struct loaded){ .budget = &ld->budget };
                c->error = 0;
                c->has_log = true;
                c->rewrite = true;
                c->log = (struct store_log){ .fd = -1, .id = id };
                from = 0;
        }
        size_t valid;
        bf_error aerr = { 0 };
        if (records_apply(&c->l, content, clen, from ? from : pos, &valid, &aerr) < 0) {
                c->error = aerr.code ? aerr.code : EIO;
                snprintf(c->reason, sizeof(c->reason), "%s", aerr.msg);
                lines_free(&c->l);
        }
        buf_put(&c->replayed, content + from, clen - from);
        c->log.size = clen;
        return c->replayed.oom ? bf_error_oom(err) : 0;
}

/* Write back what each log lacked: one write per log. */
static int replay_write(struct load *ld, bf_error *err)
{
        for (size_t i = 0; i < ld->n; i++) {
                struct loading *c = &ld->all[i];
                if (!c->replayed.len)
                        continue;
                char rel[REL_PATH_MAX];
                int r = rel_path(rel, c->ns, c->id, LOG_NAME, err);
                if (r < 0)
                        return r;
                /* A log made again is written whole; others get their tail. */
                int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (c->rewrite ? O_TRUNC : O_APPEND);
                _cleanup_close_ int fd = open_at(ld->s, ld->s->nsfd, rel, flags, 0600);
                if (fd < 0 || fd_write_all(fd, c->replayed.p, c->replayed.len) < 0)
                        return sys_error(err, "writing back the option log of", rel);
                buf_free(&c->replayed);
        }
        return 0;
}

/* Replay a journal's records (seed: its epoch's CRC seed; 0 for format 1,
 * which has appends only). */
static int journal_replay(struct load *ld, const char *data, size_t size, size_t start, uint32_t seed, bf_error *err)
{
        /* Young logs before the last "settled" mark are durable where they are. */
        size_t settled = start, end = start, replayed = 0;
        struct record rec;
        for (size_t pos = start; pos < size && record_parse(data, size, pos, seed, &rec); pos = rec.next) {
                if (rec.type == JOURNAL_SETTLED)
                        settled = rec.next;
                end = rec.next;
        }
        _cleanup_free_ struct loading **index = calloc(ld->n + 1, sizeof(*index));
        if (!index)
                return bf_error_oom(err);
        size_t ni = 0;
        for (size_t i = 0; i < ld->n; i++)
                if (ld->all[i].id && ld->all[i].log.id)
                        index[ni++] = &ld->all[i];
        qsort(index, ni, sizeof(*index), by_log_id);
        /* Logs made again first: appends to them follow. */
        for (size_t pos = settled; pos < end && record_parse(data, size, pos, seed, &rec); pos = rec.next) {
                if (rec.type != JOURNAL_NEW_LOG)
                        continue;
                int r = replay_new_log(ld, index, ni, rec.payload, rec.len, err);
                if (r < 0)
                        return r;
                replayed++;
        }
        ni = 0;
        for (size_t i = 0; i < ld->n; i++)
                if (ld->all[i].id && ld->all[i].log.id)
                        index[ni++] = &ld->all[i];
        qsort(index, ni, sizeof(*index), by_log_id);
        for (size_t pos = start; pos < end && record_parse(data, size, pos, seed, &rec); pos = rec.next) {
                if (rec.type != JOURNAL_APPEND)
                        continue;
                /* "<log id> <offset>\n", then the log's record. */
                const char *p = rec.payload, *nl = memchr(p, '\n', rec.len), *q;
                uint64_t id;
                size_t offset;
                if (!nl || !(q = parse_hex(p, nl, 16, &id)) || q == nl || *q != ' ' || parse_size(q + 1, nl, &offset) != nl)
                        continue;
                const char *lrec = nl + 1;
                size_t lrec_len = rec.len - (size_t) (lrec - p);
                struct loading *c = find_by_id(index, ni, id);
                if (!c)
                        continue;       /* its container was removed, or its list replaced */
                if (c->log.size > offset)
                        continue;       /* the log has it */
                if (c->log.size < offset) {
                        warnf(ld->warn, ld->userdata, "%s/%s: a journal record past the end of the log, skipped", c->ns,
                              c->id);
                        continue;
                }
                struct record lr;
                if (!record_parse(lrec, lrec_len, 0, 0, &lr) || lr.next != lrec_len)
                        continue;
                bf_error aerr = { 0 };
                if (!c->error && loaded_apply(&c->l, lr.type, lr.payload, lr.len, &aerr) < 0) {
                        c->error = aerr.code ? aerr.code : EIO;
                        snprintf(c->reason, sizeof(c->reason), "%s", aerr.msg);
                        lines_free(&c->l);
                }
                buf_put(&c->replayed, lrec, lrec_len);
                if (c->replayed.oom)
                        return bf_error_oom(err);
                c->log.size += lrec_len;
                replayed++;
        }
        if (replayed)
                warnf(ld->warn, ld->userdata, "wrote %zu records back from the journal", replayed);
        return replay_write(ld, err);
}

/* Read the journal, replay it, and start it afresh: a new epoch, or a new
 * file when there was none, or one of another format or size. */
static int journal_load(struct load *ld, bf_error *err)
{
        struct store *s = ld->s;
        struct journal *j = &s->journal;
        _cleanup_close_ int fd = open_at(s, s->dirfd, JOURNAL_NAME, O_RDWR | O_CLOEXEC, 0);
        if (fd < 0 && errno != ENOENT)
                return sys_error(err, "opening", "the journal");
        unlinkat(s->dirfd, JOURNAL_NEW_NAME, 0);
        bool fresh = true;
        if (fd >= 0) {
                _cleanup_(mapping_done) struct mapping m = { 0 };
                int r = map_file(fd, "the journal", STORE_LOG_MAX, &m, err);
                if (r < 0)
                        return r;
                const char *data = m.p;
                size_t hv1 = strlen(JOURNAL_HEADER_V1), hp = strlen(JOURNAL_HEADER_PREFIX);
                uint64_t epoch;
                r = 0;
                if (m.n >= hv1 && memcmp(data, JOURNAL_HEADER_V1, hv1) == 0) {
                        r = journal_replay(ld, data, m.n, hv1, 0, err);
                } else if (m.n >= JOURNAL_HEADER_LEN && memcmp(data, JOURNAL_HEADER_PREFIX, hp) == 0 &&
                           parse_hex(data + hp, data + m.n, 16, &epoch) == data + JOURNAL_HEADER_LEN - 1 &&
                           data[JOURNAL_HEADER_LEN - 1] == '\n') {
                        r = journal_replay(ld, data, m.n, JOURNAL_HEADER_LEN, epoch_seed(epoch), err);
                        fresh = m.n != STORE_JOURNAL_SIZE;
                } else if (m.n) {
                        /* Only the header of a new epoch can be torn, right after a
                         * syncfs: nothing in the file is needed. */
                        warnf(ld->warn, ld->userdata, "the journal's header is damaged: its records were not replayed");
                }
                if (r < 0)
                        return r;
                if (!fresh)
                        j->fd = TAKE_FD(fd);
        }
        uint64_t epoch = 0;
        int r = fresh ? (syncfs(s->dirfd) < 0 ? sys_error(err, "syncing", "the state directory") :
                                                journal_create(s, &epoch, err)) :
                        journal_new_epoch(s, &epoch, err);
        if (r < 0)
                return r;
        j->epoch = epoch;
        j->size = JOURNAL_HEADER_LEN;
        return 0;
}

static void load_done(struct load *ld)
{
        for (size_t i = 0; i < ld->n; i++) {
                ld->all[i].l.budget = NULL;
                loading_free(&ld->all[i]);
        }
        free(ld->all);
        reserve_refill(ld->s);
}

/* Every namespace and container, the journal replayed into them. */
static int load_all(struct load *ld, bf_error *err)
{
        char **nss = NULL;
        size_t nns = 0;
        int r = list_dir(ld->s->nsfd, "the namespaces", &nss, &nns, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < nns && r == 0; i++)
                r = load_namespace(ld, nss[i], err);
        free_names(nss, nns);
        if (r < 0)
                return r;
        r = journal_load(ld, err);
        if (r < 0)
                return r;
        return ld->s->format == STORE_FORMAT_VERSION ? 0 : format_write(ld->s, STORE_FORMAT_VERSION, err);
}

/* Hand one loaded container (or namespace) to the visitor; the store
 * frees what it leaves. */
static int visit_one(struct load *ld, struct loading *c, store_visit_fn visit, void *userdata, bf_error *err)
{
        struct store_container sc = {
                .ns = c->ns,
                .id = c->id,
                .log = { .fd = -1, .size = c->log.size, .id = c->log.id },
        };
        bf_error ferr = { 0 };
        if (c->id && !c->error && !c->l.over && loaded_finish(&c->l, &sc, &ferr) < 0) {
                c->error = ENOMEM;
                snprintf(c->reason, sizeof(c->reason), "%s", ferr.msg);
        }
        sc.error = c->error ? c->error : c->l.over;
        sc.reason = c->error ? c->reason : c->l.reason;
        int v = visit(userdata, &sc);
        free(sc.platform);
        optline_free_all(sc.lines, sc.nlines);
        free(sc.seqs);
        free(sc.by_control);
        if (v < 0 && !c->id)
                return bf_error_set(err, -v, "namespace %s: %s", c->ns, strerror(-v));
        if (v < 0)
                warnf(ld->warn, ld->userdata, "%s/%s: not served (left on disk): %s", c->ns, c->id, strerror(-v));
        return 0;
}

int store_load(struct store *s, const struct store_limits *limits, store_visit_fn visit, void *userdata,
               void (*warn)(void *, const char *), bf_error *err)
{
        _cleanup_(load_done) struct load ld = {
                .s = s,
                .warn = warn,
                .userdata = userdata,
                .budget = { .list_max = limits ? limits->list_max : 0, .total_max = limits ? limits->total_max : 0 },
        };
        int r = load_all(&ld, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ld.n; i++) {
                r = visit_one(&ld, &ld.all[i], visit, userdata, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- namespaces and containers ------------------------------------------- */

int store_namespace_create(struct store *s, const char *ns, bf_error *err)
{
        if (mkdirat(s->nsfd, ns, 0755) < 0)
                return sys_error(err, "creating namespace", ns);
        int r = sync_dir(s, "", err);
        if (r < 0)
                unlinkat(s->nsfd, ns, AT_REMOVEDIR);
        return r;
}

/* Leftovers of removals whose cleaning failed, in an otherwise empty namespace. */
static void namespace_sweep(struct store *s, const char *ns)
{
        _cleanup_close_ int fd = open_at(s, s->nsfd, ns, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d)
                return;
        fd = -1;
        struct dirent *de;
        while ((de = readdir(d)))
                if (is_leftover(de->d_name))
                        remove_leftover(dirfd(d), de->d_name);
        closedir(d);
}

int store_namespace_remove(struct store *s, const char *ns, bf_error *err)
{
        if (unlinkat(s->nsfd, ns, AT_REMOVEDIR) < 0) {
                if (errno != ENOTEMPTY && errno != EEXIST)
                        return sys_error(err, "removing namespace", ns);
                namespace_sweep(s, ns);
                if (unlinkat(s->nsfd, ns, AT_REMOVEDIR) < 0)
                        return sys_error(err, "removing namespace", ns);
        }
        int r = sync_dir(s, "", err);
        if (r < 0)
                mkdirat(s->nsfd, ns, 0755);
        return r;
}

int store_namespace_rename(struct store *s, const char *from, const char *to, bf_error *err)
{
        int r = young_settle(s, err);
        if (r < 0)
                return r;
        if (renameat2(s->nsfd, from, s->nsfd, to, RENAME_NOREPLACE) < 0)
                return sys_error(err, "renaming namespace", from);
        r = sync_dir(s, "", err);
        if (r < 0)
                renameat2(s->nsfd, to, s->nsfd, from, RENAME_NOREPLACE);
        return r;
}

int store_container_create(struct store *s, const char *ns, const char *id, bf_error *err)
{
        struct cpaths p;
        int r = cpaths_of(&p, ns, id, err);
        if (r < 0)
                return r;
        const char *dir = p.dir, *rootfs = p.rootfs;
        if (mkdirat(s->nsfd, dir, 0755) < 0)
                return errno == EEXIST ? bf_error_set(err, EEXIST, "%s exists on disk", dir) :
                                         sys_error(err, "creating container", dir);
        if (mkdirat(s->nsfd, rootfs, 0755) < 0) {
                r = sys_error(err, "creating the rootfs of", dir);
                unlinkat(s->nsfd, dir, AT_REMOVEDIR);
                return r;
        }
        return 0;
}

int store_container_commit(struct store *s, const char *ns, const char *id, bf_error *err)
{
        /* The container's own directory is not synced: a crash that loses
         * its rootfs leaves a container that gets an empty one, which is
         * all it had. */
        (void) id;
        return sync_dir(s, ns, err);
}

void store_container_abort(struct store *s, const char *ns, const char *id)
{
        struct cpaths p;
        bf_error err = { 0 };
        if (cpaths_of(&p, ns, id, &err) < 0)
                return;
        unlinkat(s->nsfd, p.rootfs, AT_REMOVEDIR);
        unlinkat(s->nsfd, p.dir, AT_REMOVEDIR);
}

int store_container_remove(struct store *s, const char *ns, const char *id, bf_error *err)
{
        struct cpaths p, g;
        char del[REL_PATH_MAX];
        snprintf(del, sizeof(del), ".del-%s", id);
        int r = cpaths_of(&p, ns, id, err);
        if (r < 0 || (r = cpaths_of(&g, ns, del, err)) < 0)
                return r;
        const char *dir = p.dir, *rootfs = p.rootfs, *gone = g.dir;
        r = young_settle(s, err);
        if (r < 0)
                return r;
        /* The rootfs goes first, and only if empty: nothing else has changed
         * when it is not (ENOTEMPTY). A container found without one gets an
         * empty one, so a failure after this step leaves it whole. */
        if (unlinkat(s->nsfd, rootfs, AT_REMOVEDIR) < 0 && errno != ENOENT) {
                if (errno == ENOTEMPTY || errno == EEXIST)
                        return bf_error_set(err, ENOTEMPTY, "%s: the rootfs is not empty", dir);
                return sys_error(err, "removing the rootfs of", dir);
        }
        /* Renamed away, so that a crash never leaves a half-removed
         * container: this is the step that removes it. */
        if (renameat(s->nsfd, dir, s->nsfd, gone) < 0) {
                r = sys_error(err, "removing container", dir);
                mkdirat(s->nsfd, rootfs, 0755);
                return r;
        }
        r = sync_dir(s, ns, err);
        if (r < 0) {
                renameat(s->nsfd, gone, s->nsfd, dir);
                mkdirat(s->nsfd, rootfs, 0755);
                return r;
        }
        /* Removed. What is left goes now, or on the next start. */
        unlinkat(s->nsfd, g.log, 0);
        unlinkat(s->nsfd, g.log_new, 0);
        unlinkat(s->nsfd, gone, AT_REMOVEDIR);
        return 0;
}

int store_container_rename(struct store *s, const char *ns, const char *id, const char *to_ns, const char *to_id,
                           bf_error *err)
{
        char from[REL_PATH_MAX], to[REL_PATH_MAX];
        int r = rel_path(from, ns, id, NULL, err);
        if (r < 0 || (r = rel_path(to, to_ns, to_id, NULL, err)) < 0)
                return r;
        r = young_settle(s, err);
        if (r < 0)
                return r;
        if (renameat2(s->nsfd, from, s->nsfd, to, RENAME_NOREPLACE) < 0)
                return sys_error(err, "renaming container", from);
        r = sync_dir(s, to_ns, err);
        if (r < 0 || (!streq(ns, to_ns) && (r = sync_dir(s, ns, err)) < 0)) {
                renameat2(s->nsfd, to, s->nsfd, from, RENAME_NOREPLACE);
                return r;
        }
        return 0;
}

int store_rootfs_empty(struct store *s, const char *ns, const char *id, bool *ret, bf_error *err)
{
        struct cpaths p;
        int r = cpaths_of(&p, ns, id, err);
        if (r < 0)
                return r;
        const char *rootfs = p.rootfs;
        int fd = open_at(s, s->nsfd, rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0)
                return sys_error(err, "opening", rootfs);
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return sys_error(err, "listing", rootfs);
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

int store_log_mtime(struct store *s, const char *ns, const char *id, struct timespec *ret)
{
        struct cpaths p;
        bf_error err = { 0 };
        int r = cpaths_of(&p, ns, id, &err);
        if (r < 0)
                return r;
        struct stat st;
        if (fstatat(s->nsfd, p.log, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        *ret = st.st_mtim;
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
