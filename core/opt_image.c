/* WithImageConfig and WithImageConfigArgs, from an image config file or
 * from an image in an OCI image layout (oci.h). */
#include <json-c/json.h>
#include <stdio.h>

#include "files.h"
#include "image.h"
#include "oci.h"
#include "opt_common.h"
#include "util.h"

static const char *const default_unix_env[] = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
};

/* The config of the image ref names, for the container's platform (as the
 * image containerd's WithImageConfig is given was resolved for one). */
static int image_load_oci(struct render *r, const char *ref, struct image *ret)
{
        struct platform p;
        int e = platform_parse(r->platform ? r->platform : platform_host(), &p, r->err);
        if (e < 0)
                return e;
        struct oci_image *img;
        if ((e = oci_image_open(r->a, ref, &p, r->deps, &img, r->err)) < 0)
                return e;
        *ret = *oci_image_config(img);
        oci_image_close(img);
        return 0;
}

static int image_load(struct render *r, const char *path, struct image *ret)
{
        if (oci_ref_is(path))
                return image_load_oci(r, path, ret);
        _cleanup_free_ char *data = NULL;
        size_t n;
        int e = file_read_input(r, path, FILE_READ_MAX, &data, &n);
        if (e < 0)
                return e;
        struct json_object *j;
        if ((e = json_parse_document(data, n, &j, r->err)) < 0)
                return e;
        *ret = (struct image){ 0 };
        e = model_decode(r->a, &type_image, ret, j, r->err);
        json_object_put(j);
        return e;
}

/* Entrypoint followed by cmd (Go's append, nil when both are empty). */
static int concat(struct render *r, const str_slice *a, const str_slice *b, str_slice *ret)
{
        *ret = (str_slice){ 0 };
        if (a->len + b->len == 0) {
                if (a->v)
                        slice_make_empty(ret);
                return 0;
        }
        ret->v = r_alloc(r, (a->len + b->len) * sizeof(char *));
        if (!ret->v)
                return -r->err->code;
        if (a->len)
                memcpy(ret->v, a->v, a->len * sizeof(char *));
        if (b->len)
                memcpy(ret->v + a->len, b->v, b->len * sizeof(char *));
        ret->len = ret->cap = a->len + b->len;
        return 0;
}

static int image_linux(struct render *r, struct spec *s, const struct image_config *c, const str_slice *args)
{
        str_slice defaults = c->env;
        if (defaults.len == 0)
                defaults = (str_slice){ .v = (const char **) default_unix_env, .len = 1, .cap = 1 };
        int e = env_replace_or_append(r, &defaults, s->process->env.v, s->process->env.len, &s->process->env);
        if (e < 0)
                return e;
        const str_slice *cmd = args->len ? args : &c->cmd;
        if ((e = concat(r, &c->entrypoint, cmd, &s->process->args)) < 0)
                return e;
        s->process->cwd = c->working_dir && c->working_dir[0] ? c->working_dir : "/";
        if (c->user && c->user[0]) {
                const char *user[] = { c->user };
                if ((e = apply_with_args(r, s, opt_user, user, 1)) < 0)
                        return e;
                const char *uid = arena_printf(r->a, "%u", s->process->user.uid);
                if (!uid)
                        return r_nomem(r);
                return apply_with_args(r, s, opt_additional_gids, &uid, 1);
        }
        /* the image's /etc/group is read for additional GIDs even with no user */
        static const char *const root[] = { "root" };
        return apply_with_args(r, s, opt_additional_gids, root, 1);
}

static int image_windows(struct render *r, struct spec *s, const struct image_config *c, const str_slice *args)
{
        int e = env_replace_or_append(r, &c->env, s->process->env.v, s->process->env.len, &s->process->env);
        if (e < 0)
                return e;
        bool cmd_from_image = args->len == 0;
        str_slice cmd;
        if ((e = concat(r, &c->entrypoint, cmd_from_image ? &c->cmd : args, &cmd)) < 0)
                return e;
        if (cmd.len == 0)
                return bf_error_set(r->err, EINVAL, "no arguments specified");
        if (c->args_escaped && (c->entrypoint.len > 0 || cmd_from_image)) {
                /* Combining escaped Windows arguments is not supported off Windows
                 * (containerd v1.7.7 panics there); a single argument needs none. */
                if (cmd.len > 1)
                        return bf_error_set(r->err, EINVAL,
                                            "escaping Windows arguments (ArgsEscaped) is not supported on this host");
                s->process->args = (str_slice){ 0 };
                s->process->command_line = cmd.v[0];
        } else {
                s->process->args = cmd;
                s->process->command_line = NULL;
        }
        s->process->cwd = c->working_dir;
        s->process->user = (struct spec_user){ .username = c->user };
        return 0;
}

static int with_image_config(struct render *r, struct spec *s, const char *path, const str_slice *args)
{
        struct image img;
        int e = image_load(r, path, &img);
        if (e < 0)
                return e;
        if ((e = set_process(r, s)) < 0)
                return e;
        if (s->linux_)
                return image_linux(r, s, &img.config, args);
        if (s->windows)
                return image_windows(r, s, &img.config, args);
        return bf_error_set(r->err, EINVAL, "spec does not contain Linux or Windows section");
}

int opt_image_config(struct render *r, struct spec *s, const struct optline *l)
{
        str_slice none = { 0 };
        return with_image_config(r, s, l->args[0].str, &none);
}

int opt_image_config_args(struct render *r, struct spec *s, const struct optline *l)
{
        str_slice args;
        int e = args_to_slice(r, &args, l, 1, true);
        return e < 0 ? e : with_image_config(r, s, l->args[0].str, &args);
}
