/* containerd's identifiers: the names of namespaces and containers. */
#pragma once

#include <stdbool.h>

#include "error.h"

#define IDENTIFIER_MAX 76

/* containerd's rule: ^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*$, at most 76 bytes. */
bool identifier_valid(const char *name);

/* namespaces.NamespaceRequired: 0, or -EINVAL with containerd's message
 * ("namespace is required: ..." for "", "namespace validation: ..."). */
int namespace_required(const char *ns, bf_error *err);
