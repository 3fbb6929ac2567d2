/* File handles (handles.h). */
#include "handles.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lock.h"
#include "util.h"

/* A mount handles were made on: the descriptor open_by_handle_at
 * interprets them with. Entries are only ever added (a handle names its
 * entry by index, read without the lock); a mount id the kernel gives to
 * another mount later is told apart by its device. */
struct mount_ref {
        int mount_id;
        dev_t dev;
        int fd;
};

struct handles {
        mutex lock;
        struct mount_ref mounts[HANDLES_MOUNTS_MAX];
        unsigned count;         /* written under lock, read atomically */
};

struct fhandle {
        uint8_t mount;          /* index in mounts[] */
        uint8_t bytes;
        int32_t type;
        unsigned char f[];
};

/* open_by_handle_at takes a struct file_handle with the bytes inline. */
union handle_buf {
        struct file_handle fh;
        char space[sizeof(struct file_handle) + MAX_HANDLE_SZ];
};

int handles_new(struct handles **ret, bf_error *err)
{
        struct handles *hs = calloc(1, sizeof(*hs));
        if (!hs)
                return bf_error_oom(err);
        mutex_init(&hs->lock);
        *ret = hs;
        return 0;
}

void handles_free(struct handles *hs)
{
        if (!hs)
                return;
        for (unsigned i = 0; i < hs->count; i++)
                close(hs->mounts[i].fd);
        mutex_destroy(&hs->lock);
        free(hs);
}

/* A descriptor open_by_handle_at accepts (not O_PATH) on the mount of the
 * file fd is open on: that file opened again, if it is a directory or a
 * regular file (opening anything else may do something). */
static int mount_fd_of(int fd, const struct stat *st)
{
        if (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode))
                return -EOPNOTSUPP;
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        int m = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (S_ISDIR(st->st_mode) ? O_DIRECTORY : 0));
        return m < 0 ? -errno : m;
}

/* The index of the mount (id, st->st_dev), added with fd's file if new. */
static int mount_index(struct handles *hs, int mount_id, int fd, const struct stat *st)
{
        mutex_lock(&hs->lock);
        int r = -EOPNOTSUPP;
        for (unsigned i = 0; i < hs->count; i++)
                if (hs->mounts[i].mount_id == mount_id && hs->mounts[i].dev == st->st_dev) {
                        r = (int) i;
                        goto out;
                }
        if (hs->count == HANDLES_MOUNTS_MAX)
                goto out;
        int m = mount_fd_of(fd, st);
        if (m < 0) {
                r = m;
                goto out;
        }
        hs->mounts[hs->count] = (struct mount_ref){ .mount_id = mount_id, .dev = st->st_dev, .fd = m };
        r = (int) hs->count;
        __atomic_store_n(&hs->count, hs->count + 1, __ATOMIC_RELEASE);
out:
        mutex_unlock(&hs->lock);
        return r;
}

int fhandle_of(struct handles *hs, int fd, struct fhandle **ret)
{
        union handle_buf buf = { .fh.handle_bytes = MAX_HANDLE_SZ };
        int mount_id;
        struct stat st;
        if (name_to_handle_at(fd, "", &buf.fh, &mount_id, AT_EMPTY_PATH) < 0)
                return errno == EOVERFLOW || errno == ENOSYS ? -EOPNOTSUPP : -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        int m = mount_index(hs, mount_id, fd, &st);
        if (m < 0)
                return m == -ENOMEM || m == -EMFILE || m == -ENFILE ? m : -EOPNOTSUPP;
        struct fhandle *h = malloc(sizeof(*h) + buf.fh.handle_bytes);
        if (!h)
                return -ENOMEM;
        h->mount = (uint8_t) m;
        h->bytes = (uint8_t) buf.fh.handle_bytes;
        h->type = buf.fh.handle_type;
        memcpy(h->f, buf.fh.f_handle, buf.fh.handle_bytes);
        *ret = h;
        return 0;
}

int fhandle_open(struct handles *hs, const struct fhandle *h, int flags)
{
        union handle_buf buf = { .fh.handle_bytes = h->bytes, .fh.handle_type = h->type };
        memcpy(buf.fh.f_handle, h->f, h->bytes);
        int fd = open_by_handle_at(hs->mounts[h->mount].fd, &buf.fh, flags | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

bool fhandle_same(const struct fhandle *a, const struct fhandle *b)
{
        return a->mount == b->mount && a->type == b->type && a->bytes == b->bytes && memcmp(a->f, b->f, a->bytes) == 0;
}

void fhandle_free(struct fhandle *h)
{
        free(h);
}
