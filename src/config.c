/* config: parses the environment once; owns every default (config.h).
 * Threads: the preload constructor (single-threaded) or the CLI's one thread. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dsn.h"
#include "log.h"
#include "utf8.h"

#define SP_DEFAULT_TMPDIR "/tmp"

/* Which variables may warn during this load: all (NULL list, !quiet), or only those of
 * warn_for (the CLI). Set by the loaders below, single-threaded. */
static struct {
    bool quiet;
    const char *const *warn_for;
} load;

static bool may_warn(const char *name)
{
    if (!load.quiet) return true;
    for (const char *const *w = load.warn_for; w && *w; w++)
        if (strcmp(*w, name) == 0) return true;
    return false;
}
#define CFG_WARN(name, ...)                                                                        \
    do {                                                                                           \
        if (may_warn(name)) SP_WARN(__VA_ARGS__);                                                  \
    } while (0)

/* The value of name, or NULL when unset or empty (every variable: empty is unset). */
static const char *env(const char *name)
{
    const char *v = secure_getenv(name);
    return v && *v ? v : NULL;
}

/* Integer variable in [lo, hi]; anything else warns once and keeps def. */
static int env_int(const char *name, int def, int lo, int hi)
{
    const char *v = env(name);
    if (!v) return def;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || x < lo || x > hi) {
        CFG_WARN(name, "%s=\"%s\" is not a whole number in %d..%d; using %d", name, v, lo, hi, def);
        return def;
    }
    return (int)x;
}

int sp_config_parse_bool(const char *v)
{
    static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; v && i < sizeof yes / sizeof *yes; i++) {
        if (strcasecmp(v, yes[i]) == 0) return 1;
        if (strcasecmp(v, no[i]) == 0) return 0;
    }
    return -1;
}

static void warn_bool(const char *name, const char *v, bool def)
{
    CFG_WARN(name, "%s=\"%s\" is not one of 1/true/yes/on or 0/false/no/off; using %s", name, v,
             def ? "true" : "false");
}

/* Boolean variable: unset gives def; a value that is no truth value warns and gives def. */
static bool env_bool(const char *name, bool def)
{
    const char *v = env(name);
    int b = v ? sp_config_parse_bool(v) : -1;
    if (v && b < 0) warn_bool(name, v, def);
    return b < 0 ? def : b;
}

static void env_str(const char *name, char *dst, size_t len, const char *def)
{
    const char *v = env(name);
    if (!v) v = def;
    if (strlen(v) >= len) CFG_WARN(name, "%s is longer than %zu bytes; truncated", name, len - 1);
    snprintf(dst, len, "%s", v);
}

/* Text that goes into every envelope's JSON (release, environment, locale): valid UTF-8 or
 * jansson refuses the envelope, and every profile would be lost without a word (issue #20
 * item 4). Bytes that are not UTF-8 become U+FFFD, a value too long is cut on a character
 * boundary; either says so in one line. */
static void env_text(const char *name, char *dst, size_t len, const char *def)
{
    const char *v = env(name);
    if (!v) v = def;
    size_t bad = 0;
    bool cut = false;
    sp_utf8_copy(dst, len, v, strlen(v), &bad, &cut);
    if (bad)
        CFG_WARN(name, "%s is not valid UTF-8: %zu byte%s replaced by U+FFFD%s (\"%s\")", name, bad,
                 bad == 1 ? "" : "s", cut ? ", and cut to fit" : "", dst);
    else if (cut)
        CFG_WARN(name, "%s is longer than %zu bytes; truncated", name, len - 1);
}

/* One of two words (case-insensitive); anything else warns and gives def. */
static bool env_choice(const char *name, const char *yes, const char *no, bool def)
{
    const char *v = env(name);
    if (!v) return def;
    if (strcasecmp(v, yes) == 0) return true;
    if (strcasecmp(v, no) == 0) return false;
    CFG_WARN(name, "%s=\"%s\" is neither \"%s\" nor \"%s\"; using \"%s\"", name, v, yes, no, def ? yes : no);
    return def;
}

/* A plain decimal number (digits, one dot, an exponent), spaces around allowed: what the
 * JS helper accepted before (no sign, hex, inf or nan). */
static bool plain_number(const char *v, double *out)
{
    const char *p = v;
    while (isspace((unsigned char)*p)) p++;
    const char *num = p;
    size_t digits = strspn(p, "0123456789");
    p += digits;
    if (*p == '.') {
        size_t frac = strspn(p + 1, "0123456789");
        p += 1 + frac;
        digits += frac;
    }
    if (!digits) return false;
    if (*p == 'e' || *p == 'E') {
        const char *e = p + 1 + (p[1] == '+' || p[1] == '-');
        size_t n = strspn(e, "0123456789");
        if (!n) return false;
        p = e + n;
    }
    const char *tail = p;
    while (isspace((unsigned char)*p)) p++;
    if (*p) return false;
    char buf[64];
    if ((size_t)(tail - num) >= sizeof buf) return false;
    memcpy(buf, num, (size_t)(tail - num));
    buf[tail - num] = '\0';
    *out = strtod(buf, NULL);
    return isfinite(*out);
}

/* Blank (spaces only) counts as unset for the helper's numbers, as it did in JS. */
static const char *env_number_text(const char *name)
{
    const char *v = env(name);
    if (!v) return NULL;
    for (const char *p = v; *p; p++)
        if (!isspace((unsigned char)*p)) return v;
    return NULL;
}

/* A sample rate in 0..1. */
static double env_rate(const char *name, double def, bool *set)
{
    const char *v = env_number_text(name);
    double x;
    if (set) *set = v != NULL;
    if (!v) return def;
    if (!plain_number(v, &x) || x < 0 || x > 1) {
        CFG_WARN(name, "%s=\"%s\" is not a number in 0..1; using %g", name, v, def);
        return def;
    }
    return x;
}

/* A non-negative number (transactions per second ...). */
static double env_amount(const char *name, double def)
{
    const char *v = env_number_text(name);
    double x;
    if (!v) return def;
    if (!plain_number(v, &x) || x < 0) {
        CFG_WARN(name, "%s=\"%s\" is not a non-negative number; using %g", name, v, def);
        return def;
    }
    return x;
}

/* One of words (lowercased into dst); anything else warns and gives words[0]. */
static void env_word(const char *name, const char *const *words, size_t n, char *dst, size_t len)
{
    const char *v = env(name);
    snprintf(dst, len, "%s", words[0]);
    if (!v) return;
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(v, words[i]) == 0) {
            snprintf(dst, len, "%s", words[i]);
            return;
        }
    }
    char list[128] = "";
    for (size_t i = 0; i < n; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", words[i]);
    CFG_WARN(name, "%s=\"%s\" is not one of %s; using \"%s\"", name, v, list, words[0]);
}

bool sp_config_parse_size(const char *v, unsigned long long *out)
{
    if (!v || !*v) return false;
    char *end;
    errno = 0;
    unsigned long long x = v[0] >= '0' && v[0] <= '9' ? strtoull(v, &end, 10) : 0;
    unsigned shift = 0;
    if (!x || errno) return false;
    if (*end == 'k' || *end == 'K') shift = 10, end++;
    else if (*end == 'm' || *end == 'M') shift = 20, end++;
    else if (*end == 'g' || *end == 'G') shift = 30, end++;
    if (*end || (shift && x > (ULLONG_MAX >> shift))) return false;
    *out = x << shift;
    return true;
}

int sp_config_spool_dir(const char *spool_dir, const char *tmpdir, char *buf, size_t len)
{
    if (!buf || !len) return -EINVAL;
    buf[0] = '\0';
    int n;
    if (spool_dir && *spool_dir) {
        n = snprintf(buf, len, "%s", spool_dir);
    } else {
        const char *tmp = tmpdir && tmpdir[0] == '/' ? tmpdir : SP_DEFAULT_TMPDIR; /* empty or relative: ignored */
        size_t tl = strlen(tmp);
        while (tl > 1 && tmp[tl - 1] == '/') tl--; /* "/tmp/" -> "/tmp", no "//" */
        if (tl == 1) tl = 0;                       /* "/" -> "/sentryprof-<uid>" */
        /* getuid, as the fallback below; the spool's ownership check uses geteuid. */
        n = snprintf(buf, len, "%.*s/sentryprof-%u", (int)tl, tmp, (unsigned)getuid());
    }
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return -ENAMETOOLONG;
    }
    return 0;
}

/* SENTRYPROF_SPOOL_DIR or the default under TMPDIR, made absolute. */
static void load_spool_dir(sp_config_t *cfg)
{
    const char *v = env(SP_ENV_SPOOL_DIR), *tmp = env(SP_ENV_TMPDIR);
    if (sp_config_spool_dir(v, tmp, cfg->spool_dir, sizeof cfg->spool_dir) < 0) {
        if (v)
            CFG_WARN(SP_ENV_SPOOL_DIR, "%s is %zu bytes long, longer than a path can be (%zu); using /tmp/sentryprof-%u",
                     SP_ENV_SPOOL_DIR, strlen(v), sizeof cfg->spool_dir - 1, (unsigned)getuid());
        else
            CFG_WARN(SP_ENV_SPOOL_DIR, "TMPDIR is too long for the spool directory's path; using /tmp/sentryprof-%u",
                     (unsigned)getuid());
        snprintf(cfg->spool_dir, sizeof cfg->spool_dir, SP_DEFAULT_TMPDIR "/sentryprof-%u", (unsigned)getuid());
    } else if (cfg->spool_dir[0] != '/') {
        /* Resolved once, against the working directory at start: the agent writes and the
         * upload child reads it later, after the app may have changed directory. */
        char cwd[PATH_MAX], abs[PATH_MAX];
        int n = getcwd(cwd, sizeof cwd) ? snprintf(abs, sizeof abs, "%s/%s", cwd, cfg->spool_dir) : -1;
        if (n < 0 || (size_t)n >= sizeof abs) {
            CFG_WARN(SP_ENV_SPOOL_DIR, "%s=\"%.200s\" is relative and cannot be made absolute here; using /tmp/sentryprof-%u",
                     SP_ENV_SPOOL_DIR, cfg->spool_dir, (unsigned)getuid());
            snprintf(cfg->spool_dir, sizeof cfg->spool_dir, SP_DEFAULT_TMPDIR "/sentryprof-%u", (unsigned)getuid());
        } else {
            memcpy(cfg->spool_dir, abs, (size_t)n + 1);
        }
    }
    snprintf(cfg->tmpdir, sizeof cfg->tmpdir, "%s", tmp && tmp[0] == '/' ? tmp : SP_DEFAULT_TMPDIR);
}

/* SENTRY_DSN: kept, and checked here, at the start of every node process, with the parser
 * `sentryprof upload` uses: a bad DSN gets its line even in a process that never uploads. */
static void load_dsn(sp_config_t *cfg)
{
    const char *dsn = env(SP_ENV_DSN);
    cfg->has_dsn = dsn != NULL;
    if (!dsn) return;
    char why[160];
    sp_dsn_t d;
    if (strlen(dsn) >= sizeof cfg->dsn) {
        snprintf(why, sizeof why, "longer than %zu bytes", sizeof cfg->dsn - 1);
        cfg->dsn_valid = false;
    } else {
        snprintf(cfg->dsn, sizeof cfg->dsn, "%s", dsn);
        cfg->dsn_valid = sp_dsn_parse(dsn, &d, why, sizeof why) == 0;
    }
    if (!cfg->dsn_valid)
        CFG_WARN(SP_ENV_DSN, "%s=\"%.200s\" is not a valid DSN: %s; nothing is sent, profiles stay in %s "
                 "(send them later with `sentryprof upload --dsn DSN`)",
                 SP_ENV_DSN, dsn, why, cfg->spool_dir);
}

/* A bad SENTRYPROF_DEBUG seen by the gate, warned about by the engine stage. */
static const char *gate_bad_debug;

void sp_config_load_gate(sp_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->disable = env_bool(SP_ENV_DISABLE, false);
    const char *debug = env(SP_ENV_DEBUG);
    cfg->debug = sp_config_parse_bool(debug) == 1;
    gate_bad_debug = debug && sp_config_parse_bool(debug) < 0 ? debug : NULL;
    env_str(SP_ENV_INCLUDE, cfg->include, sizeof cfg->include, "");
    env_str(SP_ENV_EXCLUDE, cfg->exclude, sizeof cfg->exclude, "");
}

void sp_config_load_engine(sp_config_t *cfg)
{
    if (gate_bad_debug) warn_bool(SP_ENV_DEBUG, gate_bad_debug, false);
    gate_bad_debug = NULL;
    cfg->hz = env_int(SP_ENV_HZ, SP_DEFAULT_HZ, 1, SP_MAX_HZ);
    cfg->signal = env_int(SP_ENV_SIGNAL, 0, 0, SIGRTMAX);
    if (cfg->signal && (cfg->signal < SIGRTMIN + 2 || cfg->signal > SIGRTMAX)) {
        CFG_WARN(SP_ENV_SIGNAL, "%s=%d is not a real-time signal in %d..%d; picking a free one", SP_ENV_SIGNAL,
                 cfg->signal, SIGRTMIN + 2, SIGRTMAX);
        cfg->signal = 0;
    }
    cfg->chunk_seconds = env_int(SP_ENV_CHUNK_SECONDS, 60, 1, 60);
    cfg->commit_seconds = env_int(SP_ENV_COMMIT_SECONDS, 5, 1, 60);
    cfg->keep_perf_map = env_bool(SP_ENV_KEEP_PERF_MAP, false);
    cfg->v8_frames = env_bool(SP_ENV_V8_FRAMES, true);
    cfg->native_unwind = env_bool(SP_ENV_NATIVE_UNWIND, true);
    cfg->cpu_clock = env_choice(SP_ENV_CLOCK, "cpu", "wall", false);
    cfg->all_threads = env_choice(SP_ENV_THREADS, "all", "js", false);
    cfg->lazy = env_choice(SP_ENV_LOGGING_MODE, "lazy", "eager", false);
    cfg->has_dsn = env(SP_ENV_DSN) != NULL;
    cfg->shutdown_ms = env_int(SP_ENV_SHUTDOWN_TIMEOUT, 2, 0, 60) * 1000;
    cfg->exit_ms = env_int(SP_ENV_EXIT_TIMEOUT, SP_DEFAULT_EXIT_SECONDS, 0, 600) * 1000;
    cfg->continuous = env_choice(SP_ENV_MODE, "continuous", "transaction", !cfg->has_dsn);
    const char *mode = env(SP_ENV_MODE);
    cfg->mode_from_env = mode && (strcasecmp(mode, "continuous") == 0 || strcasecmp(mode, "transaction") == 0);
    load_spool_dir(cfg);
    load_dsn(cfg);
    cfg->spool_max_bytes = SP_DEFAULT_SPOOL_MAX_BYTES;
    const char *max = env(SP_ENV_SPOOL_MAX_BYTES);
    if (max && !sp_config_parse_size(max, &cfg->spool_max_bytes)) {
        CFG_WARN(SP_ENV_SPOOL_MAX_BYTES, "%s=\"%s\" is not a positive size in bytes (K, M, G suffixes allowed); using %llu",
                 SP_ENV_SPOOL_MAX_BYTES, max, (unsigned long long)SP_DEFAULT_SPOOL_MAX_BYTES);
        cfg->spool_max_bytes = SP_DEFAULT_SPOOL_MAX_BYTES;
    }
    env_text(SP_ENV_ENVIRONMENT, cfg->environment, sizeof cfg->environment, "production");
    env_text(SP_ENV_RELEASE, cfg->release, sizeof cfg->release, "");
    env_text(SP_ENV_LANG, cfg->locale, sizeof cfg->locale, "C");
    env_str(SP_ENV_CLI, cfg->cli, sizeof cfg->cli, "");
    env_str(SP_ENV_LIB, cfg->lib, sizeof cfg->lib, "");
    const char *opts = env(SP_ENV_NODE_OPTIONS);
    cfg->node_options_too_long = opts && strlen(opts) >= sizeof cfg->node_options;
    if (opts && !cfg->node_options_too_long) snprintf(cfg->node_options, sizeof cfg->node_options, "%s", opts);
    cfg->added_native_stack = env(SP_ENV_ADDED_NATIVE_STACK) != NULL;
    cfg->traces_sample_rate = env_rate(SP_ENV_TRACES_SAMPLE_RATE, 1, NULL);
    cfg->profiles_sample_rate = env_rate(SP_ENV_PROFILES_SAMPLE_RATE, 1, &cfg->profiles_rate_from_env);
    static const char *const http[] = {"auto", "channel", "emit", "off"};
    env_word(SP_ENV_HTTP, http, sizeof http / sizeof *http, cfg->http, sizeof cfg->http);
    cfg->http_per_second = env_amount(SP_ENV_HTTP_PER_SECOND, SP_DEFAULT_HTTP_PER_SECOND);
}

void sp_config_load(sp_config_t *cfg)
{
    load.quiet = false;
    load.warn_for = NULL;
    sp_config_load_gate(cfg);
    sp_config_load_engine(cfg);
}

void sp_config_load_cli(sp_config_t *cfg, const char *const *warn_for)
{
    load.quiet = true;
    load.warn_for = warn_for;
    sp_config_load_gate(cfg);
    sp_config_load_engine(cfg);
    load.quiet = false;
    load.warn_for = NULL;
}

bool sp_config_has_node_flag(const char *opts, const char *flag)
{
    size_t n = strlen(flag);
    for (const char *p = opts; (p = strstr(p, flag)); p += n) {
        bool start = p == opts || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '"';
        char end = p[n];
        if (start && (end == '\0' || end == ' ' || end == '\t' || end == '=' || end == '"')) return true;
    }
    return false;
}

/* V8 before 12 (Node 18: 10.2, Node 20: 11.3) keeps a per-page CodeObjectRegistry behind
 * a mutex that the JS thread holds while it allocates or looks up code. With
 * --interpreted-frames-native-stack, V8's own SIGPROF sampler (--cpu-prof, the inspector's
 * Profiler, @sentry/profiling-node) looks up every interpreted frame's pc in that registry
 * from inside the signal handler (IsInterpreterFramePc -> Heap::FindCodeForInnerPointer):
 * a sample that lands while the thread holds the mutex waits on itself forever. Measured
 * with tests/apps/deopt.js under --cpu-prof: Node 18 and 20 hang in 5-15% of short runs,
 * Node 22 (12.4), 24 (13.6), 26 (14.6) in none (the registry is gone). Unknown: not safe. */
bool sp_config_native_stack_safe(const char *v8_version)
{
    if (!v8_version || *v8_version < '0' || *v8_version > '9') return false;
    char *end;
    errno = 0;
    long major = strtol(v8_version, &end, 10);
    if (errno || *end != '.') return false;
    return major >= 12;
}

void sp_config_log(const sp_config_t *cfg)
{
    SP_DEBUG("config: mode=%s logging=%s clock=%s threads=%s hz=%d signal=%d chunk=%ds "
             "commit=%ds spool=%s spool_max_bytes=%llu dsn=%s environment=%s release=%s keep_perf_map=%d "
             "v8_frames=%d native_unwind=%d",
             cfg->continuous ? "continuous" : "transaction", cfg->lazy ? "lazy" : "eager",
             cfg->cpu_clock ? "cpu" : "wall", cfg->all_threads ? "all" : "js", cfg->hz,
             cfg->signal, cfg->chunk_seconds, cfg->commit_seconds, cfg->spool_dir, cfg->spool_max_bytes,
             cfg->has_dsn ? "set" : "unset", cfg->environment, cfg->release, cfg->keep_perf_map,
             cfg->v8_frames, cfg->native_unwind);
}
