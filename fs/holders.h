/* Who still holds an open file of the tree. FUSE says when a descriptor is
 * closed (flush) but not whether it was the last one; the release that
 * follows the last close comes after close(2) has returned, too late to
 * report a failure or to be seen by the next reader. A shell's `cmd > opts`
 * closes its own copy of the descriptor before cmd writes, and a parent
 * may hand the descriptor to a child and close its own. So at a flush the
 * processes most likely to share the descriptor are looked at in /proc:
 * the closing process, its parent and its children. If one of them still
 * has a descriptor of the file open for writing, this close was not the
 * last. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct holders;

/* For the tree mounted on mountpoint (its mount found in
 * /proc/self/mountinfo; NULL-safe to use when it cannot be found). */
int holders_new(const char *mountpoint, struct holders **ret, bf_error *err);
void holders_free(struct holders *h);

/* 1: the process pid (a thread id, as FUSE gives it), its parent or one of
 * its children has file ino of the tree open for writing; 0: none of them
 * has; a negative errno: cannot tell (pid 0: a process of another pid
 * namespace, or no /proc). */
int holders_near(const struct holders *h, pid_t pid, uint64_t ino);
