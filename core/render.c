#include "render.h"

#include "optline.h"
#include "options.h"

int spec_build(arena *a, const struct render_input *in, struct spec *ret, size_t *ret_failed_line, bf_error *err)
{
        struct render r = {
                .a = a,
                .err = err,
                .namespace_ = in->namespace_,
                .id = in->id,
                .bundle_rootfs = in->bundle_rootfs,
                .deps = in->deps,
        };
        *ret = (struct spec){ 0 };
        if (ret_failed_line)
                *ret_failed_line = in->nlines;
        int e = spec_default(&r, in->platform, ret);
        if (e < 0)
                return bf_error_prefix(err, "platform %s", in->platform);
        for (size_t i = 0; i < in->nlines; i++) {
                const struct optline *l = in->lines[i];
                e = l->opt->apply(&r, ret, l);
                if (e < 0) {
                        if (ret_failed_line)
                                *ret_failed_line = i;
                        return bf_error_prefix(err, "line %zu: %s", i + 1, l->opt->name);
                }
        }
        return 0;
}

int spec_render(const struct render_input *in, buf *out, bf_error *err)
{
        arena a;
        arena_init(&a, RENDER_ARENA_LIMIT);
        struct spec s;
        int e = spec_build(&a, in, &s, NULL, err);
        if (e == 0) {
                buf_grow(out, 4096);    /* a typical spec fits: no reallocation */
                model_encode(out, &type_spec, &s);
                buf_putc(out, '\n');
                if (out->oom)
                        e = bf_error_set(err, ENOMEM, "out of memory");
        }
        arena_done(&a);
        return e;
}
