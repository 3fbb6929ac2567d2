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
#define REQUIRES_SHARED(...) THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
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

/* A readers-writer lock: many holders in shared mode, or one alone. */
typedef struct CAPABILITY("rwlock") rwlock {
        pthread_rwlock_t l;
} rwlock;

static inline void rwlock_init(rwlock *l)
{
        /* Writers first: a waiting writer is not starved by a stream of readers. */
        pthread_rwlockattr_t a;
        pthread_rwlockattr_init(&a);
        pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        pthread_rwlock_init(&l->l, &a);
        pthread_rwlockattr_destroy(&a);
}

static inline void rwlock_destroy(rwlock *l)
{
        pthread_rwlock_destroy(&l->l);
}

static inline void rwlock_lock(rwlock *l) ACQUIRE(l) NO_LOCK_ANALYSIS
{
        pthread_rwlock_wrlock(&l->l);
}

static inline void rwlock_unlock(rwlock *l) RELEASE(l) NO_LOCK_ANALYSIS
{
        pthread_rwlock_unlock(&l->l);
}

static inline void rwlock_lock_shared(rwlock *l) ACQUIRE_SHARED(l) NO_LOCK_ANALYSIS
{
        pthread_rwlock_rdlock(&l->l);
}

static inline void rwlock_unlock_shared(rwlock *l) RELEASE_SHARED(l) NO_LOCK_ANALYSIS
{
        pthread_rwlock_unlock(&l->l);
}
