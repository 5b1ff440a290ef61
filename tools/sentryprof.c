/* sentryprof: the command-line tool.
 *   top      the hottest functions of the profiles in spool files (top.c)
 *   list     one line per envelope in the spool (a batch file's as FILE#N): size, item types,
 *            samples, time span, profiler, upload state, transaction duration and name
 *   run      runs a command with libsentryprof.so prepended to LD_PRELOAD (run.c)
 *   upload   sends the spool's envelopes to Sentry (upload.c; the only network code)
 *   doctor   runs node under the shim and reports whether profiling works (doctor.c)
 *   version  prints SP_VERSION
 * Single-threaded; never loaded into a profiled process (run execs the command, after which
 * only the preload library is there). Memory through sp_mem, jansson's included.
 * Commands are rows of one table (name, function, the variables it warns about, help).
 * Environment: read once by config's loader (sp_cli_config) before the command runs:
 * SENTRYPROF_LIB (run: the library to preload; set but missing is an error),
 * SENTRYPROF_SPOOL_DIR and TMPDIR (default spool), SENTRY_DSN and SENTRYPROF_SPOOL_MAX_BYTES
 * (upload); LD_PRELOAD (run: kept, ours goes first) and PATH (doctor: where node is) are
 * read as they are, for the child's environment.
 */
#include "cli.h"
#include "export.h"
#include "model.h"

#include "mem.h"
#include "spool_run.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SP_VERSION
#define SP_VERSION "0.0.0"
#endif
#ifndef SP_LIBDIR
#define SP_LIBDIR "/usr/local/lib"
#endif

#define SP_LIB_NAME "libsentryprof.so"
#define SP_CLI_PROFILER_PREFIX 8    /* hex digits of profiler_id shown by list */

void sp_cli_usage(FILE *out)
{
    fprintf(out,
            "usage: sentryprof COMMAND [ARGS...]\n"
            "\n"
            "  top [-n N] [--sort self|total] [--by function|line|file|package] [--json] [FILTERS]\n"
            "      [FILE|DIR...]\n"
            "      the N (default %d, 0 = all) hottest functions in envelope files; a DIR means\n"
            "      every *.envelope and *.envelopes (batch) in it and in its subdirectories\n"
            "      (default: the spool). FILTERS (top, convert, flame): --thread TID,\n"
            "      --transaction NAME, --since 10m|UNIX-SECONDS|ISO-TIME, --js-only\n"
            "  convert --to collapsed|speedscope|cpuprofile|pprof [FILTERS] -o OUT [FILE|DIR...]\n"
            "      export the profiles: collapsed stacks (flamegraph.pl, inferno), speedscope JSON\n"
            "      (one sampled profile per thread), Chrome DevTools .cpuprofile (one thread: the\n"
            "      busiest or --thread), pprof (gzipped profile.proto: go tool pprof, Pyroscope,\n"
            "      Parca); OUT - is standard output\n"
            "  flame [--reverse] [--html] [--title T] [FILTERS] -o OUT [FILE|DIR...]\n"
            "      an interactive SVG flame graph (hover, click to zoom, / or Ctrl-F to search);\n"
            "      --reverse: icicle by leaf function; --html: one page with the graph and the\n"
            "      top table\n"
            "  list [--json] [DIR]\n"
            "      one line per envelope in the spool (FILE#N inside a batch): size, item\n"
            "      types, samples, span, profiler, upload state (spooled: a run folder's,\n"
            "      ready: waiting for upload, sending: being uploaded), the transaction's\n"
            "      duration and name; --json: the same as one JSON document\n"
            "  run [--hz N] [--clock wall|cpu] [--mode transaction|continuous] [--spool DIR]\n"
            "      [--open] [--summary|--quiet] [--] COMMAND [ARGS...]\n"
            "      run COMMAND with libsentryprof.so added to LD_PRELOAD and the options as its\n"
            "      environment (SENTRYPROF_HZ, _CLOCK, _MODE, _SPOOL_DIR). Afterwards, on stderr\n"
            "      when it is a terminal or with --summary (never with --quiet): where the\n"
            "      profile went, samples and threads, the top 3 functions; --open: a flame graph\n"
            "      DIR/flame-PID.svg beside the spooled files. Exit status, stdio and signals\n"
            "      pass through (an entrypoint: ENTRYPOINT [\"sentryprof\",\"run\",\"--\"]): with\n"
            "      nothing to do afterwards COMMAND is exec'd, else signals sent to us are\n"
            "      forwarded and a child killed by a signal kills us with the same signal\n"
            "  upload [--spool DIR] [--dsn DSN] [--timeout SECONDS] [--once] [--quiet]\n"
            "      send the spool's envelopes to Sentry (DSN: --dsn or SENTRY_DSN), oldest first,\n"
            "      until none is left or the timeout (default 30) passes (a request under way\n"
            "      then gets 3 s more for its answer); --once: one pass, no\n"
            "      waiting for rate limits or backoff to end; --quiet: no summary line.\n"
            "      exit 0: all sent, 4: some left for later, 3: bad DSN, 1: other error\n"
            "  doctor [--node PATH] [--select-only] [-- COMMAND [ARGS...]]\n"
            "      check that profiling works here: runs node (from $PATH, or --node) under the\n"
            "      shim and reports its version, the library, NODE_OPTIONS, whether V8 took the\n"
            "      flags (perf map written), the JS helper, the sampler's counters, the spool\n"
            "      and SENTRY_DSN; exit 0: healthy, 1: not. -- COMMAND: also say whether that\n"
            "      command's node process is profiled (SENTRYPROF_INCLUDE/EXCLUDE, package\n"
            "      managers excluded by default) and which rule decided; --select-only: just that\n"
            "  version\n"
            "      print the version\n"
            "\n"
            "environment: SENTRYPROF_SPOOL_DIR (spool directory),\n"
            "             SENTRYPROF_LIB (the library run preloads),\n"
            "             SENTRY_DSN (upload), SENTRYPROF_SPOOL_MAX_BYTES (upload: spool size cap)\n",
            SP_CLI_TOP_DEFAULT);
}

/* ---- list ---- */

typedef struct {
    char *name;    /* the file under the listed dir, FILE#N inside a batch */
    char *types;   /* item types, comma separated */
    char *bad;     /* why it is unreadable, or NULL */
    char *profiler; /* profiler_id, or NULL */
    char *txn;     /* transaction name, or NULL */
    const char *state;
    unsigned long long size;
    long long samples; /* -1: no profile item */
    double span;       /* seconds between the first and last sample; < 0: unknown */
    double duration;   /* the transaction's, seconds; < 0: unknown */
} row_t;

/* A sample time in seconds: v2 "timestamp" (unix seconds), v1 "elapsed_since_start_ns"
 * (integer, number or numeric string). */
static bool sample_time(const json_t *sa, bool v1, double *t)
{
    const json_t *v = json_object_get(sa, v1 ? "elapsed_since_start_ns" : "timestamp");
    if (json_is_number(v)) *t = json_number_value(v);
    else if (json_is_string(v) && *json_string_value(v)) *t = strtod(json_string_value(v), NULL);
    else return false;
    if (v1) *t /= 1e9;
    return true;
}

/* A number, a numeric string or (iso) an ISO 8601 UTC time, as seconds. */
static bool json_seconds(const json_t *v, bool iso, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    if (!json_is_string(v) || !*json_string_value(v)) return false;
    const char *s = json_string_value(v);
    char *end;
    double d = strtod(s, &end);
    if (end != s && !*end) {
        *out = d;
        return true;
    }
    int64_t ns;
    if (iso && strchr(s, 'T') && sp_model_parse_since(s, &ns)) {
        *out = (double)ns / 1e9;
        return true;
    }
    return false;
}

/* The upload state of a spool file from where it is: ready/ (waiting for upload),
 * sending/ (claimed by an uploader), else spooled (a run folder's open file, still being
 * written or left by a process that died, which the next upload adopts). */
static const char *file_state(const char *rel)
{
    if (strncmp(rel, "ready/", 6) == 0) return "ready";
    if (strncmp(rel, "sending/", 8) == 0) return "sending";
    return "spooled";
}

static void list_row(row_t *row, const sp_envelope_parsed_t *env)
{
    char types[256] = "";
    bool any_time = false;
    for (size_t i = 0; i < env->count; i++) {
        const char *type = sp_cli_item_type(env, i);
        size_t tl = strlen(types);
        if (!sp_cli_has_word(types, ",", type) && tl + strlen(type) + 2 < sizeof types)
            snprintf(types + tl, sizeof types - tl, "%s%s", tl ? "," : "", type);
        bool txn = strcmp(type, "transaction") == 0;
        if (!sp_cli_is_profile(type) && !txn) continue;
        json_t *payload = sp_envelope_item_json(env, i);
        if (txn) { /* the event: its name and duration */
            const char *name = sp_cli_json_str(payload, "transaction");
            double t0, t1;
            if (name && !row->txn) row->txn = sp_cli_strdup(name);
            if (json_seconds(json_object_get(payload, "start_timestamp"), true, &t0) &&
                json_seconds(json_object_get(payload, "timestamp"), true, &t1) && t1 >= t0)
                row->duration = t1 - t0;
            json_decref(payload);
            continue;
        }
        const json_t *samples = json_object_get(json_object_get(payload, "profile"), "samples");
        bool v1 = strcmp(type, "profile") == 0;
        if (json_is_array(samples)) {
            row->samples = (row->samples < 0 ? 0 : row->samples) + (long long)json_array_size(samples);
            double lo = 0, hi = 0, t;
            bool first = true;
            for (size_t k = 0; k < json_array_size(samples); k++) {
                if (!sample_time(json_array_get(samples, k), v1, &t)) continue;
                if (first || t < lo) lo = t;
                if (first || t > hi) hi = t;
                first = false;
            }
            if (!first) {
                double s = v1 ? hi : hi - lo; /* v1 times count from the profile start */
                if (!any_time || s > row->span) row->span = s;
                any_time = true;
            }
        }
        if (v1) { /* a v1 profile names its transaction; its window when there is no event */
            const json_t *tx = json_object_get(payload, "transaction");
            const char *name = sp_cli_json_str(tx, "name");
            double r0, r1;
            if (name && !row->txn) row->txn = sp_cli_strdup(name);
            if (row->duration < 0 && json_seconds(json_object_get(tx, "relative_start_ns"), false, &r0) &&
                json_seconds(json_object_get(tx, "relative_end_ns"), false, &r1) && r1 >= r0)
                row->duration = (r1 - r0) / 1e9;
        }
        const char *pid = sp_cli_json_str(payload, "profiler_id");
        if (pid && !row->profiler) row->profiler = sp_cli_strdup(pid);
        json_decref(payload);
    }
    row->types = sp_cli_strdup(*types ? types : "(no items)");
}

typedef struct {
    row_t *rows;
    size_t n, cap;
    const char *rel; /* the file's name under the listed dir */
    bool batch;
} rows_t;

static row_t *rows_add(rows_t *rs, const char *rel)
{
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 16;
        rs->rows = sp_cli_realloc(rs->rows, rs->cap * sizeof *rs->rows);
    }
    row_t *r = &rs->rows[rs->n++];
    memset(r, 0, sizeof *r);
    r->samples = -1;
    r->span = r->duration = -1;
    r->state = file_state(rel);
    return r;
}

/* One row per envelope: a batch's are named "<file>#<n>" (from 1), sized in bytes. */
static int list_envelope(const sp_envelope_parsed_t *env, const char *bad, size_t index, size_t len, void *arg)
{
    rows_t *rs = arg;
    row_t *r = rows_add(rs, rs->rel);
    r->name = rs->batch ? sp_cli_printf("%s#%zu", rs->rel, index + 1) : sp_cli_strdup(rs->rel);
    r->size = len;
    if (env) list_row(r, env);
    else r->bad = sp_cli_strdup(bad);
    return 0;
}

static json_t *row_json(const row_t *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(r->name));
    json_object_set_new(o, "size", json_integer((json_int_t)r->size));
    json_object_set_new(o, "state", json_string(r->state));
    if (r->bad) {
        json_object_set_new(o, "error", json_string(r->bad));
        return o;
    }
    json_t *items = json_array();
    for (const char *p = r->types; *p && *p != '(';) {
        size_t n = strcspn(p, ",");
        json_array_append_new(items, json_stringn(p, n));
        p += n;
        if (*p) p++;
    }
    json_object_set_new(o, "items", items);
    json_object_set_new(o, "samples", r->samples >= 0 ? json_integer(r->samples) : json_null());
    json_object_set_new(o, "span_s", r->span >= 0 ? json_real(r->span) : json_null());
    json_object_set_new(o, "profiler_id", r->profiler ? json_string(r->profiler) : json_null());
    json_object_set_new(o, "transaction", r->txn ? json_string(r->txn) : json_null());
    json_object_set_new(o, "duration_s", r->duration >= 0 ? json_real(r->duration) : json_null());
    return o;
}

static int cmd_list(int argc, char **argv)
{
    char dir[PATH_MAX];
    const char *arg = NULL;
    bool as_json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            sp_cli_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = true;
        } else if (argv[i][0] == '-') {
            return sp_cli_bad_usage("list: unknown option '%s'", argv[i]);
        } else if (arg) {
            return sp_cli_bad_usage("list: takes at most one DIR, got '%s'", argv[i]);
        } else {
            arg = argv[i];
        }
    }
    if (arg) snprintf(dir, sizeof dir, "%s", arg);
    else if (!sp_cli_default_spool_checked(dir, sizeof dir)) return 1;

    sp_cli_strvec_t files = {0};
    int e = sp_cli_collect_dir(&files, dir, 0);
    if (e < 0) {
        sp_cli_err("cannot read %s: %s", dir, strerror(-e));
        return 1;
    }
    rows_t rs = {0};
    size_t wname = 4, wtypes = 5, dl = strlen(dir);
    for (size_t i = 0; i < files.n; i++) {
        const char *rel = files.v[i] + dl;
        while (*rel == '/') rel++;
        rs.rel = rel;
        rs.batch = sp_spool_run_is_batch(rel);
        char why[256];
        if (sp_cli_each_envelope(files.v[i], list_envelope, &rs, why, sizeof why) < 0) {
            row_t *r = rows_add(&rs, rel);
            r->name = sp_cli_strdup(rel);
            struct stat st;
            r->size = stat(files.v[i], &st) == 0 ? (unsigned long long)st.st_size : 0;
            r->bad = sp_cli_strdup(why);
        } else if (why[0]) {
            sp_cli_err("%s: %s", files.v[i], why);
        }
    }
    row_t *rows = rs.rows;
    for (size_t i = 0; i < rs.n; i++) {
        if (rows[i].bad) rows[i].types = sp_cli_printf("(unreadable: %s)", rows[i].bad);
        if (strlen(rows[i].name) > wname) wname = strlen(rows[i].name);
        if (strlen(rows[i].types) > wtypes) wtypes = strlen(rows[i].types);
    }
    if (as_json) {
        json_t *o = json_object(), *arr = json_array();
        json_object_set_new(o, "dir", json_string(dir));
        json_object_set_new(o, "files", json_integer((json_int_t)files.n));
        for (size_t i = 0; i < rs.n; i++) json_array_append_new(arr, row_json(&rows[i]));
        json_object_set_new(o, "envelopes", arr);
        json_dumpf(o, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        fputc('\n', stdout);
        json_decref(o);
    } else {
        printf("sentryprof list: %s, %zu %s in %zu %s\n", dir, rs.n, rs.n == 1 ? "envelope" : "envelopes",
               files.n, files.n == 1 ? "file" : "files");
        if (rs.n) {
            printf("%-*s %10s  %-*s %8s %8s  %-8s  %-7s %8s  %s\n", (int)wname, "FILE", "SIZE", (int)wtypes, "ITEMS",
                   "SAMPLES", "SPAN", "PROFILER", "STATE", "DURATION", "TRANSACTION");
        }
    }
    for (size_t i = 0; i < rs.n; i++) {
        row_t *r = &rows[i];
        if (!as_json) {
            char samples[32] = "-", span[32] = "-", dur[32] = "-";
            if (r->samples >= 0) snprintf(samples, sizeof samples, "%lld", r->samples);
            if (r->span >= 0) snprintf(span, sizeof span, "%.1fs", r->span);
            if (r->duration >= 0) snprintf(dur, sizeof dur, "%.1fs", r->duration);
            printf("%-*s %10llu  %-*s %8s %8s  %-8.*s  %-7s %8s  %s\n", (int)wname, r->name, r->size, (int)wtypes,
                   r->types, samples, span, SP_CLI_PROFILER_PREFIX, r->profiler ? r->profiler : "-", r->state, dur,
                   r->txn ? r->txn : "-");
        }
        sp_mem_free(r->name);
        sp_mem_free(r->types);
        sp_mem_free(r->bad);
        sp_mem_free(r->profiler);
        sp_mem_free(r->txn);
    }
    sp_mem_free(rows);
    sp_cli_strvec_free(&files);
    return 0;
}

/* ---- run ---- */

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Finds libsentryprof.so: $SENTRYPROF_LIB; next to the build tree or install prefix of this
 * executable (libtool may run us from tools/.libs/); SP_LIBDIR. Absolute path or -1, with
 * the reason in why (or as an error line when why is NULL). */
int sp_cli_find_lib(char *out, size_t len, char *why, size_t whylen)
{
    const char *env = sp_cli_config()->lib;
    char resolved[PATH_MAX];
    if (*env) {
        if (!is_file(env) || !realpath(env, resolved)) {
            if (why) snprintf(why, whylen, "%s=%s: no such library", SP_ENV_LIB, env);
            else sp_cli_err("%s=%s: no such library", SP_ENV_LIB, env);
            return -1;
        }
        snprintf(out, len, "%s", resolved);
        return 0;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *cand[4];
    size_t nc = 0;
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        cand[nc++] = sp_cli_printf("%s/../.libs/" SP_LIB_NAME, exe);
        cand[nc++] = sp_cli_printf("%s/../../.libs/" SP_LIB_NAME, exe);
        cand[nc++] = sp_cli_printf("%s/../lib/" SP_LIB_NAME, exe);
    }
    cand[nc++] = sp_cli_strdup(SP_LIBDIR "/" SP_LIB_NAME);
    int rc = -1;
    for (size_t i = 0; i < nc && rc < 0; i++) {
        if (is_file(cand[i]) && realpath(cand[i], resolved)) {
            snprintf(out, len, "%s", resolved);
            rc = 0;
        }
    }
    if (rc < 0 && why)
        snprintf(why, whylen, "cannot find " SP_LIB_NAME " (looked next to %s and in " SP_LIBDIR "); set %s",
                 n > 0 ? exe : "this program", SP_ENV_LIB);
    else if (rc < 0)
        sp_cli_err("cannot find " SP_LIB_NAME " (looked next to %s and in " SP_LIBDIR "); set %s",
                n > 0 ? exe : "this program", SP_ENV_LIB);
    for (size_t i = 0; i < nc; i++) sp_mem_free(cand[i]);
    return rc;
}

/* ---- main ---- */

static int cmd_version(int argc, char **argv)
{
    (void)argc, (void)argv;
    printf("sentryprof %s\n", SP_VERSION);
    return 0;
}

static int cmd_help(int argc, char **argv)
{
    (void)argc, (void)argv;
    sp_cli_usage(stdout);
    return 0;
}

/* The variables a command acts on itself warn when bad; the profiled process warns about
 * the rest (an upload child must not repeat its parent's lines). */
static const char *const warn_upload[] = {SP_ENV_DEBUG, SP_ENV_SPOOL_MAX_BYTES, NULL};
static const char *const warn_doctor[] = {SP_ENV_DISABLE, SP_ENV_KEEP_PERF_MAP, SP_ENV_MODE, NULL};

/* The commands: name, function (argv[0] is the command's name), the variables it warns
 * about, one line of help (listed after an unknown command; the full text is
 * sp_cli_usage). */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *const *warn_for;
    const char *help;
} commands[] = {
    {"top", sp_cli_top, NULL, "the hottest functions of the spooled profiles"}, /* top.c */
    {"convert", sp_cli_convert, NULL, "export to collapsed, speedscope, cpuprofile or pprof"}, /* convert.c */
    {"flame", sp_cli_flame, NULL, "an interactive SVG flame graph"}, /* flame.c */
    {"list", cmd_list, NULL, "one line per spooled envelope"},
    {"run", sp_cli_run, NULL, "run a command with the library preloaded"}, /* run.c */
    {"upload", sp_cli_upload, warn_upload, "send the spool to Sentry"}, /* upload.c */
    {"doctor", sp_cli_doctor, warn_doctor, "check that profiling works here"}, /* doctor.c */
    {"version", cmd_version, NULL, "print the version"},
    {"help", cmd_help, NULL, "the usage text (also --help, -h)"},
    {"--version", cmd_version, NULL, NULL}, /* aliases: no line of their own */
    {"--help", cmd_help, NULL, NULL},
    {"-h", cmd_help, NULL, NULL},
};

int main(int argc, char **argv)
{
    json_set_alloc_funcs(sp_mem_alloc, sp_mem_free);
    if (argc < 2) {
        sp_cli_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    size_t i = 0, n = sizeof commands / sizeof *commands;
    while (i < n && strcmp(commands[i].name, cmd) != 0) i++;
    if (i == n) {
        int rc = sp_cli_bad_usage("unknown command '%s'", cmd);
        fputs("commands:\n", stderr);
        for (size_t k = 0; k < n; k++)
            if (commands[k].help) fprintf(stderr, "  %-8s %s\n", commands[k].name, commands[k].help);
        return rc;
    }
    sp_cli_config_load(commands[i].warn_for);
    int rc = commands[i].run(argc - 1, argv + 1);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        sp_cli_err("write error on standard output");
        return rc ? rc : 1;
    }
    return rc;
}
