/* config: parses the environment once. Threads: preload constructor (single-threaded). */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dsn.h"
#include "log.h"
#include "spool.h"

/* Integer variable in [lo, hi]; anything else warns once and keeps def. */
static int env_int(const char *name, int def, int lo, int hi)
{
    const char *v = secure_getenv(name);
    if (!v || !*v) return def;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || x < lo || x > hi) {
        SP_WARN("%s=\"%s\" is not a whole number in %d..%d; using %d", name, v, lo, hi, def);
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

bool sp_config_env_bool(const char *name, bool def)
{
    const char *v = secure_getenv(name);
    if (!v || !*v) return def;
    int b = sp_config_parse_bool(v);
    if (b >= 0) return b;
    SP_WARN("%s=\"%s\" is not one of 1/true/yes/on or 0/false/no/off; using %s", name, v,
            def ? "true" : "false");
    return def;
}

static void env_str(const char *name, char *dst, size_t len, const char *def)
{
    const char *v = secure_getenv(name);
    if (!v || !*v) v = def;
    if (strlen(v) >= len) SP_WARN("%s is longer than %zu bytes; truncated", name, len - 1);
    snprintf(dst, len, "%s", v);
}

/* One of two words (case-insensitive); anything else warns and gives def. */
static bool env_choice(const char *name, const char *yes, const char *no, bool def)
{
    const char *v = secure_getenv(name);
    if (!v || !*v) return def;
    if (strcasecmp(v, yes) == 0) return true;
    if (strcasecmp(v, no) == 0) return false;
    SP_WARN("%s=\"%s\" is neither \"%s\" nor \"%s\"; using \"%s\"", name, v, yes, no, def ? yes : no);
    return def;
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

void sp_config_load(sp_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->debug = sp_config_env_bool(SP_ENV_DEBUG, false);
    if (cfg->debug) sp_log_set_level(SP_LOG_DEBUG);
    cfg->hz = env_int(SP_ENV_HZ, SP_DEFAULT_HZ, 1, SP_MAX_HZ);
    cfg->signal = env_int(SP_ENV_SIGNAL, 0, 0, SIGRTMAX);
    if (cfg->signal && (cfg->signal < SIGRTMIN + 2 || cfg->signal > SIGRTMAX)) {
        SP_WARN("%s=%d is not a real-time signal in %d..%d; picking a free one", SP_ENV_SIGNAL,
                cfg->signal, SIGRTMIN + 2, SIGRTMAX);
        cfg->signal = 0;
    }
    cfg->chunk_seconds = env_int(SP_ENV_CHUNK_SECONDS, 60, 1, 60);
    cfg->commit_seconds = env_int(SP_ENV_COMMIT_SECONDS, 5, 1, 60);
    cfg->keep_perf_map = sp_config_env_bool(SP_ENV_KEEP_PERF_MAP, false);
    cfg->cpu_clock = env_choice(SP_ENV_CLOCK, "cpu", "wall", false);
    cfg->all_threads = env_choice(SP_ENV_THREADS, "all", "js", false);
    cfg->lazy = env_choice(SP_ENV_LOGGING_MODE, "lazy", "eager", false);
    const char *dsn = secure_getenv(SP_ENV_DSN);
    cfg->has_dsn = dsn && *dsn;
    cfg->shutdown_ms = env_int(SP_ENV_SHUTDOWN_TIMEOUT, 2, 0, 60) * 1000;
    cfg->continuous = env_choice(SP_ENV_MODE, "continuous", "transaction", !cfg->has_dsn);
    const char *mode = secure_getenv(SP_ENV_MODE);
    cfg->mode_from_env = mode && (strcasecmp(mode, "continuous") == 0 || strcasecmp(mode, "transaction") == 0);
    if (sp_spool_default_dir(cfg->spool_dir, sizeof cfg->spool_dir) < 0) {
        const char *v = secure_getenv(SP_ENV_SPOOL_DIR);
        if (v && *v)
            SP_WARN("%s is %zu bytes long, longer than a path can be (%zu); using /tmp/sentryprof-%u",
                    SP_ENV_SPOOL_DIR, strlen(v), sizeof cfg->spool_dir - 1, (unsigned)getuid());
        else
            SP_WARN("TMPDIR is too long for the spool directory's path; using /tmp/sentryprof-%u",
                    (unsigned)getuid());
        snprintf(cfg->spool_dir, sizeof cfg->spool_dir, "/tmp/sentryprof-%u", (unsigned)getuid());
    } else if (cfg->spool_dir[0] != '/') {
        /* Resolved once, against the working directory at start: the agent writes and the
         * upload child reads it later, after the app may have changed directory. */
        char cwd[PATH_MAX], abs[PATH_MAX];
        int n = getcwd(cwd, sizeof cwd) ? snprintf(abs, sizeof abs, "%s/%s", cwd, cfg->spool_dir) : -1;
        if (n < 0 || (size_t)n >= sizeof abs) {
            SP_WARN("%s=\"%.200s\" is relative and cannot be made absolute here; using /tmp/sentryprof-%u",
                    SP_ENV_SPOOL_DIR, cfg->spool_dir, (unsigned)getuid());
            snprintf(cfg->spool_dir, sizeof cfg->spool_dir, "/tmp/sentryprof-%u", (unsigned)getuid());
        } else {
            memcpy(cfg->spool_dir, abs, (size_t)n + 1);
        }
    }
    if (cfg->has_dsn) {
        /* Checked here, at the start of every node process, with the parser `sentryprof
         * upload` uses: a bad DSN gets its line even in a process that never uploads. */
        sp_dsn_t d;
        char why[160];
        cfg->dsn_valid = sp_dsn_parse(dsn, &d, why, sizeof why) == 0;
        if (!cfg->dsn_valid)
            SP_WARN("%s=\"%.200s\" is not a valid DSN: %s; nothing is sent, profiles stay in %s "
                    "(send them later with `sentryprof upload --dsn DSN`)",
                    SP_ENV_DSN, dsn, why, cfg->spool_dir);
    }
    cfg->spool_max_bytes = SP_DEFAULT_SPOOL_MAX_BYTES;
    const char *max = secure_getenv(SP_ENV_SPOOL_MAX_BYTES);
    if (max && *max && !sp_config_parse_size(max, &cfg->spool_max_bytes)) {
        SP_WARN("%s=\"%s\" is not a positive size in bytes (K, M, G suffixes allowed); using %llu",
                SP_ENV_SPOOL_MAX_BYTES, max, (unsigned long long)SP_DEFAULT_SPOOL_MAX_BYTES);
        cfg->spool_max_bytes = SP_DEFAULT_SPOOL_MAX_BYTES;
    }
    env_str(SP_ENV_ENVIRONMENT, cfg->environment, sizeof cfg->environment, "production");
    env_str(SP_ENV_RELEASE, cfg->release, sizeof cfg->release, "");
    env_str(SP_ENV_LANG, cfg->locale, sizeof cfg->locale, "C");
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
             "commit=%ds spool=%s spool_max_bytes=%llu dsn=%s environment=%s release=%s keep_perf_map=%d",
             cfg->continuous ? "continuous" : "transaction", cfg->lazy ? "lazy" : "eager",
             cfg->cpu_clock ? "cpu" : "wall", cfg->all_threads ? "all" : "js", cfg->hz,
             cfg->signal, cfg->chunk_seconds, cfg->commit_seconds, cfg->spool_dir, cfg->spool_max_bytes,
             cfg->has_dsn ? "set" : "unset", cfg->environment, cfg->release, cfg->keep_perf_map);
}
