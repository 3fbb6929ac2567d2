/* Immutable, shared file content (content.h). */
#include "content.h"

#include <stdlib.h>
#include <string.h>

#include "deps.h"
#include "util.h"

struct content {
        refcount refs;
        uint64_t version;
        struct deps *deps;
        size_t len;
        char data[];
};

struct content *content_new(const char *data, size_t len, uint64_t version, struct deps *deps)
{
        struct content *c = malloc(sizeof(*c) + len + 1);
        if (!c) {
                deps_free(deps);
                return NULL;
        }
        ref_init(&c->refs);
        c->version = version;
        c->deps = deps;
        c->len = len;
        if (len)
                memcpy(c->data, data, len);
        c->data[len] = '\0';
        return c;
}

struct content *content_ref(struct content *c)
{
        if (c)
                ref_get(&c->refs);
        return c;
}

void content_unref(struct content *c)
{
        if (!c || !ref_put(&c->refs))
                return;
        deps_free(c->deps);
        free(c);
}

const char *content_data(const struct content *c)
{
        return c->data;
}

size_t content_len(const struct content *c)
{
        return c->len;
}

uint64_t content_version(const struct content *c)
{
        return c->version;
}

bool content_current(const struct content *c)
{
        return !c->deps || deps_still_valid(c->deps);
}

struct timespec content_inputs_changed(const struct content *c)
{
        return c->deps ? deps_latest_change(c->deps) : (struct timespec){ 0 };
}

size_t content_footprint(const struct content *c)
{
        return sizeof(*c) + c->len + 1;
}
