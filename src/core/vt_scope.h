/*
 * vt_scope.h
 *	  Token scopes: their grammar and whether a token's granted scopes allow
 *	  a required one.
 *
 * Part of the pure core: no PostgreSQL or PAM headers may be included here.
 *
 * A scope is 1 to VT_SCOPE_MAX_LEN characters of [A-Za-z0-9_.:-], compared
 * exactly (case matters).  A granted scope may also be "*" alone, which
 * grants every scope, or end in ":*", which grants every scope that starts
 * with what comes before the "*" and goes on after it ("ops:*" grants
 * "ops:read" and "ops:read:all", not "ops" nor "ops:").  A required scope
 * never contains "*".
 */
#ifndef VT_SCOPE_H
#define VT_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

#define VT_SCOPE_MAX_LEN	100

typedef enum vt_scope_status
{
	VT_SCOPE_OK = 0,
	VT_SCOPE_BAD_LENGTH,		/* empty, or longer than VT_SCOPE_MAX_LEN */
	VT_SCOPE_BAD_CHARACTER,		/* a byte outside [A-Za-z0-9_.:-] (or "*") */
	VT_SCOPE_BAD_WILDCARD		/* "*" other than alone or after a final ":" */
} vt_scope_status;

/* Check a scope a token is granted (wildcards allowed). */
extern vt_scope_status vt_scope_check_granted(const char *s, size_t len);

/* Check a scope a caller requires (no wildcard). */
extern vt_scope_status vt_scope_check_required(const char *s, size_t len);

/*
 * Does the granted scope (checked with vt_scope_check_granted) allow the
 * required one (checked with vt_scope_check_required)?
 */
extern bool vt_scope_grants(const char *granted, size_t glen,
							const char *required, size_t rlen);

#endif							/* VT_SCOPE_H */
