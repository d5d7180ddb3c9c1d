/*
 * vt_store.h
 *	  Access to the extension's tables (schema "vatoken"): tokens and their
 *	  daily usage.
 *
 * Callers hold an SPI connection (vt_store_connect) around these calls.
 */
#ifndef VT_STORE_H
#define VT_STORE_H

#include "postgres.h"

#include "funcapi.h"
#include "utils/timestamp.h"

#include "vatoken.h"

typedef struct vt_token_row
{
	int64		token_id;
	text	   *owner;			/* palloc'd in the caller's memory context */
	text	   *name;
} vt_token_row;

extern void vt_store_connect(void);
extern void vt_store_disconnect(void);

extern void vt_store_insert(text *owner, text *name, const uint8 *hash,
							int64 *token_id, TimestampTz *created_at);

/*
 * Look up a token by hash and lock its row FOR KEY SHARE, so that it cannot
 * be deleted before this transaction ends: the transactional counter then
 * writes usage that references it.  (The fast path reads without SPI or
 * locks: vt_lookup.c.)
 */
extern bool vt_store_lookup_locked(const uint8 *hash, vt_token_row *row);

extern bool vt_store_delete(text *owner, int64 token_id);

/*
 * Emit usage rows for owner's tokens (all of them when token_id is NULL, else
 * only that one) into the materialized SRF of fcinfo.  With with_token_columns
 * the rows have vatoken_list's shape, else vatoken_usage's.
 */
extern void vt_store_usage(FunctionCallInfo fcinfo, text *owner,
						   const int64 *token_id, bool with_token_columns);

/* Calls to add to one token's usage on one day. */
typedef struct vt_usage_delta
{
	int64		token_id;
	vt_day		day;
	int64		calls;
	TimestampTz last_used;		/* time of the latest of these calls */
} vt_usage_delta;

/*
 * Add a batch of calls to tokens' usage and raise their last_used_at: the
 * transactional counter, the write-through of a full counter table and the
 * flush worker all write usage through this one statement.
 */
extern void vt_store_add_usage(const vt_usage_delta *deltas, int n);

#endif							/* VT_STORE_H */
