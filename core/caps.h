/* Capability names through libcap, limited to the set containerd v1.7.7
 * knows (kernel 5.9: CAP_CHOWN .. CAP_CHECKPOINT_RESTORE). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define CAPS_KNOWN 41

/* "CAP_CHOWN" ... in number order; NULL past CAPS_KNOWN. */
const char *caps_name(unsigned cap);
/* cap.Current(): the effective set of this process, known caps only. */
int caps_current(const char **ret_names, size_t *ret_n, bf_error *err);
/* Accept "net_admin", "NET_ADMIN", "cap_net_admin" or "CAP_NET_ADMIN" and give
 * the canonical "CAP_NET_ADMIN"; -EINVAL for names libcap does not know. */
int caps_canonical(const char *name, const char **ret, bf_error *err);
