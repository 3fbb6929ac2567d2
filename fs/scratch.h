/* Scratch files: what a program makes inside a container directory beside
 * the container's own files: sed -i's, perl -i's and rsync's temporary
 * files, an editor's lock (a symbolic link), a file saved with mkstemp and
 * renamed. They are the tree's (lifecycle.c names them; renaming one onto
 * a control file, opts or platform commits its content as one value),
 * kept in memory only: never rendered, gone after a restart, and bounded.
 * This module holds one's bytes and attributes; every function takes its
 * own lock. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

#include "error.h"

/* Bytes one scratch file holds; more: EFBIG. */
#define SCRATCH_FILE_MAX ((size_t) 16 << 20)
/* Bytes all scratch files hold together; more: ENOSPC. */
#define SCRATCH_BYTES_MAX ((size_t) 64 << 20)
/* Scratch files in one container directory; more: ENOSPC. */
#define SCRATCH_DIR_MAX 64
/* Bytes of a symbolic link's target (PATH_MAX). */
#define SCRATCH_LINK_MAX 4095

struct scratch;
struct scratch_pool;    /* the limit on all scratch files' bytes */

int scratch_pool_new(struct scratch_pool **ret, bf_error *err);
void scratch_pool_free(struct scratch_pool *pool);

/* A new empty regular file (link NULL) or a symbolic link to link, with
 * mode's permission bits, owned by uid:gid. One reference. */
int scratch_new(struct scratch_pool *pool, mode_t mode, uid_t uid, gid_t gid, const char *link,
                struct scratch **ret, bf_error *err);
struct scratch *scratch_ref(struct scratch *s);
void scratch_unref(struct scratch *s);

/* Its attributes (st_ino is the caller's to set). */
void scratch_stat(struct scratch *s, struct stat *ret);
/* Change mode, owner, size or times: FUSE_SET_ATTR_* bits of to_set, as
 * setattr gives them (the kernel has checked the caller's rights). */
int scratch_setattr(struct scratch *s, const struct stat *attr, int to_set);
/* The symbolic link's target, or NULL for a regular file. */
const char *scratch_link(const struct scratch *s);

/* read(2) of size bytes at off into out: ret_len bytes read. */
void scratch_read(struct scratch *s, off_t off, size_t size, char *out, size_t *ret_len);
/* write(2) of size bytes at off (append: at the end); a hole reads as
 * zeros. EFBIG past SCRATCH_FILE_MAX, ENOSPC past SCRATCH_BYTES_MAX. */
int scratch_write(struct scratch *s, off_t off, bool append, const char *data, size_t size);
/* A copy of the whole content (malloc'd, NUL-terminated). */
int scratch_content(struct scratch *s, char **ret, size_t *ret_len);
