/* The FUSE operations: each decodes its request, makes one call to the
 * tree, an open file or the passthrough, and replies. */
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

struct mounts;
struct image_unpacks;
struct open_dirs;
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
        struct open_dirs *dirs;
};

/* The listings of directories the kernel holds open: those it never
 * releases (the session may end first) go with the set. */
int open_dirs_new(struct open_dirs **ret);
void open_dirs_free(struct open_dirs *dirs);

const struct fuse_lowlevel_ops *ops_table(void);
