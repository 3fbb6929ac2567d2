/* Helpers both benchmarks use. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

static inline double bench_now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
        double x = *(const double *) a, y = *(const double *) b;
        return (x > y) - (x < y);
}

static inline bool bench_file_exists(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The 12-option list containerd's reference figures were measured on: the
 * shared copy beside the repository when there is one, else bench's own. */
static inline const char *bench_find_list12(void)
{
        static const char *const candidates[] = {
                BENCH_SOURCE_ROOT "/../shared/bench/list12.opts",
                BENCH_SOURCE_ROOT "/bench/list12.opts",
        };
        for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++)
                if (bench_file_exists(candidates[i]))
                        return candidates[i];
        return NULL;
}
