/* config: parses the environment once. Threads: preload constructor (single-threaded). */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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
        SP_WARN("spool directory path too long; using /tmp/sentryprof-%u", (unsigned)getuid());
        snprintf(cfg->spool_dir, sizeof cfg->spool_dir, "/tmp/sentryprof-%u", (unsigned)getuid());
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

/* node options whose value may come as the next argument ("--require x"); V8's own flags
 * take "--flag=value" in practice. An unknown one makes the scan stop early: at worst a
 * user's later --prof gets our temporary log file, never the app's arguments are read. */
static const char *const node_value_opts[] = {
    "-r", "--require", "--import", "--loader", "--experimental-loader", "-C", "--conditions",
    "--title", "--input-type", "--inspect-port", "--debug-port", "--env-file",
    "--env-file-if-exists", "--redirect-warnings", "--diagnostic-dir", "--report-dir",
    "--report-directory", "--report-filename", "--report-signal", "--heapsnapshot-signal",
    "--icu-data-dir", "--openssl-config", "--tls-cipher-list", "--tls-keylog",
    "--unhandled-rejections", "--dns-result-order", "--secure-heap", "--secure-heap-min",
    "--trace-event-categories", "--trace-event-file-pattern", "--cpu-prof-dir",
    "--cpu-prof-name", "--cpu-prof-interval", "--heap-prof-dir", "--heap-prof-name",
    "--heap-prof-interval", "--watch-path", "--disable-warning", "--experimental-policy",
    "--policy-integrity", "--max-http-header-size", "--stack-trace-limit"};
/* Options whose value is code: the arguments after it belong to that code. */
static const char *const node_eval_opts[] = {"-e", "--eval", "-p", "--print", "-pe", "-ep"};

static bool in_list(const char *arg, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(arg, list[i]) == 0) return true;
    return false;
}

bool sp_config_node_args_want_v8_log(const char *args, size_t n)
{
    const char *p = args, *end = args + n;
    bool first = true, skip_value = false;
    while (p < end) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        size_t len = nul ? (size_t)(nul - p) : (size_t)(end - p);
        char arg[256];
        snprintf(arg, sizeof arg, "%.*s", (int)(len < sizeof arg ? len : sizeof arg - 1), p);
        p += len + 1;
        if (first || skip_value) { /* argv[0], or the value of the option before */
            first = skip_value = false;
            continue;
        }
        if (arg[0] != '-' || strcmp(arg, "-") == 0 || strcmp(arg, "--") == 0) return false;
        if (in_list(arg, node_eval_opts, sizeof node_eval_opts / sizeof *node_eval_opts) ||
            strncmp(arg, "--eval=", 7) == 0 || strncmp(arg, "--print=", 8) == 0)
            return false;
        if (strncmp(arg, "--log", 5) == 0 || strncmp(arg, "--prof", 6) == 0) return true;
        skip_value = in_list(arg, node_value_opts, sizeof node_value_opts / sizeof *node_value_opts);
    }
    return false;
}

void sp_config_log(const sp_config_t *cfg)
{
    SP_DEBUG("config: mode=%s logging=%s clock=%s threads=%s hz=%d signal=%d chunk=%ds "
             "commit=%ds spool=%s dsn=%s environment=%s release=%s keep_perf_map=%d",
             cfg->continuous ? "continuous" : "transaction", cfg->lazy ? "lazy" : "eager",
             cfg->cpu_clock ? "cpu" : "wall", cfg->all_threads ? "all" : "js", cfg->hz,
             cfg->signal, cfg->chunk_seconds, cfg->commit_seconds, cfg->spool_dir,
             cfg->has_dsn ? "set" : "unset", cfg->environment, cfg->release, cfg->keep_perf_map);
}
