/* fs_bench: how fast a mounted bundlefs answers, each figure next to a floor
 * measured in the same run.
 *
 * It mounts bundlefs (a fresh state directory) and noop_fs (the floor: one
 * fixed 2 KiB file that accepts and ignores writes, set up as bundlefs's
 * generated files are), then times from this process:
 * - reads (open, read to EOF, close) of config.json for the default spec and
 *   for list12.opts, and of the hostname and caps control files, against the
 *   same read of the noop file;
 * - stat of config.json against stat of the noop file;
 * - an append of one line to opts (open O_APPEND, write, close) and a write
 *   to hostname (open O_TRUNC, write, close), against a durable append of the
 *   same bytes to a plain file beside the state directory (open O_APPEND,
 *   write, fdatasync, close) and against the same write to the noop file;
 * - N threads reading config.json at once against N threads reading the
 *   noop file.
 * Each group of measures runs in rounds, the measures taking turns within a
 * round (the order rotates), and the median round is reported. See
 * README.md. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "files.h"

#ifndef BENCH_SOURCE_ROOT
#define BENCH_SOURCE_ROOT "."
#endif

#define MAX_ROUNDS 64
#define MAX_MEASURES 8
#define MAX_ROWS 8
#define MAX_THREADS 64
#define READ_BUF (64 * 1024)
#define NOOP_SIZE 2048
#define STOP_TIMEOUT 20.0               /* seconds a daemon may take to stop */

#define APPEND_LINE "WithHostname x\n"
#define CONTROL_VALUE "x\n"

/* ---- the mounts ------------------------------------------------------------------ */

struct bench {
        /* options */
        double seconds, warmup;
        int rounds, threads, batch;
        bool verbose;
        const char *only;
        char *bundlefs_path, *noop_path, *list_path, *parent;
        char **prefix;                  /* --daemon-prefix words, NULL-terminated */
        double mount_timeout;

        /* environment */
        char *tmp, *state, *plain_dir;
        struct bench_daemon bfs, noop;
        char *list_text;
        size_t list_len, list_lines;
        int def_dir, web_dir, wr_dir, noop_dir, plain_dirfd;
        size_t def_size, web_size, noop_size;
};


static void daemon_start(struct bench *b, struct bench_daemon *d, char **prefix, char *const argv_tail[])
{
        char *argv[64];
        int n = 0;
        for (char **p = prefix; p && *p && n < 40; p++)
                argv[n++] = *p;
        for (char *const *p = argv_tail; *p && n < 63; p++)
                argv[n++] = *p;
        argv[n] = NULL;
        bench_daemon_start(d, argv, NULL, b->mount_timeout);
        /* Its CPU time, threads come and gone included (the dcpu columns). Under a prefix
         * (perf) the pid is the wrapper's, whose time is not the daemon's: none shown. */
        if (prefix)
                d->have_cpu_clock = false;
}

static void teardown(struct bench *b)
{
        int *fds[] = { &b->def_dir, &b->web_dir, &b->wr_dir, &b->noop_dir, &b->plain_dirfd };
        for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
                if (*fds[i] >= 0) {
                        close(*fds[i]);
                        *fds[i] = -1;
                }
        bench_daemon_stop(&b->bfs, STOP_TIMEOUT);
        bench_daemon_stop(&b->noop, STOP_TIMEOUT);
        if (!b->tmp)
                return;
        /* The rootfs bind mounts go with bundlefs: wait a little for a lazy unmount. */
        bench_remove_temp_dir(b->tmp, 0.5);
}

static void teardown_on_die(void *b)
{
        teardown(b);
}

/* ---- the operations -------------------------------------------------------------- */

enum kind {
        K_READ,         /* open O_RDONLY, read to EOF, close */
        K_STAT,         /* fstatat */
        K_WRITE,        /* open (flags), one write, close */
        K_DURABLE,      /* open (flags), one write, fdatasync, close */
};

struct target {
        enum kind kind;
        int *dirfd;
        const char *name;
        int flags;                      /* K_WRITE, K_DURABLE: O_APPEND or O_TRUNC */
        const char *data;
        size_t len;
        size_t expect;                  /* K_READ, K_STAT: the size every time */
};

/* 0, or a negative errno; *what names the call that failed. */
static int do_op(const struct target *t, char *rbuf, const char **what)
{
        int fd, r = 0;
        switch (t->kind) {
        case K_READ: {
                *what = "open";
                fd = openat(*t->dirfd, t->name, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        return -errno;
                size_t total = 0;
                ssize_t n;
                while ((n = read(fd, rbuf, READ_BUF)) > 0)
                        total += (size_t) n;
                if (n < 0) {
                        *what = "read";
                        r = -errno;
                } else if (total != t->expect) {
                        *what = "read (size changed)";
                        r = -EIO;
                }
                if (close(fd) < 0 && r == 0) {
                        *what = "close";
                        r = -errno;
                }
                return r;
        }
        case K_STAT: {
                struct stat st;
                *what = "stat";
                if (fstatat(*t->dirfd, t->name, &st, 0) < 0)
                        return -errno;
                if ((size_t) st.st_size != t->expect) {
                        *what = "stat (size changed)";
                        return -EIO;
                }
                return 0;
        }
        case K_WRITE:
        case K_DURABLE:
                *what = "open";
                fd = openat(*t->dirfd, t->name, O_WRONLY | O_CLOEXEC | t->flags | (t->kind == K_DURABLE ? O_CREAT : 0),
                            0644);
                if (fd < 0)
                        return -errno;
                ssize_t w = write(fd, t->data, t->len);
                if (w < 0 || (size_t) w != t->len) {
                        *what = "write";
                        r = w < 0 ? -errno : -EIO;
                }
                if (r == 0 && t->kind == K_DURABLE && fdatasync(fd) < 0) {
                        *what = "fdatasync";
                        r = -errno;
                }
                if (close(fd) < 0 && r == 0) {
                        *what = "close";
                        r = -errno;
                }
                return r;
        }
        return -EINVAL;
}

/* ---- measures and groups --------------------------------------------------------- */

struct measure;
typedef void (*reset_fn)(struct bench *b, const struct measure *m);

struct measure {
        const char *label;
        char lines[32];                 /* the option list length it ran at ("-" for a floor) */
        struct target t;
        int threads;                    /* 1: timed op by op; more: aggregate throughput */
        struct bench_daemon *srv;             /* whose CPU time is counted, or NULL */
        reset_fn reset;                 /* untimed, before each run and after every `batch` ops */
        int batch;

        double rate[MAX_ROUNDS];        /* ops/s per round */
        double cpu[MAX_ROUNDS];         /* daemon CPU seconds per op per round */
        long long ops;
};

struct row {
        int op, floor;
};

struct group {
        const char *key;                /* for --only */
        const char *title;
        struct measure m[MAX_MEASURES];
        int nm;
        struct row rows[MAX_ROWS];
        int nrows;
};

struct run_result {
        long long ops;
        double elapsed;
        double cpu;
};

struct thread_arg {
        const struct target *t;
        pthread_barrier_t *start;
        volatile int *stop;
        long long ops;
        int err;
        const char *what;
};

static void *reader_thread(void *p)
{
        struct thread_arg *a = p;
        char *rbuf = malloc(READ_BUF);
        if (!rbuf) {
                a->err = -ENOMEM;
                a->what = "malloc";
        }
        pthread_barrier_wait(a->start);
        while (rbuf && !__atomic_load_n(a->stop, __ATOMIC_RELAXED)) {
                int r = do_op(a->t, rbuf, &a->what);
                if (r < 0) {
                        a->err = r;
                        break;
                }
                a->ops++;
        }
        free(rbuf);
        return NULL;
}

static void op_failed(const struct measure *m, int r, const char *what)
{
        bench_die("%s: %s %s: %s", m->label, what, m->t.name, strerror(-r));
}

static struct run_result run_threads(struct bench *b, const struct measure *m, double seconds)
{
        (void) b;
        struct run_result res = { 0 };
        pthread_t th[MAX_THREADS];
        struct thread_arg args[MAX_THREADS];
        pthread_barrier_t start;
        volatile int stop = 0;
        pthread_barrier_init(&start, NULL, (unsigned) m->threads + 1);
        for (int i = 0; i < m->threads; i++) {
                args[i] = (struct thread_arg){ .t = &m->t, .start = &start, .stop = &stop };
                if (pthread_create(&th[i], NULL, reader_thread, &args[i]) != 0)
                        bench_die("pthread_create failed");
        }
        pthread_barrier_wait(&start);
        double t0 = bench_now(), c0 = bench_daemon_cpu(m->srv);
        bench_sleep(seconds);
        __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
        for (int i = 0; i < m->threads; i++)
                pthread_join(th[i], NULL);
        res.elapsed = bench_now() - t0;
        res.cpu = bench_daemon_cpu(m->srv) - c0;
        pthread_barrier_destroy(&start);
        for (int i = 0; i < m->threads; i++) {
                if (args[i].err)
                        op_failed(m, args[i].err, args[i].what);
                res.ops += args[i].ops;
        }
        return res;
}

/* Run m for `seconds` of timed wall time; resets (every `batch` ops) are not timed. */
static struct run_result run_for(struct bench *b, const struct measure *m, double seconds)
{
        if (m->threads > 1)
                return run_threads(b, m, seconds);
        static char rbuf[READ_BUF];
        struct run_result res = { 0 };
        if (m->reset)
                m->reset(b, m);
        long long seg_ops = 0;
        double seg_t0 = bench_now(), seg_c0 = bench_daemon_cpu(m->srv);
        for (;;) {
                const char *what = "";
                int r = do_op(&m->t, rbuf, &what);
                if (r < 0)
                        op_failed(m, r, what);
                res.ops++;
                seg_ops++;
                double t = bench_now();
                if (res.elapsed + (t - seg_t0) >= seconds || bench_interrupted) {
                        res.elapsed += t - seg_t0;
                        res.cpu += bench_daemon_cpu(m->srv) - seg_c0;
                        break;
                }
                if (m->reset && m->batch && seg_ops == m->batch) {
                        res.elapsed += t - seg_t0;
                        res.cpu += bench_daemon_cpu(m->srv) - seg_c0;
                        m->reset(b, m);
                        seg_ops = 0;
                        seg_t0 = bench_now();
                        seg_c0 = bench_daemon_cpu(m->srv);
                }
        }
        return res;
}

static void run_group(struct bench *b, struct group *g)
{
        printf("\n[%s] %d measure%s x %d round%s of %.2f s, taking turns", g->title, g->nm, g->nm == 1 ? "" : "s",
               b->rounds, b->rounds == 1 ? "" : "s", b->seconds);
        fflush(stdout);
        for (int i = 0; i < g->nm && b->warmup > 0; i++)
                run_for(b, &g->m[i], b->warmup);
        for (int r = 0; r < b->rounds && !bench_interrupted; r++) {
                /* Rotate the order so that no measure always follows the same one. */
                for (int k = 0; k < g->nm && !bench_interrupted; k++) {
                        struct measure *m = &g->m[(k + r) % g->nm];
                        struct run_result res = run_for(b, m, b->seconds);
                        m->rate[r] = (double) res.ops / res.elapsed;
                        m->cpu[r] = res.ops ? res.cpu / (double) res.ops : 0;
                        m->ops += res.ops;
                }
                printf(".");
                fflush(stdout);
        }
        printf("\n");
        if (bench_interrupted)
                return;
        if (b->verbose)
                for (int i = 0; i < g->nm; i++) {
                        struct measure *m = &g->m[i];
                        printf("  %-40s rounds:", m->label);
                        for (int r = 0; r < b->rounds; r++)
                                printf(" %.0f", m->rate[r]);
                        printf(" ops/s (%lld ops)\n", m->ops);
                }
}

static void print_header(void)
{
        printf("\n%-38s %-6s %10s %9s %8s | %-30s %10s %9s %8s | %7s\n", "operation", "lines", "ops/s", "us/op",
               "dcpu/op", "floor", "ops/s", "us/op", "dcpu/op", "ratio");
        for (int i = 0; i < 38 + 1 + 6 + 1 + 10 + 1 + 9 + 1 + 8 + 3 + 30 + 1 + 10 + 1 + 9 + 1 + 8 + 3 + 7; i++)
                putchar('-');
        putchar('\n');
}

static void fmt_cpu(char *out, size_t size, const struct measure *m, int rounds)
{
        if (!m->srv || !m->srv->have_cpu_clock)
                snprintf(out, size, "-");
        else
                snprintf(out, size, "%.1f", bench_median(m->cpu, (size_t) rounds) * 1e6);
}

static void print_rows(const struct bench *b, const struct group *g)
{
        for (int i = 0; i < g->nrows; i++) {
                const struct measure *o = &g->m[g->rows[i].op], *f = &g->m[g->rows[i].floor];
                double ro = bench_median(o->rate, (size_t) b->rounds), rf = bench_median(f->rate, (size_t) b->rounds);
                char co[32], cf[32];
                char *no = bench_fmt_count(ro), *nf = bench_fmt_count(rf);
                fmt_cpu(co, sizeof(co), o, b->rounds);
                fmt_cpu(cf, sizeof(cf), f, b->rounds);
                printf("%-38s %-6s %10s %9.1f %8s | %-30s %10s %9.1f %8s | %6.2fx\n", o->label, o->lines, no, 1e6 / ro,
                       co, f->label, nf, 1e6 / rf, cf, rf / ro);
                free(no);
                free(nf);
        }
}

/* ---- setup ------------------------------------------------------------------------ */

/* Replace a container's list by list12 (opts opened with O_TRUNC: checked and
 * kept as a whole at close). */
static void set_list(struct bench *b, int dirfd, bool list12)
{
        int fd = openat(dirfd, "opts", O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
                bench_die("opening opts: %s", strerror(errno));
        int r = list12 ? fd_write_all(fd, b->list_text, b->list_len) : 0;
        if (r < 0)
                bench_die("writing %s to opts: %s", b->list_path, strerror(-r));
        if (close(fd) < 0)
                bench_die("replacing opts by %s: %s", b->list_path, strerror(errno));
}

static size_t count_lines(int dirfd)
{
        size_t n = 0, len;
        char *path = bench_asprintf("/proc/self/fd/%d/opts", dirfd);
        char *text = bench_read_file(path, &len);
        free(path);
        if (!text)
                bench_die("reading opts: %s", strerror(errno));
        for (size_t i = 0; i < len; i++)
                n += text[i] == '\n';
        free(text);
        return n;
}

/* The bytes a read to EOF gives, which st_size must announce. */
static size_t read_size(int dirfd, const char *name)
{
        size_t total = bench_read_size(dirfd, name);
        struct stat st;
        if (fstatat(dirfd, name, &st, 0) < 0)
                bench_die("stat %s: %s", name, strerror(errno));
        if ((size_t) st.st_size != total)
                bench_die("%s: st_size %lld but %zu bytes read", name, (long long) st.st_size, total);
        return total;
}

static void reset_wr_list(struct bench *b, const struct measure *m)
{
        (void) m;
        set_list(b, b->wr_dir, true);
}

static void reset_plain(struct bench *b, const struct measure *m)
{
        int fd = openat(b->plain_dirfd, m->t.name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || fsync(fd) < 0)
                bench_die("truncating %s/%s: %s", b->plain_dir, m->t.name, strerror(errno));
        close(fd);
}

static void setup(struct bench *b)
{
        char *tmpl = bench_asprintf("%s/fs_bench.XXXXXX", b->parent);
        if (!mkdtemp(tmpl))
                bench_die("mkdtemp %s: %s", tmpl, strerror(errno));
        char *real = realpath(tmpl, NULL);
        free(tmpl);
        if (!real)
                bench_die("realpath: %s", strerror(errno));
        b->tmp = real;
        b->state = bench_asprintf("%s/state", b->tmp);
        b->plain_dir = bench_asprintf("%s/plain", b->tmp);
        b->bfs = (struct bench_daemon){ .name = "bundlefs", .mnt = bench_asprintf("%s/mnt", b->tmp),
                                  .log = bench_asprintf("%s/bundlefs.log", b->tmp) };
        b->noop = (struct bench_daemon){ .name = "noop_fs", .mnt = bench_asprintf("%s/noop", b->tmp),
                                   .log = bench_asprintf("%s/noop_fs.log", b->tmp) };
        bench_make_dir(b->bfs.mnt);
        bench_make_dir(b->noop.mnt);
        bench_make_dir(b->plain_dir);

        char size_opt[32];
        snprintf(size_opt, sizeof(size_opt), "--size=%d", NOOP_SIZE);
        char *bfs_argv[] = { b->bundlefs_path, "-f", "--state", b->state, b->bfs.mnt, NULL };
        char *noop_argv[] = { b->noop_path, "-f", size_opt, b->noop.mnt, NULL };
        daemon_start(b, &b->bfs, b->prefix, bfs_argv);
        daemon_start(b, &b->noop, NULL, noop_argv);

        /* bench/def: the default spec; bench/web: list12; bench/wr: list12, for writes. */
        char *ns = bench_asprintf("%s/bench", b->bfs.mnt);
        bench_make_dir(ns);
        char *def = bench_asprintf("%s/def", ns), *web = bench_asprintf("%s/web", ns), *wr = bench_asprintf("%s/wr", ns);
        bench_make_dir(def);
        bench_make_dir(web);
        bench_make_dir(wr);
        b->def_dir = bench_open_dir(def);
        b->web_dir = bench_open_dir(web);
        b->wr_dir = bench_open_dir(wr);
        b->noop_dir = bench_open_dir(b->noop.mnt);
        b->plain_dirfd = bench_open_dir(b->plain_dir);
        free(ns);
        free(def);
        free(web);
        free(wr);

        set_list(b, b->web_dir, true);
        set_list(b, b->wr_dir, true);
        b->list_lines = count_lines(b->web_dir);
        b->def_size = read_size(b->def_dir, "config.json");
        b->web_size = read_size(b->web_dir, "config.json");
        b->noop_size = read_size(b->noop_dir, "file");
}

/* ---- the groups ------------------------------------------------------------------- */

static struct measure measure_of(const char *label, const char *lines, struct target t, struct bench_daemon *srv)
{
        struct measure m = { .label = label, .t = t, .threads = 1, .srv = srv };
        snprintf(m.lines, sizeof(m.lines), "%s", lines);
        return m;
}

static int build_groups(struct bench *b, struct group *gs)
{
        int ng = 0;
        char l12[16], range[32];
        snprintf(l12, sizeof(l12), "%zu", b->list_lines);
        /* Appends grow the list: it is put back to list12 every `batch` writes (untimed),
         * so each write meets a list of list12 .. list12 + batch - 1 lines. */
        snprintf(range, sizeof(range), "%zu-%zu", b->list_lines, b->list_lines + (size_t) b->batch - 1);

        struct target noop_read = { .kind = K_READ, .dirfd = &b->noop_dir, .name = "file", .expect = b->noop_size };
        char *noop_label = bench_asprintf("noop read (%zu B)", b->noop_size);

        struct group *g = &gs[ng++];
        *g = (struct group){ .key = "read", .title = "read: open, read to EOF, close" };
        g->m[g->nm++] = measure_of("read config.json (default spec)", "0",
                                   (struct target){ .kind = K_READ, .dirfd = &b->def_dir, .name = "config.json",
                                                    .expect = b->def_size },
                                   &b->bfs);
        g->m[g->nm++] = measure_of("read config.json (list12)", l12,
                                   (struct target){ .kind = K_READ, .dirfd = &b->web_dir, .name = "config.json",
                                                    .expect = b->web_size },
                                   &b->bfs);
        g->m[g->nm++] = measure_of("read hostname (list12)", l12,
                                   (struct target){ .kind = K_READ, .dirfd = &b->web_dir, .name = "hostname",
                                                    .expect = read_size(b->web_dir, "hostname") },
                                   &b->bfs);
        g->m[g->nm++] = measure_of("read caps (list12)", l12,
                                   (struct target){ .kind = K_READ, .dirfd = &b->web_dir, .name = "caps",
                                                    .expect = read_size(b->web_dir, "caps") },
                                   &b->bfs);
        int fl = g->nm;
        g->m[g->nm++] = measure_of(noop_label, "-", noop_read, &b->noop);
        for (int i = 0; i < fl; i++)
                g->rows[g->nrows++] = (struct row){ i, fl };

        g = &gs[ng++];
        *g = (struct group){ .key = "stat", .title = "stat" };
        g->m[g->nm++] = measure_of("stat config.json (default spec)", "0",
                                   (struct target){ .kind = K_STAT, .dirfd = &b->def_dir, .name = "config.json",
                                                    .expect = b->def_size },
                                   &b->bfs);
        g->m[g->nm++] = measure_of("stat config.json (list12)", l12,
                                   (struct target){ .kind = K_STAT, .dirfd = &b->web_dir, .name = "config.json",
                                                    .expect = b->web_size },
                                   &b->bfs);
        g->m[g->nm++] = measure_of("stat noop file", "-",
                                   (struct target){ .kind = K_STAT, .dirfd = &b->noop_dir, .name = "file",
                                                    .expect = b->noop_size },
                                   &b->noop);
        g->rows[g->nrows++] = (struct row){ 0, 2 };
        g->rows[g->nrows++] = (struct row){ 1, 2 };

        g = &gs[ng++];
        *g = (struct group){ .key = "write", .title = "write: open, one write, close (durable)" };
        struct measure *m;
        m = &g->m[g->nm++];
        *m = measure_of("append opts (\"WithHostname x\")", range,
                        (struct target){ .kind = K_WRITE, .dirfd = &b->wr_dir, .name = "opts", .flags = O_APPEND,
                                         .data = APPEND_LINE, .len = strlen(APPEND_LINE) },
                        &b->bfs);
        m->reset = reset_wr_list;
        m->batch = b->batch;
        m = &g->m[g->nm++];
        *m = measure_of("write hostname (O_TRUNC, \"x\\n\")", range,
                        (struct target){ .kind = K_WRITE, .dirfd = &b->wr_dir, .name = "hostname", .flags = O_TRUNC,
                                         .data = CONTROL_VALUE, .len = strlen(CONTROL_VALUE) },
                        &b->bfs);
        m->reset = reset_wr_list;
        m->batch = b->batch;
        m = &g->m[g->nm++];
        *m = measure_of("plain append+fdatasync (15 B)", "-",
                        (struct target){ .kind = K_DURABLE, .dirfd = &b->plain_dirfd, .name = "append15",
                                         .flags = O_APPEND, .data = APPEND_LINE, .len = strlen(APPEND_LINE) },
                        NULL);
        m->reset = reset_plain;
        m->batch = b->batch;
        m = &g->m[g->nm++];
        *m = measure_of("plain append+fdatasync (2 B)", "-",
                        (struct target){ .kind = K_DURABLE, .dirfd = &b->plain_dirfd, .name = "append2",
                                         .flags = O_APPEND, .data = CONTROL_VALUE, .len = strlen(CONTROL_VALUE) },
                        NULL);
        m->reset = reset_plain;
        m->batch = b->batch;
        g->m[g->nm++] = measure_of("noop write O_APPEND (15 B)", "-",
                                   (struct target){ .kind = K_WRITE, .dirfd = &b->noop_dir, .name = "file",
                                                    .flags = O_APPEND, .data = APPEND_LINE,
                                                    .len = strlen(APPEND_LINE) },
                                   &b->noop);
        g->m[g->nm++] = measure_of("noop write O_TRUNC (2 B)", "-",
                                   (struct target){ .kind = K_WRITE, .dirfd = &b->noop_dir, .name = "file",
                                                    .flags = O_TRUNC, .data = CONTROL_VALUE,
                                                    .len = strlen(CONTROL_VALUE) },
                                   &b->noop);
        g->rows[g->nrows++] = (struct row){ 0, 2 };
        g->rows[g->nrows++] = (struct row){ 0, 4 };
        g->rows[g->nrows++] = (struct row){ 1, 3 };
        g->rows[g->nrows++] = (struct row){ 1, 5 };

        if (b->threads > 1) {
                g = &gs[ng++];
                *g = (struct group){ .key = "concurrent", .title = "concurrent reads" };
                m = &g->m[g->nm++];
                *m = measure_of(bench_asprintf("%d threads read config.json (list12)", b->threads), l12,
                                (struct target){ .kind = K_READ, .dirfd = &b->web_dir, .name = "config.json",
                                                 .expect = b->web_size },
                                &b->bfs);
                m->threads = b->threads;
                m = &g->m[g->nm++];
                *m = measure_of(bench_asprintf("%d threads noop read", b->threads), "-", noop_read, &b->noop);
                m->threads = b->threads;
                g->rows[g->nrows++] = (struct row){ 0, 1 };
        }
        return ng;
}

static bool selected(const struct bench *b, const char *key)
{
        if (!b->only)
                return true;
        size_t kl = strlen(key);
        for (const char *p = b->only; *p;) {
                const char *e = strchr(p, ',');
                size_t l = e ? (size_t) (e - p) : strlen(p);
                if (l == kl && strncmp(p, key, l) == 0)
                        return true;
                p += l + (e ? 1 : 0);
        }
        return false;
}

static const struct measure *find_measure(const struct group *gs, int ng, const char *prefix)
{
        for (int i = 0; i < ng; i++)
                for (int j = 0; j < gs[i].nm; j++)
                        if (gs[i].m[j].ops && strncmp(gs[i].m[j].label, prefix, strlen(prefix)) == 0)
                                return &gs[i].m[j];
        return NULL;
}

static double us_of(const struct bench *b, const struct measure *m)
{
        return 1e6 / bench_median(m->rate, (size_t) b->rounds);
}

static void print_notes(const struct bench *b, const struct group *gs, int ng)
{
        printf("\nus/op is 1e6 / (median ops/s); dcpu/op is the daemon's CPU time (all its threads) per op,\n"
               "median over rounds; ratio = floor ops/s / ops/s (how many times slower than the floor).\n");
        const struct measure *app = find_measure(gs, ng, "append opts"),
                             *host = find_measure(gs, ng, "write hostname"),
                             *d15 = find_measure(gs, ng, "plain append+fdatasync (15"),
                             *d2 = find_measure(gs, ng, "plain append+fdatasync (2"),
                             *n15 = find_measure(gs, ng, "noop write O_APPEND"),
                             *n2 = find_measure(gs, ng, "noop write O_TRUNC");
        if (app && d15 && n15) {
                double rest = us_of(b, app) - us_of(b, d15) - us_of(b, n15);
                printf("append opts   %8.1f us = noop FUSE write %.1f + durable append %.1f + %.1f us left "
                       "(bundlefs's own work)\n",
                       us_of(b, app), us_of(b, n15), us_of(b, d15), rest);
        }
        if (host && d2 && n2) {
                double rest = us_of(b, host) - us_of(b, d2) - us_of(b, n2);
                printf("write hostname%8.1f us = noop FUSE write %.1f + durable append %.1f + %.1f us left "
                       "(bundlefs's own work)\n",
                       us_of(b, host), us_of(b, n2), us_of(b, d2), rest);
        }
        const struct measure *one = find_measure(gs, ng, "read config.json (list12)"),
                             *many = NULL, *nmany = NULL, *none = find_measure(gs, ng, "noop read");
        for (int i = 0; i < ng; i++)
                if (strcmp(gs[i].key, "concurrent") == 0 && gs[i].m[0].ops) {
                        many = &gs[i].m[0];
                        nmany = &gs[i].m[1];
                }
        if (one && many)
                printf("%d concurrent readers of config.json: %.2fx one reader's rate; noop: %.2fx\n", b->threads,
                       bench_median(many->rate, (size_t) b->rounds) / bench_median(one->rate, (size_t) b->rounds),
                       none ? bench_median(nmany->rate, (size_t) b->rounds) / bench_median(none->rate, (size_t) b->rounds) : 0.0);
}

/* ---- main ------------------------------------------------------------------------- */

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: fs_bench [OPTIONS]\n"
                "Mount bundlefs and noop_fs in a fresh directory, time reads, stats and durable writes\n"
                "through the mounts, print each figure beside its floor. Needs root and /dev/fuse.\n"
                "\n"
                "  -t, --seconds S        timed wall time per measure and round (default 0.5)\n"
                "  -r, --rounds N         rounds; medians are reported (default 5)\n"
                "  -w, --warmup S         untimed run of each measure before the rounds (default 0.2)\n"
                "  -j, --threads N        readers in the concurrent group (default 4; 1 skips it)\n"
                "  -b, --batch N          writes between two resets of the list to list12 (default 20)\n"
                "      --only LIST        groups to run, comma-separated: read,stat,write,concurrent\n"
                "      --dir DIR          where the temporary directory (state, mounts) is made (default /tmp)\n"
                "      --bundlefs PATH    the daemon (default: ../mountd/bundlefs beside this program)\n"
                "      --noop PATH        the floor filesystem (default: noop_fs beside this program)\n"
                "      --list FILE        the 12-option list (default ../shared/bench/list12.opts or\n"
                "                         bench/list12.opts of the source tree)\n"
                "      --daemon-prefix CMD  run bundlefs under CMD (words split at spaces; it must pass\n"
                "                         SIGTERM on), e.g. \"perf record -g -o /tmp/bfs.perf --\"\n"
                "  -v, --verbose          print every round's rate\n"
                "  -h, --help\n");
}

static char **split_words(const char *s)
{
        char *copy = strdup(s);
        char **v = calloc(strlen(s) / 2 + 2, sizeof(*v));
        if (!copy || !v)
                bench_die("out of memory");
        int n = 0;
        for (char *save = NULL, *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
                v[n++] = w;
        v[n] = NULL;
        return v;
}

int main(int argc, char **argv)
{
        static struct bench b = {
                .seconds = 0.5,
                .warmup = 0.2,
                .rounds = 5,
                .threads = 4,
                .batch = 20,
                .parent = "/tmp",
                .mount_timeout = 15,
                .def_dir = -1, .web_dir = -1, .wr_dir = -1, .noop_dir = -1, .plain_dirfd = -1,
        };
        bench_init("fs_bench");
        enum { OPT_ONLY = 0x100, OPT_DIR, OPT_BFS, OPT_NOOP, OPT_LIST, OPT_PREFIX };
        static const struct option longopts[] = {
                { "seconds", required_argument, NULL, 't' },
                { "rounds", required_argument, NULL, 'r' },
                { "warmup", required_argument, NULL, 'w' },
                { "threads", required_argument, NULL, 'j' },
                { "batch", required_argument, NULL, 'b' },
                { "only", required_argument, NULL, OPT_ONLY },
                { "dir", required_argument, NULL, OPT_DIR },
                { "bundlefs", required_argument, NULL, OPT_BFS },
                { "noop", required_argument, NULL, OPT_NOOP },
                { "list", required_argument, NULL, OPT_LIST },
                { "daemon-prefix", required_argument, NULL, OPT_PREFIX },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        int ch;
        while ((ch = getopt_long(argc, argv, "t:r:w:j:b:vh", longopts, NULL)) >= 0) {
                char *end = NULL;
                switch (ch) {
                case 't': b.seconds = strtod(optarg, &end); break;
                case 'r': b.rounds = (int) strtol(optarg, &end, 10); break;
                case 'w': b.warmup = strtod(optarg, &end); break;
                case 'j': b.threads = (int) strtol(optarg, &end, 10); break;
                case 'b': b.batch = (int) strtol(optarg, &end, 10); break;
                case OPT_ONLY: b.only = optarg; break;
                case OPT_DIR: b.parent = optarg; break;
                case OPT_BFS: b.bundlefs_path = optarg; break;
                case OPT_NOOP: b.noop_path = optarg; break;
                case OPT_LIST: b.list_path = optarg; break;
                case OPT_PREFIX:
                        b.prefix = split_words(optarg);
                        b.mount_timeout = 120;
                        break;
                case 'v': b.verbose = true; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
                if (end && (*end || end == optarg)) {
                        fprintf(stderr, "fs_bench: invalid number \"%s\"\n", optarg);
                        return 2;
                }
        }
        if (optind != argc || b.seconds <= 0 || b.warmup < 0 || b.rounds < 1 || b.rounds > MAX_ROUNDS ||
            b.threads < 1 || b.threads > MAX_THREADS || b.batch < 1) {
                fprintf(stderr, "fs_bench: no arguments; --seconds > 0, --warmup >= 0, 1 <= --rounds <= %d, "
                                "1 <= --threads <= %d, --batch >= 1\n",
                        MAX_ROUNDS, MAX_THREADS);
                return 2;
        }
        if (geteuid() != 0) {
                fprintf(stderr, "fs_bench: run as root (bundlefs mounts with allow_other and bind-mounts rootfs)\n");
                return 1;
        }
        char *dir = bench_self_dir();
        if (!b.bundlefs_path) {
                char *p = bench_asprintf("%s/../mountd/bundlefs", dir);
                b.bundlefs_path = realpath(p, NULL);
                if (b.bundlefs_path)
                        free(p);
                else
                        b.bundlefs_path = p;
        }
        if (!b.noop_path)
                b.noop_path = bench_asprintf("%s/noop_fs", dir);
        free(dir);
        if (!b.list_path && !(b.list_path = (char *) bench_find_list12())) {
                fprintf(stderr, "fs_bench: list12.opts not found beside %s (use --list)\n", BENCH_SOURCE_ROOT);
                return 1;
        }
        if (access(b.bundlefs_path, X_OK) < 0 || access(b.noop_path, X_OK) < 0) {
                fprintf(stderr, "fs_bench: %s or %s is not there (build the project, or use --bundlefs/--noop)\n",
                        b.bundlefs_path, b.noop_path);
                return 1;
        }
        if (!(b.list_text = bench_read_file(b.list_path, &b.list_len))) {
                fprintf(stderr, "fs_bench: %s: %s\n", b.list_path, strerror(errno));
                return 1;
        }

        bench_catch_signals();

        bench_at_die(teardown_on_die, &b);
        setup(&b);

        struct utsname un;
        uname(&un);
        char *la = bench_loadavg();
        char *rl = realpath(b.list_path, NULL);
        printf("fs_bench: %d rounds x %.2f s per measure (medians), warm-up %.2f s, writes reset the list every %d\n"
               "  bundlefs  %s (pid %d) on %s\n"
               "  noop_fs   %s (pid %d) on %s\n"
               "  state     %s (%s%s); durable floor files in %s\n"
               "  list12    %s (%zu lines)\n"
               "  sizes     config.json %zu B (default spec), %zu B (list12); noop file %zu B\n"
               "  machine   %s %s, %ld CPUs online, load average %s\n",
               b.rounds, b.seconds, b.warmup, b.batch, b.bundlefs_path, (int) b.bfs.pid, b.bfs.mnt, b.noop_path,
               (int) b.noop.pid, b.noop.mnt, b.state, bench_fs_name(b.state),
               strcmp(bench_fs_name(b.state), "tmpfs") == 0 ? ": fdatasync does nothing" : "", b.plain_dir, rl ? rl : b.list_path,
               b.list_lines, b.def_size, b.web_size, b.noop_size, un.sysname, un.release,
               sysconf(_SC_NPROCESSORS_ONLN), la);
        free(la);
        free(rl);
        if (b.prefix)
                printf("  prefix    bundlefs runs under \"%s ...\": its figures are not comparable, no dcpu\n",
                       b.prefix[0]);
        printf("Other jobs on the machine show up in the figures: compare runs made back to back.\n");

        static struct group gs[8];
        int ng = build_groups(&b, gs);
        for (int i = 0; i < ng && !bench_interrupted; i++)
                if (selected(&b, gs[i].key))
                        run_group(&b, &gs[i]);

        if (!bench_interrupted) {
                print_header();
                for (int i = 0; i < ng; i++)
                        if (selected(&b, gs[i].key))
                                print_rows(&b, &gs[i]);
                print_notes(&b, gs, ng);
                char *la2 = bench_loadavg();
                printf("load average at the end: %s\n", la2);
                free(la2);
        }

        bench_at_die(NULL, NULL);
        teardown(&b);
        if (bench_interrupted) {
                fprintf(stderr, "fs_bench: bench_interrupted\n");
                return 130;
        }
        return 0;
}
