/*
 * pam_check.h
 *	  Asking the database about one token: libpq connection and the call of
 *	  vatoken_verify (vatoken_validate on a database without it).
 */
#ifndef VTP_PAM_CHECK_H
#define VTP_PAM_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include "pam_args.h"
#include "pam_result.h"

/* The longest query text vtp_build_query writes, NUL included. */
#define VTP_QUERY_MAX	(160 + VTP_MAX_SCHEMA_LEN)

/* The longest text[] literal vtp_scopes_literal writes, NUL included. */
#define VTP_SCOPES_LITERAL_MAX	(VTP_MAX_SCOPES * (100 + 3) + 3)

/* Which function a check calls. */
typedef enum vtp_call
{
	VTP_CALL_VERIFY = 0,		/* vatoken_verify($1::text, $2::text[], $3::inet) */
	VTP_CALL_VALIDATE			/* vatoken_validate($1::text): schema 1.x */
} vtp_call;

/*
 * Write into buf the statement_timeout the check sets for its call: half a
 * second under timeout seconds, the deadline of the whole check ("4500ms").
 */
extern void vtp_statement_timeout(int timeout, char *buf, size_t buflen);

/*
 * Write the query text of call for schema into buf.  No value is ever part
 * of it: the token goes as parameter $1, the scopes as $2, the client as $3.
 */
extern void vtp_build_query(const char *schema, vtp_call call, char *buf, size_t buflen);

/*
 * Write scopes (each already checked with vt_scope_check_required, so
 * without quotes, backslashes, commas, braces or spaces) as the text of a
 * text[] parameter: {} or {"a","b"}.  False if it does not fit.
 */
extern bool vtp_scopes_literal(const char *const *scopes, int n, char *buf, size_t buflen);

/*
 * May a check that asked vatoken_verify, which failed with sqlstate, ask
 * vatoken_validate instead?  Only with no required scope (nscopes == 0), and
 * only when the function is missing (42883: a database at schema 1.x) or not
 * granted to the module's role (42501: a 1.x grant recipe).  vatoken_validate
 * is vatoken_verify with no scope and no client, so a token with a client
 * allow-list is then refused: the fallback never accepts more.
 */
extern bool vtp_fallback_allowed(const char *sqlstate, int nscopes);

/*
 * Connect as args say, run vatoken_verify(token, args->scopes, client) and
 * fill *r, all within args->timeout seconds.  client is PAM_RHOST (may be
 * NULL); only a literal IP address is sent (pam_client.c), else NULL.  If
 * vtp_fallback_allowed, vatoken_validate(token) is asked on the same
 * connection instead and r->fallback names why.  Returns r->outcome.  For VTP_OUT_UNAVAILABLE,
 * VTP_OUT_CONFIG and VTP_OUT_NOMEM a one-line reason, with the token
 * redacted, is written to err.
 */
extern vtp_outcome vtp_check_token(const vtp_args *args, const char *token,
								   const char *rhost, vtp_result *r,
								   char *err, size_t errlen);

#endif							/* VTP_PAM_CHECK_H */
