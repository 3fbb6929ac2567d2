#include "model.h"

#include <json-c/json.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"
#include "util.h"

char slice_empty[16] __attribute__((aligned(16)));

const struct type type_string = { .kind = T_STRING, .name = "string", .size = sizeof(char *) };
const struct type type_bool = { .kind = T_BOOL, .name = "bool", .size = sizeof(bool) };
const struct type type_u16 = { .kind = T_U16, .name = "uint16", .size = sizeof(uint16_t) };
const struct type type_u32 = { .kind = T_U32, .name = "uint32", .size = sizeof(uint32_t) };
const struct type type_u64 = { .kind = T_U64, .name = "uint64", .size = sizeof(uint64_t) };
const struct type type_i64 = { .kind = T_I64, .name = "int64", .size = sizeof(int64_t) };
const struct type type_int = { .kind = T_I64, .name = "int", .size = sizeof(int64_t) };
const struct type type_uint = { .kind = T_U64, .name = "uint", .size = sizeof(uint64_t) };
const struct type type_filemode = { .kind = T_U32, .name = "fs.FileMode", .size = sizeof(uint32_t) };
const struct type type_any = { .kind = T_ANY, .name = "interface {}", .size = sizeof(char *) };
const struct type type_time = { .kind = T_TIME, .name = "time.Time", .size = sizeof(char *) };

/* ---- slices and maps ---------------------------------------------------- */

void *slice_push(arena *a, void *slice, size_t elem_size)
{
        struct slice *s = slice;
        if (s->len == s->cap || s->v == slice_empty) {
                size_t cap = s->cap && s->v != slice_empty ? s->cap * 2 : 4;
                if (cap < s->len + 1)
                        cap = s->len + 1;
                char *v = arena_alloc(a, cap * elem_size);
                if (!v)
                        return NULL;
                if (s->len)
                        memcpy(v, s->v, s->len * elem_size);
                s->v = v;
                s->cap = cap;
        }
        void *slot = (char *) s->v + s->len * elem_size;
        memset(slot, 0, elem_size);
        s->len++;
        return slot;
}

void slice_make_empty(void *slice)
{
        struct slice *s = slice;
        s->v = slice_empty;
        s->len = s->cap = 0;
}

int slice_set(arena *a, void *slice, const void *items, size_t n, size_t elem_size)
{
        struct slice *s = slice;
        if (n == 0) {
                slice_make_empty(s);
                return 0;
        }
        void *v = arena_alloc(a, n * elem_size);
        if (!v)
                return -ENOMEM;
        memcpy(v, items, n * elem_size);
        s->v = v;
        s->len = s->cap = n;
        return 0;
}

void slice_remove(void *slice, size_t i, size_t elem_size)
{
        struct slice *s = slice;
        char *base = s->v;
        memmove(base + i * elem_size, base + (i + 1) * elem_size, (s->len - i - 1) * elem_size);
        s->len--;
}

static const char *entry_key(const void *entry)
{
        return *(const char *const *) entry;
}

/* Binary search; returns the index of key or where it would go. */
static size_t map_find(const struct type *t, const struct slice *m, const char *key, bool *found)
{
        size_t lo = 0, hi = m->len;
        *found = false;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(entry_key((char *) m->v + mid * t->entry_size), key);
                if (c == 0) {
                        *found = true;
                        return mid;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
}

void *map_get(const struct type *t, const void *map, const char *key)
{
        const struct slice *m = map;
        bool found;
        size_t i = map_find(t, m, key, &found);
        return found ? (char *) m->v + i * t->entry_size + MAP_VALUE_OFFSET : NULL;
}

void *map_put(arena *a, const struct type *t, void *map, const char *key)
{
        struct slice *m = map;
        bool found;
        size_t i = map_find(t, m, key, &found);
        if (found) {
                char *e = (char *) m->v + i * t->entry_size;
                memset(e + MAP_VALUE_OFFSET, 0, t->entry_size - MAP_VALUE_OFFSET);
                return e + MAP_VALUE_OFFSET;
        }
        if (!slice_push(a, m, t->entry_size))
                return NULL;
        char *base = m->v;
        memmove(base + (i + 1) * t->entry_size, base + i * t->entry_size, (m->len - 1 - i) * t->entry_size);
        char *e = base + i * t->entry_size;
        memset(e, 0, t->entry_size);
        *(const char **) e = key;
        return e + MAP_VALUE_OFFSET;
}

struct put_order {
        const char *entries;
        size_t entry_size;
};

static int put_order_cmp(const void *a, const void *b, void *arg)
{
        const struct put_order *o = arg;
        size_t i = *(const size_t *) a, j = *(const size_t *) b;
        int c = strcmp(entry_key(o->entries + i * o->entry_size), entry_key(o->entries + j * o->entry_size));
        return c ? c : i < j ? -1 : i > j;
}

int map_put_all(arena *a, const struct type *t, void *map, const void *entries, size_t n)
{
        struct slice *m = map;
        size_t es = t->entry_size;
        const char *in = entries;
        if (n == 0)
                return 0;
        size_t *order = malloc(n * sizeof(*order));
        if (!order)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                order[i] = i;
        struct put_order o = { in, es };
        qsort_r(order, n, sizeof(*order), put_order_cmp, &o);
        /* one entry per key, the last given */
        size_t u = 0;
        for (size_t i = 0; i < n; i++) {
                if (u && streq(entry_key(in + order[u - 1] * es), entry_key(in + order[i] * es)))
                        order[u - 1] = order[i];
                else
                        order[u++] = order[i];
        }
        size_t same = 0;
        for (size_t i = 0, j = 0; i < m->len && j < u;) {
                int c = strcmp(entry_key((char *) m->v + i * es), entry_key(in + order[j] * es));
                i += c <= 0;
                j += c >= 0;
                same += c == 0;
        }
        size_t total = m->len + u - same;
        if (!m->v || m->v == slice_empty || total > m->cap) {
                size_t cap = total > 2 * m->cap ? total : 2 * m->cap;
                char *v = arena_alloc(a, cap * es);
                if (!v) {
                        free(order);
                        return -ENOMEM;
                }
                if (m->len)
                        memcpy(v, m->v, m->len * es);
                m->v = v;
                m->cap = cap;
        }
        /* merge from the back, in place */
        char *v = m->v;
        size_t i = m->len, j = u, w = total;
        while (j > 0) {
                const char *next = in + order[j - 1] * es;
                int c = i > 0 ? strcmp(entry_key(v + (i - 1) * es), entry_key(next)) : -1;
                if (c > 0) {
                        memmove(v + --w * es, v + --i * es, es);
                } else {
                        memcpy(v + --w * es, next, es);
                        i -= c == 0;
                        j--;
                }
        }
        m->len = total;
        free(order);
        return 0;
}

/* ---- decoding ----------------------------------------------------------- */

struct decode {
        arena *a;
        bf_error *err;
        const char *struct_name;    /* innermost Go struct, for messages */
        char path[512];             /* JSON keys from the top, joined by '.' */
};

static const char *json_kind(struct json_object *j)
{
        switch (json_object_get_type(j)) {
        case json_type_string: return "string";
        case json_type_boolean: return "bool";
        case json_type_int:
        case json_type_double: return "number";
        case json_type_array: return "array";
        case json_type_object: return "object";
        default: return "null";
        }
}

static int type_error(struct decode *d, const char *what, const struct type *t)
{
        if (d->struct_name && d->path[0])
                return bf_error_set(d->err, EINVAL, "json: cannot unmarshal %s into Go struct field %s.%s of type %s",
                                    what, d->struct_name, d->path, t->name);
        return bf_error_set(d->err, EINVAL, "json: cannot unmarshal %s into Go value of type %s", what, t->name);
}

static int number_error(struct decode *d, struct json_object *j, const struct type *t)
{
        char what[96];
        snprintf(what, sizeof(what), "number %s", json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
        return type_error(d, what, t);
}

/* Go's case folding for struct keys: ASCII letters, plus the Kelvin sign
 * (U+212A) matching k and the long s (U+017F) matching s. */
static bool key_equal_fold(const char *name, const char *key)
{
        while (*name) {
                unsigned char n = (unsigned char) *name, k = (unsigned char) *key;
                char ln = (char) (n >= 'A' && n <= 'Z' ? n + 32 : n);
                if (ln == 'k' && k == 0xe2 && (unsigned char) key[1] == 0x84 && (unsigned char) key[2] == 0xaa) {
                        name++, key += 3;
                        continue;
                }
                if (ln == 's' && k == 0xc5 && (unsigned char) key[1] == 0xbf) {
                        name++, key += 2;
                        continue;
                }
                char lk = (char) (k >= 'A' && k <= 'Z' ? k + 32 : k);
                if (ln != lk)
                        return false;
                name++, key++;
        }
        return *key == '\0';
}

static const struct field *find_field(const struct type *t, const char *key)
{
        const struct field *fold = NULL;
        for (uint32_t i = 0; i < t->nfields; i++) {
                if (strcmp(t->fields[i].name, key) == 0)
                        return &t->fields[i];
                if (!fold && key_equal_fold(t->fields[i].name, key))
                        fold = &t->fields[i];
        }
        return fold;
}

/* Strings keep Go's view: invalid UTF-8 becomes U+FFFD. NUL bytes cannot
 * reach a runtime through C strings, so they are refused. */
static int decode_string(struct decode *d, struct json_object *j, const char **dst)
{
        const char *s = json_object_get_string(j);
        size_t n = (size_t) json_object_get_string_len(j);
        if (memchr(s, '\0', n))
                return bf_error_set(d->err, EINVAL, "json: string %s%s%s contains a NUL character",
                                    d->path[0] ? "at " : "", d->path, "");
        if (utf8_valid(s, n)) {
                *dst = arena_strndup(d->a, s, n);
        } else {
                buf b = { 0 };
                utf8_sanitize(&b, s, n);
                *dst = b.oom ? NULL : arena_strndup(d->a, b.p, b.len);
                buf_free(&b);
        }
        return *dst ? 0 : bf_error_set(d->err, ENOMEM, "out of memory");
}

static int decode_uint(struct decode *d, struct json_object *j, const struct type *t, uint64_t max, uint64_t *ret)
{
        if (json_object_get_type(j) == json_type_double)
                return number_error(d, j, t);
        if (json_object_get_type(j) != json_type_int)
                return type_error(d, json_kind(j), t);
        int64_t v = json_object_get_int64(j);
        if (v < 0)
                return number_error(d, j, t);
        uint64_t u = v == INT64_MAX ? json_object_get_uint64(j) : (uint64_t) v;
        if (u > max)
                return number_error(d, j, t);
        *ret = u;
        return 0;
}

static int decode_int(struct decode *d, struct json_object *j, const struct type *t, int64_t *ret)
{
        if (json_object_get_type(j) == json_type_double)
                return number_error(d, j, t);
        if (json_object_get_type(j) != json_type_int)
                return type_error(d, json_kind(j), t);
        int64_t v = json_object_get_int64(j);
        if (v == INT64_MAX && json_object_get_uint64(j) > (uint64_t) INT64_MAX)
                return number_error(d, j, t);
        *ret = v;
        return 0;
}

static void encode_any(buf *b, struct json_object *j);

/* What numbers in an interface{} decode to; named in messages only. */
static const struct type type_float64 = { .kind = T_ANY, .name = "float64", .size = sizeof(double) };

/* A number in j (at any depth) that float64 cannot hold, or NULL. Go reads
 * every number of an interface{} with strconv.ParseFloat, which refuses one
 * past the largest float64 (and reads one too small as 0). */
static struct json_object *float_overflow(struct json_object *j)
{
        switch (json_object_get_type(j)) {
        case json_type_double:
                return isfinite(json_object_get_double(j)) ? NULL : j;
        case json_type_array: {
                size_t n = json_object_array_length(j);
                for (size_t i = 0; i < n; i++) {
                        struct json_object *bad = float_overflow(json_object_array_get_idx(j, i));
                        if (bad)
                                return bad;
                }
                return NULL;
        }
        case json_type_object: {
                json_object_object_foreach(j, key, val) {
                        (void) key;
                        struct json_object *bad = float_overflow(val);
                        if (bad)
                                return bad;
                }
                return NULL;
        }
        default:
                return NULL;
        }
}

static bool is_digit(char c)
{
        return c >= '0' && c <= '9';
}

static int parse_digits(const char *s, size_t n, int lo, int hi, bool *ok)
{
        int v = 0;
        for (size_t i = 0; i < n; i++) {
                if (!is_digit(s[i])) {
                        *ok = false;
                        return 0;
                }
                v = v * 10 + (s[i] - '0');
        }
        if (v < lo || v > hi)
                *ok = false;
        return v;
}

static int days_in(int month, int year)
{
        static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
                return 29;
        return days[(month - 1) % 12];
}

/* RFC 3339 as time.Time's JSON decoding accepts it. */
static bool rfc3339_valid(const char *s)
{
        size_t n = strlen(s);
        if (n < 19)
                return false;
        bool ok = true;
        int year = parse_digits(s, 4, 0, 9999, &ok);
        int month = parse_digits(s + 5, 2, 1, 12, &ok);
        if (!ok)
                return false;
        parse_digits(s + 8, 2, 1, days_in(month, year), &ok);
        parse_digits(s + 11, 2, 0, 23, &ok);
        parse_digits(s + 14, 2, 0, 59, &ok);
        parse_digits(s + 17, 2, 0, 59, &ok);
        if (!ok || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
                return false;
        s += 19;
        if (s[0] == '.' && is_digit(s[1])) {
                s++;
                while (is_digit(*s))
                        s++;
        }
        if (s[0] == 'Z' && s[1] == '\0')
                return true;
        if (strlen(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':')
                return false;
        parse_digits(s + 1, 2, 0, 23, &ok);
        parse_digits(s + 4, 2, 0, 59, &ok);
        return ok;
}

static int decode_value(struct decode *d, const struct type *t, void *dst, struct json_object *j);

static int decode_struct(struct decode *d, const struct type *t, void *dst, struct json_object *j)
{
        if (json_object_get_type(j) != json_type_object)
                return type_error(d, json_kind(j), t);
        const char *saved_struct = d->struct_name;
        size_t saved_len = strlen(d->path);
        json_object_object_foreach(j, key, val) {
                const struct field *f = find_field(t, key);
                if (!f)
                        continue;
                if (saved_len + 1 + strlen(f->name) < sizeof(d->path)) {
                        if (saved_len)
                                d->path[saved_len] = '.';
                        strcpy(d->path + saved_len + (saved_len ? 1 : 0), f->name);
                }
                d->struct_name = t->name + (strchr(t->name, '.') ? strchr(t->name, '.') - t->name + 1 : 0);
                int r = decode_value(d, f->type, (char *) dst + f->offset, val);
                d->path[saved_len] = '\0';
                d->struct_name = saved_struct;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A map of few keys is filled key by key; a larger one is decoded in
 * document order and put in all at once (map_put_all). */
#define MAP_PUT_ONE_BY_ONE_MAX 16

static const char *decode_map_key(struct decode *d, const char *key)
{
        /* keys are strings too: invalid UTF-8 becomes U+FFFD before they
         * are sorted, as in Go */
        size_t kl = strlen(key);
        if (utf8_valid(key, kl))
                return arena_strndup(d->a, key, kl);
        buf clean = { 0 };
        utf8_sanitize(&clean, key, kl);
        const char *k = clean.oom ? NULL : arena_strndup(d->a, clean.p, clean.len);
        buf_free(&clean);
        return k;
}

static int decode_map_all(struct decode *d, const struct type *t, struct slice *m, struct json_object *j)
{
        size_t n = (size_t) json_object_object_length(j), es = t->entry_size, i = 0;
        char *entries = calloc(n, es);
        if (!entries)
                return bf_error_set(d->err, ENOMEM, "out of memory");
        int r = 0;
        json_object_object_foreach(j, key, val) {
                char *e = entries + i++ * es;
                const char *k = decode_map_key(d, key);
                if (!k) {
                        r = bf_error_set(d->err, ENOMEM, "out of memory");
                        break;
                }
                *(const char **) e = k;
                if ((r = decode_value(d, t->elem, e + MAP_VALUE_OFFSET, val)) < 0)
                        break;
        }
        if (r == 0 && map_put_all(d->a, t, m, entries, n) < 0)
                r = bf_error_set(d->err, ENOMEM, "out of memory");
        free(entries);
        return r;
}

static int decode_value(struct decode *d, const struct type *t, void *dst, struct json_object *j)
{
        /* null clears what can be nil and leaves everything else alone: a
         * string keeps its value, or is the zero value "" (never NULL, so a
         * slice or map of strings holds no NULL: ["a", null] is ["a", ""]). */
        if (!j || json_object_get_type(j) == json_type_null) {
                switch (t->kind) {
                case T_PTR:
                case T_ANY:
                        *(void **) dst = NULL;
                        break;
                case T_SLICE:
                case T_MAP:
                        memset(dst, 0, sizeof(struct slice));
                        break;
                case T_STRING:
                        if (!*(const char **) dst)
                                *(const char **) dst = "";
                        break;
                default:
                        break;
                }
                return 0;
        }

        switch (t->kind) {
        case T_STRING:
                if (json_object_get_type(j) != json_type_string)
                        return type_error(d, json_kind(j), t);
                return decode_string(d, j, (const char **) dst);
        case T_BOOL:
                if (json_object_get_type(j) != json_type_boolean)
                        return type_error(d, json_kind(j), t);
                *(bool *) dst = json_object_get_boolean(j);
                return 0;
        case T_U16: {
                uint64_t v;
                int r = decode_uint(d, j, t, UINT16_MAX, &v);
                if (r == 0)
                        *(uint16_t *) dst = (uint16_t) v;
                return r;
        }
        case T_U32: {
                uint64_t v;
                int r = decode_uint(d, j, t, UINT32_MAX, &v);
                if (r == 0)
                        *(uint32_t *) dst = (uint32_t) v;
                return r;
        }
        case T_U64:
                return decode_uint(d, j, t, UINT64_MAX, (uint64_t *) dst);
        case T_I64:
                return decode_int(d, j, t, (int64_t *) dst);
        case T_ANY: {
                struct json_object *bad = float_overflow(j);
                if (bad)
                        return number_error(d, bad, &type_float64);
                buf b = { 0 };
                encode_any(&b, j);
                if (b.oom) {
                        buf_free(&b);
                        return bf_error_set(d->err, ENOMEM, "out of memory");
                }
                *(const char **) dst = arena_strndup(d->a, b.p, b.len);
                buf_free(&b);
                return *(const char **) dst ? 0 : bf_error_set(d->err, ENOMEM, "out of memory");
        }
        case T_TIME: {
                if (json_object_get_type(j) != json_type_string)
                        return bf_error_set(d->err, EINVAL, "Time.UnmarshalJSON: input is not a JSON string");
                int r = decode_string(d, j, (const char **) dst);
                if (r < 0)
                        return r;
                if (!rfc3339_valid(*(const char **) dst))
                        return bf_error_set(d->err, EINVAL, "parsing time \"%s\" as RFC 3339: cannot parse",
                                            *(const char **) dst);
                return 0;
        }
        case T_STRUCT:
                return decode_struct(d, t, dst, j);
        case T_PTR: {
                void **p = dst;
                if (!*p) {
                        *p = arena_alloc(d->a, t->elem->size);
                        if (!*p)
                                return bf_error_set(d->err, ENOMEM, "out of memory");
                }
                return decode_value(d, t->elem, *p, j);
        }
        case T_SLICE: {
                if (json_object_get_type(j) != json_type_array)
                        return type_error(d, json_kind(j), t);
                struct slice *s = dst;
                size_t n = json_object_array_length(j);
                if (n == 0) {
                        slice_make_empty(s);
                        return 0;
                }
                s->v = arena_alloc(d->a, n * t->elem->size);
                if (!s->v)
                        return bf_error_set(d->err, ENOMEM, "out of memory");
                s->len = s->cap = n;
                for (size_t i = 0; i < n; i++) {
                        int r = decode_value(d, t->elem, (char *) s->v + i * t->elem->size,
                                             json_object_array_get_idx(j, i));
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        case T_MAP: {
                if (json_object_get_type(j) != json_type_object)
                        return type_error(d, json_kind(j), t);
                struct slice *m = dst;
                if (!m->v)
                        slice_make_empty(m);
                if (json_object_object_length(j) > MAP_PUT_ONE_BY_ONE_MAX)
                        return decode_map_all(d, t, m, j);
                json_object_object_foreach(j, key, val) {
                        const char *k = decode_map_key(d, key);
                        void *slot = k ? map_put(d->a, t, m, k) : NULL;
                        if (!slot)
                                return bf_error_set(d->err, ENOMEM, "out of memory");
                        int r = decode_value(d, t->elem, slot, val);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        }
        return bf_error_set(d->err, EINVAL, "json: unsupported type %s", t->name);
}

int model_decode(arena *a, const struct type *t, void *dst, struct json_object *j, bf_error *err)
{
        struct decode d = { .a = a, .err = err };
        return decode_value(&d, t, dst, j);
}

/* ---- encoding ----------------------------------------------------------- */

void json_put_string(buf *b, const char *s)
{
        if (!s)
                s = "";
        /* The common case, a string that needs no escaping, is copied as it is
         * scanned, eight bytes at a time: control bytes, quotes and
         * backslashes send it to json-c, non-ASCII bytes to a UTF-8 check. */
        const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
        size_t n = strlen(s);
        if (b->cap - b->len < n + 3 && !buf_grow(b, n + 3))
                return;
        char *w = b->p + b->len + 1;
        uint64_t special = 0, high = 0;
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
                uint64_t x;
                memcpy(&x, s + i, 8);
                memcpy(w + i, &x, 8);
                uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
                special |= ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs);
                high |= x;
        }
        for (; i < n; i++) {
                unsigned char c = (unsigned char) s[i];
                w[i] = (char) c;
                special |= c < 0x20 || c == '"' || c == '\\' ? 0x80 : 0;
                high |= c;
        }
        if (!(special & highs) && (!(high & highs) || utf8_valid(s, n))) {
                w[-1] = '"';
                w[n] = '"';
                w[n + 1] = '\0';
                b->len += n + 2;
                return;
        }
        /* The bytes an escaped NUL stands for (utf8.h); Go writes invalid
         * UTF-8 as U+FFFD; json-c does the escaping, "\u0000" included. */
        buf raw = { 0 }, clean = { 0 };
        size_t len = strlen(s);
        if (memchr(s, NUL_ESCAPE_BYTE, len)) {
                nul_unescape(&raw, s, len);
                s = raw.p;
                len = raw.len;
        }
        if (!raw.oom && !utf8_valid(s, len)) {
                utf8_sanitize(&clean, s, len);
                s = clean.p;
                len = clean.len;
        }
        struct json_object *j = raw.oom || clean.oom ? NULL : json_object_new_string_len(s, (int) len);
        if (!j) {
                b->oom = true;
                buf_free(&raw);
                buf_free(&clean);
                return;
        }
        buf_puts(b, json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(j);
        buf_free(&raw);
        buf_free(&clean);
}

void json_put_go_float(buf *b, double f)
{
        if (!isfinite(f)) {
                buf_puts(b, "null");
                return;
        }
        if (f == 0) {
                buf_puts(b, signbit(f) ? "-0" : "0");
                return;
        }
        /* Shortest digits that read back as f, as strconv's -1 precision. */
        char e[40];
        int prec;
        for (prec = 1; prec <= 17; prec++) {
                snprintf(e, sizeof(e), "%.*e", prec - 1, f);
                if (strtod(e, NULL) == f)
                        break;
        }
        char *ep = strchr(e, 'e');
        int exp10 = atoi(ep + 1);
        char digits[24];
        size_t nd = 0;
        for (char *p = e; p < ep; p++)
                if (is_digit(*p))
                        digits[nd++] = *p;
        bool neg = f < 0;
        double mag = fabs(f);
        if (mag < 1e-6 || mag >= 1e21) {
                /* d.ddde±XX with at least two exponent digits cleaned to Go's form */
                if (neg)
                        buf_putc(b, '-');
                buf_putc(b, digits[0]);
                if (nd > 1) {
                        buf_putc(b, '.');
                        buf_put(b, digits + 1, nd - 1);
                }
                buf_printf(b, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
                /* Go turns e-07 into e-7 (only for negative exponents). */
                if (exp10 < 0 && exp10 > -10) {
                        b->p[b->len - 2] = b->p[b->len - 1];
                        b->len--;
                        b->p[b->len] = '\0';
                }
                return;
        }
        if (neg)
                buf_putc(b, '-');
        if (exp10 < 0) {
                buf_puts(b, "0.");
                for (int i = -1; i > exp10; i--)
                        buf_putc(b, '0');
                buf_put(b, digits, nd);
        } else if ((size_t) exp10 + 1 >= nd) {
                buf_put(b, digits, nd);
                for (size_t i = nd; i < (size_t) exp10 + 1; i++)
                        buf_putc(b, '0');
        } else {
                buf_put(b, digits, (size_t) exp10 + 1);
                buf_putc(b, '.');
                buf_put(b, digits + exp10 + 1, nd - (size_t) exp10 - 1);
        }
}

struct kv {
        const char *key;
        struct json_object *val;
};

static int kv_cmp(const void *a, const void *b)
{
        return strcmp(((const struct kv *) a)->key, ((const struct kv *) b)->key);
}

static void put_sanitized_string(buf *b, const char *s, size_t n)
{
        if (utf8_valid(s, n)) {
                json_put_string(b, s);
                return;
        }
        buf tmp = { 0 };
        utf8_sanitize(&tmp, s, n);
        json_put_string(b, tmp.p ? tmp.p : "");
        buf_free(&tmp);
}

/* interface{} values as Go re-encodes them: sorted keys, numbers as float64. */
static void encode_any(buf *b, struct json_object *j)
{
        switch (json_object_get_type(j)) {
        case json_type_null:
                buf_puts(b, "null");
                return;
        case json_type_boolean:
                buf_puts(b, json_object_get_boolean(j) ? "true" : "false");
                return;
        case json_type_int: {
                int64_t v = json_object_get_int64(j);
                double f = v == INT64_MAX ? (double) json_object_get_uint64(j) : (double) v;
                json_put_go_float(b, f);
                return;
        }
        case json_type_double:
                json_put_go_float(b, json_object_get_double(j));
                return;
        case json_type_string:
                put_sanitized_string(b, json_object_get_string(j), (size_t) json_object_get_string_len(j));
                return;
        case json_type_array: {
                buf_putc(b, '[');
                size_t n = json_object_array_length(j);
                for (size_t i = 0; i < n; i++) {
                        if (i)
                                buf_putc(b, ',');
                        encode_any(b, json_object_array_get_idx(j, i));
                }
                buf_putc(b, ']');
                return;
        }
        case json_type_object: {
                size_t n = (size_t) json_object_object_length(j), i = 0;
                struct kv *items = n ? calloc(n, sizeof(*items)) : NULL;
                if (n && !items) {
                        b->oom = true;
                        return;
                }
                /* Go decodes keys (invalid UTF-8 becoming U+FFFD), then sorts them */
                buf keys = { 0 };
                size_t *offsets = n ? calloc(n, sizeof(*offsets)) : NULL;
                if (n && !offsets) {
                        free(items);
                        b->oom = true;
                        return;
                }
                json_object_object_foreach(j, key, val) {
                        offsets[i] = keys.len;
                        utf8_sanitize(&keys, key, strlen(key));
                        buf_putc(&keys, '\0');
                        items[i].val = val;
                        i++;
                }
                if (n && keys.oom) {
                        b->oom = true;
                        n = 0;
                }
                for (i = 0; i < n; i++)
                        items[i].key = keys.p + offsets[i];
                if (n)  /* qsort(NULL, 0, ...) is undefined */
                        qsort(items, n, sizeof(*items), kv_cmp);
                buf_putc(b, '{');
                for (i = 0; i < n; i++) {
                        if (i)
                                buf_putc(b, ',');
                        json_put_string(b, items[i].key);
                        buf_putc(b, ':');
                        encode_any(b, items[i].val);
                }
                buf_putc(b, '}');
                free(offsets);
                buf_free(&keys);
                free(items);
                return;
        }
        }
}

static bool is_empty(const struct type *t, const void *v)
{
        switch (t->kind) {
        case T_STRING:
        case T_ANY:
        case T_TIME: {
                const char *s = *(const char *const *) v;
                return t->kind == T_STRING ? (!s || !*s) : !s;
        }
        case T_BOOL: return !*(const bool *) v;
        case T_U16: return !*(const uint16_t *) v;
        case T_U32: return !*(const uint32_t *) v;
        case T_U64: return !*(const uint64_t *) v;
        case T_I64: return !*(const int64_t *) v;
        case T_PTR: return !*(void *const *) v;
        case T_SLICE:
        case T_MAP: return ((const struct slice *) v)->len == 0;
        case T_STRUCT: return false;
        }
        return false;
}

void model_encode(buf *b, const struct type *t, const void *v)
{
        switch (t->kind) {
        case T_STRING:
        case T_TIME:
                json_put_string(b, *(const char *const *) v);
                return;
        case T_ANY: {
                const char *s = *(const char *const *) v;
                buf_puts(b, s ? s : "null");
                return;
        }
        case T_BOOL:
                buf_puts(b, *(const bool *) v ? "true" : "false");
                return;
        case T_U16: buf_put_u64(b, *(const uint16_t *) v); return;
        case T_U32: buf_put_u64(b, *(const uint32_t *) v); return;
        case T_U64: buf_put_u64(b, *(const uint64_t *) v); return;
        case T_I64: buf_put_i64(b, *(const int64_t *) v); return;
        case T_PTR: {
                const void *p = *(void *const *) v;
                if (!p)
                        buf_puts(b, "null");
                else
                        model_encode(b, t->elem, p);
                return;
        }
        case T_SLICE: {
                const struct slice *s = v;
                if (!s->v) {
                        buf_puts(b, "null");
                        return;
                }
                buf_putc(b, '[');
                for (size_t i = 0; i < s->len; i++) {
                        if (i)
                                buf_putc(b, ',');
                        model_encode(b, t->elem, (const char *) s->v + i * t->elem->size);
                }
                buf_putc(b, ']');
                return;
        }
        case T_MAP: {
                const struct slice *m = v;
                if (!m->v) {
                        buf_puts(b, "null");
                        return;
                }
                buf_putc(b, '{');
                for (size_t i = 0; i < m->len; i++) {
                        const char *e = (const char *) m->v + i * t->entry_size;
                        if (i)
                                buf_putc(b, ',');
                        json_put_string(b, entry_key(e));
                        buf_putc(b, ':');
                        model_encode(b, t->elem, e + MAP_VALUE_OFFSET);
                }
                buf_putc(b, '}');
                return;
        }
        case T_STRUCT: {
                buf_putc(b, '{');
                bool first = true;
                for (uint32_t i = 0; i < t->nfields; i++) {
                        const struct field *f = &t->fields[i];
                        const void *fv = (const char *) v + f->offset;
                        if (f->omitempty && is_empty(f->type, fv))
                                continue;
                        if (!first)
                                buf_putc(b, ',');
                        first = false;
                        buf_put(b, f->json_key, f->json_key_len);
                        model_encode(b, f->type, fv);
                }
                buf_putc(b, '}');
                return;
        }
        }
}

/* ---- copying ------------------------------------------------------------ */

static bool has_indirection(const struct type *t)
{
        switch (t->kind) {
        case T_PTR:
        case T_SLICE:
        case T_MAP:
                return true;
        case T_STRUCT:
                for (uint32_t i = 0; i < t->nfields; i++)
                        if (has_indirection(t->fields[i].type))
                                return true;
                return false;
        default:
                return false;
        }
}

int model_copy(arena *a, const struct type *t, void *dst, const void *src)
{
        switch (t->kind) {
        case T_PTR: {
                const void *p = *(void *const *) src;
                if (!p) {
                        *(void **) dst = NULL;
                        return 0;
                }
                void *n = arena_alloc(a, t->elem->size);
                if (!n)
                        return -ENOMEM;
                *(void **) dst = n;
                return model_copy(a, t->elem, n, p);
        }
        case T_SLICE:
        case T_MAP: {
                const struct slice *s = src;
                struct slice *d = dst;
                size_t esize = t->kind == T_MAP ? t->entry_size : t->elem->size;
                if (!s->v || s->v == slice_empty || s->len == 0) {
                        *d = (struct slice){ .v = s->v ? slice_empty : NULL };
                        return 0;
                }
                void *v = arena_alloc(a, s->len * esize);
                if (!v)
                        return -ENOMEM;
                memcpy(v, s->v, s->len * esize);
                *d = (struct slice){ .v = v, .len = s->len, .cap = s->len };
                if (!has_indirection(t->elem))
                        return 0;
                for (size_t i = 0; i < s->len; i++) {
                        size_t off = i * esize + (t->kind == T_MAP ? MAP_VALUE_OFFSET : 0);
                        int r = model_copy(a, t->elem, (char *) v + off, (const char *) s->v + off);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        case T_STRUCT:
                memcpy(dst, src, t->size);
                for (uint32_t i = 0; i < t->nfields; i++) {
                        const struct field *f = &t->fields[i];
                        if (!has_indirection(f->type))
                                continue;
                        int r = model_copy(a, f->type, (char *) dst + f->offset, (const char *) src + f->offset);
                        if (r < 0)
                                return r;
                }
                return 0;
        default:
                memcpy(dst, src, t->size);
                return 0;
        }
}
