/* The process that makes and removes the rootfs bind mounts.
 *
 * Bind-mounting onto <mnt>/<ns>/<id>/rootfs walks the mounted tree, and every
 * step of that walk is a FUSE request this daemon must answer. A thread of
 * the daemon that waited on such a request would keep the daemon from ever
 * exiting if SIGKILL landed meanwhile: the request stays with the dead
 * worker, and the FUSE connection closes only when the daemon's last thread
 * has gone. So the walks are made by a separate process that holds no
 * /dev/fuse descriptor: killed, the daemon exits at once, its connection
 * closes, and the helper's walk fails and it exits too.
 *
 * The helper serves each request in a thread of its own: a walk may wait for
 * a directory lock that a request being served holds (an rmdir holds its
 * container's), and that request may itself be waiting for an unmount. An
 * unmount need not walk the tree: the helper keeps each mount it made open
 * and takes it off through that descriptor, wherever renames moved it. It
 * keeps at most its open-file limit less HELPER_FDS_SPARE of them; a
 * mount made beyond that, or by an earlier helper, is taken off by its
 * path (a walk through names the kernel holds, since a mount pins them). */
#pragma once

#include <sys/types.h>

#include "error.h"

/* Descriptors the helper leaves free for the requests it serves. */
#define HELPER_FDS_SPARE 64

struct mount_helper;

/* Fork the helper. Call while the daemon has a single thread (the helper
 * starts threads of its own), from the thread that lives as long as the
 * daemon (the helper dies with it). */
int mount_helper_start(struct mount_helper **ret, bf_error *err);
/* Ask the helper to exit and wait for it. */
void mount_helper_stop(struct mount_helper *h);

/* Bind-mount the directory source_fd names onto target (private
 * propagation). 0 when target shows that directory now, whether just
 * mounted or already; a negative errno otherwise. */
int mount_helper_mount(struct mount_helper *h, int source_fd, const char *target);
/* Take off the bind mount of the directory (dev, ino) (lazily: a running
 * container may hold it); target is where it was made, for a mount the
 * helper does not hold. 0 when it is off. */
int mount_helper_unmount(struct mount_helper *h, dev_t dev, ino_t ino, const char *target);
