/*
 * vt_functions.c
 *	  The SQL-callable functions of tokens and their usage: vatoken_create,
 *	  vatoken_validate, vatoken_verify, vatoken_update, vatoken_rotate,
 *	  vatoken_report_leak, vatoken_list, vatoken_usage, vatoken_usage_daily,
 *	  vatoken_delete and vatoken_prune.
 *
 * They are declared SECURITY DEFINER with search_path pinned to pg_catalog,
 * pg_temp (see sql/vatoken--*.sql), except vatoken_validate (from 1.2) and
 * vatoken_verify: on their hot path they resolve no name, and their
 * transactional path pins search_path itself (see there).  A plaintext
 * token exists only in the argument of vatoken_validate, vatoken_verify and
 * vatoken_report_leak and in the result of vatoken_create and
 * vatoken_rotate; it is never stored, logged or put in an error message.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "vatoken.h"
#include "vt_audit.h"
#include "vt_policy.h"
#include "vt_ratelimit.h"
#include "vt_usage.h"
#include "vt_resolve.h"
#include "vt_standby.h"
#include "vt_store.h"
#include "vt_tokcache.h"
#include "vt_token.h"
#include "vt_window.h"

PG_FUNCTION_INFO_V1(vatoken_create);
PG_FUNCTION_INFO_V1(vatoken_validate);
PG_FUNCTION_INFO_V1(vatoken_verify);
PG_FUNCTION_INFO_V1(vatoken_update);
PG_FUNCTION_INFO_V1(vatoken_report_leak);
PG_FUNCTION_INFO_V1(vatoken_rotate);
PG_FUNCTION_INFO_V1(vatoken_prune);

/* Setting vatoken.usage_retention, in minutes (whole days count). */
int			vt_usage_retention_min = 400 * 24 * 60;
PG_FUNCTION_INFO_V1(vatoken_list);
PG_FUNCTION_INFO_V1(vatoken_usage);
PG_FUNCTION_INFO_V1(vatoken_delete);
PG_FUNCTION_INFO_V1(vatoken_usage_daily);

/* The longest range vatoken_usage_daily returns, in days. */
#define VT_DAILY_MAX_DAYS	3660

/*
 * Set up a materialized SRF.  The executor has already built the result's
 * tuple descriptor from the function's declaration; reuse it rather than
 * building it again from pg_proc on every call.
 */
static void
vt_init_srf(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo,
						rsinfo != NULL && rsinfo->expectedDesc != NULL ?
						MAT_SRF_USE_EXPECTED_DESC : 0);
}

/* Return the single row values/nulls from a materialized SRF. */
static Datum
vt_return_one_row(FunctionCallInfo fcinfo, Datum *values, bool *nulls)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	vt_init_srf(fcinfo);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	return (Datum) 0;
}

/*
 * Return one row of a function declared either as returning a composite type
 * (vatoken_validate from 1.2: no tuplestore, the blessed descriptor kept in
 * fn_extra) or as RETURNS TABLE (older schemas, served until ALTER EXTENSION
 * UPDATE).
 */
static Datum
vt_return_result(FunctionCallInfo fcinfo, Datum *values, bool *nulls)
{
	TupleDesc	desc;

	if (fcinfo->flinfo->fn_retset)
		return vt_return_one_row(fcinfo, values, nulls);

	desc = (TupleDesc) fcinfo->flinfo->fn_extra;
	if (desc == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("function returning record called in context that cannot accept type record")));
		desc = BlessTupleDesc(desc);
		fcinfo->flinfo->fn_extra = desc;
		MemoryContextSwitchTo(old);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/* A new token: its plaintext in token, its hash and hint (last four characters). */
static void
vt_new_secret(char token[VT_TOKEN_LEN + 1], uint8 hash[VT_HASH_LEN], text **hint)
{
	uint8		secret[VT_SECRET_BYTES];

	if (!pg_strong_random(secret, sizeof(secret)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random token")));
	vt_token_format(secret, token);
	explicit_bzero(secret, sizeof(secret));
	vt_hash_token(token, VT_TOKEN_LEN, hash);
	*hint = cstring_to_text_with_len(token + VT_TOKEN_LEN - 4, 4);
}

/*
 * vatoken_create(owner, name [, expires_at, scopes, allowed_clients]): the
 * policy arguments exist from 2.0; declared with two arguments (an older
 * schema, until ALTER EXTENSION UPDATE), it inserts no policy.
 */
Datum
vatoken_create(PG_FUNCTION_ARGS)
{
	text	   *owner = vt_check_owner(fcinfo, 0);
	text	   *name = vt_check_name(fcinfo, 1);
	bool		with_policy = PG_NARGS() >= 5;
	vt_new_policy policy = {0};
	char		token[VT_TOKEN_LEN + 1];
	uint8		hash[VT_HASH_LEN];
	int64		token_id;
	TimestampTz created_at;
	Datum		values[5];
	bool		nulls[5] = {false};

	if (with_policy)
	{
		bool		no_expiry;

		policy.expires_at = vt_check_expiry(fcinfo, 2, false, &no_expiry);
		policy.has_expiry = !no_expiry;
		policy.scopes = vt_check_scopes(fcinfo, 3);
		policy.clients = vt_check_clients(fcinfo, 4);
		if (PG_NARGS() >= 7)
		{
			bool		set;

			vt_check_rate(fcinfo, 5, 6, false, &set, &policy.rate_limit,
						  &policy.rate_window_us);
		}
	}

	vt_new_secret(token, hash, &policy.hint);

	vt_store_connect();
	vt_store_insert(owner, name, hash, with_policy ? &policy : NULL, &token_id, &created_at);
	if (with_policy)
	{
		vt_audit_item items[3] = {
			{"expires_at", TIMESTAMPTZOID, TimestampTzGetDatum(policy.expires_at), !policy.has_expiry},
			{"scopes", TEXTARRAYOID, PointerGetDatum(policy.scopes), policy.scopes == NULL},
			{"allowed_clients", CIDRARRAYOID, PointerGetDatum(policy.clients), policy.clients == NULL},
		};

		vt_audit_event(owner, "create", token_id, name, 3, items);
	}
	vt_store_disconnect();

	values[0] = Int64GetDatum(token_id);
	values[1] = PointerGetDatum(cstring_to_text_with_len(token, VT_TOKEN_LEN));
	values[2] = PointerGetDatum(name);
	values[3] = TimestampTzGetDatum(created_at);
	values[4] = TimestampTzGetDatum(policy.expires_at);
	nulls[4] = !policy.has_expiry;
	explicit_bzero(token, sizeof(token));
	return vt_return_one_row(fcinfo, values, nulls);
}

/*
 * vatoken_update(owner, token_id, name, expires_at, scopes, allowed_clients,
 * enabled): NULL leaves a field as it is; false when owner has no such
 * token.  Every argument is checked before anything is written.
 */
Datum
vatoken_update(PG_FUNCTION_ARGS)
{
	text	   *owner = vt_check_owner(fcinfo, 0);
	int64		token_id = vt_check_token_id(fcinfo, 1);
	vt_policy_change change = {0};
	text	   *new_name = NULL;
	bool		updated;

	if (!PG_ARGISNULL(2))
		change.name = vt_check_name(fcinfo, 2);
	if (!PG_ARGISNULL(3))
	{
		bool		no_expiry;

		change.set_expiry = true;
		change.expires_at = vt_check_expiry(fcinfo, 3, true, &no_expiry);
		change.has_expiry = !no_expiry;
	}
	change.scopes = vt_check_scopes(fcinfo, 4);
	if (!PG_ARGISNULL(5))
	{
		change.set_clients = true;
		change.clients = vt_check_clients(fcinfo, 5);
	}
	if (!PG_ARGISNULL(6))
	{
		change.set_enabled = true;
		change.enabled = PG_GETARG_BOOL(6);
	}
	if (PG_NARGS() >= 9)
		vt_check_rate(fcinfo, 7, 8, true, &change.set_rate, &change.rate_limit,
					  &change.rate_window_us);

	vt_store_connect();
	updated = vt_store_update(owner, token_id, &change, &new_name);
	if (updated)
	{
		vt_audit_item items[4];
		int			n = 0;

		if (change.name)
			items[n++] = (vt_audit_item) {"name", TEXTOID, PointerGetDatum(change.name), false};
		if (change.set_expiry)
			items[n++] = (vt_audit_item) {"expires_at", TIMESTAMPTZOID,
				TimestampTzGetDatum(change.expires_at), !change.has_expiry};
		if (change.scopes)
			items[n++] = (vt_audit_item) {"scopes", TEXTARRAYOID, PointerGetDatum(change.scopes), false};
		if (change.set_clients)
			items[n++] = (vt_audit_item) {"allowed_clients", CIDRARRAYOID,
				PointerGetDatum(change.clients), change.clients == NULL};
		if (n > 0)
			vt_audit_event(owner, "update", token_id, new_name, n, items);
		if (change.set_enabled)
			vt_audit_event(owner, change.enabled ? "enable" : "disable", token_id, new_name, 0, NULL);
	}
	vt_store_disconnect();
	PG_RETURN_BOOL(updated);
}

/*
 * A call that passed every other check takes one call from its token's rate
 * window, if it has one: "valid", or "rate_limited" when the window is full.
 */
static const char *
vt_take_rate(const vt_rels *rels, const vt_token_row *row, bool shmem, TimestampTz now,
			 vt_rate_result *rate)
{
	if (row->rate_limit <= 0)
		return "valid";
	if (shmem)
		vt_ratelimit_take(rels->tokens, row->token_id, row->tag, row->rate_limit,
						  row->rate_window_us, now, rate);
	else
	{
		int64		index = vt_window_index(now + VT_UNIX_EPOCH_SHIFT_US, row->rate_window_us);
		TimestampTz start = vt_window_start(index, row->rate_window_us) - VT_UNIX_EPOCH_SHIFT_US;
		int32		calls = vt_store_rate_take(row->token_id, start, row->rate_window_us,
											   row->rate_limit);

		rate->accepted = calls > 0;
		rate->remaining = calls > 0 ? row->rate_limit - calls : 0;
		rate->reset = start + row->rate_window_us;
	}
	return rate->accepted ? "valid" : "rate_limited";
}

/*
 * The verdict on a token looked up (found or not) and what follows from it,
 * the same on both paths: the policy, then the rate window, then the count:
 * a valid call with the client it named, any other verdict on a known token
 * as refused.  The transactional path calls it inside its SPI connection,
 * with the token's row locked.
 */
static const char *
vt_judge(const vt_rels *rels, bool found, const vt_token_row *row, ArrayType *required,
		 inet *client, bool shmem, TimestampTz now, vt_rate_result *rate)
{
	const char *status;

	if (!found)
		return "unknown";
	status = vt_policy_verdict(row, required, client, now);
	if (strcmp(status, "valid") == 0)
		status = vt_take_rate(rels, row, shmem, now, rate);
	vt_usage_count(rels, row->token_id, row->tag, now, strcmp(status, "valid") == 0, client);
	return status;
}

/*
 * The verdict on a presented token: its status, and the token's row when it
 * was found (any status but "malformed" and "unknown").  Never an error
 * caused by the input: malformed input is answered without reading any
 * table, and a huge value is rejected by its length before it is
 * detoasted.  A "valid" call is counted as a call; any other verdict on a
 * token that was found, as a refused call.
 */
static const char *
vt_check_token(FunctionCallInfo fcinfo, ArrayType *required, inet *client,
			   vt_token_row *row, vt_rate_result *rate, TimestampTz *now)
{
	text	   *token;
	uint8		hash[VT_HASH_LEN];
	vt_rels		rels;
	bool		found;
	const char *status;

	*now = vt_now();

	if (PG_ARGISNULL(0) ||
		toast_raw_datum_size(PG_GETARG_DATUM(0)) != VARHDRSZ + VT_TOKEN_LEN)
		return "malformed";
	token = PG_GETARG_TEXT_PP(0);
	if (vt_token_check(VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token)) != VT_TOKEN_OK)
		return "malformed";

	/*
	 * A hot standby needs the preload, and may be too far behind to trust;
	 * decided before any lookup, so it tells nothing about the token.
	 */
	if (vt_standby_refuses())
		return "stale";

	vt_hash_token(VARDATA_ANY(token), VT_TOKEN_LEN, hash);
	(void) vt_resolve(&rels, false, AccessShareLock, NoLock, true);
	if (vt_usage_in_shmem())
	{
		/*
		 * Fast path: this session's cache or an index probe, and an atomic
		 * add; no SPI.
		 */
		found = vt_tokcache_lookup(&rels, hash, row);
		status = vt_judge(&rels, found, row, required, client, true, *now, rate);
	}
	else
	{
		/*
		 * Transactional: lock the row so the usage row can reference it.
		 * vatoken_validate's and vatoken_verify's declarations do not pin
		 * search_path (that costs the fast path, which resolves no name);
		 * the SPI work pins it here, as the SET clause would.  Every name in
		 * the statements is qualified as well.
		 */
		int			nestlevel = NewGUCNestLevel();

		(void) set_config_option("search_path", "pg_catalog, pg_temp",
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		vt_store_connect();
		found = vt_store_lookup_locked(rels.schema_2_0, hash, row);
		status = vt_judge(&rels, found, row, required, client, false, *now, rate);
		vt_store_disconnect();
		AtEOXact_GUC(true, nestlevel);
	}
	return status;
}

/* Did the verdict find the token (so the answer may name it)? */
static bool
vt_token_found(const char *status)
{
	return strcmp(status, "malformed") != 0 && strcmp(status, "unknown") != 0 &&
		strcmp(status, "stale") != 0;
}

/* Exactly one row for any input, never an error caused by the input. */
Datum
vatoken_validate(PG_FUNCTION_ARGS)
{
	Datum		values[5];
	bool		nulls[5] = {false, false, true, true, true};
	vt_token_row row;
	vt_rate_result rate;
	TimestampTz now;
	const char *status = vt_check_token(fcinfo, NULL, NULL, &row, &rate, &now);

	if (vt_token_found(status))
	{
		values[2] = Int64GetDatum(row.token_id);
		values[3] = PointerGetDatum(row.owner);
		values[4] = PointerGetDatum(row.name);
		nulls[2] = nulls[3] = nulls[4] = false;
	}
	values[0] = BoolGetDatum(strcmp(status, "valid") == 0);
	values[1] = CStringGetTextDatum(status);
	return vt_return_result(fcinfo, values, nulls);
}

/*
 * vatoken_verify(token, scopes, client): vatoken_validate with the scopes
 * the call needs and the caller's address; one row for any input.
 */
Datum
vatoken_verify(PG_FUNCTION_ARGS)
{
	Datum		values[11];
	bool		nulls[11] = {false, false, true, true, true, true, true, true, true, true, true};
	vt_token_row row;
	vt_rate_result rate;
	TimestampTz now;
	ArrayType  *required = PG_ARGISNULL(1) ? NULL : PG_GETARG_ARRAYTYPE_P(1);
	inet	   *client = PG_ARGISNULL(2) ? NULL : PG_GETARG_INET_PP(2);
	const char *status = vt_check_token(fcinfo, required, client, &row, &rate, &now);

	if (vt_token_found(status))
	{
		values[2] = Int64GetDatum(row.token_id);
		values[3] = PointerGetDatum(row.owner);
		values[4] = PointerGetDatum(row.name);
		values[5] = PointerGetDatum(vt_policy_scopes(&row));
		values[6] = TimestampTzGetDatum(row.expires_at);
		nulls[2] = nulls[3] = nulls[4] = nulls[5] = false;
		nulls[6] = !row.has_expiry;
		/* The limit, for a call that reached it (valid or rate_limited). */
		if (row.rate_limit > 0 &&
			(strcmp(status, "valid") == 0 || strcmp(status, "rate_limited") == 0))
		{
			values[7] = Int32GetDatum(row.rate_limit);
			values[8] = Int32GetDatum(rate.remaining);
			values[9] = TimestampTzGetDatum(rate.reset);
			nulls[7] = nulls[8] = nulls[9] = false;
			if (!rate.accepted)
			{
				values[10] = IntervalPGetDatum(vt_interval_of_us(rate.reset - now));
				nulls[10] = false;
			}
		}
	}
	values[0] = BoolGetDatum(strcmp(status, "valid") == 0);
	values[1] = CStringGetTextDatum(status);
	return vt_return_result(fcinfo, values, nulls);
}

/*
 * vatoken_rotate(owner, token_id, grace): a new secret for the same token.
 * The previous secret stays valid until now + grace (never past the expiry)
 * and is then unknown; rotating again ends an older previous secret at once.
 * No row if owner has no such token.
 */
Datum
vatoken_rotate(PG_FUNCTION_ARGS)
{
	text	   *owner = vt_check_owner(fcinfo, 0);
	int64		token_id = vt_check_token_id(fcinfo, 1);
	TimestampTz now = vt_now();
	TimestampTz valid_until = now;
	TimestampTz expires_at = 0;
	bool		renew = vt_max_lifetime_min > 0;
	char		token[VT_TOKEN_LEN + 1];
	uint8		hash[VT_HASH_LEN];
	text	   *hint;
	int			rc;
	bool		until_null;
	text	   *name = NULL;
	Datum		values[3];
	bool		nulls[3] = {false};

	if (!PG_ARGISNULL(2))
	{
		valid_until = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
															  TimestampTzGetDatum(now),
															  PG_GETARG_DATUM(2)));
		if (valid_until < now)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("grace must not be negative")));
	}
	if (renew)
		expires_at = vt_max_expiry(now);

	vt_new_secret(token, hash, &hint);
	vt_store_connect();
	rc = vt_store_rotate(owner, token_id, hash, hint, valid_until > now, valid_until,
						 renew, expires_at, &valid_until, &until_null, &name);
	if (rc > 0)
	{
		vt_audit_item items[1] = {
			{"previous_valid_until", TIMESTAMPTZOID, TimestampTzGetDatum(valid_until), until_null},
		};

		vt_audit_event(owner, "rotate", token_id, name, 1, items);
	}
	vt_store_disconnect();
	if (rc < 0)
	{
		explicit_bzero(token, sizeof(token));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot rotate a revoked token"),
				 errdetail("A token reported leaked stays revoked; create a new one.")));
	}

	vt_init_srf(fcinfo);
	if (rc > 0)
	{
		ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

		values[0] = Int64GetDatum(token_id);
		values[1] = PointerGetDatum(cstring_to_text_with_len(token, VT_TOKEN_LEN));
		values[2] = TimestampTzGetDatum(valid_until);
		nulls[2] = until_null;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	explicit_bzero(token, sizeof(token));
	return (Datum) 0;
}

/*
 * vatoken_report_leak(token, source): revoke a live, well-formed token at
 * once, for good.  Returns nothing and raises no error caused by the input,
 * so it tells the caller nothing about whether the token existed.
 */
Datum
vatoken_report_leak(PG_FUNCTION_ARGS)
{
	text	   *token;
	uint8		hash[VT_HASH_LEN];
	text	   *source;
	text	   *owner;
	text	   *name;
	int64		token_id;

	if (PG_ARGISNULL(0) ||
		toast_raw_datum_size(PG_GETARG_DATUM(0)) != VARHDRSZ + VT_TOKEN_LEN)
		PG_RETURN_VOID();
	token = PG_GETARG_TEXT_PP(0);
	if (vt_token_check(VARDATA_ANY(token), VARSIZE_ANY_EXHDR(token)) != VT_TOKEN_OK)
		PG_RETURN_VOID();
	vt_hash_token(VARDATA_ANY(token), VT_TOKEN_LEN, hash);
	source = vt_clean_source(PG_ARGISNULL(1) ? NULL : PG_GETARG_TEXT_PP(1));

	vt_store_connect();
	if (vt_store_revoke(hash, source, vt_now(), &owner, &token_id, &name))
	{
		vt_audit_item items[1] = {{"source", TEXTOID, PointerGetDatum(source), source == NULL}};

		vt_audit_event(owner, "leak", token_id, name, 1, items);
	}
	vt_store_disconnect();
	PG_RETURN_VOID();
}

/* Emit vatoken_list's or vatoken_usage's rows. */
static Datum
vt_return_usage(FunctionCallInfo fcinfo, text *owner, const int64 *token_id)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	vt_usage_row *rows;
	int			n;
	bool		list_2_0;

	TimestampTz now = vt_now();

	vt_init_srf(fcinfo);
	rows = vt_usage_read(owner, token_id, &n);
	/* 2.0's list: the last client after the last use, the policy at the end. */
	list_2_0 = token_id == NULL && rsinfo->setDesc->natts >= 18;
	for (int i = 0; i < n; i++)
	{
		Datum		values[18];
		bool		nulls[18] = {false};
		int			c = 0;
		bool		policy = list_2_0 && rows[i].has_policy;

		if (token_id == NULL)
		{
			values[c++] = Int64GetDatum(rows[i].token_id);
			values[c++] = PointerGetDatum(rows[i].name);
			values[c++] = TimestampTzGetDatum(rows[i].created_at);
			nulls[c] = rows[i].last_used_null;
			values[c++] = TimestampTzGetDatum(rows[i].last_used_at);
			if (list_2_0)
			{
				nulls[c] = !policy || rows[i].client_at == 0;
				values[c] = nulls[c] ? (Datum) 0 :
					InetPGetDatum(vt_inet_from_ipnet(&rows[i].client));
				c++;
			}
		}
		for (int k = 0; k < VT_USAGE_COLUMNS; k++)
			values[c++] = Int64GetDatum(rows[i].calls[k]);
		if (policy)
		{
			nulls[c] = !rows[i].has_expiry;
			values[c++] = TimestampTzGetDatum(rows[i].expires_at);
			values[c++] = CStringGetTextDatum(vt_policy_state(rows[i].revoked,
															  rows[i].disabled,
															  rows[i].has_expiry,
															  rows[i].expires_at, now));
			values[c++] = rows[i].scopes;
			nulls[c] = rows[i].clients_null;
			values[c++] = rows[i].clients;
			nulls[c] = rows[i].hint_null;
			values[c++] = rows[i].hint;
			if (rows[i].revoked)
			{
				values[c++] = rows[i].source_null ?
					CStringGetTextDatum("leaked") :
					CStringGetTextDatum(psprintf("leaked (reported by %s)",
												 TextDatumGetCString(rows[i].revoked_source)));
				values[c++] = TimestampTzGetDatum(rows[i].revoked_at);
			}
			else
			{
				nulls[c++] = true;
				nulls[c++] = true;
			}
			nulls[c] = rows[i].rate_null;
			values[c++] = Int32GetDatum(rows[i].rate_limit);
			nulls[c] = rows[i].rate_null;
			values[c++] = rows[i].rate_window;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

Datum
vatoken_list(PG_FUNCTION_ARGS)
{
	text	   *owner = vt_check_owner(fcinfo, 0);

	return vt_return_usage(fcinfo, owner, NULL);
}

Datum
vatoken_usage(PG_FUNCTION_ARGS)
{
	text	   *owner = vt_check_owner(fcinfo, 0);
	int64		token_id = vt_check_token_id(fcinfo, 1);

	return vt_return_usage(fcinfo, owner, &token_id);
}

Datum
vatoken_delete(PG_FUNCTION_ARGS)
{
	text	   *owner = vt_check_owner(fcinfo, 0);
	int64		token_id = vt_check_token_id(fcinfo, 1);
	bool		deleted;
	text	   *name;

	vt_store_connect();
	deleted = vt_store_delete(owner, token_id, &name);
	if (deleted)
		vt_audit_event(owner, "delete", token_id, name, 0, NULL);
	vt_store_disconnect();
	PG_RETURN_BOOL(deleted);
}

/*
 * The first day of daily usage that vatoken.usage_retention keeps today, in
 * vatoken.timezone days: rows of earlier days may go.  Never later than the
 * first day of the previous month, whatever the setting, so every period of
 * vatoken_list stays whole.  The one rule of vatoken_prune() and of the
 * flush workers (vt_flusher.c).
 *
 * The test clock (vatoken.debug_now) may move it earlier, never later than
 * the wall clock puts it: a clock set in the future (a superuser may grant
 * SET on that setting) cannot make a prune remove the history of today.
 */
static vt_day
vt_prune_cutoff_on(vt_day today)
{
	vt_periods	periods;
	vt_day		cutoff;

	vt_periods_for(today, &periods);
	cutoff = periods.today - vt_usage_retention_min / (24 * 60);
	if (cutoff > periods.last_month_start)
		cutoff = periods.last_month_start;
	return cutoff;
}

vt_day
vt_usage_prune_cutoff(void)
{
	return Min(vt_prune_cutoff_on(vt_today()),
			   vt_prune_cutoff_on(vt_local_day(GetCurrentTimestamp())));
}

/*
 * vatoken_prune(): remove daily usage rows older than vatoken.usage_retention
 * (vt_usage_prune_cutoff).  Returns how many rows went.
 */
Datum
vatoken_prune(PG_FUNCTION_ARGS)
{
	vt_day		cutoff = vt_usage_prune_cutoff();
	int64		n;

	vt_store_connect();
	n = vt_store_prune_usage(cutoff, 0);
	vt_store_disconnect();
	PG_RETURN_INT64(n);
}

/* A date argument of vatoken_usage_daily as a day; false if NULL. */
static bool
vt_daily_arg(FunctionCallInfo fcinfo, int argno, const char *what, vt_day *day)
{
	DateADT		d;

	if (PG_ARGISNULL(argno))
		return false;
	d = PG_GETARG_DATEADT(argno);
	if (DATE_NOT_FINITE(d))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite date", what)));
	*day = VT_DAY_FROM_DATEADT(d);
	return true;
}

/*
 * vatoken_usage_daily(owner, token_id, since, until): one row per day of
 * since..until (default: the 30 days up to today, in vatoken.timezone),
 * zero-filled, with the token's calls and refused calls, pending counts
 * included.  No rows if owner has no such token.
 */
Datum
vatoken_usage_daily(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	text	   *owner = vt_check_owner(fcinfo, 0);
	int64		token_id = vt_check_token_id(fcinfo, 1);
	vt_day		from;
	vt_day		to;
	int64		ndays;
	int64	   *calls;
	int64	   *rejected;

	if (!vt_daily_arg(fcinfo, 3, "until", &to))
		to = vt_today();
	if (!vt_daily_arg(fcinfo, 2, "since", &from))
		from = to - 29;
	if (!IS_VALID_DATE(VT_DATEADT_FROM_DAY(from)))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("date out of range for vatoken_usage_daily"),
				 errdetail("The range would start before the earliest date.")));
	ndays = (int64) to - from + 1;
	if (ndays < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("since must not be later than until")));
	if (ndays > VT_DAILY_MAX_DAYS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("vatoken_usage_daily returns at most %d days", VT_DAILY_MAX_DAYS),
				 errdetail("The range from since to until holds " INT64_FORMAT " days.", ndays)));

	vt_init_srf(fcinfo);
	calls = palloc(sizeof(int64) * ndays);
	rejected = palloc(sizeof(int64) * ndays);
	if (!vt_usage_read_daily(owner, token_id, from, to, calls, rejected))
		return (Datum) 0;
	for (int64 i = 0; i < ndays; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = DateADTGetDatum(VT_DATEADT_FROM_DAY(from + i));
		values[1] = Int64GetDatum(calls[i]);
		values[2] = Int64GetDatum(rejected[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
