/*
 * vt_stats.c
 *	  vatoken_stats(): what the fast path of each database is doing, for
 *	  monitoring (docs, "Monitoring").
 *
 * One row per database that shared memory knows of (a database entry, or
 * counters; with spooled batches on a standby too), and always one for the
 * current database.  Without the preload there is no fast path: one row
 * for the current database, fast_path false, the other columns NULL.
 *
 * It reads shared memory through vt_counters_stats (which never makes a
 * flusher wait) and lists this node's spool directory; it writes nothing
 * and resolves no name, so it is not SECURITY DEFINER.  EXECUTE is granted
 * to nobody by default (sql/vatoken--2.0.sql).
 */
#include "postgres.h"

#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "vatoken.h"
#include "vt_counters.h"
#include "vt_spool.h"

PG_FUNCTION_INFO_V1(vatoken_stats);

#define VT_STATS_COLS	14

static int
vt_stats_cmp(const void *a, const void *b)
{
	Oid			x = ((const vt_db_stats *) a)->dbid;
	Oid			y = ((const vt_db_stats *) b)->dbid;

	return (x > y) - (x < y);
}

/* Add a zero row for dbid unless it has one. */
static vt_db_stats *
vt_stats_add(vt_db_stats *stats, int *n, Oid dbid)
{
	for (int i = 0; i < *n; i++)
		if (stats[i].dbid == dbid)
			return stats;
	stats = repalloc(stats, sizeof(vt_db_stats) * (*n + 1));
	memset(&stats[*n], 0, sizeof(vt_db_stats));
	stats[(*n)++].dbid = dbid;
	return stats;
}

Datum
vatoken_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[VT_STATS_COLS];
	bool		nulls[VT_STATS_COLS];
	vt_db_stats *stats;
	int			n;
	pg_uuid_t	node;
	bool		have_node;
	TimestampTz now = GetCurrentTimestamp();

	InitMaterializedSRF(fcinfo, 0);

	if (!vt_counters_active())
	{
		char	   *name = get_database_name(MyDatabaseId);

		memset(nulls, true, sizeof(nulls));
		values[0] = ObjectIdGetDatum(MyDatabaseId);
		nulls[0] = false;
		if (name != NULL)
		{
			values[1] = DirectFunctionCall1(namein, CStringGetDatum(name));
			nulls[1] = false;
		}
		values[2] = BoolGetDatum(false);
		nulls[2] = false;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		return (Datum) 0;
	}

	stats = vt_counters_stats(&n);
	stats = vt_stats_add(stats, &n, MyDatabaseId);
	have_node = vt_spool_node(&node, false);
	if (have_node)
	{
		int			nspool;
		Oid		   *spool = vt_spool_databases(&nspool);

		for (int i = 0; i < nspool; i++)
			stats = vt_stats_add(stats, &n, spool[i]);
	}
	qsort(stats, n, sizeof(vt_db_stats), vt_stats_cmp);

	for (int i = 0; i < n; i++)
	{
		vt_db_stats *s = &stats[i];
		char	   *name = get_database_name(s->dbid);

		memset(nulls, false, sizeof(nulls));
		values[0] = ObjectIdGetDatum(s->dbid);
		if (name != NULL)
			values[1] = DirectFunctionCall1(namein, CStringGetDatum(name));
		else
			nulls[1] = true;	/* dropped */
		values[2] = BoolGetDatum(true);
		values[3] = Int32GetDatum(s->counters);
		values[4] = Int32GetDatum(vt_max_counters);
		values[5] = Int64GetDatum((int64) s->calls_counted);
		values[6] = Int64GetDatum((int64) s->calls_pending);
		values[7] = Int64GetDatum((int64) s->flushes);
		if (s->last_flush_at != 0)
		{
			values[8] = TimestampTzGetDatum(s->last_flush_at);
			values[9] = IntervalPGetDatum(vt_interval_of_us(s->last_flush_us));
		}
		else
			nulls[8] = nulls[9] = true;
		values[10] = Int64GetDatum((int64) s->flush_errors);
		if (s->last_error_at != 0)
			values[11] = TimestampTzGetDatum(s->last_error_at);
		else
			nulls[11] = true;

		/*
		 * The spool: batches not yet seen recorded on the primary (a batch
		 * is removed once this server's replay shows it recorded).  NULL on
		 * a server that never counted as a standby (no node id).
		 */
		nulls[12] = nulls[13] = true;
		if (have_node)
		{
			int			nseqs;
			int64	   *seqs = vt_spool_list(&node, s->dbid, &nseqs);

			values[12] = Int32GetDatum(nseqs);
			nulls[12] = false;
			for (int k = 0; k < nseqs; k++)
			{
				TimestampTz spooled = vt_spool_batch_time(&node, s->dbid, seqs[k]);

				if (spooled == 0)
					continue;	/* removed meanwhile: delivered */
				values[13] = IntervalPGetDatum(vt_interval_of_us(Max(now - spooled, 0)));
				nulls[13] = false;
				break;
			}
			pfree(seqs);
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
