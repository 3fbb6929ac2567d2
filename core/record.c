#include "record.h"

#include <string.h>
#include <zlib.h>

#define RECORD_HEADER_MAX 64

void record_put_hex8(char *at, uint32_t v)
{
        static const char digits[] = "0123456789abcdef";
        for (int i = 7; i >= 0; i--, v >>= 4)
                at[i] = digits[v & 0xf];
}

/* "<type> <length> <crc32>\n", formatted by hand: it is on the path of every
 * write, where printf's format parsing cost more than the rest of the
 * record. */
void record_header_put(buf *out, char type, size_t len, uint32_t crc)
{
        char h[RECORD_HEADER_MAX], digits[24];
        size_t nd = 0, n = 0;
        do {
                digits[nd++] = (char) ('0' + len % 10);
                len /= 10;
        } while (len);
        h[n++] = type;
        h[n++] = ' ';
        while (nd)
                h[n++] = digits[--nd];
        h[n++] = ' ';
        record_put_hex8(h + n, crc);
        n += 8;
        h[n++] = '\n';
        buf_put(out, h, n);
}

/* A record's header and the payload, in out. */
void record_build(buf *out, char type, const char *p1, size_t n1, const char *p2, size_t n2)
{
        uint32_t crc = (uint32_t) crc32(0, (const Bytef *) p1, (uInt) n1);
        if (n2)
                crc = (uint32_t) crc32(crc, (const Bytef *) p2, (uInt) n2);
        record_header_put(out, type, n1 + n2, crc);
        buf_put(out, p1, n1);
        if (n2)
                buf_put(out, p2, n2);
}

/* The numbers in record headers are parsed within the header: never with
 * sscanf, which measures the whole rest of the buffer (a log or the journal,
 * megabytes) with strlen at every call. */

/* Decimal digits at [p, end) into *ret; where they stop, or NULL (no digit,
 * or past SIZE_MAX). */
const char *record_parse_size(const char *p, const char *end, size_t *ret)
{
        const char *start = p;
        size_t v = 0;
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
                size_t d = (size_t) (*p - '0');
                if (v > (SIZE_MAX - d) / 10)
                        return NULL;
                v = v * 10 + d;
        }
        if (p == start)
                return NULL;
        *ret = v;
        return p;
}

/* Exactly `digits` lower-case hex digits at [p, end) into *ret. */
const char *record_parse_hex(const char *p, const char *end, size_t digits, uint64_t *ret)
{
        if ((size_t) (end - p) < digits)
                return NULL;
        uint64_t v = 0;
        for (size_t i = 0; i < digits; i++, p++) {
                unsigned d;
                if (*p >= '0' && *p <= '9')
                        d = (unsigned) (*p - '0');
                else if (*p >= 'a' && *p <= 'f')
                        d = (unsigned) (*p - 'a' + 10);
                else
                        return NULL;
                v = v << 4 | d;
        }
        *ret = v;
        return p;
}

/* The header of the record at data[pos..n), without checking its CRC. */
bool record_header(const char *data, size_t n, size_t pos, struct record *ret)
{
        const char *p = data + pos;
        const char *nl = memchr(p, '\n', n - pos < RECORD_HEADER_MAX ? n - pos : RECORD_HEADER_MAX);
        if (!nl || nl - p < 2 || p[1] != ' ')
                return false;
        size_t len;
        uint64_t crc;
        const char *q = record_parse_size(p + 2, nl, &len);
        if (!q || q == nl || *q != ' ' || record_parse_hex(q + 1, nl, 8, &crc) != nl)
                return false;
        size_t body = (size_t) (nl - data) + 1;
        if (len > n - body)
                return false;
        *ret = (struct record){
                .type = p[0],
                .payload = data + body,
                .len = len,
                .next = body + len,
                .crc_at = (size_t) (q + 1 - data),
        };
        return true;
}

/* Parse the record at data[pos..n), its CRC seeded with seed (the journal's
 * epoch; 0 in logs). False for a torn, damaged or foreign record. */
bool record_parse(const char *data, size_t n, size_t pos, uint32_t seed, struct record *ret)
{
        if (!record_header(data, n, pos, ret))
                return false;
        uint64_t crc = 0;
        record_parse_hex(data + ret->crc_at, data + n, 8, &crc);
        return (uint32_t) crc32(seed, (const Bytef *) ret->payload, (uInt) ret->len) == (uint32_t) crc;
}
