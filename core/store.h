/* The state store: each container's platform and option list on disk, with
 * its rootfs directory beside them.
 *
 *   <state>/format                      "bundlefs-state 1"
 *   <state>/lock                        held (flock) by the daemon using it
 *   <state>/namespaces/<ns>/<id>/log    the container's record log
 *   <state>/namespaces/<ns>/<id>/rootfs the container's root filesystem
 *
 *   <state>/journal                     records of recent appends, for durability
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
 * flush makes many containers' appends durable at once. On load, journal
 * records missing from their log (a log's unsynced tail lost in a power cut)
 * are written back into it; the journal is emptied once the logs are synced
 * (syncfs), at load and when it grows past STORE_JOURNAL_MAX. A record cut
 * short by a crash fails its length or CRC check and is dropped, so an
 * acknowledged write is never lost and a torn one never shows. Replacing
 * the list writes a new log (with a new id), syncs it and renames it over
 * the old one; directory changes sync their directories. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "identifiers.h"

#define STORE_FORMAT_VERSION 1
#define STORE_LOG_MAX ((size_t) 256 << 20)
#define STORE_JOURNAL_MAX ((size_t) 16 << 20)

struct optline;
struct stat;
struct statvfs;
struct timespec;

/* The state directory and its shared journal (private to store.c). */
struct store;

/* A container's log. */
struct store_log {
        int fd;             /* open for appends (O_APPEND), or -1 */
        bool kept;          /* fd counts among the descriptors kept between writes */
        size_t size;        /* bytes of valid records */
        uint64_t id;
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

/* What a container's log holds once loaded. */
struct store_container {
        const char *ns;
        const char *id;
        char *platform;
        struct optline **lines;
        uint64_t *seqs;         /* each line's number in the log */
        bool *by_control;       /* each line's: written through a control file (a C record) */
        size_t nlines;
        uint64_t next_seq;      /* the number the log gives the next line */
        struct store_log log;
};

typedef int (*store_visit_fn)(void *userdata, struct store_container *c);

/* Load every namespace and container. A container whose log cannot be read
 * is reported through warn (if given) and left on disk untouched. The
 * journal is replayed into the logs and emptied first. The callback takes
 * c->log.fd when it returns 0, and whichever of c->platform, c->lines,
 * c->seqs and c->by_control it sets to NULL; the rest is freed. */
int store_load(struct store *s, store_visit_fn visit, void *userdata,
               void (*warn)(void *userdata, const char *msg), bf_error *err);

int store_namespace_create(struct store *s, const char *ns, bf_error *err);
int store_namespace_remove(struct store *s, const char *ns, bf_error *err);
int store_namespace_rename(struct store *s, const char *from, const char *to, bf_error *err);

/* Create <ns>/<id> with an empty list; returns its log, open for appends. */
int store_container_create(struct store *s, const char *ns, const char *id, const char *platform,
                           struct store_log *ret_log, bf_error *err);
int store_container_remove(struct store *s, const char *ns, const char *id, bf_error *err);
int store_container_rename(struct store *s, const char *ns, const char *id, const char *to_ns, const char *to_id,
                           bf_error *err);
/* Is <ns>/<id>/rootfs empty? */
int store_rootfs_empty(struct store *s, const char *ns, const char *id, bool *ret, bf_error *err);
/* stat(2) of the directory that holds every namespace (ns NULL), of
 * namespace ns's (id NULL) or of container ns/id's, and when it was made
 * (ret_birth, if not NULL: zero where the file system does not say). Their
 * inode numbers and birth times outlive renames and restarts; their mtimes
 * are those of their entries. */
int store_dir_stat(struct store *s, const char *ns, const char *id, struct stat *ret, struct timespec *ret_birth);
/* "<state>/namespaces/<ns>/<id>/rootfs", malloc'd. */
char *store_rootfs_path(const struct store *s, const char *ns, const char *id);

/* Make sure log->fd is open for an append, opening <ns>/<id>/log again if
 * it was closed to save descriptors (its id must be log->id). */
int store_log_acquire(struct store *s, const char *ns, const char *id, struct store_log *log, bf_error *err);
/* After appends: keep the descriptor while few are kept, else close it. */
void store_log_release(struct store *s, struct store_log *log);
/* Close the log's descriptor for good. */
void store_log_close(struct store *s, struct store_log *log);

/* Durable appends to an open log: they return once the record is durable.
 * log->size tracks the valid end so a failed write can be cut off again. */
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
 * caller's to close). Its lines are numbered from 0. */
int store_replace(struct store *s, const char *ns, const char *id, const char *platform, const char *text,
                  size_t len, struct store_log *ret_log, bf_error *err);
/* The same for lines written in runs, each run by hand or through a
 * control file (a log grown long with dropped lines, written anew). */
struct store_run {
        bool by_control;
        const char *text;
        size_t len;
};
int store_rewrite(struct store *s, const char *ns, const char *id, const char *platform, const struct store_run *runs,
                  size_t nruns, struct store_log *ret_log, bf_error *err);
