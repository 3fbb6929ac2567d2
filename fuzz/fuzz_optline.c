/* libFuzzer target: one option line of arbitrary bytes.
 *
 * 1. optline_parse must accept or refuse it cleanly (refusals carry EINVAL or
 *    EFBIG and a message).
 * 2. When accepted, its canonical text must parse again, to the same option and
 *    the same canonical text (`cat opts > saved; cat saved > opts` round-trips).
 * 3. The line alone, after the default spec, is rendered with spec_render
 *    (namespace "default", id "web", linux/amd64, no bundle rootfs): it must
 *    not crash; success gives one valid JSON document plus a newline; failure an
 *    errno of the contract and a message. The re-parsed line must render the
 *    same bytes or the same error. It is rendered once more on windows/amd64
 *    (crash check only), where the Windows options apply.
 *
 * Everything the core does runs inside the file-system sandbox (sandbox.h):
 * any attempt to write aborts.
 *
 * FUZZ_VERBOSE=1 in the environment prints what each input parses and renders
 * to (for looking at a reproducer: ./fuzz_optline FILE). */
#define FUZZ_TARGET "fuzz_optline"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks.h"
#include "optline.h"
#include "options.h"
#include "render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
        int r;
        buf out;
        bf_error err;
};

static void render(struct optline *l, const char *platform, struct result *res)
{
        struct optline *lines[1] = { l };
        struct render_input in = {
                .platform = platform,
                .namespace_ = "default",
                .id = "web",
                .bundle_rootfs = NULL,
                .lines = lines,
                .nlines = 1,
        };
        res->out = (buf){ 0 };
        res->err = (bf_error){ 0 };
        res->r = spec_render(&in, &res->out, &res->err);
        check_error("spec_render", res->r, &res->err, EINVAL, ENOENT, ENODEV, EFBIG, ENOMEM, 0);
        if (res->r == 0)
                check_config_json("spec_render", &res->out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *line = (const char *) data;
        struct optline *l = NULL, *l2 = NULL;
        bf_error err = { 0 };

        static int verbose = -1;
        if (verbose < 0)
                verbose = getenv("FUZZ_VERBOSE") != NULL;

        fuzz_sandbox_enter();
        int r = optline_parse(line, size, &l, &err);
        check_error("optline_parse", r, &err, EINVAL, EFBIG, ENOMEM, 0);
        if (r < 0) {
                fuzz_sandbox_leave();
                if (verbose)
                        fprintf(stderr, "optline_parse: %s\n", err.msg);
                return 0;
        }
        if (strlen(text_of(l)) != l->text_len || memchr(text_of(l), '\n', l->text_len))
                FAIL("canonical text of \"%.*s\" is not one NUL-free line", (int) size, line);

        /* The canonical text parses to the same option and the same text. */
        bf_error err2 = { 0 };
        r = optline_parse(text_of(l), l->text_len, &l2, &err2);
        if (r < 0)
                FAIL("canonical text does not parse again\n  input:     %.*s\n  canonical: %s\n  error:     %s",
                     (int) size, line, text_of(l), err2.msg);
        if (l2->opt != l->opt || l2->nargs != l->nargs || l2->text_len != l->text_len ||
            memcmp(text_of(l2), text_of(l), l->text_len) != 0)
                FAIL("canonical text is not stable\n  input:  %.*s\n  first:  %s\n  second: %s", (int) size, line,
                     text_of(l), text_of(l2));

        /* Rendering never crashes; the canonical line renders the same,
         * unless it reads the host's files, which may change between the two
         * renderings (WithDevices / walks the whole host, test mounts that
         * come and go included). */
        struct result a, b, w;
        render(l, "linux/amd64", &a);
        render(l2, "linux/amd64", &b);
        bool reads_host = optline_uses_host_paths(l);
        if (!reads_host && (a.r != b.r || a.out.len != b.out.len || (a.out.len && memcmp(a.out.p, b.out.p, a.out.len) != 0) ||
            (a.r < 0 && (a.err.code != b.err.code || strcmp(a.err.msg, b.err.msg) != 0))))
                FAIL("the canonical line renders differently\n  input:     %.*s\n  canonical: %s\n"
                     "  input renders (%d) %s%s\n  canonical renders (%d) %s%s",
                     (int) size, line, text_of(l), a.r, a.r < 0 ? a.err.msg : "", a.r < 0 ? "" : a.out.p, b.r,
                     b.r < 0 ? b.err.msg : "", b.r < 0 ? "" : b.out.p);
        render(l, "windows/amd64", &w);
        if (verbose) {
                fuzz_sandbox_leave();
                fprintf(stderr, "canonical: %s\nlinux/amd64: %s%s\nwindows/amd64: %s%s\n", text_of(l),
                        a.r < 0 ? a.err.msg : "", a.r < 0 ? "\n" : a.out.p, w.r < 0 ? w.err.msg : "",
                        w.r < 0 ? "\n" : w.out.p);
        }

        fuzz_sandbox_leave();
        buf_free(&a.out);
        buf_free(&b.out);
        buf_free(&w.out);
        optline_unref(l2);
        optline_unref(l);
        return 0;
}
