/* store: durable appends through the shared journal, and its replay. */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "optline.h"
#include "store.h"

struct state {
        char dir[64];
        struct store *s;
        bf_error err;
};

/* What a load found: the lines of the one container, joined. */
struct found {
        size_t containers;
        char platform[64];
        char text[4096];
        char numbers[512];      /* each line's number, and c when a control file wrote it */
        uint64_t next_seq;
        struct store_log log;
};

static int visit(void *userdata, struct store_container *c)
{
        struct found *f = userdata;
        if (!c->id)
                return 0;
        f->containers++;
        snprintf(f->platform, sizeof(f->platform), "%s", c->platform);
        f->text[0] = '\0';
        f->numbers[0] = '\0';
        for (size_t i = 0; i < c->nlines; i++) {
                strncat(f->text, c->lines[i]->text, sizeof(f->text) - strlen(f->text) - 2);
                strcat(f->text, "\n");
                size_t at = strlen(f->numbers);
                snprintf(f->numbers + at, sizeof(f->numbers) - at, "%s%" PRIu64 "%s", i ? " " : "", c->seqs[i],
                         c->by_control[i] ? "c" : "");
        }
        f->next_seq = c->next_seq;
        f->log = c->log;
        return 0;      /* the store frees what it loaded */
}

static void state_open(struct state *st)
{
        CHECK_INTEQ(store_open(st->dir, &st->s, &st->err), 0);
}

static void state_new(struct state *st)
{
        snprintf(st->dir, sizeof(st->dir), "/tmp/bundlefs-store-XXXXXX");
        CHECK(mkdtemp(st->dir) != NULL);
        state_open(st);
        struct found f = { .log = { .fd = -1 } };
        CHECK_INTEQ(store_load(st->s, visit, &f, NULL, &st->err), 0);
        CHECK_INTEQ(store_namespace_create(st->s, "ns", &st->err), 0);
}

static void load(struct state *st, struct found *f)
{
        *f = (struct found){ .log = { .fd = -1 } };
        CHECK_INTEQ(store_load(st->s, visit, f, NULL, &st->err), 0);
}

static off_t file_size(const char *dir, const char *rel)
{
        char path[256];
        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        struct stat sb;
        return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static void state_remove(struct state *st)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", st->dir);
        CHECK_INTEQ(system(cmd), 0);
}

TEST(appends_survive_a_reload)
{
        struct state st;
        state_new(&st);
        struct store_log log;
        CHECK_INTEQ(store_container_create(st.s, "ns", "c1", "linux/amd64", &log, &st.err), 0);
        CHECK_INTEQ(store_append_lines(st.s, &log, "WithHostname a\n", 15, &st.err), 0);
        CHECK_INTEQ(store_append_platform(st.s, &log, "linux/arm64", &st.err), 0);
        CHECK_INTEQ(store_truncate_append(st.s, &log, 0, "WithHostname b\nWithTTY\n", 23, &st.err), 0);
        close(log.fd);
        store_close(st.s);
        state_open(&st);
        struct found f;
        load(&st, &f);
        CHECK_INTEQ(f.containers, 1);
        CHECK_STREQ(f.platform, "linux/arm64");
        CHECK_STREQ(f.text, "WithHostname b\nWithTTY\n");
        close(f.log.fd);
        store_close(st.s);
        state_remove(&st);
}

TEST(a_container_directory_keeps_its_inode_number_across_a_rename_and_a_reopen)
{
        struct state st;
        state_new(&st);
        struct store_log log;
        CHECK_INTEQ(store_container_create(st.s, "ns", "c1", "linux/amd64", &log, &st.err), 0);
        close(log.fd);
        struct stat before, after, ns;
        struct timespec birth, birth_after;
        CHECK_INTEQ(store_dir_stat(st.s, "ns", "c1", &before, &birth), 0);
        CHECK(S_ISDIR(before.st_mode));
        CHECK_INTEQ(store_dir_stat(st.s, "ns", NULL, &ns, NULL), 0);
        CHECK(ns.st_ino != before.st_ino);
        CHECK_INTEQ(store_container_rename(st.s, "ns", "c1", "ns", "c2", &st.err), 0);
        CHECK_INTEQ(store_dir_stat(st.s, "ns", "c1", &after, NULL), -ENOENT);
        store_close(st.s);
        state_open(&st);
        CHECK_INTEQ(store_dir_stat(st.s, "ns", "c2", &after, &birth_after), 0);
        CHECK_INTEQ(after.st_ino, before.st_ino);
        CHECK_INTEQ(birth_after.tv_sec, birth.tv_sec);
        CHECK_INTEQ(birth_after.tv_nsec, birth.tv_nsec);
        store_close(st.s);
        state_remove(&st);
}

TEST(a_control_record_drops_lines_by_number_and_marks_its_own)
{
        struct state st;
        state_new(&st);
        struct store_log log;
        CHECK_INTEQ(store_container_create(st.s, "ns", "c1", "linux/amd64", &log, &st.err), 0);
        /* lines 0 and 1 by hand, 2 through a control file */
        CHECK_INTEQ(store_append_lines(st.s, &log, "WithHostname a\nWithEnv A=1\n", 27, &st.err), 0);
        CHECK_INTEQ(store_append_control(st.s, &log, NULL, 0, "WithMemoryLimit 1\n", 18, &st.err), 0);
        /* 3 drops 2, 4 drops 0 (the numbers do not move) */
        uint64_t drop2 = 2, drop0 = 0;
        CHECK_INTEQ(store_append_control(st.s, &log, &drop2, 1, "WithMemoryLimit 2\n", 18, &st.err), 0);
        CHECK_INTEQ(store_append_control(st.s, &log, &drop0, 1, "WithHostname b\n", 15, &st.err), 0);
        close(log.fd);
        store_close(st.s);
        state_open(&st);
        struct found f;
        load(&st, &f);
        CHECK_STREQ(f.text, "WithEnv A=1\nWithMemoryLimit 2\nWithHostname b\n");
        CHECK_STREQ(f.numbers, "1 3c 4c");
        CHECK_UINTEQ(f.next_seq, 5);
        close(f.log.fd);
        store_close(st.s);
        state_remove(&st);
}

TEST(a_control_record_naming_a_line_not_there_fails_the_load_of_its_container)
{
        struct state st;
        state_new(&st);
        struct store_log log;
        CHECK_INTEQ(store_container_create(st.s, "ns", "c1", "linux/amd64", &log, &st.err), 0);
        CHECK_INTEQ(store_append_lines(st.s, &log, "WithHostname a\n", 15, &st.err), 0);
        uint64_t drop = 7;
        CHECK_INTEQ(store_append_control(st.s, &log, &drop, 1, "WithHostname b\n", 15, &st.err), 0);
        close(log.fd);
        store_close(st.s);
        state_open(&st);
        struct found f;
        load(&st, &f);
        CHECK_INTEQ(f.containers, 0);   /* left on disk, reported */
        store_close(st.s);
        state_remove(&st);
}

TEST(a_log_written_anew_keeps_who_wrote_each_line_and_numbers_them_from_0)
{
        struct state st;
        state_new(&st);
        struct store_log log;
        CHECK_INTEQ(store_container_create(st.s, "ns", "c1", "linux/amd64", &log, &st.err), 0);
        struct store_run runs[] = {
                { .by_control = false, .text = "WithHostname a\n", .len = 15 },
                { .by_control = true, .text = "WithMemoryLimit 1\nWithPidsLimit 5\n", .len = 33 },
                { .by_control = false, .text = "WithEnv A=1\n", .len = 12 },
        };
        struct store_log fresh;
        CHECK_INTEQ(store_rewrite(st.s, "ns", "c1", "linux/arm64", runs, 3, &fresh, &st.err), 0);
        uint64_t drop = 2;
        CHECK_INTEQ(store_append_control(st.s, &fresh, &drop, 1, "WithPidsLimit 6\n", 16, &st.err), 0);
        close(log.fd);
        close(fresh.fd);
        store_close(st.s);
        state_open(&st);
        struct found f;
        load(&st, &f);
        CHECK_STREQ(f.platform, "linux/arm64");
        CHECK_STREQ(f.text, "WithHostname a\nWithMemoryLimit 1\nWithEnv A=1\nWithPidsLimit 6\n");
        CHECK_STREQ(f.numbers, "0 1c 3 4c");
        close(f.log.fd);
        store_close(st.s);
        state_remove(&st);
}

TEST(a_log_tail_lost_in_a_power_cut_comes_back_from_the_journal)
{
        struct state st;
        state_new(&st);
        struct store_log log;
        CHECK_INTEQ(store_container_create(st.s, "ns", "c1", "linux/amd64", &log, &st.err), 0);
        CHECK_INTEQ(store_append_lines(st.s, &log, "WithHostname a\n", 15, &st.err), 0);
        size_t before = log.size;
        CHECK_INTEQ(store_append_lines(st.s, &log, "WithDomainname d\n", 17, &st.err), 0);
        CHECK_INTEQ(store_append_lines(st.s, &log, "WithTTY\n", 8, &st.err), 0);
        /* The log lost its last records and half of one: the journal has them. */
        CHECK_INTEQ(ftruncate(log.fd, (off_t) before + 5), 0);
        close(log.fd);
        store_close(st.s);
        state_open(&st);
        struct found f;
        load(&st, &f);
        CHECK_STREQ(f.text, "WithHostname a\nWithDomainname d\nWithTTY\n");
        CHECK_INTEQ(f.log.size, (size_t) file_size(st.dir, "namespaces/ns/c1/log"));
        /* The journal was emptied once the logs were synced. */
        CHECK_INTEQ(file_size(st.dir, "journal"), (off_t) strlen("bundlefs-journal 1\n"));
        close(f.log.fd);
        store_close(st.s);
        /* And loads the same again. */
        state_open(&st);
        load(&st, &f);
        CHECK_STREQ(f.text, "WithHostname a\nWithDomainname d\nWithTTY\n");
        close(f.log.fd);
        store_close(st.s);
        state_remove(&st);
}

TEST(journal_records_of_a_replaced_list_are_not_replayed)
{
        struct state st;
        state_new(&st);
        struct store_log log, nl;
        CHECK_INTEQ(store_container_create(st.s, "ns", "c1", "linux/amd64", &log, &st.err), 0);
        CHECK_INTEQ(store_append_lines(st.s, &log, "WithHostname a\n", 15, &st.err), 0);
        CHECK_INTEQ(store_replace(st.s, "ns", "c1", "linux/amd64", "WithTTY\n", 8, &nl, &st.err), 0);
        close(log.fd);
        close(nl.fd);
        store_close(st.s);
        state_open(&st);
        struct found f;
        load(&st, &f);
        CHECK_STREQ(f.text, "WithTTY\n");
        close(f.log.fd);
        store_close(st.s);
        state_remove(&st);
}

TEST(a_format_1_log_is_loaded_and_given_an_id)
{
        struct state st;
        state_new(&st);
        struct store_log log;
        CHECK_INTEQ(store_container_create(st.s, "ns", "c1", "linux/amd64", &log, &st.err), 0);
        close(log.fd);
        store_close(st.s);
        char path[256];
        snprintf(path, sizeof(path), "%s/namespaces/ns/c1/log", st.dir);
        FILE *fp = fopen(path, "w");
        CHECK(fp != NULL);
        const char *platform = "linux/amd64", *lines = "WithTTY\n";
        fprintf(fp, "bundlefs-log 1\nP %zu %08lx\n%s", strlen(platform),
                crc32(0, (const Bytef *) platform, (uInt) strlen(platform)), platform);
        fprintf(fp, "A %zu %08lx\n%s", strlen(lines), crc32(0, (const Bytef *) lines, (uInt) strlen(lines)), lines);
        fclose(fp);
        state_open(&st);
        struct found f;
        load(&st, &f);
        CHECK_INTEQ(f.containers, 1);
        CHECK_STREQ(f.platform, "linux/amd64");
        CHECK_STREQ(f.text, "WithTTY\n");
        CHECK(f.log.id != 0);
        /* Appends after the upgrade go through the journal like any other. */
        CHECK_INTEQ(store_append_lines(st.s, &f.log, "WithHostname h\n", 15, &st.err), 0);
        close(f.log.fd);
        store_close(st.s);
        fp = fopen(path, "r");
        char header[64] = "";
        CHECK(fp && fgets(header, sizeof(header), fp));
        if (fp)
                fclose(fp);
        CHECK(strncmp(header, "bundlefs-log 2 ", 15) == 0);
        state_open(&st);
        load(&st, &f);
        CHECK_STREQ(f.text, "WithTTY\nWithHostname h\n");
        close(f.log.fd);
        store_close(st.s);
        state_remove(&st);
}

struct writer {
        struct state *st;
        struct store_log log;
        size_t created_size;
        int n;
        int failed;
};

static void *write_many(void *p)
{
        struct writer *w = p;
        bf_error err = { 0 };
        for (int i = 0; i < w->n; i++) {
                char line[64];
                int len = snprintf(line, sizeof(line), "WithEnv K%d=%d\n", i, i);
                if (store_append_lines(w->st->s, &w->log, line, (size_t) len, &err) < 0)
                        w->failed++;
        }
        return NULL;
}

struct matching {
        const char *expect;
        size_t count;
};

static int visit_count_matching(void *userdata, struct store_container *c)
{
        struct matching *m = userdata;
        if (c->id) {
                char text[4096] = "";
                for (size_t i = 0; i < c->nlines; i++) {
                        strncat(text, c->lines[i]->text, sizeof(text) - strlen(text) - 2);
                        strcat(text, "\n");
                }
                if (strcmp(text, m->expect) == 0)
                        m->count++;
                close(c->log.fd);
        }
        return 0;       /* the store frees what it loaded */
}

TEST(concurrent_appends_to_many_logs_all_come_back_from_the_journal)
{
        struct state st;
        state_new(&st);
        enum { WRITERS = 6, EACH = 50 };
        struct writer w[WRITERS];
        pthread_t t[WRITERS];
        for (int i = 0; i < WRITERS; i++) {
                char id[16];
                snprintf(id, sizeof(id), "c%d", i);
                w[i] = (struct writer){ .st = &st, .n = EACH };
                CHECK_INTEQ(store_container_create(st.s, "ns", id, "linux/amd64", &w[i].log, &st.err), 0);
                w[i].created_size = w[i].log.size;
        }
        for (int i = 0; i < WRITERS; i++)
                pthread_create(&t[i], NULL, write_many, &w[i]);
        for (int i = 0; i < WRITERS; i++) {
                pthread_join(t[i], NULL);
                CHECK_INTEQ(w[i].failed, 0);
                /* As if a power cut lost every append the logs got: the
                 * journal alone brings them back. */
                CHECK_INTEQ(ftruncate(w[i].log.fd, (off_t) w[i].created_size), 0);
                close(w[i].log.fd);
        }
        store_close(st.s);
        char expect[4096] = "";
        for (int i = 0; i < EACH; i++) {
                char line[64];
                snprintf(line, sizeof(line), "WithEnv K%d=%d\n", i, i);
                strcat(expect, line);
        }
        state_open(&st);
        struct matching m = { .expect = expect };
        CHECK_INTEQ(store_load(st.s, visit_count_matching, &m, NULL, &st.err), 0);
        CHECK_INTEQ(m.count, WRITERS);
        store_close(st.s);
        state_remove(&st);
}

/* A journal written as the store writes it: "J <len> <crc>\n", then the
 * log's id and offset, then the log record itself. */
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

struct replayed {
        size_t containers;
        size_t lines[64];
        char last[64][64];
};

static int visit_replayed(void *userdata, struct store_container *c)
{
        struct replayed *rp = userdata;
        if (c->id) {
                unsigned k = (unsigned) atoi(c->id + 1);
                if (k < 64) {
                        rp->containers++;
                        rp->lines[k] = c->nlines;
                        snprintf(rp->last[k], sizeof(rp->last[k]), "%s", c->nlines ? c->lines[c->nlines - 1]->text : "");
                }
                close(c->log.fd);
        }
        return 0;       /* the store frees what it loaded */
}

static double seconds_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* A restart after a crash that lost every log's tail: the whole journal (as
 * large as it grows, STORE_JOURNAL_MAX) is small appends to many logs, and
 * every one of them is written back. Loading must stay linear in its size. */
TEST(a_full_journal_of_small_appends_to_many_logs_is_replayed)
{
        enum { LOGS = 64 };
        struct state st;
        state_new(&st);
        uint64_t ids[LOGS];
        size_t offsets[LOGS], expect_lines[LOGS] = { 0 };
        char expect_last[LOGS][64];
        for (int k = 0; k < LOGS; k++) {
                char id[16];
                snprintf(id, sizeof(id), "c%d", k);
                struct store_log log;
                CHECK_INTEQ(store_container_create(st.s, "ns", id, "linux/amd64", &log, &st.err), 0);
                ids[k] = log.id;
                offsets[k] = log.size;
                close(log.fd);
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
        for (size_t i = 0; jw.size < STORE_JOURNAL_MAX; i++, records++) {
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
        struct replayed rp = { 0 };
        double t0 = seconds_now();
        CHECK_INTEQ(store_load(st.s, visit_replayed, &rp, NULL, &st.err), 0);
        double t_replay = seconds_now() - t0;
        store_close(st.s);
        printf("    replayed %zu records (%.1f MiB of journal, %d logs) in %.3f s\n", records,
               (double) jw.size / 1048576.0, LOGS, t_replay);
        CHECK_INTEQ(rp.containers, LOGS);
        for (int k = 0; k < LOGS; k++) {
                CHECK_INTEQ(rp.lines[k], expect_lines[k]);
                CHECK_STREQ(rp.last[k], expect_last[k]);
        }
        /* The journal was emptied; the logs now hold every record. */
        CHECK_INTEQ(file_size(st.dir, "journal"), (off_t) strlen("bundlefs-journal 1\n"));

        state_open(&st);
        rp = (struct replayed){ 0 };
        t0 = seconds_now();
        CHECK_INTEQ(store_load(st.s, visit_replayed, &rp, NULL, &st.err), 0);
        double t_logs = seconds_now() - t0;
        store_close(st.s);
        printf("    loaded the same records from the logs in %.3f s\n", t_logs);
        for (int k = 0; k < LOGS; k++)
                CHECK_INTEQ(rp.lines[k], expect_lines[k]);
        state_remove(&st);
}
