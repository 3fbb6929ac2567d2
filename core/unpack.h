/* Unpacking an image's layers into an empty root filesystem, as containerd's
 * applier (archive.Apply) and umoci do: each layer in order, gzip, zstd or
 * plain tar (read with libarchive), whiteouts and opaque directories, hard
 * links, symbolic links, device nodes and FIFOs, ownership, modes, times and
 * extended attributes (security.capability included).
 *
 * Everything is created inside the root: entry names are cleaned as if
 * absolute, so ".." and "/" stop at the root; directories on the way are
 * looked up one at a time without following symbolic links, and a symbolic
 * link met on the way is resolved inside the root (openat2 RESOLVE_IN_ROOT,
 * or open_in_root_walk where the kernel lacks it); the last component is
 * never followed. Each layer is read once: its blob is hashed as it is
 * decompressed and its tar hashed as it is extracted, and checked against the
 * manifest's digest and size and the config's diff ID when it ends. Any
 * failure (a refused entry, a digest that does not match, a limit, an I/O
 * error, a cancel) empties the root again, never following symbolic links.
 *
 * unpack_image blocks for the whole unpack and takes no lock: run it on a
 * thread of its own, one per root. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct oci_image;

/* The defaults of struct unpack_limits. */
#define UNPACK_LAYERS_MAX 256
#define UNPACK_BYTES_MAX ((uint64_t) 64 << 30)          /* tar bytes of all layers, uncompressed */
#define UNPACK_ENTRIES_MAX ((uint64_t) 10 * 1000 * 1000)  /* tar entries of all layers */
/* Fixed: an entry's name and a link's target, in bytes (the kernel's PATH_MAX
 * less the NUL), and one component of a name (NAME_MAX). */
#define UNPACK_PATH_MAX 4095
#define UNPACK_NAME_MAX 255

struct unpack_limits {
        uint64_t layers;
        uint64_t bytes;
        uint64_t entries;
};

/* What has been done so far; read it from another thread at any time. */
struct unpack_progress {
        _Atomic uint64_t layer;         /* the layer being unpacked, from 1 */
        _Atomic uint64_t layers;
        _Atomic uint64_t bytes;         /* tar bytes read, all layers */
        _Atomic uint64_t entries;
};

enum unpack_flags {
        /* Skip the final syncfs (tests and benchmarks of the unpack alone). */
        UNPACK_NO_SYNC = 1 << 0,
};

struct unpack_options {
        const struct unpack_limits *limits;     /* NULL: the defaults */
        unsigned flags;                         /* enum unpack_flags */
        const atomic_bool *cancel;              /* NULL, or set by another thread to stop (ECANCELED) */
        struct unpack_progress *progress;       /* NULL, or updated as the unpack goes */
};

/* Unpack img's layers into the directory rootfd (any descriptor of it,
 * O_PATH will do). The directory must be empty (ENOTEMPTY, nothing touched).
 * On success everything written is on disk (syncfs) unless UNPACK_NO_SYNC;
 * on failure the directory is empty again and err says why:
 *   ENOTEMPTY  the root was not empty
 *   EFBIG      more layers, bytes or entries than the limits
 *   ENAMETOOLONG  an entry name or link target over UNPACK_PATH_MAX, or a
 *              component over UNPACK_NAME_MAX
 *   EINVAL     a layer or config that is refused: unsupported media type,
 *              digest or size or diff ID that does not match, a malformed
 *              tar or compressed stream, an entry that cannot be made (a
 *              whiteout naming "." or "..", a hard link to a missing file or a
 *              directory, a parent that is not a directory)
 *   ENOENT     a layer's blob is missing
 *   ECANCELED  options->cancel was set
 *   anything else: the file system's own error (ENOSPC, EIO, EPERM...). */
int unpack_image(const struct oci_image *img, int rootfd, const struct unpack_options *options, bf_error *err);

/* Remove everything inside the directory dirfd, never following symbolic
 * links (what a failed unpack does). */
int unpack_empty_dir(int dirfd, bf_error *err);
