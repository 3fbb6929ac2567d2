#include "optline.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonparse.h"
#include "model.h"
#include "oci.h"
#include "options.h"
#include "spec.h"
#include "utf8.h"
#include "util.h"


enum token_kind {
        TOKEN_WORD,
        TOKEN_STRING,
        TOKEN_JSON,
        TOKEN_ARG,      /* a whole argument handed to optline_build: a string, or JSON text */
};

struct token {
        enum token_kind kind;
        const char *p;
        size_t n;
};

static bool is_sep(char c)
{
        return c == ' ' || c == '\t';
}

bool optline_is_blank(const char *line, size_t len)
{
        size_t i = 0;
        while (i < len && (is_sep(line[i]) || line[i] == '\r'))
                i++;
        return i == len || line[i] == '#';
}

/* Find the end of the JSON string starting at p[0] == '"'. */
static size_t scan_string(const char *p, size_t n)
{
        for (size_t i = 1; i < n; i++) {
                if (p[i] == '\\')
                        i++;
                else if (p[i] == '"')
                        return i + 1;
        }
        return 0;
}

/* Find the end of the JSON value starting at p[0] == '{' or '['. */
static size_t scan_value(const char *p, size_t n)
{
        size_t depth = 0;
        for (size_t i = 0; i < n; i++) {
                switch (p[i]) {
                case '"': {
                        size_t l = scan_string(p + i, n - i);
                        if (!l)
                                return 0;
                        i += l - 1;
                        break;
                }
                case '{':
                case '[':
                        depth++;
                        break;
                case '}':
                case ']':
                        if (--depth == 0)
                                return i + 1;
                        break;
                }
        }
        return 0;
}

static int invalid(bf_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int invalid(bf_error *err, const char *fmt, ...)
{
        char msg[BF_ERROR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return bf_error_set(err, EINVAL, "invalid option line: %s", msg);
}

static int tokenize(const char *line, size_t len, struct token **ret, size_t *ret_n, bf_error *err)
{
        size_t cap = 8, n = 0;
        struct token *t = malloc(cap * sizeof(*t));
        if (!t)
                return bf_error_oom(err);
        size_t i = 0;
        for (;;) {
                while (i < len && is_sep(line[i]))
                        i++;
                if (i == len)
                        break;
                struct token tok = { .p = line + i };
                if (line[i] == '"') {
                        tok.kind = TOKEN_STRING;
                        tok.n = scan_string(line + i, len - i);
                        if (!tok.n) {
                                free(t);
                                return invalid(err, "unterminated JSON string at byte %zu", i + 1);
                        }
                } else if (line[i] == '{' || line[i] == '[') {
                        tok.kind = TOKEN_JSON;
                        tok.n = scan_value(line + i, len - i);
                        if (!tok.n) {
                                free(t);
                                return invalid(err, "unterminated JSON value at byte %zu", i + 1);
                        }
                } else {
                        tok.kind = TOKEN_WORD;
                        while (i + tok.n < len && !is_sep(line[i + tok.n]))
                                tok.n++;
                }
                i += tok.n;
                if (i < len && !is_sep(line[i])) {
                        free(t);
                        return invalid(err, "expected a space or tab after the token ending at byte %zu", i);
                }
                if (n > OPTLINE_ARGS_MAX) {
                        free(t);
                        return bf_error_set(err, EFBIG, "an option line has at most %d arguments", OPTLINE_ARGS_MAX);
                }
                if (n == cap) {
                        cap *= 2;
                        struct token *nt = realloc(t, cap * sizeof(*t));
                        if (!nt) {
                                free(t);
                                return bf_error_oom(err);
                        }
                        t = nt;
                }
                t[n++] = tok;
        }
        *ret = t;
        *ret_n = n;
        return 0;
}

static struct json_object *json_parse_strict(const char *p, size_t n, bf_error *why)
{
        struct json_object *j = NULL;
        return json_parse_go(p, n, true, &j, why) < 0 ? NULL : j;
}

/* Strings must be valid, NUL-free C strings for the spec. */
static int token_string(arena *a, const struct token *t, const char **ret, const char *name, size_t argn,
                        bf_error *err)
{
        if (t->kind == TOKEN_ARG && !utf8_valid(t->p, t->n))
                return invalid(err, "%s: argument %zu: string is not valid UTF-8", name, argn);
        if (t->kind == TOKEN_WORD || t->kind == TOKEN_ARG) {
                *ret = arena_strndup(a, t->p, t->n);
                return *ret ? 0 : bf_error_oom(err);
        }
        bf_error why = { 0 };
        struct json_object *j = json_parse_strict(t->p, t->n, &why);
        if (!j)
                return invalid(err, "%s: argument %zu: invalid JSON string: %.200s", name, argn, why.msg);
        const char *s = json_object_get_string(j);
        size_t n = (size_t) json_object_get_string_len(j);
        if (memchr(s, '\0', n)) {
                json_object_put(j);
                return invalid(err, "%s: argument %zu: a string may not contain NUL", name, argn);
        }
        if (!utf8_valid(s, n)) {
                json_object_put(j);
                return invalid(err, "%s: argument %zu: string is not valid UTF-8", name, argn);
        }
        *ret = arena_strndup(a, s, n);
        json_object_put(j);
        return *ret ? 0 : bf_error_oom(err);
}

static const struct type *json_arg_type(enum arg_kind k, bool *ret_object)
{
        *ret_object = false;
        switch (k) {
        case ARG_JSON_SPEC:
                *ret_object = true;
                return &type_spec;
        case ARG_JSON_MOUNTS:
                *ret_object = false;
                return &type_mount_slice;
        case ARG_JSON_IDMAPS:
                *ret_object = false;
                return &type_idmap_slice;
        case ARG_JSON_DEVICES:
                *ret_object = false;
                return &type_device_slice;
        case ARG_JSON_BLOCKIO:
                *ret_object = true;
                return &type_blockio;
        default:
                return NULL;
        }
}

static int convert_json(arena *a, const struct token *t, enum arg_kind k, struct optarg *arg, const char *name,
                        size_t argn, bf_error *err)
{
        bool want_object = false;
        const struct type *type = json_arg_type(k, &want_object);
        if ((t->kind != TOKEN_JSON && t->kind != TOKEN_ARG) || t->p[0] != (want_object ? '{' : '['))
                return invalid(err, "%s: argument %zu: expected a JSON %s", name, argn, want_object ? "object" : "array");
        bf_error why = { 0 };
        struct json_object *j = json_parse_strict(t->p, t->n, &why);
        if (!j)
                return invalid(err, "%s: argument %zu: invalid JSON: %.200s", name, argn, why.msg);
        const char *text = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        arg->json = arena_strdup(a, text);
        arg->value = arena_alloc(a, type->size);
        if (!arg->json || !arg->value) {
                json_object_put(j);
                return bf_error_oom(err);
        }
        bf_error derr = { 0 };
        int r = model_decode(a, type, arg->value, j, &derr);
        json_object_put(j);
        if (r < 0) {
                if (k == ARG_JSON_SPEC)
                        return invalid(err, "%s: decoding spec config file failed, current supported OCI runtime-spec "
                                       ": v%s: %s", name, SPEC_VERSION, derr.msg);
                return invalid(err, "%s: argument %zu: %s", name, argn, derr.msg);
        }
        return 0;
}

static bool perms_valid(const char *s)
{
        bool seen[3] = { false, false, false };
        for (; *s; s++) {
                const char *p = strchr("rwm", *s);
                if (!p || seen[p - "rwm"])
                        return false;
                seen[p - "rwm"] = true;
        }
        return true;
}

static int convert_arg(arena *a, const struct token *t, enum arg_kind k, struct optarg *arg, const char *name,
                       size_t argn, bf_error *err)
{
        if (json_arg_type(k, &(bool){ false }))
                return convert_json(a, t, k, arg, name, argn, err);
        if (t->kind == TOKEN_JSON)
                return invalid(err, "%s: argument %zu: expected a string, not a JSON %s", name, argn,
                               t->p[0] == '{' ? "object" : "array");
        int r = token_string(a, t, &arg->str, name, argn, err);
        if (r < 0)
                return r;
        const char *s = arg->str;
        size_t n = strlen(s);
        switch (k) {
        case ARG_STRING:
        case ARG_ENV:
                return 0;
        case ARG_IMAGE_REF:
                if (oci_ref_is(s)) {
                        /* checked once here; applying parses it again from the text */
                        struct oci_ref ref;
                        bf_error e2 = { 0 };
                        if (oci_ref_parse(a, s, &ref, &e2) < 0)
                                return e2.code == EINVAL ? invalid(err, "%s: argument %zu: %s", name, argn, e2.msg)
                                                         : bf_error_set(err, e2.code, "%s", e2.msg);
                        return 0;
                }
                /* a file on the host */
                __attribute__((fallthrough));
        case ARG_HOST_PATH:
                if (s[0] != '/')
                        return invalid(err, "%s: argument %zu: host path \"%s\" is not absolute", name, argn, s);
                return 0;
        case ARG_KEY_VALUE:
                if (!strchr(s, '='))
                        return invalid(err, "%s: argument %zu: expected key=value, got \"%s\"", name, argn, s);
                return 0;
        case ARG_PERMS:
                if (!perms_valid(s))
                        return invalid(err, "%s: argument %zu: invalid device permissions \"%s\" (a subset of rwm)",
                                       name, argn, s);
                return 0;
        case ARG_U16:
        case ARG_U32:
        case ARG_U64: {
                unsigned bits = k == ARG_U16 ? 16 : k == ARG_U32 ? 32 : 64;
                /* decimal digits only: no sign, no spaces, no suffix */
                bool ok = n > 0 && strspn(s, "0123456789") == n;
                uint64_t v = 0;
                for (size_t i = 0; ok && i < n; i++) {
                        unsigned d = (unsigned) (s[i] - '0');
                        if (v > (UINT64_MAX - d) / 10)
                                ok = false;
                        v = v * 10 + d;
                }
                if (!ok)
                        return invalid(err, "%s: argument %zu: invalid number \"%s\"", name, argn, s);
                if (bits < 64 && v >> bits)
                        return invalid(err, "%s: argument %zu: number %s out of range (uint%u)", name, argn, s, bits);
                arg->u = v;
                return 0;
        }
        case ARG_I64: {
                size_t off = s[0] == '-' ? 1 : 0;
                bool ok = n > off && strspn(s + off, "0123456789") == n - off;
                if (!ok)
                        return invalid(err, "%s: argument %zu: invalid number \"%s\"", name, argn, s);
                uint64_t v = 0;
                for (size_t i = off; i < n; i++) {
                        unsigned d = (unsigned) (s[i] - '0');
                        if (v > (UINT64_MAX - d) / 10 || v * 10 + d > (uint64_t) INT64_MAX + off)
                                return invalid(err, "%s: argument %zu: number %s out of range (int64)", name, argn, s);
                        v = v * 10 + d;
                }
                arg->i = off ? (int64_t) (0 - v) : (int64_t) v;
                return 0;
        }
        default:
                return invalid(err, "%s: argument %zu: unsupported argument kind", name, argn);
        }
}

/* A string reads back as a bare word unless it is empty, looks like JSON, or
 * holds a separator or control character. */
static bool bare_word_ok(const char *s)
{
        if (!*s || *s == '"' || *s == '{' || *s == '[')
                return false;
        for (const unsigned char *p = (const unsigned char *) s; *p; p++)
                if (*p <= ' ' || *p == 0x7f)
                        return false;
        return true;
}

void optline_put_string(buf *out, const char *s)
{
        if (bare_word_ok(s))
                buf_puts(out, s);
        else
                json_put_string(out, s);
}

void optline_print(buf *out, const struct optline *l)
{
        buf_puts(out, l->opt->name);
        for (size_t i = 0; i < l->nargs; i++) {
                buf_putc(out, ' ');
                if (l->args[i].json)
                        buf_puts(out, l->args[i].json);
                else
                        optline_put_string(out, l->args[i].str);
        }
}

/* The canonical text is printed when it is shown, not kept: a long line
 * would hold its value twice. Only its length is kept (file sizes). */
static int measure_text(struct optline *l, bf_error *err)
{
        _cleanup_(buf_free) buf b = { 0 };
        optline_print(&b, l);
        if (b.oom)
                return bf_error_oom(err);
        l->text_len = b.len;
        return 0;
}

/* The line of opt with the given argument tokens: arguments checked and
 * converted, canonical text built. Both ways of making a line end here. */
static int line_from_tokens(const struct option *opt, const struct token *args, size_t nargs, struct optline **ret,
                            bf_error *err)
{
        if (nargs < opt->min_args || (opt->max_args != ARGS_VARIADIC && nargs > opt->max_args))
                return invalid(err, "%s: wrong number of arguments (%zu)", opt->name, nargs);

        /* The line lives in its own arena: one allocation for most lines. */
        arena mem;
        arena_init_small(&mem);
        struct optline *l = arena_alloc(&mem, sizeof(*l));
        if (!l) {
                arena_done(&mem);
                return bf_error_oom(err);
        }
        l->mem = mem;
        l->opt = opt;
        ref_init(&l->refs);
        l->nargs = nargs;
        l->args = nargs ? arena_alloc(&l->mem, nargs * sizeof(*l->args)) : NULL;
        if (nargs && !l->args) {
                optline_unref(l);
                return bf_error_oom(err);
        }
        for (size_t i = 0; i < nargs; i++) {
                /* Variadic options repeat the kind that follows their fixed arguments. */
                size_t ki = opt->max_args == ARGS_VARIADIC && i > opt->min_args ? opt->min_args : i;
                int r = convert_arg(&l->mem, &args[i], opt->args[ki], &l->args[i], opt->name, i + 1, err);
                if (r < 0) {
                        optline_unref(l);
                        return r;
                }
        }
        int r = measure_text(l, err);
        if (r < 0) {
                optline_unref(l);
                return r;
        }
        *ret = l;
        return 0;
}

int optline_parse(const char *line, size_t len, struct optline **ret, bf_error *err)
{
        if (len > OPTLINE_MAX)
                return bf_error_set(err, EFBIG, "option line longer than %d bytes", OPTLINE_MAX);
        if (memchr(line, '\0', len))
                return invalid(err, "line contains a NUL byte");
        if (!utf8_valid(line, len))
                return invalid(err, "line is not valid UTF-8");
        if (memchr(line, '\n', len))
                return invalid(err, "one line expected");
        /* A CR before the end of line (a file written on Windows) is not part of it. */
        if (len && line[len - 1] == '\r')
                len--;

        _cleanup_free_ struct token *toks = NULL;
        size_t ntoks = 0;
        int r = tokenize(line, len, &toks, &ntoks, err);
        if (r < 0)
                return r;
        if (ntoks == 0)
                return invalid(err, "empty line");
        if (toks[0].kind != TOKEN_WORD)
                return invalid(err, "expected an option name, got a JSON value");
        const struct option *opt = option_find(toks[0].p, toks[0].n);
        if (!opt)
                return invalid(err, "unknown option \"%.*s\"", (int) (toks[0].n > 200 ? 200 : toks[0].n), toks[0].p);
        return line_from_tokens(opt, toks + 1, ntoks - 1, ret, err);
}

int optline_build(const char *name, const char *const *args, size_t nargs, struct optline **ret, bf_error *err)
{
        const struct option *opt = option_find(name, strlen(name));
        if (!opt)
                return invalid(err, "unknown option \"%.200s\"", name);
        if (nargs > OPTLINE_ARGS_MAX)
                return bf_error_set(err, EFBIG, "an option line has at most %d arguments", OPTLINE_ARGS_MAX);
        _cleanup_free_ struct token *toks = nargs ? malloc(nargs * sizeof(*toks)) : NULL;
        if (nargs && !toks)
                return bf_error_oom(err);
        for (size_t i = 0; i < nargs; i++)
                toks[i] = (struct token){ .kind = TOKEN_ARG, .p = args[i], .n = strlen(args[i]) };
        struct optline *l = NULL;
        int r = line_from_tokens(opt, toks, nargs, &l, err);
        if (r < 0)
                return r;
        /* Quoting can make the text longer than its arguments. */
        if (l->text_len > OPTLINE_MAX) {
                optline_unref(l);
                return bf_error_set(err, EFBIG, "option line longer than %d bytes", OPTLINE_MAX);
        }
        *ret = l;
        return 0;
}

const char *optline_option_name(const struct optline *l)
{
        return l->opt->name;
}

bool optline_same(const struct optline *a, const struct optline *b)
{
        if (a == b)
                return true;
        if (a->opt != b->opt || a->text_len != b->text_len)
                return false;
        buf x = { 0 }, y = { 0 };
        optline_print(&x, a);
        optline_print(&y, b);
        bool same = !x.oom && !y.oom && x.len == y.len && (!x.len || memcmp(x.p, y.p, x.len) == 0);
        buf_free(&x);
        buf_free(&y);
        return same;
}

size_t optline_footprint(const struct optline *l)
{
        return arena_footprint(&l->mem);
}

void optline_print_all(buf *out, struct optline *const *lines, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                optline_print(out, lines[i]);
                buf_putc(out, '\n');
        }
}

void optline_free_all(struct optline **lines, size_t n)
{
        for (size_t i = 0; i < n; i++)
                optline_unref(lines[i]);
        free(lines);
}

/* numbers: NULL, or where to put each parsed line's number (and then every
 * message names its line). */
static int parse_text(const char *text, size_t len, struct optline ***ret, size_t **ret_numbers, size_t *ret_n,
                      bf_error *err)
{
        struct optline **lines = NULL;
        size_t *numbers = NULL;
        size_t n = 0, cap = 0, lineno = 0;
        size_t i = 0;
        while (i < len) {
                const char *nl = memchr(text + i, '\n', len - i);
                size_t end = nl ? (size_t) (nl - text) : len;
                lineno++;
                if (!optline_is_blank(text + i, end - i)) {
                        if (n == cap) {
                                cap = cap ? cap * 2 : 8;
                                struct optline **nlines = realloc(lines, cap * sizeof(*lines));
                                if (nlines)
                                        lines = nlines;
                                size_t *nnumbers = nlines && ret_numbers ? realloc(numbers, cap * sizeof(*numbers))
                                                                          : numbers;
                                if (nnumbers)
                                        numbers = nnumbers;
                                if (!nlines || (ret_numbers && !nnumbers)) {
                                        optline_free_all(lines, n);
                                        free(numbers);
                                        return bf_error_oom(err);
                                }
                        }
                        int r = optline_parse(text + i, end - i, &lines[n], err);
                        if (r < 0) {
                                optline_free_all(lines, n);
                                free(numbers);
                                if (ret_numbers || lineno > 1 || (nl && end + 1 < len))
                                        bf_error_prefix(err, "line %zu", lineno);
                                return r;
                        }
                        if (ret_numbers)
                                numbers[n] = lineno;
                        n++;
                }
                i = end + 1;
        }
        *ret = lines;
        if (ret_numbers)
                *ret_numbers = numbers;
        *ret_n = n;
        return 0;
}

int optline_parse_text(const char *text, size_t len, struct optline ***ret, size_t *ret_n, bf_error *err)
{
        return parse_text(text, len, ret, NULL, ret_n, err);
}

int optline_parse_numbered(const char *text, size_t len, struct optline ***ret, size_t **ret_numbers, size_t *ret_n,
                           bf_error *err)
{
        return parse_text(text, len, ret, ret_numbers, ret_n, err);
}

struct optline *optline_ref(struct optline *l)
{
        if (l)
                ref_get(&l->refs);
        return l;
}

void optline_unref(struct optline *l)
{
        if (!l || !ref_put(&l->refs))
                return;
        arena mem = l->mem;     /* l itself is in it */
        arena_done(&mem);
}
