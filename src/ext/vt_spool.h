/*
 * vt_spool.h
 *	  Counting on hot standbys: the node's identity and its spool of batches
 *	  (files under the data directory), and the batch format that is both a
 *	  spool file and the argument of vatoken_deliver on the primary.
 *
 * A leaf: files and bytes only; no shared memory, no SQL.
 */
#ifndef VT_SPOOL_H
#define VT_SPOOL_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "utils/uuid.h"

#include "vatoken.h"

/*
 * Everything lives under $PGDATA/VT_SPOOL_DIR.  pg_basebackup (and the
 * backup tools that follow it) skip every name that starts with
 * "pgsql_tmp": a clone made from a standby starts without a node id and
 * without the spool, i.e. as a new node.  PostgreSQL itself only cleans
 * directories named exactly pgsql_tmp, never this one.
 */
#define VT_SPOOL_DIR		"pgsql_tmp_vatoken"

/* A batch as stored and sent: this header, then nitems items. */
#define VT_BATCH_MAGIC		0x76746231	/* "vtb1" */
#define VT_BATCH_MAX_ITEMS	1000000
/*
 * Calls (or refused calls) of one token on one day in one batch: far more
 * than a server can validate in a day (about 10^13), far from overflowing
 * the day row's bigint when added up.
 */
#define VT_BATCH_MAX_CALLS	(INT64CONST(1) << 40)

typedef struct vt_batch_header
{
	uint32		magic;
	uint32		item_size;		/* sizeof(vt_batch_item) */
	pg_uuid_t	node;
	int64		seq;			/* 1, 2, ... per node and database */
	uint64		nonce;			/* random: two writes never look the same */
	Oid			dbid;
	Oid			relid;			/* vatoken.tokens the counts are of */
	uint32		nitems;
	uint32		crc;			/* CRC-32C of the batch with this field 0 */
} vt_batch_header;

/*
 * One item: a token's counts of one day.  2.0 appended the refused calls
 * and the latest client address named; a batch of items of the 1.2 size
 * (VT_BATCH_ITEM_1_2_SIZE, spooled before an upgrade) is read with those
 * fields zero.
 */
typedef struct vt_batch_item
{
	int64		token_id;
	uint64		tag;
	int64		calls;			/* accepted calls */
	int64		last_used;		/* TimestampTz of the latest, if calls > 0 */
	int32		day;			/* vt_day */
	int32		padding;
	/* 2.0 */
	int64		rejected;		/* refused calls */
	int64		client_at;		/* TimestampTz; 0: no client named */
	vt_ipnet	client;
	uint8		padding2[6];
} vt_batch_item;

#define VT_BATCH_ITEM_1_2_SIZE	offsetof(vt_batch_item, rejected)

/*
 * This node's id.  With create, made (random, fsync'd) if there is none;
 * without, false if there is none.
 */
extern bool vt_spool_node(pg_uuid_t *node, bool create);

/* Encode pending counts as a batch (palloc'd bytea). */
extern bytea *vt_batch_encode(const pg_uuid_t *node, int64 seq, Oid dbid, Oid relid,
							  const vt_pending *items, int n);

/*
 * Check and decode a batch from bytes that anybody may have sent: NULL if
 * it is well formed (items palloc'd, sorted as written), else why not.
 */
extern const char *vt_batch_decode(const char *data, size_t len, vt_batch_header *hdr,
								   vt_batch_item **items);

/* A decoded item of tokens table relid as a pending count, not resolved. */
extern void vt_batch_item_pending(const vt_batch_item *item, Oid relid, vt_pending *p);

/* The spool of this node for database dbid. */
extern int64 *vt_spool_list(const pg_uuid_t *node, Oid dbid, int *n);	/* sorted */
extern bytea *vt_spool_read(const pg_uuid_t *node, Oid dbid, int64 seq);
extern int64 vt_spool_last_seq(const pg_uuid_t *node, Oid dbid);
/* When batch seq was spooled (its file's mtime); 0 if it is gone. */
extern TimestampTz vt_spool_batch_time(const pg_uuid_t *node, Oid dbid, int64 seq);

/*
 * Writing a batch takes two steps: prepare writes and fsyncs a temporary
 * file; commit renames it into place durably (in vt_counters' publish step,
 * so that readers see it and the counts leaving shared memory at once).
 */
extern void vt_spool_prepare(const pg_uuid_t *node, Oid dbid, int64 seq, const bytea *batch);
extern void vt_spool_commit(const pg_uuid_t *node, Oid dbid, int64 seq);
extern void vt_spool_abandon(const pg_uuid_t *node, Oid dbid, int64 seq);

/* Remove the batches up to seq (delivered), keeping their highest seq. */
extern void vt_spool_remove(const pg_uuid_t *node, Oid dbid, int64 upto);

/* Databases with batches in this node's spool (for the launcher). */
extern Oid *vt_spool_databases(int *n);

/* The database no longer exists: remove its spool. */
extern void vt_spool_forget_database(Oid dbid);

#endif							/* VT_SPOOL_H */
