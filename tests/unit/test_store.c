/* store: durable appends through the shared journal, its replay, logs made
 * by a first write, tree operations, and loading within limits. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "optline.h"
#include "store.h"

#include "optline_text.h"

#define PLATFORM "linux/amd64"

struct state {
        char dir[64];
        struct store *s;
        bf_error err;
};

/* What a load found, by container id (c0, c1, ...). */
struct found {
        size_t containers;
        size_t namespaces;
        struct {
                bool seen;
                bool has_platform;
                char platform[64];
                char text[4096];
                char numbers[512];      /* each line's number, and c when a control file wrote it */
                uint64_t next_seq;
                size_t nlines;
                char last[64];
                size_t footprint;
                int error;
                char reason[256];
                struct store_log log;
        } c[64];
};

static void lines_text(char *out, size_t size, struct optline **lines, size_t n)
{
        size_t len = 0;
        out[0] = '\0';
        for (size_t i = 0; i < n && len + lines[i]->text_len + 2 <= size; i++)
                len += (size_t) snprintf(out + len, size - len, "%s\n", text_of(lines[i]));
}

static int visit(void *userdata, struct store_container *c)
{
        struct found *f = userdata;
        if (!c->id) {
                f->namespaces++;
                return 0;
        }
        f->containers++;
        unsigned k = (unsigned) atoi(c->id + 1);
        if (k < 64) {
                f->c[k].seen = true;
                f->c[k].has_platform = c->platform != NULL;
                snprintf(f->c[k].platform, sizeof(f->c[k].platform), "%s", c->platform ? c->platform : "");
                lines_text(f->c[k].text, sizeof(f->c[k].text), c->lines, c->nlines);
                f->c[k].numbers[0] = '\0';
                for (size_t i = 0; i < c->nlines; i++) {
                        size_t at = strlen(f->c[k].numbers);
                        snprintf(f->c[k].numbers + at, sizeof(f->c[k].numbers) - at, "%s%" PRIu64 "%s", i ? " " : "",
                                 c->seqs[i], c->by_control[i] ? "c" : "");
                }
                f->c[k].next_seq = c->next_seq;
                f->c[k].nlines = c->nlines;
                f->c[k].footprint = c->footprint;
                snprintf(f->c[k].last, sizeof(f->c[k].last), "%s", c->nlines ? text_of(c->lines[c->nlines - 1]) : "");
                f->c[k].error = c->error;
                snprintf(f->c[k].reason, sizeof(f->c[k].reason), "%s", c->reason ? c->reason : "");
                f->c[k].log = c->log;
        }
        return 0;       /* the store frees what it loaded */
}

static void state_open(struct state *st)
{
        CHECK_INTEQ(store_open(st->dir, &st->s, &st->err), 0);
}

static void load_limited(struct state *st, struct found *f, const struct store_limits *limits)
{
        memset(f, 0, sizeof(*f));
        CHECK_INTEQ(store_load(st->s, limits, visit, f, NULL, &st->err), 0);
}

static void load(struct state *st, struct found *f)
{
        load_limited(st, f, NULL);
}

static void reopen(struct state *st, struct found *f)
{
        store_close(st->s);
        state_open(st);
        load(st, f);
}

static void state_new(struct state *st)
{
        snprintf(st->dir, sizeof(st->dir), "/tmp/bundlefs-store-XXXXXX");
        CHECK(mkdtemp(st->dir) != NULL);
        state_open(st);
        static struct found f;
        load(st, &f);
        CHECK_INTEQ(store_namespace_create(st->s, "ns", &st->err), 0);
}

static void state_remove(struct state *st)
{
        store_close(st->s);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", st->dir);
        CHECK_INTEQ(system(cmd), 0);
}

static off_t file_size(const char *dir, const char *rel)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        struct stat sb;
        return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static bool exists(const char *dir, const char *rel)
{
        return file_size(dir, rel) >= 0;
}

/* mkdir of a container, as the tree makes one: the store's names held. */
static void make(struct state *st, const char *id)
{
        rwlock_lock_shared(store_names(st->s));
        CHECK_INTEQ(store_container_create(st->s, "ns", id, &st->err), 0);
        CHECK_INTEQ(store_container_commit(st->s, "ns", id, &st->err), 0);
        rwlock_unlock_shared(store_names(st->s));
}

/* Append to a container's log as a writer does: opened (or created, on the
 * first write) with the store's names held. */
static int append(struct state *st, const char *id, struct store_log *log, const char *text)
{
        rwlock_lock_shared(store_names(st->s));
        int r = store_log_acquire(st->s, "ns", id, PLATFORM, log, &st->err);
        if (r == 0)
                r = store_append_lines(st->s, log, text, strlen(text), &st->err);
        rwlock_unlock_shared(store_names(st->s));
        return r;
}

/* A control file's record: lines dropped by number, then text's lines. */
static int control(struct state *st, const char *id, struct store_log *log, const uint64_t *drop, size_t ndrop,
                   const char *text)
{
        rwlock_lock_shared(store_names(st->s));
        int r = store_log_acquire(st->s, "ns", id, PLATFORM, log, &st->err);
        if (r == 0)
                r = store_append_control(st->s, log, drop, ndrop, text, strlen(text), &st->err);
        rwlock_unlock_shared(store_names(st->s));
        return r;
}

static int rewrite(struct state *st, const char *id, const char *platform, const struct store_run *runs,
                   size_t nruns, struct store_log *ret)
{
        rwlock_lock_shared(store_names(st->s));
        int r = store_rewrite(st->s, "ns", id, platform, runs, nruns, ret, &st->err);
        rwlock_unlock_shared(store_names(st->s));
        return r;
}

static int remove_container(struct state *st, const char *id)
{
        rwlock_lock(store_names(st->s));
        int r = store_container_remove(st->s, "ns", id, &st->err);
        rwlock_unlock(store_names(st->s));
        return r;
}

static int rename_container(struct state *st, const char *id, const char *to)
{
        rwlock_lock(store_names(st->s));
        int r = store_container_rename(st->s, "ns", id, "ns", to, &st->err);
        rwlock_unlock(store_names(st->s));
        return r;
}

TEST(a_container_never_written_has_no_log_and_loads_as_an_empty_list)
{
        struct state st;
        state_new(&st);
        make(&st, "c1");
        /* Nor a rootfs: the tree makes it at the container's first use. */
        CHECK(exists(st.dir, "namespaces/ns/c1"));
        CHECK(!exists(st.dir, "namespaces/ns/c1/rootfs"));
        CHECK(!exists(st.dir, "namespaces/ns/c1/log"));
        bool made = false;
        CHECK_INTEQ(store_rootfs_make(st.s, "ns", "c1", &made, &st.err), 0);
        CHECK(made && exists(st.dir, "namespaces/ns/c1/rootfs"));
        CHECK_INTEQ(store_rootfs_make(st.s, "ns", "c1", &made, &st.err), 0);
        CHECK(!made);
        struct found f;
        reopen(&st, &f);
        CHECK_INTEQ(f.containers, 1);
        CHECK(f.c[1].seen && !f.c[1].has_platform && !f.c[1].error);
        CHECK_INTEQ(f.c[1].nlines, 0);
        CHECK(f.c[1].log.id == 0);
        state_remove(&st);
}

TEST(appends_survive_a_reload)
{
        struct state st;
        state_new(&st);
        make(&st, "c1");
        struct store_log log = { .fd = -1 };
        CHECK_INTEQ(append(&st, "c1", &log, "WithHostname a\n"), 0);
        CHECK_INTEQ(store_append_platform(st.s, &log, "linux/arm64", &st.err), 0);
        CHECK_INTEQ(store_truncate_append(st.s, &log, 0, "WithHostname b\nWithTTY\n", 23, &st.err), 0);
        store_log_close(st.s, &log);
        struct found f;
        reopen(&st, &f);
        CHECK_INTEQ(f.containers, 1);
        CHECK_STREQ(f.c[1].platform, "linux/arm64");
        CHECK_STREQ(f.c[1].text, "WithHostname b\nWithTTY\n");
        CHECK(f.c[1].log.fd < 0);       /* loading keeps no descriptor */
        state_remove(&st);
}

TEST(a_container_directory_keeps_its_inode_number_across_a_rename_and_a_reopen)
{
        struct state st;
        state_new(&st);
        make(&st, "c1");
        struct stat before, after, ns;
        struct timespec birth, birth_after;
        CHECK_INTEQ(store_dir_stat(st.s, "ns", "c1", &before, &birth), 0);
        CHECK(S_ISDIR(before.st_mode));
        CHECK_INTEQ(store_dir_stat(st.s, "ns", NULL, &ns, NULL), 0);
        CHECK(ns.st_ino != before.st_ino);
        CHECK_INTEQ(rename_container(&st, "c1", "c2"), 0);
        CHECK_INTEQ(store_dir_stat(st.s, "ns", "c1", &after, NULL), -ENOENT);
        store_close(st.s);
        state_open(&st);
        CHECK_INTEQ(store_dir_stat(st.s, "ns", "c2", &after, &birth_after), 0);
        CHECK_INTEQ(after.st_ino, before.st_ino);
        CHECK_INTEQ(birth_after.tv_sec, birth.tv_sec);
        CHECK_INTEQ(birth_after.tv_nsec, birth.tv_nsec);
        state_remove(&st);
}

TEST(a_control_record_drops_lines_by_number_and_marks_its_own)
{
        struct state st;
        state_new(&st);
        make(&st, "c1");
        struct store_log log = { .fd = -1 };
        /* lines 0 and 1 by hand, 2 through a control file */
        CHECK_INTEQ(append(&st, "c1", &log, "WithHostname a\nWithEnv A=1\n"), 0);
        CHECK_INTEQ(control(&st, "c1", &log, NULL, 0, "WithMemoryLimit 1\n"), 0);
        /* 3 drops 2, 4 drops 0 (the numbers do not move) */
        uint64_t drop2 = 2, drop0 = 0;
        CHECK_INTEQ(control(&st, "c1", &log, &drop2, 1, "WithMemoryLimit 2\n"), 0);
        CHECK_INTEQ(control(&st, "c1", &log, &drop0, 1, "WithHostname b\n"), 0);
        store_log_close(st.s, &log);
        struct found f;
        reopen(&st, &f);
        CHECK_STREQ(f.c[1].text, "WithEnv A=1\nWithMemoryLimit 2\nWithHostname b\n");
        CHECK_STREQ(f.c[1].numbers, "1 3c 4c");
        CHECK_UINTEQ(f.c[1].next_seq, 5);
        state_remove(&st);
}

TEST(a_first_write_through_a_control_file_makes_the_log_and_comes_back_from_the_journal)
{
        struct state st;
        state_new(&st);
        make(&st, "c1");
        struct store_log log = { .fd = -1 };
        CHECK_INTEQ(control(&st, "c1", &log, NULL, 0, "WithMemoryLimit 1\n"), 0);
        uint64_t drop0 = 0;
        CHECK_INTEQ(control(&st, "c1", &log, &drop0, 1, "WithMemoryLimit 2\n"), 0);
        store_log_close(st.s, &log);
        /* As if a power cut lost the log, its directory entry never synced. */
        char path[256];
        snprintf(path, sizeof(path), "%s/namespaces/ns/c1/log", st.dir);
        CHECK_INTEQ(unlink(path), 0);
        struct found f;
        reopen(&st, &f);
        CHECK(!f.c[1].error);
        CHECK_STREQ(f.c[1].text, "WithMemoryLimit 2\n");
        CHECK_STREQ(f.c[1].numbers, "1c");
        CHECK_STREQ(f.c[1].platform, PLATFORM);
        state_remove(&st);
}

TEST(a_control_record_naming_a_line_not_there_is_reported_with_its_container)
{
        struct state st;
        state_new(&st);
        make(&st, "c1");
        struct store_log log = { .fd = -1 };
        CHECK_INTEQ(append(&st, "c1", &log, "WithHostname a\n"), 0);
        uint64_t drop = 7;
        CHECK_INTEQ(control(&st, "c1", &log, &drop, 1, "WithHostname b\n"), 0);
        store_log_close(st.s, &log);
        struct found f;
        reopen(&st, &f);
        CHECK_INTEQ(f.containers, 1);   /* shown, broken: left on disk */
        CHECK(f.c[1].seen && f.c[1].error == EINVAL);
        CHECK(strstr(f.c[1].reason, "damaged record (C)") != NULL);
        CHECK_INTEQ(f.c[1].nlines, 0);
        state_remove(&st);
}

TEST(a_log_written_anew_keeps_who_wrote_each_line_and_numbers_them_from_0)
{
        struct state st;
        state_new(&st);
        make(&st, "c1");
        struct store_log log = { .fd = -1 };
        CHECK_INTEQ(append(&st, "c1", &log, "WithTTY\n"), 0);
        struct store_run runs[] = {
                { .by_control = false, .text = "WithHostname a\n", .len = 15 },
                { .by_control = true, .text = "WithMemoryLimit 1\nWithPidsLimit 5\n", .len = 33 },
                { .by_control = false, .text = "WithEnv A=1\n", .len = 12 },
        };
        struct store_log fresh = { .fd = -1 };
        CHECK_INTEQ(rewrite(&st, "c1", "linux/arm64", runs, 3, &fresh), 0);
        CHECK(fresh.id != log.id);
        uint64_t drop = 2;
        CHECK_INTEQ(control(&st, "c1", &fresh, &drop, 1, "WithPidsLimit 6\n"), 0);
        store_log_close(st.s, &log);
        store_log_close(st.s, &fresh);
        struct found f;
        reopen(&st, &f);
        CHECK_STREQ(f.c[1].platform, "linux/arm64");
        CHECK_STREQ(f.c[1].text, "WithHostname a\nWithMemoryLimit 1\nWithEnv A=1\nWithPidsLimit 6\n");
        CHECK_STREQ(f.c[1].numbers, "0 1c 3 4c");
        state_remove(&st);
}

TEST(a_log_tail_lost_in_a_power_cut_comes_back_from_the_journal)
{
        struct state st;
        state_new(&st);
        make(&st, "c1");
        struct store_log log = { .fd = -1 };
        CHECK_INTEQ(append(&st, "c1", &log, "WithHostname a\n"), 0);
        size_t before = log.size;
        CHECK_INTEQ(append(&st, "c1", &log, "WithDomainname d\n"), 0);
        CHECK_INTEQ(append(&st, "c1", &log, "WithTTY\n"), 0);
        /* The log lost its last records and half of one: the journal has them. */
        CHECK_INTEQ(ftruncate(log.fd, (off_t) before + 5), 0);
        store_log_close(st.s, &log);
        struct found f;
        reopen(&st, &f);
        CHECK_STREQ(f.c[1].text, "WithHostname a\nWithDomainname d\nWithTTY\n");
        CHECK_INTEQ(f.c[1].log.size, (size_t) file_size(st.dir, "namespaces/ns/c1/log"));
        /* The journal is as large as ever: written in place, never grown. */
        CHECK_INTEQ(file_size(st.dir, "journal"), (off_t) STORE_JOURNAL_SIZE);
        /* And loads the same again (the journal started a new epoch). */
        reopen(&st, &f);
        CHECK_STREQ(f.c[1].text, "WithHostname a\nWithDomainname d\nWithTTY\n");
        state_remove(&st);
}

TEST(a_first_write_lost_with_its_log_comes_back_from_the_journal)
{
        struct state st;
        state_new(&st);
        make(&st, "c1");
        make(&st, "c2");
        make(&st, "c3");
        struct store_log l1 = { .fd = -1 }, l2 = { .fd = -1 }, l3 = { .fd = -1 };
        CHECK_INTEQ(append(&st, "c1", &l1, "WithHostname one\n"), 0);
        CHECK_INTEQ(append(&st, "c1", &l1, "WithTTY\n"), 0);
        CHECK_INTEQ(append(&st, "c2", &l2, "WithHostname two\n"), 0);
        CHECK_INTEQ(append(&st, "c3", &l3, "WithHostname three\n"), 0);
        store_log_close(st.s, &l1);
        store_log_close(st.s, &l2);
        store_log_close(st.s, &l3);
        /* As if a power cut lost c1's log (its directory entry was never
         * synced), c2's data (an empty file), and all but the header of c3's. */
        char path[256];
        snprintf(path, sizeof(path), "%s/namespaces/ns/c1/log", st.dir);
        CHECK_INTEQ(unlink(path), 0);
        snprintf(path, sizeof(path), "%s/namespaces/ns/c2/log", st.dir);
        CHECK_INTEQ(truncate(path, 0), 0);
        snprintf(path, sizeof(path), "%s/namespaces/ns/c3/log", st.dir);
        CHECK_INTEQ(truncate(path, 31), 0);
        struct found f;
        reopen(&st, &f);
        CHECK_STREQ(f.c[1].text, "WithHostname one\nWithTTY\n");
        CHECK_STREQ(f.c[1].platform, PLATFORM);
        CHECK_STREQ(f.c[2].text, "WithHostname two\n");
        CHECK_STREQ(f.c[3].text, "WithHostname three\n");
        CHECK(!f.c[1].error && !f.c[2].error && !f.c[3].error);
        reopen(&st, &f);
        CHECK_STREQ(f.c[1].text, "WithHostname one\nWithTTY\n");
        state_remove(&st);
}

TEST(containers_made_by_mkdir_and_lost_in_a_power_cut_come_back_from_the_journal)
{
        struct state st;
        state_new(&st);
        make(&st, "c1");
        make(&st, "c2");
        struct store_log log = { .fd = -1 };
        CHECK_INTEQ(append(&st, "c2", &log, "WithHostname two\n"), 0);
        store_log_close(st.s, &log);
        /* As if a power cut lost both entries of the namespace, never
         * synced, and c2's log with its own. */
        char path[256];
        snprintf(path, sizeof(path), "%s/namespaces/ns/c1", st.dir);
        CHECK_INTEQ(rmdir(path), 0);
        snprintf(path, sizeof(path), "%s/namespaces/ns/c2/log", st.dir);
        CHECK_INTEQ(unlink(path), 0);
        snprintf(path, sizeof(path), "%s/namespaces/ns/c2", st.dir);
        CHECK_INTEQ(rmdir(path), 0);
        struct found f;
        reopen(&st, &f);
        CHECK(f.c[1].seen && !f.c[1].error);
        CHECK_INTEQ(f.c[1].nlines, 0);
        CHECK(exists(st.dir, "namespaces/ns/c1"));
        CHECK(f.c[2].seen && !f.c[2].error);
        CHECK_STREQ(f.c[2].text, "WithHostname two\n");
        state_remove(&st);
}

TEST(a_container_made_by_mkdir_then_removed_or_renamed_is_not_made_again)
{
        struct state st;
        state_new(&st);
        make(&st, "c1");
        make(&st, "c2");
        CHECK_INTEQ(remove_container(&st, "c1"), 0);
        CHECK_INTEQ(rename_container(&st, "c2", "c3"), 0);
        struct found f;
        reopen(&st, &f);
        CHECK(!f.c[1].seen && !exists(st.dir, "namespaces/ns/c1"));
        CHECK(!f.c[2].seen && !exists(st.dir, "namespaces/ns/c2"));
        CHECK(f.c[3].seen);
        state_remove(&st);
}

TEST(a_removed_young_container_never_lends_its_log_to_one_of_the_same_name)
{
        struct state st;
        state_new(&st);
        make(&st, "c1");
        struct store_log log = { .fd = -1 };
        CHECK_INTEQ(append(&st, "c1", &log, "WithHostname old\n"), 0);
        store_log_close(st.s, &log);
        CHECK_INTEQ(remove_container(&st, "c1"), 0);
        make(&st, "c1");
        CHECK(!exists(st.dir, "namespaces/ns/c1/log"));
        struct found f;
        reopen(&st, &f);
        CHECK(f.c[1].seen);
        CHECK_INTEQ(f.c[1].nlines, 0);
        state_remove(&st);
}

TEST(a_renamed_young_container_keeps_its_log_and_leaves_nothing_behind)
{
        struct state st;
        state_new(&st);
        make(&st, "c1");
        struct store_log log = { .fd = -1 };
        CHECK_INTEQ(append(&st, "c1", &log, "WithHostname moved\n"), 0);
        CHECK_INTEQ(rename_container(&st, "c1", "c2"), 0);
        CHECK_INTEQ(append(&st, "c2", &log, "WithTTY\n"), 0);
        store_log_close(st.s, &log);
        make(&st, "c1");
        struct found f;
        reopen(&st, &f);
        CHECK_STREQ(f.c[2].text, "WithHostname moved\nWithTTY\n");
        CHECK(f.c[1].seen);
        CHECK_INTEQ(f.c[1].nlines, 0);
        state_remove(&st);
}

TEST(journal_records_of_a_replaced_list_are_not_replayed)
{
        struct state st;
        state_new(&st);
        make(&st, "c1");
        struct store_log log = { .fd = -1 }, nl = { .fd = -1 };
        CHECK_INTEQ(append(&st, "c1", &log, "WithHostname a\n"), 0);
        rwlock_lock_shared(store_names(st.s));
        CHECK_INTEQ(store_replace(st.s, "ns", "c1", PLATFORM, "WithTTY\n", 8, &nl, &st.err), 0);
        rwlock_unlock_shared(store_names(st.s));
        store_log_close(st.s, &log);
        store_log_close(st.s, &nl);
        struct found f;
        reopen(&st, &f);
        CHECK_STREQ(f.c[1].text, "WithTTY\n");
        state_remove(&st);
}

TEST(a_format_1_log_is_loaded_and_given_an_id)
{
        struct state st;
        state_new(&st);
        make(&st, "c1");
        char path[256];
        snprintf(path, sizeof(path), "%s/namespaces/ns/c1/log", st.dir);
        FILE *fp = fopen(path, "w");
        CHECK(fp != NULL);
        if (!fp)
                return;
        const char *platform = PLATFORM, *lines = "WithTTY\n";
        fprintf(fp, "bundlefs-log 1\nP %zu %08lx\n%s", strlen(platform),
                crc32(0, (const Bytef *) platform, (uInt) strlen(platform)), platform);
        fprintf(fp, "A %zu %08lx\n%s", strlen(lines), crc32(0, (const Bytef *) lines, (uInt) strlen(lines)), lines);
        fclose(fp);
        struct found f;
        reopen(&st, &f);
        CHECK_INTEQ(f.containers, 1);
        CHECK_STREQ(f.c[1].platform, PLATFORM);
        CHECK_STREQ(f.c[1].text, "WithTTY\n");
        CHECK(f.c[1].log.id != 0);
        /* Appends after the upgrade go through the journal like any other. */
        struct store_log log = f.c[1].log;
        CHECK_INTEQ(append(&st, "c1", &log, "WithHostname h\n"), 0);
        store_log_close(st.s, &log);
        store_close(st.s);
        fp = fopen(path, "r");
        char header[64] = "";
        CHECK(fp && fgets(header, sizeof(header), fp));
        if (fp)
                fclose(fp);
        CHECK(strncmp(header, "bundlefs-log 2 ", 15) == 0);
        state_open(&st);
        load(&st, &f);
        CHECK_STREQ(f.c[1].text, "WithTTY\nWithHostname h\n");
        state_remove(&st);
}

TEST(a_damaged_log_is_reported_with_its_container_not_hidden)
{
        struct state st;
        state_new(&st);
        make(&st, "c1");
        make(&st, "c2");
        struct store_log log = { .fd = -1 };
        CHECK_INTEQ(append(&st, "c1", &log, "WithHostname a\n"), 0);
        store_log_close(st.s, &log);
        char path[256];
        snprintf(path, sizeof(path), "%s/namespaces/ns/c2/log", st.dir);
        FILE *fp = fopen(path, "w");
        CHECK(fp != NULL);
        if (fp) {
                fputs("not a log at all\n", fp);
                fclose(fp);
        }
        struct found f;
        reopen(&st, &f);
        CHECK_INTEQ(f.containers, 2);
        CHECK(f.c[2].seen && f.c[2].error != 0);
        CHECK(strstr(f.c[2].reason, "damaged") != NULL);
        CHECK(strstr(f.c[2].reason, st.dir) == NULL);
        CHECK_STREQ(f.c[1].text, "WithHostname a\n");
        state_remove(&st);
}

TEST(lists_over_the_memory_limits_are_reported_and_their_logs_still_replayed)
{
        struct state st;
        state_new(&st);
        char big[4096];
        memset(big, 'x', sizeof(big));
        memcpy(big, "WithEnv BIG=", 12);
        big[sizeof(big) - 1] = '\n';
        char line[sizeof(big) + 1];
        memcpy(line, big, sizeof(big));
        line[sizeof(big)] = '\0';
        struct store_log logs[4];
        for (int k = 0; k < 4; k++) {
                char id[8];
                snprintf(id, sizeof(id), "c%d", k);
                make(&st, id);
                logs[k] = (struct store_log){ .fd = -1 };
                for (int i = 0; i <= k; i++)
                        CHECK_INTEQ(append(&st, id, &logs[k], line), 0);
        }
        /* c3's last record lost from its log: only the journal has it. */
        size_t c3_size = logs[3].size;
        CHECK_INTEQ(ftruncate(logs[3].fd, (off_t) c3_size - 100), 0);
        for (int k = 0; k < 4; k++)
                store_log_close(st.s, &logs[k]);
        struct found f;
        reopen(&st, &f);
        /* One line's memory: about its length (its argument), twice with
         * its canonical text, never three times. */
        size_t one = f.c[0].footprint;
        CHECK(one >= sizeof(big) && one < 3 * sizeof(big));
        CHECK_INTEQ(f.c[1].footprint, 2 * one);
        store_close(st.s);
        state_open(&st);
        /* A list may hold two of those lines, all lists six and a half. */
        struct store_limits limits = { .list_max = 2 * one, .total_max = 6 * one + one / 2 };
        load_limited(&st, &f, &limits);
        CHECK_INTEQ(f.containers, 4);
        CHECK(!f.c[0].error && f.c[0].nlines == 1);
        CHECK(!f.c[1].error && f.c[1].nlines == 2);
        CHECK_INTEQ(f.c[2].error, EFBIG);
        CHECK(strstr(f.c[2].reason, "--max-memory") != NULL);
        CHECK_INTEQ(f.c[3].error, EFBIG);
        CHECK_INTEQ(f.c[2].nlines, 0);
        CHECK_INTEQ((off_t) c3_size, file_size(st.dir, "namespaces/ns/c3/log"));
        store_close(st.s);
        state_open(&st);
        /* Four a list, four and a half in all. */
        limits = (struct store_limits){ .list_max = 4 * one, .total_max = 4 * one + one / 2 };
        load_limited(&st, &f, &limits);
        CHECK(!f.c[0].error && !f.c[1].error);
        CHECK_INTEQ(f.c[2].error, ENOMEM);
        CHECK(strstr(f.c[2].reason, "in all") != NULL);
        CHECK_INTEQ(f.c[3].error, ENOMEM);
        load_limited(&st, &f, NULL);
        CHECK_INTEQ(f.c[3].nlines, 4);
        state_remove(&st);
}

TEST(loading_many_containers_needs_few_descriptors)
{
        struct state st;
        state_new(&st);
        enum { N = 400 };
        for (int k = 0; k < N; k++) {
                char id[16];
                snprintf(id, sizeof(id), "c%d", k);
                make(&st, id);
                struct store_log log = { .fd = -1 };
                CHECK_INTEQ(append(&st, id, &log, "WithHostname h\n"), 0);
                store_log_close(st.s, &log);
        }
        store_close(st.s);
        struct rlimit old, low;
        CHECK_INTEQ(getrlimit(RLIMIT_NOFILE, &old), 0);
        low = (struct rlimit){ .rlim_cur = 64, .rlim_max = old.rlim_max };
        CHECK_INTEQ(setrlimit(RLIMIT_NOFILE, &low), 0);
        state_open(&st);
        struct found f;
        load(&st, &f);
        CHECK_INTEQ(setrlimit(RLIMIT_NOFILE, &old), 0);
        CHECK_INTEQ(f.containers, N);
        size_t good = 0;
        for (int k = 0; k < 64; k++)
                good += f.c[k].seen && !f.c[k].error && f.c[k].nlines == 1;
        CHECK_INTEQ(good, 64);
        state_remove(&st);
}

/* Writes past RLIMIT_FSIZE fail (EFBIG), as on a full disk: the log's
 * write fails whole or in part. */
static void limit_file_size(rlim_t bytes, struct rlimit *old)
{
        CHECK_INTEQ(getrlimit(RLIMIT_FSIZE, old), 0);
        struct rlimit l = { .rlim_cur = bytes, .rlim_max = old->rlim_max };
        CHECK_INTEQ(setrlimit(RLIMIT_FSIZE, &l), 0);
}

TEST(a_refused_append_keeps_nothing_and_the_next_one_goes_on)
{
        signal(SIGXFSZ, SIG_IGN);
        struct state st;
        state_new(&st);
        make(&st, "c1");
        struct store_log log = { .fd = -1 };
        CHECK_INTEQ(append(&st, "c1", &log, "WithHostname a\n"), 0);
        size_t size = log.size;
        struct rlimit old;
        limit_file_size(size + 10, &old);
        CHECK_INTEQ(append(&st, "c1", &log, "WithDomainname refused.example\n"), -EFBIG);
        CHECK_INTEQ(setrlimit(RLIMIT_FSIZE, &old), 0);
        CHECK_INTEQ(log.size, size);
        CHECK_INTEQ((off_t) size, file_size(st.dir, "namespaces/ns/c1/log"));
        CHECK_INTEQ(append(&st, "c1", &log, "WithTTY\n"), 0);
        store_log_close(st.s, &log);
        struct found f;
        reopen(&st, &f);
        CHECK_STREQ(f.c[1].text, "WithHostname a\nWithTTY\n");
        state_remove(&st);
}

TEST(a_refused_first_write_leaves_no_log)
{
        signal(SIGXFSZ, SIG_IGN);
        struct state st;
        state_new(&st);
        make(&st, "c1");
        struct store_log log = { .fd = -1 };
        struct rlimit old;
        limit_file_size(40, &old);
        CHECK_INTEQ(append(&st, "c1", &log, "WithHostname refused\n"), -EFBIG);
        CHECK_INTEQ(setrlimit(RLIMIT_FSIZE, &old), 0);
        CHECK(log.id == 0 && log.fd < 0);
        CHECK(!exists(st.dir, "namespaces/ns/c1/log"));
        struct found f;
        reopen(&st, &f);
        CHECK(f.c[1].seen && !f.c[1].error);
        CHECK_INTEQ(f.c[1].nlines, 0);
        state_remove(&st);
}

TEST(a_journal_write_that_fails_replays_nothing_and_the_journal_goes_on)
{
        signal(SIGXFSZ, SIG_IGN);
        struct state st;
        state_new(&st);
        make(&st, "c1");
        struct store_log log = { .fd = -1 };
        CHECK_INTEQ(append(&st, "c1", &log, "WithHostname a\n"), 0);
        size_t size = log.size;
        /* The log may grow, the journal may not write past its header. */
        struct rlimit old;
        limit_file_size(64, &old);
        CHECK(append(&st, "c1", &log, "WithTTY\n") < 0);
        CHECK_INTEQ(setrlimit(RLIMIT_FSIZE, &old), 0);
        CHECK_INTEQ(log.size, size);
        CHECK_INTEQ(append(&st, "c1", &log, "WithDomainname after.example\n"), 0);
        store_log_close(st.s, &log);
        struct found f;
        reopen(&st, &f);
        CHECK_STREQ(f.c[1].text, "WithHostname a\nWithDomainname after.example\n");
        state_remove(&st);
}

TEST(a_refused_replace_leaves_no_new_log_behind)
{
        signal(SIGXFSZ, SIG_IGN);
        struct state st;
        state_new(&st);
        make(&st, "c1");
        struct store_log log = { .fd = -1 }, nl = { .fd = -1 };
        CHECK_INTEQ(append(&st, "c1", &log, "WithHostname a\n"), 0);
        struct rlimit old;
        limit_file_size(20, &old);
        rwlock_lock_shared(store_names(st.s));
        CHECK_INTEQ(store_replace(st.s, "ns", "c1", PLATFORM, "WithTTY\n", 8, &nl, &st.err), -EFBIG);
        rwlock_unlock_shared(store_names(st.s));
        CHECK_INTEQ(setrlimit(RLIMIT_FSIZE, &old), 0);
        CHECK(!exists(st.dir, "namespaces/ns/c1/log.new"));
        store_log_close(st.s, &log);
        struct found f;
        reopen(&st, &f);
        CHECK_STREQ(f.c[1].text, "WithHostname a\n");
        state_remove(&st);
}

TEST(a_refused_control_record_drops_nothing_and_the_next_one_goes_on)
{
        signal(SIGXFSZ, SIG_IGN);
        struct state st;
        state_new(&st);
        make(&st, "c1");
        struct store_log log = { .fd = -1 };
        CHECK_INTEQ(control(&st, "c1", &log, NULL, 0, "WithMemoryLimit 1\n"), 0);
        size_t size = log.size;
        struct rlimit old;
        limit_file_size(size + 10, &old);
        uint64_t drop0 = 0;
        CHECK_INTEQ(control(&st, "c1", &log, &drop0, 1, "WithMemoryLimit 2\n"), -EFBIG);
        CHECK_INTEQ(setrlimit(RLIMIT_FSIZE, &old), 0);
        CHECK_INTEQ(log.size, size);
        CHECK_INTEQ((off_t) size, file_size(st.dir, "namespaces/ns/c1/log"));
        /* The refused record took no number: the next line is 1. */
        CHECK_INTEQ(control(&st, "c1", &log, &drop0, 1, "WithMemoryLimit 3\n"), 0);
        store_log_close(st.s, &log);
        struct found f;
        reopen(&st, &f);
        CHECK_STREQ(f.c[1].text, "WithMemoryLimit 3\n");
        CHECK_STREQ(f.c[1].numbers, "1c");
        state_remove(&st);
}

TEST(a_refused_first_write_through_a_control_file_leaves_no_log)
{
        signal(SIGXFSZ, SIG_IGN);
        struct state st;
        state_new(&st);
        make(&st, "c1");
        struct store_log log = { .fd = -1 };
        struct rlimit old;
        limit_file_size(40, &old);
        CHECK_INTEQ(control(&st, "c1", &log, NULL, 0, "WithMemoryLimit 1\n"), -EFBIG);
        CHECK_INTEQ(setrlimit(RLIMIT_FSIZE, &old), 0);
        CHECK(log.id == 0 && log.fd < 0);
        CHECK(!exists(st.dir, "namespaces/ns/c1/log"));
        struct found f;
        reopen(&st, &f);
        CHECK(f.c[1].seen && !f.c[1].error);
        CHECK_INTEQ(f.c[1].nlines, 0);
        state_remove(&st);
}

TEST(a_refused_rewrite_keeps_the_old_log_whole_and_appends_go_on)
{
        signal(SIGXFSZ, SIG_IGN);
        struct state st;
        state_new(&st);
        make(&st, "c1");
        struct store_log log = { .fd = -1 };
        CHECK_INTEQ(append(&st, "c1", &log, "WithHostname a\n"), 0);
        CHECK_INTEQ(control(&st, "c1", &log, NULL, 0, "WithMemoryLimit 1\n"), 0);
        uint64_t drop1 = 1;
        CHECK_INTEQ(control(&st, "c1", &log, &drop1, 1, "WithMemoryLimit 2\n"), 0);
        off_t before = file_size(st.dir, "namespaces/ns/c1/log");
        struct store_run runs[] = {
                { .by_control = false, .text = "WithHostname a\n", .len = 15 },
                { .by_control = true, .text = "WithMemoryLimit 2\n", .len = 18 },
        };
        struct store_log fresh = { .fd = -1 };
        struct rlimit old;
        limit_file_size(40, &old);
        CHECK_INTEQ(rewrite(&st, "c1", PLATFORM, runs, 2, &fresh), -EFBIG);
        CHECK_INTEQ(setrlimit(RLIMIT_FSIZE, &old), 0);
        CHECK(fresh.fd < 0);
        CHECK(!exists(st.dir, "namespaces/ns/c1/log.new"));
        CHECK_INTEQ(file_size(st.dir, "namespaces/ns/c1/log"), before);
        /* The old log, its numbers and all, takes the next record. */
        uint64_t drop2 = 2;
        CHECK_INTEQ(control(&st, "c1", &log, &drop2, 1, "WithMemoryLimit 3\n"), 0);
        store_log_close(st.s, &log);
        struct found f;
        reopen(&st, &f);
        CHECK(!f.c[1].error);
        CHECK_STREQ(f.c[1].text, "WithHostname a\nWithMemoryLimit 3\n");
        CHECK_STREQ(f.c[1].numbers, "0 3c");
        state_remove(&st);
}

TEST(a_removal_whose_rootfs_is_not_empty_changes_nothing)
{
        struct state st;
        state_new(&st);
        make(&st, "c1");
        bool empty = false;
        CHECK_INTEQ(store_rootfs_empty(st.s, "ns", "c1", &empty, &st.err), 0);
        CHECK(empty);   /* not made yet */
        char path[256];
        bool made = false;
        CHECK_INTEQ(store_rootfs_make(st.s, "ns", "c1", &made, &st.err), 0);   /* as its first use does */
        CHECK(made);
        snprintf(path, sizeof(path), "%s/namespaces/ns/c1/rootfs/file", st.dir);
        FILE *fp = fopen(path, "w");
        CHECK(fp != NULL);
        if (fp)
                fclose(fp);
        CHECK_INTEQ(remove_container(&st, "c1"), -ENOTEMPTY);
        CHECK(exists(st.dir, "namespaces/ns/c1/rootfs/file"));
        CHECK_INTEQ(store_rootfs_empty(st.s, "ns", "c1", &empty, &st.err), 0);
        CHECK(!empty);
        CHECK_INTEQ(unlink(path), 0);
        CHECK_INTEQ(remove_container(&st, "c1"), 0);
        CHECK(!exists(st.dir, "namespaces/ns/c1"));
        CHECK_INTEQ(store_namespace_remove(st.s, "ns", &st.err), 0);
        state_remove(&st);
}

TEST(tree_operations_need_no_descriptor)
{
        struct state st;
        state_new(&st);
        make(&st, "c1");
        make(&st, "c2");
        struct store_log log = { .fd = -1 };
        CHECK_INTEQ(append(&st, "c1", &log, "WithHostname young\n"), 0);
        store_log_close(st.s, &log);
        /* Every descriptor taken: syncs fall back to syncfs. */
        struct rlimit old, none;
        CHECK_INTEQ(getrlimit(RLIMIT_NOFILE, &old), 0);
        int fds[4096];
        int nfds = 0;
        while (nfds < 4096 && (fds[nfds] = dup(0)) >= 0)
                nfds++;
        none = (struct rlimit){ .rlim_cur = (rlim_t) fds[nfds - 1] + 1, .rlim_max = old.rlim_max };
        CHECK_INTEQ(setrlimit(RLIMIT_NOFILE, &none), 0);
        CHECK_INTEQ(rename_container(&st, "c1", "c3"), 0);
        CHECK_INTEQ(remove_container(&st, "c2"), 0);
        rwlock_lock(store_names(st.s));
        CHECK_INTEQ(store_namespace_rename(st.s, "ns", "ns2", &st.err), 0);
        CHECK_INTEQ(store_namespace_rename(st.s, "ns2", "ns", &st.err), 0);
        rwlock_unlock(store_names(st.s));
        CHECK_INTEQ(store_namespace_create(st.s, "other", &st.err), 0);
        CHECK_INTEQ(store_namespace_remove(st.s, "other", &st.err), 0);
        CHECK_INTEQ(setrlimit(RLIMIT_NOFILE, &old), 0);
        while (nfds)
                close(fds[--nfds]);
        struct found f;
        reopen(&st, &f);
        CHECK_INTEQ(f.namespaces, 1);
        CHECK_INTEQ(f.containers, 1);
        CHECK_STREQ(f.c[3].text, "WithHostname young\n");
        state_remove(&st);
}

struct writer {
        struct state *st;
        char id[16];
        struct store_log log;
        size_t created_size;
        int n;
        int failed;
};

static void *write_many(void *p)
{
        struct writer *w = p;
        for (int i = 0; i < w->n; i++) {
                char line[64];
                snprintf(line, sizeof(line), "WithEnv K%d=%d\n", i, i);
                rwlock_lock_shared(store_names(w->st->s));
                bf_error err = { 0 };
                if (store_log_acquire(w->st->s, "ns", w->id, PLATFORM, &w->log, &err) < 0 ||
                    store_append_lines(w->st->s, &w->log, line, strlen(line), &err) < 0)
                        w->failed++;
                rwlock_unlock_shared(store_names(w->st->s));
        }
        return NULL;
}

TEST(concurrent_appends_to_many_logs_all_come_back_from_the_journal)
{
        struct state st;
        state_new(&st);
        enum { WRITERS = 6, EACH = 50 };
        struct writer w[WRITERS];
        pthread_t t[WRITERS];
        for (int i = 0; i < WRITERS; i++) {
                w[i] = (struct writer){ .st = &st, .n = EACH, .log = { .fd = -1 } };
                snprintf(w[i].id, sizeof(w[i].id), "c%d", i);
                make(&st, w[i].id);
        }
        for (int i = 0; i < WRITERS; i++)
                pthread_create(&t[i], NULL, write_many, &w[i]);
        for (int i = 0; i < WRITERS; i++) {
                pthread_join(t[i], NULL);
                CHECK_INTEQ(w[i].failed, 0);
                /* As if a power cut lost every append the logs got, and the
                 * logs themselves: the journal alone brings them back. */
                store_log_close(st.s, &w[i].log);
                char path[256];
                snprintf(path, sizeof(path), "%s/namespaces/ns/%s/log", st.dir, w[i].id);
                CHECK_INTEQ(unlink(path), 0);
        }
        char expect[4096] = "";
        for (int i = 0; i < EACH; i++) {
                char line[64];
                snprintf(line, sizeof(line), "WithEnv K%d=%d\n", i, i);
                strcat(expect, line);
        }
        struct found f;
        reopen(&st, &f);
        for (int i = 0; i < WRITERS; i++)
                CHECK_STREQ(f.c[i].text, expect);
        state_remove(&st);
}

/* A journal of format 1, as earlier versions wrote it: "J <len> <crc>\n",
 * then the log's id and offset, then the log record itself. */
struct journal_writer {
        FILE *f;
        size_t size;
};

static void record_put(buf *out, char type, const char *payload, size_t len)
{
        buf_printf(out, "%c %zu %08lx\n", type, len, crc32(0, (const Bytef *) payload, (uInt) len));
        buf_put(out, payload, len);
}

/* Journal a record of type for a log; returns the record's length in the log. */
static size_t journal_put(struct journal_writer *jw, uint64_t log_id, size_t log_offset, char type,
                          const char *payload, size_t len)
{
        buf rec = { 0 }, j = { 0 }, jrec = { 0 };
        record_put(&rec, type, payload, len);
        buf_printf(&j, "%016" PRIx64 " %zu\n", log_id, log_offset);
        buf_put(&j, rec.p, rec.len);
        record_put(&jrec, 'J', j.p, j.len);
        fwrite(jrec.p, 1, jrec.len, jw->f);       /* checked once, by fclose */
        jw->size += jrec.len;
        size_t n = rec.len;
        buf_free(&rec);
        buf_free(&j);
        buf_free(&jrec);
        return n;
}

static double seconds_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* A restart after a crash that lost every log's tail, with a journal of
 * format 1 (16 MiB of small appends to many logs): every one of them is
 * written back, and the journal becomes one of this format. Loading stays
 * linear in its size. */
TEST(a_full_journal_of_format_1_is_replayed_and_upgraded)
{
        enum { LOGS = 64 };
        struct state st;
        state_new(&st);
        uint64_t ids[LOGS];
        size_t offsets[LOGS], expect_lines[LOGS];
        char expect_last[LOGS][64];
        for (int k = 0; k < LOGS; k++) {
                char id[16];
                snprintf(id, sizeof(id), "c%d", k);
                make(&st, id);
                struct store_log log = { .fd = -1 };
                CHECK_INTEQ(append(&st, id, &log, "WithHostname first\n"), 0);
                ids[k] = log.id;
                offsets[k] = log.size;
                expect_lines[k] = 1;
                store_log_close(st.s, &log);
        }
        store_close(st.s);

        char path[128];
        snprintf(path, sizeof(path), "%s/journal", st.dir);
        struct journal_writer jw = { .f = fopen(path, "w") };
        CHECK(jw.f != NULL);
        if (!jw.f)
                return;
        jw.size = (size_t) fprintf(jw.f, "bundlefs-journal 1\n");
        size_t records = 0;
        for (size_t i = 0; jw.size < ((size_t) 16 << 20); i++, records++) {
                int k = (int) (i % LOGS);
                char line[64];
                int n = snprintf(line, sizeof(line), "WithEnv K%zu=%zu\n", i, i);
                if (i / LOGS % 10 == 9) {
                        /* Every tenth record of a log keeps the list and adds a line. */
                        char t[96];
                        int tn = snprintf(t, sizeof(t), "%zu\n%s", expect_lines[k], line);
                        offsets[k] += journal_put(&jw, ids[k], offsets[k], 'T', t, (size_t) tn);
                } else {
                        offsets[k] += journal_put(&jw, ids[k], offsets[k], 'A', line, (size_t) n);
                }
                expect_lines[k]++;
                snprintf(expect_last[k], sizeof(expect_last[k]), "%.*s", n - 1, line);
        }
        CHECK_INTEQ(fclose(jw.f), 0);

        state_open(&st);
        static struct found f;
        double t0 = seconds_now();
        load(&st, &f);
        double t_replay = seconds_now() - t0;
        printf("    replayed %zu records (%.1f MiB of journal, %d logs) in %.3f s\n", records,
               (double) jw.size / 1048576.0, LOGS, t_replay);
        CHECK_INTEQ(f.containers, LOGS);
        for (int k = 0; k < LOGS; k++) {
                CHECK_INTEQ(f.c[k].nlines, expect_lines[k]);
                CHECK_STREQ(f.c[k].last, expect_last[k]);
        }
        /* The journal is of this format now, at its fixed size. */
        CHECK_INTEQ(file_size(st.dir, "journal"), (off_t) STORE_JOURNAL_SIZE);

        store_close(st.s);
        state_open(&st);
        t0 = seconds_now();
        load(&st, &f);
        double t_logs = seconds_now() - t0;
        printf("    loaded the same records from the logs in %.3f s\n", t_logs);
        for (int k = 0; k < LOGS; k++)
                CHECK_INTEQ(f.c[k].nlines, expect_lines[k]);
        state_remove(&st);
}
