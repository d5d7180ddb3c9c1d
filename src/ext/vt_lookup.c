/*
 * vt_lookup.c
 *	  The hot-path lookup of a token by its hash: a direct scan of the
 *	  unique index on vatoken.tokens (token_hash), without SPI.
 *
 * The scan uses a snapshot taken now (GetLatestSnapshot), not the
 * transaction's: a token deleted by a committed transaction is never found,
 * even by a REPEATABLE READ transaction that started before the delete.
 * Nothing about a token is cached between calls.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "vt_lookup.h"

/* Attribute numbers in vatoken.tokens (see the install script). */
#define Anum_tokens_token_id	1
#define Anum_tokens_owner		2
#define Anum_tokens_name		3

/*
 * The OIDs of vatoken.tokens and of its hash index, looked up by name once
 * and kept until a relcache invalidation touches either of them (DROP
 * EXTENSION, a rename, ANALYZE, ...) or everything.  Nothing about tokens is
 * cached, only where the table is.
 */
static bool tokens_cache_valid = false;
static bool tokens_callback_registered = false;
static Oid	tokens_relid_cache = InvalidOid;
static Oid	tokens_indexid_cache = InvalidOid;

static void
vt_tokens_invalidate(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == tokens_relid_cache ||
		relid == tokens_indexid_cache)
		tokens_cache_valid = false;
}

/*
 * Fill the cache from the catalogs; false if there is no vatoken.tokens.
 * (The index OID is InvalidOid if the index alone is missing.)
 */
static bool
vt_tokens_cache_fill(void)
{
	Oid			nspid;

	if (!tokens_callback_registered)
	{
		CacheRegisterRelcacheCallback(vt_tokens_invalidate, (Datum) 0);
		tokens_callback_registered = true;
	}
	nspid = get_namespace_oid(VT_DATA_SCHEMA, true);
	if (!OidIsValid(nspid))
		return false;
	tokens_relid_cache = get_relname_relid("tokens", nspid);
	tokens_indexid_cache = get_relname_relid("tokens_token_hash_key", nspid);
	tokens_cache_valid = OidIsValid(tokens_relid_cache);
	return tokens_cache_valid;
}

Oid
vt_find_tokens_relid(void)
{
	if (!tokens_cache_valid && !vt_tokens_cache_fill())
		return InvalidOid;
	return tokens_relid_cache;
}

Oid
vt_tokens_relid(Oid *indexid)
{
	if ((!tokens_cache_valid && !vt_tokens_cache_fill()) ||
		(indexid && !OidIsValid(tokens_indexid_cache)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("vatoken tables are missing in this database"),
				 errhint("Run CREATE EXTENSION vatoken in this database.")));
	if (indexid)
		*indexid = tokens_indexid_cache;
	return tokens_relid_cache;
}

bool
vt_lookup_token(const uint8 *hash, vt_token_row *row, Oid *tokens_relid)
{
	Oid			relid;
	Oid			indexid;
	Relation	rel;
	Relation	index;
	Snapshot	snapshot;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData key;
	bytea	   *hash_datum;
	bool		found = false;

	/*
	 * Locking the table processes pending invalidations: if they concern the
	 * cached OIDs (the extension was dropped and perhaps created again),
	 * look the table up again by name, as RangeVarGetRelid does.
	 */
	for (;;)
	{
		relid = vt_tokens_relid(&indexid);
		rel = try_table_open(relid, AccessShareLock);
		if (rel != NULL && tokens_cache_valid)
			break;
		if (rel != NULL)
			table_close(rel, AccessShareLock);
		tokens_cache_valid = false;
	}

	hash_datum = palloc(VARHDRSZ + VT_HASH_LEN);
	SET_VARSIZE(hash_datum, VARHDRSZ + VT_HASH_LEN);
	memcpy(VARDATA(hash_datum), hash, VT_HASH_LEN);

	index = index_open(indexid, AccessShareLock);
	snapshot = RegisterSnapshot(GetLatestSnapshot());

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_BYTEAEQ, PointerGetDatum(hash_datum));
	scan = index_beginscan(rel, index, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	slot = table_slot_create(rel, NULL);

	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;

		row->token_id = DatumGetInt64(slot_getattr(slot, Anum_tokens_token_id, &isnull));
		row->owner = DatumGetTextPCopy(slot_getattr(slot, Anum_tokens_owner, &isnull));
		row->name = DatumGetTextPCopy(slot_getattr(slot, Anum_tokens_name, &isnull));
		found = true;
	}

	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	UnregisterSnapshot(snapshot);
	/* Keep the locks until the end of the transaction, as the executor does. */
	index_close(index, NoLock);
	table_close(rel, NoLock);

	*tokens_relid = relid;
	return found;
}
