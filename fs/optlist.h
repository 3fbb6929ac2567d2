/* Versions of a container's option list: immutable once made, shared by
 * readers. Each line has a number (its sequence number in the container's
 * log: lines are numbered in the order they were added, and keep their
 * number). Versions share one array of lines: appending to the newest
 * fills the array's spare room (no reader looks past its own length), and
 * dropping a line from the newest marks it dead from that version on (the
 * older versions still see it), so a change costs the lines it adds and
 * drops, not the list's length. An array whose dead lines outnumber its
 * live ones is copied once, by the next change. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct optline;
struct optlist;

/* A new list holding lines (each gets a reference), numbered seqs[i]
 * (increasing), or 0, 1, ... when seqs is NULL; by_control[i] (NULL: all
 * false) says the line was written through a control file. NULL without
 * memory. */
struct optlist *optlist_new(struct optline *const *lines, const uint64_t *seqs, const bool *by_control, size_t n);
/* cur without the lines numbered drop[0..ndrop) (each in cur, any order),
 * then more, numbered first_seq, first_seq + 1, ... (past cur's numbers),
 * written through a control file when by_control.
 * In place when cur is the newest version of its array and the array has
 * room, else a copy. Only one writer may change a list at a time. NULL
 * without memory. */
struct optlist *optlist_change(const struct optlist *cur, const uint64_t *drop, size_t ndrop,
                               struct optline *const *more, size_t nmore, uint64_t first_seq, bool by_control);
struct optlist *optlist_ref(struct optlist *l);
void optlist_unref(struct optlist *l);

size_t optlist_len(const struct optlist *l);
/* The lines, in order (made contiguous on first use when some were
 * dropped: NULL without memory then). */
struct optline *const *optlist_lines(const struct optlist *l);
/* The number of the i-th line. */
uint64_t optlist_seq(const struct optlist *l, size_t i);
/* Was the i-th line written through a control file? */
bool optlist_by_control(const struct optlist *l, size_t i);
/* Is the line numbered seq in l? */
int optlist_has(const struct optlist *l, uint64_t seq);
/* The line numbered seq in l (no reference), or NULL. */
struct optline *optlist_find(const struct optlist *l, uint64_t seq);
/* The size of the list as `opts` shows it. */
size_t optlist_bytes(const struct optlist *l);
