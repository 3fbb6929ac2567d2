#include "devices.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "deps.h"
#include "files.h"
#include "goconv.h"
#include "opt_common.h"
#include "util.h"

static bool in_userns;
static pthread_once_t userns_once = PTHREAD_ONCE_INIT;

/* userns.RunningInUserNS: the uid map is not the identity of all uids.
 * A process's uid map is written once, before it runs: read once, and no
 * input of a rendering (deps.h). */
static void userns_init(void)
{
        FILE *f = fopen("/proc/self/uid_map", "re");
        if (!f)
                return;
        long a, b, c;
        if (fscanf(f, "%ld %ld %ld", &a, &b, &c) == 3)
                in_userns = !(a == 0 && b == 0 && c == 4294967295L);
        fclose(f);
}

static bool running_in_userns(void)
{
        pthread_once(&userns_once, userns_init);
        return in_userns;
}


int device_from_path(struct render *r, const char *path, struct spec_device *ret)
{
        struct stat st;
        if (lstat(path, &st) < 0) {
                int e = errno;
                if (e == ENOENT)
                        deps_note_host(r, path, false, NULL);
                else
                        deps_note_volatile(r);
                return bf_error_set(r->err, bf_errno_class(e), "%s", e == ENOENT ? "no such file or directory" : strerror(e));
        }
        deps_note_host(r, path, false, &st);
        const char *type;
        switch (st.st_mode & S_IFMT) {
        case S_IFBLK: type = "b"; break;
        case S_IFCHR: type = "c"; break;
        case S_IFIFO: type = "p"; break;
        default:
                return bf_error_set(r->err, ENODEV, "not a device node");
        }
        uint32_t *mode = R_NEW(r, uint32_t), *uid = R_NEW(r, uint32_t), *gid = R_NEW(r, uint32_t);
        const char *p = r_strdup(r, path);
        if (!mode || !uid || !gid || !p)
                return -r->err->code;
        *mode = st.st_mode & ~(uint32_t) S_IFMT;
        *uid = st.st_uid;
        *gid = st.st_gid;
        *ret = (struct spec_device){
                .path = p,
                .type = type,
                .major = major(st.st_rdev),
                .minor = minor(st.st_rdev),
                .file_mode = mode,
                .uid = uid,
                .gid = gid,
        };
        return 0;
}

static const char *join(struct render *r, const char *a, const char *b)
{
        buf out = { 0 };
        const char *parts[] = { a, b };
        go_path_join(&out, parts, 2);
        const char *s = out.oom ? NULL : arena_strndup(r->a, out.p, out.len);
        buf_free(&out);
        if (!s)
                r_nomem(r);
        return s;
}

static int name_cmp(const void *a, const void *b)
{
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static bool skipped_dir(const char *name)
{
        static const char *const skip[] = { "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev" };
        for (size_t i = 0; i < ARRAY_SIZE(skip); i++)
                if (streq(name, skip[i]))
                        return true;
        return false;
}

static int push_device(struct render *r, device_slice *out, const struct spec_device *d)
{
        if (out->len >= DEVICES_MAX)
                return bf_error_set(r->err, EFBIG, "more than %d devices", DEVICES_MAX);
        struct spec_device *slot = slice_push(r->a, out, sizeof(*slot));
        if (!slot)
                return r_nomem(r);
        *slot = *d;
        return 0;
}

static int walk(struct render *r, const char *path, const char *container_path, device_slice *out, unsigned depth);

static int walk_dir(struct render *r, const char *path, const char *container_path, device_slice *out,
                    unsigned depth)
{
        if (depth > DEVICES_DEPTH_MAX)
                return bf_error_set(r->err, EFBIG, "%s: directories nested deeper than %d", path, DEVICES_DEPTH_MAX);
        /* Entries come and go (hotplug, ptys); stat of the nodes read cannot tell. */
        deps_note_volatile(r);
        DIR *d = opendir(path);
        if (!d) {
                int e = errno;
                return bf_error_set(r->err, bf_errno_class(e), "open %s: %s", path, strerror(e));
        }
        /* os.ReadDir: entries sorted by name, with their types */
        size_t n = 0, cap = 64;
        struct entry {
                const char *name;
                unsigned char type;
        } *entries = malloc(cap * sizeof(*entries));
        int ret = 0;
        struct dirent *de;
        while (entries && (errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (n == cap) {
                        struct entry *ne = realloc(entries, (cap *= 2) * sizeof(*entries));
                        if (!ne) {
                                free(entries);
                                entries = NULL;
                                break;
                        }
                        entries = ne;
                }
                const char *name = arena_strdup(r->a, de->d_name);
                if (!name) {
                        ret = r_nomem(r);
                        break;
                }
                unsigned char type = de->d_type;
                if (type == DT_UNKNOWN) {
                        struct stat st;
                        type = fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode) ?
                                       DT_DIR :
                                       DT_REG;
                }
                entries[n++] = (struct entry){ name, type };
        }
        closedir(d);
        if (!entries)
                return bf_error_oom(r->err);
        if (ret < 0) {
                free(entries);
                return ret;
        }
        qsort(entries, n, sizeof(*entries), name_cmp);

        for (size_t i = 0; i < n && ret == 0; i++) {
                const char *name = entries[i].name;
                const char *full = join(r, path, name);
                const char *cp = NULL;
                if (!full || (container_path && container_path[0] && !(cp = join(r, container_path, name)))) {
                        ret = -r->err->code;
                        break;
                }
                if (entries[i].type == DT_DIR) {
                        if (skipped_dir(name))
                                continue;
                        ret = walk(r, full, cp, out, depth + 1);
                        /* In a user namespace, parts of /dev may not be readable. */
                        if (ret < 0 && running_in_userns() && ret != -ENOMEM && ret != -EFBIG) {
                                bf_error_clear(r->err);
                                ret = 0;
                        }
                        continue;
                }
                if (streq(name, "console"))
                        continue;
                struct spec_device dev;
                ret = device_from_path(r, full, &dev);
                if (ret == -ENODEV || ret == -ENOENT || (ret == -EINVAL && running_in_userns())) {
                        bf_error_clear(r->err);
                        ret = 0;
                        continue;
                }
                if (ret < 0)
                        break;
                if (streq(dev.type, "p"))
                        continue;
                if (cp)
                        dev.path = cp;
                ret = push_device(r, out, &dev);
        }
        free(entries);
        return ret;
}

static int walk(struct render *r, const char *path, const char *container_path, device_slice *out, unsigned depth)
{
        struct stat st;
        if (stat(path, &st) < 0) {
                int e = errno;
                if (e == ENOENT)
                        deps_note_host(r, path, true, NULL);
                else
                        deps_note_volatile(r);
                return bf_error_set(r->err, bf_errno_class(e), "error stating device path: stat %s: %s", path,
                                    e == ENOENT ? "no such file or directory" : strerror(e));
        }
        deps_note_host(r, path, true, &st);
        if (!S_ISDIR(st.st_mode)) {
                struct spec_device dev;
                int ret = device_from_path(r, path, &dev);
                if (ret < 0)
                        return ret;
                if (container_path && container_path[0])
                        dev.path = container_path;
                return push_device(r, out, &dev);
        }
        return walk_dir(r, path, container_path, out, depth);
}

int devices_get(struct render *r, const char *path, const char *container_path, device_slice *ret)
{
        *ret = (device_slice){ 0 };
        return walk(r, path, container_path, ret, 0);
}
