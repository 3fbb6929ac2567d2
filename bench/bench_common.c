#include "bench_common.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef BENCH_SOURCE_ROOT
#define BENCH_SOURCE_ROOT "."
#endif

#define FUSE_MAGIC 0x65735546
#define TMPFS_MAGIC 0x01021994

volatile sig_atomic_t bench_interrupted;

static const char *prog_name = "bench";
static void (*die_cleanup)(void *arg);
static void *die_cleanup_arg;

void bench_init(const char *prog)
{
        prog_name = prog;
}

void bench_at_die(void (*cleanup)(void *arg), void *arg)
{
        die_cleanup = cleanup;
        die_cleanup_arg = arg;
}

static void on_signal(int sig)
{
        (void) sig;
        bench_interrupted = 1;
}

void bench_catch_signals(void)
{
        struct sigaction sa = { .sa_handler = on_signal };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
}

void bench_die(const char *fmt, ...)
{
        va_list ap;
        fflush(stdout);
        fprintf(stderr, "%s: ", prog_name);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\n");
        void (*cleanup)(void *arg) = die_cleanup;
        die_cleanup = NULL;             /* a failure while cleaning up ends here */
        if (cleanup)
                cleanup(die_cleanup_arg);
        exit(1);
}

char *bench_asprintf(const char *fmt, ...)
{
        va_list ap;
        char *s;
        va_start(ap, fmt);
        int r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0)
                bench_die("out of memory");
        return s;
}

void *bench_malloc(size_t n)
{
        void *p = malloc(n ? n : 1);
        if (!p)
                bench_die("out of memory");
        return p;
}

double bench_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

void bench_sleep(double s)
{
        struct timespec ts = { .tv_sec = (time_t) s, .tv_nsec = (long) ((s - (double) (time_t) s) * 1e9) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !bench_interrupted)
                ;
}

int bench_cmp_double(const void *a, const void *b)
{
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static double *sorted_copy(const double *v, size_t n)
{
        double *s = bench_malloc(n * sizeof(*s));
        memcpy(s, v, n * sizeof(*s));
        qsort(s, n, sizeof(*s), bench_cmp_double);
        return s;
}

double bench_median(const double *v, size_t n)
{
        if (n == 0)
                return 0;
        double *s = sorted_copy(v, n);
        double m = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
        free(s);
        return m;
}

double bench_quantile(const double *v, size_t n, double q)
{
        if (n == 0)
                return 0;
        double *s = sorted_copy(v, n);
        size_t k = (size_t) (q * (double) n + 0.999999);
        if (k < 1)
                k = 1;
        if (k > n)
                k = n;
        double x = s[k - 1];
        free(s);
        return x;
}

char *bench_fmt_count(double v)
{
        char digits[32], out[48];
        snprintf(digits, sizeof(digits), "%.0f", v);
        size_t len = strlen(digits), j = 0;
        for (size_t i = 0; i < len; i++) {
                if (i && (len - i) % 3 == 0 && digits[i - 1] != '-')
                        out[j++] = ',';
                out[j++] = digits[i];
        }
        out[j] = '\0';
        return bench_asprintf("%s", out);
}

char *bench_read_file(const char *path, size_t *ret_len)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return NULL;
        size_t len = 0, cap = 4096;
        char *p = bench_malloc(cap);
        ssize_t n;
        while ((n = read(fd, p + len, cap - len - 1)) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int e = errno;
                        free(p);
                        close(fd);
                        errno = e;
                        return NULL;
                }
                len += (size_t) n;
                if (cap - len < 2) {
                        cap *= 2;
                        char *q = realloc(p, cap);
                        if (!q)
                                bench_die("out of memory");
                        p = q;
                }
        }
        close(fd);
        p[len] = '\0';
        if (ret_len)
                *ret_len = len;
        return p;
}

bool bench_file_exists(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void bench_make_dir(const char *path)
{
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                bench_die("mkdir %s: %s", path, strerror(errno));
}

int bench_open_dir(const char *path)
{
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                bench_die("opening %s: %s", path, strerror(errno));
        return fd;
}

size_t bench_read_size(int dirfd, const char *name)
{
        static char rbuf[128 * 1024];   /* what cat(1) reads at a time */
        int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                bench_die("opening %s: %s", name, strerror(errno));
        size_t total = 0;
        ssize_t n;
        while ((n = read(fd, rbuf, sizeof(rbuf))) > 0)
                total += (size_t) n;
        if (n < 0)
                bench_die("reading %s: %s", name, strerror(errno));
        close(fd);
        return total;
}

const char *bench_find_list12(void)
{
        static const char *const candidates[] = {
                BENCH_SOURCE_ROOT "/../shared/bench/list12.opts",
                BENCH_SOURCE_ROOT "/bench/list12.opts",
        };
        for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
                if (bench_file_exists(candidates[i]))
                        return candidates[i];
        return NULL;
}

const char *bench_fs_name(const char *path)
{
        struct statfs st;
        if (statfs(path, &st) < 0)
                return "?";
        switch ((unsigned long) st.f_type) {
        case 0xEF53: return "ext4";
        case TMPFS_MAGIC: return "tmpfs";
        case 0x58465342: return "xfs";
        case 0x9123683E: return "btrfs";
        case 0x794c7630: return "overlayfs";
        case 0x2fc12fc1: return "zfs";
        default: return "other";
        }
}

char *bench_self_dir(void)
{
        char path[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
        if (n < 0)
                return bench_asprintf(".");
        path[n] = '\0';
        return bench_asprintf("%s", dirname(path));
}

char *bench_loadavg(void)
{
        char *s = bench_read_file("/proc/loadavg", NULL);
        if (!s)
                return bench_asprintf("?");
        char *sp = s;
        for (int i = 0; i < 3 && sp; i++)
                sp = strchr(sp + 1, ' ');
        if (sp)
                *sp = '\0';
        return s;
}

bool bench_is_fuse(const char *path)
{
        struct statfs st;
        return statfs(path, &st) == 0 && (unsigned long) st.f_type == FUSE_MAGIC;
}

long bench_count_mounts_below(const char *dir, const char *leaf)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -1;
        size_t dl = strlen(dir), ll = leaf ? strlen(leaf) : 0;
        char *line = NULL;
        size_t cap = 0;
        long n = 0;
        while (getline(&line, &cap, f) > 0) {
                char mp[PATH_MAX];
                if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
                        continue;
                size_t ml = strlen(mp);
                if (strncmp(mp, dir, dl) != 0 || mp[dl] != '/')
                        continue;
                if (leaf && (ml < ll + 1 || mp[ml - ll - 1] != '/' || strcmp(mp + ml - ll, leaf) != 0))
                        continue;
                n++;
        }
        free(line);
        fclose(f);
        return n;
}

/* Removing a tree: every path, with its depth, collected by nftw; files are
 * unlinked, then directories removed deepest level first, each batch shared
 * by a few threads. */
struct rm_entry {
        char *path;
        int depth;
        bool dir;
};

static struct rm_entry *rm_list;
static size_t rm_n, rm_cap;

static int rm_collect(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        (void) st;
        if (rm_n == rm_cap) {
                rm_cap = rm_cap ? rm_cap * 2 : 4096;
                struct rm_entry *l = realloc(rm_list, rm_cap * sizeof(*l));
                if (!l)
                        return 1;
                rm_list = l;
        }
        char *copy = strdup(path);
        if (!copy)
                return 1;
        rm_list[rm_n++] = (struct rm_entry){ copy, ftw->level, flag == FTW_DP || flag == FTW_D || flag == FTW_DNR };
        return 0;
}

struct rm_job {
        size_t *order;                  /* indexes into rm_list */
        size_t n, next;
        pthread_mutex_t lock;
};

static void *rm_worker(void *p)
{
        struct rm_job *j = p;
        for (;;) {
                pthread_mutex_lock(&j->lock);
                size_t i = j->next < j->n ? j->next++ : SIZE_MAX;
                pthread_mutex_unlock(&j->lock);
                if (i == SIZE_MAX)
                        return NULL;
                struct rm_entry *e = &rm_list[j->order[i]];
                if (e->dir)
                        rmdir(e->path);
                else
                        unlink(e->path);
        }
}

static void rm_run(size_t *order, size_t n)
{
        enum { RM_THREADS = 8 };
        struct rm_job j = { .order = order, .n = n };
        pthread_mutex_init(&j.lock, NULL);
        pthread_t th[RM_THREADS];
        int started = 0;
        for (; started < RM_THREADS; started++)
                if (pthread_create(&th[started], NULL, rm_worker, &j) != 0)
                        break;
        if (!started)
                rm_worker(&j);
        for (int i = 0; i < started; i++)
                pthread_join(th[i], NULL);
        pthread_mutex_destroy(&j.lock);
}

void bench_remove_tree(const char *top)
{
        rm_n = 0;
        nftw(top, rm_collect, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
        size_t *order = malloc((rm_n ? rm_n : 1) * sizeof(*order));
        int max_depth = 0;
        for (size_t i = 0; i < rm_n; i++)
                if (rm_list[i].depth > max_depth)
                        max_depth = rm_list[i].depth;
        if (order) {
                size_t k = 0;
                for (size_t i = 0; i < rm_n; i++)
                        if (!rm_list[i].dir)
                                order[k++] = i;
                rm_run(order, k);
                for (int d = max_depth; d >= 0; d--) {
                        k = 0;
                        for (size_t i = 0; i < rm_n; i++)
                                if (rm_list[i].dir && rm_list[i].depth == d)
                                        order[k++] = i;
                        rm_run(order, k);
                }
        }
        for (size_t i = 0; i < rm_n; i++)
                free(rm_list[i].path);
        free(order);
        free(rm_list);
        rm_list = NULL;
        rm_n = rm_cap = 0;
}

void bench_remove_temp_dir(const char *dir, double wait)
{
        if (bench_count_mounts_below(dir, NULL) != 0) {
                bench_sleep(wait);
                if (bench_count_mounts_below(dir, NULL) != 0) {
                        fprintf(stderr, "%s: something is still mounted below %s: not removing it\n", prog_name, dir);
                        return;
                }
        }
        bench_remove_tree(dir);
}

static void print_log_tail(const struct bench_daemon *d)
{
        size_t len;
        char *text = d->log ? bench_read_file(d->log, &len) : NULL;
        if (text && len)
                fprintf(stderr, "--- %s's output (%s) ---\n%s---\n", d->name, d->log,
                        len > 2000 ? text + len - 2000 : text);
        free(text);
}

double bench_daemon_start(struct bench_daemon *d, char *const argv[], const char *probe, double timeout)
{
        double t0 = bench_now();
        pid_t pid = fork();
        if (pid < 0)
                bench_die("fork: %s", strerror(errno));
        if (pid == 0) {
                setpgid(0, 0);          /* a ^C reaches only us; we stop the daemons in order */
                int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                execv(argv[0], argv);
                fprintf(stderr, "%s: executing %s: %s\n", prog_name, argv[0], strerror(errno));
                _exit(127);
        }
        d->pid = pid;
        d->have_cpu_clock = clock_getcpuclockid(pid, &d->cpu_clock) == 0;
        struct stat st;
        for (;;) {
                if (bench_is_fuse(d->mnt) && (!probe || stat(probe, &st) == 0))
                        return bench_now() - t0;
                int status;
                if (waitpid(pid, &status, WNOHANG) == pid) {
                        d->pid = 0;
                        d->have_cpu_clock = false;
                        print_log_tail(d);
                        bench_die("%s exited before serving %s", d->name, probe ? probe : d->mnt);
                }
                if (bench_now() - t0 > timeout || bench_interrupted)
                        bench_die("%s did not serve %s within %.0f s", d->name, probe ? probe : d->mnt, timeout);
                usleep(500);
        }
}

double bench_daemon_stop(struct bench_daemon *d, double timeout)
{
        if (d->pid <= 0)
                return 0;
        double t0 = bench_now();
        kill(d->pid, SIGTERM);
        int status;
        for (;;) {
                pid_t r = waitpid(d->pid, &status, WNOHANG);
                if (r == d->pid || (r < 0 && errno == ECHILD))
                        break;
                if (bench_now() - t0 > timeout) {
                        fprintf(stderr, "%s: %s (pid %d) ignores SIGTERM: detaching %s and killing it\n", prog_name,
                                d->name, (int) d->pid, d->mnt);
                        umount2(d->mnt, MNT_DETACH);
                        kill(d->pid, SIGKILL);
                        waitpid(d->pid, &status, 0);
                        break;
                }
                usleep(2000);
        }
        d->pid = 0;
        d->have_cpu_clock = false;
        double t = bench_now() - t0;
        /* A daemon that died leaves its mount behind. */
        if (bench_is_fuse(d->mnt) || (statfs(d->mnt, &(struct statfs){ 0 }) < 0 && errno == ENOTCONN))
                umount2(d->mnt, MNT_DETACH);
        return t;
}

double bench_daemon_cpu(const struct bench_daemon *d)
{
        struct timespec ts;
        if (!d || !d->have_cpu_clock || clock_gettime(d->cpu_clock, &ts) < 0)
                return 0;
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}
