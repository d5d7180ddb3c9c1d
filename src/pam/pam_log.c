/*
 * pam_log.c
 *	  The log lines of pam_vatoken.
 *
 * Owns the wording and the priorities: successes at LOG_DEBUG and only with
 * the debug argument (nginx authenticates every request), refusals at
 * LOG_NOTICE, database and configuration trouble at LOG_ERR.  Every line goes
 * through pam_syslog(pamh, prio, "%s", line): no outside data is ever used as
 * a format string.
 */
#include "pam_log.h"

#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>

#define VTP_FIELD_MAX 64		/* longest user/owner/name shown */

/* Copy s into out (outlen >= 4) with control characters as '?', truncated. */
static void
sanitize(char *out, size_t outlen, const char *s)
{
	size_t		i;
	size_t		n = 0;

	if (s == NULL)
		s = "(none)";
	for (i = 0; s[i] != '\0' && n + 1 < outlen; i++)
	{
		unsigned char c = (unsigned char) s[i];

		out[n++] = (c < 0x20 || c == 0x7f) ? '?' : (char) c;
	}
	out[n] = '\0';
	if (s[i] != '\0' && n >= 3)
		memcpy(out + n - 3, "...", 3);
}

void
vtp_format_verdict(char *buf, size_t buflen, const char *user,
				   const vtp_verdict *v, const vtp_result *r,
				   const char *detail)
{
	char		u[VTP_FIELD_MAX + 1];
	char		owner[VTP_FIELD_MAX + 1];
	char		name[VTP_FIELD_MAX + 1];
	char		id[40];
	char		client[VTP_CLIENT_MAX + 80];

	sanitize(u, sizeof(u), user);
	switch (v->reason)
	{
		case VTP_R_ACCEPTED:
		case VTP_R_OWNER_MISMATCH:
			sanitize(owner, sizeof(owner), r->owner);
			sanitize(name, sizeof(name), r->name);
			snprintf(buf, buflen,
					 "user \"%s\": token %lld (\"%s\") of owner \"%s\" %s%s",
					 u, r->token_id, name, owner,
					 v->reason == VTP_R_ACCEPTED ? "" : "refused: ",
					 vtp_reason_name(v->reason));
			break;
		case VTP_R_UNAVAILABLE:
		case VTP_R_NOMEM:
		case VTP_R_CONFIG:
			snprintf(buf, buflen, "user \"%s\": %s%s%s", u,
					 vtp_reason_name(v->reason),
					 detail != NULL && detail[0] != '\0' ? ": " : "",
					 detail != NULL ? detail : "");
			break;
		case VTP_R_FORBIDDEN_CLIENT:
		case VTP_R_REVOKED:
		case VTP_R_DISABLED:
		case VTP_R_EXPIRED:
		case VTP_R_FORBIDDEN_SCOPE:
		case VTP_R_RATE_LIMITED:
			/* Numbers and inet_ntop's text only: nothing here to sanitize. */
			if (v->reason != VTP_R_FORBIDDEN_CLIENT)
				client[0] = '\0';
			else if (r->has_client)
				snprintf(client, sizeof(client), " (client %s)", r->client);
			else if (r->fallback[0] != '\0')
				snprintf(client, sizeof(client),
						 " (no client address: checked with vatoken_validate)");
			else
				snprintf(client, sizeof(client),
						 " (no client address: PAM_RHOST unset or not an IP address)");
			if (r->token_id > 0)
				snprintf(id, sizeof(id), ", token %lld", r->token_id);
			else
				id[0] = '\0';
			snprintf(buf, buflen, "user \"%s\": token refused: %s%s%s", u,
					 vtp_reason_name(v->reason), client, id);
			break;
		default:
			snprintf(buf, buflen, "user \"%s\": token refused: %s", u,
					 vtp_reason_name(v->reason));
			break;
	}
}

int
vtp_verdict_priority(const vtp_verdict *v)
{
	switch (v->reason)
	{
		case VTP_R_ACCEPTED:
			return LOG_DEBUG;
		case VTP_R_UNAVAILABLE:
		case VTP_R_NOMEM:
		case VTP_R_CONFIG:
			return LOG_ERR;
		default:
			return LOG_NOTICE;
	}
}

bool
vtp_verdict_logged(const vtp_verdict *v, bool debug)
{
	return v->reason != VTP_R_ACCEPTED || debug;
}

void
vtp_log_verdict(pam_handle_t *pamh, const vtp_args *args, const char *user,
				const vtp_verdict *v, const vtp_result *r, const char *detail)
{
	char		line[VTP_LOG_LINE_MAX];

	if (!vtp_verdict_logged(v, args->debug))
		return;
	vtp_format_verdict(line, sizeof(line), user, v, r, detail);
	pam_syslog(pamh, vtp_verdict_priority(v), "%s", line);
}

void
vtp_log_fallback(pam_handle_t *pamh, const vtp_args *args, const char *sqlstate)
{
	if (args->debug)
		pam_syslog(pamh, LOG_DEBUG,
				   "vatoken_verify unavailable (SQLSTATE %.5s); checked with vatoken_validate "
				   "(no scope, no client)", sqlstate);
}

void
vtp_log_config(pam_handle_t *pamh, const char *msg)
{
	pam_syslog(pamh, LOG_ERR, "configuration error: %s", msg);
}

void
vtp_log_debug(pam_handle_t *pamh, const vtp_args *args, const char *msg)
{
	if (args->debug)
		pam_syslog(pamh, LOG_DEBUG, "%s", msg);
}
