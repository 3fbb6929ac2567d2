/* bench_table: one table of bundlefs's figures, each beside a floor (or a
 * target) measured in the same run on the same machine, with the goal each
 * one is held to and PASS or MISS. bench/run builds a release build and runs
 * it; see README.md for what every row measures.
 *
 * Stages, in order:
 * 1. render rate of the core (render_bench --tsv, beside this program)
 *    against containerd's reference rates;
 * 2. latency (median, p99) of control-file writes, config.json reads and
 *    appends to opts on a container with 10 options and one with 5,000,
 *    taking turns with the floors: a no-op FUSE filesystem's write and read
 *    (noop_fs, one per config.json size) and one durable append on the state
 *    directory's filesystem;
 * 3. control-file write throughput with 1, 2, 4 and 8 writer threads, on one
 *    container and on separate containers, beside as many threads doing
 *    durable appends to one file or to separate files;
 * 4. unpacking an image of about 100 MiB (unpack_bench --tsv, beside this
 *    program) against tar -x of the same layers and the digest check,
 *    durable and not, umoci unpack when it is installed, and the same unpack
 *    through a tree (`echo REF > rootfs.image`) against the durable one;
 * 5. with a fresh state directory, N containers (10,000): creating them, the
 *    daemon stopped with SIGTERM and started again (until the tree answers,
 *    and the first use of rootfs never used, each of which must find its
 *    bind mount), ls of the namespace, every config.json read once (per
 *    read, beside the first read of the only container of a tree of one),
 *    and the daemon's VmRSS.
 * Everything runs in a private mount namespace, so the 10,000 bind mounts
 * are seen by no other process and go away with the run. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench_common.h"
#include "files.h"

#define READ_BUF (128 * 1024)          /* what cat(1) reads at a time */
#define MAX_WRITERS 8
#define RESET_EVERY 100                 /* throughput: a container's list is put back every 100 writes */
#define BIG_LINES 5000
#define START_TIMEOUT 60.0              /* seconds until a daemon serves its tree */
#define STOP_TIMEOUT 120.0              /* seconds a daemon may take to stop */

/* What `echo web > hostname` writes, and the line appended to opts. A
 * control-file write of the value the file already shows changes nothing
 * (a round trip), so the writes alternate between two values of the same
 * length: each one is a change, and config.json keeps its size. */
#define CONTROL_FILE "hostname"
#define CONTROL_VALUE "web\n"
#define CONTROL_VALUE_OTHER "www\n"
#define APPEND_LINE "WithHostname web\n"

/* A realistic container of 10 options; the 5,000-option one starts with it. */
static const char *const base_lines[] = {
        "WithEnv PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8",
        "WithProcessArgs /usr/sbin/nginx -g \"daemon off;\"",
        "WithProcessCwd /srv",
        "WithUIDGID 1000 1000",
        "WithAddedCapabilities CAP_NET_BIND_SERVICE",
        "WithMemoryLimit 536870912",
        "WithPidsLimit 256",
        "WithAnnotations app=web",
        "WithMounts [{\"destination\":\"/data\",\"type\":\"bind\",\"source\":\"/srv/data\",\"options\":[\"rbind\",\"ro\"]}]",
        "WithHostname web",
};
#define BASE_LINES (sizeof(base_lines) / sizeof(base_lines[0]))

/* ---- helpers ------------------------------------------------------------------- */

/* A duration in a unit that keeps 3 or 4 digits. */
static char *fmt_time(double s)
{
        if (s < 10e-3)
                return bench_asprintf("%.0f us", s * 1e6);
        if (s < 1)
                return bench_asprintf("%.1f ms", s * 1e3);
        return bench_asprintf("%.2f s", s);
}

/* The device a path's filesystem is mounted from, per /proc/self/mountinfo. */
static char *mount_source(const char *path)
{
        struct stat st;
        if (stat(path, &st) < 0)
                return bench_asprintf("?");
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return bench_asprintf("?");
        char *line = NULL, *out = NULL;
        size_t cap = 0;
        while (!out && getline(&line, &cap, f) > 0) {
                unsigned maj, min;
                if (sscanf(line, "%*s %*s %u:%u", &maj, &min) != 2 || makedev(maj, min) != st.st_dev)
                        continue;
                char *sep = strstr(line, " - ");
                char src[PATH_MAX];
                if (sep && sscanf(sep, " - %*s %4095s", src) == 1)
                        out = bench_asprintf("%s (%u:%u)", src, maj, min);
        }
        free(line);
        fclose(f);
        return out ? out : bench_asprintf("%u:%u", major(st.st_dev), minor(st.st_dev));
}

/* VmRSS of a process in bytes, or -1. */
static long long vm_rss(pid_t pid)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        char *s = bench_read_file(path, NULL);
        if (!s)
                return -1;
        char *p = strstr(s, "\nVmRSS:");
        long long kb = -1;
        if (p)
                kb = strtoll(p + 7, NULL, 10);
        free(s);
        return kb < 0 ? -1 : kb * 1024;
}

/* Open file descriptors of a process, or -1. */
static long count_fds(pid_t pid)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/fd", (int) pid);
        DIR *d = opendir(path);
        if (!d)
                return -1;
        long n = 0;
        struct dirent *e;
        while ((e = readdir(d)))
                n += e->d_name[0] != '.';
        closedir(d);
        return n;
}

/* ---- daemons --------------------------------------------------------------------- */

struct bench {
        /* options */
        bool quick, verbose;
        long containers;
        const char *parent;
        char *bundlefs_path, *noop_path, *render_path, *unpack_path;
        long nofile;                    /* the open-file limit the daemons start with */
        char *nofile_note;              /* why it is lower than wanted, or NULL */

        /* derived from --quick */
        int lat_rounds, small_batch, big_batch, ls_repeats, mkdir_floor_ops;
        double tp_seconds, render_seconds;

        bool only_many;
        int first_uses, one_rounds;

        char *tmp, *state, *state2, *state1, *state_par, *plain;
        struct bench_daemon bfs, noop_small, noop_big, noop_dur[MAX_WRITERS];
        char *base_text, *big_text;
        size_t base_len, big_len;
};

static void teardown(struct bench *b)
{
        bench_daemon_stop(&b->bfs, STOP_TIMEOUT);
        bench_daemon_stop(&b->noop_small, STOP_TIMEOUT);
        bench_daemon_stop(&b->noop_big, STOP_TIMEOUT);
        for (int i = 0; i < MAX_WRITERS; i++)
                bench_daemon_stop(&b->noop_dur[i], STOP_TIMEOUT);
        if (!b->tmp)
                return;
        /* The rootfs bind mounts go with bundlefs: wait a little for a lazy unmount. */
        bench_remove_temp_dir(b->tmp, 1);
}

static void teardown_on_die(void *b)
{
        teardown(b);
}

static void start_bundlefs(struct bench *b, const char *state, const char *probe, double *ret_t)
{
        char *argv[] = { b->bundlefs_path, "-f", "--state", (char *) state, b->bfs.mnt, NULL };
        double t = bench_daemon_start(&b->bfs, argv, probe, START_TIMEOUT);
        if (ret_t)
                *ret_t = t;
}

/* durable: NULL, or the file every write is appended to (and fdatasync'ed) */
static double start_noop(struct bench *b, struct bench_daemon *d, size_t size, const char *durable)
{
        char *sz = bench_asprintf("--size=%zu", size);
        char *du = durable ? bench_asprintf("--durable=%s", durable) : NULL;
        char *argv[] = { b->noop_path, "-f", sz, d->mnt, du, NULL };
        char *probe = bench_asprintf("%s/file", d->mnt);
        double t = bench_daemon_start(d, argv, probe, START_TIMEOUT);
        free(probe);
        free(sz);
        free(du);
        return t;
}

/* ---- the tree ---------------------------------------------------------------------- */

/* Replace a container's list (opts opened O_TRUNC, kept as a whole at close). */
static int replace_opts(int dirfd, const char *text, size_t len)
{
        int fd = openat(dirfd, "opts", O_WRONLY | O_TRUNC | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = fd_write_all(fd, text, len);
        if (close(fd) < 0 && r == 0)
                r = -errno;
        return r;
}

static void set_list(int dirfd, const char *what, const char *text, size_t len)
{
        int r = replace_opts(dirfd, text, len);
        if (r < 0)
                bench_die("replacing the list of %s: %s", what, strerror(-r));
}

static void build_lists(struct bench *b)
{
        size_t cap = 0, len = 0;
        char *t = NULL;
        FILE *f = open_memstream(&t, &cap);
        if (!f)
                bench_die("out of memory");
        for (size_t i = 0; i < BASE_LINES; i++)
                fprintf(f, "%s\n", base_lines[i]);
        fflush(f);
        b->base_len = strlen(t);
        b->base_text = bench_asprintf("%s", t);
        /* The rest of the 5,000: a mix cycling over six options, keys distinct. */
        static const char *const caps[] = { "CAP_NET_ADMIN", "CAP_SYS_PTRACE", "CAP_NET_RAW",
                                            "CAP_SYS_TIME",  "CAP_IPC_LOCK",   "CAP_AUDIT_WRITE" };
        for (int i = 0; i < BIG_LINES - (int) BASE_LINES - 1; i++) {
                int n = i / 6;
                switch (i % 6) {
                case 0: fprintf(f, "WithEnv KEY_%d=value-%d\n", n, n); break;
                case 1: fprintf(f, "WithAnnotations org.example.key%d=value-%d\n", n, n); break;
                case 2: fprintf(f, "WithHostname host-%d\n", n); break;
                case 3: fprintf(f, "WithAddedCapabilities %s\n", caps[n % 6]); break;
                case 4:
                        fprintf(f,
                                "WithMounts [{\"destination\":\"/mnt/d%d\",\"type\":\"bind\",\"source\":\"/srv/d%d\","
                                "\"options\":[\"rbind\",\"ro\"]}]\n",
                                n, n);
                        break;
                default: fprintf(f, "WithMemoryLimit %lld\n", (long long) (n + 1) * 1048576); break;
                }
        }
        fprintf(f, "WithHostname web\n");       /* last, so that writing "web" changes nothing */
        fclose(f);
        len = strlen(t);
        b->big_text = t;
        b->big_len = len;
}

/* ---- latency ------------------------------------------------------------------------ */

enum kind {
        K_READ,         /* openat O_RDONLY, read to EOF, close; the size is checked */
        K_WRITE,        /* openat(flags), one write, close */
        K_DURABLE,      /* one write then fdatasync on an open O_APPEND fd */
};

struct lat {
        const char *label;
        enum kind kind;
        int dirfd;
        const char *name;
        int flags;
        const char *data;
        const char *data_other;         /* K_WRITE: written every other time, if set (same length) */
        size_t len;
        unsigned long turn;
        size_t expect;
        int fd;                         /* K_DURABLE */
        /* untimed before each batch: put the list back (or empty the file) */
        const char *reset_text;
        size_t reset_len;
        int batch;
        double *samples;
        size_t n, cap;
        double med, p99;
};

static void lat_op(struct lat *m, char *rbuf)
{
        int fd;
        switch (m->kind) {
        case K_READ: {
                fd = openat(m->dirfd, m->name, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        bench_die("%s: open: %s", m->label, strerror(errno));
                size_t total = 0;
                ssize_t n;
                while ((n = read(fd, rbuf, READ_BUF)) > 0)
                        total += (size_t) n;
                if (n < 0)
                        bench_die("%s: read: %s", m->label, strerror(errno));
                if (close(fd) < 0)
                        bench_die("%s: close: %s", m->label, strerror(errno));
                if (total != m->expect)
                        bench_die("%s: read %zu bytes, expected %zu", m->label, total, m->expect);
                return;
        }
        case K_WRITE: {
                fd = openat(m->dirfd, m->name, O_WRONLY | O_CLOEXEC | m->flags);
                if (fd < 0)
                        bench_die("%s: open: %s", m->label, strerror(errno));
                const char *data = m->data_other && (m->turn++ & 1) ? m->data_other : m->data;
                ssize_t w = write(fd, data, m->len);
                if (w < 0 || (size_t) w != m->len)
                        bench_die("%s: write: %s", m->label, w < 0 ? strerror(errno) : "short");
                if (close(fd) < 0)
                        bench_die("%s: close: %s", m->label, strerror(errno));
                return;
        }
        case K_DURABLE: {
                ssize_t w = write(m->fd, m->data, m->len);
                if (w < 0 || (size_t) w != m->len)
                        bench_die("%s: write: %s", m->label, w < 0 ? strerror(errno) : "short");
                if (fdatasync(m->fd) < 0)
                        bench_die("%s: fdatasync: %s", m->label, strerror(errno));
                return;
        }
        }
}

static void lat_reset(struct lat *m)
{
        if (m->kind == K_DURABLE) {
                if (ftruncate(m->fd, 0) < 0)
                        bench_die("%s: ftruncate: %s", m->label, strerror(errno));
        } else if (m->reset_text) {
                set_list(m->dirfd, m->label, m->reset_text, m->reset_len);
        }
}

static void lat_batch(struct lat *m, char *rbuf, bool timed)
{
        lat_reset(m);
        for (int i = 0; i < m->batch && !bench_interrupted; i++) {
                double t0 = bench_now();
                lat_op(m, rbuf);
                double t = bench_now() - t0;
                if (timed && m->n < m->cap)
                        m->samples[m->n++] = t;
        }
}

/* Each round, every measure does one batch, the order rotating. */
static void lat_run(struct bench *b, struct lat *ms, int nm)
{
        char *rbuf = bench_malloc(READ_BUF);
        for (int i = 0; i < nm; i++) {
                ms[i].cap = (size_t) b->lat_rounds * (size_t) ms[i].batch;
                ms[i].samples = bench_malloc(ms[i].cap * sizeof(double));
                ms[i].n = 0;
                lat_batch(&ms[i], rbuf, false); /* warm-up */
        }
        for (int r = 0; r < b->lat_rounds && !bench_interrupted; r++) {
                for (int k = 0; k < nm; k++)
                        lat_batch(&ms[(k + r) % nm], rbuf, true);
                if (r % 4 == 3) {
                        printf(".");
                        fflush(stdout);
                }
        }
        for (int i = 0; i < nm; i++) {
                struct lat *m = &ms[i];
                if (!m->n)
                        bench_die("interrupted");
                m->p99 = bench_quantile(m->samples, m->n, 0.99);
                m->med = bench_median(m->samples, m->n);
                if (b->verbose)
                        printf("\n  %-40s n=%zu median %.1f us p99 %.1f us max %.1f us", m->label, m->n, m->med * 1e6,
                               m->p99 * 1e6, bench_quantile(m->samples, m->n, 1.0) * 1e6);
        }
        free(rbuf);
}

/* ---- throughput ------------------------------------------------------------------- */

struct writer {
        int dirfd;                      /* control-file writes into this container's hostname, */
        bool floor;                     /* or into the file of a noop_fs --durable mount */
        const char *reset_text;
        size_t reset_len;
        long *shared_count;             /* one container for all: writes counted together */
        volatile int *stop;
        pthread_barrier_t *start;
        long ops;
        int err;
        const char *what;
};

static void *writer_thread(void *p)
{
        struct writer *w = p;
        pthread_barrier_wait(w->start);
        long mine = 0;
        while (!__atomic_load_n(w->stop, __ATOMIC_RELAXED)) {
                int fd = openat(w->dirfd, w->floor ? "file" : CONTROL_FILE, O_WRONLY | O_TRUNC | O_CLOEXEC);
                if (fd < 0) {
                        w->err = errno;
                        w->what = "open " CONTROL_FILE;
                        break;
                }
                ssize_t n = write(fd, w->ops & 1 ? CONTROL_VALUE_OTHER : CONTROL_VALUE, sizeof(CONTROL_VALUE) - 1);
                int e = n < 0 ? errno : 0;
                if (close(fd) < 0 && !e)
                        e = errno;
                if (e || n != (ssize_t) (sizeof(CONTROL_VALUE) - 1)) {
                        w->err = e ? e : EIO;
                        w->what = "write " CONTROL_FILE;
                        break;
                }
                w->ops++;
                if (w->floor)
                        continue;
                /* Every write adds a line: put the container's list back now and then. */
                long count = w->shared_count ? __atomic_add_fetch(w->shared_count, 1, __ATOMIC_RELAXED) : ++mine;
                if (count % RESET_EVERY == 0) {
                        int r = replace_opts(w->dirfd, w->reset_text, w->reset_len);
                        if (r < 0) {
                                w->err = -r;
                                w->what = "replace opts";
                                break;
                        }
                }
        }
        return NULL;
}

/* n writers for `seconds`, writer k in dirfds[k] (shared: all in one container,
 * whose list is put back every RESET_EVERY writes in all; floor: a noop_fs
 * --durable mount, no list); writes/s. */
static double tp_run(const struct bench *b, int n, const int *dirfds, bool shared, bool floor)
{
        pthread_t th[MAX_WRITERS];
        struct writer ws[MAX_WRITERS];
        pthread_barrier_t start;
        volatile int stop = 0;
        long shared_count = 0;
        if (!floor)
                for (int i = 0; i < n; i++)
                        set_list(dirfds[i], "a writer's container", b->base_text, b->base_len);
        pthread_barrier_init(&start, NULL, (unsigned) n + 1);
        for (int i = 0; i < n; i++) {
                ws[i] = (struct writer){
                        .dirfd = dirfds[i],
                        .floor = floor,
                        .reset_text = b->base_text,
                        .reset_len = b->base_len,
                        .shared_count = shared ? &shared_count : NULL,
                        .stop = &stop,
                        .start = &start,
                };
                if (pthread_create(&th[i], NULL, writer_thread, &ws[i]) != 0)
                        bench_die("pthread_create failed");
        }
        pthread_barrier_wait(&start);
        double t0 = bench_now();
        bench_sleep(b->tp_seconds);
        __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
        long ops = 0;
        for (int i = 0; i < n; i++)
                pthread_join(th[i], NULL);
        double t = bench_now() - t0;
        pthread_barrier_destroy(&start);
        for (int i = 0; i < n; i++) {
                if (ws[i].err)
                        bench_die("writer %d: %s: %s", i, ws[i].what, strerror(ws[i].err));
                ops += ws[i].ops;
        }
        return (double) ops / t;
}

/* ---- the table ---------------------------------------------------------------------- */

enum verdict { INFO, PASS, MISS };

struct row {
        char *label, *figure, *floor, *ratio, *target;
        enum verdict v;
        bool section;                   /* a heading line */
};

static struct row rows[64];
static int nrows;

static void add_section(const char *title)
{
        rows[nrows++] = (struct row){ .label = bench_asprintf("%s", title), .section = true };
}

static void add_row(char *label, char *figure, char *floor, char *ratio, const char *target, enum verdict v)
{
        if (nrows == (int) (sizeof(rows) / sizeof(rows[0])))
                bench_die("too many rows");
        rows[nrows++] = (struct row){ label, figure, floor, ratio, bench_asprintf("%s", target ? target : "-"), v, false };
}

static char *fmt_lat(const struct lat *m)
{
        char *a = fmt_time(m->med), *c = fmt_time(m->p99);
        char *s = bench_asprintf("%s (p99 %s)", a, c);
        free(a);
        free(c);
        return s;
}

static char *fmt_ratio(double x)
{
        return bench_asprintf("%.2fx", x);
}

static void print_table(void)
{
        const int wl = 42, wf = 26, wfl = 44, wr = 8, wt = 16;
        printf("\n%-*s %-*s %-*s %*s  %-*s %s\n", wl, "measure", wf, "figure", wfl, "floor / reference", wr, "ratio",
               wt, "target", "result");
        int total = wl + wf + wfl + wr + wt + 4 + 6 + 1;
        for (int i = 0; i < total; i++)
                putchar('-');
        putchar('\n');
        for (int i = 0; i < nrows; i++) {
                const struct row *r = &rows[i];
                if (r->section) {
                        printf("%s%s\n", i ? "\n" : "", r->label);
                        continue;
                }
                printf("%-*s %-*s %-*s %*s  %-*s %s\n", wl, r->label, wf, r->figure, wfl, r->floor, wr, r->ratio, wt,
                       r->target, r->v == PASS ? "PASS" : r->v == MISS ? "MISS" : "-");
        }
}

static enum verdict at_most(double x, double limit)
{
        return x <= limit ? PASS : MISS;
}

static enum verdict at_least(double x, double limit)
{
        return x >= limit ? PASS : MISS;
}

/* ---- stages ------------------------------------------------------------------------- */

static void stage_render(struct bench *b)
{
        printf("render: %s --tsv ...\n", b->render_path);
        fflush(stdout);
        char *cmd = bench_asprintf("'%s' --tsv -t %.2f -r 5 -w 0.3", b->render_path, b->render_seconds);
        FILE *p = popen(cmd, "re");
        free(cmd);
        if (!p)
                bench_die("running %s: %s", b->render_path, strerror(errno));
        char line[512];
        int got = 0;
        while (fgets(line, sizeof(line), p)) {
                char label[128];
                double rate, ref;
                size_t bytes;
                if (sscanf(line, "%127[^\t]\t%lf\t%lf\t%zu", label, &rate, &ref, &bytes) != 4 || ref <= 0)
                        continue;
                char *r = bench_fmt_count(rate), *c = bench_fmt_count(ref);
                add_row(bench_asprintf("render %s (%zu B)", label, bytes), bench_asprintf("%s specs/s", r),
                        bench_asprintf("containerd %s specs/s", c), fmt_ratio(rate / ref), ">= 3x containerd",
                        at_least(rate / ref, 3.0));
                free(r);
                free(c);
                got++;
        }
        int st = pclose(p);
        if (got != 2 || st != 0)
                bench_die("%s --tsv did not give both reference cases (exit status %d)", b->render_path, st);
}

static void stage_unpack(struct bench *b)
{
        printf("unpack: %s --tsv ...\n", b->unpack_path);
        fflush(stdout);
        char *cmd = bench_asprintf("'%s' --tsv --dir '%s' --bundlefs '%s'%s", b->unpack_path, b->parent,
                                   b->bundlefs_path, b->quick ? " --quick" : "");
        FILE *p = popen(cmd, "re");
        free(cmd);
        if (!p)
                bench_die("running %s: %s", b->unpack_path, strerror(errno));
        char line[512];
        int got = 0;
        add_section("unpacking an image into an empty rootfs (median of the rounds)");
        while (fgets(line, sizeof(line), p)) {
                char label[128], floor_label[128];
                double t, floor_t;
                if (!strncmp(line, "info\t", 5)) {
                        /* "info\t<what the image is>\t..." */
                        line[strcspn(line + 5, "\t\n") + 5] = '\0';
                        add_row(bench_asprintf("  the image"), bench_asprintf("%.60s", line + 5), bench_asprintf("-"), bench_asprintf("-"),
                                NULL, INFO);
                        continue;
                }
                if (sscanf(line, "%127[^\t]\t%lf\t%127[^\t]\t%lf", label, &t, floor_label, &floor_t) != 4)
                        continue;
                bool umoci = !strncmp(label, "umoci", 5);
                char *ft = fmt_time(t), *fl = fmt_time(floor_t);
                add_row(bench_asprintf("%s", label), ft, bench_asprintf("%s %s", floor_label, fl), fmt_ratio(t / floor_t),
                        umoci ? NULL : "<= 1.2x floor", umoci ? INFO : at_most(t / floor_t, 1.2));
                free(fl);
                got++;
        }
        int st = pclose(p);
        if (got < 2 || st != 0)
                bench_die("%s --tsv failed (exit status %d)", b->unpack_path, st);
}

static void stage_latency(struct bench *b, int small_dir, int big_dir, int noop_small_dir, int noop_big_dir,
                          int noop_dur_dir, int plain_fd, size_t small_size, size_t big_size, size_t noop_small_size,
                          size_t noop_big_size)
{
        int sb = b->small_batch, bb = b->big_batch;
        struct lat ms[] = {
                { .label = "noop write", .kind = K_WRITE, .dirfd = noop_small_dir, .name = "file",
                  .flags = O_TRUNC, .data = CONTROL_VALUE, .data_other = CONTROL_VALUE_OTHER, .len = sizeof(CONTROL_VALUE) - 1, .batch = sb },
                { .label = "durable noop write", .kind = K_WRITE, .dirfd = noop_dur_dir, .name = "file",
                  .flags = O_TRUNC, .data = APPEND_LINE, .len = sizeof(APPEND_LINE) - 1, .batch = sb },
                { .label = "durable append", .kind = K_DURABLE, .fd = plain_fd, .data = APPEND_LINE,
                  .len = sizeof(APPEND_LINE) - 1, .batch = sb },
                { .label = "noop read (small)", .kind = K_READ, .dirfd = noop_small_dir, .name = "file",
                  .expect = noop_small_size, .batch = sb },
                { .label = "noop read (big)", .kind = K_READ, .dirfd = noop_big_dir, .name = "file",
                  .expect = noop_big_size, .batch = bb },
                { .label = "write hostname @10", .kind = K_WRITE, .dirfd = small_dir, .name = CONTROL_FILE,
                  .flags = O_TRUNC, .data = CONTROL_VALUE, .data_other = CONTROL_VALUE_OTHER, .len = sizeof(CONTROL_VALUE) - 1,
                  .reset_text = b->base_text, .reset_len = b->base_len, .batch = sb },
                { .label = "write hostname @5000", .kind = K_WRITE, .dirfd = big_dir, .name = CONTROL_FILE,
                  .flags = O_TRUNC, .data = CONTROL_VALUE, .data_other = CONTROL_VALUE_OTHER, .len = sizeof(CONTROL_VALUE) - 1,
                  .reset_text = b->big_text, .reset_len = b->big_len, .batch = bb },
                { .label = "cat config.json @10", .kind = K_READ, .dirfd = small_dir, .name = "config.json",
                  .expect = small_size, .batch = sb },
                { .label = "cat config.json @5000", .kind = K_READ, .dirfd = big_dir, .name = "config.json",
                  .expect = big_size, .batch = bb },
                { .label = "append opts @10", .kind = K_WRITE, .dirfd = small_dir, .name = "opts", .flags = O_APPEND,
                  .data = APPEND_LINE, .len = sizeof(APPEND_LINE) - 1, .reset_text = b->base_text,
                  .reset_len = b->base_len, .batch = sb },
                { .label = "append opts @5000", .kind = K_WRITE, .dirfd = big_dir, .name = "opts", .flags = O_APPEND,
                  .data = APPEND_LINE, .len = sizeof(APPEND_LINE) - 1, .reset_text = b->big_text,
                  .reset_len = b->big_len, .batch = bb },
        };
        enum { NOOP_W, NOOP_D, DUR, NOOP_RS, NOOP_RB, W10, W5K, C10, C5K, A10, A5K, NM };
        _Static_assert(NM == sizeof(ms) / sizeof(ms[0]), "one enum per measure");
        printf("latency: %d rounds, batches of %d (10 options, floors) and %d (5,000 options) ", b->lat_rounds, sb, bb);
        fflush(stdout);
        lat_run(b, ms, NM);
        printf("\n");

        /* The floor of a kept write: the no-op FUSE write and one durable append, done as
         * one operation by noop_fs --durable (see README.md: a durable append from an
         * otherwise idle client thread pays this VM's wake-up latency, one served by a
         * FUSE daemon does not). The sum of the two separate floors is shown beside it. */
        double wfloor = ms[NOOP_D].med, wsum = ms[NOOP_W].med + ms[DUR].med;
        char *nw = fmt_time(ms[NOOP_W].med), *du = fmt_time(ms[DUR].med), *wf = fmt_time(wfloor),
             *ws = fmt_time(wsum);
        char *wfloor_text = bench_asprintf("durable noop write %s", wf);

        add_section("control-file write: open O_WRONLY|O_TRUNC, write \"web\\n\", close (median, p99)");
        add_row(bench_asprintf("echo web > hostname, 10 options"), fmt_lat(&ms[W10]), bench_asprintf("%s", wfloor_text),
                fmt_ratio(ms[W10].med / wfloor), "<= 1.3x floor", at_most(ms[W10].med / wfloor, 1.3));
        add_row(bench_asprintf("echo web > hostname, 5,000 options"), fmt_lat(&ms[W5K]), bench_asprintf("%s", wfloor_text),
                fmt_ratio(ms[W5K].med / wfloor), "<= 1.3x floor", at_most(ms[W5K].med / wfloor, 1.3));
        add_row(bench_asprintf("  (the same, 10 options, vs the sum)"), fmt_time(ms[W10].med),
                bench_asprintf("noop write %s + append %s = %s", nw, du, ws), fmt_ratio(ms[W10].med / wsum), NULL, INFO);

        add_section("cat config.json: open, read to EOF, close (median, p99)");
        char *rs = fmt_time(ms[NOOP_RS].med), *rb = fmt_time(ms[NOOP_RB].med);
        add_row(bench_asprintf("cat config.json, 10 options (%zu B)", small_size), fmt_lat(&ms[C10]),
                bench_asprintf("noop read %zu B: %s", noop_small_size, rs), fmt_ratio(ms[C10].med / ms[NOOP_RS].med),
                "<= 1.3x floor", at_most(ms[C10].med / ms[NOOP_RS].med, 1.3));
        add_row(bench_asprintf("cat config.json, 5,000 options (%zu B)", big_size), fmt_lat(&ms[C5K]),
                bench_asprintf("noop read %zu B: %s", noop_big_size, rb), fmt_ratio(ms[C5K].med / ms[NOOP_RB].med),
                "<= 1.3x floor", at_most(ms[C5K].med / ms[NOOP_RB].med, 1.3));

        add_section("append one line to opts: open O_APPEND, write \"" "WithHostname web\\n" "\", close (median, p99)");
        add_row(bench_asprintf("append to opts, 10 options"), fmt_lat(&ms[A10]), bench_asprintf("%s", wfloor_text),
                fmt_ratio(ms[A10].med / wfloor), NULL, INFO);
        add_row(bench_asprintf("append to opts, 5,000 options"), fmt_lat(&ms[A5K]), bench_asprintf("%s", wfloor_text),
                fmt_ratio(ms[A5K].med / wfloor), NULL, INFO);
        char *a10 = fmt_time(ms[A10].med), *a5k = fmt_time(ms[A5K].med);
        double ar = ms[A5K].med / ms[A10].med;
        add_row(bench_asprintf("append @5,000 / append @10"), bench_asprintf("%s / %s", a5k, a10), bench_asprintf("1.00x (no growth)"),
                fmt_ratio(ar), "<= 1.2x", at_most(ar, 1.2));

        add_section("floors (median, p99)");
        add_row(bench_asprintf("noop FUSE write (open, write, close)"), fmt_lat(&ms[NOOP_W]), bench_asprintf("-"), bench_asprintf("-"),
                NULL, INFO);
        add_row(bench_asprintf("durable append (write + fdatasync)"), fmt_lat(&ms[DUR]), bench_asprintf("-"), bench_asprintf("-"),
                NULL, INFO);
        add_row(bench_asprintf("durable noop write (noop_fs --durable)"), fmt_lat(&ms[NOOP_D]), bench_asprintf("-"),
                bench_asprintf("-"), NULL, INFO);
        add_row(bench_asprintf("noop FUSE read %zu B", noop_small_size), fmt_lat(&ms[NOOP_RS]), bench_asprintf("-"),
                bench_asprintf("-"), NULL, INFO);
        add_row(bench_asprintf("noop FUSE read %zu B", noop_big_size), fmt_lat(&ms[NOOP_RB]), bench_asprintf("-"),
                bench_asprintf("-"), NULL, INFO);

        free(nw), free(du), free(wf), free(ws), free(wfloor_text), free(rs), free(rb), free(a10), free(a5k);
        for (int i = 0; i < NM; i++)
                free(ms[i].samples);
}

static void stage_throughput(struct bench *b, const int *wdirs, const int *noop_dirs)
{
        static const int ns[] = { 1, 2, 4, 8 };
        double fig[2][4], flo[2][4];
        printf("throughput: %.1f s per measure, 1/2/4/8 writers, one container then separate ones ", b->tp_seconds);
        fflush(stdout);
        for (int mode = 0; mode < 2; mode++) {
                for (int i = 0; i < 4; i++) {
                        int n = ns[i];
                        int dirs[MAX_WRITERS], floors[MAX_WRITERS];
                        for (int k = 0; k < n; k++) {
                                dirs[k] = mode == 0 ? wdirs[0] : wdirs[k];
                                floors[k] = mode == 0 ? noop_dirs[0] : noop_dirs[k];
                        }
                        fig[mode][i] = tp_run(b, n, dirs, mode == 0, false);
                        flo[mode][i] = tp_run(b, n, floors, false, true);
                        printf(".");
                        fflush(stdout);
                        if (bench_interrupted)
                                bench_die("interrupted");
                }
        }
        printf("\n");
        for (int mode = 0; mode < 2; mode++) {
                add_section(mode == 0 ? "throughput: N writers (threads), echo web > hostname of ONE container "
                                        "(ratio: N writers / 1 writer)"
                                      : "throughput: N writers (threads), each on ITS OWN container "
                                        "(ratio: N writers / 1 writer)");
                for (int i = 0; i < 4; i++) {
                        char *f = bench_fmt_count(fig[mode][i]), *d = bench_fmt_count(flo[mode][i]);
                        double x = fig[mode][i] / fig[mode][0];
                        bool target = mode == 1 && ns[i] == 8;
                        add_row(bench_asprintf("%d writer%s, %s", ns[i], ns[i] == 1 ? "" : "s",
                                          mode == 0 ? "one container" : "separate containers"),
                                bench_asprintf("%s writes/s", f),
                                bench_asprintf("durable noop, %s: %s/s (%.2fx)", mode == 0 ? "1 mount" : "N mounts", d,
                                          flo[mode][i] / flo[mode][0]),
                                fmt_ratio(x), target ? ">= 4x, or noop's" : NULL,
                                /* the target: 4x one writer, or the no-op filesystems' own scaling */
                                target ? at_least(x, fmin(4.0, flo[mode][i] / flo[mode][0])) : INFO);
                        free(f);
                        free(d);
                }
        }
}

/* The floor of ls, on the state directory's filesystem: n empty files
 * (quicker to make and to remove than directories: no block to free). */
static void plain_files(struct bench *b, long n, char **ret_dir)
{
        char *dir = bench_asprintf("%s/dirs", b->plain);
        bench_make_dir(dir);
        int dfd = bench_open_dir(dir);
        char name[32];
        for (long i = 0; i < n; i++) {
                snprintf(name, sizeof(name), "c%ld", i);
                int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
                if (fd < 0)
                        bench_die("creating %s/%s: %s", dir, name, strerror(errno));
                close(fd);
        }
        close(dfd);
        *ret_dir = dir;
}

/* The creation floor: `count` more of mkdir + fsync of the directory in
 * dfd (entries from *next on); the seconds they took in all. Taken in
 * turns with the tree's mkdirs, so that both see the disk as it is then. */
static double floor_mkdirs(int dfd, long *next, int count)
{
        char name[32];
        double t = 0;
        for (int i = 0; i < count; i++) {
                snprintf(name, sizeof(name), "f%ld", (*next)++);
                double t0 = bench_now();
                if (mkdirat(dfd, name, 0755) < 0 || fsync(dfd) < 0)
                        bench_die("mkdir + fsync %s: %s", name, strerror(errno));
                t += bench_now() - t0;
        }
        return t;
}

/* Creators at once, each making its share of the directories in a
 * directory of its own: the kernel makes the entries of one directory one
 * at a time, so parallel creation means one namespace per creator. */
#define CREATORS 8

struct creator {
        int dirfd;
        long from, count;
        bool fsync_dir;
        int err;
};

static void *creator_thread(void *arg)
{
        struct creator *c = arg;
        char name[32];
        for (long i = c->from; i < c->from + c->count && !bench_interrupted; i++) {
                snprintf(name, sizeof(name), "c%ld", i);
                if (mkdirat(c->dirfd, name, 0755) < 0 || (c->fsync_dir && fsync(c->dirfd) < 0)) {
                        c->err = errno;
                        break;
                }
        }
        return NULL;
}

/* n directories made by CREATORS threads, thread k in <top>/nsK (made
 * first, not timed); with fsync_dir each mkdir is followed by an fsync of
 * its directory (the floor). Seconds. */
static double create_in_parallel(const char *top, long n, bool fsync_dir)
{
        pthread_t th[CREATORS];
        struct creator cs[CREATORS];
        for (int k = 0; k < CREATORS; k++) {
                char *d = bench_asprintf("%s/ns%d", top, k);
                bench_make_dir(d);
                cs[k] = (struct creator){ .dirfd = bench_open_dir(d), .from = k * (n / CREATORS),
                                          .count = n / CREATORS + (k == CREATORS - 1 ? n % CREATORS : 0),
                                          .fsync_dir = fsync_dir };
                free(d);
        }
        double t0 = bench_now();
        for (int k = 0; k < CREATORS; k++)
                if (pthread_create(&th[k], NULL, creator_thread, &cs[k]) != 0)
                        bench_die("pthread_create failed");
        for (int k = 0; k < CREATORS; k++)
                pthread_join(th[k], NULL);
        double t = bench_now() - t0;
        for (int k = 0; k < CREATORS; k++) {
                close(cs[k].dirfd);
                if (cs[k].err)
                        bench_die("mkdir in %s/ns%d: %s", top, k, strerror(cs[k].err));
        }
        if (bench_interrupted)
                bench_die("interrupted");
        return t;
}

/* opendir, readdir to the end, closedir; entries seen (. and .. not counted). */
static long list_dir(const char *path)
{
        DIR *d = opendir(path);
        if (!d)
                bench_die("opendir %s: %s", path, strerror(errno));
        long n = 0;
        struct dirent *e;
        errno = 0;
        while ((e = readdir(d)))
                n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
        if (errno)
                bench_die("readdir %s: %s", path, strerror(errno));
        closedir(d);
        return n;
}

static double time_ls(const char *path, long expect, int repeats)
{
        double t[16];
        if (repeats > 16)
                repeats = 16;
        for (int i = 0; i < repeats; i++) {
                double t0 = bench_now();
                long n = list_dir(path);
                t[i] = bench_now() - t0;
                if (n != expect)
                        bench_die("ls %s: %ld entries, expected %ld", path, n, expect);
        }
        return bench_median(t, (size_t) repeats);
}

/* The first use of a rootfs nobody used since the start: stat(2) of
 * <ns_dir>/<name>/rootfs, which must show the state directory's rootfs
 * (the bind mount), not the tree's view of it through FUSE; one that does
 * not is counted in *not_mounted. A rootfs never used since its mkdir is
 * made in the state directory by this first use. Seconds. */
static double first_use(const char *ns_dir, const char *state_ns, const char *name, long *not_mounted)
{
        char *path = bench_asprintf("%s/%s/rootfs", ns_dir, name);
        char *real = bench_asprintf("%s/%s/rootfs", state_ns, name);
        struct stat want, got;
        double t0 = bench_now();
        if (stat(path, &got) < 0)
                bench_die("stat %s: %s", path, strerror(errno));
        double t = bench_now() - t0;
        if (stat(real, &want) < 0)
                bench_die("stat %s: %s", real, strerror(errno));
        if (got.st_dev != want.st_dev || got.st_ino != want.st_ino) {
                printf(" (%s: not its bind mount) ", name);
                (*not_mounted)++;
        }
        free(path);
        free(real);
        return t;
}

/* open, read to EOF, close of path; seconds. */
static double read_once(const char *path, char *chunk)
{
        double t0 = bench_now();
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                bench_die("open %s: %s", path, strerror(errno));
        ssize_t r;
        while ((r = read(fd, chunk, READ_BUF)) > 0)
                ;
        if (r < 0)
                bench_die("read %s: %s", path, strerror(errno));
        close(fd);
        return bench_now() - t0;
}

/* A tree of one container: the first read of its config.json after each
 * of `rounds` starts (the same work, per container, as reading every
 * config.json of N once). The median, in seconds. */
static double one_container_first_read(struct bench *b, int rounds)
{
        char *ns = bench_asprintf("%s/one", b->bfs.mnt), *c = bench_asprintf("%s/one/c0", b->bfs.mnt);
        char *config = bench_asprintf("%s/config.json", c);
        start_bundlefs(b, b->state1, NULL, NULL);
        bench_make_dir(ns);
        bench_make_dir(c);
        bench_daemon_stop(&b->bfs, STOP_TIMEOUT);
        char *chunk = bench_malloc(READ_BUF);
        double *t = bench_malloc((size_t) rounds * sizeof(double));
        for (int i = 0; i < rounds && !bench_interrupted; i++) {
                start_bundlefs(b, b->state1, NULL, NULL);
                t[i] = read_once(config, chunk);
                bench_daemon_stop(&b->bfs, STOP_TIMEOUT);
        }
        if (bench_interrupted)
                bench_die("interrupted");
        double med = bench_median(t, (size_t) rounds);
        free(t);
        free(chunk);
        free(config);
        free(c);
        free(ns);
        return med;
}

static void stage_many(struct bench *b, double noop_start, size_t noop_read_size, double noop_read)
{
        long n = b->containers;
        char *cn = bench_fmt_count((double) n);
        printf("%s containers: floor (plain mkdir), a fresh state directory, mkdir ", cn);
        fflush(stdout);

        char *plain_dir;
        plain_files(b, n, &plain_dir);
        char *floor_dir = bench_asprintf("%s/mkdir-floor", b->plain);
        bench_make_dir(floor_dir);
        int floor_dfd = bench_open_dir(floor_dir);
        long floor_next = 0;
        double floor_total = 0;
        double ls_floor = time_ls(plain_dir, n, b->ls_repeats);

        /* The same number made by creators at once, a namespace each, on a
         * fresh daemon of its own (so the rows below see one namespace). */
        char *par_plain = bench_asprintf("%s/creators", b->plain);
        bench_make_dir(par_plain);
        double t_par_floor = create_in_parallel(par_plain, n, true);
        free(par_plain);
        start_bundlefs(b, b->state_par, b->bfs.mnt, NULL);
        double t_par = create_in_parallel(b->bfs.mnt, n, false);
        bench_daemon_stop(&b->bfs, STOP_TIMEOUT);
        sync();         /* their metadata written back now, not during the rows below */
        printf(" (by %d creators) ", CREATORS);
        fflush(stdout);

        /* A fresh daemon on its own state directory: nothing but these containers. */
        char *ns_dir = bench_asprintf("%s/many", b->bfs.mnt);
        start_bundlefs(b, b->state2, b->bfs.mnt, NULL);
        bench_make_dir(ns_dir);
        int nsfd = bench_open_dir(ns_dir);
        char name[32];
        long made = 0;
        int create_err = 0;
        /* In ten parts, each after its share of the floor. */
        long part = n / 10 ? n / 10 : 1;
        int floor_part = b->mkdir_floor_ops / 10 ? b->mkdir_floor_ops / 10 : 1, floor_ops = 0;
        double t_create = 0, t0 = 0;
        for (long i = 0; i < n && !bench_interrupted; i++) {
                if (i % part == 0) {
                        if (i)
                                t_create += bench_now() - t0;
                        floor_total += floor_mkdirs(floor_dfd, &floor_next, floor_part);
                        floor_ops += floor_part;
                        printf(".");
                        fflush(stdout);
                        t0 = bench_now();
                }
                snprintf(name, sizeof(name), "c%ld", i);
                if (mkdirat(nsfd, name, 0755) < 0) {
                        /* Measure what was made; the create row says where it stopped. */
                        create_err = errno;
                        printf(" mkdir %s: %s ", name, strerror(errno));
                        break;
                }
                made++;
        }
        t_create += bench_now() - t0;
        double mkdir_floor = floor_total / floor_ops;
        close(nsfd);
        close(floor_dfd);
        free(floor_dir);
        if (bench_interrupted)
                bench_die("interrupted");
        if (made == 0)
                bench_die("mkdir %s/c0: %s", ns_dir, strerror(create_err));
        long fds_created = count_fds(b->bfs.pid);
        long binds_created = bench_count_mounts_below(ns_dir, "rootfs");
        printf(" stop, start ");
        fflush(stdout);

        double t_stop = bench_daemon_stop(&b->bfs, STOP_TIMEOUT);
        double t_back;
        start_bundlefs(b, b->state2, ns_dir, &t_back);
        long binds_at_start = bench_count_mounts_below(ns_dir, "rootfs");
        /* The last container first, then the ones before it: rootfs nobody
         * used since the start, each of which must be its bind mount at
         * its first use. */
        char *state_ns = bench_asprintf("%s/namespaces/many", b->state2);
        long uses = b->first_uses < made ? b->first_uses : made;
        snprintf(name, sizeof(name), "c%ld", made - 1);
        long not_mounted = 0;
        double t_first_last = first_use(ns_dir, state_ns, name, &not_mounted);
        double *tu = bench_malloc((size_t) uses * sizeof(double)), *tu_again = bench_malloc((size_t) uses * sizeof(double));
        tu[0] = t_first_last;
        for (long k = 1; k < uses; k++) {
                snprintf(name, sizeof(name), "c%ld", made - 1 - k);
                tu[k] = first_use(ns_dir, state_ns, name, &not_mounted);
        }
        for (long k = 0; k < uses; k++) {
                snprintf(name, sizeof(name), "c%ld", made - 1 - k);
                tu_again[k] = first_use(ns_dir, state_ns, name, &not_mounted);
        }
        double t_use_med = bench_median(tu, (size_t) uses), t_use_p99 = bench_quantile(tu, (size_t) uses, 0.99);
        double t_again_med = bench_median(tu_again, (size_t) uses);
        free(tu);
        free(tu_again);
        free(state_ns);
        printf(" ls, read all ");
        fflush(stdout);

        double t_ls_first = time_ls(ns_dir, made, 1);  /* the first since the start */
        double t_ls = time_ls(ns_dir, made, b->ls_repeats);

        long long rss_before = vm_rss(b->bfs.pid);
        char *rbuf = bench_malloc(READ_BUF);
        double tr0 = bench_now();
        for (long i = 0; i < made && !bench_interrupted; i++) {
                char *path = bench_asprintf("%s/c%ld/config.json", ns_dir, i);
                read_once(path, rbuf);
                free(path);
        }
        double t_read = bench_now() - tr0;
        free(rbuf);
        long long rss = vm_rss(b->bfs.pid);
        long long noop_rss = vm_rss(b->noop_small.pid);
        long fds = count_fds(b->bfs.pid), noop_fds = count_fds(b->noop_small.pid);
        long binds_after_reads = bench_count_mounts_below(ns_dir, "rootfs");
        /* Stopping takes every bind mount off; the directories are removed with the rest. */
        bench_daemon_stop(&b->bfs, STOP_TIMEOUT);
        printf(" one container ");
        fflush(stdout);
        double t_read_one = one_container_first_read(b, b->one_rounds);
        printf("\n");

        add_section(bench_asprintf("%s containers (a fresh state directory, one namespace)%s", cn,
                              b->quick ? " -- --quick: fewer containers than the target's 10,000" : ""));
        char *a = fmt_time(t_create), *e = fmt_time(t_create / (double) made), *f = fmt_time(mkdir_floor);
        add_row(bench_asprintf("create: mkdir each"), bench_asprintf("%s (%s each)", a, e),
                bench_asprintf("mkdir + fsync dir: %s each", f), fmt_ratio(t_create / (double) made / mkdir_floor),
                "<= 2x floor", t_create / (double) made <= 2 * mkdir_floor ? PASS : MISS);
        free(a), free(f);
        /* A durable mkdir one after the other: the floor's own rate bounds it. */
        a = fmt_time(t_create * 10000.0 / (double) made);
        f = fmt_time(mkdir_floor * 10000.0);
        add_row(bench_asprintf("  10,000 containers at that rate"), bench_asprintf("%s", a),
                bench_asprintf("10,000 at the floor's rate: %s", f), fmt_ratio(t_create / (double) made / mkdir_floor),
                "< 3 s", t_create * 10000.0 / (double) made < 3 ? PASS : MISS);
        free(a), free(e), free(f);
        a = fmt_time(t_par), e = fmt_time(t_par / (double) n), f = fmt_time(t_par_floor);
        add_row(bench_asprintf("create: %d creators, a namespace each", CREATORS),
                bench_asprintf("%s (%s each)", a, e), bench_asprintf("the same, mkdir + fsync dir: %s", f),
                fmt_ratio(t_par / t_par_floor), NULL, INFO);
        free(a), free(e), free(f);
        a = fmt_time(t_par * 10000.0 / (double) n);
        add_row(bench_asprintf("  10,000 containers at that rate"), bench_asprintf("%s", a), bench_asprintf("-"),
                bench_asprintf("-"), "< 3 s", t_par * 10000.0 / (double) n < 3 ? PASS : MISS);
        free(a);
        if (create_err) {
                /* The rows below judge what was made; this one is the MISS. */
                char *m = bench_fmt_count((double) made);
                add_row(bench_asprintf("  MKDIR FAILED: only %s made", m), bench_asprintf("%s", strerror(create_err)),
                        bench_asprintf("(the rows below are for %s)", m), bench_asprintf("-"), "all made", MISS);
                free(m);
        }
        add_row(bench_asprintf("daemon's open fds after creating"), bench_asprintf("%ld", fds_created),
                bench_asprintf("RLIMIT_NOFILE %ld", b->nofile), bench_asprintf("-"), NULL, INFO);
        add_row(bench_asprintf("  rootfs bind mounts right after creating"), bench_asprintf("%ld", binds_created),
                bench_asprintf("-"), bench_asprintf("-"), "0 (at first use)", binds_created == 0 ? PASS : MISS);
        a = fmt_time(t_stop);
        add_row(bench_asprintf("stop (SIGTERM until the daemon exits)"), bench_asprintf("%s", a), bench_asprintf("-"),
                bench_asprintf("-"), NULL, INFO);
        free(a);
        a = fmt_time(t_back), f = fmt_time(noop_start);
        add_row(bench_asprintf("mount back: start until stat(ns) answers"), bench_asprintf("%s", a),
                bench_asprintf("noop_fs start: %s", f), fmt_ratio(t_back / noop_start), "< 1 s",
                t_back < 1 ? PASS : MISS);
        free(a), free(f);
        add_row(bench_asprintf("  rootfs bind mounts right after the start"), bench_asprintf("%ld", binds_at_start),
                bench_asprintf("-"), bench_asprintf("-"), "0 (at first use)", binds_at_start == 0 ? PASS : MISS);
        a = fmt_time(t_first_last), e = fmt_time(t_again_med);
        add_row(bench_asprintf("first use of a rootfs (stat: its mount)"), bench_asprintf("%s (c%ld, the first used)", a, made - 1),
                bench_asprintf("stat of a mounted rootfs: %s", e), fmt_ratio(t_first_last / t_again_med), NULL, INFO);
        free(a), free(e);
        a = fmt_time(t_use_med), e = fmt_time(t_use_p99), f = fmt_time(t_again_med);
        add_row(bench_asprintf("  first use, %ld rootfs (median, p99)", uses), bench_asprintf("%s (p99 %s)", a, e),
                bench_asprintf("stat of a mounted rootfs: %s", f), fmt_ratio(t_use_med / t_again_med), NULL, INFO);
        free(a), free(e), free(f);
        add_row(bench_asprintf("  stats not served by the bind mount"), bench_asprintf("%ld of %ld", not_mounted, 2 * uses),
                bench_asprintf("-"), bench_asprintf("-"), "0", not_mounted == 0 ? PASS : MISS);
        double usable = t_back + t_first_last;
        a = fmt_time(usable);
        add_row(bench_asprintf("start until every rootfs is usable"), bench_asprintf("%s", a),
                bench_asprintf("(start until stat(ns) + first use)"), bench_asprintf("-"), "< 1 s",
                usable < 1 ? PASS : MISS);
        free(a);
        a = fmt_time(t_ls_first), e = fmt_time(t_ls), f = fmt_time(ls_floor);
        add_row(bench_asprintf("ls (readdir) of the namespace, first"), bench_asprintf("%s", a),
                bench_asprintf("plain dir of %s entries: %s", cn, f), fmt_ratio(t_ls_first / ls_floor), NULL, INFO);
        add_row(bench_asprintf("ls (readdir) of the namespace, again"), bench_asprintf("%s (median)", e),
                bench_asprintf("plain dir of %s entries: %s", cn, f), fmt_ratio(t_ls / ls_floor), NULL, INFO);
        free(a), free(e), free(f);
        a = fmt_time(t_read), e = fmt_time(t_read / (double) made), f = fmt_time(noop_read);
        add_row(bench_asprintf("read every config.json once"), bench_asprintf("%s (%s each)", a, e),
                bench_asprintf("noop read %zu B: %s each", noop_read_size, f), fmt_ratio(t_read / (double) made / noop_read),
                NULL, INFO);
        free(a), free(e), free(f);
        a = fmt_time(t_read / (double) made), e = fmt_time(t_read_one);
        add_row(bench_asprintf("  per read: %s containers / 1", cn), bench_asprintf("%s", a),
                bench_asprintf("a tree of 1, first read: %s (median)", e), fmt_ratio(t_read / (double) made / t_read_one),
                "<= 1.2x", at_most(t_read / (double) made / t_read_one, 1.2));
        free(a), free(e);
        add_row(bench_asprintf("  rootfs bind mounts after the reads"), bench_asprintf("%ld", binds_after_reads),
                bench_asprintf("-"), bench_asprintf("-"), NULL, INFO);
        add_row(bench_asprintf("daemon VmRSS after reading them"), bench_asprintf("%.1f MiB", (double) rss / 1048576.0),
                bench_asprintf("noop_fs VmRSS: %.1f MiB", (double) noop_rss / 1048576.0),
                fmt_ratio((double) rss / (double) noop_rss), "< 64 MiB",
                rss >= 0 && rss < 64LL << 20 ? PASS : MISS);
        add_row(bench_asprintf("  (daemon VmRSS before reading them)"),
                bench_asprintf("%.1f MiB", (double) rss_before / 1048576.0), bench_asprintf("-"), bench_asprintf("-"), NULL, INFO);
        add_row(bench_asprintf("daemon's open fds at the end"), bench_asprintf("%ld", fds), bench_asprintf("noop_fs: %ld", noop_fds),
                bench_asprintf("-"), NULL, INFO);
        free(ns_dir);
        free(plain_dir);
        free(cn);
}

/* ---- main ------------------------------------------------------------------------------ */

static void usage(FILE *f)
{
        fprintf(f,
                "Usage: bench_table [--quick] [OPTIONS]\n"
                "Measure bundlefs beside its floors and print one table (run as root; see bench/README.md).\n"
                "\n"
                "  -q, --quick            a fast sanity run: fewer samples, 0.5 s throughput runs, 1,000 containers\n"
                "  -n, --containers N     containers of the many-containers stage (10,000; --quick 1,000)\n"
                "      --only-many        only the many-containers stage (and the floors it is compared with)\n"
                "      --dir DIR          where the state directory and the floors' files go (/var/tmp);\n"
                "                         use a disk, not tmpfs: writes are made durable there\n"
                "      --bundlefs PATH    the daemon (../mountd/bundlefs beside this program)\n"
                "      --noop PATH        the floor filesystem (noop_fs beside this program)\n"
                "      --render-bench PATH  (render_bench beside this program)\n"
                "      --unpack-bench PATH  (unpack_bench beside this program)\n"
                "  -v, --verbose          every latency measure's sample count and maximum\n"
                "  -h, --help\n");
}

int main(int argc, char **argv)
{
        struct bench b = { .containers = -1, .parent = "/var/tmp" };
        bench_init("bench_table");
        static const struct option longopts[] = {
                { "quick", no_argument, NULL, 'q' },
                { "containers", required_argument, NULL, 'n' },
                { "only-many", no_argument, NULL, 'M' },
                { "dir", required_argument, NULL, 'D' },
                { "bundlefs", required_argument, NULL, 'B' },
                { "noop", required_argument, NULL, 'N' },
                { "render-bench", required_argument, NULL, 'R' },
                { "unpack-bench", required_argument, NULL, 'U' },
                { "verbose", no_argument, NULL, 'v' },
                { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        int ch;
        while ((ch = getopt_long(argc, argv, "qn:vh", longopts, NULL)) >= 0) {
                char *end = NULL;
                switch (ch) {
                case 'q': b.quick = true; break;
                case 'n': b.containers = strtol(optarg, &end, 10); break;
                case 'M': b.only_many = true; break;
                case 'D': b.parent = optarg; break;
                case 'B': b.bundlefs_path = bench_asprintf("%s", optarg); break;
                case 'N': b.noop_path = bench_asprintf("%s", optarg); break;
                case 'R': b.render_path = bench_asprintf("%s", optarg); break;
                case 'U': b.unpack_path = bench_asprintf("%s", optarg); break;
                case 'v': b.verbose = true; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
                if (end && (*end || end == optarg)) {
                        fprintf(stderr, "bench_table: invalid number \"%s\"\n", optarg);
                        return 2;
                }
        }
        if (optind != argc) {
                usage(stderr);
                return 2;
        }
        if (b.containers < 0)
                b.containers = b.quick ? 1000 : 10000;
        if (b.containers < 1 || b.containers > 100000) {
                fprintf(stderr, "bench_table: --containers is 1 to 100,000\n");
                return 2;
        }
        b.lat_rounds = b.quick ? 8 : 40;
        b.small_batch = 25;
        /* as many: the first writes after the 5,000-line list is put back
         * pay for the replace (the old spec freed), and with batches of 5
         * they were two samples in five */
        b.big_batch = 25;
        b.ls_repeats = b.quick ? 3 : 5;
        b.mkdir_floor_ops = b.quick ? 100 : 300;
        if (b.mkdir_floor_ops > b.containers)
                b.mkdir_floor_ops = (int) b.containers;
        b.tp_seconds = b.quick ? 0.5 : 2.0;
        b.first_uses = b.quick ? 50 : 200;
        b.one_rounds = b.quick ? 7 : 21;
        b.render_seconds = b.quick ? 0.5 : 2.0;

        char *here = bench_self_dir();
        if (!b.bundlefs_path)
                b.bundlefs_path = bench_asprintf("%s/../mountd/bundlefs", here);
        if (!b.noop_path)
                b.noop_path = bench_asprintf("%s/noop_fs", here);
        if (!b.render_path)
                b.render_path = bench_asprintf("%s/render_bench", here);
        if (!b.unpack_path)
                b.unpack_path = bench_asprintf("%s/unpack_bench", here);
        free(here);
        if (geteuid() != 0) {
                fprintf(stderr, "bench_table: run as root (bundlefs bind-mounts every rootfs)\n");
                return 1;
        }
        const char *bins[] = { b.bundlefs_path, b.noop_path, b.render_path, b.unpack_path };
        for (size_t i = 0; i < 4; i++)
                if (access(bins[i], X_OK) < 0) {
                        fprintf(stderr, "bench_table: %s: %s (build the project first)\n", bins[i], strerror(errno));
                        return 1;
                }

        /* bundlefs keeps open files per container (about 2): give it room for
         * the many-containers stage, and say what it got. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                rlim_t want = (rlim_t) (4 * b.containers + 4096);
                if (rl.rlim_cur < want) {
                        struct rlimit nl = { want, rl.rlim_max > want ? rl.rlim_max : want };
                        if (setrlimit(RLIMIT_NOFILE, &nl) == 0) {
                                rl = nl;
                        } else {
                                /* No CAP_SYS_RESOURCE: as far as the hard limit goes. */
                                b.nofile_note = bench_asprintf(" (%lu wanted: %s)", (unsigned long) want, strerror(errno));
                                nl = (struct rlimit){ rl.rlim_max, rl.rlim_max };
                                if (setrlimit(RLIMIT_NOFILE, &nl) == 0)
                                        rl = nl;
                        }
                }
                b.nofile = (long) rl.rlim_cur;
        }

        /* A private mount namespace: our FUSE mounts and the many bind mounts
         * are nobody else's business, and go with the last process in it. */
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
                fprintf(stderr, "bench_table: a private mount namespace: %s\n", strerror(errno));
                return 1;
        }

        bench_catch_signals();
        setvbuf(stdout, NULL, _IOLBF, 0);

        char *tmpl = bench_asprintf("%s/bench_table.XXXXXX", b.parent);
        if (!mkdtemp(tmpl)) {
                fprintf(stderr, "bench_table: mkdtemp %s: %s\n", tmpl, strerror(errno));
                return 1;
        }
        b.tmp = realpath(tmpl, NULL);
        free(tmpl);
        if (!b.tmp)
                bench_die("realpath: %s", strerror(errno));
        bench_at_die(teardown_on_die, &b);
        b.state = bench_asprintf("%s/state", b.tmp);
        b.state2 = bench_asprintf("%s/state-many", b.tmp);
        b.state1 = bench_asprintf("%s/state-one", b.tmp);
        b.state_par = bench_asprintf("%s/state-creators", b.tmp);
        b.plain = bench_asprintf("%s/plain", b.tmp);
        b.bfs = (struct bench_daemon){ .name = "bundlefs", .mnt = bench_asprintf("%s/mnt", b.tmp),
                                 .log = bench_asprintf("%s/bundlefs.log", b.tmp) };
        b.noop_small = (struct bench_daemon){ .name = "noop_fs", .mnt = bench_asprintf("%s/noop-small", b.tmp),
                                        .log = bench_asprintf("%s/noop-small.log", b.tmp) };
        b.noop_big = (struct bench_daemon){ .name = "noop_fs", .mnt = bench_asprintf("%s/noop-big", b.tmp),
                                      .log = bench_asprintf("%s/noop-big.log", b.tmp) };
        for (int i = 0; i < MAX_WRITERS; i++)
                b.noop_dur[i] = (struct bench_daemon){ .name = "noop_fs --durable",
                                                 .mnt = bench_asprintf("%s/noop-durable%d", b.tmp, i),
                                                 .log = bench_asprintf("%s/noop-durable%d.log", b.tmp, i) };
        bench_make_dir(b.bfs.mnt);
        bench_make_dir(b.noop_small.mnt);
        bench_make_dir(b.noop_big.mnt);
        for (int i = 0; i < MAX_WRITERS; i++)
                bench_make_dir(b.noop_dur[i].mnt);
        bench_make_dir(b.plain);

        bool same_fs = false;
        {
                struct stat s1, s2;
                same_fs = stat(b.tmp, &s1) == 0 && stat(b.plain, &s2) == 0 && s1.st_dev == s2.st_dev;
        }
        struct utsname un;
        uname(&un);
        char *la = bench_loadavg(), *src = mount_source(b.tmp);
        time_t now = time(NULL);
        char when[64];
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", gmtime(&now));
        printf("bench_table: %s run, %s, %s %s, %ld CPUs online, load average %s\n", b.quick ? "--quick" : "full",
               when, un.sysname, un.release, sysconf(_SC_NPROCESSORS_ONLN), la);
        printf("  state directory %s (and %s for the many-containers stage)\n"
               "    on %s, %s%s; durable-append floor files in %s, %s\n",
               b.state, b.state2, src, bench_fs_name(b.tmp),
               strcmp(bench_fs_name(b.tmp), "tmpfs") == 0 ? " -- tmpfs: fdatasync costs nothing, use --dir on a disk" : "",
               b.plain, same_fs ? "the same filesystem" : "ANOTHER filesystem");
        printf("  bundlefs %s, noop_fs %s\n  open-file limit (RLIMIT_NOFILE) of the daemons: %ld%s\n",
               b.bundlefs_path, b.noop_path, b.nofile, b.nofile_note ? b.nofile_note : "");
        free(la);
        free(src);

        build_lists(&b);
        if (!b.only_many) {
                stage_render(&b);
                if (bench_interrupted)
                        bench_die("interrupted");
                stage_unpack(&b);
                if (bench_interrupted)
                        bench_die("interrupted");
        }

        /* The containers: 10 and 5,000 options, and 8 of 10 for the writers. */
        double t_start;
        start_bundlefs(&b, b.state, b.bfs.mnt, &t_start);
        char *ns = bench_asprintf("%s/bench", b.bfs.mnt);
        bench_make_dir(ns);
        char *p10 = bench_asprintf("%s/c10", ns), *p5k = bench_asprintf("%s/c5000", ns);
        bench_make_dir(p10);
        bench_make_dir(p5k);
        int small_dir = bench_open_dir(p10), big_dir = bench_open_dir(p5k);
        set_list(small_dir, "c10", b.base_text, b.base_len);
        double tl = bench_now();
        set_list(big_dir, "c5000", b.big_text, b.big_len);
        tl = bench_now() - tl;
        int wdirs[MAX_WRITERS];
        for (int i = 0; i < MAX_WRITERS; i++) {
                char *p = bench_asprintf("%s/w%d", ns, i);
                bench_make_dir(p);
                wdirs[i] = bench_open_dir(p);
                set_list(wdirs[i], p, b.base_text, b.base_len);
                free(p);
        }
        size_t small_size = bench_read_size(small_dir, "config.json"), big_size = bench_read_size(big_dir, "config.json");
        /* The floors read the same number of bytes. */
        double noop_start = start_noop(&b, &b.noop_small, small_size, NULL);
        start_noop(&b, &b.noop_big, big_size, NULL);
        /* Durable no-op filesystems: the floor of a kept write, one per writer. */
        int noop_dur_dirs[MAX_WRITERS];
        for (int i = 0; i < MAX_WRITERS; i++) {
                char *dur_file = bench_asprintf("%s/noop-durable%d", b.plain, i);
                start_noop(&b, &b.noop_dur[i], small_size, dur_file);
                free(dur_file);
                noop_dur_dirs[i] = bench_open_dir(b.noop_dur[i].mnt);
        }
        int noop_small_dir = bench_open_dir(b.noop_small.mnt), noop_big_dir = bench_open_dir(b.noop_big.mnt);
        char *append_path = bench_asprintf("%s/append", b.plain);
        int plain_fd = open(append_path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0644);
        if (plain_fd < 0)
                bench_die("open %s: %s", append_path, strerror(errno));
        free(append_path);
        printf("setup: bundlefs served in %.0f ms; replacing opts by the 5,000-option list took %.0f ms\n",
               t_start * 1e3, tl * 1e3);

        if (!b.only_many) {
                stage_latency(&b, small_dir, big_dir, noop_small_dir, noop_big_dir, noop_dur_dirs[0], plain_fd, small_size,
                              big_size, small_size, big_size);
                stage_throughput(&b, wdirs, noop_dur_dirs);
        }

        /* The noop read of the small file once more, as the floor of "read every config.json". */
        close(small_dir);
        close(big_dir);
        close(plain_fd);
        for (int i = 0; i < MAX_WRITERS; i++)
                close(wdirs[i]);
        double noop_read;
        {
                struct lat m = { .label = "noop read", .kind = K_READ, .dirfd = noop_small_dir, .name = "file",
                                 .expect = small_size, .batch = 200 };
                int saved = b.lat_rounds;
                b.lat_rounds = 1;
                lat_run(&b, &m, 1);
                b.lat_rounds = saved;
                noop_read = m.med;
                free(m.samples);
        }
        close(noop_small_dir);
        close(noop_big_dir);
        bench_daemon_stop(&b.bfs, STOP_TIMEOUT);
        bench_daemon_stop(&b.noop_big, STOP_TIMEOUT);
        for (int i = 0; i < MAX_WRITERS; i++) {
                close(noop_dur_dirs[i]);
                bench_daemon_stop(&b.noop_dur[i], STOP_TIMEOUT);
        }

        stage_many(&b, noop_start, small_size, noop_read);

        print_table();
        char *la2 = bench_loadavg();
        printf("\nratio: figure / floor, or what the target compares (N writers / 1 writer; append @5,000 / @10).\n"
               "Latencies: median of every sample, p99 beside it; floors took turns with the figures in the same "
               "rounds.\nload average at the end: %s\n",
               la2);
        free(la2);

        printf("removing %s (with many containers this takes a while) ...\n", b.tmp);
        bench_at_die(NULL, NULL);
        double tc = bench_now();
        teardown(&b);
        printf("removed in %.1f s\n", bench_now() - tc);
        free(ns), free(p10), free(p5k);
        return 0;
}
