/* The rootfs.image file: `echo oci:/srv/img:v1 > rootfs.image` unpacks that
 * image's layers (core/unpack.h) into the container's rootfs, which must be
 * empty. The write returns once the unpack is done and durable, yet no FUSE
 * thread waits for it: it is answered from the thread that unpacks, one of a
 * few (more unpacks wait their turn). A read shows the progress, then the
 * reference unpacked. It is no option: nothing of it is in opts.
 *
 * That an unpack started, and which image it unpacked, is kept in an
 * extended attribute of the rootfs directory, made durable before the unpack
 * starts and once it is: a rootfs a crash left half unpacked is emptied when
 * the tree is loaded again. */
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "error.h"

struct container;
struct content;
struct image_unpacks;

/* Unpacks at once: half the processors, at least one, at most this many. */
#define UNPACKS_MAX 4
/* A reference written to rootfs.image: at most this many bytes. */
#define ROOTFS_IMAGE_REF_MAX 4096

/* The unpacks of a tree. owner is the mount's owner: with root, the only
 * one who may name a host directory, as an image layout is. */
int image_unpacks_new(uid_t owner, struct image_unpacks **ret, bf_error *err);
/* Cancel every unpack (each rootfs is left empty), answer its write, and
 * wait until all are gone; later writes are refused. Call while the FUSE
 * session still exists (the writes are answered). Again: nothing to do. */
void image_unpacks_stop(struct image_unpacks *u);
void image_unpacks_free(struct image_unpacks *u);

/* A write(2) to c's rootfs.image through a file uid opener opened. It is
 * answered: at once when refused, else once the unpack has ended. */
void rootfs_image_write(struct image_unpacks *u, fuse_req_t req, struct container *c, uid_t opener,
                        const char *data, size_t size);
/* An open of c's rootfs.image: for writing, EBUSY while an image is being
 * unpacked into the rootfs; ret (NULL: not for reading) gets what a read
 * shows. */
int rootfs_image_open(struct container *c, bool writing, struct content **ret, bf_error *err);
/* The size of what a read shows now, and when it last changed. */
int rootfs_image_stat(struct container *c, size_t *ret_size, struct timespec *ret_mtime);

/* While a tree is loaded: undo an unpack into the rootfs directory dir that
 * a crash cut short (everything in dir is removed). 1 when there was one
 * (ret_ref: its reference, cut to ref_size), 0 when there was none. */
int rootfs_image_recover(const char *dir, char *ret_ref, size_t ref_size, bf_error *err);
