/* A container's spec (bundle.h). */
#include "bundle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "budget.h"
#include "cache.h"
#include "content.h"
#include "ctl.h"
#include "deps.h"
#include "files.h"
#include "lock.h"
#include "optline.h"
#include "optlist.h"
#include "render.h"
#include "store.h"
#include "util.h"

/* What a rendering is made of besides the list: immutable, replaced whole
 * when the container is renamed or its platform changes. */
struct frame {
        refcount refs;
        char *ns;
        char *id;
        char *rootfs;           /* the rootfs directory, for look-ups */
        char *rootfs_shown;     /* how messages name it: "<ns>/<id>/rootfs", as the tree shows it */
        char *platform;
};

/* The spec built for a version of the list, kept so that the next write
 * applies its lines to it instead of replaying the list. */
struct live {
        arena a;
        struct spec spec;
        struct deps *deps;      /* what building it read */
        uint64_t version;       /* of the list it was built from */
        size_t compact_at;      /* arena footprint at which to build afresh */
};

/* When each part last changed: the times files show (bundle_stat). Taken
 * from the container's log and directory on disk where they can be, so
 * that they read the same after a restart. */
struct times {
        struct timespec list;           /* opts */
        struct timespec platform;
        struct timespec spec;           /* list, platform or name: config.json and the control files */
        struct timespec error;
        struct timespec inputs;         /* a rendering was seen to change with no change of the list */
};

struct bundle {
        struct store *store;
        struct cache_slot *slot;
        struct budget *budget;
        /* Not NULL: the list could not be loaded (why, for `error`); reads
         * fail with EIO, writes are refused. Set once, at creation. */
        char *broken;

        /* Writers hold write_lock for the whole check-and-keep, so the list
         * cannot change under a check. Readers never wait for it: an option
         * may read this very container's files through the mount, from
         * the writer's own request. */
        mutex write_lock;
        struct live *live GUARDED_BY(write_lock);
        struct store_log log GUARDED_BY(write_lock);
        size_t held;            /* memory the list holds, taken from budget (written under write_lock, read atomically) */

        mutex lock;     /* everything below, held briefly */
        struct frame *frame GUARDED_BY(lock);
        struct optlist *list GUARDED_BY(lock);
        uint64_t version GUARDED_BY(lock);      /* counts changes of list and frame; read atomically too */
        char *error GUARDED_BY(lock);           /* NULL: none (most containers never have one) */
        bool error_from_read GUARDED_BY(lock);  /* set by a failed rendering, cleared by a good one */
        struct times times GUARDED_BY(lock);
        /* config.json as last rendered: a rendering of the same version
         * that differs (or fails, or succeeds again) was changed by what it
         * read; times.inputs says when that was seen. */
        bool rendered GUARDED_BY(lock);         /* one was seen */
        uint64_t rendered_version GUARDED_BY(lock);
        uint64_t rendered_hash GUARDED_BY(lock);        /* 0: the rendering failed */
};

/* Everything a rendering needs, taken at once. */
struct snapshot {
        struct optlist *list;
        uint64_t version;
        struct frame *frame;
};

/* ---- frames -------------------------------------------------------------- */

static void frame_unref(struct frame *f)
{
        if (!f || !ref_put(&f->refs))
                return;
        free(f->ns);
        free(f->id);
        free(f->rootfs);
        free(f->rootfs_shown);
        free(f->platform);
        free(f);
}

static struct frame *frame_ref(struct frame *f)
{
        ref_get(&f->refs);
        return f;
}

static void frame_unrefp(struct frame **f)
{
        frame_unref(*f);
}

static struct frame *frame_new(struct store *store, const char *ns, const char *id, const char *platform)
{
        _cleanup_(frame_unrefp) struct frame *f = calloc(1, sizeof(*f));
        if (!f)
                return NULL;
        ref_init(&f->refs);
        f->ns = strdup(ns);
        f->id = strdup(id);
        f->platform = strdup(platform);
        f->rootfs = store_rootfs_path(store, ns, id);
        if (asprintf(&f->rootfs_shown, "%s/%s/rootfs", ns, id) < 0)
                f->rootfs_shown = NULL;
        if (!f->ns || !f->id || !f->platform || !f->rootfs || !f->rootfs_shown)
                return NULL;
        return TAKE_PTR(f);
}

/* ---- kept specs ------------------------------------------------------------ */

static void live_free(struct live *l)
{
        if (!l)
                return;
        arena_done(&l->a);
        deps_free(l->deps);
        free(l);
}

static void live_freep(struct live **l)
{
        live_free(*l);
}

static size_t live_bytes(const struct live *l)
{
        return l ? sizeof(*l) + arena_footprint(&l->a) : 0;
}

/* The cache evicts a kept spec only when no writer holds it. */
static bool drop_kept(void *owner) NO_LOCK_ANALYSIS
{
        struct bundle *b = owner;
        if (!mutex_trylock(&b->write_lock))
                return false;
        live_free(TAKE_PTR(b->live));
        mutex_unlock(&b->write_lock);
        return true;
}

static struct render_input input_of(const struct frame *frame, struct optline *const *lines, size_t n,
                                    struct deps *deps)
{
        return (struct render_input){
                .platform = frame->platform,
                .namespace_ = frame->ns,
                .id = frame->id,
                .bundle_rootfs = frame->rootfs,
                .bundle_rootfs_shown = frame->rootfs_shown,
                .lines = lines,
                .nlines = n,
                .deps = deps,
        };
}

/* The spec of base[0..nbase) + more[0..nmore) under frame, built from
 * scratch, with what it read recorded. */
static int live_build(const struct frame *frame, struct optline *const *base, size_t nbase,
                      struct optline *const *more, size_t nmore, struct live **ret, bf_error *err)
{
        if (nbase + nmore > OPTS_LINES_MAX)
                return bf_error_set(err, EFBIG, "an option list holds at most %d lines", OPTS_LINES_MAX);
        _cleanup_(live_freep) struct live *l = calloc(1, sizeof(*l));
        _cleanup_free_ struct optline **all = malloc((nbase + nmore + 1) * sizeof(*all));
        if (!l || !all || !(l->deps = deps_new()))
                return bf_error_oom(err);
        arena_init(&l->a, RENDER_ARENA_LIMIT);
        if (nbase)
                memcpy(all, base, nbase * sizeof(*all));
        if (nmore)
                memcpy(all + nbase, more, nmore * sizeof(*all));
        struct render_input in = input_of(frame, all, nbase + nmore, l->deps);
        int r = spec_build(&l->a, &in, &l->spec, NULL, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(l);
        return 0;
}

/* Is the kept spec that of the list at version, with nothing it read
 * changed since? */
static bool live_current(struct bundle *b, uint64_t version) REQUIRES(b->write_lock)
{
        return b->live && b->live->version == version && deps_still_valid(b->live->deps);
}

/* ---- times ------------------------------------------------------------------ */

static bool ts_after(struct timespec a, struct timespec b)
{
        return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

static struct timespec ts_max(struct timespec a, struct timespec b)
{
        return ts_after(a, b) ? a : b;
}

static struct timespec now(void)
{
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        return t;
}

/* When the container last changed on disk: its log's last write, or its
 * directory's last change (made, renamed, the log replaced), whichever is
 * later. A restart takes the times from there, so what the daemon shows
 * is what it will show after one. */
static struct timespec disk_time(struct store *store, int log_fd, const char *ns, const char *id)
{
        struct timespec t = { 0 };
        struct stat st;
        if (log_fd >= 0 && fstat(log_fd, &st) == 0)
                t = st.st_mtim;
        else if (log_fd < 0)
                (void) store_log_mtime(store, ns, id, &t);      /* closed, or none yet (t stays 0) */
        if (store_dir_stat(store, ns, id, &st, NULL) == 0)
                t = ts_max(t, st.st_ctim);
        return t.tv_sec ? t : now();
}

/* 64-bit FNV-1a: tells renderings apart. */
static uint64_t bytes_hash(const char *p, size_t len)
{
        uint64_t h = 14695981039346656037ULL;
        for (size_t i = 0; i < len; i++)
                h = (h ^ (unsigned char) p[i]) * 1099511628211ULL;
        return h | 1;   /* never 0, which stands for a failed rendering */
}

/* ---- the bundle -------------------------------------------------------------- */

static struct bundle *bundle_alloc(struct store *store, struct cache *cache, struct budget *budget, const char *ns,
                                   const char *id, const char *platform, struct optline *const *lines, size_t n)
{
        struct bundle *b = calloc(1, sizeof(*b));
        if (!b)
                return NULL;
        b->store = store;
        b->budget = budget;
        b->log = (struct store_log){ .fd = -1 };
        mutex_init(&b->write_lock);
        mutex_init(&b->lock);
        b->frame = frame_new(store, ns, id, platform);
        b->list = optlist_new(lines, n);
        b->slot = cache_slot_new(cache, drop_kept, b);
        if (!b->frame || !b->list || !b->slot) {
                bundle_free(b);
                return NULL;
        }
        return b;
}

int bundle_new(struct store *store, struct cache *cache, struct budget *budget, const char *ns, const char *id,
               const char *platform, struct optline *const *lines, size_t n, size_t footprint,
               const struct store_log *log, struct bundle **ret, bf_error *err)
{
        struct bundle *b = bundle_alloc(store, cache, budget, ns, id, platform, lines, n);
        if (!b)
                return bf_error_oom(err);
        /* Taken from the budget by the caller; given back when freed. */
        b->held = footprint;
        b->log = *log;
        struct timespec t = disk_time(store, b->log.fd, ns, id);
        b->times = (struct times){ .list = t, .platform = t, .spec = t, .error = t, .inputs = t };
        store_log_release(store, &b->log);
        *ret = b;
        return 0;
}

int bundle_new_broken(struct store *store, struct cache *cache, const char *ns, const char *id, const char *platform,
                      const char *reason, struct bundle **ret, bf_error *err) NO_LOCK_ANALYSIS
{
        struct bundle *b = bundle_alloc(store, cache, NULL, ns, id, platform, NULL, 0);
        if (!b)
                return bf_error_oom(err);
        if (asprintf(&b->broken, "the option list could not be loaded: %s", reason) < 0) {
                b->broken = NULL;
                bundle_free(b);
                return bf_error_oom(err);
        }
        b->error = strdup(b->broken);
        struct timespec t = disk_time(store, -1, ns, id);
        b->times = (struct times){ .list = t, .platform = t, .spec = t, .error = t, .inputs = t };
        *ret = b;
        return 0;
}

void bundle_free(struct bundle *b) NO_LOCK_ANALYSIS
{
        if (!b)
                return;
        if (b->budget)
                budget_give(b->budget, b->held);
        cache_slot_free(b->slot);
        store_log_close(b->store, &b->log);
        live_free(b->live);
        optlist_unref(b->list);
        frame_unref(b->frame);
        free(b->error);
        free(b->broken);
        mutex_destroy(&b->write_lock);
        mutex_destroy(&b->lock);
        free(b);
}

static uint64_t version_of(struct bundle *b) NO_LOCK_ANALYSIS
{
        return __atomic_load_n(&b->version, __ATOMIC_ACQUIRE);
}

/* A change of list or frame (lock held), made at `when`: readers render
 * it afresh. */
static void touch(struct bundle *b, struct timespec when) REQUIRES(b->lock)
{
        __atomic_store_n(&b->version, b->version + 1, __ATOMIC_RELEASE);
        b->times.spec = when;
}

static void snapshot_take(struct bundle *b, struct snapshot *ret) EXCLUDES(b->lock)
{
        mutex_lock(&b->lock);
        *ret = (struct snapshot){
                .list = optlist_ref(b->list),
                .version = b->version,
                .frame = frame_ref(b->frame),
        };
        mutex_unlock(&b->lock);
}

static void snapshot_done(struct snapshot *s)
{
        optlist_unref(s->list);
        frame_unref(s->frame);
        *s = (struct snapshot){ 0 };
}

/* A new name is a new frame, with the platform the bundle has: the tree
 * makes it and sets it holding the store's names alone, so no platform
 * change is being kept meanwhile. */
struct bundle_name {
        struct frame *frame;
};

int bundle_name_new(struct bundle *b, const char *ns, const char *id, struct bundle_name **ret, bf_error *err)
{
        struct bundle_name *n = calloc(1, sizeof(*n));
        if (!n)
                return bf_error_oom(err);
        mutex_lock(&b->lock);
        n->frame = frame_new(b->store, ns, id, b->frame->platform);
        mutex_unlock(&b->lock);
        if (!n->frame) {
                free(n);
                return bf_error_oom(err);
        }
        *ret = n;
        return 0;
}

void bundle_name_free(struct bundle_name *n)
{
        if (!n)
                return;
        frame_unref(n->frame);
        free(n);
}

void bundle_rename(struct bundle *b, struct bundle_name *n)
{
        /* A container renamed is its directory renamed, which stamps it;
         * its namespace renamed stamps nothing of its own: the time of the
         * rename, then, until a restart. */
        struct stat st;
        struct timespec when =
                store_dir_stat(b->store, n->frame->ns, n->frame->id, &st, NULL) == 0 ? st.st_ctim : now();
        mutex_lock(&b->lock);
        frame_unref(b->frame);
        b->frame = TAKE_PTR(n->frame);
        touch(b, ts_after(when, b->times.spec) ? when : now());
        mutex_unlock(&b->lock);
        free(n);
}

static void error_set(struct bundle *b, const bf_error *err, bool from_read) REQUIRES(b->lock)
{
        if (b->broken)
                return;         /* `error` keeps saying why it was not loaded */
        /* `error` is rewritten: its mtime moves, as a file's does */
        free(b->error);
        b->error = strdup(err->msg);
        b->error_from_read = from_read;
        b->times.error = now();
}

static void error_clear(struct bundle *b) REQUIRES(b->lock)
{
        if (b->broken)
                return;
        if (b->error)
                b->times.error = now();
        free(TAKE_PTR(b->error));
        b->error_from_read = false;
}

void bundle_refuse(struct bundle *b, const bf_error *err)
{
        mutex_lock(&b->lock);
        error_set(b, err, false);
        mutex_unlock(&b->lock);
}

void bundle_accepted(struct bundle *b)
{
        mutex_lock(&b->lock);
        error_clear(b);
        mutex_unlock(&b->lock);
}

struct optlist *bundle_list(struct bundle *b)
{
        mutex_lock(&b->lock);
        struct optlist *l = optlist_ref(b->list);
        mutex_unlock(&b->lock);
        return l;
}

char *bundle_platform(struct bundle *b)
{
        mutex_lock(&b->lock);
        char *p = strdup(b->frame->platform);
        mutex_unlock(&b->lock);
        return p;
}

/* ---- writing ------------------------------------------------------------------- */

/* The spec of s's list's first `base` lines then more, under frame: more
 * applied to the kept spec when it is that of s's whole list and still
 * current, else built from scratch. The kept spec is taken (b->live is
 * NULL afterwards). */
static int writer_build(struct bundle *b, const struct snapshot *s, const struct frame *frame, size_t base,
                        struct optline *const *more, size_t nmore, struct live **ret, bf_error *err)
        REQUIRES(b->write_lock)
{
        bool extend = frame == s->frame && base == optlist_len(s->list) && live_current(b, s->version);
        _cleanup_(live_freep) struct live *l = TAKE_PTR(b->live);
        if (!extend)
                return live_build(frame, optlist_lines(s->list), base, more, nmore, ret, err);
        if (base + nmore > OPTS_LINES_MAX)
                return bf_error_set(err, EFBIG, "an option list holds at most %d lines", OPTS_LINES_MAX);
        struct render_input in = input_of(frame, more, nmore, l->deps);
        int r = spec_apply(&l->a, &in, &l->spec, base, NULL, err);
        if (r < 0)
                return r;       /* half applied: the spec is no longer any list's (freed) */
        *ret = TAKE_PTR(l);
        return 0;
}

/* A commit was kept: l becomes the spec kept for the new version. Lines
 * applied in place leave the values they replaced in the arena; once it
 * has grown well past what a fresh build took, the next write replays the
 * list instead (the spec's strings point into the arena and into option
 * lines, so it cannot simply be copied out). */
static void live_keep(struct bundle *b, struct live *l, uint64_t version) REQUIRES(b->write_lock)
{
        l->version = version;
        size_t now = arena_footprint(&l->a);
        if (!l->compact_at)
                l->compact_at = 4 * now + ((size_t) 64 << 10);
        if (now >= l->compact_at)
                live_free(TAKE_PTR(l));
        b->live = l;
        cache_kept(b->slot, live_bytes(l), version);
}

/* The record that makes the change durable, in the log of the container
 * named by frame (the bundle's current one, read under the store's names),
 * and when it was made (the times of the log and the container's directory
 * once it is). */
static int change_store(struct bundle *b, const struct change *ch, const struct frame *frame, size_t base,
                        bool replace_own, struct store_log *ret_new_log, struct timespec *ret_when, bf_error *err)
        REQUIRES(b->write_lock) REQUIRES_SHARED(store_names(b->store))
{
        _cleanup_(buf_free) buf payload = { 0 };
        if (ch->kind != CHANGE_PLATFORM) {
                optline_print_all(&payload, ch->lines, ch->n);
                if (payload.oom)
                        return bf_error_oom(err);
        }
        if (ch->kind == CHANGE_REPLACE) {
                int r = store_replace(b->store, frame->ns, frame->id, frame->platform, payload.p ? payload.p : "",
                                      payload.len, ret_new_log, err);
                if (r == 0)
                        *ret_when = disk_time(b->store, ret_new_log->fd, frame->ns, frame->id);
                return r;
        }
        int r = store_log_acquire(b->store, frame->ns, frame->id, frame->platform, &b->log, err);
        if (r < 0)
                return r;
        if (ch->kind == CHANGE_PLATFORM)
                r = store_append_platform(b->store, &b->log, ch->platform, err);
        else if (replace_own)
                r = store_truncate_append(b->store, &b->log, base, payload.p, payload.len, err);
        else
                r = store_append_lines(b->store, &b->log, payload.p, payload.len, err);
        if (r == 0)
                *ret_when = disk_time(b->store, b->log.fd, frame->ns, frame->id);
        store_log_release(b->store, &b->log);
        return r;
}

static void optlist_unrefp(struct optlist **l)
{
        optlist_unref(*l);
}

/* A change that cannot be kept: `error` says why; the kept spec, taken
 * by the attempt, is gone. */
static int commit_refused(struct bundle *b, int r, const bf_error *err) REQUIRES(b->write_lock)
{
        mutex_lock(&b->lock);
        error_set(b, err, false);
        uint64_t now = b->version;
        mutex_unlock(&b->lock);
        cache_kept(b->slot, 0, now);
        return r;
}

static struct frame *frame_current(struct bundle *b) EXCLUDES(b->lock)
{
        mutex_lock(&b->lock);
        struct frame *f = frame_ref(b->frame);
        mutex_unlock(&b->lock);
        return f;
}

/* Store ch and keep it, with the store's names held: the container is
 * where its current name says, and stays there until the change is kept
 * (a rename in between would otherwise see the old name come back with a
 * platform change). */
static int commit_keep(struct bundle *b, const struct change *ch, const struct snapshot *s, size_t base,
                       bool replace_own, struct frame **frame, struct optlist **next, uint64_t *ret_now,
                       bf_error *err) REQUIRES(b->write_lock) REQUIRES_SHARED(store_names(b->store))
{
        _cleanup_(frame_unrefp) struct frame *cur = frame_current(b);
        if (*frame && (!streq(cur->ns, s->frame->ns) || !streq(cur->id, s->frame->id))) {
                /* Renamed since the check: the new platform goes with the new name. */
                struct frame *f = frame_new(b->store, cur->ns, cur->id, (*frame)->platform);
                if (!f)
                        return bf_error_oom(err);
                frame_unref(*frame);
                *frame = f;
        }
        struct store_log new_log = { .fd = -1 };
        struct timespec when;
        int r = change_store(b, ch, cur, base, replace_own, &new_log, &when, err);
        if (r < 0)
                return r;
        /* Durable: keep it. */
        mutex_lock(&b->lock);
        if (*next) {
                optlist_unref(b->list);
                b->list = TAKE_PTR(*next);
        }
        if (*frame) {
                frame_unref(b->frame);
                b->frame = TAKE_PTR(*frame);
        }
        touch(b, when);
        if (ch->kind == CHANGE_PLATFORM)
                b->times.platform = when;
        else
                b->times.list = when;
        error_clear(b);
        *ret_now = b->version;
        mutex_unlock(&b->lock);
        if (ch->kind == CHANGE_REPLACE) {
                store_log_close(b->store, &b->log);
                b->log = new_log;
                store_log_release(b->store, &b->log);
        }
        return 0;
}

/* Check, store and keep ch against s, the bundle as it is. */
static int commit_locked(struct bundle *b, const struct change *ch, const struct snapshot *s, bf_error *err)
        REQUIRES(b->write_lock)
{
        size_t len = optlist_len(s->list);
        /* A later write of the same open file replaces what it kept before,
         * unless the list changed in between. */
        struct value_state *vs = ch->kind == CHANGE_VALUE ? ch->value : NULL;
        bool replace_own = vs && vs->kept && vs->version == s->version && vs->start <= len;
        size_t base = ch->kind == CHANGE_REPLACE ? 0 : replace_own ? vs->start : len;

        _cleanup_(frame_unrefp) struct frame *frame = NULL;
        if (ch->kind == CHANGE_PLATFORM &&
            !(frame = frame_new(b->store, s->frame->ns, s->frame->id, ch->platform)))
                return commit_refused(b, bf_error_oom(err), err);
        _cleanup_(live_freep) struct live *l = NULL;
        int r;
        if (ch->kind == CHANGE_REPLACE) {
                live_free(TAKE_PTR(b->live));
                r = live_build(s->frame, ch->lines, ch->n, NULL, 0, &l, err);
        } else {
                r = writer_build(b, s, frame ? frame : s->frame, base, ch->lines, ch->n, &l, err);
        }
        if (r < 0)
                return commit_refused(b, r, err);
        _cleanup_(optlist_unrefp) struct optlist *next = NULL;
        if (ch->kind != CHANGE_PLATFORM &&
            !(next = ch->kind == CHANGE_REPLACE ? optlist_new(ch->lines, ch->n) :
                                                  optlist_extend(s->list, base, ch->lines, ch->n)))
                return commit_refused(b, bf_error_oom(err), err);

        /* The memory the list will hold: refused here when over a limit. */
        size_t add = ch->kind == CHANGE_PLATFORM ? 0 : lines_footprint(ch->lines, ch->n);
        size_t drop = ch->kind == CHANGE_REPLACE ? b->held :
                      replace_own ? lines_footprint(optlist_lines(s->list) + base, len - base) : 0;
        size_t list = b->held - drop + add;
        if (add > drop && (r = budget_take(b->budget, list, add - drop, err)) < 0)
                return commit_refused(b, r, err);

        uint64_t now = 0;
        rwlock_lock_shared(store_names(b->store));
        r = commit_keep(b, ch, s, base, replace_own, &frame, &next, &now, err);
        rwlock_unlock_shared(store_names(b->store));
        if (r < 0) {
                if (add > drop)
                        budget_give(b->budget, add - drop);
                return commit_refused(b, r, err);
        }
        if (drop > add)
                budget_give(b->budget, drop - add);
        __atomic_store_n(&b->held, list, __ATOMIC_RELAXED);
        if (vs)
                *vs = (struct value_state){ .kept = true, .version = now, .start = base };
        if (now == s->version + 1)
                live_keep(b, TAKE_PTR(l), now);
        else
                cache_kept(b->slot, 0, now);    /* a rename came in between: the spec names the old one */
        return 0;
}

int bundle_commit(struct bundle *b, const struct change *ch, bf_error *err)
{
        if (b->broken)
                return bf_error_set(err, EIO, "%s", b->broken);
        if (ch->kind != CHANGE_REPLACE && ch->kind != CHANGE_PLATFORM && ch->n == 0) {
                /* only blank and comment lines: accepted, nothing to keep */
                mutex_lock(&b->lock);
                error_clear(b);
                mutex_unlock(&b->lock);
                return 0;
        }
        mutex_lock(&b->write_lock);
        _cleanup_(snapshot_done) struct snapshot s;
        snapshot_take(b, &s);
        int r = commit_locked(b, ch, &s, err);
        mutex_unlock(&b->write_lock);
        return r;
}

int bundle_check(struct bundle *b, struct optline *const *base, size_t nbase, struct optline *const *more,
                 size_t nmore, bf_error *err)
{
        if (b->broken)
                return bf_error_set(err, EIO, "%s", b->broken);
        /* What the list would hold once kept; nothing is taken yet. */
        size_t list = lines_footprint(base, nbase) + lines_footprint(more, nmore);
        int r = budget_check(b->budget, list, __atomic_load_n(&b->held, __ATOMIC_RELAXED), err);
        if (r < 0)
                return r;
        _cleanup_(snapshot_done) struct snapshot s;
        snapshot_take(b, &s);
        _cleanup_(live_freep) struct live *l = NULL;
        return live_build(s.frame, base, nbase, more, nmore, &l, err);
}

/* ---- reading ----------------------------------------------------------------- */

/* What a read of a rendered file (config.json or a control file) shows. */
static int show(const struct file_def *f, const struct spec *spec, const struct snapshot *s, buf *out,
                bf_error *err)
{
        if (f->kind == FILE_CONFIG) {
                spec_encode(spec, out);
                return 0;
        }
        struct ctl_view v = { .spec = spec, .lines = optlist_lines(s->list), .nlines = optlist_len(s->list) };
        return ctl_show(f->ctl, &v, out, err);
}

static void deps_freep(struct deps **d)
{
        deps_free(*d);
}

/* Show f from the kept spec, if it is s's list's: 1 when it is not (or a
 * writer holds it; a writer may itself be reading this container's files
 * through the mount, so readers never wait for one). */
static int show_kept(struct bundle *b, const struct file_def *f, const struct snapshot *s, buf *out,
                     struct deps **ret_deps, bf_error *err)
{
        if (!mutex_trylock(&b->write_lock))
                return 1;
        int r = 1;
        /* Under write_lock the list cannot move. */
        if (live_current(b, s->version)) {
                r = show(f, &b->live->spec, s, out, err);
                if (r == 0 && f->kind == FILE_CONFIG && (*ret_deps = deps_new()))
                        deps_merge(*ret_deps, b->live->deps);
        }
        mutex_unlock(&b->write_lock);
        return r;
}

/* Show f from s's list rendered afresh, with no lock held. */
static int show_built(const struct file_def *f, const struct snapshot *s, buf *out, struct deps **ret_deps,
                      bf_error *err)
{
        if (f->kind == FILE_CONFIG)
                *ret_deps = deps_new();
        arena a;
        arena_init(&a, RENDER_ARENA_LIMIT);
        struct spec spec;
        struct render_input in = input_of(s->frame, optlist_lines(s->list), optlist_len(s->list), *ret_deps);
        int r = spec_build(&a, &in, &spec, NULL, err);
        if (r == 0)
                r = show(f, &spec, s, out, err);
        arena_done(&a);
        return r;
}

/* A config.json was rendered afresh from list version `version` (c NULL:
 * the rendering failed). If the last one of the same version differs, what
 * it read changed (an input moved, one was removed, a device appeared):
 * its mtime moves now. */
static void rendering_seen(struct bundle *b, uint64_t version, const struct content *c) EXCLUDES(b->lock)
{
        uint64_t h = c ? bytes_hash(content_data(c), content_len(c)) : 0;
        mutex_lock(&b->lock);
        if (b->rendered && b->rendered_version == version && b->rendered_hash != h)
                b->times.inputs = now();
        if (!b->rendered || version >= b->rendered_version) {
                b->rendered = true;
                b->rendered_version = version;
                b->rendered_hash = h;
        }
        mutex_unlock(&b->lock);
}

/* The content of a rendered file (config.json or a control file). A
 * config.json is kept in the cache for the next reader. */
static int rendered(struct bundle *b, const struct file_def *f, struct content **ret, bf_error *err)
{
        if (f->kind == FILE_CONFIG) {
                struct content *c = cache_get(b->slot, version_of(b));
                if (c && content_current(c)) {
                        *ret = c;
                        return 0;
                }
                content_unref(c);
        }
        _cleanup_(snapshot_done) struct snapshot s;
        snapshot_take(b, &s);
        _cleanup_(buf_free) buf out = { 0 };
        _cleanup_(deps_freep) struct deps *deps = NULL;
        int r = show_kept(b, f, &s, &out, &deps, err);
        if (r > 0)
                r = show_built(f, &s, &out, &deps, err);
        if (r < 0) {
                if (f->kind == FILE_CONFIG && r != -ENOMEM)
                        rendering_seen(b, s.version, NULL);
                return r;
        }
        struct content *c = out.oom ? NULL : content_new(out.p, out.len, s.version, TAKE_PTR(deps));
        if (!c)
                return bf_error_oom(err);
        if (f->kind == FILE_CONFIG) {
                rendering_seen(b, s.version, c);
                cache_put(b->slot, c, version_of(b));
        }
        *ret = c;
        return 0;
}

/* The content of any file, changing nothing anyone can see. */
static int content_of(struct bundle *b, const struct file_def *f, struct content **ret, bf_error *err)
{
        if (f->kind == FILE_CONFIG || f->kind == FILE_CONTROL)
                return rendered(b, f, ret, err);
        buf out = { 0 };
        mutex_lock(&b->lock);
        if (f->kind == FILE_OPTS) {
                optline_print_all(&out, optlist_lines(b->list), optlist_len(b->list));
        } else {
                const char *s = f->kind == FILE_ERROR ? b->error : b->frame->platform;
                if (s && *s) {
                        buf_puts(&out, s);
                        buf_putc(&out, '\n');
                }
        }
        uint64_t version = b->version;
        mutex_unlock(&b->lock);
        struct content *c = out.oom ? NULL : content_new(out.p, out.len, version, NULL);
        buf_free(&out);
        if (!c)
                return bf_error_oom(err);
        *ret = c;
        return 0;
}

int bundle_read(struct bundle *b, const struct file_def *f, struct content **ret, bf_error *err)
{
        if (b->broken && f->kind != FILE_ERROR)
                return bf_error_set(err, EIO, "%s", b->broken);
        int r = content_of(b, f, ret, err);
        if (f->kind != FILE_CONFIG && f->kind != FILE_CONTROL)
                return r;
        mutex_lock(&b->lock);
        if (r < 0) {
                /* The list no longer renders (a user vanished from
                 * /etc/passwd, say): `error` says why until it does again. */
                error_set(b, err, true);
                r = -EIO;
        } else if (b->error_from_read) {
                error_clear(b);
        }
        mutex_unlock(&b->lock);
        return r;
}

/* When what config.json and the control files show last changed: the
 * spec's own change, or that of what its rendering read. */
static struct timespec rendered_mtime(struct bundle *b)
{
        struct content *c = NULL;
        bf_error err = { 0 };
        struct timespec inputs = { 0 };
        if (rendered(b, file_find("config.json"), &c, &err) == 0)
                inputs = content_inputs_changed(c);
        content_unref(c);
        mutex_lock(&b->lock);
        struct timespec t = ts_max(ts_max(b->times.spec, b->times.inputs), inputs);
        mutex_unlock(&b->lock);
        return t;
}

int bundle_stat(struct bundle *b, const struct file_def *f, size_t *ret_size, struct timespec *ret_mtime)
{
        *ret_size = 0;
        if (b->broken && f->kind != FILE_ERROR) {
                mutex_lock(&b->lock);
                *ret_mtime = b->times.spec;
                mutex_unlock(&b->lock);
                return -EIO;
        }
        if (f->kind == FILE_OPTS) {
                mutex_lock(&b->lock);
                *ret_size = optlist_bytes(b->list);
                *ret_mtime = b->times.list;
                mutex_unlock(&b->lock);
                return 0;
        }
        struct content *c = NULL;
        bf_error err = { 0 };
        int r = content_of(b, f, &c, &err);
        if (r == 0)
                *ret_size = content_len(c);
        if (f->kind == FILE_CONFIG && r == 0) {
                mutex_lock(&b->lock);
                *ret_mtime = ts_max(ts_max(b->times.spec, b->times.inputs), content_inputs_changed(c));
                mutex_unlock(&b->lock);
        } else if (f->kind == FILE_CONFIG || f->kind == FILE_CONTROL) {
                *ret_mtime = rendered_mtime(b);
        } else {
                mutex_lock(&b->lock);
                *ret_mtime = f->kind == FILE_ERROR ? b->times.error : b->times.platform;
                mutex_unlock(&b->lock);
        }
        content_unref(c);
        return r;
}
