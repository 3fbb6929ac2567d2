/* Mutexes the compiler checks. Functions say which locks they take, need
 * or must not hold (ACQUIRE, REQUIRES, EXCLUDES), and clang's
 * -Wthread-safety checks every call (the clang build of scripts/test).
 * GUARDED_BY names the lock of a field; C compilers do not check field
 * guards yet, so it is documentation there. Other compilers ignore all of
 * it. The lock order of the filesystem is written once, in
 * DEVELOPERS.md ("Locks"). */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#if defined(__clang__)
#define THREAD_ANNOTATION(x) __attribute__((x))
#else
#define THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) THREAD_ANNOTATION(capability(x))
#define REQUIRES(...) THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define NO_LOCK_ANALYSIS THREAD_ANNOTATION(no_thread_safety_analysis)
/* The lock that guards a field (checked in C by newer compilers only). */
#define GUARDED_BY(x)

typedef struct CAPABILITY("mutex") mutex {
        pthread_mutex_t m;
} mutex;

static inline void mutex_init(mutex *m)
{
        pthread_mutex_init(&m->m, NULL);
}

static inline void mutex_destroy(mutex *m)
{
        pthread_mutex_destroy(&m->m);
}

static inline void mutex_lock(mutex *m) ACQUIRE(m) NO_LOCK_ANALYSIS
{
        pthread_mutex_lock(&m->m);
}

static inline void mutex_unlock(mutex *m) RELEASE(m) NO_LOCK_ANALYSIS
{
        pthread_mutex_unlock(&m->m);
}

static inline bool mutex_trylock(mutex *m) TRY_ACQUIRE(true, m) NO_LOCK_ANALYSIS
{
        return pthread_mutex_trylock(&m->m) == 0;
}

static inline void cond_wait(pthread_cond_t *c, mutex *m) REQUIRES(m) NO_LOCK_ANALYSIS
{
        pthread_cond_wait(c, &m->m);
}

static inline int cond_timedwait(pthread_cond_t *c, mutex *m, const struct timespec *deadline) REQUIRES(m)
        NO_LOCK_ANALYSIS
{
        return pthread_cond_timedwait(c, &m->m, deadline);
}
