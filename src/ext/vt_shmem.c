/*-------------------------------------------------------------------------
 *
 * vt_shmem.c
 *	  Shared-memory usage counters: the fast path of vatoken_validate when
 *	  the library is in shared_preload_libraries.
 *
 * Design
 * ------
 * Without preload, every valid call upserts a row of vatoken.usage in the
 * caller's transaction (vt_store.c): a write transaction per API call.  With
 * preload, vatoken_validate writes nothing to tables.  It adds one to a
 * counter in shared memory, keyed by
 *
 *	  (database, OID of vatoken.tokens, token_id, local day)
 *
 * and a background worker per database (vt_worker.c) writes the counters
 * into vatoken.usage (calls and the latest call time per token and day)
 * every vatoken.flush_interval, all of a database's counters in one
 * statement and one transaction.
 * The OID of the tokens table is part of the key so that counts taken before
 * a DROP/CREATE EXTENSION can never land on a new token that reuses an id.
 *
 * Each counter holds two monotonic totals: "calls", every call counted since
 * the counter was created, and "flushed", the part of it that a committed
 * flush has written to vatoken.usage.  calls - flushed is pending.
 * vatoken_list and vatoken_usage add the pending calls to what they read from
 * the tables, so the numbers they report are exact at once.
 *
 * Locking protocol
 * ----------------
 * - vt_state->lock (one LWLock of tranche "vatoken") protects the hash table
 *	 itself: held in shared mode to find a counter and to read counters,
 *	 in exclusive mode to insert or remove one.
 * - The counters' fields are atomics, so vatoken_validate increments them
 *	 under the shared lock without any further lock; a hot token costs one
 *	 atomic add, not a row lock.
 * - A reader must see the tables and the "flushed" values from the same side
 *	 of a flush's commit, or it would count a flushed call twice or not at
 *	 all.  That is a seqlock: a flushing worker increments
 *	 flushes_in_progress, commits, advances "flushed" of each counter it
 *	 wrote, increments generation and then decrements flushes_in_progress.
 *	 A reader notes the generation (waiting while a flush is in progress),
 *	 takes a new snapshot, reads the tables and the pending counts, and
 *	 starts over if a flush was in progress or the generation moved.  No lock
 *	 is held across a commit, and readers never block validations.
 * - Counters whose calls are all flushed are removed by the flushing worker
 *	 under the exclusive lock, so the table holds only recent activity.
 * - Only one worker flushes a database's counters ("flushed" has a single
 *	 writer): a worker claims its database in flushing_db[] under the
 *	 exclusive lock and gives it up when it exits.
 *
 * What a crash or a restart loses
 * -------------------------------
 * - A clean shutdown loses nothing: the flush workers flush once more when
 *	 told to shut down, and whatever is counted after that (backends end
 *	 concurrently) is written by the postmaster, as it exits, to
 *	 $PGDATA/pg_stat/vatoken.counters; the next start loads that file (and
 *	 deletes it), and the workers flush it.
 * - A crash (SIGKILL of the postmaster, or of any backend, which makes the
 *	 postmaster reinitialise shared memory) loses the pending counters: the
 *	 calls of at most the last flush interval.  Everything flushed before was
 *	 committed to vatoken.usage and is never lost.
 * - When the counter table is full (vatoken.max_counters), a call that needs
 *	 a new counter is written through to vatoken.usage in the caller's
 *	 transaction, and the workers are woken to make room.  Nothing is dropped.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "vt_shmem.h"

#define VT_COUNTERS_FILE		"pg_stat/vatoken.counters"
#define VT_COUNTERS_FILE_MAGIC	0x76746331	/* "vtc1" */

int			vt_max_counters = 10000;
int			vt_flush_interval_ms = 1000;

typedef struct vt_counter_key
{
	Oid			dbid;
	Oid			relid;			/* vatoken.tokens in that database */
	int64		token_id;
	int32		day;			/* vt_day */
	int32		padding;		/* zeroed: the key is hashed as bytes */
} vt_counter_key;

typedef struct vt_counter_entry
{
	vt_counter_key key;			/* hash key; must be first */
	pg_atomic_uint64 calls;		/* calls counted since creation */
	pg_atomic_uint64 flushed;	/* of those, written by a committed flush */
	pg_atomic_uint64 last_used; /* TimestampTz of the latest call */
} vt_counter_entry;

/* Databases being dropped: their flush workers must leave at once. */
#define VT_MAX_DROPPING		8

/* Databases that can have a flush worker at the same time. */
#define VT_MAX_FLUSH_WORKERS	128

typedef struct vt_dropping_db
{
	Oid			dbid;
	TimestampTz since;
} vt_dropping_db;

typedef struct vt_shared_state
{
	LWLock	   *lock;			/* protects the hash table and dropping[] */
	pg_atomic_uint64 generation;	/* advanced after each flush commit */
	pg_atomic_uint32 flushes_in_progress;
	pg_atomic_uint32 flush_requests;	/* bumped when the table is full */
	Latch	   *launcher_latch; /* set to request an early flush */
	vt_dropping_db dropping[VT_MAX_DROPPING];
	Oid			flushing_db[VT_MAX_FLUSH_WORKERS];	/* one worker per database */
} vt_shared_state;

static vt_shared_state *vt_state = NULL;
static HTAB *vt_counters = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void vt_shmem_request(void);
static void vt_shmem_startup(void);
static void vt_shmem_shutdown(int code, Datum arg);
static void vt_counters_load(void);

static Size
vt_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(vt_shared_state)),
					hash_estimate_size(vt_max_counters, sizeof(vt_counter_entry)));
}

void
vt_shmem_install_hooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = vt_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = vt_shmem_startup;
}

static void
vt_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(vt_shmem_size());
	RequestNamedLWLockTranche("vatoken", 1);
}

static void
vt_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	vt_state = NULL;
	vt_counters = NULL;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);

	vt_state = ShmemInitStruct("vatoken state", sizeof(vt_shared_state), &found);
	if (!found)
	{
		vt_state->lock = &(GetNamedLWLockTranche("vatoken"))->lock;
		pg_atomic_init_u64(&vt_state->generation, 0);
		pg_atomic_init_u32(&vt_state->flushes_in_progress, 0);
		pg_atomic_init_u32(&vt_state->flush_requests, 0);
		vt_state->launcher_latch = NULL;
		memset(vt_state->dropping, 0, sizeof(vt_state->dropping));
		memset(vt_state->flushing_db, 0, sizeof(vt_state->flushing_db));
	}

	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(vt_counter_key);
	info.entrysize = sizeof(vt_counter_entry);
	vt_counters = ShmemInitHash("vatoken counters",
								vt_max_counters, vt_max_counters,
								&info, HASH_ELEM | HASH_BLOBS);

	LWLockRelease(AddinShmemInitLock);

	/*
	 * In the postmaster (not in a backend attaching under EXEC_BACKEND), load
	 * what the last clean shutdown saved and arrange to save at exit.
	 */
	if (!IsUnderPostmaster)
	{
		on_shmem_exit(vt_shmem_shutdown, (Datum) 0);
		if (!found)
			vt_counters_load();
	}
}

bool
vt_shmem_active(void)
{
	return vt_state != NULL;
}

static void
vt_make_key(vt_counter_key *key, Oid dbid, Oid relid, int64 token_id, vt_day day)
{
	memset(key, 0, sizeof(*key));
	key->dbid = dbid;
	key->relid = relid;
	key->token_id = token_id;
	key->day = day;
}

static void
vt_entry_init(vt_counter_entry *entry)
{
	pg_atomic_init_u64(&entry->calls, 0);
	pg_atomic_init_u64(&entry->flushed, 0);
	pg_atomic_init_u64(&entry->last_used, 0);
}

/* Raise an atomic timestamp to at least ts. */
static void
vt_raise_last_used(vt_counter_entry *entry, TimestampTz ts)
{
	uint64		old = pg_atomic_read_u64(&entry->last_used);

	while ((int64) old < ts)
	{
		if (pg_atomic_compare_exchange_u64(&entry->last_used, &old, (uint64) ts))
			break;
	}
}

/*
 * Calls of a counter not yet written by a committed flush.  "flushed" is
 * read first: "calls" only grows, so the difference is never negative even
 * while a validation or a flush runs concurrently.
 */
static uint64
vt_entry_pending(vt_counter_entry *entry, uint64 *calls_total)
{
	uint64		flushed = pg_atomic_read_u64(&entry->flushed);
	uint64		calls;

	pg_read_barrier();
	calls = pg_atomic_read_u64(&entry->calls);
	if (calls_total)
		*calls_total = calls;
	return calls - flushed;
}

bool
vt_shmem_count(Oid relid, int64 token_id, vt_day day, TimestampTz now)
{
	vt_counter_key key;
	vt_counter_entry *entry;
	bool		found;

	vt_make_key(&key, MyDatabaseId, relid, token_id, day);

	LWLockAcquire(vt_state->lock, LW_SHARED);
	entry = hash_search(vt_counters, &key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		LWLockRelease(vt_state->lock);
		LWLockAcquire(vt_state->lock, LW_EXCLUSIVE);
		/* The table may hold at most vt_max_counters entries. */
		if (hash_get_num_entries(vt_counters) >= vt_max_counters)
			entry = hash_search(vt_counters, &key, HASH_FIND, NULL);
		else
		{
			entry = hash_search(vt_counters, &key, HASH_ENTER_NULL, &found);
			if (entry != NULL && !found)
				vt_entry_init(entry);
		}
		if (entry == NULL)
		{
			LWLockRelease(vt_state->lock);
			return false;
		}
	}
	pg_atomic_fetch_add_u64(&entry->calls, 1);
	vt_raise_last_used(entry, now);
	LWLockRelease(vt_state->lock);
	return true;
}

static int
vt_pending_cmp(const void *a, const void *b)
{
	int64		x = ((const vt_pending *) a)->token_id;
	int64		y = ((const vt_pending *) b)->token_id;

	return (x > y) - (x < y);
}

vt_pending *
vt_shmem_collect(Oid dbid, Oid relid, int *n)
{
	HASH_SEQ_STATUS status;
	vt_counter_entry *entry;
	vt_pending *result;
	int			count = 0;

	LWLockAcquire(vt_state->lock, LW_SHARED);
	result = palloc(sizeof(vt_pending) * Max(hash_get_num_entries(vt_counters), 1));
	hash_seq_init(&status, vt_counters);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		uint64		calls_total;
		uint64		pending;

		if (entry->key.dbid != dbid ||
			(OidIsValid(relid) && entry->key.relid != relid))
			continue;
		pending = vt_entry_pending(entry, &calls_total);
		if (pending == 0)
			continue;
		result[count].relid = entry->key.relid;
		result[count].token_id = entry->key.token_id;
		result[count].day = entry->key.day;
		result[count].calls = pending;
		result[count].calls_total = calls_total;
		result[count].last_used = (TimestampTz) pg_atomic_read_u64(&entry->last_used);
		count++;
	}
	LWLockRelease(vt_state->lock);

	qsort(result, count, sizeof(vt_pending), vt_pending_cmp);
	*n = count;
	return result;
}

uint64
vt_shmem_read_begin(void)
{
	for (;;)
	{
		uint64		generation = pg_atomic_read_u64(&vt_state->generation);

		pg_read_barrier();
		if (pg_atomic_read_u32(&vt_state->flushes_in_progress) == 0)
			return generation;
		/* A flush is between its commit and advancing "flushed": brief. */
		CHECK_FOR_INTERRUPTS();
		pg_usleep(100L);
	}
}

bool
vt_shmem_read_valid(uint64 generation)
{
	pg_memory_barrier();
	return pg_atomic_read_u32(&vt_state->flushes_in_progress) == 0 &&
		pg_atomic_read_u64(&vt_state->generation) == generation;
}

void
vt_shmem_flush_begin_commit(void)
{
	pg_atomic_fetch_add_u32(&vt_state->flushes_in_progress, 1);
}

/*
 * After the flush transaction has committed (or failed), advance "flushed"
 * of every counter it wrote, then let readers go on.  Only the worker of
 * the counter's database flushes it, so "flushed" has a single writer.
 */
void
vt_shmem_flush_end_commit(const vt_pending *items, int n, bool committed)
{
	if (committed && n > 0)
	{
		LWLockAcquire(vt_state->lock, LW_SHARED);
		for (int i = 0; i < n; i++)
		{
			vt_counter_key key;
			vt_counter_entry *entry;

			vt_make_key(&key, MyDatabaseId, items[i].relid, items[i].token_id, items[i].day);
			entry = hash_search(vt_counters, &key, HASH_FIND, NULL);
			/* Only the flushing worker removes counters, so it is there. */
			if (entry != NULL)
				pg_atomic_write_u64(&entry->flushed, items[i].calls_total);
		}
		LWLockRelease(vt_state->lock);
	}
	pg_write_barrier();
	pg_atomic_fetch_add_u64(&vt_state->generation, 1);
	pg_atomic_fetch_sub_u32(&vt_state->flushes_in_progress, 1);
}

/*
 * Remove dbid's counters that have nothing pending, and every counter of a
 * tokens table other than live_relid (the extension was dropped, maybe
 * recreated: those counts belong to tokens that no longer exist).  With
 * live_relid InvalidOid (no extension, or no database any more), every
 * counter of dbid goes.
 */
void
vt_shmem_flush_cleanup(Oid dbid, Oid live_relid)
{
	HASH_SEQ_STATUS status;
	vt_counter_entry *entry;

	LWLockAcquire(vt_state->lock, LW_EXCLUSIVE);
	hash_seq_init(&status, vt_counters);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->key.dbid != dbid)
			continue;
		if (entry->key.relid != live_relid || vt_entry_pending(entry, NULL) == 0)
			hash_search(vt_counters, &entry->key, HASH_REMOVE, NULL);
	}
	LWLockRelease(vt_state->lock);
}

Oid *
vt_shmem_pending_databases(int *n)
{
	HASH_SEQ_STATUS status;
	vt_counter_entry *entry;
	Oid		   *dbs;
	int			count = 0;

	LWLockAcquire(vt_state->lock, LW_SHARED);
	dbs = palloc(sizeof(Oid) * Max(hash_get_num_entries(vt_counters), 1));
	hash_seq_init(&status, vt_counters);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		bool		seen = false;

		if (vt_entry_pending(entry, NULL) == 0)
			continue;
		for (int i = 0; i < count && !seen; i++)
			seen = (dbs[i] == entry->key.dbid);
		if (!seen)
			dbs[count++] = entry->key.dbid;
	}
	LWLockRelease(vt_state->lock);
	*n = count;
	return dbs;
}

void
vt_shmem_set_launcher_latch(Latch *latch)
{
	vt_state->launcher_latch = latch;
}

/*
 * Ask for a flush now (the counter table is full): every flush worker
 * notices the bumped counter within its polling period, and the launcher
 * starts workers where none runs.
 */
void
vt_shmem_request_flush(void)
{
	Latch	   *latch = vt_state->launcher_latch;

	pg_atomic_fetch_add_u32(&vt_state->flush_requests, 1);
	if (latch != NULL)
		SetLatch(latch);
}

uint32
vt_shmem_flush_requests(void)
{
	return pg_atomic_read_u32(&vt_state->flush_requests);
}

/*
 * Claim the right to flush dbid's counters: VT_CLAIMED, or VT_CLAIM_TAKEN if
 * another worker holds it, or VT_CLAIM_FULL if every slot is in use.
 */
vt_claim
vt_shmem_claim_flush(Oid dbid)
{
	int			free_slot = -1;

	LWLockAcquire(vt_state->lock, LW_EXCLUSIVE);
	for (int i = 0; i < VT_MAX_FLUSH_WORKERS; i++)
	{
		if (vt_state->flushing_db[i] == dbid)
		{
			LWLockRelease(vt_state->lock);
			return VT_CLAIM_TAKEN;
		}
		if (free_slot < 0 && !OidIsValid(vt_state->flushing_db[i]))
			free_slot = i;
	}
	if (free_slot >= 0)
		vt_state->flushing_db[free_slot] = dbid;
	LWLockRelease(vt_state->lock);
	return free_slot >= 0 ? VT_CLAIMED : VT_CLAIM_FULL;
}

void
vt_shmem_release_flush(Oid dbid)
{
	LWLockAcquire(vt_state->lock, LW_EXCLUSIVE);
	for (int i = 0; i < VT_MAX_FLUSH_WORKERS; i++)
		if (vt_state->flushing_db[i] == dbid)
			vt_state->flushing_db[i] = InvalidOid;
	LWLockRelease(vt_state->lock);
}

/*
 * DROP DATABASE is about to wait (at most 5 seconds) for other sessions to
 * leave the database: mark it, so that its flush worker exits and no new one
 * is started for a while.  If the DROP fails, the mark expires.
 */
void
vt_shmem_mark_dropping(Oid dbid)
{
	int			slot = 0;

	LWLockAcquire(vt_state->lock, LW_EXCLUSIVE);
	for (int i = 0; i < VT_MAX_DROPPING; i++)
	{
		if (vt_state->dropping[i].dbid == dbid)
		{
			slot = i;
			break;
		}
		if (vt_state->dropping[i].since < vt_state->dropping[slot].since)
			slot = i;			/* the oldest (or an empty) slot */
	}
	vt_state->dropping[slot].dbid = dbid;
	vt_state->dropping[slot].since = GetCurrentTimestamp();
	LWLockRelease(vt_state->lock);
}

bool
vt_shmem_is_dropping(Oid dbid)
{
	bool		dropping = false;
	TimestampTz now = GetCurrentTimestamp();

	LWLockAcquire(vt_state->lock, LW_SHARED);
	for (int i = 0; i < VT_MAX_DROPPING; i++)
	{
		if (vt_state->dropping[i].dbid == dbid &&
			!TimestampDifferenceExceeds(vt_state->dropping[i].since, now,
										VT_DROPPING_MS))
			dropping = true;
	}
	LWLockRelease(vt_state->lock);
	return dropping;
}

/*
 * The counters file: a magic number, then (key, pending calls, last_used)
 * records.  Written by the postmaster at a clean exit, read at the next
 * start, then removed.  Not written after a crash (code != 0), so a crash
 * loses the pending counts, as documented above.
 */
typedef struct vt_saved_counter
{
	vt_counter_key key;
	uint64		calls;
	int64		last_used;
} vt_saved_counter;

static void
vt_shmem_shutdown(int code, Datum arg)
{
	FILE	   *file;
	HASH_SEQ_STATUS status;
	vt_counter_entry *entry;
	uint32		magic = VT_COUNTERS_FILE_MAGIC;
	const char *tmpfile = VT_COUNTERS_FILE ".tmp";

	if (code != 0 || vt_state == NULL || vt_counters == NULL)
		return;

	file = AllocateFile(tmpfile, PG_BINARY_W);
	if (file == NULL)
		goto error;
	if (fwrite(&magic, sizeof(magic), 1, file) != 1)
		goto error;

	hash_seq_init(&status, vt_counters);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		vt_saved_counter saved;

		saved.calls = vt_entry_pending(entry, NULL);
		if (saved.calls == 0)
			continue;
		saved.key = entry->key;
		saved.last_used = (int64) pg_atomic_read_u64(&entry->last_used);
		if (fwrite(&saved, sizeof(saved), 1, file) != 1)
		{
			hash_seq_term(&status);
			goto error;
		}
	}
	if (FreeFile(file) != 0)
	{
		file = NULL;
		goto error;
	}
	(void) durable_rename(tmpfile, VT_COUNTERS_FILE, LOG);
	return;

error:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not write file \"%s\": %m", tmpfile)));
	if (file)
		FreeFile(file);
	unlink(tmpfile);
}

static void
vt_counters_load(void)
{
	FILE	   *file;
	uint32		magic;
	vt_saved_counter saved;
	int			loaded = 0;

	file = AllocateFile(VT_COUNTERS_FILE, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", VT_COUNTERS_FILE)));
		return;
	}

	if (fread(&magic, sizeof(magic), 1, file) != 1 || magic != VT_COUNTERS_FILE_MAGIC)
		ereport(LOG,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ignoring invalid vatoken counters file \"%s\"", VT_COUNTERS_FILE)));
	else
	{
		while (fread(&saved, sizeof(saved), 1, file) == 1)
		{
			vt_counter_entry *entry;
			bool		found;

			entry = hash_search(vt_counters, &saved.key, HASH_ENTER_NULL, &found);
			if (entry == NULL)
			{
				ereport(LOG,
						(errcode(ERRCODE_OUT_OF_MEMORY),
						 errmsg("vatoken.max_counters is too small to load all saved counters"),
						 errhint("Increase vatoken.max_counters; %d counters were loaded.",
								 loaded)));
				break;
			}
			if (!found)
				vt_entry_init(entry);
			pg_atomic_fetch_add_u64(&entry->calls, saved.calls);
			vt_raise_last_used(entry, (TimestampTz) saved.last_used);
			loaded++;
		}
	}

	FreeFile(file);
	unlink(VT_COUNTERS_FILE);
}
