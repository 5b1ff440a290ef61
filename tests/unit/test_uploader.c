/* Check tests for src/uploader.c, run under ThreadSanitizer too (make check-tsan): the
 * delivery thread spawns the upload child (here a shell script standing in for
 * `sentryprof upload`, which logs its arguments and exits with a chosen code) while other
 * threads notify it and an app's SDK hands over its DSN; a failure's status line is warned
 * once per process, an exit code 3 (bad DSN) stops further spawns, and shutdown runs one
 * last bounded pass. */
#include "unit.h"
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "uploader.h"

#define NOTIFIERS 4
#define NOTIFIES 200

static char dir[1024], log_path[1024 + 16], err_path[1024 + 16];
static int real_stderr = -1;

/* A fake CLI: appends its arguments to log, writes one status line on fd 3, exits `code`. */
static void init_with_cli(int code)
{
    snprintf(dir, sizeof dir, "%s", sp_unit_tmpdir());
    snprintf(log_path, sizeof log_path, "%s/log", dir);
    snprintf(err_path, sizeof err_path, "%s/stderr", dir);
    char cli[1024 + 16];
    snprintf(cli, sizeof cli, "%s/cli", dir);
    FILE *f = fopen(cli, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "#!/bin/sh\n"
            "echo \"$*\" >> '%s'\n"
            "printf 'auth\\tprofile upload refused: the key was refused (HTTP 401)\\n' >&3\n"
            "exit %d\n",
            log_path, code);
    fclose(f);
    ck_assert_int_eq(chmod(cli, 0700), 0);
    /* our warnings go to a file the test reads */
    int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    real_stderr = dup(STDERR_FILENO);
    ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    close(fd);

    static sp_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.has_dsn = cfg.dsn_valid = true;
    snprintf(cfg.dsn, sizeof cfg.dsn, "http://key@127.0.0.1:9/1");
    snprintf(cfg.cli, sizeof cfg.cli, "%s", cli);
    snprintf(cfg.spool_dir, sizeof cfg.spool_dir, "%s/spool", dir);
    cfg.shutdown_ms = 5000;
    sp_uploader_init(&cfg, "/nonexistent/libsentryprof.so");
}

/* What went to stderr during the test goes to the real one too (a sanitizer's report). */
static void finish(void)
{
    char *text = sp_unit_read_file(err_path, NULL);
    if (text && real_stderr >= 0 && write(real_stderr, text, strlen(text)) < 0) {}
    free(text);
    if (real_stderr >= 0) dup2(real_stderr, STDERR_FILENO);
}

static int count_lines(const char *path, const char *needle)
{
    char *text = sp_unit_read_file(path, NULL);
    if (!text) return 0;
    int n = 0;
    for (char *p = text; (p = strstr(p, needle)); p += strlen(needle)) n++;
    free(text);
    return n;
}

/* Waits (20 s at most: a loaded machine) until log has `want` runs. */
static int wait_runs(int want)
{
    int n = 0;
    for (int i = 0; i < 2000 && (n = count_lines(log_path, "upload --once")) < want; i++) usleep(10000);
    return n;
}

static void *notifier(void *arg)
{
    (void)arg;
    for (int i = 0; i < NOTIFIES; i++) {
        sp_uploader_notify();
        if (i % 50 == 0) usleep(1000);
    }
    return NULL;
}

static void *sdk(void *arg)
{
    (void)arg;
    sp_uploader_set_dsn("not a dsn"); /* warned once, ignored */
    sp_uploader_set_dsn("http://other@127.0.0.1:9/2");
    sp_uploader_set_dsn("http://other@127.0.0.1:9/2"); /* the same again: nothing changes */
    return NULL;
}

static void storm(void)
{
    pthread_t t[NOTIFIERS], s;
    ck_assert_int_eq(pthread_create(&s, NULL, sdk, NULL), 0);
    for (int i = 0; i < NOTIFIERS; i++) ck_assert_int_eq(pthread_create(&t[i], NULL, notifier, NULL), 0);
    for (int i = 0; i < NOTIFIERS; i++) pthread_join(t[i], NULL);
    pthread_join(s, NULL);
}

START_TEST(test_notify_storm_spawns_and_shuts_down)
{
    init_with_cli(0);
    storm();
    int runs = wait_runs(1);
    ck_assert_msg(runs >= 1, "expected the upload child to run after %d notifications, saw %d runs",
                  NOTIFIERS * NOTIFIES, runs);
    sp_uploader_shutdown(5000);
    finish();
    int after = count_lines(log_path, "upload --once");
    ck_assert_msg(after > runs, "expected shutdown's last pass (runs before %d), saw %d", runs, after);
    /* every run names the spool and the status fd; the SDK's DSN reached the children */
    ck_assert_int_eq(count_lines(log_path, "--status-fd 3"), after);
    ck_assert_int_eq(count_lines(log_path, "--spool "), after);
    ck_assert_msg(count_lines(log_path, "--dsn http://other@127.0.0.1:9/2") >= 1,
                  "expected a run with the SDK's DSN, saw none");
    ck_assert_msg(count_lines(log_path, "not a dsn") == 0, "the invalid DSN reached a child");
    /* one line for the failure cause however many children said it; one for the bad DSN */
    int auth = count_lines(err_path, "key was refused");
    ck_assert_msg(auth == 1, "expected the 401 warned once over %d runs, saw %d lines", after, auth);
    ck_assert_int_eq(count_lines(err_path, "\"not a dsn\" is not a valid DSN"), 1);
    sp_unit_rmtree(dir);
}
END_TEST

START_TEST(test_bad_dsn_exit_stops_spawning)
{
    init_with_cli(SP_UPLOAD_EXIT_BAD_DSN);
    sp_uploader_notify();
    ck_assert_int_eq(wait_runs(1), 1);
    usleep(200000); /* the thread acts on the exit code */
    storm();        /* racing the thread's reaction; the SDK's DSN re-enables once */
    usleep(300000);
    sp_uploader_shutdown(5000);
    finish();
    int runs = count_lines(log_path, "upload --once");
    /* the first run, at most one for the SDK's new DSN, and shutdown's: never one per notify */
    ck_assert_msg(runs >= 1 && runs <= 4, "expected 1-4 runs after exit 3, saw %d", runs);
    ck_assert_msg(count_lines(err_path, "not a valid DSN") >= 1, "expected the bad-DSN warning");
    sp_unit_rmtree(dir);
}
END_TEST

/* Exit 3 ends the delivery thread; a valid DSN the app's SDK hands over afterwards must
 * start a new one at once, not wait for the process's exit. */
START_TEST(test_sdk_dsn_after_bad_dsn_exit_restarts)
{
    init_with_cli(SP_UPLOAD_EXIT_BAD_DSN);
    sp_uploader_notify();
    ck_assert_int_eq(wait_runs(1), 1);
    int warned = 0; /* the thread has acted on exit 3 (and left) once the warning is out */
    for (int i = 0; i < 2000 && !(warned = count_lines(err_path, "not a valid DSN")); i++) usleep(10000);
    ck_assert_msg(warned == 1, "expected the bad-DSN warning after exit 3, saw %d lines", warned);
    usleep(100000);
    sp_uploader_set_dsn("http://fixed@127.0.0.1:9/3");
    int n = 0;
    for (int i = 0; i < 2000 && (n = count_lines(log_path, "--dsn http://fixed@127.0.0.1:9/3")) < 1; i++)
        usleep(10000);
    ck_assert_msg(n >= 1, "expected a run with the SDK's new DSN before shutdown, saw %d", n);
    sp_uploader_shutdown(5000);
    finish();
    sp_unit_rmtree(dir);
}
END_TEST

SP_UNIT_SUITE(uploader)
{
    Suite *s = suite_create("uploader");
    TCase *tc = tcase_create("thread");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_notify_storm_spawns_and_shuts_down);
    tcase_add_test(tc, test_bad_dsn_exit_stops_spawning);
    tcase_add_test(tc, test_sdk_dsn_after_bad_dsn_exit_restarts);
    suite_add_tcase(s, tc);
    return s;
}
