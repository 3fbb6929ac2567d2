/* What the benchmarks share: timing and statistics, files and directories,
 * the daemons they start and the temporary tree they remove. These are
 * programs, not a library: on an error that leaves no figure to report,
 * bench_die prints, runs the cleanup given to bench_init and exits. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* Set by SIGINT, SIGTERM and SIGHUP once bench_catch_signals ran. */
extern volatile sig_atomic_t bench_interrupted;

/* The name messages start with. */
void bench_init(const char *prog);
/* What bench_die runs before exiting: cleanup(arg), or nothing (NULL). */
void bench_at_die(void (*cleanup)(void *arg), void *arg);
/* SIGINT, SIGTERM and SIGHUP set bench_interrupted; SIGPIPE is ignored. */
void bench_catch_signals(void);
__attribute__((format(printf, 1, 2), noreturn)) void bench_die(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) char *bench_asprintf(const char *fmt, ...);
void *bench_malloc(size_t n);

/* CLOCK_MONOTONIC in seconds. */
double bench_now(void);
/* Sleep s seconds, less if interrupted. */
void bench_sleep(double s);
int bench_cmp_double(const void *a, const void *b);
/* The median, and the value below which a fraction q of the samples lie
 * (nearest rank); v is left as it is. */
double bench_median(const double *v, size_t n);
double bench_quantile(const double *v, size_t n, double q);
/* 12345.6 -> "12,346", to free. */
char *bench_fmt_count(double v);

/* Every byte, retrying short writes and EINTR; 0 or a negative errno. */
/* A whole file, NUL-terminated, to free; NULL with errno set. */
char *bench_read_file(const char *path, size_t *ret_len);
bool bench_file_exists(const char *path);
void bench_make_dir(const char *path);
int bench_open_dir(const char *path);
/* Read name below dirfd to EOF (as cat does); the bytes read. */
size_t bench_read_size(int dirfd, const char *name);

/* The 12-option list containerd's reference figures were measured on: the
 * shared copy beside the repository when there is one, else bench's own. */
const char *bench_find_list12(void);
/* The name of the filesystem path is on: "ext4", "tmpfs", ... */
const char *bench_fs_name(const char *path);
/* The directory of this program, to free. */
char *bench_self_dir(void);
/* The three load averages of /proc/loadavg, to free. */
char *bench_loadavg(void);
bool bench_is_fuse(const char *path);
/* Mount points strictly below dir whose last component is leaf (NULL: any);
 * -1 if /proc/self/mountinfo cannot be read. */
long bench_count_mounts_below(const char *dir, const char *leaf);
/* rm -r, staying on top's filesystem; several unlinks in flight at once (on
 * a filesystem mounted with `discard`, one after the other takes minutes). */
void bench_remove_tree(const char *top);
/* Remove the benchmark's temporary directory, unless something is still
 * mounted below it after `wait` seconds (lazy unmounts): then say so. */
void bench_remove_temp_dir(const char *dir, double wait);

struct bench_daemon {
        const char *name;
        char *mnt;                      /* where it mounts */
        char *log;                      /* its stdout and stderr, appended */
        pid_t pid;                      /* 0: not running */
        clockid_t cpu_clock;            /* its process CPU clock, */
        bool have_cpu_clock;            /* when there is one */
};

/* Start argv (in its own process group); return the seconds from fork until
 * a FUSE filesystem is mounted on d->mnt and `probe` (NULL: none) answers
 * stat. Dies if it exits first or takes more than `timeout` seconds. */
double bench_daemon_start(struct bench_daemon *d, char *const argv[], const char *probe, double timeout);
/* SIGTERM and wait; past `timeout` seconds, detach its mount and SIGKILL it.
 * A mount it left behind is detached. The seconds it took. */
double bench_daemon_stop(struct bench_daemon *d, double timeout);
/* Its CPU time in seconds so far (threads gone included), or 0. */
double bench_daemon_cpu(const struct bench_daemon *d);
