/*
 * vt_audit.c
 *	  The audit trail (2.0): recording the events of vatoken_create,
 *	  vatoken_update, vatoken_rotate, vatoken_delete and vatoken_report_leak,
 *	  and the SQL functions vatoken_audit and vatoken_audit_prune.
 *
 * An event is written in the transaction of the change it records, so it
 * commits or rolls back with it.  Who: the session user and the setting
 * vatoken.actor (the application's own user id, cleaned of control
 * characters and cut at 200 characters); from where: the client address and
 * application_name of the session.  Events outlive their token.  Nothing
 * but vatoken_audit_prune removes them.
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "vt_audit.h"
#include "vt_policy.h"
#include "vt_resolve.h"
#include "vt_store.h"

char	   *vt_actor = NULL;

PG_FUNCTION_INFO_V1(vatoken_audit);
PG_FUNCTION_INFO_V1(vatoken_audit_prune);

/* Does this database's schema keep an audit trail? */
static bool
vt_audit_kept(void)
{
	vt_rels		rels;

	(void) vt_resolve(&rels, false, AccessShareLock, NoLock, true);
	return rels.schema_2_0;
}

void
vt_audit_event(text *owner, const char *event, int64 token_id, text *name,
			   int nitems, const vt_audit_item *items)
{
	const char **keys;
	Datum	   *values;
	bool	   *nulls;
	text	   *actor = NULL;

	if (!vt_audit_kept())
		return;
	keys = palloc(sizeof(char *) * Max(nitems, 1));
	values = palloc(sizeof(Datum) * Max(nitems, 1));
	nulls = palloc(sizeof(bool) * Max(nitems, 1));
	for (int i = 0; i < nitems; i++)
	{
		keys[i] = items[i].key;
		nulls[i] = items[i].isnull;
		if (!items[i].isnull)
		{
			Oid			output;
			bool		varlena;

			getTypeOutputInfo(items[i].type, &output, &varlena);
			values[i] = CStringGetTextDatum(OidOutputFunctionCall(output, items[i].value));
		}
	}
	if (vt_actor != NULL && vt_actor[0] != '\0')
		actor = vt_clean_source(cstring_to_text(vt_actor));
	vt_store_audit(vt_now(), owner, event, token_id, name, actor, nitems, keys, values, nulls);
}

/* vatoken_audit(owner, since): owner's events since a time, oldest first. */
Datum
vatoken_audit(PG_FUNCTION_ARGS)
{
	text	   *owner = vt_check_owner(fcinfo, 0);
	TimestampTz since = PG_ARGISNULL(1) ? DT_NOBEGIN : PG_GETARG_TIMESTAMPTZ(1);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	vt_store_connect();
	vt_store_read_audit(owner, since, rsinfo->setResult, rsinfo->setDesc);
	vt_store_disconnect();
	return (Datum) 0;
}

/* vatoken_audit_prune(older_than): remove events older than that; how many. */
Datum
vatoken_audit_prune(PG_FUNCTION_ARGS)
{
	TimestampTz now = vt_now();
	TimestampTz before;
	int64		n;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("older_than must not be null")));
	before = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_mi_interval,
													 TimestampTzGetDatum(now),
													 PG_GETARG_DATUM(0)));
	if (before > now)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("older_than must not be negative")));
	vt_store_connect();
	n = vt_store_prune_audit(before);
	vt_store_disconnect();
	PG_RETURN_INT64(n);
}
