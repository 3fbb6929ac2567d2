/* A typed model of JSON documents, described once as tables of fields.
 *
 * Each Go struct of the runtime-spec (and of the OCI image config) has a C
 * struct and a `struct type` listing its fields: JSON key, type, offset and
 * omitempty. Generic code walks these tables to decode JSON with the rules of
 * Go's encoding/json (case-insensitive keys, unknown keys dropped, null
 * resetting pointers, slices and maps), to print it in field order with Go's
 * omitempty rules, and to deep-copy it. Values live in an arena. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "error.h"

struct json_object;

enum type_kind {
        T_STRING,       /* const char *, NULL reads as "" */
        T_BOOL,         /* bool */
        T_U16,          /* uint16_t */
        T_U32,          /* uint32_t */
        T_U64,          /* uint64_t (Go uint64 and uint) */
        T_I64,          /* int64_t (Go int64 and int) */
        T_ANY,          /* interface{}: const char * holding Go's compact re-encoding */
        T_TIME,         /* time.Time: const char *, checked as RFC 3339 */
        T_STRUCT,       /* inline struct */
        T_PTR,          /* pointer to elem, NULL = nil */
        T_SLICE,        /* struct slice of elem; v == NULL is nil, otherwise non-nil */
        T_MAP,          /* map[string]elem: struct slice of entries sorted by key */
};

struct type;

struct field {
        const char *name;           /* JSON key */
        const char *json_key;       /* "\"name\":", ready to print */
        uint32_t json_key_len;
        const struct type *type;
        uint32_t offset;
        bool omitempty;
};

struct type {
        enum type_kind kind;
        const char *name;           /* Go type name, for decoding messages */
        uint32_t size;              /* storage size of one value */
        const struct type *elem;    /* PTR, SLICE, MAP */
        const struct field *fields; /* STRUCT */
        uint32_t nfields;
        uint32_t entry_size;        /* MAP: size of one entry (key, then value at 8) */
};

/* Every slice in the model has this layout, whatever its element type. */
struct slice {
        void *v;
        size_t len;
        size_t cap;
};

#define DEFINE_SLICE(name, T) \
        typedef struct name {  \
                T *v;          \
                size_t len;    \
                size_t cap;    \
        } name

/* Map entries: the key first, the value at MAP_VALUE_OFFSET. */
#define MAP_VALUE_OFFSET 8

/* Go's == on two model strings, where NULL is the zero value "". */
static inline bool model_str_eq(const char *a, const char *b)
{
        return __builtin_strcmp(a ? a : "", b ? b : "") == 0;
}

/* A non-nil empty slice points here. */
extern char slice_empty[];

/* Room for one more element at the end; NULL when out of memory. */
void *slice_push(arena *a, void *slice, size_t elem_size);
/* Make the slice non-nil and empty (Go's []T{}). */
void slice_make_empty(void *slice);
/* Copy n elements from a static table into a fresh arena slice. */
int slice_set(arena *a, void *slice, const void *items, size_t n, size_t elem_size);
/* Remove element i, keeping order. */
void slice_remove(void *slice, size_t i, size_t elem_size);

/* Map helpers (values are pointers into the entry). */
void *map_get(const struct type *t, const void *map, const char *key);
void *map_put(arena *a, const struct type *t, void *map, const char *key);
/* Put n entries (t->entry_size bytes each, key first) into the map at once:
 * a later entry wins over an earlier one with the same key and over the
 * map's own. Sorting them once and merging keeps many keys in descending
 * order from costing a memmove each. -ENOMEM when out of memory. */
int map_put_all(arena *a, const struct type *t, void *map, const void *entries, size_t n);

/* Decode JSON into dst (which must be zeroed or hold a previous value, as
 * Go's Unmarshal merges into existing structs and maps). */
int model_decode(arena *a, const struct type *t, void *dst, struct json_object *j, bf_error *err);
/* Print v as Go's json.Marshal would (field order, omitempty, sorted maps). */
void model_encode(buf *b, const struct type *t, const void *v);
/* Deep copy of arrays and structs; strings are immutable and shared. */
int model_copy(arena *a, const struct type *t, void *dst, const void *src);

/* JSON string output with json-c's escaping (slashes left alone). */
void json_put_string(buf *b, const char *s);
/* Go's encoding of a float64, as used for numbers inside interface{} values. */
void json_put_go_float(buf *b, double f);

/* Scalar type descriptors shared by every model. */
extern const struct type type_string, type_bool, type_u16, type_u32, type_u64, type_i64,
        type_int, type_uint, type_filemode, type_any, type_time;
