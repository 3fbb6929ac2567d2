/* Rendering: the default spec for a platform, then every option in order. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "buf.h"
#include "error.h"
#include "platform.h"
#include "spec.h"

struct optline;
struct deps;

struct render_input {
        const char *platform;           /* "os/arch[/variant]" */
        const char *namespace_;
        const char *id;
        const char *bundle_rootfs;      /* look-up root when root.path is relative (NULL: none) */
        const char *bundle_rootfs_shown;        /* how messages name it (NULL: bundle_rootfs) */
        struct optline *const *lines;
        size_t nlines;
        /* The number messages give each line (bundlefs-render: its line of
         * stdin); NULL: its place in the list, counting from 1. */
        const size_t *line_numbers;
        struct deps *deps;              /* records the outside inputs read (NULL: none); see deps.h */
};

/* The state an option works on. */
struct render {
        arena *a;
        bf_error *err;
        const char *namespace_;
        const char *id;
        const char *bundle_rootfs;
        const char *bundle_rootfs_shown;
        const char *platform;           /* the container's, which images are resolved for */
        struct deps *deps;              /* NULL: inputs are not recorded */
};

#define RENDER_ARENA_LIMIT ((size_t) 256 << 20)

/* Build the spec. On failure err says why, prefixed with the failing line's
 * number (counting from 1, or in->line_numbers) and option name.
 * ret_failed_line gets the index of the failing line, or nlines when the
 * namespace (namespace_required) or the platform was refused, before any
 * line. */
int spec_build(arena *a, const struct render_input *in, struct spec *ret, size_t *ret_failed_line, bf_error *err);

/* Apply in->lines to a spec built from the lines before them: the same as
 * spec_build of the whole list when nothing those lines read has changed
 * (see deps.h). Messages number the lines from first + 1 (or with
 * in->line_numbers); ret_failed_line gets the index (in in->lines) of the
 * failing one. */
int spec_apply(arena *a, const struct render_input *in, struct spec *s, size_t first, size_t *ret_failed_line,
               bf_error *err);

/* config.json's bytes for a spec (Go's json.Marshal plus a newline). */
void spec_encode(const struct spec *s, buf *out);

/* spec_build, then config.json's bytes (Go's json.Marshal plus a newline). */
int spec_render(const struct render_input *in, buf *out, bf_error *err);

/* The default spec containerd gives a platform (GenerateSpecWithPlatform
 * with no options). */
int spec_default(struct render *r, const char *platform, struct spec *s);
