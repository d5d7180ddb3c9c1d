/*
 * vt_counter.h
 *	  The one interface through which vatoken counts API calls and reads
 *	  counts that are not yet in the tables.
 *
 * Two implementations sit behind it (vt_counter.c chooses):
 * - transactional (library not preloaded): each valid call adds to
 *	 vatoken.usage in the caller's transaction; nothing is ever pending;
 * - shared memory (preloaded): calls are counted in vt_shmem.c and flushed
 *	 by the workers of vt_worker.c; readers add the pending calls.
 */
#ifndef VT_COUNTER_H
#define VT_COUNTER_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "vt_period.h"

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
extern bool vt_counter_in_shmem(void);

/*
 * Count one valid call of token_id made now: the local day and last_used_at
 * come from one clock reading.  relid, the OID of the tokens table, is part
 * of the shared counters' key (vt_lookup_token returns it); the
 * transactional counter does not use it, and there the caller must have
 * locked the token row (vt_store_lookup_locked) in this transaction.
 */
extern void vt_counter_count(Oid relid, int64 token_id);

/* Pending calls of one database's tokens, collected by vt_counter_read_end. */
typedef struct vt_pending_set
{
	struct vt_pending *items;	/* sorted by token_id */
	int			n;
} vt_pending_set;

/*
 * A consistent read of tables plus pending calls:
 *
 *	 for (;;) {
 *		 ticket = vt_counter_read_begin();   -- pushes a fresh snapshot
 *		 ... read vatoken.tokens / vatoken.usage ...
 *		 if (vt_counter_read_end(ticket, relid, &pending)) break;   -- pops it
 *	 }
 *
 * vt_counter_read_end returns false when a flush committed meanwhile; the
 * tables must then be read again.
 */
extern uint64 vt_counter_read_begin(void);
extern bool vt_counter_read_end(uint64 ticket, Oid relid, vt_pending_set *pending);

/*
 * Add token_id's pending calls to calls[] per period and raise last_used_at
 * if a pending call is more recent.
 */
extern void vt_counter_add_pending(const vt_pending_set *pending, int64 token_id,
								   const vt_periods *periods,
								   int64 calls[VT_USAGE_COLUMNS],
								   TimestampTz *last_used_at, bool *last_used_null);

#endif							/* VT_COUNTER_H */
