/* /etc/passwd and /etc/group of a container's root filesystem, parsed with
 * the quirks of runc's libcontainer/user (which containerd uses): passwd
 * lines are trimmed but comments are not skipped, group lines skip comments,
 * numbers that do not parse count as 0. Every byte but the separators is
 * data, NUL included: names are spans, and a name holding a NUL matches
 * only the same bytes (never a shorter name). Files are opened inside the
 * root (openat2 RESOLVE_IN_ROOT), so symlinks cannot lead out of it. */
#pragma once

#include <stdint.h>

#include "files.h"
#include "render.h"
#include "spec.h"

struct pw_user {
        struct span name;
        int64_t uid;
        int64_t gid;
};
DEFINE_SLICE(user_slice, struct pw_user);

struct gr_group {
        struct span name;
        int64_t gid;
        span_slice members;     /* nil without a members field, [] for an empty one */
};
DEFINE_SLICE(group_slice, struct gr_group);

/* The root look-ups read from: root.path when it is absolute, else the
 * bundle's rootfs. Returns an O_PATH directory fd; ret_name gets its path. */
int lookup_root_open(struct render *r, const struct spec *s, int *ret_fd, const char **ret_name);

/* Read and parse <root>/etc/passwd or /etc/group. A missing file gives
 * -ENOENT with Go's "open <path>: no such file or directory". */
int passwd_read(struct render *r, int rootfd, const char *root_name, user_slice *ret);
int group_read(struct render *r, int rootfd, const char *root_name, group_slice *ret);

/* An O_PATH fd of rel resolved inside rootfd as a chroot would (openat2
 * RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, or open_in_root_walk where the
 * kernel lacks openat2), or -errno. Reading a file in a root and checking it
 * later (deps.c) both resolve with this. */
int open_in_root(int rootfd, const char *rel);

/* openat2(RESOLVE_IN_ROOT) done by hand, for systems without openat2: an
 * O_PATH fd of path resolved inside rootfd, or -errno. */
int open_in_root_walk(int rootfd, const char *path);

int passwd_parse(arena *a, const char *data, size_t n, user_slice *ret, bf_error *err);
int group_parse(arena *a, const char *data, size_t n, group_slice *ret, bf_error *err);
