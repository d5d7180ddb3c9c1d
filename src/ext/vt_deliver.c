/*
 * vt_deliver.c
 *	  The primary's side of counting on hot standbys: vatoken_deliver(node,
 *	  seq, batch), the one function a standby's forwarder calls, and the
 *	  same step for a promoted standby's own spool (vt_deliver_batch).
 *
 * A batch is recorded and added in the caller's transaction, idempotent by
 * (node, seq): a batch recorded before adds nothing, so a resent batch (a
 * lost answer, a standby restarted, a failover) is counted once.  The same
 * seq of a node with another digest means that two servers share a node id
 * (a file-level copy of a standby): the node is refused from then on and
 * nothing of it is added, rather than counted twice.
 *
 * vatoken_deliver is SECURITY DEFINER with search_path pinned; EXECUTE is
 * granted to nobody (the README shows the GRANT for a delivery role).  Its
 * batch is bytes that anybody holding that privilege may send: every field
 * is checked (vt_batch_decode) before anything is written, and every
 * statement is qualified (vt_store.c).  The delivery role can, by design,
 * add calls to any token of the database: give it to standbys only.
 */
#include "postgres.h"

#include "access/xlog.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lockdefs.h"
#include "utils/builtins.h"
#include "utils/uuid.h"

#include "vatoken.h"
#include "vt_deliver.h"
#include "vt_resolve.h"
#include "vt_spool.h"
#include "vt_store.h"

PG_FUNCTION_INFO_V1(vatoken_deliver);

static char *
vt_uuid_string(const pg_uuid_t *node)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(node)));
}

vt_deliver_result
vt_deliver_batch(const pg_uuid_t *node, int64 seq, const bytea *batch)
{
	vt_batch_header hdr;
	vt_batch_item *bitems;
	const char *why;
	uint8		digest[VT_HASH_LEN];
	bytea	   *digest_b;
	vt_pending *items;
	vt_rels		rels;
	int			n = 0;
	vt_deliver_result result;

	why = vt_batch_decode(VARDATA_ANY(batch), VARSIZE_ANY_EXHDR(batch), &hdr, &bitems);
	if (why != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid vatoken batch"),
				 errdetail_internal("%s", why)));
	if (memcmp(hdr.node.data, node->data, UUID_LEN) != 0 || hdr.seq != seq)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("vatoken batch does not match its node and sequence number")));
	if (hdr.dbid != MyDatabaseId)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("vatoken batch was counted in another database")));

	/* The digest names this batch as written; a resend has the same one. */
	vt_hash_token(VARDATA_ANY(batch), VARSIZE_ANY_EXHDR(batch), digest);
	digest_b = palloc(VARHDRSZ + VT_HASH_LEN);
	SET_VARSIZE(digest_b, VARHDRSZ + VT_HASH_LEN);
	memcpy(VARDATA(digest_b), digest, VT_HASH_LEN);

	(void) vt_resolve(&rels, true, RowShareLock, RowExclusiveLock, true);
	items = palloc(sizeof(vt_pending) * Max(hdr.nitems, 1));
	/* Counts of a tokens table that is gone (extension re-created) go with it. */
	if (hdr.relid == rels.tokens)
	{
		for (uint32 i = 0; i < hdr.nitems; i++)
			vt_batch_item_pending(&bitems[i], hdr.relid, &items[n++]);
	}

	vt_store_connect();
	result = vt_store_deliver(rels.schema_2_0, node, seq, digest_b, items, n);
	vt_store_disconnect();

	if (result == VT_DELIVER_CONFLICT)
		ereport(WARNING,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("vatoken node %s delivered two different batches with sequence number " INT64_FORMAT,
						vt_uuid_string(node), seq),
				 errdetail("Two servers share this node id; one is probably a file-level copy of the other. No more counts of this node are accepted."),
				 errhint("On the copy, remove the directory \"%s\" of its data directory while it is stopped; then delete the node's row from vatoken.forward_nodes.",
						 VT_SPOOL_DIR)));
	return result;
}

/* "delivered", "duplicate" or "refused": vatoken_deliver's answer. */
static const char *
vt_deliver_result_name(vt_deliver_result result)
{
	switch (result)
	{
		case VT_DELIVER_DONE:
			return "delivered";
		case VT_DELIVER_DUPLICATE:
			return "duplicate";
		case VT_DELIVER_CONFLICT:
		case VT_DELIVER_REFUSED:
			return "refused";
	}
	return "refused";
}

Datum
vatoken_deliver(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *node;
	int64		seq;
	bytea	   *batch;

	for (int i = 0; i < 3; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("arguments of vatoken_deliver must not be null")));
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot deliver vatoken counts during recovery"),
				 errhint("Deliver to the primary.")));
	node = PG_GETARG_UUID_P(0);
	seq = PG_GETARG_INT64(1);
	batch = PG_GETARG_BYTEA_PP(2);

	PG_RETURN_TEXT_P(cstring_to_text(vt_deliver_result_name(vt_deliver_batch(node, seq, batch))));
}
