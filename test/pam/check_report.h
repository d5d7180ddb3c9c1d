/*
 * check_report.h
 *	  What the PAM module's Check programs print for test/pam/run.sh: one
 *	  "PASS tcase:test" or "FAIL tcase:test" line per test, in the order the
 *	  tests ran, then Check's summary line ("100%: Checks: N, ...") last.
 *
 * Register tests with ADD_TEST instead of tcase_add_test so that their
 * names are known; call check_report after srunner_run_all.
 */
#ifndef VTP_CHECK_REPORT_H
#define VTP_CHECK_REPORT_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#define VTP_MAX_TESTS 128

static const char *test_names[VTP_MAX_TESTS];
static int	ntest_names;

#define ADD_TEST(tc, fn) \
	do { \
		tcase_add_test(tc, fn); \
		if (ntest_names < VTP_MAX_TESTS) \
			test_names[ntest_names++] = #fn; \
	} while (0)

static void
check_report(SRunner *sr)
{
	TestResult **results = srunner_results(sr);
	int			n = srunner_ntests_run(sr);

	for (int i = 0; i < n; i++)
		printf("%s %s:%s\n", tr_rtype(results[i]) == CK_PASS ? "PASS" : "FAIL",
			   tr_tcname(results[i]), i < ntest_names ? test_names[i] : "?");
	free(results);
	srunner_print(sr, CK_NORMAL);
}

#endif							/* VTP_CHECK_REPORT_H */
