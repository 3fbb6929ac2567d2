/* The state store: each container's platform and option list on disk, with
 * its rootfs directory beside them.
 *
 *   <state>/format                      "bundlefs-state 2"
 *   <state>/lock                        held (flock) by the daemon using it
 *   <state>/journal                     recent appends, for durability (preallocated)
 *   <state>/namespaces/<ns>/<id>/rootfs the container's root filesystem
 *   <state>/namespaces/<ns>/<id>/log    the container's record log, from its first write
 *
 * A container directory without a log is a whole container with an empty
 * list and the host platform: mkdir makes the directory and its rootfs and
 * writes the container's name to the shared journal (below), nothing more;
 * the log comes with the first write. A container found without a rootfs
 * gets an empty one.
 *
 * The log is a header line ("bundlefs-log 2 <id>", id a random 64-bit
 * number naming this log) and records, each "<type> <length> <crc32>\n"
 * followed by <length> bytes: type P sets the platform, type A appends
 * option lines (canonical text, one per line), type C drops lines and
 * appends lines written through a control file ("K s1 ... sK\n" first: the
 * numbers of the lines dropped; lines are numbered from 0 in the order the
 * log added them, dropped ones included), and type T (written by earlier
 * versions) keeps the first N lines ("N\n" first) and appends the rest.
 *
 * An append writes its record to the container's log (no sync) and then the
 * same bytes, with the log's id and offset, to the shared journal, whose
 * writers share one write(2) and fdatasync(2) per batch (group commit): one
 * flush makes many containers' appends durable at once. The first write of
 * a container creates its log the same way: the journal record holds the
 * whole new log and the container's name, so one flush makes the log and
 * its first record durable. Until its directory is synced, such a log is
 * "young", and so is a container made by mkdir until its namespace's
 * directory is: renaming or removing a container or a namespace first makes
 * the young logs and containers durable (fsync) and says so in the journal,
 * so that a journal record never names a container that moved.
 *
 * The journal is a file of fixed size (STORE_JOURNAL_SIZE, allocated and
 * zero-filled when it is made), written in place: its writes need no new
 * blocks, so a full disk never fails them, and their fdatasync has no
 * metadata to commit. Its header carries an epoch that seeds the CRC of
 * every record, so records of earlier epochs never replay. When a batch
 * does not fit, the file system is synced (syncfs), which makes the logs
 * durable and the journal redundant, and a new epoch starts.
 *
 * On load, young containers lost with their namespace's unsynced entry
 * are made again (empty) first; journal records missing from their log (a
 * log's unsynced tail lost in a power cut) are written back into it, young
 * logs lost with their directory's unsynced entry are made again, and the journal starts a new
 * epoch once the logs are synced. A record cut short by a crash fails its
 * length or CRC check and is dropped, so an acknowledged write is never
 * lost and a torn one never shows. Replacing the list writes a new log
 * (with a new id), syncs it and renames it over the old one; directory
 * changes sync their directories.
 *
 * Failures: a write the log or the journal refuses (a full disk: ENOSPC)
 * keeps nothing of it: the log is cut back and synced. A failed flush of
 * the journal (EIO from fdatasync) leaves its state unknown: every later
 * append fails with EIO until a restart replays what was acknowledged.
 * Tree operations are all-or-nothing: they need no new descriptor once
 * they have changed anything (paths are relative to the state directory,
 * and a directory that cannot be opened to be synced is synced with the
 * whole file system), and undo their first step when a later one fails. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "identifiers.h"
#include "lock.h"

#define STORE_FORMAT_VERSION 2
#define STORE_LOG_MAX ((size_t) 256 << 20)
#define STORE_JOURNAL_SIZE ((size_t) 8 << 20)

struct optline;
struct stat;
struct statvfs;
struct timespec;

/* The state directory and its shared journal (private to store.c and store_load.c). */
struct store;

/* A container's log: id 0 while it has none (no write yet). */
struct store_log {
        int fd;             /* open for appends (O_APPEND), or -1 */
        bool kept;          /* fd counts among the descriptors kept between writes */
        size_t size;        /* bytes of valid records */
        uint64_t id;
        bool damaged;       /* a refused write could not be cut off again: no more appends */
        char *young;        /* while being created: what its journal record starts with */
        size_t young_len;
};

/* Log descriptors kept open between writes, all logs together; beyond
 * this a log is opened for each write, so the number of containers is not
 * bound by the open-file limit. */
#define STORE_LOG_FDS_MAX 1024

/* Open (creating, mode 0700) the state directory, check its format
 * version and take its lock: -EBUSY when another daemon holds it. */
int store_open(const char *path, struct store **ret, bf_error *err);
void store_close(struct store *s);
/* The file system the state directory is on, for statfs(2). */
int store_statvfs(struct store *s, struct statvfs *ret);

/* The store's lock on names: anything that names a container's directory
 * on disk (creating, reopening or replacing its log) holds it shared, and
 * reads the container's name under it; renames and removals hold it alone
 * from the change on disk until every name in memory follows. */
rwlock *store_names(struct store *s);

/* Memory limits of a load: option lines a container's list may hold, and
 * all lists together (bytes, optline_footprint; 0: none). */
struct store_limits {
        size_t list_max;
        size_t total_max;
};

/* What a load found of one container (id NULL: a namespace). */
struct store_container {
        const char *ns;
        const char *id;
        char *platform;         /* NULL when it has no log yet (the host platform) */
        struct optline **lines;
        uint64_t *seqs;         /* each line's number in the log */
        bool *by_control;       /* each line's: written through a control file (a C record) */
        size_t nlines;
        uint64_t next_seq;      /* the number the log gives the next line */
        size_t footprint;       /* memory its lines hold (optline_footprint) */
        struct store_log log;   /* never open */
        int error;              /* not 0: the list could not be loaded; reason says why */
        const char *reason;
};

typedef int (*store_visit_fn)(void *userdata, struct store_container *c);

/* Load every namespace and container, replaying the journal into the logs
 * first. Each log is read, then closed: loading needs a few descriptors
 * whatever the number of containers. A container whose list cannot be
 * loaded (unreadable, damaged, over a limit, out of memory) is visited all
 * the same, with its error and reason: it exists on disk. The callback
 * takes whichever of c->platform, c->lines, c->seqs and c->by_control it
 * sets to NULL, whatever it returns; the store frees the rest. A failure
 * it returns is reported through warn (if given). */
int store_load(struct store *s, const struct store_limits *limits, store_visit_fn visit, void *userdata,
               void (*warn)(void *userdata, const char *msg), bf_error *err);

/* Namespaces: each all-or-nothing and durable when it returns. */
int store_namespace_create(struct store *s, const char *ns, bf_error *err);
int store_namespace_remove(struct store *s, const char *ns, bf_error *err);
int store_namespace_rename(struct store *s, const char *from, const char *to, bf_error *err)
        REQUIRES(store_names(s));

/* mkdir of a container, in two steps around what the caller sets up in
 * memory: create makes its directory (-EEXIST if the name is taken on
 * disk), then commit makes it durable (a journal record) or abort removes
 * it. Its rootfs is made, empty, at the container's first use. */
int store_container_create(struct store *s, const char *ns, const char *id, bf_error *err)
        REQUIRES_SHARED(store_names(s));
int store_container_commit(struct store *s, const char *ns, const char *id, bf_error *err)
        REQUIRES_SHARED(store_names(s));
void store_container_abort(struct store *s, const char *ns, const char *id);
/* rmdir: only an empty rootfs goes (else -ENOTEMPTY, nothing changed). */
int store_container_remove(struct store *s, const char *ns, const char *id, bf_error *err) REQUIRES(store_names(s));
int store_container_rename(struct store *s, const char *ns, const char *id, const char *to_ns, const char *to_id,
                           bf_error *err) REQUIRES(store_names(s));
/* Make <ns>/<id>/rootfs, empty, unless it is there (*ret_made: it was
 * made now). Not synced: a crash that loses it loses an empty directory,
 * made again at the next use. */
int store_rootfs_make(struct store *s, const char *ns, const char *id, bool *ret_made, bf_error *err);
/* Is <ns>/<id>/rootfs empty? (Not made yet is empty.) */
int store_rootfs_empty(struct store *s, const char *ns, const char *id, bool *ret, bf_error *err);
/* When <ns>/<id>/log was last written (-ENOENT: no log yet). */
int store_log_mtime(struct store *s, const char *ns, const char *id, struct timespec *ret);
/* stat(2) of the directory that holds every namespace (ns NULL), of
 * namespace ns's (id NULL) or of container ns/id's, and when it was made
 * (ret_birth, if not NULL: zero where the file system does not say). Their
 * inode numbers and birth times outlive renames and restarts; their mtimes
 * are those of their entries. */
int store_dir_stat(struct store *s, const char *ns, const char *id, struct stat *ret, struct timespec *ret_birth);
/* "<state>/namespaces/<ns>/<id>/rootfs", malloc'd. */
char *store_rootfs_path(const struct store *s, const char *ns, const char *id);

/* Make sure log->fd is open for an append: a log with no id yet is created
 * (with platform, the container's own), one closed to save descriptors is
 * opened again (its id must be log->id). */
int store_log_acquire(struct store *s, const char *ns, const char *id, const char *platform, struct store_log *log,
                      bf_error *err) REQUIRES_SHARED(store_names(s));
/* After appends: keep the descriptor while few are kept, else close it. */
void store_log_release(struct store *s, struct store_log *log);
/* Close the log's descriptor for good. */
void store_log_close(struct store *s, struct store_log *log);

/* Durable appends to an acquired log: they return once the record is
 * durable, or fail having kept nothing of it. log->size tracks the valid
 * end. */
int store_append_lines(struct store *s, struct store_log *log, const char *text, size_t len, bf_error *err);
int store_append_platform(struct store *s, struct store_log *log, const char *platform, bf_error *err);
/* Keep the first `keep` lines of the list, then append text: one record. */
int store_truncate_append(struct store *s, struct store_log *log, size_t keep, const char *text, size_t len,
                          bf_error *err);
/* Drop the lines numbered drop[0..ndrop), then append text's lines,
 * written through a control file: one record. */
int store_append_control(struct store *s, struct store_log *log, const uint64_t *drop, size_t ndrop,
                         const char *text, size_t len, bf_error *err);

/* Write a new log holding platform and lines (canonical text), sync it and
 * rename it into place; *ret_log is the new log (the old one's fd is the
 * caller's to close). Its lines are numbered from 0. A failure (a full
 * disk) leaves the old log as it was and nothing else. */
int store_replace(struct store *s, const char *ns, const char *id, const char *platform, const char *text,
                  size_t len, struct store_log *ret_log, bf_error *err) REQUIRES_SHARED(store_names(s));
/* The same for lines written in runs, each run by hand (A records) or
 * through a control file (C records dropping nothing): a log grown long
 * with dropped lines, written anew with each line's writer. */
struct store_run {
        bool by_control;
        const char *text;
        size_t len;
};
int store_rewrite(struct store *s, const char *ns, const char *id, const char *platform, const struct store_run *runs,
                  size_t nruns, struct store_log *ret_log, bf_error *err) REQUIRES_SHARED(store_names(s));
