/* Option lines: `Name arg arg ...`, one containerd SpecOpts call each.
 *
 * Tokens are separated by spaces or tabs. A token starting with `"` is a JSON
 * string, one starting with `{` or `[` is one JSON value up to its matching
 * bracket, anything else is a bare word. Parsing checks the arguments against
 * the option's signature and converts them once; the canonical text is
 * printed from them (`cat opts`), never kept twice. */
#pragma once

#include "buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "error.h"
#include "util.h"

#define OPTLINE_MAX (1024 * 1024)
/* Arguments of one line (a long list of variables, say); more: EFBIG. */
#define OPTLINE_ARGS_MAX 100000

struct option;

struct optarg {
        const char *str;        /* the string value; NULL for a JSON object or array */
        const char *json;       /* compact JSON text of an object or array argument */
        union {
                uint64_t u;     /* unsigned number arguments */
                int64_t i;      /* signed number arguments */
                void *value;    /* decoded JSON argument (model types) */
        };
};

struct optline {
        const struct option *opt;
        size_t nargs;
        struct optarg *args;
        size_t text_len;        /* of its canonical form (optline_print), without newline */
        refcount refs;
        arena mem;              /* holds args and decoded values */
};

/* Parse one line (no newline; blank and comment lines are the caller's).
 * Errors are EINVAL ("invalid option line: ...") or EFBIG. */
int optline_parse(const char *line, size_t len, struct optline **ret, bf_error *err);
/* The line of option `name` with arguments already split: each a string
 * taken as it is (never decoded or tokenized), or for a JSON-valued argument
 * one JSON value as text. The same checks, conversions and canonical text as
 * optline_parse (errors EINVAL "invalid option line: ...", or EFBIG). */
int optline_build(const char *name, const char *const *args, size_t nargs, struct optline **ret, bf_error *err);
struct optline *optline_ref(struct optline *l);
/* The containerd name of the line's option, e.g. "WithHostname". */
const char *optline_option_name(const struct optline *l);
/* Do a and b have the same canonical text? (False without memory.) */
bool optline_same(const struct optline *a, const struct optline *b);
/* Bytes of memory the line holds (its arena). */
size_t optline_footprint(const struct optline *l);
void optline_unref(struct optline *l);

/* Parse every line of text (blank and # lines skipped). A message about a
 * line of a text of several lines starts with "line N: ". */
int optline_parse_text(const char *text, size_t len, struct optline ***ret, size_t *ret_n, bf_error *err);
/* optline_parse_text for a whole input (bundlefs-render's stdin): every
 * message starts with "line N: ", and *ret_numbers (malloc'd, one per line
 * parsed) gets each line's number in text, blank and # lines counted. */
int optline_parse_numbered(const char *text, size_t len, struct optline ***ret, size_t **ret_numbers, size_t *ret_n,
                           bf_error *err);
void optline_free_all(struct optline **lines, size_t n);
/* The line in canonical form, without newline, appended to out. */
void optline_print(buf *out, const struct optline *l);
/* The lines in canonical form, one per line (what `cat opts` shows). */
void optline_print_all(buf *out, struct optline *const *lines, size_t n);

/* True for lines that carry no option: blank or starting with '#'. */
bool optline_is_blank(const char *line, size_t len);

/* Append s to out quoted as needed so it reads back as one string token. */
struct buf;
void optline_put_string(struct buf *out, const char *s);
