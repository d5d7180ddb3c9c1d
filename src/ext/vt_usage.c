/*
 * vt_usage.c
 *	  Counting of API calls and reading of the counts: chooses between the
 *	  transactional counter and the shared-memory counters (vt_usage.h).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "vt_usage.h"
#include "vt_counters.h"
#include "vt_forward.h"
#include "vt_policy.h"

bool
vt_usage_in_shmem(void)
{
	return vt_counters_active();
}

void
vt_usage_count(const vt_rels *rels, int64 token_id, uint64 tag, TimestampTz now,
			   bool accepted, const inet *client)
{
	vt_day		day = vt_local_day(now);

	if (!accepted && !rels->schema_2_0)
		return;
	if (vt_counters_active())
	{
		vt_token_ident token = {rels->tokens, token_id, tag};
		vt_ipnet	net;

		if (client != NULL)
			vt_ipnet_from_inet(client, &net);
		/* Also on a hot standby: its flush worker forwards (vt_forward.c). */
		vt_counters_count(&token, day, now, accepted, client != NULL ? &net : NULL);
	}
	else if (accepted)
		vt_store_count_call(rels->schema_1_0, rels->schema_2_0, token_id, day, now, client);
	else
		vt_store_count_rejected(token_id, day);
}

/* Add pending calls of one day to the periods that contain it. */
static void
vt_add_day(int64 calls[VT_USAGE_COLUMNS], const vt_periods *p, vt_day day, uint64 n)
{
	if (day == p->today)
		calls[VT_CALLS_TODAY] += n;
	if (day >= p->week_start && day <= p->today)
		calls[VT_CALLS_THIS_WEEK] += n;
	if (day >= p->month_start && day <= p->today)
		calls[VT_CALLS_THIS_MONTH] += n;
	if (day >= p->last_month_start && day <= p->last_month_end)
		calls[VT_CALLS_LAST_MONTH] += n;
}

/*
 * vatoken_list: pending counts (sorted by token_id), matched by token.  Also
 * for the spooled counts of a standby.
 */
static void
vt_add_pending_all(vt_usage_row *rows, int n, vt_pending *pending, int npending,
				   const vt_periods *periods)
{
	for (int r = 0; r < n; r++)
	{
		vt_usage_row *row = &rows[r];
		int			lo = 0;
		int			hi = npending;

		while (lo < hi)
		{
			int			mid = lo + (hi - lo) / 2;

			if (pending[mid].token.token_id < row->token_id)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (int i = lo; i < npending && pending[i].token.token_id == row->token_id; i++)
		{
			const vt_pending *p = &pending[i];

			if (p->token.tag != row->tag)
				continue;		/* an earlier token with the same id */
			vt_add_day(row->calls, periods, p->day, p->calls);
			if (p->calls > 0 && (row->last_used_null || p->last_used > row->last_used_at))
			{
				row->last_used_at = p->last_used;
				row->last_used_null = false;
			}
			if (p->client_at != 0 && p->client_at >= row->client_at)
			{
				row->client_at = p->client_at;
				row->client = p->client;
			}
		}
	}
}

/*
 * Counts spooled on this server (a hot standby, or a primary just promoted)
 * that the snapshot does not show as delivered.
 */
static void
vt_add_spooled(vt_usage_row *rows, int n, Oid relid, const vt_periods *periods)
{
	int			nspooled;
	vt_pending *spooled = vt_forward_spooled(relid, &nspooled);

	if (spooled == NULL)
		return;
	qsort(spooled, nspooled, sizeof(vt_pending), vt_pending_cmp);
	vt_add_pending_all(rows, n, spooled, nspooled, periods);
	pfree(spooled);
}

/* vatoken_usage: one token's counters, looked up by key, day by day. */
static void
vt_add_pending_one(vt_usage_row *row, Oid relid, const vt_periods *periods)
{
	vt_token_ident token = {relid, row->token_id, row->tag};
	vt_day		from = Min(periods->week_start, periods->last_month_start);
	vt_pending *per_day = palloc(sizeof(vt_pending) * (periods->today - from + 1));

	vt_counters_token_pending(&token, from, periods->today, per_day);
	for (vt_day day = from; day <= periods->today; day++)
		vt_add_day(row->calls, periods, day, per_day[day - from].calls);
	pfree(per_day);
}

vt_usage_row *
vt_usage_read(text *owner, const int64 *token_id, int *n)
{
	vt_periods	periods;
	vt_rels		rels;
	vt_usage_row *rows;
	vt_read		r;

	vt_periods_for(vt_today(), &periods);
	(void) vt_resolve(&rels, true, AccessShareLock, AccessShareLock, true);

	vt_store_connect();
	if (!vt_counters_active())
	{
		rows = vt_store_read_usage(rels.schema_1_0, rels.schema_2_0, owner, token_id, &periods, n);
		vt_store_disconnect();
		return rows;
	}

	vt_counters_read_begin(&r);
	do
	{
		/* See every flush committed up to now, whatever the isolation level. */
		PushActiveSnapshot(GetLatestSnapshot());
		rows = vt_store_read_usage(rels.schema_1_0, rels.schema_2_0, owner, token_id, &periods, n);
		/* Spooled batches not delivered as this same snapshot sees it. */
		vt_add_spooled(rows, *n, rels.tokens, &periods);
		PopActiveSnapshot();
		if (token_id != NULL)
		{
			for (int i = 0; i < *n; i++)
				vt_add_pending_one(&rows[i], rels.tokens, &periods);
		}
		else
		{
			int			npending;
			vt_pending *pending = vt_counters_collect(rels.tokens, &npending, NULL);

			vt_add_pending_all(rows, *n, pending, npending, &periods);
			pfree(pending);
		}
	} while (vt_counters_read_retry(&r));
	vt_store_disconnect();
	return rows;
}

/* Add the pending counts of one token (of relid) in from..to. */
static void
vt_add_pending_daily(const vt_pending *pending, int n, const vt_token_ident *token,
					 vt_day from, vt_day to, int64 *calls, int64 *rejected)
{
	for (int i = 0; i < n; i++)
	{
		const vt_pending *p = &pending[i];

		if (p->token.token_id != token->token_id || p->token.tag != token->tag ||
			p->day < from || p->day > to)
			continue;
		calls[p->day - from] += (int64) p->calls;
		rejected[p->day - from] += (int64) p->rejected;
	}
}

bool
vt_usage_read_daily(text *owner, int64 token_id, vt_day from, vt_day to,
					int64 *calls, int64 *rejected)
{
	int			ndays = to - from + 1;
	vt_rels		rels;
	vt_read		r;
	bool		found;

	(void) vt_resolve(&rels, true, AccessShareLock, AccessShareLock, true);
	vt_store_connect();
	if (!vt_counters_active())
	{
		uint64		tag;

		found = vt_store_read_daily(owner, token_id, from, to, &tag, calls, rejected);
		vt_store_disconnect();
		return found;
	}

	vt_counters_read_begin(&r);
	do
	{
		vt_token_ident token = {rels.tokens, token_id, 0};

		/* See every flush committed up to now, whatever the isolation level. */
		PushActiveSnapshot(GetLatestSnapshot());
		found = vt_store_read_daily(owner, token_id, from, to, &token.tag, calls, rejected);
		if (found)
		{
			int			nspooled;
			vt_pending *spooled = vt_forward_spooled(rels.tokens, &nspooled);

			if (spooled != NULL)
			{
				vt_add_pending_daily(spooled, nspooled, &token, from, to, calls, rejected);
				pfree(spooled);
			}
		}
		PopActiveSnapshot();
		if (found)
		{
			vt_pending *per_day = palloc(sizeof(vt_pending) * ndays);

			vt_counters_token_pending(&token, from, to, per_day);
			vt_add_pending_daily(per_day, ndays, &token, from, to, calls, rejected);
			pfree(per_day);
		}
	} while (vt_counters_read_retry(&r));
	vt_store_disconnect();
	return found;
}
