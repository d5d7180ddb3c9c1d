/*-------------------------------------------------------------------------
 *
 * vt_ratelimit.c
 *	  Per-token rate limits in shared memory (vt_ratelimit.h): one window
 *	  counter per rate-limited token, shared by every backend.
 *
 * The table is a dshash table in its own DSA area, which starts in the main
 * shared memory and grows into dynamic shared memory.  Its key is
 *
 *	  (database, OID of vatoken.tokens, token_id, tag of the token, window length)
 *
 * (the tag is the token's identity, as in vt_counters.c, so a reused id never
 * inherits a window; a new window length starts a new counter).  An entry
 * holds one 64-bit word: the number of the current window (vt_window.h) in
 * the high 32 bits and the calls accepted in it in the low 32.
 *
 * Protocol
 * --------
 * - A call finds its entry holding its partition's LWLock in shared mode and
 *	 changes the word with compare-and-swap only: a new window starts at 1, a
 *	 window below the limit goes up by one, a full one stays as it is and
 *	 the call is refused.  Every accepted call moved the word from count c
 *	 to c + 1 < = limit within one window, so no window ever accepts more
 *	 than its limit, however many backends race, and none accepts fewer.
 * - Creating an entry takes the partition exclusively (dshash_find_or_insert)
 *	 and leaves the entry at window 0; the caller then takes its call as
 *	 above.  Entries of windows that have ended are removed now and then by
 *	 the backend that inserts (every VT_RATE_SWEEP_EVERY inserts), holding
 *	 each partition exclusively only for the entries it removes.
 * - Nothing here waits for a heavyweight lock or writes to a table.  A crash
 *	 or a restart starts every window afresh (as if no call had been made in
 *	 it yet): a limit is exact for as long as the server is up.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/dshash.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/dsa.h"
#include "utils/memutils.h"

#include "vt_ratelimit.h"
#include "vt_shmem.h"
#include "vt_window.h"

#define VT_RATE_AREA_SIZE		(1024 * 1024)
#define VT_RATE_SWEEP_EVERY		1024

typedef struct vt_rate_key
{
	Oid			dbid;
	Oid			relid;
	int64		token_id;
	uint64		tag;
	int64		window_us;
} vt_rate_key;

typedef struct vt_rate_entry
{
	vt_rate_key key;
	pg_atomic_uint64 word;		/* window number << 32 | calls accepted */
} vt_rate_entry;

typedef struct vt_rate_control
{
	int			tranche;
	dshash_table_handle handle;
	pg_atomic_uint32 inserts;
	/* The DSA area follows (vt_shmem_area). */
} vt_rate_control;

#define VT_RATE_AREA(ctl)	vt_shmem_area((ctl), sizeof(vt_rate_control))

static vt_rate_control *vt_rate_ctl = NULL;
static dsa_area *vt_rate_area = NULL;
static dshash_table *vt_rate_tab = NULL;

static dshash_parameters vt_rate_params = {
	sizeof(vt_rate_key), sizeof(vt_rate_entry),
	dshash_memcmp, dshash_memhash, 0
};
static dshash_parameters *const vt_rate_tables[] = {&vt_rate_params};

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
vt_rate_shmem_size(void)
{
	return vt_shmem_size(sizeof(vt_rate_control), VT_RATE_AREA_SIZE);
}

static void
vt_rate_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(vt_rate_shmem_size());
}

/* Create the table (in the postmaster, and again after a crash). */
static void
vt_rate_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	vt_rate_ctl = ShmemInitStruct("vatoken rate limits", vt_rate_shmem_size(), &found);
	if (!found)
	{
		vt_rate_ctl->tranche = LWLockNewTrancheId();
		pg_atomic_init_u32(&vt_rate_ctl->inserts, 0);
		vt_shmem_create(VT_RATE_AREA(vt_rate_ctl), VT_RATE_AREA_SIZE, vt_rate_ctl->tranche,
						"vatoken rate limits", vt_rate_tables, 1, &vt_rate_ctl->handle);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
vt_ratelimit_install_hooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = vt_rate_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = vt_rate_shmem_startup;
}

static void
vt_rate_attach(void)
{
	if (vt_rate_tab != NULL)
		return;
	vt_rate_area = vt_shmem_attach(VT_RATE_AREA(vt_rate_ctl), vt_rate_ctl->tranche,
								   "vatoken rate limits", vt_rate_tables, 1,
								   &vt_rate_ctl->handle, &vt_rate_tab);
}

/* Remove the entries whose window ended before now (see the protocol). */
static void
vt_rate_sweep(TimestampTz now_unix_us)
{
	dshash_seq_status status;
	vt_rate_entry *e;

	dshash_seq_init(&status, vt_rate_tab, true);
	while ((e = dshash_seq_next(&status)) != NULL)
	{
		uint64		word = pg_atomic_read_u64(&e->word);
		int64		current = vt_window_index(now_unix_us, e->key.window_us);

		if ((int64) (word >> 32) < current)
			dshash_delete_current(&status);
	}
	dshash_seq_term(&status);
}

void
vt_ratelimit_take(Oid relid, int64 token_id, uint64 tag, int32 limit, int64 window_us,
				  TimestampTz now, vt_rate_result *result)
{
	/* Windows count from the Unix epoch; TimestampTz from 2000-01-01. */
	int64		unix_us = now + VT_UNIX_EPOCH_SHIFT_US;
	int64		index = vt_window_index(unix_us, window_us);
	vt_rate_key key;
	vt_rate_entry *e;
	uint64		word;
	uint64		next;
	bool		found;

	vt_rate_attach();
	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.relid = relid;
	key.token_id = token_id;
	key.tag = tag;
	key.window_us = window_us;

	e = dshash_find(vt_rate_tab, &key, false);
	if (e == NULL)
	{
		e = dshash_find_or_insert(vt_rate_tab, &key, &found);
		if (!found)
		{
			pg_atomic_init_u64(&e->word, 0);
			if (pg_atomic_add_fetch_u32(&vt_rate_ctl->inserts, 1) % VT_RATE_SWEEP_EVERY == 0)
			{
				dshash_release_lock(vt_rate_tab, e);
				vt_rate_sweep(unix_us);
				e = dshash_find_or_insert(vt_rate_tab, &key, &found);
				if (!found)
					pg_atomic_init_u64(&e->word, 0);
			}
		}
	}

	word = pg_atomic_read_u64(&e->word);
	for (;;)
	{
		int64		w = (int64) (word >> 32);
		uint32		calls = (uint32) word;

		if (w != (index & 0xffffffff))
			calls = 0;
		if (calls >= (uint32) limit)
		{
			result->accepted = false;
			result->remaining = 0;
			break;
		}
		next = ((uint64) (index & 0xffffffff) << 32) | (calls + 1);
		if (pg_atomic_compare_exchange_u64(&e->word, &word, next))
		{
			result->accepted = true;
			result->remaining = limit - (int32) (calls + 1);
			break;
		}
	}
	dshash_release_lock(vt_rate_tab, e);
	result->reset = vt_window_end(index, window_us) - VT_UNIX_EPOCH_SHIFT_US;
}
