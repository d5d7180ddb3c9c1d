/*
 * pam_check.h
 *	  Asking the database about one token: libpq connection and the call of
 *	  vatoken_validate.
 */
#ifndef VTP_PAM_CHECK_H
#define VTP_PAM_CHECK_H

#include <stddef.h>

#include "pam_args.h"
#include "pam_result.h"

/* The longest query text vtp_build_query writes, NUL included. */
#define VTP_QUERY_MAX	(128 + VTP_MAX_SCHEMA_LEN)

/*
 * Write into buf the statement_timeout the check sets for its call: half a
 * second under timeout seconds, the deadline of the whole check ("4500ms").
 */
extern void vtp_statement_timeout(int timeout, char *buf, size_t buflen);

/*
 * Write the query text for schema into buf.  The token is never part of it:
 * it goes as parameter $1.
 */
extern void vtp_build_query(const char *schema, char *buf, size_t buflen);

/*
 * Connect as args say, run vatoken_validate(token) and fill *r, all within
 * args->timeout seconds.  Returns r->outcome.  For VTP_OUT_UNAVAILABLE,
 * VTP_OUT_CONFIG and VTP_OUT_NOMEM a one-line reason, with the token
 * redacted, is written to err.
 */
extern vtp_outcome vtp_check_token(const vtp_args *args, const char *token,
								   vtp_result *r, char *err, size_t errlen);

#endif							/* VTP_PAM_CHECK_H */
