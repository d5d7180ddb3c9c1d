/*
 * vt_store.h
 *	  SQL access to the extension's tables (schema "vatoken"): tokens and
 *	  their daily usage.  A leaf: it runs statements and nothing else.
 *
 * Callers hold an SPI connection (vt_store_connect) around these calls and
 * have resolved and locked the tables (vt_resolve.h), which tells them the
 * schema version to pass.
 */
#ifndef VT_STORE_H
#define VT_STORE_H

#include "postgres.h"

#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "vatoken.h"

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
 * Transactional counting: add one call made at "now" on local day "day" to
 * a token whose row the caller has locked.  Waits for a concurrent writer
 * of the same day row, as any transaction would.
 */
extern void vt_store_count_call(bool schema_1_0, int64 token_id, vt_day day, TimestampTz now);

/*
 * The flush: write the pending calls of items[] (one database's, of the
 * tokens table in rels) without ever waiting for a row lock.  Items whose
 * rows are locked by someone else stay unresolved (pending); the others are
 * marked resolved: written, or their token no longer exists (deleted, or
 * its id reused by another token), so their counts go with it.
 */
extern void vt_store_flush(bool schema_1_0, vt_pending *items, int n);

/* One token's row of vatoken_list / vatoken_usage, as read from the tables. */
typedef struct vt_usage_row
{
	int64		token_id;
	uint64		tag;
	text	   *name;
	TimestampTz created_at;
	TimestampTz last_used_at;
	bool		last_used_null;
	int64		calls[4];		/* today, this week, this month, last month */
} vt_usage_row;

/*
 * Read owner's tokens (only token_id's when not NULL) with their usage in
 * the given periods; the rows are allocated in the caller's memory context.
 */
extern vt_usage_row *vt_store_read_usage(bool schema_1_0, text *owner, const int64 *token_id,
										 const vt_periods *periods, int *n);

/*
 * Counts delivered from hot standbys (schema 1.2): vatoken.forward_nodes
 * records, per node, the highest batch added and its digest.  A node
 * delivers its batches in order, one transaction each, so the recorded
 * batches of a node are always 1..last_seq, also on a primary promoted
 * from a standby that had not replayed them all.
 */
typedef enum vt_deliver_result
{
	VT_DELIVER_DONE,			/* added, and recorded */
	VT_DELIVER_DUPLICATE,		/* recorded before: nothing added */
	VT_DELIVER_CONFLICT,		/* another batch has this seq: node now refused */
	VT_DELIVER_REFUSED			/* the node is refused: nothing added */
} vt_deliver_result;

/* The node's row as this snapshot sees it; false if it has none. */
extern bool vt_store_node_state(const pg_uuid_t *node, int64 *last_seq, bool *refused);

/* Record batch seq of node (its digest) and add its items, in this transaction. */
extern vt_deliver_result vt_store_deliver(const pg_uuid_t *node, int64 seq, const bytea *digest,
										  vt_pending *items, int n);

#endif							/* VT_STORE_H */
