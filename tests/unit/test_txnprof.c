/* Check tests for src/txnprof.c: an envelope that cannot be built (here: a release that is
 * not UTF-8, which jansson refuses, as every envelope did before config repaired it; issue
 * #20 item 4) is never lost silently: counted each time, said once. A good one is spooled. */
#include "unit.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "outbox.h"
#include "stats.h"
#include "txnprof.h"

START_TEST(test_unbuildable_counted_and_said_once)
{
    static sp_config_t cfg;
    const char *dir = sp_unit_tmpdir();
    snprintf(cfg.spool_dir, sizeof cfg.spool_dir, "%s", dir);
    cfg.spool_max_bytes = 1 << 20;
    sp_outbox_init(&cfg, getpid());
    sp_txn_t t = {.start_ns = 1, .end_ns = 2, .start_real_ns = 1700000000000000000ull, .tid = 1, .sampled = true};
    strcpy(t.thread_id, "0");
    strcpy(t.name, "GET /");
    strcpy(t.op, "http.server");
    strcpy(t.event_id, "0123456789abcdef0123456789abcdef");
    strcpy(t.trace_id, "0123456789abcdef0123456789abcdef");
    strcpy(t.span_id, "0123456789abcdef");
    sp_txnprof_ctx_t bad = {.env = {.release = "caf\xe9-1.0", .environment = "production", .node_version = "20"},
                            .profiler_id = "0123456789abcdef0123456789abcdef"};
    sp_txnprof_ctx_t good = bad;
    good.env.release = "cafe-1.0";
    uint64_t err0 = sp_stats_get(SP_STAT_ENVELOPE_ERRORS);

    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    int saved = dup(2);
    ck_assert_int_ge(dup2(fileno(f), 2), 0);
    sp_txnprof_emit_event(&t, &bad);
    sp_txnprof_emit_event(&t, &bad);
    sp_txnprof_emit_event(&t, &good);
    dup2(saved, 2);
    close(saved);
    char err[1024] = "";
    ssize_t n = pread(fileno(f), err, sizeof err - 1, 0);
    fclose(f);
    err[n > 0 ? n : 0] = '\0';
    sp_outbox_end();

    uint64_t errs = sp_stats_get(SP_STAT_ENVELOPE_ERRORS) - err0;
    ck_assert_msg(errs == 2, "envelopes_not_built: expected 2, saw %llu", (unsigned long long)errs);
    int lines = 0;
    for (char *p = err; *p; p++) lines += *p == '\n';
    ck_assert_msg(lines == 1 && strstr(err, "envelopes_not_built"), "expected one line on stderr, saw %d: '%s'", lines, err);
    /* the good one was spooled: published into ready/ by the exit's seal */
    char path[4096];
    snprintf(path, sizeof path, "%s/ready", dir);
    DIR *d = opendir(path);
    ck_assert_msg(d != NULL, "no ready/ in the spool: the good transaction was not spooled");
    int found = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/ready/%s", dir, e->d_name);
        char *text = sp_unit_read_file(path, NULL);
        for (char *p = text; p && (p = strstr(p, "\"release\":\"cafe-1.0\"")); p++) found++;
        free(text);
    }
    closedir(d);
    ck_assert_msg(found == 1, "the good transaction: expected 1 spooled envelope with its release, saw %d", found);
    sp_unit_rmtree(dir);
}
END_TEST

SP_UNIT_SUITE(txnprof)
{
    Suite *s = suite_create("txnprof");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_unbuildable_counted_and_said_once);
    suite_add_tcase(s, tc);
    return s;
}
