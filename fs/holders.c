/* Who still holds an open file of the tree (holders.h), from
 * /proc/<pid>/fdinfo: each descriptor's flags, mount id and inode. */
#include "holders.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

struct holders {
        int mnt_id;             /* the tree's mount in our mount namespace; 0: unknown */
        char mntns[64];         /* readlink of /proc/self/ns/mnt */
};

/* A mountinfo field with its octal escapes (\040 for a space) undone, in place. */
static void unescape(char *s)
{
        char *w = s;
        for (char *r = s; *r; r++) {
                if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
                    r[3] <= '7') {
                        *w++ = (char) ((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
                        r += 3;
                } else {
                        *w++ = *r;
                }
        }
        *w = '\0';
}

/* The id of the last FUSE mount on mountpoint, or 0. */
static int mount_id_of(const char *mountpoint)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return 0;
        int found = 0;
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) > 0) {
                int id;
                char point[4096], fstype[256];
                const char *sep = strstr(line, " - ");
                if (!sep || sscanf(line, "%d %*d %*s %*s %4095s", &id, point) != 2 ||
                    sscanf(sep + 3, "%255s", fstype) != 1)
                        continue;
                unescape(point);
                if (streq(point, mountpoint) && strncmp(fstype, "fuse", 4) == 0)
                        found = id;
        }
        free(line);
        fclose(f);
        return found;
}

int holders_new(const char *mountpoint, struct holders **ret, bf_error *err)
{
        struct holders *h = calloc(1, sizeof(*h));
        if (!h)
                return bf_error_oom(err);
        h->mnt_id = mount_id_of(mountpoint);
        ssize_t n = readlink("/proc/self/ns/mnt", h->mntns, sizeof(h->mntns) - 1);
        h->mntns[n > 0 ? n : 0] = '\0';
        *ret = h;
        return 0;
}

void holders_free(struct holders *h)
{
        free(h);
}

/* Does descriptor info (an fdinfo file's text) name file ino of the tree,
 * open for writing? mnt_id 0: any mount (another mount namespace numbers
 * its mounts its own way). */
static bool fdinfo_names(const char *text, int mnt_id, uint64_t ino)
{
        unsigned flags = 0;
        int mnt = -1;
        uint64_t i = 0;
        bool have_flags = false, have_ino = false;
        for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
                if (sscanf(p, "flags: %o", &flags) == 1)
                        have_flags = true;
                else if (sscanf(p, "mnt_id: %d", &mnt) == 1)
                        continue;
                else if (sscanf(p, "ino: %" SCNu64, &i) == 1)
                        have_ino = true;
        }
        if (!have_flags || !have_ino || i != ino || (flags & O_ACCMODE) == O_RDONLY)
                return false;
        return mnt_id == 0 || mnt == mnt_id;
}

/* 1 if process pid has file ino open for writing, else 0; a negative
 * errno when /proc cannot say. */
static int process_holds(const struct holders *h, pid_t pid, uint64_t ino)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int) pid);
        char ns[64];
        ssize_t n = readlink(path, ns, sizeof(ns) - 1);
        ns[n > 0 ? n : 0] = '\0';
        /* Mount ids are only ours to compare in our own mount namespace. */
        int mnt_id = h->mnt_id && n > 0 && streq(ns, h->mntns) ? h->mnt_id : 0;
        snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int) pid);
        DIR *d = opendir(path);
        if (!d)
                return errno == ENOENT ? 0 : -errno;
        int found = 0;
        struct dirent *e;
        while (!found && (e = readdir(d))) {
                if (!isdigit((unsigned char) e->d_name[0]))
                        continue;
                _cleanup_close_ int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC);
                char text[512];
                ssize_t len = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
                if (len <= 0)
                        continue;       /* closed meanwhile */
                text[len] = '\0';
                found = fdinfo_names(text, mnt_id, ino);
        }
        closedir(d);
        return found;
}

/* The parent of pid (from /proc/<pid>/stat), or 0. */
static pid_t parent_of(pid_t pid)
{
        char path[64], text[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t len = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
        if (len <= 0)
                return 0;
        text[len] = '\0';
        /* "pid (comm) state ppid ...": comm may hold anything but ends at the last ')' */
        const char *close = strrchr(text, ')');
        int ppid = 0;
        if (!close || sscanf(close + 1, " %*c %d", &ppid) != 1)
                return 0;
        return ppid;
}

int holders_near(const struct holders *h, pid_t pid, uint64_t ino)
{
        if (pid <= 0 || !h)
                return -ESRCH;
        int r = process_holds(h, pid, ino);
        if (r != 0)
                return r;
        pid_t parent = parent_of(pid);
        if (parent > 1 && (r = process_holds(h, parent, ino)) > 0)
                return r;
        char path[96];
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) pid, (int) pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return 0;
        int child;
        r = 0;
        while (r <= 0 && fscanf(f, "%d", &child) == 1)
                r = process_holds(h, child, ino);
        fclose(f);
        return r > 0 ? r : 0;
}
