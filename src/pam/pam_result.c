/*
 * pam_result.c
 *	  Interpretation of the vatoken_verify/vatoken_validate reply and the
 *	  mapping of every
 *	  outcome to an exact PAM return code.
 *
 * Owns the table below; a change of policy (which failure is which code)
 * happens here and nowhere else.  Also owns the redaction of the token from
 * server messages before they are logged (vtp_redact, vtp_error_line).
 *
 *	  outcome                          reason            PAM code
 *	  valid, match=any                 accepted          PAM_SUCCESS
 *	  valid, match=owner, user=owner   accepted          PAM_SUCCESS
 *	  valid, match=owner, user!=owner  owner mismatch    PAM_AUTH_ERR
 *	  malformed (local or database)    malformed         PAM_AUTH_ERR
 *	  unknown / other "not valid"      unknown/rejected  PAM_AUTH_ERR
 *	  revoked, disabled, expired       same name         PAM_AUTH_ERR
 *	  forbidden_client/_scope, stale   same name         PAM_AUTH_ERR
 *	  no database, query error, bad reply  unavailable   PAM_AUTHINFO_UNAVAIL
 *	  out of memory                    nomem             PAM_BUF_ERR
 *	  settings refused (TCP, service)  config            PAM_SERVICE_ERR
 *	  user with a control character    bad user          PAM_AUTH_ERR
 */
#include "pam_result.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_modules.h>

void
vtp_result_init(vtp_result *r)
{
	r->outcome = VTP_OUT_UNAVAILABLE;
	r->token_id = 0;
	r->owner = NULL;
	r->name = NULL;
	r->has_client = false;
	r->client[0] = '\0';
	r->fallback[0] = '\0';
}

void
vtp_result_clear(vtp_result *r)
{
	free(r->owner);
	free(r->name);
	r->owner = NULL;
	r->name = NULL;
	r->outcome = VTP_OUT_UNAVAILABLE;
	r->token_id = 0;
	/* how the check was made (client, fallback) is kept */
}

/* Parse a positive decimal bigint; false for anything else. */
static bool
parse_id(const char *s, long long *out)
{
	char	   *end;
	long long	v;

	if (s == NULL || s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		return false;
	*out = v;
	return true;
}

static vtp_outcome
set_outcome(vtp_result *r, vtp_outcome o)
{
	r->outcome = o;
	return o;
}

/* The 2.0 statuses of a token the database found but refuses. */
static const struct
{
	const char *status;
	vtp_outcome outcome;
}			policy_statuses[] = {
	{"revoked", VTP_OUT_REVOKED},
	{"disabled", VTP_OUT_DISABLED},
	{"expired", VTP_OUT_EXPIRED},
	{"forbidden_client", VTP_OUT_FORBIDDEN_CLIENT},
	{"forbidden_scope", VTP_OUT_FORBIDDEN_SCOPE},
	{"rate_limited", VTP_OUT_RATE_LIMITED},
};

vtp_outcome
vtp_result_from_row(int ntuples, int nfields, const char *const *values,
					vtp_result *r)
{
	const char *valid;
	const char *status;
	long long	id;

	vtp_result_clear(r);
	if (ntuples != 1 || nfields != VTP_RESULT_COLUMNS || values == NULL)
		return set_outcome(r, VTP_OUT_UNAVAILABLE);

	valid = values[0];
	status = values[1];
	if (valid == NULL || status == NULL)
		return set_outcome(r, VTP_OUT_UNAVAILABLE);

	if (strcmp(valid, "f") == 0)
	{
		/* Not valid: authoritative, whatever the status says. */
		if (strcmp(status, "malformed") == 0)
			return set_outcome(r, VTP_OUT_MALFORMED);
		if (strcmp(status, "unknown") == 0)
			return set_outcome(r, VTP_OUT_UNKNOWN);
		if (strcmp(status, "valid") == 0)
			return set_outcome(r, VTP_OUT_UNAVAILABLE);		/* contradiction */
		if (strcmp(status, "stale") == 0)
			return set_outcome(r, VTP_OUT_STALE);
		for (size_t i = 0; i < sizeof(policy_statuses) / sizeof(policy_statuses[0]); i++)
			if (strcmp(status, policy_statuses[i].status) == 0)
			{
				/* Its id, for the log only; a bad one is left out. */
				if (!parse_id(values[2], &id))
					id = 0;
				r->token_id = id;
				return set_outcome(r, policy_statuses[i].outcome);
			}
		return set_outcome(r, VTP_OUT_REJECTED);
	}
	if (strcmp(valid, "t") != 0 || strcmp(status, "valid") != 0)
		return set_outcome(r, VTP_OUT_UNAVAILABLE);
	if (!parse_id(values[2], &id) || values[3] == NULL || values[3][0] == '\0')
		return set_outcome(r, VTP_OUT_UNAVAILABLE);

	r->owner = strdup(values[3]);
	r->name = strdup(values[4] != NULL ? values[4] : "");
	if (r->owner == NULL || r->name == NULL)
	{
		vtp_result_clear(r);
		return set_outcome(r, VTP_OUT_NOMEM);
	}
	r->token_id = id;
	return set_outcome(r, VTP_OUT_VALID);
}

static vtp_verdict
verdict(int code, vtp_reason reason)
{
	vtp_verdict v;

	v.pam_code = code;
	v.reason = reason;
	return v;
}

bool
vtp_user_ok(const char *user)
{
	const unsigned char *p;

	if (user == NULL || user[0] == '\0')
		return false;
	for (p = (const unsigned char *) user; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

void
vtp_export_clean(char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		if ((unsigned char) *s < 0x20 || *s == 0x7f)
			*s = '?';
}

vtp_verdict
vtp_decide(const vtp_result *r, vtp_match match, const char *user)
{
	if (r->outcome == VTP_OUT_CONFIG)
		return verdict(PAM_SERVICE_ERR, VTP_R_CONFIG);
	switch (r->outcome)
	{
		case VTP_OUT_VALID:
			if (r->owner == NULL)
				return verdict(PAM_AUTHINFO_UNAVAIL, VTP_R_UNAVAILABLE);
			if (match == VTP_MATCH_ANY)
				return verdict(PAM_SUCCESS, VTP_R_ACCEPTED);
			if (user != NULL && strcmp(user, r->owner) == 0)
				return verdict(PAM_SUCCESS, VTP_R_ACCEPTED);
			return verdict(PAM_AUTH_ERR, VTP_R_OWNER_MISMATCH);
		case VTP_OUT_MALFORMED_LOCAL:
			return verdict(PAM_AUTH_ERR, VTP_R_MALFORMED_LOCAL);
		case VTP_OUT_MALFORMED:
			return verdict(PAM_AUTH_ERR, VTP_R_MALFORMED);
		case VTP_OUT_UNKNOWN:
			return verdict(PAM_AUTH_ERR, VTP_R_UNKNOWN);
		case VTP_OUT_REVOKED:
			return verdict(PAM_AUTH_ERR, VTP_R_REVOKED);
		case VTP_OUT_DISABLED:
			return verdict(PAM_AUTH_ERR, VTP_R_DISABLED);
		case VTP_OUT_EXPIRED:
			return verdict(PAM_AUTH_ERR, VTP_R_EXPIRED);
		case VTP_OUT_FORBIDDEN_CLIENT:
			return verdict(PAM_AUTH_ERR, VTP_R_FORBIDDEN_CLIENT);
		case VTP_OUT_FORBIDDEN_SCOPE:
			return verdict(PAM_AUTH_ERR, VTP_R_FORBIDDEN_SCOPE);
		case VTP_OUT_RATE_LIMITED:
			return verdict(PAM_AUTH_ERR, VTP_R_RATE_LIMITED);
		case VTP_OUT_STALE:
			return verdict(PAM_AUTH_ERR, VTP_R_STALE);
		case VTP_OUT_REJECTED:
			return verdict(PAM_AUTH_ERR, VTP_R_REJECTED);
		case VTP_OUT_NOMEM:
			return verdict(PAM_BUF_ERR, VTP_R_NOMEM);
		case VTP_OUT_CONFIG:
		case VTP_OUT_UNAVAILABLE:
			break;
	}
	return verdict(PAM_AUTHINFO_UNAVAIL, VTP_R_UNAVAILABLE);
}

int
vtp_acct_decide(bool have_auth, int auth_code, const char *auth_user,
				const char *cur_user)
{
	if (!have_auth || auth_code != PAM_SUCCESS)
		return PAM_IGNORE;
	/* The account decision is about the user who authenticated. */
	if (auth_user == NULL || cur_user == NULL || strcmp(auth_user, cur_user) != 0)
		return PAM_AUTH_ERR;
	return PAM_SUCCESS;
}

int
vtp_map_item_error(int rc)
{
	switch (rc)
	{
		case PAM_BUF_ERR:
			return PAM_BUF_ERR;
		case PAM_CONV_AGAIN:
		case PAM_INCOMPLETE:
			return PAM_INCOMPLETE;
		default:
			return PAM_AUTH_ERR;
	}
}

const char *
vtp_reason_name(vtp_reason r)
{
	switch (r)
	{
		case VTP_R_ACCEPTED:
			return "accepted";
		case VTP_R_MALFORMED_LOCAL:
			return "malformed token (local check)";
		case VTP_R_MALFORMED:
			return "malformed token";
		case VTP_R_UNKNOWN:
			return "unknown token";
		case VTP_R_REVOKED:
			return "revoked";
		case VTP_R_DISABLED:
			return "disabled";
		case VTP_R_EXPIRED:
			return "expired";
		case VTP_R_FORBIDDEN_CLIENT:
			return "forbidden_client";
		case VTP_R_FORBIDDEN_SCOPE:
			return "forbidden_scope";
		case VTP_R_RATE_LIMITED:
			return "rate_limited";
		case VTP_R_STALE:
			return "stale";
		case VTP_R_REJECTED:
			return "token rejected";
		case VTP_R_OWNER_MISMATCH:
			return "token owner does not match user";
		case VTP_R_UNAVAILABLE:
			return "token database unavailable";
		case VTP_R_NOMEM:
			return "out of memory";
		case VTP_R_CONFIG:
			return "configuration error";
		case VTP_R_BAD_USER:
			return "user name with a control character or empty";
	}
	return "?";
}

void
vtp_redact(char *msg, const char *secret)
{
	size_t		n;
	char	   *p;

	if (msg == NULL || secret == NULL || secret[0] == '\0')
		return;
	n = strlen(secret);
	p = msg;
	while ((p = strstr(p, secret)) != NULL)
	{
		memset(p, '*', n);
		p += n;
	}
}

void
vtp_error_line(char *err, size_t errlen, const char *prefix, const char *msg,
			   const char *secret)
{
	size_t		len;
	char	   *line;
	char	   *p;

	if (errlen == 0)
		return;
	if (msg == NULL)
		msg = "";
	/* Redact the whole message first: a cut could split the secret. */
	len = strlen(prefix) + strlen(msg) + 1;
	line = malloc(len);
	if (line == NULL)
	{
		snprintf(err, errlen, "%s(message withheld: out of memory)", prefix);
		return;
	}
	snprintf(line, len, "%s%s", prefix, msg);
	vtp_redact(line, secret);
	for (p = line; *p != '\0'; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			*p = ' ';
	while (p > line && p[-1] == ' ')
		*--p = '\0';
	snprintf(err, errlen, "%s", line);
	free(line);
}
