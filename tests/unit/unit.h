/* unit.h: what every unit test file includes. All of tests/unit/ is one Check binary,
 * tests/unit/unit; each test_<name>.c defines one suite with SP_UNIT_SUITE(<name>) and is
 * one line of UNIT_TEST_SOURCES in Makefile.am (the suite list, tests/unit/suites.h, is
 * generated from it). See CONTRIBUTING.md, "Unit tests". */
#ifndef SP_UNIT_H
#define SP_UNIT_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

/* Defines the suite function of a test file: `SP_UNIT_SUITE(ring) { Suite *s =
 * suite_create("ring"); ...; return s; }`. The name is the file's (test_ring.c) and the
 * suite_create() name: CK_RUN_SUITE=ring selects it. The function runs in the harness's
 * process before any test forks: one-time set-up of the process goes there. */
#define SP_UNIT_SUITE(name)                                                                        \
    Suite *name##_suite(void);                                                                     \
    Suite *name##_suite(void)

/* Called from a suite function: run this suite's tests in the harness's own process
 * (CK_NOFORK), for a test that forks by itself and must not be a grandchild of Check. */
void sp_unit_nofork(void);

/* A fresh private directory (mkdtemp under $TMPDIR or /tmp), its path in a static buffer
 * until the next call; aborts the test when it cannot be made. */
const char *sp_unit_tmpdir(void);

/* Removes a directory made by sp_unit_tmpdir and everything in it, by its exact path
 * (depth-first, no symlink followed). */
void sp_unit_rmtree(const char *path);

/* Busy for `ms` milliseconds of this thread's CPU time (not wall time: a loaded machine
 * makes it slower, not shorter). */
void sp_unit_spin_cpu_ms(long ms);

/* The whole file at `path`, NUL-terminated, malloc'd (free it); NULL when unreadable.
 * *len (if not NULL) gets its length. */
char *sp_unit_read_file(const char *path, size_t *len);

#endif
