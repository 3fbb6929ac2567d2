/* Macros for writing type descriptors (see model.h). */
#pragma once

#include <stddef.h>

#include "model.h"
#include "util.h"

#define JSON_KEY(key) .json_key = "\"" key "\":", .json_key_len = sizeof("\"" key "\":") - 1
#define FIELD(S, member, key, T) { .name = key, JSON_KEY(key), .type = &(T), .offset = offsetof(S, member) }
#define FIELD_OMIT(S, member, key, T) \
        { .name = key, JSON_KEY(key), .type = &(T), .offset = offsetof(S, member), .omitempty = true }

#define STRUCT_TYPE(var, goname, S, fields_)                                             \
        const struct type var = { .kind = T_STRUCT, .name = goname, .size = sizeof(S), \
                                  .fields = fields_, .nfields = ARRAY_SIZE(fields_) }
#define PTR_TYPE(var, goname, elem_) \
        const struct type var = { .kind = T_PTR, .name = goname, .size = sizeof(void *), .elem = &(elem_) }
#define SLICE_TYPE(var, goname, elem_) \
        const struct type var = { .kind = T_SLICE, .name = goname, .size = sizeof(struct slice), .elem = &(elem_) }
#define MAP_TYPE(var, goname, elem_, Entry)                                                       \
        const struct type var = { .kind = T_MAP, .name = goname, .size = sizeof(struct slice), \
                                  .elem = &(elem_), .entry_size = sizeof(Entry) }
#define NAMED_STRING(var, goname) \
        const struct type var = { .kind = T_STRING, .name = goname, .size = sizeof(char *) }
