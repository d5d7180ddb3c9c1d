/*
 * vt_policy.h
 *	  A token's policy (2.0): the checks of its arguments at create and
 *	  update, and the verdict on a call at verify.
 */
#ifndef VT_POLICY_H
#define VT_POLICY_H

#include "postgres.h"

#include <sys/socket.h>

#include "fmgr.h"
#include "utils/array.h"
#include "utils/inet.h"

#include "vatoken.h"

/* Setting vatoken.max_lifetime, in minutes; 0: none. */
extern int	vt_max_lifetime_min;

/*
 * Argument checks (22004 for a NULL element, 22023 otherwise); each returns
 * the value to store.
 *
 * vt_check_scopes: NULL argument -> NULL (the caller decides: every scope at
 * create, unchanged at update); else a one-dimensional text[] of valid
 * granted scopes.
 * vt_check_clients: NULL argument, or a list that allows every address of
 * both families (0.0.0.0/0 and ::/0) -> NULL; else a one-dimensional,
 * non-empty cidr[].
 * vt_check_expiry: the expiry to store at create (or at update, when
 * update is true) for the argument argno, checked against now and
 * vatoken.max_lifetime; *none set for no expiry.
 */
extern ArrayType *vt_check_scopes(FunctionCallInfo fcinfo, int argno);
extern ArrayType *vt_check_clients(FunctionCallInfo fcinfo, int argno);
/* The latest expiry vatoken.max_lifetime allows for a token made at now (when set). */
extern TimestampTz vt_max_expiry(TimestampTz now);
extern TimestampTz vt_check_expiry(FunctionCallInfo fcinfo, int argno, bool update, bool *none);

/*
 * The verdict on a call of a found token: "valid", "revoked", "disabled",
 * "expired", "forbidden_client" or "forbidden_scope", in that order of
 * checks.
 * required: text[] of scopes the call needs (NULL: none); client: the
 * caller's address (NULL: unknown, which a token with an allow-list refuses).
 * Never raises an error for any input.
 */
extern const char *vt_policy_verdict(const vt_token_row *row, ArrayType *required,
									 inet *client, TimestampTz now);

/* "active", "revoked", "disabled" or "expired": a token's state for vatoken_list. */
extern const char *vt_policy_state(bool revoked, bool disabled, bool has_expiry,
								   TimestampTz expires_at, TimestampTz now);

/*
 * The rate limit arguments of create or update (the limit at limit_argno,
 * the window at window_argno): *set when given; *limit 1 to
 * VT_RATE_LIMIT_MAX (0 at update: remove it); the window 1 s to 1 day,
 * one minute when not given.  A window without a limit is an error.
 */
#define VT_RATE_LIMIT_MAX	1000000
extern void vt_check_rate(FunctionCallInfo fcinfo, int limit_argno, int window_argno,
						  bool update, bool *set, int32 *limit, int64 *window_us);

/* A leak report's source as stored: at most 200 characters, no control characters. */
extern text *vt_clean_source(text *source);

/* Conversions between PostgreSQL's inet (or cidr) and the core's vt_ipnet. */
extern void vt_ipnet_from_inet(const inet *in, vt_ipnet *out);
extern inet *vt_inet_from_ipnet(const vt_ipnet *net);

/* The scopes to return for a token: its own, or {*} for every scope. */
extern ArrayType *vt_policy_scopes(const vt_token_row *row);

#endif							/* VT_POLICY_H */
