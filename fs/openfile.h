/* Open files of a container's files: what a read shows, and the write
 * state of each kind of file.
 *
 * Reads: each open file holds the content its reads show, shared with
 * every open file showing the same bytes (content.h). A read at offset 0
 * shows the current content (procfs does the same), and so does a read at
 * or past the end of what the open file holds when the current content
 * continues it (`tail -f opts` follows appends); a reader reading on never
 * mixes two contents. What one uid's open files hold is bounded (pins.h).
 *
 * Writes:
 * - opts appended to (>>, any open without O_TRUNC): whole lines are
 *   checked and kept before the write returns; a line the write leaves
 *   unfinished waits for the next write or the last close. A piece of a
 *   write the kernel cut within a line keeps its whole lines and answers a
 *   short count, so the writer sends the rest again from the line's start.
 * - opts replaced (>, O_TRUNC, or ftruncate(fd, 0) of an open file): the
 *   lines written build a new list, each checked as it arrives, which
 *   replaces the old one at the last close (holders.h), or at the release.
 * - a control file: everything one open file receives is one value, whose
 *   option line replaces the line it kept before; a value that is exactly
 *   what the file shows changes nothing.
 * - platform: one value.
 * Text is decoded here, once, into typed option lines (core/optline.h,
 * core/ctl.h), and handed to the bundle (bundle.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct container;
struct content;
struct file_def;
struct openfile;
struct openfiles;

/* One piece of a write to opts carries at most this much (the kernel's
 * pieces are at most this), and a control file's value in all. */
#define OPTS_WRITE_MAX (1024 * 1024)
#define CONTROL_VALUE_MAX (64 * 1024)

/* The open files of a tree; owner is the mount's owner (who, with root,
 * may write lines that name host paths). */
int openfiles_new(uid_t owner, struct openfiles **ret, bf_error *err);
/* The tree is mounted on mountpoint (to tell who still holds a file). */
int openfiles_start(struct openfiles *set, const char *mountpoint, bf_error *err);
/* Frees the open files the kernel never released (at the end only). */
void openfiles_free(struct openfiles *set);

/* Open file f of container c with open(2)'s flags, for uid opener; ino is
 * the number stat shows for f (holders.h looks for it). */
int openfile_open(struct openfiles *set, struct container *c, const struct file_def *f, uint64_t ino, int flags,
                  uid_t opener, struct openfile **ret, bf_error *err);
/* Who opened it (whose rights its writes have). */
uid_t openfile_opener(const struct openfile *of);
/* What a read of size bytes at off shows: a reference to the content and
 * the part of it. */
int openfile_read(struct openfile *of, off_t off, size_t size, struct content **ret, size_t *ret_start,
                  size_t *ret_len, bf_error *err);
/* A write(2) piece of size bytes: *ret_count of them are kept (all, or a
 * short count ending at a line end), or an error (and `error` says why). */
int openfile_write(struct openfile *of, const char *data, size_t size, size_t *ret_count, bf_error *err);
/* close(2) of a descriptor by process pid (there may be several, one per
 * descriptor): the last one commits a replace of opts. */
int openfile_flush(struct openfile *of, pid_t pid, bf_error *err);
/* The last reference went: what no close committed is committed now. */
void openfile_release(struct openfile *of);
/* A whole content given at once (a scratch file renamed onto f): one
 * change, checked, kept and refused as writing it to f through a new open
 * file would be, with the same errno and `error`: for opts the new list
 * (as `cat saved > opts`; its size bounded by the content's, not by a
 * write's), for a control file or platform one value. Acts with uid
 * opener's rights. */
int openfile_commit_whole(struct openfiles *set, struct container *c, const struct file_def *f, uid_t opener,
                          const char *data, size_t len, bf_error *err);
/* truncate(2) or ftruncate(2) (of NULL: by path) of file f of c. */
int openfile_truncate(struct container *c, const struct file_def *f, struct openfile *of, off_t size,
                      bf_error *err);
