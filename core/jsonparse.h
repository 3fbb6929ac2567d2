/* JSON input as Go's encoding/json reads it, parsed by json-c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

struct json_object;

#define JSON_DEPTH_MAX 64

/* Parse one JSON document: strict syntax (json-c's strict mode, plus the
 * number grammar json-c lets through: no NaN or Infinity, no "1." or
 * "-.5"), nothing but white space after it. Integers that do not fit 64
 * bits are read as floating point, as Go reads them into interface{} (and
 * refuses them for integer fields). "null" gives *ret = NULL.
 * utf8_only: refuse invalid UTF-8 (option lines) rather than keep it. */
int json_parse_go(const char *data, size_t n, bool utf8_only, struct json_object **ret, bf_error *err);
