/* The option table: every containerd v1.7.7 SpecOpts by its exported name,
 * with its argument signature and the function that applies it. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "optline.h"
#include "render.h"
#include "spec.h"

enum arg_kind {
        ARG_STRING,         /* any string */
        ARG_HOST_PATH,      /* an absolute path on the host */
        ARG_IMAGE_REF,      /* an absolute path on the host, or oci:<dir>[:tag|@digest] (oci.h) */
        ARG_U16,
        ARG_U32,
        ARG_U64,
        ARG_I64,            /* int64 and Go's int */
        ARG_ENV,            /* KEY=VALUE, or KEY to unset */
        ARG_KEY_VALUE,      /* key=value, split at the first '=' */
        ARG_PERMS,          /* cgroup device permissions, a subset of "rwm" */
        ARG_JSON_SPEC,      /* JSON object: a whole runtime spec */
        ARG_JSON_MOUNTS,    /* JSON array of mounts */
        ARG_JSON_IDMAPS,    /* JSON array of ID mappings */
        ARG_JSON_DEVICES,   /* JSON array of linux devices */
        ARG_JSON_BLOCKIO,   /* JSON object: linux.resources.blockIO */
};

#define ARGS_MAX 8
#define ARGS_VARIADIC 0xff

typedef int (*option_apply)(struct render *r, struct spec *s, const struct optline *l);

/* OPTION_READS_HOST_FILES and OPTION_SETS_ROOT_PATH say what an option reads
 * on the host beyond its arguments: rendering runs with the renderer's
 * credentials and in its mount namespace, so a caller other than the one who
 * runs the renderer must not choose these paths. */
enum option_flags {
        /* Reads the host files or device nodes its arguments name. */
        OPTION_READS_HOST_FILES = 1 << 0,
        /* Sets root.path: an absolute one is a host directory whose
         * etc/passwd and etc/group later user and group look-ups read. */
        OPTION_SETS_ROOT_PATH = 1 << 1,
        /* Replaces the whole spec: what lines before it did no longer shows. */
        OPTION_REPLACES_SPEC = 1 << 2,
        /* Applies the image config its first argument (a host path) names. */
        OPTION_APPLIES_IMAGE = 1 << 3,
};

struct option {
        const char *name;
        option_apply apply;
        unsigned flags;             /* enum option_flags */
        uint8_t min_args;
        uint8_t max_args;           /* ARGS_VARIADIC: the last kind repeats */
        enum arg_kind args[ARGS_MAX];
};

const struct option *option_find(const char *name, size_t len);
/* Does this parsed line name host paths that rendering reads: an option
 * that reads host files, or one that sets an absolute root.path? */
bool optline_uses_host_paths(const struct optline *l);
/* Does the line's option have every flag of `flags` (enum option_flags)? */
bool optline_has_flags(const struct optline *l, unsigned flags);
/* Every option, in name order (for documentation and tests). */
const struct option *option_list(size_t *ret_n);
