#include "files.h"

#include "deps.h"
#include "jsonparse.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int fd_write_all(int fd, const void *data, size_t n)
{
        const char *p = data;
        while (n) {
                ssize_t w = write(fd, p, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += (size_t) w;
                n -= (size_t) w;
        }
        return 0;
}

int fd_read_all(int fd, const char *name, size_t max, char **ret, size_t *ret_len, bf_error *err)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return bf_error_set(err, bf_errno_class(errno), "stat %s: %s", name, strerror(errno));
        if (S_ISDIR(st.st_mode))
                return bf_error_set(err, EINVAL, "read %s: is a directory", name);
        if (!S_ISREG(st.st_mode))
                return bf_error_set(err, EINVAL, "read %s: not a regular file", name);
        if ((size_t) st.st_size > max)
                return bf_error_set(err, EFBIG, "read %s: larger than %zu bytes", name, max);
        size_t cap = (size_t) st.st_size + 1, len = 0;
        char *data = malloc(cap + 1);
        if (!data)
                return bf_error_set(err, ENOMEM, "out of memory");
        for (;;) {
                if (len == cap) {
                        if (cap > max) {
                                free(data);
                                return bf_error_set(err, EFBIG, "read %s: larger than %zu bytes", name, max);
                        }
                        cap *= 2;
                        char *n = realloc(data, cap + 1);
                        if (!n) {
                                free(data);
                                return bf_error_set(err, ENOMEM, "out of memory");
                        }
                        data = n;
                }
                ssize_t r = read(fd, data + len, cap - len);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        int e = errno;
                        free(data);
                        return bf_error_set(err, bf_errno_class(e), "read %s: %s", name, strerror(e));
                }
                if (r == 0)
                        break;
                len += (size_t) r;
        }
        if (len > max) {
                free(data);
                return bf_error_set(err, EFBIG, "read %s: larger than %zu bytes", name, max);
        }
        data[len] = '\0';
        *ret = data;
        *ret_len = len;
        return 0;
}

int fd_reopen_regular(int pathfd, const char *name, int *ret_fd, bf_error *err)
{
        struct stat st;
        if (fstat(pathfd, &st) < 0)
                return bf_error_set(err, bf_errno_class(errno), "stat %s: %s", name, strerror(errno));
        if (S_ISDIR(st.st_mode))
                return bf_error_set(err, EINVAL, "read %s: is a directory", name);
        /* Opening a device or FIFO can act (arm a watchdog, rewind a tape, block). */
        if (!S_ISREG(st.st_mode))
                return bf_error_set(err, EINVAL, "read %s: not a regular file", name);
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pathfd);
        int fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return bf_error_set(err, bf_errno_class(errno), "open %s: %s", name, strerror(errno));
        *ret_fd = fd;
        return 0;
}

static int read_file(struct render *r, const char *path, size_t max, char **ret, size_t *ret_len, bf_error *err)
{
        /* O_PATH first: only a regular file is ever opened for reading. */
        _cleanup_close_ int pathfd = open(path, O_PATH | O_CLOEXEC);
        if (pathfd < 0) {
                int e = errno;
                if (r) {
                        if (e == ENOENT)
                                deps_note_host(r, path, true, NULL);
                        else
                                deps_note_volatile(r);
                }
                return bf_error_set(err, bf_errno_class(e), "open %s: %s", path,
                                    e == ENOENT ? "no such file or directory" : strerror(e));
        }
        if (r) {
                /* stat before reading: a change after this is seen by a later check */
                struct stat st;
                if (fstat(pathfd, &st) < 0) {
                        int e = errno;
                        deps_note_volatile(r);
                        return bf_error_set(err, bf_errno_class(e), "stat %s: %s", path, strerror(e));
                }
                deps_note_host(r, path, true, &st);
        }
        _cleanup_close_ int fd = -1;
        int ret_code = fd_reopen_regular(pathfd, path, &fd, err);
        if (ret_code >= 0)
                ret_code = fd_read_all(fd, path, max, ret, ret_len, err);
        /* A failure the recorded stat does not explain (say EIO) must not be reused. */
        if (ret_code < 0 && r)
                deps_note_volatile(r);
        return ret_code;
}

int file_read_all(const char *path, size_t max, char **ret, size_t *ret_len, bf_error *err)
{
        return read_file(NULL, path, max, ret, ret_len, err);
}

int file_read_input(struct render *r, const char *path, size_t max, char **ret, size_t *ret_len)
{
        return read_file(r, path, max, ret, ret_len, r->err);
}

int json_parse_document(const char *data, size_t n, struct json_object **ret, bf_error *err)
{
        return json_parse_go(data, n, false, ret, err);
}

int scan_lines(arena *a, const char *data, size_t n, size_t max_line, span_slice *ret, bf_error *err)
{
        *ret = (span_slice){ 0 };
        size_t i = 0;
        while (i < n) {
                const char *nl = memchr(data + i, '\n', n - i);
                size_t end = nl ? (size_t) (nl - data) : n;
                size_t len = end - i;
                if (max_line && len >= max_line)
                        return bf_error_set(err, EINVAL, "bufio.Scanner: token too long");
                if (len && data[i + len - 1] == '\r')
                        len--;
                struct span *slot = slice_push(a, ret, sizeof(*slot));
                if (!slot)
                        return bf_error_set(err, ENOMEM, "out of memory");
                *slot = (struct span){ data + i, len };
                i = end + 1;
        }
        return 0;
}
