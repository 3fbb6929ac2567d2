/* File-system guard for the fuzz targets: see sandbox.h.
 *
 * The functions below take the place of libc's (the executable's definitions
 * come first in symbol look-up, also for json-c and libcap) and forward to the
 * real ones, found with dlsym(RTLD_NEXT). Outside fuzz_sandbox_enter() they only
 * forward, so libFuzzer and the sanitizers write their files as usual.
 *
 * Built without _FILE_OFFSET_BITS=64 so that open and open64 (and friends)
 * are distinct symbols here; both are defined. */
#undef _FILE_OFFSET_BITS
#include "sandbox.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef O_TMPFILE
#define O_TMPFILE 0
#endif

/* O_TMPFILE includes O_DIRECTORY: test it as a whole. */
static bool writes(long flags)
{
        return (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND)) ||
               (O_TMPFILE && (flags & O_TMPFILE) == O_TMPFILE);
}

/* Per thread: libFuzzer's RSS-limit thread writes its "oom-" reproducer while
 * the fuzzing thread may be inside. */
static __thread volatile int active;

/* A crash inside the window (a sanitizer report, a signal, a timeout) must not
 * stop libFuzzer from writing the reproducer: every such path leaves first. */
static const int crash_signals[] = { SIGABRT, SIGALRM, SIGBUS, SIGFPE, SIGILL, SIGINT,
                                     SIGSEGV, SIGTERM, SIGUSR1, SIGUSR2, SIGXFSZ };
static struct sigaction previous[NSIG];

static void leave_then_chain(int sig, siginfo_t *info, void *ctx)
{
        active = 0;
        const struct sigaction *p = &previous[sig];
        if (p->sa_flags & SA_SIGINFO) {
                p->sa_sigaction(sig, info, ctx);
        } else if (p->sa_handler == SIG_DFL) {
                signal(sig, SIG_DFL);
                raise(sig);
        } else if (p->sa_handler != SIG_IGN) {
                p->sa_handler(sig);
        }
}

/* Installed at the first entry, after libFuzzer and the sanitizers have set
 * their handlers, which are then called from ours. */
static void chain_crash_handlers(void)
{
        static bool done;
        if (done)
                return;
        done = true;
        for (size_t i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++) {
                int sig = crash_signals[i];
                struct sigaction sa = { .sa_sigaction = leave_then_chain, .sa_flags = SA_SIGINFO | SA_ONSTACK };
                if (sigaction(sig, NULL, &previous[sig]) < 0)
                        continue;
                sa.sa_mask = previous[sig].sa_mask;
                sigaction(sig, &sa, NULL);
        }
}

/* Called by AddressSanitizer before it reports, and by every sanitizer with
 * the report's summary line (which is printed here, as the default does). */
void __asan_on_error(void);
void __sanitizer_report_error_summary(const char *summary);

void __asan_on_error(void)
{
        active = 0;
}

void __sanitizer_report_error_summary(const char *summary)
{
        active = 0;
        fprintf(stderr, "%s\n", summary);
}

void fuzz_sandbox_enter(void)
{
        chain_crash_handlers();
        active = 1;
}

void fuzz_sandbox_leave(void)
{
        active = 0;
}

static void *real(const char *name)
{
        void *f = dlsym(RTLD_NEXT, name);
        if (!f) {
                fprintf(stderr, "fuzz sandbox: no real %s\n", name);
                abort();
        }
        return f;
}

#define REAL(name) \
        static __typeof__(&name) real_##name; \
        if (!real_##name) \
                real_##name = (__typeof__(&name)) real(#name)

static void violation(const char *what, const char *path)
{
        active = 0;
        fprintf(stderr, "fuzz sandbox: the code under test tried to %s %s\n", what, path ? path : "");
        abort();
}

static bool kernel_fs(long type)
{
        switch (type) {
        case PROC_SUPER_MAGIC:
        case SYSFS_MAGIC:
        case DEBUGFS_MAGIC:
        case TRACEFS_MAGIC:
        case SECURITYFS_MAGIC:
        case CGROUP_SUPER_MAGIC:
        case CGROUP2_SUPER_MAGIC:
        case BPF_FS_MAGIC:
        case EFIVARFS_MAGIC:
        case PSTOREFS_MAGIC:
#ifdef CONFIGFS_MAGIC
        case CONFIGFS_MAGIC:
#endif
                return true;
        default:
                return false;
        }
}

/* A device's uevent file in /sys: reading it only reports the device's
 * properties, and libudev needs it to find device nodes (devices control file). */
static bool is_uevent(const char *path)
{
        const char *slash = strrchr(path, '/');
        return strcmp(slash ? slash + 1 : path, "uevent") == 0;
}

/* Look at what a read-only open would reach without opening it (O_PATH runs no
 * driver code): 0 when it may be opened, -1 with errno EACCES when not. When the
 * O_PATH open fails the real open fails the same way, so it is let through. */
static int check_target(int fd_path, const char *path)
{
        if (fd_path < 0)
                return 0;
        struct stat st;
        struct statfs sf;
        int ret = 0;
        if (fstat(fd_path, &st) < 0 || fstatfs(fd_path, &sf) < 0)
                ret = -1;
        else if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
                ret = -1;       /* device nodes, FIFOs, sockets */
        else if (kernel_fs((long) sf.f_type) && !(path && strcmp(path, "/proc/self/uid_map") == 0) &&
                 !((long) sf.f_type == SYSFS_MAGIC && path && is_uevent(path)))
                ret = -1;       /* /proc, /sys & co (the core's own uid_map read excepted) */
        close(fd_path);
        if (ret < 0)
                errno = EACCES;
        return ret;
}

static int check_open(int dirfd, const char *path, int flags)
{
        if (writes(flags))
                violation("open for writing", path);
        if (flags & O_PATH)
                return 0;
        REAL(openat);
        int saved = errno;
        int fd = real_openat(dirfd, path, O_PATH | O_CLOEXEC | (flags & O_NOFOLLOW), 0);
        int ret = check_target(fd, path);
        if (ret == 0)
                errno = saved;
        return ret;
}

static mode_t mode_arg(int flags, va_list ap)
{
        return (flags & O_CREAT) || (O_TMPFILE && (flags & O_TMPFILE) == O_TMPFILE) ? (mode_t) va_arg(ap, int) : 0;
}

#define DEFINE_OPEN(name)                                                               \
        int name(const char *path, int flags, ...)                                      \
        {                                                                               \
                va_list ap;                                                             \
                va_start(ap, flags);                                                    \
                mode_t mode = mode_arg(flags, ap);                                      \
                va_end(ap);                                                             \
                REAL(name);                            \
                if (active && check_open(AT_FDCWD, path, flags) < 0)                    \
                        return -1;                                                      \
                return real_##name(path, flags, mode);                                  \
        }

#define DEFINE_OPENAT(name)                                                             \
        int name(int dirfd, const char *path, int flags, ...)                           \
        {                                                                               \
                va_list ap;                                                             \
                va_start(ap, flags);                                                    \
                mode_t mode = mode_arg(flags, ap);                                      \
                va_end(ap);                                                             \
                REAL(name);                       \
                if (active && check_open(dirfd, path, flags) < 0)                       \
                        return -1;                                                      \
                return real_##name(dirfd, path, flags, mode);                           \
        }

DEFINE_OPEN(open)
DEFINE_OPEN(open64)
DEFINE_OPENAT(openat)
DEFINE_OPENAT(openat64)

static bool fopen_mode_writes(const char *mode)
{
        return strpbrk(mode, "wax+") != NULL;
}

#define DEFINE_FOPEN(name)                                                              \
        FILE *name(const char *restrict path, const char *restrict mode)               \
        {                                                                               \
                REAL(name);                      \
                if (active) {                                                           \
                        if (fopen_mode_writes(mode))                                    \
                                violation("fopen for writing", path);                   \
                        if (check_open(AT_FDCWD, path, O_RDONLY) < 0)                   \
                                return NULL;                                            \
                }                                                                       \
                return real_##name(path, mode);                                         \
        }

DEFINE_FOPEN(fopen)
DEFINE_FOPEN(fopen64)

FILE *freopen(const char *restrict path, const char *restrict mode, FILE *restrict stream)
{
        REAL(freopen);
        if (active)
                violation("freopen", path);
        return real_freopen(path, mode, stream);
}

/* syscall(2): openat2 is checked like openat (RESOLVE_* kept for the look).
 * All six argument registers are read whatever the call: not ASan-clean, which
 * is why this file is built without sanitizers. */
__attribute__((no_sanitize("address", "undefined")))
long syscall(long number, ...)
{
        va_list ap;
        va_start(ap, number);
        long a[6];
        for (int i = 0; i < 6; i++)
                a[i] = va_arg(ap, long);
        va_end(ap);
        REAL(syscall);
        if (active) {
                switch (number) {
                case SYS_openat2: {
                        const struct open_how *how = (const struct open_how *) a[2];
                        const char *path = (const char *) a[1];
                        if (writes((long) how->flags))
                                violation("openat2 for writing", path);
                        if (!(how->flags & O_PATH)) {
                                struct open_how probe = *how;
                                probe.flags = O_PATH | O_CLOEXEC | (how->flags & O_NOFOLLOW);
                                probe.mode = 0;
                                int saved = errno;
                                int fd = (int) real_syscall(SYS_openat2, a[0], a[1], (long) &probe, (long) sizeof(probe));
                                if (check_target(fd, path) < 0)
                                        return -1;
                                errno = saved;
                        }
                        break;
                }
                case SYS_open:
                case SYS_openat:
                case SYS_creat:
                case SYS_unlink:
                case SYS_unlinkat:
                case SYS_rename:
                case SYS_renameat:
                case SYS_renameat2:
                case SYS_mkdir:
                case SYS_mkdirat:
                case SYS_rmdir:
                case SYS_link:
                case SYS_linkat:
                case SYS_symlink:
                case SYS_symlinkat:
                case SYS_mknod:
                case SYS_mknodat:
                case SYS_truncate:
                case SYS_ftruncate:
                case SYS_chmod:
                case SYS_fchmod:
                case SYS_fchmodat:
                case SYS_chown:
                case SYS_fchown:
                case SYS_lchown:
                case SYS_fchownat:
                case SYS_write:
                case SYS_pwrite64:
                case SYS_writev:
                case SYS_pwritev:
                case SYS_sendfile:
                case SYS_copy_file_range:
                case SYS_mount:
                case SYS_umount2:
                        violation("make a raw syscall that can write or open:", NULL);
                        break;
                default:
                        break;
                }
        }
        return real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* Calls that change the file system: never allowed in the sandbox. */
#define DENY(ret, name, params, args, first)                     \
        ret name params                                          \
        {                                                        \
                REAL(name);                      \
                if (active)                                      \
                        violation("call " #name " on", first);   \
                return real_##name args;                         \
        }

DENY(int, creat, (const char *p, mode_t m), (p, m), p)
DENY(int, creat64, (const char *p, mode_t m), (p, m), p)
DENY(int, mkdir, (const char *p, mode_t m), (p, m), p)
DENY(int, mkdirat, (int d, const char *p, mode_t m), (d, p, m), p)
DENY(int, unlink, (const char *p), (p), p)
DENY(int, unlinkat, (int d, const char *p, int f), (d, p, f), p)
DENY(int, rmdir, (const char *p), (p), p)
DENY(int, remove, (const char *p), (p), p)
DENY(int, rename, (const char *a, const char *b), (a, b), a)
DENY(int, renameat, (int da, const char *a, int db, const char *b), (da, a, db, b), a)
DENY(int, renameat2, (int da, const char *a, int db, const char *b, unsigned int f), (da, a, db, b, f), a)
DENY(int, link, (const char *a, const char *b), (a, b), b)
DENY(int, linkat, (int da, const char *a, int db, const char *b, int f), (da, a, db, b, f), b)
DENY(int, symlink, (const char *a, const char *b), (a, b), b)
DENY(int, symlinkat, (const char *a, int d, const char *b), (a, d, b), b)
DENY(int, mknod, (const char *p, mode_t m, dev_t d), (p, m, d), p)
DENY(int, mknodat, (int fd, const char *p, mode_t m, dev_t d), (fd, p, m, d), p)
DENY(int, truncate, (const char *p, off_t l), (p, l), p)
DENY(int, chmod, (const char *p, mode_t m), (p, m), p)
DENY(int, fchmodat, (int d, const char *p, mode_t m, int f), (d, p, m, f), p)
DENY(int, chown, (const char *p, uid_t u, gid_t g), (p, u, g), p)
DENY(int, lchown, (const char *p, uid_t u, gid_t g), (p, u, g), p)
DENY(int, fchownat, (int d, const char *p, uid_t u, gid_t g, int f), (d, p, u, g, f), p)
DENY(int, ftruncate, (int fd, off_t l), (fd, l), NULL)
DENY(int, fchmod, (int fd, mode_t m), (fd, m), NULL)
DENY(int, fchown, (int fd, uid_t u, gid_t g), (fd, u, g), NULL)
