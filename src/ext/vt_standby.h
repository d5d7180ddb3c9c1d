/*
 * vt_standby.h
 *	  vatoken_validate on a hot standby: the preload it needs and the
 *	  staleness bound (vt_standby.c).
 */
#ifndef VT_STANDBY_H
#define VT_STANDBY_H

#include "postgres.h"

/* Define vatoken.standby_max_staleness (from _PG_init). */
extern void vt_standby_define_guc(void);

/*
 * For a well-formed token, before anything is read.  On a primary: false at
 * once.  On a hot standby: an ERROR (55000) when the library is not
 * preloaded; true when vatoken.standby_max_staleness is set and the replayed
 * data may be older than it (validate answers "stale"); false otherwise.
 */
extern bool vt_standby_refuses(void);

#endif							/* VT_STANDBY_H */
