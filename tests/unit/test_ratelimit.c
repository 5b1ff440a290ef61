/* test_ratelimit: X-Sentry-Rate-Limits parsing (categories, all, unknown categories, bad
 * and fractional retry_after, whitespace, limits that only extend), Retry-After as seconds
 * and as an HTTP date, which header wins for which status, backoff growth/jitter/cap, and
 * the round trip through state.json. "now" is a fixed number: no clock involved. */
#include "unit.h"
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "ratelimit.h"

#define NOW 1700000000.0 /* 2023-11-14T22:13:20Z */
#define EPS 1e-6

static void expect_until(const sp_ratelimit_t *rl, int cat, double want)
{
    double got = sp_ratelimit_until(rl, cat, NOW);
    ck_assert_msg(fabs(got - want) < EPS, "%s: until %.3f, want %.3f",
                  sp_ratelimit_category_name(cat), got - NOW, want - NOW);
}

START_TEST(categories)
{
    ck_assert_int_eq(sp_ratelimit_category("profile_chunk"), SP_RL_PROFILE_CHUNK);
    ck_assert_int_eq(sp_ratelimit_category("profile"), SP_RL_PROFILE);
    ck_assert_int_eq(sp_ratelimit_category("transaction"), SP_RL_TRANSACTION);
    ck_assert_int_eq(sp_ratelimit_category("internal"), SP_RL_INTERNAL);
    ck_assert_int_eq(sp_ratelimit_category("error"), -1);
    ck_assert_int_eq(sp_ratelimit_category("*"), -1); /* not a category name */
    ck_assert_int_eq(sp_ratelimit_category(NULL), -1);
    ck_assert_int_eq(sp_ratelimit_item_category("profile_chunk"), SP_RL_PROFILE_CHUNK);
    ck_assert_int_eq(sp_ratelimit_item_category("profile"), SP_RL_PROFILE);
    ck_assert_int_eq(sp_ratelimit_item_category("transaction"), SP_RL_TRANSACTION);
    ck_assert_int_eq(sp_ratelimit_item_category("client_report"), SP_RL_INTERNAL);
    ck_assert_int_eq(sp_ratelimit_item_category("internal"), -1); /* not an item type */
    ck_assert_int_eq(sp_ratelimit_item_category("attachment"), -1);
    ck_assert_str_eq(sp_ratelimit_category_name(SP_RL_ALL), "*");
    ck_assert_str_eq(sp_ratelimit_category_name(SP_RL_PROFILE_CHUNK), "profile_chunk");
}
END_TEST

START_TEST(header_categories)
{
    sp_ratelimit_t rl;
    sp_ratelimit_init(&rl);
    ck_assert_int_eq(sp_ratelimit_apply_header(&rl, "60:transaction:key", NOW), 1);
    expect_until(&rl, SP_RL_TRANSACTION, NOW + 60);
    expect_until(&rl, SP_RL_PROFILE, 0);
    expect_until(&rl, -1, 0);

    sp_ratelimit_init(&rl);
    ck_assert_int_eq(sp_ratelimit_apply_header(&rl, "1.5:profile_chunk;profile:key:quota:ns", NOW), 1);
    expect_until(&rl, SP_RL_PROFILE_CHUNK, NOW + 1.5);
    expect_until(&rl, SP_RL_PROFILE, NOW + 1.5);
    expect_until(&rl, SP_RL_TRANSACTION, 0);

    /* Empty categories: all; unknown categories alone: nothing. */
    sp_ratelimit_init(&rl);
    ck_assert_int_eq(sp_ratelimit_apply_header(&rl, "2700:default;error;security:organization, "
                                                    "30::organization",
                                               NOW),
                     1);
    expect_until(&rl, -1, NOW + 30);
    expect_until(&rl, SP_RL_PROFILE_CHUNK, NOW + 30);
    sp_ratelimit_init(&rl);
    ck_assert_int_eq(sp_ratelimit_apply_header(&rl, "10:metric_bucket:organization:x:custom", NOW), 0);
    for (int c = -1; c < SP_RL_COUNT; c++) expect_until(&rl, c, 0);

    /* A retry_after alone (no colon) limits everything. */
    sp_ratelimit_init(&rl);
    ck_assert_int_eq(sp_ratelimit_apply_header(&rl, "5", NOW), 1);
    expect_until(&rl, SP_RL_PROFILE, NOW + 5);
}
END_TEST

START_TEST(header_hostile)
{
    sp_ratelimit_t rl;
    sp_ratelimit_init(&rl);
    /* Whitespace everywhere, empty entries. */
    ck_assert_int_eq(sp_ratelimit_apply_header(&rl, " 10 : profile ; transaction : key , , 5 :: org ,", NOW), 2);
    expect_until(&rl, SP_RL_PROFILE, NOW + 10);
    expect_until(&rl, SP_RL_TRANSACTION, NOW + 10);
    expect_until(&rl, SP_RL_PROFILE_CHUNK, NOW + 5);

    /* A bad retry_after means the default 60 s. */
    static const char *const bad[] = {"abc:profile:key", "-5:profile:key", ":profile:key",
                                      "nan:profile:key", "inf:profile:key", "1e999:profile:key",
                                      "+3:profile:key"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sp_ratelimit_init(&rl);
        ck_assert_int_eq(sp_ratelimit_apply_header(&rl, bad[i], NOW), 1);
        expect_until(&rl, SP_RL_PROFILE, NOW + SP_RATELIMIT_DEFAULT_SECONDS);
    }
    /* Absurd values are clamped. */
    sp_ratelimit_init(&rl);
    sp_ratelimit_apply_header(&rl, "99999999999:profile:key", NOW);
    expect_until(&rl, SP_RL_PROFILE, NOW + SP_RATELIMIT_MAX_SECONDS);

    /* Nothing at all. */
    sp_ratelimit_init(&rl);
    ck_assert_int_eq(sp_ratelimit_apply_header(&rl, "", NOW), 0);
    ck_assert_int_eq(sp_ratelimit_apply_header(&rl, ",,, ,", NOW), 0);
    ck_assert_int_eq(sp_ratelimit_apply_header(&rl, NULL, NOW), 0);
    ck_assert_int_eq(sp_ratelimit_apply_header(&rl, "10:;;;:key", NOW), 0);
    for (int c = -1; c < SP_RL_COUNT; c++) expect_until(&rl, c, 0);

    /* A very long category list is bounded and does not crash. */
    char big[8192];
    size_t n = 0;
    while (n + 20 < sizeof big) n += (size_t)snprintf(big + n, sizeof big - n, "1:%s;", "xxxxxxxxxx,");
    big[n] = '\0';
    sp_ratelimit_apply_header(&rl, big, NOW);
}
END_TEST

START_TEST(limits_only_extend)
{
    sp_ratelimit_t rl;
    sp_ratelimit_init(&rl);
    sp_ratelimit_apply_header(&rl, "100:profile_chunk:key", NOW);
    sp_ratelimit_apply_header(&rl, "10:profile_chunk:key", NOW);
    expect_until(&rl, SP_RL_PROFILE_CHUNK, NOW + 100);
    /* "all" and a category combine: the later one counts. */
    sp_ratelimit_apply_header(&rl, "200::org", NOW);
    expect_until(&rl, SP_RL_PROFILE_CHUNK, NOW + 200);
    expect_until(&rl, SP_RL_TRANSACTION, NOW + 200);
    /* Past limits read as none. */
    ck_assert(sp_ratelimit_until(&rl, SP_RL_PROFILE_CHUNK, NOW + 300) == 0);
}
END_TEST

START_TEST(retry_after)
{
    double u;
    ck_assert_int_eq(sp_ratelimit_parse_retry_after("120", NOW, &u), 0);
    ck_assert(fabs(u - (NOW + 120)) < EPS);
    ck_assert_int_eq(sp_ratelimit_parse_retry_after("  30 ", NOW, &u), 0);
    ck_assert(fabs(u - (NOW + 30)) < EPS);
    ck_assert_int_eq(sp_ratelimit_parse_retry_after("0", NOW, &u), 0);
    ck_assert(fabs(u - NOW) < EPS);
    /* HTTP dates: IMF-fixdate, RFC 850, asctime. NOW + 100 s = Tue, 14 Nov 2023 22:15:00 GMT. */
    ck_assert_int_eq(sp_ratelimit_parse_retry_after("Tue, 14 Nov 2023 22:15:00 GMT", NOW, &u), 0);
    ck_assert(fabs(u - (NOW + 100)) < EPS);
    ck_assert_int_eq(sp_ratelimit_parse_retry_after("Tuesday, 14-Nov-23 22:15:00 GMT", NOW, &u), 0);
    ck_assert(fabs(u - (NOW + 100)) < EPS);
    ck_assert_int_eq(sp_ratelimit_parse_retry_after("Tue Nov 14 22:15:00 2023", NOW, &u), 0);
    ck_assert(fabs(u - (NOW + 100)) < EPS);
    /* A date in the past: no wait. */
    ck_assert_int_eq(sp_ratelimit_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", NOW, &u), 0);
    ck_assert(fabs(u - NOW) < EPS);
    static const char *const bad[] = {"", "-5", "soon", "12abc", "inf", "nan", "0x10", "1e999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(sp_ratelimit_parse_retry_after(bad[i], NOW, &u) == -EINVAL, "%s", bad[i]);
    ck_assert_int_eq(sp_ratelimit_parse_retry_after(NULL, NOW, &u), -EINVAL);
}
END_TEST

START_TEST(response_rules)
{
    sp_ratelimit_t rl;
    /* 429 with neither header: 60 s for everything. */
    sp_ratelimit_init(&rl);
    sp_ratelimit_apply_response(&rl, 429, NULL, NULL, NOW);
    expect_until(&rl, -1, NOW + 60);
    sp_ratelimit_init(&rl);
    sp_ratelimit_apply_response(&rl, 429, "", "", NOW);
    expect_until(&rl, -1, NOW + 60);
    /* 429 with Retry-After. */
    sp_ratelimit_init(&rl);
    sp_ratelimit_apply_response(&rl, 429, NULL, "7", NOW);
    expect_until(&rl, -1, NOW + 7);
    expect_until(&rl, SP_RL_PROFILE_CHUNK, NOW + 7);
    /* 429 with an unusable Retry-After: 60 s. */
    sp_ratelimit_init(&rl);
    sp_ratelimit_apply_response(&rl, 429, NULL, "later", NOW);
    expect_until(&rl, -1, NOW + 60);
    /* X-Sentry-Rate-Limits wins over Retry-After. */
    sp_ratelimit_init(&rl);
    sp_ratelimit_apply_response(&rl, 429, "5:profile_chunk:key", "100", NOW);
    expect_until(&rl, SP_RL_PROFILE_CHUNK, NOW + 5);
    expect_until(&rl, -1, 0);
    expect_until(&rl, SP_RL_TRANSACTION, 0);
    /* On any status. */
    sp_ratelimit_init(&rl);
    sp_ratelimit_apply_response(&rl, 200, "9:transaction:key", NULL, NOW);
    expect_until(&rl, SP_RL_TRANSACTION, NOW + 9);
    /* Retry-After without 429 means nothing; neither does a plain 200 or 500. */
    sp_ratelimit_init(&rl);
    sp_ratelimit_apply_response(&rl, 503, NULL, "30", NOW);
    sp_ratelimit_apply_response(&rl, 200, NULL, NULL, NOW);
    sp_ratelimit_apply_response(&rl, 0, NULL, NULL, NOW);
    for (int c = -1; c < SP_RL_COUNT; c++) expect_until(&rl, c, 0);
}
END_TEST

START_TEST(backoff)
{
    sp_ratelimit_t rl;
    sp_ratelimit_init(&rl);
    /* Attempt n waits base * 2^(n-1), times [0.5, 1) by jitter, capped. */
    double d = sp_ratelimit_backoff_fail(&rl, NOW, 0.0);
    ck_assert(fabs(d - 0.5) < EPS);
    ck_assert(fabs(rl.backoff_until - (NOW + 0.5)) < EPS);
    ck_assert_uint_eq(rl.backoff_attempts, 1);
    d = sp_ratelimit_backoff_fail(&rl, NOW, 0.0);
    ck_assert(fabs(d - 1.0) < EPS);
    d = sp_ratelimit_backoff_fail(&rl, NOW, 0.999);
    ck_assert(d > 3.9 && d < 4.0);
    for (int i = 0; i < 50; i++) d = sp_ratelimit_backoff_fail(&rl, NOW, 0.25);
    ck_assert(fabs(d - (SP_BACKOFF_MAX_SECONDS / 2 + SP_BACKOFF_MAX_SECONDS / 8)) < EPS);
    for (int i = 0; i < 2000; i++) sp_ratelimit_backoff_fail(&rl, NOW, 0.5);
    ck_assert_uint_le(rl.backoff_attempts, 1000); /* bounded, no overflow */
    d = sp_ratelimit_backoff_fail(&rl, NOW, NAN); /* bad jitter: midpoint */
    ck_assert(fabs(d - SP_BACKOFF_MAX_SECONDS * 0.75) < EPS);
    sp_ratelimit_backoff_reset(&rl);
    ck_assert_uint_eq(rl.backoff_attempts, 0);
    ck_assert(rl.backoff_until == 0);
}
END_TEST

START_TEST(state_round_trip)
{
    sp_ratelimit_t rl, back;
    sp_ratelimit_init(&rl);
    sp_ratelimit_apply_header(&rl, "30:profile_chunk:key, 10::org, 5:transaction:key", NOW);
    sp_ratelimit_backoff_fail(&rl, NOW, 0.0);
    sp_ratelimit_backoff_fail(&rl, NOW, 0.0);
    json_t *st = json_pack("{s:i, s:[]}", "version", 1, "discards");
    ck_assert_int_eq(sp_ratelimit_store(&rl, st, NOW), 0);
    ck_assert_ptr_nonnull(json_object_get(st, "discards")); /* other members kept */
    ck_assert(json_is_number(json_object_get(json_object_get(st, "rate_limits"), "*")));
    sp_ratelimit_load(&back, st);
    for (int c = 0; c < SP_RL_COUNT; c++) ck_assert(fabs(back.until[c] - rl.until[c]) < 1e-3);
    ck_assert_uint_eq(back.backoff_attempts, 2);
    ck_assert(fabs(back.backoff_until - rl.backoff_until) < 1e-3);

    /* Stored later: the ended limits are left out, the backoff attempts stay. */
    ck_assert_int_eq(sp_ratelimit_store(&rl, st, NOW + 20), 0);
    json_t *lim = json_object_get(st, "rate_limits");
    ck_assert_int_eq(json_object_size(lim), 1);
    ck_assert_ptr_nonnull(json_object_get(lim, "profile_chunk"));
    ck_assert_ptr_nonnull(json_object_get(st, "backoff"));

    /* Reset and ended: no backoff member; every limit ended: no rate_limits member. */
    sp_ratelimit_backoff_reset(&rl);
    ck_assert_int_eq(sp_ratelimit_store(&rl, st, NOW + 20), 0);
    ck_assert_ptr_null(json_object_get(st, "backoff"));
    ck_assert_int_eq(sp_ratelimit_store(&rl, st, NOW + 1000), 0);
    ck_assert_ptr_null(json_object_get(st, "rate_limits"));
    ck_assert_int_eq(json_integer_value(json_object_get(st, "version")), 1);
    json_decref(st);

    /* Garbage members read as nothing. */
    st = json_loads("{\"rate_limits\": {\"*\": \"soon\", \"profile\": -5, \"profile_chunk\": 1e308,"
                    " \"bogus\": 1}, \"backoff\": {\"until\": [], \"attempts\": 1e99}}",
                    0, NULL);
    ck_assert_ptr_nonnull(st);
    sp_ratelimit_load(&back, st);
    ck_assert(back.until[SP_RL_ALL] == 0 && back.until[SP_RL_PROFILE] == 0);
    ck_assert(back.until[SP_RL_PROFILE_CHUNK] > 0);
    ck_assert(back.backoff_until == 0);
    ck_assert_uint_eq(back.backoff_attempts, 1000);
    json_decref(st);
    sp_ratelimit_load(&back, NULL);
    ck_assert(back.until[SP_RL_ALL] == 0);
}
END_TEST

SP_UNIT_SUITE(ratelimit)
{
    json_set_alloc_funcs(sp_mem_alloc, sp_mem_free); /* as the CLI does */
    Suite *s = suite_create("ratelimit");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, categories);
    tcase_add_test(tc, header_categories);
    tcase_add_test(tc, header_hostile);
    tcase_add_test(tc, limits_only_extend);
    tcase_add_test(tc, retry_after);
    tcase_add_test(tc, response_rules);
    tcase_add_test(tc, backoff);
    tcase_add_test(tc, state_round_trip);
    suite_add_tcase(s, tc);
    return s;
}
