/*
 * vt_audit.h
 *	  The audit trail of 2.0: every change to a token, by whom and from where.
 */
#ifndef VT_AUDIT_H
#define VT_AUDIT_H

#include "postgres.h"

#include "vatoken.h"

/* Setting vatoken.actor: the application's own user id (SET LOCAL per call). */
extern char *vt_actor;

/* One value of an event's detail: a key, a value of a type, or NULL. */
typedef struct vt_audit_item
{
	const char *key;
	Oid			type;
	Datum		value;
	bool		isnull;
} vt_audit_item;

/*
 * Record an event of owner's token in the current transaction (within an
 * SPI connection), if this database's schema keeps an audit trail (2.0).
 * The detail never holds a secret or a hash: callers pass what changed.
 */
extern void vt_audit_event(text *owner, const char *event, int64 token_id, text *name,
						   int nitems, const vt_audit_item *items);

#endif							/* VT_AUDIT_H */
