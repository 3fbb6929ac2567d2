/* Platform specifiers as containerd v1.7.7's platforms package parses them. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define PLATFORM_MAX 256

struct platform {
        char os[PLATFORM_MAX];
        char arch[PLATFORM_MAX];
        char variant[PLATFORM_MAX];
};

/* Which default spec a platform gets (containerd switches on the OS only). */
enum spec_os {
        SPEC_OS_UNIX,
        SPEC_OS_WINDOWS,
        SPEC_OS_DARWIN,
};

/* platforms.Parse: normalised OS, architecture and variant. */
int platform_parse(const char *specifier, struct platform *ret, bf_error *err);
/* platforms.Format: "os/arch[/variant]". */
void platform_format(const struct platform *p, char *out, size_t size);
enum spec_os platform_spec_os(const struct platform *p);
/* platforms.DefaultString() of this host, e.g. "linux/amd64". */
const char *platform_host(void);

/* platforms.Normalize: OS and architecture names as platform_parse leaves
 * them (x86_64 is amd64, aarch64 arm64, arm's variant v7 by default...). */
void platform_normalize(struct platform *p);

/* platforms.Only(p) as a match comparer: p (normalized) matches candidate c
 * (normalized here) when c is p or one of the platforms p can also run, in
 * containerd v1.7.7's order: amd64/vN then amd64/vN-1 ... amd64 then 386;
 * arm/vN then arm/vN-1 ... arm/v5; arm64 then arm/v8 ... arm/v5. Returns the
 * rank of c in that order (0 for p itself), or -1 when c does not match.
 * Only OS, architecture and variant count, as in containerd. */
int64_t platform_only_rank(const struct platform *p, const struct platform *c);
