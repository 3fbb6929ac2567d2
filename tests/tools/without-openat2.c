/* without-openat2 PROGRAM [ARG...]: run a program on a kernel that seems to
 * lack openat2(2): a seccomp filter makes the call fail with ENOSYS, so the
 * program takes the path it has for kernels older than 5.6. The tests run
 * bundlefs and bundlefs-render under it to exercise the hand-written
 * resolution inside a root (open_in_root_walk). Needs CAP_SYS_ADMIN (the
 * tests run as root); the filter is inherited by every child. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NATIVE_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NATIVE_ARCH AUDIT_ARCH_AARCH64
#else
#error "without-openat2: add this architecture's AUDIT_ARCH value"
#endif

int main(int argc, char **argv)
{
        if (argc < 2) {
                fprintf(stderr, "usage: without-openat2 PROGRAM [ARG...]\n");
                return 2;
        }
        struct sock_filter filter[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_ARCH, 0, 3),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };
        if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
                fprintf(stderr, "without-openat2: installing the seccomp filter: %s\n", strerror(errno));
                return 1;
        }
        execvp(argv[1], argv + 1);
        fprintf(stderr, "without-openat2: %s: %s\n", argv[1], strerror(errno));
        return 127;
}
