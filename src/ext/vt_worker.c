/*
 * vt_worker.c
 *	  Background workers that flush the shared-memory counters (vt_shmem.c)
 *	  into each database's vatoken.usage.
 *
 * The launcher ("vatoken launcher") is started with the postmaster when the
 * library is preloaded.  Every vatoken.flush_interval, or at once when a
 * backend finds the counter table full, it looks for databases with pending
 * counts and starts a flush worker ("vatoken flush") for each that has none.
 * Counters of databases that no longer exist are dropped by the launcher.
 *
 * A flush worker connects to its database and writes its counters every
 * vatoken.flush_interval, in one transaction each time.  It stays while the
 * database is busy (a new backend for every flush would cost far more than
 * the flush) and leaves when a flush found nothing to write twice in a row,
 * when DROP DATABASE is about to wait for the database's sessions (see the
 * object access hook below), or at shutdown, after a last flush.  What is
 * counted after that last flush is saved by the postmaster (vt_shmem.c).
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "vatoken.h"
#include "vt_lookup.h"
#include "vt_shmem.h"
#include "vt_store.h"
#include "vt_worker.h"

PGDLLEXPORT void vt_launcher_main(Datum arg);
PGDLLEXPORT void vt_flush_main(Datum arg);

void
vt_register_launcher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "vatoken");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "vt_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "vatoken launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "vatoken launcher");
	RegisterBackgroundWorker(&worker);
}

/* One flush worker per database at a time; the launcher keeps the handles. */
typedef struct vt_flush_slot
{
	Oid			dbid;
	BackgroundWorkerHandle *handle;
} vt_flush_slot;

static bool
vt_flush_running(vt_flush_slot *slot)
{
	pid_t		pid;

	if (slot->handle == NULL)
		return false;
	if (GetBackgroundWorkerPid(slot->handle, &pid) == BGWH_STOPPED)
	{
		pfree(slot->handle);
		slot->handle = NULL;
		return false;
	}
	return true;
}

static void
vt_start_flush(vt_flush_slot *slot)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	worker.bgw_main_arg = ObjectIdGetDatum(slot->dbid);
	worker.bgw_notify_pid = MyProcPid;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "vatoken");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "vt_flush_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "vatoken flush for database %u", slot->dbid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "vatoken flush");

	if (!RegisterDynamicBackgroundWorker(&worker, &slot->handle))
	{
		slot->handle = NULL;
		ereport(LOG,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start vatoken flush worker for database %u", slot->dbid),
				 errhint("Raise max_worker_processes; until then counts stay in shared memory.")));
	}
}

static bool
vt_database_exists(Oid dbid)
{
	bool		exists;

	StartTransactionCommand();
	exists = SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(dbid));
	CommitTransactionCommand();
	return exists;
}

void
vt_launcher_main(Datum arg)
{
	MemoryContext cycle_context;
	vt_flush_slot *slots = NULL;
	int			nslots = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();

	/* Connected to no database: only shared catalogs, for pg_database. */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	vt_shmem_set_launcher_latch(MyLatch);

	cycle_context = AllocSetContextCreate(TopMemoryContext, "vatoken launcher cycle",
										  ALLOCSET_DEFAULT_SIZES);

	while (!ShutdownRequestPending)
	{
		Oid		   *dbs;
		int			ndbs;

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 vt_flush_interval_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ShutdownRequestPending)
			break;
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		MemoryContextReset(cycle_context);
		MemoryContextSwitchTo(cycle_context);
		dbs = vt_shmem_pending_databases(&ndbs);
		MemoryContextSwitchTo(TopMemoryContext);

		for (int i = 0; i < ndbs; i++)
		{
			vt_flush_slot *slot = NULL;

			for (int j = 0; j < nslots; j++)
				if (slots[j].dbid == dbs[i])
					slot = &slots[j];
			if (slot == NULL)
			{
				slots = slots ? repalloc(slots, sizeof(vt_flush_slot) * (nslots + 1))
					: palloc(sizeof(vt_flush_slot));
				slot = &slots[nslots++];
				slot->dbid = dbs[i];
				slot->handle = NULL;
			}
			if (vt_flush_running(slot) || vt_shmem_is_dropping(slot->dbid))
				continue;		/* running, or its database is being dropped */
			if (!vt_database_exists(slot->dbid))
			{
				vt_shmem_flush_cleanup(slot->dbid, InvalidOid);	/* all of them */
				continue;
			}
			vt_start_flush(slot);
		}
	}

	vt_shmem_set_launcher_latch(NULL);

	/*
	 * Exit with 1 so that the postmaster starts the launcher again if it was
	 * terminated on its own; at shutdown nothing is restarted anyway.
	 */
	proc_exit(1);
}

/*
 * Commit the flush transaction inside the seqlock of vt_shmem.c, so that no
 * reader can see the written counts both in the tables and as pending.
 */
static void
vt_commit_flush(const vt_pending *items, int n)
{
	volatile bool committed = false;

	vt_shmem_flush_begin_commit();
	PG_TRY();
	{
		CommitTransactionCommand();
		committed = true;
	}
	PG_FINALLY();
	{
		vt_shmem_flush_end_commit(items, n, committed);
	}
	PG_END_TRY();
}

/*
 * Write this database's pending counters in one transaction; returns how
 * many counters were written.  If the database does not have the extension
 * (any more), its counters are dropped.
 */
static int
vt_flush_database(void)
{
	vt_pending *items;
	int			n;
	vt_usage_delta *deltas;
	int			ndeltas = 0;
	Oid			relid;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, "vatoken: flushing usage counters");

	relid = vt_find_tokens_relid();

	items = vt_shmem_collect(MyDatabaseId, InvalidOid, &n);
	if (!OidIsValid(relid) || n == 0)
	{
		CommitTransactionCommand();
		vt_shmem_flush_cleanup(MyDatabaseId, relid);
		pgstat_report_activity(STATE_IDLE, NULL);
		return 0;
	}

	/* items live in TopTransactionContext: keep a copy across the commit. */
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		vt_pending *copy = palloc(sizeof(vt_pending) * n);

		memcpy(copy, items, sizeof(vt_pending) * n);
		items = copy;
		MemoryContextSwitchTo(old);
	}

	PushActiveSnapshot(GetTransactionSnapshot());
	deltas = palloc(sizeof(vt_usage_delta) * n);
	for (int i = 0; i < n; i++)
	{
		if (items[i].relid != relid)
			continue;			/* counts of a dropped extension: discarded */
		deltas[ndeltas].token_id = items[i].token_id;
		deltas[ndeltas].day = items[i].day;
		deltas[ndeltas].calls = (int64) items[i].calls;
		deltas[ndeltas].last_used = items[i].last_used;
		ndeltas++;
	}
	vt_store_connect();
	vt_store_add_usage(deltas, ndeltas);
	vt_store_disconnect();
	PopActiveSnapshot();

	vt_commit_flush(items, n);

	vt_shmem_flush_cleanup(MyDatabaseId, relid);
	pgstat_report_activity(STATE_IDLE, NULL);
	pfree(items);
	return ndeltas;
}

static void
vt_flush_release(int code, Datum arg)
{
	vt_shmem_release_flush(DatumGetObjectId(arg));
}

/* How often a flush worker looks for a drop, a flush request or shutdown. */
#define VT_FLUSH_POLL_MS	200

void
vt_flush_main(Datum arg)
{
	Oid			dbid = DatumGetObjectId(arg);
	TimestampTz last_flush;
	uint32		seen_requests;
	int			idle_flushes = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();

	if (vt_shmem_is_dropping(dbid))
		proc_exit(0);
	/* One flusher per database, even if a restarted launcher asks again. */
	switch (vt_shmem_claim_flush(dbid))
	{
		case VT_CLAIMED:
			break;
		case VT_CLAIM_TAKEN:
			proc_exit(0);
			break;
		case VT_CLAIM_FULL:
			ereport(LOG,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("too many databases with vatoken flush workers"),
					 errdetail("Database %u waits until another database's worker exits.", dbid)));
			proc_exit(0);
			break;
	}
	before_shmem_exit(vt_flush_release, ObjectIdGetDatum(dbid));
	BackgroundWorkerInitializeConnectionByOid(dbid, InvalidOid, 0);
	/* Row locks skip rows deleted concurrently only in READ COMMITTED. */
	SetConfigOption("default_transaction_isolation", "read committed",
					PGC_SUSET, PGC_S_OVERRIDE);

	/* Flush at once: the launcher started us because counts are pending. */
	seen_requests = vt_shmem_flush_requests();
	vt_flush_database();
	last_flush = GetCurrentTimestamp();

	for (;;)
	{
		bool		due;

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(VT_FLUSH_POLL_MS, vt_flush_interval_ms),
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();

		/* DROP DATABASE is waiting for us to leave: its counts die with it. */
		if (vt_shmem_is_dropping(MyDatabaseId))
			proc_exit(0);

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
			vt_shmem_flush_requests() != seen_requests;
		if (!due)
			continue;

		seen_requests = vt_shmem_flush_requests();
		if (vt_flush_database() > 0)
			idle_flushes = 0;
		else if (++idle_flushes >= 2)
			proc_exit(0);		/* the launcher starts us again when needed */
		last_flush = GetCurrentTimestamp();
	}
}

/*
 * DROP DATABASE calls the object access hook before it waits for other
 * sessions to leave: mark the database so that its flush worker leaves now.
 */
static object_access_hook_type prev_object_access_hook = NULL;

static void
vt_object_access(ObjectAccessType access, Oid classId, Oid objectId,
				 int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (access == OAT_DROP && classId == DatabaseRelationId && vt_shmem_active())
		vt_shmem_mark_dropping(objectId);
}

void
vt_install_drop_hook(void)
{
	prev_object_access_hook = object_access_hook;
	object_access_hook = vt_object_access;
}
