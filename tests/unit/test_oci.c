/* oci: image references and digests, parsed before anything is read. */
#include "check.h"

#include "digest.h"
#include "oci.h"
#include "util.h"

static struct oci_ref ref_ok(const char *file, int line, arena *a, const char *text)
{
        struct oci_ref r;
        bf_error err = { 0 };
        if (!CHECK_INTEQ_AT(file, line, oci_ref_parse(a, text, &r, &err), 0))
                fprintf(stderr, "    %s: %s\n", text, err.msg);
        return r;
}
#define REF_OK(a, text) ref_ok(__FILE__, __LINE__, (a), (text))

static void ref_err(const char *file, int line, const char *text, const char *msg)
{
        arena a;
        arena_init(&a, 0);
        struct oci_ref r;
        bf_error err = { 0 };
        CHECK_INTEQ_AT(file, line, oci_ref_parse(&a, text, &r, &err), -EINVAL);
        CHECK_CONTAINS_AT(file, line, err.msg, msg);
        arena_done(&a);
}
#define REF_ERR(text, msg) ref_err(__FILE__, __LINE__, (text), (msg))

TEST(a_reference_names_a_directory_and_a_tag)
{
        arena a;
        arena_init(&a, 0);
        struct oci_ref r = REF_OK(&a, "oci:/srv/images/busybox:v1");
        CHECK_STREQ(r.dir, "/srv/images/busybox");
        CHECK_STREQ(r.tag, "v1");
        r = REF_OK(&a, "oci:/srv/images/busybox");
        CHECK_STREQ(r.dir, "/srv/images/busybox");
        CHECK_STREQ(r.tag, "latest");
        r = REF_OK(&a, "oci:/srv/img/:v1");
        CHECK_STREQ(r.dir, "/srv/img");
        /* the directory ends at the first colon: the tag may hold more */
        r = REF_OK(&a, "oci:/srv/img:registry.example:5000/org/app:1.2-rc.1");
        CHECK_STREQ(r.dir, "/srv/img");
        CHECK_STREQ(r.tag, "registry.example:5000/org/app:1.2-rc.1");
        r = REF_OK(&a, "oci:/srv/img@2:v1");
        CHECK_STREQ(r.dir, "/srv/img@2");
        CHECK_STREQ(r.tag, "v1");
        r = REF_OK(&a, "oci:/srv/img:a--b__c");
        CHECK_STREQ(r.tag, "a--b__c");
        arena_done(&a);
}

TEST(a_reference_may_name_a_digest_instead)
{
        arena a;
        arena_init(&a, 0);
        const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        char text[256];
        snprintf(text, sizeof(text), "oci:/srv/img@sha256:%s", hex);
        struct oci_ref r = REF_OK(&a, text);
        CHECK_STREQ(r.dir, "/srv/img");
        CHECK(r.tag == NULL);
        CHECK_INTEQ(r.digest.alg, DIGEST_SHA256);
        char back[DIGEST_TEXT_MAX];
        digest_format(&r.digest, back);
        CHECK_STREQ(back, text + strlen("oci:/srv/img@"));
        snprintf(text, sizeof(text), "oci:/srv/img@sha512:%s%s", hex, hex);
        r = REF_OK(&a, text);
        CHECK_INTEQ(r.digest.alg, DIGEST_SHA512);
        arena_done(&a);
}

TEST(malformed_references_are_invalid)
{
        REF_ERR("docker://busybox", "does not start with \"oci:\"");
        REF_ERR("oci:", "is not absolute");
        REF_ERR("oci:images/busybox:v1", "is not absolute");
        REF_ERR("oci:/srv/img:", "invalid tag");
        REF_ERR("oci:/srv/img:.v1", "invalid tag");
        REF_ERR("oci:/srv/img:v1.", "invalid tag");
        REF_ERR("oci:/srv/img:-v1", "invalid tag");
        REF_ERR("oci:/srv/img:v1\t", "invalid tag");
        REF_ERR("oci:/srv/img:v\xc3\xa9" "1", "invalid tag");
        REF_ERR("oci:/srv/img:v 1", "invalid tag");
        REF_ERR("oci:/srv/img:v1/", "invalid tag");
        REF_ERR("oci:/srv/img@sha256:0123", "needs 64 hex digits");
        char long_tag[OCI_TAG_MAX + 32];
        memset(long_tag, 'a', sizeof(long_tag));
        memcpy(long_tag, "oci:/d:", 7);
        long_tag[7 + OCI_TAG_MAX + 1] = '\0';
        REF_ERR(long_tag, "invalid tag");
        long_tag[7 + OCI_TAG_MAX] = '\0';
        arena a;
        arena_init(&a, 0);
        REF_OK(&a, long_tag);
        arena_done(&a);
}

TEST(digests_are_strict_so_they_name_one_blob_file)
{
        struct digest d;
        bf_error err = { 0 };
        const char *hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        char text[128];
        snprintf(text, sizeof(text), "sha256:%s", hex);
        CHECK_INTEQ(digest_parse(text, &d, &err), 0);
        char back[DIGEST_TEXT_MAX], h[2 * DIGEST_RAW_MAX + 1];
        digest_format(&d, back);
        CHECK_STREQ(back, text);
        digest_hex(&d, h);
        CHECK_STREQ(h, hex);
        const char *bad[] = {
                "sha256",
                "sha256:",
                "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
                "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
                "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
                "sha256:../../../../etc/passwd/../../../../../../../../../../../../../x",
                "sha384:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "md5:d41d8cd98f00b204e9800998ecf8427e",
                "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                if (!CHECK_INTEQ(digest_parse(bad[i], &d, &err), -EINVAL))
                        fprintf(stderr, "    accepted %s\n", bad[i]);
        }
}

TEST(hashing_gives_the_known_digests)
{
        struct hasher *h = hasher_new(DIGEST_SHA256);
        CHECK(h != NULL);
        struct digest d, want;
        bf_error err = { 0 };
        CHECK_INTEQ(hasher_final(h, &d), 0);
        CHECK_INTEQ(digest_parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", &want,
                                 &err), 0);
        CHECK(digest_equal(&d, &want));
        CHECK_INTEQ(hasher_reset(h), 0);
        hasher_update(h, "ab", 2);
        hasher_update(h, "c", 1);
        CHECK_INTEQ(hasher_final(h, &d), 0);
        CHECK_INTEQ(digest_parse("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", &want,
                                 &err), 0);
        CHECK(digest_equal(&d, &want));
        hasher_free(h);
        h = hasher_new(DIGEST_SHA512);
        hasher_update(h, "abc", 3);
        CHECK_INTEQ(hasher_final(h, &d), 0);
        char text[DIGEST_TEXT_MAX];
        digest_format(&d, text);
        CHECK_STREQ(text, "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
        hasher_free(h);
}
