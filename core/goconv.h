/* Conversions that must behave exactly like Go's standard library, since
 * containerd's behaviour depends on them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* strconv.Atoi: optional sign, decimal digits. Sets *ok = false on syntax or
 * range errors; the value is then 0 (syntax) or clamped (range), as in Go. */
int64_t go_atoi(const char *s, size_t n, bool *ok);
/* strconv.ParseUint(s, 10, bits). */
bool go_parse_uint(const char *s, size_t n, unsigned bits, uint64_t *ret);

/* path.Clean / filepath.Clean on Unix. */
void go_path_clean(buf *b, const char *path);
/* filepath.Join of the non-empty elements, cleaned; "" if all are empty. */
void go_path_join(buf *b, const char *const *elems, size_t n);

/* bytes.TrimSpace: ASCII and Unicode white space at both ends. */
void go_trim_space(const char **s, size_t *n);
