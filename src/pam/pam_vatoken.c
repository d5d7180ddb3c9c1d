/*
 * pam_vatoken.c
 *	  PAM entry points of pam_vatoken: authenticate a login whose password is
 *	  a vatoken API token.
 *
 * Owns only the PAM plumbing: reading the user, the token and PAM_RHOST (the
 * client, for a token with an allow-list) from the PAM handle, exporting
 * VATOKEN_ID/VATOKEN_OWNER/VATOKEN_NAME, and remembering the outcome for
 * pam_sm_acct_mgmt with pam_set_data.  Argument parsing (pam_args.c), the
 * client address (pam_client.c), the database call (pam_check.c), the
 * mapping to PAM codes (pam_result.c) and the log lines (pam_log.c) live
 * elsewhere.
 *
 * The token is the PAM_AUTHTOK item: it belongs to libpam, which wipes it in
 * pam_end.  This module never copies it, logs it or exports it.
 *
 * pam_sm_acct_mgmt judges only a successful authentication by this module on
 * the same handle; after a failed or absent one it returns PAM_IGNORE, so
 * that other modules (a password in a "token or password" stack) decide.
 * A configuration error in either entry point forgets any earlier outcome.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "pam_args.h"
#include "pam_check.h"
#include "pam_log.h"
#include "pam_result.h"
#include "vt_token.h"

#define VTP_DATA_KEY	"pam_vatoken_auth_result"
#define VTP_ERR_MAX		256

/* What authenticate leaves behind for acct_mgmt. */
typedef struct vtp_saved
{
	int			pam_code;
	char	   *user;
} vtp_saved;

static const char *const vtp_env_names[] = {"VATOKEN_ID", "VATOKEN_OWNER", "VATOKEN_NAME"};

static void
saved_cleanup(pam_handle_t *pamh, void *data, int error_status)
{
	vtp_saved  *s = data;

	(void) pamh;
	(void) error_status;
	if (s != NULL)
	{
		free(s->user);
		free(s);
	}
}

/*
 * Leave the outcome of this authentication for acct_mgmt, replacing any
 * earlier one.  If that fails, at least drop the earlier one, so that
 * acct_mgmt finds nothing rather than an older success.
 */
static int
save_outcome(pam_handle_t *pamh, int pam_code, const char *user)
{
	vtp_saved  *s = malloc(sizeof(*s));

	if (s != NULL)
	{
		s->pam_code = pam_code;
		s->user = strdup(user != NULL ? user : "");
		if (s->user != NULL &&
			pam_set_data(pamh, VTP_DATA_KEY, s, saved_cleanup) == PAM_SUCCESS)
			return PAM_SUCCESS;
		saved_cleanup(pamh, s, 0);
	}
	(void) pam_set_data(pamh, VTP_DATA_KEY, NULL, NULL);
	return PAM_BUF_ERR;
}

/* Remove what an earlier authenticate on this handle may have exported. */
static void
unexport(pam_handle_t *pamh)
{
	size_t		i;

	for (i = 0; i < sizeof(vtp_env_names) / sizeof(vtp_env_names[0]); i++)
		if (pam_getenv(pamh, vtp_env_names[i]) != NULL)
			(void) pam_putenv(pamh, vtp_env_names[i]);
}

/* Export name=value, control characters of value shown as '?'. */
static int
export_one(pam_handle_t *pamh, const char *name, const char *value)
{
	size_t		len = strlen(name) + strlen(value) + 2;
	char	   *nv = malloc(len);
	int			rc;

	if (nv == NULL)
		return PAM_BUF_ERR;
	snprintf(nv, len, "%s=%s", name, value);
	vtp_export_clean(nv + strlen(name) + 1);
	rc = pam_putenv(pamh, nv);
	free(nv);
	if (rc == PAM_SUCCESS || rc == PAM_BUF_ERR)
		return rc;
	return PAM_SERVICE_ERR;
}

static int
export_result(pam_handle_t *pamh, const vtp_result *r)
{
	char		id[24];
	int			rc;

	snprintf(id, sizeof(id), "%lld", r->token_id);
	rc = export_one(pamh, vtp_env_names[0], id);
	if (rc == PAM_SUCCESS)
		rc = export_one(pamh, vtp_env_names[1], r->owner);
	if (rc == PAM_SUCCESS)
		rc = export_one(pamh, vtp_env_names[2], r->name);
	if (rc != PAM_SUCCESS)
		unexport(pamh);
	return rc;
}

/*
 * The authentication proper, once the arguments are known to be good.  Sets
 * *user (NULL if PAM could not tell it) for the caller to save the outcome.
 */
static int
authenticate(pam_handle_t *pamh, const vtp_args *args, const char **user)
{
	const char *token = NULL;
	const void *rhost = NULL;
	char		detail[VTP_ERR_MAX] = "";
	vtp_result	r;
	vtp_verdict v;
	vt_token_status syntax;
	int			rc;

	unexport(pamh);

	*user = NULL;
	rc = pam_get_user(pamh, user, NULL);
	if (rc != PAM_SUCCESS || *user == NULL)
	{
		pam_syslog(pamh, LOG_NOTICE, "cannot determine user: %s", pam_strerror(pamh, rc));
		*user = NULL;
		return vtp_map_item_error(rc);
	}
	if (!vtp_user_ok(*user))
	{
		/* Neither asked for a token nor shown to the database. */
		vtp_result_init(&r);
		v.pam_code = PAM_AUTH_ERR;
		v.reason = VTP_R_BAD_USER;
		vtp_log_verdict(pamh, args, *user, &v, &r, NULL);
		return v.pam_code;
	}
	rc = pam_get_authtok(pamh, PAM_AUTHTOK, &token, NULL);
	if (rc != PAM_SUCCESS || token == NULL)
	{
		vtp_log_debug(pamh, args, "no token obtained");
		return vtp_map_item_error(rc);
	}

	vtp_result_init(&r);
	syntax = vt_token_check(token, strlen(token));
	if (syntax != VT_TOKEN_OK)
	{
		r.outcome = VTP_OUT_MALFORMED_LOCAL;
		vtp_log_debug(pamh, args, vt_token_status_name(syntax));
	}
	else
	{
		/* The client: only a literal address counts (pam_client.c). */
		if (pam_get_item(pamh, PAM_RHOST, &rhost) != PAM_SUCCESS)
			rhost = NULL;
		(void) vtp_check_token(args, token, rhost, &r, detail, sizeof(detail));
		if (r.fallback[0] != '\0')
			vtp_log_fallback(pamh, args, r.fallback);
	}

	v = vtp_decide(&r, args->match, *user);
	vtp_log_verdict(pamh, args, *user, &v, &r, detail);
	if (v.pam_code == PAM_SUCCESS)
		v.pam_code = export_result(pamh, &r);
	vtp_result_clear(&r);
	return v.pam_code;
}

/*
 * Parse the arguments.  On a configuration error, also forget what an
 * earlier authentication left on this handle: a broken line must not let
 * acct_mgmt or the session see an older success.
 */
static int
parse_args(pam_handle_t *pamh, int argc, const char **argv, vtp_args *args)
{
	char		err[VTP_ERR_MAX];
	int			rc = vtp_args_parse(argc, argv, args, err, sizeof(err));

	if (rc != PAM_SUCCESS)
	{
		vtp_log_config(pamh, err);
		(void) pam_set_data(pamh, VTP_DATA_KEY, NULL, NULL);
		unexport(pamh);
	}
	return rc;
}

PAM_EXTERN int
pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	vtp_args	args;
	int			rc;

	const char *user;
	int			saved;

	(void) flags;
	rc = parse_args(pamh, argc, argv, &args);
	if (rc != PAM_SUCCESS)
		return rc;
	rc = authenticate(pamh, &args, &user);

	/*
	 * Every authentication leaves its outcome for acct_mgmt, replacing an
	 * earlier one on this handle.  acct_mgmt must never agree with a success
	 * it cannot see: if saving fails after one, fail closed.
	 */
	saved = save_outcome(pamh, rc, user);
	if (saved != PAM_SUCCESS && rc == PAM_SUCCESS)
	{
		unexport(pamh);
		return saved;
	}
	return rc;
}

PAM_EXTERN int
pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void) pamh;
	(void) flags;
	(void) argc;
	(void) argv;
	return PAM_SUCCESS;
}

PAM_EXTERN int
pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	vtp_args	args;
	const void *data = NULL;
	const void *cur_user = NULL;
	const vtp_saved *s;
	int			rc;

	(void) flags;
	rc = parse_args(pamh, argc, argv, &args);
	if (rc != PAM_SUCCESS)
		return PAM_PERM_DENIED;		/* PAM_SERVICE_ERR is not an account answer */
	if (pam_get_data(pamh, VTP_DATA_KEY, &data) != PAM_SUCCESS)
		data = NULL;
	if (pam_get_item(pamh, PAM_USER, &cur_user) != PAM_SUCCESS)
		cur_user = NULL;
	s = data;
	rc = vtp_acct_decide(s != NULL, s != NULL ? s->pam_code : PAM_AUTH_ERR,
						 s != NULL ? s->user : NULL, cur_user);
	if (rc != PAM_SUCCESS)
		vtp_log_debug(pamh, &args, rc == PAM_IGNORE ? "acct_mgmt: no successful token "
					  "authentication on this handle" : pam_strerror(pamh, rc));
	return rc;
}
