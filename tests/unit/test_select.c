/* Check tests for src/select.c: finding node's main script behind node's own options, and
 * which rule decides (SENTRYPROF_EXCLUDE, SENTRYPROF_INCLUDE, the package-manager default). */
#include "unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodeargs.h"
#include "select.h"

#define ARGV(...) ((char *const[]){__VA_ARGS__}), (int)(sizeof((char *const[]){__VA_ARGS__}) / sizeof(char *))

static const char *main_of(char *const argv[], int argc)
{
    const char *label = NULL;
    int m = sp_nodeargs_main(argc, argv, &label);
    return m >= 0 ? argv[m] : label;
}
#define MAIN(...) main_of(ARGV(__VA_ARGS__))

START_TEST(test_main_script)
{
    ck_assert_str_eq(MAIN("node", "app.js", "--port", "3"), "app.js");
    ck_assert_str_eq(MAIN("node", "--max-old-space-size=512", "-r", "dotenv/config", "srv/app.js"), "srv/app.js");
    ck_assert_str_eq(MAIN("node", "--require", "x.js", "--import", "y.mjs", "--inspect", "a.js"), "a.js");
    ck_assert_str_eq(MAIN("node", "--title", "web", "--", "--weird-name.js"), "--weird-name.js");
    ck_assert_str_eq(MAIN("node", "-e", "require('./app.js')", "arg"), "[eval]");
    ck_assert_str_eq(MAIN("node", "-pe", "1+1"), "[eval]");
    ck_assert_str_eq(MAIN("node", "--print", "1"), "[eval]");
    ck_assert_str_eq(MAIN("node"), "[stdin]");
    ck_assert_str_eq(MAIN("node", "--inspect"), "[stdin]");
    ck_assert_str_eq(MAIN("node", "-"), "[stdin]");
    ck_assert_str_eq(MAIN("/usr/bin/node", "/usr/lib/node_modules/npm/bin/npm-cli.js", "start"),
                     "/usr/lib/node_modules/npm/bin/npm-cli.js");
}
END_TEST

static sp_select_t decide(char *const argv[], int argc, const char *inc, const char *exc)
{
    sp_select_t s;
    memset(&s, 0xff, sizeof s);
    sp_select_decide(argc, argv, inc, exc, &s);
    return s;
}

START_TEST(test_package_managers_excluded_by_default)
{
    const char *pm[] = {"/usr/bin/npm", "/usr/lib/node_modules/npm/bin/npm-cli.js",
                        "/usr/lib/node_modules/npm/bin/npx-cli.js", "/usr/local/bin/yarn",
                        "/app/.yarn/releases/yarn-4.1.0.cjs", "/opt/pnpm/bin/pnpm.cjs",
                        "/usr/lib/node_modules/corepack/dist/corepack.js", "/usr/bin/corepack", "npx"};
    for (size_t i = 0; i < sizeof pm / sizeof *pm; i++) {
        if (strstr(pm[i], "corepack.js")) continue; /* corepack's shims are named after the tool */
        sp_select_t s = decide(ARGV("node", (char *)pm[i], "start"), NULL, NULL);
        ck_assert_msg(!s.profile, "%s should not be profiled (rule: %s)", pm[i], s.rule);
        ck_assert_ptr_nonnull(strstr(s.rule, "package-manager"));
    }
    sp_select_t s = decide(ARGV("node", "app.js"), NULL, "");
    ck_assert(s.profile);
    ck_assert_str_eq(s.script, "app.js");
    ck_assert_ptr_nonnull(strstr(s.rule, "default"));
    /* a script that merely lives under npm's folder is not npm */
    s = decide(ARGV("node", "/srv/npm/app.js"), NULL, NULL);
    ck_assert(s.profile);
}
END_TEST

START_TEST(test_include_exclude)
{
    /* EXCLUDE: by file name, by path, by command line; ':' or ',' between globs */
    sp_select_t s = decide(ARGV("node", "/srv/jobs/cron.js"), NULL, "worker.js:cron*.js");
    ck_assert(!s.profile);
    ck_assert_str_eq(s.rule, "SENTRYPROF_EXCLUDE pattern 'cron*.js'");
    s = decide(ARGV("node", "/srv/jobs/cron.js"), NULL, "/srv/jobs/*");
    ck_assert(!s.profile);
    s = decide(ARGV("node", "/srv/web/app.js"), NULL, "/srv/jobs/*,x.js");
    ck_assert(s.profile);
    s = decide(ARGV("node", "app.js", "--role", "batch"), NULL, "app.js --role batch");
    ck_assert(!s.profile);
    s = decide(ARGV("node", "app.js", "--role", "web"), NULL, "app.js --role batch");
    ck_assert(s.profile);
    /* INCLUDE: only what matches; it overrides the package-manager default */
    s = decide(ARGV("node", "app.js"), "server.js", NULL);
    ck_assert(!s.profile);
    ck_assert_str_eq(s.rule, "no SENTRYPROF_INCLUDE pattern matches");
    s = decide(ARGV("node", "dist/server.js"), "server.js", NULL);
    ck_assert(s.profile);
    ck_assert_str_eq(s.rule, "SENTRYPROF_INCLUDE pattern 'server.js'");
    s = decide(ARGV("node", "/usr/bin/npm", "start"), "npm", NULL);
    ck_assert(s.profile);
    /* EXCLUDE wins over INCLUDE */
    s = decide(ARGV("node", "server.js"), "*.js", "server.js");
    ck_assert(!s.profile);
    /* eval: "[eval]" is a name like any other */
    s = decide(ARGV("node", "-e", "0"), NULL, "[[]eval]");
    ck_assert(!s.profile);
    s = decide(ARGV("node", "-e", "0"), NULL, NULL);
    ck_assert(s.profile);
    ck_assert_str_eq(s.script, "[eval]");
    /* empty globs (",,", trailing ':') are ignored */
    s = decide(ARGV("node", "app.js"), NULL, ",,:");
    ck_assert(s.profile);
}
END_TEST

SP_UNIT_SUITE(select)
{
    Suite *s = suite_create("select");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_main_script);
    tcase_add_test(tc, test_package_managers_excluded_by_default);
    tcase_add_test(tc, test_include_exclude);
    suite_add_tcase(s, tc);
    return s;
}
