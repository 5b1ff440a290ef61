/* fatal: owns the SIGTERM/SIGINT/SIGHUP handler, the two pipes between it and the flush
 * thread, and that thread ("sentryprof-exit", every signal blocked, mostly asleep in read).
 *
 * Threads: sp_fatal_arm on a JS thread; the handler on whichever thread the kernel picks;
 * the flush callback on the flush thread. No locks.
 * Rules for the handler (docs/HAZARDS.md section 4): only async-signal-safe calls (getpid, write,
 * poll, clock_gettime, sigaction, raise), errno saved, bounded wait. It runs with SA_NODEFER
 * and an empty mask, so a second fatal signal during the flush (on this thread or another)
 * kills the process at once. In a child that shares or copied our memory (vfork,
 * posix_spawn, fork) getpid differs from the pid that armed us: the handler only restores
 * the previous disposition and re-raises, exactly what would have happened without us.
 * Why the previous disposition is restored rather than SIG_DFL: node installs its own
 * SIGINT/SIGTERM handler (it resets the terminal, then re-raises with SA_RESETHAND); running
 * it keeps node's behaviour byte for byte. Why only handlers inside the node executable with
 * SA_RESETHAND are chained besides SIG_DFL: libuv's (a JS listener) or an addon's handler
 * may keep the process alive; those signals are not ours to flush on. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dl_iterate_phdr, RTLD_DEFAULT */
#endif

#include "fatal.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define SP_FATAL_MARGIN_MS 300        /* the handler waits the budget plus this */
#define SP_FATAL_STACK (256u << 10)   /* the flush thread's stack */
#define SP_FATAL_NSIG 3

static const int fatal_signo[SP_FATAL_NSIG] = {SIGTERM, SIGINT, SIGHUP};
static struct sigaction old_act[SP_FATAL_NSIG];
static _Atomic int armed_mask;
static pid_t owner_pid;      /* the process that armed us; 0: none */
static int budget;           /* ms */
static sp_fatal_flush_fn flush_fn;
static int req_pipe[2] = {-1, -1};  /* handler -> flush thread */
static int done_pipe[2] = {-1, -1}; /* flush thread -> handler */
static _Atomic int flushing;
static bool thread_started;

static int index_of(int sig)
{
    for (int i = 0; i < SP_FATAL_NSIG; i++)
        if (fatal_signo[i] == sig) return i;
    return -1;
}

static long elapsed_ms(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000L + (now.tv_nsec - t0->tv_nsec) / 1000000L;
}

/* Waits until the flush thread says done or ms pass (the sampler's signal may interrupt). */
static void wait_done(int ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        long left = ms - elapsed_ms(&t0);
        if (left <= 0) return;
        struct pollfd p = {.fd = done_pipe[0], .events = POLLIN};
        int r = poll(&p, 1, (int)left);
        if (r > 0 || (r < 0 && errno != EINTR)) return;
    }
}

static void on_fatal_signal(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    int saved = errno;
    int i = index_of(sig);
    if (i < 0) {
        errno = saved;
        return;
    }
    if (getpid() == owner_pid && atomic_exchange(&flushing, 1) == 0) {
        char b = (char)sig;
        if (write(req_pipe[1], &b, 1) == 1) wait_done(budget + SP_FATAL_MARGIN_MS);
    }
    /* As if we had never been installed: the previous disposition takes the signal. */
    sigaction(sig, &old_act[i], NULL);
    atomic_fetch_and(&armed_mask, ~(1 << i));
    raise(sig);
    errno = saved;
}

static void *flush_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "sentryprof-exit");
    char b;
    for (;;) {
        ssize_t r = read(req_pipe[0], &b, 1);
        if (r == 1) break;
        if (r < 0 && errno == EINTR) continue;
        return NULL; /* the pipe is gone: nothing to do ever */
    }
    SP_DEBUG("signal %d: flushing before the process dies (at most %d ms)", (int)b, budget);
    if (flush_fn) flush_fn(budget);
    ssize_t w = write(done_pipe[1], "x", 1);
    (void)w;
    return NULL;
}

static bool start_thread(void)
{
    if (thread_started) return true;
    if (pipe2(req_pipe, O_CLOEXEC) < 0) return false;
    if (pipe2(done_pipe, O_CLOEXEC) < 0) {
        close(req_pipe[0]);
        close(req_pipe[1]);
        req_pipe[0] = req_pipe[1] = -1;
        return false;
    }
    /* The handler must never block on a full pipe (it is written once anyway). */
    fcntl(req_pipe[1], F_SETFL, O_NONBLOCK);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, SP_FATAL_STACK);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread never takes a signal */
    pthread_t t;
    int rc = pthread_create(&t, &at, flush_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&at);
    if (rc != 0) {
        close(req_pipe[0]), close(req_pipe[1]), close(done_pipe[0]), close(done_pipe[1]);
        req_pipe[0] = req_pipe[1] = done_pipe[0] = done_pipe[1] = -1;
        return false;
    }
    thread_started = true;
    return true;
}

/* The program headers of the loaded object whose PT_LOAD segments hold addr (NULL: none):
 * a walk of the loaded objects' program headers, microseconds. dladdr answered the same
 * question by scanning the object's whole dynamic symbol table: node exports ~40,000
 * symbols, and the two calls below cost ~2 ms of every profiled node's start. */
struct object_of {
    uintptr_t addr;
    const void *phdr;
};

static int object_of_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct object_of *o = data;
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD) continue;
        uintptr_t lo = (uintptr_t)info->dlpi_addr + (uintptr_t)ph->p_vaddr;
        if (o->addr >= lo && o->addr - lo < (uintptr_t)ph->p_memsz) {
            o->phdr = info->dlpi_phdr;
            return 1;
        }
    }
    return 0;
}

static const void *object_of(const void *addr)
{
    struct object_of o = {(uintptr_t)addr, NULL};
    dl_iterate_phdr(object_of_cb, &o);
    return o.phdr;
}

/* node's own SIGINT/SIGTERM handler: a function in the node executable installed with
 * SA_RESETHAND (it resets the terminal and re-raises). libuv's (a JS listener) has no
 * SA_RESETHAND; an addon's lives in another object. */
static bool is_node_default_handler(int sig, const struct sigaction *sa)
{
    if (sig != SIGINT && sig != SIGTERM) return false;
    if (!(sa->sa_flags & SA_RESETHAND)) return false;
    void *fn = (sa->sa_flags & SA_SIGINFO) ? (void *)sa->sa_sigaction : (void *)sa->sa_handler;
    void *node_sym = dlsym(RTLD_DEFAULT, "napi_module_register");
    const void *obj = node_sym ? object_of(node_sym) : NULL;
    return obj && object_of((const void *)fn) == obj;
}

int sp_fatal_arm(int mask, int budget_ms, sp_fatal_flush_fn flush)
{
    if (budget_ms <= 0 || !flush) return 0;
    pid_t pid = getpid();
    if (owner_pid && owner_pid != pid) return 0; /* a fork child stays inert */
    budget = budget_ms;
    flush_fn = flush;
    for (int i = 0; i < SP_FATAL_NSIG; i++) {
        int sig = fatal_signo[i];
        if (!(mask & (1 << i)) || (atomic_load(&armed_mask) & (1 << i))) continue;
        struct sigaction cur;
        if (sigaction(sig, NULL, &cur) != 0) continue;
        bool dfl = !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL;
        if (!dfl && !is_node_default_handler(sig, &cur)) {
            SP_DEBUG("signal %d has a handler of its own: no flush on it", sig);
            continue;
        }
        if (!start_thread()) {
            SP_DEBUG("cannot start the exit flush thread: no flush on fatal signals");
            return atomic_load(&armed_mask);
        }
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_fatal_signal;
        sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        old_act[i] = cur;
        owner_pid = pid;
        if (sigaction(sig, &sa, NULL) == 0) atomic_fetch_or(&armed_mask, 1 << i);
    }
    return atomic_load(&armed_mask);
}

int sp_fatal_armed(void)
{
    int m = 0;
    for (int i = 0; i < SP_FATAL_NSIG; i++) {
        struct sigaction cur;
        if ((atomic_load(&armed_mask) & (1 << i)) && sigaction(fatal_signo[i], NULL, &cur) == 0 &&
            (cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_fatal_signal)
            m |= 1 << i;
    }
    return m;
}
