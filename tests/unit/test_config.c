/* Check tests for src/config.c: the environment is read once, at load time (LANG reaches
 * the profile from there, not from getenv on the agent thread). */
#include "unit.h"
#include <errno.h>
#include <limits.h>
#include <unistd.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "nodeargs.h"
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
    sp_frames_t *ft = sp_frames_new();
    ck_assert_ptr_nonnull(ft);
    uint32_t fr[] = {(uint32_t)sp_session_frame(s, ft, (uint32_t)sp_frames_intern(ft, &f))};
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
    sp_frames_free(ft);

    unsetenv("LANG");
    sp_config_load(&cfg);
    ck_assert_str_eq(cfg.locale, "C");
}
END_TEST

/* One boolean rule for every switch: the documented truth values, any case. */
START_TEST(test_bool_values)
{
    const char *yes[] = {"1", "true", "TRUE", "True", "yes", "YES", "on", "On"};
    const char *no[] = {"0", "false", "FALSE", "no", "No", "off", "OFF"};
    const char *bad[] = {"", "2", "maybe", "t", "y", " 1", "truee", "-1", NULL};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        ck_assert_msg(sp_config_parse_bool(yes[i]) == 1, "\"%s\": expected 1, saw %d", yes[i], sp_config_parse_bool(yes[i]));
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        ck_assert_msg(sp_config_parse_bool(no[i]) == 0, "\"%s\": expected 0, saw %d", no[i], sp_config_parse_bool(no[i]));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_msg(sp_config_parse_bool(bad[i]) == -1, "\"%s\": expected -1, saw %d", bad[i] ? bad[i] : "(null)",
                      sp_config_parse_bool(bad[i]));

    sp_config_t cfg;
    setenv(SP_ENV_KEEP_PERF_MAP, "false", 1);
    setenv(SP_ENV_DEBUG, "off", 1);
    sp_config_load(&cfg);
    ck_assert_msg(!cfg.keep_perf_map && !cfg.debug, "false/off: expected 0 0, saw %d %d", cfg.keep_perf_map, cfg.debug);
    setenv(SP_ENV_KEEP_PERF_MAP, "Yes", 1);
    sp_config_load(&cfg);
    ck_assert_msg(cfg.keep_perf_map, "Yes: expected keep_perf_map 1");
    setenv(SP_ENV_KEEP_PERF_MAP, "2", 1); /* not a truth value: warning, default */
    sp_config_load(&cfg);
    ck_assert_msg(!cfg.keep_perf_map, "\"2\": expected the default 0");
    unsetenv(SP_ENV_KEEP_PERF_MAP);
    unsetenv(SP_ENV_DEBUG);

    /* review defect 4: SENTRYPROF_DISABLE=false used to disable; DEBUG=true is debug */
    static const struct {
        const char *v;
        bool want;
    } disable[] = {{"false", false}, {"0", false}, {"off", false}, {"No", false}, {"true", true},
                   {"1", true}, {"ON", true}, {"maybe", false}, {"", false}};
    for (size_t i = 0; i < sizeof disable / sizeof *disable; i++) {
        setenv(SP_ENV_DISABLE, disable[i].v, 1);
        setenv(SP_ENV_DEBUG, disable[i].v, 1);
        sp_config_load_gate(&cfg);
        ck_assert_msg(cfg.disable == disable[i].want && cfg.debug == disable[i].want,
                      "SENTRYPROF_DISABLE/DEBUG=\"%s\": expected %d %d, saw %d %d", disable[i].v,
                      disable[i].want, disable[i].want, cfg.disable, cfg.debug);
    }
    unsetenv(SP_ENV_DISABLE);
    unsetenv(SP_ENV_DEBUG);
}
END_TEST

/* The JS helper's variables are parsed here (the bridge hands them over): the helper's
 * former rules, one warning and the default for a bad value. */
START_TEST(test_js_side_values)
{
    sp_config_t cfg;
    unsetenv(SP_ENV_TRACES_SAMPLE_RATE);
    unsetenv(SP_ENV_PROFILES_SAMPLE_RATE);
    unsetenv(SP_ENV_HTTP);
    unsetenv(SP_ENV_HTTP_PER_SECOND);
    sp_config_load(&cfg);
    ck_assert(cfg.traces_sample_rate == 1 && cfg.profiles_sample_rate == 1 && !cfg.profiles_rate_from_env);
    ck_assert_str_eq(cfg.http, "auto");
    ck_assert(cfg.http_per_second == 100);

    static const struct {
        const char *v;
        double want;
    } rates[] = {{"0", 0}, {"0.25", 0.25}, {" .5 ", 0.5}, {"1", 1}, {"1e-1", 0.1}, {"2", 1},
                 {"-0.5", 1}, {"lots", 1}, {"0x1", 1}, {"nan", 1}, {"inf", 1}, {"0.5x", 1}};
    for (size_t i = 0; i < sizeof rates / sizeof *rates; i++) {
        setenv(SP_ENV_TRACES_SAMPLE_RATE, rates[i].v, 1);
        sp_config_load(&cfg);
        ck_assert_msg(cfg.traces_sample_rate == rates[i].want, "SENTRY_TRACES_SAMPLE_RATE=\"%s\": expected %g, saw %g",
                      rates[i].v, rates[i].want, cfg.traces_sample_rate);
    }
    setenv(SP_ENV_PROFILES_SAMPLE_RATE, "  ", 1); /* blank: unset */
    sp_config_load(&cfg);
    ck_assert(!cfg.profiles_rate_from_env && cfg.profiles_sample_rate == 1);
    setenv(SP_ENV_PROFILES_SAMPLE_RATE, "0.1", 1);
    sp_config_load(&cfg);
    ck_assert(cfg.profiles_rate_from_env && cfg.profiles_sample_rate == 0.1);
    setenv(SP_ENV_HTTP, "EMIT", 1);
    setenv(SP_ENV_HTTP_PER_SECOND, "2.5", 1);
    sp_config_load(&cfg);
    ck_assert_str_eq(cfg.http, "emit");
    ck_assert(cfg.http_per_second == 2.5);
    setenv(SP_ENV_HTTP, "sometimes", 1);
    setenv(SP_ENV_HTTP_PER_SECOND, "-1", 1);
    sp_config_load(&cfg);
    ck_assert_str_eq(cfg.http, "auto");
    ck_assert(cfg.http_per_second == 100);
    unsetenv(SP_ENV_TRACES_SAMPLE_RATE);
    unsetenv(SP_ENV_PROFILES_SAMPLE_RATE);
    unsetenv(SP_ENV_HTTP);
    unsetenv(SP_ENV_HTTP_PER_SECOND);
}
END_TEST

/* config owns the spool directory's default: SENTRYPROF_SPOOL_DIR, else under TMPDIR. */
START_TEST(test_spool_dir_default)
{
    char buf[PATH_MAX], want[PATH_MAX];
    unsigned uid = (unsigned)getuid();
    snprintf(want, sizeof want, "/tmp/sentryprof-%u", uid);
    ck_assert_int_eq(sp_config_spool_dir(NULL, NULL, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, want);
    ck_assert_int_eq(sp_config_spool_dir(NULL, "relative", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, want);
    snprintf(want, sizeof want, "/var/tmp/sentryprof-%u", uid);
    ck_assert_int_eq(sp_config_spool_dir("", "/var/tmp//", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, want);
    snprintf(want, sizeof want, "/sentryprof-%u", uid);
    ck_assert_int_eq(sp_config_spool_dir(NULL, "/", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, want);
    ck_assert_int_eq(sp_config_spool_dir("/srv/spool", "/var/tmp", buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "/srv/spool");
    char small[8];
    ck_assert_int_eq(sp_config_spool_dir("/srv/spool", NULL, small, sizeof small), -ENAMETOOLONG);
    ck_assert_str_eq(small, "");
    ck_assert_int_eq(sp_config_spool_dir(NULL, NULL, NULL, 0), -EINVAL);

    sp_config_t cfg;
    unsetenv(SP_ENV_SPOOL_DIR);
    setenv(SP_ENV_TMPDIR, "/var/tmp", 1);
    sp_config_load(&cfg);
    snprintf(want, sizeof want, "/var/tmp/sentryprof-%u", uid);
    ck_assert_str_eq(cfg.spool_dir, want);
    ck_assert_str_eq(cfg.tmpdir, "/var/tmp");
    setenv(SP_ENV_SPOOL_DIR, "", 1); /* empty: unset */
    sp_config_load(&cfg);
    ck_assert_str_eq(cfg.spool_dir, want);
    setenv(SP_ENV_SPOOL_DIR, "/srv/spool", 1); /* wins over TMPDIR, used as is */
    sp_config_load(&cfg);
    ck_assert_str_eq(cfg.spool_dir, "/srv/spool");
    unsetenv(SP_ENV_SPOOL_DIR);
    unsetenv(SP_ENV_TMPDIR);
}
END_TEST

/* The V8-log detection reads node's options, never the app's arguments after the script. */
#define ARGS(lit) lit, sizeof lit - 1 /* a NUL-separated cmdline without the last NUL */
START_TEST(test_node_args_v8_log)
{
    static const struct {
        const char *args;
        size_t n;
        bool want;
    } cases[] = {
        {ARGS("node\0server.js\0--log-level=info"), false}, /* the app's own flag */
        {ARGS("node\0server.js\0--prof"), false},
        {ARGS("node\0--prof\0app.js"), true},
        {ARGS("node\0--logfile=v8.log\0--log-code\0app.js"), true},
        {ARGS("node\0--max-old-space-size=100\0--log-all\0app.js"), true},
        {ARGS("node\0-r\0./setup.js\0app.js\0--prof"), false},
        {ARGS("node\0--require\0./setup.js\0--prof\0app.js"), true},
        {ARGS("node\0-r\0--prof-looking-name.js\0app.js"), false}, /* a value, not a flag */
        {ARGS("node\0-e\0code\0--prof"), true}, /* node's options go on after the code */
        {ARGS("node\0-e\0code\0arg\0--prof"), false}, /* the code's own arguments */
        {ARGS("node\0--eval=code\0--log-all"), true},
        {ARGS("node\0-p\0process.argv\0x\0--logfile=x"), false},
        {ARGS("node\0--\0--prof"), false},
        {ARGS("node\0-\0--prof"), false},
        {ARGS("node"), false},
        {ARGS("node\0--prof"), true}, /* truncated: no final NUL */
        {"", 0, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char shown[256];
        size_t k = 0;
        for (size_t j = 0; j < cases[i].n && k + 1 < sizeof shown; j++)
            shown[k++] = cases[i].args[j] ? cases[i].args[j] : ' ';
        shown[k] = '\0';
        bool got = sp_nodeargs_want_v8_log(cases[i].args, cases[i].n);
        ck_assert_msg(got == cases[i].want, "`%s`: expected user V8 log %d, saw %d", shown,
                      cases[i].want, got);
    }
}
END_TEST

/* A perf map flag among node's own options is the user's (the preload then neither adds
 * its own flag nor treats the map as ours to remove: tests/e2e/perfmap_hostile.sh); one
 * after the script is the app's argument. */
START_TEST(test_node_args_perf_map)
{
    static const struct {
        const char *args;
        size_t n;
        bool want;
    } cases[] = {
        {ARGS("node\0--perf-basic-prof\0app.js"), true},
        {ARGS("node\0--perf_basic_prof\0app.js"), true},
        {ARGS("node\0--perf-basic-prof-only-functions\0app.js"), true},
        {ARGS("node\0--max-old-space-size=100\0--perf-prof\0app.js"), true},
        {ARGS("node\0-e\0code\0--perf-basic-prof"), true},
        {ARGS("node\0app.js\0--perf-basic-prof"), false}, /* the app's argument */
        {ARGS("node\0-r\0--perf-basic-prof\0app.js"), false}, /* -r's value */
        {ARGS("node\0--no-perf-basic-prof\0app.js"), false},
        {ARGS("node\0--prof\0app.js"), false},
        {ARGS("node\0--\0--perf-basic-prof"), false},
        {ARGS("node"), false},
        {"", 0, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char shown[256];
        size_t k = 0;
        for (size_t j = 0; j < cases[i].n && k + 1 < sizeof shown; j++)
            shown[k++] = cases[i].args[j] ? cases[i].args[j] : ' ';
        shown[k] = '\0';
        bool got = sp_nodeargs_want_perf_map(cases[i].args, cases[i].n);
        ck_assert_msg(got == cases[i].want, "`%s`: expected the user's perf map %d, saw %d", shown,
                      cases[i].want, got);
    }
}
END_TEST

/* --interpreted-frames-native-stack is injected only on V8 >= 12: V8 10.2 (Node 18) and 11.3
 * (Node 20) deadlock their own profiler with it (tests/e2e/deopt_profiler.sh). */
START_TEST(test_native_stack_safe)
{
    ck_assert(!sp_config_native_stack_safe("10.2.154.26-node.39"));
    ck_assert(!sp_config_native_stack_safe("11.3.244.8-node.38"));
    ck_assert(!sp_config_native_stack_safe("11.9.0"));
    ck_assert(sp_config_native_stack_safe("12.4.254.21-node.57"));
    ck_assert(sp_config_native_stack_safe("13.6.233.17-node.63"));
    ck_assert(sp_config_native_stack_safe("14.6.202.34-node.40"));
    ck_assert(!sp_config_native_stack_safe(NULL));
    ck_assert(!sp_config_native_stack_safe(""));
    ck_assert(!sp_config_native_stack_safe("v12.4"));
    ck_assert(!sp_config_native_stack_safe("12"));
    ck_assert(!sp_config_native_stack_safe("99999999999999999999.1"));
}
END_TEST

/* Runs a load with stderr captured; returns what it printed (malloc'd). */
typedef void (*load_fn)(sp_config_t *cfg, const char *const *warn_for);
static char *captured(load_fn fn, sp_config_t *cfg, const char *const *warn_for)
{
    FILE *f = tmpfile(); /* unlinked already: nothing left behind */
    ck_assert_ptr_nonnull(f);
    int saved = dup(2);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_ge(dup2(fileno(f), 2), 0);
    fn(cfg, warn_for);
    dup2(saved, 2);
    close(saved);
    off_t n = lseek(fileno(f), 0, SEEK_END); /* the log writes the fd with write(2) */
    ck_assert_int_ge(n, 0);
    char *out = calloc(1, (size_t)n + 1);
    ck_assert_ptr_nonnull(out);
    if (n > 0) ck_assert_int_eq(pread(fileno(f), out, (size_t)n, 0), n);
    fclose(f);
    return out;
}
static void full_load(sp_config_t *cfg, const char *const *warn_for)
{
    (void)warn_for;
    sp_config_load(cfg);
}
static void gate_only(sp_config_t *cfg, const char *const *warn_for)
{
    (void)warn_for;
    sp_config_load_gate(cfg);
}
static void engine_only(sp_config_t *cfg, const char *const *warn_for)
{
    (void)warn_for;
    sp_config_load_engine(cfg);
}
static int lines(const char *s)
{
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* One warning per bad value in the profiled process; the CLI's loader warns only for the
 * variables its command names (an upload child must not repeat its parent's lines); a
 * process left out by the gate says nothing about DEBUG. */
START_TEST(test_warnings_once)
{
    sp_config_t cfg;
    setenv(SP_ENV_HZ, "lots", 1);
    setenv(SP_ENV_SPOOL_MAX_BYTES, "lots", 1);
    char *out = captured(full_load, &cfg, NULL);
    ck_assert_msg(lines(out) == 2 && strstr(out, "SENTRYPROF_HZ=\"lots\"") &&
                      strstr(out, "SENTRYPROF_SPOOL_MAX_BYTES=\"lots\""),
                  "the profiled process: expected 2 warning lines (HZ, SPOOL_MAX_BYTES), saw:\n%s", out);
    free(out);
    static const char *const upload[] = {SP_ENV_SPOOL_MAX_BYTES, NULL};
    out = captured(sp_config_load_cli, &cfg, upload);
    ck_assert_msg(lines(out) == 1 && strstr(out, "SENTRYPROF_SPOOL_MAX_BYTES=\"lots\""),
                  "the CLI naming SPOOL_MAX_BYTES: expected its one line, saw:\n%s", out);
    ck_assert_int_eq(cfg.hz, SP_DEFAULT_HZ);
    free(out);
    out = captured(sp_config_load_cli, &cfg, NULL);
    ck_assert_msg(!*out, "the CLI naming nothing: expected no line, saw:\n%s", out);
    free(out);
    unsetenv(SP_ENV_HZ);
    unsetenv(SP_ENV_SPOOL_MAX_BYTES);

    setenv(SP_ENV_DEBUG, "maybe", 1);
    out = captured(gate_only, &cfg, NULL);
    ck_assert_msg(!*out && !cfg.debug, "gate with DEBUG=maybe: expected silence, saw:\n%s", out);
    free(out);
    out = captured(engine_only, &cfg, NULL);
    ck_assert_msg(lines(out) == 1 && strstr(out, "SENTRYPROF_DEBUG=\"maybe\""),
                  "engine after the gate: expected DEBUG's one line, saw:\n%s", out);
    free(out);
    unsetenv(SP_ENV_DEBUG);
}
END_TEST

SP_UNIT_SUITE(config)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_locale_read_once);
    tcase_add_test(tc, test_node_args_v8_log);
    tcase_add_test(tc, test_node_args_perf_map);
    tcase_add_test(tc, test_bool_values);
    tcase_add_test(tc, test_js_side_values);
    tcase_add_test(tc, test_spool_dir_default);
    tcase_add_test(tc, test_warnings_once);
    tcase_add_test(tc, test_native_stack_safe);
    suite_add_tcase(s, tc);
    return s;
}
