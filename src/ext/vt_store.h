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

#include "access/tupdesc.h"
#include "utils/array.h"
#include "utils/inet.h"
#include "utils/tuplestore.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "vatoken.h"

extern void vt_store_connect(void);
extern void vt_store_disconnect(void);

/* A new token's policy (schema 2.0). */
typedef struct vt_new_policy
{
	bool		has_expiry;
	TimestampTz expires_at;
	ArrayType  *scopes;			/* NULL: every scope */
	ArrayType  *clients;		/* NULL: any client */
	text	   *hint;			/* the token's last four characters */
	int32		rate_limit;		/* calls per window; 0: no limit */
	int64		rate_window_us;
} vt_new_policy;

/* policy NULL: a schema before 2.0, which has no policy columns. */
extern void vt_store_insert(text *owner, text *name, const uint8 *hash,
							const vt_new_policy *policy,
							int64 *token_id, TimestampTz *created_at);

/* What vatoken_update changes; what is not set stays as it is. */
typedef struct vt_policy_change
{
	text	   *name;			/* NULL: unchanged */
	bool		set_expiry;
	bool		has_expiry;		/* with set_expiry: false removes the expiry */
	TimestampTz expires_at;
	ArrayType  *scopes;			/* NULL: unchanged */
	bool		set_clients;
	ArrayType  *clients;		/* with set_clients: NULL allows any client */
	bool		set_enabled;
	bool		enabled;
	bool		set_rate;
	int32		rate_limit;		/* with set_rate: 0 removes the limit */
	int64		rate_window_us;
} vt_policy_change;

/* Change owner's token token_id; false if owner has no such token. */
extern bool vt_store_update(text *owner, int64 token_id, const vt_policy_change *change,
							text **name);

/*
 * Look up a token by hash and lock its row FOR KEY SHARE, so that it cannot
 * be deleted before this transaction ends: the transactional counter then
 * writes usage that references it.  (The fast path reads without SPI or
 * locks: vt_lookup.c.)
 */
extern bool vt_store_lookup_locked(bool schema_2_0, const uint8 *hash, vt_token_row *row);

extern bool vt_store_delete(text *owner, int64 token_id, text **name);

/*
 * Without the preload: take one call of a rate-limited token (its row locked
 * by vt_store_lookup_locked) from its window starting at window_start.
 * Returns the calls accepted in the window with this one, or -1 when the
 * window is full.  Waits for a concurrent call of the same token.
 */
extern int32 vt_store_rate_take(int64 token_id, TimestampTz window_start, int64 window_us,
								int32 limit);

/*
 * The audit trail (2.0): record one event of a token, with a detail of
 * ndetail text values (NULL where nulls[i]) under keys; read an owner's
 * events since a time into a tuplestore; prune events older than before.
 */
extern void vt_store_audit(TimestampTz at, text *owner, const char *event, int64 token_id,
						   text *name, text *actor, int ndetail, const char *const *keys,
						   const Datum *values, const bool *nulls);
extern void vt_store_read_audit(text *owner, TimestampTz since, Tuplestorestate *out,
								TupleDesc desc);
extern int64 vt_store_prune_audit(TimestampTz before);

/*
 * Remove the daily usage rows of days before "before"; how many.  With a
 * limit (> 0), at most that many, and rows another transaction has locked
 * stay (the flush workers never wait for a transaction's lock); 0: all.
 */
extern int64 vt_store_prune_usage(vt_day before, int32 limit);

/*
 * Give owner's token token_id the secret with this hash (and hint).  With
 * keep_previous the current secret stays valid until previous_valid_until
 * (never past the expiry); with renew_expiry the expiry becomes expires_at.
 * Returns 0 if owner has no such token, -1 if it is revoked (nothing
 * changed), 1 when rotated, with when the previous secret ends.
 */
extern int	vt_store_rotate(text *owner, int64 token_id, const uint8 *hash, text *hint,
							bool keep_previous, TimestampTz previous_valid_until,
							bool renew_expiry, TimestampTz expires_at,
							TimestampTz *valid_until, bool *valid_until_null, text **name);

/*
 * Revoke the live token with this hash (a leak report): its current secret,
 * or its previous one still in its grace at now; nothing if none.
 */
extern bool vt_store_revoke(const uint8 *hash, text *source, TimestampTz now, text **owner,
							int64 *token_id, text **name);

/*
 * Transactional counting: add one call made at "now" on local day "day" to
 * a token whose row the caller has locked, with the client address it named
 * (NULL: none; kept on schema 2.0 only); or (2.0) one refused call.  Waits
 * for a concurrent writer of the same day row, as any transaction would.
 */
extern void vt_store_count_call(bool schema_1_0, bool schema_2_0, int64 token_id, vt_day day,
								TimestampTz now, const inet *client);
extern void vt_store_count_rejected(int64 token_id, vt_day day);

/*
 * The flush: write the pending calls of items[] (one database's, of the
 * tokens table in rels) without ever waiting for a row lock.  Items whose
 * rows are locked by someone else stay unresolved (pending); the others are
 * marked resolved: written, or their token no longer exists (deleted, or
 * its id reused by another token), so their counts go with it.
 */
extern void vt_store_flush(bool schema_1_0, bool schema_2_0, vt_pending *items, int n);

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
	/* vatoken_list on schema 2.0: the token's policy */
	bool		has_policy;
	bool		has_expiry;
	TimestampTz expires_at;
	bool		disabled;
	Datum		scopes;			/* text[] */
	Datum		clients;		/* cidr[], unless clients_null */
	bool		clients_null;
	Datum		hint;			/* text, unless hint_null */
	bool		hint_null;
	bool		revoked;
	TimestampTz revoked_at;
	Datum		revoked_source; /* text, unless source_null */
	bool		source_null;
	int32		rate_limit;		/* unless rate_null */
	bool		rate_null;
	Datum		rate_window;	/* interval, unless rate_null */
	/* The latest client address named in an accepted call (2.0), and when. */
	TimestampTz client_at;		/* 0: none */
	vt_ipnet	client;
} vt_usage_row;

/*
 * Read owner's tokens (only token_id's when not NULL) with their usage in
 * the given periods; the rows are allocated in the caller's memory context.
 */
extern vt_usage_row *vt_store_read_usage(bool schema_1_0, bool schema_2_0, text *owner,
										 const int64 *token_id,
										 const vt_periods *periods, int *n);

/*
 * vatoken_usage_daily: owner's token token_id's counts of days from..to, as
 * the tables hold them, into calls[day - from] and rejected[day - from]
 * (zero for a day without a row), and its *tag; false if owner has no such
 * token.
 */
extern bool vt_store_read_daily(text *owner, int64 token_id, vt_day from, vt_day to,
								uint64 *tag, int64 *calls, int64 *rejected);

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
extern vt_deliver_result vt_store_deliver(bool schema_2_0, const pg_uuid_t *node, int64 seq, const bytea *digest,
										  vt_pending *items, int n);

#endif							/* VT_STORE_H */
