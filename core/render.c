#include "render.h"

#include "identifiers.h"
#include "optline.h"
#include "options.h"

static struct render render_of(arena *a, const struct render_input *in, bf_error *err)
{
        return (struct render){
                .a = a,
                .err = err,
                .namespace_ = in->namespace_,
                .id = in->id,
                .bundle_rootfs = in->bundle_rootfs,
                .bundle_rootfs_shown = in->bundle_rootfs_shown,
                .platform = in->platform,
                .deps = in->deps,
        };
}

int spec_build(arena *a, const struct render_input *in, struct spec *ret, size_t *ret_failed_line, bf_error *err)
{
        struct render r = render_of(a, in, err);
        *ret = (struct spec){ 0 };
        if (ret_failed_line)
                *ret_failed_line = in->nlines;
        /* containerd needs a valid namespace before it renders anything. */
        int e = namespace_required(in->namespace_, err);
        if (e < 0)
                return e;
        e = spec_default(&r, in->platform, ret);
        if (e < 0)
                return bf_error_prefix(err, "platform %s", in->platform);
        return spec_apply(a, in, ret, 0, ret_failed_line, err);
}

int spec_apply(arena *a, const struct render_input *in, struct spec *s, size_t first, size_t *ret_failed_line,
               bf_error *err)
{
        struct render r = render_of(a, in, err);
        for (size_t i = 0; i < in->nlines; i++) {
                const struct optline *l = in->lines[i];
                int e = l->opt->apply(&r, s, l);
                if (e < 0) {
                        if (ret_failed_line)
                                *ret_failed_line = i;
                        size_t number = in->line_numbers ? in->line_numbers[i] : first + i + 1;
                        return bf_error_prefix(err, "line %zu: %s", number, l->opt->name);
                }
        }
        return 0;
}

void spec_encode(const struct spec *s, buf *out)
{
        buf_grow(out, 4096);    /* a typical spec fits: no reallocation */
        model_encode(out, &type_spec, s);
        buf_putc(out, '\n');
}

int spec_render(const struct render_input *in, buf *out, bf_error *err)
{
        arena a;
        arena_init(&a, RENDER_ARENA_LIMIT);
        struct spec s;
        int e = spec_build(&a, in, &s, NULL, err);
        if (e == 0) {
                spec_encode(&s, out);
                if (out->oom)
                        e = bf_error_oom(err);
        }
        arena_done(&a);
        return e;
}
