/* preload: the thin front of libsentryprof.so. Owns the "should I run here?" decision,
 * the NODE_OPTIONS change, engine start/stop and the N-API module entry for the JS helper.
 *
 * Runs: the constructor on the main thread before main(), single-threaded; the destructor
 * on the exiting thread; the N-API callbacks on a JS thread.
 * Rules: in any process that is not node (no N-API in the executable), in secure-execution
 * mode, with SENTRYPROF_DISABLE=true or in a node process not selected (src/select.h: package
 * managers, SENTRYPROF_INCLUDE/EXCLUDE) it does nothing at all: no thread, no signal handler,
 * no environment change. It never aborts the host: every failure is one warning and inert.
 * N-API symbols are looked up at run time (dlsym), so the library loads anywhere.
 * Reads: SENTRYPROF_* and NODE_OPTIONS (see src/config.h). */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sentryprof.h"

#include "agent.h"
#include "debugid.h"
#include "config.h"
#include "fatal.h"
#include "log.h"
#include "mapfile.h"
#include "mem.h"
#include "nodeargs.h"
#include "ring.h"
#include "sampler.h"
#include "select.h"
#include "stats.h"
#include "txn.h"
#include "uploader.h"

#define SP_EXPORT __attribute__((visibility("default")))
#define SP_RING_CAPACITY 1024 /* samples; ~10 s of one thread at 99 Hz between drains */
#define SP_EXIT_TIMEOUT_MS 1000 /* bound on the exit-time flush */
#define SP_HELPER_NAME "sentryprof-helper.js"
/* A bridge buffer for a field of one of our structs, one byte longer than the field: an id
 * that is too long arrives too long (and is rejected), not cut to the right length. */
#define SP_ARG_LEN(type, field) (sizeof(((type *)0)->field) + 1)

#define SP_FLAG_PERF_MAP "--perf-basic-prof-only-functions"
/* Gives each interpreted function its own copy of the interpreter trampoline, so the perf
 * map names it. Injected only where V8 cannot deadlock with it (sp_config_native_stack_safe):
 * elsewhere interpreted frames show as Builtins_InterpreterEntryTrampoline. */
#define SP_FLAG_NATIVE_STACK "--interpreted-frames-native-stack"

static sp_config_t config;
static sp_ring_t *ring;
static pid_t started_pid;
static char perf_map_path[64];

SP_EXPORT const char *sentryprof_version(void) { return SP_VERSION; }

/* The executable exports N-API only if it is node (or embeds it). */
static bool is_node_process(void) { return dlsym(RTLD_DEFAULT, "napi_module_register") != NULL; }


/* Appends `text` to buf (size cap) with a space; false when it does not fit. */
static bool append(char *buf, size_t cap, const char *text)
{
    size_t len = strlen(buf);
    int n = snprintf(buf + len, cap - len, "%s%s", len ? " " : "", text);
    return n >= 0 && (size_t)n < cap - len;
}

/* NODE_OPTIONS quoting: double quotes, with \ and " escaped (node's own parser rules). */
static bool append_quoted(char *buf, size_t cap, const char *path)
{
    char q[PATH_MAX * 2 + 3];
    size_t o = 0;
    q[o++] = '"';
    for (const char *c = path; *c && o < sizeof q - 3; c++) {
        if (*c == '"' || *c == '\\') q[o++] = '\\';
        q[o++] = *c;
    }
    q[o++] = '"';
    q[o] = '\0';
    return append(buf, cap, q);
}

/* Finds the helper next to the library: <dir>/sentryprof/ once installed, <dir>/../preload/
 * in the build tree (the library is in .libs/ there). */
static bool find_helper(const char *lib_path, char *out, size_t len)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", lib_path);
    char *slash = strrchr(dir, '/');
    if (!slash) return false;
    *slash = '\0';
    const char *const candidates[] = {"/sentryprof/" SP_HELPER_NAME, "/../preload/" SP_HELPER_NAME};
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
        struct stat st;
        snprintf(out, len, "%s%s", dir, candidates[i]);
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return true;
    }
    return false;
}

/* node's V8 version before V8 runs: v8::V8::GetVersion() (exported by every node 18-26)
 * only returns Version::version_string_, a pointer constant-initialized in .data (no
 * static constructor, no V8 state), so it is safe to call before main. NULL when the
 * executable does not export it (an embedder) or the string does not look like one. */
static const char *v8_version(void)
{
    const char *(*get)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "_ZN2v82V810GetVersionEv");
    const char *v = get ? get() : NULL;
    return v && *v >= '0' && *v <= '9' && strnlen(v, 64) < 64 ? v : NULL;
}

/* Removes the whole option flag (as NODE_OPTIONS holds it, space-separated, as we
 * appended it) and one space next to it; false when it is not there. */
static bool remove_option(char *opts, const char *flag)
{
    size_t n = strlen(flag);
    for (char *p = opts; (p = strstr(p, flag)); p += n) {
        if ((p != opts && p[-1] != ' ') || (p[n] != '\0' && p[n] != ' ')) continue;
        char *from = p + n;
        if (*from == ' ') from++;
        else if (p != opts) p--; /* last option: drop the space before it */
        memmove(p, from, strlen(from) + 1);
        return true;
    }
    return false;
}

/* Adds our V8 flags (only those absent) and the helper to NODE_OPTIONS, keeping the
 * user's options first. Returns whether we asked for the perf map ourselves. A flag the
 * user gave is left as it is, even --interpreted-frames-native-stack on an old V8. */
static bool prepare_node_options(const char *helper)
{
    const char *old = getenv("NODE_OPTIONS");
    char opts[8192];
    snprintf(opts, sizeof opts, "%s", old ? old : "");
    if (old && strlen(old) >= sizeof opts) {
        SP_WARN("NODE_OPTIONS is longer than %zu bytes; leaving it alone", sizeof opts - 1);
        return false;
    }
    bool user_perf_map = sp_config_has_node_flag(opts, "--perf-basic-prof") ||
                         sp_config_has_node_flag(opts, "--perf-prof");
    bool changed = false, ok = true;
    if (!user_perf_map && !sp_config_has_node_flag(opts, SP_FLAG_PERF_MAP)) {
        ok = ok && append(opts, sizeof opts, SP_FLAG_PERF_MAP);
        changed = true;
    }
    const char *v8 = v8_version();
    bool safe = sp_config_native_stack_safe(v8);
    const char *added = getenv(SP_ENV_ADDED_NATIVE_STACK);
    if (!safe && added && sp_config_has_node_flag(opts, SP_FLAG_NATIVE_STACK) &&
        remove_option(opts, SP_FLAG_NATIVE_STACK)) {
        /* Inherited from a parent node on a newer V8 that we added it to, not the user's. */
        SP_DEBUG("V8 %s: removing the " SP_FLAG_NATIVE_STACK " a parent process added", v8 ? v8 : "?");
        unsetenv(SP_ENV_ADDED_NATIVE_STACK);
        changed = true;
    }
    if (!sp_config_has_node_flag(opts, SP_FLAG_NATIVE_STACK)) {
        if (safe) {
            ok = ok && append(opts, sizeof opts, SP_FLAG_NATIVE_STACK);
            ok = ok && setenv(SP_ENV_ADDED_NATIVE_STACK, "1", 1) == 0;
            changed = true;
        } else {
            SP_DEBUG("V8 %s: not adding " SP_FLAG_NATIVE_STACK " (it can deadlock V8's own CPU "
                     "profiler there); interpreted JS frames stay unnamed",
                     v8 ? v8 : "of unknown version");
        }
    }
    if (helper && !strstr(opts, SP_HELPER_NAME)) {
        ok = ok && append(opts, sizeof opts, "--require") && append_quoted(opts, sizeof opts, helper);
        changed = true;
    }
    if (!ok) {
        SP_WARN("NODE_OPTIONS would be too long; leaving it alone (no JS function names)");
        return false;
    }
    if (changed && setenv("NODE_OPTIONS", opts, 1) != 0) return false;
    SP_DEBUG("NODE_OPTIONS=%s", opts);
    return !user_perf_map;
}

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
        return sp_mapfile_open(path, mode, own_perf_map && !config.keep_perf_map);
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

SP_EXPORT FILE *fopen64(const char *path, const char *mode)
{
    static fopen_fn real;
    if (!real) real = (fopen_fn)dlsym(RTLD_NEXT, "fopen64");
    return open_interposed(real, path, mode);
}

static void atfork_child(void)
{
    /* Timers and the agent thread do not survive fork; the child stays inert (it never
     * writes the parent's files). An exec'd child starts fresh through the constructor. */
    sp_sampler_atfork_child();
    sp_agent_atfork_child();
    sp_uploader_atfork_child();
    started_pid = 0;
}

__attribute__((constructor)) static void sentryprof_init(void)
{
    if (getauxval(AT_SECURE)) return;
    if (!is_node_process()) return;
    /* after the node check: a bad value's one warning goes to node, not to every program */
    if (sp_config_env_bool(SP_ENV_DISABLE, false)) return;
    /* Which node processes: before anything else, so an excluded one (npm, or what
     * SENTRYPROF_INCLUDE/EXCLUDE say) stays as inert as a shell. Its children decide anew. */
    sp_select_t sel;
    sp_select_self(&sel);
    if (sp_config_parse_bool(secure_getenv(SP_ENV_DEBUG)) == 1) { /* config warns on bad values */
        sp_log_set_level(SP_LOG_DEBUG);
        SP_DEBUG("process %s: %s (%s)", sel.script, sel.profile ? "profiled" : "not profiled", sel.rule);
    }
    if (!sel.profile) return;

    sp_config_load(&config);
    sp_config_log(&config);
    time_t start = time(NULL);

    Dl_info info;
    char helper[PATH_MAX];
    bool have_helper = false;
    if (dladdr((void *)sentryprof_version, &info) && info.dli_fname) {
        char lib[PATH_MAX];
        if (realpath(info.dli_fname, lib)) {
            setenv(SP_ENV_LIBRARY_PATH, lib, 1);
            have_helper = find_helper(lib, helper, sizeof helper);
            sp_uploader_init(&config, lib);
        }
    }
    if (!have_helper) SP_DEBUG("JS helper %s not found next to the library", SP_HELPER_NAME);
    detect_user_v8_log(getenv("NODE_OPTIONS"));
    own_perf_map = prepare_node_options(have_helper ? helper : NULL);
    prepared_pid = getpid();
    atomic_store(&secure_perf_map, true);

    json_set_alloc_funcs(sp_mem_alloc, sp_mem_free);
    ring = sp_ring_new(SP_RING_CAPACITY);
    if (!ring) {
        SP_WARN("out of memory for the sample ring; profiling disabled");
        return;
    }
    sp_sampler_opts_t sopts = {.signo = config.signal,
                               .hz = config.hz,
                               .cpu_clock = config.cpu_clock,
                               .lazy = config.lazy};
    if (sp_sampler_init(&sopts, ring) < 0) return;
    snprintf(perf_map_path, sizeof perf_map_path, "/tmp/perf-%d.map", (int)getpid());
    sp_agent_opts_t opts = {.cfg = &config,
                            .ring = ring,
                            .perf_map_path = perf_map_path,
                            .remove_perf_map = own_perf_map && !config.keep_perf_map,
                            .process_start = start};
    if (sp_agent_start(&opts) < 0) return;
    pthread_atfork(NULL, NULL, atfork_child);
    started_pid = getpid();
    atomic_store(&interpose, true);
    if (config.continuous) sp_sampler_process_begin(); /* the whole run is one profile */
    if (sp_sampler_register_thread("0", "main") < 0) SP_WARN("cannot sample the main thread");
}

__attribute__((destructor)) static void sentryprof_fini(void)
{
    if (!started_pid || started_pid != getpid()) return;
    sp_sampler_stop();
    sp_agent_stop(SP_EXIT_TIMEOUT_MS);
    sp_uploader_shutdown(config.shutdown_ms);
    started_pid = 0;
}

/* A default-fatal signal (fatal.h), on the flush thread: what the destructor would have
 * done, within budget_ms in all (the process dies right after). */
static void flush_before_signal_death(int budget_ms)
{
    if (!started_pid || started_pid != getpid()) return;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sp_sampler_stop();
    sp_agent_stop(budget_ms < SP_EXIT_TIMEOUT_MS ? budget_ms : SP_EXIT_TIMEOUT_MS);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long spent = (t1.tv_sec - t0.tv_sec) * 1000L + (t1.tv_nsec - t0.tv_nsec) / 1000000L;
    if (spent < budget_ms) sp_uploader_shutdown((int)(budget_ms - spent));
}

/* ---- N-API bridge: resolved at run time so non-node processes never need it ---- */

/* napi_env and napi_value: sentryprof.h */
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status;
typedef napi_value (*napi_callback)(napi_env, napi_callback_info);

static struct {
    napi_status (*create_function)(napi_env, const char *, size_t, napi_callback, void *, napi_value *);
    napi_status (*create_object)(napi_env, napi_value *);
    napi_status (*create_double)(napi_env, double, napi_value *);
    napi_status (*create_string_utf8)(napi_env, const char *, size_t, napi_value *);
    napi_status (*set_named_property)(napi_env, napi_value, const char *, napi_value);
    napi_status (*get_cb_info)(napi_env, napi_callback_info, size_t *, napi_value *, napi_value *, void **);
    napi_status (*get_value_string_utf8)(napi_env, napi_value, char *, size_t, size_t *);
    napi_status (*get_value_double)(napi_env, napi_value, double *);
    napi_status (*get_value_bool)(napi_env, napi_value, bool *);
    napi_status (*get_undefined)(napi_env, napi_value *);
    napi_status (*get_null)(napi_env, napi_value *);
    napi_status (*add_env_cleanup_hook)(napi_env, void (*)(void *), void *);
} napi;

#define NAPI_SYM(field, name) (napi.field = dlsym(RTLD_DEFAULT, name)) != NULL
static bool napi_resolve(void)
{
    return NAPI_SYM(create_function, "napi_create_function") &&
           NAPI_SYM(create_object, "napi_create_object") &&
           NAPI_SYM(create_double, "napi_create_double") &&
           NAPI_SYM(create_string_utf8, "napi_create_string_utf8") &&
           NAPI_SYM(set_named_property, "napi_set_named_property") &&
           NAPI_SYM(get_cb_info, "napi_get_cb_info") &&
           NAPI_SYM(get_value_string_utf8, "napi_get_value_string_utf8") &&
           NAPI_SYM(get_value_double, "napi_get_value_double") &&
           NAPI_SYM(get_value_bool, "napi_get_value_bool") &&
           NAPI_SYM(get_undefined, "napi_get_undefined") &&
           NAPI_SYM(get_null, "napi_get_null") &&
           NAPI_SYM(add_env_cleanup_hook, "napi_add_env_cleanup_hook");
}

#define MAX_ARGS 6
typedef struct {
    size_t argc;
    napi_value argv[MAX_ARGS];
} args_t;

static void get_args(napi_env env, napi_callback_info info, args_t *a)
{
    a->argc = MAX_ARGS;
    if (napi.get_cb_info(env, info, &a->argc, a->argv, NULL, NULL) != 0) a->argc = 0;
}

/* Argument i as a string into buf ("" when absent or not a string). */
static const char *arg_str(napi_env env, const args_t *a, size_t i, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    if (i < a->argc && napi.get_value_string_utf8(env, a->argv[i], buf, len, &n) != 0) buf[0] = '\0';
    return buf;
}

static double arg_num(napi_env env, const args_t *a, size_t i, double def)
{
    double v;
    return i < a->argc && napi.get_value_double(env, a->argv[i], &v) == 0 ? v : def;
}

static bool arg_bool(napi_env env, const args_t *a, size_t i, bool def)
{
    bool v;
    return i < a->argc && napi.get_value_bool(env, a->argv[i], &v) == 0 ? v : def;
}

static napi_value undefined(napi_env env)
{
    napi_value u = NULL;
    napi.get_undefined(env, &u);
    return u;
}

static napi_value number(napi_env env, double v)
{
    napi_value n = NULL;
    napi.create_double(env, v, &n);
    return n;
}

static void set_number(napi_env env, napi_value obj, const char *key, double v)
{
    napi_value n = number(env, v);
    if (n) napi.set_named_property(env, obj, key, n);
}

static void set_string(napi_env env, napi_value obj, const char *key, const char *v)
{
    napi_value s;
    if (napi.create_string_utf8(env, v, strlen(v), &s) == 0) napi.set_named_property(env, obj, key, s);
}

/* stats(): the counters, for people, tests and benchmarks. */
static napi_value js_stats(napi_env env, napi_callback_info cbinfo)
{
    napi_value obj;
    if (napi.create_object(env, &obj) != 0) return NULL;
    for (int i = 0; i < SP_STAT__COUNT; i++)
        set_number(env, obj, sp_stats_name((sp_stat_t)i), (double)sp_stats_get((sp_stat_t)i));
    set_number(env, obj, "handler_ns_p50", (double)sp_stats_handler_quantile(0.5));
    set_number(env, obj, "handler_ns_p99", (double)sp_stats_handler_quantile(0.99));
    set_number(env, obj, "handler_ns_max", (double)sp_stats_handler_max());
    set_number(env, obj, "handler_ns_max_after_1s", (double)sp_stats_handler_max_after_warmup());
    set_number(env, obj, "handler_ns_total", (double)sp_stats_handler_total_ns());
    set_number(env, obj, "handler_runs", (double)sp_stats_handler_count());
    set_number(env, obj, "agent_cpu_ns", (double)sp_agent_cpu_ns());
    set_number(env, obj, "memory_bytes", (double)sp_mem_in_use());
    set_number(env, obj, "threads", sp_sampler_thread_count());
    set_number(env, obj, "active", started_pid == getpid());
    set_number(env, obj, "signal", sp_sampler_signal());
    set_number(env, obj, "exit_signals_armed", sp_fatal_armed()); /* fatal.h: SIGTERM 1, SIGINT 2, SIGHUP 4 */
    set_string(env, obj, "mode", sp_agent_continuous() ? "continuous" : "transaction");
    set_string(env, obj, "logging_mode", config.lazy ? "lazy" : "eager");
    set_string(env, obj, "clock", config.cpu_clock ? "cpu" : "wall");
    return obj;
}

static void on_env_teardown(void *arg)
{
    (void)arg;
    sp_sampler_unregister_thread(); /* runs on the env's own thread */
}

/* registerThread(threadId, name, nodeVersion, fatalMask): the helper calls it on every JS
 * thread; in the main thread fatalMask holds the SP_FATAL_* signals no JS listener handles
 * (the helper runs before the app's code, but after other --require'd modules). */
static napi_value js_register_thread(napi_env env, napi_callback_info info)
{
    args_t a;
    get_args(env, info, &a);
    char id[SP_THREAD_ID_LEN], name[SP_THREAD_NAME_LEN], version[32];
    arg_str(env, &a, 0, id, sizeof id);
    arg_str(env, &a, 1, name, sizeof name);
    if (*arg_str(env, &a, 2, version, sizeof version)) sp_agent_set_runtime(version);
    int rc = -EINVAL;
    if (started_pid == getpid() && *id) {
        rc = sp_sampler_register_thread(id, name);
        if (rc == 0) napi.add_env_cleanup_hook(env, on_env_teardown, NULL);
        int mask = (int)arg_num(env, &a, 3, 0);
        if ((rc == 0 || rc == -EEXIST) && mask && syscall(SYS_gettid) == getpid())
            sp_fatal_arm(mask, config.shutdown_ms, flush_before_signal_death);
    }
    return number(env, rc == -EEXIST ? 0 : rc);
}

/* takeProfile(eventId) -> the v1 profile JSON string once built; null: the transaction had
 * too few samples (no profile); undefined: not ready yet. */
static napi_value js_take_profile(napi_env env, napi_callback_info info)
{
    args_t a;
    get_args(env, info, &a);
    char id[SP_ARG_LEN(sp_txn_t, event_id)], *json = NULL;
    if (!sp_agent_take_profile(arg_str(env, &a, 0, id, sizeof id), &json)) {
        /* Someone waits for this profile (off the request path: the SDK's transport): have
         * the agent build it now rather than at its next tick. */
        sp_agent_wake();
        return undefined(env);
    }
    napi_value v = NULL;
    if (json) {
        napi.create_string_utf8(env, json, strlen(json), &v);
        sp_mem_free(json);
    } else {
        napi.get_null(env, &v);
    }
    return v;
}

/* startTransaction(name, op, traceId, parentSpanId, sampled, toJs) -> handle or -errno. */
static napi_value js_start_transaction(napi_env env, napi_callback_info info)
{
    args_t a;
    get_args(env, info, &a);
    char name[SP_TXN_NAME_MAX], op[sizeof(((sp_txn_t *)0)->op)], trace[SP_ARG_LEN(sp_txn_t, trace_id)],
        parent[SP_ARG_LEN(sp_txn_t, parent_span_id)];
    long h = started_pid == getpid()
                 ? sp_txn_start(arg_str(env, &a, 0, name, sizeof name), arg_str(env, &a, 1, op, sizeof op),
                                arg_str(env, &a, 2, trace, sizeof trace),
                                arg_str(env, &a, 3, parent, sizeof parent), arg_bool(env, &a, 4, true),
                                arg_bool(env, &a, 5, false))
                 : -ESRCH;
    if (h >= 0) sp_agent_txn_started(arg_bool(env, &a, 5, false));
    return number(env, (double)h);
}

/* transactionIds(handle) -> {trace_id, span_id, event_id} for propagation. */
static napi_value js_transaction_ids(napi_env env, napi_callback_info info)
{
    args_t a;
    get_args(env, info, &a);
    sp_txn_t t;
    napi_value obj;
    if (sp_txn_get((long)arg_num(env, &a, 0, -1), &t) != 0 || napi.create_object(env, &obj) != 0)
        return undefined(env);
    set_string(env, obj, "trace_id", t.trace_id);
    set_string(env, obj, "span_id", t.span_id);
    set_string(env, obj, "event_id", t.event_id);
    return obj;
}

/* setTransaction(handle, name, httpStatus, status) before finishing. */
static napi_value js_set_transaction(napi_env env, napi_callback_info info)
{
    args_t a;
    get_args(env, info, &a);
    long h = (long)arg_num(env, &a, 0, -1);
    char name[SP_TXN_NAME_MAX], status[sizeof(((sp_txn_t *)0)->status)];
    if (*arg_str(env, &a, 1, name, sizeof name)) sp_txn_set_name(h, name);
    int rc = sp_txn_set_status(h, (int)arg_num(env, &a, 2, 0), arg_str(env, &a, 3, status, sizeof status));
    return number(env, rc);
}

/* finishTransaction(handle, keep=true) -> 0 or -errno. */
static napi_value js_finish_transaction(napi_env env, napi_callback_info info)
{
    args_t a;
    get_args(env, info, &a);
    long h = (long)arg_num(env, &a, 0, -1);
    /* No wake-up here, on the request path: whoever awaits the profile wakes the agent
     * when takeProfile finds it missing. */
    int rc = arg_bool(env, &a, 1, true) ? sp_txn_finish(h) : sp_txn_discard(h);
    return number(env, rc);
}

/* setSdk(dsn, release, environment, sdkName, sdkVersion, sdkPackage): what an app's Sentry client
 * says. The DSN wins over SENTRY_DSN (and enables uploads when there was none); release
 * and environment win over SENTRY_RELEASE/SENTRY_ENVIRONMENT; "" keeps the current value. */
static napi_value js_set_sdk(napi_env env, napi_callback_info info)
{
    args_t a;
    get_args(env, info, &a);
    if (started_pid != getpid()) return number(env, -ESRCH);
    char dsn[512], release[256], environment[128], name[64], version[32], package[64];
    arg_str(env, &a, 0, dsn, sizeof dsn);
    arg_str(env, &a, 1, release, sizeof release);
    arg_str(env, &a, 2, environment, sizeof environment);
    arg_str(env, &a, 3, name, sizeof name);
    arg_str(env, &a, 4, version, sizeof version);
    arg_str(env, &a, 5, package, sizeof package);
    sp_agent_set_sdk(release, environment, name, version, package);
    if (dsn[0]) sp_uploader_set_dsn(dsn);
    return number(env, 0);
}

/* setDebugId(path, debugId) -> 0 or -errno: a loaded bundle's source-map debug id
 * (globalThis._sentryDebugIds, `//# debugId=`), for the sourcemap images of profiles. */
static napi_value js_set_debug_id(napi_env env, napi_callback_info info)
{
    args_t a;
    get_args(env, info, &a);
    if (started_pid != getpid()) return number(env, -ESRCH);
    char path[1024], id[64];
    arg_str(env, &a, 0, path, sizeof path);
    arg_str(env, &a, 1, id, sizeof id);
    return number(env, sp_debugid_set(path, id));
}

/* setModuleBase(dir): the app's directory (dirname(process.argv[1])), as @sentry/node's
 * stack parser uses it for module names. */
static napi_value js_set_module_base(napi_env env, napi_callback_info info)
{
    args_t a;
    get_args(env, info, &a);
    if (started_pid != getpid()) return number(env, -ESRCH);
    char dir[1024];
    sp_agent_set_module_base(arg_str(env, &a, 0, dir, sizeof dir));
    return number(env, 0);
}

/* setContinuous(on, discardUncommitted) -> previous state (1/0), or -errno. The SDK
 * decides whether the process is profiled continuously (see sp_agent_set_continuous). */
static napi_value js_set_continuous(napi_env env, napi_callback_info info)
{
    args_t a;
    get_args(env, info, &a);
    if (started_pid != getpid()) return number(env, -ESRCH);
    return number(env, sp_agent_set_continuous(arg_bool(env, &a, 0, true), arg_bool(env, &a, 1, false)));
}

/* continuous() -> 1 while chunks are being built, else 0. */
static napi_value js_continuous(napi_env env, napi_callback_info info)
{
    (void)info;
    return number(env, sp_agent_continuous());
}

static void export_fn(napi_env env, napi_value exports, const char *name, napi_callback cb)
{
    napi_value fn;
    if (napi.create_function(env, name, strlen(name), cb, NULL, &fn) == 0)
        napi.set_named_property(env, exports, name, fn);
}

SP_EXPORT napi_value napi_register_module_v1(napi_env env, napi_value exports)
{
    if (!napi_resolve()) return exports;
    export_fn(env, exports, "stats", js_stats);
    export_fn(env, exports, "registerThread", js_register_thread);
    export_fn(env, exports, "startTransaction", js_start_transaction);
    export_fn(env, exports, "transactionIds", js_transaction_ids);
    export_fn(env, exports, "setTransaction", js_set_transaction);
    export_fn(env, exports, "finishTransaction", js_finish_transaction);
    export_fn(env, exports, "takeProfile", js_take_profile);
    export_fn(env, exports, "setSdk", js_set_sdk);
    export_fn(env, exports, "setDebugId", js_set_debug_id);
    export_fn(env, exports, "setModuleBase", js_set_module_base);
    export_fn(env, exports, "setContinuous", js_set_continuous);
    export_fn(env, exports, "continuous", js_continuous);
    set_string(env, exports, "profilerId", sp_agent_profiler_id());
    set_string(env, exports, "version", SP_VERSION);
    /* 0: the engine is not running here (an excluded process that inherited NODE_OPTIONS
     * from a profiled parent, a fork child): the helper then does nothing. */
    set_number(env, exports, "active", started_pid == getpid() ? 1 : 0);
    set_string(env, exports, "mode", sp_agent_continuous() ? "continuous" : "transaction");
    /* Whether SENTRYPROF_MODE chose the mode (an SDK's settings replace only defaults). */
    set_number(env, exports, "modeFromEnv", config.mode_from_env);
    /* The parsed config, so the helper does not parse the same variables again. */
    set_number(env, exports, "debug", config.debug ? 1 : 0);
    /* The longest transaction name in bytes (the helper cuts names on a character boundary). */
    set_number(env, exports, "txnNameMax", SP_TXN_NAME_MAX - 1);
    /* 1 in node's main thread (the process's first thread): the helper then needs no
     * require('worker_threads'), ~10 ms of module loading at every node start. */
    set_number(env, exports, "mainThread", syscall(SYS_gettid) == getpid() ? 1 : 0);
    return exports;
}
