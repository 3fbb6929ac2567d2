#include "users.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "deps.h"
#include "files.h"
#include "goconv.h"
#include "opt_common.h"
#include "util.h"

#define ACCOUNTS_FILE_MAX ((size_t) 16 << 20)

/* How messages name a look-up root: the bundle's rootfs as its caller
 * shows it (the daemon's state directory is its own). */
static const char *root_shown(const struct render *r, const char *root)
{
        return root == r->bundle_rootfs && r->bundle_rootfs_shown ? r->bundle_rootfs_shown : root;
}

int lookup_root_open(struct render *r, const struct spec *s, int *ret_fd, const char **ret_name)
{
        const char *root = s->root && s->root->path && s->root->path[0] == '/' ? s->root->path : NULL;
        if (!root) {
                if (!r->bundle_rootfs)
                        return bf_error_set(r->err, EINVAL, "rootfs absolute path is required");
                root = r->bundle_rootfs;
        }
        int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                int e = errno;
                /* The rendering fails; keep it from being reused once the root is there. */
                deps_note_volatile(r);
                return bf_error_set(r->err, bf_errno_class(e), "failed to mount %s: %s",
                                    root_shown(r, root), e == ENOENT ? "no such file or directory" : strerror(e));
        }
        *ret_fd = fd;
        *ret_name = root;
        return 0;
}

#define WALK_SYMLINKS_MAX 40
#define WALK_DEPTH_MAX 256

/* What openat2(RESOLVE_IN_ROOT) does, one component at a time, for kernels
 * (and tools such as valgrind) without it: ".." stops at the root, absolute
 * symlinks start again from the root. Returns an O_PATH fd or -errno. */
int open_in_root_walk(int rootfd, const char *path)
{
        int stack[WALK_DEPTH_MAX];
        size_t depth = 0;
        int links = 0, result = -ENOENT;
        stack[0] = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
        if (stack[0] < 0)
                return -errno;
        char *todo = strdup(path);
        if (!todo) {
                close(stack[0]);
                return -ENOMEM;
        }
        size_t pos = 0;
        for (;;) {
                while (todo[pos] == '/')
                        pos++;
                if (!todo[pos]) {
                        /* the path named a directory on the stack */
                        result = fcntl(stack[depth], F_DUPFD_CLOEXEC, 3);
                        if (result < 0)
                                result = -errno;
                        break;
                }
                size_t start = pos;
                while (todo[pos] && todo[pos] != '/')
                        pos++;
                char comp[NAME_MAX + 1];
                size_t cl = pos - start;
                if (cl > NAME_MAX) {
                        result = -ENAMETOOLONG;
                        break;
                }
                memcpy(comp, todo + start, cl);
                comp[cl] = '\0';
                size_t rest = pos;
                while (todo[rest] == '/')
                        rest++;
                bool last = !todo[rest];
                if (streq(comp, "."))
                        continue;
                if (streq(comp, "..")) {
                        if (depth > 0)
                                close(stack[depth--]);
                        continue;
                }
                int fd = openat(stack[depth], comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                struct stat st;
                if (fd < 0 || fstat(fd, &st) < 0) {
                        result = -errno;
                        if (fd >= 0)
                                close(fd);
                        break;
                }
                if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t tl = readlinkat(fd, "", target, sizeof(target) - 1);
                        close(fd);
                        if (tl < 0 || ++links > WALK_SYMLINKS_MAX) {
                                result = tl < 0 ? -errno : -ELOOP;
                                break;
                        }
                        target[tl] = '\0';
                        if (target[0] == '/')
                                while (depth > 0)
                                        close(stack[depth--]);
                        char *next;
                        if (asprintf(&next, "%s/%s", target, todo + pos) < 0) {
                                result = -ENOMEM;
                                break;
                        }
                        free(todo);
                        todo = next;
                        pos = 0;
                        continue;
                }
                if (last) {
                        result = fd;
                        break;
                }
                if (!S_ISDIR(st.st_mode) || depth + 1 >= WALK_DEPTH_MAX) {
                        close(fd);
                        result = S_ISDIR(st.st_mode) ? -ENAMETOOLONG : -ENOTDIR;
                        break;
                }
                stack[++depth] = fd;
        }
        for (size_t i = 0; i <= depth; i++)
                close(stack[i]);
        free(todo);
        return result;
}

int open_in_root(int rootfd, const char *rel)
{
        struct open_how how = {
                .flags = O_PATH | O_CLOEXEC,
                .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        int fd;
        int tries = 0;
        /* EAGAIN: a rename elsewhere raced with the look-up; try again */
        do
                fd = (int) syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
        while (fd < 0 && errno == EAGAIN && ++tries < 16);
        if (fd >= 0)
                return fd;
        if (errno == ENOSYS)
                return open_in_root_walk(rootfd, rel);
        return -errno;
}

static int read_in_root(struct render *r, int rootfd, const char *root_name, const char *rel, char **ret,
                        size_t *ret_len)
{
        char name[4096];
        const char *shown = root_shown(r, root_name);
        size_t rl = strlen(shown);
        snprintf(name, sizeof(name), rl && shown[rl - 1] == '/' ? "%s%s" : "%s/%s", shown, rel);
        int fd = open_in_root(rootfd, rel);
        if (fd < 0) {
                int e = -fd;
                if (e == ENOENT) {
                        deps_note_in_root(r, root_name, rel, NULL);
                        return bf_error_set(r->err, ENOENT, "open %s: no such file or directory", name);
                }
                deps_note_volatile(r);
                /* Only a missing file counts as "not there" (Go's os.IsNotExist);
                 * the system's own failures keep their errno. */
                return bf_error_set(r->err, bf_errno_system(e) ? e : EINVAL, "open %s: %s", name, strerror(e));
        }
        /* stat before reading: a change after this is seen by a later check */
        struct stat st;
        if (fstat(fd, &st) < 0) {
                int e = errno;
                close(fd);
                deps_note_volatile(r);
                return bf_error_set(r->err, bf_errno_class(e), "stat %s: %s", name, strerror(e));
        }
        deps_note_in_root(r, root_name, rel, &st);
        int rfd = -1;
        int ret_code = fd_reopen_regular(fd, name, &rfd, r->err);
        close(fd);
        if (ret_code >= 0) {
                ret_code = fd_read_all(rfd, name, ACCOUNTS_FILE_MAX, ret, ret_len, r->err);
                close(rfd);
        }
        /* A failure the recorded stat does not explain (say EIO) must not be reused. */
        if (ret_code < 0)
                deps_note_volatile(r);
        return ret_code;
}

/* strings.Split(s, ","), with "" giving an empty, non-nil list. */
static int split_members(arena *a, const char *s, size_t n, span_slice *ret)
{
        *ret = (span_slice){ 0 };
        if (n == 0) {
                slice_make_empty(ret);
                return 0;
        }
        size_t start = 0;
        for (size_t i = 0; i <= n; i++) {
                if (i < n && s[i] != ',')
                        continue;
                struct span *slot = slice_push(a, ret, sizeof(*slot));
                char *copy = slot ? arena_strndup(a, s + start, i - start) : NULL;
                if (!copy)
                        return -ENOMEM;
                *slot = (struct span){ copy, i - start };
                start = i + 1;
        }
        return 0;
}

/* The i-th ':'-separated field of a line, if the line has that many. */
static bool field(const char *s, size_t n, unsigned i, const char **ret, size_t *ret_len)
{
        size_t start = 0;
        for (unsigned f = 0;; f++) {
                const char *colon = memchr(s + start, ':', n - start);
                size_t end = colon ? (size_t) (colon - s) : n;
                if (f == i) {
                        *ret = s + start;
                        *ret_len = end - start;
                        return true;
                }
                if (!colon)
                        return false;
                start = end + 1;
        }
}

static int64_t field_int(const char *s, size_t n, unsigned i)
{
        const char *f;
        size_t fl;
        bool ok;
        return field(s, n, i, &f, &fl) ? go_atoi(f, fl, &ok) : 0;
}

/* The i-th field copied into the arena ("" when the line is shorter). */
static int field_span(arena *a, const char *s, size_t n, unsigned i, struct span *ret)
{
        const char *f;
        size_t fl;
        if (!field(s, n, i, &f, &fl)) {
                *ret = (struct span){ "", 0 };
                return 0;
        }
        char *copy = arena_strndup(a, f, fl);
        if (!copy)
                return -ENOMEM;
        *ret = (struct span){ copy, fl };
        return 0;
}

int passwd_parse(arena *a, const char *data, size_t n, user_slice *ret, bf_error *err)
{
        *ret = (user_slice){ 0 };
        span_slice lines;
        int r = scan_lines(a, data, n, SCANNER_LINE_MAX, &lines, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < lines.len; i++) {
                const char *s = lines.v[i].p;
                size_t len = lines.v[i].len;
                go_trim_space(&s, &len);
                if (len == 0)
                        continue;
                struct pw_user *u = slice_push(a, ret, sizeof(*u));
                if (!u || field_span(a, s, len, 0, &u->name) < 0)
                        return bf_error_oom(err);
                u->uid = field_int(s, len, 2);
                u->gid = field_int(s, len, 3);
        }
        return 0;
}

int group_parse(arena *a, const char *data, size_t n, group_slice *ret, bf_error *err)
{
        *ret = (group_slice){ 0 };
        span_slice lines;
        int r = scan_lines(a, data, n, 0, &lines, err);
        if (r < 0)
                return r;
        for (size_t i = 0; i < lines.len; i++) {
                const char *s = lines.v[i].p;
                size_t len = lines.v[i].len;
                go_trim_space(&s, &len);
                if (len == 0 || s[0] == '#')
                        continue;
                struct gr_group *g = slice_push(a, ret, sizeof(*g));
                if (!g || field_span(a, s, len, 0, &g->name) < 0)
                        return bf_error_oom(err);
                g->gid = field_int(s, len, 2);
                const char *m;
                size_t ml;
                if (field(s, len, 3, &m, &ml) && split_members(a, m, ml, &g->members) < 0)
                        return bf_error_oom(err);
        }
        return 0;
}

int passwd_read(struct render *r, int rootfd, const char *root_name, user_slice *ret)
{
        _cleanup_free_ char *data = NULL;
        size_t n;
        int ret_code = read_in_root(r, rootfd, root_name, "etc/passwd", &data, &n);
        if (ret_code < 0)
                return ret_code;
        return passwd_parse(r->a, data, n, ret, r->err);
}

int group_read(struct render *r, int rootfd, const char *root_name, group_slice *ret)
{
        _cleanup_free_ char *data = NULL;
        size_t n;
        int ret_code = read_in_root(r, rootfd, root_name, "etc/group", &data, &n);
        if (ret_code < 0)
                return ret_code;
        return group_parse(r->a, data, n, ret, r->err);
}
