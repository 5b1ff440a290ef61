/* config: every environment variable the C code reads, one commented constant each, read
 * once (secure_getenv) into sp_config_t by the preload constructor (and, with the same
 * loader, by the CLI); config owns every default. Bad values get one warning line and the
 * default. The README's variable tables list exactly these names
 * (tests/check-env-table.sh). The JS helper reads none of them: the N-API bridge hands it
 * this struct's JS-side fields (preload/napi.c).
 * Threads: the preload constructor, before any thread of ours exists; the CLI's one thread. */
#ifndef SP_CONFIG_H
#define SP_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* Booleans (DISABLE, DEBUG, KEEP_PERF_MAP, V8_FRAMES, NATIVE_UNWIND): 1/true/yes/on or 0/false/no/off, any case;
 * anything else warns once and keeps the default (sp_config_parse_bool). */
#define SP_ENV_DISABLE "SENTRYPROF_DISABLE"         /* true: stay inert in every process */
#define SP_ENV_DEBUG "SENTRYPROF_DEBUG"             /* true: debug log, config and counters */
#define SP_ENV_HZ "SENTRYPROF_HZ"                   /* sampling rate, 1..1000, default 99 */
#define SP_ENV_SIGNAL "SENTRYPROF_SIGNAL"           /* real-time signal number to claim */
#define SP_ENV_SPOOL_DIR "SENTRYPROF_SPOOL_DIR"     /* default ${TMPDIR:-/tmp}/sentryprof-<uid> */
#define SP_ENV_CHUNK_SECONDS "SENTRYPROF_CHUNK_SECONDS" /* v2 chunk span, 1..60, default 60 */
#define SP_ENV_COMMIT_SECONDS "SENTRYPROF_COMMIT_SECONDS" /* re-commit an open chunk, default 5 */
#define SP_ENV_KEEP_PERF_MAP "SENTRYPROF_KEEP_PERF_MAP" /* true: leave /tmp/perf-<pid>.map */
#define SP_ENV_V8_FRAMES "SENTRYPROF_V8_FRAMES" /* false: no frame names read from V8's heap */
#define SP_ENV_NATIVE_UNWIND "SENTRYPROF_NATIVE_UNWIND" /* false: no stack copies, no .eh_frame unwinding */
#define SP_ENV_CLOCK "SENTRYPROF_CLOCK"           /* "wall" (default) or "cpu" */
#define SP_ENV_THREADS "SENTRYPROF_THREADS"       /* "js" (default) or "all": native threads too */
#define SP_ENV_MODE "SENTRYPROF_MODE"             /* "transaction" or "continuous"; default
                                                     transaction with a DSN, else continuous */
#define SP_ENV_LOGGING_MODE "SENTRY_PROFILER_LOGGING_MODE" /* Sentry's: "eager" (default) | "lazy" */
#define SP_ENV_DSN "SENTRY_DSN"                   /* where to send; unset: spool only */
#define SP_ENV_SHUTDOWN_TIMEOUT "SENTRYPROF_SHUTDOWN_TIMEOUT" /* seconds the exit-time upload may
                                                   take, default 2; also the flush bound on a
                                                   default-fatal signal (fatal.h); 0: none */
#define SP_ENV_EXIT_TIMEOUT "SENTRYPROF_EXIT_TIMEOUT" /* seconds a normal exit waits for the agent
                                                   to spool what is finished, default 10; 0: none */
#define SP_ENV_CLI "SENTRYPROF_CLI"               /* path of the sentryprof CLI the uploader runs */
#define SP_ENV_LIB "SENTRYPROF_LIB"               /* CLI (run, doctor): the library to preload */
#define SP_ENV_ENVIRONMENT "SENTRY_ENVIRONMENT"     /* Sentry environment, default "production" */
#define SP_ENV_RELEASE "SENTRY_RELEASE"             /* Sentry release, default "" */
#define SP_ENV_SPOOL_MAX_BYTES "SENTRYPROF_SPOOL_MAX_BYTES" /* spool size cap (K/M/G ok), default 100M */
#define SP_ENV_INCLUDE "SENTRYPROF_INCLUDE"       /* only node processes matching these globs (select.h) */
#define SP_ENV_EXCLUDE "SENTRYPROF_EXCLUDE"       /* never those matching these (select.h) */
/* Used by the JS helper (HTTP auto-instrumentation, the SDK bridges), parsed here. */
#define SP_ENV_TRACES_SAMPLE_RATE "SENTRY_TRACES_SAMPLE_RATE"     /* 0..1, default 1 */
#define SP_ENV_PROFILES_SAMPLE_RATE "SENTRY_PROFILES_SAMPLE_RATE" /* 0..1, default 1 */
#define SP_ENV_HTTP "SENTRYPROF_HTTP"             /* auto (default), channel, emit or off */
#define SP_ENV_HTTP_PER_SECOND "SENTRYPROF_HTTP_TRANSACTIONS_PER_SECOND" /* >= 0, default 100 */
/* Not ours, read as they are. */
#define SP_ENV_LANG "LANG"                   /* the profiles' device.locale, default "C" */
#define SP_ENV_TMPDIR "TMPDIR"               /* the default spool's parent, default /tmp */
#define SP_ENV_NODE_OPTIONS "NODE_OPTIONS"   /* kept; the preload appends its flags and helper */
/* Set by the library, for the processes it starts or prepares. */
#define SP_ENV_LIBRARY_PATH "SENTRYPROF_LIBRARY_PATH" /* the JS helper's process.dlopen path */
#define SP_ENV_ADDED_NATIVE_STACK "SENTRYPROF_ADDED_NATIVE_STACK" /* set by us: "1" when we put
        --interpreted-frames-native-stack in NODE_OPTIONS (our V8 frame decoder was off), so a
        child node that does not need it (its decoder is on) or where it can deadlock V8's
        profiler (an older V8) takes it out again */

#define SP_DEFAULT_HZ 99
#define SP_MAX_HZ 1000
#define SP_DEFAULT_SPOOL_MAX_BYTES (100ULL << 20) /* SENTRYPROF_SPOOL_MAX_BYTES default: 100 MiB */
#define SP_DEFAULT_HTTP_PER_SECOND 100
#define SP_DEFAULT_EXIT_SECONDS 10 /* SENTRYPROF_EXIT_TIMEOUT default */
#define SP_CONFIG_LIST_MAX 4096          /* SENTRYPROF_INCLUDE / _EXCLUDE bytes */
#define SP_CONFIG_DSN_MAX 2048           /* SENTRY_DSN bytes (longer: invalid) */
#define SP_CONFIG_NODE_OPTIONS_MAX 8192  /* NODE_OPTIONS bytes the preload will extend */

typedef struct {
    /* the "run here?" decision (sp_config_load_gate) */
    bool disable;
    bool debug;
    char include[SP_CONFIG_LIST_MAX]; /* "" when unset */
    char exclude[SP_CONFIG_LIST_MAX];
    /* the engine */
    int hz;
    int signal;              /* 0: pick the first free one from SIGRTMIN+2 */
    int chunk_seconds;
    int commit_seconds;
    bool keep_perf_map;
    bool v8_frames;          /* name interpreted frames from V8's frame slots (v8decode) */
    bool native_unwind;      /* callers of native leaves from stack copies (nativeunwind) */
    bool cpu_clock;          /* SENTRYPROF_CLOCK=cpu */
    bool all_threads;        /* SENTRYPROF_THREADS=all */
    bool lazy;               /* SENTRY_PROFILER_LOGGING_MODE=lazy */
    bool continuous;         /* SENTRYPROF_MODE (see above) */
    bool mode_from_env;      /* SENTRYPROF_MODE was set (valid); else the default chose */
    bool has_dsn;            /* SENTRY_DSN is set (the default mode follows it) */
    bool dsn_valid;          /* ... and parses (dsn.h); else one warning, spool only */
    char dsn[SP_CONFIG_DSN_MAX];
    int shutdown_ms;         /* SENTRYPROF_SHUTDOWN_TIMEOUT */
    int exit_ms;             /* SENTRYPROF_EXIT_TIMEOUT */
    unsigned long long spool_max_bytes; /* SENTRYPROF_SPOOL_MAX_BYTES */
    char spool_dir[PATH_MAX];
    char environment[128];
    char release[256];
    char locale[64];         /* LANG, read here once: the agent must not call getenv */
    char cli[PATH_MAX];      /* SENTRYPROF_CLI, "" when unset */
    char lib[PATH_MAX];      /* SENTRYPROF_LIB, "" when unset */
    char tmpdir[PATH_MAX];   /* TMPDIR when absolute, else "/tmp" */
    char node_options[SP_CONFIG_NODE_OPTIONS_MAX]; /* NODE_OPTIONS, "" when unset */
    bool node_options_too_long; /* ... longer than the buffer: left alone */
    bool added_native_stack; /* SENTRYPROF_ADDED_NATIVE_STACK is set (by a parent's preload) */
    /* the JS helper's, handed over by the N-API bridge */
    double traces_sample_rate;   /* SENTRY_TRACES_SAMPLE_RATE */
    double profiles_sample_rate; /* SENTRY_PROFILES_SAMPLE_RATE */
    bool profiles_rate_from_env; /* ... was set (an SDK's own rate wins otherwise) */
    char http[8];                /* SENTRYPROF_HTTP: auto, channel, emit or off */
    double http_per_second;      /* SENTRYPROF_HTTP_TRANSACTIONS_PER_SECOND */
} sp_config_t;

/* The truth values of every boolean variable: 1 for 1/true/yes/on, 0 for 0/false/no/off
 * (case-insensitive), -1 for anything else (NULL and "" included). */
int sp_config_parse_bool(const char *v);
/* The constructor's first stage, in every node process: zeroes cfg and reads what the
 * "run here?" decision needs (DISABLE, DEBUG, INCLUDE, EXCLUDE). Only a bad DISABLE warns
 * here; a bad DEBUG warns with the second stage, so a process left out says nothing else. */
void sp_config_load_gate(sp_config_t *cfg);
/* The second stage, in a process that is profiled: every other variable (warning lines for
 * bad values). Never fails. */
void sp_config_load_engine(sp_config_t *cfg);
/* Both stages (tests, and the CLI through sp_config_load_cli). */
void sp_config_load(sp_config_t *cfg);
/* The CLI's loader: the same values, but warning lines only for the variables named in
 * warn_for (NULL-terminated; NULL: none), the ones the command itself acts on. The
 * profiled process warns about the others; an upload child must not repeat them. */
void sp_config_load_cli(sp_config_t *cfg, const char *const *warn_for);
/* True when NODE_OPTIONS-style text opts holds flag as a whole option ("--x", "--x=v",
 * possibly quoted). The preload uses it to add only missing flags; doctor to check them. */
bool sp_config_has_node_flag(const char *opts, const char *flag);

/* True when node's V8 (version string as process.versions.v8 or v8::V8::GetVersion() give
 * it, e.g. "11.3.244.8-node.33") can take --interpreted-frames-native-stack without
 * risking a deadlock of its own CPU profiler (see config.c). NULL or unparsable: false.
 * The preload injects the flag only then, and only when the V8 frame decoder is off (it
 * names interpreted frames itself); doctor expects it only then. */
bool sp_config_native_stack_safe(const char *v8_version);

/* A size in bytes with an optional K, M or G suffix (powers of 1024), > 0: true and *out,
 * or false (the caller warns and uses its default). */
bool sp_config_parse_size(const char *v, unsigned long long *out);

/* The spool directory from SENTRYPROF_SPOOL_DIR's and TMPDIR's values (NULL: unset):
 * spool_dir as it is, else <tmpdir, when absolute, or /tmp>/sentryprof-<uid>. 0, or
 * -ENAMETOOLONG (buf "") or -EINVAL. sp_config_load makes it absolute. */
int sp_config_spool_dir(const char *spool_dir, const char *tmpdir, char *buf, size_t len);

/* Logs the effective configuration at debug level. */
void sp_config_log(const sp_config_t *cfg);

#endif
