/* Who asks (caller.h). */
#include "caller.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util.h"

/* The first size - 1 bytes of /proc/<pid>/<what>, NUL-terminated. */
static int proc_read(pid_t pid, const char *what, char *out, size_t size)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int) pid, what);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, out, size - 1);
        if (n < 0)
                return -errno;
        out[n] = '\0';
        return 0;
}

int proc_id_of(pid_t tid, struct proc_id *ret)
{
        if (tid <= 0)
                return -ESRCH;
        char text[4096];
        int r = proc_read(tid, "status", text, sizeof(text));
        if (r < 0)
                return r;
        const char *p = strstr(text, "\nTgid:");
        if (!p)
                return -EIO;
        pid_t tgid = (pid_t) strtol(p + 6, NULL, 10);
        /* the start time is field 22 of stat, the 20th after the command's ")" */
        r = proc_read(tgid, "stat", text, sizeof(text));
        if (r < 0)
                return r;
        p = strrchr(text, ')');
        for (int field = 2; p && field < 22; field++)
                p = strchr(p + 1, ' ');
        if (!p || tgid <= 0)
                return -EIO;
        *ret = (struct proc_id){ .tgid = tgid, .start = strtoull(p + 1, NULL, 10) };
        return 0;
}

static bool exclusive(uint64_t flags)
{
        return (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL);
}

bool proc_creating_exclusively(pid_t tid)
{
        /* "<nr> <arg1> ... <arg6> <sp> <pc>", numbers in hex but nr */
        char text[256];
        if (tid <= 0 || proc_read(tid, "syscall", text, sizeof(text)) < 0)
                return false;
        long nr;
        uint64_t a[6];
        if (sscanf(text, "%ld %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64, &nr, &a[0],
                   &a[1], &a[2], &a[3], &a[4], &a[5]) != 7)
                return false;
        switch (nr) {
#ifdef SYS_open
        case SYS_open:
                return exclusive(a[1]);
#endif
        case SYS_openat:
                return exclusive(a[2]);
#ifdef SYS_openat2
        case SYS_openat2: {
                /* flags are the first member of the struct open_how it points to */
                uint64_t flags = 0;
                struct iovec local = { .iov_base = &flags, .iov_len = sizeof(flags) };
                struct iovec remote = { .iov_base = (void *) (uintptr_t) a[2], .iov_len = sizeof(flags) };
                return process_vm_readv(tid, &local, 1, &remote, 1, 0) == (ssize_t) sizeof(flags) &&
                       exclusive(flags);
        }
#endif
        default:
                return false;
        }
}
