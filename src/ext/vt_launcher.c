/*
 * vt_launcher.c
 *	  The "vatoken launcher" background worker: gives every database with
 *	  pending counts a flusher (vt_flusher.c) in turn.
 *
 * Environment: started with the postmaster when the library is preloaded
 * (once a hot standby accepts connections, or after recovery), connected to no database (it reads pg_database only),
 * as the bootstrap superuser.  SIGHUP reloads the configuration; SIGTERM
 * (shutdown, or a termination of the launcher alone) makes it stop the
 * flushers and wait for them, wait for every other process that counts to
 * exit, save what is still pending (vt_counters.c) and exit; postmaster death
 * ends it at once (WL_EXIT_ON_PM_DEATH).  Exits with 1, so that the
 * postmaster starts it again if it was terminated on its own.
 *
 * Scheduling: every vatoken.flush_interval, or at once when the counter
 * table is past vatoken.max_counters or a flusher exits, it looks for
 * databases with pending counts or spooled batches (vt_spool.c).  On a
 * hot standby the flusher it starts forwards instead (vt_forward.c).  At
 * most vatoken.max_flush_workers flushers run at a time, each serving one
 * database; a database that is due and finds no flusher waits, oldest turn
 * first.  While any database waits, a
 * flusher leaves after its next flush, so its slot goes round: every
 * database is flushed within a bounded time, however many are busy and
 * however few worker slots (max_worker_processes, shared with parallel
 * query) are free.  A database being dropped gets no flusher; counters of
 * a database that no longer exists are dropped.
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "vt_counters.h"
#include "vt_spool.h"
#include "vt_worker.h"

PGDLLEXPORT void vt_launcher_main(Datum arg);

void
vt_register_launcher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* Also on a hot standby, whose flush workers forward (vt_forward.c). */
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "vatoken");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "vt_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "vatoken launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "vatoken launcher");
	RegisterBackgroundWorker(&worker);
}

/* What the launcher knows of a database that had counts. */
typedef struct vt_db_turn
{
	Oid			dbid;
	BackgroundWorkerHandle *handle; /* its running flusher, or NULL */
	TimestampTz last_start;		/* when its last flusher started */
} vt_db_turn;

static vt_db_turn *turns = NULL;
static int	nturns = 0;

/* The index of dbid's turn, added if new (turns may move: keep indexes). */
static int
vt_turn_for(Oid dbid)
{
	for (int i = 0; i < nturns; i++)
		if (turns[i].dbid == dbid)
			return i;
	turns = turns ? repalloc(turns, sizeof(vt_db_turn) * (nturns + 1))
		: MemoryContextAlloc(TopMemoryContext, sizeof(vt_db_turn));
	turns[nturns].dbid = dbid;
	turns[nturns].handle = NULL;
	turns[nturns].last_start = 0;
	return nturns++;
}

static bool
vt_flusher_running(vt_db_turn *turn)
{
	pid_t		pid;

	if (turn->handle == NULL)
		return false;
	if (GetBackgroundWorkerPid(turn->handle, &pid) == BGWH_STOPPED)
	{
		pfree(turn->handle);
		turn->handle = NULL;
		return false;
	}
	return true;
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

static int
vt_turn_cmp(const void *a, const void *b)
{
	TimestampTz x = turns[*(const int *) a].last_start;
	TimestampTz y = turns[*(const int *) b].last_start;

	return (x > y) - (x < y);
}

/* One round: start flushers for due databases, oldest turn first. */
static void
vt_launch_round(MemoryContext cycle)
{
	Oid		   *dbs;
	int		   *due;
	int			ndbs;
	int			ndue = 0;
	int			running = 0;
	uint32		waiting = 0;
	MemoryContext old;

	old = MemoryContextSwitchTo(cycle);
	dbs = vt_counters_pending_databases(&ndbs);
	{
		/* Databases with spooled batches (a standby, or one just promoted). */
		int			nspool;
		Oid		   *spool = vt_spool_databases(&nspool);

		dbs = repalloc(dbs, sizeof(Oid) * Max(ndbs + nspool, 1));
		for (int i = 0; i < nspool; i++)
		{
			bool		seen = false;

			for (int k = 0; k < ndbs && !seen; k++)
				seen = dbs[k] == spool[i];
			if (!seen)
				dbs[ndbs++] = spool[i];
		}
	}
	due = palloc(sizeof(int) * Max(ndbs, 1));
	MemoryContextSwitchTo(old);

	for (int i = 0; i < nturns; i++)
		if (vt_flusher_running(&turns[i]))
			running++;

	for (int i = 0; i < ndbs; i++)
	{
		int			t = vt_turn_for(dbs[i]);

		if (turns[t].handle != NULL || vt_counters_is_dropping(dbs[i]))
			continue;			/* served, or being dropped */
		if (!vt_database_exists(dbs[i]))
		{
			vt_counters_discard(dbs[i], InvalidOid);
			vt_spool_forget_database(dbs[i]);
			continue;
		}
		due[ndue++] = t;
	}

	qsort(due, ndue, sizeof(int), vt_turn_cmp);
	for (int i = 0; i < ndue; i++)
	{
		vt_db_turn *turn = &turns[due[i]];

		if (running < vt_max_flush_workers &&
			vt_start_flusher(turn->dbid, &turn->handle))
		{
			turn->last_start = GetCurrentTimestamp();
			running++;
		}
		else
			waiting++;
	}
	/* Running flushers leave after their next flush while others wait. */
	vt_counters_set_waiting(waiting);
}

/*
 * Before the pending counts are saved, every flusher must be gone: one that
 * committed after the save would have its calls both in the table and in
 * the file.  At shutdown the flushers got SIGTERM too; when the launcher is
 * terminated alone, it asks them to stop.  Each flushes once more and exits.
 */
static void
vt_stop_flushers(void)
{
	for (int i = 0; i < nturns; i++)
	{
		if (turns[i].handle == NULL)
			continue;
		TerminateBackgroundWorker(turns[i].handle);
		(void) WaitForBackgroundWorkerShutdown(turns[i].handle);
	}
	/* Flushers of an earlier launcher (one restarted) hold claims too. */
	for (int waited = 0; waited < 60000 && vt_counters_any_flusher(); waited += 10)
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10,
						 PG_WAIT_EXTENSION);
}

void
vt_launcher_main(Datum arg)
{
	MemoryContext cycle;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();

	/* Connected to no database: only shared catalogs, for pg_database. */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	vt_counters_set_launcher_latch(MyLatch);
	vt_counters_load_file();

	cycle = AllocSetContextCreate(TopMemoryContext, "vatoken launcher cycle",
								  ALLOCSET_DEFAULT_SIZES);
	while (!ShutdownRequestPending)
	{
		MemoryContextReset(cycle);
		vt_launch_round(cycle);

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 vt_flush_interval_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}

	vt_counters_set_launcher_latch(NULL);
	vt_counters_set_waiting(0);
	vt_stop_flushers();
	vt_counters_wait_for_others();
	vt_counters_save_file();
	proc_exit(1);
}
