/* Versions of a container's option list: immutable once made, shared by
 * readers. Versions share one array of lines, so appending to the newest
 * fills the array's spare room (no reader looks past its own length) and
 * costs O(lines appended), not O(list length). */
#pragma once

#include <stddef.h>

struct optline;
struct optlist;

/* A new list holding lines (each gets a reference); NULL without memory. */
struct optlist *optlist_new(struct optline *const *lines, size_t n);
/* cur's first `base` lines, then more: in place when base is all of cur
 * and cur's array has room past it, else a copy. Only one writer may
 * extend a list at a time. */
struct optlist *optlist_extend(const struct optlist *cur, size_t base, struct optline *const *more, size_t nmore);
struct optlist *optlist_ref(struct optlist *l);
void optlist_unref(struct optlist *l);

size_t optlist_len(const struct optlist *l);
struct optline *const *optlist_lines(const struct optlist *l);
/* The size of the list as `opts` shows it. */
size_t optlist_bytes(const struct optlist *l);
