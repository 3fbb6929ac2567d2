/* Inode numbers. Everything the kernel can name (a namespace, a container
 * and its files, a file below a rootfs served through FUSE) is an object
 * holding a slot; its inode number is the slot times INO_PARTS plus a part
 * (a container's directory, files and rootfs share its slot). Numbers are
 * small and never addresses; a slot used again gets a new generation. The
 * root is inode 1. */
#pragma once

#include <stdint.h>

#include "error.h"

#define INO_PARTS 64

enum inode_kind {
        INODE_NAMESPACE = 1,
        INODE_CONTAINER,
        INODE_PASSTHROUGH,
};

/* The first member of every object that holds a slot. */
struct inode {
        enum inode_kind kind;
        uint32_t slot;
        uint32_t generation;
};

struct inodes;

int inodes_new(struct inodes **ret, bf_error *err);
void inodes_free(struct inodes *t);
/* Give obj a slot (obj->kind set by the caller). */
int inodes_add(struct inodes *t, struct inode *obj, bf_error *err);
/* obj's slot is free again (the kernel holds no reference to it). */
void inodes_remove(struct inodes *t, struct inode *obj);
/* The object in a slot the kernel holds a reference to (no lock taken:
 * such an object cannot go meanwhile), or NULL. */
struct inode *inodes_get(struct inodes *t, uint64_t ino);

static inline uint64_t inode_number(const struct inode *obj, unsigned part)
{
        return (uint64_t) obj->slot * INO_PARTS + part;
}

static inline unsigned inode_part(uint64_t ino)
{
        return (unsigned) (ino % INO_PARTS);
}
