/* libFuzzer target: a runtime spec of arbitrary JSON bytes, as WithSpecFromFile
 * reads one (json_parse_document, then model_decode into type_spec).
 *
 * When it decodes, model_encode's output must be one valid JSON object that
 * decodes again and re-encodes to identical bytes (encode(decode(encode(x)))
 * == encode(x)), and a deep copy (model_copy) must encode to the same bytes.
 * Any difference aborts with both texts. */
#define FUZZ_TARGET "fuzz_model"

#include <errno.h>
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "checks.h"
#include "files.h"
#include "model.h"
#include "render.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse and decode as opt_spec.c does for WithSpecFromFile. */
static int decode(arena *a, const char *text, size_t n, struct spec *s, bf_error *err)
{
        struct json_object *j = NULL;
        int r = json_parse_document(text, n, &j, err);
        if (r < 0)
                return r;
        *s = (struct spec){ 0 };
        r = model_decode(a, &type_spec, s, j, err);
        json_object_put(j);
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        /* file_read_all hands over NUL-terminated data; do the same. */
        char *text = malloc(size + 1);
        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';

        fuzz_sandbox_enter();
        arena a;
        arena_init(&a, RENDER_ARENA_LIMIT);
        struct spec s1, s2, s3;
        bf_error err = { 0 };
        buf e1 = { 0 }, e2 = { 0 }, e3 = { 0 };

        int r = decode(&a, text, size, &s1, &err);
        if (r < 0) {
                if (r != -err.code || !err.msg[0])
                        FAIL("decode failed with %d, error code %d, message \"%s\"", r, err.code, err.msg);
                goto out;
        }
        model_encode(&e1, &type_spec, &s1);
        if (e1.oom)
                goto out;

        bf_error err2 = { 0 };
        r = decode(&a, e1.p, e1.len, &s2, &err2);
        if (r < 0)
                FAIL("the encoded spec does not decode again: %s\n  input:   %.*s\n  encoded: %s", err2.msg,
                     (int) size, text, e1.p);
        model_encode(&e2, &type_spec, &s2);
        if (e2.oom)
                goto out;
        if (e1.len != e2.len || memcmp(e1.p, e2.p, e1.len) != 0)
                FAIL("encoding is not stable\n  input:  %.*s\n  first:  %s\n  second: %s", (int) size, text, e1.p,
                     e2.p);

        if (model_copy(&a, &type_spec, &s3, &s1) == 0) {
                model_encode(&e3, &type_spec, &s3);
                if (!e3.oom && (e1.len != e3.len || memcmp(e1.p, e3.p, e1.len) != 0))
                        FAIL("a deep copy encodes differently\n  input:    %.*s\n  original: %s\n  copy:     %s",
                             (int) size, text, e1.p, e3.p);
        }
out:
        fuzz_sandbox_leave();
        buf_free(&e1);
        buf_free(&e2);
        buf_free(&e3);
        arena_done(&a);
        free(text);
        return 0;
}
