/* uploader: owns the delivery thread and the child processes it spawns.
 * Threads: init on the constructor's thread; notify from the agent thread; the loop on its
 * own thread (all signals blocked, named "sentryprof-up"); shutdown on the exiting thread.
 * Lock order: up_lock only. Reads no variable itself (SENTRYPROF_CLI and SENTRY_DSN come
 * from config); copies environ once for the children's environment (see enable).
 * Child exit codes: SP_UPLOAD_EXIT_* in uploader.h (tools/upload.c returns them). Failures
 * are told on the child's --status-fd: one warning line per cause per process (a wrong key,
 * a closed port, a rate limit), not one per upload. */
#include "uploader.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dsn.h"
#include "log.h"
#include "mem.h"

#define SP_UP_RETRY_DEFERRED_S 5  /* exit 4: something is rate limited or backing off */
#define SP_UP_RETRY_ERROR_S 30    /* any other failure */
#define SP_UP_CHILD_TIMEOUT_S 30  /* --timeout for a child started while running */
#define SP_UP_MAX_ENV 4096
#define SP_UP_SWEEP_DELAY_S 1     /* first pass once a DSN is known: what dead processes left */
#define SP_UP_DSN_MAX 512
#define SP_UP_SDK_RESPONSE_MAX 512 /* one --sdk-response value (a longer header is cut) */

extern char **environ;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    atomic_bool enabled; /* read unlocked by notify (the agent thread) */
    bool started, stop, disabled;
    pthread_t thread;
    unsigned long published, handled; /* notifications seen / handled */
    time_t retry_at;                  /* 0: none */
    pid_t child;
    char cli[PATH_MAX];
    char spool[PATH_MAX];
    char **envp;
    int shutdown_ms;
    bool debug;
    char lib_path[PATH_MAX];    /* our .so: the CLI is found next to it */
    char cli_env[PATH_MAX];     /* SENTRYPROF_CLI, "" when unset */
    char env_dsn[SP_CONFIG_DSN_MAX]; /* SENTRY_DSN as config read it, "" when unset */
    char dsn[SP_UP_DSN_MAX];    /* from an app's Sentry SDK (passed as --dsn); "" = SENTRY_DSN */
    /* the SDK's answers not yet handed to a child, "AT\tSTATUS\tRETRY_AFTER\tRATE_LIMITS" */
    char sdk_resp[SP_UP_SDK_RESPONSES][SP_UP_SDK_RESPONSE_MAX];
    unsigned sdk_n;
} up = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool executable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static bool find_cli(const char *lib_path)
{
    if (up.cli_env[0]) {
        snprintf(up.cli, sizeof up.cli, "%s", up.cli_env);
        return executable(up.cli);
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", lib_path ? lib_path : "");
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        /* build tree: .libs/../tools/sentryprof; installed: lib/../bin/sentryprof */
        const char *const rel[] = {"/../tools/sentryprof", "/../bin/sentryprof"};
        for (size_t i = 0; i < 2; i++) {
            int n = snprintf(up.cli, sizeof up.cli, "%s%s", dir, rel[i]);
            if (n > 0 && (size_t)n < sizeof up.cli && executable(up.cli)) return true;
        }
    }
#ifdef SP_BINDIR
    snprintf(up.cli, sizeof up.cli, "%s/sentryprof", SP_BINDIR);
    if (executable(up.cli)) return true;
#endif
    return false;
}

static void start_thread_locked(void);

/* Finds the CLI, copies the environment, marks the uploader enabled and schedules the
 * first pass (the sweep) SP_UP_SWEEP_DELAY_S from now. False when there is no CLI. */
static bool enable(const char *dsn_source)
{
    if (!find_cli(up.lib_path)) {
        SP_WARN("%s is set but the sentryprof CLI was not found next to the library; "
                "profiles stay in %s (send them with `sentryprof upload`)", dsn_source, up.spool);
        return false;
    }
    /* The child gets our environment as it was before main, minus LD_PRELOAD (on purpose a
     * copy of environ, not config: the child is a separate program with its own loader,
     * and it must see the variables as the app was given them): reading environ later
     * from another thread would race with the app's setenv. */
    size_t n = 0;
    while (n < SP_UP_MAX_ENV && environ[n]) n++;
    up.envp = sp_mem_calloc(n + 1, sizeof *up.envp);
    if (!up.envp) return false;
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0) up.envp[o++] = sp_mem_strdup(environ[i]);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&up.wake, &ca);
    pthread_condattr_destroy(&ca);
    up.enabled = true;
    SP_DEBUG("uploader: %s --spool %s (DSN from %s)", up.cli, up.spool, dsn_source);
    return true;
}

void sp_uploader_init(const sp_config_t *cfg, const char *lib_path)
{
    up.debug = cfg->debug;
    up.shutdown_ms = cfg->shutdown_ms;
    snprintf(up.spool, sizeof up.spool, "%s", cfg->spool_dir);
    snprintf(up.lib_path, sizeof up.lib_path, "%s", lib_path ? lib_path : "");
    snprintf(up.cli_env, sizeof up.cli_env, "%s", cfg->cli);
    snprintf(up.env_dsn, sizeof up.env_dsn, "%s", cfg->has_dsn ? cfg->dsn : "");
    /* config.c warned about a bad DSN */
    if (!cfg->has_dsn || !cfg->dsn_valid || !enable(SP_ENV_DSN)) return;
    /* The sweep: a process killed with -9 (or by the OOM killer) left its open chunk and
     * batch in the spool; the next process with a DSN sends them within its first seconds
     * even if it spools nothing itself for a while. */
    pthread_mutex_lock(&up.lock);
    up.retry_at = time(NULL) + SP_UP_SWEEP_DELAY_S;
    start_thread_locked();
    pthread_mutex_unlock(&up.lock);
}

void sp_uploader_set_dsn(const char *dsn)
{
    if (!dsn || !*dsn) return;
    if (strlen(dsn) >= sizeof up.dsn) {
        SP_WARN("the Sentry SDK's DSN is longer than %zu bytes; profiles stay in %s", sizeof up.dsn - 1, up.spool);
        return;
    }
    /* The same parser as SENTRY_DSN's and `sentryprof upload`'s: a DSN in the app's code
     * that Sentry would refuse gets its one line now, not an upload child per retry. */
    sp_dsn_t parsed;
    char why[160];
    if (sp_dsn_parse(dsn, &parsed, why, sizeof why) != 0) {
        static atomic_bool warned; /* any JS thread; one line per process */
        if (!atomic_exchange(&warned, true))
            SP_WARN("the Sentry SDK's DSN \"%.200s\" is not a valid DSN: %s; profiles stay in %s",
                    dsn, why, up.spool);
        return;
    }
    pthread_mutex_lock(&up.lock);
    /* The environment's DSN, already in use, or the SDK's again: nothing changes. */
    bool same = strcmp(up.dsn, dsn) == 0 || (up.enabled && !up.dsn[0] && strcmp(up.env_dsn, dsn) == 0);
    if (!same) snprintf(up.dsn, sizeof up.dsn, "%s", dsn);
    bool need_enable = !up.enabled && !up.stop && up.lib_path[0];
    pthread_mutex_unlock(&up.lock);
    if (same) return;
    /* Called on a JS thread, the one that owns the environment: copying environ is safe
     * here as it was in the constructor. */
    if (need_enable && !enable("the Sentry SDK's DSN")) return;
    pthread_mutex_lock(&up.lock);
    if (up.enabled) {
        up.disabled = false; /* a new DSN gets its own chance (exit 3 was about the old one) */
        up.published++; /* a pass now: Sentry.init is past the app's startup already */
        start_thread_locked();
        pthread_cond_broadcast(&up.wake);
    }
    pthread_mutex_unlock(&up.lock);
}

/* Copies v into out with tabs and line ends as spaces: the fields are tab-separated. */
static void field(char *out, size_t len, const char *v)
{
    snprintf(out, len, "%s", v ? v : "");
    for (char *c = out; *c; c++)
        if (*c == '\t' || *c == '\n' || *c == '\r') *c = ' ';
}

void sp_uploader_sdk_response(long status, const char *rate_limits, const char *retry_after)
{
    if (!up.enabled) return; /* no DSN: nothing of ours is sent */
    char rl[SP_UP_SDK_RESPONSE_MAX - 64], ra[48];
    field(rl, sizeof rl, rate_limits);
    field(ra, sizeof ra, retry_after);
    if (status != 429 && !rl[0]) return; /* nothing to hold back */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    pthread_mutex_lock(&up.lock);
    if (up.sdk_n == SP_UP_SDK_RESPONSES) { /* the oldest goes */
        memmove(up.sdk_resp[0], up.sdk_resp[1], sizeof up.sdk_resp[0] * (SP_UP_SDK_RESPONSES - 1));
        up.sdk_n--;
    }
    snprintf(up.sdk_resp[up.sdk_n++], SP_UP_SDK_RESPONSE_MAX, "%.3f\t%ld\t%s\t%s",
             (double)now.tv_sec + now.tv_nsec / 1e9, status, ra, rl);
    pthread_mutex_unlock(&up.lock);
    SP_DEBUG("uploader: the Sentry SDK was told %ld%s%s%s%s; our next upload holds to it", status,
             rl[0] ? " X-Sentry-Rate-Limits: " : "", rl, ra[0] ? " Retry-After: " : "", ra);
}

#define SP_UP_CAUSES 16      /* distinct failure causes remembered (warned once each) */
#define SP_UP_CAUSE_LEN 32
#define SP_UP_STATUS_FD 3     /* the child's --status-fd */

/* Causes already warned about in this process (under up.lock). */
static char warned_causes[SP_UP_CAUSES][SP_UP_CAUSE_LEN];

/* One status line of the child ("<cause>\t<text>"): warned once per cause per process. */
static void status_line(char *line)
{
    char *tab = strchr(line, '\t');
    if (!tab || tab == line || tab - line >= SP_UP_CAUSE_LEN) return;
    *tab = '\0';
    bool seen = false;
    pthread_mutex_lock(&up.lock);
    size_t i;
    for (i = 0; i < SP_UP_CAUSES && warned_causes[i][0]; i++)
        if (strcmp(warned_causes[i], line) == 0) seen = true;
    if (!seen && i < SP_UP_CAUSES) memcpy(warned_causes[i], line, (size_t)(tab - line) + 1);
    pthread_mutex_unlock(&up.lock);
    if (!seen) SP_WARN("%s", tab + 1);
    else SP_DEBUG("%s", tab + 1);
}

typedef struct {
    int fd;
    char buf[2048];
    size_t len;
} status_reader_t;

/* Reads what the child wrote (the fd is non-blocking); complete lines go to status_line.
 * 1: read something, 0: end of file, -1: nothing there now. */
static int read_status(status_reader_t *r)
{
    ssize_t n = read(r->fd, r->buf + r->len, sizeof r->buf - 1 - r->len);
    if (n < 0) return errno == EINTR ? 1 : errno == EAGAIN ? -1 : 0;
    if (n == 0) return 0;
    r->len += (size_t)n;
    r->buf[r->len] = '\0';
    char *p = r->buf, *nl;
    while ((nl = strchr(p, '\n'))) {
        *nl = '\0';
        status_line(p);
        p = nl + 1;
    }
    r->len -= (size_t)(p - r->buf);
    memmove(r->buf, p, r->len);
    if (r->len == sizeof r->buf - 1) r->len = 0; /* an over-long line: dropped */
    return 1;
}

/* Runs `sentryprof upload --once --quiet --timeout T --spool DIR --status-fd 3` and returns
 * its exit code, waiting at most wait_ms (then -ETIMEDOUT; the child finishes on its own by
 * its timeout). Its failures arrive as status lines on a pipe, warned once per cause; with
 * SENTRYPROF_DEBUG its stderr is ours, so its debug lines show too. */
static int run_child(int timeout_s, int wait_ms)
{
    char tbuf[16], fdbuf[8], dsn[SP_UP_DSN_MAX];
    char resp[SP_UP_SDK_RESPONSES][SP_UP_SDK_RESPONSE_MAX];
    unsigned nresp;
    snprintf(tbuf, sizeof tbuf, "%d", timeout_s);
    snprintf(fdbuf, sizeof fdbuf, "%d", SP_UP_STATUS_FD);
    pthread_mutex_lock(&up.lock);
    memcpy(dsn, up.dsn, sizeof dsn);
    nresp = up.sdk_n; /* this child takes the SDK's answers (given back if it cannot start) */
    memcpy(resp, up.sdk_resp, sizeof resp);
    up.sdk_n = 0;
    pthread_mutex_unlock(&up.lock);
    char *argv[12 + 2 * SP_UP_SDK_RESPONSES + 1] = {up.cli, "upload", "--once", "--quiet", "--timeout", tbuf,
                                                    "--spool", up.spool, "--status-fd", fdbuf};
    size_t ac = 10;
    if (dsn[0]) {
        argv[ac++] = "--dsn";
        argv[ac++] = dsn;
    }
    for (unsigned i = 0; i < nresp; i++) {
        argv[ac++] = "--sdk-response";
        argv[ac++] = resp[i];
    }
    argv[ac] = NULL;
    int sp[2];
    if (pipe2(sp, O_CLOEXEC) < 0) return -errno;
    fcntl(sp[0], F_SETFL, O_NONBLOCK); /* ours only: the child's end stays blocking */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    /* Debug: the child's stderr is ours. node's fd 2 can be close-on-exec, so it is handed
     * over through a copy dup2'd onto 2 (dup2 clears FD_CLOEXEC on the target). */
    int err_copy = up.debug ? fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3) : -1;
    if (err_copy >= 0) posix_spawn_file_actions_adddup2(&fa, err_copy, STDERR_FILENO);
    else posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, sp[1], SP_UP_STATUS_FD); /* dup2 clears CLOEXEC */
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none); /* our thread blocks everything; the child must not */
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    SP_DEBUG("uploader: sentryprof upload --once%s", dsn[0] ? " --dsn (the Sentry SDK's)" : "");
    int rc = posix_spawn(&pid, up.cli, &fa, &at, argv, up.envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (err_copy >= 0) close(err_copy);
    close(sp[1]);
    if (rc != 0) {
        close(sp[0]);
        pthread_mutex_lock(&up.lock); /* the next child takes them, unless newer ones came */
        for (unsigned i = 0; i < nresp && up.sdk_n < SP_UP_SDK_RESPONSES; i++)
            memcpy(up.sdk_resp[up.sdk_n++], resp[i], SP_UP_SDK_RESPONSE_MAX);
        pthread_mutex_unlock(&up.lock);
        return -rc;
    }
    pthread_mutex_lock(&up.lock);
    up.child = pid;
    pthread_mutex_unlock(&up.lock);
    status_reader_t r = {.fd = sp[0]};
    bool reading = true;
    int status = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) {
            close(sp[0]);
            return -errno;
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long waited = (now.tv_sec - t0.tv_sec) * 1000L + (now.tv_nsec - t0.tv_nsec) / 1000000L;
        if (wait_ms >= 0 && waited >= wait_ms) {
            close(sp[0]); /* the child ignores SIGPIPE and goes on */
            return -ETIMEDOUT;
        }
        /* A child lives for seconds: wake on its status lines or every 10 ms for waitpid. */
        struct pollfd p = {.fd = sp[0], .events = POLLIN};
        if (reading && poll(&p, 1, 10) > 0) reading = read_status(&r) != 0;
        else if (!reading) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    /* What it wrote before exiting. Non-blocking: a process that forked from node while
     * the pipe was open may still hold the write end. */
    while (reading && read_status(&r) > 0) {}
    close(sp[0]);
    pthread_mutex_lock(&up.lock);
    up.child = 0;
    pthread_mutex_unlock(&up.lock);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

/* Acts on a child's exit code; returns the seconds until the next try (0: none needed). */
static int handle_result(int rc)
{
    static bool warned_error;
    switch (rc) {
    case SP_UPLOAD_EXIT_OK:
        return 0;
    case SP_UPLOAD_EXIT_DEFERRED:
        return SP_UP_RETRY_DEFERRED_S;
    case SP_UPLOAD_EXIT_BAD_DSN: {
        /* up.dsn and up.disabled are shared with sp_uploader_set_dsn (a JS thread) */
        pthread_mutex_lock(&up.lock);
        bool sdk = up.dsn[0] != '\0';
        up.disabled = true;
        pthread_mutex_unlock(&up.lock);
        SP_WARN("%s is not a valid DSN; profiles stay in %s (spool-only mode)", sdk ? "the Sentry SDK's DSN" : "SENTRY_DSN",
                up.spool);
        return 0;
    }
    default:
        if (!warned_error)
            SP_WARN("profile upload failed (%s %d); retrying, files are kept in %s",
                    rc < 0 ? "error" : "exit code", rc < 0 ? -rc : rc, up.spool);
        warned_error = true;
        return SP_UP_RETRY_ERROR_S;
    }
}

static void *uploader_main(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "sentryprof-up");
    pthread_mutex_lock(&up.lock);
    while (!up.stop && !up.disabled) {
        time_t now = time(NULL);
        bool due = up.published != up.handled || (up.retry_at && now >= up.retry_at);
        if (!due) {
            struct timespec dl;
            clock_gettime(CLOCK_MONOTONIC, &dl);
            dl.tv_sec += up.retry_at ? (up.retry_at > now ? up.retry_at - now : 1) : 3600;
            pthread_cond_timedwait(&up.wake, &up.lock, &dl);
            continue;
        }
        up.handled = up.published;
        up.retry_at = 0;
        pthread_mutex_unlock(&up.lock);
        int wait_s = handle_result(run_child(SP_UP_CHILD_TIMEOUT_S, -1));
        pthread_mutex_lock(&up.lock);
        if (wait_s) up.retry_at = time(NULL) + wait_s;
    }
    /* Gone (stop, or exit 3 disabled us): a DSN the SDK hands over later starts a new one. */
    up.started = false;
    pthread_mutex_unlock(&up.lock);
    return NULL;
}

/* Under up.lock. */
static void start_thread_locked(void)
{
    if (up.started || up.stop || up.disabled) return;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread never takes the app's signals */
    /* Detached: shutdown never joins it (it may be waiting for a child), and a joinable
     * thread nobody joins keeps its stack for the process's life. */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    up.started = pthread_create(&up.thread, &attr, uploader_main, NULL) == 0;
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void sp_uploader_notify(void)
{
    if (!up.enabled) return;
    pthread_mutex_lock(&up.lock);
    up.published++;
    start_thread_locked();
    pthread_cond_broadcast(&up.wake);
    pthread_mutex_unlock(&up.lock);
}

void sp_uploader_shutdown(int wait_ms)
{
    if (!up.enabled) return;
    pthread_mutex_lock(&up.lock);
    up.stop = true;
    bool pending = up.published != 0 && !up.disabled;
    pthread_cond_broadcast(&up.wake);
    pthread_mutex_unlock(&up.lock);
    /* The thread may be waiting for a child: do not join it (exit would wait as long);
     * one last bounded pass of our own picks up what the agent just published. */
    if (pending) {
        int secs = (wait_ms + 999) / 1000;
        int rc = run_child(secs > 0 ? secs : 1, wait_ms);
        if (rc == -ETIMEDOUT) SP_DEBUG("uploader: shutdown timeout; the rest stays in %s", up.spool);
    }
}

void sp_uploader_atfork_child(void)
{
    pthread_mutex_init(&up.lock, NULL);
    up.enabled = false; /* a fork child never sends the parent's files */
    up.started = false;
}
