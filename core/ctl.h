/* Control files: the files of a container directory that are sugar over its
 * option list (`caps`, `memory.limit`, `hostname`, ...). A written value
 * becomes typed option lines; a read shows the value from the rendered spec.
 * core/ctl.c's table is the one place that lists them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"

struct ctl;
struct optline;
struct spec;

/* What a read shows the value from: the spec rendered from lines (only
 * files whose ctl_shows_lines is true look at the lines). */
struct ctl_view {
        const struct spec *spec;
        struct optline *const *lines;
        size_t nlines;
};

size_t ctl_count(void);
/* The i-th control file in name order; NULL past ctl_count(). */
const struct ctl *ctl_at(size_t i);
const struct ctl *ctl_find(const char *name);
const char *ctl_name(const struct ctl *c);

/* One written value, exactly as the open file received it (a final LF or
 * CRLF is not part of it; a NUL byte or invalid UTF-8 is refused with
 * EINVAL): the typed option lines it becomes, at least one. Messages start
 * with the file's name ("memory.limit: invalid size ..."). The caller bounds
 * the value's length. */
int ctl_parse(const struct ctl *c, const char *value, size_t len, struct optline ***ret_lines, size_t *ret_n,
              bf_error *err);
/* The value a read shows (ending in a newline when not empty), appended to
 * out. Fails only when out of memory or when the file cannot tell
 * (`privileged` reads this process's capabilities). */
int ctl_show(const struct ctl *c, const struct ctl_view *v, buf *out, bf_error *err);
/* Does c's show read the view's lines? Most show the spec alone, and the
 * lines side by side cost a pass over a list that has dropped some. */
bool ctl_shows_lines(const struct ctl *c);
