/* libFuzzer target: a value written to a control file (fs/ctlfiles.c).
 *
 * The input picks the file and gives the value: "NAME\nVALUE" when NAME is a
 * control file of file_defs[], else the first byte picks one (modulo their
 * number) and the rest is the value. Every FILE_CONTROL row is reachable, so
 * a new control file is fuzzed without changing this file. The value is
 * handled as a write(2) of it is: at most CONTROL_VALUE_MAX bytes, one
 * trailing newline (and a CR before it) dropped.
 *
 * 1. `control_parse` (the file's `parse` for a NUL-free value, as a write
 *    runs it) accepts or refuses it cleanly (a refusal: EINVAL, ENOENT, ENOMEM
 *    or EIO, and a one-line message); it gets exactly the value's bytes, with
 *    nothing after them, so a read past the end is caught.
 * 2. Accepted, its output is whole lines that the opts parser takes (or
 *    refuses with EINVAL or EFBIG), at least one option line.
 * 3. Those lines, after the default spec (linux/amd64, bundle rootfs: the
 *    conformance fixtures' rootfs, so user and group names resolve), render
 *    to valid JSON or fail with an errno of the interface; then the file's
 *    `show` prints the value: empty, or lines ending in a newline.
 * 4. Files the interface marks round-trip (INTERFACE.md section 3, "rt"):
 *    writing back what `show` printed (unless it is "max" or empty) is
 *    accepted and leaves config.json unchanged.
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
#include "internal.h"
#include "render.h"

#ifndef FUZZ_ROOTFS
#error "build with -DFUZZ_ROOTFS=\"<conformance fixtures>/rootfs\" (fuzz/build.sh does)"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* INTERFACE.md section 3: the files whose value round-trips. */
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

static const struct file_def *controls[64];
static size_t ncontrols;
static int verbose;

static void init(void)
{
        if (ncontrols)
                return;
        for (size_t i = 0; i < file_defs_count; i++)
                if (file_defs[i].kind == FILE_CONTROL) {
                        if (ncontrols == sizeof(controls) / sizeof(controls[0]) || !file_defs[i].parse ||
                            !file_defs[i].show)
                                abort();
                        controls[ncontrols++] = &file_defs[i];
                }
        if (!ncontrols)
                abort();
        verbose = getenv("FUZZ_VERBOSE") != NULL;
}

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

/* parse, then the opts parser: 0 with the option lines in *ret, or <0. */
static int write_value(const struct file_def *f, const char *v, size_t len, struct state *ret)
{
        /* exactly the value's bytes: a read past them is an overflow */
        char *copy = malloc(len ? len : 1);
        if (!copy)
                abort();
        memcpy(copy, v, len);
        buf lines = { 0 };
        bf_error err = { 0 };
        int r = control_parse(f, copy, len, &lines, &err);
        check_error(f->name, r, &err, EINVAL, ENOENT, ENOMEM, EIO, 0);
        if (verbose) {
                fuzz_sandbox_leave();
                fprintf(stderr, "%s: value \"%.*s\" -> %s%s", f->name, (int) len, v, r < 0 ? err.msg : lines.p,
                        r < 0 ? "\n" : "");
                fuzz_sandbox_enter();
        }
        free(copy);
        if (r < 0)
                goto out;
        if (lines.oom) {
                r = -ENOMEM;
                goto out;
        }
        if (lines.len == 0 || lines.p[lines.len - 1] != '\n' || strlen(lines.p) != lines.len)
                FAIL("%s: parse gave no lines, or not whole NUL-free lines: \"%s\"", f->name, lines.p ? lines.p : "");
        *ret = (struct state){ 0 };
        r = optline_parse_text(lines.p, lines.len, &ret->lines, &ret->n, &err);
        check_error("optline_parse_text", r, &err, EINVAL, EFBIG, ENOMEM, 0);
        if (r < 0) {
                if (verbose) {
                        fuzz_sandbox_leave();
                        fprintf(stderr, "  opts refuses: %s\n", err.msg);
                        fuzz_sandbox_enter();
                }
                goto out;
        }
        if (ret->n == 0)
                FAIL("%s: parse gave only blank or comment lines: \"%s\"", f->name, lines.p);
out:
        buf_free(&lines);
        return r;
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

/* What a read of f shows for the lines (they render). */
static int show(const struct file_def *f, const struct state *s, buf *out)
{
        struct render_input in = input_of(s);
        arena a;
        arena_init(&a, RENDER_ARENA_LIMIT);
        struct spec spec;
        bf_error err = { 0 };
        *out = (buf){ 0 };
        int r = spec_build(&a, &in, &spec, NULL, &err);
        if (r < 0)
                FAIL("%s: spec_build fails (%s) where spec_render succeeded", f->name, err.msg);
        /* show reads a list's lines and count only */
        struct optlist list = { .refs = 1, .n = s->n, .lines = s->lines };
        struct view v = { .spec = &spec, .list = &list, .platform = in.platform };
        r = f->show(&v, out, &err);
        check_error(f->name, r, &err, EINVAL, ENOMEM, 0);
        arena_done(&a);
        if (r == 0 && !out->oom && out->len &&
            (out->p[out->len - 1] != '\n' || strlen(out->p) != out->len))
                FAIL("%s: show prints something other than NUL-free lines: \"%s\"", f->name, out->p);
        return r;
}

/* A write's bytes less the line end, as the filesystem takes them. */
static size_t value_len(const char *v, size_t len)
{
        if (len && v[len - 1] == '\n')
                len--;
        if (len && v[len - 1] == '\r')
                len--;
        return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        init();
        if (size == 0)
                return 0;
        const char *in = (const char *) data;
        const struct file_def *f = NULL;
        const char *nl = memchr(in, '\n', size);
        if (nl) {
                for (size_t i = 0; i < ncontrols && !f; i++)
                        if (strlen(controls[i]->name) == (size_t) (nl - in) &&
                            memcmp(controls[i]->name, in, (size_t) (nl - in)) == 0)
                                f = controls[i];
        }
        const char *v;
        size_t len;
        if (f) {
                v = nl + 1;
                len = size - (size_t) (v - in);
        } else {
                f = controls[data[0] % ncontrols];
                v = in + 1;
                len = size - 1;
        }
        if (len > CONTROL_VALUE_MAX)
                return 0;   /* refused with EFBIG before parse */
        len = value_len(v, len);

        fuzz_sandbox_enter();
        struct state s1 = { 0 }, s2 = { 0 }, both = { 0 };
        buf config1 = { 0 }, config2 = { 0 }, shown = { 0 }, shown2 = { 0 };
        if (write_value(f, v, len, &s1) < 0 || render(&s1, &config1) < 0)
                goto out;
        if (show(f, &s1, &shown) < 0 || shown.oom)
                goto out;
        if (verbose) {
                fuzz_sandbox_leave();
                fprintf(stderr, "  shows \"%s\"\n", shown.p ? shown.p : "");
                fuzz_sandbox_enter();
        }

        /* Write back what was read, after the lines that made it. */
        if (!is_round_trip(f->name) || shown.len == 0 || strcmp(shown.p, "max\n") == 0)
                goto out;
        if (write_value(f, shown.p, value_len(shown.p, shown.len), &s2) < 0)
                FAIL("%s: what a read shows is refused when written back\n  written: %.*s\n  shown:   %s", f->name,
                     (int) len, v, shown.p);
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
                     "  shown:   %s", f->name, (int) len, v, shown.p);
        if (config1.len != config2.len || memcmp(config1.p, config2.p, config1.len) != 0) {
                show(f, &both, &shown2);
                FAIL("%s: writing back what a read shows changes config.json\n  written: %.*s\n  shown:   %s"
                     "  shown after writing it back: %s\n  before: %s  after:  %s",
                     f->name, (int) len, v, shown.p, shown2.p ? shown2.p : "", config1.p, config2.p);
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
