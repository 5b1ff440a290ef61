/* mem: owns the private jemalloc arena. Created once (pthread_once) on first use;
 * if jemalloc cannot make an arena we still allocate from jemalloc's default arena,
 * never from libc's heap. Byte counts use the real allocation size (sallocx).
 * Threads: any but the signal handler. */
#include "mem.h"

#include <jemalloc/jemalloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef SP_MEM_LIBC
#include <malloc.h>
#include <stdlib.h>
#endif

static pthread_once_t mem_once = PTHREAD_ONCE_INIT;
static int mem_flags = MALLOCX_TCACHE_NONE; /* arena bits; the tcache bits are per thread */
/* Each thread that allocates gets its own explicit jemalloc tcache (the agent allocates per
 * frame, per sample: going to the arena every time cost more than the symbolization).
 * 0: not created yet; -1: creation failed, no tcache. */
static __thread int mem_tcache;
static pthread_key_t tcache_key; /* destroys a thread's tcache when the thread exits */

static void tcache_destroy(void *arg)
{
    unsigned tc = (unsigned)(uintptr_t)arg - 1;
    mallctl("tcache.destroy", NULL, NULL, &tc, sizeof tc);
    mem_tcache = -1; /* a late allocation in this thread's destructors goes without one */
}
static unsigned mem_arena_index;
static _Atomic size_t mem_used, mem_peak;
static _Atomic long fail_countdown = -1; /* sp_mem_fail_after: tests only */

/* True when an injected failure is due (one relaxed load when none is armed). */
static bool injected_failure(void)
{
    long left = atomic_load_explicit(&fail_countdown, memory_order_relaxed);
    if (left < 0) return false;
    if (left == 0) return true; /* every allocation fails until turned off */
    atomic_fetch_sub(&fail_countdown, 1);
    return false;
}

void sp_mem_fail_after(long n) { atomic_store(&fail_countdown, n < 0 ? -1 : n); }
long sp_mem_fail_pending(void) { return atomic_load(&fail_countdown); }

static void mem_init(void)
{
    unsigned idx;
    size_t sz = sizeof idx;
    if (pthread_key_create(&tcache_key, tcache_destroy) != 0) mem_tcache = -1;
    if (mallctl("arenas.create", &idx, &sz, NULL, 0) == 0) {
        mem_arena_index = idx;
        mem_flags = (int)MALLOCX_ARENA(idx) | MALLOCX_TCACHE_NONE;
    }
}

static void count_add(size_t n)
{
    size_t now = atomic_fetch_add(&mem_used, n) + n;
    size_t peak = atomic_load(&mem_peak);
    while (now > peak && !atomic_compare_exchange_weak(&mem_peak, &peak, now)) {
    }
}

#ifdef SP_MEM_LIBC
/* The fuzz build (tests/fuzz/run.sh) takes its memory from libc's malloc instead, so that
 * AddressSanitizer sees every sp_mem buffer's bounds (jemalloc's arenas are invisible to it):
 * an overflow of a parser's buffer is then a report, not a silent write into a neighbour.
 * Never in the library: that must not touch the app's heap. */
void *sp_mem_alloc(size_t n)
{
    if (injected_failure()) return NULL;
    void *p = malloc(n ? n : 1);
    if (p) count_add(malloc_usable_size(p));
    return p;
}
void *sp_mem_calloc(size_t count, size_t n)
{
    if ((n && count > SIZE_MAX / n) || injected_failure()) return NULL;
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (p) count_add(malloc_usable_size(p));
    return p;
}
void *sp_mem_realloc(void *p, size_t n)
{
    if (!p) return sp_mem_alloc(n);
    if (injected_failure()) return NULL;
    size_t old = malloc_usable_size(p);
    void *q = realloc(p, n ? n : 1);
    if (!q) return NULL;
    atomic_fetch_sub(&mem_used, old);
    count_add(malloc_usable_size(q));
    return q;
}
void sp_mem_free(void *p)
{
    if (!p) return;
    atomic_fetch_sub(&mem_used, malloc_usable_size(p));
    free(p);
}
#else
/* Flags for this thread: our arena plus this thread's tcache (or none). */
static int flags(void)
{
    pthread_once(&mem_once, mem_init);
    if (!mem_tcache) {
        unsigned tc;
        size_t sz = sizeof tc;
        mem_tcache = mallctl("tcache.create", &tc, &sz, NULL, 0) == 0 ? (int)tc + 1 : -1;
        if (mem_tcache > 0) pthread_setspecific(tcache_key, (void *)(uintptr_t)mem_tcache);
    }
    int arena = mem_flags & ~MALLOCX_TCACHE_NONE;
    return mem_tcache > 0 ? arena | MALLOCX_TCACHE(mem_tcache - 1) : mem_flags;
}

void *sp_mem_alloc(size_t n)
{
    if (injected_failure()) return NULL;
    int f = flags();
    void *p = mallocx(n ? n : 1, f);
    if (p) count_add(sallocx(p, f));
    return p;
}

void *sp_mem_calloc(size_t count, size_t n)
{
    if ((n && count > SIZE_MAX / n) || injected_failure()) return NULL;
    int f = flags();
    size_t total = count * n;
    void *p = mallocx(total ? total : 1, f | MALLOCX_ZERO);
    if (p) count_add(sallocx(p, f));
    return p;
}

void *sp_mem_realloc(void *p, size_t n)
{
    if (!p) return sp_mem_alloc(n);
    if (injected_failure()) return NULL;
    int f = flags();
    size_t old = sallocx(p, f);
    void *q = rallocx(p, n ? n : 1, f);
    if (!q) return NULL;
    atomic_fetch_sub(&mem_used, old);
    count_add(sallocx(q, f));
    return q;
}

void sp_mem_free(void *p)
{
    if (!p) return;
    int f = flags();
    atomic_fetch_sub(&mem_used, sallocx(p, f));
    dallocx(p, f);
}
#endif

char *sp_mem_strndup(const char *s, size_t n)
{
    char *d = sp_mem_alloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *sp_mem_strdup(const char *s) { return sp_mem_strndup(s, strlen(s)); }
size_t sp_mem_in_use(void) { return atomic_load(&mem_used); }
size_t sp_mem_peak(void) { return atomic_load(&mem_peak); }
unsigned sp_mem_arena(void)
{
    pthread_once(&mem_once, mem_init);
    return mem_arena_index;
}

void sp_mem_populate(void *p, size_t len)
{
#ifdef MADV_POPULATE_WRITE
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0 || !p || !len) return;
    /* Rounded out: the pages of a neighbouring allocation are mapped too, and keep their
     * contents. */
    uintptr_t lo = (uintptr_t)p, hi = lo + len, mask = (uintptr_t)pg - 1;
    lo &= ~mask;
    hi = (hi + mask) & ~mask;
    int saved = errno;
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
    errno = saved;
#else
    (void)p;
    (void)len;
#endif
}
