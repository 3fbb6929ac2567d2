/* Content digests as the OCI image spec writes them ("sha256:<hex>",
 * "sha512:<hex>"), checked strictly, and computed with OpenSSL's libcrypto. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

enum digest_alg {
        DIGEST_SHA256,
        DIGEST_SHA512,
};

#define DIGEST_RAW_MAX 64
/* "sha512:" and 128 hex digits, and a NUL */
#define DIGEST_TEXT_MAX (7 + 2 * DIGEST_RAW_MAX + 1)

struct digest {
        enum digest_alg alg;
        unsigned char raw[DIGEST_RAW_MAX];
};

/* Parse "<alg>:<hex>": the algorithm sha256 or sha512, the hex digits
 * lowercase and exactly as many as the algorithm gives (so the text names one
 * file under blobs/<alg>/ and nothing else). EINVAL otherwise. */
int digest_parse(const char *text, struct digest *ret, bf_error *err);
/* "sha256" or "sha512" */
const char *digest_alg_name(enum digest_alg alg);
size_t digest_raw_len(enum digest_alg alg);
/* The canonical text, into out (DIGEST_TEXT_MAX bytes). */
void digest_format(const struct digest *d, char *out);
/* The hex digits alone, into out (2 * DIGEST_RAW_MAX + 1 bytes). */
void digest_hex(const struct digest *d, char *out);
bool digest_equal(const struct digest *a, const struct digest *b);

/* A running hash. */
struct hasher;
struct hasher *hasher_new(enum digest_alg alg);
void hasher_free(struct hasher *h);
/* Start again (the same algorithm). 0 or -ENOMEM. */
int hasher_reset(struct hasher *h);
void hasher_update(struct hasher *h, const void *p, size_t n);
/* The digest of everything given since the start, or -ENOMEM when libcrypto
 * failed on the way. The hasher must be reset before it is used again. */
int hasher_final(struct hasher *h, struct digest *ret);
