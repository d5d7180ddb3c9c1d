/*
 * vt_worker.h
 *	  The background workers of the fast path: the launcher (vt_launcher.c)
 *	  and the flushers it starts (vt_flusher.c).
 */
#ifndef VT_WORKER_H
#define VT_WORKER_H

#include "postgres.h"

#include "postmaster/bgworker.h"

extern void vt_register_launcher(void);
extern void vt_install_drop_hook(void);

/* Start a flusher for dbid, reporting to the calling process (the launcher). */
extern bool vt_start_flusher(Oid dbid, BackgroundWorkerHandle **handle);

#endif							/* VT_WORKER_H */
