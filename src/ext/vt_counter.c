/*
 * vt_counter.c
 *	  Counting of API calls: chooses between the transactional counter and
 *	  the shared-memory counters (see vt_counter.h).
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "vatoken.h"
#include "vt_counter.h"
#include "vt_shmem.h"
#include "vt_store.h"

bool
vt_counter_in_shmem(void)
{
	return vt_shmem_active();
}

void
vt_counter_count(Oid relid, int64 token_id)
{
	TimestampTz now = GetCurrentTimestamp();
	vt_day		day = vt_local_day(now);
	vt_usage_delta delta = {token_id, day, 1, now};

	if (vt_shmem_active())
	{
		if (vt_shmem_count(relid, token_id, day, now))
			return;

		/*
		 * The counter table is full: write this call through, in this
		 * transaction, and ask the workers to flush and make room.
		 */
		vt_shmem_request_flush();
		vt_store_connect();
		vt_store_add_usage(&delta, 1);
		vt_store_disconnect();
		return;
	}

	/* Transactional: the caller holds an SPI connection and the row lock. */
	vt_store_add_usage(&delta, 1);
}

uint64
vt_counter_read_begin(void)
{
	uint64		ticket = 0;

	if (vt_shmem_active())
	{
		ticket = vt_shmem_read_begin();
		/* See every flush committed up to now, whatever the isolation level. */
		PushActiveSnapshot(GetLatestSnapshot());
	}
	return ticket;
}

bool
vt_counter_read_end(uint64 ticket, Oid relid, vt_pending_set *pending)
{
	pending->items = NULL;
	pending->n = 0;
	if (!vt_shmem_active())
		return true;

	PopActiveSnapshot();
	pending->items = vt_shmem_collect(MyDatabaseId, relid, &pending->n);
	return vt_shmem_read_valid(ticket);
}

void
vt_counter_add_pending(const vt_pending_set *pending, int64 token_id,
					   const vt_periods *periods,
					   int64 calls[VT_USAGE_COLUMNS],
					   TimestampTz *last_used_at, bool *last_used_null)
{
	int			lo = 0;
	int			hi = pending->n;

	/* Find the first item of token_id (items are sorted by token_id). */
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (pending->items[mid].token_id < token_id)
			lo = mid + 1;
		else
			hi = mid;
	}

	for (int i = lo; i < pending->n && pending->items[i].token_id == token_id; i++)
	{
		const vt_pending *p = &pending->items[i];

		if (p->day == periods->today)
			calls[VT_CALLS_TODAY] += p->calls;
		if (p->day >= periods->week_start && p->day <= periods->today)
			calls[VT_CALLS_THIS_WEEK] += p->calls;
		if (p->day >= periods->month_start && p->day <= periods->today)
			calls[VT_CALLS_THIS_MONTH] += p->calls;
		if (p->day >= periods->last_month_start && p->day <= periods->last_month_end)
			calls[VT_CALLS_LAST_MONTH] += p->calls;
		if (*last_used_null || p->last_used > *last_used_at)
		{
			*last_used_at = p->last_used;
			*last_used_null = false;
		}
	}
}
