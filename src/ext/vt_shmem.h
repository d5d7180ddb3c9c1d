/*
 * vt_shmem.h
 *	  Shared-memory usage counters (the fast path when vatoken is preloaded).
 *
 * The protocol is described at the top of vt_shmem.c, where the state is
 * declared.
 */
#ifndef VT_SHMEM_H
#define VT_SHMEM_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "storage/latch.h"

#include "vt_counter.h"
#include "vt_period.h"

/* Settings (vatoken.max_counters, vatoken.flush_interval). */
extern int	vt_max_counters;
extern int	vt_flush_interval_ms;

/* Called from _PG_init when loaded through shared_preload_libraries. */
extern void vt_shmem_install_hooks(void);

/* True once this process is attached to the shared counters. */
extern bool vt_shmem_active(void);

/*
 * Count one call of token_id (a row of the tokens table relid in the current
 * database) on local day "day".  Returns false, counting nothing, when the
 * counter table is full and a new counter would be needed; the caller then
 * writes the call through to the table.
 */
extern bool vt_shmem_count(Oid relid, int64 token_id, vt_day day, TimestampTz now);

/* One counter's pending (counted but not yet flushed) calls. */
typedef struct vt_pending
{
	Oid			relid;			/* vatoken.tokens of the counter's database */
	int64		token_id;
	vt_day		day;
	uint64		calls;			/* not yet written to vatoken.usage */
	uint64		calls_total;	/* the counter's total when collected */
	TimestampTz last_used;
} vt_pending;

/*
 * Collect the pending counters of database dbid (only those of the tokens
 * table relid, unless it is InvalidOid) into a palloc'd array sorted by
 * token_id; *n receives the count.
 */
extern vt_pending *vt_shmem_collect(Oid dbid, Oid relid, int *n);

/*
 * Seqlock around reading tables plus pending counters (see vt_shmem.c):
 * vt_shmem_read_begin returns a generation to pass to vt_shmem_read_valid,
 * waiting while a flush is committing.
 */
extern uint64 vt_shmem_read_begin(void);
extern bool vt_shmem_read_valid(uint64 generation);

/* Flush support for the per-database worker (vt_worker.c). */
typedef enum vt_claim
{
	VT_CLAIMED,
	VT_CLAIM_TAKEN,
	VT_CLAIM_FULL
} vt_claim;
extern vt_claim vt_shmem_claim_flush(Oid dbid);
extern void vt_shmem_release_flush(Oid dbid);
extern void vt_shmem_flush_begin_commit(void);
extern void vt_shmem_flush_end_commit(const vt_pending *items, int n, bool committed);
extern void vt_shmem_flush_cleanup(Oid dbid, Oid live_relid);

/* Databases that have counters with pending calls (for the launcher). */
extern Oid *vt_shmem_pending_databases(int *n);

/* The launcher's latch, set to ask for an early flush (counter table full). */
extern void vt_shmem_set_launcher_latch(Latch *latch);
extern void vt_shmem_request_flush(void);
extern uint32 vt_shmem_flush_requests(void);

/*
 * DROP DATABASE support: a database marked as dropping has no flush worker
 * for VT_DROPPING_MS (longer than DROP DATABASE waits for other sessions).
 */
#define VT_DROPPING_MS		10000
extern void vt_shmem_mark_dropping(Oid dbid);
extern bool vt_shmem_is_dropping(Oid dbid);

#endif							/* VT_SHMEM_H */
