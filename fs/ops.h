/* The FUSE operations: each decodes its request, makes one call to the
 * tree, an open file or the passthrough, and replies. */
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

struct mounts;
struct image_unpacks;
struct openfiles;
struct store;
struct tree;

/* The session's userdata. */
struct ops_ctx {
        struct tree *tree;
        struct openfiles *files;
        struct mounts *mounts;
        struct store *store;
        struct image_unpacks *unpacks;
};

const struct fuse_lowlevel_ops *ops_table(void);
