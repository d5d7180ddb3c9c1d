/*
 * vt_counter.c
 *	  Counting of API calls: the transactional implementation.
 *
 * Each valid call updates tokens.last_used_at and upserts the day's row in
 * vatoken.usage, inside the caller's transaction.  Counts are exact and
 * visible to every session once that transaction commits.
 */
#include "postgres.h"

#include "vt_counter.h"
#include "vt_store.h"

bool
vt_counter_needs_row_lock(void)
{
	return true;
}

void
vt_counter_count(int64 token_id, vt_day day)
{
	vt_store_count_call(token_id, day);
}

void
vt_counter_add_pending(int64 token_id, const vt_periods *periods,
					   int64 calls[VT_USAGE_COLUMNS],
					   TimestampTz *last_used_at, bool *last_used_null)
{
	/* Transactional counting leaves nothing pending. */
}
