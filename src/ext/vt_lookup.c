/*
 * vt_lookup.c
 *	  The hot-path lookup of a token by its hash: a direct scan of the
 *	  unique index of vatoken.tokens on its current secret (token_hash before
 *	  2.0, secret_hash from 2.0), then on its previous secret (2.0), without
 *	  SPI.
 *
 * The scan uses a snapshot taken now (GetLatestSnapshot), not the
 * transaction's: a token deleted by a committed transaction is never found,
 * even by a REPEATABLE READ transaction that started before the delete.
 * This file caches nothing (the session cache in front of it is
 * vt_tokcache.c, which says when it may answer instead); where the table is
 * comes from the resolver (vt_resolve.c), which has locked it.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "executor/tuptable.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "vt_lookup.h"

/* Attribute numbers in vatoken.tokens that no version moves (see the install script). */
#define Anum_tokens_token_id	1
#define Anum_tokens_owner		2
#define Anum_tokens_name		3
#define Anum_tokens_token_hash	4

/* Probe one unique hash index of the tokens table; fill row if found. */
static bool
vt_probe(const vt_rels *rels, Relation rel, Oid indexid, Snapshot snapshot,
		 bytea *hash_datum, bool previous, vt_token_row *row)
{
	Relation	index;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	ScanKeyData key;
	bool		found = false;

	index = index_open(indexid, AccessShareLock);
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
		vt_token_row_default_policy(row);
		row->tag = vt_tag_of(slot_getattr(slot, Anum_tokens_token_hash, &isnull));
		if (rels->schema_2_0)
		{
			Datum		d;

			row->previous = previous;
			if (previous)
			{
				d = slot_getattr(slot, rels->att_previous_valid_until, &isnull);
				row->previous_valid_until = isnull ? 0 : DatumGetTimestampTz(d);
			}
			d = slot_getattr(slot, rels->att_expires_at, &isnull);
			row->has_expiry = !isnull;
			if (!isnull)
				row->expires_at = DatumGetTimestampTz(d);
			(void) slot_getattr(slot, rels->att_disabled_at, &isnull);
			row->disabled = !isnull;
			(void) slot_getattr(slot, rels->att_revoked_at, &isnull);
			row->revoked = !isnull;
			d = slot_getattr(slot, rels->att_scopes, &isnull);
			if (!isnull)
				row->scopes = DatumGetArrayTypePCopy(d);
			d = slot_getattr(slot, rels->att_allowed_clients, &isnull);
			if (!isnull)
				row->clients = DatumGetArrayTypePCopy(d);
			d = slot_getattr(slot, rels->att_rate_limit, &isnull);
			if (!isnull)
			{
				row->rate_limit = DatumGetInt32(d);
				d = slot_getattr(slot, rels->att_rate_window, &isnull);
				row->rate_window_us = isnull ? 0 : vt_interval_us(DatumGetIntervalP(d));
			}
		}
		found = true;
	}

	ExecDropSingleTupleTableSlot(slot);
	index_endscan(scan);
	/* Keep the lock until the end of the transaction, as the executor does. */
	index_close(index, NoLock);
	return found;
}

bool
vt_lookup_token(const vt_rels *rels, const uint8 *hash, vt_token_row *row)
{
	Relation	rel;
	Snapshot	snapshot;
	bytea	   *hash_datum;
	bool		found;

	rel = table_open(rels->tokens, NoLock);
	hash_datum = palloc(VARHDRSZ + VT_HASH_LEN);
	SET_VARSIZE(hash_datum, VARHDRSZ + VT_HASH_LEN);
	memcpy(VARDATA(hash_datum), hash, VT_HASH_LEN);
	snapshot = RegisterSnapshot(GetLatestSnapshot());

	/* The current secret, then (2.0) a previous one still in its grace. */
	found = vt_probe(rels, rel, rels->tokens_hash_index, snapshot, hash_datum, false, row);
	if (!found && rels->schema_2_0)
		found = vt_probe(rels, rel, rels->tokens_previous_index, snapshot, hash_datum, true, row);

	UnregisterSnapshot(snapshot);
	table_close(rel, NoLock);
	return found;
}
