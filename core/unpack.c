#include "unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "arena.h"
#include "digest.h"
#include "oci.h"
#include "util.h"

#define READ_CHUNK ((size_t) 256 << 10)
/* Directory descriptors kept for the entries that follow (direct-mapped). */
#define DCACHE_SLOTS 256
/* Directory levels a removal descends holding a descriptor per level; a
 * deeper directory is moved up to the root and removed from there. */
#define REMOVE_DEPTH_MAX 64
/* Directory levels an opaque whiteout looks down for what lower layers put
 * below directories this layer kept (a descriptor per level). */
#define OPAQUE_DEPTH_MAX 256
#define OPAQUE_MARKER ".wh..wh..opq"
#define WHITEOUT_PREFIX ".wh."

/* ---- which entries this layer made: (parent inode, name) ------------------ */

struct made_key {
        uint64_t ino;
        const char *name;
        uint64_t hash;
};

struct made_set {
        struct made_key *v;
        size_t cap, len;
        arena names;
};

static uint64_t made_hash(uint64_t ino, const char *name)
{
        uint64_t h = 1469598103934665603ULL ^ ino;      /* FNV-1a over the inode, then the name */
        for (const unsigned char *p = (const unsigned char *) name; *p; p++)
                h = (h ^ *p) * 1099511628211ULL;
        return h ? h : 1;
}

static void made_clear(struct made_set *s)
{
        if (s->v)
                memset(s->v, 0, s->cap * sizeof(*s->v));
        s->len = 0;
        arena_reset(&s->names);
}

static bool made_has(const struct made_set *s, uint64_t ino, const char *name)
{
        if (!s->cap)
                return false;
        uint64_t h = made_hash(ino, name);
        for (size_t i = h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
                const struct made_key *k = &s->v[i];
                if (!k->hash)
                        return false;
                if (k->hash == h && k->ino == ino && streq(k->name, name))
                        return true;
        }
}

static int made_add(struct made_set *s, uint64_t ino, const char *name)
{
        if (made_has(s, ino, name))
                return 0;
        if ((s->len + 1) * 2 > s->cap) {
                size_t cap = s->cap ? s->cap * 2 : 1024;
                struct made_key *v = calloc(cap, sizeof(*v));
                if (!v)
                        return -ENOMEM;
                for (size_t i = 0; i < s->cap; i++) {
                        if (!s->v[i].hash)
                                continue;
                        size_t j = s->v[i].hash & (cap - 1);
                        while (v[j].hash)
                                j = (j + 1) & (cap - 1);
                        v[j] = s->v[i];
                }
                free(s->v);
                s->v = v;
                s->cap = cap;
        }
        const char *copy = arena_strdup(&s->names, name);
        if (!copy)
                return -ENOMEM;
        uint64_t h = made_hash(ino, name);
        size_t i = h & (s->cap - 1);
        while (s->v[i].hash)
                i = (i + 1) & (s->cap - 1);
        s->v[i] = (struct made_key){ .ino = ino, .name = copy, .hash = h };
        s->len++;
        return 0;
}

/* ---- the unpacker's state ------------------------------------------------- */

struct dslot {
        char *path;             /* a cleaned path inside the root, as asked for; "" never cached */
        size_t len;
        char *phys;             /* where it led: the same path with every link resolved */
        int fd;                 /* the directory, O_PATH or open */
        uint64_t ino;
};

struct dir_time {
        const char *path;
        struct timespec times[2];
};
DEFINE_SLICE(dir_time_slice, struct dir_time);

struct unpacker {
        int rootfd;             /* O_RDONLY | O_DIRECTORY */
        uint64_t root_ino;
        bf_error *err;
        const struct unpack_options *opt;
        struct unpack_limits limits;
        uint64_t bytes, entries;
        unsigned remove_seq;
        struct dslot cache[DCACHE_SLOTS];
        int *retired;           /* descriptors out of the cache, closed when the entry is done */
        size_t nretired, retired_cap;
        unsigned links;         /* symbolic links followed in this look-up */
        struct made_set made;
        arena layer_mem;        /* per layer: deferred directory times */
        dir_time_slice dir_times;
        /* the layer being read */
        size_t layer_no;
        struct archive *inner;  /* the tar, read from the reader thread's chunks */
        struct reader *reader;
        int stream_error;       /* the reader failed: its error is the layer's */
        bool tar_eof;           /* the tar's bytes are all read */
        bool tar_ended;         /* ... and ended inside the last file's padding */
};

/* A descriptor the cache lets go of may still be in use by the entry being
 * made (a parent, a link's target): it is closed once the entry is done. */
static void retire(struct unpacker *u, int fd)
{
        if (u->nretired == u->retired_cap) {
                size_t cap = u->retired_cap ? u->retired_cap * 2 : 64;
                int *v = realloc(u->retired, cap * sizeof(*v));
                if (!v) {
                        /* cannot keep it for later: better a leak than a reused number */
                        return;
                }
                u->retired = v;
                u->retired_cap = cap;
        }
        u->retired[u->nretired++] = fd;
}

static void release_retired(struct unpacker *u)
{
        for (size_t i = 0; i < u->nretired; i++)
                close(u->retired[i]);
        u->nretired = 0;
}

static void slot_clear(struct unpacker *u, struct dslot *s)
{
        if (s->path) {
                retire(u, s->fd);
                free(s->path);
                free(s->phys);
        }
        *s = (struct dslot){ .fd = -1 };
}

static void cache_flush(struct unpacker *u)
{
        for (size_t i = 0; i < DCACHE_SLOTS; i++)
                slot_clear(u, &u->cache[i]);
}

static size_t cache_slot(const char *path, size_t len)
{
        uint64_t h = 1469598103934665603ULL;
        for (size_t i = 0; i < len; i++)
                h = (h ^ (unsigned char) path[i]) * 1099511628211ULL;
        return (size_t) (h ^ (h >> 29)) % DCACHE_SLOTS;
}

static int fail(struct unpacker *u, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct unpacker *u, int code, const char *fmt, ...)
{
        va_list ap;
        va_start(ap, fmt);
        bf_error_setv(u->err, code, fmt, ap);
        va_end(ap);
        return -u->err->code;
}

/* errno of a failed system call on an entry: the file system's own errors
 * (ENOSPC, EIO, EPERM, EDQUOT...) are kept; what the layer asked for that
 * cannot be done is EINVAL. */
static int sys_fail(struct unpacker *u, int e, const char *what, const char *path)
{
        int code;
        switch (e) {
        case ENOENT:
        case ENOTDIR:
        case EEXIST:
        case EISDIR:
        case ELOOP:
        case EXDEV:
        case EMLINK:
        case EINVAL:
        case ENOTEMPTY:
                code = EINVAL;
                break;
        default:
                code = e;
        }
        return fail(u, code, "%s %s: %s", what, path, strerror(e));
}

/* ---- names ----------------------------------------------------------------- */

/* path.Clean("/" + name) without the leading "/": no "." or ".." left, no
 * empty component; "" is the root itself. out has UNPACK_PATH_MAX + 1 bytes. */
static int clean_name(struct unpacker *u, const char *name, char *out, const char *what)
{
        size_t n = 0;
        const char *p = name;
        size_t in_len = strlen(name);
        if (in_len > UNPACK_PATH_MAX)
                return fail(u, ENAMETOOLONG, "%s \"%.100s...\": longer than %d bytes", what, name, UNPACK_PATH_MAX);
        while (*p) {
                while (*p == '/')
                        p++;
                const char *start = p;
                while (*p && *p != '/')
                        p++;
                size_t cl = (size_t) (p - start);
                if (cl == 0 || (cl == 1 && start[0] == '.'))
                        continue;
                if (cl == 2 && start[0] == '.' && start[1] == '.') {
                        while (n > 0 && out[n - 1] != '/')
                                n--;
                        if (n > 0)
                                n--;
                        continue;
                }
                if (cl > UNPACK_NAME_MAX)
                        return fail(u, ENAMETOOLONG, "%s \"%.100s\": a component longer than %d bytes", what, name,
                                    UNPACK_NAME_MAX);
                if (n)
                        out[n++] = '/';
                memcpy(out + n, start, cl);
                n += cl;
        }
        out[n] = '\0';
        return 0;
}

/* ---- directories inside the root ------------------------------------------ */

/* Symbolic links one look-up follows, as the kernel's limit; and the longest
 * path a link may lead to. */
#define LINKS_MAX 40
#define PHYS_MAX (4 * (UNPACK_PATH_MAX + 1))

struct dir_ref {
        int fd;                 /* the cache's (valid until the entry is done) */
        uint64_t ino;
        const char *phys;       /* the cache's */
};

static int get_dir(struct unpacker *u, const char *path, size_t len, bool create, struct dir_ref *ret);

/* Keep fd (and phys, heap memory) in the cache under path. */
static int cache_put(struct unpacker *u, const char *path, size_t len, char *phys, int fd, uint64_t ino,
                     struct dir_ref *ret)
{
        struct dslot *s = &u->cache[cache_slot(path, len)];
        char *p = strndup(path, len);
        if (!p) {
                free(phys);
                close(fd);
                return fail(u, ENOMEM, "out of memory");
        }
        slot_clear(u, s);
        *s = (struct dslot){ .path = p, .len = len, .phys = phys, .fd = fd, .ino = ino };
        *ret = (struct dir_ref){ .fd = fd, .ino = ino, .phys = phys };
        return 0;
}

static bool cache_get(struct unpacker *u, const char *path, size_t len, struct dir_ref *ret)
{
        const struct dslot *s = &u->cache[cache_slot(path, len)];
        if (!s->path || s->len != len || memcmp(s->path, path, len))
                return false;
        *ret = (struct dir_ref){ .fd = s->fd, .ino = s->ino, .phys = s->phys };
        return true;
}

static char *join_phys(const char *parent, const char *comp, size_t cl)
{
        size_t pl = strlen(parent);
        if (pl + 1 + cl >= PHYS_MAX)
                return NULL;
        char *p = malloc(pl + 1 + cl + 1);
        if (!p)
                return NULL;
        memcpy(p, parent, pl);
        size_t n = pl;
        if (pl)
                p[n++] = '/';
        memcpy(p + n, comp, cl);
        p[n + cl] = '\0';
        return p;
}

/* Where the link whose target is text, in the directory parent_phys,
 * leads: its components walked one at a time from the root (absolute) or
 * from parent_phys, ".." going to the physical parent and stopping at the
 * root, each directory on the way looked up with get_dir (so links in the
 * target are followed the same way, and count). */
static int follow_link(struct unpacker *u, const char *parent_phys, const char *target, bool create,
                       struct dir_ref *ret)
{
        if (++u->links > LINKS_MAX)
                return fail(u, EINVAL, "too many levels of symbolic links");
        _cleanup_free_ char *cur = malloc(PHYS_MAX);
        if (!cur)
                return fail(u, ENOMEM, "out of memory");
        size_t n = 0;
        if (target[0] != '/') {
                n = strlen(parent_phys);
                memcpy(cur, parent_phys, n);
        }
        cur[n] = '\0';
        const char *p = target;
        for (;;) {
                while (*p == '/')
                        p++;
                if (!*p)
                        break;
                const char *start = p;
                while (*p && *p != '/')
                        p++;
                size_t cl = (size_t) (p - start);
                if (cl == 1 && start[0] == '.')
                        continue;
                if (cl == 2 && start[0] == '.' && start[1] == '.') {
                        while (n > 0 && cur[n - 1] != '/')
                                n--;
                        if (n > 0)
                                n--;
                        cur[n] = '\0';
                        continue;
                }
                if (cl > UNPACK_NAME_MAX || n + 1 + cl >= PHYS_MAX)
                        return fail(u, ENAMETOOLONG, "a symbolic link leads to a path too long");
                if (n)
                        cur[n++] = '/';
                memcpy(cur + n, start, cl);
                n += cl;
                cur[n] = '\0';
                /* what a link in it leads to is where the walk goes on from */
                struct dir_ref d;
                int e = get_dir(u, cur, n, create, &d);
                if (e < 0)
                        return e;
                n = strlen(d.phys);
                memcpy(cur, d.phys, n + 1);
        }
        return get_dir(u, cur, n, create, ret);
}

/* One step down: comp in the directory from (prefix: the path so far,
 * comp included, the cache's key for the result). */
static int step(struct unpacker *u, const struct dir_ref *from, const char *prefix, size_t plen, const char *comp,
                size_t cl, bool create, struct dir_ref *ret)
{
        char name[UNPACK_NAME_MAX + 1];
        memcpy(name, comp, cl);
        name[cl] = '\0';
        /* from->phys belongs to the cache, which what follows may change */
        _cleanup_free_ char *phys = join_phys(from->phys, comp, cl);
        if (!phys)
                return fail(u, ENAMETOOLONG, "%.*s: a path too long", (int) plen, prefix);
        int fd = openat(from->fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && create) {
                if (mkdirat(from->fd, name, 0755) < 0 && errno != EEXIST)
                        return sys_fail(u, errno, "mkdir", phys);
                fd = openat(from->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                /* 0755 whatever the umask */
                if (fd >= 0 && fchmod(fd, 0755) < 0) {
                        int en = errno;
                        close(fd);
                        return sys_fail(u, en, "chmod", phys);
                }
        }
        if (fd < 0)
                return sys_fail(u, errno, "open", phys);
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int en = errno;
                close(fd);
                return sys_fail(u, en, "stat", phys);
        }
        if (S_ISLNK(st.st_mode)) {
                char target[UNPACK_PATH_MAX + 2];
                ssize_t tl = readlinkat(fd, "", target, sizeof(target) - 1);
                int en = errno;
                close(fd);
                if (tl < 0)
                        return sys_fail(u, en, "readlink", phys);
                if (tl > UNPACK_PATH_MAX)
                        return fail(u, ENAMETOOLONG, "%s: link target too long", phys);
                target[tl] = '\0';
                size_t pl = strlen(phys);
                while (pl > 0 && phys[pl - 1] != '/')
                        pl--;
                phys[pl ? pl - 1 : 0] = '\0';   /* the link's directory */
                struct dir_ref to;
                int e = follow_link(u, phys, target, create, &to);
                if (e < 0)
                        return e;
                char *tphys = strdup(to.phys);
                fd = fcntl(to.fd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0 || !tphys) {
                        free(tphys);
                        if (fd >= 0)
                                close(fd);
                        return fail(u, ENOMEM, "out of memory or descriptors");
                }
                return cache_put(u, prefix, plen, tphys, fd, to.ino, ret);
        }
        if (!S_ISDIR(st.st_mode)) {
                close(fd);
                return fail(u, EINVAL, "parent directory %.*s: not a directory", (int) plen, prefix);
        }
        return cache_put(u, prefix, plen, TAKE_PTR(phys), fd, st.st_ino, ret);
}

/* The directory at path (cleaned, inside the root): each component opened
 * in its parent's descriptor without following it; a missing one made
 * (0755, as containerd's mkparent) when create is set; a symbolic link
 * resolved inside the root as openat2's RESOLVE_IN_ROOT would (follow_link).
 * Nothing can lead outside: every step is relative to a directory already
 * inside, and ".." never goes above the root. Entries share parents, so the
 * descriptors are kept in a small cache keyed by path: the walk starts from
 * the longest prefix cached, and most look-ups cost nothing. */
static int get_dir(struct unpacker *u, const char *path, size_t len, bool create, struct dir_ref *ret)
{
        struct dir_ref cur = { .fd = u->rootfd, .ino = u->root_ino, .phys = "" };
        size_t k = len;
        while (k > 0 && !cache_get(u, path, k, &cur)) {
                while (k > 0 && path[k - 1] != '/')
                        k--;
                if (k > 0)
                        k--;    /* the '/' before the component */
        }
        while (k < len) {
                size_t start = k ? k + 1 : 0, end = start;
                while (end < len && path[end] != '/')
                        end++;
                struct dir_ref next;
                int e = step(u, &cur, path, end, path + start, end - start, create, &next);
                if (e < 0)
                        return e;
                cur = next;
                k = end;
        }
        *ret = cur;
        return 0;
}

/* get_dir of the parent of path; ret_base gets the last component. */
static int get_parent(struct unpacker *u, const char *path, bool create, struct dir_ref *ret, const char **ret_base)
{
        size_t len = strlen(path), cut = len;
        while (cut > 0 && path[cut - 1] != '/')
                cut--;
        *ret_base = path + cut;
        u->links = 0;
        return get_dir(u, path, cut ? cut - 1 : 0, create, ret);
}

/* ---- removing, never following links --------------------------------------- */

static int empty_dir_at(struct unpacker *u, int dfd, unsigned depth);

/* Remove name in dfd and everything below it. */
static int remove_at(struct unpacker *u, int dfd, const char *name, unsigned depth)
{
        /* what goes may be a cached directory, or a link a cached path went
         * through: the cache forgets everything (its descriptors stay open
         * until the entry is done) */
        cache_flush(u);
        if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR && errno != EPERM)
                return -errno;
        if (depth >= REMOVE_DEPTH_MAX) {
                /* deep down: move it up to the root and remove it from there */
                char tmp[64];
                int r;
                do {
                        snprintf(tmp, sizeof(tmp), ".bundlefs-remove-%u", ++u->remove_seq);
                        r = renameat2(dfd, name, u->rootfd, tmp, RENAME_NOREPLACE);
                } while (r < 0 && errno == EEXIST && u->remove_seq % 1000);
                if (r < 0)
                        return -errno;
                return remove_at(u, u->rootfd, tmp, 0);
        }
        for (int tries = 0;; tries++) {
                int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return errno == ENOENT ? 0 : -errno;
                int e = empty_dir_at(u, fd, depth + 1);
                close(fd);
                if (e < 0)
                        return e;
                if (unlinkat(dfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
                        return 0;
                /* something was made in it meanwhile: once more, then give up */
                if (errno != ENOTEMPTY || tries >= 2)
                        return -errno;
        }
}

static int empty_dir_at(struct unpacker *u, int dfd, unsigned depth)
{
        int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        DIR *d = fdopendir(fd);
        if (!d) {
                int e = errno;
                close(fd);
                return -e;
        }
        int ret = 0;
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if ((ret = remove_at(u, dfd, de->d_name, depth)) < 0)
                        break;
        }
        if (!ret && errno)
                ret = -errno;
        closedir(d);
        return ret;
}

int unpack_empty_dir(int dirfd, bf_error *err)
{
        struct unpacker u = { .err = err };
        for (size_t i = 0; i < DCACHE_SLOTS; i++)
                u.cache[i].fd = -1;
        u.rootfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (u.rootfd < 0)
                return bf_error_set(err, errno, "open the root: %s", strerror(errno));
        int e = empty_dir_at(&u, u.rootfd, 0);
        /* what was moved up from deep down is removed in the same pass, or
         * left by a racing writer: one more pass for it */
        if (e == 0)
                e = empty_dir_at(&u, u.rootfd, 0);
        cache_flush(&u);
        release_retired(&u);
        free(u.retired);
        close(u.rootfd);
        return e < 0 ? bf_error_set(err, -e, "emptying the root: %s", strerror(-e)) : 0;
}

/* ---- entries ------------------------------------------------------------------ */

static struct timespec bound_time(int64_t sec, long nsec)
{
        /* containerd's boundTime: before 1970 (or past Go's range) is 1970 */
        if (sec < 0)
                return (struct timespec){ 0, 0 };
        return (struct timespec){ .tv_sec = sec, .tv_nsec = nsec };
}

static void entry_times(struct archive_entry *e, struct timespec ret[2])
{
        struct timespec m = bound_time(archive_entry_mtime(e), archive_entry_mtime_nsec(e));
        struct timespec a = m;
        if (archive_entry_atime_is_set(e)) {
                struct timespec at = bound_time(archive_entry_atime(e), archive_entry_atime_nsec(e));
                /* latestTime(atime, mtime) */
                if (at.tv_sec > m.tv_sec || (at.tv_sec == m.tv_sec && at.tv_nsec > m.tv_nsec))
                        a = at;
        }
        ret[0] = a;
        ret[1] = m;
}

/* Extended attributes as containerd sets them: trusted.* never; one the
 * file system does not support, or a user.* one on what cannot hold it,
 * is left out. fd >= 0: set through it; else on base in pfd, not followed. */
static int set_xattrs(struct unpacker *u, struct archive_entry *e, int fd, int pfd, const char *base,
                      const char *path)
{
        if (archive_entry_xattr_reset(e) == 0)
                return 0;
        const char *name;
        const void *value;
        size_t size;
        char proc[64 + UNPACK_NAME_MAX];
        if (fd < 0)
                snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", pfd, base);
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
                if (!strncmp(name, "trusted.", 8))
                        continue;
                int r = fd >= 0 ? fsetxattr(fd, name, value, size, 0) : lsetxattr(proc, name, value, size, 0);
                if (r == 0 || errno == ENOTSUP)
                        continue;
                if (errno == EPERM && !strncmp(name, "user.", 5) && fd < 0)
                        continue;
                return fail(u, errno == ERANGE || errno == E2BIG ? EINVAL : errno, "setxattr %s of %s: %s", name,
                            path, strerror(errno));
        }
        return 0;
}

static int check_id(struct unpacker *u, int64_t id, const char *what, const char *path)
{
        if (id < 0 || id >= (int64_t) UINT32_MAX)
                return fail(u, EINVAL, "%s: %s %lld out of range", path, what, (long long) id);
        return 0;
}

/* chown, xattrs, chmod, times: in containerd's order (chown clears
 * security.capability and set-id bits, so both come after it). */
static int set_meta_fd(struct unpacker *u, struct archive_entry *e, int fd, const char *path, mode_t type)
{
        uid_t uid = (uid_t) archive_entry_uid(e);
        gid_t gid = (gid_t) archive_entry_gid(e);
        if (fchown(fd, uid, gid) < 0)
                return sys_fail(u, errno, "chown", path);
        int r = set_xattrs(u, e, fd, -1, NULL, path);
        if (r < 0)
                return r;
        mode_t perm = archive_entry_perm(e) & 07777;
        if (fchmod(fd, perm) < 0)
                return sys_fail(u, errno, "chmod", path);
        if (type == AE_IFDIR)
                return 0;       /* after the layer: entries made in it would change it */
        struct timespec ts[2];
        entry_times(e, ts);
        if (futimens(fd, ts) < 0)
                return sys_fail(u, errno, "set times of", path);
        return 0;
}

/* The same for what cannot be opened for writing (links, devices, FIFOs):
 * by name in its parent, never following it. */
static int set_meta_at(struct unpacker *u, struct archive_entry *e, int pfd, const char *base, const char *path)
{
        if (fchownat(pfd, base, (uid_t) archive_entry_uid(e), (gid_t) archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
                return sys_fail(u, errno, "chown", path);
        int r = set_xattrs(u, e, -1, pfd, base, path);
        if (r < 0)
                return r;
        /* chmod follows links: go through a descriptor of the very inode */
        int fd = openat(pfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return sys_fail(u, errno, "open", path);
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int en = errno;
                close(fd);
                return sys_fail(u, en, "stat", path);
        }
        if (!S_ISLNK(st.st_mode)) {
                char proc[64];
                snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
                if (chmod(proc, archive_entry_perm(e) & 07777) < 0) {
                        int en = errno;
                        close(fd);
                        return sys_fail(u, en, "chmod", path);
                }
        }
        close(fd);
        struct timespec ts[2];
        entry_times(e, ts);
        if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return sys_fail(u, errno, "set times of", path);
        return 0;
}

static int write_data(struct unpacker *u, int fd, struct archive_entry *e, const char *path)
{
        off_t at = 0;
        for (;;) {
                const void *p;
                size_t n;
                la_int64_t off;
                int r = archive_read_data_block(u->inner, &p, &n, &off);
                if (r == ARCHIVE_EOF)
                        break;
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
                        /* The stream ended inside the padding after the last
                         * file's data: Go's archive/tar, which containerd and
                         * umoci read layers with, takes that for the end of the
                         * archive (and some writers stop there); so does this. */
                        if (!u->stream_error && u->tar_eof && archive_entry_size_is_set(e) &&
                            at >= archive_entry_size(e)) {
                                u->tar_ended = true;
                                break;
                        }
                        return u->stream_error ? -EIO
                                               : fail(u, EINVAL, "reading %s: %s", path, archive_error_string(u->inner));
                }
                if (off != at && lseek(fd, off, SEEK_SET) < 0)
                        return sys_fail(u, errno, "seek in", path);
                at = off;
                while (n) {
                        ssize_t w = write(fd, p, n);
                        if (w < 0) {
                                if (errno == EINTR)
                                        continue;
                                return sys_fail(u, errno, "write", path);
                        }
                        p = (const char *) p + w;
                        n -= (size_t) w;
                        at += w;
                }
        }
        /* a sparse file may end in a hole */
        if (archive_entry_size_is_set(e) && archive_entry_size(e) > at && ftruncate(fd, archive_entry_size(e)) < 0)
                return sys_fail(u, errno, "truncate", path);
        return 0;
}

/* Make room for a new entry at base: whatever is there goes, except a
 * directory that a directory entry merges with. Returns 1 if a directory
 * is there to merge with. */
static int clear_for(struct unpacker *u, int pfd, const char *base, bool is_dir, const char *path)
{
        struct stat st;
        if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : sys_fail(u, errno, "stat", path);
        if (is_dir && S_ISDIR(st.st_mode))
                return 1;
        int e = remove_at(u, pfd, base, 0);
        return e < 0 ? sys_fail(u, -e, "remove", path) : 0;
}

/* containerd's opaque whiteout: everything in the directory that this layer
 * did not make goes, below directories it made too. */
static int opaque_at(struct unpacker *u, int dfd, uint64_t ino, const char *path, unsigned depth)
{
        int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return sys_fail(u, errno, "open", path);
        DIR *d = fdopendir(fd);
        if (!d) {
                int en = errno;
                close(fd);
                return sys_fail(u, en, "open", path);
        }
        int ret = 0;
        struct dirent *de;
        while ((errno = 0, de = readdir(d))) {
                const char *name = de->d_name;
                if (streq(name, ".") || streq(name, ".."))
                        continue;
                if (!made_has(&u->made, ino, name)) {
                        int e = remove_at(u, dirfd(d), name, 0);
                        if (e < 0) {
                                ret = sys_fail(u, -e, "remove in", path);
                                break;
                        }
                        continue;
                }
                if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
                        continue;
                int cfd = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (cfd < 0) {
                        if (errno == ENOTDIR || errno == ELOOP)
                                continue;
                        ret = sys_fail(u, errno, "open in", path);
                        break;
                }
                struct stat st;
                if (fstat(cfd, &st) == 0 && depth < OPAQUE_DEPTH_MAX)
                        ret = opaque_at(u, cfd, st.st_ino, path, depth + 1);
                close(cfd);
                if (ret < 0)
                        break;
        }
        if (!ret && errno)
                ret = sys_fail(u, errno, "read directory", path);
        closedir(d);
        return ret;
}

static int whiteout(struct unpacker *u, int pfd, uint64_t pino, const char *base, const char *path)
{
        if (streq(base, OPAQUE_MARKER)) {
                int e = opaque_at(u, pfd, pino, path, 0);
                cache_flush(u);
                return e;
        }
        const char *orig = base + strlen(WHITEOUT_PREFIX);
        if (!orig[0] || streq(orig, ".") || streq(orig, ".."))
                return fail(u, EINVAL, "invalid whiteout name: %s", path);
        int e = remove_at(u, pfd, orig, 0);
        return e < 0 ? sys_fail(u, -e, "remove", path) : 0;
}

static int hard_link(struct unpacker *u, struct archive_entry *e, int pfd, const char *base, const char *path)
{
        char target[UNPACK_PATH_MAX + 1];
        int r = clean_name(u, archive_entry_hardlink(e), target, "hard link target");
        if (r < 0)
                return r;
        if (!target[0])
                return fail(u, EINVAL, "hard link %s to the root", path);
        struct dir_ref t;
        const char *tbase;
        if ((r = get_parent(u, target, false, &t, &tbase)) < 0)
                return bf_error_prefix(u->err, "hard link %s to %s", path, target);
        /* flags 0: a link to a symbolic link links the link itself */
        if (linkat(t.fd, tbase, pfd, base, 0) < 0)
                return fail(u, errno == ENOENT || errno == EPERM || errno == EEXIST ? EINVAL : errno,
                            "hard link %s to %s: %s", path, target, strerror(errno));
        return 0;
}

static int one_entry(struct unpacker *u, struct archive_entry *e)
{
        const char *raw = archive_entry_pathname(e);
        if (!raw)
                return fail(u, EINVAL, "an entry without a name");
        char path[UNPACK_PATH_MAX + 1];
        int r = clean_name(u, raw, path, "entry");
        if (r < 0)
                return r;
        if (!path[0])
                return 0;       /* the root itself: left as it is, as containerd does */
        struct dir_ref parent;
        const char *base;
        if ((r = get_parent(u, path, true, &parent, &base)) < 0)
                return r;
        int pfd = parent.fd;
        uint64_t pino = parent.ino;
        if (!strncmp(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)))
                return whiteout(u, pfd, pino, base, path);

        mode_t type = archive_entry_filetype(e);
        bool link = archive_entry_hardlink(e) != NULL;
        if ((r = check_id(u, archive_entry_uid(e), "uid", path)) < 0 ||
            (r = check_id(u, archive_entry_gid(e), "gid", path)) < 0)
                return r;
        int merge = clear_for(u, pfd, base, !link && type == AE_IFDIR, path);
        if (merge < 0)
                return merge;
        if (link) {
                if ((r = hard_link(u, e, pfd, base, path)) < 0)
                        return r;
                r = set_meta_at(u, e, pfd, base, path);
        } else if (type == AE_IFREG) {
                int fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd < 0)
                        return sys_fail(u, errno, "create", path);
                r = write_data(u, fd, e, path);
                if (r == 0)
                        r = set_meta_fd(u, e, fd, path, type);
                close(fd);
        } else if (type == AE_IFDIR) {
                if (!merge && mkdirat(pfd, base, 0700) < 0)
                        return sys_fail(u, errno, "mkdir", path);
                int fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        return sys_fail(u, errno, "open", path);
                r = set_meta_fd(u, e, fd, path, type);
                close(fd);
                struct dir_time *t = r == 0 ? slice_push(&u->layer_mem, &u->dir_times, sizeof(*t)) : NULL;
                if (r == 0 && (!t || !(t->path = arena_strdup(&u->layer_mem, path))))
                        return fail(u, ENOMEM, "out of memory");
                if (t)
                        entry_times(e, t->times);
        } else if (type == AE_IFLNK) {
                const char *target = archive_entry_symlink(e);
                if (!target)
                        return fail(u, EINVAL, "symbolic link %s without a target", path);
                if (strlen(target) > UNPACK_PATH_MAX)
                        return fail(u, ENAMETOOLONG, "symbolic link %s: target longer than %d bytes", path,
                                    UNPACK_PATH_MAX);
                if (symlinkat(target, pfd, base) < 0)
                        return sys_fail(u, errno, "symlink", path);
                r = set_meta_at(u, e, pfd, base, path);
        } else if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO) {
                dev_t dev = type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
                if (mknodat(pfd, base, (archive_entry_perm(e) & 07777) | type, dev) < 0)
                        return sys_fail(u, errno, "mknod", path);
                r = set_meta_at(u, e, pfd, base, path);
        } else {
                return fail(u, EINVAL, "%s: unhandled entry type 0%o", path, (unsigned) type);
        }
        if (r < 0)
                return r;
        return made_add(&u->made, pino, base) < 0 ? fail(u, ENOMEM, "out of memory") : 0;
}

/* ---- the streams: blob -> (gzip, zstd or none) -> tar ---------------------------- */

/* A thread of its own reads the blob, hashes it, decompresses it and hashes
 * the tar, handing the tar on in chunks through a small ring, while the
 * caller's thread extracts: decompression (as gzip running beside tar -x)
 * costs the extraction nothing. */
#define RING 8

struct reader {
        /* set before the thread starts, then the thread's alone */
        const struct oci_layer *layer;
        uint64_t bytes_before;          /* tar bytes of the layers before */
        uint64_t bytes_max;
        struct unpack_progress *progress;
        int fd;
        uint64_t blob_read;
        struct hasher *blob_hash, *tar_hash;
        struct archive *outer;
        char *blob_buf;
        pthread_t thread;
        bool started;
        /* under mu */
        pthread_mutex_t mu;
        pthread_cond_t cv;
        char *chunk[RING];
        size_t chunk_len[RING];
        uint64_t filled;                /* chunks made */
        uint64_t taken;                 /* chunks the extraction took */
        uint64_t freed;                 /* chunks it is done with */
        bool done;                      /* all read, hashed and checked (or failed) */
        bool stop;                      /* the extraction gave up */
        bf_error err;                   /* the thread's error, when code != 0 */
        uint64_t bytes;                 /* tar bytes of this layer */
};

static la_ssize_t blob_read_cb(struct archive *a, void *data, const void **ret)
{
        (void) a;
        struct reader *rd = data;
        uint64_t left = rd->layer->size - rd->blob_read;
        size_t want = READ_CHUNK;
        /* one byte past the size shows a blob that grew */
        if (left + 1 < want)
                want = (size_t) left + 1;
        ssize_t n;
        do
                n = read(rd->fd, rd->blob_buf, want);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                bf_error_set(&rd->err, errno, "reading its blob: %s", strerror(errno));
                return -1;
        }
        if ((uint64_t) n > left) {
                bf_error_set(&rd->err, EINVAL, "blob longer than its descriptor's %llu bytes",
                             (unsigned long long) rd->layer->size);
                return -1;
        }
        rd->blob_read += (uint64_t) n;
        hasher_update(rd->blob_hash, rd->blob_buf, (size_t) n);
        *ret = rd->blob_buf;
        return n;
}

static int check_digest(bf_error *err, struct hasher *h, const struct digest *want, const char *what)
{
        struct digest got;
        if (hasher_final(h, &got) < 0)
                return bf_error_set(err, ENOMEM, "computing a digest failed");
        if (digest_equal(&got, want))
                return 0;
        char g[DIGEST_TEXT_MAX], w[DIGEST_TEXT_MAX];
        digest_format(&got, g);
        digest_format(want, w);
        return bf_error_set(err, EINVAL, "%s %s: content has digest %s: corrupted", what, w, g);
}

/* Decompress into the ring until the end, then read what is left of the
 * blob and check its size, digest and diff ID. */
static int reader_run(struct reader *rd)
{
        struct archive_entry *raw;
        if (archive_read_open(rd->outer, rd, NULL, blob_read_cb, NULL) != ARCHIVE_OK ||
            archive_read_next_header(rd->outer, &raw) != ARCHIVE_OK)
                return rd->err.code ? -rd->err.code
                                    : bf_error_set(&rd->err, EINVAL, "reading: %s", archive_error_string(rd->outer));
        for (;;) {
                pthread_mutex_lock(&rd->mu);
                while (rd->filled - rd->freed >= RING && !rd->stop)
                        pthread_cond_wait(&rd->cv, &rd->mu);
                bool stop = rd->stop;
                pthread_mutex_unlock(&rd->mu);
                if (stop)
                        return -ECANCELED;
                size_t slot = rd->filled % RING;
                la_ssize_t n = archive_read_data(rd->outer, rd->chunk[slot], READ_CHUNK);
                if (n < 0)
                        return rd->err.code ? -rd->err.code
                                            : bf_error_set(&rd->err, EINVAL, "decompressing: %s",
                                                           archive_error_string(rd->outer));
                if (n == 0)
                        break;
                hasher_update(rd->tar_hash, rd->chunk[slot], (size_t) n);
                if (rd->progress)
                        atomic_store(&rd->progress->bytes, rd->bytes_before + rd->bytes + (uint64_t) n);
                pthread_mutex_lock(&rd->mu);
                rd->bytes += (uint64_t) n;
                bool over = rd->bytes_before + rd->bytes > rd->bytes_max;
                if (!over) {
                        rd->chunk_len[slot] = (size_t) n;
                        rd->filled++;
                        pthread_cond_broadcast(&rd->cv);
                }
                pthread_mutex_unlock(&rd->mu);
                if (over)
                        return bf_error_set(&rd->err, EFBIG, "more than %llu bytes of tar in all layers",
                                            (unsigned long long) rd->bytes_max);
        }
        /* the blob's own end (a gzip trailer, padding) is part of its digest */
        const void *p;
        la_ssize_t n;
        while ((n = blob_read_cb(rd->outer, rd, &p)) > 0)
                ;
        if (n < 0)
                return -rd->err.code;
        if (rd->blob_read != rd->layer->size)
                return bf_error_set(&rd->err, EINVAL, "blob of %llu bytes, its descriptor says %llu",
                                    (unsigned long long) rd->blob_read, (unsigned long long) rd->layer->size);
        int r = check_digest(&rd->err, rd->blob_hash, &rd->layer->digest, "blob");
        return r < 0 ? r : check_digest(&rd->err, rd->tar_hash, &rd->layer->diff_id, "diff ID");
}

static void *reader_thread(void *p)
{
        struct reader *rd = p;
        int r = reader_run(rd);
        pthread_mutex_lock(&rd->mu);
        if (r < 0 && !rd->err.code)
                bf_error_set(&rd->err, -r, "%s", strerror(-r));
        rd->done = true;
        pthread_cond_broadcast(&rd->cv);
        pthread_mutex_unlock(&rd->mu);
        return NULL;
}

static void reader_free(struct reader *rd)
{
        if (!rd)
                return;
        if (rd->started) {
                pthread_mutex_lock(&rd->mu);
                rd->stop = true;
                pthread_cond_broadcast(&rd->cv);
                pthread_mutex_unlock(&rd->mu);
                pthread_join(rd->thread, NULL);
        }
        pthread_mutex_destroy(&rd->mu);
        pthread_cond_destroy(&rd->cv);
        if (rd->outer)
                archive_read_free(rd->outer);
        if (rd->fd >= 0)
                close(rd->fd);
        hasher_free(rd->blob_hash);
        hasher_free(rd->tar_hash);
        free(rd->blob_buf);
        for (size_t i = 0; i < RING; i++)
                free(rd->chunk[i]);
        free(rd);
}

static struct reader *reader_new(struct unpacker *u, const struct oci_layer *l)
{
        struct reader *rd = calloc(1, sizeof(*rd));
        if (!rd)
                return NULL;
        rd->fd = -1;
        pthread_mutex_init(&rd->mu, NULL);
        pthread_cond_init(&rd->cv, NULL);
        rd->layer = l;
        rd->bytes_before = u->bytes;
        rd->bytes_max = u->limits.bytes;
        rd->progress = u->opt->progress;
        rd->blob_hash = hasher_new(l->digest.alg);
        rd->tar_hash = hasher_new(l->diff_id.alg);
        rd->outer = archive_read_new();
        rd->blob_buf = malloc(READ_CHUNK);
        bool ok = rd->blob_hash && rd->tar_hash && rd->outer && rd->blob_buf;
        for (size_t i = 0; i < RING && ok; i++)
                ok = (rd->chunk[i] = malloc(READ_CHUNK)) != NULL;
        if (!ok) {
                reader_free(rd);
                return NULL;
        }
        /* whatever the media type says, the stream is looked at, as containerd's
         * DecompressStream does: gzip, zstd or none */
        archive_read_support_filter_gzip(rd->outer);
        archive_read_support_filter_zstd(rd->outer);
        archive_read_support_format_raw(rd->outer);
        return rd;
}

/* The tar reader's input: the next chunk of the ring (the one before it is
 * given back). 0 at the end; -1 when the reader thread failed. */
static la_ssize_t tar_read_cb(struct archive *a, void *data, const void **ret)
{
        (void) a;
        struct unpacker *u = data;
        struct reader *rd = u->reader;
        pthread_mutex_lock(&rd->mu);
        rd->freed = rd->taken;
        pthread_cond_broadcast(&rd->cv);
        while (rd->taken == rd->filled && !rd->done)
                pthread_cond_wait(&rd->cv, &rd->mu);
        la_ssize_t n = 0;
        if (rd->taken < rd->filled) {
                size_t slot = rd->taken % RING;
                *ret = rd->chunk[slot];
                n = (la_ssize_t) rd->chunk_len[slot];
                rd->taken++;
        } else if (rd->err.code) {
                u->stream_error = rd->err.code;
                n = -1;
        } else {
                u->tar_eof = true;
        }
        pthread_mutex_unlock(&rd->mu);
        return n;
}

/* Take the reader thread's verdict: its error, if any, is the layer's. */
static int reader_finish(struct unpacker *u, int r)
{
        struct reader *rd = u->reader;
        if (r == 0) {
                /* the tar's end blocks and the blob's end: let the thread read them all */
                const void *p;
                la_ssize_t n;
                while ((n = tar_read_cb(NULL, u, &p)) > 0)
                        ;
        }
        pthread_mutex_lock(&rd->mu);
        if (r < 0 && !u->stream_error)
                rd->stop = true;        /* the extraction failed: the thread stops */
        pthread_cond_broadcast(&rd->cv);
        pthread_mutex_unlock(&rd->mu);
        pthread_join(rd->thread, NULL);
        rd->started = false;
        if ((r == 0 || u->stream_error) && rd->err.code) {
                /* the thread's own failure explains the layer's */
                *u->err = rd->err;
                r = -rd->err.code;
        }
        u->bytes += rd->bytes;
        return r;
}

static void close_streams(struct unpacker *u)
{
        if (u->inner)
                archive_read_free(u->inner);
        u->inner = NULL;
        reader_free(u->reader);
        u->reader = NULL;
}

static int set_dir_times(struct unpacker *u)
{
        for (size_t i = 0; i < u->dir_times.len; i++) {
                const struct dir_time *t = &u->dir_times.v[i];
                struct dir_ref parent;
                const char *base;
                int r = get_parent(u, t->path, false, &parent, &base);
                if (r == 0 && utimensat(parent.fd, base, t->times, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
                        r = sys_fail(u, errno, "set times of", t->path);
                release_retired(u);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int one_layer(struct unpacker *u, const struct oci_image *img, const struct oci_layer *l)
{
        u->stream_error = 0;
        u->tar_eof = u->tar_ended = false;
        made_clear(&u->made);
        arena_reset(&u->layer_mem);
        u->dir_times = (dir_time_slice){ 0 };
        cache_flush(u);
        release_retired(u);
        u->reader = reader_new(u, l);
        u->inner = archive_read_new();
        if (!u->reader || !u->inner)
                return fail(u, ENOMEM, "out of memory");
        int r = oci_image_layer_open(img, l, &u->reader->fd, u->err);
        if (r < 0)
                return r;
        if ((r = pthread_create(&u->reader->thread, NULL, reader_thread, u->reader)) != 0)
                return fail(u, r, "starting a thread: %s", strerror(r));
        u->reader->started = true;
        archive_read_support_format_tar(u->inner);
        if (archive_read_open(u->inner, u, NULL, tar_read_cb, NULL) != ARCHIVE_OK) {
                r = u->stream_error ? -EIO : fail(u, EINVAL, "not a tar archive: %s", archive_error_string(u->inner));
                return reader_finish(u, r);
        }
        for (;;) {
                if (u->opt->cancel && atomic_load(u->opt->cancel)) {
                        r = fail(u, ECANCELED, "cancelled");
                        break;
                }
                struct archive_entry *e;
                r = archive_read_next_header(u->inner, &e);
                if (r == ARCHIVE_EOF) {
                        r = 0;
                        break;
                }
                if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
                        r = u->stream_error ? -EIO : fail(u, EINVAL, "malformed tar: %s",
                                                          archive_error_string(u->inner));
                        break;
                }
                if (++u->entries > u->limits.entries) {
                        r = fail(u, EFBIG, "more than %llu entries in all layers",
                                 (unsigned long long) u->limits.entries);
                        break;
                }
                if (u->opt->progress)
                        atomic_store(&u->opt->progress->entries, u->entries);
                r = one_entry(u, e);
                release_retired(u);
                if (r < 0 || u->tar_ended)
                        break;
        }
        if ((r = reader_finish(u, r)) < 0)
                return r;
        close_streams(u);
        return set_dir_times(u);
}

static int root_is_empty(int fd, bf_error *err)
{
        int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return bf_error_set(err, errno, "open the root: %s", strerror(errno));
        DIR *d = fdopendir(dfd);
        if (!d) {
                int e = errno;
                close(dfd);
                return bf_error_set(err, e, "open the root: %s", strerror(e));
        }
        struct dirent *de;
        int ret = 0;
        while ((errno = 0, de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) {
                        ret = bf_error_set(err, ENOTEMPTY, "the root file system is not empty (\"%.100s\"): an "
                                           "image is only unpacked into an empty one", de->d_name);
                        break;
                }
        if (!ret && errno)
                ret = bf_error_set(err, errno, "reading the root: %s", strerror(errno));
        closedir(d);
        return ret;
}

int unpack_image(const struct oci_image *img, int rootfd, const struct unpack_options *options, bf_error *err)
{
        static const struct unpack_options none = { 0 };
        const struct unpack_options *opt = options ? options : &none;
        const struct oci_layer *layers;
        size_t nlayers;
        int r = oci_image_layers(img, &layers, &nlayers, err);
        if (r < 0)
                return r;
        struct unpack_limits limits = { UNPACK_LAYERS_MAX, UNPACK_BYTES_MAX, UNPACK_ENTRIES_MAX };
        if (opt->limits)
                limits = *opt->limits;
        if (nlayers > limits.layers)
                return bf_error_set(err, EFBIG, "the image has %zu layers, more than %llu", nlayers,
                                    (unsigned long long) limits.layers);
        if ((r = root_is_empty(rootfd, err)) < 0)
                return r;
        struct unpacker u = {
                .err = err,
                .opt = opt,
                .limits = limits,
        };
        for (size_t i = 0; i < DCACHE_SLOTS; i++)
                u.cache[i].fd = -1;
        arena_init(&u.made.names, 0);
        arena_init(&u.layer_mem, 0);
        u.rootfd = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;
        if (u.rootfd < 0 || fstat(u.rootfd, &st) < 0) {
                r = bf_error_set(err, errno, "open the root: %s", strerror(errno));
                goto out;
        }
        u.root_ino = st.st_ino;
        if (opt->progress)
                atomic_store(&opt->progress->layers, nlayers);
        for (size_t i = 0; i < nlayers; i++) {
                u.layer_no = i + 1;
                if (opt->progress)
                        atomic_store(&opt->progress->layer, u.layer_no);
                if ((r = one_layer(&u, img, &layers[i])) < 0) {
                        bf_error_prefix(err, "layer %zu", u.layer_no);
                        break;
                }
                close_streams(&u);
        }
        u.layer_no = 0;
        if (r == 0 && !(opt->flags & UNPACK_NO_SYNC) && syncfs(u.rootfd) < 0)
                r = bf_error_set(err, errno, "syncfs of the root: %s", strerror(errno));
out:
        close_streams(&u);
        cache_flush(&u);
        release_retired(&u);
        if (r < 0 && u.rootfd >= 0) {
                /* nothing of a failed unpack stays */
                bf_error cleanup = { 0 };
                if (unpack_empty_dir(u.rootfd, &cleanup) < 0) {
                        char msg[BF_ERROR_MAX];
                        memcpy(msg, err->msg, sizeof(msg));
                        bf_error_set(err, err->code, "%.300s (and then %.180s)", msg, cleanup.msg);
                }
        }
        if (u.rootfd >= 0)
                close(u.rootfd);
        free(u.made.v);
        free(u.retired);
        arena_done(&u.made.names);
        arena_done(&u.layer_mem);
        return r;
}
