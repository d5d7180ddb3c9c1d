/*
 * vt_forward.h
 *	  Counting on hot standbys (vt_forward.c): the forwarder that the flush
 *	  worker of a database becomes while the server is in recovery, and the
 *	  spooled counts that readers add.
 */
#ifndef VT_FORWARD_H
#define VT_FORWARD_H

#include "postgres.h"

#include "vatoken.h"

/* Settings: vatoken.forward_conninfo, vatoken.debug_forward_resend. */
extern char *vt_forward_conninfo;
extern bool vt_debug_forward_resend;

/*
 * The flush worker in recovery: spool and deliver every interval until the
 * server is promoted (returns) or shuts down (exits).
 */
extern void vt_forward_run(void);

/* On a primary: add this node's spool of the current database, once. */
extern void vt_forward_apply_local(void);

/*
 * The spooled counts of the current database's tokens table relid that the
 * active snapshot does not show as delivered, sorted as written; NULL when
 * there are none.  Needs an SPI connection; for the readers, inside a
 * vt_counters read (vt_counters.h).
 */
extern vt_pending *vt_forward_spooled(Oid relid, int *n);

#endif							/* VT_FORWARD_H */
