/*
 * vt_counters.h
 *	  The shared-memory usage counters of the fast path (the library is in
 *	  shared_preload_libraries): the few operations other files need.
 *
 * vt_counters.c owns the counter table, the per-database read protocol and
 * their locks; its opening comment states the whole protocol and what a
 * crash or a restart loses.  No other file sees a lock or a generation.
 */
#ifndef VT_COUNTERS_H
#define VT_COUNTERS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "storage/latch.h"

#include "vatoken.h"

/* Settings (vatoken.max_counters, vatoken.flush_interval, vatoken.max_flush_workers). */
extern int	vt_max_counters;
extern int	vt_flush_interval_ms;
extern int	vt_max_flush_workers;

/* Called from _PG_init when loaded through shared_preload_libraries. */
extern void vt_counters_install_hooks(void);

/* True when this server counts in shared memory (the library is preloaded). */
extern bool vt_counters_active(void);

/*
 * Count one call of a token of the current database on local day "day":
 * accepted (with the caller's address, if it named one) or refused.  Never
 * waits for a row lock, never writes to a table and never fails for lack of
 * room: the table grows, and past vatoken.max_counters the workers are
 * asked to flush early.
 */
extern void vt_counters_count(const vt_token_ident *token, vt_day day, TimestampTz now,
							  bool accepted, const vt_ipnet *client);

/*
 * A consistent read of the current database's tables plus its pending
 * counts, for vatoken_list and vatoken_usage:
 *
 *	   vt_counters_read_begin(&r);
 *	   do {
 *		   ... take a new snapshot, read the tables, collect pending ...
 *	   } while (!vt_counters_read_retry(&r));
 *
 * A read may have to start over while a flush of this database commits;
 * after a few attempts it waits for the flush instead (a lock that a
 * flusher only ever tries to take), so it always ends.
 */
typedef struct vt_read
{
	uint64		generation;
	int			attempts;
	bool		locked;
} vt_read;

extern void vt_counters_read_begin(vt_read *r);
extern bool vt_counters_read_retry(vt_read *r);

/*
 * Every pending count of one tokens table, sorted by (token_id, tag, day);
 * *others (if not NULL) counts the database's counters of other tables.
 */
extern vt_pending *vt_counters_collect(Oid relid, int *n, int *others);

/* qsort order of pending counts: (token_id, tag, day). */
extern int	vt_pending_cmp(const void *a, const void *b);

/*
 * One token's pending counts on days from..to, into per_day[day - from]
 * (zero where nothing is pending); looks up each day by key.
 */
extern void vt_counters_token_pending(const vt_token_ident *token, vt_day from, vt_day to,
									  vt_pending *per_day);

/*
 * Flush support for vt_flusher.c (one flusher per database at a time).
 * vt_counters_commit_flush commits the current transaction, which wrote the
 * items marked resolved, and marks them flushed so that no reader ever sees
 * a call both in the tables and as pending.  Unless wait, if a reader holds
 * the database's read lock it aborts the transaction instead and returns
 * false: nothing was written and the counts stay pending.  With wait it
 * waits for the reads under way.
 */
#define VT_FLUSH_LOCK_TRIES	3
extern bool vt_counters_claim_flush(Oid dbid);
extern bool vt_counters_commit_flush(const vt_pending *items, int n, bool wait);

/*
 * The general form of the commit, for the claimed flusher of the current
 * database: publish(arg) makes the resolved items durable somewhere readers
 * look (a transaction commit on a primary, a spool file on a standby, see
 * vt_forward.c), and their counts stop being pending in the same step for
 * every reader.  It may also remove something readers look at (delivered
 * spool files: n = 0).  Returns false, having called nothing, when a reader
 * holds the read lock and not wait.
 */
extern bool vt_counters_publish(const vt_pending *items, int n, bool wait,
								bool (*publish) (void *arg), void *arg);

/*
 * Drop dbid's counters of every tokens table but live_relid (InvalidOid:
 * all of them, and the database's entry if it is not the current one): the
 * caller holds a lock on live_relid, or the database no longer exists.
 */
extern void vt_counters_discard(Oid dbid, Oid live_relid);

/* The extension is missing here: drop the counters of tables that are gone. */
extern void vt_counters_discard_dead(void);

/* For the launcher (vt_launcher.c). */
extern Oid *vt_counters_pending_databases(int *n);	/* with pending counts */
extern void vt_counters_set_launcher_latch(Latch *latch);
extern uint32 vt_counters_flush_requests(void);
extern bool vt_counters_over_limit(void);	/* past vatoken.max_counters */
extern void vt_counters_set_waiting(uint32 waiting);
extern uint32 vt_counters_waiting(void);
extern void vt_counters_load_file(void);
extern void vt_counters_save_file(void);
extern void vt_counters_wait_for_others(void);

/*
 * For the flusher of the current database: did a flush worker of it already
 * prune the daily usage of tokens table relid up to (not including) day
 * "before" since the server started?  Record that it did.
 */
extern bool vt_counters_pruned(Oid relid, vt_day before);
extern void vt_counters_set_pruned(Oid relid, vt_day before);

/*
 * DROP DATABASE support: a database marked as dropping has no flusher for
 * VT_DROPPING_MS (longer than DROP DATABASE waits for other sessions).
 */
#define VT_DROPPING_MS		10000
extern void vt_counters_mark_dropping(Oid dbid, bool dropping);
extern bool vt_counters_any_flusher(void);
extern bool vt_counters_is_dropping(Oid dbid);

/*
 * Monitoring (vatoken_stats).  The claimed flusher of the current database
 * notes each flush that wrote counts (started: when its round began) and
 * each error that ends it.  vt_counters_stats reads every database that
 * shared memory knows of (palloc'd array) and never makes a flusher wait.
 */
typedef struct vt_db_stats
{
	Oid			dbid;
	int			counters;		/* counters in the table */
	uint64		calls_counted;	/* flushed since the server started + pending */
	uint64		calls_pending;	/* not yet written (spooled on a standby) */
	uint64		flushes;		/* flushes that wrote counts */
	TimestampTz last_flush_at;	/* end of the last one, or 0 */
	int64		last_flush_us;	/* its duration */
	uint64		flush_errors;	/* errors that ended a flusher */
	TimestampTz last_error_at;	/* the last one, or 0 */
} vt_db_stats;

extern void vt_counters_note_flush(TimestampTz started);
extern void vt_counters_note_flush_error(void);
extern vt_db_stats *vt_counters_stats(int *n);

#endif							/* VT_COUNTERS_H */
