/*
 * pam_result.h
 *	  What a token check found, and how that maps to PAM return codes.
 *
 * Everything here is pure: it reads values, never a PAM handle, a socket or
 * the clock, so the whole mapping is covered by unit tests.
 */
#ifndef VTP_PAM_RESULT_H
#define VTP_PAM_RESULT_H

#include <stdbool.h>
#include <stddef.h>

#include "pam_args.h"
#include "pam_client.h"

/* What the check of one token found. */
typedef enum vtp_outcome
{
	VTP_OUT_VALID = 0,			/* the database says valid */
	VTP_OUT_MALFORMED_LOCAL,	/* failed vt_token_check; database not asked */
	VTP_OUT_MALFORMED,			/* the database says malformed */
	VTP_OUT_UNKNOWN,			/* the database says unknown */
	VTP_OUT_REVOKED,			/* 2.0 statuses, each as the database says */
	VTP_OUT_DISABLED,
	VTP_OUT_EXPIRED,
	VTP_OUT_FORBIDDEN_CLIENT,
	VTP_OUT_FORBIDDEN_SCOPE,
	VTP_OUT_RATE_LIMITED,		/* the token's rate window is full */
	VTP_OUT_STALE,				/* a hot standby whose data may be too old */
	VTP_OUT_REJECTED,			/* not valid, with a status this module does not know */
	VTP_OUT_UNAVAILABLE,		/* no connection, query failed, or a broken reply */
	VTP_OUT_NOMEM,				/* out of memory */
	VTP_OUT_CONFIG				/* connection settings refused; database not asked */
} vtp_outcome;

/* Room for a SQLSTATE, NUL included. */
#define VTP_SQLSTATE_LEN 6

/* The reply of vatoken_verify (or vatoken_validate), copied out of libpq. */
typedef struct vtp_result
{
	vtp_outcome outcome;
	long long	token_id;		/* > 0 when VALID; when the database named
								 * the token of a revoked, disabled, expired
								 * or forbidden one, its id (for the log);
								 * else 0 */
	char	   *owner;			/* malloc'd, NULL unless VALID */
	char	   *name;			/* malloc'd, NULL unless VALID */
	/* How the check was made (set by pam_check.c, for the log): */
	bool		has_client;		/* a client address was sent */
	char		client[VTP_CLIENT_MAX];	/* that address, canonical; else "" */
	char		fallback[VTP_SQLSTATE_LEN];	/* SQLSTATE of vatoken_verify when
											 * vatoken_validate answered
											 * instead; else "" */
} vtp_result;

/* Why authentication ended as it did; one PAM code per reason. */
typedef enum vtp_reason
{
	VTP_R_ACCEPTED = 0,
	VTP_R_MALFORMED_LOCAL,
	VTP_R_MALFORMED,
	VTP_R_UNKNOWN,
	VTP_R_REVOKED,
	VTP_R_DISABLED,
	VTP_R_EXPIRED,
	VTP_R_FORBIDDEN_CLIENT,
	VTP_R_FORBIDDEN_SCOPE,
	VTP_R_RATE_LIMITED,
	VTP_R_STALE,
	VTP_R_REJECTED,
	VTP_R_OWNER_MISMATCH,
	VTP_R_UNAVAILABLE,
	VTP_R_NOMEM,
	VTP_R_CONFIG,
	VTP_R_BAD_USER
} vtp_reason;

typedef struct vtp_verdict
{
	int			pam_code;
	vtp_reason	reason;
} vtp_verdict;

#define VTP_RESULT_COLUMNS 5	/* valid, status, token_id, owner, name */

/* Set every field to "nothing found yet" (outcome UNAVAILABLE). */
extern void vtp_result_init(vtp_result *r);

/*
 * Free owner and name and reset outcome and token_id; keeps how the check was
 * made (has_client, client, fallback).
 */
extern void vtp_result_clear(vtp_result *r);

/*
 * Interpret the reply of
 *	 SELECT valid, status, token_id, owner, name FROM vatoken_verify($1, $2, $3)
 * (or of vatoken_validate($1), which has the same first five columns)
 * given as ntuples rows of nfields text values (values[i] NULL for SQL NULL;
 * only the first row is read).  Anything that does not match the contract
 * (one row, five columns, valid = 't' exactly when status = 'valid', a
 * positive id and an owner for a valid token) is VTP_OUT_UNAVAILABLE: the
 * module fails closed.  Sets r->outcome and returns it.
 */
extern vtp_outcome vtp_result_from_row(int ntuples, int nfields,
									   const char *const *values,
									   vtp_result *r);

/*
 * Is user a name the module accepts at all?  Not NULL, not empty, and no
 * control character: a CR/LF would reach an upstream as a header line, and
 * the name must be the same string for every program that reads it.
 */
extern bool vtp_user_ok(const char *user);

/*
 * Turn an outcome into a verdict, applying match=owner|any against user.
 * Every refusal by the database (malformed, unknown, revoked, disabled,
 * expired, forbidden_client, forbidden_scope, stale, any other status) is
 * PAM_AUTH_ERR: pam_sm_authenticate(3) has no other code for "this
 * credential does not authenticate"; the reason tells them apart in the log.
 */
extern vtp_verdict vtp_decide(const vtp_result *r, vtp_match match,
							  const char *user);

/*
 * The answer of pam_sm_acct_mgmt, one of the codes pam_sm_acct_mgmt(3)
 * allows or PAM_IGNORE.  have_auth: authenticate ran on this handle and
 * stored auth_code for auth_user.  cur_user: the PAM user now.  Only a
 * successful authentication is this module's to judge: after a failed or
 * absent one it has no opinion (PAM_IGNORE), so that in a "token or
 * password" stack the password's account modules decide.
 */
extern int	vtp_acct_decide(bool have_auth, int auth_code,
							const char *auth_user, const char *cur_user);

/*
 * Map a failure of pam_get_user or pam_get_authtok to the code the module
 * returns: PAM_BUF_ERR and PAM_INCOMPLETE (conversation to be resumed) are
 * passed on, anything else becomes PAM_AUTH_ERR.
 */
extern int	vtp_map_item_error(int rc);

/* Replace control characters of s in place with '?' (values to export). */
extern void vtp_export_clean(char *s);

/* Short static name of a reason, for logs and tests. */
extern const char *vtp_reason_name(vtp_reason r);

/*
 * Overwrite in place every occurrence of secret inside msg with '*', so that
 * a server message that echoes the token can still be logged.  A NULL or
 * empty secret leaves msg alone.
 */
extern void vtp_redact(char *msg, const char *secret);

/*
 * Write prefix and a (possibly multi-line) server message into err as one
 * line, secret redacted, control characters as spaces, trailing spaces
 * dropped, cut to errlen.  The secret is redacted before the cut, so no
 * part of it survives.
 */
extern void vtp_error_line(char *err, size_t errlen, const char *prefix,
						   const char *msg, const char *secret);

#endif							/* VTP_PAM_RESULT_H */
