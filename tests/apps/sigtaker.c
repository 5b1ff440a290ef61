/* sigtaker: a preloaded fixture playing native code (an addon, a library) that takes over a
 * real-time signal while node runs (issue #20 item 10, tests/e2e/foreign_signal.sh).
 * Environment:
 *   SIGTAKER_SIGNO     the signal to take (the test sets SENTRYPROF_SIGNAL to the same)
 *   SIGTAKER_MODE      dfl: sigaction(SIG_DFL); signal: signal(SIG_DFL); handler: a
 *                      sigaction handler counting the POSIX-timer ticks (SI_TIMER) it gets
 *   SIGTAKER_DELAY_MS  how long after load a thread of its own does it (default 1000)
 *   SIGTAKER_OUT       where the handler mode writes "<timer ticks received>" at exit
 * Unset SIGTAKER_SIGNO: does nothing. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_int ticks;
static int signo;

static void on_signal(int sig, siginfo_t *info, void *uc)
{
    (void)sig;
    (void)uc;
    if (info->si_code == SI_TIMER) atomic_fetch_add(&ticks, 1);
}

static void *take(void *arg)
{
    const char *mode = arg;
    const char *d = getenv("SIGTAKER_DELAY_MS");
    long ms = d ? atol(d) : 1000;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    if (strcmp(mode, "signal") == 0) {
        signal(signo, SIG_DFL);
    } else {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sigemptyset(&sa.sa_mask);
        if (strcmp(mode, "handler") == 0) {
            sa.sa_sigaction = on_signal;
            sa.sa_flags = SA_SIGINFO | SA_RESTART;
        } else {
            sa.sa_handler = SIG_DFL;
        }
        sigaction(signo, &sa, NULL);
    }
    return NULL;
}

__attribute__((constructor)) static void start(void)
{
    const char *s = getenv("SIGTAKER_SIGNO"), *mode = getenv("SIGTAKER_MODE");
    if (!s || !mode) return;
    signo = atoi(s);
    pthread_t t;
    if (pthread_create(&t, NULL, take, (void *)mode) == 0) pthread_detach(t);
}

__attribute__((destructor)) static void report(void)
{
    const char *out = getenv("SIGTAKER_OUT");
    if (!out || !signo) return;
    FILE *f = fopen(out, "w");
    if (!f) return;
    fprintf(f, "%d\n", atomic_load(&ticks));
    fclose(f);
}
