/* The outside inputs a rendering read (host files, files in a root
 * filesystem, device nodes), each with what stat said of it, so that a cached
 * rendering can later be checked cheaply: re-stat every input, and reuse the
 * rendering only if each still looks the same.
 *
 * A record is filled while rendering (struct render's deps; NULL records
 * nothing) and read afterwards. Recording never fails: when something cannot
 * be recorded (out of memory, too many inputs, an input stat cannot describe)
 * the record becomes "volatile" and is never valid. deps_still_valid only
 * reads the record, so several threads may check one record at once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "render.h"

/* Inputs one record holds; a rendering that reads more is volatile. */
#define DEPS_MAX 4096

/* An input whose mtime or ctime is not older than the rendering's start
 * minus this is "racy" (deps.c says why): the record is then never valid. */
#define DEPS_RACY_MARGIN_NS (50 * 1000 * 1000LL)

struct deps;

struct deps *deps_new(void);
void deps_free(struct deps *d);
/* Forget every input and start a new rendering now (see deps.c on "racy"). */
void deps_clear(struct deps *d);
size_t deps_count(const struct deps *d);

/* Recording, called while rendering (r->deps NULL: nothing is recorded).
 * st NULL: the path was absent (ENOENT); absence is an input too, since a
 * file created later changes the rendering. Any other failure to look at an
 * input is recorded with deps_note_volatile. */
/* stat (follow) or lstat (!follow) of a host path */
void deps_note_host(struct render *r, const char *path, bool follow, const struct stat *st);
/* lstat of a host path where only which object it is matters (dev, inode,
 * mode), not its times: a directory on a path whose resolution is an input */
void deps_note_host_identity(struct render *r, const char *path, const struct stat *st);
/* rel resolved inside the directory root as open_in_root does (users.h) */
void deps_note_in_root(struct render *r, const char *root, const char *rel, const struct stat *st);
/* an input stat cannot check (a directory walk): the rendering is never reused */
void deps_note_volatile(struct render *r);

bool deps_volatile(const struct deps *d);

/* Append what src recorded to dst (a rendering that extends another one).
 * An input both recorded with different signatures makes dst invalid.
 * Returns 0 (a failure to copy makes dst volatile instead). */
int deps_merge(struct deps *dst, const struct deps *src);

/* The latest mtime or ctime of the inputs recorded with their times (not
 * those recorded for identity only); zero when there are none. What a
 * rendering shows can have changed no later than this (or its own start). */
struct timespec deps_latest_change(const struct deps *d);

/* True when the record is neither volatile nor racy and every input still
 * looks as recorded. */
bool deps_still_valid(const struct deps *d);
