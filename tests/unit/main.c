/* main.c: the one main() of the unit tests (tests/unit/unit).
 *
 * The suites are the test_<name>.c files listed in Makefile.am (UNIT_TEST_SOURCES), from
 * which tests/unit/suites.h is generated: one SP_UNIT_SUITE_ENTRY(<name>) line each.
 * `make check` runs each suite as its own test, tests/unit/test_<name> (a generated
 * two-line script: CK_RUN_SUITE=<name> exec tests/unit/unit), so every suite has its own
 * PASS/FAIL line and log.
 *
 *   tests/unit/unit                     every suite, each in its own runner, one line each
 *   CK_RUN_SUITE=txn tests/unit/unit    one suite (CK_RUN_CASE=<tcase> narrows it further)
 *   tests/unit/unit --list              the suite names
 *
 * Check forks a process per test unless a suite asks otherwise (sp_unit_nofork) or
 * CK_FORK=no is set (to run a test under gdb). */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#define SP_UNIT_SUITE_ENTRY(name) Suite *name##_suite(void);
#include "suites.h"
#undef SP_UNIT_SUITE_ENTRY

extern bool sp_unit_nofork_requested;

static const struct {
    const char *name;
    Suite *(*make)(void);
} suites[] = {
#define SP_UNIT_SUITE_ENTRY(name) {#name, name##_suite},
#include "suites.h"
#undef SP_UNIT_SUITE_ENTRY
};
#define N_SUITES (sizeof suites / sizeof *suites)

/* Runs one suite in its own runner; the number of failed tests, or -1 when it ran none
 * (its suite_create() name is not its file's name, or CK_RUN_CASE matched no tcase). */
static int run_suite(size_t i)
{
    sp_unit_nofork_requested = false;
    SRunner *sr = srunner_create(suites[i].make());
    if (sp_unit_nofork_requested) srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_ENV); /* CK_VERBOSITY, default: the summary and each failure */
    int run = srunner_ntests_run(sr), failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    if (run == 0) {
        fprintf(stderr,
                "unit: suite %s ran no test: expected its suite_create(\"%s\") and a tcase "
                "matching CK_RUN_CASE (if set)\n",
                suites[i].name, suites[i].name);
        return -1;
    }
    return failed;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < N_SUITES; i++) puts(suites[i].name);
        return EXIT_SUCCESS;
    }
    if (argc > 1) {
        fprintf(stderr, "usage: %s [--list]   (CK_RUN_SUITE=<name> runs one suite)\n", argv[0]);
        return EXIT_FAILURE;
    }
    const char *only = getenv("CK_RUN_SUITE");
    if (only && *only) {
        for (size_t i = 0; i < N_SUITES; i++)
            if (strcmp(suites[i].name, only) == 0)
                return run_suite(i) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
        fprintf(stderr, "unit: no suite named '%s' (CK_RUN_SUITE); the suites are:", only);
        for (size_t i = 0; i < N_SUITES; i++) fprintf(stderr, " %s", suites[i].name);
        fputc('\n', stderr);
        return EXIT_FAILURE;
    }
    size_t bad = 0;
    for (size_t i = 0; i < N_SUITES; i++) {
        int r = run_suite(i);
        if (r != 0) {
            bad++;
            fprintf(stderr, "unit: FAIL suite %s (%d failed)\n", suites[i].name, r);
        }
    }
    printf("unit: %zu suites, %zu failed\n", N_SUITES, bad);
    return bad ? EXIT_FAILURE : EXIT_SUCCESS;
}
