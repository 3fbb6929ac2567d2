/* The files of a container directory. Control files are sugar over opts:
 * `parse` turns one written value into option lines, `show` prints the
 * current value from the rendered spec. A new control file is one row in
 * file_defs[] plus these two functions. */
#include <ctype.h>
#include <inttypes.h>
#include <libudev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "devices.h"
#include "internal.h"
#include "utf8.h"
#include "util.h"

/* ---- building option lines ------------------------------------------------ */

static void line_arg(buf *b, const char *s)
{
        buf_putc(b, ' ');
        optline_put_string(b, s);
}

static void line_arg_n(buf *b, const char *s, size_t n)
{
        char *tmp = strndup(s, n);
        if (!tmp) {
                b->oom = true;
                return;
        }
        line_arg(b, tmp);
        free(tmp);
}

/* One token of a value: white-space separated words. */
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

static bool single_line(const char *v, size_t len)
{
        return !memchr(v, '\n', len);
}

static int need_single(const char *v, size_t len, bf_error *err)
{
        if (!single_line(v, len))
                return bf_error_set(err, EINVAL, "one line expected");
        return 0;
}

/* ---- showing values -------------------------------------------------------- */

static void show_list(buf *out, const str_slice *l)
{
        for (size_t i = 0; i < l->len; i++) {
                buf_puts(out, l->v[i]);
                buf_putc(out, '\n');
        }
}

static void show_string(buf *out, const char *s)
{
        if (s && *s) {
                buf_puts(out, s);
                buf_putc(out, '\n');
        }
}

static const struct spec_process *process_of(const struct view *v)
{
        return v->spec->process;
}

static const struct spec_resources *resources_of(const struct view *v)
{
        return v->spec->linux_ ? v->spec->linux_->resources : NULL;
}

/* ---- caps ------------------------------------------------------------------- */

static int show_caps(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        const struct spec_process *p = process_of(v);
        if (p && p->capabilities)
                show_list(out, &p->capabilities->bounding);
        return 0;
}

static int show_caps_ambient(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        const struct spec_process *p = process_of(v);
        if (p && p->capabilities)
                show_list(out, &p->capabilities->ambient);
        return 0;
}

/* Names checked with libcap, written canonically. prefix: '+', '-' or 0. */
static int put_cap_names(buf *lines, const char *v, size_t len, char prefix, bf_error *err)
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
                if (r < 0)
                        return r;
                line_arg(lines, canon);
        }
        return 0;
}

static int parse_caps(const char *v, size_t len, buf *lines, bf_error *err)
{
        const char *t;
        size_t tl;
        struct words w = { v, len, 0 };
        if (!word_next(&w, &t, &tl))
                return bf_error_set(err, EINVAL, "empty value");
        size_t n = count_words(v, len);
        if (n == 1 && word_is(t, tl, "all")) {
                buf_puts(lines, "WithAllKnownCapabilities\n");
                return 0;
        }
        if (n == 1 && word_is(t, tl, "current")) {
                buf_puts(lines, "WithAllCurrentCapabilities\n");
                return 0;
        }
        if (n == 1 && word_is(t, tl, "none")) {
                buf_puts(lines, "WithCapabilities\n");
                return 0;
        }
        char prefix = t[0] == '+' || t[0] == '-' ? t[0] : 0;
        buf_puts(lines, prefix == '+' ? "WithAddedCapabilities" :
                        prefix == '-' ? "WithDroppedCapabilities" : "WithCapabilities");
        int r = put_cap_names(lines, v, len, prefix, err);
        buf_putc(lines, '\n');
        return r;
}

static int parse_caps_ambient(const char *v, size_t len, buf *lines, bf_error *err)
{
        const char *t;
        size_t tl;
        struct words w = { v, len, 0 };
        if (!word_next(&w, &t, &tl))
                return bf_error_set(err, EINVAL, "empty value");
        buf_puts(lines, "WithAmbientCapabilities");
        if (!(count_words(v, len) == 1 && word_is(t, tl, "none"))) {
                int r = put_cap_names(lines, v, len, 0, err);
                if (r < 0)
                        return r;
        }
        buf_putc(lines, '\n');
        return 0;
}

/* ---- devices ------------------------------------------------------------------ */

static int show_devices(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        if (!v->spec->linux_)
                return 0;
        const device_slice *d = &v->spec->linux_->devices;
        for (size_t i = 0; i < d->len; i++) {
                buf_printf(out, "%s %s %" PRId64 ":%" PRId64, d->v[i].path ? d->v[i].path : "",
                           d->v[i].type ? d->v[i].type : "", d->v[i].major, d->v[i].minor);
                if (d->v[i].file_mode)
                        buf_printf(out, " %04o\n", (unsigned) *d->v[i].file_mode);
                else
                        buf_puts(out, " -\n");
        }
        return 0;
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

/* "subsystem=input [KEY=VALUE...] [perms]": every device node libudev finds,
 * one WithDevices line each. */
static int parse_udev(const char *v, size_t len, buf *lines, bf_error *err)
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
        char **nodes = NULL;
        size_t n = 0, cap = 0;
        if (r == 0 && udev_enumerate_scan_devices(e) < 0)
                r = bf_error_set(err, EIO, "udev: scanning devices failed");
        struct udev_list_entry *it;
        if (r == 0)
                udev_list_entry_foreach(it, udev_enumerate_get_list_entry(e))
                {
                        struct udev_device *d = udev_device_new_from_syspath(u, udev_list_entry_get_name(it));
                        const char *node = d ? udev_device_get_devnode(d) : NULL;
                        if (node && n == DEVICES_MAX) {
                                r = bf_error_set(err, EFBIG, "more than %d devices match", DEVICES_MAX);
                                udev_device_unref(d);
                                break;
                        }
                        if (node) {
                                if (n == cap) {
                                        cap = cap ? cap * 2 : 16;
                                        char **nn = realloc(nodes, cap * sizeof(*nn));
                                        if (nn)
                                                nodes = nn;
                                }
                                if (n < cap && (nodes[n] = strdup(node)))
                                        n++;
                        }
                        if (d)
                                udev_device_unref(d);
                }
        if (r == 0 && n == 0)
                r = bf_error_set(err, ENOENT, "no device matches %.*s", (int) (len > 100 ? 100 : len), v);
        if (r == 0) {
                qsort(nodes, n, sizeof(*nodes), devnode_cmp);
                for (size_t i = 0; i < n; i++) {
                        buf_puts(lines, "WithDevices");
                        line_arg(lines, nodes[i]);
                        line_arg(lines, "");
                        line_arg(lines, perms);
                        buf_putc(lines, '\n');
                }
        }
        for (size_t i = 0; i < n; i++)
                free(nodes[i]);
        free(nodes);
        if (e)
                udev_enumerate_unref(e);
        udev_unref(u);
        return r;
}

static int parse_devices(const char *v, size_t len, buf *lines, bf_error *err)
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
                if (n == 1 && word_is(t, tl, keywords[i].word)) {
                        buf_puts(lines, keywords[i].option);
                        buf_putc(lines, '\n');
                        return 0;
                }
        if (memchr(t, '=', tl))
                return parse_udev(v, len, lines, err);
        if (t[0] != '/')
                return bf_error_set(err, EINVAL, "expected a device path, host, allow-all, default, parent or a "
                                                 "udev match such as subsystem=input");
        if (n > 2)
                return bf_error_set(err, EINVAL, "expected PATH[:CONTAINER_PATH] [PERMISSIONS]");
        const char *perms = "rwm";
        char perms_buf[4];
        if (word_next(&w, &p, &pl)) {
                if (!perms_word(p, pl))
                        return bf_error_set(err, EINVAL, "invalid permissions \"%.*s\" (a subset of rwm)",
                                            (int) (pl > 20 ? 20 : pl), p);
                memcpy(perms_buf, p, pl);
                perms_buf[pl] = '\0';
                perms = perms_buf;
        }
        const char *colon = memchr(t, ':', tl);
        buf_puts(lines, "WithDevices");
        if (colon) {
                line_arg_n(lines, t, (size_t) (colon - t));
                line_arg_n(lines, colon + 1, tl - (size_t) (colon - t) - 1);
                if ((size_t) (colon - t) + 1 == tl || colon[1] != '/')
                        return bf_error_set(err, EINVAL, "the container path must be absolute");
        } else {
                line_arg_n(lines, t, tl);
                line_arg(lines, "");
        }
        line_arg(lines, perms);
        buf_putc(lines, '\n');
        return 0;
}

/* ---- user and groups --------------------------------------------------------- */

static int show_user(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        const struct spec_process *p = process_of(v);
        if (p)
                buf_printf(out, "%u:%u\n", p->user.uid, p->user.gid);
        return 0;
}

static int parse_user(const char *v, size_t len, buf *lines, bf_error *err)
{
        trim(&v, &len);
        if (len == 0 || count_words(v, len) != 1)
                return bf_error_set(err, EINVAL, len ? "one user expected (name, uid, name:group or uid:gid)" :
                                                       "empty value");
        buf_puts(lines, "WithUser");
        line_arg_n(lines, v, len);
        buf_putc(lines, '\n');
        return 0;
}

static int show_groups(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        const struct spec_process *p = process_of(v);
        if (p)
                for (size_t i = 0; i < p->user.additional_gids.len; i++)
                        buf_printf(out, "%u\n", p->user.additional_gids.v[i]);
        return 0;
}

static int parse_groups(const char *v, size_t len, buf *lines, bf_error *err)
{
        struct words w = { v, len, 0 };
        const char *t;
        size_t tl;
        if (!word_next(&w, &t, &tl))
                return bf_error_set(err, EINVAL, "empty value");
        if (word_is(t, tl, "from")) {
                if (count_words(v, len) != 2)
                        return bf_error_set(err, EINVAL, "expected: from USER");
                word_next(&w, &t, &tl);
                buf_puts(lines, "WithAdditionalGIDs");
                line_arg_n(lines, t, tl);
                buf_putc(lines, '\n');
                return 0;
        }
        buf_puts(lines, "WithAppendAdditionalGroups");
        w.pos = 0;
        while (word_next(&w, &t, &tl)) {
                if (t[0] != '+' || tl < 2)
                        return bf_error_set(err, EINVAL, "expected +GROUP (a name or gid) or: from USER");
                line_arg_n(lines, t + 1, tl - 1);
        }
        buf_putc(lines, '\n');
        return 0;
}

/* ---- env, args, annotations --------------------------------------------------- */

static int show_env(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        const struct spec_process *p = process_of(v);
        if (p)
                show_list(out, &p->env);
        return 0;
}

/* Each line of the value becomes one argument. */
static int put_lines_as_args(buf *lines, const char *v, size_t len, char must_have, bf_error *err)
{
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
                line_arg_n(lines, v + i, l);
                if (!nl)
                        break;
                i = end + 1;
        }
        return 0;
}

static int parse_env(const char *v, size_t len, buf *lines, bf_error *err)
{
        if (len == 0)
                return bf_error_set(err, EINVAL, "empty value");
        buf_puts(lines, "WithEnv");
        int r = put_lines_as_args(lines, v, len, '=', err);
        buf_putc(lines, '\n');
        return r;
}

static int show_args(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        const struct spec_process *p = process_of(v);
        if (p)
                show_list(out, &p->args);
        return 0;
}

static int parse_args(const char *v, size_t len, buf *lines, bf_error *err)
{
        if (len == 0)
                return bf_error_set(err, EINVAL, "empty value");
        buf_puts(lines, "WithProcessArgs");
        int r = put_lines_as_args(lines, v, len, 0, err);
        buf_putc(lines, '\n');
        return r;
}

static int show_annotations(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        const str_map *m = &v->spec->annotations;
        for (size_t i = 0; i < m->len; i++)
                buf_printf(out, "%s=%s\n", m->v[i].key, m->v[i].value ? m->v[i].value : "");
        return 0;
}

static int parse_annotations(const char *v, size_t len, buf *lines, bf_error *err)
{
        if (len == 0)
                return bf_error_set(err, EINVAL, "empty value");
        buf_puts(lines, "WithAnnotations");
        int r = put_lines_as_args(lines, v, len, '=', err);
        buf_putc(lines, '\n');
        return r;
}

/* ---- single strings ------------------------------------------------------------ */

static int parse_single(const char *option, const char *v, size_t len, buf *lines, bf_error *err)
{
        if (len == 0)
                return bf_error_set(err, EINVAL, "empty value");
        int r = need_single(v, len, err);
        if (r < 0)
                return r;
        /* The write's CRLF is gone already; another CR would not read back. */
        if (v[len - 1] == '\r')
                return bf_error_set(err, EINVAL, "a value cannot end in a carriage return");
        buf_puts(lines, option);
        line_arg_n(lines, v, len);
        buf_putc(lines, '\n');
        return 0;
}

static int show_cwd(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        if (process_of(v))
                show_string(out, process_of(v)->cwd);
        return 0;
}

static int parse_cwd(const char *v, size_t len, buf *lines, bf_error *err)
{
        return parse_single("WithProcessCwd", v, len, lines, err);
}

static int show_hostname(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        show_string(out, v->spec->hostname);
        return 0;
}

static int parse_hostname(const char *v, size_t len, buf *lines, bf_error *err)
{
        return parse_single("WithHostname", v, len, lines, err);
}

static int show_domainname(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        show_string(out, v->spec->domainname);
        return 0;
}

static int parse_domainname(const char *v, size_t len, buf *lines, bf_error *err)
{
        return parse_single("WithDomainname", v, len, lines, err);
}

static int show_rootfs_path(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        if (v->spec->root)
                show_string(out, v->spec->root->path);
        return 0;
}

static int parse_rootfs_path(const char *v, size_t len, buf *lines, bf_error *err)
{
        return parse_single("WithRootFSPath", v, len, lines, err);
}

static int show_image(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        for (size_t i = v->list->n; i-- > 0;) {
                const struct optline *l = v->list->lines[i];
                const char *name = optline_option_name(l);
                if (streq(name, "WithDefaultSpec") || streq(name, "WithDefaultSpecForPlatform") ||
                    streq(name, "WithSpecFromBytes") || streq(name, "WithSpecFromFile"))
                        break;
                if (streq(name, "WithImageConfig") || streq(name, "WithImageConfigArgs")) {
                        show_string(out, l->args[0].str);
                        break;
                }
        }
        return 0;
}

static int parse_image(const char *v, size_t len, buf *lines, bf_error *err)
{
        return parse_single("WithImageConfig", v, len, lines, err);
}

/* ---- flags --------------------------------------------------------------------- */

static int parse_flag(const char *option, const char *what, const char *v, size_t len, buf *lines, bf_error *err)
{
        trim(&v, &len);
        if (len == 1 && v[0] == '1') {
                buf_puts(lines, option);
                buf_putc(lines, '\n');
                return 0;
        }
        if (len == 1 && v[0] == '0')
                return bf_error_set(err, EINVAL, "%s cannot be turned off: no option does that", what);
        return bf_error_set(err, EINVAL, "expected 1");
}

static int show_tty(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        buf_puts(out, process_of(v) && process_of(v)->terminal ? "1\n" : "0\n");
        return 0;
}

static int parse_tty(const char *v, size_t len, buf *lines, bf_error *err)
{
        trim(&v, &len);
        const char *x = memchr(v, 'x', len);
        if (!x)
                return parse_flag("WithTTY", "the terminal", v, len, lines, err);
        /* WxH: WithTTYSize takes Go ints */
        char wb[24], hb[24];
        size_t wl = (size_t) (x - v), hl = len - wl - 1;
        if (wl == 0 || hl == 0 || wl >= sizeof(wb) || hl >= sizeof(hb) || digits_len(v, wl) != wl ||
            digits_len(x + 1, hl) != hl)
                return bf_error_set(err, EINVAL, "expected 1 or WIDTHxHEIGHT");
        memcpy(wb, v, wl);
        wb[wl] = '\0';
        memcpy(hb, x + 1, hl);
        hb[hl] = '\0';
        buf_printf(lines, "WithTTYSize %s %s\n", wb, hb);
        return 0;
}

static int show_rootfs_readonly(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        buf_puts(out, v->spec->root && v->spec->root->readonly ? "1\n" : "0\n");
        return 0;
}

static int parse_rootfs_readonly(const char *v, size_t len, buf *lines, bf_error *err)
{
        return parse_flag("WithRootFSReadonly", "a read-only root", v, len, lines, err);
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
static int show_privileged(const struct view *v, buf *out, bf_error *err)
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

static int parse_privileged(const char *v, size_t len, buf *lines, bf_error *err)
{
        return parse_flag("WithPrivileged", "privileged mode", v, len, lines, err);
}

/* ---- numbers --------------------------------------------------------------------- */

/* Bytes with an optional K/M/G/T suffix (powers of 1024). */
static int parse_bytes(const char *v, size_t len, bool allow_minus_one, char *out, size_t outsize, bf_error *err)
{
        trim(&v, &len);
        if (len == 0)
                return bf_error_set(err, EINVAL, "empty value");
        if (len == 3 && memcmp(v, "max", 3) == 0)
                return bf_error_set(err, EINVAL, "max cannot be written: no option unsets a limit");
        if (allow_minus_one && len == 2 && memcmp(v, "-1", 2) == 0) {
                snprintf(out, outsize, "-1");
                return 0;
        }
        if (v[0] == '-')
                return bf_error_set(err, EINVAL, "negative size \"%.*s\"", (int) (len > 40 ? 40 : len), v);
        size_t digits = 0;
        uint64_t n = 0;
        while (digits < len && isdigit((unsigned char) v[digits])) {
                unsigned d = (unsigned) (v[digits] - '0');
                if (n > (UINT64_MAX - d) / 10)
                        return bf_error_set(err, EINVAL, "size out of range");
                n = n * 10 + d;
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
        if (shift && n > (UINT64_MAX >> shift))
                return bf_error_set(err, EINVAL, "size out of range");
        n <<= shift;
        /* The spec's limits are signed: a larger size would read back negative. */
        if (n > INT64_MAX)
                return bf_error_set(err, EINVAL, "size out of range");
        snprintf(out, outsize, "%" PRIu64, n);
        return 0;
}

static int show_memory_limit(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        const struct spec_resources *res = resources_of(v);
        const struct spec_windows *w = v->spec->windows;
        if (res && res->memory && res->memory->limit)
                buf_printf(out, "%" PRId64 "\n", *res->memory->limit);
        else if (w && w->resources && w->resources->memory && w->resources->memory->limit)
                buf_printf(out, "%" PRIu64 "\n", *w->resources->memory->limit);
        else
                buf_puts(out, "max\n");
        return 0;
}

static int parse_memory_limit(const char *v, size_t len, buf *lines, bf_error *err)
{
        char n[32];
        int r = parse_bytes(v, len, false, n, sizeof(n), err);
        if (r == 0)
                buf_printf(lines, "WithMemoryLimit %s\n", n);
        return r;
}

static int show_memory_swap(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        const struct spec_resources *res = resources_of(v);
        if (res && res->memory && res->memory->swap)
                buf_printf(out, "%" PRId64 "\n", *res->memory->swap);
        else
                buf_puts(out, "max\n");
        return 0;
}

static int parse_memory_swap(const char *v, size_t len, buf *lines, bf_error *err)
{
        char n[32];
        int r = parse_bytes(v, len, true, n, sizeof(n), err);
        if (r == 0)
                buf_printf(lines, "WithMemorySwap %s\n", n);
        return r;
}

static int show_pids_max(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        const struct spec_resources *res = resources_of(v);
        if (res && res->pids)
                buf_printf(out, "%" PRId64 "\n", res->pids->limit);
        else
                buf_puts(out, "max\n");
        return 0;
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

static int parse_numbers(const char *option, const char *v, size_t len, size_t want, const bool *signs, buf *lines,
                         bf_error *err)
{
        int r = need_single(v, len, err);
        if (r < 0)
                return r;
        if (count_words(v, len) != want)
                return bf_error_set(err, EINVAL, want == 1 ? "one number expected" : "%zu numbers expected", want);
        struct words w = { v, len, 0 };
        const char *t;
        size_t tl;
        buf_puts(lines, option);
        for (size_t i = 0; word_next(&w, &t, &tl); i++) {
                if ((r = number_word(t, tl, signs[i], err)) < 0)
                        return r;
                line_arg_n(lines, t, tl);
        }
        buf_putc(lines, '\n');
        return 0;
}

static int parse_pids_max(const char *v, size_t len, buf *lines, bf_error *err)
{
        static const bool signs[] = { true };
        return parse_numbers("WithPidsLimit", v, len, 1, signs, lines, err);
}

static const struct spec_cpu *cpu_of(const struct view *v)
{
        const struct spec_resources *res = resources_of(v);
        return res ? res->cpu : NULL;
}

static int show_cpu_shares(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        const struct spec_cpu *cpu = cpu_of(v);
        if (cpu && cpu->shares)
                buf_printf(out, "%" PRIu64 "\n", *cpu->shares);
        return 0;
}

static int parse_cpu_shares(const char *v, size_t len, buf *lines, bf_error *err)
{
        static const bool signs[] = { false };
        return parse_numbers("WithCPUShares", v, len, 1, signs, lines, err);
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

static int show_cpu_cfs(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        const struct spec_cpu *cpu = cpu_of(v);
        show_pair(out, cpu ? cpu->quota : NULL, cpu ? cpu->period : NULL);
        return 0;
}

static int parse_cpu_cfs(const char *v, size_t len, buf *lines, bf_error *err)
{
        static const bool signs[] = { true, false };
        return parse_numbers("WithCPUCFS", v, len, 2, signs, lines, err);
}

static int show_cpu_rt(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        const struct spec_cpu *cpu = cpu_of(v);
        show_pair(out, cpu ? cpu->realtime_runtime : NULL, cpu ? cpu->realtime_period : NULL);
        return 0;
}

static int parse_cpu_rt(const char *v, size_t len, buf *lines, bf_error *err)
{
        static const bool signs[] = { true, false };
        return parse_numbers("WithCPURT", v, len, 2, signs, lines, err);
}

/* cpuset lists: "0-3,5,7-8" */
static int parse_cpuset(const char *option, const char *v, size_t len, buf *lines, bf_error *err)
{
        trim(&v, &len);
        bool ok = len > 0;
        bool need_digit = true, in_range = false;
        for (size_t i = 0; ok && i < len; i++) {
                char c = v[i];
                if (isdigit((unsigned char) c)) {
                        need_digit = false;
                } else if (c == '-' && !need_digit && !in_range) {
                        need_digit = true;
                        in_range = true;
                } else if (c == ',' && !need_digit) {
                        need_digit = true;
                        in_range = false;
                } else {
                        ok = false;
                }
        }
        if (!ok || need_digit)
                return bf_error_set(err, EINVAL, "invalid list \"%.*s\" (e.g. 0-3,5)", (int) (len > 40 ? 40 : len),
                                    v);
        buf_puts(lines, option);
        line_arg_n(lines, v, len);
        buf_putc(lines, '\n');
        return 0;
}

static int show_cpus(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        const struct spec_cpu *cpu = cpu_of(v);
        if (cpu)
                show_string(out, cpu->cpus);
        return 0;
}

static int parse_cpus(const char *v, size_t len, buf *lines, bf_error *err)
{
        return parse_cpuset("WithCPUs", v, len, lines, err);
}

static int show_mems(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        const struct spec_cpu *cpu = cpu_of(v);
        if (cpu)
                show_string(out, cpu->mems);
        return 0;
}

static int parse_mems(const char *v, size_t len, buf *lines, bf_error *err)
{
        return parse_cpuset("WithCPUsMems", v, len, lines, err);
}

/* ---- namespaces and mounts --------------------------------------------------------- */

static int show_namespaces(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        if (!v->spec->linux_)
                return 0;
        const namespace_slice *ns = &v->spec->linux_->namespaces;
        for (size_t i = 0; i < ns->len; i++) {
                buf_puts(out, ns->v[i].type ? ns->v[i].type : "");
                if (ns->v[i].path && *ns->v[i].path) {
                        buf_putc(out, ' ');
                        buf_puts(out, ns->v[i].path);
                }
                buf_putc(out, '\n');
        }
        return 0;
}

static bool namespace_type_known(const char *t, size_t tl)
{
        static const char *const types[] = { "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time" };
        for (size_t i = 0; i < ARRAY_SIZE(types); i++)
                if (word_is(t, tl, types[i]))
                        return true;
        return false;
}

static int parse_namespaces(const char *v, size_t len, buf *lines, bf_error *err)
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
        buf_puts(lines, host ? "WithHostNamespace" : "WithLinuxNamespace");
        line_arg_n(lines, type, typel);
        if (path)
                line_arg_n(lines, path, pathl);
        buf_putc(lines, '\n');
        return 0;
}

static int show_mounts(const struct view *v, buf *out, bf_error *err)
{
        (void) err;
        const mount_slice *m = &v->spec->mounts;
        for (size_t i = 0; i < m->len; i++) {
                const struct spec_mount *mt = &m->v[i];
                buf_printf(out, "%s %s %s ", mt->destination && *mt->destination ? mt->destination : "-",
                           mt->type && *mt->type ? mt->type : "-", mt->source && *mt->source ? mt->source : "-");
                for (size_t j = 0; j < mt->options.len; j++) {
                        if (j)
                                buf_putc(out, ',');
                        buf_puts(out, mt->options.v[j]);
                }
                if (!mt->options.len)
                        buf_putc(out, '-');
                buf_putc(out, '\n');
        }
        return 0;
}

static int parse_mounts(const char *v, size_t len, buf *lines, bf_error *err)
{
        size_t off = 0;
        while (off < len && isspace((unsigned char) v[off]))
                off++;
        if (off == len)
                return bf_error_set(err, EINVAL, "empty value");
        if (v[off] == '[') {
                /* One JSON array: the option line parser checks it. */
                buf_puts(lines, "WithMounts ");
                for (size_t i = off; i < len; i++)
                        buf_putc(lines, v[i] == '\n' || v[i] == '\r' ? ' ' : v[i]);
                buf_putc(lines, '\n');
                return 0;
        }
        struct words w = { v, len, 0 };
        const char *t;
        size_t tl;
        buf_puts(lines, "WithoutMounts");
        while (word_next(&w, &t, &tl)) {
                if (t[0] != '-' || tl < 2 || t[1] != '/')
                        return bf_error_set(err, EINVAL, "expected a JSON array of mounts, or -DESTINATION to remove");
                line_arg_n(lines, t + 1, tl - 1);
        }
        buf_putc(lines, '\n');
        return 0;
}

/* ---- the table ------------------------------------------------------------------- */

#define CONTROL(n, fn) { .name = n, .kind = FILE_CONTROL, .mode = 0644, .show = show_##fn, .parse = parse_##fn }

const struct file_def file_defs[] = {
        { .name = "config.json", .kind = FILE_CONFIG, .mode = 0444 },
        { .name = "opts", .kind = FILE_OPTS, .mode = 0644 },
        { .name = "platform", .kind = FILE_PLATFORM, .mode = 0644 },
        { .name = "error", .kind = FILE_ERROR, .mode = 0444 },
        CONTROL("annotations", annotations),
        CONTROL("args", args),
        CONTROL("caps", caps),
        CONTROL("caps.ambient", caps_ambient),
        CONTROL("cpu.cfs", cpu_cfs),
        CONTROL("cpu.rt", cpu_rt),
        CONTROL("cpu.shares", cpu_shares),
        CONTROL("cpuset.cpus", cpus),
        CONTROL("cpuset.mems", mems),
        CONTROL("cwd", cwd),
        CONTROL("devices", devices),
        CONTROL("domainname", domainname),
        CONTROL("env", env),
        CONTROL("groups", groups),
        CONTROL("hostname", hostname),
        CONTROL("image", image),
        CONTROL("memory.limit", memory_limit),
        CONTROL("memory.swap", memory_swap),
        CONTROL("mounts", mounts),
        CONTROL("namespaces", namespaces),
        CONTROL("pids.max", pids_max),
        CONTROL("privileged", privileged),
        CONTROL("rootfs.path", rootfs_path),
        CONTROL("rootfs.readonly", rootfs_readonly),
        CONTROL("tty", tty),
        CONTROL("user", user),
};

const size_t file_defs_count = ARRAY_SIZE(file_defs);

int control_parse(const struct file_def *f, const char *value, size_t len, buf *lines, bf_error *err)
{
        /* The parsers read words and lines as C strings would stop at it. */
        if (memchr(value, '\0', len))
                return bf_error_set(err, EINVAL, "a value cannot hold a NUL byte");
        return f->parse(value, len, lines, err);
}

const struct file_def *file_def_find(const char *name)
{
        for (size_t i = 0; i < file_defs_count; i++)
                if (streq(file_defs[i].name, name))
                        return &file_defs[i];
        return NULL;
}
