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
 * unmount never walks the tree: the helper keeps each mount it made open
 * and takes it off through that descriptor, wherever renames moved it. */
#pragma once

#include "error.h"

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
/* Take off the bind mount of the directory source_fd names (lazily: a
 * running container may hold it); target is where it was made, for a mount
 * the helper no longer holds. 0 when it is off. */
int mount_helper_unmount(struct mount_helper *h, int source_fd, const char *target);
