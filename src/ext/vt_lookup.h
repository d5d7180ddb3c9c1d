/*
 * vt_lookup.h
 *	  Direct index lookup of a token by hash (the fast path's read).
 */
#ifndef VT_LOOKUP_H
#define VT_LOOKUP_H

#include "vt_store.h"

/*
 * OID of vatoken.tokens (and of its hash index, if indexid is not NULL);
 * an error if this database does not have the extension.
 */
extern Oid	vt_tokens_relid(Oid *indexid);

/* The same, or InvalidOid if this database does not have the extension. */
extern Oid	vt_find_tokens_relid(void);

/*
 * Find the live token with this hash.  Sets *tokens_relid to the OID of
 * vatoken.tokens (part of the shared counters' key).
 */
extern bool vt_lookup_token(const uint8 *hash, vt_token_row *row, Oid *tokens_relid);

#endif							/* VT_LOOKUP_H */
