/* Options on the process, root, hostname and annotations. */
#include "files.h"
#include "opt_common.h"
#include "utf8.h"
#include "util.h"

static const char *const default_unix_env[] = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
};

static int with_env(struct render *r, struct spec *s, const char *const *vars, size_t n)
{
        if (n == 0)
                return 0;
        int ret = set_process(r, s);
        if (ret < 0)
                return ret;
        return env_replace_or_append(r, &s->process->env, vars, n, &s->process->env);
}

int opt_env(struct render *r, struct spec *s, const struct optline *l)
{
        const char **vars = l->nargs ? r_alloc(r, l->nargs * sizeof(char *)) : NULL;
        if (l->nargs && !vars)
                return -r->err->code;
        for (size_t i = 0; i < l->nargs; i++)
                vars[i] = l->args[i].str;
        return with_env(r, s, vars, l->nargs);
}

int opt_env_file(struct render *r, struct spec *s, const struct optline *l)
{
        _cleanup_free_ char *data = NULL;
        size_t n;
        int ret = file_read_input(r, l->args[0].str, FILE_READ_MAX, &data, &n);
        if (ret < 0)
                return ret;
        span_slice lines;
        ret = scan_lines(r->a, data, n, SCANNER_LINE_MAX, &lines, r->err);
        if (ret < 0)
                return ret;
        const char **vars = lines.len ? r_alloc(r, lines.len * sizeof(char *)) : NULL;
        if (lines.len && !vars)
                return -r->err->code;
        for (size_t i = 0; i < lines.len; i++) {
                const char *p = lines.v[i].p;
                size_t len = lines.v[i].len;
                /* A NUL byte is data to containerd, which writes it as
                 * "\u0000": carried escaped (utf8.h). */
                buf esc = { 0 };
                if (memchr(p, '\0', len) || memchr(p, NUL_ESCAPE_BYTE, len)) {
                        nul_escape(&esc, p, len);
                        p = esc.p;
                        len = esc.len;
                }
                vars[i] = esc.oom ? NULL : arena_strndup(r->a, p, len);
                buf_free(&esc);
                if (!vars[i])
                        return r_nomem(r);
        }
        return with_env(r, s, vars, lines.len);
}

int opt_default_path_env(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        if (!s->process)
                return missing_section(r, "process");
        return env_replace_or_append(r, &s->process->env, default_unix_env, 1, &s->process->env);
}

int opt_process_args(struct render *r, struct spec *s, const struct optline *l)
{
        int ret = set_process(r, s);
        if (ret < 0)
                return ret;
        s->process->command_line = NULL;
        return args_to_slice(r, &s->process->args, l, 0, true);
}

int opt_process_cwd(struct render *r, struct spec *s, const struct optline *l)
{
        int ret = set_process(r, s);
        if (ret < 0)
                return ret;
        s->process->cwd = l->args[0].str;
        return 0;
}

int opt_tty(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        int ret = set_process(r, s);
        if (ret < 0)
                return ret;
        s->process->terminal = true;
        if (s->linux_)
                return push_str(r, &s->process->env, "TERM=xterm");
        return 0;
}

int opt_tty_size(struct render *r, struct spec *s, const struct optline *l)
{
        int ret = set_process(r, s);
        if (ret < 0)
                return ret;
        if (!s->process->console_size && !(s->process->console_size = R_NEW(r, struct spec_box)))
                return -r->err->code;
        /* uint(width): Go's int to uint conversion wraps negative values */
        s->process->console_size->width = (uint64_t) l->args[0].i;
        s->process->console_size->height = (uint64_t) l->args[1].i;
        return 0;
}

int opt_hostname(struct render *r, struct spec *s, const struct optline *l)
{
        (void) r;
        s->hostname = l->args[0].str;
        return 0;
}

int opt_domainname(struct render *r, struct spec *s, const struct optline *l)
{
        (void) r;
        s->domainname = l->args[0].str;
        return 0;
}

int opt_new_privileges(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        int ret = set_process(r, s);
        if (ret < 0)
                return ret;
        s->process->no_new_privileges = false;
        return 0;
}

int opt_no_new_privileges(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        int ret = set_process(r, s);
        if (ret < 0)
                return ret;
        s->process->no_new_privileges = true;
        return 0;
}

int opt_selinux_label(struct render *r, struct spec *s, const struct optline *l)
{
        int ret = set_process(r, s);
        if (ret < 0)
                return ret;
        s->process->selinux_label = l->args[0].str;
        return 0;
}

int opt_apparmor_profile(struct render *r, struct spec *s, const struct optline *l)
{
        int ret = set_process(r, s);
        if (ret < 0)
                return ret;
        s->process->apparmor_profile = l->args[0].str;
        return 0;
}

int opt_annotations(struct render *r, struct spec *s, const struct optline *l)
{
        if (!s->annotations.v)
                slice_make_empty(&s->annotations);
        struct str_entry *entries = r_alloc(r, (l->nargs + 1) * sizeof(*entries));
        if (!entries)
                return -r->err->code;
        for (size_t i = 0; i < l->nargs; i++) {
                const char *kv = l->args[i].str;
                const char *eq = strchr(kv, '=');
                entries[i] = (struct str_entry){ arena_strndup(r->a, kv, (size_t) (eq - kv)), eq + 1 };
                if (!entries[i].key)
                        return r_nomem(r);
        }
        return map_put_all(r->a, &type_str_map, &s->annotations, entries, l->nargs) < 0 ? r_nomem(r) : 0;
}

int opt_rootfs_path(struct render *r, struct spec *s, const struct optline *l)
{
        int ret = set_root(r, s);
        if (ret < 0)
                return ret;
        s->root->path = l->args[0].str;
        return 0;
}

int opt_rootfs_readonly(struct render *r, struct spec *s, const struct optline *l)
{
        (void) l;
        int ret = set_root(r, s);
        if (ret < 0)
                return ret;
        s->root->readonly = true;
        return 0;
}
