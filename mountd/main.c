/* bundlefs: mount the bundle tree. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <syslog.h>
#include <unistd.h>

#include "bfs.h"
#include "util.h"

#define DEFAULT_STATE "/var/lib/bundlefs"
#define MAX_THREADS 64

struct config {
        char *state;
        unsigned long cache_size;
        char *max_memory;
        int help;
};

static const struct fuse_opt option_spec[] = {
        { "--state=%s", offsetof(struct config, state), 1 },
        { "--state %s", offsetof(struct config, state), 1 },
        { "--cache-size=%lu", offsetof(struct config, cache_size), 0 },
        { "--cache-size %lu", offsetof(struct config, cache_size), 0 },
        { "--max-memory=%s", offsetof(struct config, max_memory), 0 },
        { "--max-memory %s", offsetof(struct config, max_memory), 0 },
        { "-h", offsetof(struct config, help), 1 },
        { "--help", offsetof(struct config, help), 1 },
        FUSE_OPT_END,
};

static bool use_syslog;

static void log_msg(int priority, const char *msg)
{
        if (use_syslog)
                syslog(priority, "%s", msg);
        else
                fprintf(stderr, "bundlefs: %s\n", msg);
}

static void logf_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_msg(int priority, const char *fmt, ...)
{
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        log_msg(priority, msg);
}

static void usage(void)
{
        printf("Usage: bundlefs [-f] [-d] [-o FUSE-OPTIONS] [--state DIR] [--cache-size BYTES] [--max-memory BYTES]\n"
               "                MOUNTPOINT\n"
               "Mount a tree of OCI runtime bundles whose config.json is rendered as containerd v1.7.7 would.\n"
               "\n"
               "  --state DIR   where option lists and root filesystems are kept (default %s)\n"
               "  --cache-size BYTES\n"
               "                memory for cached renderings, all containers together (default %zu)\n"
               "  --max-memory BYTES\n"
               "                memory the option lists may hold, all containers together, with a K, M, G\n"
               "                or T suffix (1024-based); one list may hold a quarter of it; 0: no limit\n"
               "                (default: a quarter of the memory bundlefs may use)\n"
               "  -f            stay in the foreground (log to stderr; otherwise to syslog)\n"
               "  -d            debug: print every FUSE request (implies -f)\n"
               "  -o OPTIONS    FUSE mount options, passed on\n"
               "  -h, --help    this help\n"
               "  -V, --version print the version\n"
               "\n"
               "SIGTERM or SIGINT unmount the tree cleanly. See bundlefs(8).\n",
               DEFAULT_STATE, BFS_CACHE_SIZE_DEFAULT);
}

/* "512M", "2G", "1048576": bytes, 1024-based suffixes. */
static int parse_bytes(const char *s, size_t *ret)
{
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *s == '-')
                return -1;
        unsigned shift = 0;
        switch (*end) {
        case 'T': case 't': shift = 40; break;
        case 'G': case 'g': shift = 30; break;
        case 'M': case 'm': shift = 20; break;
        case 'K': case 'k': shift = 10; break;
        case '\0': break;
        default: return -1;
        }
        if (*end && end[1])
                return -1;
        if (shift && v > (SIZE_MAX >> shift))
                return -1;
        *ret = (size_t) v << shift;
        return 0;
}

/* The lowest memory limit of a cgroup and its ancestors (file: the limit's
 * name in each), below root. */
static uint64_t cgroup_limit(const char *root, const char *path, const char *file)
{
        uint64_t lowest = UINT64_MAX;
        char dir[PATH_MAX];
        if ((size_t) snprintf(dir, sizeof(dir), "%s%s", root, path) >= sizeof(dir))
                return lowest;
        for (;;) {
                char name[PATH_MAX + 64], text[64] = "";
                snprintf(name, sizeof(name), "%s/%s", dir, file);
                FILE *f = fopen(name, "re");
                if (f) {
                        unsigned long long v;
                        if (fgets(text, sizeof(text), f) && sscanf(text, "%llu", &v) == 1 && v < lowest)
                                lowest = v;
                        fclose(f);
                }
                char *slash = strrchr(dir, '/');
                if (!slash || (size_t) (slash - dir) < strlen(root))
                        return lowest;
                *slash = '\0';
        }
}

/* The memory this process may use: physical memory, or less under its
 * cgroups' limits (v1 or v2) and its address-space and data limits. */
static uint64_t memory_available(void)
{
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        uint64_t avail = pages > 0 && page > 0 ? (uint64_t) pages * (uint64_t) page : UINT64_MAX;
        struct rlimit rl;
        if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < avail)
                avail = rl.rlim_cur;
        if (getrlimit(RLIMIT_DATA, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < avail)
                avail = rl.rlim_cur;
        FILE *f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return avail;
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0) {
                /* "0::/path" (v2), "4:memory:/path" (v1) */
                line[strcspn(line, "\n")] = '\0';
                char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (!c2)
                        continue;
                uint64_t v = UINT64_MAX;
                if (c2 == c1 + 1 && access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0)
                        v = cgroup_limit("/sys/fs/cgroup", c2 + 1, "memory.max");
                else if (c2 == c1 + 1)
                        v = cgroup_limit("/sys/fs/cgroup/unified", c2 + 1, "memory.max");
                else if (strncmp(c1 + 1, "memory", 6) == 0 && (c1[7] == ':' || c1[7] == ','))
                        v = cgroup_limit("/sys/fs/cgroup/memory", c2 + 1, "memory.limit_in_bytes");
                if (v < avail)
                        avail = v;
        }
        free(line);
        fclose(f);
        return avail;
}

/* Is a FUSE filesystem mounted right on path? */
static bool fuse_mounted_on(const char *path)
{
        /* realpath of the directory, then the name: a look-up of path itself
         * would wait forever on a mount whose daemon is dying. */
        char dir[PATH_MAX], real[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", path);
        size_t n = strlen(dir);
        while (n > 1 && dir[n - 1] == '/')
                dir[--n] = '\0';
        char *slash = strrchr(dir, '/');
        const char *name = slash ? slash + 1 : dir;
        if (slash == dir)
                snprintf(real, sizeof(real), "/%s", name);
        else {
                if (slash)
                        *slash = '\0';
                char rdir[PATH_MAX];
                if (!realpath(slash ? dir : ".", rdir))
                        return false;
                if ((size_t) snprintf(real, sizeof(real), "%s/%s", streq(rdir, "/") ? "" : rdir, name) >=
                    sizeof(real))
                        return false;
        }
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return false;
        char *line = NULL;
        size_t cap = 0;
        bool found = false;
        while (!found && getline(&line, &cap, f) > 0) {
                /* id parent major:minor root mountpoint options ... - fstype ... */
                char mp[PATH_MAX], *dash = strstr(line, " - ");
                if (!dash || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
                        continue;
                found = streq(mp, real) && strncmp(dash + 3, "fuse", 4) == 0;
        }
        free(line);
        fclose(f);
        return found;
}

static int clean_stale_mount(const char *mountpoint)
{
        while (fuse_mounted_on(mountpoint)) {
                struct statfs st;
                if (statfs(mountpoint, &st) == 0) {
                        logf_msg(LOG_ERR, "%s is already mounted by a running filesystem", mountpoint);
                        return -1;
                }
                if (errno != ENOTCONN && errno != ECONNABORTED)
                        return 0;
                if (umount2(mountpoint, MNT_DETACH) < 0) {
                        logf_msg(LOG_ERR, "cleaning up the stale mount on %s: %s", mountpoint, strerror(errno));
                        return -1;
                }
                logf_msg(LOG_NOTICE, "cleaned up the mount a stopped bundlefs left on %s", mountpoint);
        }
        return 0;
}

struct signal_ctx {
        sigset_t set;
        struct bfs *fs;
        struct fuse_session *se;
        const char *mountpoint;
        pthread_t main_thread;
        pthread_mutex_t lock;
        bool loop_done;
};

static void wake_handler(int sig)
{
        (void) sig;
}

/* SIGTERM/SIGINT: unmount the rootfs bind mounts while the session still
 * serves the walks to them, then end the session. */
static void *signal_thread(void *userdata)
{
        struct signal_ctx *ctx = userdata;
        int sig;
        if (sigwait(&ctx->set, &sig) != 0)
                return NULL;
        pthread_mutex_lock(&ctx->lock);
        bool done = ctx->loop_done;
        pthread_mutex_unlock(&ctx->lock);
        if (done)
                return NULL;
        logf_msg(LOG_NOTICE, "%s: unmounting %s", strsignal(sig), ctx->mountpoint);
        bfs_stop(ctx->fs);
        fuse_session_exit(ctx->se);
        /* The session loop waits in sem_wait(), which a signal interrupts; repeat
         * in case it arrives just before the wait begins. */
        for (;;) {
                pthread_mutex_lock(&ctx->lock);
                done = ctx->loop_done;
                pthread_mutex_unlock(&ctx->lock);
                if (done)
                        break;
                pthread_kill(ctx->main_thread, SIGUSR1);
                usleep(100 * 1000);
        }
        return NULL;
}

/* The command line: 0 to go on, or the status to exit with (help and
 * version are answered here). */
static int parse_command_line(struct fuse_args *args, struct config *conf, struct fuse_cmdline_opts *opts,
                              int *ret_status)
{
        if (fuse_opt_parse(args, conf, option_spec, NULL) < 0)
                return *ret_status = 2, -1;
        if (conf->help) {
                usage();
                return *ret_status = 0, -1;
        }
        if (fuse_parse_cmdline(args, opts) != 0)
                return *ret_status = 2, -1;     /* libfuse said why (a mount point it cannot resolve, ...) */
        if (opts->show_version) {
                printf("bundlefs %s (libfuse %s)\n", BUNDLEFS_VERSION, fuse_pkgversion());
                return *ret_status = 0, -1;
        }
        if (opts->show_help) {
                usage();
                return *ret_status = 0, -1;
        }
        if (!opts->mountpoint) {
                fprintf(stderr, "bundlefs: no mount point given (see bundlefs --help)\n");
                return *ret_status = 2, -1;
        }
        if (geteuid() != 0) {
                fprintf(stderr, "bundlefs: must run as root: it bind-mounts each container's rootfs into the tree\n");
                return *ret_status = 1, -1;
        }
        return 0;
}

/* Option lists hold a quarter of what the daemon may use unless told
 * otherwise: their renderings, the cache and loading need room beside them. */
static int max_memory_of(const struct config *conf, size_t *ret)
{
        if (!conf->max_memory) {
                uint64_t avail = memory_available();
                *ret = avail / 4 > SIZE_MAX ? SIZE_MAX : (size_t) (avail / 4);
                return 0;
        }
        if (parse_bytes(conf->max_memory, ret) < 0) {
                fprintf(stderr, "bundlefs: --max-memory %s: not a size (bytes, or a number with K, M, G or T)\n",
                        conf->max_memory);
                return -EINVAL;
        }
        return 0;
}

static void process_setup(void)
{
        /* Files made in a rootfs served through FUSE get the modes asked for
         * (the kernel applied the caller's umask already). */
        umask(0);
        /* Files open through a rootfs served by FUSE hold one descriptor
         * each: use all of the open-file limit, as systemd's services do. */
        struct rlimit nofile;
        if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
                nofile.rlim_cur = nofile.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &nofile);
        }
}

/* Signals go to one thread; every other thread blocks them. */
static void signals_block(struct signal_ctx *sctx)
{
        struct sigaction wake = { .sa_handler = wake_handler };    /* no SA_RESTART */
        sigemptyset(&wake.sa_mask);
        sigaction(SIGUSR1, &wake, NULL);
        pthread_mutex_init(&sctx->lock, NULL);
        sigemptyset(&sctx->set);
        sigaddset(&sctx->set, SIGTERM);
        sigaddset(&sctx->set, SIGINT);
        sigaddset(&sctx->set, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &sctx->set, NULL);
        signal(SIGPIPE, SIG_IGN);
}

/* Serve requests until the tree is unmounted or a signal ends the loop. */
static int serve(struct fuse_session *se, const struct fuse_cmdline_opts *opts)
{
        if (opts->singlethread)
                return fuse_session_loop(se) == 0 ? 0 : 1;
        struct fuse_loop_config *lc = fuse_loop_cfg_create();
        if (!lc)
                return 1;
        fuse_loop_cfg_set_clone_fd(lc, opts->clone_fd);
        fuse_loop_cfg_set_max_threads(lc, MAX_THREADS);
        if (opts->max_idle_threads != UINT_MAX)
                fuse_loop_cfg_set_idle_threads(lc, opts->max_idle_threads);
        int r = fuse_session_loop_mt(se, lc);
        fuse_loop_cfg_destroy(lc);
        return r == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
        struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
        struct config conf = { 0 };
        struct fuse_cmdline_opts opts = { 0 };
        int status = 1;
        size_t max_memory;

        if (parse_command_line(&args, &conf, &opts, &status) < 0)
                goto out_args;
        if (max_memory_of(&conf, &max_memory) < 0) {
                status = 2;
                goto out_args;
        }
        const char *state = conf.state ? conf.state : DEFAULT_STATE;
        if (clean_stale_mount(opts.mountpoint) < 0)
                goto out_args;
        process_setup();
        /* Anyone may read specs and use their rootfs; the kernel checks modes. */
        fuse_opt_add_arg(&args, "-oallow_other,default_permissions,fsname=bundlefs,subtype=bundlefs");

        bf_error err = { 0 };
        struct bfs *fs = NULL;
        if (bfs_new(state, opts.mountpoint, max_memory, log_msg, &fs, &err) < 0) {
                fprintf(stderr, "bundlefs: %s\n", err.msg);
                goto out_args;
        }
        if (conf.cache_size)
                bfs_set_cache_size(fs, conf.cache_size);
        struct fuse_session *se = bfs_session_new(fs, &args);
        if (!se)
                goto out_fs;
        if (fuse_session_mount(se, opts.mountpoint) != 0)
                goto out_session;
        if (fuse_daemonize(opts.foreground) != 0)
                goto out_unmount;
        if (!opts.foreground) {
                openlog("bundlefs", LOG_PID, LOG_DAEMON);
                use_syslog = true;
        }

        struct signal_ctx sctx = { .fs = fs, .se = se, .mountpoint = opts.mountpoint, .main_thread = pthread_self() };
        signals_block(&sctx);
        /* First, while this is the only thread: bfs_start forks the mount
         * helper. */
        if (bfs_start(fs, &err) < 0) {
                log_msg(LOG_ERR, err.msg);
                goto out_unmount;
        }
        pthread_t sigthr;
        if (pthread_create(&sigthr, NULL, signal_thread, &sctx) != 0)
                goto out_unmount;
        logf_msg(LOG_INFO, "serving %s from %s", opts.mountpoint, state);
        status = serve(se, &opts);

        pthread_mutex_lock(&sctx.lock);
        sctx.loop_done = true;
        pthread_mutex_unlock(&sctx.lock);
        pthread_kill(sigthr, SIGTERM);
        pthread_join(sigthr, NULL);

out_unmount:
        fuse_session_unmount(se);
out_session:
        fuse_session_destroy(se);
out_fs:
        bfs_free(fs);
out_args:
        free(opts.mountpoint);
        free(conf.state);
        free(conf.max_memory);
        fuse_opt_free_args(&args);
        return status;
}
