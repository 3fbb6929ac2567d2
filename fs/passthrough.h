/* A container's rootfs served through FUSE, for the times its bind mount
 * is not there: the instant after mkdir (the mount can only be made once
 * mkdir has returned), while rm -rf removes a container, after umount(8)
 * took the mounts off, and for a process that entered before the mount.
 * Each request is done on the real directory, as libfuse's passthrough_ll
 * example does. Each function answers the request itself.
 *
 * A node (a file the kernel has looked up below a rootfs) holds no
 * descriptor: it is named by its file handle (handles.h) and opened for
 * each request. Only a file on a filesystem without handles keeps an
 * O_PATH descriptor, counted as an open file. Since the kernel keeps what
 * it looked up for as long as it likes, what a user makes it keep is
 * limited: nodes per uid, and files open through the passthrough per uid
 * and for all users together; root and the mount's owner are not limited
 * (see PT_NODES_PER_UID). */
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <stdbool.h>

#include "error.h"

struct handles;
struct inodes;
struct passthroughs;    /* what every rootfs shares: the limits and their counts */
struct passthrough;     /* one container's rootfs: the nodes the kernel holds below it */
struct pt_node;
struct rootfs;

/* Nodes the look-ups of one uid (other than root and the mount's owner)
 * may make the kernel keep, in all rootfs together; more: ENFILE. */
#define PT_NODES_PER_UID 16384
/* Files (and directories) open through the passthrough: one uid (other
 * than root and the owner) at most an eighth of the daemon's open-file
 * limit, all such uids together at most half of it; more: EMFILE. */
#define PT_FILES_UID_SHARE 8
#define PT_FILES_ALL_SHARE 2

/* nofile: the daemon's open-file limit; owner: the mount's owner. */
int passthroughs_new(struct handles *handles, uid_t owner, unsigned long nofile, struct passthroughs **ret,
                     bf_error *err);
void passthroughs_free(struct passthroughs *pts);

/* Files on state_dev (the state directory's file system) show stable
 * inode numbers (inodes.h). */
int passthrough_new(struct passthroughs *pts, struct inodes *inodes, dev_t state_dev, struct rootfs *rootfs,
                    void *owner, struct passthrough **ret, bf_error *err);
/* Frees every node too (the kernel forgot them, or the daemon stops). */
void passthrough_free(struct passthrough *p);
/* Does the kernel hold any node below the rootfs? */
bool passthrough_busy(struct passthrough *p);

/* What a request names: the rootfs directory itself (node NULL, ino its
 * number) or a node below it. */
struct pt_at {
        struct passthrough *p;
        struct pt_node *node;
        fuse_ino_t ino;
};

/* A node's passthrough, and the owner given to passthrough_new. */
struct passthrough *pt_node_passthrough(struct pt_node *n);
void *passthrough_owner(struct passthrough *p);
/* The kernel forgot count references to n (it may be freed). */
void pt_forget(struct pt_node *n, uint64_t count);

int pt_stat(const struct pt_at *at, struct stat *st);
void pt_lookup(fuse_req_t req, const struct pt_at *parent, const char *name);
void pt_getattr(fuse_req_t req, const struct pt_at *at, struct fuse_file_info *fi);
void pt_setattr(fuse_req_t req, const struct pt_at *at, struct stat *attr, int to_set, struct fuse_file_info *fi);
void pt_readlink(fuse_req_t req, const struct pt_at *at);
void pt_mknod(fuse_req_t req, const struct pt_at *parent, const char *name, mode_t mode, dev_t rdev);
void pt_mkdir(fuse_req_t req, const struct pt_at *parent, const char *name, mode_t mode);
void pt_symlink(fuse_req_t req, const char *link, const struct pt_at *parent, const char *name);
void pt_link(fuse_req_t req, const struct pt_at *at, const struct pt_at *newparent, const char *newname);
void pt_unlink(fuse_req_t req, const struct pt_at *parent, const char *name, bool dir);
void pt_rename(fuse_req_t req, const struct pt_at *parent, const char *name, const struct pt_at *newparent,
               const char *newname, unsigned flags);
void pt_open(fuse_req_t req, const struct pt_at *at, struct fuse_file_info *fi);
void pt_create(fuse_req_t req, const struct pt_at *parent, const char *name, mode_t mode, struct fuse_file_info *fi);
void pt_read(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi);
void pt_write(fuse_req_t req, const char *data, size_t size, off_t off, struct fuse_file_info *fi);
void pt_flush(fuse_req_t req, struct fuse_file_info *fi);
void pt_release(fuse_req_t req, struct fuse_file_info *fi);
void pt_fsync(fuse_req_t req, int datasync, struct fuse_file_info *fi);
void pt_opendir(fuse_req_t req, const struct pt_at *at, struct fuse_file_info *fi);
void pt_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi);
void pt_releasedir(fuse_req_t req, struct fuse_file_info *fi);
void pt_statfs(fuse_req_t req, const struct pt_at *at);
void pt_getxattr(fuse_req_t req, const struct pt_at *at, const char *name, size_t size);
void pt_listxattr(fuse_req_t req, const struct pt_at *at, size_t size);
void pt_setxattr(fuse_req_t req, const struct pt_at *at, const char *name, const char *value, size_t size, int flags);
void pt_removexattr(fuse_req_t req, const struct pt_at *at, const char *name);
