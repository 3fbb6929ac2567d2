/* Checks shared by the fuzz targets. Each target defines FUZZ_TARGET (its name,
 * for messages) before including this file. */
#pragma once

#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "error.h"
#include "optline.h"
#include "sandbox.h"

/* A broken invariant: leave the sandbox, say what broke, abort (libFuzzer
 * keeps the input as a crash). */
#define FAIL(...)                                                \
        do {                                                     \
                fuzz_sandbox_leave();                            \
                fprintf(stderr, FUZZ_TARGET ": " __VA_ARGS__);   \
                fputc('\n', stderr);                             \
                abort();                                         \
        } while (0)

/* A failure returns -code with a positive code, a message, and one of the
 * errnos listed (0 ends the list). */
static inline void check_error(const char *what, int r, const bf_error *err, ...)
{
        int c = err->code;
        if (r >= 0)
                return;
        if (r != -c || c <= 0 || !err->msg[0])
                FAIL("%s: returned %d with error code %d and message \"%s\"", what, r, c, err->msg);
        va_list ap;
        va_start(ap, err);
        bool allowed = false;
        for (int e; !allowed && (e = va_arg(ap, int)) != 0;)
                allowed = e == c;
        va_end(ap);
        if (!allowed)
                FAIL("%s: errno %d (%s) is not one the interface allows: %s", what, c, strerror(c), err->msg);
        if (memchr(err->msg, '\n', strlen(err->msg)))
                FAIL("%s: the message is not one line: %s", what, err->msg);
}

/* config.json's bytes: one strict JSON object, then a newline, nothing else. */
static inline void check_config_json(const char *what, const buf *out)
{
        if (out->len < 3 || out->p[out->len - 1] != '\n')
                FAIL("%s: output does not end in a newline", what);
        struct json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH * 4);
        if (!tok)
                abort();
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        struct json_object *j = json_tokener_parse_ex(tok, out->p, (int) out->len - 1);
        enum json_tokener_error e = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (e != json_tokener_success || end != out->len - 1 || !json_object_is_type(j, json_type_object))
                FAIL("%s: output is not one JSON object (%s at byte %zu):\n%s", what, json_tokener_error_desc(e), end,
                     out->p);
        json_object_put(j);
}

/* A line's canonical text (valid until eight more calls). */
static inline const char *text_of(const struct optline *l)
{
        static buf ring[8];
        static unsigned next;
        buf *b = &ring[next++ % 8];
        b->len = 0;
        optline_print(b, l);
        return b->p ? b->p : "";
}
