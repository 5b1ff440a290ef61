/* test_faults: fault injection over the spool and upload paths (issue #20, the campaign).
 * Every allocation (sp_mem_fail_after), open, write, fsync, rename, mkdir, truncate and
 * xattr write (the libc calls, wrapped at link time: -Wl,--wrap in Makefile.am, so the
 * engine's code runs unchanged) and every request (the fake Sentry refuses the
 * connection) is failed in turn, one at a time, with ENOSPC, EIO, EINTR and EACCES (ENOMEM
 * for allocations), over
 *   - the agent's side: a run folder, a chunk committed and published, a batch of
 *     transaction envelopes appended and sealed, the run ended;
 *   - the uploader's side: upkeep and a pass over a batch that must be split half-way (the
 *     second request is answered 503) and a single envelope; then a pass without faults.
 * After each: nothing crashed, sp_mem holds what it held before (no leak), the fds are the
 * ones open before, every failure reached the caller (a negative errno; the outbox counts
 * those as spool_errors) or, on the upload side, every envelope written is sent, still in
 * ready/, or counted as dropped with a line said; no torn or temporary file is left in
 * ready/. Duplicates (sent twice after a failure between the answer and the bookkeeping)
 * are counted and printed, not failed: Sentry drops an event_id it has seen. */
#ifndef _GNU_SOURCE /* configure may pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "delivery.h"
#include "delivery_pass.h"
#include "delivery_upkeep.h"
#include "envelope.h"
#include "mem.h"
#include "spool.h"
#include "spool_queue.h"
#include "spool_run.h"
#include "unit.h"

/* ---- the injector: the countdown-th wrapped call of this thread fails once with errno ---- */

static __thread long countdown = -1;
static __thread int fault_errno;
static __thread long calls; /* wrapped calls seen while armed */
static __thread bool fired;

static void arm(long n, int e)
{
    countdown = n;
    fault_errno = e;
    calls = 0;
    fired = false;
}
static void disarm(void) { countdown = -1; }

static bool due(void)
{
    if (countdown < 0) return false;
    calls++;
    if (countdown-- == 0) {
        countdown = -1;
        fired = true;
        errno = fault_errno;
        return true;
    }
    return false;
}

/* The wrapped calls (--wrap=NAME turns our engine's calls to NAME into __wrap_NAME). */
int __real_open(const char *path, int flags, ...);
int __real_openat(int dirfd, const char *path, int flags, ...);
ssize_t __real_write(int fd, const void *p, size_t n);
int __real_fsync(int fd);
int __real_renameat(int a, const char *b, int c, const char *d);
int __real_renameat2(int a, const char *b, int c, const char *d, unsigned flags);
int __real_mkdirat(int dirfd, const char *path, mode_t mode);
int __real_ftruncate(int fd, off_t len);
int __real_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags);

int __wrap_open(const char *path, int flags, ...);
int __wrap_openat(int dirfd, const char *path, int flags, ...);
static __thread unsigned long dir_listings; /* directories listed (sp_fsio_list opens ".") */
ssize_t __wrap_write(int fd, const void *p, size_t n);
int __wrap_fsync(int fd);
int __wrap_renameat(int a, const char *b, int c, const char *d);
int __wrap_renameat2(int a, const char *b, int c, const char *d, unsigned flags);
int __wrap_mkdirat(int dirfd, const char *path, mode_t mode);
int __wrap_ftruncate(int fd, off_t len);
int __wrap_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags);

int __wrap_open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
    va_end(ap);
    return due() ? -1 : __real_open(path, flags, mode);
}
int __wrap_openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
    va_end(ap);
    if ((flags & O_DIRECTORY) && path && !strcmp(path, ".")) dir_listings++; /* sp_fsio_list */
    return due() ? -1 : __real_openat(dirfd, path, flags, mode);
}
static __thread bool disk_full; /* every write fails with ENOSPC (the rest works) */
ssize_t __wrap_write(int fd, const void *p, size_t n)
{
    if (disk_full) {
        errno = ENOSPC;
        return -1;
    }
    return due() ? -1 : __real_write(fd, p, n);
}
int __wrap_fsync(int fd) { return due() ? -1 : __real_fsync(fd); }
int __wrap_renameat(int a, const char *b, int c, const char *d) { return due() ? -1 : __real_renameat(a, b, c, d); }
int __wrap_renameat2(int a, const char *b, int c, const char *d, unsigned flags)
{
    return due() ? -1 : __real_renameat2(a, b, c, d, flags);
}
int __wrap_mkdirat(int dirfd, const char *path, mode_t mode) { return due() ? -1 : __real_mkdirat(dirfd, path, mode); }
int __wrap_ftruncate(int fd, off_t len) { return due() ? -1 : __real_ftruncate(fd, len); }
int __wrap_fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)
{
    return due() ? -1 : __real_fsetxattr(fd, name, value, size, flags);
}

static const int errnos[] = {ENOSPC, EIO, EINTR, EACCES};
#define N_ERRNOS (sizeof errnos / sizeof *errnos)

/* ---- what every run is checked against ---- */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static char base[256], dir[300];

static void setup(void)
{
    /* In /dev/shm when there is one: some thousand runs of fsyncs on a busy disk would take
     * minutes, and the calls are failed here, not measured. */
    const char *was = getenv("TMPDIR");
    char *keep = was ? strdup(was) : NULL;
    if (access("/dev/shm", W_OK) == 0) setenv("TMPDIR", "/dev/shm", 1);
    snprintf(base, sizeof base, "%s", sp_unit_tmpdir());
    if (keep) setenv("TMPDIR", keep, 1);
    else unsetenv("TMPDIR");
    free(keep);
    snprintf(dir, sizeof dir, "%s/spool", base);
}

static void teardown(void) { sp_unit_rmtree(base); }

/* Every id an envelope in ready/ holds ("\"event_id\":\"<id>\"" of each envelope, batches
 * read record by record), appended to ids (space-separated); torn batches, unparsable
 * files and temporary (hidden) files are counted in *bad. */
static void ready_ids(char *ids, size_t cap, int *bad)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/ready", dir);
    DIR *d = opendir(p);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (e->d_name[0] == '.') {
            fprintf(stderr, "faults: temporary file left: ready/%s\n", e->d_name);
            (*bad)++;
            continue;
        }
        snprintf(p, sizeof p, "%s/ready/%s", dir, e->d_name);
        size_t len;
        char *data = sp_unit_read_file(p, &len);
        if (!data) continue;
        const char *env[64];
        size_t lens[64], n = 0;
        sp_spool_run_reader_t r;
        if (sp_spool_run_is_batch(e->d_name)) {
            if (sp_spool_run_reader_init(&r, data, len) < 0) (*bad)++;
            else {
                while (n < 64 && sp_spool_run_reader_next(&r, &env[n], &lens[n])) n++;
                if (r.torn) {
                    fprintf(stderr, "faults: torn batch in ready/: %s\n", e->d_name);
                    (*bad)++;
                }
            }
        } else {
            env[0] = data;
            lens[0] = len;
            n = 1;
        }
        for (size_t i = 0; i < n; i++) {
            const char *q = memmem(env[i], lens[i], "\"event_id\":\"", 12);
            if (!q) {
                (*bad)++;
                continue;
            }
            q += 12;
            size_t k = strcspn(q, "\"");
            size_t o = strlen(ids);
            snprintf(ids + o, cap - o, "%.*s ", (int)k, q);
        }
        free(data);
    }
    closedir(d);
}

static bool has_id(const char *ids, const char *id)
{
    char w[64];
    snprintf(w, sizeof w, " %s ", id);
    char buf[4096];
    snprintf(buf, sizeof buf, " %s", ids);
    return strstr(buf, w) != NULL;
}

static char *envelope(const char *id)
{
    char *s = NULL;
    ck_assert_int_ge(asprintf(&s, "{\"event_id\":\"%s\"}\n{\"type\":\"transaction\"}\n{\"n\":1}\n", id), 0);
    return s;
}

/* ---- the agent's side ---- */

/* One run of the agent's writes; *failed: how many steps returned an error. */
static void agent_run(int *failed)
{
    sp_spool_t *sp = NULL;
    int rc = sp_spool_open(dir, &sp);
    if (rc < 0) {
        ck_assert_int_lt(rc, 0);
        (*failed)++;
        return;
    }
    sp_spool_run_t *run = NULL;
    if ((rc = sp_spool_run_begin(sp, &run)) < 0) {
        (*failed)++;
        sp_spool_close(sp);
        return;
    }
    char *c = envelope("chunk");
    if (sp_spool_run_commit(run, "100-c.envelope", c, strlen(c)) < 0) (*failed)++;
    else if (sp_spool_run_publish(run, "100-c.envelope") < 0) (*failed)++;
    free(c);
    static const char *const ids[] = {"t0", "t1", "t2"};
    bool ok = true;
    for (size_t i = 0; i < 3 && ok; i++) {
        char *e = envelope(ids[i]);
        if (sp_spool_run_append(run, "200-t.envelopes", e, strlen(e)) < 0) ok = false;
        free(e);
    }
    if (!ok) (*failed)++;
    if (sp_spool_run_seal(run, "200-t.envelopes") < 0 && ok) (*failed)++;
    if (sp_spool_run_end(run) < 0) (*failed)++;
    sp_spool_close(sp);
}

static void agent_case(bool mem, int e, long *tried, long *surfaced)
{
    for (long k = 0;; k++) {
        size_t mem0 = sp_mem_in_use();
        int fds0 = count_fds();
        int failed = 0;
        if (mem) sp_mem_fail_after(k);
        else arm(k, e);
        agent_run(&failed);
        /* an allocation countdown still above 0: the run needed fewer than k allocations */
        bool hit = mem ? sp_mem_fail_pending() == 0 : fired;
        sp_mem_fail_after(-1);
        disarm();
        ck_assert_msg(sp_mem_in_use() == mem0, "agent side, fault %ld (%s): %zu bytes leaked", k,
                      mem ? "ENOMEM" : strerror(e), sp_mem_in_use() - mem0);
        ck_assert_msg(count_fds() == fds0, "agent side, fault %ld (%s): %d fds before, %d after", k,
                      mem ? "ENOMEM" : strerror(e), fds0, count_fds());
        char ids[4096] = "";
        int bad = 0;
        ready_ids(ids, sizeof ids, &bad);
        ck_assert_msg(bad == 0, "agent side, fault %ld (%s): %d torn, temporary or unreadable files in ready/",
                      k, mem ? "ENOMEM" : strerror(e), bad);
        /* An EINTR is retried by write_all; any other failure that lost data said so. */
        bool all = has_id(ids, "chunk") && has_id(ids, "t0") && has_id(ids, "t1") && has_id(ids, "t2");
        if (!all && failed == 0) {
            /* what a failed run left in its folder is adopted by the next uploader: count it */
            sp_spool_t *sp;
            ck_assert_int_eq(sp_spool_open(dir, &sp), 0);
            sp_spool_queue_adopt(sp);
            sp_spool_close(sp);
            ids[0] = '\0';
            ready_ids(ids, sizeof ids, &bad);
            all = has_id(ids, "chunk") && has_id(ids, "t0") && has_id(ids, "t1") && has_id(ids, "t2");
        }
        ck_assert_msg(all || failed > 0,
                      "agent side, fault %ld (%s): envelopes missing from ready/ (have: %s) and no "
                      "step returned an error",
                      k, mem ? "ENOMEM" : strerror(e), ids);
        (*tried)++;
        *surfaced += failed > 0;
        sp_unit_rmtree(dir);
        if (!hit) break; /* the run made fewer calls than k: every call was failed once */
        ck_assert_msg(k < 2000, "agent side: more than 2000 calls?");
    }
}

START_TEST(agent_side_every_call_fails_in_turn)
{
    long tried = 0, surfaced = 0;
    for (size_t i = 0; i < N_ERRNOS; i++) agent_case(false, errnos[i], &tried, &surfaced);
    agent_case(true, ENOMEM, &tried, &surfaced);
    fprintf(stderr, "faults: agent side: %ld runs, %ld with a failure returned to the caller, 0 leaks, 0 torn files\n",
            tried, surfaced);
}
END_TEST

/* ---- the uploader's side ---- */

static struct {
    long refuse_at; /* this request (0-based, over the run) is refused; -1: none */
    long answer_503_at;
    bool all_503; /* Sentry is down */
    size_t n;
    char sent[8192]; /* ids sent, space-separated (a duplicate appears twice) */
    int said;
    char lines[4096];
} ing;

static int fake_send(void *ctx, const sp_transport_request_t *req, const char *envelope, size_t len,
                     long timeout_ms, sp_transport_response_t *resp)
{
    (void)ctx, (void)req, (void)timeout_ms;
    memset(resp, 0, sizeof *resp);
    long i = (long)ing.n++;
    if (ing.all_503) {
        resp->status = 503;
        return 0;
    }
    if (i == ing.refuse_at) {
        snprintf(resp->message, sizeof resp->message, "Connection refused");
        return -ECONNREFUSED;
    }
    if (i == ing.answer_503_at) {
        resp->status = 503;
        return 0;
    }
    const char *q = memmem(envelope, len, "\"event_id\":\"", 12);
    if (q) {
        q += 12;
        size_t k = strcspn(q, "\"");
        size_t o = strlen(ing.sent);
        snprintf(ing.sent + o, sizeof ing.sent - o, "%.*s ", (int)k, q);
    }
    resp->status = 200;
    return 0;
}

static void fake_say(void *ctx, const char *line)
{
    (void)ctx;
    ing.said++;
    size_t o = strlen(ing.lines);
    snprintf(ing.lines + o, sizeof ing.lines - o, "%s\n", line);
}

static const sp_delivery_io_t fake_io = {.send = fake_send, .say = fake_say};

static const char *const up_ids[] = {"b0", "b1", "b2", "b3", "s"};
#define N_UP (sizeof up_ids / sizeof *up_ids)

static void put_ready(const char *name, const char *data, size_t len)
{
    char p[1024];
    mkdir(dir, 0700);
    snprintf(p, sizeof p, "%s/ready", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/ready/%s", dir, name);
    int fd = __real_open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(__real_write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void put_spool(void)
{
    char buf[4096];
    size_t o = (size_t)snprintf(buf, sizeof buf, "%s", SP_BATCH_HEADER);
    for (size_t i = 0; i < 4; i++) {
        char *e = envelope(up_ids[i]);
        o += sp_spool_run_record_head(buf + o, strlen(e));
        memcpy(buf + o, e, strlen(e));
        o += strlen(e);
        buf[o++] = '\n';
        free(e);
    }
    put_ready("100-b.envelopes", buf, o);
    char *e = envelope("s");
    put_ready("200-s.envelope", e, strlen(e));
    free(e);
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One upload run: upkeep and a pass; *dropped, *error and *said added. */
static void upload_run(unsigned long *dropped, bool *error)
{
    sp_spool_t *sp = NULL;
    if (sp_spool_open(dir, &sp) < 0) {
        *error = true;
        return;
    }
    sp_dsn_t dsn;
    char why[128];
    ck_assert_int_eq(sp_dsn_parse("http://pub@127.0.0.1:9/42", &dsn, why, sizeof why), 0);
    sp_delivery_t d;
    sp_delivery_init(&d, sp, &dsn, &fake_io, false, mono_now() + 60);
    sp_delivery_upkeep(&d, 1ull << 30);
    sp_delivery_pass(&d);
    *dropped += d.dropped + d.evicted;
    *error = *error || d.error;
    sp_spool_close(sp);
}

static void upload_case(int mode, int e, long *tried, long *dups, long *surfaced)
{
    /* mode 0: a libc call fails; 1: an allocation; 2: a request is refused */
    for (long k = 0;; k++) {
        put_spool();
        memset(&ing, 0, sizeof ing);
        ing.refuse_at = mode == 2 ? k : -1;
        ing.answer_503_at = 2; /* b2: the batch is split there, b2 and b3 wait as files */
        size_t mem0 = sp_mem_in_use();
        int fds0 = count_fds();
        unsigned long dropped = 0;
        bool error = false;
        if (mode == 0) arm(k, e);
        if (mode == 1) sp_mem_fail_after(k);
        upload_run(&dropped, &error);
        bool hit = mode == 0 ? fired : mode == 2 ? (size_t)k < ing.n : sp_mem_fail_pending() == 0;
        disarm();
        sp_mem_fail_after(-1);
        ck_assert_msg(sp_mem_in_use() == mem0, "upload side, fault %ld (%s): %zu bytes leaked", k,
                      strerror(e), sp_mem_in_use() - mem0);
        ck_assert_msg(count_fds() == fds0, "upload side, fault %ld (%s): %d fds before, %d after", k,
                      strerror(e), fds0, count_fds());
        int said_faulty = ing.said;
        /* the backoff the 503 (or the refusal) started is not this test's business */
        char p[1024];
        snprintf(p, sizeof p, "%s/state.json", dir);
        unlink(p);
        ing.refuse_at = ing.answer_503_at = -1;
        upload_run(&dropped, &error);
        char ids[4096] = "";
        int bad = 0;
        ready_ids(ids, sizeof ids, &bad);
        ck_assert_msg(bad == 0, "upload side, fault %ld (%s): %d torn or temporary files in ready/", k,
                      strerror(e), bad);
        int missing = 0;
        for (size_t i = 0; i < N_UP; i++) {
            char w[16];
            snprintf(w, sizeof w, " %s ", up_ids[i]);
            char all[8300];
            snprintf(all, sizeof all, " %s", ing.sent);
            char *first = strstr(all, w);
            if (!first && !has_id(ids, up_ids[i])) missing++;
            if (first && strstr(first + 1, w)) (*dups)++;
        }
        ck_assert_msg(missing == 0 || (dropped >= (unsigned long)1 && said_faulty + ing.said > 0),
                      "upload side, fault %ld (%s): %d envelope(s) neither sent, nor in ready/, nor "
                      "counted as dropped with a line said (sent: %s; ready: %s)",
                      k, mode == 1 ? "ENOMEM" : mode == 2 ? "ECONNREFUSED" : strerror(e), missing, ing.sent, ids);
        (*tried)++;
        *surfaced += error || dropped || said_faulty;
        sp_unit_rmtree(dir);
        if (!hit) break;
        ck_assert_msg(k < 4000, "upload side: more than 4000 calls?");
    }
}

START_TEST(upload_side_every_call_fails_in_turn)
{
    long tried = 0, dups = 0, surfaced = 0;
    for (size_t i = 0; i < N_ERRNOS; i++) upload_case(0, errnos[i], &tried, &dups, &surfaced);
    long t0 = tried;
    upload_case(1, ENOMEM, &tried, &dups, &surfaced);
    long t1 = tried;
    upload_case(2, ECONNREFUSED, &tried, &dups, &surfaced);
    fprintf(stderr,
            "faults: upload side: %ld runs (%ld libc-call faults, %ld allocation faults, %ld refused "
            "connections), %ld with a failure said or counted, 0 lost, 0 leaks, %ld duplicate sends\n",
            tried, t0, t1 - t0, tried - t1, surfaced, dups);
}
END_TEST

/* #20 item 15: a batch whose rest is larger than the free space could not be split; every
 * pass said "cannot write ready/...: No space left on device" and failed the upload (with
 * `sentryprof upload`, a line a second). Now: said once per upload run, not an error; the
 * batch stays whole, and its envelopes are sent from it (no space needed) once Sentry takes
 * them, with the disk still full. */
START_TEST(batch_without_space_to_split_said_once)
{
    put_spool();
    memset(&ing, 0, sizeof ing);
    ing.refuse_at = ing.answer_503_at = -1;
    ing.all_503 = true;
    sp_spool_t *sp = NULL;
    ck_assert_int_eq(sp_spool_open(dir, &sp), 0);
    sp_dsn_t dsn;
    char why[128];
    ck_assert_int_eq(sp_dsn_parse("http://pub@127.0.0.1:9/42", &dsn, why, sizeof why), 0);
    sp_delivery_t d;
    sp_delivery_init(&d, sp, &dsn, &fake_io, false, mono_now() + 60);
    char p[1024];
    snprintf(p, sizeof p, "%s/state.json", dir);
    disk_full = true;
    for (int pass = 0; pass < 5; pass++) { /* the CLI's passes, the backoff skipped */
        unlink(p);
        sp_delivery_upkeep(&d, 1ull << 30);
        sp_delivery_pass(&d);
    }
    int space_lines = 0;
    for (const char *q = ing.lines; (q = strstr(q, "No space left")); q++) space_lines++;
    ck_assert_msg(space_lines == 1,
                  "5 passes on a full disk with Sentry down: expected 1 line about the space, saw %d:\n%s",
                  space_lines, ing.lines);
    ck_assert_msg(!d.error, "a batch waiting for space is deferred, not an upload error");
    ck_assert_uint_eq(d.sent, 0);
    ck_assert_uint_eq(d.dropped, 0);
    ing.all_503 = false;
    unlink(p);
    sp_delivery_pass(&d);
    disk_full = false;
    ck_assert_msg(d.sent == 5, "Sentry up again, disk still full: expected all 5 sent, %lu were (%s)",
                  d.sent, ing.sent);
    char ids[4096] = "";
    int bad = 0;
    ready_ids(ids, sizeof ids, &bad);
    ck_assert_msg(ids[0] == '\0' && bad == 0, "ready/ should be empty, holds: %s", ids);
    sp_spool_close(sp);
}
END_TEST

/* #20, the kill -9 storm: a drain of 7,275 envelopes left by 10 killed processes (3,500
 * of them split into files of their own by uploaders that reached their deadline) sent 27
 * a second and ran out of time: each claim listed the whole of ready/ again (3,500 files:
 * N^2 entries read over the drain). One pass over many files lists ready/ once (again only
 * when the list is used up and something was claimed from it), in the same order. */
START_TEST(pass_lists_ready_once)
{
    memset(&ing, 0, sizeof ing);
    ing.refuse_at = ing.answer_503_at = -1;
    enum { N = 200 };
    for (int i = 0; i < N; i++) {
        char name[64], id[16];
        snprintf(id, sizeof id, "e%03d", i);
        snprintf(name, sizeof name, "%d-x~%04d.envelope", 100, i);
        char *e = envelope(id);
        put_ready(name, e, strlen(e));
        free(e);
    }
    sp_spool_t *sp = NULL;
    ck_assert_int_eq(sp_spool_open(dir, &sp), 0);
    sp_dsn_t dsn;
    char why[128];
    ck_assert_int_eq(sp_dsn_parse("http://pub@127.0.0.1:9/42", &dsn, why, sizeof why), 0);
    sp_delivery_t d;
    sp_delivery_init(&d, sp, &dsn, &fake_io, false, mono_now() + 60);
    dir_listings = 0;
    sp_delivery_pass(&d);
    unsigned long listed = dir_listings;
    ck_assert_msg(d.sent == N, "expected all %d sent, saw %lu", N, d.sent);
    ck_assert_msg(listed <= 3, "a pass over %d files in ready/: expected ready/ listed at most 3 times, saw %lu", N,
                  listed);
    char want[N * 5 + 1] = "";
    for (int i = 0; i < N; i++) snprintf(want + strlen(want), sizeof want - strlen(want), "e%03d ", i);
    ck_assert_msg(!strcmp(ing.sent, want), "expected sent in name order: %.80s..., saw %.80s...", want, ing.sent);
    sp_spool_close(sp);
}
END_TEST

SP_UNIT_SUITE(faults)
{
    json_set_alloc_funcs(sp_mem_alloc, sp_mem_free); /* as the CLI does */
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, agent_side_every_call_fails_in_turn);
    tcase_add_test(tc, upload_side_every_call_fails_in_turn);
    tcase_add_test(tc, batch_without_space_to_split_said_once);
    tcase_add_test(tc, pass_lists_ready_once);
    suite_add_tcase(s, tc);
    return s;
}
