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
#include "vt_shmem.h"
#include "vt_worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	vt_define_timezone_guc();

	DefineCustomIntVariable("vatoken.flush_interval",
							"How often usage counted in shared memory is written to the tables.",
							"Only used when vatoken is in shared_preload_libraries. "
							"A crash loses at most the calls of one interval.",
							&vt_flush_interval_ms,
							1000, 10, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	/* A postmaster-level setting can only be defined while preloading. */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomIntVariable("vatoken.max_counters",
								"Number of (token, day) usage counters kept in shared memory.",
								"When all are in use, further calls are written through to the tables.",
								&vt_max_counters,
								10000, 1, INT_MAX / 2,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);
		vt_shmem_install_hooks();
		vt_register_launcher();
		vt_install_drop_hook();
	}

	MarkGUCPrefixReserved("vatoken");
}
