/* Platform specifiers as containerd v1.7.7's platforms package parses them. */
#pragma once

#include <stddef.h>

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
