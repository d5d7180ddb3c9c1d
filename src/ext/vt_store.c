/*
 * vt_store.c
 *	  SPI access to the extension's tables in schema "vatoken" (vt_store.h).
 *
 * Every statement is prepared once per backend and kept (SPI_keepplan); the
 * plan cache re-plans after DDL such as DROP/CREATE EXTENSION.  Every
 * relation is schema-qualified and every function and operator is qualified
 * with pg_catalog (GREATEST, LEAST, COALESCE and ORDER BY resolve through
 * the type's default operator class, not by name), so no statement depends
 * on the search_path of whoever runs it: a SECURITY DEFINER caller, the
 * flush worker, or an attacker's session.
 *
 * The library serves a database whose tables are still those of schema 1.0
 * (new binaries installed, ALTER EXTENSION UPDATE not run yet): the caller
 * says so (vt_resolve.c reads pg_extension.extversion) and the statements
 * that involve a token's last use take their 1.0 form.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "access/htup_details.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"
#include "utils/uuid.h"

#include "vt_store.h"
#include "vt_policy.h"

typedef struct vt_plan
{
	const char *sql;
	int			nargs;
	Oid			argtypes[12];
	SPIPlanPtr	plan;
	bool		generic;		/* always the generic plan (see below) */
} vt_plan;

#define EQ " OPERATOR(pg_catalog.=) "
#define GE " OPERATOR(pg_catalog.>=) "
#define LE " OPERATOR(pg_catalog.<=) "
#define GT " OPERATOR(pg_catalog.>) "
#define LT " OPERATOR(pg_catalog.<) "
#define NE " OPERATOR(pg_catalog.<>) "
#define PLUS " OPERATOR(pg_catalog.+) "

static vt_plan plan_insert = {
	"INSERT INTO vatoken.tokens (owner, name, token_hash) VALUES ($1, $2, $3)"
	" RETURNING token_id, created_at",
	3, {TEXTOID, TEXTOID, BYTEAOID}
};

static vt_plan plan_insert_2_0 = {
	"INSERT INTO vatoken.tokens (owner, name, token_hash, secret_hash, expires_at, scopes,"
	"  allowed_clients, hint, rate_limit, rate_window)"
	" VALUES ($1, $2, $3, $3, $4, COALESCE($5, '{*}'::pg_catalog.text[]), $6, $7, $8, $9)"
	" RETURNING token_id, created_at",
	9, {TEXTOID, TEXTOID, BYTEAOID, TIMESTAMPTZOID, TEXTARRAYOID, CIDRARRAYOID, TEXTOID,
	INT4OID, INTERVALOID}
};

/*
 * $3 name, $5 expiry (when $4), $6 scopes, $8 allowed clients (when $7),
 * $9 enabled; NULL (or a false flag) leaves a field as it is.
 */
static vt_plan plan_update = {
	"UPDATE vatoken.tokens SET"
	" name = COALESCE($3, name),"
	" expires_at = CASE WHEN $4 THEN $5 ELSE expires_at END,"
	" scopes = COALESCE($6, scopes),"
	" allowed_clients = CASE WHEN $7 THEN $8 ELSE allowed_clients END,"
	" disabled_at = CASE WHEN $9 IS NULL THEN disabled_at WHEN $9 THEN NULL"
	"   ELSE COALESCE(disabled_at, pg_catalog.now()) END,"
	" rate_limit = CASE WHEN $10 THEN $11 ELSE rate_limit END,"
	" rate_window = CASE WHEN $10 THEN $12 ELSE rate_window END"
	" WHERE owner" EQ "$1 AND token_id" EQ "$2 RETURNING name",
	12, {TEXTOID, INT8OID, TEXTOID, BOOLOID, TIMESTAMPTZOID, TEXTARRAYOID, BOOLOID,
	CIDRARRAYOID, BOOLOID, BOOLOID, INT4OID, INTERVALOID}
};

static vt_plan plan_lookup_locked = {
	"SELECT token_id, owner, name, pg_catalog.substr(token_hash, 1, 8)"
	" FROM vatoken.tokens WHERE token_hash" EQ "$1 FOR KEY SHARE",
	1, {BYTEAOID}
};

static vt_plan plan_lookup_locked_2_0 = {
	"SELECT token_id, owner, name, pg_catalog.substr(token_hash, 1, 8),"
	" expires_at, disabled_at IS NOT NULL, scopes, allowed_clients, revoked_at IS NOT NULL,"
	" secret_hash IS DISTINCT FROM $1, previous_valid_until, rate_limit, rate_window"
	" FROM vatoken.tokens WHERE secret_hash" EQ "$1 OR previous_hash" EQ "$1 FOR KEY SHARE",
	1, {BYTEAOID}
};

/* A leak report: revoke the live token with this hash, once. */
static vt_plan plan_revoke = {
	"UPDATE vatoken.tokens SET revoked_at = pg_catalog.now(), revoked_source = $2"
	" WHERE (secret_hash" EQ "$1 OR (previous_hash" EQ "$1"
	"  AND previous_valid_until" GT "$3))"
	" AND revoked_at IS NULL RETURNING owner, token_id, name",
	3, {BYTEAOID, TEXTOID, TIMESTAMPTZOID}
};

/*
 * Rotation: the new secret $3 becomes the current one; the current one
 * becomes the previous one until $6 (LEAST with the expiry) when $5, else
 * no previous secret is left.  $7: renew the expiry to $8.  A revoked token
 * is not changed; it returns true in its first column.
 */
static vt_plan plan_rotate = {
	"WITH old AS (SELECT token_id, revoked_at IS NOT NULL AS revoked FROM vatoken.tokens"
	"  WHERE owner" EQ "$1 AND token_id" EQ "$2 FOR UPDATE),"
	" upd AS (UPDATE vatoken.tokens t SET"
	"  previous_hash = CASE WHEN $5 THEN t.secret_hash END,"
	"  previous_valid_until = CASE WHEN $5 THEN"
	"   LEAST($6, CASE WHEN $7 THEN $8 ELSE t.expires_at END) END,"
	"  secret_hash = $3, hint = $4,"
	"  expires_at = CASE WHEN $7 THEN $8 ELSE t.expires_at END"
	"  FROM old WHERE t.token_id" EQ "old.token_id AND NOT old.revoked"
	"  RETURNING t.previous_valid_until, t.name)"
	" SELECT old.revoked, (SELECT previous_valid_until FROM upd), (SELECT name FROM upd) FROM old",
	8, {TEXTOID, INT8OID, BYTEAOID, TEXTOID, BOOLOID, TIMESTAMPTZOID, BOOLOID, TIMESTAMPTZOID}
};

/*
 * An audit event (2.0): $1 at, $2 owner, $3 event, $4 token, $5 name,
 * $6 actor, $7/$8 the detail's keys and values (text).  Who and from where
 * come from the session.
 */
static vt_plan plan_audit = {
	"INSERT INTO vatoken.audit (at, owner, event, token_id, name, actor, role, client,"
	"  application_name, detail)"
	" VALUES ($1, $2, $3, $4, $5, $6, SESSION_USER, pg_catalog.inet_client_addr(),"
	"  pg_catalog.current_setting('application_name'), pg_catalog.jsonb_object($7, $8))",
	8, {TIMESTAMPTZOID, TEXTOID, TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID}
};

static vt_plan plan_audit_read = {
	"SELECT at, event, token_id, name, actor, role, client, application_name, detail"
	" FROM vatoken.audit WHERE owner" EQ "$1 AND at" GE "$2 ORDER BY at, audit_id",
	2, {TEXTOID, TIMESTAMPTZOID}
};

/* Retention: daily usage rows before $1 go. */
static vt_plan plan_usage_prune = {
	"DELETE FROM vatoken.usage WHERE day" LT "$1",
	1, {DATEOID}
};

/*
 * The same for a flush worker, at most $2 rows at a time: rows locked by a
 * transaction stay.
 */
static vt_plan plan_usage_prune_skip_locked = {
	"DELETE FROM vatoken.usage WHERE ctid" EQ "ANY (ARRAY("
	" SELECT l.ctid FROM vatoken.usage l WHERE l.day" LT "$1 LIMIT $2"
	" FOR UPDATE OF l SKIP LOCKED))",
	2, {DATEOID, INT4OID}
};

static vt_plan plan_audit_prune = {
	"DELETE FROM vatoken.audit WHERE at" LT "$1",
	1, {TIMESTAMPTZOID}
};

/*
 * A rate-limited call without the preload: $1 token, $2 the window's start,
 * $3 the limit.  Under the row lock of the upsert, a new window starts at 1
 * and a window below the limit goes up by one; a full window returns no row.
 */
static vt_plan plan_rate_take = {
	"INSERT INTO vatoken.rate_windows AS r (token_id, window_start, window_length, calls)"
	" VALUES ($1, $2, $4, 1)"
	" ON CONFLICT (token_id) DO UPDATE SET window_start = EXCLUDED.window_start,"
	"  window_length = EXCLUDED.window_length,"
	"  calls = CASE WHEN r.window_start" EQ "EXCLUDED.window_start"
	"   AND r.window_length" EQ "EXCLUDED.window_length THEN r.calls" PLUS "1 ELSE 1 END"
	" WHERE r.window_start" NE "EXCLUDED.window_start"
	"  OR r.window_length" NE "EXCLUDED.window_length OR r.calls" LT "$3"
	" RETURNING calls",
	4, {INT8OID, TIMESTAMPTZOID, INT4OID, INTERVALOID}
};

static vt_plan plan_delete = {
	"DELETE FROM vatoken.tokens WHERE owner" EQ "$1 AND token_id" EQ "$2 RETURNING name",
	2, {TEXTOID, INT8OID}
};

/*
 * 2.0's day row keeps the client address of the day's latest accepted call
 * that named one, and when that call was made: a write replaces it only
 * with a later call's.
 */
#define VT_SET_CLIENT(client, client_at) \
	", last_used_client = CASE WHEN " client_at GE \
	"  COALESCE(u.last_client_at, '-infinity'::pg_catalog.timestamptz)" \
	"  THEN " client " ELSE u.last_used_client END," \
	" last_client_at = GREATEST(u.last_client_at, " client_at ")"

/* Transactional counting: $1 token, $2 day, $3 time of the call. */
static vt_plan plan_count = {
	"INSERT INTO vatoken.usage AS u (token_id, day, calls, last_used_at)"
	" VALUES ($1, $2, 1, $3)"
	" ON CONFLICT (token_id, day) DO UPDATE SET calls = u.calls" PLUS "1,"
	"  last_used_at = GREATEST(u.last_used_at, EXCLUDED.last_used_at)",
	3, {INT8OID, DATEOID, TIMESTAMPTZOID}
};

/*
 * 2.0 also keeps the client address of the latest call that named one
 * ($4, NULL: none); $1 token, $2 day, $3 time of the call.
 */
static vt_plan plan_count_2_0 = {
	"INSERT INTO vatoken.usage AS u (token_id, day, calls, last_used_at, last_used_client,"
	"  last_client_at)"
	" VALUES ($1, $2, 1, $3, $4, CASE WHEN $4 IS NULL THEN NULL ELSE $3 END)"
	" ON CONFLICT (token_id, day) DO UPDATE SET calls = u.calls" PLUS "1,"
	"  last_used_at = GREATEST(u.last_used_at, EXCLUDED.last_used_at)"
	VT_SET_CLIENT("EXCLUDED.last_used_client", "EXCLUDED.last_client_at"),
	4, {INT8OID, DATEOID, TIMESTAMPTZOID, INETOID}
};

/* A refused call of a known token (2.0): $1 token, $2 day. */
static vt_plan plan_count_rejected = {
	"INSERT INTO vatoken.usage AS u (token_id, day, calls, rejected) VALUES ($1, $2, 0, 1)"
	" ON CONFLICT (token_id, day) DO UPDATE SET rejected = u.rejected" PLUS "1",
	2, {INT8OID, DATEOID}
};

static vt_plan plan_count_1_0 = {
	"WITH touched AS (UPDATE vatoken.tokens t"
	"  SET last_used_at = GREATEST(t.last_used_at, $3) WHERE t.token_id" EQ "$1)"
	" INSERT INTO vatoken.usage AS u (token_id, day, calls) VALUES ($1, $2, 1)"
	" ON CONFLICT (token_id, day) DO UPDATE SET calls = u.calls" PLUS "1",
	3, {INT8OID, DATEOID, TIMESTAMPTZOID}
};

/*
 * The flush.  Every statement takes the batch as eight parallel arrays: $1
 * token ids, $2 days, $3 calls, $4 times of the latest call (NULL: no
 * accepted call), $5 tags (the first 8 bytes of the token's hash, which tell
 * a token from a later one that reuses its id), and for schema 2.0 $6
 * refused calls, $7 the latest client address named and $8 its time (NULL:
 * none).  It runs as three statements over what is still
 * unresolved, each returning the (token_id, day) pairs it resolved (the
 * order is in vt_store_flush):
 *
 * 1. gone: the pairs whose token no longer exists in this snapshot (deleted,
 *	  or its id reused by another token), with their tags; their counts go
 *	  with the token.
 * 2. update: the pairs whose day row exists and is not locked by anyone
 *	  else (SKIP LOCKED) add their calls to it.  Usually nobody holds a lock:
 *	  a plain UPDATE is tried first (see plan_flush_update_fast).
 * 3. insert: the pairs without a day row (a token's first calls of a day)
 *	  lock their token rows FOR KEY SHARE SKIP LOCKED, so that a concurrent
 *	  delete either waits for the flush or has already removed the token,
 *	  and insert the row.
 *
 * What is locked stays unresolved, pending in shared memory, and is written
 * by a later flush: one open transaction never stops a database's flush.
 *
 * The statements run with their generic plan, whatever the batch size: every
 * join is a nested loop from the batch into a unique index, so a flush costs
 * what its batch holds, never a scan of the tables, and no two CTEs are
 * joined with each other (that would be quadratic in the batch).
 */
#define VT_BATCH \
	"WITH d AS (SELECT * FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)," \
	"  pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5)," \
	"  pg_catalog.unnest($6), pg_catalog.unnest($7), pg_catalog.unnest($8))" \
	"  AS d(token_id, day, calls, last_used, tag, rejected, client, client_at))"
#define VT_SAME_TOKEN(t) \
	" " t ".token_id" EQ "d.token_id AND pg_catalog.substr(" t ".token_hash, 1, 8)" EQ "d.tag"
#define VT_FLUSH_ARGS \
	8, {INT8ARRAYOID, DATEARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, BYTEAARRAYOID, \
	INT8ARRAYOID, INETARRAYOID, TIMESTAMPTZARRAYOID}, NULL, true
/* What 2.0 adds to a day row from the batch row src. */
#define VT_SET_2_0(src) \
	", rejected = u.rejected" PLUS src ".rejected" \
	VT_SET_CLIENT(src ".client", src ".client_at")

static vt_plan plan_flush_gone = {
	VT_BATCH
	" SELECT d.token_id, d.day, d.tag FROM d"
	" WHERE NOT EXISTS (SELECT FROM vatoken.tokens t WHERE" VT_SAME_TOKEN("t") ")",
	VT_FLUSH_ARGS
};

#define VT_FLUSH_UPDATE(set_2_0) \
	VT_BATCH "," \
	" l AS (SELECT u.token_id, u.day, d.calls, d.last_used, d.rejected, d.client, d.client_at" \
	"  FROM d JOIN vatoken.tokens t ON" VT_SAME_TOKEN("t") \
	"  JOIN vatoken.usage u ON u.token_id" EQ "d.token_id AND u.day" EQ "d.day" \
	"  ORDER BY u.token_id, u.day FOR NO KEY UPDATE OF u SKIP LOCKED)" \
	" UPDATE vatoken.usage u SET calls = u.calls" PLUS "l.calls," \
	"  last_used_at = GREATEST(u.last_used_at, l.last_used)" set_2_0 \
	" FROM l WHERE u.token_id" EQ "l.token_id AND u.day" EQ "l.day" \
	" RETURNING u.token_id, u.day"

static vt_plan plan_flush_update = {VT_FLUSH_UPDATE(""), VT_FLUSH_ARGS};
static vt_plan plan_flush_update_2_0 = {VT_FLUSH_UPDATE(VT_SET_2_0("l")), VT_FLUSH_ARGS};

/*
 * The common case of "update", without locking the rows first: when no row
 * is locked by anyone else, one write per row instead of a lock and a
 * write.  It runs with a short lock_timeout in a subtransaction; if it meets
 * a lock, it is rolled back and plan_flush_update (SKIP LOCKED) runs.
 */
#define VT_FLUSH_UPDATE_FAST(set_2_0) \
	VT_BATCH \
	" UPDATE vatoken.usage u SET calls = u.calls" PLUS "d.calls," \
	"  last_used_at = GREATEST(u.last_used_at, d.last_used)" set_2_0 \
	" FROM d JOIN vatoken.tokens t ON" VT_SAME_TOKEN("t") \
	" WHERE u.token_id" EQ "d.token_id AND u.day" EQ "d.day" \
	" RETURNING u.token_id, u.day"

static vt_plan plan_flush_update_fast = {VT_FLUSH_UPDATE_FAST(""), VT_FLUSH_ARGS};
static vt_plan plan_flush_update_fast_2_0 = {VT_FLUSH_UPDATE_FAST(VT_SET_2_0("d")), VT_FLUSH_ARGS};

/* How long the fast update may wait for a row lock before it gives up. */
#define VT_FAST_LOCK_TIMEOUT	"10ms"

#define VT_FLUSH_INSERT(columns_2_0, values_2_0) \
	VT_BATCH "," \
	" f AS (SELECT d.token_id, d.day, d.calls, d.last_used, d.rejected, d.client, d.client_at" \
	"  FROM d JOIN vatoken.tokens t ON" VT_SAME_TOKEN("t") \
	"  WHERE NOT EXISTS (SELECT FROM vatoken.usage e" \
	"   WHERE e.token_id" EQ "d.token_id AND e.day" EQ "d.day)" \
	"  ORDER BY d.token_id FOR KEY SHARE OF t SKIP LOCKED)" \
	" INSERT INTO vatoken.usage AS u (token_id, day, calls, last_used_at" columns_2_0 ")" \
	" SELECT f.token_id, f.day, f.calls, f.last_used" values_2_0 " FROM f" \
	" ON CONFLICT (token_id, day) DO NOTHING" \
	" RETURNING u.token_id, u.day"

static vt_plan plan_flush_insert = {VT_FLUSH_INSERT("", ""), VT_FLUSH_ARGS};
static vt_plan plan_flush_insert_2_0 = {
	VT_FLUSH_INSERT(", rejected, last_used_client, last_client_at",
					", f.rejected, f.client, f.client_at"),
	VT_FLUSH_ARGS
};

/*
 * Schema 1.0 keeps a token's last use in its row: lock the batch's token
 * rows FOR NO KEY UPDATE SKIP LOCKED (a delete holds FOR UPDATE, so it is
 * skipped; and while the flush holds them, no delete can lock the day rows),
 * raise their last use and add to the day rows.
 */
static vt_plan plan_flush_1_0 = {
	VT_BATCH ","
	" t AS (SELECT d.token_id, d.day, d.calls, d.last_used FROM d"
	"  JOIN vatoken.tokens tok ON" VT_SAME_TOKEN("tok")
	"  ORDER BY d.token_id FOR NO KEY UPDATE OF tok SKIP LOCKED),"
	" touched AS (UPDATE vatoken.tokens tok"
	"  SET last_used_at = GREATEST(tok.last_used_at, m.last_used)"
	"  FROM (SELECT t.token_id, pg_catalog.max(t.last_used) AS last_used FROM t"
	"   GROUP BY t.token_id) m"
	"  WHERE tok.token_id" EQ "m.token_id)"
	" INSERT INTO vatoken.usage AS u (token_id, day, calls)"
	" SELECT t.token_id, t.day, t.calls FROM t"
	" ON CONFLICT (token_id, day) DO UPDATE SET calls = u.calls" PLUS "EXCLUDED.calls"
	" RETURNING u.token_id, u.day",
	VT_FLUSH_ARGS
};

/*
 * A delivered batch is added whole, waiting for row locks like any
 * transaction (the batch is recorded in the same transaction, so nothing
 * may stay behind): the tokens' rows are locked FOR KEY SHARE first, so a
 * token deleted meanwhile is skipped (its counts go with it, as in the
 * flush) instead of failing the foreign key.
 */
#define VT_DELIVER(columns_2_0, values_2_0, set_2_0) \
	VT_BATCH "," \
	" f AS (SELECT d.token_id, d.day, d.calls, d.last_used, d.rejected, d.client, d.client_at" \
	"  FROM d JOIN vatoken.tokens t ON" VT_SAME_TOKEN("t") \
	"  ORDER BY d.token_id FOR KEY SHARE OF t)" \
	" INSERT INTO vatoken.usage AS u (token_id, day, calls, last_used_at" columns_2_0 ")" \
	" SELECT f.token_id, f.day, pg_catalog.sum(f.calls)::pg_catalog.int8," \
	"  pg_catalog.max(f.last_used)" values_2_0 " FROM f GROUP BY f.token_id, f.day" \
	" ON CONFLICT (token_id, day) DO UPDATE SET calls = u.calls" PLUS "EXCLUDED.calls," \
	"  last_used_at = GREATEST(u.last_used_at, EXCLUDED.last_used_at)" set_2_0 \
	" RETURNING u.token_id, u.day"

static vt_plan plan_deliver = {VT_DELIVER("", "", ""), VT_FLUSH_ARGS};
static vt_plan plan_deliver_2_0 = {
	VT_DELIVER(", rejected, last_used_client, last_client_at",
			   ", pg_catalog.sum(f.rejected)::pg_catalog.int8,"
			   " (pg_catalog.array_agg(f.client ORDER BY f.client_at DESC NULLS LAST))[1],"
			   " pg_catalog.max(f.client_at)",
			   ", rejected = u.rejected" PLUS "EXCLUDED.rejected"
			   VT_SET_CLIENT("EXCLUDED.last_used_client", "EXCLUDED.last_client_at")),
	VT_FLUSH_ARGS
};

/*
 * $2 = today, $3 = week start, $4 = month start, $5/$6 = last month; every
 * range ends at today so that rows dated after today (a clock set back) are
 * not reported as today's.
 */
#define VT_LAST_USED \
	"(SELECT pg_catalog.max(l.last_used_at) FROM vatoken.usage l WHERE l.token_id" EQ "t.token_id)"
#define VT_LAST_USED_1_0 "t.last_used_at"
#define VT_SUM_DAYS(cond) \
	" COALESCE(pg_catalog.sum(u.calls) FILTER (WHERE " cond "), 0)::pg_catalog.int8"
#define VT_USAGE_SELECT(last_used) \
	"SELECT t.token_id, pg_catalog.substr(t.token_hash, 1, 8), t.name, t.created_at, " \
	last_used "," \
	VT_SUM_DAYS("u.day" EQ "$2") "," \
	VT_SUM_DAYS("u.day" GE "$3 AND u.day" LE "$2") "," \
	VT_SUM_DAYS("u.day" GE "$4 AND u.day" LE "$2") "," \
	VT_SUM_DAYS("u.day" GE "$5 AND u.day" LE "$6")
#define VT_USAGE_FROM \
	" FROM vatoken.tokens t" \
	" LEFT JOIN vatoken.usage u ON u.token_id" EQ "t.token_id" \
	"  AND u.day" GE "LEAST($3, $5)"

/* 2.0: the policy columns, after the usage. */
#define VT_POLICY_COLUMNS \
	", t.expires_at, t.disabled_at IS NOT NULL, t.scopes, t.allowed_clients, t.hint," \
	" t.revoked_at, t.revoked_source, t.rate_limit, t.rate_window"

#define VT_LIST_WHERE \
	" WHERE t.owner" EQ "$1" \
	" GROUP BY t.token_id ORDER BY t.created_at, t.token_id"
#define VT_USAGE_WHERE \
	" WHERE t.owner" EQ "$1 AND t.token_id" EQ "$7" \
	" GROUP BY t.token_id"

static vt_plan plan_list = {
	VT_USAGE_SELECT(VT_LAST_USED) VT_USAGE_FROM VT_LIST_WHERE,
	6, {TEXTOID, DATEOID, DATEOID, DATEOID, DATEOID, DATEOID}
};

static vt_plan plan_usage = {
	VT_USAGE_SELECT(VT_LAST_USED) VT_USAGE_FROM VT_USAGE_WHERE,
	7, {TEXTOID, DATEOID, DATEOID, DATEOID, DATEOID, DATEOID, INT8OID}
};

/* 2.0: the latest client address named, and when (after the policy). */
#define VT_CLIENT_COLUMNS \
	", (SELECT l.last_used_client FROM vatoken.usage l WHERE l.token_id" EQ "t.token_id" \
	"   AND l.last_client_at IS NOT NULL ORDER BY l.last_client_at DESC LIMIT 1)," \
	" (SELECT pg_catalog.max(l.last_client_at) FROM vatoken.usage l" \
	"   WHERE l.token_id" EQ "t.token_id)"

static vt_plan plan_list_2_0 = {
	VT_USAGE_SELECT(VT_LAST_USED) VT_POLICY_COLUMNS VT_CLIENT_COLUMNS VT_USAGE_FROM VT_LIST_WHERE,
	6, {TEXTOID, DATEOID, DATEOID, DATEOID, DATEOID, DATEOID}
};

static vt_plan plan_list_1_0 = {
	VT_USAGE_SELECT(VT_LAST_USED_1_0) VT_USAGE_FROM VT_LIST_WHERE,
	6, {TEXTOID, DATEOID, DATEOID, DATEOID, DATEOID, DATEOID}
};

static vt_plan plan_usage_1_0 = {
	VT_USAGE_SELECT(VT_LAST_USED_1_0) VT_USAGE_FROM VT_USAGE_WHERE,
	7, {TEXTOID, DATEOID, DATEOID, DATEOID, DATEOID, DATEOID, INT8OID}
};

/*
 * vatoken_usage_daily: one token's day rows in $3..$4, or one row of NULLs
 * if it has none there; no row if owner $1 has no token $2.
 */
static vt_plan plan_daily = {
	"SELECT pg_catalog.substr(t.token_hash, 1, 8), u.day, u.calls, u.rejected"
	" FROM vatoken.tokens t LEFT JOIN vatoken.usage u ON u.token_id" EQ "t.token_id"
	"  AND u.day" GE "$3 AND u.day" LE "$4"
	" WHERE t.owner" EQ "$1 AND t.token_id" EQ "$2",
	4, {TEXTOID, INT8OID, DATEOID, DATEOID}
};

/*
 * Counts delivered from hot standbys (vt_store_deliver): the node's row of
 * vatoken.forward_nodes, locked for the transaction, says which batches
 * are recorded.  $1 node.
 */
#define VT_NODE_WHERE " WHERE node" EQ "$1"

static vt_plan plan_node_insert = {
	"INSERT INTO vatoken.forward_nodes AS n (node) VALUES ($1)"
	" ON CONFLICT (node) DO NOTHING",
	1, {UUIDOID}
};

static vt_plan plan_node_lock = {
	"SELECT last_seq, last_digest, refused_at IS NOT NULL FROM vatoken.forward_nodes"
	VT_NODE_WHERE " FOR UPDATE",
	1, {UUIDOID}
};

static vt_plan plan_node_state = {
	"SELECT last_seq, refused_at IS NOT NULL FROM vatoken.forward_nodes" VT_NODE_WHERE,
	1, {UUIDOID}
};

static vt_plan plan_node_delivered = {
	"UPDATE vatoken.forward_nodes SET last_seq = $2, last_digest = $3,"
	" batches = batches" PLUS "1, updated_at = pg_catalog.now()" VT_NODE_WHERE,
	3, {UUIDOID, INT8OID, BYTEAOID}
};

static vt_plan plan_node_duplicate = {
	"UPDATE vatoken.forward_nodes SET duplicates = duplicates" PLUS "1,"
	" updated_at = pg_catalog.now()" VT_NODE_WHERE,
	1, {UUIDOID}
};

static vt_plan plan_node_refuse = {
	"UPDATE vatoken.forward_nodes SET refused_at = pg_catalog.now(),"
	" updated_at = pg_catalog.now()" VT_NODE_WHERE,
	1, {UUIDOID}
};

static int
vt_execute_nulls(vt_plan *p, Datum *values, const char *nulls, bool read_only, long count)
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
	rc = SPI_execute_plan(p->plan, values, nulls, read_only, count);
	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed for vatoken statement: %s",
			 SPI_result_code_string(rc));
	return rc;
}

static int
vt_execute(vt_plan *p, Datum *values, bool read_only, long count)
{
	return vt_execute_nulls(p, values, NULL, read_only, count);
}

static bytea *
vt_bytea(const void *data, int len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), data, len);
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
vt_store_insert(text *owner, text *name, const uint8 *hash, const vt_new_policy *policy,
				int64 *token_id, TimestampTz *created_at)
{
	Datum		values[9];
	char		nulls[9] = "         ";
	bool		isnull;
	int			rc;

	values[0] = PointerGetDatum(owner);
	values[1] = PointerGetDatum(name);
	values[2] = PointerGetDatum(vt_bytea(hash, VT_HASH_LEN));
	if (policy == NULL)
		rc = vt_execute(&plan_insert, values, false, 1);
	else
	{
		values[3] = TimestampTzGetDatum(policy->expires_at);
		nulls[3] = policy->has_expiry ? ' ' : 'n';
		values[4] = PointerGetDatum(policy->scopes);
		nulls[4] = policy->scopes ? ' ' : 'n';
		values[5] = PointerGetDatum(policy->clients);
		nulls[5] = policy->clients ? ' ' : 'n';
		values[6] = PointerGetDatum(policy->hint);
		values[7] = Int32GetDatum(policy->rate_limit);
		values[8] = IntervalPGetDatum(vt_interval_of_us(policy->rate_window_us));
		nulls[7] = nulls[8] = policy->rate_limit > 0 ? ' ' : 'n';
		rc = vt_execute_nulls(&plan_insert_2_0, values, nulls, false, 1);
	}
	if (rc != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not insert vatoken token row");

	*token_id = DatumGetInt64(vt_column(1, &isnull));
	*created_at = DatumGetTimestampTz(vt_column(2, &isnull));
}

bool
vt_store_lookup_locked(bool schema_2_0, const uint8 *hash, vt_token_row *row)
{
	Datum		values[1];
	Datum		d;
	bool		isnull;

	values[0] = PointerGetDatum(vt_bytea(hash, VT_HASH_LEN));
	vt_execute(schema_2_0 ? &plan_lookup_locked_2_0 : &plan_lookup_locked, values, false, 1);
	if (SPI_processed == 0)
		return false;

	row->token_id = DatumGetInt64(vt_column(1, &isnull));
	/* Copy the varlena columns out of SPI's memory into the caller's. */
	row->owner = DatumGetTextPP(SPI_datumTransfer(vt_column(2, &isnull), false, -1));
	row->name = DatumGetTextPP(SPI_datumTransfer(vt_column(3, &isnull), false, -1));
	vt_token_row_default_policy(row);
	row->tag = vt_tag_of(vt_column(4, &isnull));
	if (schema_2_0)
	{
		d = vt_column(5, &isnull);
		row->has_expiry = !isnull;
		if (!isnull)
			row->expires_at = DatumGetTimestampTz(d);
		row->disabled = DatumGetBool(vt_column(6, &isnull));
		d = vt_column(7, &isnull);
		if (!isnull)
			row->scopes = DatumGetArrayTypeP(SPI_datumTransfer(d, false, -1));
		d = vt_column(8, &isnull);
		if (!isnull)
			row->clients = DatumGetArrayTypeP(SPI_datumTransfer(d, false, -1));
		row->revoked = DatumGetBool(vt_column(9, &isnull));
		row->previous = DatumGetBool(vt_column(10, &isnull));
		d = vt_column(11, &isnull);
		row->previous_valid_until = isnull ? 0 : DatumGetTimestampTz(d);
		d = vt_column(12, &isnull);
		if (!isnull)
		{
			row->rate_limit = DatumGetInt32(d);
			row->rate_window_us = vt_interval_us(DatumGetIntervalP(vt_column(13, &isnull)));
		}
	}
	return true;
}

bool
vt_store_update(text *owner, int64 token_id, const vt_policy_change *change, text **name)
{
	bool		isnull;
	Datum		values[12];
	char		nulls[12] = "            ";

	values[0] = PointerGetDatum(owner);
	values[1] = Int64GetDatum(token_id);
	values[2] = PointerGetDatum(change->name);
	nulls[2] = change->name ? ' ' : 'n';
	values[3] = BoolGetDatum(change->set_expiry);
	values[4] = TimestampTzGetDatum(change->expires_at);
	nulls[4] = change->set_expiry && change->has_expiry ? ' ' : 'n';
	values[5] = PointerGetDatum(change->scopes);
	nulls[5] = change->scopes ? ' ' : 'n';
	values[6] = BoolGetDatum(change->set_clients);
	values[7] = PointerGetDatum(change->clients);
	nulls[7] = change->set_clients && change->clients ? ' ' : 'n';
	values[8] = BoolGetDatum(change->enabled);
	nulls[8] = change->set_enabled ? ' ' : 'n';
	values[9] = BoolGetDatum(change->set_rate);
	values[10] = Int32GetDatum(change->rate_limit);
	values[11] = IntervalPGetDatum(vt_interval_of_us(change->rate_window_us));
	nulls[10] = nulls[11] = change->set_rate && change->rate_limit > 0 ? ' ' : 'n';
	vt_execute_nulls(&plan_update, values, nulls, false, 0);
	if (SPI_processed == 0)
		return false;
	*name = DatumGetTextPP(SPI_datumTransfer(vt_column(1, &isnull), false, -1));
	return true;
}

bool
vt_store_revoke(const uint8 *hash, text *source, TimestampTz now, text **owner,
				int64 *token_id, text **name)
{
	bool		isnull;
	Datum		values[3];
	char		nulls[3] = "   ";

	values[0] = PointerGetDatum(vt_bytea(hash, VT_HASH_LEN));
	values[1] = PointerGetDatum(source);
	nulls[1] = source ? ' ' : 'n';
	values[2] = TimestampTzGetDatum(now);
	vt_execute_nulls(&plan_revoke, values, nulls, false, 0);
	if (SPI_processed == 0)
		return false;
	*owner = DatumGetTextPP(SPI_datumTransfer(vt_column(1, &isnull), false, -1));
	*token_id = DatumGetInt64(vt_column(2, &isnull));
	*name = DatumGetTextPP(SPI_datumTransfer(vt_column(3, &isnull), false, -1));
	return true;
}

int
vt_store_rotate(text *owner, int64 token_id, const uint8 *hash, text *hint,
				bool keep_previous, TimestampTz previous_valid_until,
				bool renew_expiry, TimestampTz expires_at, TimestampTz *valid_until,
				bool *valid_until_null, text **name)
{
	Datum		values[8];
	char		nulls[8] = "        ";
	bool		isnull;

	values[0] = PointerGetDatum(owner);
	values[1] = Int64GetDatum(token_id);
	values[2] = PointerGetDatum(vt_bytea(hash, VT_HASH_LEN));
	values[3] = PointerGetDatum(hint);
	values[4] = BoolGetDatum(keep_previous);
	values[5] = TimestampTzGetDatum(previous_valid_until);
	values[6] = BoolGetDatum(renew_expiry);
	values[7] = TimestampTzGetDatum(expires_at);
	vt_execute_nulls(&plan_rotate, values, nulls, false, 0);
	if (SPI_processed == 0)
		return 0;
	if (DatumGetBool(vt_column(1, &isnull)))
		return -1;
	*valid_until = DatumGetTimestampTz(vt_column(2, valid_until_null));
	*name = DatumGetTextPP(SPI_datumTransfer(vt_column(3, &isnull), false, -1));
	return 1;
}

int32
vt_store_rate_take(int64 token_id, TimestampTz window_start, int64 window_us, int32 limit)
{
	Datum		values[4];
	bool		isnull;

	values[0] = Int64GetDatum(token_id);
	values[1] = TimestampTzGetDatum(window_start);
	values[2] = Int32GetDatum(limit);
	values[3] = IntervalPGetDatum(vt_interval_of_us(window_us));
	vt_execute(&plan_rate_take, values, false, 0);
	if (SPI_processed == 0)
		return -1;
	return DatumGetInt32(vt_column(1, &isnull));
}

bool
vt_store_delete(text *owner, int64 token_id, text **name)
{
	Datum		values[2];
	bool		isnull;

	values[0] = PointerGetDatum(owner);
	values[1] = Int64GetDatum(token_id);
	vt_execute(&plan_delete, values, false, 0);
	if (SPI_processed == 0)
		return false;
	*name = DatumGetTextPP(SPI_datumTransfer(vt_column(1, &isnull), false, -1));
	return true;
}

void
vt_store_audit(TimestampTz at, text *owner, const char *event, int64 token_id, text *name,
			   text *actor, int ndetail, const char *const *keys, const Datum *values,
			   const bool *nulls)
{
	Datum		args[8];
	char		argnulls[8] = "        ";
	Datum	   *k = palloc(sizeof(Datum) * Max(ndetail, 1));
	int			dims[1] = {ndetail};
	int			lbs[1] = {1};

	for (int i = 0; i < ndetail; i++)
		k[i] = CStringGetTextDatum(keys[i]);
	args[0] = TimestampTzGetDatum(at);
	args[1] = PointerGetDatum(owner);
	args[2] = CStringGetTextDatum(event);
	args[3] = Int64GetDatum(token_id);
	args[4] = PointerGetDatum(name);
	argnulls[4] = name ? ' ' : 'n';
	args[5] = PointerGetDatum(actor);
	argnulls[5] = actor ? ' ' : 'n';
	args[6] = PointerGetDatum(construct_md_array(k, NULL, 1, dims, lbs, TEXTOID, -1, false,
												 TYPALIGN_INT));
	args[7] = PointerGetDatum(construct_md_array((Datum *) values, (bool *) nulls, 1, dims, lbs,
												 TEXTOID, -1, false, TYPALIGN_INT));
	vt_execute_nulls(&plan_audit, args, argnulls, false, 0);
}

void
vt_store_read_audit(text *owner, TimestampTz since, Tuplestorestate *out, TupleDesc desc)
{
	Datum		args[2];

	args[0] = PointerGetDatum(owner);
	args[1] = TimestampTzGetDatum(since);
	vt_execute(&plan_audit_read, args, true, 0);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		Datum		values[9];
		bool		nulls[9];

		heap_deform_tuple(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, values, nulls);
		tuplestore_putvalues(out, desc, values, nulls);
	}
}

int64
vt_store_prune_usage(vt_day before, int32 limit)
{
	Datum		args[2];

	args[0] = DateADTGetDatum(VT_DATEADT_FROM_DAY(before));
	args[1] = Int32GetDatum(limit);
	vt_execute(limit > 0 ? &plan_usage_prune_skip_locked : &plan_usage_prune,
			   args, false, 0);
	return (int64) SPI_processed;
}

int64
vt_store_prune_audit(TimestampTz before)
{
	Datum		args[1];

	args[0] = TimestampTzGetDatum(before);
	vt_execute(&plan_audit_prune, args, false, 0);
	return (int64) SPI_processed;
}

void
vt_store_count_call(bool schema_1_0, bool schema_2_0, int64 token_id, vt_day day,
					TimestampTz now, const inet *client)
{
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', client == NULL ? 'n' : ' '};

	values[0] = Int64GetDatum(token_id);
	values[1] = DateADTGetDatum(VT_DATEADT_FROM_DAY(day));
	values[2] = TimestampTzGetDatum(now);
	values[3] = PointerGetDatum(client);
	if (schema_2_0)
		vt_execute_nulls(&plan_count_2_0, values, nulls, false, 0);
	else
		vt_execute(schema_1_0 ? &plan_count_1_0 : &plan_count, values, false, 0);
}

void
vt_store_count_rejected(int64 token_id, vt_day day)
{
	Datum		values[2];

	values[0] = Int64GetDatum(token_id);
	values[1] = DateADTGetDatum(VT_DATEADT_FROM_DAY(day));
	vt_execute(&plan_count_rejected, values, false, 0);
}

/* A one-dimensional array of n elements (nulls: NULL for none). */
static Datum
vt_array(Datum *elems, bool *nulls, int n, Oid type)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	if (n == 0)
		return PointerGetDatum(construct_empty_array(type));
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, type, typlen,
											  typbyval, typalign));
}

/*
 * Run one flush statement over the unresolved items and mark the pairs it
 * returns resolved.  Returns how many it resolved.
 */
#define VT_FLUSH_COLUMNS 8

static int
vt_flush_step(vt_plan *plan, vt_pending *items, int n)
{
	static const Oid types[VT_FLUSH_COLUMNS] = {INT8OID, DATEOID, INT8OID, TIMESTAMPTZOID,
	BYTEAOID, INT8OID, INETOID, TIMESTAMPTZOID};
	Datum	   *cols[VT_FLUSH_COLUMNS];
	bool	   *nulls[VT_FLUSH_COLUMNS];
	Datum		values[VT_FLUSH_COLUMNS];
	int			m = 0;
	int			resolved = 0;

	for (int c = 0; c < VT_FLUSH_COLUMNS; c++)
	{
		cols[c] = palloc(sizeof(Datum) * Max(n, 1));
		nulls[c] = palloc0(sizeof(bool) * Max(n, 1));
	}
	for (int i = 0; i < n; i++)
	{
		const vt_pending *p = &items[i];

		if (p->resolved)
			continue;
		cols[0][m] = Int64GetDatum(p->token.token_id);
		cols[1][m] = DateADTGetDatum(VT_DATEADT_FROM_DAY(p->day));
		cols[2][m] = Int64GetDatum((int64) p->calls);
		cols[3][m] = TimestampTzGetDatum(p->last_used);
		nulls[3][m] = p->calls == 0;
		cols[4][m] = PointerGetDatum(vt_bytea(&p->token.tag, sizeof(uint64)));
		cols[5][m] = Int64GetDatum((int64) p->rejected);
		nulls[6][m] = nulls[7][m] = p->client_at == 0;
		cols[6][m] = p->client_at == 0 ? (Datum) 0 : InetPGetDatum(vt_inet_from_ipnet(&p->client));
		cols[7][m] = TimestampTzGetDatum(p->client_at);
		m++;
	}
	if (m == 0)
		return 0;
	for (int c = 0; c < VT_FLUSH_COLUMNS; c++)
		values[c] = vt_array(cols[c], nulls[c], m, types[c]);
	vt_execute(plan, values, false, 0);

	/*
	 * items are sorted by token_id (vt_counters_collect).  "gone" returns
	 * the tag; for the writes, (token_id, day) names one unresolved item
	 * (vt_store_flush).
	 */
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r],
													 SPI_tuptable->tupdesc, 1, &isnull));
		vt_day		day = VT_DAY_FROM_DATEADT(DatumGetDateADT(SPI_getbinval(SPI_tuptable->vals[r],
																			SPI_tuptable->tupdesc, 2, &isnull)));

		int			lo = 0;
		int			hi = n;
		uint64		tag = 0;
		bool		with_tag = false;

		while (lo < hi)
		{
			int			mid = lo + (hi - lo) / 2;

			if (items[mid].token.token_id < id)
				lo = mid + 1;
			else
				hi = mid;
		}
		/* "gone" names the tag too: it may resolve an old token's item. */
		if (SPI_tuptable->tupdesc->natts >= 3)
		{
			tag = vt_tag_of(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 3,
										  &isnull));
			with_tag = true;
		}
		for (int i = lo; i < n && items[i].token.token_id == id; i++)
		{
			if (!items[i].resolved && items[i].day == day &&
				(!with_tag || items[i].token.tag == tag))
			{
				items[i].resolved = true;
				resolved++;
				break;
			}
		}
	}
	SPI_freetuptable(SPI_tuptable);
	return resolved;
}

/*
 * Run plan_flush_update_fast in a subtransaction with a short lock_timeout.
 * Returns false, having written nothing, if it met a row lock.
 */
static bool
vt_flush_update_fast(bool schema_2_0, vt_pending *items, int n)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool done = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		int			nestlevel = NewGUCNestLevel();

		(void) set_config_option("lock_timeout", VT_FAST_LOCK_TIMEOUT,
								 PGC_SUSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		vt_flush_step(schema_2_0 ? &plan_flush_update_fast_2_0 : &plan_flush_update_fast,
					  items, n);
		AtEOXact_GUC(true, nestlevel);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		done = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
			ReThrowError(edata);
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return done;
}

/*
 * Does the batch hold two tokens with one id (an id reused while counts of
 * the old token were pending)?  items are sorted by (token_id, tag, day).
 */
static bool
vt_batch_has_reused_id(const vt_pending *items, int n)
{
	for (int i = 1; i < n; i++)
		if (items[i].token.token_id == items[i - 1].token.token_id &&
			items[i].token.tag != items[i - 1].token.tag)
			return true;
	return false;
}

void
vt_store_flush(bool schema_1_0, bool schema_2_0, vt_pending *items, int n)
{
	/*
	 * Usually every (token_id, day) names one item, and "gone" only needs
	 * to look at what the writes left: those are locked or gone, and that
	 * is usually nothing.  Only a batch with a reused id resolves the gone
	 * tokens first, so that the pairs the writes return name one item.
	 */
	bool		reused = vt_batch_has_reused_id(items, n);

	if (reused)
		vt_flush_step(&plan_flush_gone, items, n);
	if (schema_1_0)
		vt_flush_step(&plan_flush_1_0, items, n);
	else
	{
		if (!vt_flush_update_fast(schema_2_0, items, n))
			vt_flush_step(schema_2_0 ? &plan_flush_update_2_0 : &plan_flush_update, items, n);
		vt_flush_step(schema_2_0 ? &plan_flush_insert_2_0 : &plan_flush_insert, items, n);
	}
	if (!reused)
		vt_flush_step(&plan_flush_gone, items, n);
}

vt_usage_row *
vt_store_read_usage(bool schema_1_0, bool schema_2_0, text *owner, const int64 *token_id,
					const vt_periods *periods, int *n)
{
	Datum		args[7];
	vt_plan    *plan;
	vt_usage_row *rows;

	args[0] = PointerGetDatum(owner);
	args[1] = DateADTGetDatum(VT_DATEADT_FROM_DAY(periods->today));
	args[2] = DateADTGetDatum(VT_DATEADT_FROM_DAY(periods->week_start));
	args[3] = DateADTGetDatum(VT_DATEADT_FROM_DAY(periods->month_start));
	args[4] = DateADTGetDatum(VT_DATEADT_FROM_DAY(periods->last_month_start));
	args[5] = DateADTGetDatum(VT_DATEADT_FROM_DAY(periods->last_month_end));
	if (token_id)
		args[6] = Int64GetDatum(*token_id);

	if (schema_1_0)
		plan = token_id ? &plan_usage_1_0 : &plan_list_1_0;
	else if (schema_2_0 && token_id == NULL)
		plan = &plan_list_2_0;
	else
		plan = token_id ? &plan_usage : &plan_list;
	vt_execute(plan, args, true, 0);

	rows = SPI_palloc(sizeof(vt_usage_row) * Max(SPI_processed, 1));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		vt_usage_row *row = &rows[i];
		bool		isnull;

		row->token_id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
		row->tag = vt_tag_of(SPI_getbinval(tuple, desc, 2, &isnull));
		row->name = DatumGetTextPP(SPI_datumTransfer(SPI_getbinval(tuple, desc, 3, &isnull),
													 false, -1));
		row->created_at = DatumGetTimestampTz(SPI_getbinval(tuple, desc, 4, &isnull));
		row->last_used_at = DatumGetTimestampTz(SPI_getbinval(tuple, desc, 5,
															  &row->last_used_null));
		for (int c = 0; c < 4; c++)
			row->calls[c] = DatumGetInt64(SPI_getbinval(tuple, desc, 6 + c, &isnull));
		row->has_policy = plan == &plan_list_2_0;
		row->client_at = 0;
		if (row->has_policy)
		{
			Datum		d;

			d = SPI_getbinval(tuple, desc, 10, &isnull);
			row->has_expiry = !isnull;
			row->expires_at = isnull ? 0 : DatumGetTimestampTz(d);
			row->disabled = DatumGetBool(SPI_getbinval(tuple, desc, 11, &isnull));
			row->scopes = SPI_datumTransfer(SPI_getbinval(tuple, desc, 12, &isnull), false, -1);
			d = SPI_getbinval(tuple, desc, 13, &row->clients_null);
			row->clients = row->clients_null ? (Datum) 0 : SPI_datumTransfer(d, false, -1);
			d = SPI_getbinval(tuple, desc, 14, &row->hint_null);
			row->hint = row->hint_null ? (Datum) 0 : SPI_datumTransfer(d, false, -1);
			d = SPI_getbinval(tuple, desc, 15, &isnull);
			row->revoked = !isnull;
			row->revoked_at = isnull ? 0 : DatumGetTimestampTz(d);
			d = SPI_getbinval(tuple, desc, 16, &row->source_null);
			row->revoked_source = row->source_null ? (Datum) 0 : SPI_datumTransfer(d, false, -1);
			d = SPI_getbinval(tuple, desc, 17, &row->rate_null);
			row->rate_limit = row->rate_null ? 0 : DatumGetInt32(d);
			d = SPI_getbinval(tuple, desc, 18, &isnull);
			row->rate_window = isnull ? (Datum) 0 : SPI_datumTransfer(d, false, sizeof(Interval));
			d = SPI_getbinval(tuple, desc, 19, &isnull);
			if (!isnull)
			{
				vt_ipnet_from_inet(DatumGetInetPP(d), &row->client);
				d = SPI_getbinval(tuple, desc, 20, &isnull);
				row->client_at = isnull ? 0 : DatumGetTimestampTz(d);
			}
		}
	}
	*n = (int) SPI_processed;
	return rows;
}

bool
vt_store_read_daily(text *owner, int64 token_id, vt_day from, vt_day to, uint64 *tag,
					int64 *calls, int64 *rejected)
{
	Datum		args[4];

	args[0] = PointerGetDatum(owner);
	args[1] = Int64GetDatum(token_id);
	args[2] = DateADTGetDatum(VT_DATEADT_FROM_DAY(from));
	args[3] = DateADTGetDatum(VT_DATEADT_FROM_DAY(to));
	memset(calls, 0, sizeof(int64) * (to - from + 1));
	memset(rejected, 0, sizeof(int64) * (to - from + 1));
	vt_execute(&plan_daily, args, true, 0);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		day;
		int			d;

		*tag = vt_tag_of(SPI_getbinval(tuple, desc, 1, &isnull));
		day = SPI_getbinval(tuple, desc, 2, &isnull);
		if (isnull)
			continue;			/* no day row in the range */
		d = VT_DAY_FROM_DATEADT(DatumGetDateADT(day)) - from;
		calls[d] += DatumGetInt64(SPI_getbinval(tuple, desc, 3, &isnull));
		rejected[d] += DatumGetInt64(SPI_getbinval(tuple, desc, 4, &isnull));
	}
	return SPI_processed > 0;
}

/*
 * Deliveries from hot standbys
 */
bool
vt_store_node_state(const pg_uuid_t *node, int64 *last_seq, bool *refused)
{
	Datum		values[1];
	bool		isnull;

	*last_seq = 0;
	*refused = false;
	values[0] = UUIDPGetDatum(node);
	vt_execute(&plan_node_state, values, true, 1);
	if (SPI_processed == 0)
		return false;
	*last_seq = DatumGetInt64(vt_column(1, &isnull));
	*refused = DatumGetBool(vt_column(2, &isnull));
	return true;
}

vt_deliver_result
vt_store_deliver(bool schema_2_0, const pg_uuid_t *node, int64 seq, const bytea *digest,
				 vt_pending *items, int n)
{
	Datum		values[3];
	bool		isnull;
	int64		last_seq;
	bytea	   *last_digest;
	bool		refused;

	values[0] = UUIDPGetDatum(node);
	vt_execute(&plan_node_insert, values, false, 0);
	vt_execute(&plan_node_lock, values, false, 1);
	if (SPI_processed != 1)
		elog(ERROR, "could not lock vatoken node row");
	last_seq = DatumGetInt64(vt_column(1, &isnull));
	last_digest = DatumGetByteaPP(vt_column(2, &isnull));
	refused = DatumGetBool(vt_column(3, &isnull));

	if (refused)
		return VT_DELIVER_REFUSED;
	if (seq == last_seq &&
		(VARSIZE_ANY_EXHDR(last_digest) != VARSIZE_ANY_EXHDR(digest) ||
		 memcmp(VARDATA_ANY(last_digest), VARDATA_ANY(digest), VARSIZE_ANY_EXHDR(digest)) != 0))
	{
		/* Two different batches under one (node, seq): two nodes share an id. */
		vt_execute(&plan_node_refuse, values, false, 0);
		return VT_DELIVER_CONFLICT;
	}
	if (seq <= last_seq)
	{
		vt_execute(&plan_node_duplicate, values, false, 0);
		return VT_DELIVER_DUPLICATE;
	}

	if (n > 0)
		vt_flush_step(schema_2_0 ? &plan_deliver_2_0 : &plan_deliver, items, n);
	values[1] = Int64GetDatum(seq);
	values[2] = PointerGetDatum(digest);
	vt_execute(&plan_node_delivered, values, false, 0);
	return VT_DELIVER_DONE;
}
