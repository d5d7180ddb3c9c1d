/*
 * vt_lookup.h
 *	  Direct index lookup of a token by hash (the fast path's read).
 */
#ifndef VT_LOOKUP_H
#define VT_LOOKUP_H

#include "postgres.h"

#include "vatoken.h"
#include "vt_resolve.h"

/*
 * Find the live token with this hash in rels->tokens (locked by the
 * resolver), reading with a snapshot taken now.
 */
extern bool vt_lookup_token(const vt_rels *rels, const uint8 *hash, vt_token_row *row);

#endif							/* VT_LOOKUP_H */
