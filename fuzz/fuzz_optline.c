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
#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "optline.h"
#include "render.h"
#include "sandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FAIL(...)                                        \
        do {                                             \
                fuzz_sandbox_leave();                    \
                fprintf(stderr, "fuzz_optline: " __VA_ARGS__); \
                fputc('\n', stderr);                     \
                abort();                                 \
        } while (0)

static void check_error(const char *what, int r, const bf_error *err, int c1, int c2, int c3, int c4, int c5)
{
        int c = err->code;
        if (r >= 0)
                return;
        if (r != -c || c <= 0 || !err->msg[0])
                FAIL("%s: returned %d with error code %d and message \"%s\"", what, r, c, err->msg);
        if (c != c1 && c != c2 && c != c3 && c != c4 && c != c5)
                FAIL("%s: errno %d (%s) is not one the interface allows: %s", what, c, strerror(c), err->msg);
}

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
        check_error("spec_render", res->r, &res->err, EINVAL, ENOENT, ENODEV, EFBIG, ENOMEM);
        if (res->r < 0)
                return;
        if (res->out.len < 3 || res->out.p[res->out.len - 1] != '\n')
                FAIL("spec_render: output does not end in a newline");
        /* One strict JSON document, nothing after it but the newline. */
        struct json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH * 4);
        if (!tok)
                abort();
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        struct json_object *j = json_tokener_parse_ex(tok, res->out.p, (int) res->out.len - 1);
        enum json_tokener_error e = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (e != json_tokener_success || end != res->out.len - 1 || !json_object_is_type(j, json_type_object))
                FAIL("spec_render: output is not one JSON object (%s at byte %zu):\n%s",
                     json_tokener_error_desc(e), end, res->out.p);
        json_object_put(j);
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
        check_error("optline_parse", r, &err, EINVAL, EFBIG, ENOMEM, EINVAL, EINVAL);
        if (r < 0) {
                fuzz_sandbox_leave();
                if (verbose)
                        fprintf(stderr, "optline_parse: %s\n", err.msg);
                return 0;
        }
        if (!l->text || strlen(l->text) != l->text_len || memchr(l->text, '\n', l->text_len))
                FAIL("canonical text of \"%.*s\" is not one NUL-free line", (int) size, line);

        /* The canonical text parses to the same option and the same text. */
        bf_error err2 = { 0 };
        r = optline_parse(l->text, l->text_len, &l2, &err2);
        if (r < 0)
                FAIL("canonical text does not parse again\n  input:     %.*s\n  canonical: %s\n  error:     %s",
                     (int) size, line, l->text, err2.msg);
        if (l2->opt != l->opt || l2->nargs != l->nargs || l2->text_len != l->text_len ||
            memcmp(l2->text, l->text, l->text_len) != 0)
                FAIL("canonical text is not stable\n  input:  %.*s\n  first:  %s\n  second: %s", (int) size, line,
                     l->text, l2->text);

        /* Rendering never crashes; the canonical line renders the same. */
        struct result a, b, w;
        render(l, "linux/amd64", &a);
        render(l2, "linux/amd64", &b);
        if (a.r != b.r || a.out.len != b.out.len || (a.out.len && memcmp(a.out.p, b.out.p, a.out.len) != 0) ||
            (a.r < 0 && (a.err.code != b.err.code || strcmp(a.err.msg, b.err.msg) != 0)))
                FAIL("the canonical line renders differently\n  input:     %.*s\n  canonical: %s\n"
                     "  input renders (%d) %s%s\n  canonical renders (%d) %s%s",
                     (int) size, line, l->text, a.r, a.r < 0 ? a.err.msg : "", a.r < 0 ? "" : a.out.p, b.r,
                     b.r < 0 ? b.err.msg : "", b.r < 0 ? "" : b.out.p);
        render(l, "windows/amd64", &w);
        if (verbose) {
                fuzz_sandbox_leave();
                fprintf(stderr, "canonical: %s\nlinux/amd64: %s%s\nwindows/amd64: %s%s\n", l->text,
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
