/*
 * vt_counter.h
 *	  The one interface through which vatoken counts API calls.
 *
 * vatoken_validate calls vt_counter_count for each valid call; vatoken_list
 * and vatoken_usage call vt_counter_add_pending to add calls counted but not
 * yet written to vatoken.usage.  Without shared memory (the library not
 * preloaded) counting is transactional: one upsert per call, nothing pending.
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

/* Whether vt_store_lookup must lock the row before vt_counter_count. */
extern bool vt_counter_needs_row_lock(void);

/* Count one valid call of token_id on the local day "day". */
extern void vt_counter_count(int64 token_id, vt_day day);

/*
 * Add the calls of token_id that are counted but not yet in vatoken.usage to
 * calls[], per period; raise *last_used_at if a pending call is more recent.
 */
extern void vt_counter_add_pending(int64 token_id, const vt_periods *periods,
								   int64 calls[VT_USAGE_COLUMNS],
								   TimestampTz *last_used_at, bool *last_used_null);

#endif							/* VT_COUNTER_H */
