/*-------------------------------------------------------------------------
 *
 * vt_counters.c
 *	  Shared-memory usage counters: the fast path of vatoken_validate when
 *	  the library is in shared_preload_libraries.  This file owns the counter
 *	  table, the per-database read protocol and every lock they use; other
 *	  files call the operations of vt_counters.h.
 *
 * What is kept
 * ------------
 * vatoken_validate writes nothing to tables.  It adds one to a counter keyed
 * by
 *
 *	  (database, OID of vatoken.tokens, token_id, tag of the token, local day)
 *
 * and flush workers (vt_flusher.c) write the counters into vatoken.usage.
 * The OID of the tokens table and the tag (8 bytes of the token's hash) make
 * the key name one token for ever: counts taken before DROP/CREATE
 * EXTENSION, TRUNCATE ... RESTART IDENTITY or a restarted sequence can never
 * land on a new token that reuses the id.
 *
 * Each counter holds two monotonic totals: "calls", every call counted since
 * the counter was created, and "flushed", the part of it that a committed
 * flush has written to vatoken.usage; calls - flushed is pending.  Refused
 * calls of a known token have the same pair, "rejected" and
 * "rejected_flushed".  vatoken_list, vatoken_usage and vatoken_usage_daily
 * add the pending counts to what they read, so the numbers they report are
 * exact at once.  A counter also keeps the time of its latest accepted call
 * and the client address of the latest accepted call that named one.
 *
 * The table is a dshash table in a DSA area that starts in the main shared
 * memory and grows into dynamic shared memory, so a call always finds room.
 * vatoken.max_counters is the size the area starts with and the number of
 * counters at which the workers are asked to flush early; past it the table
 * keeps growing (only memory limits it) until the flushes make room.
 * A second dshash table holds one entry per database (vt_db_entry).
 *
 * Locking protocol
 * ----------------
 * - The counter table is split into dshash's partitions, each with its own
 *	 LWLock (tranche "vatoken"): validations of different tokens rarely meet.
 *	 A validation takes its counter's partition in shared mode and adds with
 *	 atomics ("calls" or "rejected", "last_used"); only creating or removing
 *	 a counter takes a partition exclusively.  The client address is more
 *	 than an atomic holds: it and its time are written and read under the
 *	 counter's spinlock "client_lock", held for a copy of 26 bytes and
 *	 taken only by a call that names its client.  Nothing here waits for a
 *	 row lock or a heavyweight lock.
 * - "flushed" and "rejected_flushed" have a single writer: the flusher of
 *	 the counter's database.
 *	 One flusher per database at a time (vt_db_entry.flusher, claimed under
 *	 the entry's partition lock, released at the flusher's exit).  When it
 *	 advances "flushed" it holds the partition exclusively and removes a
 *	 counter left with nothing pending, so the table holds only recent
 *	 activity.
 * - A reader must see the tables and the "flushed" values from the same side
 *	 of a flush's commit, or it would count a flushed call twice or not at
 *	 all.  Per database, a seqlock: the flusher sets "committing", commits,
 *	 advances "flushed" of the counters it wrote, increments "generation" and
 *	 clears "committing".  A reader notes the generation, takes a new
 *	 snapshot, reads the tables and the pending counts, and starts over if a
 *	 flush of its database was committing or the generation moved.
 * - Readers never spin without bound: after VT_READ_ATTEMPTS attempts a
 *	 reader takes the database's read lock (a heavyweight lock, so the wait
 *	 sleeps, can be cancelled and takes part in deadlock detection) in share
 *	 mode.  A flusher holds that lock exclusively from before it sets
 *	 "committing" until after it clears it.  It first only tries to take it:
 *	 if a reader holds it, the flusher aborts its transaction and tries
 *	 again at its next round; only after VT_FLUSH_LOCK_TRIES rounds in a row
 *	 found it taken does it wait, for the reads under way (readers that come
 *	 later queue behind it), so that readers cannot starve the flush.  A
 *	 reader holds the lock only while it reads, and a flusher holds no lock
 *	 a reader waits for while it waits, so neither waits for long, and a
 *	 flush commit (synchronous_commit = local, see vt_flusher.c) never waits
 *	 for a standby.
 * - Hot standbys (vt_forward.c) use the same protocol with another
 *	 publishing step (vt_counters_publish): their flusher, the forwarder,
 *	 writes the pending counts to a spool file whose rename into place is
 *	 the "commit", and removes delivered spool files under it too.  Readers
 *	 on a standby read the replayed tables, the pending counts and the spool
 *	 files not yet recorded as delivered within one attempt, so a call is
 *	 seen exactly once while it moves from shared memory to the spool and
 *	 from the spool to the tables.
 * - A flusher that exits while "committing" is set (FATAL in the commit)
 *	 clears it in a before_shmem_exit callback; its session lock is released
 *	 by the lock manager at exit.
 * - Monitoring (vatoken_stats, vt_counters_stats): the "stat_" fields at the
 *	 end of vt_db_entry.  Each has a single writer, the flusher (or
 *	 forwarder) that holds the database's claim; they are atomics, written
 *	 with plain atomic writes and read without any lock, so a reader never
 *	 makes a flusher wait.  stat_calls_flushed is raised inside the publish
 *	 step, between "committing" and the new generation, by exactly the
 *	 pending calls that the step removes: a reader that sees one generation
 *	 before and after it summed the pending counts reads calls flushed +
 *	 pending exactly (calls_counted); it retries a few times otherwise and
 *	 then answers what it has.  The other fields (flushes, last flush time
 *	 and duration, errors) may be read from two different flushes; nothing
 *	 on the hot path (vt_counters_count) writes any of them.
 *
 * What a crash or a restart loses
 * -------------------------------
 * - A clean shutdown loses nothing: the flushers flush once more when told
 *	 to shut down, and the launcher then waits (up to VT_SAVE_WAIT_MS) for
 *	 every other process that counts to exit and saves what is still pending
 *	 to $PGDATA/pg_stat/vatoken.counters.  The next launcher loads that file
 *	 and removes it (durably, so it can never be added twice), and the
 *	 flushers write it.  The file names the shared memory it was written
 *	 from: a launcher restarted alone finds its own file and only removes it.
 * - A crash (SIGKILL of the postmaster or of any backend, which makes the
 *	 postmaster reinitialise shared memory) loses the pending counters: the
 *	 calls of at most the last flush interval (longer only while a database
 *	 cannot be flushed, e.g. its rows stay locked).  Everything flushed
 *	 before was committed to vatoken.usage and is never lost.
 * - On a hot standby the same holds with "spooled" for "flushed": what was
 *	 spooled is on disk (vt_spool.c) and is delivered after any restart.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "access/xact.h"
#include "lib/dshash.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/syscache.h"
#include "utils/dsa.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "vt_counters.h"
#include "vt_shmem.h"

#define VT_COUNTERS_FILE		"pg_stat/vatoken.counters"
#define VT_COUNTERS_FILE_MAGIC	0x76746333	/* "vtc3" */
#define VT_COUNTERS_FILE_MAGIC_1_2	0x76746332	/* "vtc2", written by 1.2 */

/* Optimistic read attempts before a reader takes the read lock. */
#define VT_READ_ATTEMPTS		3

/* How long the launcher waits at shutdown for the others to stop counting. */
#define VT_SAVE_WAIT_MS			5000

/* field4 of the read lock's tag: tells it apart from SQL advisory locks. */
#define VT_READ_LOCK_CLASS		0x7674

int			vt_max_counters = 10000;
int			vt_flush_interval_ms = 1000;
int			vt_max_flush_workers = 2;

typedef struct vt_counter_key
{
	Oid			dbid;
	Oid			relid;			/* vatoken.tokens in that database */
	int64		token_id;
	uint64		tag;			/* first 8 bytes of the token's hash */
	int32		day;			/* vt_day */
	int32		padding;		/* zeroed: the key is hashed as bytes */
} vt_counter_key;

typedef struct vt_counter_entry
{
	vt_counter_key key;			/* hash key; must be first */
	pg_atomic_uint64 calls;		/* calls counted since creation */
	pg_atomic_uint64 flushed;	/* of those, written by a committed flush */
	pg_atomic_uint64 rejected;	/* refused calls counted since creation */
	pg_atomic_uint64 rejected_flushed;	/* of those, written by a flush */
	pg_atomic_uint64 last_used; /* TimestampTz of the latest call */
	/* The latest accepted call that named its client, under client_lock. */
	slock_t		client_lock;
	TimestampTz client_at;		/* 0: no call named its client */
	vt_ipnet	client;
} vt_counter_entry;

typedef struct vt_db_entry
{
	Oid			dbid;			/* hash key; must be first */
	pg_atomic_uint64 generation;	/* advanced after each flush commit */
	pg_atomic_uint32 committing;	/* a flush is between commit and advance */
	/* The rest is protected by the entry's partition lock. */
	int			flusher;		/* pid of the database's flusher, or 0 */
	TimestampTz dropping_since; /* DROP DATABASE under way since, or 0 */
	/* Monitoring: single writer, the database's flusher (see above). */
	pg_atomic_uint64 stat_calls_flushed;	/* calls published (committed/spooled) */
	pg_atomic_uint64 stat_flushes;	/* publish steps that wrote counts */
	pg_atomic_uint64 stat_last_flush_at;	/* TimestampTz, or 0 */
	pg_atomic_uint64 stat_last_flush_us;	/* its duration */
	pg_atomic_uint64 stat_flush_errors; /* errors that ended a flusher */
	pg_atomic_uint64 stat_last_error_at;	/* TimestampTz, or 0 */
	/* Written by the database's flusher only: its last committed prune. */
	Oid			pruned_relid;	/* of this tokens table (InvalidOid: none yet) */
	int32		pruned_before;	/* removed the daily usage before this vt_day */
} vt_db_entry;

typedef struct vt_control
{
	int			tranche;		/* LWLock tranche of the dshash partitions */
	uint64		incarnation;	/* names this shared memory in saved files */
	dshash_table_handle counters_handle;
	dshash_table_handle dbs_handle;
	pg_atomic_uint32 ncounters; /* entries in the counter table */
	pg_atomic_uint32 attached;	/* processes attached to the tables */
	pg_atomic_uint32 flush_requests;	/* bumped past vatoken.max_counters */
	pg_atomic_uint32 waiting;	/* databases due that found no worker */
	pg_atomic_uint64 launcher_latch;	/* Latch *, or 0 */
	size_t		area_size;
	/* The DSA area follows (vt_shmem_area). */
} vt_control;

static vt_control *vt_ctl = NULL;

/* This process's attachment (made on first use). */
static dsa_area *vt_area = NULL;
static dshash_table *vt_counters_tab = NULL;
static dshash_table *vt_dbs_tab = NULL;
static vt_db_entry *vt_my_db = NULL;	/* MyDatabaseId's entry */
static bool vt_committing_here = false; /* this process set "committing" */

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static dshash_parameters vt_counter_params = {
	sizeof(vt_counter_key), sizeof(vt_counter_entry),
	dshash_memcmp, dshash_memhash, 0
};
static dshash_parameters vt_db_params = {
	sizeof(Oid), sizeof(vt_db_entry),
	dshash_memcmp, dshash_memhash, 0
};
/* The area's tables, in the order of their handles in vt_control. */
static dshash_parameters *const vt_tables[] = {&vt_counter_params, &vt_db_params};

static void vt_shmem_request(void);
static void vt_shmem_startup(void);
static void vt_stats_init_entry(vt_db_entry *db);

/* The DSA area's initial size: room for max_counters counters and the tables. */
static Size
vt_area_size(void)
{
	Size		size = dsa_minimum_size();

	size = add_size(size, mul_size(vt_max_counters, 2 * sizeof(vt_counter_entry)));
	return add_size(size, 256 * 1024);
}

void
vt_counters_install_hooks(void)
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
	RequestAddinShmemSpace(vt_shmem_size(sizeof(vt_control), vt_area_size()));
}

/*
 * Create the control struct and both tables (in the postmaster, and again
 * after a crash).  The area may not grow into dynamic shared memory here:
 * the postmaster must not create segments, so its size is capped while the
 * tables are created, as the cumulative statistics system does.
 */
static void
vt_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	vt_ctl = ShmemInitStruct("vatoken counters",
							 vt_shmem_size(sizeof(vt_control), vt_area_size()), &found);
	if (!found)
	{
		dshash_table_handle handles[2];

		vt_ctl->tranche = LWLockNewTrancheId();
		vt_ctl->incarnation = (uint64) GetCurrentTimestamp() ^ ((uint64) getpid() << 40);
		vt_ctl->area_size = vt_area_size();
		pg_atomic_init_u32(&vt_ctl->ncounters, 0);
		pg_atomic_init_u32(&vt_ctl->attached, 0);
		pg_atomic_init_u32(&vt_ctl->flush_requests, 0);
		pg_atomic_init_u32(&vt_ctl->waiting, 0);
		pg_atomic_init_u64(&vt_ctl->launcher_latch, 0);

		vt_shmem_create(vt_shmem_area(vt_ctl, sizeof(vt_control)), vt_ctl->area_size,
						vt_ctl->tranche, "vatoken", vt_tables, lengthof(vt_tables), handles);
		vt_ctl->counters_handle = handles[0];
		vt_ctl->dbs_handle = handles[1];
	}
	LWLockRelease(AddinShmemInitLock);
}

bool
vt_counters_active(void)
{
	return vt_ctl != NULL;
}

static void
vt_detach_callback(int code, Datum arg)
{
	pg_atomic_fetch_sub_u32(&vt_ctl->attached, 1);
}

/* Attach this process to the area and the tables, once. */
static void
vt_attach(void)
{
	dshash_table_handle handles[2];
	dshash_table *tables[2];

	if (vt_counters_tab != NULL)
		return;
	Assert(vt_ctl != NULL);

	handles[0] = vt_ctl->counters_handle;
	handles[1] = vt_ctl->dbs_handle;
	vt_area = vt_shmem_attach(vt_shmem_area(vt_ctl, sizeof(vt_control)), vt_ctl->tranche,
							  "vatoken", vt_tables, lengthof(vt_tables), handles, tables);
	vt_counters_tab = tables[0];
	vt_dbs_tab = tables[1];

	pg_atomic_fetch_add_u32(&vt_ctl->attached, 1);
	before_shmem_exit(vt_detach_callback, (Datum) 0);
}

static void
vt_make_key(vt_counter_key *key, Oid dbid, const vt_token_ident *token, vt_day day)
{
	memset(key, 0, sizeof(*key));
	key->dbid = dbid;
	key->relid = token->relid;
	key->token_id = token->token_id;
	key->tag = token->tag;
	key->day = day;
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
 * What a counter holds that no committed flush has written, into p (the
 * token and day are not set).  "flushed" is read before "calls" (and
 * "rejected_flushed" before "rejected"): the totals only grow, so the
 * differences are never negative even while a validation or a flush runs
 * concurrently.  vt_entry_counts reads only the counts (for the launcher and
 * the monitoring); vt_entry_pending also the time of the last call and the
 * client, after the totals (vt_counters_count writes them before it adds
 * the call).  Both return whether anything is pending.
 */
static bool
vt_entry_counts(vt_counter_entry *entry, vt_pending *p)
{
	uint64		flushed = pg_atomic_read_u64(&entry->flushed);
	uint64		rejected_flushed = pg_atomic_read_u64(&entry->rejected_flushed);

	pg_read_barrier();
	p->calls_total = pg_atomic_read_u64(&entry->calls);
	p->rejected_total = pg_atomic_read_u64(&entry->rejected);
	p->calls = p->calls_total - flushed;
	p->rejected = p->rejected_total - rejected_flushed;
	return p->calls > 0 || p->rejected > 0;
}

static bool
vt_entry_pending(vt_counter_entry *entry, vt_pending *p)
{
	bool		any = vt_entry_counts(entry, p);

	/* After the totals: a call counted in them has its time and client set. */
	pg_read_barrier();
	p->last_used = (TimestampTz) pg_atomic_read_u64(&entry->last_used);
	SpinLockAcquire(&entry->client_lock);
	p->client_at = entry->client_at;
	p->client = entry->client;
	SpinLockRelease(&entry->client_lock);
	p->resolved = false;
	return any;
}

/* Ask the launcher and the flushers for an early flush. */
static void
vt_request_flush(void)
{
	Latch	   *latch = (Latch *) (uintptr_t) pg_atomic_read_u64(&vt_ctl->launcher_latch);

	pg_atomic_fetch_add_u32(&vt_ctl->flush_requests, 1);
	if (latch != NULL)
		SetLatch(latch);
}

/* A new counter (under its partition's exclusive lock). */
static void
vt_entry_created(vt_counter_entry *entry)
{
	uint32		n;

	pg_atomic_init_u64(&entry->calls, 0);
	pg_atomic_init_u64(&entry->flushed, 0);
	pg_atomic_init_u64(&entry->rejected, 0);
	pg_atomic_init_u64(&entry->rejected_flushed, 0);
	pg_atomic_init_u64(&entry->last_used, 0);
	SpinLockInit(&entry->client_lock);
	entry->client_at = 0;
	memset(&entry->client, 0, sizeof(entry->client));
	n = pg_atomic_add_fetch_u32(&vt_ctl->ncounters, 1);

	/*
	 * Past max_counters, ask for a flush at the first counter beyond it and
	 * again every quarter of max_counters that the table grows.
	 */
	if (n > (uint32) vt_max_counters &&
		(n - vt_max_counters - 1) % Max(vt_max_counters / 4, 1) == 0)
		vt_request_flush();
}

/* Keep client as the entry's latest client if the call at "at" is newer. */
static void
vt_entry_set_client(vt_counter_entry *entry, TimestampTz at, const vt_ipnet *client)
{
	SpinLockAcquire(&entry->client_lock);
	if (at >= entry->client_at)
	{
		entry->client_at = at;
		entry->client = *client;
	}
	SpinLockRelease(&entry->client_lock);
}

void
vt_counters_count(const vt_token_ident *token, vt_day day, TimestampTz now,
				  bool accepted, const vt_ipnet *client)
{
	vt_counter_key key;
	vt_counter_entry *entry;
	bool		found;

	vt_attach();
	vt_make_key(&key, MyDatabaseId, token, day);

	entry = dshash_find(vt_counters_tab, &key, false);
	if (entry == NULL)
	{
		entry = dshash_find_or_insert(vt_counters_tab, &key, &found);
		if (!found)
			vt_entry_created(entry);
	}
	if (accepted)
	{
		/*
		 * The time and the client before the count (the add is a full
		 * barrier): a flush that collects this call also collects them, so
		 * removing the counter after it never drops the newest ones.
		 */
		vt_raise_last_used(entry, now);
		if (client != NULL)
			vt_entry_set_client(entry, now, client);
		pg_atomic_fetch_add_u64(&entry->calls, 1);
	}
	else
		pg_atomic_fetch_add_u64(&entry->rejected, 1);
	dshash_release_lock(vt_counters_tab, entry);
}

/*
 * This database's entry, created on first use.  Database entries are only
 * removed for databases that no longer exist, so the pointer stays valid.
 */
static vt_db_entry *
vt_db_entry_for(Oid dbid)
{
	vt_db_entry *db;
	bool		found;

	vt_attach();
	if (dbid == MyDatabaseId && vt_my_db != NULL)
		return vt_my_db;
	db = dshash_find_or_insert(vt_dbs_tab, &dbid, &found);
	if (!found)
	{
		pg_atomic_init_u64(&db->generation, 0);
		pg_atomic_init_u32(&db->committing, 0);
		db->flusher = 0;
		db->dropping_since = 0;
		vt_stats_init_entry(db);
		db->pruned_relid = InvalidOid;
		db->pruned_before = 0;
	}
	dshash_release_lock(vt_dbs_tab, db);
	if (dbid == MyDatabaseId)
		vt_my_db = db;
	return db;
}

static void
vt_read_locktag(LOCKTAG *tag)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, 0x76617474, 0x6f6b656e, VT_READ_LOCK_CLASS);
}

/*
 * Note the generation to read under.  While a flush of this database is
 * committing, wait a little and count an attempt; once attempts run out,
 * take the read lock, under which no flush commits.
 */
static void
vt_read_start(vt_read *r)
{
	vt_db_entry *db = vt_db_entry_for(MyDatabaseId);

	for (;;)
	{
		if (r->attempts >= VT_READ_ATTEMPTS && !r->locked)
		{
			LOCKTAG		tag;

			vt_read_locktag(&tag);
			(void) LockAcquire(&tag, ShareLock, false, false);
			r->locked = true;
		}
		r->generation = pg_atomic_read_u64(&db->generation);
		pg_read_barrier();
		if (r->locked || pg_atomic_read_u32(&db->committing) == 0)
			return;
		/* A flush is between its commit and advancing "flushed": brief. */
		r->attempts++;
		if (r->attempts < VT_READ_ATTEMPTS)
		{
			CHECK_FOR_INTERRUPTS();
			pg_usleep(1000L);
		}
	}
}

void
vt_counters_read_begin(vt_read *r)
{
	r->attempts = 0;
	r->locked = false;
	vt_read_start(r);
}

bool
vt_counters_read_retry(vt_read *r)
{
	vt_db_entry *db = vt_db_entry_for(MyDatabaseId);

	pg_memory_barrier();
	if (r->locked ||
		(pg_atomic_read_u32(&db->committing) == 0 &&
		 pg_atomic_read_u64(&db->generation) == r->generation))
	{
		if (r->locked)
		{
			LOCKTAG		tag;

			vt_read_locktag(&tag);
			LockRelease(&tag, ShareLock, false);
			r->locked = false;
		}
		return false;
	}
	/* A flush committed while we read: read again. */
	r->attempts++;
	vt_read_start(r);
	return true;
}

int
vt_pending_cmp(const void *a, const void *b)
{
	const vt_pending *x = a;
	const vt_pending *y = b;

	if (x->token.token_id != y->token.token_id)
		return x->token.token_id < y->token.token_id ? -1 : 1;
	if (x->token.tag != y->token.tag)
		return x->token.tag < y->token.tag ? -1 : 1;
	return (x->day > y->day) - (x->day < y->day);
}

/*
 * Pending counters of dbid (of relid only, unless InvalidOid); *others, if
 * not NULL, receives how many counters of dbid belong to other relids.
 */
static vt_pending *
vt_collect(Oid dbid, Oid relid, int *n, int *others)
{
	dshash_seq_status status;
	vt_counter_entry *entry;
	vt_pending *result;
	int			count = 0;
	int			size = 64;

	vt_attach();
	if (others)
		*others = 0;
	result = palloc(sizeof(vt_pending) * size);
	dshash_seq_init(&status, vt_counters_tab, false);
	while ((entry = dshash_seq_next(&status)) != NULL)
	{
		vt_pending *p;

		if (entry->key.dbid != dbid)
			continue;
		if (OidIsValid(relid) && entry->key.relid != relid)
		{
			if (others)
				(*others)++;
			continue;
		}
		if (count == size)
		{
			size *= 2;
			result = repalloc(result, sizeof(vt_pending) * size);
		}
		p = &result[count];
		if (!vt_entry_pending(entry, p))
			continue;
		count++;
		p->token.relid = entry->key.relid;
		p->token.token_id = entry->key.token_id;
		p->token.tag = entry->key.tag;
		p->day = entry->key.day;
	}
	dshash_seq_term(&status);

	qsort(result, count, sizeof(vt_pending), vt_pending_cmp);
	*n = count;
	return result;
}

vt_pending *
vt_counters_collect(Oid relid, int *n, int *others)
{
	return vt_collect(MyDatabaseId, relid, n, others);
}

void
vt_counters_token_pending(const vt_token_ident *token, vt_day from, vt_day to,
						  vt_pending *per_day)
{
	vt_attach();
	for (vt_day day = from; day <= to; day++)
	{
		vt_counter_key key;
		vt_counter_entry *entry;
		vt_pending *p = &per_day[day - from];

		memset(p, 0, sizeof(*p));
		p->token = *token;
		p->day = day;
		vt_make_key(&key, MyDatabaseId, token, day);
		entry = dshash_find(vt_counters_tab, &key, false);
		if (entry == NULL)
			continue;
		(void) vt_entry_pending(entry, p);
		dshash_release_lock(vt_counters_tab, entry);
	}
}

/*
 * Flushing
 */
static void
vt_flusher_exit(int code, Datum arg)
{
	vt_db_entry *db = vt_my_db;

	if (db == NULL)
		return;
	if (vt_committing_here)
	{
		/* Exiting inside the commit: let readers go on. */
		pg_atomic_fetch_add_u64(&db->generation, 1);
		pg_atomic_write_u32(&db->committing, 0);
		vt_committing_here = false;
	}
	db = dshash_find(vt_dbs_tab, &MyDatabaseId, true);
	if (db != NULL)
	{
		if (db->flusher == MyProcPid)
			db->flusher = 0;
		dshash_release_lock(vt_dbs_tab, db);
	}
}

bool
vt_counters_claim_flush(Oid dbid)
{
	vt_db_entry *db;
	bool		claimed = false;

	Assert(dbid == MyDatabaseId);
	(void) vt_db_entry_for(dbid);
	db = dshash_find(vt_dbs_tab, &dbid, true);
	if (db != NULL)
	{
		if (db->flusher == 0)
		{
			db->flusher = MyProcPid;
			claimed = true;
		}
		dshash_release_lock(vt_dbs_tab, db);
	}
	if (claimed)
		before_shmem_exit(vt_flusher_exit, (Datum) 0);
	return claimed;
}

/*
 * After a committed flush: the resolved items are in the tables.  A counter
 * left with nothing pending is removed at once, under its partition's
 * exclusive lock (no validation can add to it meanwhile), so the table holds
 * only recent activity and no flush scans the whole table to find them.
 * Returns the calls that stopped being pending (for vatoken_stats).
 */
static uint64
vt_advance_flushed(const vt_pending *items, int n)
{
	uint64		calls = 0;

	for (int i = 0; i < n; i++)
	{
		vt_counter_key key;
		vt_counter_entry *entry;

		if (!items[i].resolved)
			continue;
		calls += items[i].calls;
		vt_make_key(&key, MyDatabaseId, &items[i].token, items[i].day);
		entry = dshash_find(vt_counters_tab, &key, true);
		/* Only this flusher removes its database's counters: it is there. */
		if (entry == NULL)
			continue;
		pg_atomic_write_u64(&entry->flushed, items[i].calls_total);
		pg_atomic_write_u64(&entry->rejected_flushed, items[i].rejected_total);
		if (pg_atomic_read_u64(&entry->calls) == items[i].calls_total &&
			pg_atomic_read_u64(&entry->rejected) == items[i].rejected_total)
		{
			dshash_delete_entry(vt_counters_tab, entry);
			pg_atomic_fetch_sub_u32(&vt_ctl->ncounters, 1);
		}
		else
			dshash_release_lock(vt_counters_tab, entry);
	}
	return calls;
}

bool
vt_counters_publish(const vt_pending *items, int n, bool wait,
					bool (*publish) (void *arg), void *arg)
{
	vt_db_entry *db = vt_db_entry_for(MyDatabaseId);
	LOCKTAG		tag;
	volatile bool published = false;

	vt_read_locktag(&tag);
	if (LockAcquire(&tag, ExclusiveLock, true, !wait) == LOCKACQUIRE_NOT_AVAIL)
		return false;			/* a reader is waiting for a stable view */

	pg_atomic_write_u32(&db->committing, 1);
	vt_committing_here = true;
	pg_write_barrier();
	PG_TRY();
	{
		published = publish(arg);
	}
	PG_FINALLY();
	{
		/*
		 * The calls that stopped being pending count as flushed before the
		 * generation moves, so vatoken_stats never sees them twice or not
		 * at all.
		 */
		if (published)
			pg_atomic_fetch_add_u64(&db->stat_calls_flushed, vt_advance_flushed(items, n));
		pg_write_barrier();
		pg_atomic_fetch_add_u64(&db->generation, 1);
		pg_atomic_write_u32(&db->committing, 0);
		vt_committing_here = false;
		LockRelease(&tag, ExclusiveLock, true);
	}
	PG_END_TRY();
	return true;
}

static bool
vt_commit_publish(void *arg)
{
	CommitTransactionCommand();
	return true;
}

bool
vt_counters_commit_flush(const vt_pending *items, int n, bool wait)
{
	if (vt_counters_publish(items, n, wait, vt_commit_publish, NULL))
		return true;
	/* Nothing was written this time: the counts stay pending. */
	AbortCurrentTransaction();
	return false;
}

/*
 * Remove dbid's counters: with of_relid, those of relid; else those of every
 * tokens table but relid (all of them when relid is InvalidOid).
 */
static void
vt_remove(Oid dbid, Oid relid, bool of_relid)
{
	dshash_seq_status status;
	vt_counter_entry *entry;

	vt_attach();
	dshash_seq_init(&status, vt_counters_tab, true);
	while ((entry = dshash_seq_next(&status)) != NULL)
	{
		if (entry->key.dbid != dbid)
			continue;
		if (of_relid ? entry->key.relid != relid
			: (OidIsValid(relid) && entry->key.relid == relid))
			continue;
		dshash_delete_current(&status);
		pg_atomic_fetch_sub_u32(&vt_ctl->ncounters, 1);
	}
	dshash_seq_term(&status);
}

void
vt_counters_discard(Oid dbid, Oid live_relid)
{
	vt_remove(dbid, live_relid, false);
	if (!OidIsValid(live_relid) && dbid != MyDatabaseId)
	{
		/* The database is gone: so is its entry (no process can use it). */
		vt_attach();
		(void) dshash_delete_key(vt_dbs_tab, &dbid);
	}
}

/*
 * The extension is missing in this database: drop the counters of tokens
 * tables that no longer exist.  A table that someone holds a lock on (one
 * being created in a transaction not yet committed) is kept.
 */
void
vt_counters_discard_dead(void)
{
	int			n;
	vt_pending *items = vt_collect(MyDatabaseId, InvalidOid, &n, NULL);
	Oid			last = InvalidOid;

	for (int i = 0; i < n; i++)
	{
		Oid			relid = items[i].token.relid;

		if (relid == last)
			continue;
		last = relid;
		if (!ConditionalLockRelationOid(relid, AccessShareLock))
			continue;
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
			vt_remove(MyDatabaseId, relid, true);
		UnlockRelationOid(relid, AccessShareLock);
	}
	pfree(items);
}

/*
 * The launcher
 */
Oid *
vt_counters_pending_databases(int *n)
{
	dshash_seq_status status;
	vt_counter_entry *entry;
	Oid		   *dbs;
	int			count = 0;
	int			size = 16;

	vt_attach();
	dbs = palloc(sizeof(Oid) * size);
	dshash_seq_init(&status, vt_counters_tab, false);
	while ((entry = dshash_seq_next(&status)) != NULL)
	{
		bool		seen = false;
		vt_pending	p;

		if (!vt_entry_counts(entry, &p))
			continue;
		for (int i = 0; i < count && !seen; i++)
			seen = dbs[i] == entry->key.dbid;
		if (seen)
			continue;
		if (count == size)
		{
			size *= 2;
			dbs = repalloc(dbs, sizeof(Oid) * size);
		}
		dbs[count++] = entry->key.dbid;
	}
	dshash_seq_term(&status);
	*n = count;
	return dbs;
}

void
vt_counters_set_launcher_latch(Latch *latch)
{
	vt_attach();
	pg_atomic_write_u64(&vt_ctl->launcher_latch, (uint64) (uintptr_t) latch);
}

bool
vt_counters_over_limit(void)
{
	return pg_atomic_read_u32(&vt_ctl->ncounters) > (uint32) vt_max_counters;
}

uint32
vt_counters_flush_requests(void)
{
	return pg_atomic_read_u32(&vt_ctl->flush_requests);
}

void
vt_counters_set_waiting(uint32 waiting)
{
	pg_atomic_write_u32(&vt_ctl->waiting, waiting);
}

uint32
vt_counters_waiting(void)
{
	return pg_atomic_read_u32(&vt_ctl->waiting);
}

/*
 * Pruning of daily usage by the flusher of the current database
 * (vt_flusher.c): only that process reads or writes these fields, and one
 * flusher of a database runs at a time, so they need no lock.  They outlive
 * the flusher: its successors do not prune again what it already pruned.
 */
bool
vt_counters_pruned(Oid relid, vt_day before)
{
	vt_db_entry *db = vt_db_entry_for(MyDatabaseId);

	return db->pruned_relid == relid && db->pruned_before == before;
}

void
vt_counters_set_pruned(Oid relid, vt_day before)
{
	vt_db_entry *db = vt_db_entry_for(MyDatabaseId);

	db->pruned_relid = relid;
	db->pruned_before = before;
}

/*
 * DROP DATABASE is about to wait (at most 5 seconds) for other sessions to
 * leave the database: mark it, so that its flusher leaves now and no new one
 * starts for a while.  If the DROP fails, the mark expires.
 */
void
vt_counters_mark_dropping(Oid dbid, bool dropping)
{
	vt_db_entry *db;

	(void) vt_db_entry_for(dbid);
	db = dshash_find(vt_dbs_tab, &dbid, true);
	if (db != NULL)
	{
		db->dropping_since = dropping ? GetCurrentTimestamp() : 0;
		dshash_release_lock(vt_dbs_tab, db);
	}
}

/* Does any database still have a flusher (claimed or not yet released)? */
bool
vt_counters_any_flusher(void)
{
	dshash_seq_status status;
	vt_db_entry *db;
	bool		any = false;

	vt_attach();
	dshash_seq_init(&status, vt_dbs_tab, false);
	while ((db = dshash_seq_next(&status)) != NULL)
		any |= db->flusher != 0;
	dshash_seq_term(&status);
	return any;
}

bool
vt_counters_is_dropping(Oid dbid)
{
	vt_db_entry *db;
	bool		dropping = false;

	vt_attach();
	db = dshash_find(vt_dbs_tab, &dbid, false);
	if (db != NULL)
	{
		dropping = db->dropping_since != 0 &&
			!TimestampDifferenceExceeds(db->dropping_since, GetCurrentTimestamp(),
										VT_DROPPING_MS);
		dshash_release_lock(vt_dbs_tab, db);
	}
	return dropping;
}

/*
 * The counters file: a header, then one record per counter with something
 * pending.  Written by the launcher at shutdown, read by the next launcher,
 * then removed.  Not written after a crash, so a crash loses the pending
 * counts, as documented above.  A file of the 1.2 library (records without
 * the refused calls and the client) is read too, so an upgrade of the
 * library during a clean restart loses nothing.
 */
typedef struct vt_file_header
{
	uint32		magic;
	uint32		record_size;
	uint64		incarnation;
} vt_file_header;

typedef struct vt_saved_counter_1_2
{
	vt_counter_key key;
	uint64		calls;
	int64		last_used;
} vt_saved_counter_1_2;

typedef struct vt_saved_counter
{
	vt_counter_key key;
	uint64		calls;
	int64		last_used;
	uint64		rejected;
	int64		client_at;
	vt_ipnet	client;
	uint8		padding[6];		/* zeroed */
} vt_saved_counter;

void
vt_counters_wait_for_others(void)
{
	/* Every process that counts has exited, or we stop waiting. */
	for (int waited = 0; waited < VT_SAVE_WAIT_MS; waited += 10)
	{
		if (pg_atomic_read_u32(&vt_ctl->attached) <= 1)
			break;
		(void) WaitLatch(NULL, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10, PG_WAIT_EXTENSION);
	}
}

void
vt_counters_save_file(void)
{
	FILE	   *file;
	dshash_seq_status status;
	vt_counter_entry *entry;
	vt_file_header header = {VT_COUNTERS_FILE_MAGIC, sizeof(vt_saved_counter), 0};
	const char *tmpfile = VT_COUNTERS_FILE ".tmp";
	bool		ok = true;

	vt_attach();
	header.incarnation = vt_ctl->incarnation;
	file = AllocateFile(tmpfile, PG_BINARY_W);
	if (file == NULL || fwrite(&header, sizeof(header), 1, file) != 1)
		ok = false;

	if (ok)
	{
		dshash_seq_init(&status, vt_counters_tab, false);
		while ((entry = dshash_seq_next(&status)) != NULL)
		{
			vt_saved_counter saved;
			vt_pending	p;

			if (!vt_entry_pending(entry, &p))
				continue;
			memset(&saved, 0, sizeof(saved));
			saved.key = entry->key;
			saved.calls = p.calls;
			saved.last_used = (int64) p.last_used;
			saved.rejected = p.rejected;
			saved.client_at = (int64) p.client_at;
			saved.client = p.client;
			if (fwrite(&saved, sizeof(saved), 1, file) != 1)
			{
				ok = false;
				break;
			}
		}
		dshash_seq_term(&status);
	}
	if (file != NULL && FreeFile(file) != 0)
		ok = false;
	if (ok && durable_rename(tmpfile, VT_COUNTERS_FILE, LOG) == 0)
		return;

	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not write file \"%s\": %m", tmpfile),
			 errdetail("Usage counted since the last flush is lost.")));
	unlink(tmpfile);
}

/* Read one record of the file's format into *saved; false at its end. */
static bool
vt_read_saved(FILE *file, bool format_1_2, vt_saved_counter *saved)
{
	vt_saved_counter_1_2 old;

	memset(saved, 0, sizeof(*saved));
	if (!format_1_2)
		return fread(saved, sizeof(*saved), 1, file) == 1;
	if (fread(&old, sizeof(old), 1, file) != 1)
		return false;
	saved->key = old.key;
	saved->calls = old.calls;
	saved->last_used = old.last_used;
	return true;
}

void
vt_counters_load_file(void)
{
	FILE	   *file;
	vt_file_header header;
	vt_saved_counter saved;
	bool		format_1_2;
	int			loaded = 0;

	vt_attach();
	file = AllocateFile(VT_COUNTERS_FILE, PG_BINARY_R);
	if (file == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", VT_COUNTERS_FILE)));
		return;
	}

	if (fread(&header, sizeof(header), 1, file) != 1 ||
		!((header.magic == VT_COUNTERS_FILE_MAGIC &&
		   header.record_size == sizeof(vt_saved_counter)) ||
		  (header.magic == VT_COUNTERS_FILE_MAGIC_1_2 &&
		   header.record_size == sizeof(vt_saved_counter_1_2))))
		ereport(LOG,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("ignoring invalid vatoken counters file \"%s\"", VT_COUNTERS_FILE)));
	else if (header.incarnation != vt_ctl->incarnation)
	{
		/* Written at the last shutdown; from this shared memory, it is in it. */
		format_1_2 = header.magic == VT_COUNTERS_FILE_MAGIC_1_2;
		while (vt_read_saved(file, format_1_2, &saved))
		{
			vt_counter_entry *entry;
			bool		found;

			saved.key.padding = 0;
			entry = dshash_find_or_insert(vt_counters_tab, &saved.key, &found);
			if (!found)
				vt_entry_created(entry);
			pg_atomic_fetch_add_u64(&entry->calls, saved.calls);
			pg_atomic_fetch_add_u64(&entry->rejected, saved.rejected);
			if (saved.calls > 0)
				vt_raise_last_used(entry, (TimestampTz) saved.last_used);
			if (saved.client_at != 0)
				vt_entry_set_client(entry, (TimestampTz) saved.client_at, &saved.client);
			dshash_release_lock(vt_counters_tab, entry);
			loaded++;
		}
		ereport(DEBUG1,
				(errmsg_internal("vatoken loaded %d saved counters", loaded)));
	}

	FreeFile(file);
	/* Durably: a file that came back after a crash would be added twice. */
	(void) durable_unlink(VT_COUNTERS_FILE, LOG);
}

/*
 * Monitoring (vatoken_stats)
 *
 * The "stat_" fields of vt_db_entry: one writer each, the database's
 * flusher; readers take no lock a flusher waits for (see the opening
 * comment, "Monitoring").
 */
static void
vt_stats_init_entry(vt_db_entry *db)
{
	pg_atomic_init_u64(&db->stat_calls_flushed, 0);
	pg_atomic_init_u64(&db->stat_flushes, 0);
	pg_atomic_init_u64(&db->stat_last_flush_at, 0);
	pg_atomic_init_u64(&db->stat_last_flush_us, 0);
	pg_atomic_init_u64(&db->stat_flush_errors, 0);
	pg_atomic_init_u64(&db->stat_last_error_at, 0);
}

void
vt_counters_note_flush(TimestampTz started)
{
	vt_db_entry *db = vt_db_entry_for(MyDatabaseId);
	TimestampTz now = GetCurrentTimestamp();

	pg_atomic_write_u64(&db->stat_last_flush_us, (uint64) Max(now - started, 0));
	pg_atomic_write_u64(&db->stat_last_flush_at, (uint64) now);
	pg_atomic_fetch_add_u64(&db->stat_flushes, 1);
}

void
vt_counters_note_flush_error(void)
{
	/* In error recovery: only the entry this flusher claimed, no lookup. */
	vt_db_entry *db = vt_my_db;

	if (db == NULL)
		return;
	pg_atomic_write_u64(&db->stat_last_error_at, (uint64) GetCurrentTimestamp());
	pg_atomic_fetch_add_u64(&db->stat_flush_errors, 1);
}

static int
vt_stats_find(const vt_db_stats *stats, int n, Oid dbid)
{
	for (int i = 0; i < n; i++)
		if (stats[i].dbid == dbid)
			return i;
	return -1;
}

/* Attempts at a reading that no flush commit overlapped. */
#define VT_STATS_ATTEMPTS		10

vt_db_stats *
vt_counters_stats(int *n)
{
	vt_db_stats *stats;
	uint64	   *generations;
	int			count;

	vt_attach();
	for (int attempt = 1;; attempt++)
	{
		dshash_seq_status status;
		vt_db_entry *db;
		vt_counter_entry *entry;
		int			size = 16;
		bool		stable = true;

		count = 0;
		stats = palloc0(sizeof(vt_db_stats) * size);
		generations = palloc0(sizeof(uint64) * size);

		/* 1. Every database entry: generation first, then the totals. */
		dshash_seq_init(&status, vt_dbs_tab, false);
		while ((db = dshash_seq_next(&status)) != NULL)
		{
			vt_db_stats *s;

			if (count == size)
			{
				size *= 2;
				stats = repalloc(stats, sizeof(vt_db_stats) * size);
				generations = repalloc(generations, sizeof(uint64) * size);
			}
			generations[count] = pg_atomic_read_u64(&db->generation);
			pg_read_barrier();
			if (pg_atomic_read_u32(&db->committing) != 0)
				stable = false;
			s = &stats[count++];
			memset(s, 0, sizeof(*s));
			s->dbid = db->dbid;
			s->calls_counted = pg_atomic_read_u64(&db->stat_calls_flushed);
			s->flushes = pg_atomic_read_u64(&db->stat_flushes);
			s->last_flush_at = (TimestampTz) pg_atomic_read_u64(&db->stat_last_flush_at);
			s->last_flush_us = (int64) pg_atomic_read_u64(&db->stat_last_flush_us);
			s->flush_errors = pg_atomic_read_u64(&db->stat_flush_errors);
			s->last_error_at = (TimestampTz) pg_atomic_read_u64(&db->stat_last_error_at);
		}
		dshash_seq_term(&status);

		/* 2. The counters: how many per database, and their pending calls. */
		dshash_seq_init(&status, vt_counters_tab, false);
		while ((entry = dshash_seq_next(&status)) != NULL)
		{
			int			i = vt_stats_find(stats, count, entry->key.dbid);
			vt_pending	p;

			if (i < 0)
			{
				/* No entry yet: no flush of it has run (generation 0). */
				if (count == size)
				{
					size *= 2;
					stats = repalloc(stats, sizeof(vt_db_stats) * size);
					generations = repalloc(generations, sizeof(uint64) * size);
				}
				i = count++;
				memset(&stats[i], 0, sizeof(stats[i]));
				stats[i].dbid = entry->key.dbid;
				generations[i] = 0;
			}
			stats[i].counters++;
			(void) vt_entry_counts(entry, &p);
			stats[i].calls_pending += p.calls;
		}
		dshash_seq_term(&status);

		/* 3. Did a flush publish meanwhile?  Then flushed + pending may be off. */
		pg_read_barrier();
		dshash_seq_init(&status, vt_dbs_tab, false);
		while ((db = dshash_seq_next(&status)) != NULL)
		{
			int			i = vt_stats_find(stats, count, db->dbid);

			if (i >= 0 &&
				(pg_atomic_read_u32(&db->committing) != 0 ||
				 pg_atomic_read_u64(&db->generation) != generations[i]))
				stable = false;
		}
		dshash_seq_term(&status);

		if (stable || attempt >= VT_STATS_ATTEMPTS)
			break;
		pfree(stats);
		pfree(generations);
		CHECK_FOR_INTERRUPTS();
		pg_usleep(1000L);
	}
	pfree(generations);
	for (int i = 0; i < count; i++)
		stats[i].calls_counted += stats[i].calls_pending;
	*n = count;
	return stats;
}
