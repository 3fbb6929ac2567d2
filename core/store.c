#include "store.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include "record.h"
#include "store_private.h"
#include "util.h"

#define FORMAT_NAME "format"
#define FORMAT_FMT "bundlefs-state %d\n"
/* Young logs synced one by one up to this many; beyond, the file system at once. */
#define YOUNG_SYNC_MAX 16

/* A writer waiting for its journal record to be durable. */
struct ticket {
        struct ticket *next;
        bool done;
        int result;             /* 0: durable; else -errno, nothing of the record can replay */
        uint64_t young_id;      /* a log created by this record: young once durable */
        const char *young_path;
        const char *young_ns;   /* a container made in this namespace by this record */
};

/* A log created by a first write whose directory entry may not be durable
 * yet: its journal record names the container, which must not move until
 * it is settled. */
struct young {
        uint64_t id;
        char path[REL_PATH_MAX];        /* "<ns>/<id>" */
};

/* A namespace whose directory may lack a container's entry made since it
 * was last synced: the container's journal record makes it again. */
struct young_ns {
        char name[IDENTIFIER_MAX + 1];
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

int store_sys_error(bf_error *err, const char *what, const char *name)
{
        return fail(err, errno, what, name);
}

/* "<ns>/<id>" or "<ns>/<id>/<leaf>" into out. */
int store_rel_path(char out[static REL_PATH_MAX], const char *ns, const char *id, const char *leaf, bf_error *err)
{
        int n = leaf ? snprintf(out, REL_PATH_MAX, "%s/%s/%s", ns, id, leaf) :
                       snprintf(out, REL_PATH_MAX, "%s/%s", ns, id);
        if (n < 0 || n >= REL_PATH_MAX)
                return bf_error_set(err, ENAMETOOLONG, "%s/%s: name too long", ns, id);
        return 0;
}

int store_cpaths_of(struct cpaths *p, const char *ns, const char *id, bf_error *err)
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
bool store_reserve_refill(struct store *s)
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
int store_open_at(struct store *s, int dirfd, const char *path, int flags, mode_t mode)
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
                return fsync(s->nsfd) < 0 ? store_sys_error(err, "syncing", "the namespaces") : 0;
        int fd = store_open_at(s, s->nsfd, rel, flags | O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0 && errno == ENOENT && !(flags & O_DIRECTORY))
                return 0;       /* a log replaced since: the new one was synced */
        if (fd < 0 && (errno == EMFILE || errno == ENFILE))
                return syncfs(s->dirfd) < 0 ? store_sys_error(err, "syncing", rel) : 0;
        int r = fd < 0 || fsync(fd) < 0 ? store_sys_error(err, "syncing", rel) : 0;
        if (fd >= 0)
                close(fd);
        store_reserve_refill(s);
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

/* ---- the journal ------------------------------------------------------------- */

uint32_t journal_epoch_seed(uint64_t epoch)
{
        unsigned char b[8];
        for (int i = 0; i < 8; i++)
                b[i] = (unsigned char) (epoch >> (8 * i));
        return (uint32_t) crc32(0, b, sizeof(b));
}

/* Give every record of a batch its CRC, seeded with the epoch it is written in. */
static void batch_seal(buf *batch, uint64_t epoch)
{
        uint32_t seed = journal_epoch_seed(epoch);
        struct record rec;
        for (size_t pos = 0; pos < batch->len && record_header(batch->p, batch->len, pos, &rec); pos = rec.next) {
                record_put_hex8(batch->p + rec.crc_at, (uint32_t) crc32(seed, (const Bytef *) rec.payload, (uInt) rec.len));
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
int journal_new_epoch(struct store *s, uint64_t *ret_epoch, bf_error *err)
{
        if (syncfs(s->dirfd) < 0)
                return store_sys_error(err, "syncing", "the state directory");
        uint64_t epoch = random_id();
        char head[JOURNAL_HEADER_LEN + 1];
        snprintf(head, sizeof(head), JOURNAL_HEADER_FMT, epoch);
        if (pwrite(s->journal.fd, head, JOURNAL_HEADER_LEN, 0) != (ssize_t) JOURNAL_HEADER_LEN ||
            fdatasync(s->journal.fd) < 0)
                return store_sys_error(err, "writing", "the journal");
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

/* Namespace ns holds a young container (room was reserved). */
static void young_ns_add(struct journal *j, const char *ns) REQUIRES(j->lock)
{
        for (size_t i = 0; i < j->nyoung_ns; i++)
                if (streq(j->young_ns[i].name, ns))
                        return;
        snprintf(j->young_ns[j->nyoung_ns++].name, sizeof(j->young_ns[0].name), "%s", ns);
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
                        j->nyoung = j->nyoung_ns = 0;   /* synced: none is young any more */
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
                if (t->young_ns) {
                        j->young_ns_reserved--;
                        if (r == 0 && fits)
                                young_ns_add(j, t->young_ns);
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

/* items, with room for `need` of `size` bytes (capacity *cap, doubled from
 * `first`): moved if it had to grow, NULL without memory (items stays). */
static void *room_for(void *items, size_t *cap, size_t need, size_t size, size_t first)
{
        if (need <= *cap)
                return items;
        size_t n = *cap ? 2 * *cap : first;
        while (n < need)
                n *= 2;
        void *grown = realloc(items, n * size);
        if (grown)
                *cap = n;
        return grown;
}

static int young_ns_reserve(struct journal *j, bf_error *err) REQUIRES(j->lock)
{
        struct young_ns *all = room_for(j->young_ns, &j->young_ns_cap, j->nyoung_ns + j->young_ns_reserved + 1,
                                        sizeof(*all), 8);
        if (!all)
                return bf_error_oom(err);
        j->young_ns = all;
        j->young_ns_reserved++;
        return 0;
}

/* Make room in the young set for a log being created (its record may be
 * durable any moment; adding it then must not fail). */
static int young_reserve(struct journal *j, bf_error *err) REQUIRES(j->lock)
{
        struct young *all = room_for(j->young, &j->young_cap, j->nyoung + j->young_reserved + 1, sizeof(*all), 64);
        if (!all)
                return bf_error_oom(err);
        j->young = all;
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
        if (t->young_ns && young_ns_reserve(j, err) < 0) {
                if (t->young_id)
                        j->young_reserved--;
                mutex_unlock(&j->lock);
                return -ENOMEM;
        }
        buf_put(&j->pending, rec->p, rec->len);
        if (j->pending.oom) {
                /* buf_put added nothing; what others queued stays. */
                j->pending.oom = false;
                if (t->young_id)
                        j->young_reserved--;
                if (t->young_ns)
                        j->young_ns_reserved--;
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

/* Make every young log and container durable where it is, and say so in
 * the journal, so that no journal record names a container that is about
 * to move. Renames and removals call this first, holding the names alone:
 * no log is being created meanwhile, and no container (a mkdir holds the
 * names shared from its directory to its record). */
static int young_settle(struct store *s, bf_error *err) REQUIRES(store_names(s))
{
        struct journal *j = &s->journal;
        mutex_lock(&j->lock);
        size_t n = j->nyoung, nns = j->nyoung_ns;
        _cleanup_free_ struct young *all = n ? malloc(n * sizeof(*all)) : NULL;
        _cleanup_free_ struct young_ns *nss = nns ? malloc(nns * sizeof(*nss)) : NULL;
        if (all)
                memcpy(all, j->young, n * sizeof(*all));
        if (nss)
                memcpy(nss, j->young_ns, nns * sizeof(*nss));
        mutex_unlock(&j->lock);
        if (n == 0 && nns == 0)
                return 0;
        bool whole = (n && !all) || (nns && !nss) || n + nns > YOUNG_SYNC_MAX;
        for (size_t i = 0; i < nns && !whole; i++)
                if (sync_dir(s, nss[i].name, err) < 0)
                        whole = true;
        for (size_t i = 0; i < n && !whole; i++) {
                char log[REL_PATH_MAX];
                snprintf(log, sizeof(log), "%s/" LOG_NAME, all[i].path);
                if (sync_file(s, log, err) < 0 || sync_dir(s, all[i].path, err) < 0)
                        whole = true;
        }
        if (whole && syncfs(s->dirfd) < 0)
                return store_sys_error(err, "syncing", "the state directory");
        _cleanup_(buf_free) buf rec = { 0 };
        journal_record(&rec, JOURNAL_SETTLED, "", 0, "", 0);
        if (rec.oom)
                return bf_error_oom(err);
        struct ticket t = { 0 };
        int r = journal_commit(s, &rec, &t, err);
        if (r < 0)
                return r;
        mutex_lock(&j->lock);
        j->nyoung = j->nyoung_ns = 0;
        mutex_unlock(&j->lock);
        return 0;
}

/* A new journal: the file allocated and zero-filled to its full size, so
 * that writing it in place never needs a block, then renamed into place. */
int journal_create(struct store *s, uint64_t *ret_epoch, bf_error *err)
{
        _cleanup_close_ int fd = store_open_at(s, s->dirfd, JOURNAL_NEW_NAME, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return store_sys_error(err, "creating", "the journal");
        int r = fallocate(fd, 0, 0, (off_t) STORE_JOURNAL_SIZE);
        if (r < 0 && errno != EOPNOTSUPP) {
                r = store_sys_error(err, "allocating", "the journal");
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

int store_format_write(struct store *s, int version, bf_error *err)
{
        char text[64];
        int n = snprintf(text, sizeof(text), FORMAT_FMT, version);
        _cleanup_close_ int tmp = openat(s->dirfd, "format.new", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (tmp < 0 || fd_write_all(tmp, text, (size_t) n) < 0 || fsync(tmp) < 0 ||
            renameat(s->dirfd, "format.new", s->dirfd, FORMAT_NAME) < 0 || fsync(s->dirfd) < 0)
                return store_sys_error(err, "writing", "the state's format version");
        s->format = version;
        return 0;
}

/* Check the format version, or make the directory a state directory: only
 * an empty one may become one. */
static int format_check(struct store *s, const char *path, bf_error *err)
{
        _cleanup_close_ int ffd = openat(s->dirfd, FORMAT_NAME, O_RDONLY | O_CLOEXEC);
        if (ffd < 0 && errno != ENOENT)
                return store_sys_error(err, "opening", FORMAT_NAME);
        if (ffd < 0) {
                if (mkdirat(s->dirfd, "namespaces", 0700) < 0 && errno != EEXIST)
                        return store_sys_error(err, "creating", "namespaces");
                return store_format_write(s, STORE_FORMAT_VERSION, err);
        }
        char text[64] = { 0 };
        if (read(ffd, text, sizeof(text) - 1) < 0)
                return store_sys_error(err, "reading", FORMAT_NAME);
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
                return store_sys_error(err, "opening", "lock");
        if (flock(st->lockfd, LOCK_EX | LOCK_NB) < 0)
                return bf_error_set(err, EBUSY, "state directory %s is in use by another bundlefs", path);
        /* Who holds it, for an administrator to see. */
        char pid[32];
        int pl = snprintf(pid, sizeof(pid), "%d\n", (int) getpid());
        if (ftruncate(st->lockfd, 0) < 0 || pwrite(st->lockfd, pid, (size_t) pl, 0) != pl)
                return store_sys_error(err, "writing", "lock");

        int r = format_check(st, path, err);
        if (r < 0)
                return r;
        st->nsfd = openat(st->dirfd, "namespaces", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (st->nsfd < 0)
                return store_sys_error(err, "opening", "namespaces");
        if (!store_reserve_refill(st))
                return store_sys_error(err, "reserving descriptors for", "the state directory");
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
        free(s->journal.young_ns);
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
        int r = store_rel_path(rel, ns, id, LOG_NAME, err);
        if (r < 0)
                return r;
        uint64_t log_id = random_id();
        _cleanup_(buf_free) buf young = { 0 };
        buf_printf(&young, "%016" PRIx64 " %s/%s\n", log_id, ns, id);
        size_t head_at = young.len;
        log_head(&young, log_id, platform);
        if (young.oom)
                return bf_error_oom(err);
        _cleanup_close_ int fd = store_open_at(s, s->nsfd, rel, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0)
                return store_sys_error(err, "creating the option log of", id);
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
        int r = store_rel_path(rel, ns, id, LOG_NAME, err);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = store_open_at(s, s->nsfd, rel, O_RDWR | O_APPEND | O_CLOEXEC, 0);
        if (fd < 0)
                return store_sys_error(err, "opening the option log of", id);
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
        if (!store_reserve_refill(s)) {
                close(TAKE_FD(log->fd));
                store_reserve_refill(s);
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
int store_log_write_new(struct store *s, const struct cpaths *p, const char *platform, const struct store_run *runs,
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
        _cleanup_close_ int fd = store_open_at(s, s->nsfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0600);
        if (fd < 0)
                return store_sys_error(err, "creating a new option log for", dir);
        int r = fd_write_all(fd, b.p, b.len);
        if (r < 0 || fdatasync(fd) < 0) {
                r = fail(err, r < 0 ? -r : errno, "writing a new option log for", dir);
                unlinkat(s->nsfd, tmp, 0);
                return r;
        }
        if (renameat(s->nsfd, tmp, s->nsfd, rel) < 0) {
                r = store_sys_error(err, "renaming the new option log of", dir);
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
        int r = store_cpaths_of(&p, ns, id, err);
        if (r < 0)
                return r;
        mutex_lock(&s->journal.lock);
        int stopped = s->journal.error;
        mutex_unlock(&s->journal.lock);
        if (stopped)
                return bf_error_set(err, EIO, "writes stopped after a failed flush (an I/O error); restart bundlefs");
        return store_log_write_new(s, &p, platform, runs, nruns, ret_log, err);
}

int store_replace(struct store *s, const char *ns, const char *id, const char *platform, const char *text,
                  size_t len, struct store_log *ret_log, bf_error *err)
{
        struct store_run run = { .text = text, .len = len };
        return store_rewrite(s, ns, id, platform, &run, 1, ret_log, err);
}

/* ---- namespaces and containers ------------------------------------------- */

int store_namespace_create(struct store *s, const char *ns, bf_error *err)
{
        if (mkdirat(s->nsfd, ns, 0755) < 0)
                return store_sys_error(err, "creating namespace", ns);
        int r = sync_dir(s, "", err);
        if (r < 0)
                unlinkat(s->nsfd, ns, AT_REMOVEDIR);
        return r;
}

/* A container a crash left half made (".new-<id>", by earlier versions) or
 * half removed (".del-<id>"): neither was acknowledged. Left in place it
 * would make its namespace impossible to remove. Its rootfs is removed only
 * when empty (it always is: one is made empty, the other had lost its
 * rootfs already). */
void store_remove_leftover(int dirfd, const char *name)
{
        _cleanup_close_ int cdir = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cdir < 0)
                return;
        unlinkat(cdir, LOG_NAME, 0);
        unlinkat(cdir, LOG_NEW_NAME, 0);
        unlinkat(cdir, "rootfs", AT_REMOVEDIR);
        unlinkat(dirfd, name, AT_REMOVEDIR);
}

bool store_is_leftover(const char *name)
{
        return strncmp(name, ".new-", 5) == 0 || strncmp(name, ".del-", 5) == 0;
}

/* Leftovers of removals whose cleaning failed, in an otherwise empty namespace. */
static void namespace_sweep(struct store *s, const char *ns)
{
        _cleanup_close_ int fd = store_open_at(s, s->nsfd, ns, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d)
                return;
        fd = -1;
        struct dirent *de;
        while ((de = readdir(d)))
                if (store_is_leftover(de->d_name))
                        store_remove_leftover(dirfd(d), de->d_name);
        closedir(d);
}

int store_namespace_remove(struct store *s, const char *ns, bf_error *err)
{
        if (unlinkat(s->nsfd, ns, AT_REMOVEDIR) < 0) {
                if (errno != ENOTEMPTY && errno != EEXIST)
                        return store_sys_error(err, "removing namespace", ns);
                namespace_sweep(s, ns);
                if (unlinkat(s->nsfd, ns, AT_REMOVEDIR) < 0)
                        return store_sys_error(err, "removing namespace", ns);
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
                return store_sys_error(err, "renaming namespace", from);
        r = sync_dir(s, "", err);
        if (r < 0)
                renameat2(s->nsfd, to, s->nsfd, from, RENAME_NOREPLACE);
        return r;
}

int store_container_create(struct store *s, const char *ns, const char *id, bf_error *err)
{
        /* The directory alone: its rootfs is made at its first use (mounts.h),
         * as after a crash that lost it. One directory less to make on a
         * disk where a mkdir costs about as much as the journal's flush. */
        char dir[REL_PATH_MAX];
        int r = store_rel_path(dir, ns, id, NULL, err);
        if (r < 0)
                return r;
        if (mkdirat(s->nsfd, dir, 0755) < 0)
                return errno == EEXIST ? bf_error_set(err, EEXIST, "%s exists on disk", dir) :
                                         store_sys_error(err, "creating container", dir);
        return 0;
}

int store_container_commit(struct store *s, const char *ns, const char *id, bf_error *err)
{
        /* A journal record, not a sync of the namespace: one flush of the
         * preallocated journal (shared with other writers), and a load
         * makes the container again if a crash lost its entry. Its own
         * directory is not synced either: a crash that loses its rootfs
         * leaves a container that gets an empty one, which is all it had. */
        char name[REL_PATH_MAX];
        int r = store_rel_path(name, ns, id, NULL, err);
        if (r < 0)
                return r;
        _cleanup_(buf_free) buf rec = { 0 };
        journal_record(&rec, JOURNAL_NEW_DIR, name, strlen(name), "", 0);
        if (rec.oom)
                return bf_error_oom(err);
        struct ticket t = { .young_ns = ns };
        return journal_commit(s, &rec, &t, err);
}

void store_container_abort(struct store *s, const char *ns, const char *id)
{
        struct cpaths p;
        bf_error err = { 0 };
        if (store_cpaths_of(&p, ns, id, &err) < 0)
                return;
        unlinkat(s->nsfd, p.rootfs, AT_REMOVEDIR);
        unlinkat(s->nsfd, p.dir, AT_REMOVEDIR);
}

int store_container_remove(struct store *s, const char *ns, const char *id, bf_error *err)
{
        struct cpaths p, g;
        char del[REL_PATH_MAX];
        snprintf(del, sizeof(del), ".del-%s", id);
        int r = store_cpaths_of(&p, ns, id, err);
        if (r < 0 || (r = store_cpaths_of(&g, ns, del, err)) < 0)
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
                return store_sys_error(err, "removing the rootfs of", dir);
        }
        /* Renamed away, so that a crash never leaves a half-removed
         * container: this is the step that removes it. */
        if (renameat(s->nsfd, dir, s->nsfd, gone) < 0) {
                r = store_sys_error(err, "removing container", dir);
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
        int r = store_rel_path(from, ns, id, NULL, err);
        if (r < 0 || (r = store_rel_path(to, to_ns, to_id, NULL, err)) < 0)
                return r;
        r = young_settle(s, err);
        if (r < 0)
                return r;
        if (renameat2(s->nsfd, from, s->nsfd, to, RENAME_NOREPLACE) < 0)
                return store_sys_error(err, "renaming container", from);
        r = sync_dir(s, to_ns, err);
        if (r < 0 || (!streq(ns, to_ns) && (r = sync_dir(s, ns, err)) < 0)) {
                renameat2(s->nsfd, to, s->nsfd, from, RENAME_NOREPLACE);
                return r;
        }
        return 0;
}

int store_rootfs_make(struct store *s, const char *ns, const char *id, bool *ret_made, bf_error *err)
{
        char rootfs[REL_PATH_MAX];
        int r = store_rel_path(rootfs, ns, id, "rootfs", err);
        if (r < 0)
                return r;
        *ret_made = mkdirat(s->nsfd, rootfs, 0755) == 0;
        if (!*ret_made && errno != EEXIST)
                return store_sys_error(err, "making the rootfs of", rootfs);
        return 0;
}

int store_rootfs_empty(struct store *s, const char *ns, const char *id, bool *ret, bf_error *err)
{
        struct cpaths p;
        int r = store_cpaths_of(&p, ns, id, err);
        if (r < 0)
                return r;
        const char *rootfs = p.rootfs;
        int fd = store_open_at(s, s->nsfd, rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0 && errno == ENOENT) {
                *ret = true;    /* not made yet: it is made empty */
                return 0;
        }
        if (fd < 0)
                return store_sys_error(err, "opening", rootfs);
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return store_sys_error(err, "listing", rootfs);
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
        int r = store_cpaths_of(&p, ns, id, &err);
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
