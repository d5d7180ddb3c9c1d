/*
 * vatoken.c
 *	  Module entry point: defines the settings and, when the library is
 *	  preloaded, sets up the shared-memory counters and their workers.
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "vatoken.h"
#include "vt_audit.h"
#include "vt_counters.h"
#include "vt_forward.h"
#include "vt_policy.h"
#include "vt_ratelimit.h"
#include "vt_standby.h"
#include "vt_tokcache.h"
#include "vt_worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	vt_define_timezone_guc();
	vt_standby_define_guc();

	DefineCustomIntVariable("vatoken.flush_interval",
							"How often usage counted in shared memory is written to the tables.",
							"Only used when vatoken is in shared_preload_libraries. "
							"A crash loses at most the calls of one interval.",
							&vt_flush_interval_ms,
							1000, 10, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("vatoken.max_lifetime",
							"Longest lifetime of a token; 0 means tokens may never expire.",
							"When set, a token created or rotated without an expiry gets the longest "
							"allowed, and a later expiry is an error.",
							&vt_max_lifetime_min,
							0, 0, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomIntVariable("vatoken.usage_retention",
							"How long daily usage is kept; vatoken_prune() removes older days.",
							"The current and the previous month are never removed.",
							&vt_usage_retention_min,
							400 * 24 * 60, 24 * 60, INT_MAX,
							PGC_SUSET,
							GUC_UNIT_MIN,
							NULL, NULL, NULL);
	DefineCustomStringVariable("vatoken.actor",
							   "The application's user who makes the next changes, for the audit trail.",
							   "Set it with SET LOCAL before calling vatoken_create, vatoken_update, "
							   "vatoken_rotate or vatoken_delete.",
							   &vt_actor,
							   "",
							   PGC_USERSET,
							   0,
							   NULL, NULL, NULL);

	/* A postmaster-level setting can only be defined while preloading. */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomIntVariable("vatoken.max_counters",
								"Number of (token, day) usage counters kept in shared memory.",
								"The counter table starts with room for this many and grows past it; "
								"past it the workers are asked to flush at once.",
								&vt_max_counters,
								10000, 1, INT_MAX / 2,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);
		DefineCustomIntVariable("vatoken.max_flush_workers",
								"Maximum number of flush workers running at the same time.",
								"Each serves one database; databases take turns when more are busy.",
								&vt_max_flush_workers,
								2, 1, 64,
								PGC_SIGHUP,
								0,
								NULL, NULL, NULL);
		DefineCustomIntVariable("vatoken.token_cache_size",
								"Number of tokens each session keeps to validate them without an index probe.",
								"A delete or change of any token empties every session's cache at once. "
								"0 turns the cache off.",
								&vt_token_cache_size,
								1024, 0, 1000000,
								PGC_SUSET,
								0,
								NULL, NULL, NULL);
		DefineCustomStringVariable("vatoken.forward_conninfo",
								   "Connection string a hot standby uses to deliver its counts to the primary.",
								   "Empty: primary_conninfo. The database's name is always set.",
								   &vt_forward_conninfo,
								   "",
								   PGC_SIGHUP,
								   GUC_SUPERUSER_ONLY,
								   NULL, NULL, NULL);
		DefineCustomBoolVariable("vatoken.debug_forward_resend",
								 "For tests only: a standby sends each delivered batch once more, as after a lost answer.",
								 NULL,
								 &vt_debug_forward_resend,
								 false,
								 PGC_SIGHUP,
								 GUC_NOT_IN_SAMPLE,
								 NULL, NULL, NULL);
		vt_counters_install_hooks();
		vt_tokcache_install_hooks();
		vt_ratelimit_install_hooks();
		vt_register_launcher();
		vt_install_drop_hook();
	}

	MarkGUCPrefixReserved("vatoken");
}
