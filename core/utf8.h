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

/* Model strings are C strings, but a Go string may hold NUL bytes: where
 * one must be carried (a line of an env file), NUL is stored as C0 80 (as
 * Modified UTF-8 does) and a byte C0 of the input as C0 C0. Both are invalid
 * UTF-8, so valid text is unchanged and equal strings stay equal; the JSON
 * printer turns them back into the bytes they stand for. */
#define NUL_ESCAPE_BYTE '\xc0'
/* s[0..n) with NUL and C0 bytes escaped, into b. */
void nul_escape(buf *b, const char *s, size_t n);
/* The bytes an escaped string stands for, into b (a C0 followed by anything
 * else stays as it is). */
void nul_unescape(buf *b, const char *s, size_t n);
