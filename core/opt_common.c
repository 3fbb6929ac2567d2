#include "opt_common.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

void *r_alloc(struct render *r, size_t size)
{
        void *p = arena_alloc(r->a, size);
        if (!p)
                r_nomem(r);
        return p;
}

int r_nomem(struct render *r)
{
        if (r->a->limit && r->a->used >= r->a->limit / 2)
                return bf_error_set(r->err, EFBIG, "the rendered spec grows past %zu MiB", r->a->limit >> 20);
        return bf_error_oom(r->err);
}

const char *r_strdup(struct render *r, const char *s)
{
        char *p = arena_strdup(r->a, s);
        if (!p)
                r_nomem(r);
        return p;
}

int set_process(struct render *r, struct spec *s)
{
        if (!s->process && !(s->process = R_NEW(r, struct spec_process)))
                return -r->err->code;
        return 0;
}

int set_root(struct render *r, struct spec *s)
{
        if (!s->root && !(s->root = R_NEW(r, struct spec_root)))
                return -r->err->code;
        return 0;
}

int set_linux(struct render *r, struct spec *s)
{
        if (!s->linux_ && !(s->linux_ = R_NEW(r, struct spec_linux)))
                return -r->err->code;
        return 0;
}

int set_resources(struct render *r, struct spec *s)
{
        if (s->linux_ && !s->linux_->resources && !(s->linux_->resources = R_NEW(r, struct spec_resources)))
                return -r->err->code;
        return 0;
}

int set_cpu(struct render *r, struct spec *s)
{
        int ret = set_resources(r, s);
        if (ret < 0)
                return ret;
        if (s->linux_ && !s->linux_->resources->cpu && !(s->linux_->resources->cpu = R_NEW(r, struct spec_cpu)))
                return -r->err->code;
        return 0;
}

int set_capabilities(struct render *r, struct spec *s)
{
        int ret = set_process(r, s);
        if (ret < 0)
                return ret;
        if (!s->process->capabilities && !(s->process->capabilities = R_NEW(r, struct spec_caps)))
                return -r->err->code;
        return 0;
}

int set_windows(struct render *r, struct spec *s)
{
        if (!s->windows && !(s->windows = R_NEW(r, struct spec_windows)))
                return -r->err->code;
        return 0;
}

int set_cpu_windows(struct render *r, struct spec *s)
{
        if (!s->windows)
                return 0;
        struct spec_windows *w = s->windows;
        if (!w->resources && !(w->resources = R_NEW(r, struct spec_windows_resources)))
                return -r->err->code;
        if (!w->resources->cpu && !(w->resources->cpu = R_NEW(r, struct spec_windows_cpu)))
                return -r->err->code;
        return 0;
}

int missing_section(struct render *r, const char *section)
{
        return bf_error_set(r->err, EINVAL, "the spec has no %s section to set this in", section);
}

int push_str(struct render *r, str_slice *s, const char *v)
{
        const char **slot = slice_push(r->a, s, sizeof(*slot));
        if (!slot)
                return r_nomem(r);
        *slot = v;
        return 0;
}

int args_to_slice(struct render *r, str_slice *dst, const struct optline *l, size_t from, bool nil_if_none)
{
        *dst = (str_slice){ 0 };
        size_t n = l->nargs > from ? l->nargs - from : 0;
        if (n == 0) {
                if (!nil_if_none)
                        slice_make_empty(dst);
                return 0;
        }
        dst->v = r_alloc(r, n * sizeof(*dst->v));
        if (!dst->v)
                return -r->err->code;
        for (size_t i = 0; i < n; i++)
                dst->v[i] = l->args[from + i].str;
        dst->len = dst->cap = n;
        return 0;
}

int64_t *r_i64(struct render *r, int64_t v)
{
        int64_t *p = R_NEW(r, int64_t);
        if (p)
                *p = v;
        return p;
}

uint64_t *r_u64(struct render *r, uint64_t v)
{
        uint64_t *p = R_NEW(r, uint64_t);
        if (p)
                *p = v;
        return p;
}

int ensure_additional_gids(struct render *r, struct spec *s)
{
        int ret = set_process(r, s);
        if (ret < 0)
                return ret;
        struct spec_user *u = &s->process->user;
        for (size_t i = 0; i < u->additional_gids.len; i++)
                if (u->additional_gids.v[i] == u->gid)
                        return 0;
        u32_slice n = { 0 };
        n.v = r_alloc(r, (u->additional_gids.len + 1) * sizeof(uint32_t));
        if (!n.v)
                return -r->err->code;
        n.v[0] = u->gid;
        if (u->additional_gids.len)
                memcpy(n.v + 1, u->additional_gids.v, u->additional_gids.len * sizeof(uint32_t));
        n.len = n.cap = u->additional_gids.len + 1;
        u->additional_gids = n;
        return 0;
}

static size_t key_len(const char *e, bool *has_eq)
{
        const char *eq = strchr(e, '=');
        *has_eq = eq != NULL;
        return eq ? (size_t) (eq - e) : strlen(e);
}

/* The index of the last entry of results[0..n) whose key is k, as the map in
 * replaceOrAppendEnvValues (later duplicates win), or -1. */
static ssize_t find_key(const char *const *defaults, size_t n, const char *k, size_t klen)
{
        for (size_t i = n; i-- > 0;) {
                bool eq;
                if (key_len(defaults[i], &eq) == klen && strncmp(defaults[i], k, klen) == 0)
                        return (ssize_t) i;
        }
        return -1;
}

/* The keys of the defaults, looked up by hash as Go's map does: a linear
 * search per override would make many variables cost quadratic time. */
struct key_index {
        size_t mask;
        ssize_t *slots;         /* index into defaults, -1 for an empty slot */
};

static uint64_t key_hash(const char *k, size_t klen)
{
        uint64_t h = 14695981039346656037ULL;   /* FNV-1a */
        for (size_t i = 0; i < klen; i++)
                h = (h ^ (unsigned char) k[i]) * 1099511628211ULL;
        return h;
}

static ssize_t *key_slot(const struct key_index *x, const char *const *defaults, const char *k, size_t klen)
{
        for (size_t i = key_hash(k, klen) & x->mask;; i = (i + 1) & x->mask) {
                ssize_t at = x->slots[i];
                bool eq;
                if (at < 0 || (key_len(defaults[at], &eq) == klen && strncmp(defaults[at], k, klen) == 0))
                        return &x->slots[i];
        }
}

static int key_index_build(struct key_index *x, const char *const *defaults, size_t n)
{
        size_t size = 16;
        while (size < 2 * n)
                size *= 2;
        x->mask = size - 1;
        x->slots = malloc(size * sizeof(*x->slots));
        if (!x->slots)
                return -ENOMEM;
        memset(x->slots, 0xff, size * sizeof(*x->slots));
        for (size_t i = 0; i < n; i++) {
                bool eq;
                *key_slot(x, defaults, defaults[i], key_len(defaults[i], &eq)) = (ssize_t) i;  /* later wins */
        }
        return 0;
}

int env_replace_or_append(struct render *r, const str_slice *defaults, const char *const *overrides, size_t n,
                          str_slice *ret)
{
        size_t ndef = defaults->len;
        str_slice out = { 0 };
        out.v = r_alloc(r, (ndef + n + 1) * sizeof(*out.v));
        if (!out.v)
                return -r->err->code;
        out.cap = ndef + n + 1;
        if (ndef)
                memcpy(out.v, defaults->v, ndef * sizeof(*out.v));
        out.len = ndef;
        struct key_index index = { 0 };
        if (ndef > 16 && key_index_build(&index, defaults->v, ndef) < 0)
                return bf_error_oom(r->err);
        for (size_t i = 0; i < n; i++) {
                const char *value = overrides[i];
                bool has_eq;
                size_t klen = key_len(value, &has_eq);
                /* Only keys of the defaults are known; appended ones are not looked up again. */
                ssize_t at = index.slots ? *key_slot(&index, defaults->v, value, klen) :
                                           find_key(defaults->v, ndef, value, klen);
                if (!has_eq) {
                        if (at >= 0)
                                out.v[at] = "";
                        continue;
                }
                if (at >= 0)
                        out.v[at] = value;
                else
                        out.v[out.len++] = value;
        }
        free(index.slots);
        /* Entries emptied above mean "unset"; an empty entry is dropped too, as in Go. */
        size_t w = 0;
        for (size_t i = 0; i < out.len; i++)
                if (out.v[i][0])
                        out.v[w++] = out.v[i];
        out.len = w;
        *ret = out;
        return 0;
}

int apply_with_args(struct render *r, struct spec *s, option_apply fn, const char *const *strs, size_t n)
{
        struct optarg args[16] = { 0 };
        if (n > 16)
                return bf_error_set(r->err, EINVAL, "too many arguments");
        for (size_t i = 0; i < n; i++)
                args[i].str = strs[i];
        struct optline l = { .nargs = n, .args = args };
        return fn(r, s, &l);
}
