#include "deps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "users.h"
#include "util.h"

/* Racy timestamps (git's "racy clean" index entries): the kernel stamps a
 * change with a coarse clock (one jiffy, up to ~4 ms behind the real time),
 * so two changes close together can leave a file with the same size, mtime
 * and ctime, and comparing stat results would miss the second one. A change
 * made after the rendering started gets a stamp no older than the start minus
 * one jiffy. So an input whose mtime and ctime are older than the start minus
 * a margin larger than a jiffy (DEPS_RACY_MARGIN_NS, deps.h) cannot change
 * later and keep its stamps; one that is newer may have been read just before
 * a change that kept them. Such a record is "racy": never valid. The next
 * rendering, a little later, sees the same stamps as old enough and can be
 * reused. ctime is the stamp that matters (mtime can be set back by anyone
 * who may write the file; ctime cannot), both are checked. Not covered: the
 * wall clock stepping back between a rendering and a change, and file systems
 * stamped by another machine's clock (NFS) that lags this one by more than
 * the margin. */
/* A stamp with no fraction of a second most likely comes from a file system
 * that keeps whole seconds (or two, FAT's mtime), where a jiffy is not the
 * step: the margin is then wider than that step. */
#define DEPS_RACY_MARGIN_COARSE_NS (3 * 1000 * 1000 * 1000LL)

enum dep_kind {
        DEP_HOST_STAT,          /* stat(path) */
        DEP_HOST_LSTAT,         /* lstat(path) */
        DEP_HOST_IDENTITY,      /* lstat(path), only which object it is */
        DEP_IN_ROOT,            /* open_in_root(root, path) then fstat */
};

struct dep_sig {
        bool present;
        dev_t dev;
        ino_t ino;
        mode_t mode;
        off_t size;
        struct timespec mtim, ctim;
        dev_t rdev;
        uid_t uid;
        gid_t gid;
};

struct dep {
        enum dep_kind kind;
        char *root;             /* DEP_IN_ROOT only */
        char *path;
        struct dep_sig sig;
};

struct deps {
        struct dep *v;
        size_t len, cap;
        int64_t start_ns;       /* CLOCK_REALTIME when the rendering started */
        bool is_volatile;
        bool racy;
};

static int64_t ts_ns(struct timespec t)
{
        return (int64_t) t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int64_t now_ns(void)
{
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        return ts_ns(t);
}

static void sig_of(struct dep_sig *sig, const struct stat *st)
{
        *sig = (struct dep_sig){ .present = false };
        if (!st)
                return;
        *sig = (struct dep_sig){
                .present = true,
                .dev = st->st_dev,
                .ino = st->st_ino,
                .mode = st->st_mode,
                .size = st->st_size,
                .mtim = st->st_mtim,
                .ctim = st->st_ctim,
                .rdev = st->st_rdev,
                .uid = st->st_uid,
                .gid = st->st_gid,
        };
}

static bool sig_equal(enum dep_kind kind, const struct dep_sig *a, const struct dep_sig *b)
{
        if (a->present != b->present)
                return false;
        if (!a->present)
                return true;
        if (kind == DEP_HOST_IDENTITY)
                return a->dev == b->dev && a->ino == b->ino && a->mode == b->mode;
        return a->dev == b->dev && a->ino == b->ino && a->mode == b->mode && a->size == b->size &&
               a->mtim.tv_sec == b->mtim.tv_sec && a->mtim.tv_nsec == b->mtim.tv_nsec &&
               a->ctim.tv_sec == b->ctim.tv_sec && a->ctim.tv_nsec == b->ctim.tv_nsec && a->rdev == b->rdev &&
               a->uid == b->uid && a->gid == b->gid;
}

static bool stamp_racy(struct timespec t, int64_t start_ns)
{
        int64_t margin = t.tv_nsec == 0 ? DEPS_RACY_MARGIN_COARSE_NS : DEPS_RACY_MARGIN_NS;
        return ts_ns(t) >= start_ns - margin;
}

static bool sig_racy(const struct dep_sig *sig, int64_t start_ns)
{
        return sig->present && (stamp_racy(sig->mtim, start_ns) || stamp_racy(sig->ctim, start_ns));
}

static void dep_free(struct dep *e)
{
        free(e->root);
        free(e->path);
}

struct deps *deps_new(void)
{
        struct deps *d = calloc(1, sizeof(*d));
        if (d)
                d->start_ns = now_ns();
        return d;
}

void deps_clear(struct deps *d)
{
        for (size_t i = 0; i < d->len; i++)
                dep_free(&d->v[i]);
        d->len = 0;
        d->is_volatile = false;
        d->racy = false;
        d->start_ns = now_ns();
}

void deps_free(struct deps *d)
{
        if (!d)
                return;
        deps_clear(d);
        free(d->v);
        free(d);
}

size_t deps_count(const struct deps *d)
{
        return d->len;
}

bool deps_volatile(const struct deps *d)
{
        return d->is_volatile;
}

/* Record one input. The same input recorded twice is kept once; recorded
 * with two signatures, it changed while rendering: never valid. */
static void note(struct deps *d, enum dep_kind kind, const char *root, const char *path, const struct dep_sig *sig,
                 bool check_racy)
{
        if (d->is_volatile)
                return;         /* never valid anyway: keep the record small */
        for (size_t i = 0; i < d->len; i++) {
                struct dep *e = &d->v[i];
                if (e->kind == kind && streq(e->path, path) && (kind != DEP_IN_ROOT || streq(e->root, root))) {
                        if (!sig_equal(kind, &e->sig, sig))
                                d->racy = true;
                        return;
                }
        }
        if (d->len >= DEPS_MAX) {
                d->is_volatile = true;
                return;
        }
        if (d->len == d->cap) {
                size_t cap = d->cap ? d->cap * 2 : 8;
                struct dep *v = realloc(d->v, cap * sizeof(*v));
                if (!v) {
                        d->is_volatile = true;
                        return;
                }
                d->v = v;
                d->cap = cap;
        }
        struct dep e = { .kind = kind, .sig = *sig, .path = strdup(path) };
        if (kind == DEP_IN_ROOT)
                e.root = strdup(root);
        if (!e.path || (kind == DEP_IN_ROOT && !e.root)) {
                dep_free(&e);
                d->is_volatile = true;
                return;
        }
        /* an identity has no stamps to be unsure of */
        if (check_racy && kind != DEP_HOST_IDENTITY && sig_racy(sig, d->start_ns))
                d->racy = true;
        d->v[d->len++] = e;
}

void deps_note_host(struct render *r, const char *path, bool follow, const struct stat *st)
{
        if (!r->deps)
                return;
        struct dep_sig sig;
        sig_of(&sig, st);
        note(r->deps, follow ? DEP_HOST_STAT : DEP_HOST_LSTAT, NULL, path, &sig, true);
}

void deps_note_host_identity(struct render *r, const char *path, const struct stat *st)
{
        if (!r->deps)
                return;
        struct dep_sig sig;
        sig_of(&sig, st);
        note(r->deps, DEP_HOST_IDENTITY, NULL, path, &sig, true);
}

void deps_note_in_root(struct render *r, const char *root, const char *rel, const struct stat *st)
{
        if (!r->deps)
                return;
        struct dep_sig sig;
        sig_of(&sig, st);
        note(r->deps, DEP_IN_ROOT, root, rel, &sig, true);
}

void deps_note_volatile(struct render *r)
{
        if (r->deps)
                r->deps->is_volatile = true;
}

int deps_merge(struct deps *dst, const struct deps *src)
{
        /* src's stamps were judged against src's own start when recorded */
        dst->is_volatile |= src->is_volatile;
        dst->racy |= src->racy;
        for (size_t i = 0; i < src->len && !dst->is_volatile; i++) {
                const struct dep *e = &src->v[i];
                note(dst, e->kind, e->root, e->path, &e->sig, false);
        }
        return 0;
}

static bool ts_after(struct timespec a, struct timespec b)
{
        return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

struct timespec deps_latest_change(const struct deps *d)
{
        struct timespec latest = { 0 };
        for (size_t i = 0; i < d->len; i++) {
                const struct dep *e = &d->v[i];
                if (e->kind == DEP_HOST_IDENTITY || !e->sig.present)
                        continue;
                if (ts_after(e->sig.mtim, latest))
                        latest = e->sig.mtim;
                if (ts_after(e->sig.ctim, latest))
                        latest = e->sig.ctim;
        }
        return latest;
}

/* What the input looks like now, resolved as it was when recorded. */
static bool sig_now(const struct dep *e, int rootfd, struct dep_sig *ret)
{
        struct stat st;
        int err = 0;
        switch (e->kind) {
        case DEP_HOST_STAT:
                err = stat(e->path, &st) < 0 ? errno : 0;
                break;
        case DEP_HOST_LSTAT:
        case DEP_HOST_IDENTITY:
                err = lstat(e->path, &st) < 0 ? errno : 0;
                break;
        case DEP_IN_ROOT: {
                _cleanup_close_ int fd = open_in_root(rootfd, e->path);
                if (fd < 0)
                        err = -fd;
                else if (fstat(fd, &st) < 0)
                        err = errno;
                break;
        }
        }
        if (err && err != ENOENT)
                return false;
        sig_of(ret, err ? NULL : &st);
        return true;
}

bool deps_still_valid(const struct deps *d)
{
        if (d->is_volatile || d->racy)
                return false;
        /* inputs in one root are usually recorded together: open it once for them */
        const char *root = NULL;
        _cleanup_close_ int rootfd = -1;
        for (size_t i = 0; i < d->len; i++) {
                const struct dep *e = &d->v[i];
                if (e->kind == DEP_IN_ROOT && !streq(root, e->root)) {
                        if (rootfd >= 0)
                                close(rootfd);
                        root = e->root;
                        rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
                        if (rootfd < 0)
                                return false;
                }
                struct dep_sig now;
                if (!sig_now(e, rootfd, &now) || !sig_equal(e->kind, &e->sig, &now))
                        return false;
        }
        return true;
}
