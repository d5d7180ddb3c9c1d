/*
 * vt_forward.c
 *	  Counting on hot standbys: the forwarder, which moves the calls counted
 *	  on a standby to the primary's vatoken.usage exactly once, and what the
 *	  readers of a standby add for calls not yet back from the primary.
 *
 * Environment
 * -----------
 * The forwarder is the flush worker of a database (vt_flusher.c) while the
 * server is in recovery: the same process, user, pinned settings, SIGHUP and
 * postmaster-death handling, and the same claim of its database.  SIGTERM
 * (shutdown) makes it spool once more and exit.  While it waits for the
 * primary (connecting, or for an answer) SIGTERM ends it at once instead;
 * what it had not spooled is then saved at shutdown by the launcher, as on
 * a primary.  It connects to the primary with libpq (libpq-be-fe-helpers.h:
 * the waits process interrupts), from vatoken.forward_conninfo or else
 * primary_conninfo, with the database's name set.  On that connection it
 * pins the settings a database or role setting on the primary could use to
 * make delivery fail or wait (read-only default, timeouts,
 * synchronous_commit = local).  The conninfo is never logged.
 *
 * Each round (every vatoken.flush_interval)
 * ----------------------------------------
 * 1. Acknowledge: read, from this standby's own replayed copy of the
 *	  primary's tables, the highest batch recorded for this node
 *	  (vatoken.forward_nodes.last_seq); remove the spool files up to it.
 *	  A batch is removed only when the standby sees it replayed, so a lost
 *	  answer, a restart, or a failover to a primary that never got the batch
 *	  (asynchronous replication) all end in the batch being sent again, and
 *	  the primary adds a batch it recorded before no second time.
 * 2. Spool: collect the database's pending counters (vt_counters.c), write
 *	  them as batch seq to the spool (vt_spool.c, fsync'd), and publish it:
 *	  the rename into place and the counters leaving shared memory are one
 *	  step for every reader (vt_counters_publish).  A crash loses at most
 *	  the calls not yet spooled, one interval, as on a primary.
 * 3. Deliver: send every spooled batch not sent on this connection to the
 *	  primary, in order, each with one call of vatoken_deliver(node, seq,
 *	  batch).  A new connection sends them all again.
 *
 * Node: the id in $PGDATA/pgsql_tmp_vatoken/node, made at the first spool
 * (vt_spool.c says why pg_basebackup never copies it).  A node that the
 * primary refused (two servers delivered different batches under its id)
 * keeps spooling but no longer delivers, and says so in the log.
 *
 * After promotion the worker applies its own undelivered spool in its
 * database through the same idempotent step (vt_deliver_batch) and goes on
 * as a flusher.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "libpq-fe.h"
#include "libpq/libpq-be-fe-helpers.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "vt_counters.h"
#include "vt_deliver.h"
#include "vt_forward.h"
#include "vt_resolve.h"
#include "vt_spool.h"
#include "vt_store.h"

char	   *vt_forward_conninfo = NULL;
bool		vt_debug_forward_resend = false;

/* The forwarder's state (one database per process). */
static PGconn *vt_conn = NULL;
static char *vt_conn_source = NULL; /* the conninfo it was made from */
static int64 vt_sent_upto = 0;		/* sent on this connection */
static pg_uuid_t vt_node;
static bool vt_have_node = false;
static int64 vt_next_seq = 0;
static bool vt_refused = false;
static bool vt_failing = false;		/* the last delivery attempt failed */
static int	vt_lock_misses = 0;
static MemoryContext vt_round_cxt = NULL;
static char *vt_dbname = NULL;

/* Settings pinned on the connection to the primary. */
#define VT_FORWARD_SESSION \
	"SET default_transaction_read_only = off; SET statement_timeout = 0;" \
	" SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0;" \
	" SET synchronous_commit = local; SET search_path = pg_catalog, pg_temp"

/* Does this database's schema have vatoken.forward_nodes (1.2 and later)? */
static bool
vt_forward_table_exists(void)
{
	Oid			nspid = get_namespace_oid(VT_DATA_SCHEMA, true);

	return OidIsValid(nspid) && OidIsValid(get_relname_relid("forward_nodes", nspid));
}

/* The schema of the extension's functions, or NULL. */
static char *
vt_extension_schema(void)
{
	Oid			extoid = get_extension_oid("vatoken", true);
	HeapTuple	tuple;
	char	   *schema = NULL;

	if (!OidIsValid(extoid))
		return NULL;
	tuple = SearchSysCache1(EXTENSIONOID, ObjectIdGetDatum(extoid));
	if (HeapTupleIsValid(tuple))
	{
		schema = get_namespace_name(((Form_pg_extension) GETSTRUCT(tuple))->extnamespace);
		ReleaseSysCache(tuple);
	}
	return schema;
}

vt_pending *
vt_forward_spooled(Oid relid, int *n)
{
	pg_uuid_t	node;
	int64		last_seq;
	bool		refused;
	int64	   *seqs;
	int			nseqs;
	vt_pending *result;
	int			count = 0;
	int			size = 16;

	*n = 0;
	if (!vt_spool_node(&node, false) || !vt_forward_table_exists())
		return NULL;
	seqs = vt_spool_list(&node, MyDatabaseId, &nseqs);
	if (nseqs == 0)
		return NULL;
	(void) vt_store_node_state(&node, &last_seq, &refused);

	result = palloc(sizeof(vt_pending) * size);
	for (int i = 0; i < nseqs; i++)
	{
		bytea	   *batch;
		vt_batch_header hdr;
		vt_batch_item *items;

		if (seqs[i] <= last_seq)
			continue;			/* recorded in the tables this snapshot sees */
		batch = vt_spool_read(&node, MyDatabaseId, seqs[i]);
		if (batch == NULL ||
			vt_batch_decode(VARDATA(batch), VARSIZE(batch) - VARHDRSZ, &hdr, &items) != NULL ||
			hdr.relid != relid)
			continue;
		for (uint32 k = 0; k < hdr.nitems; k++)
		{
			if (count == size)
			{
				size *= 2;
				result = repalloc(result, sizeof(vt_pending) * size);
			}
			vt_batch_item_pending(&items[k], relid, &result[count++]);
		}
		pfree(items);
		pfree(batch);
	}
	*n = count;
	return result;
}

/*
 * Publishing steps (run by vt_counters_publish while readers wait).
 */
typedef struct vt_spool_step
{
	int64		seq;			/* spool commit: this batch */
	int64		upto;			/* removal: batches up to this one */
} vt_spool_step;

static bool
vt_publish_batch(void *arg)
{
	vt_spool_commit(&vt_node, MyDatabaseId, ((vt_spool_step *) arg)->seq);
	return true;
}

static bool
vt_publish_removal(void *arg)
{
	vt_spool_remove(&vt_node, MyDatabaseId, ((vt_spool_step *) arg)->upto);
	return true;
}

/*
 * Step 1: what the replayed tables say of this node.  Returns the
 * extension's schema (NULL: no extension, or a schema before 1.2).
 */
static char *
vt_forward_ack(void)
{
	int64		last_seq = 0;
	bool		refused = false;
	char	   *schema = NULL;
	MemoryContext old;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (vt_forward_table_exists())
	{
		old = MemoryContextSwitchTo(vt_round_cxt);
		schema = vt_extension_schema();
		MemoryContextSwitchTo(old);
		if (vt_have_node)
		{
			vt_store_connect();
			(void) vt_store_node_state(&vt_node, &last_seq, &refused);
			vt_store_disconnect();
		}
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(vt_round_cxt);

	if (refused && !vt_refused)
	{
		vt_refused = true;
		ereport(LOG,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("vatoken counts of this standby are refused by the primary"),
				 errdetail("Another server delivered different counts under this server's node id; one is probably a file-level copy of the other."),
				 errhint("Counts are kept in \"%s\" but not delivered. On a copy, remove that directory while the server is stopped, then delete the node's row from vatoken.forward_nodes on the primary.",
						 VT_SPOOL_DIR)));
	}
	if (vt_have_node)
	{
		int			n;
		int64	   *seqs = vt_spool_list(&vt_node, MyDatabaseId, &n);
		int64		local_seq = vt_spool_last_seq(&vt_node, MyDatabaseId);

		/*
		 * This node delivers only batches it spooled, and a spooled seq is
		 * kept (the file, then last_seq) until it is seen recorded: a
		 * recorded seq beyond the local ones was delivered by another
		 * server with this node id (a file-level copy, or an older copy of
		 * this data directory put back).  Counting on would reuse its seqs.
		 */
		if (last_seq > local_seq && !vt_refused)
		{
			vt_refused = true;
			ereport(LOG,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("vatoken counts of this standby are refused: another server delivers under its node id"),
					 errdetail("The primary recorded batch " INT64_FORMAT " of this node, but this data directory has spooled only up to " INT64_FORMAT ".",
							   last_seq, local_seq),
					 errhint("If this data directory is a copy, remove \"%s\" while the server is stopped to make it a new node.",
							 VT_SPOOL_DIR)));
		}
		if (vt_next_seq == 0)
			vt_next_seq = local_seq + 1;
		if (n > 0 && seqs[0] <= last_seq)
		{
			vt_spool_step step = {0, last_seq};

			(void) vt_counters_publish(NULL, 0, true, vt_publish_removal, &step);
		}
	}
	return schema;
}

/*
 * Step 2: spool the pending counters.  Returns how many counters were
 * spooled, or -1 if something was left for the next round.
 */
static int
vt_forward_spool(void)
{
	vt_rels		rels;
	vt_resolved resolved;
	vt_pending *items;
	int			n;
	int			others;
	bytea	   *batch;
	vt_spool_step step;
	TimestampTz started = GetCurrentTimestamp();

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	resolved = vt_resolve(&rels, true, AccessShareLock, AccessShareLock, false);
	if (resolved != VT_RESOLVED)
	{
		if (resolved == VT_RESOLVE_MISSING)
			vt_counters_discard_dead();
		CommitTransactionCommand();
		MemoryContextSwitchTo(vt_round_cxt);
		return resolved == VT_RESOLVE_MISSING ? 0 : -1;
	}
	MemoryContextSwitchTo(vt_round_cxt);
	items = vt_counters_collect(rels.tokens, &n, &others);
	if (others > 0)
		vt_counters_discard(MyDatabaseId, rels.tokens);
	CommitTransactionCommand();
	MemoryContextSwitchTo(vt_round_cxt);
	if (n == 0)
		return 0;

	if (!vt_have_node)
	{
		vt_have_node = vt_spool_node(&vt_node, true);
		vt_next_seq = vt_spool_last_seq(&vt_node, MyDatabaseId) + 1;
	}
	for (int i = 0; i < n; i++)
		items[i].resolved = true;
	step.seq = vt_next_seq;
	batch = vt_batch_encode(&vt_node, step.seq, MyDatabaseId, rels.tokens, items, n);
	vt_spool_prepare(&vt_node, MyDatabaseId, step.seq, batch);
	if (!vt_counters_publish(items, n, vt_lock_misses >= VT_FLUSH_LOCK_TRIES,
							 vt_publish_batch, &step))
	{
		vt_spool_abandon(&vt_node, MyDatabaseId, step.seq);
		vt_lock_misses++;
		return -1;
	}
	vt_lock_misses = 0;
	vt_next_seq++;
	vt_counters_note_flush(started);	/* for vatoken_stats: spooling is its flush */
	return n;
}

static void
vt_disconnect(void)
{
	if (vt_conn != NULL)
		libpqsrv_disconnect(vt_conn);
	vt_conn = NULL;
	vt_sent_upto = 0;
}

/* Log a delivery failure once per run of failures. */
static void
vt_delivery_failed(const char *what, const char *message)
{
	int			len = strlen(message);

	while (len > 0 && message[len - 1] == '\n')
		len--;
	ereport(vt_failing ? DEBUG1 : LOG,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("vatoken could not %s the primary", what),
			 errdetail_internal("%.*s", len, message),
			 errhint("Counts stay spooled on this standby and are delivered when the primary can be reached.")));
	vt_failing = true;
	vt_disconnect();
}

static const char *
vt_conninfo_source(void)
{
	if (vt_forward_conninfo != NULL && vt_forward_conninfo[0] != '\0')
		return vt_forward_conninfo;
	return PrimaryConnInfo != NULL ? PrimaryConnInfo : "";
}

static bool
vt_connect(void)
{
	const char *keywords[] = {"connect_timeout", "dbname", "dbname",
	"fallback_application_name", NULL};
	const char *values[5];
	PGresult   *res;

	if (vt_conn != NULL)
	{
		if (strcmp(vt_conn_source, vt_conninfo_source()) == 0 &&
			PQstatus(vt_conn) == CONNECTION_OK)
			return true;
		vt_disconnect();
	}
	if (vt_conn_source != NULL)
		pfree(vt_conn_source);
	vt_conn_source = MemoryContextStrdup(TopMemoryContext, vt_conninfo_source());
	if (vt_conn_source[0] == '\0')
	{
		/* Archive recovery without streaming: libpq's defaults could be anyone. */
		vt_delivery_failed("reach",
						   "Neither vatoken.forward_conninfo nor primary_conninfo is set.");
		return false;
	}

	values[0] = "10";
	values[1] = vt_conn_source;
	values[2] = vt_dbname;
	values[3] = "vatoken forward";
	values[4] = NULL;
	vt_conn = libpqsrv_connect_params(keywords, values, 1, PG_WAIT_EXTENSION);
	if (vt_conn == NULL || PQstatus(vt_conn) != CONNECTION_OK)
	{
		vt_delivery_failed("connect to", vt_conn ? PQerrorMessage(vt_conn) : "out of memory");
		return false;
	}
	res = libpqsrv_exec(vt_conn, VT_FORWARD_SESSION, PG_WAIT_EXTENSION);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		vt_delivery_failed("set up the session with", PQerrorMessage(vt_conn));
		PQclear(res);
		return false;
	}
	PQclear(res);
	return true;
}

/* Send one batch; false (connection closed) if it failed. */
static bool
vt_send(const char *schema, int64 seq, const bytea *batch, const char **answer)
{
	char		sql[NAMEDATALEN * 2 + 128];
	char		node_text[40];
	char		seq_text[32];
	const char *params[3];
	int			lengths[3] = {0, 0, VARSIZE_ANY_EXHDR(batch)};
	int			formats[3] = {0, 0, 1};
	PGresult   *res;
	static char result[16];

	snprintf(sql, sizeof(sql),
			 "SELECT %s.vatoken_deliver($1::pg_catalog.uuid, $2::pg_catalog.int8, $3::pg_catalog.bytea)",
			 quote_identifier(schema));
	strlcpy(node_text, DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(&vt_node))),
			sizeof(node_text));
	snprintf(seq_text, sizeof(seq_text), INT64_FORMAT, seq);
	params[0] = node_text;
	params[1] = seq_text;
	params[2] = VARDATA_ANY(batch);

	res = libpqsrv_exec_params(vt_conn, sql, 3, NULL, params, lengths, formats, 0,
							   PG_WAIT_EXTENSION);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
		PQgetisnull(res, 0, 0))
	{
		vt_delivery_failed("deliver counts to", PQerrorMessage(vt_conn));
		PQclear(res);
		return false;
	}
	strlcpy(result, PQgetvalue(res, 0, 0), sizeof(result));
	PQclear(res);
	*answer = result;
	vt_failing = false;
	return true;
}

/*
 * Step 3: deliver what the primary has not recorded.  Returns how many
 * batches the spool holds (delivering removes none: step 1 of a later round
 * does, once they are seen recorded).
 */
static int
vt_forward_deliver(const char *schema)
{
	int			n;
	int64	   *seqs;

	if (!vt_have_node)
		return 0;
	seqs = vt_spool_list(&vt_node, MyDatabaseId, &n);
	if (n == 0 || vt_refused || schema == NULL)
		return n;

	/* While it waits for the primary, SIGTERM ends the worker at once. */
	pqsignal(SIGTERM, die);
	if (ShutdownRequestPending)
		proc_exit(0);
	for (int i = 0; i < n; i++)
	{
		bytea	   *batch;
		const char *answer;

		if (vt_conn != NULL && seqs[i] <= vt_sent_upto)
			continue;
		batch = vt_spool_read(&vt_node, MyDatabaseId, seqs[i]);
		if (batch == NULL)
			continue;			/* removed meanwhile: delivered */
		if (!vt_connect() || !vt_send(schema, seqs[i], batch, &answer))
			break;
		if (vt_debug_forward_resend && strcmp(answer, "delivered") == 0)
		{
			/* Test only: the answer is lost; a new connection sends it again. */
			vt_disconnect();
			if (!vt_connect() || !vt_send(schema, seqs[i], batch, &answer))
				break;
		}
		vt_sent_upto = seqs[i];
		if (strcmp(answer, "refused") == 0)
		{
			vt_disconnect();
			break;				/* the next acknowledgement step says so */
		}
	}
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	CHECK_FOR_INTERRUPTS();
	return n;
}

void
vt_forward_run(void)
{
	int			idle_rounds = 0;
	TimestampTz last_round = 0;

	vt_round_cxt = AllocSetContextCreate(TopMemoryContext, "vatoken forward round",
										 ALLOCSET_DEFAULT_SIZES);
	vt_have_node = vt_spool_node(&vt_node, false);
	StartTransactionCommand();
	vt_dbname = MemoryContextStrdup(TopMemoryContext, get_database_name(MyDatabaseId));
	CommitTransactionCommand();

	while (RecoveryInProgress())
	{
		bool		due;

		if (ShutdownRequestPending)
		{
			MemoryContextSwitchTo(vt_round_cxt);
			(void) vt_forward_spool();
			vt_disconnect();
			proc_exit(0);
		}
		due = last_round == 0 ||
			TimestampDifferenceExceeds(last_round, GetCurrentTimestamp(), vt_flush_interval_ms) ||
			vt_counters_over_limit();
		if (due)
		{
			char	   *schema;
			int			spooled;
			int			nspool;

			MemoryContextReset(vt_round_cxt);
			MemoryContextSwitchTo(vt_round_cxt);
			last_round = GetCurrentTimestamp();
			pgstat_report_activity(STATE_RUNNING, "vatoken: forwarding usage counters");
			schema = vt_forward_ack();
			spooled = vt_forward_spool();
			nspool = vt_forward_deliver(schema);
			pgstat_report_activity(STATE_IDLE, NULL);

			if (spooled != 0 || nspool > 0)
				idle_rounds = 0;
			else if (++idle_rounds >= 2)
			{
				vt_disconnect();
				proc_exit(0);	/* the launcher starts us again when needed */
			}
			if (vt_counters_waiting() > 0)
			{
				vt_disconnect();
				proc_exit(0);	/* give the slot to a database waiting for one */
			}
		}

		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(200, vt_flush_interval_ms), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
	}
	/* Promoted. */
	vt_disconnect();
	MemoryContextSwitchTo(TopMemoryContext);
}

void
vt_forward_apply_local(void)
{
	pg_uuid_t	node;
	int64	   *seqs;
	int			n;
	int64		applied = 0;
	MemoryContext cxt;
	MemoryContext old;

	if (!vt_spool_node(&node, false))
		return;
	cxt = AllocSetContextCreate(TopMemoryContext, "vatoken apply spool", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	seqs = vt_spool_list(&node, MyDatabaseId, &n);
	for (int i = 0; i < n; i++)
	{
		bytea	   *batch;
		vt_deliver_result result = VT_DELIVER_REFUSED;
		bool		have_table;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		have_table = vt_forward_table_exists();
		MemoryContextSwitchTo(cxt);
		batch = vt_spool_read(&node, MyDatabaseId, seqs[i]);
		if (have_table && batch != NULL)
			result = vt_deliver_batch(&node, seqs[i], batch);
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(cxt);
		if (!have_table || result == VT_DELIVER_REFUSED || result == VT_DELIVER_CONFLICT)
		{
			ereport(LOG,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("vatoken could not apply the counts spooled on this server before its promotion"),
					 errdetail(have_table ?
							   "This server's node id is refused." :
							   "The extension's schema is older than 1.2."),
					 errhint("The counts stay in \"%s\".", VT_SPOOL_DIR)));
			break;
		}
		applied = seqs[i];
	}
	if (applied > 0)
	{
		vt_spool_step step = {0, applied};

		vt_node = node;
		(void) vt_counters_publish(NULL, 0, true, vt_publish_removal, &step);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}
