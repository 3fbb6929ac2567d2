/* The control files. Each is one row of ctls[]: the option it writes, the
 * function that turns a written value into option lines, and what a read
 * shows (a field of the spec, or a show function). A new control file is one
 * row plus its parse function, and a show function unless it shows a field. */
#include "ctl.h"

#include <ctype.h>
#include <inttypes.h>
#include <libudev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "caps.h"
#include "devices.h"
#include "model.h"
#include "optline.h"
#include "options.h"
#include "spec.h"
#include "utf8.h"
#include "util.h"

/* ---- the files ----------------------------------------------------------------- */

struct lines;

struct ctl {
        const char *name;
        /* The option a write gives (the plain form, for files with several). */
        const char *option;
        int (*parse)(const struct ctl *c, const char *v, size_t len, struct lines *o, bf_error *err);
        /* A read shows the spec's field at this JSON path (show_field), `unset`
         * when it is absent ... */
        const char *field;
        const char *unset;
        /* ... or what show prints (show_checked: a show that can fail). */
        void (*show)(const struct ctl_view *v, buf *out);
        int (*show_checked)(const struct ctl_view *v, buf *out, bf_error *err);
        bool shows_lines;       /* the show reads the view's lines, not only its spec */
        /* Flags: what 1 turns on, for the refusal of 0. */
        const char *what;
};

/* ---- making option lines ---------------------------------------------------- */

/* The lines a value becomes, and the arguments of the line being made
 * (strings that live in `strings` until the line is built). */
struct lines {
        struct optline **v;
        size_t n, cap;
        const char **args;
        size_t nargs, args_cap;
        arena strings;
};

static void lines_done(struct lines *o)
{
        optline_free_all(o->v, o->n);
        free(o->args);
        arena_done(&o->strings);
}

/* s must outlive the line being made (a static string, or one in o->strings). */
static int arg(struct lines *o, const char *s, bf_error *err)
{
        if (!s)
                return bf_error_oom(err);
        if (o->nargs == o->args_cap) {
                size_t cap = o->args_cap ? 2 * o->args_cap : 8;
                const char **a = realloc(o->args, cap * sizeof(*a));
                if (!a)
                        return bf_error_oom(err);
                o->args = a;
                o->args_cap = cap;
        }
        o->args[o->nargs++] = s;
        return 0;
}

static int arg_n(struct lines *o, const char *s, size_t n, bf_error *err)
{
        return arg(o, arena_strndup(&o->strings, s, n), err);
}

/* The line of `option` with the arguments given so far. */
static int line_end(struct lines *o, const char *option, bf_error *err)
{
        if (o->n == o->cap) {
                size_t cap = o->cap ? 2 * o->cap : 4;
                struct optline **v = realloc(o->v, cap * sizeof(*v));
                if (!v)
                        return bf_error_oom(err);
                o->v = v;
                o->cap = cap;
        }
        int r = optline_build(option, o->args, o->nargs, &o->v[o->n], err);
        if (r < 0)
                return r;
        o->n++;
        o->nargs = 0;
        arena_reset(&o->strings);
        return 0;
}

/* ---- reading values ----------------------------------------------------------- */

/* White-space separated words of a value. */
struct words {
        const char *p;
        size_t len;
        size_t pos;
};

static bool word_next(struct words *w, const char **ret, size_t *ret_len)
{
        while (w->pos < w->len && isspace((unsigned char) w->p[w->pos]))
                w->pos++;
        if (w->pos == w->len)
                return false;
        size_t start = w->pos;
        while (w->pos < w->len && !isspace((unsigned char) w->p[w->pos]))
                w->pos++;
        *ret = w->p + start;
        *ret_len = w->pos - start;
        return true;
}

static size_t count_words(const char *v, size_t len)
{
        struct words w = { v, len, 0 };
        const char *t;
        size_t tl, n = 0;
        while (word_next(&w, &t, &tl))
                n++;
        return n;
}

static bool word_is(const char *t, size_t tl, const char *s)
{
        return tl == strlen(s) && memcmp(t, s, tl) == 0;
}

/* Blanks around a number, a flag or a name are not part of it. */
static void trim(const char **v, size_t *len)
{
        while (*len && isspace((unsigned char) (*v)[0]))
                (*v)++, (*len)--;
        while (*len && isspace((unsigned char) (*v)[*len - 1]))
                (*len)--;
}

/* How many of the first n bytes of s are decimal digits (s need not end in NUL). */
static size_t digits_len(const char *s, size_t n)
{
        size_t i = 0;
        while (i < n && isdigit((unsigned char) s[i]))
                i++;
        return i;
}

static int need_single(const char *v, size_t len, bf_error *err)
{
        if (memchr(v, '\n', len))
                return bf_error_set(err, EINVAL, "one line expected");
        return 0;
}

/* Is the option's i-th argument signed (an int64, which takes a minus)? */
static bool arg_signed(const char *option, size_t i)
{
        const struct option *opt = option_find(option, strlen(option));
        return opt && i < ARGS_MAX && opt->args[i] == ARG_I64;
}

/* ---- showing values ------------------------------------------------------------ */

/* A string of the model: NULL (a JSON null inside an array, say) reads as "". */
static const char *str(const char *s)
{
        return s ? s : "";
}

static void show_string(buf *out, const char *s)
{
        if (s && *s) {
                buf_puts(out, s);
                buf_putc(out, '\n');
        }
}

/* The value at a JSON path of the spec ("process.cwd"), found through the
 * model's field tables, and its type; NULL when a pointer on the way is nil. */
static const void *field_at(const struct spec *s, const char *path, const struct type **ret_type)
{
        const struct type *t = &type_spec;
        const char *p = (const char *) s;
        while (p && *path) {
                size_t n = strcspn(path, ".");
                const struct field *f = NULL;
                for (uint32_t i = 0; i < t->nfields && !f; i++)
                        if (strlen(t->fields[i].name) == n && memcmp(t->fields[i].name, path, n) == 0)
                                f = &t->fields[i];
                if (!f)
                        return NULL;
                p += f->offset;
                t = f->type;
                if (t->kind == T_PTR) {
                        p = *(const char *const *) p;
                        t = t->elem;
                }
                path += n + (path[n] == '.');
        }
        *ret_type = t;
        return p;
}

/* A field shown as it is: a string, a number, 0 or 1, or a list one
 * element per line; `unset` (plus a newline) when the field is absent. */
static void show_field(const char *path, const char *unset, const struct spec *s, buf *out)
{
        const struct type *t = NULL;
        const void *v = field_at(s, path, &t);
        if (!v) {
                show_string(out, unset);
                return;
        }
        switch (t->kind) {
        case T_STRING:
                show_string(out, *(const char *const *) v);
                break;
        case T_BOOL:
                buf_puts(out, *(const bool *) v ? "1\n" : "0\n");
                break;
        case T_U16:
                buf_printf(out, "%u\n", (unsigned) *(const uint16_t *) v);
                break;
        case T_U32:
                buf_printf(out, "%" PRIu32 "\n", *(const uint32_t *) v);
                break;
        case T_U64:
                buf_printf(out, "%" PRIu64 "\n", *(const uint64_t *) v);
                break;
        case T_I64:
                buf_printf(out, "%" PRId64 "\n", *(const int64_t *) v);
                break;
        case T_SLICE: {
                const struct slice *l = v;
                for (size_t i = 0; i < l->len; i++)
                        if (t->elem->kind == T_STRING)
                                buf_printf(out, "%s\n", str(((const char *const *) l->v)[i]));
                        else if (t->elem->kind == T_U32)
                                buf_printf(out, "%" PRIu32 "\n", ((const uint32_t *) l->v)[i]);
                break;
        }
        default:
                break;
        }
}

/* ---- caps ------------------------------------------------------------------------ */

/* Names checked with libcap, written canonically. prefix: '+', '-' or 0. */
static int cap_names(struct lines *o, const char *v, size_t len, char prefix, bf_error *err)
{
        struct words w = { v, len, 0 };
        const char *t;
        size_t tl;
        while (word_next(&w, &t, &tl)) {
                if (prefix) {
                        if (t[0] != prefix)
                                return bf_error_set(err, EINVAL,
                                                    "write additions (+CAP) and removals (-CAP) separately");
                        t++, tl--;
                }
                char name[64];
                if (tl == 0 || tl >= sizeof(name))
                        return bf_error_set(err, EINVAL, "unknown capability \"%.*s\"", (int) (tl > 60 ? 60 : tl), t);
                memcpy(name, t, tl);
                name[tl] = '\0';
                const char *canon;
                int r = caps_canonical(name, &canon, err);
                if (r < 0 || (r = arg(o, canon, err)) < 0)
                        return r;
        }
        return 0;
}

/* Names (WithCapabilities), +names, -names, all, current, or none. */
static int parse_caps(const struct ctl *c, const char *v, size_t len, struct lines *o, bf_error *err)
{
        struct words w = { v, len, 0 };
        const char *t;
        size_t tl;
        if (!word_next(&w, &t, &tl))
                return bf_error_set(err, EINVAL, "empty value");
        static const struct {
                const char *word, *option;
        } keywords[] = {
                { "all", "WithAllKnownCapabilities" },
                { "current", "WithAllCurrentCapabilities" },
                { "none", "WithCapabilities" },
        };
        size_t n = count_words(v, len);
        for (size_t i = 0; i < ARRAY_SIZE(keywords); i++)
                if (n == 1 && word_is(t, tl, keywords[i].word))
                        return line_end(o, keywords[i].option, err);
        char prefix = t[0] == '+' || t[0] == '-' ? t[0] : 0;
        int r = cap_names(o, v, len, prefix, err);
        if (r < 0)
                return r;
        return line_end(o, prefix == '+' ? "WithAddedCapabilities" : prefix == '-' ? "WithDroppedCapabilities" :
                                                                                      c->option, err);
}

/* Names, or none. */
static int parse_caps_ambient(const struct ctl *c, const char *v, size_t len, struct lines *o, bf_error *err)
{
        struct words w = { v, len, 0 };
        const char *t;
        size_t tl;
        if (!word_next(&w, &t, &tl))
                return bf_error_set(err, EINVAL, "empty value");
        if (!(count_words(v, len) == 1 && word_is(t, tl, "none"))) {
                int r = cap_names(o, v, len, 0, err);
                if (r < 0)
                        return r;
        }
        return line_end(o, c->option, err);
}

/* ---- devices ------------------------------------------------------------------------ */

static void show_devices(const struct ctl_view *v, buf *out)
{
        if (!v->spec->linux_)
                return;
        const device_slice *d = &v->spec->linux_->devices;
        for (size_t i = 0; i < d->len; i++) {
                buf_printf(out, "%s %s %" PRId64 ":%" PRId64, str(d->v[i].path), str(d->v[i].type), d->v[i].major,
                           d->v[i].minor);
                if (d->v[i].file_mode)
                        buf_printf(out, " %04o\n", (unsigned) *d->v[i].file_mode);
                else
                        buf_puts(out, " -\n");
        }
}

static bool perms_word(const char *t, size_t tl)
{
        if (tl == 0 || tl > 3)
                return false;
        for (size_t i = 0; i < tl; i++)
                if (!t[i] || !strchr("rwm", t[i]) || memchr(t, t[i], i))
                        return false;
        return true;
}

static int udev_add_match(struct udev_enumerate *e, const char *t, size_t tl, bf_error *err)
{
        const char *eq = memchr(t, '=', tl);
        char key[128], val[512];
        size_t kl = (size_t) (eq - t), vl = tl - kl - 1;
        if (kl == 0 || vl == 0 || kl >= sizeof(key) || vl >= sizeof(val))
                return bf_error_set(err, EINVAL, "invalid udev match \"%.*s\"", (int) (tl > 80 ? 80 : tl), t);
        memcpy(key, t, kl);
        key[kl] = '\0';
        memcpy(val, eq + 1, vl);
        val[vl] = '\0';
        int r;
        if (streq(key, "subsystem"))
                r = udev_enumerate_add_match_subsystem(e, val);
        else if (streq(key, "sysname"))
                r = udev_enumerate_add_match_sysname(e, val);
        else if (streq(key, "tag"))
                r = udev_enumerate_add_match_tag(e, val);
        else
                r = udev_enumerate_add_match_property(e, key, val);
        return r < 0 ? bf_error_set(err, EINVAL, "udev match %s=%s: %s", key, val, strerror(-r)) : 0;
}

static int devnode_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* A growing list of device node paths. */
struct nodes {
        char **v;
        size_t n, cap;
};

static int nodes_add(struct nodes *l, const char *node, bf_error *err)
{
        if (l->n == DEVICES_MAX)
                return bf_error_set(err, EFBIG, "more than %d devices match", DEVICES_MAX);
        if (l->n == l->cap) {
                size_t cap = l->cap ? 2 * l->cap : 16;
                char **v = realloc(l->v, cap * sizeof(*v));
                if (!v)
                        return bf_error_oom(err);
                l->v = v;
                l->cap = cap;
        }
        if (!(l->v[l->n] = strdup(node)))
                return bf_error_oom(err);
        l->n++;
        return 0;
}

static void nodes_free(struct nodes *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
}

/* The device nodes libudev finds for the matches, sorted. */
static int udev_nodes(struct udev *u, struct udev_enumerate *e, struct nodes *ret, bf_error *err)
{
        if (udev_enumerate_scan_devices(e) < 0)
                return bf_error_set(err, EIO, "udev: scanning devices failed");
        int r = 0;
        struct udev_list_entry *it;
        udev_list_entry_foreach(it, udev_enumerate_get_list_entry(e))
        {
                struct udev_device *d = udev_device_new_from_syspath(u, udev_list_entry_get_name(it));
                const char *node = d ? udev_device_get_devnode(d) : NULL;
                if (node)
                        r = nodes_add(ret, node, err);
                if (d)
                        udev_device_unref(d);
                if (r < 0)
                        return r;
        }
        if (ret->n)
                qsort(ret->v, ret->n, sizeof(*ret->v), devnode_cmp);
        return 0;
}

/* "subsystem=input [KEY=VALUE...] [perms]": every device node libudev finds,
 * one WithDevices line each. */
static int parse_udev(const struct ctl *c, const char *v, size_t len, struct lines *o, bf_error *err)
{
        struct udev *u = udev_new();
        if (!u)
                return bf_error_set(err, ENOMEM, "udev: cannot start");
        struct udev_enumerate *e = udev_enumerate_new(u);
        int r = e ? 0 : bf_error_set(err, ENOMEM, "udev: cannot enumerate");
        struct words w = { v, len, 0 };
        const char *t, *perms = "rwm";
        size_t tl;
        char perms_buf[4];
        while (r == 0 && word_next(&w, &t, &tl)) {
                if (memchr(t, '=', tl)) {
                        r = udev_add_match(e, t, tl, err);
                } else if (perms_word(t, tl)) {
                        memcpy(perms_buf, t, tl);
                        perms_buf[tl] = '\0';
                        perms = perms_buf;
                } else {
                        r = bf_error_set(err, EINVAL, "expected KEY=VALUE or permissions, got \"%.*s\"",
                                         (int) (tl > 80 ? 80 : tl), t);
                }
        }
        struct nodes nodes = { 0 };
        if (r == 0)
                r = udev_nodes(u, e, &nodes, err);
        if (r == 0 && nodes.n == 0)
                r = bf_error_set(err, ENOENT, "no device matches %.*s", (int) (len > 100 ? 100 : len), v);
        for (size_t i = 0; r == 0 && i < nodes.n; i++)
                if ((r = arg(o, nodes.v[i], err)) < 0 || (r = arg(o, "", err)) < 0 || (r = arg(o, perms, err)) < 0 ||
                    (r = line_end(o, c->option, err)) < 0)
                        break;
        nodes_free(&nodes);
        if (e)
                udev_enumerate_unref(e);
        udev_unref(u);
        return r;
}

/* A path (a directory adds every device below it), PATH:CONTAINER_PATH, a
 * keyword, or a udev match; then permissions. */
static int parse_devices(const struct ctl *c, const char *v, size_t len, struct lines *o, bf_error *err)
{
        int r = need_single(v, len, err);
        if (r < 0)
                return r;
        struct words w = { v, len, 0 };
        const char *t, *p;
        size_t tl, pl;
        if (!word_next(&w, &t, &tl))
                return bf_error_set(err, EINVAL, "empty value");
        size_t n = count_words(v, len);
        static const struct {
                const char *word, *option;
        } keywords[] = {
                { "host", "WithHostDevices" },
                { "allow-all", "WithAllDevicesAllowed" },
                { "default", "WithDefaultUnixDevices" },
                { "parent", "WithParentCgroupDevices" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(keywords); i++)
                if (n == 1 && word_is(t, tl, keywords[i].word))
                        return line_end(o, keywords[i].option, err);
        if (memchr(t, '=', tl))
                return parse_udev(c, v, len, o, err);
        if (t[0] != '/')
                return bf_error_set(err, EINVAL, "expected a device path, host, allow-all, default, parent or a "
                                                 "udev match such as subsystem=input");
        if (n > 2)
                return bf_error_set(err, EINVAL, "expected PATH[:CONTAINER_PATH] [PERMISSIONS]");
        const char *perms = "rwm";
        if (word_next(&w, &p, &pl)) {
                if (!perms_word(p, pl))
                        return bf_error_set(err, EINVAL, "invalid permissions \"%.*s\" (a subset of rwm)",
                                            (int) (pl > 20 ? 20 : pl), p);
                perms = arena_strndup(&o->strings, p, pl);
        }
        const char *colon = memchr(t, ':', tl);
        if (colon && ((size_t) (colon - t) + 1 == tl || colon[1] != '/'))
                return bf_error_set(err, EINVAL, "the container path must be absolute");
        size_t hl = colon ? (size_t) (colon - t) : tl;
        if ((r = arg_n(o, t, hl, err)) < 0 ||
            (r = colon ? arg_n(o, colon + 1, tl - hl - 1, err) : arg(o, "", err)) < 0 || (r = arg(o, perms, err)) < 0)
                return r;
        return line_end(o, c->option, err);
}

/* ---- user and groups --------------------------------------------------------------- */

static void show_user(const struct ctl_view *v, buf *out)
{
        const struct spec_process *p = v->spec->process;
        if (p)
                buf_printf(out, "%u:%u\n", p->user.uid, p->user.gid);
}

/* One user (one word), without the blanks around it. */
static int parse_user(const struct ctl *c, const char *v, size_t len, struct lines *o, bf_error *err)
{
        trim(&v, &len);
        if (len == 0 || count_words(v, len) != 1)
                return bf_error_set(err, EINVAL, len ? "one user expected (name, uid, name:group or uid:gid)" :
                                                       "empty value");
        int r = arg_n(o, v, len, err);
        return r < 0 ? r : line_end(o, c->option, err);
}

/* +GROUP ... (WithAppendAdditionalGroups), or "from USER". */
static int parse_groups(const struct ctl *c, const char *v, size_t len, struct lines *o, bf_error *err)
{
        struct words w = { v, len, 0 };
        const char *t;
        size_t tl;
        int r;
        if (!word_next(&w, &t, &tl))
                return bf_error_set(err, EINVAL, "empty value");
        if (word_is(t, tl, "from")) {
                if (count_words(v, len) != 2)
                        return bf_error_set(err, EINVAL, "expected: from USER");
                word_next(&w, &t, &tl);
                r = arg_n(o, t, tl, err);
                return r < 0 ? r : line_end(o, "WithAdditionalGIDs", err);
        }
        w.pos = 0;
        while (word_next(&w, &t, &tl)) {
                if (t[0] != '+' || tl < 2)
                        return bf_error_set(err, EINVAL, "expected +GROUP (a name or gid) or: from USER");
                if ((r = arg_n(o, t + 1, tl - 1, err)) < 0)
                        return r;
        }
        return line_end(o, c->option, err);
}

/* ---- env, args, annotations ----------------------------------------------------------- */

static void show_annotations(const struct ctl_view *v, buf *out)
{
        const str_map *m = &v->spec->annotations;
        for (size_t i = 0; i < m->len; i++)
                buf_printf(out, "%s=%s\n", str(m->v[i].key), str(m->v[i].value));
}

/* Each line of the value one argument, holding `must_have` unless it is 0. */
static int lines_as_args(struct lines *o, const char *v, size_t len, char must_have, bf_error *err)
{
        if (len == 0)
                return bf_error_set(err, EINVAL, "empty value");
        size_t i = 0;
        while (i <= len) {
                const char *nl = memchr(v + i, '\n', len - i);
                size_t end = nl ? (size_t) (nl - v) : len;
                size_t l = end - i;
                /* A CR before a newline is a CRLF line end (the last line's
                 * is gone with the write's final newline); another CR would
                 * not read back. */
                if (nl && l && v[i + l - 1] == '\r')
                        l--;
                if (l && v[i + l - 1] == '\r')
                        return bf_error_set(err, EINVAL, "a line cannot end in a carriage return");
                if (must_have) {
                        const char *sep = memchr(v + i, must_have, l);
                        if (!sep || sep == v + i)
                                return bf_error_set(err, EINVAL, "expected KEY%cVALUE, got \"%.*s\"", must_have,
                                                    (int) (l > 80 ? 80 : l), v + i);
                }
                int r = arg_n(o, v + i, l, err);
                if (r < 0)
                        return r;
                if (!nl)
                        break;
                i = end + 1;
        }
        return 0;
}

/* One argument per line. */
static int parse_lines(const struct ctl *c, const char *v, size_t len, struct lines *o, bf_error *err)
{
        int r = lines_as_args(o, v, len, 0, err);
        return r < 0 ? r : line_end(o, c->option, err);
}

/* One KEY=VALUE per line. */
static int parse_pairs(const struct ctl *c, const char *v, size_t len, struct lines *o, bf_error *err)
{
        int r = lines_as_args(o, v, len, '=', err);
        return r < 0 ? r : line_end(o, c->option, err);
}

/* ---- strings and flags ---------------------------------------------------------------- */

/* The whole value, one line, as one argument. */
static int parse_string(const struct ctl *c, const char *v, size_t len, struct lines *o, bf_error *err)
{
        if (len == 0)
                return bf_error_set(err, EINVAL, "empty value");
        int r = need_single(v, len, err);
        if (r < 0)
                return r;
        /* The write's CRLF is gone already; another CR would not read back. */
        if (v[len - 1] == '\r')
                return bf_error_set(err, EINVAL, "a value cannot end in a carriage return");
        r = arg_n(o, v, len, err);
        return r < 0 ? r : line_end(o, c->option, err);
}

/* The last image config applied since the spec was last replaced. */
static void show_image(const struct ctl_view *v, buf *out)
{
        for (size_t i = v->nlines; i-- > 0;) {
                const struct optline *l = v->lines[i];
                if (optline_has_flags(l, OPTION_REPLACES_SPEC))
                        break;
                if (optline_has_flags(l, OPTION_APPLIES_IMAGE)) {
                        show_string(out, l->args[0].str);
                        break;
                }
        }
}

/* 1 (no option turns a flag off). */
static int parse_flag(const struct ctl *c, const char *v, size_t len, struct lines *o, bf_error *err)
{
        trim(&v, &len);
        if (len == 1 && v[0] == '1')
                return line_end(o, c->option, err);
        if (len == 1 && v[0] == '0')
                return bf_error_set(err, EINVAL, "%s cannot be turned off: no option does that", c->what);
        return bf_error_set(err, EINVAL, "expected 1");
}

/* 1, or WIDTHxHEIGHT (WithTTYSize). */
static int parse_tty(const struct ctl *c, const char *v, size_t len, struct lines *o, bf_error *err)
{
        trim(&v, &len);
        const char *x = memchr(v, 'x', len);
        if (!x)
                return parse_flag(c, v, len, o, err);
        /* Go ints: the option line checks their range */
        size_t wl = (size_t) (x - v), hl = len - wl - 1;
        if (wl == 0 || hl == 0 || wl >= 24 || hl >= 24 || digits_len(v, wl) != wl || digits_len(x + 1, hl) != hl)
                return bf_error_set(err, EINVAL, "expected 1 or WIDTHxHEIGHT");
        int r;
        if ((r = arg_n(o, v, wl, err)) < 0 || (r = arg_n(o, x + 1, hl, err)) < 0)
                return r;
        return line_end(o, "WithTTYSize", err);
}

static bool holds(const str_slice *l, const char *s)
{
        for (size_t i = 0; i < l->len; i++)
                if (streq(l->v[i], s))
                        return true;
        return false;
}

/* What WithPrivileged leaves: every current capability, no masked or
 * read-only paths, no seccomp, no read-only sysfs. */
static int show_privileged(const struct ctl_view *v, buf *out, bf_error *err)
{
        const struct spec *s = v->spec;
        const char *cur[CAPS_KNOWN];
        size_t ncur = 0;
        int r = caps_current(cur, &ncur, err);
        if (r < 0)
                return r;
        bool priv = s->process && s->process->capabilities && s->linux_ && !s->linux_->seccomp &&
                    s->linux_->masked_paths.len == 0 && s->linux_->readonly_paths.len == 0;
        for (size_t i = 0; priv && i < ncur; i++)
                priv = holds(&s->process->capabilities->bounding, cur[i]);
        for (size_t i = 0; priv && i < s->mounts.len; i++)
                if (streq(s->mounts.v[i].type, "sysfs") && holds(&s->mounts.v[i].options, "ro"))
                        priv = false;
        buf_puts(out, priv ? "1\n" : "0\n");
        return 0;
}

/* ---- numbers ------------------------------------------------------------------------- */

/* Bytes with an optional K/M/G/T suffix (powers of 1024); -1 (no limit)
 * where the option takes a signed number. */
static int parse_size(const struct ctl *c, const char *v, size_t len, struct lines *o, bf_error *err)
{
        trim(&v, &len);
        if (len == 0)
                return bf_error_set(err, EINVAL, "empty value");
        if (len == 3 && memcmp(v, "max", 3) == 0)
                return bf_error_set(err, EINVAL, "max cannot be written: no option unsets a limit");
        char n[32];
        if (len == 2 && memcmp(v, "-1", 2) == 0 && arg_signed(c->option, 0)) {
                snprintf(n, sizeof(n), "-1");
        } else {
                if (v[0] == '-')
                        return bf_error_set(err, EINVAL, "negative size \"%.*s\"", (int) (len > 40 ? 40 : len), v);
                size_t digits = 0;
                uint64_t bytes = 0;
                while (digits < len && isdigit((unsigned char) v[digits])) {
                        unsigned d = (unsigned) (v[digits] - '0');
                        if (bytes > (UINT64_MAX - d) / 10)
                                return bf_error_set(err, EINVAL, "size out of range");
                        bytes = bytes * 10 + d;
                        digits++;
                }
                if (digits == 0)
                        return bf_error_set(err, EINVAL, "invalid size \"%.*s\"", (int) (len > 40 ? 40 : len), v);
                unsigned shift = 0;
                if (digits < len) {
                        const char *suffixes = "KMGT";
                        const char *s = len - digits == 1 ? strchr(suffixes, toupper((unsigned char) v[digits])) : NULL;
                        if (!s || !*s)
                                return bf_error_set(err, EINVAL, "invalid size \"%.*s\" (bytes, or K, M, G, T)",
                                                    (int) (len > 40 ? 40 : len), v);
                        shift = 10 * (unsigned) (s - suffixes + 1);
                }
                if (shift && bytes > (UINT64_MAX >> shift))
                        return bf_error_set(err, EINVAL, "size out of range");
                bytes <<= shift;
                /* The spec's limits are signed: a larger size would read back negative. */
                if (bytes > INT64_MAX)
                        return bf_error_set(err, EINVAL, "size out of range");
                snprintf(n, sizeof(n), "%" PRIu64, bytes);
        }
        int r = arg_n(o, n, strlen(n), err);
        return r < 0 ? r : line_end(o, c->option, err);
}

static void show_memory_limit(const struct ctl_view *v, buf *out)
{
        const struct spec *s = v->spec;
        const struct spec_resources *res = s->linux_ ? s->linux_->resources : NULL;
        const struct spec_windows *w = s->windows;
        if (res && res->memory && res->memory->limit)
                buf_printf(out, "%" PRId64 "\n", *res->memory->limit);
        else if (w && w->resources && w->resources->memory && w->resources->memory->limit)
                buf_printf(out, "%" PRIu64 "\n", *w->resources->memory->limit);
        else
                buf_puts(out, "max\n");
}

/* A decimal number for an option argument; the option line checks its range. */
static int number_word(const char *v, size_t len, bool allow_sign, bf_error *err)
{
        size_t off = allow_sign && len && v[0] == '-' ? 1 : 0;
        if (len == 3 && memcmp(v, "max", 3) == 0)
                return bf_error_set(err, EINVAL, "max cannot be written: no option unsets a limit");
        if (len <= off || len > 24 || digits_len(v + off, len - off) < len - off)
                return bf_error_set(err, EINVAL, "invalid number \"%.*s\"", (int) (len > 40 ? 40 : len), v);
        return 0;
}

/* As many numbers as the option takes, signed where it takes int64s. */
static int parse_numbers(const struct ctl *c, const char *v, size_t len, struct lines *o, bf_error *err)
{
        int r = need_single(v, len, err);
        if (r < 0)
                return r;
        const struct option *opt = option_find(c->option, strlen(c->option));
        size_t want = opt ? opt->max_args : 0;
        if (count_words(v, len) != want)
                return bf_error_set(err, EINVAL, want == 1 ? "one number expected" : "%zu numbers expected", want);
        struct words w = { v, len, 0 };
        const char *t;
        size_t tl;
        for (size_t i = 0; word_next(&w, &t, &tl); i++)
                if ((r = number_word(t, tl, arg_signed(c->option, i), err)) < 0 || (r = arg_n(o, t, tl, err)) < 0)
                        return r;
        return line_end(o, c->option, err);
}

static void show_pair(buf *out, const int64_t *first, const uint64_t *second)
{
        if (!first) {
                buf_puts(out, "max\n");
                return;
        }
        buf_printf(out, "%" PRId64, *first);
        if (second)
                buf_printf(out, " %" PRIu64, *second);
        buf_putc(out, '\n');
}

static const struct spec_cpu *cpu_of(const struct ctl_view *v)
{
        const struct spec_linux *l = v->spec->linux_;
        return l && l->resources ? l->resources->cpu : NULL;
}

static void show_cpu_cfs(const struct ctl_view *v, buf *out)
{
        const struct spec_cpu *cpu = cpu_of(v);
        show_pair(out, cpu ? cpu->quota : NULL, cpu ? cpu->period : NULL);
}

static void show_cpu_rt(const struct ctl_view *v, buf *out)
{
        const struct spec_cpu *cpu = cpu_of(v);
        show_pair(out, cpu ? cpu->realtime_runtime : NULL, cpu ? cpu->realtime_period : NULL);
}

/* cpuset lists: "0-3,5,7-8" */
static int parse_cpuset(const struct ctl *c, const char *v, size_t len, struct lines *o, bf_error *err)
{
        trim(&v, &len);
        bool ok = len > 0;
        bool need_digit = true, in_range = false;
        for (size_t i = 0; ok && i < len; i++) {
                char ch = v[i];
                if (isdigit((unsigned char) ch)) {
                        need_digit = false;
                } else if (ch == '-' && !need_digit && !in_range) {
                        need_digit = true;
                        in_range = true;
                } else if (ch == ',' && !need_digit) {
                        need_digit = true;
                        in_range = false;
                } else {
                        ok = false;
                }
        }
        if (!ok || need_digit)
                return bf_error_set(err, EINVAL, "invalid list \"%.*s\" (e.g. 0-3,5)", (int) (len > 40 ? 40 : len),
                                    v);
        int r = arg_n(o, v, len, err);
        return r < 0 ? r : line_end(o, c->option, err);
}

/* ---- namespaces and mounts ------------------------------------------------------------- */

static void show_namespaces(const struct ctl_view *v, buf *out)
{
        if (!v->spec->linux_)
                return;
        const namespace_slice *ns = &v->spec->linux_->namespaces;
        for (size_t i = 0; i < ns->len; i++) {
                buf_puts(out, str(ns->v[i].type));
                if (ns->v[i].path && *ns->v[i].path) {
                        buf_putc(out, ' ');
                        buf_puts(out, ns->v[i].path);
                }
                buf_putc(out, '\n');
        }
}

static bool namespace_type_known(const char *t, size_t tl)
{
        static const char *const types[] = { "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time" };
        for (size_t i = 0; i < ARRAY_SIZE(types); i++)
                if (word_is(t, tl, types[i]))
                        return true;
        return false;
}

/* TYPE [PATH] (WithLinuxNamespace), or host TYPE. */
static int parse_namespaces(const struct ctl *c, const char *v, size_t len, struct lines *o, bf_error *err)
{
        int r = need_single(v, len, err);
        if (r < 0)
                return r;
        struct words w = { v, len, 0 };
        const char *t, *type, *path = NULL;
        size_t tl, typel, pathl = 0, n = count_words(v, len);
        if (!word_next(&w, &t, &tl))
                return bf_error_set(err, EINVAL, "empty value");
        bool host = word_is(t, tl, "host");
        if (host) {
                if (n != 2)
                        return bf_error_set(err, EINVAL, "expected: host TYPE");
                word_next(&w, &type, &typel);
        } else {
                if (n > 2)
                        return bf_error_set(err, EINVAL, "expected: TYPE [PATH] or host TYPE");
                type = t, typel = tl;
                if (word_next(&w, &path, &pathl) && path[0] != '/')
                        return bf_error_set(err, EINVAL, "the namespace path must be absolute");
        }
        if (!namespace_type_known(type, typel))
                return bf_error_set(err, EINVAL, "unknown namespace type \"%.*s\" (pid, network, mount, ipc, uts, "
                                                 "user, cgroup, time)", (int) (typel > 40 ? 40 : typel), type);
        if ((r = arg_n(o, type, typel, err)) < 0 || (path && (r = arg_n(o, path, pathl, err)) < 0))
                return r;
        return line_end(o, host ? "WithHostNamespace" : c->option, err);
}

static void show_mounts(const struct ctl_view *v, buf *out)
{
        const mount_slice *m = &v->spec->mounts;
        for (size_t i = 0; i < m->len; i++) {
                const struct spec_mount *mt = &m->v[i];
                buf_printf(out, "%s %s %s ", mt->destination && *mt->destination ? mt->destination : "-",
                           mt->type && *mt->type ? mt->type : "-", mt->source && *mt->source ? mt->source : "-");
                for (size_t j = 0; j < mt->options.len; j++) {
                        if (j)
                                buf_putc(out, ',');
                        buf_puts(out, str(mt->options.v[j]));
                }
                if (!mt->options.len)
                        buf_putc(out, '-');
                buf_putc(out, '\n');
        }
}

/* A JSON array of mounts (WithMounts, over several lines if need be), or
 * -DESTINATION ... (WithoutMounts). */
static int parse_mounts(const struct ctl *c, const char *v, size_t len, struct lines *o, bf_error *err)
{
        size_t off = 0;
        while (off < len && isspace((unsigned char) v[off]))
                off++;
        if (off == len)
                return bf_error_set(err, EINVAL, "empty value");
        int r;
        if (v[off] == '[') {
                /* One JSON array: the option checks it. Line ends are blanks
                 * between its tokens. */
                char *json = arena_strndup(&o->strings, v + off, len - off);
                if (!json)
                        return bf_error_oom(err);
                for (char *p = json; *p; p++)
                        if (*p == '\n' || *p == '\r')
                                *p = ' ';
                r = arg(o, json, err);
                return r < 0 ? r : line_end(o, c->option, err);
        }
        struct words w = { v, len, 0 };
        const char *t;
        size_t tl;
        while (word_next(&w, &t, &tl)) {
                if (t[0] != '-' || tl < 2 || t[1] != '/')
                        return bf_error_set(err, EINVAL, "expected a JSON array of mounts, or -DESTINATION to remove");
                if ((r = arg_n(o, t + 1, tl - 1, err)) < 0)
                        return r;
        }
        return line_end(o, "WithoutMounts", err);
}

/* ---- the table ------------------------------------------------------------------- */

/* Sorted by name. */
static const struct ctl ctls[] = {
        { "annotations", "WithAnnotations", parse_pairs, .show = show_annotations },
        { "args", "WithProcessArgs", parse_lines, .field = "process.args" },
        { "caps", "WithCapabilities", parse_caps, .field = "process.capabilities.bounding" },
        { "caps.ambient", "WithAmbientCapabilities", parse_caps_ambient, .field = "process.capabilities.ambient" },
        { "cpu.cfs", "WithCPUCFS", parse_numbers, .show = show_cpu_cfs },
        { "cpu.rt", "WithCPURT", parse_numbers, .show = show_cpu_rt },
        { "cpu.shares", "WithCPUShares", parse_numbers, .field = "linux.resources.cpu.shares" },
        { "cpuset.cpus", "WithCPUs", parse_cpuset, .field = "linux.resources.cpu.cpus" },
        { "cpuset.mems", "WithCPUsMems", parse_cpuset, .field = "linux.resources.cpu.mems" },
        { "cwd", "WithProcessCwd", parse_string, .field = "process.cwd" },
        { "devices", "WithDevices", parse_devices, .show = show_devices },
        { "domainname", "WithDomainname", parse_string, .field = "domainname" },
        { "env", "WithEnv", parse_pairs, .field = "process.env" },
        { "groups", "WithAppendAdditionalGroups", parse_groups, .field = "process.user.additionalGids" },
        { "hostname", "WithHostname", parse_string, .field = "hostname" },
        { "image", "WithImageConfig", parse_string, .show = show_image, .shows_lines = true },
        { "memory.limit", "WithMemoryLimit", parse_size, .show = show_memory_limit },
        { "memory.swap", "WithMemorySwap", parse_size, .field = "linux.resources.memory.swap", .unset = "max" },
        { "mounts", "WithMounts", parse_mounts, .show = show_mounts },
        { "namespaces", "WithLinuxNamespace", parse_namespaces, .show = show_namespaces },
        { "pids.max", "WithPidsLimit", parse_numbers, .field = "linux.resources.pids.limit", .unset = "max" },
        { "privileged", "WithPrivileged", parse_flag, .show_checked = show_privileged, .what = "privileged mode" },
        { "rootfs.path", "WithRootFSPath", parse_string, .field = "root.path" },
        { "rootfs.readonly", "WithRootFSReadonly", parse_flag, .field = "root.readonly", .unset = "0",
          .what = "a read-only root" },
        { "tty", "WithTTY", parse_tty, .field = "process.terminal", .unset = "0", .what = "the terminal" },
        { "user", "WithUser", parse_user, .show = show_user },
};

size_t ctl_count(void)
{
        return ARRAY_SIZE(ctls);
}

const struct ctl *ctl_at(size_t i)
{
        return i < ARRAY_SIZE(ctls) ? &ctls[i] : NULL;
}

const struct ctl *ctl_find(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(ctls); i++)
                if (streq(ctls[i].name, name))
                        return &ctls[i];
        return NULL;
}

const char *ctl_name(const struct ctl *c)
{
        return c->name;
}

int ctl_parse(const struct ctl *c, const char *value, size_t len, struct optline ***ret_lines, size_t *ret_n,
              bf_error *err)
{
        int r = 0;
        /* A NUL byte would cut the value short where it becomes a C string,
         * and invalid UTF-8 could not be an option line. */
        if (memchr(value, '\0', len))
                r = bf_error_set(err, EINVAL, "a value may not contain a NUL byte");
        else if (!utf8_valid(value, len))
                r = bf_error_set(err, EINVAL, "a value must be valid UTF-8");
        if (r < 0)
                return bf_error_prefix(err, "%s", c->name);
        if (len && value[len - 1] == '\n')
                len--;
        if (len && value[len - 1] == '\r')
                len--;      /* a CRLF line end */

        struct lines o = { 0 };
        arena_init_small(&o.strings);
        r = c->parse(c, value, len, &o, err);
        if (r < 0) {
                lines_done(&o);
                return bf_error_prefix(err, "%s", c->name);
        }
        *ret_lines = TAKE_PTR(o.v);
        *ret_n = o.n;
        o.n = 0;
        lines_done(&o);
        return 0;
}

bool ctl_shows_lines(const struct ctl *c)
{
        return c->shows_lines;
}

int ctl_show(const struct ctl *c, const struct ctl_view *v, buf *out, bf_error *err)
{
        if (c->show_checked) {
                int r = c->show_checked(v, out, err);
                if (r < 0)
                        return r;
        } else if (c->show) {
                c->show(v, out);
        } else {
                show_field(c->field, c->unset, v->spec, out);
        }
        return out->oom ? bf_error_oom(err) : 0;
}
