/* Check tests for the *.envelopes batch format (src/spool_run.c). Records come back whole
 * and in order; every way a file can end early (a writer killed mid-record, a power loss before
 * the seal) stops the walk at the last complete record; foreign files are refused. */
#include "unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spool_run.h"

/* A batch holding the given envelopes, framed as the spool writes them. */
static size_t make_batch(char *buf, size_t cap, const char **envs, size_t n)
{
    size_t o = (size_t)snprintf(buf, cap, "%s", SP_BATCH_HEADER);
    for (size_t i = 0; i < n; i++) {
        o += sp_spool_run_record_head(buf + o, strlen(envs[i]));
        memcpy(buf + o, envs[i], strlen(envs[i]));
        o += strlen(envs[i]);
        buf[o++] = '\n';
    }
    ck_assert_uint_lt(o, cap);
    return o;
}

static size_t count(const char *buf, size_t len, bool *torn)
{
    sp_spool_run_reader_t r;
    ck_assert_int_eq(sp_spool_run_reader_init(&r, buf, len), 0);
    const char *e;
    size_t el, n = 0;
    while (sp_spool_run_reader_next(&r, &e, &el)) n++;
    *torn = r.torn;
    return n;
}

START_TEST(test_round_trip)
{
    /* Envelopes are multi-line and may hold digits and newlines anywhere. */
    const char *envs[] = {"{\"event_id\":\"a\"}\n{\"type\":\"transaction\",\"length\":2}\n{}\n",
                          "{}\n12\n\n", "x"};
    char buf[512];
    size_t len = make_batch(buf, sizeof buf, envs, 3);
    sp_spool_run_reader_t r;
    ck_assert_int_eq(sp_spool_run_reader_init(&r, buf, len), 0);
    const char *e;
    size_t el;
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(sp_spool_run_reader_next(&r, &e, &el), 1);
        ck_assert_uint_eq(el, strlen(envs[i]));
        ck_assert(memcmp(e, envs[i], el) == 0);
    }
    ck_assert_int_eq(sp_spool_run_reader_next(&r, &e, &el), 0);
    ck_assert(!r.torn);
    ck_assert_uint_eq(r.off, len);
}
END_TEST

START_TEST(test_empty_batch)
{
    bool torn;
    ck_assert_uint_eq(count(SP_BATCH_HEADER, strlen(SP_BATCH_HEADER), &torn), 0);
    ck_assert(!torn);
}
END_TEST

START_TEST(test_every_cut_keeps_complete_records)
{
    const char *envs[] = {"{\"a\":1}\n", "{\"b\":22}\n", "{\"c\":333}\n"};
    char buf[256];
    size_t len = make_batch(buf, sizeof buf, envs, 3);
    size_t ends[3], o = strlen(SP_BATCH_HEADER);
    for (size_t i = 0; i < 3; i++) {
        char head[24];
        o += sp_spool_run_record_head(head, strlen(envs[i])) + strlen(envs[i]) + 1;
        ends[i] = o;
    }
    /* Cut the file at every byte: the complete records before the cut, never more. */
    for (size_t cut = strlen(SP_BATCH_HEADER); cut <= len; cut++) {
        size_t want = 0;
        while (want < 3 && ends[want] <= cut) want++;
        bool torn, boundary = cut == strlen(SP_BATCH_HEADER) || (want && cut == ends[want - 1]);
        ck_assert_uint_eq(count(buf, cut, &torn), want);
        ck_assert_msg(torn == !boundary, "cut %zu: torn %d", cut, torn);
    }
}
END_TEST

START_TEST(test_garbage_stops_the_walk)
{
    const char *envs[] = {"{\"a\":1}\n"};
    char buf[256];
    size_t len = make_batch(buf, sizeof buf, envs, 1);
    const char *tails[] = {"abc\n", "\n", "0\n\n", "5\nabcdeX", "99999999999\nx\n", "-3\nabc\n"};
    for (size_t i = 0; i < sizeof tails / sizeof *tails; i++) {
        char b[300];
        memcpy(b, buf, len);
        memcpy(b + len, tails[i], strlen(tails[i]));
        bool torn;
        ck_assert_uint_eq(count(b, len + strlen(tails[i]), &torn), 1);
        ck_assert_msg(torn, "tail %zu not flagged", i);
    }
}
END_TEST

START_TEST(test_foreign_files)
{
    sp_spool_run_reader_t r;
    const char *env = "{\"event_id\":\"a\"}\n{\"type\":\"profile\"}\n{}\n";
    ck_assert_int_eq(sp_spool_run_reader_init(&r, env, strlen(env)), -1);
    ck_assert_int_eq(sp_spool_run_reader_init(&r, "{\"sentryprof_envelopes\":2}\n", 27), -1);
    ck_assert_int_eq(sp_spool_run_reader_init(&r, "", 0), -1);
    ck_assert_int_eq(sp_spool_run_reader_init(&r, NULL, 0), -1);
    ck_assert(sp_spool_run_is_batch("1-2-txns-ab.envelopes"));
    ck_assert(!sp_spool_run_is_batch("1-2-ab.envelope"));
    ck_assert(!sp_spool_run_is_batch(".envelopes"));
}
END_TEST

SP_UNIT_SUITE(batch)
{
    Suite *s = suite_create("batch");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_empty_batch);
    tcase_add_test(tc, test_every_cut_keeps_complete_records);
    tcase_add_test(tc, test_garbage_stops_the_walk);
    tcase_add_test(tc, test_foreign_files);
    suite_add_tcase(s, tc);
    return s;
}
