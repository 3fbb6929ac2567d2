#include "jsonparse.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

/* Does the decimal integer s[0..n) (optional '-') fit int64 or uint64? */
static bool integer_fits(const char *s, size_t n)
{
        bool neg = s[0] == '-';
        size_t digits = n - (neg ? 1 : 0);
        const char *d = s + (neg ? 1 : 0);
        const char *limit = neg ? "9223372036854775808" : "18446744073709551615";
        size_t ll = strlen(limit);
        if (digits != ll)
                return digits < ll;
        return memcmp(d, limit, ll) <= 0;
}

/* Check what lies outside strings and rewrite integers too large for 64 bits
 * as floating point ("…" becomes "….0"). */
static int check_outside_strings(const char *p, size_t n, buf *out, bool *rewritten, bf_error *err)
{
        size_t copied = 0;
        *rewritten = false;
        for (size_t i = 0; i < n;) {
                char c = p[i];
                if (c == '"') {
                        for (i++; i < n && p[i] != '"'; i++)
                                if (p[i] == '\\')
                                        i++;
                        i++;
                        continue;
                }
                if (c == '-' || is_digit(c)) {
                        size_t start = i;
                        bool integer = true;
                        if (p[i] == '-')
                                i++;
                        if (i >= n || !is_digit(p[i]))
                                return bf_error_set(err, EINVAL, "invalid character in numeric literal at byte %zu",
                                                    i + 1);
                        if (p[i] == '0' && i + 1 < n && is_digit(p[i + 1]))
                                return bf_error_set(err, EINVAL, "invalid character after leading zero at byte %zu",
                                                    i + 2);
                        while (i < n && is_digit(p[i]))
                                i++;
                        if (i < n && p[i] == '.') {
                                integer = false;
                                i++;
                                if (i >= n || !is_digit(p[i]))
                                        return bf_error_set(err, EINVAL,
                                                            "invalid character after decimal point at byte %zu", i + 1);
                                while (i < n && is_digit(p[i]))
                                        i++;
                        }
                        if (i < n && (p[i] == 'e' || p[i] == 'E')) {
                                integer = false;
                                i++;
                                if (i < n && (p[i] == '+' || p[i] == '-'))
                                        i++;
                                if (i >= n || !is_digit(p[i]))
                                        return bf_error_set(err, EINVAL, "invalid character in exponent at byte %zu",
                                                            i + 1);
                                while (i < n && is_digit(p[i]))
                                        i++;
                        }
                        if (integer && !integer_fits(p + start, i - start)) {
                                buf_put(out, p + copied, i - copied);
                                buf_put(out, ".0", 2);
                                copied = i;
                                *rewritten = true;
                        }
                        continue;
                }
                /* Outside strings and numbers only true, false and null are words. */
                if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) {
                        size_t start = i;
                        while (i < n && ((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z')))
                                i++;
                        size_t l = i - start;
                        if (!((l == 4 && !memcmp(p + start, "true", 4)) || (l == 5 && !memcmp(p + start, "false", 5)) ||
                              (l == 4 && !memcmp(p + start, "null", 4))))
                                return bf_error_set(err, EINVAL, "invalid character '%c' looking for a value at byte %zu",
                                                    c, start + 1);
                        continue;
                }
                i++;
        }
        if (*rewritten) {
                buf_put(out, p + copied, n - copied);
                if (out->oom)
                        return bf_error_oom(err);
        }
        return 0;
}

int json_parse_go(const char *data, size_t n, bool utf8_only, struct json_object **ret, bf_error *err)
{
        *ret = NULL;
        size_t start = 0;
        while (start < n && strchr(" \t\r\n", data[start]) && data[start])
                start++;
        if (start == n)
                return bf_error_set(err, EINVAL, "unexpected end of JSON input");
        if (n > (size_t) INT32_MAX)
                return bf_error_set(err, EFBIG, "JSON document too large");
        buf rewritten = { 0 };
        bool was_rewritten;
        int r = check_outside_strings(data, n, &rewritten, &was_rewritten, err);
        if (r < 0) {
                buf_free(&rewritten);
                return r;
        }
        if (was_rewritten) {
                data = rewritten.p;
                n = rewritten.len;
        }
        struct json_tokener *tok = json_tokener_new_ex(JSON_DEPTH_MAX);
        if (!tok) {
                buf_free(&rewritten);
                return bf_error_oom(err);
        }
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | (utf8_only ? JSON_TOKENER_VALIDATE_UTF8 : 0));
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
                r = bf_error_set(err, EINVAL, "unexpected end of JSON input");
        else if (e != json_tokener_success)
                r = bf_error_set(err, EINVAL, "invalid JSON near byte %zu: %s", end + 1, json_tokener_error_desc(e));
        else {
                while (end < n && strchr(" \t\r\n", data[end]) && data[end])
                        end++;
                if (end != n) {
                        json_object_put(j);
                        r = bf_error_set(err, EINVAL, "invalid character after top-level value (byte %zu)", end + 1);
                } else {
                        *ret = j;
                }
        }
        buf_free(&rewritten);
        return r;
}
