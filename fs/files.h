/* The files of a container directory: the filesystem's own four
 * (config.json, opts, platform, error), every control file of core/ctl.c,
 * then rootfs.image (no option: it unpacks an image into the rootfs). A
 * table, set up once by files_init. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

enum file_kind {
        FILE_CONFIG,        /* config.json */
        FILE_OPTS,
        FILE_PLATFORM,
        FILE_ERROR,
        FILE_CONTROL,       /* sugar over opts: core/ctl.h */
        FILE_ROOTFS_IMAGE,  /* rootfs.image: rootfs_image.h */
};

struct ctl;

struct file_def {
        const char *name;
        enum file_kind kind;
        mode_t mode;
        const struct ctl *ctl;  /* FILE_CONTROL */
};

/* At most this many files (inode numbers leave room for them). */
#define FILES_MAX 62

int files_init(bf_error *err);
size_t files_count(void);
const struct file_def *file_at(size_t i);
/* The file named name, or NULL. */
const struct file_def *file_find(const char *name);
size_t file_index(const struct file_def *f);
