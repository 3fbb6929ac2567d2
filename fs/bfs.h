/* The bundlefs filesystem: a tree of OCI bundles served over FUSE. */
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <stdbool.h>

#include "error.h"

struct bfs;

/* Messages for the daemon's log; the filesystem itself never prints. */
typedef void (*bfs_log_fn)(int priority, const char *msg);

/* Open the state directory and load every container. */
#define BFS_CACHE_SIZE_DEFAULT ((size_t) 16 << 20)

/* Memory for cached renderings, all containers together. */
void bfs_set_cache_size(struct bfs *fs, size_t bytes);

int bfs_new(const char *state_dir, const char *mountpoint, bfs_log_fn log, struct bfs **ret, bf_error *err);
void bfs_free(struct bfs *fs);

const struct fuse_lowlevel_ops *bfs_fuse_ops(void);

/* Once the FUSE session is mounted, from the thread that lives as long as
 * the daemon: start the mount helper process and bind-mount every
 * container's rootfs (in the background, since mounting walks the mounted
 * tree). */
int bfs_start(struct bfs *fs, bf_error *err);
/* Before the FUSE mount goes: detach every rootfs bind mount. */
void bfs_stop(struct bfs *fs);
