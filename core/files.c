#include "files.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static int errno_class(int e)
{
        switch (e) {
        case ENOENT:
        case ENOTDIR:
                return ENOENT;
        case ENOMEM:
                return ENOMEM;
        default:
                return EINVAL;
        }
}

int fd_read_all(int fd, const char *name, size_t max, char **ret, size_t *ret_len, bf_error *err)
{
        struct stat st;
        if (fstat(fd, &st) < 0)
                return bf_error_set(err, errno_class(errno), "stat %s: %s", name, strerror(errno));
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
                        return bf_error_set(err, errno_class(e), "read %s: %s", name, strerror(e));
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

int file_read_all(const char *path, size_t max, char **ret, size_t *ret_len, bf_error *err)
{
        /* O_NONBLOCK: a FIFO in place of a file must not hang the caller. */
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return bf_error_set(err, errno_class(errno), "open %s: %s", path,
                                    errno == ENOENT ? "no such file or directory" : strerror(errno));
        return fd_read_all(fd, path, max, ret, ret_len, err);
}

int json_parse_document(const char *data, size_t n, struct json_object **ret, bf_error *err)
{
        *ret = NULL;
        size_t start = strspn(data, " \t\r\n");
        if (start == n)
                return bf_error_set(err, EINVAL, "unexpected end of JSON input");
        if (n > (size_t) INT32_MAX)
                return bf_error_set(err, EFBIG, "JSON document too large");
        struct json_tokener *tok = json_tokener_new_ex(64);
        if (!tok)
                return bf_error_set(err, ENOMEM, "out of memory");
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        struct json_object *j = json_tokener_parse_ex(tok, data, (int) n);
        enum json_tokener_error e = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        /* A literal or number at the very end (`null`, `5`) is complete only
         * once json-c is told the input has ended. */
        if (e == json_tokener_continue && end == n) {
                j = json_tokener_parse_ex(tok, "", 1);
                e = json_tokener_get_error(tok);
                if (e != json_tokener_success)
                        e = json_tokener_continue;
        }
        json_tokener_free(tok);
        if (e == json_tokener_continue)
                return bf_error_set(err, EINVAL, "unexpected end of JSON input");
        if (e != json_tokener_success)
                return bf_error_set(err, EINVAL, "invalid JSON near byte %zu: %s", end + 1, json_tokener_error_desc(e));
        if (end + strspn(data + end, " \t\r\n") != n) {
                json_object_put(j);
                return bf_error_set(err, EINVAL, "invalid character after top-level value (byte %zu)", end + 1);
        }
        *ret = j;
        return 0;
}

int scan_lines(arena *a, const char *data, size_t n, size_t max_line, str_slice *ret, bf_error *err)
{
        *ret = (str_slice){ 0 };
        size_t i = 0;
        while (i < n) {
                const char *nl = memchr(data + i, '\n', n - i);
                size_t end = nl ? (size_t) (nl - data) : n;
                size_t len = end - i;
                if (max_line && len >= max_line)
                        return bf_error_set(err, EINVAL, "bufio.Scanner: token too long");
                if (len && data[i + len - 1] == '\r')
                        len--;
                const char **slot = slice_push(a, ret, sizeof(char *));
                if (!slot || !(*slot = arena_strndup(a, data + i, len)))
                        return bf_error_set(err, ENOMEM, "out of memory");
                i = end + 1;
        }
        return 0;
}
