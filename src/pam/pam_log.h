/*
 * pam_log.h
 *	  What pam_vatoken writes to syslog, and at which priority.
 */
#ifndef VTP_PAM_LOG_H
#define VTP_PAM_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include <security/pam_modules.h>

#include "pam_args.h"
#include "pam_result.h"

#define VTP_LOG_LINE_MAX 512

/*
 * Format the log line for a verdict into buf (pure).  user may be NULL;
 * detail (may be NULL) is appended for failures of the database.  Values that
 * come from outside (user, owner, name) are truncated and have control
 * characters replaced, so a client cannot forge log lines.  The token is not
 * a parameter: it cannot end up in the line.
 */
extern void vtp_format_verdict(char *buf, size_t buflen, const char *user,
							   const vtp_verdict *v, const vtp_result *r,
							   const char *detail);

/* Syslog priority of a verdict: LOG_DEBUG, LOG_NOTICE or LOG_ERR. */
extern int	vtp_verdict_priority(const vtp_verdict *v);

/* Whether a verdict is logged at all (successes only with debug). */
extern bool vtp_verdict_logged(const vtp_verdict *v, bool debug);

/* Log a verdict through pam_syslog. */
extern void vtp_log_verdict(pam_handle_t *pamh, const vtp_args *args,
							const char *user, const vtp_verdict *v,
							const vtp_result *r, const char *detail);

/*
 * Log at LOG_DEBUG, if args->debug, that vatoken_verify failed with sqlstate
 * and vatoken_validate answered instead.
 */
extern void vtp_log_fallback(pam_handle_t *pamh, const vtp_args *args,
							 const char *sqlstate);

/* Log a configuration error at LOG_ERR. */
extern void vtp_log_config(pam_handle_t *pamh, const char *msg);

/* Log msg at LOG_DEBUG if args->debug. */
extern void vtp_log_debug(pam_handle_t *pamh, const vtp_args *args,
						  const char *msg);

#endif							/* VTP_PAM_LOG_H */
