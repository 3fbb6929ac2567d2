/* Each container's rootfs is a real directory in the state directory,
 * bind-mounted onto <mnt>/<ns>/<id>/rootfs so that file I/O in it is native
 * and a running container keeps its root without the daemon.
 *
 * Mounts are made on first use, by a thread feeding the mount helper
 * process (mount_helper.h): a start or a mkdir mounts nothing, and a
 * container's mount is asked for when its directory or its rootfs is
 * looked up, or its config.json opened, or, right after its mkdir (whose
 * reply gives the kernel the directory without a look-up), when one of
 * its files is first looked up (rootfs_want). A look-up cannot wait for the mount (the helper's walk to
 * the mount point needs the very names being looked up, and the kernel
 * serialises look-ups of one name), so what must see the mount waits in a
 * request that holds nothing the walk needs: the open of config.json (a
 * runtime reads it before it takes the rootfs), and the attributes of the
 * rootfs itself, which the kernel asks for before it walks into it and
 * which are answered ESTALE once the mount is made, so that the kernel
 * walks again, this time into the mount (rootfs_after_mount). Until a
 * mount is there, the rootfs is served through FUSE from the same
 * directory (passthrough.h).
 *
 * A rootfs holds no descriptor: its directory is named by a file handle
 * (handles.h) and opened for each use. */
#pragma once

#include <stdbool.h>

#include "error.h"

struct handles;
struct mounts;
struct rootfs;

typedef void (*mounts_log_fn)(void *userdata, const char *msg);

/* How long a request waits for a mount being made before it is answered
 * without it. */
#define ROOTFS_WAIT_MS 1000
/* A rootfs taken off for rm -rf, or whose mount failed, is mounted again at
 * its next use once it has been unused this long. */
#define ROOTFS_REMOUNT_IDLE_MS 2000

int mounts_new(const char *mountpoint, struct handles *handles, mounts_log_fn log, void *log_userdata,
               struct mounts **ret, bf_error *err);
/* Fork the mount helper and start the threads that make mounts and end
 * waits. Call while the daemon has a single thread, once the tree is
 * mounted. */
int mounts_start(struct mounts *m, bf_error *err);
/* Stop making mounts, answer every waiting request, and take every mount
 * off (lazily where a running container holds it); the tree must still
 * be served. */
void mounts_stop(struct mounts *m);
void mounts_free(struct mounts *m);
/* Take every mount off, for umount(8) of the tree (which refuses mounts
 * below it); each comes back at its next use after a while. */
void mounts_detach_all(struct mounts *m);

/* The rootfs of container <ns>/<id>, the real directory dir (the tree
 * makes it first: store_rootfs_make). Not mounted until wanted. */
int rootfs_new(struct mounts *m, const char *dir, const char *ns, const char *id, struct rootfs **ret,
               bf_error *err);
void rootfs_unref(struct rootfs *r);
/* The container is called <ns>/<id> now (the mount moves with it). */
int rootfs_rename(struct rootfs *r, const char *ns, const char *id, bf_error *err);
/* A new descriptor of the real directory (flags as for open(2)), or a
 * negative errno. */
int rootfs_open(struct rootfs *r, int flags);
/* It is about to be used: mount it, in the background, unless it is
 * mounted, being mounted, or kept off (rm -rf, a failure) for less than
 * ROOTFS_REMOUNT_IDLE_MS. */
void rootfs_want(struct rootfs *r);
/* Is its mount being made, or made? Then done(arg, mounted) is called
 * once it is made or has failed, or after ROOTFS_WAIT_MS (mounted: whether
 * the mount is there then), from a thread of this module, or at once from
 * the caller's when it is there already, with no lock held; and true is
 * returned: the caller answers its request in done. False (not mounted,
 * nor being mounted): done is never called. */
typedef void (*rootfs_done_fn)(void *arg, bool mounted);
bool rootfs_after_mount(struct rootfs *r, rootfs_done_fn done, void *arg);
/* A request on the rootfs came through FUSE from thread tid: should it be
 * answered ESTALE, so that the kernel walks its path again, into the
 * mount? Yes if the mount is there now and was made less than
 * ROOTFS_WAIT_MS ago (the walk passed the mount point just before it was
 * made), once per thread: the walk again, or a caller in a mount
 * namespace that has no copy of the mount, is then served through FUSE. */
bool rootfs_walk_again(struct rootfs *r, int tid);
/* rm -rf reached the container's files: take the mount off (or stop it
 * being made), so rm goes on through FUSE. */
int rootfs_detach(struct rootfs *r, bf_error *err);
/* The container is gone: take the mount off for good. */
void rootfs_gone(struct rootfs *r);
/* The rootfs was used through FUSE just now. */
void rootfs_touch(struct rootfs *r);
