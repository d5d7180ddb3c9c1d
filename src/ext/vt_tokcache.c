/*-------------------------------------------------------------------------
 *
 * vt_tokcache.c
 *	  The fast path's per-backend cache of tokens found by hash, the shared
 *	  change slots that keep every backend's cache exact, and the trigger on
 *	  vatoken.tokens that moves them (vt_tokcache.h).
 *
 * With the library preloaded, vatoken_validate finds a token by an index
 * probe (vt_lookup.c).  An API server validates the same few tokens over and
 * over, so each backend keeps the tokens it found (hash, id, owner, name) in
 * a direct-mapped array of vatoken.token_cache_size entries, with their
 * policy (expiry, disabled, scopes, allowed clients), which is judged anew
 * at every call.  Only tokens that exist are kept; an unknown token always
 * reaches the index.
 *
 * Protocol
 * --------
 * Shared memory holds VT_CHANGE_SLOTS change slots; a database uses slot
 * (its OID mod VT_CHANGE_SLOTS).  A slot holds
 *	  gen		 a counter that only grows,
 *	  changing	 the number of transactions in progress that changed rows of
 *				 vatoken.tokens in a database of the slot.
 *
 * The writer is the trigger vatoken.tokens_changed, enabled ALWAYS (so
 * session_replication_role does not turn it off), BEFORE each row deleted or
 * updated and before TRUNCATE:
 *	  - the first time in a transaction, changing += 1;
 *	  - at the end of that transaction, commit or abort, gen += 1 and then
 *		changing -= 1.  The commit callback runs after the commit is visible
 *		to new snapshots, and before the client hears of the commit.
 *
 * The reader is vatoken_validate (fast path, not in recovery): it reads
 * changing, then gen.  If changing is not zero it neither uses nor fills the
 * cache.  Otherwise an entry is a hit only if it was filled at this gen; on
 * a miss, the token is looked up with a snapshot taken after those reads
 * (vt_lookup_token takes the latest snapshot), and stored tagged with gen.
 *
 * Why a hit is exact: a token that a transaction deleted (or changed) was
 * deleted before that transaction's commit became visible, which is before
 * its gen += 1, which is before its changing -= 1.  A reader that sees
 * changing == 0 after that transaction raised it must therefore see the new
 * gen, and every entry filled before is stale.  An entry filled after the
 * commit became visible was read with a snapshot that sees the delete.
 * Between the commit and the end of the callback, changing keeps readers
 * off the cache, so no session can see a token gone in a table and still
 * valid here.
 *
 * Around it:
 *	  - The cache is used only while the triggers are in place: enabled
 *		ALWAYS, the extension's function, for each row BEFORE DELETE and
 *		UPDATE, and for TRUNCATE.  Any relcache invalidation of the tokens
 *		table (a trigger dropped, disabled or enabled, ALTER TABLE, VACUUM)
 *		empties this backend's cache, so a change made while a trigger was
 *		off is never answered from an entry filled before.
 *	  - A transaction that has an XID fills nothing: it may have inserted
 *		the token itself and roll back.
 *	  - PREPARE TRANSACTION is refused for a transaction that changed
 *		tokens: its commit would come from another session, with nobody to
 *		end the change.
 *	  - A backend that exits ends its change (the abort at exit runs the
 *		callback); a crash reinitialises shared memory.  A "changing" left
 *		raised would only turn the caches off, never make them wrong.
 *	  - A hot standby replays deletes without triggers: it never uses the
 *		cache.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/dependency.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "vt_lookup.h"
#include "vt_tokcache.h"

#define VT_CHANGE_SLOTS		64
#define VT_TRIGGER_SYMBOL	"vatoken_tokens_changed"

typedef struct vt_change_slot
{
	pg_atomic_uint64 gen;
	pg_atomic_uint32 changing;
} vt_change_slot;

typedef struct vt_cache_entry
{
	bool		used;
	uint64		gen;			/* the slot's gen when filled */
	Oid			relid;			/* vatoken.tokens it was found in */
	uint8		hash[VT_HASH_LEN];
	vt_token_row row;			/* varlena fields in vt_cache_cxt */
} vt_cache_entry;

int			vt_token_cache_size = 1024;

static vt_change_slot *vt_slots = NULL;

/* This backend's cache. */
static MemoryContext vt_cache_cxt = NULL;
static vt_cache_entry *vt_entries = NULL;
static int	vt_nentries = 0;
static uint64 vt_cache_epoch = 0;	/* moves on every relevant invalidation */
static uint64 vt_cleared_epoch = 0; /* the epoch the entries belong to */
static Oid	vt_checked_relid = InvalidOid;	/* triggers checked on it, */
static bool vt_triggers_ok = false; /* with this result */
static bool vt_inval_registered = false;

/* This backend's change in progress, if any. */
static bool vt_changing_here = false;
static int	vt_changing_slot = 0;
static bool vt_xact_registered = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PG_FUNCTION_INFO_V1(vatoken_tokens_changed);

static void
vt_tokcache_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(mul_size(VT_CHANGE_SLOTS, sizeof(vt_change_slot)));
}

static void
vt_tokcache_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	vt_slots = ShmemInitStruct("vatoken token changes",
							   mul_size(VT_CHANGE_SLOTS, sizeof(vt_change_slot)),
							   &found);
	if (!found)
	{
		for (int i = 0; i < VT_CHANGE_SLOTS; i++)
		{
			pg_atomic_init_u64(&vt_slots[i].gen, 1);
			pg_atomic_init_u32(&vt_slots[i].changing, 0);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

void
vt_tokcache_install_hooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = vt_tokcache_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = vt_tokcache_shmem_startup;
}

/* ---- the writer: the trigger and the end of its transaction ---- */

/* End this backend's change: gen first, then changing (see the protocol). */
static void
vt_end_change(void)
{
	vt_change_slot *slot;

	if (!vt_changing_here)
		return;
	slot = &vt_slots[vt_changing_slot];
	pg_atomic_fetch_add_u64(&slot->gen, 1);
	pg_atomic_fetch_sub_u32(&slot->changing, 1);
	vt_changing_here = false;
}

static void
vt_tokcache_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (vt_changing_here)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that changed vatoken tokens"),
						 errdetail("With vatoken in shared_preload_libraries, a transaction that deletes or changes tokens must commit or roll back in its own session.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			vt_end_change();
			break;
		default:
			break;
	}
}

/* Backstop for an exit outside any transaction's end. */
static void
vt_tokcache_exit(int code, Datum arg)
{
	vt_end_change();
}

/*
 * vatoken.tokens_changed(): BEFORE each row deleted or updated and before
 * TRUNCATE of vatoken.tokens.  Without the preload there is no cache and it
 * does nothing.
 */
Datum
vatoken_tokens_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function vatoken.tokens_changed can only be called as a trigger")));

	if (vt_slots != NULL && !vt_changing_here)
	{
		if (!vt_xact_registered)
		{
			RegisterXactCallback(vt_tokcache_xact_callback, NULL);
			before_shmem_exit(vt_tokcache_exit, (Datum) 0);
			vt_xact_registered = true;
		}
		vt_changing_slot = MyDatabaseId % VT_CHANGE_SLOTS;
		pg_atomic_fetch_add_u32(&vt_slots[vt_changing_slot].changing, 1);
		vt_changing_here = true;
	}

	if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		return PointerGetDatum(NULL);
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		return PointerGetDatum(trigdata->tg_newtuple);
	return PointerGetDatum(trigdata->tg_trigtuple);
}

/* ---- the reader: this backend's cache ---- */

static void
vt_tokcache_relcache_callback(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == vt_checked_relid)
	{
		vt_checked_relid = InvalidOid;
		vt_cache_epoch++;
	}
}

/* Is fn the extension's trigger function (extoid's member, in C)? */
static bool
vt_is_our_trigger_function(Oid fn, Oid extoid)
{
	HeapTuple	tuple;
	bool		ours = false;

	if (getExtensionOfObject(ProcedureRelationId, fn) != extoid)
		return false;
	tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	if (HeapTupleIsValid(tuple))
	{
		Form_pg_proc proc = (Form_pg_proc) GETSTRUCT(tuple);
		Datum		prosrc;
		bool		isnull;

		prosrc = SysCacheGetAttr(PROCOID, tuple, Anum_pg_proc_prosrc, &isnull);
		ours = proc->prolang == ClanguageId && !isnull &&
			strcmp(TextDatumGetCString(prosrc), VT_TRIGGER_SYMBOL) == 0;
		ReleaseSysCache(tuple);
	}
	return ours;
}

/* Are the triggers that move the change slots in place on relid (locked)? */
static bool
vt_triggers_in_place(Oid relid)
{
	Relation	rel = table_open(relid, NoLock);
	TriggerDesc *td = rel->trigdesc;
	Oid			extoid = get_extension_oid("vatoken", true);
	bool		on_delete = false;
	bool		on_update = false;
	bool		on_truncate = false;

	for (int i = 0; td != NULL && i < td->numtriggers; i++)
	{
		Trigger    *t = &td->triggers[i];

		if (t->tgenabled != TRIGGER_FIRES_ALWAYS || t->tgnattr != 0 ||
			t->tgqual != NULL || !vt_is_our_trigger_function(t->tgfoid, extoid))
			continue;
		if (TRIGGER_FOR_TRUNCATE(t->tgtype))
			on_truncate = true;
		if (TRIGGER_FOR_ROW(t->tgtype) && TRIGGER_FOR_BEFORE(t->tgtype))
		{
			on_delete |= TRIGGER_FOR_DELETE(t->tgtype);
			on_update |= TRIGGER_FOR_UPDATE(t->tgtype);
		}
	}
	table_close(rel, NoLock);
	return on_delete && on_update && on_truncate;
}

/* Empty the cache (and size it to the setting). */
static void
vt_cache_clear(void)
{
	if (vt_cache_cxt == NULL)
		vt_cache_cxt = AllocSetContextCreate(TopMemoryContext, "vatoken token cache",
											 ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(vt_cache_cxt);
	vt_nentries = vt_token_cache_size;
	vt_entries = MemoryContextAllocZero(vt_cache_cxt,
										mul_size(vt_nentries, sizeof(vt_cache_entry)));
	vt_cleared_epoch = vt_cache_epoch;
}

/* May this backend use its cache for rels now?  Clears it when it must. */
static bool
vt_cache_usable(const vt_rels *rels)
{
	if (!vt_inval_registered)
	{
		CacheRegisterRelcacheCallback(vt_tokcache_relcache_callback, (Datum) 0);
		vt_inval_registered = true;
	}
	if (vt_checked_relid != rels->tokens)
	{
		uint64		epoch;
		bool		ok;

		/* A newly checked table: start empty. */
		vt_checked_relid = rels->tokens;
		vt_triggers_ok = false;
		epoch = ++vt_cache_epoch;
		ok = vt_triggers_in_place(rels->tokens);
		/* The check counts only if no invalidation arrived while it ran. */
		if (epoch != vt_cache_epoch)
			return false;
		vt_triggers_ok = ok;
	}
	if (!vt_triggers_ok)
		return false;
	if (vt_entries == NULL || vt_cleared_epoch != vt_cache_epoch ||
		vt_nentries != vt_token_cache_size)
		vt_cache_clear();
	return true;
}

static void *
vt_varlena_copy(const void *v)
{
	void	   *copy;

	if (v == NULL)
		return NULL;
	copy = palloc(VARSIZE_ANY(v));
	memcpy(copy, v, VARSIZE_ANY(v));
	return copy;
}

/* Copy a row with its varlena fields into the current memory context. */
static void
vt_row_copy(vt_token_row *dst, const vt_token_row *src)
{
	*dst = *src;
	dst->owner = vt_varlena_copy(src->owner);
	dst->name = vt_varlena_copy(src->name);
	dst->scopes = vt_varlena_copy(src->scopes);
	dst->clients = vt_varlena_copy(src->clients);
}

static void
vt_row_free(vt_token_row *row)
{
	pfree(row->owner);
	pfree(row->name);
	if (row->scopes)
		pfree(row->scopes);
	if (row->clients)
		pfree(row->clients);
}

bool
vt_tokcache_lookup(const vt_rels *rels, const uint8 *hash, vt_token_row *row)
{
	vt_change_slot *slot;
	vt_cache_entry *e;
	uint32		changing;
	uint64		gen;
	uint64		epoch;
	uint32		index;
	bool		found;

	if (vt_slots == NULL || vt_token_cache_size <= 0 || RecoveryInProgress() ||
		!vt_cache_usable(rels))
		return vt_lookup_token(rels, hash, row);

	slot = &vt_slots[MyDatabaseId % VT_CHANGE_SLOTS];
	changing = pg_atomic_read_u32(&slot->changing);
	pg_read_barrier();
	gen = pg_atomic_read_u64(&slot->gen);
	if (changing != 0)
		return vt_lookup_token(rels, hash, row);

	/* The hash is uniform: its first bytes pick the entry. */
	memcpy(&index, hash, sizeof(index));
	e = &vt_entries[index % (uint32) vt_nentries];
	if (e->used && e->gen == gen && e->relid == rels->tokens &&
		memcmp(e->hash, hash, VT_HASH_LEN) == 0)
	{
		vt_row_copy(row, &e->row);
		return true;
	}

	epoch = vt_cache_epoch;
	found = vt_lookup_token(rels, hash, row);
	if (found && epoch == vt_cache_epoch &&
		!TransactionIdIsValid(GetTopTransactionIdIfAny()))
	{
		MemoryContext old = MemoryContextSwitchTo(vt_cache_cxt);

		if (e->used)
			vt_row_free(&e->row);
		vt_row_copy(&e->row, row);
		MemoryContextSwitchTo(old);
		e->used = true;
		e->gen = gen;
		e->relid = rels->tokens;
		memcpy(e->hash, hash, VT_HASH_LEN);
	}
	return found;
}
