/* upload: the "sentryprof upload" command, the only place envelopes leave the machine.
 * The preload library never does network I/O inside node (docs/HAZARDS.md section 1): its
 * uploader thread spawns `sentryprof upload --once --quiet --timeout N` and reaps it; a
 * user can run the same command by hand.
 *
 * This file is the command: arguments, the DSN (bad: one line, exit 3, nothing touched),
 * the spool, libcurl, the terminal and the --status-fd lines, and the passes with the waits
 * between them. What a pass does (adopt, evict above SENTRYPROF_SPOOL_MAX_BYTES, claim
 * oldest first, split batches, drop, hold rate-limited data, report discards) is the
 * library's delivery policy (src/delivery.h), which calls back here for the I/O.
 * Without --once, passes repeat until ready/ is empty or the deadline, sleeping until the
 * earliest limit ends.
 *
 * Exit status: 0 nothing left in ready/; 4 some left (rate limit, backoff, deadline);
 * 3 bad or missing DSN; 2 usage; 1 any other error.
 * Single-threaded; the CLI process only. Memory through sp_mem (jansson's via main,
 * libcurl's via sp_transport_global_init, zlib's via transport.c).
 * Environment (through config's loader, sp_cli_config): SENTRY_DSN, SENTRYPROF_SPOOL_DIR
 * and TMPDIR (default spool), SENTRYPROF_SPOOL_MAX_BYTES, SENTRYPROF_DEBUG (one debug line
 * per request); libcurl reads its own proxy variables.
 */
#ifndef _GNU_SOURCE /* configure may pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE
#endif
#include "cli.h"

#include "config.h"
#include "delivery.h"
#include "delivery_pass.h"
#include "delivery_upkeep.h"
#include "dsn.h"
#include "log.h"
#include "spool.h"
#include "spool_queue.h"
#include "spool_state.h"
#include "transport.h"
#include "uploader.h" /* SP_UPLOAD_EXIT_*: the exit codes the library acts on */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define SP_UPLOAD_PROGRESS_FILES 50 /* ready files from which a terminal gets a progress line */

#define SP_UPLOAD_DEFAULT_TIMEOUT 30.0            /* --timeout default, seconds */
#define SP_UPLOAD_MAX_TIMEOUT 86400.0
#define SP_UPLOAD_IDLE_WAIT 1.0                   /* seconds between passes that made no progress */

/* The exit codes the library's uploader thread acts on (uploader.h). */
enum {
    UP_EXIT_OK = SP_UPLOAD_EXIT_OK,
    UP_EXIT_ERROR = SP_UPLOAD_EXIT_ERROR,
    UP_EXIT_BAD_DSN = SP_UPLOAD_EXIT_BAD_DSN,
    UP_EXIT_DEFERRED = SP_UPLOAD_EXIT_DEFERRED
};

/* The command's side of the I/O (sp_delivery_io_t's ctx). */
typedef struct {
    sp_transport_t *tp;
    int status_fd; /* --status-fd: one "<cause>\t<line>" per failed request, or -1 */
} up_io_t;

/* ---- small helpers ---- */

static double now_unix(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* For the profiled process's uploader thread (--status-fd): one line per failed request,
 * "<cause>\t<what happened and what happens to the data>", which it prints once per cause.
 * Tabs and control bytes in the text become spaces (the line format has no escapes). */
static void io_status(void *ctx, const char *cause, const char *text)
{
    const up_io_t *io = ctx;
    if (io->status_fd < 0) return;
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s\t", cause);
    int m = snprintf(buf + n, sizeof buf - (size_t)n - 1, "%s", text);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof buf - 2) len = sizeof buf - 2;
    for (size_t i = (size_t)n; i < len; i++)
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) buf[i] = ' ';
    buf[len++] = '\n';
    ssize_t w = write(io->status_fd, buf, len); /* EPIPE: the reader is gone (SIGPIPE ignored) */
    (void)w;
}

static void sleep_until_mono(double t)
{
    double d = t - now_mono();
    if (d <= 0) return;
    struct timespec ts = {(time_t)d, (long)((d - floor(d)) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* SENTRYPROF_SPOOL_MAX_BYTES, as config parsed it (a bad value warned, the default used). */
static unsigned long long spool_max_bytes(void) { return sp_cli_config()->spool_max_bytes; }

static int io_send(void *ctx, const sp_transport_request_t *req, const char *envelope, size_t len,
                   long timeout_ms, sp_transport_response_t *resp)
{
    (void)envelope, (void)len; /* req holds them, compressed */
    return sp_transport_send(((up_io_t *)ctx)->tp, req, timeout_ms, resp);
}

static void io_say(void *ctx, const char *line)
{
    (void)ctx;
    sp_cli_err("%s", line);
}

static void io_progress(void *ctx, unsigned long sent, unsigned long dropped)
{
    (void)ctx;
    sp_cli_progress(sent + dropped, "%lu sent, %lu dropped", sent, dropped);
}

/* ---- the command ---- */

static bool parse_timeout(const char *s, double *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !(v > 0) || v > SP_UPLOAD_MAX_TIMEOUT) return false;
    *out = v;
    return true;
}

/* "--name VALUE" or "--name=VALUE"; NULL when a is not --name; *bad when VALUE is missing. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, bool *bad)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == '=') return a + n + 1;
    if (a[n] != '\0') return NULL;
    if (*i + 1 >= argc) {
        *bad = true;
        return NULL;
    }
    return argv[++*i];
}

/* The command line. */
typedef struct {
    bool once, quiet;
    int status_fd; /* -1: none */
    const char *spool, *dsn;
    double timeout;
    char *sdk_resp[SP_UP_SDK_RESPONSES]; /* --sdk-response: answers the app's SDK got */
    unsigned nsdk;
} up_args_t;

/* Parses argv into *a. -1 to go on, else the exit status (usage printed). */
static int parse_args(int argc, char **argv, up_args_t *a)
{
    *a = (up_args_t){.status_fd = -1, .timeout = SP_UPLOAD_DEFAULT_TIMEOUT};
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *v;
        bool bad = false;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            sp_cli_usage(stdout);
            return 0;
        } else if (strcmp(arg, "--once") == 0) {
            a->once = true;
        } else if (strcmp(arg, "--quiet") == 0 || strcmp(arg, "-q") == 0) {
            a->quiet = true;
        } else if ((v = opt_value(argc, argv, &i, "--spool", &bad)) || bad) {
            if (bad || !*v) return sp_cli_bad_usage("upload: --spool needs a directory");
            a->spool = v;
        } else if ((v = opt_value(argc, argv, &i, "--status-fd", &bad)) || bad) {
            char *end;
            long fd = bad ? -1 : strtol(v, &end, 10);
            if (bad || *end || fd < 3 || fd > 1023 || fcntl((int)fd, F_GETFD) < 0)
                return sp_cli_bad_usage("upload: --status-fd needs an open descriptor >= 3");
            a->status_fd = (int)fd;
            signal(SIGPIPE, SIG_IGN); /* the reader may stop listening before we are done */
        } else if ((v = opt_value(argc, argv, &i, "--dsn", &bad)) || bad) {
            if (bad) return sp_cli_bad_usage("upload: --dsn needs a DSN");
            a->dsn = v;
        } else if ((v = opt_value(argc, argv, &i, "--sdk-response", &bad)) || bad) {
            /* "AT<tab>STATUS<tab>RETRY_AFTER<tab>RATE_LIMITS", from the library (uploader.h) */
            if (bad) return sp_cli_bad_usage("upload: --sdk-response needs a value");
            if (a->nsdk < SP_UP_SDK_RESPONSES) a->sdk_resp[a->nsdk++] = (char *)v;
        } else if ((v = opt_value(argc, argv, &i, "--timeout", &bad)) || bad) {
            if (bad || !parse_timeout(v, &a->timeout))
                return sp_cli_bad_usage("upload: --timeout takes seconds in (0, %.0f], got '%s'",
                                        SP_UPLOAD_MAX_TIMEOUT, bad ? "" : v);
        } else {
            return sp_cli_bad_usage("upload: unknown argument '%s'", arg);
        }
    }
    return -1;
}

int sp_cli_upload(int argc, char **argv)
{
    up_args_t args;
    int rc = parse_args(argc, argv, &args);
    if (rc >= 0) return rc;
    up_io_t io = {.tp = NULL, .status_fd = args.status_fd};
    bool once = args.once, quiet = args.quiet;
    const char *spool_arg = args.spool, *dsn_arg = args.dsn;
    double timeout = args.timeout;
    double deadline = now_mono() + timeout;
    if (sp_cli_config()->debug) sp_log_set_level(SP_LOG_DEBUG);

    /* The DSN first: a bad one touches nothing. */
    const char *dsn = dsn_arg ? dsn_arg : sp_cli_config()->has_dsn ? sp_cli_config()->dsn : NULL;
    char why[256];
    sp_dsn_t parsed;
    if (!dsn || !*dsn) {
        sp_cli_err("no DSN: set %s or pass --dsn", SP_ENV_DSN);
        return UP_EXIT_BAD_DSN;
    }
    if (sp_dsn_parse(dsn, &parsed, why, sizeof why) < 0) {
        sp_cli_err("invalid DSN \"%.300s\": %s", dsn, why[0] ? why : "cannot parse it");
        return UP_EXIT_BAD_DSN;
    }

    char dir[PATH_MAX];
    if (spool_arg) snprintf(dir, sizeof dir, "%s", spool_arg);
    else if (!sp_cli_default_spool(dir, sizeof dir)) return UP_EXIT_ERROR;
    unsigned long long max_bytes = spool_max_bytes();
    sp_spool_t *spool;
    if (sp_spool_open(dir, &spool) < 0) return UP_EXIT_ERROR; /* it printed why */
    if (sp_transport_global_init() < 0 || sp_transport_new(&io.tp) < 0) {
        sp_cli_err("cannot initialise libcurl");
        sp_spool_close(spool);
        return UP_EXIT_ERROR;
    }
    sp_delivery_io_t dio = {.send = io_send, .say = io_say, .status = io_status,
                            .progress = io_progress, .ctx = &io};
    sp_delivery_t up;
    sp_delivery_init(&up, spool, &parsed, &dio, quiet, deadline);
    /* What Sentry told the app's own SDK for this DSN holds our files back too: applied to
     * the shared state before the pass reads it. */
    for (unsigned i = 0; i < args.nsdk; i++) {
        sp_delivery_sdk_response_t r = {.dsn_key = up.dsn_key, .now = now_unix()};
        if (sp_delivery_sdk_response_parse(args.sdk_resp[i], &r) < 0) {
            SP_DEBUG("upload: --sdk-response '%.100s' not understood, ignored", args.sdk_resp[i]);
            continue;
        }
        if (sp_spool_state_update(spool, sp_delivery_state_sdk_response, &r) < 0)
            SP_DEBUG("upload: the SDK's rate limits could not be written to the spool's state");
    }

    unsigned long left = 0;
    /* a progress line over many files, on a terminal only (cli.h) */
    if (sp_spool_queue_stats(spool, &left, NULL) < 0) left = 0;
    sp_cli_progress_begin("uploading:", 0, !quiet && io.status_fd < 0 && left >= SP_UPLOAD_PROGRESS_FILES);
    for (;;) {
        unsigned long progress = up.sent + up.dropped;
        sp_delivery_upkeep(&up, max_bytes);
        sp_delivery_pass(&up);
        if (sp_spool_queue_stats(spool, &left, NULL) < 0) left = 0;
        if (once || left == 0 || sp_delivery_remaining_ms(&up) < SP_DELIVERY_MIN_REQUEST_MS) break;
        /* Wait for the earliest limit or backoff to end, or (no progress, nothing to wait
         * for: files published behind our walk, or claimed by another uploader) a moment. */
        double wait = up.wake > 0 ? up.wake - now_unix()
                      : up.sent + up.dropped == progress ? SP_UPLOAD_IDLE_WAIT : 0;
        if (now_mono() + wait >= deadline) break;
        sleep_until_mono(now_mono() + wait);
    }

    sp_cli_progress_end();
    sp_transport_free(io.tp);
    sp_transport_global_cleanup();
    sp_spool_close(spool);
    if (!quiet)
        printf("sent %lu, dropped %lu, deferred %lu\n", up.sent, up.dropped + up.evicted, left);
    if (up.error) return UP_EXIT_ERROR;
    return left ? UP_EXIT_DEFERRED : UP_EXIT_OK;
}
