#include "utf8.h"

size_t utf8_seq_len(const unsigned char *s, size_t n)
{
        unsigned char c = s[0];
        if (c < 0x80)
                return 1;
        if (c < 0xc2)
                return 0;
        if (c < 0xe0)
                return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
        if (c < 0xf0) {
                if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
                        return 0;
                if (c == 0xe0 && s[1] < 0xa0)
                        return 0;       /* overlong */
                if (c == 0xed && s[1] >= 0xa0)
                        return 0;       /* surrogate */
                return 3;
        }
        if (c < 0xf5) {
                if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
                        return 0;
                if (c == 0xf0 && s[1] < 0x90)
                        return 0;       /* overlong */
                if (c == 0xf4 && s[1] >= 0x90)
                        return 0;       /* past U+10FFFF */
                return 4;
        }
        return 0;
}

bool utf8_valid(const char *s, size_t n)
{
        const unsigned char *p = (const unsigned char *) s, *end = p + n;
        while (p < end) {
                if (*p < 0x80) {
                        p++;
                        continue;
                }
                size_t l = utf8_seq_len(p, (size_t) (end - p));
                if (!l)
                        return false;
                p += l;
        }
        return true;
}

void utf8_sanitize(buf *b, const char *s, size_t n)
{
        const unsigned char *p = (const unsigned char *) s, *end = p + n;
        while (p < end) {
                size_t l = utf8_seq_len(p, (size_t) (end - p));
                if (l) {
                        buf_put(b, p, l);
                        p += l;
                } else {
                        buf_put(b, "\xef\xbf\xbd", 3);
                        p++;
                }
        }
        if (!b->p)
                buf_put(b, "", 0);
}

void nul_escape(buf *b, const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '\0') {
                        buf_put(b, "\xc0\x80", 2);
                } else if (s[i] == NUL_ESCAPE_BYTE) {
                        buf_put(b, "\xc0\xc0", 2);
                } else {
                        buf_putc(b, s[i]);
                }
        }
        if (!b->p)
                buf_put(b, "", 0);
}

void nul_unescape(buf *b, const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (s[i] == NUL_ESCAPE_BYTE && i + 1 < n && (s[i + 1] == '\x80' || s[i + 1] == NUL_ESCAPE_BYTE)) {
                        buf_putc(b, s[i + 1] == '\x80' ? '\0' : NUL_ESCAPE_BYTE);
                        i++;
                } else {
                        buf_putc(b, s[i]);
                }
        }
        if (!b->p)
                buf_put(b, "", 0);
}
