/* run: "sentryprof run [OPTIONS] [--] COMMAND [ARGS...]". Owns starting a command under the
 * shim: libsentryprof.so first in LD_PRELOAD, the options as the library's environment
 * (--hz SENTRYPROF_HZ, --clock SENTRYPROF_CLOCK, --mode SENTRYPROF_MODE, --spool
 * SENTRYPROF_SPOOL_DIR), and after the command the summary and --open's flame graph.
 * Rules, so it can be a container entrypoint (ENTRYPOINT ["sentryprof","run","--"]):
 * - Nothing to do afterwards (no summary, no --open): we exec COMMAND, so it is the process
 *   (same pid, signals, exit status) and we add no byte anywhere.
 * - Otherwise fork/exec: the child inherits stdin/stdout/stderr and our process group; we
 *   never read stdin nor write stdout. SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2
 *   sent to us by a process (kill(2): si_code <= 0) are forwarded to the child; the ones
 *   the kernel sends (Ctrl-C, Ctrl-\ and hangup from the terminal) already reach the child
 *   through the process group and are not sent twice. We reap every child (as PID 1 we
 *   inherit orphans) until ours ends, then exit with its status: its code, or when it died
 *   by a signal the same signal raised on ourselves with the default disposition (no core
 *   file of ours), so our parent's wait status is the one it would see without us.
 * - The summary (where the profile went; samples, threads, span; the top 3 functions) goes
 *   to stderr only, and only when stderr is a terminal or with --summary; --quiet
 *   suppresses it always (--open then still writes the graph and says nothing).
 * The profile of the run: the spool files that were not there before COMMAND started (so a
 * process profiled into the same spool at the same time counts too).
 */
#include "cli.h"
#include "export.h"

#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define RUN_TOP 3 /* functions named in the summary */

static const int fwd_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
static volatile sig_atomic_t child_pid;

static void forward(int sig, siginfo_t *info, void *uc)
{
    (void)uc;
    int saved = errno;
    pid_t pid = (pid_t)child_pid;
    if (pid > 0 && info && info->si_code <= 0) kill(pid, sig);
    errno = saved;
}

static bool set_env(const char *name, const char *value)
{
    if (setenv(name, value, 1) == 0) return true;
    sp_cli_err("cannot set %s: %s", name, strerror(errno));
    return false;
}

/* libsentryprof.so first in LD_PRELOAD (kept once: ld.so splits at ':' and ' ') */
static bool set_preload(void)
{
    char lib[PATH_MAX];
    if (sp_cli_find_lib(lib, sizeof lib, NULL, 0) < 0) return false;
    if (strpbrk(lib, ": ")) {
        sp_cli_err("cannot preload %s: LD_PRELOAD paths cannot contain ':' or ' '", lib);
        return false;
    }
    /* LD_PRELOAD is the child's, not a setting of ours: read as it is now, to extend it. */
    const char *old = getenv("LD_PRELOAD");
    if (old && sp_cli_has_word(old, ": ", lib)) return true;
    char *val = old && *old ? sp_cli_printf("%s:%s", lib, old) : sp_cli_strdup(lib);
    bool ok = set_env("LD_PRELOAD", val);
    sp_mem_free(val);
    return ok;
}

static bool in_sorted(const sp_cli_strvec_t *sv, const char *s)
{
    size_t lo = 0, hi = sv->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(sv->v[mid], s);
        if (c == 0) return true;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return false;
}

/* The summary and --open's graph, from the files new in spool since before. */
static void after_run(const char *spool, const sp_cli_strvec_t *before, pid_t pid, bool summary, bool open)
{
    sp_cli_strvec_t now = {0}, fresh = {0};
    (void)sp_cli_collect_dir(&now, spool, 0); /* a missing spool: nothing new */
    for (size_t i = 0; i < now.n; i++)
        if (!in_sorted(before, now.v[i])) sp_cli_strvec_push(&fresh, sp_cli_strdup(now.v[i]));
    sp_cli_strvec_free(&now);
    if (fresh.n == 0) {
        if (summary)
            sp_cli_err("no new profile in %s (nothing profiled, or already uploaded)", spool);
        sp_cli_strvec_free(&fresh);
        return;
    }
    sp_model_t m = {0};
    sp_model_filter_t none = {0};
    bool any = sp_model_load(&m, &fresh) > 0 && sp_model_select(&m, &none) > 0;
    if (summary) {
        fprintf(stderr, "sentryprof: profile: %zu new %s in %s\n", fresh.n, fresh.n == 1 ? "file" : "files", spool);
    }
    if (summary && any) {
        int64_t lo = 0, hi = 0;
        bool timed = false;
        size_t nthreads = 0;
        for (size_t i = 0; i < m.nthreads; i++) nthreads += m.thread_used[i];
        for (size_t i = 0; i < m.nsamples; i++) {
            if (!m.samples[i].has_time) continue;
            int64_t t = m.samples[i].time_ns;
            if (!timed || t < lo) lo = t;
            if (!timed || t > hi) hi = t;
            timed = true;
        }
        fprintf(stderr, "sentryprof: %zu %s, %zu %s", m.nsamples, m.nsamples == 1 ? "sample" : "samples", nthreads,
                nthreads == 1 ? "thread" : "threads");
        if (timed) fprintf(stderr, ", %.1fs", (double)(hi - lo) / 1e9);
        fputc('\n', stderr);
        sp_cli_top_row_t *rows;
        size_t n = sp_cli_top_rows(&m, false, SP_CLI_TOP_BY_FUNCTION, &rows);
        fputs("sentryprof: top:", stderr);
        for (size_t r = 0; r < n && r < RUN_TOP; r++)
            fprintf(stderr, "%s %s %.1f%%", r ? "," : "", rows[r].label, 100.0 * (double)rows[r].self / (double)m.nsamples);
        fputc('\n', stderr);
        sp_cli_top_rows_free(rows, n);
    } else if (summary) {
        fputs("sentryprof: no samples in them\n", stderr);
    }
    if (open && any) {
        char *path = sp_cli_printf("%s/flame-%ld.svg", spool, (long)pid);
        char *title = sp_cli_printf("Flame graph: %zu samples", m.nsamples);
        if (sp_export_flame_file(&m, path, title) == 0 && summary)
            fprintf(stderr, "sentryprof: flame graph: %s\n", path);
        sp_mem_free(title);
        sp_mem_free(path);
    }
    sp_model_free(&m);
    sp_cli_strvec_free(&fresh);
}

/* Ends this process the way the child ended. */
static int exit_like(int status)
{
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (!WIFSIGNALED(status)) return 1;
    int sig = WTERMSIG(status);
    fflush(NULL);
    struct rlimit no_core = {0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    signal(sig, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    raise(sig);
    /* still here: the signal's default is to ignore it, or we are PID 1 (the kernel drops
     * default-disposition signals to init) */
    return 128 + sig;
}

static int parse_opt(const char *name, int argc, char **argv, int *i, const char **val)
{
    size_t nl = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, nl) != 0) return 0;
    if (a[nl] == '=') {
        *val = a + nl + 1;
        return 1;
    }
    if (a[nl]) return 0;
    if (*i + 1 >= argc) return sp_cli_bad_usage("run: %s needs a value", name), -1;
    *val = argv[++*i];
    return 1;
}

typedef struct {
    const char *hz, *clock, *mode, *spool;
    bool open, quiet, want_summary;
    int cmd; /* argv index of COMMAND */
} run_opts_t;

/* The options before COMMAND, checked. 0, or the exit status (help: 0 with o->cmd = 0). */
static int run_parse(int argc, char **argv, run_opts_t *o)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        int r = 0;
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (a[0] != '-') break;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            sp_cli_usage(stdout);
            o->cmd = 0;
            return 0;
        }
        if (strcmp(a, "--open") == 0) o->open = true;
        else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) o->quiet = true;
        else if (strcmp(a, "--summary") == 0) o->want_summary = true;
        else if ((r = parse_opt("--hz", argc, argv, &i, &o->hz)) ||
                 (r = parse_opt("--clock", argc, argv, &i, &o->clock)) ||
                 (r = parse_opt("--mode", argc, argv, &i, &o->mode)) ||
                 (r = parse_opt("--spool", argc, argv, &i, &o->spool))) {
            if (r < 0) return 2;
        } else {
            return sp_cli_bad_usage("run: unknown option '%s'", a);
        }
    }
    if (i >= argc) return sp_cli_bad_usage("run: no COMMAND given");
    o->cmd = i;
    if (o->hz) {
        char *end;
        errno = 0;
        long v = strtol(o->hz, &end, 10);
        if (errno || end == o->hz || *end || v < 1 || v > 1000)
            return sp_cli_bad_usage("run: --hz takes a rate from 1 to 1000, got '%s'", o->hz);
    }
    if (o->clock && strcmp(o->clock, "wall") != 0 && strcmp(o->clock, "cpu") != 0)
        return sp_cli_bad_usage("run: --clock takes wall or cpu, got '%s'", o->clock);
    if (o->mode && strcmp(o->mode, "transaction") != 0 && strcmp(o->mode, "continuous") != 0)
        return sp_cli_bad_usage("run: --mode takes transaction or continuous, got '%s'", o->mode);
    if (o->spool && !*o->spool) return sp_cli_bad_usage("run: --spool needs a directory");
    return 0;
}

/* Runs cmd as our child, forwarding fwd_signals to it, and waits for it. Returns its pid
 * and *status; *exec_err is the errno of a failed exec (0 when it ran); -1 when it could
 * not be started (said on stderr). */
static pid_t run_child(char **cmd, int *status, int *exec_err)
{
    /* signals blocked across fork: the parent forwards only once child_pid is set, the
     * child unblocks before exec */
    sigset_t fwd, old;
    sigemptyset(&fwd);
    for (size_t k = 0; k < sizeof fwd_signals / sizeof *fwd_signals; k++) sigaddset(&fwd, fwd_signals[k]);
    sigprocmask(SIG_BLOCK, &fwd, &old);
    int ep[2]; /* close-on-exec: the child's exec error, or EOF when it succeeded */
    if (pipe2(ep, O_CLOEXEC) != 0) {
        sp_cli_err("cannot run %s: pipe: %s", cmd[0], strerror(errno));
        sigprocmask(SIG_SETMASK, &old, NULL);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        sp_cli_err("cannot run %s: fork: %s", cmd[0], strerror(errno));
        sigprocmask(SIG_SETMASK, &old, NULL);
        close(ep[0]);
        close(ep[1]);
        return -1;
    }
    if (pid == 0) {
        close(ep[0]);
        sigprocmask(SIG_SETMASK, &old, NULL);
        execvp(cmd[0], cmd);
        int e = errno;
        (void)!write(ep[1], &e, sizeof e);
        _exit(e == ENOENT ? 127 : 126);
    }
    close(ep[1]);
    child_pid = pid;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t k = 0; k < sizeof fwd_signals / sizeof *fwd_signals; k++) sigaction(fwd_signals[k], &sa, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);

    int e = 0;
    ssize_t got;
    do got = read(ep[0], &e, sizeof e);
    while (got < 0 && errno == EINTR);
    close(ep[0]);
    *exec_err = got == (ssize_t)sizeof e ? e : 0;
    *status = 0;
    for (;;) {
        pid_t w = waitpid(-1, status, 0);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) {
            sp_cli_err("waiting for %s: %s", cmd[0], strerror(errno));
            *status = 1 << 8;
            break;
        }
    }
    /* the child is gone: a signal now ends us (e.g. a slow summary) */
    child_pid = 0;
    for (size_t k = 0; k < sizeof fwd_signals / sizeof *fwd_signals; k++) signal(fwd_signals[k], SIG_DFL);
    return pid;
}

int sp_cli_run(int argc, char **argv)
{
    run_opts_t o = {0};
    int rc = run_parse(argc, argv, &o);
    if (rc != 0 || o.cmd == 0) return rc;

    if (!set_preload()) return 127;
    if ((o.hz && !set_env(SP_ENV_HZ, o.hz)) || (o.clock && !set_env(SP_ENV_CLOCK, o.clock)) ||
        (o.mode && !set_env(SP_ENV_MODE, o.mode)) || (o.spool && !set_env(SP_ENV_SPOOL_DIR, o.spool)))
        return 127;
    bool summary = !o.quiet && (o.want_summary || isatty(STDERR_FILENO));
    char **cmd = argv + o.cmd;
    fflush(stdout);
    if (!summary && !o.open) {
        execvp(cmd[0], cmd);
        int e = errno;
        sp_cli_err("cannot run %s: %s", cmd[0], strerror(e));
        return e == ENOENT ? 127 : 126;
    }

    char dir[PATH_MAX];
    if (o.spool && *o.spool) snprintf(dir, sizeof dir, "%s", o.spool); /* what the child got */
    else if (!sp_cli_default_spool(dir, sizeof dir)) return 127;
    sp_cli_strvec_t before = {0};
    (void)sp_cli_collect_dir(&before, dir, 0); /* sorted; missing: empty */
    int status, exec_err;
    pid_t pid = run_child(cmd, &status, &exec_err);
    if (pid < 0) {
        sp_cli_strvec_free(&before);
        return 126;
    }
    if (exec_err) sp_cli_err("cannot run %s: %s", cmd[0], strerror(exec_err));
    else after_run(dir, &before, pid, summary, o.open);
    sp_cli_strvec_free(&before);
    return exit_like(status);
}
