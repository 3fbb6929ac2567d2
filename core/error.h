/* Errors as values: a negative errno plus a one-line message. */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>

#define BF_ERROR_MAX 512

typedef struct bf_error {
        int code;                  /* positive errno, 0 when no error */
        char msg[BF_ERROR_MAX];    /* one line, no trailing newline */
} bf_error;

/* Record an error and return -code, so callers can `return bf_error_set(...)`. */
int bf_error_set(bf_error *err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
int bf_error_setv(bf_error *err, int code, const char *fmt, va_list ap)
        __attribute__((format(printf, 3, 0)));

/* Put "prefix: " in front of the message already in err; keeps the code. */
int bf_error_prefix(bf_error *err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

void bf_error_clear(bf_error *err);

/* bf_error_set(err, ENOMEM, "out of memory"). */
int bf_error_oom(bf_error *err);

/* The errno a refusal reports for a failed system call, by the interface's
 * table: ENOENT for a missing file (or a path through a non-directory),
 * the system's own failures kept (bf_errno_system), EINVAL for anything
 * else. */
int bf_errno_class(int e);
/* Is e a failure of the system rather than of the input (out of memory or
 * descriptors, an I/O error, a full disk)? Those keep their errno: the same
 * write may succeed later. */
bool bf_errno_system(int e);
