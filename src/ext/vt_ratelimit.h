/*
 * vt_ratelimit.h
 *	  Per-token rate limits (2.0): how many calls of a token a fixed window
 *	  accepts, exactly, across every backend of the server.
 *
 * vt_ratelimit.c owns the shared-memory window table and its protocol
 * (stated in its opening comment); without the preload the windows live in
 * the table vatoken.rate_windows instead (vt_store.c).
 */
#ifndef VT_RATELIMIT_H
#define VT_RATELIMIT_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "vatoken.h"

/* What a rate-limited call got. */
typedef struct vt_rate_result
{
	bool		accepted;
	int32		remaining;		/* calls still accepted in the window after this one */
	TimestampTz reset;			/* when the window ends */
} vt_rate_result;

/* Called from _PG_init when loaded through shared_preload_libraries. */
extern void vt_ratelimit_install_hooks(void);

/*
 * Take one call of a token from its window at now (shared memory): accepted
 * while fewer than limit calls were accepted in the window.
 */
extern void vt_ratelimit_take(Oid relid, int64 token_id, uint64 tag, int32 limit,
							  int64 window_us, TimestampTz now, vt_rate_result *result);

#endif							/* VT_RATELIMIT_H */
