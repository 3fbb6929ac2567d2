/* UTF-8 checks with Go's rules (no surrogates, no overlong forms). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Length of the valid sequence at s (1..4), or 0 if invalid or truncated. */
size_t utf8_seq_len(const unsigned char *s, size_t n);
bool utf8_valid(const char *s, size_t n);
/* Copy s into b, each byte of an invalid sequence becoming U+FFFD, as Go does. */
void utf8_sanitize(buf *b, const char *s, size_t n);
