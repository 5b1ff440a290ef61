/* config: every environment variable sentryprof reads, one commented constant each, read
 * once (secure_getenv) into sp_config_t. Bad values get one warning line and the default.
 * Threads: read by the preload constructor before any thread of ours exists. */
#ifndef SP_CONFIG_H
#define SP_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* Booleans (DISABLE, DEBUG, KEEP_PERF_MAP): 1/true/yes/on or 0/false/no/off, any case;
 * anything else warns once and keeps the default (sp_config_env_bool). */
#define SP_ENV_DISABLE "SENTRYPROF_DISABLE"         /* true: stay inert in every process */
#define SP_ENV_DEBUG "SENTRYPROF_DEBUG"             /* true: debug log, config and counters */
#define SP_ENV_HZ "SENTRYPROF_HZ"                   /* sampling rate, 1..1000, default 99 */
#define SP_ENV_SIGNAL "SENTRYPROF_SIGNAL"           /* real-time signal number to claim */
#define SP_ENV_SPOOL_DIR "SENTRYPROF_SPOOL_DIR"     /* default ${TMPDIR:-/tmp}/sentryprof-<uid> */
#define SP_ENV_CHUNK_SECONDS "SENTRYPROF_CHUNK_SECONDS" /* v2 chunk span, 1..60, default 60 */
#define SP_ENV_COMMIT_SECONDS "SENTRYPROF_COMMIT_SECONDS" /* re-commit an open chunk, default 5 */
#define SP_ENV_KEEP_PERF_MAP "SENTRYPROF_KEEP_PERF_MAP" /* true: leave /tmp/perf-<pid>.map */
#define SP_ENV_LIBRARY_PATH "SENTRYPROF_LIBRARY_PATH" /* set by us for the JS helper's dlopen */
#define SP_ENV_ADDED_NATIVE_STACK "SENTRYPROF_ADDED_NATIVE_STACK" /* set by us: "1" when we put
        --interpreted-frames-native-stack in NODE_OPTIONS, so a child node on an older V8
        (where it can deadlock V8's profiler) takes it out again */
#define SP_ENV_CLOCK "SENTRYPROF_CLOCK"           /* "wall" (default) or "cpu" */
#define SP_ENV_THREADS "SENTRYPROF_THREADS"       /* "js" (default) or "all": native threads too */
#define SP_ENV_MODE "SENTRYPROF_MODE"             /* "transaction" or "continuous"; default
                                                     transaction with a DSN, else continuous */
#define SP_ENV_LOGGING_MODE "SENTRY_PROFILER_LOGGING_MODE" /* Sentry's: "eager" (default) | "lazy" */
#define SP_ENV_DSN "SENTRY_DSN"                   /* where to send; unset: spool only */
#define SP_ENV_SHUTDOWN_TIMEOUT "SENTRYPROF_SHUTDOWN_TIMEOUT" /* seconds the exit-time upload may
                                                   take, default 2; also the flush bound on a
                                                   default-fatal signal (fatal.h); 0: none */
#define SP_ENV_CLI "SENTRYPROF_CLI"               /* path of the sentryprof CLI the uploader runs */
#define SP_ENV_ENVIRONMENT "SENTRY_ENVIRONMENT"     /* Sentry environment, default "production" */
#define SP_ENV_RELEASE "SENTRY_RELEASE"             /* Sentry release, default "" */
#define SP_ENV_LANG "LANG"                   /* the profiles' device.locale, default "C" */
#define SP_ENV_SPOOL_MAX_BYTES "SENTRYPROF_SPOOL_MAX_BYTES" /* spool size cap (K/M/G ok), default 100M */
#define SP_ENV_INCLUDE "SENTRYPROF_INCLUDE"       /* only node processes matching these globs (select.h) */
#define SP_ENV_EXCLUDE "SENTRYPROF_EXCLUDE"       /* never those matching these (select.h) */

#define SP_DEFAULT_HZ 99
#define SP_MAX_HZ 1000
#define SP_DEFAULT_SPOOL_MAX_BYTES (100ULL << 20) /* SENTRYPROF_SPOOL_MAX_BYTES default: 100 MiB */

typedef struct {
    bool debug;
    int hz;
    int signal;              /* 0: pick the first free one from SIGRTMIN+2 */
    int chunk_seconds;
    int commit_seconds;
    bool keep_perf_map;
    bool cpu_clock;          /* SENTRYPROF_CLOCK=cpu */
    bool all_threads;        /* SENTRYPROF_THREADS=all */
    bool lazy;               /* SENTRY_PROFILER_LOGGING_MODE=lazy */
    bool continuous;         /* SENTRYPROF_MODE (see above) */
    bool mode_from_env;      /* SENTRYPROF_MODE was set (valid); else the default chose */
    bool has_dsn;            /* SENTRY_DSN is set (the default mode follows it) */
    bool dsn_valid;          /* ... and parses (dsn.h); else one warning, spool only */
    int shutdown_ms;         /* SENTRYPROF_SHUTDOWN_TIMEOUT */
    unsigned long long spool_max_bytes; /* SENTRYPROF_SPOOL_MAX_BYTES */
    char spool_dir[PATH_MAX];
    char environment[128];
    char release[256];
    char locale[64];         /* LANG, read here once: the agent must not call getenv */
} sp_config_t;

/* The truth values of every boolean variable: 1 for 1/true/yes/on, 0 for 0/false/no/off
 * (case-insensitive), -1 for anything else (NULL and "" included). */
int sp_config_parse_bool(const char *v);
/* Boolean variable name: unset or empty gives def; any other value that is no truth value
 * gets one warning line and def. For the preload, the CLI (doctor) and config itself. */
bool sp_config_env_bool(const char *name, bool def);

/* Fills cfg from the environment (warning lines for bad values). Never fails. */
void sp_config_load(sp_config_t *cfg);
/* True when NODE_OPTIONS-style text opts holds flag as a whole option ("--x", "--x=v",
 * possibly quoted). The preload uses it to add only missing flags; doctor to check them. */
bool sp_config_has_node_flag(const char *opts, const char *flag);

/* True when node's V8 (version string as process.versions.v8 or v8::V8::GetVersion() give
 * it, e.g. "11.3.244.8-node.33") can take --interpreted-frames-native-stack without
 * risking a deadlock of its own CPU profiler (see config.c). NULL or unparsable: false.
 * The preload injects the flag only then; doctor expects it only then. */
bool sp_config_native_stack_safe(const char *v8_version);

/* A size in bytes with an optional K, M or G suffix (powers of 1024), > 0: true and *out,
 * or false (the caller warns and uses its default). */
bool sp_config_parse_size(const char *v, unsigned long long *out);

/* Logs the effective configuration at debug level. */
void sp_config_log(const sp_config_t *cfg);

#endif
