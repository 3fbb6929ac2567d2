/* platform: containerd's platforms.Parse, Format and the default-spec switch. */
#include "check.h"

#include <sys/utsname.h>

#include "platform.h"

/* The host's runtime.GOARCH and arm variant, from platform_host(). */
static void host_parts(char *arch, char *variant)
{
        char tmp[128];
        snprintf(tmp, sizeof(tmp), "%s", platform_host());
        char *a = strchr(tmp, '/');
        char *v = a ? strchr(a + 1, '/') : NULL;
        if (v)
                *v++ = '\0';
        snprintf(arch, PLATFORM_MAX, "%s", a ? a + 1 : "");
        snprintf(variant, PLATFORM_MAX, "%s", v ? v : "");
}

#define PARSE_OK(spec, os, arch, variant) parse_ok(__FILE__, __LINE__, (spec), (os), (arch), (variant))

static void parse_ok(const char *file, int line, const char *spec, const char *os, const char *arch,
                     const char *variant)
{
        struct platform p;
        bf_error err = { 0 };
        int r = platform_parse(spec, &p, &err);
        if (!CHECK_INTEQ_AT(file, line, r, 0)) {
                fprintf(stderr, "    platform \"%s\": %s\n", spec, err.msg);
                return;
        }
        CHECK_STREQ_AT(file, line, p.os, os);
        CHECK_STREQ_AT(file, line, p.arch, arch);
        CHECK_STREQ_AT(file, line, p.variant, variant);
}

#define PARSE_ERR(spec, code, msg) parse_err(__FILE__, __LINE__, (spec), (code), (msg))

static void parse_err(const char *file, int line, const char *spec, int code, const char *msg)
{
        struct platform p;
        bf_error err = { 0 };
        int r = platform_parse(spec, &p, &err);
        CHECK_INTEQ_AT(file, line, r, -code);
        CHECK_INTEQ_AT(file, line, err.code, code);
        if (msg)
                CHECK_STREQ_AT(file, line, err.msg, msg);
}

TEST(host_platform_is_linux_with_the_machine_architecture)
{
        struct utsname u;
        CHECK(uname(&u) == 0);
        const char *h = platform_host();
        CHECK(strncmp(h, "linux/", 6) == 0);
        if (strcmp(u.machine, "x86_64") == 0)
                CHECK_STREQ(h, "linux/amd64");
        else if (strcmp(u.machine, "aarch64") == 0)
                CHECK_STREQ(h, "linux/arm64/v8");
        /* the host string parses back to itself */
        struct platform p;
        bf_error err = { 0 };
        CHECK(platform_parse(h, &p, &err) == 0);
        char out[3 * PLATFORM_MAX];
        platform_format(&p, out, sizeof(out));
        CHECK_STREQ(out, h);
}

TEST(a_known_os_alone_gets_the_host_architecture)
{
        char arch[PLATFORM_MAX], variant[PLATFORM_MAX];
        host_parts(arch, variant);
        /* Only arm hosts other than v7 keep their variant. */
        const char *want_variant = strcmp(arch, "arm") == 0 && strcmp(variant, "v7") != 0 ? variant : "";
        PARSE_OK("linux", "linux", arch, want_variant);
        PARSE_OK("windows", "windows", arch, want_variant);
        PARSE_OK("darwin", "darwin", arch, want_variant);
        PARSE_OK("macos", "darwin", arch, want_variant);
        PARSE_OK("MacOS", "darwin", arch, want_variant);
        PARSE_OK("LINUX", "linux", arch, want_variant);
        PARSE_OK("freebsd", "freebsd", arch, want_variant);
        PARSE_OK("zos", "zos", arch, want_variant);
}

TEST(an_architecture_alone_means_linux)
{
        PARSE_OK("amd64", "linux", "amd64", "");
        PARSE_OK("x86_64", "linux", "amd64", "");
        PARSE_OK("x86-64", "linux", "amd64", "");
        PARSE_OK("AMD64", "linux", "amd64", "");
        PARSE_OK("i386", "linux", "386", "");
        PARSE_OK("386", "linux", "386", "");
        PARSE_OK("aarch64", "linux", "arm64", "");
        PARSE_OK("arm64", "linux", "arm64", "");
        PARSE_OK("arm", "linux", "arm", "");
        PARSE_OK("armhf", "linux", "arm", "");
        PARSE_OK("armel", "linux", "arm", "v6");
        PARSE_OK("ppc64le", "linux", "ppc64le", "");
        PARSE_OK("s390x", "linux", "s390x", "");
        PARSE_OK("riscv64", "linux", "riscv64", "");
        PARSE_OK("wasm", "linux", "wasm", "");
}

TEST(a_word_that_is_neither_os_nor_arch_is_refused)
{
        PARSE_ERR("foo", EINVAL, "\"foo\": unknown operating system or architecture: invalid argument");
        PARSE_ERR("x86", EINVAL, "\"x86\": unknown operating system or architecture: invalid argument");
        PARSE_ERR("armv7", EINVAL, NULL);
}

TEST(os_and_arch_pairs_are_normalised)
{
        PARSE_OK("linux/amd64", "linux", "amd64", "");
        PARSE_OK("Linux/AMD64", "linux", "amd64", "");
        PARSE_OK("linux/x86_64", "linux", "amd64", "");
        PARSE_OK("linux/aarch64", "linux", "arm64", "");
        PARSE_OK("linux/arm64", "linux", "arm64", "");
        PARSE_OK("linux/arm", "linux", "arm", "");
        PARSE_OK("linux/armhf", "linux", "arm", "");
        PARSE_OK("linux/armel", "linux", "arm", "v6");
        PARSE_OK("linux/i386", "linux", "386", "");
        PARSE_OK("windows/amd64", "windows", "amd64", "");
        PARSE_OK("macos/arm64", "darwin", "arm64", "");
        /* two parts: neither component needs to be known */
        PARSE_OK("plan10/amd64", "plan10", "amd64", "");
        PARSE_OK("linux/foo", "linux", "foo", "");
        PARSE_OK("Foo_Bar/Baz-9", "foo_bar", "baz-9", "");
}

TEST(three_part_specifiers_normalise_the_variant)
{
        PARSE_OK("linux/arm64/v8", "linux", "arm64", "v8");
        PARSE_OK("linux/arm64/8", "linux", "arm64", "v8");
        PARSE_OK("linux/aarch64/v8", "linux", "arm64", "v8");
        PARSE_OK("linux/arm64/V8", "linux", "arm64", "v8");
        PARSE_OK("linux/arm64/v9", "linux", "arm64", "v9");
        PARSE_OK("linux/arm/v7", "linux", "arm", "v7");
        PARSE_OK("linux/arm/7", "linux", "arm", "v7");
        PARSE_OK("linux/arm/5", "linux", "arm", "v5");
        PARSE_OK("linux/arm/6", "linux", "arm", "v6");
        PARSE_OK("linux/arm/8", "linux", "arm", "v8");
        PARSE_OK("linux/arm/V6", "linux", "arm", "v6");
        PARSE_OK("linux/arm/v9", "linux", "arm", "v9");
        PARSE_OK("linux/armhf/v6", "linux", "arm", "v7");
        PARSE_OK("linux/armel/v7", "linux", "arm", "v6");
        PARSE_OK("linux/amd64/v1", "linux", "amd64", "");
        PARSE_OK("linux/amd64/v2", "linux", "amd64", "v2");
        PARSE_OK("linux/x86_64/V3", "linux", "amd64", "v3");
        PARSE_OK("linux/i386/foo", "linux", "386", "");
        PARSE_OK("linux/ppc64le/power9", "linux", "ppc64le", "power9");
}

TEST(malformed_specifiers_are_refused_with_go_messages)
{
        PARSE_ERR("linux/amd64/v7/extra", EINVAL,
                  "\"linux/amd64/v7/extra\": cannot parse platform specifier: invalid argument");
        PARSE_ERR("a/b/c/d/e", EINVAL, "\"a/b/c/d/e\": cannot parse platform specifier: invalid argument");
        PARSE_ERR("linux/*", EINVAL, "\"linux/*\": wildcards not yet supported: invalid argument");
        PARSE_ERR("*", EINVAL, "\"*\": wildcards not yet supported: invalid argument");
        PARSE_ERR("linux/", EINVAL,
                  "\"\" is an invalid component of \"linux/\": platform specifier component must match "
                  "\"^[A-Za-z0-9_-]+$\": invalid argument");
        PARSE_ERR("", EINVAL,
                  "\"\" is an invalid component of \"\": platform specifier component must match "
                  "\"^[A-Za-z0-9_-]+$\": invalid argument");
        PARSE_ERR("linux/am d64", EINVAL,
                  "\"am d64\" is an invalid component of \"linux/am d64\": platform specifier component must "
                  "match \"^[A-Za-z0-9_-]+$\": invalid argument");
        PARSE_ERR("linux/amd64.v2", EINVAL, NULL);
        PARSE_ERR("/linux", EINVAL, NULL);
        PARSE_ERR("linux//amd64", EINVAL, NULL);
        PARSE_ERR("l\xc3\xadnux/amd64", EINVAL, NULL);
        /* the component check comes before the count of parts */
        PARSE_ERR("a/b/c/d/", EINVAL,
                  "\"\" is an invalid component of \"a/b/c/d/\": platform specifier component must match "
                  "\"^[A-Za-z0-9_-]+$\": invalid argument");
}

TEST(a_refused_specifier_leaves_an_empty_platform)
{
        struct platform p;
        bf_error err = { 0 };
        memset(&p, 'x', sizeof(p));
        CHECK(platform_parse("foo", &p, &err) < 0);
        CHECK_STREQ(p.os, "");
        CHECK_STREQ(p.arch, "");
        CHECK_STREQ(p.variant, "");
}

TEST(an_overlong_specifier_is_too_big)
{
        char spec[PLATFORM_MAX + 10];
        memset(spec, 'a', sizeof(spec) - 1);
        spec[sizeof(spec) - 1] = '\0';
        PARSE_ERR(spec, EFBIG, NULL);
}

#define FORMAT_CHECK(spec, want)                                                \
        do {                                                                    \
                struct platform p_;                                             \
                bf_error err_ = { 0 };                                          \
                char out_[3 * PLATFORM_MAX + 3];                                \
                CHECK(platform_parse((spec), &p_, &err_) == 0);                 \
                platform_format(&p_, out_, sizeof(out_));                       \
                CHECK_STREQ(out_, want);                                        \
        } while (0)

TEST(format_joins_os_arch_and_variant)
{
        FORMAT_CHECK("Linux/AMD64", "linux/amd64");
        FORMAT_CHECK("linux/arm64/8", "linux/arm64/v8");
        FORMAT_CHECK("linux/aarch64", "linux/arm64");
        FORMAT_CHECK("linux/armhf", "linux/arm");
        FORMAT_CHECK("linux/arm/7", "linux/arm/v7");
        FORMAT_CHECK("armel", "linux/arm/v6");
        FORMAT_CHECK("windows/amd64", "windows/amd64");
        FORMAT_CHECK("linux/amd64/v1", "linux/amd64");

        char out[64];
        struct platform empty = { 0 };
        platform_format(&empty, out, sizeof(out));
        CHECK_STREQ(out, "unknown");
        struct platform os_only = { .os = "linux" };
        platform_format(&os_only, out, sizeof(out));
        CHECK_STREQ(out, "linux");
        struct platform small = { .os = "linux", .arch = "amd64" };
        platform_format(&small, out, 8);
        CHECK_STREQ(out, "linux/a");
}

#define SPEC_OS_CHECK(spec, want)                                               \
        do {                                                                    \
                struct platform p_;                                             \
                bf_error err_ = { 0 };                                          \
                CHECK(platform_parse((spec), &p_, &err_) == 0);                 \
                CHECK_INTEQ(platform_spec_os(&p_), want);                       \
        } while (0)

TEST(the_default_spec_depends_on_the_os_only)
{
        SPEC_OS_CHECK("linux/amd64", SPEC_OS_UNIX);
        SPEC_OS_CHECK("windows/amd64", SPEC_OS_WINDOWS);
        SPEC_OS_CHECK("Windows/arm64", SPEC_OS_WINDOWS);
        SPEC_OS_CHECK("windows", SPEC_OS_WINDOWS);
        SPEC_OS_CHECK("darwin/arm64", SPEC_OS_DARWIN);
        SPEC_OS_CHECK("macos", SPEC_OS_DARWIN);
        SPEC_OS_CHECK("freebsd/amd64", SPEC_OS_UNIX);
        SPEC_OS_CHECK("solaris/amd64", SPEC_OS_UNIX);
        SPEC_OS_CHECK("plan10/amd64", SPEC_OS_UNIX);
        SPEC_OS_CHECK("amd64", SPEC_OS_UNIX);
}

/* ---- platforms.Only(p): what an image index may give p, best first ---- */

#define RANK(p, c, want) rank_is(__FILE__, __LINE__, (p), (c), (want))

static void rank_is(const char *file, int line, const char *p, const char *c, int64_t want)
{
        struct platform pp, cp;
        bf_error err = { 0 };
        CHECK_INTEQ_AT(file, line, platform_parse(p, &pp, &err), 0);
        platform_normalize(&pp);
        /* candidates are taken as an image index writes them: os/arch/variant as given */
        cp = (struct platform){ 0 };
        char tmp[3 * PLATFORM_MAX];
        snprintf(tmp, sizeof(tmp), "%s", c);
        char *arch = strchr(tmp, '/'), *variant = arch ? strchr(arch + 1, '/') : NULL;
        if (arch)
                *arch++ = '\0';
        if (variant)
                *variant++ = '\0';
        snprintf(cp.os, sizeof(cp.os), "%.200s", tmp);
        snprintf(cp.arch, sizeof(cp.arch), "%.200s", arch ? arch : "");
        snprintf(cp.variant, sizeof(cp.variant), "%.200s", variant ? variant : "");
        if (!CHECK_INTEQ_AT(file, line, platform_only_rank(&pp, &cp), want))
                fprintf(stderr, "    Only(%s) against %s\n", p, c);
}

TEST(only_matches_the_platform_itself_first)
{
        RANK("linux/amd64", "linux/amd64", 0);
        RANK("linux/amd64", "Linux/x86_64", 0);
        RANK("linux/arm64", "linux/aarch64/v8", 0);
        RANK("linux/arm/v7", "linux/arm", 0);
        RANK("linux/s390x", "linux/s390x", 0);
        RANK("windows/amd64", "windows/amd64", 0);
}

TEST(only_amd64_then_its_lower_levels_then_386)
{
        RANK("linux/amd64", "linux/386", 1);
        RANK("linux/amd64", "linux/i386", 1);
        RANK("linux/amd64", "linux/amd64/v2", -1);
        RANK("linux/amd64/v3", "linux/amd64/v2", 1);
        RANK("linux/amd64/v3", "linux/amd64", 2);
        RANK("linux/amd64/v3", "linux/amd64/v1", 2);
        RANK("linux/amd64/v3", "linux/386", 3);
        RANK("linux/amd64/v3", "linux/amd64/v4", -1);
        RANK("linux/386", "linux/amd64", -1);
}

TEST(only_arm_falls_back_to_lower_variants_down_to_v5)
{
        RANK("linux/arm/v7", "linux/arm/v6", 1);
        RANK("linux/arm/v7", "linux/armel", 1);
        RANK("linux/arm/v7", "linux/arm/v5", 2);
        RANK("linux/arm/v7", "linux/arm/v8", -1);
        RANK("linux/arm/v6", "linux/arm/v7", -1);
        RANK("linux/arm/v5", "linux/arm/v5", 0);
        RANK("linux/arm/v5", "linux/arm/v4", -1);
        RANK("linux/arm/v8", "linux/arm/v7", 1);
}

TEST(only_arm64_falls_back_to_arm_v8_then_lower)
{
        RANK("linux/arm64", "linux/arm/v8", 1);
        RANK("linux/arm64", "linux/arm/v7", 2);
        RANK("linux/arm64", "linux/armhf", 2);
        RANK("linux/arm64", "linux/arm", 2);
        RANK("linux/arm64", "linux/arm/v6", 3);
        RANK("linux/arm64", "linux/arm/v5", 4);
        RANK("linux/arm64/v8", "linux/arm/v7", 2);
        RANK("linux/arm64", "linux/amd64", -1);
}

TEST(only_never_matches_another_os)
{
        RANK("linux/amd64", "windows/amd64", -1);
        RANK("windows/amd64", "linux/amd64", -1);
        RANK("linux/arm64", "darwin/arm64", -1);
        RANK("linux/amd64", "MacOS/amd64", -1);
        RANK("darwin/amd64", "MacOS/amd64", 0);
}
