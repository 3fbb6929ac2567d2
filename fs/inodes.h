/* Inode numbers, of two kinds.
 *
 * The kernel's (FUSE node ids): everything the kernel can name (a
 * namespace, a container and its files, a scratch file, a file below a
 * rootfs served through FUSE) is an object holding a slot; its node id is
 * the slot times INO_PARTS plus a part (a container's directory, files and
 * rootfs share its slot). They are small and never addresses; a slot used
 * again gets a new generation. The root is node 1.
 *
 * The ones stat(2) and readdir(3) show (st_ino, d_ino): stable across
 * restarts. An object with a persistent id, the inode number on the state
 * directory's file system of its own directory there (a namespace's, a
 * container's) or of itself (a file below a rootfs), shows that id times
 * INO_PARTS plus a part below INO_PARTS - 1; distinct files there have
 * distinct inode numbers, so these never meet. Anything else (a scratch
 * file, a file of another file system below a rootfs, an id too large)
 * shows its node id times INO_PARTS plus INO_PARTS - 1: unique while it
 * lives, never one of the stable ones. The root shows 1. */
#pragma once

#include <stdint.h>

#include "error.h"

#define INO_PARTS 64

enum inode_kind {
        INODE_NAMESPACE = 1,
        INODE_CONTAINER,
        INODE_PASSTHROUGH,
        INODE_SCRATCH,
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

/* Persistent ids up to this give stable numbers; a larger one (a file
 * system with huge inode numbers) is treated as none. */
#define INO_PERSISTENT_MAX (UINT64_MAX / INO_PARTS - 1)

/* The number stat shows for part `part` (< INO_PARTS - 1) of the object
 * with persistent id `persistent` (0: none), whose node id is `node`. */
static inline uint64_t inode_shown(uint64_t persistent, unsigned part, uint64_t node)
{
        if (persistent && persistent <= INO_PERSISTENT_MAX && part < INO_PARTS - 1)
                return persistent * INO_PARTS + part;
        return node * INO_PARTS + (INO_PARTS - 1);
}
