/* Open files of a container's files: what a read shows (the content at
 * open, shared with every other open file showing the same), and the
 * write state of each kind of file:
 * - opts appended to (>>): each write(2) carries whole lines, all kept or
 *   none, before it returns;
 * - opts replaced (>): the lines written build a new list, each checked as
 *   it arrives, which replaces the old one at close;
 * - a control file: everything one open file receives is one value, whose
 *   option line replaces the line it kept before;
 * - platform: one value.
 * Text is decoded here, once, into typed option lines (core/optline.h,
 * core/ctl.h), and handed to the bundle (bundle.h). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

struct container;
struct content;
struct file_def;
struct openfile;
struct openfiles;

/* One open file's writes carry at most this much at once (opts), or in all
 * (a control file's value). */
#define OPTS_WRITE_MAX (1024 * 1024)
#define CONTROL_VALUE_MAX (64 * 1024)

/* The open files of a tree; owner is the mount's owner (who, with root,
 * may write lines that name host paths). */
int openfiles_new(uid_t owner, struct openfiles **ret, bf_error *err);
/* Frees the open files the kernel never released (at the end only). */
void openfiles_free(struct openfiles *set);

/* Open file f of container c with open(2)'s flags, for uid opener. */
int openfile_open(struct openfiles *set, struct container *c, const struct file_def *f, int flags, uid_t opener,
                  struct openfile **ret, bf_error *err);
/* Who opened it (whose rights its writes have). */
uid_t openfile_opener(const struct openfile *of);
/* What a read of size bytes at off shows: a reference to the content and
 * the part of it. */
int openfile_read(struct openfile *of, off_t off, size_t size, struct content **ret, size_t *ret_start,
                  size_t *ret_len);
/* A write(2) of size bytes: all kept, or an error (and `error` says why). */
int openfile_write(struct openfile *of, const char *data, size_t size, bf_error *err);
/* close(2) (there may be several, one per descriptor): a replace of opts
 * commits here. */
int openfile_flush(struct openfile *of, bf_error *err);
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
