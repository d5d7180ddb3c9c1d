/*
 * vt_tokcache.h
 *	  The fast path's per-backend cache of tokens found by hash, and the
 *	  trigger on vatoken.tokens that keeps every backend's cache exact.
 *
 * vt_tokcache.c owns the cache, the shared "change slots" the trigger moves
 * and their protocol (stated in its opening comment).
 */
#ifndef VT_TOKCACHE_H
#define VT_TOKCACHE_H

#include "postgres.h"

#include "vatoken.h"
#include "vt_resolve.h"

/* Setting vatoken.token_cache_size: entries per backend, 0 turns it off. */
extern int	vt_token_cache_size;

/* Called from _PG_init when loaded through shared_preload_libraries. */
extern void vt_tokcache_install_hooks(void);

/*
 * Find the live token with this hash in rels->tokens (locked by the
 * resolver), as vt_lookup_token does, answering from this backend's cache
 * when no token has been deleted or changed since the entry was filled.
 * row's owner and name are palloc'd in the caller's memory context.
 */
extern bool vt_tokcache_lookup(const vt_rels *rels, const uint8 *hash, vt_token_row *row);

#endif							/* VT_TOKCACHE_H */
