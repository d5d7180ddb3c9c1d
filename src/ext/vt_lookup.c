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
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "vt_lookup.h"

/* Attribute numbers in vatoken.tokens (see the install script). */
#define Anum_tokens_token_id	1
#define Anum_tokens_owner		2
#define Anum_tokens_name		3

Oid
vt_tokens_relid(Oid *indexid)
{
	Oid			nspid = get_namespace_oid(VT_DATA_SCHEMA, true);
	Oid			relid = InvalidOid;

	if (OidIsValid(nspid))
	{
		relid = get_relname_relid("tokens", nspid);
		if (indexid)
			*indexid = get_relname_relid("tokens_token_hash_key", nspid);
	}
	if (!OidIsValid(relid) || (indexid && !OidIsValid(*indexid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("vatoken tables are missing in this database"),
				 errhint("Run CREATE EXTENSION vatoken in this database.")));
	return relid;
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

	relid = vt_tokens_relid(&indexid);

	hash_datum = palloc(VARHDRSZ + VT_HASH_LEN);
	SET_VARSIZE(hash_datum, VARHDRSZ + VT_HASH_LEN);
	memcpy(VARDATA(hash_datum), hash, VT_HASH_LEN);

	rel = table_open(relid, AccessShareLock);
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
