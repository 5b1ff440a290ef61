/* Check tests for src/config.c: the environment is read once, at load time (LANG reaches
 * the profile from there, not from getenv on the agent thread). */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mem.h"
#include "profile.h"
#include "session.h"

/* device.locale of a v1 profile built after LANG changed: the value at load time. */
START_TEST(test_locale_read_once)
{
    setenv("LANG", "de_DE.UTF-8", 1);
    sp_config_t cfg;
    sp_config_load(&cfg);
    ck_assert_str_eq(cfg.locale, "de_DE.UTF-8");
    setenv("LANG", "changed-by-the-app", 1); /* process.env.LANG = ... on a JS thread */

    sp_session_t *s = sp_session_new();
    ck_assert_ptr_nonnull(s);
    sp_frame_t f = {.function = "f", .abs_path = "/app/f.js", .lineno = 1};
    uint32_t fr[] = {(uint32_t)sp_session_frame(s, &f)};
    long st = sp_session_stack(s, fr, 1);
    ck_assert_int_eq(sp_session_sample(s, st, "0", "main", 1795549336000000000ull), 0);
    ck_assert_int_eq(sp_session_sample(s, st, "0", "main", 1795549336100000000ull), 0);
    sp_txn_t t = {.start_real_ns = 1795549336000000000ull};
    snprintf(t.name, sizeof t.name, "GET /");
    snprintf(t.event_id, sizeof t.event_id, "%032d", 1);
    snprintf(t.trace_id, sizeof t.trace_id, "%032d", 2);
    snprintf(t.thread_id, sizeof t.thread_id, "0");
    sp_profile_env_t env = {.release = cfg.release, .environment = cfg.environment,
                            .node_version = "22.0.0", .locale = cfg.locale};
    char id[33];
    size_t len;
    char *text = sp_profile_txn_text(s, &t, t.start_real_ns, &env, id, &len);
    ck_assert_ptr_nonnull(text);
    json_t *p = json_loadb(text, len, 0, NULL);
    ck_assert_ptr_nonnull(p);
    const char *locale = json_string_value(json_object_get(json_object_get(p, "device"), "locale"));
    ck_assert_msg(locale && strcmp(locale, "de_DE.UTF-8") == 0,
                  "expected device.locale \"de_DE.UTF-8\" (LANG at load time), saw \"%s\"",
                  locale ? locale : "(none)");
    json_decref(p);
    sp_mem_free(text);
    sp_session_free(s);

    unsetenv("LANG");
    sp_config_load(&cfg);
    ck_assert_str_eq(cfg.locale, "C");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_locale_read_once);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
