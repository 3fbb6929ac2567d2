/* libFuzzer target: a value written to a control file (core/ctl.h).
 *
 * The input picks the file and gives the value: "NAME\nVALUE" when NAME is a
 * control file, else the first byte picks one (modulo ctl_count()) and the
 * rest is the value. Every control file is reachable, so a new one is fuzzed
 * without changing this file. The value is what an open file receives: at
 * most 64 KiB (the filesystem refuses more before parsing), final newline
 * included.
 *
 * 1. `ctl_parse` accepts or refuses it cleanly (a refusal: EINVAL, ENOENT,
 *    ENOMEM, EIO or EFBIG, and a one-line message starting with the file's
 *    name); it gets exactly the value's bytes, with nothing after them, so a
 *    read past the end is caught.
 * 2. Accepted, it gives at least one option line, and each line's canonical
 *    text (what `cat opts` shows) parses back to the same text.
 * 3. Those lines, after the default spec (linux/amd64, bundle rootfs: the
 *    conformance fixtures' rootfs, so user and group names resolve), render
 *    to valid JSON or fail with an errno of the interface; then `ctl_show`
 *    prints the value: empty, or NUL-free lines ending in a newline.
 * 4. Files that round-trip (docs/bundlefs.md section 3, "rt"): writing back
 *    what a read showed (unless it is "max" or empty) is accepted and leaves
 *    config.json unchanged.
 *
 * Everything the code under test does runs inside the file-system sandbox.
 * FUZZ_VERBOSE=1 prints what each input becomes. */
#define FUZZ_TARGET "fuzz_ctlfile"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "ctl.h"
#include "optline.h"
#include "options.h"
#include "render.h"

#ifndef FUZZ_ROOTFS
#error "build with -DFUZZ_ROOTFS=\"<conformance fixtures>/rootfs\" (fuzz/meson.build does)"
#endif

/* What one open file may receive (fs/internal.h's CONTROL_VALUE_MAX). */
#define VALUE_MAX (64 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* docs/bundlefs.md section 3: the files whose value round-trips. */
static const char *const round_trip[] = {
        "caps", "caps.ambient", "env", "args", "cwd", "hostname", "domainname", "memory.limit", "memory.swap",
        "pids.max", "cpu.shares", "cpu.cfs", "cpu.rt", "cpuset.cpus", "cpuset.mems", "annotations",
};

static bool is_round_trip(const char *name)
{
        for (size_t i = 0; i < sizeof(round_trip) / sizeof(round_trip[0]); i++)
                if (strcmp(round_trip[i], name) == 0)
                        return true;
        return false;
}

static int verbose = -1;

/* A rendering of lines, as the filesystem does it for config.json and reads
 * of control files. */
struct state {
        struct optline **lines;
        size_t n;
};

static void state_free(struct state *s)
{
        optline_free_all(s->lines, s->n);
        *s = (struct state){ 0 };
}

static struct render_input input_of(const struct state *s)
{
        return (struct render_input){
                .platform = "linux/amd64",
                .namespace_ = "default",
                .id = "web",
                .bundle_rootfs = FUZZ_ROOTFS,
                .lines = s->lines,
                .nlines = s->n,
        };
}

/* ctl_parse: 0 with the option lines in *ret, or <0. */
static int write_value(const struct ctl *c, const char *v, size_t len, struct state *ret)
{
        /* exactly the value's bytes: a read past them is an overflow */
        char *copy = malloc(len ? len : 1);
        if (!copy)
                abort();
        memcpy(copy, v, len);
        bf_error err = { 0 };
        *ret = (struct state){ 0 };
        int r = ctl_parse(c, copy, len, &ret->lines, &ret->n, &err);
        free(copy);
        check_error(ctl_name(c), r, &err, EINVAL, ENOENT, ENOMEM, EIO, EFBIG, 0);
        size_t nl = strlen(ctl_name(c));
        if (r < 0 && (strncmp(err.msg, ctl_name(c), nl) != 0 || strncmp(err.msg + nl, ": ", 2) != 0))
                FAIL("%s: the message does not start with the file's name: %s", ctl_name(c), err.msg);
        if (verbose) {
                fuzz_sandbox_leave();
                fprintf(stderr, "%s: value \"%.*s\" -> %s\n", ctl_name(c), (int) len, v,
                        r < 0 ? err.msg : ret->n ? text_of(ret->lines[0]) : "(no lines)");
                fuzz_sandbox_enter();
        }
        if (r < 0)
                return r;
        if (ret->n == 0)
                FAIL("%s: accepted with no option line", ctl_name(c));
        for (size_t i = 0; i < ret->n; i++) {
                struct optline *again = NULL;
                const struct optline *l = ret->lines[i];
                if (optline_parse(text_of(l), l->text_len, &again, &err) < 0)
                        FAIL("%s: the canonical text of a line does not parse: %s\n  text: %s", ctl_name(c), err.msg,
                             text_of(l));
                if (again->text_len != l->text_len || memcmp(text_of(again), text_of(l), l->text_len) != 0)
                        FAIL("%s: a line reads back differently\n  text:  %s\n  again: %s", ctl_name(c), text_of(l),
                             text_of(again));
                optline_unref(again);
        }
        return 0;
}

static int render(const struct state *s, buf *out)
{
        struct render_input in = input_of(s);
        bf_error err = { 0 };
        *out = (buf){ 0 };
        int r = spec_render(&in, out, &err);
        check_error("spec_render", r, &err, EINVAL, ENOENT, ENODEV, EFBIG, ENOMEM, 0);
        if (r == 0)
                check_config_json("spec_render", out);
        if (verbose && r < 0) {
                fuzz_sandbox_leave();
                fprintf(stderr, "  does not render: %s\n", err.msg);
                fuzz_sandbox_enter();
        }
        return r;
}

/* What a read of c shows for the lines (they render). */
static int show(const struct ctl *c, const struct state *s, buf *out)
{
        struct render_input in = input_of(s);
        arena a;
        arena_init(&a, RENDER_ARENA_LIMIT);
        struct spec spec;
        bf_error err = { 0 };
        *out = (buf){ 0 };
        int r = spec_build(&a, &in, &spec, NULL, &err);
        if (r < 0)
                FAIL("%s: spec_build fails (%s) where spec_render succeeded", ctl_name(c), err.msg);
        struct ctl_view v = { .spec = &spec, .lines = s->lines, .nlines = s->n };
        r = ctl_show(c, &v, out, &err);
        check_error(ctl_name(c), r, &err, EINVAL, ENOMEM, 0);
        arena_done(&a);
        if (r == 0 && out->len && (out->p[out->len - 1] != '\n' || strlen(out->p) != out->len))
                FAIL("%s: show prints something other than NUL-free lines: \"%s\"", ctl_name(c), out->p);
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (verbose < 0)
                verbose = getenv("FUZZ_VERBOSE") != NULL;
        if (size == 0)
                return 0;
        const char *in = (const char *) data;
        const struct ctl *c = NULL;
        const char *nl = memchr(in, '\n', size);
        if (nl) {
                char name[64];
                size_t n = (size_t) (nl - in);
                if (n < sizeof(name)) {
                        memcpy(name, in, n);
                        name[n] = '\0';
                        c = ctl_find(name);
                }
        }
        const char *v;
        size_t len;
        if (c) {
                v = nl + 1;
                len = size - (size_t) (v - in);
        } else {
                c = ctl_at(data[0] % ctl_count());
                v = in + 1;
                len = size - 1;
        }
        if (len > VALUE_MAX)
                return 0;   /* refused with EFBIG before parsing */

        fuzz_sandbox_enter();
        struct state s1 = { 0 }, s2 = { 0 }, both = { 0 };
        buf config1 = { 0 }, config2 = { 0 }, shown = { 0 }, shown2 = { 0 };
        if (write_value(c, v, len, &s1) < 0 || render(&s1, &config1) < 0)
                goto out;
        /* Lines that read the host's files render as the host is at that
         * moment (a devices walk meets test mounts that come and go): the
         * comparisons below would compare two moments. */
        for (size_t i = 0; i < s1.n; i++)
                if (optline_uses_host_paths(s1.lines[i]))
                        goto out;
        if (show(c, &s1, &shown) < 0)
                goto out;
        if (verbose) {
                fuzz_sandbox_leave();
                fprintf(stderr, "  shows \"%s\"\n", shown.p ? shown.p : "");
                fuzz_sandbox_enter();
        }

        /* Write back what was read, after the lines that made it. */
        if (!is_round_trip(ctl_name(c)) || shown.len == 0 || strcmp(shown.p, "max\n") == 0)
                goto out;
        if (write_value(c, shown.p, shown.len, &s2) < 0)
                FAIL("%s: what a read shows is refused when written back\n  written: %.*s\n  shown:   %s",
                     ctl_name(c), (int) len, v, shown.p);
        both.n = s1.n + s2.n;
        both.lines = malloc(both.n * sizeof(*both.lines));
        if (!both.lines)
                abort();
        for (size_t i = 0; i < s1.n; i++)
                both.lines[i] = optline_ref(s1.lines[i]);
        for (size_t i = 0; i < s2.n; i++)
                both.lines[s1.n + i] = optline_ref(s2.lines[i]);
        if (render(&both, &config2) < 0)
                FAIL("%s: the list with what a read shows written back does not render\n  written: %.*s\n"
                     "  shown:   %s", ctl_name(c), (int) len, v, shown.p);
        if (config1.len != config2.len || memcmp(config1.p, config2.p, config1.len) != 0) {
                show(c, &both, &shown2);
                FAIL("%s: writing back what a read shows changes config.json\n  written: %.*s\n  shown:   %s"
                     "  shown after writing it back: %s\n  before: %s  after:  %s",
                     ctl_name(c), (int) len, v, shown.p, shown2.p ? shown2.p : "", config1.p, config2.p);
        }
out:
        fuzz_sandbox_leave();
        state_free(&s1);
        state_free(&s2);
        state_free(&both);
        buf_free(&config1);
        buf_free(&config2);
        buf_free(&shown);
        buf_free(&shown2);
        return 0;
}
