/* The bundlefs filesystem: a tree of OCI bundles served over FUSE. */
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <stdbool.h>

#include "error.h"

struct bfs;

/* Messages for the daemon's log; the filesystem itself never prints. */
typedef void (*bfs_log_fn)(int priority, const char *msg);

#define BFS_CACHE_SIZE_DEFAULT ((size_t) 16 << 20)

/* Open the state directory and load every container. max_memory bounds
 * the memory option lists hold, all containers together (a quarter of it
 * one container's list; 0: no bound): a write that would pass it is
 * refused, a list that does not fit when loading is served as not loaded
 * (EIO, `error` says why). */
int bfs_new(const char *state_dir, const char *mountpoint, size_t max_memory, bfs_log_fn log, struct bfs **ret,
            bf_error *err);
void bfs_free(struct bfs *fs);
/* Memory for cached renderings, all containers together. */
void bfs_set_cache_size(struct bfs *fs, size_t bytes);

/* The FUSE session serving fs. */
struct fuse_session *bfs_session_new(struct bfs *fs, struct fuse_args *args);

/* Once the FUSE session is mounted, while the daemon has a single thread
 * and from the thread that lives as long as it: start the mount helper
 * process. Each container's rootfs is bind-mounted at its first use. */
int bfs_start(struct bfs *fs, bf_error *err);
/* Before the FUSE mount goes, while it still serves: cancel the unpacks
 * under way (rootfs.image) and take every rootfs bind mount off. */
void bfs_stop(struct bfs *fs);
