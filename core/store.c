#include "store.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "files.h"
#include "optline.h"
#include "util.h"

#define LOG_NAME "log"
#define LOG_NEW_NAME "log.new"
#define LOG_HEADER "bundlefs-log 1\n"
#define FORMAT_TEXT "bundlefs-state 1\n"
#define RECORD_HEADER_MAX 64

bool identifier_valid(const char *name)
{
        size_t n = strlen(name);
        if (n == 0 || n > 76)
                return false;
        bool need_alnum = true;
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                if (alnum) {
                        need_alnum = false;
                } else if ((c == '.' || c == '_' || c == '-') && !need_alnum) {
                        need_alnum = true;
                } else {
                        return false;
                }
        }
        return !need_alnum;
}

static int sys_error(bf_error *err, const char *what, const char *name)
{
        int e = errno;
        return bf_error_set(err, e, "%s %s: %s", what, name, strerror(e));
}

static int fsync_dir_at(int dirfd, const char *name, bf_error *err)
{
        _cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
                return sys_error(err, "syncing", name);
        return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
        while (n) {
                ssize_t w = write(fd, p, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                n -= (size_t) w;
        }
        return 0;
}

int store_open(const char *path, struct store *ret, bf_error *err)
{
        *ret = (struct store){ .dirfd = -1, .nsfd = -1, .lockfd = -1 };
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
                return sys_error(err, "creating state directory", path);
        _cleanup_close_ int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return sys_error(err, "opening state directory", path);

        _cleanup_close_ int lockfd = openat(dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (lockfd < 0)
                return sys_error(err, "opening", "lock");
        if (flock(lockfd, LOCK_EX | LOCK_NB) < 0)
                return bf_error_set(err, EBUSY, "state directory %s is in use by another bundlefs", path);

        char text[64] = { 0 };
        _cleanup_close_ int ffd = openat(dirfd, "format", O_RDONLY | O_CLOEXEC);
        if (ffd >= 0) {
                ssize_t n = read(ffd, text, sizeof(text) - 1);
                if (n < 0)
                        return sys_error(err, "reading", "format");
                unsigned v = 0;
                if (sscanf(text, "bundlefs-state %u", &v) != 1)
                        return bf_error_set(err, EINVAL, "%s/format: not a bundlefs state directory", path);
                if (v != STORE_FORMAT_VERSION)
                        return bf_error_set(err, EINVAL, "%s: state format %u, this bundlefs reads format %d", path,
                                            v, STORE_FORMAT_VERSION);
        } else if (errno == ENOENT) {
                /* A new state directory: only an empty one may become one. */
                _cleanup_close_ int tmp = openat(dirfd, "format.new", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (tmp < 0 || write_all(tmp, FORMAT_TEXT, strlen(FORMAT_TEXT)) < 0 || fsync(tmp) < 0)
                        return sys_error(err, "writing", "format");
                if (mkdirat(dirfd, "namespaces", 0700) < 0 && errno != EEXIST)
                        return sys_error(err, "creating", "namespaces");
                if (renameat(dirfd, "format.new", dirfd, "format") < 0 || fsync(dirfd) < 0)
                        return sys_error(err, "writing", "format");
        } else {
                return sys_error(err, "opening", "format");
        }
        int nsfd = openat(dirfd, "namespaces", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (nsfd < 0)
                return sys_error(err, "opening", "namespaces");
        ret->nsfd = nsfd;
        ret->dirfd = TAKE_FD(dirfd);
        ret->lockfd = TAKE_FD(lockfd);
        ret->path = strdup(path);
        if (!ret->path) {
                store_close(ret);
                return bf_error_set(err, ENOMEM, "out of memory");
        }
        return 0;
}

void store_close(struct store *s)
{
        if (s->nsfd >= 0)
                close(s->nsfd);
        if (s->dirfd >= 0)
                close(s->dirfd);
        if (s->lockfd >= 0)
                close(s->lockfd);
        free(s->path);
        *s = (struct store){ .dirfd = -1, .nsfd = -1, .lockfd = -1 };
}

/* ---- records ------------------------------------------------------------- */

static int record_write(int logfd, size_t *log_size, char type, const char *payload, size_t len, bf_error *err)
{
        char header[RECORD_HEADER_MAX];
        uint32_t crc = (uint32_t) crc32(0, (const Bytef *) payload, (uInt) len);
        int hl = snprintf(header, sizeof(header), "%c %zu %08" PRIx32 "\n", type, len, crc);
        size_t total = (size_t) hl + len;
        _cleanup_free_ char *rec = malloc(total);
        if (!rec)
                return bf_error_set(err, ENOMEM, "out of memory");
        memcpy(rec, header, (size_t) hl);
        memcpy(rec + hl, payload, len);
        /* One write(2): the record reaches the file whole or is cut at the end. */
        int r = write_all(logfd, rec, total);
        if (r == 0 && fdatasync(logfd) < 0)
                r = -errno;
        if (r < 0) {
                /* Drop whatever part was written, so later records follow valid ones. */
                if (ftruncate(logfd, (off_t) *log_size) == 0)
                        (void) fdatasync(logfd);
                return bf_error_set(err, -r, "writing the option log: %s", strerror(-r));
        }
        *log_size += total;
        return 0;
}

int store_append_lines(int logfd, size_t *log_size, const char *text, size_t len, bf_error *err)
{
        return record_write(logfd, log_size, 'A', text, len, err);
}

int store_truncate_append(int logfd, size_t *log_size, size_t keep, const char *text, size_t len, bf_error *err)
{
        char head[32];
        int hl = snprintf(head, sizeof(head), "%zu\n", keep);
        _cleanup_free_ char *payload = malloc((size_t) hl + len);
        if (!payload)
                return bf_error_set(err, ENOMEM, "out of memory");
        memcpy(payload, head, (size_t) hl);
        memcpy(payload + hl, text, len);
        return record_write(logfd, log_size, 'T', payload, (size_t) hl + len, err);
}

int store_append_platform(int logfd, size_t *log_size, const char *platform, bf_error *err)
{
        return record_write(logfd, log_size, 'P', platform, strlen(platform), err);
}

/* Write a complete log (header, platform, lines) to <dirfd>/log.new and
 * rename it over log. */
static int log_write_new(int dirfd, const char *platform, const char *text, size_t len, int *ret_fd,
                         size_t *ret_size, bf_error *err)
{
        _cleanup_close_ int fd = openat(dirfd, LOG_NEW_NAME, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0600);
        if (fd < 0)
                return sys_error(err, "creating", LOG_NEW_NAME);
        size_t size = 0;
        if (write_all(fd, LOG_HEADER, strlen(LOG_HEADER)) < 0)
                return sys_error(err, "writing", LOG_NEW_NAME);
        size = strlen(LOG_HEADER);
        int r = store_append_platform(fd, &size, platform, err);
        if (r == 0 && len)
                r = store_append_lines(fd, &size, text, len, err);
        if (r < 0)
                return r;
        if (renameat(dirfd, LOG_NEW_NAME, dirfd, LOG_NAME) < 0 || fsync(dirfd) < 0)
                return sys_error(err, "renaming", LOG_NEW_NAME);
        *ret_fd = TAKE_FD(fd);
        *ret_size = size;
        return 0;
}

/* ---- loading ------------------------------------------------------------- */

struct loaded {
        char *platform;
        struct optline **lines;
        size_t n, cap;
};

static void loaded_free(struct loaded *l)
{
        free(l->platform);
        for (size_t i = 0; i < l->n; i++)
                optline_unref(l->lines[i]);
        free(l->lines);
        *l = (struct loaded){ 0 };
}

static int loaded_add_lines(struct loaded *l, const char *p, size_t len, bf_error *err)
{
        struct optline **lines;
        size_t n;
        int r = optline_parse_text(p, len, &lines, &n, err);
        if (r < 0)
                return r;
        if (l->n + n > l->cap) {
                size_t cap = l->cap ? l->cap : 16;
                while (cap < l->n + n)
                        cap *= 2;
                struct optline **grown = realloc(l->lines, cap * sizeof(*grown));
                if (!grown) {
                        optline_free_all(lines, n);
                        return bf_error_set(err, ENOMEM, "out of memory");
                }
                l->lines = grown;
                l->cap = cap;
        }
        if (n)
                memcpy(l->lines + l->n, lines, n * sizeof(*lines));
        l->n += n;
        free(lines);
        return 0;
}

/* Parse a log; *valid gets the length of its good prefix. Records past a bad
 * one are not trusted. */
static int log_parse(const char *data, size_t n, struct loaded *out, size_t *valid, bool *torn, bf_error *err)
{
        size_t hl = strlen(LOG_HEADER);
        *torn = false;
        if (n < hl || memcmp(data, LOG_HEADER, hl) != 0)
                return bf_error_set(err, EINVAL, "not a bundlefs option log");
        size_t pos = hl;
        while (pos < n) {
                const char *nl = memchr(data + pos, '\n', n - pos < RECORD_HEADER_MAX ? n - pos : RECORD_HEADER_MAX);
                char type;
                size_t len;
                unsigned crc;
                char hdr[RECORD_HEADER_MAX + 1];
                if (!nl)
                        break;
                memcpy(hdr, data + pos, (size_t) (nl - (data + pos)));
                hdr[nl - (data + pos)] = '\0';
                if (sscanf(hdr, "%c %zu %8x", &type, &len, &crc) != 3)
                        break;
                size_t body = (size_t) (nl - data) + 1;
                if (len > n - body || (uint32_t) crc32(0, (const Bytef *) data + body, (uInt) len) != crc)
                        break;
                int r = 0;
                if (type == 'P') {
                        free(out->platform);
                        out->platform = strndup(data + body, len);
                        if (!out->platform)
                                r = bf_error_set(err, ENOMEM, "out of memory");
                } else if (type == 'A') {
                        r = loaded_add_lines(out, data + body, len, err);
                } else if (type == 'T') {
                        const char *p = data + body, *nl2 = memchr(p, '\n', len);
                        size_t keep = 0, hl2 = nl2 ? (size_t) (nl2 - p) + 1 : 0;
                        if (!nl2 || sscanf(p, "%zu", &keep) != 1 || keep > out->n) {
                                r = bf_error_set(err, EINVAL, "bad T record");
                        } else {
                                for (size_t i = keep; i < out->n; i++)
                                        optline_unref(out->lines[i]);
                                out->n = keep;
                                r = loaded_add_lines(out, p + hl2, len - hl2, err);
                        }
                } else {
                        r = bf_error_set(err, EINVAL, "unknown record type '%c'", type);
                }
                if (r < 0)
                        return r;
                pos = body + len;
        }
        *torn = pos < n;
        *valid = pos;
        if (!out->platform)
                return bf_error_set(err, EINVAL, "the option log has no platform record");
        return 0;
}

static int load_container(struct store *s, int nsdirfd, const char *ns, const char *id, store_visit_fn visit,
                          void *userdata, void (*warn)(void *, const char *), bf_error *err)
{
        _cleanup_close_ int cdir = openat(nsdirfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cdir < 0)
                return sys_error(err, "opening container", id);
        _cleanup_close_ int fd = openat(cdir, LOG_NAME, O_RDWR | O_APPEND | O_CLOEXEC);
        if (fd < 0)
                return sys_error(err, "opening log of", id);
        _cleanup_free_ char *data = NULL;
        size_t n = 0;
        int r = fd_read_all(fd, LOG_NAME, STORE_LOG_MAX, &data, &n, err);
        if (r < 0)
                return r;
        struct loaded l = { 0 };
        size_t valid = 0;
        bool torn = false;
        r = log_parse(data, n, &l, &valid, &torn, err);
        if (r < 0) {
                loaded_free(&l);
                return r;
        }
        if (torn) {
                /* The tail was never acknowledged: cut it before appending again. */
                if (ftruncate(fd, (off_t) valid) < 0 || fdatasync(fd) < 0) {
                        loaded_free(&l);
                        return sys_error(err, "truncating log of", id);
                }
                if (warn) {
                        char msg[256];
                        snprintf(msg, sizeof(msg), "%s/%s: dropped %zu bytes of an unfinished write from the log", ns,
                                 id, n - valid);
                        warn(userdata, msg);
                }
        }
        struct store_container c = {
                .ns = ns,
                .id = id,
                .platform = l.platform,
                .lines = l.lines,
                .nlines = l.n,
                .logfd = TAKE_FD(fd),
                .log_size = valid,
        };
        r = visit(userdata, &c);
        if (r < 0) {
                if (c.logfd >= 0)
                        close(c.logfd);
                loaded_free(&l);
        }
        (void) s;
        return r;
}

static int name_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* A container a crash left half made (".new-<id>") or half removed
 * (".del-<id>"): neither was acknowledged. Left in place it would make its
 * namespace impossible to remove, and the next removal of <id> fail. Its
 * rootfs is removed only when empty (it always is: one is made empty, the
 * other had lost its rootfs already). */
static void remove_leftover(int dirfd, const char *name)
{
        _cleanup_close_ int cdir = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cdir < 0)
                return;
        unlinkat(cdir, LOG_NAME, 0);
        unlinkat(cdir, LOG_NEW_NAME, 0);
        unlinkat(cdir, "rootfs", AT_REMOVEDIR);
        if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0)
                (void) fsync(dirfd);
}

/* Directory entries that are identifiers, sorted; leftovers of unfinished
 * creations and removals are removed. */
static int list_dir(int dirfd, char ***ret, size_t *ret_n, bf_error *err)
{
        int fd = dup(dirfd);
        if (fd < 0)
                return sys_error(err, "listing", "directory");
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return sys_error(err, "listing", "directory");
        }
        rewinddir(d);
        char **names = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strncmp(de->d_name, ".new-", 5) == 0 || strncmp(de->d_name, ".del-", 5) == 0)
                        remove_leftover(fd, de->d_name);
                if (!identifier_valid(de->d_name))
                        continue;
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        char **nn = realloc(names, cap * sizeof(*nn));
                        if (!nn)
                                break;
                        names = nn;
                }
                if (!(names[n] = strdup(de->d_name)))
                        break;
                n++;
        }
        closedir(d);
        if (n)
                qsort(names, n, sizeof(*names), name_cmp);
        *ret = names;
        *ret_n = n;
        return 0;
}

static void free_names(char **names, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

int store_load(struct store *s, store_visit_fn visit, void *userdata, void (*warn)(void *, const char *),
               bf_error *err)
{
        char **nss = NULL;
        size_t nns = 0;
        int r = list_dir(s->nsfd, &nss, &nns, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < nns && r == 0; i++) {
                _cleanup_close_ int nsdir = openat(s->nsfd, nss[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (nsdir < 0)
                        continue;
                struct store_container ns_only = { .ns = nss[i], .logfd = -1 };
                r = visit(userdata, &ns_only);
                if (r < 0)
                        break;
                char **ids = NULL;
                size_t nids = 0;
                r = list_dir(nsdir, &ids, &nids, err);
                for (size_t j = 0; j < nids && r == 0; j++) {
                        bf_error cerr = { 0 };
                        if (load_container(s, nsdir, nss[i], ids[j], visit, userdata, warn, &cerr) < 0 && warn) {
                                char msg[BF_ERROR_MAX + 160];
                                snprintf(msg, sizeof(msg), "%s/%s: not loaded (left on disk): %s", nss[i], ids[j],
                                         cerr.msg);
                                warn(userdata, msg);
                        }
                }
                free_names(ids, nids);
        }
        free_names(nss, nns);
        return r;
}

/* ---- namespaces and containers ------------------------------------------- */

int store_namespace_create(struct store *s, const char *ns, bf_error *err)
{
        if (mkdirat(s->nsfd, ns, 0755) < 0)
                return sys_error(err, "creating namespace", ns);
        if (fsync(s->nsfd) < 0)
                return sys_error(err, "syncing", "namespaces");
        return 0;
}

int store_namespace_remove(struct store *s, const char *ns, bf_error *err)
{
        if (unlinkat(s->nsfd, ns, AT_REMOVEDIR) < 0)
                return sys_error(err, "removing namespace", ns);
        if (fsync(s->nsfd) < 0)
                return sys_error(err, "syncing", "namespaces");
        return 0;
}

int store_namespace_rename(struct store *s, const char *from, const char *to, bf_error *err)
{
        if (renameat2(s->nsfd, from, s->nsfd, to, RENAME_NOREPLACE) < 0)
                return sys_error(err, "renaming namespace", from);
        if (fsync(s->nsfd) < 0)
                return sys_error(err, "syncing", "namespaces");
        return 0;
}

int store_container_create(struct store *s, const char *ns, const char *id, const char *platform, int *ret_logfd,
                           bf_error *err)
{
        _cleanup_close_ int nsdir = openat(s->nsfd, ns, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (nsdir < 0)
                return sys_error(err, "opening namespace", ns);
        /* Built under a temporary name and renamed into place whole. */
        char tmp[128];
        snprintf(tmp, sizeof(tmp), ".new-%s", id);
        if (mkdirat(nsdir, tmp, 0755) < 0 && errno != EEXIST)
                return sys_error(err, "creating", tmp);
        _cleanup_close_ int cdir = openat(nsdir, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cdir < 0)
                return sys_error(err, "opening", tmp);
        if (mkdirat(cdir, "rootfs", 0755) < 0 && errno != EEXIST)
                return sys_error(err, "creating", "rootfs");
        int fd;
        size_t size;
        int r = log_write_new(cdir, platform, "", 0, &fd, &size, err);
        if (r < 0)
                return r;
        if (renameat2(nsdir, tmp, nsdir, id, RENAME_NOREPLACE) < 0) {
                int e = errno;
                close(fd);
                return bf_error_set(err, e, "creating container %s: %s", id, strerror(e));
        }
        if (fsync(nsdir) < 0) {
                close(fd);
                return sys_error(err, "syncing namespace", ns);
        }
        *ret_logfd = fd;
        return 0;
}

int store_container_remove(struct store *s, const char *ns, const char *id, bf_error *err)
{
        _cleanup_close_ int nsdir = openat(s->nsfd, ns, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (nsdir < 0)
                return sys_error(err, "opening namespace", ns);
        /* The rootfs goes first, and only if empty: nothing else has changed
         * when it is not (ENOTEMPTY). A container found without one later gets
         * an empty one. */
        char path[256];
        snprintf(path, sizeof(path), "%s/rootfs", id);
        if (unlinkat(nsdir, path, AT_REMOVEDIR) < 0 && errno != ENOENT) {
                if (errno == ENOTEMPTY || errno == EEXIST)
                        return bf_error_set(err, ENOTEMPTY, "%s/%s: the rootfs is not empty", ns, id);
                return sys_error(err, "removing the rootfs of", id);
        }
        /* Renamed away, so a crash never leaves a half-removed container. */
        char tmp[128];
        snprintf(tmp, sizeof(tmp), ".del-%s", id);
        if (renameat(nsdir, id, nsdir, tmp) < 0)
                return sys_error(err, "removing container", id);
        if (fsync(nsdir) < 0)
                return sys_error(err, "syncing namespace", ns);
        _cleanup_close_ int cdir = openat(nsdir, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cdir >= 0) {
                unlinkat(cdir, LOG_NAME, 0);
                unlinkat(cdir, LOG_NEW_NAME, 0);
        }
        if (unlinkat(nsdir, tmp, AT_REMOVEDIR) < 0)
                return sys_error(err, "removing container", id);
        return fsync_dir_at(s->nsfd, ns, err);
}

int store_container_rename(struct store *s, const char *ns, const char *id, const char *to_ns, const char *to_id,
                           bf_error *err)
{
        _cleanup_close_ int from = openat(s->nsfd, ns, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_close_ int to = openat(s->nsfd, to_ns, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (from < 0 || to < 0)
                return sys_error(err, "opening namespace", from < 0 ? ns : to_ns);
        if (renameat2(from, id, to, to_id, RENAME_NOREPLACE) < 0)
                return sys_error(err, "renaming container", id);
        if (fsync(to) < 0 || (strcmp(ns, to_ns) != 0 && fsync(from) < 0))
                return sys_error(err, "syncing namespace", to_ns);
        return 0;
}

int store_rootfs_empty(struct store *s, const char *ns, const char *id, bool *ret, bf_error *err)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s/rootfs", ns, id);
        int fd = openat(s->nsfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return sys_error(err, "opening", path);
        DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return sys_error(err, "listing", path);
        }
        bool empty = true;
        struct dirent *de;
        while (empty && (de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        empty = false;
        closedir(d);
        *ret = empty;
        return 0;
}

char *store_rootfs_path(const struct store *s, const char *ns, const char *id)
{
        char *p;
        if (asprintf(&p, "%s/namespaces/%s/%s/rootfs", s->path, ns, id) < 0)
                return NULL;
        return p;
}

int store_replace(struct store *s, const char *ns, const char *id, const char *platform, const char *text,
                  size_t len, int *ret_logfd, size_t *ret_log_size, bf_error *err)
{
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", ns, id);
        _cleanup_close_ int cdir = openat(s->nsfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (cdir < 0)
                return sys_error(err, "opening container", path);
        return log_write_new(cdir, platform, text, len, ret_logfd, ret_log_size, err);
}
