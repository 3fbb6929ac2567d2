/* noop_fs: the floor filesystem of fs_bench. A minimal libfuse3 low-level
 * filesystem, modelled on libfuse's example/hello_ll.c: the root directory
 * holds one regular file, "file", whose content is fixed (--size bytes,
 * 2048 by default, about a config.json) and which accepts every write
 * without doing anything.
 *
 * Everything the kernel sees is set up as bundlefs sets up its generated
 * files, so the requests one open/read/close or open/write/close sends are
 * the same on both and only the work behind them differs:
 * - mount options allow_other,default_permissions (with default_permissions
 *   and an attribute timeout of 0, each open asks GETATTR first, as on
 *   bundlefs);
 * - entry timeout 60 s, attribute timeout 0 for the file, 1 s for the root;
 * - direct_io on open (no page cache, every read and write reaches us);
 * - flush and release answered (so the kernel keeps sending them), atomic
 *   O_TRUNC, no async reads or direct I/O, no writeback cache, the same
 *   max_write;
 * - the multi-threaded session loop with the same thread limit.
 *
 * With --durable=FILE a write is not forgotten but appended to FILE and made
 * durable (fdatasync) before it is answered: the floor of a write that
 * bundlefs keeps, one durable append served the way bundlefs serves it.
 *
 * Usage: noop_fs [-f] [-s] [-d] [--size=N] [--durable=FILE] [-o OPTIONS] MOUNTPOINT */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILE_INO 2
#define FILE_NAME "file"
#define ENTRY_TIMEOUT 60.0
#define DIR_ATTR_TIMEOUT 1.0
#define FILE_ATTR_TIMEOUT 0.0
#define MAX_WRITE (1024 * 1024)     /* bundlefs's OPTS_WRITE_MAX */
#define MAX_THREADS 64              /* bundlefs's loop limit */

static char *content;
static size_t content_len;
static struct timespec start_time;
static int durable_fd = -1;
static uid_t owner_uid;
static gid_t owner_gid;

struct config {
        unsigned long size;
        char *durable;
        int help;
};

static const struct fuse_opt option_spec[] = {
        { "--size=%lu", offsetof(struct config, size), 0 },
        { "--durable=%s", offsetof(struct config, durable), 0 },
        { "-h", offsetof(struct config, help), 1 },
        { "--help", offsetof(struct config, help), 1 },
        FUSE_OPT_END,
};

static int noop_stat(fuse_ino_t ino, struct stat *st, double *timeout)
{
        memset(st, 0, sizeof(*st));
        st->st_ino = ino;
        st->st_uid = owner_uid;
        st->st_gid = owner_gid;
        st->st_atim = st->st_mtim = st->st_ctim = start_time;
        switch (ino) {
        case FUSE_ROOT_ID:
                st->st_mode = S_IFDIR | 0755;
                st->st_nlink = 2;
                *timeout = DIR_ATTR_TIMEOUT;
                return 0;
        case FILE_INO:
                st->st_mode = S_IFREG | 0644;
                st->st_nlink = 1;
                st->st_size = (off_t) content_len;
                *timeout = FILE_ATTR_TIMEOUT;
                return 0;
        default:
                return -ENOENT;
        }
}

static void noop_init(void *userdata, struct fuse_conn_info *conn)
{
        (void) userdata;
        if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
                conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
        conn->want &= ~(unsigned) (FUSE_CAP_ASYNC_DIO | FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_ASYNC_READ);
        conn->max_write = MAX_WRITE;
}

static void noop_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        (void) fi;
        struct stat st;
        double timeout;
        if (noop_stat(ino, &st, &timeout) < 0)
                fuse_reply_err(req, ENOENT);
        else
                fuse_reply_attr(req, &st, timeout);
}

static void noop_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
        struct fuse_entry_param e;
        memset(&e, 0, sizeof(e));
        if (parent != FUSE_ROOT_ID || strcmp(name, FILE_NAME) != 0) {
                fuse_reply_err(req, ENOENT);
                return;
        }
        e.ino = FILE_INO;
        e.generation = 1;
        e.entry_timeout = ENTRY_TIMEOUT;
        noop_stat(e.ino, &e.attr, &e.attr_timeout);
        fuse_reply_entry(req, &e);
}

/* Truncation (O_TRUNC without atomic_o_trunc, truncate(2)) is accepted and ignored. */
static void noop_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
        (void) attr;
        if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
                fuse_reply_err(req, EPERM);
                return;
        }
        noop_getattr(req, ino, fi);
}

struct dirbuf {
        char *p;
        size_t size;
};

static void dirbuf_add(fuse_req_t req, struct dirbuf *b, const char *name, fuse_ino_t ino, mode_t mode)
{
        struct stat st = { .st_ino = ino, .st_mode = mode };
        size_t old = b->size;
        size_t need = fuse_add_direntry(req, NULL, 0, name, NULL, 0);
        char *p = realloc(b->p, old + need);
        if (!p)
                return;
        b->p = p;
        b->size += need;
        fuse_add_direntry(req, b->p + old, need, name, &st, (off_t) b->size);
}

static void reply_buf_limited(fuse_req_t req, const char *p, size_t len, off_t off, size_t maxsize)
{
        if (off >= 0 && (size_t) off < len)
                fuse_reply_buf(req, p + off, len - (size_t) off < maxsize ? len - (size_t) off : maxsize);
        else
                fuse_reply_buf(req, NULL, 0);
}

static void noop_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
        (void) fi;
        if (ino != FUSE_ROOT_ID) {
                fuse_reply_err(req, ENOTDIR);
                return;
        }
        struct dirbuf b = { 0 };
        dirbuf_add(req, &b, ".", FUSE_ROOT_ID, S_IFDIR);
        dirbuf_add(req, &b, "..", FUSE_ROOT_ID, S_IFDIR);
        dirbuf_add(req, &b, FILE_NAME, FILE_INO, S_IFREG);
        reply_buf_limited(req, b.p, b.size, off, size);
        free(b.p);
}

static void noop_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        if (ino != FILE_INO) {
                fuse_reply_err(req, EISDIR);
                return;
        }
        /* Like bundlefs's generated files: never cached by the kernel, and no
         * flush round trip when opened only for reading. */
        fi->direct_io = 1;
        fi->keep_cache = 0;
        fi->noflush = (fi->flags & O_ACCMODE) == O_RDONLY;
        fuse_reply_open(req, fi);
}

static void noop_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
        (void) ino, (void) fi;
        reply_buf_limited(req, content, content_len, off, size);
}

/* Every write is accepted whole, and forgotten (or, with --durable, appended
 * to that file and made durable first). */
static void noop_write(fuse_req_t req, fuse_ino_t ino, const char *data, size_t size, off_t off,
                       struct fuse_file_info *fi)
{
        (void) ino, (void) off, (void) fi;
        if (durable_fd >= 0) {
                ssize_t w = write(durable_fd, data, size);
                if (w < 0 || (size_t) w != size || fdatasync(durable_fd) < 0) {
                        fuse_reply_err(req, w >= 0 && (size_t) w != size ? EIO : errno);
                        return;
                }
        }
        fuse_reply_write(req, size);
}

static void noop_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        (void) ino, (void) fi;
        fuse_reply_err(req, 0);
}

static void noop_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
        (void) ino, (void) fi;
        fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops noop_ops = {
        .init = noop_init,
        .lookup = noop_lookup,
        .getattr = noop_getattr,
        .setattr = noop_setattr,
        .readdir = noop_readdir,
        .open = noop_open,
        .read = noop_read,
        .write = noop_write,
        .flush = noop_flush,
        .release = noop_release,
};

/* Something that looks like a spec: JSON-ish text of exactly n bytes, ending in a newline. */
static char *make_content(size_t n)
{
        static const char pattern[] = "{\"ociVersion\":\"1.1.0-rc.1\",\"process\":{\"user\":{\"uid\":0,\"gid\":0},"
                                      "\"args\":[\"/bin/sh\"],\"cwd\":\"/\"},\"root\":{\"path\":\"rootfs\"}}";
        char *p = malloc(n ? n : 1);
        if (!p)
                return NULL;
        for (size_t i = 0; i < n; i++)
                p[i] = pattern[i % (sizeof(pattern) - 1)];
        if (n)
                p[n - 1] = '\n';
        return p;
}

int main(int argc, char *argv[])
{
        struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
        struct fuse_cmdline_opts opts;
        struct config conf = { .size = 2048 };
        struct fuse_session *se;
        int ret = 1;

        memset(&opts, 0, sizeof(opts));
        if (fuse_opt_parse(&args, &conf, option_spec, NULL) < 0)
                return 2;
        if (fuse_parse_cmdline(&args, &opts) != 0)
                return 2;
        if (conf.help || opts.show_help) {
                printf("usage: %s [-f] [-s] [-d] [--size=N] [--durable=FILE] [-o OPTIONS] MOUNTPOINT\n"
                       "Serve MOUNTPOINT/" FILE_NAME ", N bytes (default 2048) that never change, and accept\n"
                       "every write to it without doing anything (the floor of fs_bench), or with\n"
                       "--durable appending it to FILE and calling fdatasync before answering.\n\n",
                       argv[0]);
                fuse_cmdline_help();
                fuse_lowlevel_help();
                ret = 0;
                goto out_args;
        }
        if (opts.show_version) {
                printf("FUSE library version %s\n", fuse_pkgversion());
                fuse_lowlevel_version();
                ret = 0;
                goto out_args;
        }
        if (!opts.mountpoint) {
                fprintf(stderr, "usage: %s [options] MOUNTPOINT (see --help)\n", argv[0]);
                ret = 2;
                goto out_args;
        }
        if (conf.size > 64UL * 1024 * 1024) {
                fprintf(stderr, "noop_fs: --size is at most 64 MiB\n");
                ret = 2;
                goto out_args;
        }
        if (conf.durable) {
                /* Opened before the mount: a path relative to where we were started. */
                durable_fd = open(conf.durable, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0644);
                if (durable_fd < 0) {
                        fprintf(stderr, "noop_fs: %s: %s\n", conf.durable, strerror(errno));
                        goto out_args;
                }
        }
        content_len = conf.size;
        content = make_content(content_len);
        if (!content)
                goto out_args;
        clock_gettime(CLOCK_REALTIME, &start_time);
        owner_uid = getuid();
        owner_gid = getgid();

        /* The same kernel-side checks as bundlefs. */
        fuse_opt_add_arg(&args, "-oallow_other,default_permissions,fsname=noopfs,subtype=noopfs");

        se = fuse_session_new(&args, &noop_ops, sizeof(noop_ops), NULL);
        if (!se)
                goto out_content;
        if (fuse_set_signal_handlers(se) != 0)
                goto out_session;
        if (fuse_session_mount(se, opts.mountpoint) != 0)
                goto out_signals;
        fuse_daemonize(opts.foreground);

        if (opts.singlethread) {
                ret = fuse_session_loop(se);
        } else {
                struct fuse_loop_config *lc = fuse_loop_cfg_create();
                fuse_loop_cfg_set_clone_fd(lc, opts.clone_fd);
                fuse_loop_cfg_set_max_threads(lc, MAX_THREADS);
                if (opts.max_idle_threads != UINT_MAX)
                        fuse_loop_cfg_set_idle_threads(lc, opts.max_idle_threads);
                ret = fuse_session_loop_mt(se, lc);
                fuse_loop_cfg_destroy(lc);
        }
        ret = ret == 0 ? 0 : 1;

        fuse_session_unmount(se);
out_signals:
        fuse_remove_signal_handlers(se);
out_session:
        fuse_session_destroy(se);
out_content:
        free(content);
out_args:
        if (durable_fd >= 0)
                close(durable_fd);
        free(conf.durable);
        free(opts.mountpoint);
        fuse_opt_free_args(&args);
        return ret;
}
