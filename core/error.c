#include "error.h"

#include <stdio.h>
#include <string.h>

/* Messages are single lines: control characters would break the `error` file. */
static void flatten(char *s)
{
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 || *s == 0x7f)
                        *s = ' ';
}

int bf_error_setv(bf_error *err, int code, const char *fmt, va_list ap)
{
        if (code < 0)
                code = -code;
        if (err) {
                err->code = code;
                vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
                flatten(err->msg);
        }
        return -code;
}

int bf_error_set(bf_error *err, int code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        int r = bf_error_setv(err, code, fmt, ap);
        va_end(ap);
        return r;
}

int bf_error_oom(bf_error *err)
{
        return bf_error_set(err, ENOMEM, "out of memory");
}

int bf_error_prefix(bf_error *err, const char *fmt, ...)
{
        if (!err)
                return -EINVAL;
        char old[BF_ERROR_MAX];
        memcpy(old, err->msg, sizeof(old));
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t) n < sizeof(err->msg)) {
                size_t used = (size_t) n;
                size_t room = sizeof(err->msg) - used;
                /* "prefix: old", cut to the buffer */
                size_t oldlen = strnlen(old, sizeof(old));
                if (room > 2) {
                        memcpy(err->msg + used, ": ", 2);
                        used += 2;
                        room -= 2;
                        size_t take = oldlen < room - 1 ? oldlen : room - 1;
                        memcpy(err->msg + used, old, take);
                        used += take;
                }
                err->msg[used] = '\0';
        }
        flatten(err->msg);
        return -err->code;
}

void bf_error_clear(bf_error *err)
{
        if (err) {
                err->code = 0;
                err->msg[0] = '\0';
        }
}

bool bf_errno_system(int e)
{
        switch (e) {
        case ENOMEM:
        case EMFILE:
        case ENFILE:
        case EIO:
        case ENOSPC:
        case EDQUOT:
        case EAGAIN:
        case ENOBUFS:
                return true;
        default:
                return false;
        }
}

int bf_errno_class(int e)
{
        if (e == ENOENT || e == ENOTDIR)
                return ENOENT;
        return bf_errno_system(e) ? e : EINVAL;
}
