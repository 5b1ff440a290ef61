/* preload: the thin front of libsentryprof.so. Owns the "should I run here?" decision,
 * the NODE_OPTIONS change, engine start/stop, fork and exit; the fopen interposition is in
 * interpose.c, the N-API module for the JS helper in napi.c (preload.h).
 *
 * Runs: the constructor on the main thread before main(), single-threaded; the destructor
 * on the exiting thread.
 * Rules: in any process that is not node (no N-API in the executable), in secure-execution
 * mode, with SENTRYPROF_DISABLE=true or in a node process not selected (src/select.h: package
 * managers, SENTRYPROF_INCLUDE/EXCLUDE) it does nothing at all: no thread, no signal handler,
 * no environment change. It never aborts the host: every failure is one warning and inert.
 * Reads: the environment through src/config.c only (sp_config_load_gate, then
 * sp_config_load_engine), once, here; writes NODE_OPTIONS, SENTRYPROF_LIBRARY_PATH and
 * SENTRYPROF_ADDED_NATIVE_STACK for node and its children. Turns the V8 frame decoder on
 * (node's exported layout constants) before it writes NODE_OPTIONS: whether the decoder is
 * on decides whether V8 must name interpreted frames through its perf map. */
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
#include <unistd.h>

#include "sentryprof.h"

#include "agent.h"
#include "config.h"
#include "jitlog.h"
#include "log.h"
#include "mem.h"
#include "nodeargs.h"
#include "preload.h"
#include "ring.h"
#include "sampler.h"
#include "select.h"
#include "uploader.h"
#include "v8decode.h"
#include "v8owner.h"

#define SP_RING_CAPACITY 1024 /* samples; ~10 s of one thread at 99 Hz between drains */
#define SP_HELPER_NAME "sentryprof-helper.js"

#define SP_FLAG_PERF_MAP "--perf-basic-prof-only-functions"
/* Gives each interpreted function its own copy of the interpreter trampoline, so the perf
 * map names it. Needed only when the V8 frame decoder (src/v8decode.h) is off
 * (SENTRYPROF_V8_FRAMES=false, or a node whose layout it does not know): the decoder names
 * interpreted frames from their frame slots, with the executing line, on the shared
 * trampoline as well. Then injected only where V8 cannot deadlock with it
 * (sp_config_native_stack_safe). Left out, it also keeps the perf map smaller: one entry
 * less per interpreted function (a fifth of a worker churn's map). */
#define SP_FLAG_NATIVE_STACK "--interpreted-frames-native-stack"

static sp_config_t config;
static sp_ring_t *ring;
static _Atomic pid_t started_pid;
static char perf_map_path[64];
static bool jit_events; /* the perf map comes from V8's code events (jitlog.h), not a flag */
/* Who writes the perf map: "v8_code_events" (jitlog.h), "v8_flag" (ours in NODE_OPTIONS),
 * "user" (the user's --perf-basic-prof/--perf-prof), "none" (NODE_OPTIONS left alone). */
static const char *perf_map_source = "none";

const sp_config_t *sp_preload_config(void) { return &config; }
/* On every N-API call, so without a syscall (getpid costs ~1 µs under some hypervisors:
 * a profiled HTTP request made two of them): a fork child is inactive because atfork_child
 * clears started_pid. A vfork child shares started_pid but only execs; the constructor
 * and the destructor still compare pids. */
bool sp_preload_active(void) { return atomic_load_explicit(&started_pid, memory_order_relaxed) != 0; }

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

/* Whether node's own options on its command line ask V8 for the perf map (`node
 * --perf-basic-prof app.js`): the user's map then, as with the flag in NODE_OPTIONS. */
static bool cmdline_wants_perf_map(void)
{
    char buf[8192];
    size_t n = 0;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    for (ssize_t r; n < sizeof buf && (r = read(fd, buf + n, sizeof buf - n)) != 0;) {
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break;
        n += (size_t)r;
    }
    close(fd);
    return sp_nodeargs_want_perf_map(buf, n);
}

/* Adds our V8 flags (only those absent) and the helper to NODE_OPTIONS, keeping the
 * user's options first. Returns whether the perf map is ours (we write it, or asked V8
 * for it). A flag the user gave is left as it is, even --interpreted-frames-native-stack
 * on an old V8; with the user's own perf map flag (in NODE_OPTIONS or on the command line)
 * ours is not added: --perf-basic-prof-only-functions would cut the user's map down to
 * functions. decoder: the V8 frame decoder is on in this process. jit_ok: the map can come
 * from V8's code events (jitlog.h); then *jit is set and no perf map flag is added. */
static bool prepare_node_options(const char *helper, bool decoder, bool jit_ok, bool *jit)
{
    *jit = false;
    char opts[sizeof config.node_options];
    snprintf(opts, sizeof opts, "%s", config.node_options);
    if (config.node_options_too_long) {
        SP_WARN("NODE_OPTIONS is longer than %zu bytes; leaving it alone", sizeof opts - 1);
        return false;
    }
    bool user_perf_map = sp_config_has_node_flag(opts, "--perf-basic-prof") ||
                         sp_config_has_node_flag(opts, "--perf-prof") || cmdline_wants_perf_map();
    bool changed = false, ok = true;
    perf_map_source = user_perf_map ? "user" : "v8_flag";
    if (!user_perf_map && !sp_config_has_node_flag(opts, SP_FLAG_PERF_MAP)) {
        if (jit_ok) {
            perf_map_source = "v8_code_events";
            *jit = true; /* jitlog.h: the map from V8's code events, no flag */
        } else {
            ok = ok && append(opts, sizeof opts, SP_FLAG_PERF_MAP);
            changed = true;
        }
    }
    const char *v8 = v8_version();
    bool safe = sp_config_native_stack_safe(v8);
    bool want = safe && !decoder;
    const char *why = decoder ? "the V8 frame decoder names interpreted frames"
                              : "it can deadlock V8's own CPU profiler there; interpreted JS frames stay unnamed";
    if (!want && config.added_native_stack && sp_config_has_node_flag(opts, SP_FLAG_NATIVE_STACK) &&
        remove_option(opts, SP_FLAG_NATIVE_STACK)) {
        /* Inherited from a parent node that needed it (its decoder was off), not the user's. */
        SP_DEBUG("V8 %s: removing the " SP_FLAG_NATIVE_STACK " a parent process added (%s)",
                 v8 ? v8 : "?", why);
        unsetenv(SP_ENV_ADDED_NATIVE_STACK);
        changed = true;
    }
    if (!sp_config_has_node_flag(opts, SP_FLAG_NATIVE_STACK)) {
        if (want) {
            ok = ok && append(opts, sizeof opts, SP_FLAG_NATIVE_STACK);
            ok = ok && setenv(SP_ENV_ADDED_NATIVE_STACK, "1", 1) == 0;
            changed = true;
        } else {
            SP_DEBUG("V8 %s: not adding " SP_FLAG_NATIVE_STACK " (%s)", v8 ? v8 : "of unknown version", why);
        }
    }
    if (helper && !strstr(opts, SP_HELPER_NAME)) {
        ok = ok && append(opts, sizeof opts, "--require") && append_quoted(opts, sizeof opts, helper);
        changed = true;
    }
    if (!ok) {
        SP_WARN("NODE_OPTIONS would be too long; leaving it alone (no JS function names)");
        *jit = false;
        perf_map_source = "none";
        return false;
    }
    if (changed && setenv(SP_ENV_NODE_OPTIONS, opts, 1) != 0) return false;
    SP_DEBUG("NODE_OPTIONS=%s", opts);
    return !user_perf_map;
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
    sp_config_load_gate(&config);
    if (config.disable) return;
    /* Which node processes: before anything else, so an excluded one (npm, or what
     * SENTRYPROF_INCLUDE/EXCLUDE say) stays as inert as a shell. Its children decide anew. */
    sp_select_t sel;
    sp_select_self(config.include, config.exclude, &sel);
    if (config.debug) {
        sp_log_set_level(SP_LOG_DEBUG);
        SP_DEBUG("process %s: %s (%s)", sel.script, sel.profile ? "profiled" : "not profiled", sel.rule);
    }
    if (!sel.profile) return;

    sp_config_load_engine(&config); /* a bad DEBUG value warns here */
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
    /* The decoder's layout before the NODE_OPTIONS change: whether it is on decides
     * whether V8 must copy the interpreter entry per function (SP_FLAG_NATIVE_STACK). It
     * reads only node's exported constants, safe before main. */
    bool decoder = config.v8_frames && sp_v8decode_init();
    /* The helper attaches the events on each JS thread (napi.c): without it, the flag. */
    bool own_perf_map = prepare_node_options(have_helper ? helper : NULL, decoder,
                                             have_helper && sp_jitlog_available(), &jit_events);
    sp_interpose_prepare(own_perf_map, config.keep_perf_map, config.node_options);

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
    if (jit_events) sp_jitlog_init(perf_map_path, !config.keep_perf_map);
    sp_agent_opts_t opts = {.cfg = &config,
                            .ring = ring,
                            .perf_map_path = perf_map_path,
                            .remove_perf_map = own_perf_map && !config.keep_perf_map,
                            .process_start = start};
    if (sp_agent_start(&opts) < 0) return;
    pthread_atfork(NULL, NULL, atfork_child);
    started_pid = getpid();
    sp_interpose_engine_started();
    if (config.continuous) sp_sampler_process_begin(); /* the whole run is one profile */
    if (sp_sampler_register_thread("0", "main") < 0) SP_WARN("cannot sample the main thread");
}

const char *sp_preload_perf_map_source(void) { return perf_map_source; }

void sp_preload_attach_jit_events(void)
{
    if (!jit_events || !started_pid || started_pid != getpid()) return;
    /* Bytecode's owners are kept for the decoder only (v8owner.h): no table without it. */
    if (sp_v8decode_enabled()) sp_v8owner_init();
    int rc = sp_jitlog_attach();
    static atomic_bool said;
    if (rc < 0 && !atomic_exchange(&said, true))
        SP_DEBUG("V8 code events not attached (%s): JIT-compiled JS functions stay unnamed", strerror(-rc));
}

__attribute__((destructor)) static void sentryprof_fini(void)
{
    if (!started_pid || started_pid != getpid()) return;
    sp_sampler_stop();
    sp_agent_stop(config.exit_ms); /* SENTRYPROF_EXIT_TIMEOUT: the agent spools what is finished */
    sp_uploader_shutdown(config.shutdown_ms);
    started_pid = 0;
}

void sp_preload_flush_before_death(int budget_ms)
{
    if (!started_pid || started_pid != getpid()) return;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    sp_sampler_stop();
    sp_agent_stop(budget_ms < config.exit_ms ? budget_ms : config.exit_ms);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long spent = (t1.tv_sec - t0.tv_sec) * 1000L + (t1.tv_nsec - t0.tv_nsec) / 1000000L;
    if (spent < budget_ms) sp_uploader_shutdown((int)(budget_ms - spent));
}

