/*
 * vt_usage.h
 *	  Counting API calls and reading the counts: the one place that chooses
 *	  between the two ways of counting.
 *
 * - transactional (library not preloaded): each valid call adds to
 *	 vatoken.usage in the caller's transaction; nothing is ever pending;
 * - shared memory (preloaded): calls are counted in vt_counters.c and
 *	 flushed by the workers; readers add the pending calls.
 */
#ifndef VT_USAGE_H
#define VT_USAGE_H

#include "postgres.h"

#include "utils/inet.h"

#include "vatoken.h"
#include "vt_resolve.h"
#include "vt_store.h"

/* Index of the usage columns, in the order vatoken_usage returns them. */
typedef enum vt_usage_column
{
	VT_CALLS_TODAY = 0,
	VT_CALLS_THIS_WEEK,
	VT_CALLS_THIS_MONTH,
	VT_CALLS_LAST_MONTH,
	VT_USAGE_COLUMNS
} vt_usage_column;

/* True when calls are counted in shared memory (the library is preloaded). */
extern bool vt_usage_in_shmem(void);

/*
 * Count one call of a token found in rels->tokens (tag: the first 8 bytes of
 * its token_hash, which no rotation changes), made at now: accepted, with the
 * caller's address if the call named one (NULL: none), or refused (counted
 * on schema 2.0 only, where vatoken.usage has "rejected").  Transactional
 * counting needs an SPI connection and the token's row locked
 * (vt_store_lookup_locked) in this transaction.
 */
extern void vt_usage_count(const vt_rels *rels, int64 token_id, uint64 tag, TimestampTz now,
						   bool accepted, const inet *client);

/*
 * owner's tokens (only token_id's when not NULL) with their usage in the
 * periods of today, pending calls included: a consistent read (see
 * vt_counters.h).  Connects to SPI itself.
 */
extern vt_usage_row *vt_usage_read(text *owner, const int64 *token_id, int *n);

/*
 * One token's calls and refused calls per day of from..to (arrays of
 * to - from + 1, set here), pending counts included, in one consistent
 * read; false if owner has no token token_id.  Connects to SPI itself.
 */
extern bool vt_usage_read_daily(text *owner, int64 token_id, vt_day from, vt_day to,
								int64 *calls, int64 *rejected);

#endif							/* VT_USAGE_H */
