/*
 * vt_shmem.h
 *	  dshash tables in a DSA area that starts in the main shared memory,
 *	  right after its owner's control struct: the usage counters
 *	  (vt_counters.c) and the rate windows (vt_ratelimit.c) keep theirs so.
 *
 * vt_shmem.c owns only where such an area starts, its creation with its
 * tables in the postmaster, and attaching a process to it; each owner keeps
 * its tables, their locking protocol and what they mean.
 */
#ifndef VT_SHMEM_H
#define VT_SHMEM_H

#include "postgres.h"

#include "lib/dshash.h"
#include "utils/dsa.h"

/* Shared memory to request for a control struct of ctl_size bytes and its area. */
extern Size vt_shmem_size(Size ctl_size, Size area_size);

/*
 * Where the area of the control struct ctl (ctl_size bytes) starts:
 * MAXALIGNed, so that every 64-bit atomic in the tables is aligned.  An
 * area placed off that alignment puts such words across two cache lines,
 * and each atomic operation on them is a split lock, which the kernel traps
 * and throttles.
 */
extern void *vt_shmem_area(void *ctl, Size ctl_size);

/*
 * In the postmaster (and again after a crash): create the area of
 * area_size bytes at place, with the n tables of params[] (their tranche set
 * to tranche), and return their handles in handles[].  The area may not
 * grow into dynamic shared memory while the tables are created (the
 * postmaster must not create segments); it may afterwards.
 */
extern void vt_shmem_create(void *place, Size area_size, int tranche, const char *tranche_name,
							dshash_parameters *const *params, int n,
							dshash_table_handle *handles);

/*
 * Attach this process to the area at place and to its n tables (the handles
 * vt_shmem_create gave), into tables[], for the rest of its life.
 */
extern dsa_area *vt_shmem_attach(void *place, int tranche, const char *tranche_name,
								 dshash_parameters *const *params, int n,
								 const dshash_table_handle *handles, dshash_table **tables);

#endif							/* VT_SHMEM_H */
