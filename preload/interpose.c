/* interpose: the two files V8 opens, through fopen/fopen64 exported from the library,
 * the moment a root process gives up root (setuid, seteuid, setreuid, setresuid), and
 * anyone else setting our sampling signal's disposition (sigaction, signal, sysv_signal,
 * bsd_signal, sigset).
 * Threads: any thread that calls fopen (V8's main and worker threads, the app's); the
 * state is written by the constructor before any of them exists, then only read.
 * Reads no environment (preload.c hands it the config). */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mapfile.h"
#include "nodeargs.h"
#include "preload.h"
#include "sampler.h"

/* ---- two files V8 opens: fopen/fopen64 are exported to interpose them ----
 * 1. /tmp/perf-<pid>.map: V8 opens it with fopen(path, "w"/"w+"), which follows a symlink
 *    another local user planted and writes into a file they pre-created. We create it
 *    ourselves (sp_mapfile_open: O_EXCL|O_NOFOLLOW, 0600; /dev/null for V8 when the path
 *    holds something not ours). V8 < 11 (Node 18) opens it once per isolate with "w+"
 *    (O_TRUNC), so every worker wiped the entries of the main thread: every open after the
 *    first appends to the file we created instead (lines are written one write(2) each,
 *    line-buffered, so O_APPEND keeps them whole); the first also gets O_APPEND.
 *    Active in every node process the constructor prepared, even if the engine then
 *    failed to start (the perf map flag is in NODE_OPTIONS by then).
 * 2. isolate-0x<addr>-<pid>-v8.log: V8 >= 13 (Node 24+) opens this log in the current
 *    directory for --perf-basic-prof-only-functions (a flag we added); unless the process
 *    asked for a V8 log itself, it goes to an unlinked temporary file (/dev/null is not
 *    accepted: V8 falls back to stdout for a non-regular file).
 * Feature detection only: nothing depends on the node version. Otherwise inactive (a
 * plain pass-through) in every process where the engine did not start. */
static atomic_bool secure_perf_map; /* this pid's perf map is opened by sp_mapfile_open */
static bool own_perf_map;           /* we asked V8 for the map (not the user) */
static bool keep_perf_map;          /* SENTRYPROF_KEEP_PERF_MAP */
static pid_t started_pid;           /* the engine runs in this pid */
static pid_t prepared_pid;
static atomic_bool interpose;
static bool user_v8_log; /* --prof, --log*, --logfile in NODE_OPTIONS or the command line */

static bool has_log_flag(const char *s, size_t n)
{
    for (size_t i = 0; i + 5 < n; i++)
        if ((i == 0 || s[i - 1] == ' ' || s[i - 1] == '\0' || s[i - 1] == '"') &&
            (strncmp(s + i, "--log", 5) == 0 || (i + 6 < n && strncmp(s + i, "--prof", 6) == 0)))
            return true;
    return false;
}

static void detect_user_v8_log(const char *node_options)
{
    if (node_options && has_log_flag(node_options, strlen(node_options))) user_v8_log = true;
    char buf[8192];
    FILE *f = fopen("/proc/self/cmdline", "re");
    if (!f) return;
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    /* node's options only: `node server.js --log-level=info` is the app's own argument */
    if (sp_nodeargs_want_v8_log(buf, n)) user_v8_log = true;
}

static bool is_perf_map_path(const char *path)
{
    char want[64];
    snprintf(want, sizeof want, "/tmp/perf-%d.map", (int)getpid());
    return strcmp(path, want) == 0;
}

static bool is_isolate_log_path(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    if (strncmp(b, "isolate-0x", 10) != 0) return false;
    const char *p = b + 10;
    while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')) p++;
    char tail[32];
    snprintf(tail, sizeof tail, "-%d-v8.log", (int)getpid());
    return strcmp(p, tail) == 0;
}

typedef FILE *(*fopen_fn)(const char *, const char *);

static FILE *open_interposed(fopen_fn real, const char *path, const char *mode)
{
    if (!real) {
        errno = ENOSYS;
        return NULL;
    }
    if (!path || !mode || mode[0] != 'w') return real(path, mode);
    if (atomic_load(&secure_perf_map) && prepared_pid == getpid() && is_perf_map_path(path))
        return sp_mapfile_open(path, mode, own_perf_map && !keep_perf_map);
    if (!atomic_load(&interpose) || started_pid != getpid()) return real(path, mode);
    if (!user_v8_log && is_isolate_log_path(path)) {
        FILE *f = tmpfile();
        if (f) return f;
    }
    return real(path, mode);
}

SP_EXPORT FILE *fopen(const char *path, const char *mode)
{
    static fopen_fn real;
    if (!real) real = (fopen_fn)dlsym(RTLD_NEXT, "fopen");
    return open_interposed(real, path, mode);
}

/* musl has no fopen64 (its stdio.h makes the name a macro of fopen). */
#ifndef fopen64
SP_EXPORT FILE *fopen64(const char *path, const char *mode)
{
    static fopen_fn real;
    if (!real) real = (fopen_fn)dlsym(RTLD_NEXT, "fopen64");
    return open_interposed(real, path, mode);
}
#endif

/* ---- a root process giving up root (issue #20 item 3) ----
 * An app that listens as root and then calls process.setuid(1001) runs on as 1001: the
 * perf map we created as root is then not its to remove at exit (sticky /tmp), and a spool
 * directory it created from then on would be root's default spool owned by 1001 (later
 * root runs refuse it). Just before the drop, still root: the map is handed to the new
 * uid and root's spool directory is created (as root; what the dropped process cannot
 * write is then counted and warned about by the outbox, never silently). Then the real
 * call, whose result is returned unchanged. */
typedef int (*setid1_fn)(uid_t);
typedef int (*setid2_fn)(uid_t, uid_t);
typedef int (*setid3_fn)(uid_t, uid_t, uid_t);

static void before_uid_change(uid_t euid)
{
    if (euid == (uid_t)-1 || euid == 0 || geteuid() != 0 || !sp_preload_active()) return;
    int saved = errno;
    const sp_config_t *cfg = sp_preload_config();
    if (cfg && cfg->spool_dir[0]) mkdir(cfg->spool_dir, 0700); /* exists already: fine */
    sp_mapfile_give_to((unsigned)euid);
    errno = saved;
}

#define SP_REAL(type, name)                                                                    \
    static type real;                                                                          \
    if (!real) real = (type)dlsym(RTLD_NEXT, name);                                            \
    if (!real) {                                                                               \
        errno = ENOSYS;                                                                        \
        return -1;                                                                             \
    }

SP_EXPORT int setuid(uid_t uid)
{
    SP_REAL(setid1_fn, "setuid");
    before_uid_change(uid);
    return real(uid);
}

SP_EXPORT int seteuid(uid_t euid)
{
    SP_REAL(setid1_fn, "seteuid");
    before_uid_change(euid);
    return real(euid);
}

SP_EXPORT int setreuid(uid_t ruid, uid_t euid)
{
    SP_REAL(setid2_fn, "setreuid");
    before_uid_change(euid);
    return real(ruid, euid);
}

SP_EXPORT int setresuid(uid_t ruid, uid_t euid, uid_t suid)
{
    SP_REAL(setid3_fn, "setresuid");
    before_uid_change(euid);
    return real(ruid, euid, suid);
}

/* ---- our sampling signal taken over (issue #20 item 10) ----
 * Native code (an addon, a library) that sets our real-time signal to SIG_DFL got the
 * process killed by our own timer (status 128+signal) before the agent's periodic check
 * noticed; a foreign handler received our ticks until then. As async-profiler guards
 * SIGPROF, every way to set a disposition is interposed: for our signal and anything but
 * our own handler, the sampler stops for good first (sp_sampler_yield_signal: timers
 * disarmed, one warning), then SIG_IGN discards the ticks of ours already queued, then the
 * caller's disposition is set, and its old one reported as it was (ours). Everything else
 * (every other signal, queries, our own setup) is the real call unchanged. glibc's signal()
 * family calls its internal sigaction, not this one: each is interposed too. */
typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef sighandler_t (*signal_fn)(int, sighandler_t);

static sigaction_fn real_sigaction(void)
{
    static _Atomic(sigaction_fn) real;
    sigaction_fn f = atomic_load(&real);
    if (!f) {
        f = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
        atomic_store(&real, f);
    }
    return f;
}

/* Before anyone else's disposition for signo: true when it was ours (then the queued ticks
 * are gone and prev, if given, holds our old disposition). */
static bool take_over(int signo, sighandler_t handler, const struct sigaction *act, struct sigaction *prev)
{
    struct sigaction want;
    /* What the caller is told was there when the real call cannot say: the default. */
    memset(prev, 0, sizeof *prev);
    prev->sa_handler = SIG_DFL;
    if (!act) {
        memset(&want, 0, sizeof want);
        want.sa_handler = handler;
        act = &want;
    }
    if (!sp_sampler_yield_signal(signo, act)) return false;
    sigaction_fn real = real_sigaction();
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN; /* POSIX: setting SIG_IGN discards the signal's pending instances */
    sigemptyset(&ign.sa_mask);
    if (real) real(signo, &ign, prev);
    return true;
}

SP_EXPORT int sigaction(int signo, const struct sigaction *act, struct sigaction *oact)
{
    sigaction_fn real = real_sigaction();
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (!act) return real(signo, act, oact);
    int saved = errno;
    struct sigaction prev;
    if (!take_over(signo, NULL, act, &prev)) {
        errno = saved;
        return real(signo, act, oact);
    }
    errno = saved;
    int rc = real(signo, act, NULL);
    if (rc == 0 && oact) *oact = prev;
    return rc;
}

#define SP_SIGNAL_FN(name)                                                                     \
    SP_EXPORT sighandler_t name(int signo, sighandler_t handler);                             \
    SP_EXPORT sighandler_t name(int signo, sighandler_t handler)                              \
    {                                                                                          \
        static _Atomic(signal_fn) real;                                                        \
        signal_fn f = atomic_load(&real);                                                      \
        if (!f) {                                                                              \
            f = (signal_fn)dlsym(RTLD_NEXT, #name);                                            \
            atomic_store(&real, f);                                                            \
        }                                                                                      \
        if (!f) {                                                                              \
            errno = ENOSYS;                                                                    \
            return SIG_ERR;                                                                    \
        }                                                                                      \
        int saved = errno;                                                                     \
        struct sigaction prev;                                                                 \
        bool ours = take_over(signo, handler, NULL, &prev);                                    \
        errno = saved;                                                                         \
        sighandler_t old = f(signo, handler);                                                  \
        return ours && old != SIG_ERR ? prev.sa_handler : old;                                 \
    }
SP_SIGNAL_FN(signal)
SP_SIGNAL_FN(sysv_signal)
SP_SIGNAL_FN(bsd_signal)
SP_SIGNAL_FN(sigset)

void sp_interpose_prepare(bool own, bool keep, const char *node_options)
{
    detect_user_v8_log(node_options);
    own_perf_map = own;
    keep_perf_map = keep;
    prepared_pid = getpid();
    atomic_store(&secure_perf_map, true);
}

void sp_interpose_engine_started(void)
{
    started_pid = getpid();
    atomic_store(&interpose, true);
}
