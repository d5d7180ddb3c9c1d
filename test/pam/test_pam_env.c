/*
 * test_pam_env.c
 *	  Check integration test of pam_vatoken as a PAM application sees it:
 *	  exact return codes of pam_authenticate and pam_acct_mgmt, and the
 *	  environment exported with pam_putenv (read back with pam_getenvlist).
 *
 * Run by test/pam/run.sh under pam_wrapper against a throwaway database, with
 *	  VTP_SERVICE		PAM service (pam_vatoken with match=owner)
 *	  VTP_USER			owner of VTP_TOKEN
 *	  VTP_TOKEN, VTP_TOKEN_ID, VTP_TOKEN_NAME   a live token and its row
 *	  VTP_UNKNOWN_TOKEN	a well-formed token that was never issued
 * Tests run in this process (CK_NOFORK): pam_wrapper keeps its state in the
 * process that loaded it.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_appl.h>

#include "check_report.h"

static const char *service;
static const char *user;
static const char *token;
static const char *token_id;
static const char *token_name;
static const char *unknown_token;

/* What the conversation answers to a hidden prompt. */
static const char *conv_answer;
static int	conv_calls;

static int
conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data)
{
	struct pam_response *r;
	int			i;

	(void) data;
	conv_calls++;
	r = calloc((size_t) n, sizeof(*r));
	if (r == NULL)
		return PAM_BUF_ERR;
	for (i = 0; i < n; i++)
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF && conv_answer != NULL)
			r[i].resp = strdup(conv_answer);
	*resp = r;
	return PAM_SUCCESS;
}

static pam_handle_t *
start(const char *answer)
{
	static struct pam_conv c = {conv, NULL};
	pam_handle_t *pamh = NULL;

	conv_answer = answer;
	conv_calls = 0;
	ck_assert_int_eq(pam_start(service, user, &c, &pamh), PAM_SUCCESS);
	return pamh;
}

/* Value of name in the PAM environment, via pam_getenvlist; malloc'd. */
static char *
env_value(pam_handle_t *pamh, const char *name, bool *token_seen)
{
	char	  **list = pam_getenvlist(pamh);
	char	   *found = NULL;
	size_t		n = strlen(name);
	int			i;

	ck_assert_ptr_nonnull(list);
	for (i = 0; list[i] != NULL; i++)
	{
		if (token_seen != NULL && strstr(list[i], token) != NULL)
			*token_seen = true;
		if (found == NULL && strncmp(list[i], name, n) == 0 && list[i][n] == '=')
			found = strdup(list[i] + n + 1);
		free(list[i]);
	}
	free(list);
	return found;
}

START_TEST(success_exports_environment)
{
	pam_handle_t *pamh = start(token);
	bool		token_seen = false;
	char	   *v;

	ck_assert_int_eq(pam_authenticate(pamh, 0), PAM_SUCCESS);
	ck_assert_int_eq(conv_calls, 1);
	ck_assert_int_eq(pam_acct_mgmt(pamh, 0), PAM_SUCCESS);
	ck_assert_int_eq(pam_setcred(pamh, PAM_ESTABLISH_CRED), PAM_SUCCESS);

	v = env_value(pamh, "VATOKEN_ID", &token_seen);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, token_id);
	free(v);
	v = env_value(pamh, "VATOKEN_OWNER", NULL);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, user);
	free(v);
	v = env_value(pamh, "VATOKEN_NAME", NULL);
	ck_assert_ptr_nonnull(v);
	ck_assert_str_eq(v, token_name);
	free(v);
	ck_assert_msg(!token_seen, "the token appears in the PAM environment");
	pam_end(pamh, PAM_SUCCESS);
}
END_TEST

START_TEST(acct_without_authenticate)
{
	pam_handle_t *pamh = start(token);

	/* The module has no opinion; a stack of only it fails closed. */
	ck_assert_int_eq(pam_acct_mgmt(pamh, 0), PAM_PERM_DENIED);
	ck_assert_int_eq(conv_calls, 0);
	pam_end(pamh, PAM_SUCCESS);
}
END_TEST

START_TEST(unknown_token_exports_nothing)
{
	pam_handle_t *pamh = start(unknown_token);
	char	   *v;

	ck_assert_int_eq(pam_authenticate(pamh, 0), PAM_AUTH_ERR);
	ck_assert_int_eq(pam_acct_mgmt(pamh, 0), PAM_PERM_DENIED);
	v = env_value(pamh, "VATOKEN_ID", NULL);
	ck_assert_ptr_null(v);
	pam_end(pamh, PAM_AUTH_ERR);
}
END_TEST

START_TEST(malformed_token)
{
	pam_handle_t *pamh = start("not-a-token");

	ck_assert_int_eq(pam_authenticate(pamh, 0), PAM_AUTH_ERR);
	ck_assert_int_eq(pam_acct_mgmt(pamh, 0), PAM_PERM_DENIED);
	pam_end(pamh, PAM_AUTH_ERR);
}
END_TEST

START_TEST(failed_reauthentication_clears_environment)
{
	pam_handle_t *pamh = start(token);
	char	   *v;

	ck_assert_int_eq(pam_authenticate(pamh, 0), PAM_SUCCESS);
	v = env_value(pamh, "VATOKEN_ID", NULL);
	ck_assert_ptr_nonnull(v);
	free(v);
	/* Same handle, same token, another user: owner mismatch this time. */
	ck_assert_int_eq(pam_set_item(pamh, PAM_USER, "mallory"), PAM_SUCCESS);
	ck_assert_int_eq(pam_authenticate(pamh, 0), PAM_AUTH_ERR);
	v = env_value(pamh, "VATOKEN_ID", NULL);
	ck_assert_ptr_null(v);
	v = env_value(pamh, "VATOKEN_OWNER", NULL);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(pam_acct_mgmt(pamh, 0), PAM_PERM_DENIED);
	pam_end(pamh, PAM_AUTH_ERR);
}
END_TEST

START_TEST(acct_refuses_changed_user)
{
	pam_handle_t *pamh = start(token);

	ck_assert_int_eq(pam_authenticate(pamh, 0), PAM_SUCCESS);
	ck_assert_int_eq(pam_set_item(pamh, PAM_USER, "mallory"), PAM_SUCCESS);
	ck_assert_int_eq(pam_acct_mgmt(pamh, 0), PAM_AUTH_ERR);
	pam_end(pamh, PAM_AUTH_ERR);
}
END_TEST

/*
 * A later authenticate that cannot even learn the user must not leave an
 * earlier success on the handle for acct_mgmt to agree with.
 */
START_TEST(acct_forgets_success_after_failed_user_lookup)
{
	pam_handle_t *pamh = start(token);

	ck_assert_int_eq(pam_authenticate(pamh, 0), PAM_SUCCESS);
	/* No user, and the conversation answers no username prompt. */
	ck_assert_int_eq(pam_set_item(pamh, PAM_USER, NULL), PAM_SUCCESS);
	ck_assert_int_eq(pam_authenticate(pamh, 0), PAM_AUTH_ERR);
	ck_assert_int_eq(pam_set_item(pamh, PAM_USER, user), PAM_SUCCESS);
	ck_assert_int_eq(pam_acct_mgmt(pamh, 0), PAM_PERM_DENIED);
	pam_end(pamh, PAM_AUTH_ERR);
}
END_TEST

static const char *
need(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || v[0] == '\0')
	{
		fprintf(stderr, "test_pam_env: %s is not set (run me from test/pam/run.sh)\n", name);
		exit(2);
	}
	return v;
}

int
main(void)
{
	Suite	   *s = suite_create("pam_vatoken_env");
	TCase	   *tc = tcase_create("env");
	SRunner    *sr;
	int			failed;

	service = need("VTP_SERVICE");
	user = need("VTP_USER");
	token = need("VTP_TOKEN");
	token_id = need("VTP_TOKEN_ID");
	token_name = need("VTP_TOKEN_NAME");
	unknown_token = need("VTP_UNKNOWN_TOKEN");

	tcase_set_timeout(tc, 30);
	ADD_TEST(tc, success_exports_environment);
	ADD_TEST(tc, acct_without_authenticate);
	ADD_TEST(tc, unknown_token_exports_nothing);
	ADD_TEST(tc, malformed_token);
	ADD_TEST(tc, failed_reauthentication_clears_environment);
	ADD_TEST(tc, acct_refuses_changed_user);
	ADD_TEST(tc, acct_forgets_success_after_failed_user_lookup);
	suite_add_tcase(s, tc);

	sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_SILENT);
	check_report(sr);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
