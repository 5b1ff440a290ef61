/* napi: the N-API module the JS helper binds (process.dlopen on SENTRYPROF_LIBRARY_PATH):
 * manual transactions, stats, thread registration, the SDK bridges' calls, and the parsed
 * config (the helper reads no SENTRYPROF_* variable itself).
 * Threads: JS threads (the main thread and workers), each on its own napi_env.
 * N-API symbols are resolved at run time (dlsym), so the library loads in any process. */
#include <dlfcn.h>
#include <pthread.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sentryprof.h"

#include "agent.h"
#include "budget.h"
#include "clock.h"
#include "config.h"
#include "debugid.h"
#include "fatal.h"
#include "jitlog.h"
#include "log.h"
#include "mem.h"
#include "preload.h"
#include "sampler.h"
#include "stats.h"
#include "txn.h"

#define SP_TEARDOWN_DRAIN_MAIN_MS 200  /* the main thread's exit: its last samples */
#define SP_TEARDOWN_DRAIN_WORKER_MS 20 /* a worker's end: churn must not wait on the agent */
#include "uploader.h"
#include "v8decode.h"
#include "v8owner.h"

/* A bridge buffer for a field of one of our structs, one byte longer than the field: an id
 * that is too long arrives too long (and is rejected), not cut to the right length. */
#define SP_ARG_LEN(type, field) (sizeof(((type *)0)->field) + 1)

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
    set_number(env, obj, "perf_map_behind_bytes", (double)sp_agent_perf_map_behind());
    set_number(env, obj, "v8_decoder", sp_v8decode_enabled()); /* set before main, read-only since */
    set_number(env, obj, "threads", sp_sampler_thread_count());
    set_number(env, obj, "active", sp_preload_active());
    set_number(env, obj, "signal", sp_sampler_signal());
    set_number(env, obj, "exit_signals_armed", sp_fatal_armed()); /* fatal.h: SIGTERM 1, SIGINT 2, SIGHUP 4 */
    set_string(env, obj, "perf_map", sp_preload_perf_map_source());
    uint64_t jit_lines, jit_events, jit_moves;
    sp_jitlog_counts(&jit_lines, &jit_events, &jit_moves);
    set_number(env, obj, "v8_code_events", (double)jit_events);
    set_number(env, obj, "v8_code_moves", (double)jit_moves);
    set_number(env, obj, "perf_map_lines_written", (double)jit_lines);
    uint64_t owners, owner_moves, owners_evicted, owner_bytes;
    sp_v8owner_counts(&owners, &owner_moves, &owners_evicted, &owner_bytes);
    set_number(env, obj, "v8_bytecode_owners", (double)owners);
    set_number(env, obj, "v8_bytecode_owners_forgotten", (double)owners_evicted);
    set_number(env, obj, "v8_bytecode_owner_table_bytes", (double)owner_bytes);
    set_string(env, obj, "mode", sp_agent_continuous() ? "continuous" : "transaction");
    set_string(env, obj, "logging_mode", sp_preload_config()->lazy ? "lazy" : "eager");
    set_string(env, obj, "clock", sp_preload_config()->cpu_clock ? "cpu" : "wall");
    return obj;
}

static void on_env_teardown(void *arg)
{
    (void)arg;
    sp_sampler_unregister_thread(); /* runs on the env's own thread */
    /* Node disposes of a worker's isolate after its cleanup hooks: let the agent read what
     * it needs of V8's heap first. (The main thread's natural exit runs no cleanup hook:
     * js_drain_before_exit, from the helper's 'exit' listener, covers it.) */
    sp_agent_drain_wait(SP_TEARDOWN_DRAIN_WORKER_MS);
}

/* drainBeforeExit(): the main thread's 'exit' event, while its isolate still exists. */
static napi_value js_drain_before_exit(napi_env env, napi_callback_info info)
{
    (void)info;
    sp_agent_drain_wait(SP_TEARDOWN_DRAIN_MAIN_MS);
    return number(env, 0);
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
    if (sp_preload_active() && *id) {
        rc = sp_sampler_register_thread(id, name);
        if (rc == 0) napi.add_env_cleanup_hook(env, on_env_teardown, NULL);
        if (rc == 0 || rc == -EEXIST) sp_preload_attach_jit_events();
        int mask = (int)arg_num(env, &a, 3, 0);
        if ((rc == 0 || rc == -EEXIST) && mask && syscall(SYS_gettid) == getpid())
            sp_fatal_arm(mask, sp_preload_config()->shutdown_ms, sp_preload_flush_before_death);
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
    long h = sp_preload_active()
                 ? sp_txn_start(arg_str(env, &a, 0, name, sizeof name), arg_str(env, &a, 1, op, sizeof op),
                                arg_str(env, &a, 2, trace, sizeof trace),
                                arg_str(env, &a, 3, parent, sizeof parent), arg_bool(env, &a, 4, true),
                                arg_bool(env, &a, 5, false))
                 : -ESRCH;
    if (h >= 0) sp_agent_txn_started(arg_bool(env, &a, 5, false));
    return number(env, (double)h);
}

/* The HTTP auto-instrumentation's budget, one for the process (every JS thread's helper
 * asks the same bucket): set up by the first call, from the configuration. */
static sp_budget_t http_budget;
static pthread_once_t http_budget_once = PTHREAD_ONCE_INIT;

static void http_budget_init(void)
{
    const sp_config_t *cfg = sp_preload_config();
    sp_budget_init(&http_budget, cfg ? cfg->http_per_second : SP_DEFAULT_HTTP_PER_SECOND,
                   sp_clock_mono_ns());
}

/* httpTake() -> 1 when a request may become a transaction (a token was taken), else 0. */
static napi_value js_http_take(napi_env env, napi_callback_info info)
{
    (void)info;
    pthread_once(&http_budget_once, http_budget_init);
    return number(env, sp_budget_take(&http_budget, sp_clock_mono_ns()) ? 1 : 0);
}

/* httpGiveBack(): the token of a request that did not become a transaction after all. */
static napi_value js_http_give_back(napi_env env, napi_callback_info info)
{
    (void)info;
    pthread_once(&http_budget_once, http_budget_init);
    sp_budget_give_back(&http_budget);
    return undefined(env);
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

/* finishTransaction(handle, keep=true[, name, httpStatus, status]) -> 0 or -errno. With the
 * last three, setTransaction first: the HTTP hook's one call per finished request, not two
 * (each crossing converts its arguments and takes the transactions' lock). */
static napi_value js_finish_transaction(napi_env env, napi_callback_info info)
{
    args_t a;
    get_args(env, info, &a);
    long h = (long)arg_num(env, &a, 0, -1);
    if (a.argc > 2) {
        char name[SP_TXN_NAME_MAX], status[sizeof(((sp_txn_t *)0)->status)];
        if (*arg_str(env, &a, 2, name, sizeof name)) sp_txn_set_name(h, name);
        sp_txn_set_status(h, (int)arg_num(env, &a, 3, 0), arg_str(env, &a, 4, status, sizeof status));
    }
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
    if (!sp_preload_active()) return number(env, -ESRCH);
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

/* noteSdkResponse(status, rateLimits, retryAfter) -> 0 or -errno: what Sentry answered the
 * app's SDK for the same DSN (a 429, or X-Sentry-Rate-Limits): our uploads hold to it too. */
static napi_value js_note_sdk_response(napi_env env, napi_callback_info info)
{
    args_t a;
    get_args(env, info, &a);
    if (!sp_preload_active()) return number(env, -ESRCH);
    char rate_limits[448], retry_after[48];
    arg_str(env, &a, 1, rate_limits, sizeof rate_limits);
    arg_str(env, &a, 2, retry_after, sizeof retry_after);
    sp_uploader_sdk_response((long)arg_num(env, &a, 0, 0), rate_limits, retry_after);
    return number(env, 0);
}

/* setDebugId(path, debugId) -> 0 or -errno: a loaded bundle's source-map debug id
 * (globalThis._sentryDebugIds, `//# debugId=`), for the sourcemap images of profiles. */
static napi_value js_set_debug_id(napi_env env, napi_callback_info info)
{
    args_t a;
    get_args(env, info, &a);
    if (!sp_preload_active()) return number(env, -ESRCH);
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
    if (!sp_preload_active()) return number(env, -ESRCH);
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
    if (!sp_preload_active()) return number(env, -ESRCH);
    return number(env, sp_agent_set_continuous(arg_bool(env, &a, 0, true), arg_bool(env, &a, 1, false)));
}

/* continuous() -> 1 while chunks are being built, else 0. */
static napi_value js_continuous(napi_env env, napi_callback_info info)
{
    (void)info;
    return number(env, sp_agent_continuous());
}

/* exports.debug and exports.config: {tracesSampleRate, profilesSampleRate,
 * profilesRateFromEnv, http, httpPerSecond}, what the helper and its siblings use. */
static void set_config(napi_env env, napi_value exports, const sp_config_t *cfg)
{
    set_number(env, exports, "debug", cfg->debug ? 1 : 0);
    napi_value obj;
    if (napi.create_object(env, &obj) != 0) return;
    set_number(env, obj, "tracesSampleRate", cfg->traces_sample_rate);
    set_number(env, obj, "profilesSampleRate", cfg->profiles_sample_rate);
    set_number(env, obj, "profilesRateFromEnv", cfg->profiles_rate_from_env ? 1 : 0);
    set_string(env, obj, "http", cfg->http);
    set_number(env, obj, "httpPerSecond", cfg->http_per_second);
    napi.set_named_property(env, exports, "config", obj);
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
    export_fn(env, exports, "drainBeforeExit", js_drain_before_exit);
    export_fn(env, exports, "startTransaction", js_start_transaction);
    export_fn(env, exports, "transactionIds", js_transaction_ids);
    export_fn(env, exports, "setTransaction", js_set_transaction);
    export_fn(env, exports, "finishTransaction", js_finish_transaction);
    export_fn(env, exports, "takeProfile", js_take_profile);
    export_fn(env, exports, "setSdk", js_set_sdk);
    export_fn(env, exports, "noteSdkResponse", js_note_sdk_response);
    export_fn(env, exports, "setDebugId", js_set_debug_id);
    export_fn(env, exports, "setModuleBase", js_set_module_base);
    export_fn(env, exports, "setContinuous", js_set_continuous);
    export_fn(env, exports, "continuous", js_continuous);
    export_fn(env, exports, "httpTake", js_http_take);
    export_fn(env, exports, "httpGiveBack", js_http_give_back);
    set_string(env, exports, "profilerId", sp_agent_profiler_id());
    set_string(env, exports, "version", SP_VERSION);
    /* 0: the engine is not running here (an excluded process that inherited NODE_OPTIONS
     * from a profiled parent, a fork child): the helper then does nothing. */
    set_number(env, exports, "active", sp_preload_active() ? 1 : 0);
    set_string(env, exports, "mode", sp_agent_continuous() ? "continuous" : "transaction");
    /* Whether SENTRYPROF_MODE chose the mode (an SDK's settings replace only defaults). */
    set_number(env, exports, "modeFromEnv", sp_preload_config()->mode_from_env);
    /* The parsed config (src/config.c): the helper reads no SENTRYPROF_* or SENTRY_* variable
     * itself, so every value has one parser, one warning and one default. */
    set_config(env, exports, sp_preload_config());
    /* The longest transaction name in bytes (the helper cuts names on a character boundary). */
    set_number(env, exports, "txnNameMax", SP_TXN_NAME_MAX - 1);
    /* 1 in node's main thread (the process's first thread): the helper then needs no
     * require('worker_threads'), ~10 ms of module loading at every node start. */
    set_number(env, exports, "mainThread", syscall(SYS_gettid) == getpid() ? 1 : 0);
    return exports;
}
