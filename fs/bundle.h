/* A container's spec: its option list, platform and error message, the
 * spec kept for its next write, and what reads of its files show. Every
 * change, whatever file it came through, is one bundle_commit: checked by
 * rendering the list with it, made durable in the container's log, then
 * kept. Lines arrive typed (parsed once where they were written).
 *
 * A control file's line may make earlier lines written through control
 * files pointless (core/compact.h): the change drops them, so a list
 * written through control files for years stays short. When the log has
 * grown far past the list it holds, it is written anew. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "error.h"

/* Lines in one option list; more: EFBIG. */
#define OPTS_LINES_MAX 100000

struct budget;
struct bundle;
struct bundle_name;
struct cache;
struct content;
struct file_def;
struct optline;
struct optlist;
struct store;
struct store_container;
struct store_log;

/* A container's log written anew once it is this large and holds eight
 * times the list's bytes. */
#define BUNDLE_LOG_REWRITE_MIN ((size_t) 4 << 20)

/* A bundle for a container loaded (loaded: its list, NULL for an empty
 * one) or just made; the log becomes its own (id 0: none yet, made by the
 * first write). The lines hold loaded->footprint bytes, taken from budget
 * by the caller and given back when the bundle is freed; later changes
 * take and give their own. */
int bundle_new(struct store *store, struct cache *cache, struct budget *budget, const char *ns, const char *id,
               const char *platform, const struct store_container *loaded, const struct store_log *log,
               struct bundle **ret, bf_error *err);
/* A bundle whose list could not be loaded: `error` says why (reason),
 * reads of its other files fail with EIO, writes are refused with EIO. Its
 * container can still be renamed and removed. */
int bundle_new_broken(struct store *store, struct cache *cache, const char *ns, const char *id, const char *platform,
                      const char *reason, struct bundle **ret, bf_error *err);
void bundle_free(struct bundle *b);

/* Renaming: the new name is made first (it may fail), then set (it cannot),
 * both while the store's names are held alone, so that the name on disk
 * and the one renderings use change together. */
int bundle_name_new(struct bundle *b, const char *ns, const char *id, struct bundle_name **ret, bf_error *err);
void bundle_name_free(struct bundle_name *n);
/* The container is called n now (renderings name it); takes n. */
void bundle_rename(struct bundle *b, struct bundle_name *n);
/* Its rootfs directory was made just now (at its first use), in its
 * directory <ns>/<id>, from which a start takes its times. */
void bundle_rootfs_made(struct bundle *b, const char *ns, const char *id);

/* The option lines one open control file has kept, so that its later
 * writes (a shell writes line by line) replace them: one value, one line. */
struct value_state {
        bool kept;
        uint64_t version;       /* of the list right after they were kept */
        uint64_t seq;           /* the number of their first line (optlist.h) */
        size_t n;               /* how many */
};

enum change_kind {
        CHANGE_APPEND,          /* lines appended (opts >>) */
        CHANGE_VALUE,           /* a control file's lines, replacing the same open file's earlier ones and
                                   the lines they make pointless */
        CHANGE_REPLACE,         /* a new list (opts >, truncate) */
        CHANGE_PLATFORM,        /* a new platform (normalised) */
};

struct change {
        enum change_kind kind;
        struct optline *const *lines;
        size_t n;
        const char *platform;           /* CHANGE_PLATFORM */
        struct value_state *value;      /* CHANGE_VALUE: updated when kept */
};

/* Check the change (the list with it renders), make it durable, keep it.
 * A refused change keeps nothing and says why in `error`. */
int bundle_commit(struct bundle *b, const struct change *change, bf_error *err);
/* Do base followed by more render? (The lines of an `opts` replace, as
 * they are written; nothing is kept.) */
int bundle_check(struct bundle *b, struct optline *const *base, size_t nbase, struct optline *const *more,
                 size_t nmore, bf_error *err);
/* Say why a write was refused (one line in `error`). */
void bundle_refuse(struct bundle *b, const bf_error *err);
/* A write accepted without a commit (rootfs.image): `error` is cleared. */
void bundle_accepted(struct bundle *b);

/* What a read of file f shows now (a reference). A list that no longer
 * renders fails with EIO and says why in `error`. */
int bundle_read(struct bundle *b, const struct file_def *f, struct content **ret, bf_error *err);
/* Is content c (of file f) what a read shows now? It is, when the list
 * and platform are those it was made from and, with check_inputs, nothing
 * its rendering read changed since. */
bool bundle_shows(struct bundle *b, const struct file_def *f, const struct content *c, bool check_inputs);
/* The size such a read shows, and when what it shows last changed (for
 * config.json and the control files: the spec's change, or the latest of
 * what its rendering read), without changing anything anyone can see. */
int bundle_stat(struct bundle *b, const struct file_def *f, size_t *ret_size, struct timespec *ret_mtime);
/* The current list (a reference). */
struct optlist *bundle_list(struct bundle *b);
/* The platform (normalised), malloc'd; NULL without memory. */
char *bundle_platform(struct bundle *b);
