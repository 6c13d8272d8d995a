/* check_main: the main() that every test binary shares (check_main.c).
 *
 * A test file defines tc_test_suite() and no main of its own; the shared
 * main runs the suite in Check's fork mode from $CK_FORK (a process per
 * test unless CK_FORK=no) and exits 0 when every test passed, 1 when any
 * failed. */
#ifndef TCPCHAT_TEST_CHECK_MAIN_H
#define TCPCHAT_TEST_CHECK_MAIN_H

#include <check.h>

/* The suite of this binary, built once before anything runs. NULL when
 * none of its tests can run on this machine: the binary then exits 77,
 * which meson counts as skipped. Setup that fails may exit(1) here. */
Suite *tc_test_suite(void);

/* Has fn run once after the whole suite, in the runner's own process
 * (never in a test's forked child): the undo of what tc_test_suite set
 * up, such as a scratch directory. At most one; a second replaces it. */
void tc_test_after_run(void (*fn)(void));

#endif
