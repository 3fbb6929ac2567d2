/* Bounded reads of host files named by options (spec files, image configs,
 * env files, passwd and group), with Go's error wording; whole writes. */
#pragma once

#include <stddef.h>

#include "arena.h"
#include "error.h"
#include "spec.h"
#include "util.h"

#define FILE_READ_MAX ((size_t) 16 << 20)
/* bufio.Scanner's default limit: a longer line is an error in Go too. */
#define SCANNER_LINE_MAX ((size_t) 64 * 1024)

struct json_object;

/* The whole of a regular file at path (or at dirfd-relative fd). Missing
 * files give -ENOENT with "open <path>: no such file or directory". */
int file_read_all(const char *path, size_t max, char **ret, size_t *ret_len, bf_error *err);
/* file_read_all for an option: the file (or its absence) is recorded as an
 * input of the rendering (deps.h), the error goes to r->err. */
struct render;
int file_read_input(struct render *r, const char *path, size_t max, char **ret, size_t *ret_len);
int fd_read_all(int fd, const char *name, size_t max, char **ret, size_t *ret_len, bf_error *err);
/* Write all n bytes, retrying short writes and EINTR: 0 or a negative
 * errno (with nothing known about how much was written). */
int fd_write_all(int fd, const void *p, size_t n);
/* pathfd is an O_PATH descriptor: open it for reading only if it is a
 * regular file (never a device or FIFO). */
int fd_reopen_regular(int pathfd, const char *name, int *ret_fd, bf_error *err);

/* Parse one JSON document as Go's json.Unmarshal accepts it (strict syntax,
 * nothing but white space after it). "null" gives *ret = NULL. */
int json_parse_document(const char *data, size_t n, struct json_object **ret, bf_error *err);

DEFINE_SLICE(span_slice, struct span);

/* Split data into lines as bufio.Scanner with ScanLines does: "\n" ends a
 * line, one "\r" before it is dropped, a final unterminated line counts;
 * every other byte, NUL included, is part of its line. The spans point into
 * data. A line of max_line bytes or more is refused as Go refuses it (0: no
 * limit). */
int scan_lines(arena *a, const char *data, size_t n, size_t max_line, span_slice *ret, bf_error *err);
