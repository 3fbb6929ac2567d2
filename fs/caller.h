/* Who a request comes from, beyond what FUSE tells (a thread id, uid and
 * gid): the process that thread belongs to, and whether it is in the middle
 * of an exclusive create (open(2) with O_CREAT|O_EXCL). Both are read from
 * /proc; the tree uses them to let a process that removed a container's
 * file, or made the container, create that file anew (lifecycle.c). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* A process, told apart from a later one given the same id. */
struct proc_id {
        pid_t tgid;             /* 0: none */
        unsigned long long start;       /* its start time, in clock ticks after boot */
};

/* The process thread tid belongs to (-errno: gone, or /proc unreadable). */
int proc_id_of(pid_t tid, struct proc_id *ret);
static inline bool proc_id_eq(const struct proc_id *a, const struct proc_id *b)
{
        return a->tgid && a->tgid == b->tgid && a->start == b->start;
}
/* Is thread tid, now waiting on the tree, in open(2), openat(2) or
 * openat2(2) with O_CREAT and O_EXCL? False when that cannot be read. */
bool proc_creating_exclusively(pid_t tid);
