/* What the store's modules share (store.c: opening, the journal's writes,
 * logs, namespaces and containers; store_load.c: loading and replaying the
 * journal): struct store, the names and formats of the files on disk, and
 * the helpers both call. Nothing outside the store includes it. */
#pragma once

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "error.h"
#include "lock.h"
#include "store.h"

#define LOG_NAME "log"
#define LOG_NEW_NAME "log.new"
#define LOG_HEADER_V1 "bundlefs-log 1\n"
#define LOG_HEADER_V2_PREFIX "bundlefs-log 2 "
#define LOG_HEADER_FMT LOG_HEADER_V2_PREFIX "%016" PRIx64 "\n"
#define JOURNAL_NAME "journal"
#define JOURNAL_NEW_NAME "journal.new"
#define JOURNAL_HEADER_V1 "bundlefs-journal 1\n"
#define JOURNAL_HEADER_PREFIX "bundlefs-journal 2 "
#define JOURNAL_HEADER_FMT JOURNAL_HEADER_PREFIX "%016" PRIx64 "\n"
#define JOURNAL_HEADER_LEN (sizeof(JOURNAL_HEADER_PREFIX) - 1 + 17)
/* "<ns>/<id>/log.new" and the like: names are identifiers of at most 76 characters. */
#define REL_PATH_MAX 256

/* Journal record types: an append to a log ("<log id> <offset>\n" and the
 * log's record), a log created by a first write ("<log id> <ns>/<id>\n" and
 * the whole new log), a container made by mkdir ("<ns>/<id>"), and a mark
 * that every young log and directory before it is durable. */
#define JOURNAL_APPEND 'J'
#define JOURNAL_NEW_LOG 'N'
#define JOURNAL_NEW_DIR 'D'
#define JOURNAL_SETTLED 'C'

struct ticket;
struct young;
struct young_ns;

/* The shared journal and its group commit (see store.h). */
struct journal {
        mutex lock;
        pthread_cond_t done;                    /* a flush ended */
        int fd;
        uint64_t epoch GUARDED_BY(lock);
        size_t size GUARDED_BY(lock);           /* header and records: where the next batch goes */
        buf pending GUARDED_BY(lock);           /* records waiting for the next flush */
        struct ticket *waiting GUARDED_BY(lock);        /* their writers, in order */
        struct ticket **waiting_tail GUARDED_BY(lock);
        bool flushing GUARDED_BY(lock);         /* a writer is flushing a batch */
        int error GUARDED_BY(lock);             /* a flush failed with an unknown outcome: no more writes */
        struct young *young GUARDED_BY(lock);
        size_t nyoung, young_cap, young_reserved GUARDED_BY(lock);
        /* Namespaces holding a container made by mkdir whose entry may not
         * be durable yet (its journal record is): each once. */
        struct young_ns *young_ns GUARDED_BY(lock);
        size_t nyoung_ns, young_ns_cap, young_ns_reserved GUARDED_BY(lock);
};

/* Descriptors kept in reserve, so that writes and syncs go on when
 * containers have taken every other one (mkdir then fails with EMFILE). */
#define RESERVE_FDS 8

struct store {
        int dirfd;          /* <state> */
        int nsfd;           /* <state>/namespaces */
        int lockfd;
        int format;         /* the version found; 1 is upgraded once loaded */
        char *path;
        unsigned log_fds;   /* log descriptors kept between writes (atomic) */
        mutex reserve_lock;
        int reserve[RESERVE_FDS] GUARDED_BY(reserve_lock);     /* duplicates of dirfd, or -1 */
        rwlock names;
        struct journal journal;
};

/* The paths of a container below namespaces/. */
struct cpaths {
        char dir[REL_PATH_MAX];         /* <ns>/<id> */
        char log[REL_PATH_MAX];
        char log_new[REL_PATH_MAX];
        char rootfs[REL_PATH_MAX];
};

/* errors and paths (store.c) */
int store_sys_error(bf_error *err, const char *what, const char *name);
int store_rel_path(char out[static REL_PATH_MAX], const char *ns, const char *id, const char *leaf, bf_error *err);
int store_cpaths_of(struct cpaths *p, const char *ns, const char *id, bf_error *err);
bool store_reserve_refill(struct store *s);
int store_open_at(struct store *s, int dirfd, const char *path, int flags, mode_t mode);

/* the journal, the format and logs (store.c) */
uint32_t journal_epoch_seed(uint64_t epoch);
int journal_new_epoch(struct store *s, uint64_t *ret_epoch, bf_error *err);
int journal_create(struct store *s, uint64_t *ret_epoch, bf_error *err);
int store_format_write(struct store *s, int version, bf_error *err);
int store_log_write_new(struct store *s, const struct cpaths *p, const char *platform, const struct store_run *runs,
                  size_t nruns, struct store_log *ret, bf_error *err);

/* leftovers of unfinished creations and removals (store.c) */
void store_remove_leftover(int dirfd, const char *name);
bool store_is_leftover(const char *name);
