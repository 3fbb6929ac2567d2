/* Which earlier option lines a new line makes pointless, so that a list
 * written through control files for years stays short.
 *
 * The rule: a line written through a control file replaces an earlier line
 * written through a control file when
 * - both are of one group of options that set the same spec fields
 *   wholesale (WithHostname; WithMemoryLimit; WithCapabilities,
 *   WithAllKnownCapabilities and WithAllCurrentCapabilities; ...), so the
 *   new line overwrites everything the earlier one set;
 * - no line between them reads what the earlier one set (for instance
 *   WithEnv between two WithProcessCwd reads only the environment, while
 *   an option with no model here counts as reading everything);
 * - and the earlier line cannot fail later where the new one would not:
 *   a line that reads files (WithUser, from the rootfs's etc/passwd) is
 *   replaced only by the same line (same option, same arguments) with
 *   nothing between them changing what it reads (root.path, say).
 * Then every other line sees the same spec with or without the earlier
 * line, which only ever reached the spec the new line overwrites: the list
 * without it renders the same config.json, now and whatever the files it
 * reads later hold. Lines written to opts by hand are never dropped.
 *
 * A compactor follows a list as lines are added, in constant time per
 * line (a dozen groups, each with at most one line a later one may drop). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct optline;

/* Groups of options one of which may replace another (0: none). */
#define COMPACT_GROUPS 24

struct compactor {
        /* Per group: the line a later one of the group may drop, as
         * 1 + its number (0: none), and the line itself (held by the list). */
        uint64_t seq1[COMPACT_GROUPS];
        const struct optline *line[COMPACT_GROUPS];
};

void compactor_init(struct compactor *c);
/* Line l, numbered seq, is added at the end of the list, written through
 * a control file when by_control. True when it makes an earlier line
 * pointless: *ret_drop is that line's number (drop it). */
bool compactor_add(struct compactor *c, const struct optline *l, uint64_t seq, bool by_control, uint64_t *ret_drop);
/* The line numbered seq left the list another way. */
void compactor_forget(struct compactor *c, uint64_t seq);
/* May lines of l's option ever be dropped (written through a control file)? */
bool compact_droppable(const struct optline *l);
