/* The state store: each container's platform and option list on disk, with
 * its rootfs directory beside them.
 *
 *   <state>/format                      "bundlefs-state 1"
 *   <state>/lock                        held (flock) by the daemon using it
 *   <state>/namespaces/<ns>/<id>/log    the container's record log
 *   <state>/namespaces/<ns>/<id>/rootfs the container's root filesystem
 *
 * The log is a header line and records, each "<type> <length> <crc32>\n"
 * followed by <length> bytes: type P sets the platform, type A appends
 * option lines (canonical text, one per line), type T keeps the first N
 * lines ("N\n" first) and appends the rest, for a value written in several
 * writes that replaces its own earlier line. An append is one write(2)
 * and one fdatasync(2); a record cut short by a crash fails its length or
 * CRC check and is dropped on load, so an acknowledged write is never lost
 * and a torn one never shows. Replacing the list writes a new log and
 * renames it over the old one. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define STORE_FORMAT_VERSION 1
#define STORE_LOG_MAX ((size_t) 256 << 20)

struct optline;

struct store {
        int dirfd;          /* <state> */
        int nsfd;           /* <state>/namespaces */
        int lockfd;
        char *path;
};

/* Open (creating, mode 0700) the state directory, check its format
 * version and take its lock: -EBUSY when another daemon holds it. */
int store_open(const char *path, struct store *ret, bf_error *err);
void store_close(struct store *s);

/* What a container's log holds once loaded. */
struct store_container {
        const char *ns;
        const char *id;
        char *platform;
        struct optline **lines;
        size_t nlines;
        int logfd;          /* open for appends (O_APPEND) */
        size_t log_size;    /* bytes of valid records */
};

typedef int (*store_visit_fn)(void *userdata, struct store_container *c);

/* Load every namespace and container. A container whose log cannot be read
 * is reported through warn (if given) and left on disk untouched. The
 * callback takes ownership of c->platform, c->lines and c->logfd. */
int store_load(struct store *s, store_visit_fn visit, void *userdata,
               void (*warn)(void *userdata, const char *msg), bf_error *err);

int store_namespace_create(struct store *s, const char *ns, bf_error *err);
int store_namespace_remove(struct store *s, const char *ns, bf_error *err);
int store_namespace_rename(struct store *s, const char *from, const char *to, bf_error *err);

/* Create <ns>/<id> with an empty list; returns the log fd for appends. */
int store_container_create(struct store *s, const char *ns, const char *id, const char *platform, int *ret_logfd,
                           bf_error *err);
int store_container_remove(struct store *s, const char *ns, const char *id, bf_error *err);
int store_container_rename(struct store *s, const char *ns, const char *id, const char *to_ns, const char *to_id,
                           bf_error *err);
/* Is <ns>/<id>/rootfs empty? */
int store_rootfs_empty(struct store *s, const char *ns, const char *id, bool *ret, bf_error *err);
/* "<state>/namespaces/<ns>/<id>/rootfs", malloc'd. */
char *store_rootfs_path(const struct store *s, const char *ns, const char *id);

/* Durable appends to an open log; *log_size tracks the valid end so a
 * failed write can be cut off again. */
int store_append_lines(int logfd, size_t *log_size, const char *text, size_t len, bf_error *err);
int store_append_platform(int logfd, size_t *log_size, const char *platform, bf_error *err);
/* Keep the first `keep` lines of the list, then append text: one record. */
int store_truncate_append(int logfd, size_t *log_size, size_t keep, const char *text, size_t len, bf_error *err);

/* Write a new log holding platform and lines (canonical text) and rename it
 * into place; *ret_logfd is the new log's append fd. */
int store_replace(struct store *s, const char *ns, const char *id, const char *platform, const char *text,
                  size_t len, int *ret_logfd, size_t *ret_log_size, bf_error *err);

/* Identifier rule of containerd: ^[A-Za-z0-9]+([._-][A-Za-z0-9]+)*$, <= 76. */
bool identifier_valid(const char *name);
