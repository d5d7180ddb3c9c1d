/*
 * vt_store.c
 *	  SPI access to the extension's tables in schema "vatoken".
 *
 * Every statement is prepared once per backend and kept (SPI_keepplan); the
 * plan cache re-plans after DDL such as DROP/CREATE EXTENSION.  The callers
 * run SECURITY DEFINER with search_path pinned to pg_catalog, pg_temp, and
 * every relation here is schema-qualified, so nothing can be captured by
 * objects in a user's schema.
 *
 * The library serves a database whose tables are still at schema 1.0 (new
 * binaries installed, ALTER EXTENSION UPDATE not run yet) with the 1.0 forms
 * of the statements that involve a token's last use.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "vt_counter.h"
#include "vt_lookup.h"
#include "vt_store.h"

typedef struct vt_plan
{
	const char *sql;
	int			nargs;
	Oid			argtypes[7];
	SPIPlanPtr	plan;
	bool		generic;		/* always the generic plan (see below) */
} vt_plan;

static vt_plan plan_insert = {
	"INSERT INTO vatoken.tokens (owner, name, token_hash) VALUES ($1, $2, $3)"
	" RETURNING token_id, created_at",
	3, {TEXTOID, TEXTOID, BYTEAOID}
};

static vt_plan plan_lookup_locked = {
	"SELECT token_id, owner, name FROM vatoken.tokens WHERE token_hash = $1"
	" FOR KEY SHARE",
	1, {BYTEAOID}
};

static vt_plan plan_delete = {
	"DELETE FROM vatoken.tokens WHERE owner = $1 AND token_id = $2",
	2, {TEXTOID, INT8OID}
};

/*
 * Add calls to tokens' daily usage and raise the day's last_used_at, for a
 * batch given as four parallel arrays: $1 token ids, $2 days, $3 calls, $4
 * times of the latest call.  (token_id, day) pairs are unique within a batch.
 *
 * Most calls land on a day row that already exists: "upd" adds to it, one
 * row written per token and day, nothing else.  If a concurrent delete has
 * removed the row, the update skips it and the count vanishes with the token.
 * Only the pairs without a row in this statement's snapshot (a token's first
 * calls of a day) lock their token rows FOR KEY SHARE, in id order, and are
 * inserted: a concurrent delete either waits for this transaction or has
 * already removed the token, and then nothing is inserted for it.  A row
 * that a concurrent write-through added after the snapshot is found by ON
 * CONFLICT; "upd" cannot see it, so no pair is counted twice.
 *
 * The statement runs with its generic plan, whatever the batch size: every
 * join is a nested loop into a unique index, so a flush costs what its batch
 * holds, never a scan of the tables (a custom plan for a large batch may hash
 * the whole usage history).  For the same reason no two CTEs are joined with
 * each other: that would be quadratic in the batch.
 */
static vt_plan plan_add_usage = {
	"WITH d AS (SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2),"
	"  pg_catalog.unnest($3), pg_catalog.unnest($4)) AS d(token_id, day, calls, last_used)),"
	" upd AS (UPDATE vatoken.usage u SET calls = u.calls + d.calls,"
	"   last_used_at = GREATEST(u.last_used_at, d.last_used)"
	"  FROM d WHERE u.token_id = d.token_id AND u.day = d.day),"
	" t AS (SELECT d.token_id, d.day, d.calls, d.last_used FROM d"
	"  JOIN vatoken.tokens tok ON tok.token_id = d.token_id"
	"  WHERE NOT EXISTS (SELECT FROM vatoken.usage e"
	"   WHERE e.token_id = d.token_id AND e.day = d.day)"
	"  ORDER BY d.token_id FOR KEY SHARE OF tok)"
	" INSERT INTO vatoken.usage AS u (token_id, day, calls, last_used_at)"
	" SELECT t.token_id, t.day, t.calls, t.last_used FROM t"
	" ON CONFLICT (token_id, day) DO UPDATE SET calls = u.calls + EXCLUDED.calls,"
	"  last_used_at = GREATEST(u.last_used_at, EXCLUDED.last_used_at)",
	4, {INT8ARRAYOID, DATEARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID}, NULL, true
};

/*
 * The same for a database still at schema 1.0, where a token's last use is
 * tokens.last_used_at: the batch's token rows are locked FOR KEY SHARE first
 * (in id order), so that a concurrent delete either waits or has already
 * removed the row, and only the pairs of locked tokens are written.
 */
static vt_plan plan_add_usage_1_0 = {
	"WITH d AS (SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2),"
	"  pg_catalog.unnest($3), pg_catalog.unnest($4)) AS d(token_id, day, calls, last_used)),"
	" t AS (SELECT d.token_id, d.day, d.calls, d.last_used FROM d"
	"  JOIN vatoken.tokens tok ON tok.token_id = d.token_id"
	"  ORDER BY d.token_id FOR KEY SHARE OF tok),"
	" touched AS (UPDATE vatoken.tokens tok"
	"  SET last_used_at = GREATEST(tok.last_used_at, m.last_used)"
	"  FROM (SELECT t.token_id, max(t.last_used) AS last_used FROM t"
	"   GROUP BY t.token_id) m"
	"  WHERE tok.token_id = m.token_id)"
	" INSERT INTO vatoken.usage AS u (token_id, day, calls)"
	" SELECT t.token_id, t.day, t.calls FROM t"
	" ON CONFLICT (token_id, day) DO UPDATE SET calls = u.calls + EXCLUDED.calls",
	4, {INT8ARRAYOID, DATEARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID}, NULL, true
};

/*
 * $2 = today, $3 = week start, $4 = month start, $5/$6 = last month; every
 * range ends at today so that rows dated after today (a clock set back) are
 * not reported as today's.
 */
#define VT_LAST_USED \
	"(SELECT max(l.last_used_at) FROM vatoken.usage l WHERE l.token_id = t.token_id)"
#define VT_LAST_USED_1_0 "t.last_used_at"
#define VT_USAGE_SELECT(last_used) \
	"SELECT t.token_id, t.name, t.created_at, " last_used "," \
	" COALESCE(SUM(u.calls) FILTER (WHERE u.day = $2), 0)::bigint," \
	" COALESCE(SUM(u.calls) FILTER (WHERE u.day BETWEEN $3 AND $2), 0)::bigint," \
	" COALESCE(SUM(u.calls) FILTER (WHERE u.day BETWEEN $4 AND $2), 0)::bigint," \
	" COALESCE(SUM(u.calls) FILTER (WHERE u.day BETWEEN $5 AND $6), 0)::bigint" \
	" FROM vatoken.tokens t" \
	" LEFT JOIN vatoken.usage u ON u.token_id = t.token_id" \
	"  AND u.day >= LEAST($3, $5)"

#define VT_LIST_WHERE \
	" WHERE t.owner = $1" \
	" GROUP BY t.token_id ORDER BY t.created_at, t.token_id"
#define VT_USAGE_WHERE \
	" WHERE t.owner = $1 AND t.token_id = $7" \
	" GROUP BY t.token_id"

static vt_plan plan_list = {
	VT_USAGE_SELECT(VT_LAST_USED) VT_LIST_WHERE,
	6, {TEXTOID, DATEOID, DATEOID, DATEOID, DATEOID, DATEOID}
};

static vt_plan plan_usage = {
	VT_USAGE_SELECT(VT_LAST_USED) VT_USAGE_WHERE,
	7, {TEXTOID, DATEOID, DATEOID, DATEOID, DATEOID, DATEOID, INT8OID}
};

static vt_plan plan_list_1_0 = {
	VT_USAGE_SELECT(VT_LAST_USED_1_0) VT_LIST_WHERE,
	6, {TEXTOID, DATEOID, DATEOID, DATEOID, DATEOID, DATEOID}
};

static vt_plan plan_usage_1_0 = {
	VT_USAGE_SELECT(VT_LAST_USED_1_0) VT_USAGE_WHERE,
	7, {TEXTOID, DATEOID, DATEOID, DATEOID, DATEOID, DATEOID, INT8OID}
};

#undef VT_USAGE_SELECT
#undef VT_LAST_USED
#undef VT_LAST_USED_1_0
#undef VT_LIST_WHERE
#undef VT_USAGE_WHERE

/*
 * Whether this database's tables are still those of schema 1.0 (the library
 * is new, ALTER EXTENSION vatoken UPDATE has not run yet), where a token's
 * last use is tokens.last_used_at rather than usage.last_used_at.  The usage
 * table is locked first, so that the answer holds for the statement that
 * follows in this transaction even if an update is under way.
 */
static bool
vt_schema_1_0(void)
{
	Oid			tokens = vt_tokens_relid(NULL);
	Oid			usage = get_relname_relid("usage", get_rel_namespace(tokens));

	if (!OidIsValid(usage))
		return true;			/* the statement will say what is missing */
	LockRelationOid(usage, AccessShareLock);
	return get_attnum(usage, "last_used_at") == InvalidAttrNumber;
}

static int
vt_execute(vt_plan *p, Datum *values, bool read_only, long count)
{
	int			rc;

	if (p->plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(p->sql, p->nargs, p->argtypes,
											  p->generic ? CURSOR_OPT_GENERIC_PLAN : 0);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for vatoken statement: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		p->plan = plan;
	}
	rc = SPI_execute_plan(p->plan, values, NULL, read_only, count);
	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed for vatoken statement: %s",
			 SPI_result_code_string(rc));
	return rc;
}

static bytea *
vt_hash_datum(const uint8 *hash)
{
	bytea	   *b = palloc(VARHDRSZ + VT_HASH_LEN);

	SET_VARSIZE(b, VARHDRSZ + VT_HASH_LEN);
	memcpy(VARDATA(b), hash, VT_HASH_LEN);
	return b;
}

static Datum
vt_column(int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, isnull);
}

void
vt_store_connect(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

void
vt_store_disconnect(void)
{
	SPI_finish();
}

void
vt_store_insert(text *owner, text *name, const uint8 *hash,
				int64 *token_id, TimestampTz *created_at)
{
	Datum		values[3];
	bool		isnull;

	values[0] = PointerGetDatum(owner);
	values[1] = PointerGetDatum(name);
	values[2] = PointerGetDatum(vt_hash_datum(hash));
	if (vt_execute(&plan_insert, values, false, 1) != SPI_OK_INSERT_RETURNING ||
		SPI_processed != 1)
		elog(ERROR, "could not insert vatoken token row");

	*token_id = DatumGetInt64(vt_column(1, &isnull));
	*created_at = DatumGetTimestampTz(vt_column(2, &isnull));
}

bool
vt_store_lookup_locked(const uint8 *hash, vt_token_row *row)
{
	Datum		values[1];
	bool		isnull;

	values[0] = PointerGetDatum(vt_hash_datum(hash));
	vt_execute(&plan_lookup_locked, values, false, 1);
	if (SPI_processed == 0)
		return false;

	row->token_id = DatumGetInt64(vt_column(1, &isnull));
	/* Copy the text columns out of SPI's memory into the caller's. */
	row->owner = DatumGetTextPP(SPI_datumTransfer(vt_column(2, &isnull), false, -1));
	row->name = DatumGetTextPP(SPI_datumTransfer(vt_column(3, &isnull), false, -1));
	return true;
}

bool
vt_store_delete(text *owner, int64 token_id)
{
	Datum		values[2];

	values[0] = PointerGetDatum(owner);
	values[1] = Int64GetDatum(token_id);
	vt_execute(&plan_delete, values, false, 0);
	return SPI_processed > 0;
}

void
vt_store_add_usage(const vt_usage_delta *deltas, int n)
{
	Datum	   *ids;
	Datum	   *days;
	Datum	   *calls;
	Datum	   *times;
	Datum		values[4];

	if (n == 0)
		return;
	ids = palloc(sizeof(Datum) * n);
	days = palloc(sizeof(Datum) * n);
	calls = palloc(sizeof(Datum) * n);
	times = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
	{
		ids[i] = Int64GetDatum(deltas[i].token_id);
		days[i] = DateADTGetDatum(VT_DATEADT_FROM_DAY(deltas[i].day));
		calls[i] = Int64GetDatum(deltas[i].calls);
		times[i] = TimestampTzGetDatum(deltas[i].last_used);
	}
	values[0] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[1] = PointerGetDatum(construct_array(days, n, DATEOID, 4, true, TYPALIGN_INT));
	values[2] = PointerGetDatum(construct_array(calls, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[3] = PointerGetDatum(construct_array(times, n, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	vt_execute(vt_schema_1_0() ? &plan_add_usage_1_0 : &plan_add_usage, values, false, 0);
}

void
vt_store_usage(FunctionCallInfo fcinfo, text *owner, const int64 *token_id,
			   bool with_token_columns)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	vt_periods	periods;
	Datum		args[7];
	Oid			relid;
	vt_pending_set pending;
	vt_plan    *plan;

	vt_periods_for(vt_today(), &periods);
	args[0] = PointerGetDatum(owner);
	args[1] = DateADTGetDatum(VT_DATEADT_FROM_DAY(periods.today));
	args[2] = DateADTGetDatum(VT_DATEADT_FROM_DAY(periods.week_start));
	args[3] = DateADTGetDatum(VT_DATEADT_FROM_DAY(periods.month_start));
	args[4] = DateADTGetDatum(VT_DATEADT_FROM_DAY(periods.last_month_start));
	args[5] = DateADTGetDatum(VT_DATEADT_FROM_DAY(periods.last_month_end));
	if (token_id)
		args[6] = Int64GetDatum(*token_id);

	relid = vt_tokens_relid(NULL);
	if (vt_schema_1_0())
		plan = token_id ? &plan_usage_1_0 : &plan_list_1_0;
	else
		plan = token_id ? &plan_usage : &plan_list;
	for (;;)
	{
		uint64		ticket = vt_counter_read_begin();

		vt_execute(plan, args, true, 0);
		if (vt_counter_read_end(ticket, relid, &pending))
			break;
		/* A flush committed while we read: read again. */
	}

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		int64		id;
		int64		calls[VT_USAGE_COLUMNS];
		TimestampTz last_used_at;
		bool		last_used_null;
		bool		isnull;
		Datum		values[8];
		bool		nulls[8] = {false};
		int			n = 0;

		id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
		last_used_at = DatumGetTimestampTz(SPI_getbinval(tuple, desc, 4, &last_used_null));
		for (int c = 0; c < VT_USAGE_COLUMNS; c++)
			calls[c] = DatumGetInt64(SPI_getbinval(tuple, desc, 5 + c, &isnull));

		vt_counter_add_pending(&pending, id, &periods, calls, &last_used_at, &last_used_null);

		if (with_token_columns)
		{
			values[n++] = Int64GetDatum(id);
			values[n++] = SPI_getbinval(tuple, desc, 2, &isnull);
			values[n++] = SPI_getbinval(tuple, desc, 3, &isnull);
			nulls[n] = last_used_null;
			values[n++] = TimestampTzGetDatum(last_used_at);
		}
		for (int c = 0; c < VT_USAGE_COLUMNS; c++)
			values[n++] = Int64GetDatum(calls[c]);

		/* tuplestore_putvalues copies into the SRF's own memory. */
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}
