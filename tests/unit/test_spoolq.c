/* test_spoolq: the spool as a queue (layout v1): run folders (begin, commit, publish, end,
 * abandon after fork), adoption of what dead processes left (exit without cleanup, kill -9,
 * a claimer that died), claims (oldest first, cursor, locked files skipped, release, done),
 * the size cap, state.json (locked read-modify-write, corrupt files, discards), and the
 * proof that each file is claimed by exactly one uploader: forked claimers and adopters
 * racing over one spool, every file sent exactly once and never held by two at a time.
 * Each test works in its own mkdtemp directory. */
#ifndef _GNU_SOURCE /* configure may pass -D_GNU_SOURCE=1 */
#define _GNU_SOURCE
#endif
#include "unit.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "spool.h"
#include "spool_queue.h"
#include "spool_run.h"
#include "spool_state.h"

#define PATHBUF 512
#define RACE_FILES 300   /* files in the concurrent-claim test */
#define RACE_CLAIMERS 6  /* claiming processes */
#define RACE_ADOPTERS 2  /* processes calling sp_spool_queue_adopt in a loop meanwhile */
#define STATE_WRITERS 6  /* processes adding discards concurrently */
#define STATE_ADDS 40    /* discards each of them adds */

static char base[64]; /* this test's scratch directory */
static char dir[96];  /* the spool in it */

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void setup(void)
{
    snprintf(base, sizeof base, "%s", "/tmp/sp-test-spoolq-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(base));
    snprintf(dir, sizeof dir, "%s/spool", base);
}

static void teardown(void)
{
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static sp_spool_t *open_spool(void)
{
    sp_spool_t *sp = NULL;
    ck_assert_int_eq(sp_spool_open(dir, &sp), 0);
    return sp;
}

/* Number of entries in <dir>/<sub> whose names start with prefix (hidden ones only if the
 * prefix is hidden); -1 when sub does not exist. */
static int count_in(const char *sub, const char *prefix)
{
    char p[PATHBUF];
    snprintf(p, sizeof p, "%s/%s", dir, sub);
    DIR *d = opendir(p);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (e->d_name[0] == '.' && prefix[0] != '.') continue;
        if (!strncmp(e->d_name, prefix, strlen(prefix))) n++;
    }
    closedir(d);
    return n;
}

static bool exists(const char *rel)
{
    char p[PATHBUF];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    struct stat st;
    return lstat(p, &st) == 0;
}

static void expect_content(const char *rel, const char *want)
{
    char p[PATHBUF], buf[256];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    int fd = open(p, O_RDONLY);
    ck_assert_msg(fd >= 0, "%s: %s", rel, strerror(errno));
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    ck_assert_int_ge(n, 0);
    buf[n] = '\0';
    ck_assert_str_eq(buf, want);
}

/* Writes <dir>/ready/<name> directly (as a publish would leave it). */
static void put_ready(const char *name, const char *data)
{
    char p[PATHBUF];
    snprintf(p, sizeof p, "%s/ready", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/ready/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
    close(fd);
}

/* ---- run folders ---- */

START_TEST(run_lifecycle)
{
    sp_spool_t *sp = open_spool();
    sp_spool_run_t *run = NULL;
    ck_assert_int_eq(sp_spool_run_begin(sp, &run), 0);
    const char *rn = sp_spool_run_name(run);
    char want[64];
    snprintf(want, sizeof want, "run-%d-", (int)getpid());
    ck_assert_msg(strncmp(rn, want, strlen(want)) == 0, "%s", rn);
    ck_assert_int_eq(count_in("", "run-"), 1);
    ck_assert_int_eq(count_in("", ".tmp-"), 0); /* the temp name is gone */
    ck_assert_int_eq(count_in("ready", ""), 0);
    ck_assert_int_eq(count_in("sending", ""), 0);
    char rel[256];
    snprintf(rel, sizeof rel, "%s/lock", rn);
    ck_assert(exists(rel));
    char p[PATHBUF];
    snprintf(p, sizeof p, "%s/%s", dir, rn);
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 07777, 0700);

    /* commit, re-commit (replaces), publish. */
    ck_assert_int_eq(sp_spool_run_commit(run, "100-a.envelope", "one", 3), 0);
    ck_assert_int_eq(sp_spool_run_commit(run, "100-a.envelope", "two", 3), 0);
    snprintf(rel, sizeof rel, "%s/open-100-a.envelope", rn);
    expect_content(rel, "two");
    ck_assert_int_eq(count_in(rn, "."), 0); /* no temp files left behind */
    ck_assert_int_eq(sp_spool_run_publish(run, "100-a.envelope"), 0);
    expect_content("ready/100-a.envelope", "two");
    ck_assert(!exists(rel));
    ck_assert_int_eq(sp_spool_run_publish(run, "100-a.envelope"), -ENOENT);
    ck_assert_int_eq(sp_spool_run_publish(run, "never.envelope"), -ENOENT);

    /* remove */
    ck_assert_int_eq(sp_spool_run_commit(run, "150-x.envelope", "x", 1), 0);
    ck_assert_int_eq(sp_spool_run_remove(run, "150-x.envelope"), 0);
    ck_assert_int_eq(sp_spool_run_remove(run, "150-x.envelope"), -ENOENT);

    /* bad names */
    ck_assert_int_eq(sp_spool_run_commit(run, "../x", "x", 1), -EINVAL);
    ck_assert_int_eq(sp_spool_run_commit(run, ".hidden", "x", 1), -EINVAL);
    ck_assert_int_eq(sp_spool_run_commit(run, "", "x", 1), -EINVAL);
    char longname[SP_SPOOL_NAME_MAX];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    ck_assert_int_eq(sp_spool_run_commit(run, longname, "x", 1), -EINVAL);
    longname[SP_SPOOL_NAME_MAX - 8] = '\0'; /* fits with "open-" */
    ck_assert_int_eq(sp_spool_run_commit(run, longname, "x", 1), 0);
    ck_assert_int_eq(sp_spool_run_remove(run, longname), 0);

    /* end publishes what is still open and removes the folder */
    ck_assert_int_eq(sp_spool_run_commit(run, "200-b.envelope", "bee", 3), 0);
    ck_assert_int_eq(sp_spool_run_commit(run, "300-c.envelope", "sea", 3), 0);
    ck_assert_int_eq(sp_spool_run_end(run), 0);
    ck_assert_int_eq(count_in("", "run-"), 0);
    ck_assert_int_eq(count_in("ready", ""), 3);
    expect_content("ready/200-b.envelope", "bee");
    expect_content("ready/300-c.envelope", "sea");
    ck_assert_int_eq(sp_spool_run_end(NULL), -EINVAL);
    sp_spool_close(sp);
}
END_TEST

START_TEST(two_runs_one_process)
{
    /* Same pid, same second: distinct folders. */
    sp_spool_t *sp = open_spool();
    sp_spool_run_t *a = NULL, *b = NULL;
    ck_assert_int_eq(sp_spool_run_begin(sp, &a), 0);
    ck_assert_int_eq(sp_spool_run_begin(sp, &b), 0);
    ck_assert_str_ne(sp_spool_run_name(a), sp_spool_run_name(b));
    ck_assert_int_eq(count_in("", "run-"), 2);
    /* A live run is never adopted, even by its own process (flock is per open file). */
    ck_assert_int_eq(sp_spool_run_commit(a, "1-x.envelope", "x", 1), 0);
    ck_assert_int_eq(sp_spool_queue_adopt(sp), 0);
    ck_assert_int_eq(count_in("ready", ""), 0);
    ck_assert_int_eq(sp_spool_run_end(a), 0);
    ck_assert_int_eq(sp_spool_run_end(b), 0);
    ck_assert_int_eq(count_in("ready", ""), 1);
    sp_spool_close(sp);
}
END_TEST

/* ---- adoption ---- */

START_TEST(adopt_exited_and_killed)
{
    sp_spool_t *sp = open_spool();
    /* A process that exits without ending its run (as after SIGTERM in node: no destructor). */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sp_spool_run_t *run = NULL;
        if (sp_spool_run_begin(sp, &run) != 0) _exit(1);
        if (sp_spool_run_commit(run, "100-a.envelope", "aaa", 3) != 0) _exit(2);
        if (sp_spool_run_commit(run, "200-b.envelope", "bbb", 3) != 0) _exit(3);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* A process killed with SIGKILL mid-run. */
    int pfd[2];
    ck_assert_int_eq(pipe(pfd), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(pfd[0]);
        sp_spool_run_t *run = NULL;
        if (sp_spool_run_begin(sp, &run) != 0) _exit(1);
        if (sp_spool_run_commit(run, "300-c.envelope", "ccc", 3) != 0) _exit(2);
        if (write(pfd[1], "k", 1) != 1) _exit(3);
        for (;;) pause();
    }
    close(pfd[1]);
    char c;
    ck_assert_int_eq(read(pfd[0], &c, 1), 1);
    close(pfd[0]);
    /* While it lives, nothing is adopted. */
    ck_assert_int_eq(sp_spool_queue_adopt(sp), 2); /* only the exited one's files */
    ck_assert_int_eq(count_in("", "run-"), 1);
    kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(sp_spool_queue_adopt(sp), 1);
    ck_assert_int_eq(count_in("", "run-"), 0);
    ck_assert_int_eq(count_in("ready", ""), 3);
    expect_content("ready/100-a.envelope", "aaa");
    expect_content("ready/300-c.envelope", "ccc");
    ck_assert_int_eq(sp_spool_queue_adopt(sp), 0); /* nothing left */
    sp_spool_close(sp);
}
END_TEST

/* Reads a whole file under the spool dir into a malloc'd buffer. */
static char *slurp(const char *rel, size_t *len)
{
    char p[PATHBUF];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "rb");
    ck_assert_msg(f != NULL, "%s: %s", rel, strerror(errno));
    char *buf = malloc(1 << 16);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static size_t batch_records(const char *rel, bool *torn)
{
    size_t len;
    char *buf = slurp(rel, &len);
    sp_spool_run_reader_t r;
    ck_assert_int_eq(sp_spool_run_reader_init(&r, buf, len), 0);
    const char *e;
    size_t el, n = 0;
    while (sp_spool_run_reader_next(&r, &e, &el)) {
        char want[32];
        snprintf(want, sizeof want, "envelope %zu\n", n);
        ck_assert_uint_eq(el, strlen(want));
        ck_assert(memcmp(e, want, el) == 0);
        n++;
    }
    *torn = r.torn;
    free(buf);
    return n;
}

START_TEST(batch_append_seal)
{
    sp_spool_t *sp = open_spool();
    sp_spool_run_t *run = NULL;
    ck_assert_int_eq(sp_spool_run_begin(sp, &run), 0);
    char rel[PATHBUF], env[32];
    for (int i = 0; i < 3; i++) {
        snprintf(env, sizeof env, "envelope %d\n", i);
        ck_assert_int_eq(sp_spool_run_append(run, "10-t.envelopes", env, strlen(env)), 0);
    }
    /* Readable whole while open: what a kill -9 right now would leave. */
    snprintf(rel, sizeof rel, "%s/open-10-t.envelopes", sp_spool_run_name(run));
    bool torn;
    ck_assert_uint_eq(batch_records(rel, &torn), 3);
    ck_assert(!torn);
    ck_assert_int_eq(sp_spool_run_append(run, "10-t.envelope", "x", 1), -EINVAL); /* not a batch name */
    ck_assert_int_eq(sp_spool_run_seal(run, "10-t.envelopes"), 0);
    ck_assert_uint_eq(batch_records("ready/10-t.envelopes", &torn), 3);
    ck_assert(!torn);
    /* The next append opens a new batch; ending the run publishes it. */
    ck_assert_int_eq(sp_spool_run_append(run, "20-t.envelopes", "envelope 0\n", 11), 0);
    /* Another name closes it unpublished; it is never recreated over (that would drop its
     * record). */
    ck_assert_int_eq(sp_spool_run_append(run, "25-t.envelopes", "envelope 0\n", 11), 0);
    ck_assert_int_eq(sp_spool_run_append(run, "20-t.envelopes", "envelope 1\n", 11), -EEXIST);
    ck_assert_int_eq(sp_spool_run_end(run), 0);
    ck_assert_uint_eq(batch_records("ready/20-t.envelopes", &torn), 1);
    ck_assert_uint_eq(batch_records("ready/25-t.envelopes", &torn), 1);
    /* They are claimable like single envelopes. */
    sp_spool_queue_claim_t cl;
    ck_assert_int_eq(sp_spool_queue_claim(sp, NULL, &cl), 0);
    ck_assert_str_eq(cl.name, "10-t.envelopes");
    sp_spool_queue_claim_release(&cl);
    sp_spool_close(sp);
}
END_TEST

START_TEST(batch_killed_writer_adopted)
{
    /* A writer killed in the middle of a record: adopt publishes the batch, readers get the
     * complete records. */
    sp_spool_t *sp = open_spool();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sp_spool_run_t *run = NULL;
        if (sp_spool_run_begin(sp, &run) != 0) _exit(1);
        if (sp_spool_run_append(run, "30-t.envelopes", "envelope 0\n", 11) != 0) _exit(2);
        if (sp_spool_run_append(run, "30-t.envelopes", "envelope 1\n", 11) != 0) _exit(3);
        char p[PATHBUF]; /* half a record, as a write cut short by SIGKILL leaves it */
        snprintf(p, sizeof p, "%s/%s/open-30-t.envelopes", dir, sp_spool_run_name(run));
        int fd = open(p, O_WRONLY | O_APPEND);
        if (fd < 0 || write(fd, "11\nenvel", 8) != 8) _exit(4);
        raise(SIGKILL);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status));
    ck_assert_int_eq(sp_spool_queue_adopt(sp), 1);
    bool torn;
    ck_assert_uint_eq(batch_records("ready/30-t.envelopes", &torn), 2);
    ck_assert(torn);
    sp_spool_close(sp);
}
END_TEST

START_TEST(batch_ready_commit)
{
    sp_spool_t *sp = open_spool();
    ck_assert_int_eq(sp_spool_queue_commit(sp, "40-t~0000.envelope", "one", 3), 0);
    ck_assert_int_eq(sp_spool_queue_commit(sp, "40-t~0000.envelope", "two", 3), 0); /* rewritten */
    expect_content("ready/40-t~0000.envelope", "two");
    ck_assert_int_eq(sp_spool_queue_commit(sp, "../x.envelope", "x", 1), -EINVAL);
    sp_spool_close(sp);
}
END_TEST

/* The uploader's fast path for a split batch: files written without a sync each, made
 * durable together, then claimed by name (no walk of ready/) exactly once. */
START_TEST(ready_write_sync_claim_name)
{
    sp_spool_t *sp = open_spool();
    const char *names[] = {"41-t~0000.envelope", "41-t~0001.envelope"};
    ck_assert_int_eq(sp_spool_queue_write(sp, names[0], "one", 3), 0);
    ck_assert_int_eq(sp_spool_queue_write(sp, names[1], "two", 3), 0);
    sp_spool_queue_claim_t c;
    /* not claimable before they are durable and published */
    ck_assert_int_eq(sp_spool_queue_claim(sp, NULL, &c), -ENOENT);
    ck_assert_int_eq(sp_spool_queue_sync(sp, names, 2, true), 0);
    expect_content("ready/41-t~0001.envelope", "two");
    sp_spool_queue_claim_t a, b;
    ck_assert_int_eq(sp_spool_queue_claim_name(sp, names[1], &a), 0);
    ck_assert_str_eq(a.name, names[1]);
    expect_content("sending/41-t~0001.envelope", "two");
    ck_assert_int_eq(sp_spool_queue_claim_name(sp, names[1], &b), -ENOENT); /* claimed once */
    ck_assert_int_eq(sp_spool_queue_claim_done(&a), 0);
    ck_assert_int_eq(sp_spool_queue_claim_name(sp, "nope.envelope", &b), -ENOENT);
    ck_assert_int_eq(sp_spool_queue_claim_name(sp, "../x.envelope", &b), -EINVAL);
    ck_assert_int_eq(sp_spool_queue_write(sp, "../x.envelope", "x", 1), -EINVAL);
    /* a failed sync publishes nothing and leaves nothing behind; publish=false deletes */
    const char *bad[] = {"42-t~0000.envelope", "missing.envelope"};
    ck_assert_int_eq(sp_spool_queue_write(sp, bad[0], "x", 1), 0);
    ck_assert_int_lt(sp_spool_queue_sync(sp, bad, 2, true), 0);
    ck_assert_int_eq(sp_spool_queue_claim_name(sp, bad[0], &c), -ENOENT);
    ck_assert_int_eq(sp_spool_queue_write(sp, bad[0], "x", 1), 0);
    ck_assert_int_eq(sp_spool_queue_sync(sp, bad, 1, false), 0);
    ck_assert_int_eq(sp_spool_queue_claim_name(sp, bad[0], &c), -ENOENT);
    /* the other one is still claimable through the walk */
    ck_assert_int_eq(sp_spool_queue_claim(sp, NULL, &b), 0);
    ck_assert_str_eq(b.name, names[0]);
    sp_spool_queue_claim_done(&b);
    sp_spool_close(sp);
}
END_TEST

START_TEST(adopt_debris)
{
    sp_spool_t *sp = open_spool();
    char p[PATHBUF];
    /* A run folder whose lock file is missing (ended half-way), with a cut-short commit. */
    snprintf(p, sizeof p, "%s/run-1-1", dir);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/run-1-1/open-5-x.envelope", dir);
    int fd = open(p, O_WRONLY | O_CREAT, 0600);
    ck_assert_int_eq(write(fd, "xx", 2), 2);
    close(fd);
    snprintf(p, sizeof p, "%s/run-1-1/.tmp-1-0-open-5-x.envelope", dir);
    close(open(p, O_WRONLY | O_CREAT, 0600));
    /* Temp run folders: an old one (debris) and a fresh one (being set up right now). */
    snprintf(p, sizeof p, "%s/.tmp-run-1-0", dir);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    struct timespec old[2] = {{time(NULL) - 3600, 0}, {time(NULL) - 3600, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, p, old, 0), 0);
    snprintf(p, sizeof p, "%s/.tmp-run-1-1", dir);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    /* A file that is not a directory but looks like a run. */
    snprintf(p, sizeof p, "%s/run-junk", dir);
    close(open(p, O_WRONLY | O_CREAT, 0600));

    ck_assert_int_eq(sp_spool_queue_adopt(sp), 1);
    expect_content("ready/5-x.envelope", "xx");
    ck_assert(!exists("run-1-1"));
    ck_assert(!exists(".tmp-run-1-0"));
    ck_assert(exists(".tmp-run-1-1"));
    ck_assert(exists("run-junk"));
    sp_spool_close(sp);
}
END_TEST

START_TEST(fork_child_abandons_run)
{
    /* A fork()ed child that abandons its copy of the run leaves the parent's lock held. */
    sp_spool_t *sp = open_spool();
    sp_spool_run_t *run = NULL;
    ck_assert_int_eq(sp_spool_run_begin(sp, &run), 0);
    ck_assert_int_eq(sp_spool_run_commit(run, "1-a.envelope", "a", 1), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sp_spool_run_abandon(run);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    ck_assert_int_eq(sp_spool_queue_adopt(sp), 0);
    ck_assert_int_eq(count_in("", "run-"), 1);
    ck_assert_int_eq(sp_spool_run_end(run), 0);
    ck_assert_int_eq(count_in("ready", ""), 1);
    sp_spool_close(sp);
}
END_TEST

/* ---- claims ---- */

START_TEST(claim_order_release_done)
{
    sp_spool_t *sp = open_spool();
    sp_spool_queue_claim_t cl;
    ck_assert_int_eq(sp_spool_queue_claim(sp, NULL, &cl), -ENOENT);
    put_ready("200-b.envelope", "bbb");
    put_ready("100-a.envelope", "aaa");
    put_ready("150-c.envelope", "ccc");
    put_ready(".tmp-hidden", "h");
    put_ready("000-notes.txt", "not ours"); /* not an envelope: never claimed */

    ck_assert_int_eq(sp_spool_queue_claim(sp, NULL, &cl), 0);
    ck_assert_str_eq(cl.name, "100-a.envelope");
    ck_assert_int_eq(cl.size, 3);
    ck_assert(exists("sending/100-a.envelope"));
    ck_assert(!exists("ready/100-a.envelope"));
    char *data;
    size_t len;
    ck_assert_int_eq(sp_spool_queue_claim_read(&cl, 1024, &data, &len), 0);
    ck_assert_uint_eq(len, 3);
    ck_assert_str_eq(data, "aaa");
    sp_mem_free(data);
    ck_assert_int_eq(sp_spool_queue_claim_read(&cl, 2, &data, &len), -EFBIG);
    /* Release: back to ready/ under its name; the cursor skips it in this walk. */
    ck_assert_int_eq(sp_spool_queue_claim_release(&cl), 0);
    ck_assert_int_eq(cl.fd, -1);
    ck_assert(exists("ready/100-a.envelope"));
    ck_assert_int_eq(sp_spool_queue_claim(sp, "100-a.envelope", &cl), 0);
    ck_assert_str_eq(cl.name, "150-c.envelope");
    /* While claimed, another claimer (even this process) gets the next one. */
    sp_spool_queue_claim_t cl2;
    ck_assert_int_eq(sp_spool_queue_claim(sp, "100-a.envelope", &cl2), 0);
    ck_assert_str_eq(cl2.name, "200-b.envelope");
    ck_assert_int_eq(sp_spool_queue_claim_done(&cl2), 0);
    ck_assert(!exists("sending/200-b.envelope"));
    /* Adopt leaves a held claim alone. */
    ck_assert_int_eq(sp_spool_queue_adopt(sp), 0);
    ck_assert(exists("sending/150-c.envelope"));
    ck_assert_int_eq(sp_spool_queue_claim_done(&cl), 0);
    ck_assert_int_eq(sp_spool_queue_claim(sp, "150-c.envelope", &cl), -ENOENT);
    ck_assert_int_eq(sp_spool_queue_claim(sp, NULL, &cl), 0);
    ck_assert_str_eq(cl.name, "100-a.envelope");
    ck_assert_int_eq(sp_spool_queue_claim_done(&cl), 0);
    ck_assert_int_eq(sp_spool_queue_claim(sp, NULL, &cl), -ENOENT);
    ck_assert_int_eq(sp_spool_queue_claim_done(&cl), -EINVAL); /* no claim held */
    ck_assert_int_eq(count_in("ready", ""), 1);
    ck_assert(exists("ready/000-notes.txt"));
    ck_assert_int_eq(count_in("sending", ""), 0);
    sp_spool_close(sp);
}
END_TEST

START_TEST(claim_skips_locked)
{
    sp_spool_t *sp = open_spool();
    put_ready("100-a.envelope", "a");
    put_ready("200-b.envelope", "b");
    char p[PATHBUF];
    snprintf(p, sizeof p, "%s/ready/100-a.envelope", dir);
    int fd = open(p, O_RDONLY);
    ck_assert_int_eq(flock(fd, LOCK_EX), 0); /* someone in the middle of claiming it */
    sp_spool_queue_claim_t cl;
    ck_assert_int_eq(sp_spool_queue_claim(sp, NULL, &cl), 0);
    ck_assert_str_eq(cl.name, "200-b.envelope");
    ck_assert_int_eq(sp_spool_queue_claim_release(&cl), 0);
    close(fd);
    ck_assert_int_eq(sp_spool_queue_claim(sp, NULL, &cl), 0);
    ck_assert_str_eq(cl.name, "100-a.envelope");
    ck_assert_int_eq(sp_spool_queue_claim_release(&cl), 0);
    sp_spool_close(sp);
}
END_TEST

START_TEST(adopt_dead_claimer)
{
    sp_spool_t *sp = open_spool();
    put_ready("100-a.envelope", "a");
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) { /* claims and dies before done or release */
        sp_spool_queue_claim_t cl;
        _exit(sp_spool_queue_claim(sp, NULL, &cl) == 0 ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert(exists("sending/100-a.envelope"));
    sp_spool_queue_claim_t cl;
    ck_assert_int_eq(sp_spool_queue_claim(sp, NULL, &cl), -ENOENT);
    ck_assert_int_eq(sp_spool_queue_adopt(sp), 1);
    ck_assert(exists("ready/100-a.envelope"));
    ck_assert_int_eq(sp_spool_queue_claim(sp, NULL, &cl), 0);
    ck_assert_int_eq(sp_spool_queue_claim_done(&cl), 0);
    sp_spool_close(sp);
}
END_TEST

/* The proof: RACE_CLAIMERS processes claim from one spool of RACE_FILES files while
 * RACE_ADOPTERS processes run sp_spool_queue_adopt in a loop (which must never take a held claim
 * back). A claimer releases every third file it claims (so files
 * change hands), marks "I hold it" with an O_EXCL file while holding the claim (two holders
 * at once would collide), and logs each file it finishes. Every file must be finished
 * exactly once, across all claimers. */
static void race_claimer(sp_spool_t *sp, const char *holding, int logfd)
{
    int claimed = 0, idle = 0;
    while (idle < 50) {
        sp_spool_queue_claim_t cl;
        int rc = sp_spool_queue_claim(sp, NULL, &cl);
        if (rc == -ENOENT) {
            /* Empty for now: files may still be on their way back (released, adopted). */
            idle++;
            usleep(2000);
            continue;
        }
        if (rc < 0) _exit(10);
        idle = 0;
        char mark[PATHBUF + SP_SPOOL_NAME_MAX];
        snprintf(mark, sizeof mark, "%s/%s", holding, cl.name);
        int m = open(mark, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (m < 0) _exit(11); /* someone else holds the same file right now */
        close(m);
        char *data;
        size_t len;
        if (sp_spool_queue_claim_read(&cl, 1024, &data, &len) != 0 || strcmp(data, cl.name) != 0)
            _exit(12); /* the content is the name: we read the file we hold */
        sp_mem_free(data);
        bool release = ++claimed % 3 == 0;
        unlink(mark);
        if (release) {
            char line[SP_SPOOL_NAME_MAX + 8];
            int n = snprintf(line, sizeof line, "R %s\n", cl.name);
            if (write(logfd, line, (size_t)n) != n) _exit(13);
            if (sp_spool_queue_claim_release(&cl) != 0) _exit(14);
        } else {
            char line[SP_SPOOL_NAME_MAX + 8];
            int n = snprintf(line, sizeof line, "D %s\n", cl.name);
            if (write(logfd, line, (size_t)n) != n) _exit(15);
            if (sp_spool_queue_claim_done(&cl) != 0) _exit(16);
        }
    }
    _exit(0);
}

START_TEST(concurrent_claims_exactly_once)
{
    sp_spool_t *sp = open_spool();
    char name[64];
    for (int i = 0; i < RACE_FILES; i++) {
        snprintf(name, sizeof name, "%010d-%04d.envelope", 1700000000 + i / 7, i);
        put_ready(name, name);
    }
    char holding[PATHBUF], logpath[PATHBUF];
    snprintf(holding, sizeof holding, "%s/holding", base);
    ck_assert_int_eq(mkdir(holding, 0700), 0);
    snprintf(logpath, sizeof logpath, "%s/log", base);
    /* O_APPEND: each line is one write, so lines from several processes never interleave. */
    int logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
    ck_assert_int_ge(logfd, 0);

    pid_t adopters[RACE_ADOPTERS], claimers[RACE_CLAIMERS];
    int stop[2];
    ck_assert_int_eq(pipe(stop), 0);
    for (int a = 0; a < RACE_ADOPTERS; a++) {
        adopters[a] = fork();
        ck_assert_int_ge(adopters[a], 0);
        if (adopters[a] == 0) {
            close(stop[1]);
            fcntl(stop[0], F_SETFL, O_NONBLOCK);
            char c;
            while (read(stop[0], &c, 1) < 0 && errno == EAGAIN) {
                if (sp_spool_queue_adopt(sp) < 0) _exit(20);
            }
            _exit(0);
        }
    }
    for (int c = 0; c < RACE_CLAIMERS; c++) {
        claimers[c] = fork();
        ck_assert_int_ge(claimers[c], 0);
        if (claimers[c] == 0) {
            close(stop[1]);
            race_claimer(sp, holding, logfd);
        }
    }
    close(stop[0]);
    for (int c = 0; c < RACE_CLAIMERS; c++) {
        int status;
        ck_assert_int_eq(waitpid(claimers[c], &status, 0), claimers[c]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "claimer %d: status %d", c, status);
    }
    close(stop[1]); /* adopters see EOF */
    for (int a = 0; a < RACE_ADOPTERS; a++) {
        int status;
        ck_assert_int_eq(waitpid(adopters[a], &status, 0), adopters[a]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "adopter %d", a);
    }
    close(logfd);

    /* Tally: each file done exactly once; nothing left anywhere. */
    int *done = calloc(RACE_FILES, sizeof *done);
    int releases = 0, total = 0;
    FILE *f = fopen(logpath, "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    while (fgets(line, sizeof line, f)) {
        char kind;
        int ts, idx;
        ck_assert_int_eq(sscanf(line, "%c %d-%d.envelope", &kind, &ts, &idx), 3);
        ck_assert(idx >= 0 && idx < RACE_FILES);
        if (kind == 'D') {
            done[idx]++;
            total++;
        } else {
            releases++;
        }
    }
    fclose(f);
    for (int i = 0; i < RACE_FILES; i++) ck_assert_msg(done[i] == 1, "file %d done %d times", i, done[i]);
    ck_assert_int_eq(total, RACE_FILES);
    ck_assert_int_gt(releases, 0);
    ck_assert_int_eq(count_in("ready", ""), 0);
    ck_assert_int_eq(count_in("sending", ""), 0);
    ck_assert_int_eq(count_in("../holding", ""), 0);
    free(done);
    sp_spool_close(sp);
}
END_TEST

/* ---- size cap ---- */

typedef struct {
    char names[16][64];
    int n;
} evicted_t;

typedef struct {
    char names[8][64], whats[8][64];
    int n;
} aside_t;

static void on_aside(const char *name, const char *what, void *ctx)
{
    aside_t *a = ctx;
    if (a->n < 8) {
        snprintf(a->names[a->n], sizeof a->names[0], "%s", name);
        snprintf(a->whats[a->n++], sizeof a->whats[0], "%s", what);
    }
}

static void on_evict(const char *name, int fd, bool unsendable, void *ctx)
{
    evicted_t *e = ctx;
    (void)unsendable;
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0); /* we hold its lock already */
    if (e->n < 16) snprintf(e->names[e->n++], sizeof e->names[0], "%s", name);
}

START_TEST(cap_evicts_oldest)
{
    sp_spool_t *sp = open_spool();
    char hundred[101];
    memset(hundred, 'x', 100);
    hundred[100] = '\0';
    put_ready("100-a.envelope", hundred);
    put_ready("200-b.envelope", hundred);
    put_ready("300-c.envelope", hundred);
    put_ready("400-d.envelope", hundred);
    /* A live run's open chunk (100 bytes) counts, but is never evicted. */
    sp_spool_run_t *run = NULL;
    ck_assert_int_eq(sp_spool_run_begin(sp, &run), 0);
    ck_assert_int_eq(sp_spool_run_commit(run, "500-e.envelope", hundred, 100), 0);

    unsigned long files;
    unsigned long long bytes;
    ck_assert_int_eq(sp_spool_queue_stats(sp, &files, &bytes), 0);
    ck_assert_uint_eq(files, 4);
    ck_assert_uint_eq(bytes, 400);

    evicted_t e = {0};
    ck_assert_int_eq(sp_spool_queue_enforce_cap(sp, 1000, on_evict, &e), 0); /* under: nothing */
    ck_assert_int_eq(e.n, 0);
    ck_assert_int_eq(sp_spool_queue_enforce_cap(sp, 300, on_evict, &e), 2);
    ck_assert_int_eq(e.n, 2);
    ck_assert_str_eq(e.names[0], "100-a.envelope");
    ck_assert_str_eq(e.names[1], "200-b.envelope");
    ck_assert(exists("ready/300-c.envelope"));

    /* A claimed file still counts (sending/), and is not evicted. */
    sp_spool_queue_claim_t cl;
    ck_assert_int_eq(sp_spool_queue_claim(sp, NULL, &cl), 0);
    ck_assert_str_eq(cl.name, "300-c.envelope");
    e.n = 0;
    ck_assert_int_eq(sp_spool_queue_enforce_cap(sp, 250, on_evict, &e), 1);
    ck_assert_str_eq(e.names[0], "400-d.envelope");
    /* Only unevictable bytes left: stops with ready/ empty. */
    ck_assert_int_eq(sp_spool_queue_enforce_cap(sp, 1, NULL, NULL), 0);
    ck_assert_int_eq(sp_spool_queue_claim_release(&cl), 0);
    put_ready("000-notes.txt", "x"); /* not an envelope: not counted, never evicted */
    ck_assert_int_eq(sp_spool_queue_enforce_cap(sp, 1, NULL, NULL), 1);
    ck_assert(exists("ready/000-notes.txt"));
    char np[PATHBUF];
    snprintf(np, sizeof np, "%s/ready/000-notes.txt", dir);
    unlink(np);
    ck_assert_int_eq(count_in("ready", ""), 0);
    ck_assert_int_eq(sp_spool_run_end(run), 0);
    ck_assert_int_eq(count_in("ready", ""), 1);
    sp_spool_close(sp);
}
END_TEST

/* ---- state.json ---- */

static int set_marker(json_t *st, void *ctx)
{
    return json_object_set_new(st, "marker", json_string(ctx)) < 0 ? -ENOMEM : 1;
}

static int no_change(json_t *st, void *ctx)
{
    json_object_set_new(st, "ignored", json_true()); /* not written: returns 0 */
    return 0;
}

static int fail_update(json_t *st, void *ctx)
{
    json_object_set_new(st, "ignored", json_true());
    return -EIO;
}

START_TEST(state_update_read)
{
    sp_spool_t *sp = open_spool();
    json_t *st = NULL;
    ck_assert_int_eq(sp_spool_state_read(sp, &st), 0); /* missing: fresh */
    ck_assert_int_eq(json_integer_value(json_object_get(st, "version")), SP_SPOOL_STATE_VERSION);
    json_decref(st);
    ck_assert_int_eq(sp_spool_state_update(sp, set_marker, "m1"), 0);
    ck_assert_int_eq(sp_spool_state_update(sp, no_change, NULL), 0);
    ck_assert_int_eq(sp_spool_state_update(sp, fail_update, NULL), -EIO);
    ck_assert_int_eq(sp_spool_state_read(sp, &st), 0);
    ck_assert_str_eq(json_string_value(json_object_get(st, "marker")), "m1");
    ck_assert_ptr_null(json_object_get(st, "ignored"));
    json_decref(st);
    char p[PATHBUF];
    snprintf(p, sizeof p, "%s/state.json", dir);
    struct stat sb;
    ck_assert_int_eq(stat(p, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 07777, 0600);
    ck_assert_int_eq(count_in("", ".tmp-"), 0);

    /* Corrupt, other version, not an object: read as fresh, then overwritten. */
    static const char *const bad[] = {"{not json", "{\"version\":2,\"marker\":\"x\"}", "[1,2]", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int fd = open(p, O_WRONLY | O_TRUNC);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
        close(fd);
        ck_assert_int_eq(sp_spool_state_read(sp, &st), 0);
        ck_assert_ptr_null(json_object_get(st, "marker"));
        json_decref(st);
        ck_assert_int_eq(sp_spool_state_update(sp, set_marker, "m2"), 0);
        ck_assert_int_eq(sp_spool_state_read(sp, &st), 0);
        ck_assert_str_eq(json_string_value(json_object_get(st, "marker")), "m2");
        json_decref(st);
    }
    sp_spool_close(sp);
}
END_TEST

START_TEST(state_lock_timeout)
{
    sp_spool_t *sp = open_spool();
    char p[PATHBUF];
    snprintf(p, sizeof p, "%s/state.json.lock", dir);
    int fd = open(p, O_RDWR | O_CREAT, 0600);
    ck_assert_int_eq(flock(fd, LOCK_EX), 0); /* a stuck holder */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(sp_spool_state_update(sp, set_marker, "x"), -EWOULDBLOCK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    /* It waited (about SP_SPOOL_STATE_LOCK_WAIT_MS of polling) and then gave up: returning
     * is the bound. No upper limit on the wall time: a loaded machine stretches the polls'
     * sleeps (5.23 s seen beside other work), which is not what this test is about. */
    ck_assert_msg(took >= 1.5, "expected a wait of about 2 s before giving up, saw %.2f s", took);
    close(fd);
    ck_assert_int_eq(sp_spool_state_update(sp, set_marker, "x"), 0);
    sp_spool_close(sp);
}
END_TEST

START_TEST(discards)
{
    sp_spool_t *sp = open_spool();
    json_t *taken = NULL;
    ck_assert_int_eq(sp_spool_state_take_discards(sp, &taken), 0);
    ck_assert_ptr_null(taken);
    ck_assert_int_eq(sp_spool_state_add_discard(sp, "cache_overflow", "profile_chunk", 2), 0);
    ck_assert_int_eq(sp_spool_state_add_discard(sp, "cache_overflow", "profile_chunk", 3), 0);
    ck_assert_int_eq(sp_spool_state_add_discard(sp, "send_error", "profile_chunk", 1), 0);
    ck_assert_int_eq(sp_spool_state_add_discard(sp, "send_error", "profile_chunk", 0), 0);
    ck_assert_int_eq(sp_spool_state_add_discard(sp, "", "profile_chunk", 1), -EINVAL);
    ck_assert_int_eq(sp_spool_state_add_discard(sp, "x", "profile_chunk", -1), -EINVAL);
    ck_assert_int_eq(sp_spool_state_take_discards(sp, &taken), 0);
    ck_assert_uint_eq(json_array_size(taken), 2);
    json_t *d0 = json_array_get(taken, 0);
    ck_assert_str_eq(json_string_value(json_object_get(d0, "reason")), "cache_overflow");
    ck_assert_int_eq(json_integer_value(json_object_get(d0, "quantity")), 5);
    json_decref(taken);
    /* Taken means gone. */
    ck_assert_int_eq(sp_spool_state_take_discards(sp, &taken), 0);
    ck_assert_ptr_null(taken);

    /* Bounded distinct pairs; saturating counts. */
    json_t *st = json_object();
    char cat[32];
    for (int i = 0; i < 100; i++) {
        snprintf(cat, sizeof cat, "c%d", i);
        sp_spool_state_discard_add(st, "r", cat, 1);
    }
    ck_assert_uint_le(json_array_size(json_object_get(st, "discards")), 64);
    ck_assert_int_eq(sp_spool_state_discard_add(st, "r", "c0", INT64_MAX), 1);
    ck_assert_int_eq(sp_spool_state_discard_add(st, "r", "c0", 5), 1);
    json_t *first = json_array_get(json_object_get(st, "discards"), 0);
    ck_assert(json_integer_value(json_object_get(first, "quantity")) == INT64_MAX);
    json_decref(st);
    sp_spool_close(sp);
}
END_TEST

START_TEST(state_concurrent_writers)
{
    /* STATE_WRITERS processes each add STATE_ADDS discards one at a time: the total is exact
     * only if every read-modify-write is under the lock. */
    sp_spool_t *sp = open_spool();
    pid_t pids[STATE_WRITERS];
    for (int w = 0; w < STATE_WRITERS; w++) {
        pids[w] = fork();
        ck_assert_int_ge(pids[w], 0);
        if (pids[w] == 0) {
            /* A writer that waited its 2 s for the lock (SP_SPOOL_STATE_LOCK_WAIT_MS) gets
             * -EWOULDBLOCK and tries again: with 240 fsync'd updates on a loaded machine the
             * polled lock is not fair. What this test checks is that none is lost. */
            for (int i = 0; i < STATE_ADDS; i++) {
                int rc;
                while ((rc = sp_spool_state_add_discard(sp, "send_error", "profile_chunk", 1)) == -EWOULDBLOCK) {}
                if (rc != 0) _exit(rc < 0 && -rc < 256 ? -rc : 255);
            }
            _exit(0);
        }
    }
    for (int w = 0; w < STATE_WRITERS; w++) {
        int status;
        waitpid(pids[w], &status, 0);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                      "writer %d: expected exit 0, saw %s %d (an exit code is the errno of a failed update)", w,
                      WIFEXITED(status) ? "exit" : "signal", WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
    json_t *taken = NULL;
    ck_assert_int_eq(sp_spool_state_take_discards(sp, &taken), 0);
    ck_assert_uint_eq(json_array_size(taken), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(taken, 0), "quantity")),
                     STATE_WRITERS * STATE_ADDS);
    json_decref(taken);
    sp_spool_close(sp);
}
END_TEST

/* Creates <dir>/ready/<name> as a sparse file of size bytes (no disk used). */
static void put_sparse(const char *name, off_t size)
{
    char p[PATHBUF];
    snprintf(p, sizeof p, "%s/ready", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/ready/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, size), 0);
    close(fd);
}

/* Issue #20 item 7: one file that can never be sent (1 GB) must not make the cap evict
 * every valid envelope before itself; a stray non-envelope file is not counted at all. */
START_TEST(cap_evicts_unsendable_first)
{
    sp_spool_t *sp = open_spool();
    char hundred[101];
    memset(hundred, 'x', 100);
    hundred[100] = '\0';
    put_ready("100-a.envelope", hundred);
    put_ready("200-b.envelope", hundred);
    put_ready("300-c.envelope", hundred);
    put_sparse("900-huge.envelope", (off_t)1 << 30); /* newest: last by name */
    int n = sp_spool_queue_enforce_cap(sp, 1000, NULL, NULL);
    bool a = exists("ready/100-a.envelope"), b = exists("ready/200-b.envelope"),
         c = exists("ready/300-c.envelope"), huge = exists("ready/900-huge.envelope");
    ck_assert_msg(n == 1 && a && b && c && !huge,
                  "cap 1000 with three 100-byte envelopes and a 1 GB one: expected only the "
                  "1 GB file evicted; saw %d evicted, left: a=%d b=%d c=%d huge=%d",
                  n, a, b, c, huge);
    /* A 1 GB stray file (not an envelope name) neither counts nor makes anything go. */
    put_sparse("950-core-dump.txt", (off_t)1 << 30);
    n = sp_spool_queue_enforce_cap(sp, 1000, NULL, NULL);
    ck_assert_msg(n == 0 && exists("ready/100-a.envelope"),
                  "cap 1000 with a 1 GB stray file: expected nothing evicted, saw %d", n);
    sp_spool_close(sp);
}
END_TEST

/* Issue #20 item 8: stray entries in ready/ (a text file, a directory, a FIFO, a symlink)
 * are not counted as waiting (an upload waited for them until its timeout, the profiled
 * process's uploader retried every 5 s forever), never opened (a FIFO blocks), never
 * claimed, and moved aside to stray/ once, each told to the callback. */
START_TEST(stray_entries_set_aside)
{
    sp_spool_t *sp = open_spool();
    put_ready("100-a.envelope", "x");
    put_ready("050-notes.txt", "hello");
    char p[PATHBUF];
    snprintf(p, sizeof p, "%s/ready/200-fifo.envelope", dir);
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    snprintf(p, sizeof p, "%s/ready/300-dir.envelope", dir);
    ck_assert_int_eq(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/ready/400-link.envelope", dir);
    ck_assert_int_eq(symlink("100-a.envelope", p), 0);

    unsigned long files = 99;
    unsigned long long bytes = 99;
    ck_assert_int_eq(sp_spool_queue_stats(sp, &files, &bytes), 0);
    ck_assert_msg(files == 1 && bytes == 1,
                  "ready/ with one 1-byte envelope and 4 stray entries: expected 1 file of 1 "
                  "byte waiting, saw %lu files, %llu bytes", files, bytes);

    /* Claims take the envelope and nothing else (and never block on the FIFO). */
    sp_spool_queue_claim_t cl;
    ck_assert_int_eq(sp_spool_queue_claim(sp, NULL, &cl), 0);
    ck_assert_str_eq(cl.name, "100-a.envelope");
    ck_assert_int_eq(sp_spool_queue_claim(sp, cl.name, &(sp_spool_queue_claim_t){0}), -ENOENT);
    ck_assert_int_eq(sp_spool_queue_claim_release(&cl), 0);

    aside_t as = {0};
    ck_assert_int_eq(sp_spool_queue_set_aside(sp, on_aside, &as), 4);
    ck_assert_int_eq(as.n, 4);
    ck_assert_str_eq(as.names[0], "050-notes.txt");
    ck_assert_str_eq(as.whats[1], "a FIFO");
    ck_assert_str_eq(as.whats[2], "a directory");
    ck_assert_str_eq(as.whats[3], "a symlink");
    ck_assert(exists("stray/200-fifo.envelope") && exists("stray/300-dir.envelope"));
    ck_assert_int_eq(count_in("ready", ""), 1);
    ck_assert(exists("ready/100-a.envelope"));
    /* Told once: the next upkeep finds nothing; the same name again stays where it is. */
    ck_assert_int_eq(sp_spool_queue_set_aside(sp, on_aside, &as), 0);
    put_ready("050-notes.txt", "again");
    ck_assert_int_eq(sp_spool_queue_set_aside(sp, on_aside, &as), 0);
    expect_content("stray/050-notes.txt", "hello");
    sp_spool_close(sp);
}
END_TEST

SP_UNIT_SUITE(spoolq)
{
    json_set_alloc_funcs(sp_mem_alloc, sp_mem_free); /* as the engine does */
    Suite *s = suite_create("spoolq");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, run_lifecycle);
    tcase_add_test(tc, two_runs_one_process);
    tcase_add_test(tc, adopt_exited_and_killed);
    tcase_add_test(tc, adopt_debris);
    tcase_add_test(tc, batch_append_seal);
    tcase_add_test(tc, batch_killed_writer_adopted);
    tcase_add_test(tc, batch_ready_commit);
    tcase_add_test(tc, fork_child_abandons_run);
    tcase_add_test(tc, claim_order_release_done);
    tcase_add_test(tc, claim_skips_locked);
    tcase_add_test(tc, adopt_dead_claimer);
    tcase_add_test(tc, concurrent_claims_exactly_once);
    tcase_add_test(tc, cap_evicts_oldest);
    tcase_add_test(tc, cap_evicts_unsendable_first);
    tcase_add_test(tc, stray_entries_set_aside);
    tcase_add_test(tc, state_update_read);
    tcase_add_test(tc, ready_write_sync_claim_name);
    tcase_add_test(tc, state_lock_timeout);
    tcase_add_test(tc, discards);
    tcase_add_test(tc, state_concurrent_writers);
    suite_add_tcase(s, tc);
    return s;
}
