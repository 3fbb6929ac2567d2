/* Files named by the kernel's file handles (name_to_handle_at(2)) instead
 * of descriptors: a handle is a few bytes of memory and holds nothing
 * open; a request that needs the file opens it again from its handle
 * (open_by_handle_at(2), which takes CAP_DAC_READ_SEARCH) and closes it
 * when done. A handle names the file itself, wherever it is renamed to;
 * once the file is removed it opens that file for as long as the kernel
 * keeps its inode, then fails with ESTALE (never another file).
 *
 * open_by_handle_at needs a descriptor on the file's mount: `struct
 * handles` keeps one per mount a handle was made on (there are few: the
 * state directory's, and whatever is mounted inside a root filesystem). */
#pragma once

#include <stdbool.h>

#include "error.h"

struct handles;
struct fhandle;

int handles_new(struct handles **ret, bf_error *err);
void handles_free(struct handles *hs);

/* The handle of the file fd is open on (an O_PATH descriptor will do).
 * -EOPNOTSUPP: its filesystem has no handles, or its mount cannot be
 * reached again (a mount whose root is neither a directory nor a regular
 * file; more than HANDLES_MOUNTS_MAX mounts). */
int fhandle_of(struct handles *hs, int fd, struct fhandle **ret);
/* A new descriptor of the file; flags as for open(2) (O_PATH, O_RDONLY |
 * O_DIRECTORY, ...; O_CLOEXEC is added, a symbolic link is never
 * followed), or a negative errno (ESTALE: the file is gone). */
int fhandle_open(struct handles *hs, const struct fhandle *h, int flags);
/* Do a and b name the same file? (A file's inode number may be given to
 * a new file once it is gone; its handle is not.) */
bool fhandle_same(const struct fhandle *a, const struct fhandle *b);
void fhandle_free(struct fhandle *h);

/* Mounts whose descriptor is kept at most. */
#define HANDLES_MOUNTS_MAX 64
