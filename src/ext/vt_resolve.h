/*
 * vt_resolve.h
 *	  The one resolver of the extension's tables: which relations validate,
 *	  the flush and the readers work on, locked, and the schema version.
 */
#ifndef VT_RESOLVE_H
#define VT_RESOLVE_H

#include "postgres.h"

#include "access/attnum.h"
#include "storage/lockdefs.h"

/* Schema that holds the extension's tables (created by the install script). */
#define VT_DATA_SCHEMA		"vatoken"

typedef struct vt_rels
{
	Oid			tokens;			/* vatoken.tokens */
	Oid			tokens_hash_index;	/* its unique index on the current secret's hash */
	Oid			tokens_previous_index;	/* 2.0: on the previous secret's hash */
	Oid			usage;			/* vatoken.usage */
	bool		schema_1_0;		/* a token's last use is tokens.last_used_at */
	bool		schema_2_0;		/* tokens carry a policy (2.0 and later) */
	/* 2.0: attribute numbers of the policy columns of tokens */
	AttrNumber	att_expires_at;
	AttrNumber	att_scopes;
	AttrNumber	att_allowed_clients;
	AttrNumber	att_disabled_at;
	AttrNumber	att_revoked_at;
	AttrNumber	att_previous_valid_until;
	AttrNumber	att_rate_limit;
	AttrNumber	att_rate_window;
} vt_rels;

typedef enum vt_resolved
{
	VT_RESOLVED,
	VT_RESOLVE_MISSING,			/* no vatoken extension (tables) here */
	VT_RESOLVE_BUSY				/* a lock was not free (only when not waiting) */
} vt_resolved;

/*
 * Find the tables, lock them (tokens always, usage when with_usage) in
 * lockmode, and check after locking that the names still lead to the same
 * relations of the extension.  With wait, an error if the extension is
 * missing; without, VT_RESOLVE_MISSING or VT_RESOLVE_BUSY instead.
 * The schema version comes from pg_extension.extversion.
 */
extern vt_resolved vt_resolve(vt_rels *rels, bool with_usage, LOCKMODE tokens_mode,
							  LOCKMODE usage_mode, bool wait);

#endif							/* VT_RESOLVE_H */
