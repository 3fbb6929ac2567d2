/* A container's state: its option list, platform and error, and the checks
 * every write goes through before it is kept. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "internal.h"
#include "platform.h"
#include "deps.h"
#include "render.h"
#include "util.h"

/* The lines of some versions of a list; lines[0..used) are owned. */
struct optarray {
        int refs;
        size_t used;
        size_t cap;
        struct optline *lines[];
};

static size_t lines_bytes(struct optline *const *lines, size_t n)
{
        size_t b = 0;
        for (size_t i = 0; i < n; i++)
                b += lines[i]->text_len + 1;
        return b;
}

static struct optlist *optlist_of(struct optarray *arr, size_t n, size_t bytes)
{
        struct optlist *l = malloc(sizeof(*l));
        if (!l)
                return NULL;
        __atomic_add_fetch(&arr->refs, 1, __ATOMIC_RELAXED);
        *l = (struct optlist){ .refs = 1, .n = n, .lines = arr->lines, .arr = arr, .bytes = bytes };
        return l;
}

static void optarray_unref(struct optarray *arr)
{
        if (!arr || __atomic_sub_fetch(&arr->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return;
        for (size_t i = 0; i < arr->used; i++)
                optline_unref(arr->lines[i]);
        free(arr);
}

/* A new array holding lines then more, with room for cap lines. */
static struct optlist *optlist_make(struct optline *const *lines, size_t n, struct optline *const *more, size_t nmore,
                                    size_t cap)
{
        if (cap < n + nmore)
                cap = n + nmore;
        struct optarray *arr = malloc(sizeof(*arr) + cap * sizeof(arr->lines[0]));
        if (!arr)
                return NULL;
        *arr = (struct optarray){ .refs = 0, .used = n + nmore, .cap = cap };
        for (size_t i = 0; i < n; i++)
                arr->lines[i] = optline_ref(lines[i]);
        for (size_t i = 0; i < nmore; i++)
                arr->lines[n + i] = optline_ref(more[i]);
        struct optlist *l = optlist_of(arr, n + nmore, lines_bytes(arr->lines, n + nmore));
        if (!l) {
                arr->refs = 1;
                optarray_unref(arr);
        }
        return l;
}

struct optlist *optlist_new(struct optline *const *lines, size_t n, struct optline *const *more, size_t nmore)
{
        return optlist_make(lines, n, more, nmore, 8);
}

struct optlist *optlist_extend(struct optlist *cur, size_t base, struct optline *const *more, size_t nmore)
{
        struct optarray *arr = cur->arr;
        if (base != cur->n || arr->used != cur->n || arr->cap - arr->used < nmore)
                /* A copy with room to grow: appends stay amortised O(1). */
                return optlist_make(cur->lines, base, more, nmore, 2 * (base + nmore));
        /* Only the container's writer (under its write_lock) extends its
         * newest list, and readers never look past their own n. */
        for (size_t i = 0; i < nmore; i++)
                arr->lines[arr->used + i] = optline_ref(more[i]);
        arr->used += nmore;
        return optlist_of(arr, base + nmore, cur->bytes + lines_bytes(more, nmore));
}

struct optlist *optlist_ref(struct optlist *l)
{
        if (l)
                __atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
        return l;
}

void optlist_unref(struct optlist *l)
{
        if (!l || __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return;
        optarray_unref(l->arr);
        free(l);
}

/* Keep c's log descriptor only while few are open (write_lock held, or c
 * not yet shared). */
static void log_fd_release(struct container *c)
{
        if (c->log.fd < 0)
                return;
        if (__atomic_add_fetch(&c->fs->log_fds, 1, __ATOMIC_RELAXED) <= LOG_FDS_MAX)
                return;
        __atomic_sub_fetch(&c->fs->log_fds, 1, __ATOMIC_RELAXED);
        close(c->log.fd);
        c->log.fd = -1;
}

/* c's log, open for an append (write_lock held). */
static int log_fd_get(struct bfs *fs, struct container *c, const struct snapshot *s, bf_error *err)
{
        if (c->log.fd >= 0)
                return 0;
        return store_log_open(&fs->store, s->ns, s->id, &c->log, err);
}

/* After an append: the descriptor stays open only while few are. */
static void log_fd_put(struct container *c, bool was_open)
{
        if (was_open || c->log.fd < 0)
                return;
        log_fd_release(c);
}

struct container *container_new(struct bfs *fs, struct namespace *ns, const char *id, const char *platform,
                                struct optline **lines, size_t nlines, struct store_log log)
{
        struct container *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->fs = fs;
        c->log.fd = -1;
        c->rootfs_fd = -1;
        c->files = calloc(file_defs_count, sizeof(*c->files));
        c->id = strdup(id);
        c->ns_name = strdup(ns->name);
        c->platform = strdup(platform);
        c->list = optlist_new(lines, nlines, NULL, 0);
        if (!c->files || !c->id || !c->ns_name || !c->platform || !c->list) {
                container_free(c);
                return NULL;
        }
        /* The real rootfs, for requests that reach it through FUSE; made if a
         * crash left the container without one. */
        char *rootfs = store_rootfs_path(&fs->store, ns->name, id);
        if (rootfs) {
                c->rootfs_fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (c->rootfs_fd < 0 && errno == ENOENT && mkdir(rootfs, 0755) == 0)
                        c->rootfs_fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        }
        free(rootfs);
        if (c->rootfs_fd < 0) {
                container_free(c);
                return NULL;
        }
        pthread_mutex_init(&c->write_lock, NULL);
        pthread_mutex_init(&c->lock, NULL);
        pthread_cond_init(&c->mount_cond, NULL);
        c->ns = ns;
        c->log = log;  /* owned from here on */
        log_fd_release(c);
        c->mount = MOUNT_PENDING;
        clock_gettime(CLOCK_REALTIME, &c->mtime);
        c->dir = (struct node){ .kind = NODE_CONTAINER, .c = c };
        c->rootfs = (struct node){ .kind = NODE_ROOTFS, .c = c };
        for (size_t i = 0; i < file_defs_count; i++)
                c->files[i] = (struct node){ .kind = NODE_FILE, .c = c, .file = &file_defs[i] };
        clock_gettime(CLOCK_MONOTONIC, &c->rootfs_active);
        return c;
}

void container_free(struct container *c)
{
        if (!c)
                return;
        if (c->log.fd >= 0) {
                close(c->log.fd);
                __atomic_sub_fetch(&c->fs->log_fds, 1, __ATOMIC_RELAXED);
        }
        if (c->rootfs_fd >= 0)
                close(c->rootfs_fd);
        pt_free_all(c);
        if (c->fs)
                cache_forget(c->fs, c);
        live_free(c->live);
        optlist_unref(c->list);
        free(c->files);
        free(c->id);
        free(c->ns_name);
        free(c->platform);
        free(c->error);
        if (c->list || c->id) {
                pthread_mutex_destroy(&c->write_lock);
                pthread_mutex_destroy(&c->lock);
                pthread_cond_destroy(&c->mount_cond);
        }
        free(c);
}

static int snapshot_locked(struct bfs *fs, const struct container *c, struct snapshot *ret)
{
        *ret = (struct snapshot){
                .list = optlist_ref(c->list),
                .version = c->version,
                .platform = strdup(c->platform),
                .ns = strdup(c->ns_name),
                .id = strdup(c->id),
                .rootfs = store_rootfs_path(&fs->store, c->ns_name, c->id),
        };
        if (!ret->platform || !ret->ns || !ret->id || !ret->rootfs) {
                snapshot_done(ret);
                return -ENOMEM;
        }
        return 0;
}

int container_snapshot(struct bfs *fs, struct container *c, struct snapshot *ret)
{
        pthread_mutex_lock(&c->lock);
        int r = snapshot_locked(fs, c, ret);
        pthread_mutex_unlock(&c->lock);
        return r;
}

void snapshot_done(struct snapshot *s)
{
        optlist_unref(s->list);
        free(s->platform);
        free(s->ns);
        free(s->id);
        free(s->rootfs);
        *s = (struct snapshot){ 0 };
}

static void error_clear_locked(struct container *c)
{
        free(c->error);
        c->error = NULL;
}

static void set_error_locked(struct container *c, const bf_error *err, bool from_read)
{
        free(c->error);
        c->error = strdup(err->msg);
        c->error_from_read = from_read;
}

void container_refuse(struct container *c, const bf_error *err)
{
        pthread_mutex_lock(&c->lock);
        set_error_locked(c, err, false);
        pthread_mutex_unlock(&c->lock);
}

/* A read rendered fine: an error left by an earlier failed read is stale. */
static void read_succeeded(struct container *c)
{
        pthread_mutex_lock(&c->lock);
        if (c->error_from_read) {
                error_clear_locked(c);
                c->error_from_read = false;
        }
        pthread_mutex_unlock(&c->lock);
}

static void read_failed(struct container *c, const bf_error *err)
{
        pthread_mutex_lock(&c->lock);
        set_error_locked(c, err, true);
        pthread_mutex_unlock(&c->lock);
}

/* The current list (a reference). */
static struct optlist *current_list(struct container *c, uint64_t *ret_version)
{
        pthread_mutex_lock(&c->lock);
        struct optlist *l = optlist_ref(c->list);
        if (ret_version)
                *ret_version = c->version;
        pthread_mutex_unlock(&c->lock);
        return l;
}

static struct render_input input_of(const struct snapshot *s, const char *platform, struct optline *const *lines,
                                    size_t n, struct deps *deps)
{
        return (struct render_input){
                .platform = platform ? platform : s->platform,
                .namespace_ = s->ns,
                .id = s->id,
                .bundle_rootfs = s->rootfs,
                .lines = lines,
                .nlines = n,
                .deps = deps,
        };
}

static uint64_t version_of(struct container *c)
{
        return __atomic_load_n(&c->version, __ATOMIC_ACQUIRE);
}

/* The spec of base[0..nbase) + more[0..nmore), built from scratch, with
 * what it read recorded. */
static int live_build(const struct snapshot *s, const char *platform, struct optline *const *base, size_t nbase,
                      struct optline *const *more, size_t nmore, struct live **ret, bf_error *err)
{
        if (nbase + nmore > OPTS_LINES_MAX)
                return bf_error_set(err, EFBIG, "an option list holds at most %d lines", OPTS_LINES_MAX);
        struct live *l = calloc(1, sizeof(*l));
        struct optline **all = malloc((nbase + nmore + 1) * sizeof(*all));
        if (l)
                l->deps = deps_new();
        if (!l || !all || !l->deps) {
                live_free(l);
                free(all);
                return bf_error_set(err, ENOMEM, "out of memory");
        }
        if (nbase)
                memcpy(all, base, nbase * sizeof(*all));
        if (nmore)
                memcpy(all + nbase, more, nmore * sizeof(*all));
        arena_init(&l->a, RENDER_ARENA_LIMIT);
        struct render_input in = input_of(s, platform, all, nbase + nmore, l->deps);
        int r = spec_build(&l->a, &in, &l->spec, NULL, err);
        free(all);
        if (r < 0) {
                live_free(l);
                return r;
        }
        *ret = l;
        return 0;
}

/* Is the kept spec that of the list at version, with nothing it read
 * changed since? (The caller holds write_lock.) */
static bool live_current(const struct container *c, uint64_t version)
{
        return c->live && c->live->version == version && deps_still_valid(c->live->deps);
}

/* For a writer (holding write_lock): the spec of cur[0..base) + more under
 * platform (NULL: the container's). Applies more to the kept spec when it
 * is cur's and still current, else builds from scratch. On success *ret is
 * the new spec, taken from the container; c->live is then NULL. */
static int writer_build(struct container *c, const struct snapshot *s, const char *platform,
                        const struct optlist *cur, uint64_t version, size_t base, struct optline *const *more,
                        size_t nmore, struct live **ret, bf_error *err)
{
        bool extend = !platform && base == cur->n && live_current(c, version);
        struct live *l = TAKE_PTR(c->live);
        if (extend) {
                if (base + nmore > OPTS_LINES_MAX) {
                        c->live = l;
                        return bf_error_set(err, EFBIG, "an option list holds at most %d lines", OPTS_LINES_MAX);
                }
                struct render_input in = input_of(s, NULL, more, nmore, l->deps);
                int r = spec_apply(&l->a, &in, &l->spec, base, NULL, err);
                if (r < 0) {
                        /* Half applied: the spec is no longer any list's. */
                        live_free(l);
                        return r;
                }
                *ret = l;
                return 0;
        }
        live_free(l);
        return live_build(s, platform, cur->lines, base, more, nmore, ret, err);
}

/* A writer's list change is kept: l becomes the container's spec for
 * version, unless something else changed the container meanwhile (a rename:
 * renderings name the container). */
static void live_keep(struct bfs *fs, struct container *c, struct live *l, uint64_t version, uint64_t expected)
{
        if (version != expected) {
                live_free(l);
                cache_update(fs, c);
                return;
        }
        l->version = version;
        /* Lines applied in place leave the values they replaced in the arena.
         * Once it has grown well past what a fresh build took, the next write
         * replays the list instead, which builds a compact spec again (the
         * spec's strings point into the arena and into option lines, so it
         * cannot simply be copied out). */
        size_t now = arena_footprint(&l->a);
        if (!l->compact_at)
                l->compact_at = 4 * now + ((size_t) 64 << 10);
        if (now >= l->compact_at) {
                live_free(l);
                l = NULL;
        }
        c->live = l;
        cache_update(fs, c);
}

/* What a read of a rendered file (config.json or a control file) shows. */
static int show(const struct file_def *f, const struct spec *spec, const struct snapshot *s, buf *out, bf_error *err)
{
        if (f->kind == FILE_CONFIG) {
                spec_encode(spec, out);
                return 0;
        }
        struct ctl_view v = { .spec = spec, .lines = s->list->lines, .nlines = s->list->n };
        return ctl_show(f->ctl, &v, out, err);
}

/* Render for a reader. The kept spec serves when no writer holds it (a
 * writer may itself be reading this container's files through the mount,
 * so readers never wait for one); else the list is rendered afresh, with
 * no lock held. config.json is cached for the next reader. */
static int read_rendered(struct bfs *fs, struct container *c, const struct file_def *f, buf *out, bf_error *err)
{
        uint64_t version = version_of(c);
        if (f->kind == FILE_CONFIG) {
                struct rendered *rd = cache_get(fs, c, version);
                if (rd && deps_still_valid(rd->deps)) {
                        buf_put(out, rd->data, rd->len);
                        rendered_unref(rd);
                        return 0;
                }
                rendered_unref(rd);
        }
        struct snapshot s;
        if (container_snapshot(fs, c, &s) < 0)
                return bf_error_set(err, ENOMEM, "out of memory");
        int r = 1;
        struct deps *deps = NULL;
        if (pthread_mutex_trylock(&c->write_lock) == 0) {
                /* Under write_lock the list cannot move: the kept spec serves
                 * if it is the snapshot's list's. */
                if (live_current(c, s.version)) {
                        r = show(f, &c->live->spec, &s, out, err);
                        if (r == 0 && f->kind == FILE_CONFIG && (deps = deps_new()))
                                deps_merge(deps, c->live->deps);
                }
                pthread_mutex_unlock(&c->write_lock);
        }
        if (r > 0) {
                arena a;
                arena_init(&a, RENDER_ARENA_LIMIT);
                struct spec spec;
                if (f->kind == FILE_CONFIG)
                        deps = deps_new();
                struct render_input in = input_of(&s, NULL, s.list->lines, s.list->n, deps);
                r = spec_build(&a, &in, &spec, NULL, err);
                if (r == 0)
                        r = show(f, &spec, &s, out, err);
                arena_done(&a);
        }
        if (r == 0 && out->oom)
                r = bf_error_set(err, ENOMEM, "out of memory");
        if (r == 0 && f->kind == FILE_CONFIG && deps) {
                struct rendered *rd = rendered_new(s.version, out, TAKE_PTR(deps));
                if (rd) {
                        cache_put(fs, c, rd);
                        rendered_unref(rd);
                }
        }
        deps_free(deps);
        snapshot_done(&s);
        return r;
}

int container_read(struct bfs *fs, struct container *c, const struct file_def *f, buf *out, bf_error *err)
{
        if (f->kind == FILE_ERROR || f->kind == FILE_PLATFORM) {
                pthread_mutex_lock(&c->lock);
                const char *s = f->kind == FILE_ERROR ? c->error : c->platform;
                if (s && *s) {
                        buf_puts(out, s);
                        buf_putc(out, '\n');
                }
                pthread_mutex_unlock(&c->lock);
                return out->oom ? bf_error_set(err, ENOMEM, "out of memory") : 0;
        }
        if (f->kind == FILE_OPTS) {
                struct optlist *l = current_list(c, NULL);
                optline_print_all(out, l->lines, l->n);
                optlist_unref(l);
                return out->oom ? bf_error_set(err, ENOMEM, "out of memory") : 0;
        }
        int r = read_rendered(fs, c, f, out, err);
        if (r < 0) {
                /* The list no longer renders (a user vanished from /etc/passwd, say). */
                read_failed(c, err);
                return -EIO;
        }
        read_succeeded(c);
        return 0;
}

int container_size(struct bfs *fs, struct container *c, const struct file_def *f, size_t *ret, bf_error *err)
{
        if (f->kind == FILE_OPTS) {
                struct optlist *l = current_list(c, NULL);
                *ret = l->bytes;
                optlist_unref(l);
                return 0;
        }
        if (f->kind == FILE_CONFIG) {
                struct rendered *rd = cache_get(fs, c, version_of(c));
                bool valid = rd && deps_still_valid(rd->deps);
                if (valid)
                        *ret = rd->len;
                rendered_unref(rd);
                if (valid)
                        return 0;
        }
        buf content = { 0 };
        int r = container_read(fs, c, f, &content, err);
        if (r == 0)
                *ret = content.len;
        buf_free(&content);
        return r;
}

/* For a replace in progress: render base + more from scratch (nothing is
 * kept). */
int container_check(struct bfs *fs, struct container *c, struct optline *const *base, size_t nbase,
                    struct optline *const *more, size_t nmore, bf_error *err)
{
        struct snapshot s;
        if (container_snapshot(fs, c, &s) < 0)
                return bf_error_set(err, ENOMEM, "out of memory");
        struct live *l = NULL;
        int r = live_build(&s, NULL, base, nbase, more, nmore, &l, err);
        live_free(l);
        snapshot_done(&s);
        return r;
}

static void touch_locked(struct container *c)
{
        __atomic_store_n(&c->version, c->version + 1, __ATOMIC_RELEASE);
        clock_gettime(CLOCK_REALTIME, &c->mtime);
        error_clear_locked(c);
        c->error_from_read = false;
}

int container_append(struct bfs *fs, struct container *c, struct optline *const *lines, size_t n,
                     struct value_state *vs, bf_error *err)
{
        if (n == 0) {
                /* only blank and comment lines: accepted, nothing to keep */
                pthread_mutex_lock(&c->lock);
                error_clear_locked(c);
                c->error_from_read = false;
                pthread_mutex_unlock(&c->lock);
                return 0;
        }
        buf payload = { 0 };
        optline_print_all(&payload, lines, n);

        pthread_mutex_lock(&c->write_lock);
        struct snapshot s;
        int r = container_snapshot(fs, c, &s) < 0 ? bf_error_set(err, ENOMEM, "out of memory") : 0;
        /* A later write of the same open file replaces what it kept before,
         * unless the list changed in between. */
        bool replace = r == 0 && vs && vs->kept && vs->version == s.version && vs->start <= s.list->n;
        size_t base = replace ? vs->start : s.list ? s.list->n : 0;
        struct live *l = NULL;
        if (r == 0)
                r = writer_build(c, &s, NULL, s.list, s.version, base, lines, n, &l, err);
        struct optlist *next = NULL;
        if (r == 0 && !(next = optlist_extend(s.list, base, lines, n)))
                r = bf_error_set(err, ENOMEM, "out of memory");
        if (r == 0 && payload.oom)
                r = bf_error_set(err, ENOMEM, "out of memory");
        bool was_open = c->log.fd >= 0;
        if (r == 0)
                r = log_fd_get(fs, c, &s, err);
        if (r == 0)
                r = replace ? store_truncate_append(&fs->store, &c->log, base, payload.p, payload.len, err) :
                              store_append_lines(&fs->store, &c->log, payload.p, payload.len, err);
        log_fd_put(c, was_open);
        pthread_mutex_lock(&c->lock);
        if (r == 0) {
                optlist_unref(c->list);
                c->list = TAKE_PTR(next);
                touch_locked(c);
                if (vs)
                        *vs = (struct value_state){ .kept = true, .version = c->version, .start = base };
        } else {
                set_error_locked(c, err, false);
        }
        uint64_t now = c->version;
        pthread_mutex_unlock(&c->lock);
        if (r == 0)
                live_keep(fs, c, TAKE_PTR(l), now, s.version + 1);
        live_free(l);
        pthread_mutex_unlock(&c->write_lock);
        snapshot_done(&s);
        optlist_unref(next);
        buf_free(&payload);
        return r;
}

int container_replace(struct bfs *fs, struct container *c, struct optline **lines, size_t n, bf_error *err)
{
        buf payload = { 0 };
        optline_print_all(&payload, lines, n);
        struct optlist *next = optlist_new(lines, n, NULL, 0);
        pthread_mutex_lock(&c->write_lock);
        int r = next && !payload.oom ? 0 : bf_error_set(err, ENOMEM, "out of memory");
        struct snapshot s = { 0 };
        if (r == 0 && container_snapshot(fs, c, &s) < 0)
                r = bf_error_set(err, ENOMEM, "out of memory");
        struct live *l = NULL;
        if (r == 0) {
                live_free(TAKE_PTR(c->live));
                r = live_build(&s, NULL, lines, n, NULL, 0, &l, err);
        }
        struct store_log log = { .fd = -1 };
        if (r == 0)
                r = store_replace(&fs->store, s.ns, s.id, s.platform, payload.p ? payload.p : "", payload.len, &log,
                                  err);
        uint64_t version = s.version;
        snapshot_done(&s);
        pthread_mutex_lock(&c->lock);
        if (r == 0) {
                if (c->log.fd >= 0) {
                        close(c->log.fd);
                        __atomic_sub_fetch(&fs->log_fds, 1, __ATOMIC_RELAXED);
                }
                c->log = log;
                log_fd_release(c);
                optlist_unref(c->list);
                c->list = TAKE_PTR(next);
                touch_locked(c);
        } else {
                set_error_locked(c, err, false);
        }
        uint64_t now = c->version;
        pthread_mutex_unlock(&c->lock);
        if (r == 0)
                live_keep(fs, c, TAKE_PTR(l), now, version + 1);
        live_free(l);
        pthread_mutex_unlock(&c->write_lock);
        optlist_unref(next);
        buf_free(&payload);
        return r;
}

int container_set_platform(struct bfs *fs, struct container *c, const char *value, size_t len, bf_error *err)
{
        char text[PLATFORM_MAX + 1];
        while (len && (value[len - 1] == '\n' || value[len - 1] == ' ' || value[len - 1] == '\t'))
                len--;
        int r;
        struct platform p;
        if (len == 0)
                r = bf_error_set(err, EINVAL, "empty platform");
        else if (len > PLATFORM_MAX - 1)
                r = bf_error_set(err, EFBIG, "platform longer than %d bytes", PLATFORM_MAX - 1);
        else {
                memcpy(text, value, len);
                text[len] = '\0';
                r = platform_parse(text, &p, err);
        }
        if (r < 0) {
                container_refuse(c, err);
                return r;
        }
        char normalized[3 * PLATFORM_MAX];
        platform_format(&p, normalized, sizeof(normalized));

        char *copy = strdup(normalized);
        pthread_mutex_lock(&c->write_lock);
        struct snapshot s;
        r = !copy || container_snapshot(fs, c, &s) < 0 ? bf_error_set(err, ENOMEM, "out of memory") : 0;
        struct live *l = NULL;
        uint64_t version = 0;
        bool was_open = c->log.fd >= 0;
        if (r == 0) {
                version = s.version;
                r = writer_build(c, &s, normalized, s.list, s.version, s.list->n, NULL, 0, &l, err);
                if (r == 0)
                        r = log_fd_get(fs, c, &s, err);
                snapshot_done(&s);
        }
        if (r == 0)
                r = store_append_platform(&fs->store, &c->log, normalized, err);
        log_fd_put(c, was_open);
        pthread_mutex_lock(&c->lock);
        if (r == 0) {
                free(c->platform);
                c->platform = copy;
                touch_locked(c);
        } else {
                free(copy);
                set_error_locked(c, err, false);
        }
        uint64_t now = c->version;
        pthread_mutex_unlock(&c->lock);
        if (r == 0)
                live_keep(fs, c, TAKE_PTR(l), now, version + 1);
        live_free(l);
        pthread_mutex_unlock(&c->write_lock);
        return r;
}
