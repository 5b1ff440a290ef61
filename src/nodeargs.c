/* nodeargs: node's command line, options before the script (nodeargs.h). No allocation, no
 * locks, no environment: runs in the preload constructor of every node process. */
#include "nodeargs.h"

#include <string.h>

#define SP_NODEARGS_MAX 1024 /* arguments considered */

/* node's own options that take their value as the next argument (node 18..26; options
 * given as --opt=value need no entry). -e/-p are handled apart: their value is code. An
 * unknown one makes a scan stop early at its value: at worst a script is not recognised,
 * never an app argument is read as node's. */
static const char *const value_opts[] = {
    "-r", "--require", "--import", "--loader", "--experimental-loader", "-C", "--conditions",
    "--input-type", "--inspect-port", "--debug-port", "--title", "--icu-data-dir",
    "--openssl-config", "--tls-cipher-list", "--tls-keylog", "--redirect-warnings",
    "--diagnostic-dir", "--report-dir", "--report-directory", "--report-filename",
    "--report-signal", "--heapsnapshot-signal", "--heapsnapshot-near-heap-limit",
    "--cpu-prof-dir", "--cpu-prof-name", "--cpu-prof-interval", "--heap-prof-dir",
    "--heap-prof-name", "--heap-prof-interval", "--secure-heap", "--secure-heap-min",
    "--disable-proto", "--dns-result-order", "--unhandled-rejections", "--use-largepages",
    "--env-file", "--env-file-if-exists", "--watch-path", "--experimental-policy",
    "--policy-integrity", "--experimental-specifier-resolution",
    "--es-module-specifier-resolution", "--experimental-default-type",
    "--trace-event-categories", "--trace-event-file-pattern", "--max-http-header-size",
    "--experimental-config-file", "--test-reporter", "--test-reporter-destination",
    "--test-name-pattern", "--test-skip-pattern", "--test-shard", "--test-concurrency",
    "--test-timeout", "--watch-kill-signal", "--localstorage-file", "--snapshot-blob",
    "--experimental-sea-config", "--allow-fs-read", "--allow-fs-write", "--inspect-publish-uid",
    "--stack-size", "--max-old-space-size", "--max-semi-space-size", "--run",
    "--disable-warning", "--stack-trace-limit",
};

static bool takes_value(const char *a)
{
    if (strchr(a, '=')) return false;
    for (size_t i = 0; i < sizeof value_opts / sizeof *value_opts; i++)
        if (strcmp(a, value_opts[i]) == 0) return true;
    return false;
}

/* -e, --eval, -p, --print (also --eval=code) and short clusters holding e or p (-pe). */
static bool is_eval(const char *a)
{
    if (!strcmp(a, "--eval") || !strcmp(a, "--print") || !strncmp(a, "--eval=", 7) ||
        !strncmp(a, "--print=", 8))
        return true;
    if (a[0] != '-' || a[1] == '-' || !a[1]) return false;
    for (const char *c = a + 1; *c; c++)
        if (*c == 'e' || *c == 'p') return true;
    return false;
}

/* Calls visit(option, ctx) for each of node's own options, in order, until visit returns
 * true; returns the script's index, -1 for eval/none (*eval says which), or -2 when visit
 * stopped the scan. Options after -e's code are still node's (`node -e code --prof`); the
 * first other argument after it is the code's own. */
static int scan(int argc, char *const argv[], bool *eval, bool (*visit)(const char *, void *), void *ctx)
{
    *eval = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) return !*eval && i + 1 < argc ? i + 1 : -1;
        if (a[0] != '-' || !a[1]) /* the script; "-" is stdin; after -e: the code's arguments */
            return *eval || a[0] == '-' ? -1 : i;
        if (visit && visit(a, ctx)) return -2;
        if (is_eval(a)) {
            *eval = true;
            if (!strchr(a, '=')) i++; /* the code */
        } else if (takes_value(a)) {
            i++;
        }
    }
    return -1;
}

int sp_nodeargs_main(int argc, char *const argv[], const char **label)
{
    bool eval;
    int m = scan(argc, argv, &eval, NULL, NULL);
    if (m < 0 && label) *label = eval ? "[eval]" : "[stdin]";
    return m;
}

static bool is_log_flag(const char *a, void *ctx)
{
    (void)ctx;
    return strncmp(a, "--log", 5) == 0 || strncmp(a, "--prof", 6) == 0;
}

/* V8 takes its flags with '-' or '_' between words. */
static bool is_perf_map_flag(const char *a, void *ctx)
{
    (void)ctx;
    return strncmp(a, "--perf-basic-prof", 17) == 0 || strncmp(a, "--perf_basic_prof", 17) == 0 ||
           strncmp(a, "--perf-prof", 11) == 0 || strncmp(a, "--perf_prof", 11) == 0;
}

/* Whether visit stops the scan of node's options in args (NUL-separated, n bytes). */
static bool any_option(const char *args, size_t n, bool (*visit)(const char *, void *))
{
    char buf[8192];
    char *argv[SP_NODEARGS_MAX];
    if (n >= sizeof buf) n = sizeof buf - 1; /* node's options come first: a cut tail is the app's */
    memcpy(buf, args, n);
    buf[n] = '\0';
    int argc = 0;
    for (char *p = buf; p < buf + n && argc < SP_NODEARGS_MAX; p += strlen(p) + 1) argv[argc++] = p;
    bool eval;
    return scan(argc, argv, &eval, visit, NULL) == -2;
}

bool sp_nodeargs_want_v8_log(const char *args, size_t n) { return any_option(args, n, is_log_flag); }

bool sp_nodeargs_want_perf_map(const char *args, size_t n) { return any_option(args, n, is_perf_map_flag); }
