#include "digest.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

struct hasher {
        EVP_MD_CTX *ctx;
        const EVP_MD *md;
        enum digest_alg alg;
        bool failed;            /* an EVP call failed: the result matches nothing */
};

static const struct {
        const char *name;
        size_t raw_len;
} algs[] = {
        [DIGEST_SHA256] = { "sha256", 32 },
        [DIGEST_SHA512] = { "sha512", 64 },
};

const char *digest_alg_name(enum digest_alg alg)
{
        return algs[alg].name;
}

size_t digest_raw_len(enum digest_alg alg)
{
        return algs[alg].raw_len;
}

static int hexval(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

int digest_parse(const char *text, struct digest *ret, bf_error *err)
{
        *ret = (struct digest){ 0 };
        const char *colon = strchr(text, ':');
        if (!colon)
                return bf_error_set(err, EINVAL, "invalid digest \"%.80s\": no algorithm", text);
        size_t al = (size_t) (colon - text);
        size_t i;
        for (i = 0; i < ARRAY_SIZE(algs); i++)
                if (strlen(algs[i].name) == al && !memcmp(algs[i].name, text, al))
                        break;
        if (i == ARRAY_SIZE(algs))
                return bf_error_set(err, EINVAL, "invalid digest \"%.80s\": unsupported algorithm (sha256 or sha512)",
                                    text);
        const char *hex = colon + 1;
        size_t n = strlen(hex);
        if (n != 2 * algs[i].raw_len)
                return bf_error_set(err, EINVAL, "invalid digest \"%.80s\": %s needs %zu hex digits", text,
                                    algs[i].name, 2 * algs[i].raw_len);
        for (size_t k = 0; k < algs[i].raw_len; k++) {
                int hi = hexval(hex[2 * k]), lo = hexval(hex[2 * k + 1]);
                if (hi < 0 || lo < 0)
                        return bf_error_set(err, EINVAL, "invalid digest \"%.80s\": not lowercase hex", text);
                ret->raw[k] = (unsigned char) (hi << 4 | lo);
        }
        ret->alg = (enum digest_alg) i;
        return 0;
}

void digest_hex(const struct digest *d, char *out)
{
        static const char digits[] = "0123456789abcdef";
        size_t n = algs[d->alg].raw_len;
        for (size_t k = 0; k < n; k++) {
                out[2 * k] = digits[d->raw[k] >> 4];
                out[2 * k + 1] = digits[d->raw[k] & 15];
        }
        out[2 * n] = '\0';
}

void digest_format(const struct digest *d, char *out)
{
        size_t al = strlen(algs[d->alg].name);
        memcpy(out, algs[d->alg].name, al);
        out[al] = ':';
        digest_hex(d, out + al + 1);
}

bool digest_equal(const struct digest *a, const struct digest *b)
{
        return a->alg == b->alg && !memcmp(a->raw, b->raw, algs[a->alg].raw_len);
}

struct hasher *hasher_new(enum digest_alg alg)
{
        struct hasher *h = calloc(1, sizeof(*h));
        if (!h)
                return NULL;
        h->alg = alg;
        h->md = alg == DIGEST_SHA512 ? EVP_sha512() : EVP_sha256();
        h->ctx = EVP_MD_CTX_new();
        if (!h->ctx || hasher_reset(h) < 0) {
                hasher_free(h);
                return NULL;
        }
        return h;
}

void hasher_free(struct hasher *h)
{
        if (!h)
                return;
        EVP_MD_CTX_free(h->ctx);
        free(h);
}

int hasher_reset(struct hasher *h)
{
        h->failed = EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1;
        return h->failed ? -ENOMEM : 0;
}

void hasher_update(struct hasher *h, const void *p, size_t n)
{
        if (n && !h->failed && EVP_DigestUpdate(h->ctx, p, n) != 1)
                h->failed = true;
}

int hasher_final(struct hasher *h, struct digest *ret)
{
        *ret = (struct digest){ .alg = h->alg };
        unsigned len = 0;
        bool ok = !h->failed && EVP_DigestFinal_ex(h->ctx, ret->raw, &len) == 1 && len == algs[h->alg].raw_len;
        h->failed = true;
        return ok ? 0 : -ENOMEM;
}
