#include "goconv.h"

#include <string.h>

int64_t go_atoi(const char *s, size_t n, bool *ok)
{
        *ok = false;
        if (n == 0)
                return 0;
        bool neg = false;
        size_t i = 0;
        if (s[0] == '+' || s[0] == '-') {
                neg = s[0] == '-';
                i = 1;
                if (n == 1)
                        return 0;
        }
        uint64_t v = 0;
        bool overflow = false;
        for (; i < n; i++) {
                unsigned d = (unsigned char) s[i] - '0';
                if (d > 9)
                        return 0;
                /* strconv.ParseUint stops at the first digit that overflows:
                 * bytes after it are never looked at. */
                if (v > (UINT64_MAX - d) / 10) {
                        overflow = true;
                        break;
                }
                v = v * 10 + d;
        }
        if (!neg && (overflow || v > (uint64_t) INT64_MAX))
                return INT64_MAX;
        if (neg && (overflow || v > (uint64_t) INT64_MAX + 1))
                return INT64_MIN;
        *ok = true;
        return neg ? (int64_t) (0 - v) : (int64_t) v;
}

bool go_parse_uint(const char *s, size_t n, unsigned bits, uint64_t *ret)
{
        if (n == 0)
                return false;
        uint64_t max = bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++) {
                unsigned d = (unsigned char) s[i] - '0';
                if (d > 9)
                        return false;
                if (d > max || v > (max - d) / 10)
                        return false;
                v = v * 10 + d;
        }
        *ret = v;
        return true;
}

void go_path_clean(buf *b, const char *path)
{
        size_t start = b->len;
        size_t n = strlen(path);
        if (n == 0) {
                buf_putc(b, '.');
                return;
        }
        bool rooted = path[0] == '/';
        size_t r = 0;
        /* dotdot: position in the output that ".." may not back up past */
        size_t dotdot = 0;
        if (rooted) {
                buf_putc(b, '/');
                r = 1;
                dotdot = 1;
        }
        while (r < n) {
                if (path[r] == '/') {
                        r++;
                } else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/')) {
                        r++;
                } else if (path[r] == '.' && path[r + 1] == '.' && (r + 2 == n || path[r + 2] == '/')) {
                        r += 2;
                        size_t w = b->len - start;
                        if (w > dotdot) {
                                /* back up to the previous slash */
                                w--;
                                while (w > dotdot && b->p[start + w] != '/')
                                        w--;
                                b->len = start + w;
                        } else if (!rooted) {
                                if (w > 0)
                                        buf_putc(b, '/');
                                buf_put(b, "..", 2);
                                dotdot = b->len - start;
                        }
                } else {
                        size_t w = b->len - start;
                        if ((rooted && w != 1) || (!rooted && w != 0))
                                buf_putc(b, '/');
                        while (r < n && path[r] != '/')
                                buf_putc(b, path[r++]);
                }
        }
        if (b->len == start)
                buf_putc(b, '.');
        if (b->p)
                b->p[b->len] = '\0';
}

void go_path_join(buf *b, const char *const *elems, size_t n)
{
        buf tmp = { 0 };
        bool any = false;
        for (size_t i = 0; i < n; i++) {
                if (!elems[i] || !elems[i][0])
                        continue;
                if (any)
                        buf_putc(&tmp, '/');
                buf_puts(&tmp, elems[i]);
                any = true;
        }
        if (any)
                go_path_clean(b, tmp.p);
        else
                buf_put(b, "", 0);
        buf_free(&tmp);
}

/* unicode.IsSpace for the code point starting at s, returning its length. */
static size_t space_len(const unsigned char *s, size_t n)
{
        switch (s[0]) {
        case '\t': case '\n': case '\v': case '\f': case '\r': case ' ':
                return 1;
        }
        if (n >= 2 && s[0] == 0xc2 && (s[1] == 0x85 || s[1] == 0xa0))
                return 2;
        if (n >= 3 && s[0] == 0xe1 && s[1] == 0x9a && s[2] == 0x80)
                return 3;       /* U+1680 */
        if (n >= 3 && s[0] == 0xe2 && s[1] == 0x80 &&
            ((s[2] >= 0x80 && s[2] <= 0x8a) || s[2] == 0xa8 || s[2] == 0xa9 || s[2] == 0xaf))
                return 3;       /* U+2000..200A, 2028, 2029, 202F */
        if (n >= 3 && s[0] == 0xe2 && s[1] == 0x81 && s[2] == 0x9f)
                return 3;       /* U+205F */
        if (n >= 3 && s[0] == 0xe3 && s[1] == 0x80 && s[2] == 0x80)
                return 3;       /* U+3000 */
        return 0;
}

/* Length of a white-space code point ending at s[n-1], or 0. */
static size_t space_len_back(const unsigned char *s, size_t n)
{
        for (size_t l = 1; l <= 3 && l <= n; l++)
                if (space_len(s + n - l, l) == l)
                        return l;
        return 0;
}

void go_trim_space(const char **s, size_t *n)
{
        const unsigned char *p = (const unsigned char *) *s;
        size_t len = *n, l;
        while (len && (l = space_len(p, len))) {
                p += l;
                len -= l;
        }
        while (len && (l = space_len_back(p, len)))
                len -= l;
        *s = (const char *) p;
        *n = len;
}
