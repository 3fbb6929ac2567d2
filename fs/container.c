/* A container's state: its option list, platform and error, and the checks
 * every write goes through before it is kept. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "platform.h"
#include "render.h"
#include "util.h"

struct optlist *optlist_new(struct optline *const *lines, size_t n, struct optline *const *more, size_t nmore)
{
        struct optlist *l = malloc(sizeof(*l) + (n + nmore) * sizeof(l->lines[0]));
        if (!l)
                return NULL;
        l->refs = 1;
        l->n = n + nmore;
        for (size_t i = 0; i < n; i++)
                l->lines[i] = optline_ref(lines[i]);
        for (size_t i = 0; i < nmore; i++)
                l->lines[n + i] = optline_ref(more[i]);
        return l;
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
        for (size_t i = 0; i < l->n; i++)
                optline_unref(l->lines[i]);
        free(l);
}

struct container *container_new(struct bfs *fs, struct namespace *ns, const char *id, const char *platform,
                                struct optline **lines, size_t nlines, struct store_log log)
{
        struct container *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
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
                mkdir(rootfs, 0755);
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
        if (c->log.fd >= 0)
                close(c->log.fd);
        if (c->rootfs_fd >= 0)
                close(c->rootfs_fd);
        pt_free_all(c);
        optlist_unref(c->list);
        free(c->files);
        free(c->id);
        free(c->ns_name);
        free(c->platform);
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

static void set_error_locked(struct container *c, const bf_error *err, bool from_read)
{
        snprintf(c->error, sizeof(c->error), "%s", err->msg);
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
                c->error[0] = '\0';
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

static struct render_input input_of(const struct snapshot *s, const char *platform, struct optline *const *lines,
                                    size_t n)
{
        return (struct render_input){
                .platform = platform ? platform : s->platform,
                .namespace_ = s->ns,
                .id = s->id,
                .bundle_rootfs = s->rootfs,
                .lines = lines,
                .nlines = n,
        };
}

int container_read(struct bfs *fs, struct container *c, const struct file_def *f, buf *out, bf_error *err)
{
        if (f->kind == FILE_ERROR || f->kind == FILE_PLATFORM) {
                pthread_mutex_lock(&c->lock);
                const char *s = f->kind == FILE_ERROR ? c->error : c->platform;
                if (*s) {
                        buf_puts(out, s);
                        buf_putc(out, '\n');
                }
                pthread_mutex_unlock(&c->lock);
                return out->oom ? bf_error_set(err, ENOMEM, "out of memory") : 0;
        }

        struct snapshot s;
        if (container_snapshot(fs, c, &s) < 0)
                return bf_error_set(err, ENOMEM, "out of memory");
        int r = 0;
        if (f->kind == FILE_OPTS) {
                for (size_t i = 0; i < s.list->n; i++) {
                        buf_put(out, s.list->lines[i]->text, s.list->lines[i]->text_len);
                        buf_putc(out, '\n');
                }
        } else if (f->kind == FILE_CONFIG) {
                struct render_input in = input_of(&s, NULL, s.list->lines, s.list->n);
                r = spec_render(&in, out, err);
        } else {
                arena a;
                arena_init(&a, RENDER_ARENA_LIMIT);
                struct spec spec;
                struct render_input in = input_of(&s, NULL, s.list->lines, s.list->n);
                r = spec_build(&a, &in, &spec, NULL, err);
                if (r == 0) {
                        struct view v = { .spec = &spec, .list = s.list, .platform = s.platform };
                        r = f->show(&v, out, err);
                }
                arena_done(&a);
        }
        snapshot_done(&s);
        if (r == 0 && out->oom)
                r = bf_error_set(err, ENOMEM, "out of memory");
        if (r < 0 && f->kind != FILE_OPTS) {
                /* The list no longer renders (a user vanished from /etc/passwd, say). */
                read_failed(c, err);
                return -EIO;
        }
        if (r == 0 && f->kind != FILE_OPTS)
                read_succeeded(c);
        return r;
}

/* Render base + more (under another platform if given); the failure, if
 * any, is the reason for a refusal. Takes the container lock only to read
 * the names: the rendering runs unlocked. */
static int check(struct bfs *fs, struct container *c, const char *platform, struct optline *const *base,
                 size_t nbase, struct optline *const *more, size_t nmore, bf_error *err)
{
        if (nbase + nmore > OPTS_LINES_MAX)
                return bf_error_set(err, EFBIG, "an option list holds at most %d lines", OPTS_LINES_MAX);
        struct snapshot s;
        if (container_snapshot(fs, c, &s) < 0)
                return bf_error_set(err, ENOMEM, "out of memory");
        struct optline **all = malloc((nbase + nmore + 1) * sizeof(*all));
        if (!all) {
                snapshot_done(&s);
                return bf_error_set(err, ENOMEM, "out of memory");
        }
        if (nbase)
                memcpy(all, base, nbase * sizeof(*all));
        if (nmore)
                memcpy(all + nbase, more, nmore * sizeof(*all));
        arena a;
        arena_init(&a, RENDER_ARENA_LIMIT);
        struct spec spec;
        struct render_input in = input_of(&s, platform, all, nbase + nmore);
        int r = spec_build(&a, &in, &spec, NULL, err);
        arena_done(&a);
        free(all);
        snapshot_done(&s);
        return r;
}

int container_check(struct bfs *fs, struct container *c, struct optline *const *base, size_t nbase,
                    struct optline *const *more, size_t nmore, bf_error *err)
{
        return check(fs, c, NULL, base, nbase, more, nmore, err);
}

/* The current list, for a writer (which holds write_lock, so it stays current). */
static struct optlist *current_list(struct container *c, uint64_t *ret_version)
{
        pthread_mutex_lock(&c->lock);
        struct optlist *l = optlist_ref(c->list);
        if (ret_version)
                *ret_version = c->version;
        pthread_mutex_unlock(&c->lock);
        return l;
}

static void touch_locked(struct container *c)
{
        c->version++;
        clock_gettime(CLOCK_REALTIME, &c->mtime);
        c->error[0] = '\0';
        c->error_from_read = false;
}

int container_append(struct bfs *fs, struct container *c, const char *text, size_t len, struct value_state *vs,
                     bf_error *err)
{
        struct optline **lines = NULL;
        size_t n = 0;
        int r = optline_parse_text(text, len, &lines, &n, err);
        if (r < 0) {
                container_refuse(c, err);
                return r;
        }
        if (n == 0) {
                /* only blank and comment lines: accepted, nothing to keep */
                pthread_mutex_lock(&c->lock);
                c->error[0] = '\0';
                c->error_from_read = false;
                pthread_mutex_unlock(&c->lock);
                free(lines);
                return 0;
        }
        buf payload = { 0 };
        for (size_t i = 0; i < n; i++) {
                buf_put(&payload, lines[i]->text, lines[i]->text_len);
                buf_putc(&payload, '\n');
        }

        pthread_mutex_lock(&c->write_lock);
        uint64_t version;
        struct optlist *cur = current_list(c, &version);
        /* A later write of the same open file replaces what it kept before,
         * unless the list changed in between. */
        bool replace = vs && vs->kept && vs->version == version && vs->start <= cur->n;
        size_t base = replace ? vs->start : cur->n;
        r = check(fs, c, NULL, cur->lines, base, lines, n, err);
        struct optlist *next = NULL;
        if (r == 0 && !(next = optlist_new(cur->lines, base, lines, n)))
                r = bf_error_set(err, ENOMEM, "out of memory");
        if (r == 0 && payload.oom)
                r = bf_error_set(err, ENOMEM, "out of memory");
        if (r == 0)
                r = replace ? store_truncate_append(&fs->store, &c->log, base, payload.p, payload.len, err) :
                              store_append_lines(&fs->store, &c->log, payload.p, payload.len, err);
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
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_unlock(&c->write_lock);
        optlist_unref(cur);
        optlist_unref(next);
        buf_free(&payload);
        optline_free_all(lines, n);
        return r;
}

int container_replace(struct bfs *fs, struct container *c, struct optline **lines, size_t n, bf_error *err)
{
        buf payload = { 0 };
        for (size_t i = 0; i < n; i++) {
                buf_put(&payload, lines[i]->text, lines[i]->text_len);
                buf_putc(&payload, '\n');
        }
        struct optlist *next = optlist_new(lines, n, NULL, 0);
        pthread_mutex_lock(&c->write_lock);
        int r = next && !payload.oom ? 0 : bf_error_set(err, ENOMEM, "out of memory");
        if (r == 0)
                r = check(fs, c, NULL, lines, n, NULL, 0, err);
        struct store_log log = { .fd = -1 };
        struct snapshot s = { 0 };
        if (r == 0 && container_snapshot(fs, c, &s) < 0)
                r = bf_error_set(err, ENOMEM, "out of memory");
        if (r == 0)
                r = store_replace(&fs->store, s.ns, s.id, s.platform, payload.p ? payload.p : "", payload.len, &log,
                                  err);
        snapshot_done(&s);
        pthread_mutex_lock(&c->lock);
        if (r == 0) {
                close(c->log.fd);
                c->log = log;
                optlist_unref(c->list);
                c->list = TAKE_PTR(next);
                touch_locked(c);
        } else {
                set_error_locked(c, err, false);
        }
        pthread_mutex_unlock(&c->lock);
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
        struct optlist *cur = current_list(c, NULL);
        r = copy ? check(fs, c, normalized, cur->lines, cur->n, NULL, 0, err) :
                   bf_error_set(err, ENOMEM, "out of memory");
        optlist_unref(cur);
        if (r == 0)
                r = store_append_platform(&fs->store, &c->log, normalized, err);
        pthread_mutex_lock(&c->lock);
        if (r == 0) {
                free(c->platform);
                c->platform = copy;
                touch_locked(c);
        } else {
                free(copy);
                set_error_locked(c, err, false);
        }
        pthread_mutex_unlock(&c->lock);
        pthread_mutex_unlock(&c->write_lock);
        return r;
}
