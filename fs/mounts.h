/* Each container's rootfs is a real directory in the state directory,
 * bind-mounted onto <mnt>/<ns>/<id>/rootfs so that file I/O in it is native
 * and a running container keeps its root without the daemon. Mounts are
 * made in the background, by a thread feeding the mount helper process
 * (mount_helper.h); until a mount is there, the rootfs is served through
 * FUSE from the same directory (passthrough.h). */
#pragma once

#include <stdbool.h>

#include "error.h"

struct mounts;
struct rootfs;

typedef void (*mounts_log_fn)(void *userdata, const char *msg);

int mounts_new(const char *mountpoint, mounts_log_fn log, void *log_userdata, struct mounts **ret,
               bf_error *err);
/* Fork the mount helper and start the thread that makes mounts. Call while
 * the daemon has a single thread, once the tree is mounted. */
int mounts_start(struct mounts *m, bf_error *err);
/* Stop making mounts and take every one off (lazily where a running
 * container holds it); the tree must still be served. */
void mounts_stop(struct mounts *m);
void mounts_free(struct mounts *m);
/* Take every mount off, for umount(8) of the tree (which refuses mounts
 * below it); each comes back once its rootfs is used again. */
void mounts_detach_all(struct mounts *m);

/* The rootfs of container <ns>/<id>, the real directory dir (made if a
 * crash left the container without one). Not mounted until queued. */
int rootfs_new(struct mounts *m, const char *dir, const char *ns, const char *id, struct rootfs **ret,
               bf_error *err);
void rootfs_unref(struct rootfs *r);
/* The container is called <ns>/<id> now (the mount moves with it). */
int rootfs_rename(struct rootfs *r, const char *ns, const char *id, bf_error *err);
/* An O_PATH descriptor of the real directory. */
int rootfs_fd(const struct rootfs *r);
/* Bind-mount it, in the background (again, if an earlier attempt failed). */
void rootfs_queue(struct rootfs *r);
/* rm -rf reached the container's files: take the mount off, so rm goes on
 * through FUSE; it comes back once the rootfs is unused for a while. */
int rootfs_detach(struct rootfs *r, bf_error *err);
/* The container is gone: take the mount off for good. */
void rootfs_gone(struct rootfs *r);
/* The rootfs was used through FUSE just now (a detached one stays off). */
void rootfs_touch(struct rootfs *r);
