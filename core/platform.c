#include "platform.h"

#include <ctype.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "goconv.h"
#include "util.h"

static const char *const known_os[] = {
        "aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js",
        "linux", "nacl", "netbsd", "openbsd", "plan9", "solaris", "windows", "zos",
};

static const char *const known_arch[] = {
        "386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "ppc64", "ppc64le",
        "loong64", "mips", "mipsle", "mips64", "mips64le", "mips64p32", "mips64p32le", "ppc",
        "riscv", "riscv64", "s390", "s390x", "sparc", "sparc64", "wasm",
};

static bool in_list(const char *s, const char *const *list, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (streq(s, list[i]))
                        return true;
        return false;
}

static void lower(char *s)
{
        for (; *s; s++)
                *s = (char) tolower((unsigned char) *s);
}

/* runtime.GOARCH and the arm variant of this machine (fixed while the
 * process runs: not an input a cached rendering depends on) */
static char host_arch[80], host_variant[8], host_string[128];
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void host_init(void)
{
        struct utsname u;
        const char *arch = "amd64", *variant = "";
        if (uname(&u) == 0) {
                const char *m = u.machine;
                if (streq(m, "x86_64"))
                        arch = "amd64";
                else if (streq(m, "aarch64") || streq(m, "arm64"))
                        arch = "arm64", variant = "v8";
                else if (!strncmp(m, "armv6", 5))
                        arch = "arm", variant = "v6";
                else if (!strncmp(m, "armv7", 5) || !strncmp(m, "armv8", 5))
                        arch = "arm", variant = "v7";
                else if (m[0] == 'i' && !strcmp(m + 2, "86"))
                        arch = "386";
                else if (streq(m, "ppc64le") || streq(m, "s390x") || streq(m, "riscv64") ||
                         streq(m, "loong64") || streq(m, "mips64") || streq(m, "ppc64"))
                        arch = m;
        }
        snprintf(host_arch, sizeof(host_arch), "%s", arch);
        snprintf(host_variant, sizeof(host_variant), "%s", variant);
        if (variant[0])
                snprintf(host_string, sizeof(host_string), "linux/%s/%s", host_arch, host_variant);
        else
                snprintf(host_string, sizeof(host_string), "linux/%s", host_arch);
}

const char *platform_host(void)
{
        pthread_once(&host_once, host_init);
        return host_string;
}

static void normalize_os(char *os)
{
        lower(os);
        if (streq(os, "macos"))
                strcpy(os, "darwin");
}

static void normalize_arch(char *arch, char *variant)
{
        lower(arch);
        lower(variant);
        if (streq(arch, "i386")) {
                strcpy(arch, "386");
                variant[0] = '\0';
        } else if (streq(arch, "x86_64") || streq(arch, "x86-64") || streq(arch, "amd64")) {
                strcpy(arch, "amd64");
                if (streq(variant, "v1"))
                        variant[0] = '\0';
        } else if (streq(arch, "aarch64") || streq(arch, "arm64")) {
                strcpy(arch, "arm64");
                if (streq(variant, "8") || streq(variant, "v8"))
                        variant[0] = '\0';
        } else if (streq(arch, "armhf")) {
                strcpy(arch, "arm");
                strcpy(variant, "v7");
        } else if (streq(arch, "armel")) {
                strcpy(arch, "arm");
                strcpy(variant, "v6");
        } else if (streq(arch, "arm")) {
                if (streq(variant, "") || streq(variant, "7"))
                        strcpy(variant, "v7");
                else if (streq(variant, "5") || streq(variant, "6") || streq(variant, "8")) {
                        char v[3] = { 'v', variant[0], '\0' };
                        strcpy(variant, v);
                }
        }
}

static bool component_valid(const char *s, size_t n)
{
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && s[i] != '_' && s[i] != '-')
                        return false;
        return true;
}

int platform_parse(const char *specifier, struct platform *ret, bf_error *err)
{
        *ret = (struct platform){ 0 };
        if (strlen(specifier) >= PLATFORM_MAX)
                return bf_error_set(err, EFBIG, "platform specifier longer than %d bytes", PLATFORM_MAX - 1);
        if (strchr(specifier, '*'))
                return bf_error_set(err, EINVAL, "\"%s\": wildcards not yet supported: invalid argument", specifier);

        char parts[4][PLATFORM_MAX];
        size_t nparts = 0;
        const char *p = specifier;
        for (;;) {
                const char *slash = strchr(p, '/');
                size_t n = slash ? (size_t) (slash - p) : strlen(p);
                if (!component_valid(p, n))
                        return bf_error_set(err, EINVAL,
                                            "\"%.*s\" is an invalid component of \"%s\": platform specifier component "
                                            "must match \"^[A-Za-z0-9_-]+$\": invalid argument",
                                            (int) n, p, specifier);
                if (nparts < 4)
                        snprintf(parts[nparts], PLATFORM_MAX, "%.*s", (int) n, p);
                nparts++;
                if (!slash)
                        break;
                p = slash + 1;
        }

        pthread_once(&host_once, host_init);
        switch (nparts) {
        case 1:
                strcpy(ret->os, parts[0]);
                normalize_os(ret->os);
                if (in_list(ret->os, known_os, ARRAY_SIZE(known_os))) {
                        strcpy(ret->arch, host_arch);
                        if (streq(host_arch, "arm") && !streq(host_variant, "v7"))
                                strcpy(ret->variant, host_variant);
                        return 0;
                }
                ret->os[0] = '\0';
                strcpy(ret->arch, parts[0]);
                normalize_arch(ret->arch, ret->variant);
                if (streq(ret->arch, "arm") && streq(ret->variant, "v7"))
                        ret->variant[0] = '\0';
                if (in_list(ret->arch, known_arch, ARRAY_SIZE(known_arch))) {
                        strcpy(ret->os, "linux");
                        return 0;
                }
                *ret = (struct platform){ 0 };
                return bf_error_set(err, EINVAL, "\"%s\": unknown operating system or architecture: invalid argument",
                                    specifier);
        case 2:
                strcpy(ret->os, parts[0]);
                normalize_os(ret->os);
                strcpy(ret->arch, parts[1]);
                normalize_arch(ret->arch, ret->variant);
                if (streq(ret->arch, "arm") && streq(ret->variant, "v7"))
                        ret->variant[0] = '\0';
                return 0;
        case 3:
                strcpy(ret->os, parts[0]);
                normalize_os(ret->os);
                strcpy(ret->arch, parts[1]);
                strcpy(ret->variant, parts[2]);
                normalize_arch(ret->arch, ret->variant);
                if (streq(ret->arch, "arm64") && !ret->variant[0])
                        strcpy(ret->variant, "v8");
                return 0;
        }
        *ret = (struct platform){ 0 };
        return bf_error_set(err, EINVAL, "\"%s\": cannot parse platform specifier: invalid argument", specifier);
}

void platform_format(const struct platform *p, char *out, size_t size)
{
        if (!p->os[0]) {
                snprintf(out, size, "unknown");
                return;
        }
        /* path.Join(os, arch, variant); components never hold '/' or dots alone */
        snprintf(out, size, "%s%s%s%s%s", p->os, p->arch[0] ? "/" : "", p->arch, p->variant[0] ? "/" : "",
                 p->variant);
}

enum spec_os platform_spec_os(const struct platform *p)
{
        if (streq(p->os, "windows"))
                return SPEC_OS_WINDOWS;
        if (streq(p->os, "darwin"))
                return SPEC_OS_DARWIN;
        return SPEC_OS_UNIX;
}

void platform_normalize(struct platform *p)
{
        normalize_os(p->os);
        normalize_arch(p->arch, p->variant);
}

/* strconv.Atoi(strings.TrimPrefix(variant, "v")) */
static bool variant_number(const char *variant, int64_t *ret)
{
        const char *s = variant[0] == 'v' ? variant + 1 : variant;
        bool ok;
        *ret = go_atoi(s, strlen(s), &ok);
        return ok;
}

/* Is variant "v" + strconv.Itoa(k) for some k, normalized (so "v1" of
 * amd64 reads "")? Gives k. */
static bool variant_is_level(const char *variant, int64_t *ret)
{
        if (variant[0] != 'v' || variant[1] < '1' || variant[1] > '9')
                return false;
        int64_t k = 0;
        for (const char *s = variant + 1; *s; s++) {
                if (*s < '0' || *s > '9' || k > (INT64_MAX - 9) / 10)
                        return false;
                k = k * 10 + (*s - '0');
        }
        *ret = k;
        return true;
}

/* The place of arm/<c->variant> in the arm part of a vector that starts at
 * arm/<top>: arm/top itself, then arm/vN-1 ... arm/v5 when top is vN, N > 5.
 * -1 when it is not there. */
static int64_t arm_rank(const char *top, const struct platform *c)
{
        if (!streq(c->arch, "arm"))
                return -1;
        /* the vector's entries go through NewMatcher, which normalizes them */
        struct platform first = { .os = "", .arch = "arm" };
        snprintf(first.variant, sizeof(first.variant), "%s", top);
        normalize_arch(first.arch, first.variant);
        if (streq(c->variant, first.variant))
                return 0;
        int64_t n, k;
        if (!variant_number(top, &n) || n <= 5 || !variant_is_level(c->variant, &k))
                return -1;
        return k >= 5 && k < n ? n - k : -1;
}

int64_t platform_only_rank(const struct platform *p, const struct platform *cand)
{
        struct platform c = *cand;
        platform_normalize(&c);
        if (!streq(c.os, p->os))
                return -1;
        if (streq(c.arch, p->arch) && streq(c.variant, p->variant))
                return 0;
        int64_t n, k;
        if (streq(p->arch, "amd64")) {
                /* amd64/vN: then vN-1 ... v1 (v1 normalizes to ""), then 386 */
                bool levels = variant_number(p->variant, &n) && n > 1;
                if (!levels)
                        n = 1;
                if (streq(c.arch, "amd64")) {
                        if (!levels)
                                return -1;
                        if (!c.variant[0])
                                return n - 1;
                        return variant_is_level(c.variant, &k) && k >= 2 && k < n ? n - k : -1;
                }
                return streq(c.arch, "386") && !c.variant[0] ? n : -1;
        }
        if (streq(p->arch, "arm")) {
                int64_t r = arm_rank(p->variant, &c);
                return r > 0 ? r : -1;
        }
        if (streq(p->arch, "arm64")) {
                int64_t r = arm_rank(p->variant[0] ? p->variant : "v8", &c);
                return r >= 0 ? r + 1 : -1;
        }
        return -1;
}
