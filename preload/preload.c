/* preload: the thin front of libsentryprof.so. Owns the "should I run here?" decision,
 * the NODE_OPTIONS change, engine start/stop and the N-API module entry for the JS helper.
 *
 * Runs: the constructor on the main thread before main(), single-threaded; the destructor
 * on the exiting thread; the N-API callbacks on a JS thread.
 * Rules: in any process that is not node (no N-API in the executable), in secure-execution
 * mode or with SENTRYPROF_DISABLE=1 it does nothing at all: no thread, no signal handler,
 * no environment change. It never aborts the host: every failure is one warning and inert.
 * N-API symbols are looked up at run time (dlsym), so the library loads anywhere.
 * Reads: SENTRYPROF_* and NODE_OPTIONS (see src/config.h). */
#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"
#include "log.h"
#include "mem.h"
#include "ring.h"
#include "sampler.h"
#include "stats.h"

#define SP_EXPORT __attribute__((visibility("default")))
#define SP_RING_CAPACITY 1024 /* samples; ~10 s of one thread at 99 Hz between drains */
#define SP_EXIT_TIMEOUT_MS 1000 /* bound on the exit-time flush */
#define SP_HELPER_NAME "sentryprof-helper.js"

static const char *const node_flags[] = {"--perf-basic-prof-only-functions",
                                         "--interpreted-frames-native-stack"};

static sp_config_t config;
static sp_ring_t *ring;
static pid_t started_pid;
static char perf_map_path[64];

SP_EXPORT const char *sentryprof_version(void) { return SP_VERSION; }

/* The executable exports N-API only if it is node (or embeds it). */
static bool is_node_process(void) { return dlsym(RTLD_DEFAULT, "napi_module_register") != NULL; }

static bool has_token(const char *opts, const char *flag)
{
    size_t n = strlen(flag);
    for (const char *p = opts; (p = strstr(p, flag)); p += n) {
        bool start = p == opts || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '"';
        char end = p[n];
        if (start && (end == '\0' || end == ' ' || end == '\t' || end == '=' || end == '"')) return true;
    }
    return false;
}

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
    const char *const candidates[] = {"%s/sentryprof/" SP_HELPER_NAME, "%s/../preload/" SP_HELPER_NAME};
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
        struct stat st;
        snprintf(out, len, candidates[i], dir);
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return true;
    }
    return false;
}

/* Adds our V8 flags (only those absent) and the helper to NODE_OPTIONS, keeping the
 * user's options first. Returns whether we asked for the perf map ourselves. */
static bool prepare_node_options(const char *helper)
{
    const char *old = getenv("NODE_OPTIONS");
    char opts[8192];
    snprintf(opts, sizeof opts, "%s", old ? old : "");
    if (old && strlen(old) >= sizeof opts) {
        SP_WARN("NODE_OPTIONS is longer than %zu bytes; leaving it alone", sizeof opts - 1);
        return false;
    }
    bool user_perf_map = has_token(opts, "--perf-basic-prof") || has_token(opts, "--perf-prof");
    bool changed = false, ok = true;
    for (size_t i = 0; i < sizeof node_flags / sizeof *node_flags; i++)
        if (!has_token(opts, node_flags[i]) && !(i == 0 && user_perf_map)) {
            ok = ok && append(opts, sizeof opts, node_flags[i]);
            changed = true;
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

static void atfork_child(void)
{
    /* Timers and the agent thread do not survive fork; the child stays inert (it never
     * writes the parent's files). An exec'd child starts fresh through the constructor. */
    sp_sampler_atfork_child();
    sp_agent_atfork_child();
    started_pid = 0;
}

__attribute__((constructor)) static void sentryprof_init(void)
{
    if (getauxval(AT_SECURE)) return;
    const char *off = secure_getenv(SP_ENV_DISABLE);
    if (off && *off && strcmp(off, "0") != 0) return;
    if (!is_node_process()) return;

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
        }
    }
    if (!have_helper) SP_DEBUG("JS helper %s not found next to the library", SP_HELPER_NAME);
    bool own_perf_map = prepare_node_options(have_helper ? helper : NULL);

    json_set_alloc_funcs(sp_mem_alloc, sp_mem_free);
    ring = sp_ring_new(SP_RING_CAPACITY);
    if (!ring) {
        SP_WARN("out of memory for the sample ring; profiling disabled");
        return;
    }
    if (sp_sampler_init(config.signal, config.hz, ring) < 0) return;
    snprintf(perf_map_path, sizeof perf_map_path, "/tmp/perf-%d.map", (int)getpid());
    sp_agent_opts_t opts = {.cfg = &config,
                            .ring = ring,
                            .perf_map_path = perf_map_path,
                            .remove_perf_map = own_perf_map && !config.keep_perf_map,
                            .process_start = start};
    if (sp_agent_start(&opts) < 0) return;
    pthread_atfork(NULL, NULL, atfork_child);
    started_pid = getpid();
    if (sp_sampler_register_thread("0", "main") < 0) SP_WARN("cannot sample the main thread");
}

__attribute__((destructor)) static void sentryprof_fini(void)
{
    if (!started_pid || started_pid != getpid()) return;
    sp_sampler_stop();
    sp_agent_stop(SP_EXIT_TIMEOUT_MS);
    started_pid = 0;
}

/* ---- N-API bridge: resolved at run time so non-node processes never need it ---- */

typedef struct napi_env__ *napi_env;
typedef struct napi_value__ *napi_value;
typedef struct napi_callback_info__ *napi_callback_info;
typedef int napi_status;
typedef napi_value (*napi_callback)(napi_env, napi_callback_info);

static struct {
    napi_status (*create_function)(napi_env, const char *, size_t, napi_callback, void *, napi_value *);
    napi_status (*create_object)(napi_env, napi_value *);
    napi_status (*create_double)(napi_env, double, napi_value *);
    napi_status (*create_string_utf8)(napi_env, const char *, size_t, napi_value *);
    napi_status (*set_named_property)(napi_env, napi_value, const char *, napi_value);
} napi;

static bool napi_resolve(void)
{
    napi.create_function = dlsym(RTLD_DEFAULT, "napi_create_function");
    napi.create_object = dlsym(RTLD_DEFAULT, "napi_create_object");
    napi.create_double = dlsym(RTLD_DEFAULT, "napi_create_double");
    napi.create_string_utf8 = dlsym(RTLD_DEFAULT, "napi_create_string_utf8");
    napi.set_named_property = dlsym(RTLD_DEFAULT, "napi_set_named_property");
    return napi.create_function && napi.create_object && napi.create_double &&
           napi.create_string_utf8 && napi.set_named_property;
}

static void set_number(napi_env env, napi_value obj, const char *key, double v)
{
    napi_value n;
    if (napi.create_double(env, v, &n) == 0) napi.set_named_property(env, obj, key, n);
}

/* stats(): the counters, for people and tests. */
static napi_value js_stats(napi_env env, napi_callback_info cbinfo)
{
    napi_value obj;
    if (napi.create_object(env, &obj) != 0) return NULL;
    for (int i = 0; i < SP_STAT__COUNT; i++)
        set_number(env, obj, sp_stats_name((sp_stat_t)i), (double)sp_stats_get((sp_stat_t)i));
    set_number(env, obj, "handler_ns_p50", (double)sp_stats_handler_quantile(0.5));
    set_number(env, obj, "handler_ns_p99", (double)sp_stats_handler_quantile(0.99));
    set_number(env, obj, "handler_ns_max", (double)sp_stats_handler_max());
    set_number(env, obj, "memory_bytes", (double)sp_mem_in_use());
    set_number(env, obj, "active", started_pid == getpid());
    set_number(env, obj, "signal", sp_sampler_signal());
    return obj;
}

SP_EXPORT napi_value napi_register_module_v1(napi_env env, napi_value exports)
{
    if (!napi_resolve()) return exports;
    napi_value fn, version;
    if (napi.create_function(env, "stats", 5, js_stats, NULL, &fn) == 0)
        napi.set_named_property(env, exports, "stats", fn);
    if (napi.create_string_utf8(env, SP_VERSION, strlen(SP_VERSION), &version) == 0)
        napi.set_named_property(env, exports, "version", version);
    return exports;
}
