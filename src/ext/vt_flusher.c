/*
 * vt_flusher.c
 *	  The "vatoken flush" background worker: writes one database's pending
 *	  counters (vt_counters.c) into its vatoken.usage.
 *
 * Environment
 * -----------
 * Started by the launcher (vt_launcher.c) for one database, connected to it
 * as the bootstrap superuser, even if the database does not allow
 * connections.  Every setting the database's stored settings gave goes back
 * to its built-in default, and it pins the settings that could change what
 * its SQL does or make it wait (vt_pin_environment): search_path =
 * pg_catalog, pg_temp (every name in its
 * statements is qualified too), no role switch, read-write READ COMMITTED
 * transactions, no statement, lock or idle timeouts, synchronous_commit =
 * local (so a commit never waits for a standby, and SIGTERM is never stuck
 * in a wait for one), session_replication_role = origin (foreign keys and
 * their cascades apply), no parallel query or JIT, the planner's methods all
 * enabled.  A database owner who is not a superuser can therefore neither
 * run code in it nor stop it from writing.
 *
 * It never waits for a lock that a transaction holds: the tables are locked
 * conditionally (vt_resolve), rows with SKIP LOCKED (vt_store_flush); what
 * it could not write stays pending for its next round.  So one open
 * transaction never stops the flush of a whole database, and a flusher
 * never holds up the databases waiting for a turn.  The read lock of
 * vt_counters.c is only tried too, except after VT_FLUSH_LOCK_TRIES misses
 * in a row, when it waits for the reads under way (never for a transaction).
 *
 * SIGHUP reloads the configuration; SIGTERM (shutdown) makes it flush once
 * more and exit; postmaster death ends it at once.  It leaves when a flush
 * found nothing to write twice in a row, after a flush while other
 * databases wait for a flusher (vt_counters_waiting), when DROP DATABASE is
 * about to wait for the database's sessions (see the object access hook
 * below; it flushes first, and a DROP that fails clears its mark), or at
 * shutdown.
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "vt_counters.h"
#include "vt_forward.h"
#include "vt_resolve.h"
#include "vt_store.h"
#include "vt_worker.h"

PGDLLEXPORT void vt_flush_main(Datum arg);

/* How often a flusher looks for a drop, a flush request or shutdown. */
#define VT_FLUSH_POLL_MS	200

bool
vt_start_flusher(Oid dbid, BackgroundWorkerHandle **handle)
{
	BackgroundWorker worker;
	MemoryContext old;
	bool		started;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* On a hot standby it is the forwarder (vt_forward.c). */
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	worker.bgw_main_arg = ObjectIdGetDatum(dbid);
	worker.bgw_notify_pid = MyProcPid;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "vatoken");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "vt_flush_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "vatoken flush for database %u", dbid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "vatoken flush");

	old = MemoryContextSwitchTo(TopMemoryContext);
	started = RegisterDynamicBackgroundWorker(&worker, handle);
	MemoryContextSwitchTo(old);
	if (!started)
		*handle = NULL;
	return started;
}

/*
 * The settings a flusher pins, whatever the database or role settings say.
 * Each changes what the flush's SQL does, or lets it wait or fail.
 */
static const struct
{
	const char *name;
	const char *value;
}			vt_pinned[] = {
	{"search_path", "pg_catalog, pg_temp"},
	{"role", "none"},
	{"default_transaction_read_only", "off"},
	{"default_transaction_isolation", "read committed"},
	{"default_transaction_deferrable", "off"},
	{"statement_timeout", "0"},
	{"lock_timeout", "0"},
	{"idle_in_transaction_session_timeout", "0"},
	{"idle_session_timeout", "0"},
	{"synchronous_commit", "local"},
	{"session_replication_role", "origin"},
	{"exit_on_error", "off"},
	{"row_security", "on"},
	{"transform_null_equals", "off"},
	{"plan_cache_mode", "auto"},
	{"jit", "off"},
	{"max_parallel_workers_per_gather", "0"},
	{"force_parallel_mode", "off"},
	{"enable_seqscan", "on"},
	{"enable_indexscan", "on"},
	{"enable_indexonlyscan", "on"},
	{"enable_bitmapscan", "on"},
	{"enable_tidscan", "on"},
	{"enable_nestloop", "on"},
	{"enable_hashjoin", "on"},
	{"enable_mergejoin", "on"},
	{"enable_sort", "on"},
	{"enable_material", "on"},
	{"enable_memoize", "on"},
	{"enable_hashagg", "on"},
};

/*
 * A setting's built-in default as a string (NULL for an unknown type).
 * buf holds numbers.
 */
static const char *
vt_boot_value(struct config_generic *gconf, char *buf, size_t buflen)
{
	switch (gconf->vartype)
	{
		case PGC_BOOL:
			return ((struct config_bool *) gconf)->boot_val ? "on" : "off";
		case PGC_INT:
			snprintf(buf, buflen, "%d", ((struct config_int *) gconf)->boot_val);
			return buf;
		case PGC_REAL:
			snprintf(buf, buflen, "%.17g", ((struct config_real *) gconf)->boot_val);
			return buf;
		case PGC_STRING:
			{
				const char *v = ((struct config_string *) gconf)->boot_val;

				return v ? v : "";
			}
		case PGC_ENUM:
			{
				struct config_enum *e = (struct config_enum *) gconf;

				return config_enum_lookup_by_value(e, e->boot_val);
			}
	}
	return NULL;
}

/*
 * The settings that define the database's calendar days, which its sessions
 * count calls under, and how long its daily usage is kept: the worker keeps
 * the database's stored value, to prune daily usage by the same days and
 * retention as vatoken_prune() in a session.  Only a superuser can store
 * them (PGC_SUSET; vt_clock.c also refuses the calendar from a session), and
 * they change no SQL.
 */
static const char *const vt_database_calendar[] = {
	"vatoken.timezone",
	"vatoken.debug_now",
	"vatoken.usage_retention",
};

/*
 * Every setting that the database's stored settings gave (ALTER DATABASE
 * ... SET, which its owner may run for any setting a user may change) goes
 * back to its built-in default, except the calendar above, then the
 * settings above are pinned.  Only a superuser can store settings for the
 * bootstrap superuser role itself.
 */
static void
vt_pin_environment(void)
{
	struct config_generic **gucs = get_guc_variables();
	int			n = GetNumConfigOptions();

	for (int i = 0; i < n; i++)
	{
		struct config_generic *gconf = gucs[i];
		char		buf[64];
		const char *boot;
		bool		calendar = false;

		if (gconf->source != PGC_S_DATABASE ||
			(gconf->flags & GUC_CUSTOM_PLACEHOLDER) != 0)
			continue;
		for (int j = 0; j < lengthof(vt_database_calendar); j++)
			calendar |= strcmp(gconf->name, vt_database_calendar[j]) == 0;
		if (calendar)
			continue;
		boot = vt_boot_value(gconf, buf, sizeof(buf));
		if (boot != NULL)
			(void) set_config_option(gconf->name, boot, PGC_SUSET, PGC_S_OVERRIDE,
									 GUC_ACTION_SET, true, WARNING, false);
	}
	for (int i = 0; i < lengthof(vt_pinned); i++)
		SetConfigOption(vt_pinned[i].name, vt_pinned[i].value, PGC_SUSET, PGC_S_OVERRIDE);
}

/*
 * Write this database's pending counters in one transaction; returns how
 * many counters were written, or -1 if the tables or rows were busy and
 * something was left for the next round.  Counters of a tokens table that is
 * gone (the extension was dropped, perhaps created again) are dropped.
 */
/* Rounds in a row whose commit found a reader holding the read lock. */
static int	vt_lock_misses = 0;

static int
vt_flush_database(void)
{
	vt_rels		rels;
	vt_pending *items;
	int			n;
	int			written = 0;
	vt_resolved resolved;
	TimestampTz started = GetCurrentTimestamp();

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, "vatoken: flushing usage counters");

	resolved = vt_resolve(&rels, true, RowShareLock, RowExclusiveLock, false);
	/* Schema 1.0 also updates the token rows: that lock is only tried too. */
	if (resolved == VT_RESOLVED && rels.schema_1_0 &&
		!ConditionalLockRelationOid(rels.tokens, RowExclusiveLock))
		resolved = VT_RESOLVE_BUSY;
	if (resolved != VT_RESOLVED)
	{
		if (resolved == VT_RESOLVE_MISSING)
			vt_counters_discard_dead();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
		return resolved == VT_RESOLVE_MISSING ? 0 : -1;
	}
	/* The items must outlive the transaction. */
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		int			others;

		items = vt_counters_collect(rels.tokens, &n, &others);
		MemoryContextSwitchTo(old);

		/*
		 * Counters of another tokens table belong to a dropped extension:
		 * while this one is locked, no such table can come back.
		 */
		if (others > 0)
			vt_counters_discard(MyDatabaseId, rels.tokens);
	}
	if (n == 0)
	{
		CommitTransactionCommand();
		pfree(items);
		pgstat_report_activity(STATE_IDLE, NULL);
		return 0;
	}

	PushActiveSnapshot(GetTransactionSnapshot());
	vt_store_connect();
	vt_store_flush(rels.schema_1_0, rels.schema_2_0, items, n);
	vt_store_disconnect();
	PopActiveSnapshot();

	if (vt_counters_commit_flush(items, n, vt_lock_misses >= VT_FLUSH_LOCK_TRIES))
	{
		vt_lock_misses = 0;
		vt_counters_note_flush(started);
		for (int i = 0; i < n; i++)
			written += items[i].resolved ? 1 : 0;
		if (written < n)
			written = -1;
	}
	else
	{
		vt_lock_misses++;
		written = -1;			/* a reader held the read lock */
	}

	/* A flusher may live long: report its writes for autovacuum now. */
	pgstat_report_stat(true);
	pgstat_report_activity(STATE_IDLE, NULL);
	pfree(items);
	return written;
}

/*
 * Pruning of daily usage (issue 13): rows of days before
 * vt_usage_prune_cutoff (vatoken.usage_retention, never the current or the
 * previous month) go, as vatoken_prune() would remove them.  A flusher looks
 * after its first flush and then at most every VT_PRUNE_CHECK_MS; it prunes
 * only when the cutoff moved since the last complete prune of this database
 * (vt_counters_pruned, kept in shared memory across flushers), i.e. about
 * once a day, after a server start and after a change of the setting.  It
 * deletes at most VT_PRUNE_BATCH_ROWS rows per transaction and
 * VT_PRUNE_BATCHES transactions per round, found through the index on
 * vatoken.usage (day): a large backlog (the first prune after an upgrade)
 * is worked off over several rounds, each after a flush, so flushes go on
 * and a shutdown is not held up.  Like the flush it never waits: the tables
 * are locked conditionally, rows with SKIP LOCKED; a busy table is tried
 * again at the next round, rows that were locked at the next cutoff.  Only
 * the 2.0 schema is pruned: with an older one daily usage is kept for as
 * long as the token exists.
 *
 * vatoken.usage_retention is the database's, as in its sessions: only a
 * superuser can set it, so vt_pin_environment keeps a value stored for the
 * database.
 */
#define VT_PRUNE_CHECK_MS	(3600 * 1000)
#define VT_PRUNE_BATCH_ROWS	10000
#define VT_PRUNE_BATCHES	10

static TimestampTz vt_prune_checked = 0;	/* 0: not yet in this process */
static bool vt_prune_unfinished = false;	/* a round left rows to prune */

/* One batch of the prune in a transaction of its own; false: stop here. */
static bool
vt_prune_batch(bool *complete)
{
	vt_rels		rels;
	vt_resolved resolved;
	vt_day		cutoff;
	int64		n = 0;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	cutoff = vt_usage_prune_cutoff();
	resolved = vt_resolve(&rels, true, AccessShareLock, RowExclusiveLock, false);
	if (resolved != VT_RESOLVED || !rels.schema_2_0)
	{
		CommitTransactionCommand();
		/* Busy: try again after the next flush; missing or old: nothing. */
		*complete = resolved != VT_RESOLVE_BUSY;
		return false;
	}
	if (vt_counters_pruned(rels.tokens, cutoff))
	{
		CommitTransactionCommand();
		*complete = true;
		return false;
	}
	pgstat_report_activity(STATE_RUNNING, "vatoken: pruning daily usage");
	PushActiveSnapshot(GetTransactionSnapshot());
	vt_store_connect();
	n = vt_store_prune_usage(cutoff, VT_PRUNE_BATCH_ROWS);
	vt_store_disconnect();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(true);
	pgstat_report_activity(STATE_IDLE, NULL);
	if (n < VT_PRUNE_BATCH_ROWS)
	{
		vt_counters_set_pruned(rels.tokens, cutoff);
		*complete = true;
		return false;
	}
	return true;
}

static void
vt_prune_usage_if_due(void)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		complete = false;

	if (!vt_prune_unfinished && vt_prune_checked != 0 &&
		!TimestampDifferenceExceeds(vt_prune_checked, now, VT_PRUNE_CHECK_MS))
		return;
	if (RecoveryInProgress())
		return;
	/* Set first: a prune that fails is not retried at once by this process. */
	vt_prune_checked = now;
	vt_prune_unfinished = false;

	for (int b = 0; b < VT_PRUNE_BATCHES; b++)
	{
		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending || vt_counters_is_dropping(MyDatabaseId))
			break;
		if (!vt_prune_batch(&complete))
			break;
	}
	vt_prune_unfinished = !complete;
}

static void vt_flush_run(void) pg_attribute_noreturn();

void
vt_flush_main(Datum arg)
{
	Oid			dbid = DatumGetObjectId(arg);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();

	if (vt_counters_is_dropping(dbid))
		proc_exit(0);
	BackgroundWorkerInitializeConnectionByOid(dbid, InvalidOid, BGWORKER_BYPASS_ALLOWCONN);
	vt_pin_environment();

	/* One flusher per database, even if a restarted launcher asks again. */
	if (!vt_counters_claim_flush(dbid))
		proc_exit(0);

	/*
	 * Nothing here catches an ERROR: it ends the worker (the background
	 * worker's error handler logs it and exits), what was not written stays
	 * pending, and the launcher starts a new flusher.  Count it for
	 * vatoken_stats on the way out.  (A FATAL, e.g. SIGTERM while the
	 * forwarder waits for the primary, is a shutdown, not an error.)
	 */
	PG_TRY();
	{
		vt_flush_run();
	}
	PG_CATCH();
	{
		vt_counters_note_flush_error();
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/* The claimed flusher of the current database: never returns. */
static void
vt_flush_run(void)
{
	TimestampTz last_flush;
	uint32		seen_requests;
	int			idle_flushes = 0;

	/*
	 * Flush at once: the launcher started us because counts are pending.
	 * Not if a shutdown began meanwhile: the launcher saves what is left.
	 */
	if (ShutdownRequestPending)
		proc_exit(0);

	/* A hot standby forwards its counts to the primary until promoted. */
	if (RecoveryInProgress())
		vt_forward_run();
	/* A promoted standby adds what it had not delivered (usually nothing). */
	vt_forward_apply_local();
	seen_requests = vt_counters_flush_requests();
	vt_flush_database();
	last_flush = GetCurrentTimestamp();
	vt_prune_usage_if_due();

	for (;;)
	{
		bool		due;
		int			written;

		if (vt_counters_waiting() > 0)
			proc_exit(0);		/* give the slot to a database waiting for one */

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(VT_FLUSH_POLL_MS, vt_flush_interval_ms),
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();

		/*
		 * DROP DATABASE is about to wait for us to leave.  Write what is
		 * pending first: the DROP may still fail (the mark is cleared then),
		 * and marking cannot be used to keep counts from the table.
		 */
		if (vt_counters_is_dropping(MyDatabaseId))
		{
			vt_flush_database();
			proc_exit(0);
		}

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (ShutdownRequestPending)
		{
			vt_flush_database();
			proc_exit(0);
		}

		due = TimestampDifferenceExceeds(last_flush, GetCurrentTimestamp(),
										 vt_flush_interval_ms) ||
			vt_counters_flush_requests() != seen_requests || vt_counters_over_limit();
		if (!due)
			continue;

		seen_requests = vt_counters_flush_requests();
		written = vt_flush_database();
		if (written != 0)
			idle_flushes = 0;
		else if (++idle_flushes >= 2)
			proc_exit(0);		/* the launcher starts us again when needed */
		last_flush = GetCurrentTimestamp();
		vt_prune_usage_if_due();
	}
}

/*
 * DROP DATABASE calls the object access hook before it waits for other
 * sessions to leave: mark the database so that its flusher leaves now.
 */
static object_access_hook_type prev_object_access_hook = NULL;
static Oid	vt_marked_dropping = InvalidOid;
static bool vt_xact_callback_registered = false;

/* A DROP DATABASE that fails (its transaction aborts) clears its mark. */
static void
vt_drop_xact_callback(XactEvent event, void *arg)
{
	if (!OidIsValid(vt_marked_dropping))
		return;
	if (event == XACT_EVENT_ABORT)
		vt_counters_mark_dropping(vt_marked_dropping, false);
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_COMMIT)
		vt_marked_dropping = InvalidOid;
}

static void
vt_object_access(ObjectAccessType access, Oid classId, Oid objectId,
				 int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	/* (The hook runs before DROP DATABASE checks that it can proceed.) */
	if (access == OAT_DROP && classId == DatabaseRelationId && vt_counters_active() &&
		objectId != MyDatabaseId)
	{
		if (!vt_xact_callback_registered)
		{
			RegisterXactCallback(vt_drop_xact_callback, NULL);
			vt_xact_callback_registered = true;
		}
		vt_counters_mark_dropping(objectId, true);
		vt_marked_dropping = objectId;
	}
}

void
vt_install_drop_hook(void)
{
	prev_object_access_hook = object_access_hook;
	object_access_hook = vt_object_access;
}
