/* A container's spec (bundle.h). */
#include "bundle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "budget.h"
#include "cache.h"
#include "compact.h"
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
        struct content_shelf *shelves;  /* the latest bytes of each file (files.h), shared */
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
        uint64_t next_seq GUARDED_BY(write_lock);       /* the number the log gives the next line */
        struct compactor comp GUARDED_BY(write_lock);   /* which lines a control file's may drop */
        size_t rewrite_at GUARDED_BY(write_lock);       /* the log size at which to look at writing it anew */

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

/* The compactor of a list read from the start (lines dropped long ago are
 * not dropped again: the list is as its log left it). */
static void compactor_replay(struct compactor *c, const struct optlist *l)
{
        compactor_init(c);
        struct optline *const *lines = optlist_lines(l);
        for (size_t i = 0; lines && i < optlist_len(l); i++) {
                uint64_t unused;
                (void) compactor_add(c, lines[i], optlist_seq(l, i), optlist_by_control(l, i), &unused);
        }
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
                                   const char *id, const char *platform, const struct store_container *loaded)
        NO_LOCK_ANALYSIS
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
        b->list = loaded ? optlist_new(loaded->lines, loaded->seqs, loaded->by_control, loaded->nlines) :
                           optlist_new(NULL, NULL, NULL, 0);
        b->next_seq = loaded ? loaded->next_seq : 0;
        b->rewrite_at = BUNDLE_LOG_REWRITE_MIN;
        b->slot = cache_slot_new(cache, drop_kept, b);
        b->shelves = content_shelves_new(files_count());
        if (!b->frame || !b->list || !b->slot || !b->shelves) {
                bundle_free(b);
                return NULL;
        }
        return b;
}

int bundle_new(struct store *store, struct cache *cache, struct budget *budget, const char *ns, const char *id,
               const char *platform, const struct store_container *loaded, const struct store_log *log,
               struct bundle **ret, bf_error *err) NO_LOCK_ANALYSIS
{
        struct bundle *b = bundle_alloc(store, cache, budget, ns, id, platform, loaded);
        if (!b)
                return bf_error_oom(err);
        /* Taken from the budget by the caller; given back when freed. */
        b->held = loaded ? loaded->footprint : 0;
        b->log = *log;
        struct timespec t = disk_time(store, b->log.fd, ns, id);
        b->times = (struct times){ .list = t, .platform = t, .spec = t, .error = t, .inputs = t };
        store_log_release(store, &b->log);
        compactor_replay(&b->comp, b->list);
        *ret = b;
        return 0;
}

int bundle_new_broken(struct store *store, struct cache *cache, const char *ns, const char *id, const char *platform,
                      const char *reason, struct bundle **ret, bf_error *err) NO_LOCK_ANALYSIS
{
        struct bundle *b = bundle_alloc(store, cache, NULL, ns, id, platform, NULL);
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
        content_shelves_free(b->shelves, files_count());
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

void bundle_rootfs_made(struct bundle *b, const char *ns, const char *id)
{
        /* Making it stamps the container's directory: take the time a start
         * will take, so that no file's times move across a restart. Nothing
         * it shows changed: no new version. (The kernel asks for a file's
         * times only after its look-up, which made it.) */
        struct timespec t = disk_time(b->store, -1, ns, id);
        mutex_lock(&b->lock);
        struct timespec *all[] = { &b->times.list, &b->times.platform, &b->times.spec, &b->times.error,
                                   &b->times.inputs };
        for (size_t i = 0; i < ARRAY_SIZE(all); i++)
                if (ts_after(t, *all[i]))
                        *all[i] = t;
        mutex_unlock(&b->lock);
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

/* What a change does to the list: the lines it drops (by number), and the
 * spec that checks it. */
struct plan {
        uint64_t *drop;
        size_t ndrop;
        bool replace_own;       /* drops the lines the same open file kept before */
        struct compactor comp;  /* the bundle's, after the change */
        uint64_t first_seq;     /* of the lines added */
};

static void plan_done(struct plan *p)
{
        free(p->drop);
}

/* Which lines ch drops: the same open file's earlier value, and the lines
 * its new ones make pointless (core/compact.h). */
static int plan_make(struct bundle *b, const struct change *ch, const struct snapshot *s, struct plan *p,
                     bf_error *err) REQUIRES(b->write_lock)
{
        *p = (struct plan){ .comp = b->comp, .first_seq = b->next_seq };
        if (ch->kind == CHANGE_REPLACE || ch->kind == CHANGE_PLATFORM)
                return 0;
        /* A later write of the same open file replaces what it kept
         * before, unless the list changed in between. */
        const struct value_state *vs = ch->kind == CHANGE_VALUE ? ch->value : NULL;
        p->replace_own = vs && vs->kept && vs->version == s->version;
        size_t own = p->replace_own ? vs->n : 0;
        if (!(p->drop = malloc((own + ch->n + 1) * sizeof(*p->drop))))
                return bf_error_oom(err);
        for (size_t i = 0; i < own; i++) {
                p->drop[p->ndrop++] = vs->seq + i;
                compactor_forget(&p->comp, vs->seq + i);
        }
        bool by_control = ch->kind == CHANGE_VALUE;
        for (size_t i = 0; i < ch->n; i++) {
                uint64_t d;
                if (compactor_add(&p->comp, ch->lines[i], p->first_seq + i, by_control, &d))
                        p->drop[p->ndrop++] = d;
        }
        return 0;
}

/* The list s holds without the lines plan drops, then more: side by side,
 * for a spec built from scratch. */
static int lines_after(const struct snapshot *s, const struct plan *p, struct optline *const *more, size_t nmore,
                       struct optline ***ret, size_t *ret_n, bf_error *err)
{
        size_t n = optlist_len(s->list);
        struct optline *const *lines = optlist_lines(s->list);
        struct optline **all = malloc((n + nmore + 1) * sizeof(*all));
        if (!all || (n && !lines)) {
                free(all);
                return bf_error_oom(err);
        }
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                bool dropped = false;
                for (size_t j = 0; j < p->ndrop && !dropped; j++)
                        dropped = optlist_seq(s->list, i) == p->drop[j];
                if (!dropped)
                        all[k++] = lines[i];
        }
        for (size_t i = 0; i < nmore; i++)
                all[k++] = more[i];
        *ret = all;
        *ret_n = k;
        return 0;
}

/* The spec of s's list after plan and more, under frame: more applied to
 * the kept spec when it is that of s's whole list and still current (the
 * lines plan drops change nothing other lines see: core/compact.h), else
 * built from scratch. The kept spec is taken (b->live is NULL afterwards). */
static int writer_build(struct bundle *b, const struct snapshot *s, const struct frame *frame,
                        const struct plan *p, struct optline *const *more, size_t nmore, struct live **ret,
                        bf_error *err) REQUIRES(b->write_lock)
{
        bool extend = frame == s->frame && !p->replace_own && live_current(b, s->version);
        _cleanup_(live_freep) struct live *l = TAKE_PTR(b->live);
        size_t len = optlist_len(s->list) - p->ndrop + nmore;
        if (len > OPTS_LINES_MAX)
                return bf_error_set(err, EFBIG, "an option list holds at most %d lines", OPTS_LINES_MAX);
        if (!extend) {
                _cleanup_free_ struct optline **all = NULL;
                size_t n = 0;
                int r = lines_after(s, p, more, nmore, &all, &n, err);
                return r < 0 ? r : live_build(frame, all, n, NULL, 0, ret, err);
        }
        struct render_input in = input_of(frame, more, nmore, l->deps);
        int r = spec_apply(&l->a, &in, &l->spec, len - nmore, NULL, err);
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
static int change_store(struct bundle *b, const struct change *ch, const struct frame *frame, const struct plan *p,
                        struct store_log *ret_new_log, struct timespec *ret_when, bf_error *err)
        REQUIRES(b->write_lock) REQUIRES_SHARED(store_names(b->store))
{
        _cleanup_(buf_free) buf payload = { 0 };
        if (ch->kind != CHANGE_PLATFORM) {
                optline_print_all(&payload, ch->lines, ch->n);
                if (payload.oom)
                        return bf_error_oom(err);
        }
        const char *text = payload.p ? payload.p : "";
        if (ch->kind == CHANGE_REPLACE) {
                int r = store_replace(b->store, frame->ns, frame->id, frame->platform, text, payload.len, ret_new_log,
                                      err);
                if (r == 0)
                        *ret_when = disk_time(b->store, ret_new_log->fd, frame->ns, frame->id);
                return r;
        }
        int r = store_log_acquire(b->store, frame->ns, frame->id, frame->platform, &b->log, err);
        if (r < 0)
                return r;
        if (ch->kind == CHANGE_PLATFORM)
                r = store_append_platform(b->store, &b->log, ch->platform, err);
        else if (ch->kind == CHANGE_VALUE)
                r = store_append_control(b->store, &b->log, p->drop, p->ndrop, text, payload.len, err);
        else
                r = store_append_lines(b->store, &b->log, text, payload.len, err);
        if (r == 0)
                *ret_when = disk_time(b->store, b->log.fd, frame->ns, frame->id);
        store_log_release(b->store, &b->log);
        return r;
}

/* Write the log anew holding list cur alone (frame names the container):
 * the renumbered list, or NULL when that failed (the old log is still good). */
static struct optlist *log_write_anew(struct bundle *b, const struct optlist *cur, const struct frame *frame)
        REQUIRES(b->write_lock) REQUIRES_SHARED(store_names(b->store))
{
        size_t n = optlist_len(cur);
        struct optline *const *lines = optlist_lines(cur);
        _cleanup_free_ struct store_run *runs = malloc((n + 1) * sizeof(*runs));
        _cleanup_free_ bool *flags = malloc((n + 1) * sizeof(*flags));
        _cleanup_(buf_free) buf text = { 0 };
        if (!runs || !flags || (n && !lines))
                return NULL;
        for (size_t i = 0; i < n; i++) {
                flags[i] = optlist_by_control(cur, i);
                optline_print(&text, lines[i]);
                buf_putc(&text, '\n');
        }
        if (text.oom)
                return NULL;
        size_t nruns = 0, off = 0;
        for (size_t i = 0; i < n; i++) {
                size_t len = lines[i]->text_len + 1;
                if (nruns && runs[nruns - 1].by_control == flags[i])
                        runs[nruns - 1].len += len;
                else
                        runs[nruns++] = (struct store_run){ .by_control = flags[i], .text = text.p + off, .len = len };
                off += len;
        }
        struct optlist *renumbered = optlist_new(lines, NULL, flags, n);
        struct store_log new_log = { .fd = -1 };
        bf_error err = { 0 };
        if (!renumbered ||
            store_rewrite(b->store, frame->ns, frame->id, frame->platform, runs, nruns, &new_log, &err) < 0) {
                optlist_unref(renumbered);
                return NULL;
        }
        store_log_close(b->store, &b->log);
        b->log = new_log;
        store_log_release(b->store, &b->log);
        return renumbered;
}

/* A log grown far past the list it holds (control files write one record
 * each, and the lines they make pointless stay in the log) is written anew,
 * holding the list alone, its lines numbered from 0. Failing (a full disk)
 * changes nothing: the old log is still good, and the next try waits until
 * the log has doubled. The store's names are held meanwhile, so that the
 * frame names the container where it is. */
static void log_rewrite(struct bundle *b) REQUIRES(b->write_lock)
{
        if (b->log.size < b->rewrite_at)
                return;
        b->rewrite_at = b->log.size * 2;
        rwlock_lock_shared(store_names(b->store));
        _cleanup_(snapshot_done) struct snapshot s;
        snapshot_take(b, &s);
        struct optlist *renumbered =
                b->log.size < 8 * optlist_bytes(s.list) ? NULL : log_write_anew(b, s.list, s.frame);
        rwlock_unlock_shared(store_names(b->store));
        if (!renumbered)
                return;
        size_t n = optlist_len(renumbered);
        b->rewrite_at = b->log.size * 8 > BUNDLE_LOG_REWRITE_MIN ? b->log.size * 8 : BUNDLE_LOG_REWRITE_MIN;
        b->next_seq = n;
        compactor_replay(&b->comp, renumbered);
        /* Open files name their lines by number: a new version tells them
         * the numbers changed. */
        mutex_lock(&b->lock);
        optlist_unref(b->list);
        b->list = renumbered;
        touch(b, b->times.spec);        /* the same content: its times stay */
        uint64_t now = b->version;
        mutex_unlock(&b->lock);
        if (b->live)
                b->live->version = now;         /* the same spec */
        cache_kept(b->slot, live_bytes(b->live), now);
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
static int commit_keep(struct bundle *b, const struct change *ch, const struct snapshot *s, const struct plan *p,
                       struct frame **frame, struct optlist **next, uint64_t *ret_now, bf_error *err)
        REQUIRES(b->write_lock) REQUIRES_SHARED(store_names(b->store))
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
        int r = change_store(b, ch, cur, p, &new_log, &when, err);
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
                b->next_seq = ch->n;
                compactor_init(&b->comp);
                b->rewrite_at = BUNDLE_LOG_REWRITE_MIN;
        } else if (ch->kind != CHANGE_PLATFORM) {
                b->next_seq += ch->n;
                b->comp = p->comp;
        }
        return 0;
}

/* Check, store and keep ch against s, the bundle as it is. */
static int commit_locked(struct bundle *b, const struct change *ch, const struct snapshot *s, bf_error *err)
        REQUIRES(b->write_lock)
{
        _cleanup_(plan_done) struct plan p;
        int r = plan_make(b, ch, s, &p, err);
        if (r < 0)
                return commit_refused(b, r, err);

        _cleanup_(frame_unrefp) struct frame *frame = NULL;
        if (ch->kind == CHANGE_PLATFORM &&
            !(frame = frame_new(b->store, s->frame->ns, s->frame->id, ch->platform)))
                return commit_refused(b, bf_error_oom(err), err);
        _cleanup_(live_freep) struct live *l = NULL;
        if (ch->kind == CHANGE_REPLACE) {
                live_free(TAKE_PTR(b->live));
                r = live_build(s->frame, ch->lines, ch->n, NULL, 0, &l, err);
        } else {
                r = writer_build(b, s, frame ? frame : s->frame, &p, ch->lines, ch->n, &l, err);
        }
        if (r < 0)
                return commit_refused(b, r, err);
        /* Everything the change needs is made before it is stored: a
         * change the store refuses leaves nothing, and one it made durable
         * is kept whole. */
        _cleanup_(optlist_unrefp) struct optlist *next = NULL;
        if (ch->kind == CHANGE_REPLACE)
                next = optlist_new(ch->lines, NULL, NULL, ch->n);
        else if (ch->kind != CHANGE_PLATFORM)
                next = optlist_change(s->list, p.drop, p.ndrop, ch->lines, ch->n, p.first_seq,
                                      ch->kind == CHANGE_VALUE);
        if (ch->kind != CHANGE_PLATFORM && !next)
                return commit_refused(b, bf_error_oom(err), err);

        /* The memory the list will hold: refused here when over a limit. */
        size_t add = ch->kind == CHANGE_PLATFORM ? 0 : lines_footprint(ch->lines, ch->n);
        size_t drop = ch->kind == CHANGE_REPLACE ? b->held : 0;
        for (size_t i = 0; ch->kind != CHANGE_REPLACE && i < p.ndrop; i++) {
                struct optline *gone = optlist_find(s->list, p.drop[i]);
                drop += gone ? optline_footprint(gone) : 0;
        }
        if (drop > b->held)
                drop = b->held;
        size_t list = b->held - drop + add;
        if (add > drop && (r = budget_take(b->budget, list, add - drop, err)) < 0)
                return commit_refused(b, r, err);

        uint64_t now = 0;
        rwlock_lock_shared(store_names(b->store));
        r = commit_keep(b, ch, s, &p, &frame, &next, &now, err);
        rwlock_unlock_shared(store_names(b->store));
        if (r < 0) {
                if (add > drop)
                        budget_give(b->budget, add - drop);
                return commit_refused(b, r, err);
        }
        if (drop > add)
                budget_give(b->budget, drop - add);
        __atomic_store_n(&b->held, list, __ATOMIC_RELAXED);
        if (ch->kind == CHANGE_VALUE)
                *ch->value = (struct value_state){ .kept = true, .version = now, .seq = p.first_seq, .n = ch->n };
        if (now == s->version + 1)
                live_keep(b, TAKE_PTR(l), now);
        else
                cache_kept(b->slot, 0, now);    /* a rename came in between: the spec names the old one */
        if (p.ndrop)
                log_rewrite(b);
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
        struct ctl_view v = { .spec = spec };
        if (ctl_shows_lines(f->ctl)) {
                v.lines = optlist_lines(s->list);
                v.nlines = optlist_len(s->list);
                if (!v.lines && v.nlines)
                        return bf_error_oom(err);
        }
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
                if (r == 0 && (*ret_deps = deps_new()))
                        deps_merge(*ret_deps, b->live->deps);
        }
        mutex_unlock(&b->write_lock);
        return r;
}

/* Show f from s's list rendered afresh, with no lock held. */
static int show_built(const struct file_def *f, const struct snapshot *s, buf *out, struct deps **ret_deps,
                      bf_error *err)
{
        *ret_deps = deps_new();
        arena a;
        arena_init(&a, RENDER_ARENA_LIMIT);
        struct spec spec;
        struct render_input in = input_of(s->frame, optlist_lines(s->list), optlist_len(s->list), *ret_deps);
        int r = !in.lines && in.nlines ? bf_error_oom(err) : spec_build(&a, &in, &spec, NULL, err);
        if (r == 0)
                r = show(f, &spec, s, out, err);
        arena_done(&a);
        return r;
}

static struct content_shelf *shelf_of(struct bundle *b, const struct file_def *f)
{
        return content_shelf_at(b->shelves, file_index(f));
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

/* The content of a rendered file (config.json or a control file), with
 * what its rendering read. A config.json is kept in the cache for the
 * next reader. */
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
        struct content *c = out.oom ? NULL :
                            content_new_shared(shelf_of(b, f), out.p ? out.p : "", out.len, s.version,
                                               TAKE_PTR(deps));
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
        if (f->kind == FILE_OPTS) {
                /* The list's text is the same for the same version: printed once. */
                struct content *c = content_new_shared(shelf_of(b, f), NULL, 0, version_of(b), NULL);
                if (c) {
                        *ret = c;
                        return 0;
                }
                if (errno)
                        return bf_error_oom(err);
        }
        buf out = { 0 };
        mutex_lock(&b->lock);
        if (f->kind == FILE_OPTS) {
                struct optline *const *lines = optlist_lines(b->list);
                if (lines)
                        optline_print_all(&out, lines, optlist_len(b->list));
                else if (optlist_len(b->list))
                        out.oom = true;
        } else {
                const char *s = f->kind == FILE_ERROR ? b->error : b->frame->platform;
                if (s && *s) {
                        buf_puts(&out, s);
                        buf_putc(&out, '\n');
                }
        }
        uint64_t version = b->version;
        mutex_unlock(&b->lock);
        struct content *c = out.oom ? NULL :
                            content_new_shared(shelf_of(b, f), out.p ? out.p : "", out.len, version, NULL);
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

bool bundle_shows(struct bundle *b, const struct file_def *f, const struct content *c, bool check_inputs)
{
        if (f->kind == FILE_ERROR)
                return false;   /* changes with no new version: read again (a line at most) */
        if (content_version(c) != version_of(b))
                return false;
        return !check_inputs || content_current(c);
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
        if (f->kind == FILE_CONFIG || f->kind == FILE_CONTROL) {
                /* The spec's own change, or that of what its rendering read
                 * (the file's own rendering tells: a control file's spec
                 * read what config.json's did). */
                struct timespec inputs = r == 0 ? content_inputs_changed(c) : (struct timespec){ 0 };
                mutex_lock(&b->lock);
                *ret_mtime = ts_max(ts_max(b->times.spec, b->times.inputs), inputs);
                mutex_unlock(&b->lock);
        } else {
                mutex_lock(&b->lock);
                *ret_mtime = f->kind == FILE_ERROR ? b->times.error : b->times.platform;
                mutex_unlock(&b->lock);
        }
        content_unref(c);
        return r;
}
