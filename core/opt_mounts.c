/* Options on the mount list. */
#include <stdio.h>

#include "goconv.h"
#include "opt_common.h"
#include "util.h"

int opt_mounts(struct render *r, struct spec *s, const struct optline *l)
{
        const mount_slice *add = l->args[0].value;
        for (size_t i = 0; i < add->len; i++) {
                struct spec_mount *m = slice_push(r->a, &s->mounts, sizeof(*m));
                if (!m || model_copy(r->a, &type_mount, m, &add->v[i]) < 0)
                        return r_nomem(r);
        }
        return 0;
}

static bool clean_path_equals(const char *path, const char *want)
{
        buf b = { 0 };
        go_path_clean(&b, path ? path : "");
        bool eq = !b.oom && strcmp(b.p, want) == 0;
        buf_free(&b);
        return eq;
}

static int without_mounts(struct render *r, struct spec *s, const char *const *dests, size_t n)
{
        (void) r;
        /* Go builds a new slice: nil when nothing is kept. */
        size_t w = 0;
        for (size_t i = 0; i < s->mounts.len; i++) {
                bool drop = false;
                for (size_t j = 0; j < n && !drop; j++)
                        drop = clean_path_equals(s->mounts.v[i].destination, dests[j]);
                if (!drop)
                        s->mounts.v[w++] = s->mounts.v[i];
        }
        s->mounts.len = w;
        if (w == 0)
                s->mounts = (mount_slice){ 0 };
        return 0;
}

int opt_without_mounts(struct render *r, struct spec *s, const struct optline *l)
{
        const char *small[16];
        const char **dests = l->nargs <= 16 ? small : r_alloc(r, l->nargs * sizeof(char *));
        if (!dests)
                return -r->err->code;
        for (size_t i = 0; i < l->nargs; i++)
                dests[i] = l->args[i].str;
        return without_mounts(r, s, dests, l->nargs);
}

int opt_without_run_mount(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        static const char *const run[] = { "/run" };
        return without_mounts(r, s, run, 1);
}

static const char *const bind_ro[] = { "rbind", "ro" };

static int host_file_mount(struct render *r, struct spec *s, const char *path)
{
        struct spec_mount *m = slice_push(r->a, &s->mounts, sizeof(*m));
        if (!m || slice_set(r->a, &m->options, bind_ro, ARRAY_SIZE(bind_ro), sizeof(char *)) < 0)
                return r_nomem(r);
        m->destination = path;
        m->type = "bind";
        m->source = path;
        return 0;
}

int opt_host_hosts_file(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        return host_file_mount(r, s, "/etc/hosts");
}

int opt_host_resolvconf(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        return host_file_mount(r, s, "/etc/resolv.conf");
}

int opt_host_localtime(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        return host_file_mount(r, s, "/etc/localtime");
}

int opt_dev_shm_size(struct render *r, struct spec *s, const struct optline *l)
{
        for (size_t i = 0; i < s->mounts.len; i++) {
                struct spec_mount *m = &s->mounts.v[i];
                if (!clean_path_equals(m->destination, "/dev/shm") || !streq(m->source, "shm") ||
                    !streq(m->type, "tmpfs"))
                        continue;
                str_slice opts = { 0 };
                for (size_t j = 0; j < m->options.len; j++)
                        if (strncmp(m->options.v[j], "size=", 5) != 0 && push_str(r, &opts, m->options.v[j]) < 0)
                                return -r->err->code;
                const char *size = arena_printf(r->a, "size=%lldk", (long long) l->args[0].i);
                if (!size || push_str(r, &opts, size) < 0)
                        return r_nomem(r);
                m->options = opts;
                return 0;
        }
        return bf_error_set(r->err, EINVAL, "no /dev/shm mount specified");
}

static void writeable(struct spec *s, const char *type)
{
        for (size_t i = 0; i < s->mounts.len; i++) {
                struct spec_mount *m = &s->mounts.v[i];
                if (!streq(m->type, type))
                        continue;
                for (size_t j = 0; j < m->options.len; j++)
                        if (streq(m->options.v[j], "ro"))
                                m->options.v[j] = "rw";
        }
}

int opt_writeable_sysfs(struct render *r, struct spec *s, const struct optline *l)
{
        (void) r, (void) l;
        writeable(s, "sysfs");
        return 0;
}

int opt_writeable_cgroupfs(struct render *r, struct spec *s, const struct optline *l)
{
        (void) r, (void) l;
        writeable(s, "cgroup");
        return 0;
}
