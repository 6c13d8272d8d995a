/* check_main: runs the suite of the test file it is linked with
 * (tc_test_suite()) and turns the outcome into the exit status meson
 * reads: 0 all passed, 1 some failed, 77 nothing to run here. */
#include "check_main.h"

#include <stdlib.h>

#define EXIT_SKIPPED 77 /* meson's "skipped" */

/* What tc_test_after_run registered; main's thread only. */
static void (*after_run)(void);

void
tc_test_after_run(void (*fn)(void))
{
	after_run = fn;
}

int
main(void)
{
	Suite *s = tc_test_suite();
	SRunner *sr;
	int failed;

	if (s == NULL)
		return EXIT_SKIPPED;
	sr = srunner_create(s);
	/* The fork mode comes from $CK_FORK, the verbosity from
	 * $CK_VERBOSITY. */
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (after_run != NULL)
		after_run();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
