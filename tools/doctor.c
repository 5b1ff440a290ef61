/* doctor: `sentryprof doctor [--node PATH]` checks that profiling works for this user, this
 * environment and this node, by running it: the node found on PATH (or --node) runs a
 * short script under the shim (the library `run` would preload) in a temporary directory
 * with its own spool, and the script reports what it saw from inside: NODE_OPTIONS, whether
 * V8 writes its perf map, whether the JS helper loaded and the sampler's counters. Then the
 * user's own spool directory and SENTRY_DSN are checked. One line per check ("ok", "FAIL"
 * or "warn", a name, what was found), a verdict line last; exit 0 when healthy, 1 when
 * not, 2 on bad usage.
 * The check run sends nothing: it gets no SENTRY_DSN (the mode it would have had is kept
 * through SENTRYPROF_MODE) and its transaction is discarded; its temporary directory is
 * removed. With a valid SENTRY_DSN, one harmless envelope (a client report that counts
 * nothing) goes to it, and what Sentry answered is shown. Environment: PATH, LD_PRELOAD, NODE_OPTIONS, SENTRYPROF_* and
 * SENTRY_DSN as the profiled process would see them. Single-threaded.
 * Process selection (src/select.h): a "selection" line names SENTRYPROF_INCLUDE/EXCLUDE;
 * `-- COMMAND ARGS` also says whether that command's node process would be profiled and
 * which rule decided (a script run through its `#!...node` line, e.g. `npm`, counts as
 * `node SCRIPT ARGS`); --select-only prints just that. The check run itself is always
 * selected (the variables are removed from its environment).
 */
#include "cli.h"

#include "config.h"
#include "dsn.h"
#include "envelope.h"
#include "mem.h"
#include "profile.h"
#include "transport.h"
#include "select.h"
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SP_VERSION
#define SP_VERSION "0.0.0"
#endif

#define DOCTOR_TIMEOUT_MS 30000   /* the check run; node under the shim starts in < 1 s */
#define DOCTOR_VERSION_TIMEOUT_MS 10000
#define DOCTOR_SENTRY_TIMEOUT_MS 10000 /* the test envelope to SENTRY_DSN */
#define DOCTOR_OUT_MAX (1u << 20) /* bytes of a child's stdout kept */
#define DOCTOR_MARK "SENTRYPROF_DOCTOR "
#define DOCTOR_WORK "sentryprofDoctorWork"

extern char **environ;

/* The check run: ~400 ms of CPU in a named function inside a transaction (so samples are
 * taken in every mode, eager or lazy), then one line of facts as JSON. */
static const char doctor_script[] =
    "'use strict';\n"
    "const fs = require('fs');\n"
    "const out = { pid: process.pid, version: process.version, v8: process.versions.v8,\n"
    "  execArgv: process.execArgv.filter((a, i, all) => a !== '-e' && all[i - 1] !== '-e'),\n"
    "  nodeOptions: process.env.NODE_OPTIONS || '',\n"
    "  helper: typeof globalThis.__sentryprof, library: process.env.SENTRYPROF_LIBRARY_PATH || '' };\n"
    "function " DOCTOR_WORK "(ms) { const end = Date.now() + ms; let x = 0;\n"
    "  while (Date.now() < end) for (let i = 0; i < 1000; i++) x = (x + i) % 9973; return x; }\n"
    "let txn = null;\n"
    "try { if (out.helper === 'object') txn = __sentryprof.startTransaction({ name: 'sentryprof doctor', op: 'doctor', sampled: true }); }\n"
    "catch (e) { out.txnError = String(e && e.message); }\n"
    DOCTOR_WORK "(400);\n"
    "const map = '/tmp/perf-' + process.pid + '.map';\n"
    "try { const st = fs.statSync(map); out.perfMap = { path: map, size: st.size,\n"
    "  hasWork: fs.readFileSync(map, 'latin1').includes('" DOCTOR_WORK "') }; }\n"
    "catch (e) { out.perfMap = { path: map, error: e.code || String(e) }; }\n"
    "if (out.helper === 'object') {\n"
    "  try { out.stats = __sentryprof.stats(); out.libVersion = __sentryprof.version; }\n"
    "  catch (e) { out.statsError = String(e && e.message); }\n"
    "  try { if (txn) txn.discard(); } catch (_) {}\n"
    "}\n"
    "process.stdout.write('" DOCTOR_MARK "' + JSON.stringify(out) + '\\n');\n";

static int failures, warnings;
static char *first_failure; /* for the verdict */

static void vline(const char *status, const char *what, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    char *text = sp_cli_calloc(1, n > 0 ? (size_t)n + 1 : 1);
    if (n > 0) vsnprintf(text, (size_t)n + 1, fmt, ap);
    printf("%-5s %-13s %s\n", status, what, text);
    if (strcmp(status, "FAIL") == 0 && !first_failure) first_failure = text;
    else sp_mem_free(text);
    if (strcmp(status, "FAIL") == 0) failures++;
    else if (strcmp(status, "warn") == 0) warnings++;
}

/* One check's line: status "ok", "FAIL", "warn" or "" (information). */
static void line(const char *status, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void line(const char *status, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(status, what, fmt, ap);
    va_end(ap);
}
#define FAIL(what, ...) line("FAIL", what, __VA_ARGS__)

static bool is_exec_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* node as execvp would find it. */
static bool find_on_path(const char *name, char *out, size_t len)
{
    /* PATH is execvp's, not a setting of ours: read as the shell would use it now. */
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *p = path;;) {
        size_t n = strcspn(p, ":");
        snprintf(out, len, "%.*s%s%s", (int)n, p, n ? "/" : "", name);
        if (is_exec_file(out)) return true;
        if (!p[n]) break;
        p += n + 1;
    }
    return false;
}

/* true if list (separated by ':' or ' ') holds word */
static bool has_path_word(const char *list, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ": ");
        if (n == wl && memcmp(p, word, wl) == 0) return true;
        p += n;
        if (*p) p++;
    }
    return false;
}


/* A copy of environ with the names in unset removed and the entries of set ("K=V") added. */
static char **make_env(const char *const *unset, size_t nunset, char *const *set, size_t nset)
{
    size_t n = 0;
    while (environ[n]) n++;
    char **env = sp_cli_calloc(n + nset + 1, sizeof *env);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        bool drop = false;
        for (size_t k = 0; k < nunset && !drop; k++) {
            size_t l = strlen(unset[k]);
            drop = strncmp(environ[i], unset[k], l) == 0 && environ[i][l] == '=';
        }
        for (size_t k = 0; k < nset && !drop; k++) {
            size_t l = strcspn(set[k], "=");
            drop = strncmp(environ[i], set[k], l + 1) == 0;
        }
        if (!drop) env[o++] = environ[i];
    }
    for (size_t k = 0; k < nset; k++) env[o++] = set[k];
    env[o] = NULL;
    return env;
}

typedef struct {
    char *out; /* stdout, NUL-terminated */
    size_t len, cap;
    int status;    /* waitpid status */
    bool timeout;  /* killed after the deadline */
    int timeout_ms; /* that deadline */
    int exec_errno; /* the child could not exec */
} child_t;

/* Runs argv with env in dir (NULL: ours), stdout captured, stderr into err_path (NULL:
 * /dev/null), stdin from /dev/null, in a process group of its own; after timeout_ms the
 * whole group is killed (a hung node's children too), whether or not it closed its stdout
 * (its end of output does not end the wait: its exit does). 0, or -errno (no fork). */
static int run_child(char *const argv[], char *const env[], const char *dir, const char *err_path,
                     int timeout_ms, child_t *c)
{
    memset(c, 0, sizeof *c);
    c->timeout_ms = timeout_ms;
    int out[2], ex[2];
    if (pipe2(out, O_CLOEXEC) < 0) return -errno;
    if (pipe2(ex, O_CLOEXEC) < 0) {
        int e = errno;
        close(out[0]);
        close(out[1]);
        return -e;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(out[0]), close(out[1]), close(ex[0]), close(ex[1]);
        return -e;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int in = open("/dev/null", O_RDONLY);
        int err = err_path ? open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600) : open("/dev/null", O_WRONLY);
        if (in >= 0) dup2(in, 0);
        if (err >= 0) dup2(err, 2);
        dup2(out[1], 1);
        if (dir && chdir(dir) < 0) _exit(126);
        execve(argv[0], argv, env);
        int e = errno;
        if (write(ex[1], &e, sizeof e) < 0) _exit(127);
        _exit(127);
    }
    setpgid(pid, pid); /* also here: the kill below must not find it in ours */
    close(out[1]);
    close(ex[1]);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char buf[8192];
    bool eof = false, reaped = false;
    for (;;) {
        /* What is there to read (all of it once it exited: its children may keep the pipe
         * open, so its end is not waited for then). */
        for (;;) {
            ssize_t n = eof ? 0 : read(out[0], buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n == 0) eof = true;
            if (n <= 0) break;
            if (c->len + (size_t)n < DOCTOR_OUT_MAX) {
                SP_GROW(c->out, c->cap, c->len + (size_t)n + 1);
                memcpy(c->out + c->len, buf, (size_t)n);
                c->len += (size_t)n;
            }
        }
        if (reaped) break;
        if (waitpid(pid, &c->status, WNOHANG) == pid) {
            reaped = true;
            continue; /* one more read */
        }
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long spent = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= timeout_ms) {
            c->timeout = true;
            kill(-pid, SIGKILL); /* its group: what it started dies with it */
            kill(pid, SIGKILL);
            while (waitpid(pid, &c->status, 0) < 0 && errno == EINTR) {}
            break;
        }
        /* Woken by output, else every 50 ms for its exit (a closed stdout is no signal). */
        long wait = timeout_ms - spent < 50 ? timeout_ms - spent : 50;
        struct pollfd pf = {.fd = out[0], .events = POLLIN};
        if (eof) {
            struct timespec ts = {0, wait * 1000000L};
            nanosleep(&ts, NULL);
        } else {
            poll(&pf, 1, (int)wait);
        }
    }
    close(out[0]);
    int e = 0;
    if (read(ex[0], &e, sizeof e) == (ssize_t)sizeof e) c->exec_errno = e;
    close(ex[0]);
    if (!c->out) c->out = sp_cli_strdup("");
    else c->out[c->len] = '\0';
    return 0;
}

static char *describe_exit(const child_t *c)
{
    if (c->exec_errno) return sp_cli_printf("could not run: %s", strerror(c->exec_errno));
    if (c->timeout) return sp_cli_printf("killed after %d s", c->timeout_ms / 1000);
    if (WIFSIGNALED(c->status)) return sp_cli_printf("killed by signal %d (%s)", WTERMSIG(c->status), strsignal(WTERMSIG(c->status)));
    return sp_cli_printf("exit status %d", WEXITSTATUS(c->status));
}

/* Whole small file, NUL-terminated ("" when unreadable). */
static char *slurp(const char *path)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char tmp[4096];
        ssize_t n;
        while ((n = read(fd, tmp, sizeof tmp)) > 0 && len < DOCTOR_OUT_MAX) {
            SP_GROW(buf, cap, len + (size_t)n + 1);
            memcpy(buf + len, tmp, (size_t)n);
            len += (size_t)n;
        }
        close(fd);
    }
    if (!buf) return sp_cli_strdup("");
    buf[len] = '\0';
    return buf;
}

static double num(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : 0;
}

static void rm_tree(const char *dir)
{
    char *argv[] = {"/bin/rm", "-rf", (char *)dir, NULL};
    char *env[] = {NULL};
    child_t c;
    if (run_child(argv, env, NULL, NULL, 10000, &c) == 0) sp_mem_free(c.out);
}

/* Counts the envelopes under dir (two levels: run folders, ready/ and sending/), those in
 * batch files included. */
static size_t count_envelopes(const char *dir)
{
    sp_cli_strvec_t files = {0};
    size_t n = 0;
    char why[256];
    sp_cli_collect_dir(&files, dir, 0);
    for (size_t i = 0; i < files.n; i++) {
        long k = sp_cli_each_envelope(files.v[i], NULL, NULL, why, sizeof why);
        if (k > 0) n += (size_t)k;
    }
    sp_cli_strvec_free(&files);
    return n;
}

/* Prints every "[sentryprof] ..." line of the check run's stderr, and its other lines. */
static void show_stderr(const char *err)
{
    int shown = 0;
    for (const char *p = err; *p && shown < 20;) {
        size_t n = strcspn(p, "\n");
        if (n) {
            line(strncmp(p, "[sentryprof] debug", 18) == 0 ? "" : "warn", "stderr", "%.*s",
                 (int)(n > 300 ? 300 : n), p);
            shown++;
        }
        p += n;
        if (*p) p++;
    }
}

/* Does the file start with a "#!" line naming node ("#!/usr/bin/env node", "#!/usr/bin/node")? */
static bool node_shebang(const char *path)
{
    char buf[256] = "";
    FILE *f = fopen(path, "re");
    if (!f) return false;
    bool ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    return ok && buf[0] == '#' && buf[1] == '!' && strstr(buf, "node") != NULL;
}

/* The selection lines: the rules in effect, and the verdict for COMMAND ARGS (cmd NULL:
 * none given). */
static void check_selection(int cmdc, char **cmd)
{
    const char *inc = sp_cli_config()->include, *exc = sp_cli_config()->exclude;
    line("ok", "selection", "%s=%s, %s=%s; package managers excluded unless included (%s)",
         SP_ENV_INCLUDE, *inc ? inc : "(unset)", SP_ENV_EXCLUDE, *exc ? exc : "(unset)",
         SP_SELECT_DEFAULT_EXCLUDE);
    if (!cmd || cmdc <= 0) return;
    const char *base = strrchr(cmd[0], '/');
    base = base ? base + 1 : cmd[0];
    char path[PATH_MAX];
    char **av = sp_mem_calloc((size_t)cmdc + 2, sizeof *av);
    if (!av) return;
    int ac = 0;
    if (strncmp(base, "node", 4) == 0) {
        for (int i = 0; i < cmdc; i++) av[ac++] = cmd[i];
    } else {
        if (strchr(cmd[0], '/')) snprintf(path, sizeof path, "%s", cmd[0]);
        else if (!find_on_path(cmd[0], path, sizeof path)) path[0] = '\0';
        if (!path[0] || !node_shebang(path)) {
            line("ok", "selection", "%s: not a node program (%s); its node children decide for themselves",
                 cmd[0], path[0] ? "no #!...node line" : "not found on PATH");
            sp_mem_free(av);
            return;
        }
        av[ac++] = "node";
        av[ac++] = path;
        for (int i = 1; i < cmdc; i++) av[ac++] = cmd[i];
    }
    sp_select_t s;
    sp_select_decide(ac, av, inc, exc, &s);
    line(s.profile ? "ok" : "warn", "selection", "%s: %s %s (%s)", cmd[0], s.script,
         s.profile ? "profiled" : "not profiled", s.rule);
    sp_mem_free(av);
}

/* Sends Sentry a harmless envelope (a client report with no discarded events: it counts
 * nothing and stores nothing) and says what came back: the only way to know that the key,
 * the project and the network path work before profiles depend on them. */
static void reach_sentry(const sp_dsn_t *d)
{
    char url[SP_DSN_URL_MAX] = "", ts[40], *body = NULL;
    size_t len = 0;
    sp_dsn_envelope_url(d, url, sizeof url);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    sp_profile_iso_time((uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec, ts, sizeof ts);
    sp_envelope_t *env = sp_envelope_new(json_pack("{s:s, s:{s:s, s:s}}", "sent_at", ts, "sdk", "name",
                                                   SP_SDK_NAME, "version", SP_VERSION));
    json_t *report = json_pack("{s:I, s:[]}", "timestamp", (json_int_t)now.tv_sec, "discarded_events");
    int rc = env && report ? sp_envelope_add_json(env, "client_report", report, NULL) : -ENOMEM;
    if (rc == 0) rc = sp_envelope_serialize(env, &body, &len);
    sp_envelope_free(env);
    sp_transport_t *tp = NULL;
    sp_transport_request_t req;
    sp_transport_response_t resp;
    if (rc == 0 && (rc = sp_transport_global_init()) == 0) {
        if ((rc = sp_transport_new(&tp)) == 0 && (rc = sp_transport_request_init(&req, d, body, len)) == 0) {
            rc = sp_transport_send(tp, &req, DOCTOR_SENTRY_TIMEOUT_MS, &resp);
            sp_transport_request_free(&req);
            size_t n = strlen(resp.message);
            while (n && resp.message[n - 1] == ' ') resp.message[--n] = '\0';
            const char *sep = resp.message[0] ? ": " : "";
            if (rc < 0)
                FAIL("Sentry", "cannot reach %s (%s); profiles would stay in the spool", url, resp.message);
            else if (resp.status >= 200 && resp.status < 300)
                line("ok", "Sentry", "reached: %s answered HTTP %ld to a test envelope", url, resp.status);
            else if (resp.status == 401 || resp.status == 403)
                FAIL("Sentry", "%s refused the key: HTTP %ld%s%.160s (check the public key in SENTRY_DSN)",
                     url, resp.status, sep, resp.message);
            else if (resp.status == 404)
                FAIL("Sentry", "%s: HTTP 404%s%.160s (check the host, path and project id in SENTRY_DSN)",
                     url, sep, resp.message);
            else if (resp.status == 429)
                line("warn", "Sentry", "reached, but rate-limited: %s answered HTTP 429%s%s%s", url,
                     resp.retry_after[0] ? " (Retry-After: " : "", resp.retry_after,
                     resp.retry_after[0] ? ")" : "");
            else
                FAIL("Sentry", "%s answered HTTP %ld%s%.160s", url, resp.status, sep, resp.message);
            sp_transport_free(tp);
            sp_mem_free(body);
            sp_transport_global_cleanup();
            return;
        }
        sp_transport_free(tp);
        sp_transport_global_cleanup();
    }
    sp_mem_free(body);
    FAIL("Sentry", "cannot build a test request: %s", strerror(-rc));
}

/* ---- node: the one found on PATH (or --node) answers --version without the shim.
 * Fills node ("" when unusable) and version. */
static void check_node(const char *node_arg, char *node, size_t len, char *version, size_t vlen)
{
    node[0] = version[0] = '\0';
    if (node_arg) {
        if (is_exec_file(node_arg)) snprintf(node, len, "%s", node_arg);
        else FAIL("node", "--node %s: not an executable file", node_arg);
    } else if (!find_on_path("node", node, len)) {
        node[0] = '\0';
        FAIL("node", "no node on PATH (set PATH or pass --node PATH)");
    }
    if (!node[0]) return;
    static const char *const plain_unset[] = {"LD_PRELOAD", SP_ENV_NODE_OPTIONS};
    char **env = make_env(plain_unset, 2, NULL, 0);
    char *av[] = {node, "--version", NULL};
    child_t c;
    if (run_child(av, env, NULL, NULL, DOCTOR_VERSION_TIMEOUT_MS, &c) == 0 && !c.exec_errno &&
        !c.timeout && WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0 && c.out[0] == 'v') {
        snprintf(version, vlen, "%.*s", (int)strcspn(c.out, "\r\n"), c.out);
        line("ok", "node", "%s %s", node, version);
    } else {
        char *why = describe_exit(&c);
        FAIL("node", "%s --version failed (%s)", node, why);
        sp_mem_free(why);
        node[0] = '\0';
    }
    sp_mem_free(c.out);
    sp_mem_free(env);
}

/* ---- the library and its JS helper. lib: "" when unusable. */
static void check_library(char *lib, size_t len)
{
    char why[PATH_MAX + 128];
    if (sp_cli_find_lib(lib, len, why, sizeof why) < 0) {
        lib[0] = '\0';
        FAIL("library", "%s", why);
        return;
    }
    if (strpbrk(lib, ": ")) {
        FAIL("library", "%s: LD_PRELOAD paths cannot contain ':' or ' '", lib);
        lib[0] = '\0';
        return;
    }
    line("ok", "library", "%s", lib);
    /* where the library looks for its helper (preload.c): installed, then the build tree */
    const char *slash = strrchr(lib, '/');
    int dl = slash ? (int)(slash - lib) : 0;
    char *helper = sp_cli_printf("%.*s/sentryprof/sentryprof-helper.js", dl, lib);
    if (access(helper, R_OK) != 0) {
        sp_mem_free(helper);
        helper = sp_cli_printf("%.*s/../preload/sentryprof-helper.js", dl, lib);
    }
    if (access(helper, R_OK) == 0)
        line("ok", "helper file", "%s", helper);
    else
        FAIL("helper file", "sentryprof-helper.js not found next to %s (in sentryprof/ or ../preload/)", lib);
    sp_mem_free(helper);
}

/* What the check run saw, for the checks that read it. */
typedef struct {
    child_t c;
    int rc;           /* run_child's */
    char *err;        /* its stderr */
    json_t *facts;    /* the script's line, NULL when it did not report */
    bool exited_ok;
    const char *mode; /* the mode it ran in (SENTRYPROF_MODE as the profiled process'd have) */
    char run_mode[32]; /* the mode it reported (a bad SENTRYPROF_MODE falls back) */
} run_t;

/* Whether the check run's V8 frame decoder was on: __sentryprof.stats() says; without it
 * (the helper did not load, a FAIL of its own), what SENTRYPROF_V8_FRAMES asks for. */
static bool run_decoder_on(const run_t *r)
{
    const json_t *v = json_object_get(json_object_get(r->facts, "stats"), "v8_decoder");
    return json_is_number(v) ? json_number_value(v) != 0 : sp_cli_config()->v8_frames;
}

/* NODE_OPTIONS as the check run saw it: our flags and the helper. */
static void check_node_options(const run_t *r)
{
    const char *nopts = r->facts ? sp_cli_json_str(r->facts, "nodeOptions") : NULL;
    if (!nopts) nopts = "";
    /* No flag where V8's code events write the map (jitlog.h): the stats say so. */
    const char *src = r->facts ? sp_cli_json_str(json_object_get(r->facts, "stats"), "perf_map") : NULL;
    bool perf_flag = sp_config_has_node_flag(nopts, "--perf-basic-prof-only-functions") ||
                     sp_config_has_node_flag(nopts, "--perf-basic-prof") ||
                     sp_config_has_node_flag(nopts, "--perf-prof") ||
                     (src && strcmp(src, "v8_code_events") == 0);
    /* --interpreted-frames-native-stack is ours only when the V8 frame decoder is off (it
     * names interpreted frames itself), and then only on a V8 where it cannot deadlock
     * V8's own profiler; elsewhere it must be absent unless the user set it. */
    const char *v8 = r->facts ? sp_cli_json_str(r->facts, "v8") : NULL;
    bool safe = sp_config_native_stack_safe(v8);
    bool decoder = r->facts && run_decoder_on(r);
    bool want_native_stack = safe && !decoder;
    bool user_native_stack = sp_config_has_node_flag(nopts, "--interpreted-frames-native-stack");
    bool native_stack = user_native_stack || !want_native_stack;
    bool require_helper = strstr(nopts, "sentryprof-helper.js") != NULL;
    if (!r->facts) return; /* node did not get as far as the script: check_v8_flags says why */
    if (!(perf_flag && native_stack && require_helper)) {
        FAIL("NODE_OPTIONS", "our flags are missing (%s%s%s): NODE_OPTIONS=%s",
             perf_flag ? "" : "--perf-basic-prof-only-functions ",
             native_stack ? "" : "--interpreted-frames-native-stack ",
             require_helper ? "" : "--require sentryprof-helper.js", nopts);
        return;
    }
    line("ok", "NODE_OPTIONS", "%s", nopts);
    if (src && strcmp(src, "v8_code_events") == 0)
        line("ok", "perf map", "written from V8's JIT code events (no V8 flag, so node's code "
             "cache for its own modules stays valid)");
    if (!safe && user_native_stack)
        line("warn", "JS frames", "V8 %s: --interpreted-frames-native-stack (set outside "
             "sentryprof) can deadlock V8's own CPU profiler (--cpu-prof, inspector) here",
             v8 ? v8 : "?");
    if (decoder) {
        const json_t *st = json_object_get(r->facts, "stats");
        line("ok", "JS frames",
             "V8 %s: V8 frame decoder on: %.0f interpreted frames named from "
             "V8's frame slots, %.0f frames left as walked (a check failed); Sparkplug frames: "
             "%.0f decoded, %.0f named by the perf map; optimized frames: %.0f decoded (inlined "
             "functions as frames), %.0f named by the perf map",
             v8 ? v8 : "?", num(st, "v8_frames_named"), num(st, "v8_frames_unnamed"),
             num(st, "v8_sparkplug_decoded"), num(st, "v8_sparkplug_perf_map"),
             num(st, "v8_optimized_decoded"), num(st, "v8_optimized_perf_map"));
        return;
    }
    const char *why = !sp_cli_config()->v8_frames ? "SENTRYPROF_V8_FRAMES=false"
                                                   : "this node's V8 layout is unknown to it";
    if (safe)
        line(sp_cli_config()->v8_frames ? "warn" : "", "JS frames",
             "V8 %s: V8 frame decoder off (%s): interpreted functions are named by the perf "
             "map (--interpreted-frames-native-stack), at their definition line; no inlined "
             "frames", v8 ? v8 : "?", why);
    else
        line(sp_cli_config()->v8_frames ? "warn" : "", "JS frames",
             "V8 %s: V8 frame decoder off (%s): interpreted functions show as "
             "Builtins_InterpreterEntryTrampoline (--interpreted-frames-native-stack is left "
             "out: it can deadlock V8's own CPU profiler here)", v8 ? v8 : "?", why);
}

/* V8 took the flags: node ran, the perf map was written during the run (and removed at
 * exit unless SENTRYPROF_KEEP_PERF_MAP). */
static void check_v8_flags(const run_t *r)
{
    if (!r->facts) {
        const char *not_allowed = strstr(r->err, "is not allowed in NODE_OPTIONS");
        char *ex = describe_exit(&r->c);
        if (not_allowed) {
            const char *b = not_allowed;
            while (b > r->err && b[-1] != '\n') b--;
            FAIL("V8 flags", "node rejected NODE_OPTIONS: %.*s", (int)strcspn(b, "\n"), b);
        } else {
            FAIL("check run", "node under the shim did not report (%s)", ex);
        }
        sp_mem_free(ex);
        return;
    }
    json_t *pm = json_object_get(r->facts, "perfMap");
    const char *mpath = sp_cli_json_str(pm, "path");
    bool has_work = json_is_true(json_object_get(pm, "hasWork"));
    const char *merr = sp_cli_json_str(pm, "error");
    char *argv_s = json_dumps(json_object_get(r->facts, "execArgv"), JSON_COMPACT);
    if (has_work) {
        struct stat st;
        bool left = mpath && stat(mpath, &st) == 0;
        bool kept = sp_cli_config()->keep_perf_map; /* as the library reads it */
        line("ok", "V8 flags", "accepted: %s written during the run (%.0f bytes, " DOCTOR_WORK " in it)%s",
             mpath ? mpath : "the perf map", num(pm, "size"),
             left ? (kept ? ", kept at exit (SENTRYPROF_KEEP_PERF_MAP)" : ", NOT removed at exit") : ", removed at exit");
        if (left && !kept) line("warn", "perf map", "%s was left behind after node exited", mpath);
        if (left && mpath) unlink(mpath);
    } else if (merr) {
        FAIL("V8 flags", "V8 flags not in effect: %s was not written (%s); execArgv %s", mpath ? mpath : "the perf map",
             merr, argv_s ? argv_s : "[]");
    } else {
        FAIL("V8 flags", "V8 flags not in effect: %s has no entry for the JS that ran; execArgv %s",
             mpath ? mpath : "the perf map", argv_s ? argv_s : "[]");
    }
    line("", "execArgv", "%s (NODE_OPTIONS flags do not show here)", argv_s ? argv_s : "[]");
    sp_mem_free(argv_s); /* jansson allocates through sp_mem (main) */
}

/* The sampler's counters as __sentryprof.stats() gave them. */
static void check_sampler(const json_t *st)
{
    double signals = num(st, "signals"), samples = num(st, "samples");
    char counters[512];
    snprintf(counters, sizeof counters,
             "signal %.0f, %.0f thread%s: %.0f signals, %.0f samples (%.0f symbolized); "
             "dropped: ring full %.0f, re-entry %.0f, no thread %.0f; outside a profile %.0f; "
             "truncated %.0f, off stack %.0f, timer errors %.0f",
             num(st, "signal"), num(st, "threads"), num(st, "threads") == 1 ? "" : "s",
             signals, samples, num(st, "samples_symbolized"), num(st, "dropped_ring_full"),
             num(st, "dropped_reentry"), num(st, "dropped_no_thread"),
             num(st, "discarded_outside_profile"), num(st, "truncated"),
             num(st, "off_stack"), num(st, "timer_errors"));
    if (num(st, "active") != 1) FAIL("sampler", "the sampler is not active; %s", counters);
    else if (num(st, "handler_replaced") > 0) FAIL("sampler", "another signal handler took the sampler's signal; %s", counters);
    else if (num(st, "timer_errors") > 0) FAIL("sampler", "the sampler's timers failed; %s", counters);
    else if (samples < 1) FAIL("sampler", "no sample in 400 ms of CPU; %s", counters);
    else line("ok", "sampler", "%s", counters);
}

/* The JS helper loaded, and the sampler took samples. */
static void check_helper(run_t *r)
{
    if (!r->facts) return;
    const char *h = sp_cli_json_str(r->facts, "helper");
    json_t *st = json_object_get(r->facts, "stats");
    const char *st_mode = sp_cli_json_str(st, "mode");
    if (!h || strcmp(h, "object") != 0) {
        FAIL("JS helper", "the JS helper did not load: typeof __sentryprof is %s", h ? h : "?");
    } else {
        const char *lv = sp_cli_json_str(r->facts, "libVersion"), *lm = sp_cli_json_str(st, "logging_mode"),
                   *ck = sp_cli_json_str(st, "clock");
        line("ok", "JS helper", "loaded: typeof __sentryprof = object (library %s, %s mode, %s, %s clock)",
             lv ? lv : "?", st_mode ? st_mode : r->mode, lm ? lm : "?", ck ? ck : "?");
    }
    if (st_mode) snprintf(r->run_mode, sizeof r->run_mode, "%s", st_mode);
    if (json_is_object(st)) {
        check_sampler(st);
    } else if (h && strcmp(h, "object") == 0) {
        const char *e = sp_cli_json_str(r->facts, "statsError");
        FAIL("sampler", "__sentryprof.stats() failed: %s", e ? e : "?");
    }
    if (!r->exited_ok) {
        char *ex = describe_exit(&r->c);
        FAIL("check run", "node reported, then ended with %s", ex);
        sp_mem_free(ex);
    }
}

/* What else the run left: envelopes (continuous mode: a chunk), files in its cwd (a file
 * node created in its working directory would land in every app's). */
static void check_leftovers(const run_t *r, const char *spool, const char *cwd)
{
    if (!r->facts) return;
    size_t n = count_envelopes(spool);
    line("", "check spool", "%zu envelope%s written by the check run (%s mode; removed)", n, n == 1 ? "" : "s",
         r->mode);
    sp_cli_strvec_t left = {0};
    char *lsav[] = {"/bin/ls", "-A", (char *)cwd, NULL};
    char *lsenv[] = {NULL};
    child_t l;
    if (run_child(lsav, lsenv, NULL, NULL, 5000, &l) == 0) {
        for (char *p = l.out; *p;) {
            size_t k = strcspn(p, "\n");
            if (k) sp_cli_strvec_push(&left, sp_cli_printf("%.*s", (int)k, p));
            p += k;
            if (*p) p++;
        }
        sp_mem_free(l.out);
    }
    if (left.n)
        line("warn", "working dir", "node under the shim created %zu file%s in its working directory, e.g. %s",
             left.n, left.n == 1 ? "" : "s", left.v[0]);
    sp_cli_strvec_free(&left);
}

/* ---- the check run: node under the shim in a temporary directory with its own spool, no
 * DSN, always selected; then the checks of what it saw. Fills run_mode. */
static void check_run(const char *node, const char *lib, const char *mode, char *run_mode, size_t rmlen)
{
    const char *tmp = sp_cli_config()->tmpdir;
    char *tdir = sp_cli_printf("%s/sentryprof-doctor.XXXXXX", tmp);
    if (!mkdtemp(tdir)) {
        FAIL("check run", "cannot create a temporary directory in %s: %s", tmp, strerror(errno));
        sp_mem_free(tdir);
        return;
    }
    char *spool = sp_cli_printf("%s/spool", tdir);
    char *cwd = sp_cli_printf("%s/cwd", tdir);
    char *err_path = sp_cli_printf("%s/stderr", tdir);
    mkdir(cwd, 0700);
    /* LD_PRELOAD is the child's, not a setting of ours: read as it is now, to extend it. */
    const char *old = getenv("LD_PRELOAD");
    char *set[3];
    set[0] = old && *old ? (has_path_word(old, lib) ? sp_cli_printf("LD_PRELOAD=%s", old)
                                                    : sp_cli_printf("LD_PRELOAD=%s:%s", lib, old))
                         : sp_cli_printf("LD_PRELOAD=%s", lib);
    set[1] = sp_cli_printf("%s=%s", SP_ENV_SPOOL_DIR, spool);
    set[2] = sp_cli_printf("%s=%s", SP_ENV_MODE, mode);
    static const char *const run_unset[] = {SP_ENV_DSN, SP_ENV_INCLUDE, SP_ENV_EXCLUDE};
    char **env = make_env(run_unset, 3, set, 3);
    char *av[] = {(char *)node, "-e", (char *)doctor_script, NULL};
    run_t r = {.mode = mode};
    r.rc = run_child(av, env, cwd, err_path, DOCTOR_TIMEOUT_MS, &r.c);
    r.err = slurp(err_path);
    const char *mark = r.rc == 0 ? strstr(r.c.out, DOCTOR_MARK) : NULL;
    r.facts = mark ? json_loads(mark + strlen(DOCTOR_MARK), JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    r.exited_ok = r.rc == 0 && !r.c.exec_errno && !r.c.timeout && WIFEXITED(r.c.status) &&
                  WEXITSTATUS(r.c.status) == 0;

    check_node_options(&r);
    check_v8_flags(&r);
    check_helper(&r);
    check_leftovers(&r, spool, cwd);
    show_stderr(r.err);
    snprintf(run_mode, rmlen, "%s", r.run_mode);

    if (r.facts) json_decref(r.facts);
    sp_mem_free(r.err);
    sp_mem_free(r.c.out);
    sp_mem_free(env);
    for (int i = 0; i < 3; i++) sp_mem_free(set[i]);
    rm_tree(tdir);
    sp_mem_free(spool);
    sp_mem_free(cwd);
    sp_mem_free(err_path);
    sp_mem_free(tdir);
}

/* ---- the user's spool. Fills spool_dir. */
static void check_spool(char *spool_dir, size_t len)
{
    if (!sp_cli_default_spool(spool_dir, len)) {
        FAIL("spool", "spool directory path too long");
        return;
    }
    sp_spool_t *sp = NULL;
    int e = sp_spool_open(spool_dir, &sp);
    if (e < 0) FAIL("spool", "spool %s unusable: %s", spool_dir, strerror(-e));
    else if (access(spool_dir, W_OK | X_OK) != 0) FAIL("spool", "spool %s is not writable: %s", spool_dir, strerror(errno));
    else line("ok", "spool", "%s (writable)", spool_dir);
    sp_spool_close(sp);
}

/* ---- SENTRY_DSN: parses, and Sentry answers a harmless envelope. */
static void check_dsn(const sp_config_t *cfg)
{
    if (!cfg->has_dsn) {
        line("ok", "SENTRY_DSN", "not set: profiles stay in the spool (send them with `sentryprof upload --dsn DSN`)");
        return;
    }
    sp_dsn_t d;
    char err[256] = "";
    int e = cfg->dsn[0] ? sp_dsn_parse(cfg->dsn, &d, err, sizeof err) : -ENAMETOOLONG;
    if (e < 0) FAIL("SENTRY_DSN", "SENTRY_DSN is invalid: %s", *err ? err : strerror(-e));
    else if (d.port)
        line("ok", "SENTRY_DSN", "valid: %s://%s:%u, project %s", d.scheme, d.host, d.port, d.project_id);
    else
        line("ok", "SENTRY_DSN", "valid: %s://%s, project %s", d.scheme, d.host, d.project_id);
    if (e == 0) reach_sentry(&d);
}

int sp_cli_doctor(int argc, char **argv)
{
    const char *node_arg = NULL;
    bool select_only = false;
    int cmdc = 0;
    char **cmd = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            sp_cli_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--") == 0) {
            cmd = argv + i + 1;
            cmdc = argc - i - 1;
            break;
        } else if (strcmp(argv[i], "--select-only") == 0) {
            select_only = true;
        } else if (strcmp(argv[i], "--node") == 0 && i + 1 < argc) {
            node_arg = argv[++i];
        } else if (strncmp(argv[i], "--node=", 7) == 0) {
            node_arg = argv[i] + 7;
        } else {
            return sp_cli_bad_usage("doctor: unknown argument '%s'", argv[i]);
        }
    }
    printf("sentryprof doctor %s\n", SP_VERSION);
    if (select_only) {
        check_selection(cmdc, cmd);
        return 0;
    }
    const sp_config_t *cfg = sp_cli_config();
    char node[PATH_MAX], node_version[64], lib[PATH_MAX];
    check_node(node_arg, node, sizeof node, node_version, sizeof node_version);
    check_library(lib, sizeof lib);

    /* ---- the environment the profiled process would see */
    if (cfg->disable)
        FAIL("disabled", "%s=true: the library does nothing in any process", SP_ENV_DISABLE);
    /* the check run gets no DSN: the mode it would have had is passed on explicitly */
    const char *mode = cfg->continuous ? "continuous" : "transaction";
    check_selection(cmdc, cmd);

    char run_mode[32] = "";
    if (node[0] && lib[0]) check_run(node, lib, mode, run_mode, sizeof run_mode);
    else line("", "check run", "skipped (no %s)", node[0] ? "library" : "node");

    char spool_dir[PATH_MAX] = "";
    check_spool(spool_dir, sizeof spool_dir);
    check_dsn(cfg);

    if (failures > 1)
        printf("verdict: unhealthy: %s (and %d more)\n", first_failure, failures - 1);
    else if (failures)
        printf("verdict: unhealthy: %s\n", first_failure);
    else
        printf("verdict: healthy: node %s is profiled (%s mode), profiles go to %s%s%s\n",
               node_version[0] ? node_version : "?", run_mode[0] ? run_mode : mode, spool_dir,
               cfg->has_dsn ? " and to Sentry" : "", warnings ? " (see the warnings above)" : "");
    sp_mem_free(first_failure);
    return failures ? 1 : 0;
}
