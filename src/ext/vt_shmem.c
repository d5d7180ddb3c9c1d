/*
 * vt_shmem.c
 *	  DSA areas that start in the main shared memory after a control struct,
 *	  with their dshash tables (vt_shmem.h): placement, creation in the
 *	  postmaster and attaching.  The tables' contents and locking belong to
 *	  their owners (vt_counters.c, vt_ratelimit.c).
 */
#include "postgres.h"

#include "storage/lwlock.h"
#include "utils/memutils.h"

#include "vt_shmem.h"

Size
vt_shmem_size(Size ctl_size, Size area_size)
{
	return add_size(MAXALIGN(ctl_size), area_size);
}

void *
vt_shmem_area(void *ctl, Size ctl_size)
{
	return (char *) ctl + MAXALIGN(ctl_size);
}

void
vt_shmem_create(void *place, Size area_size, int tranche, const char *tranche_name,
				dshash_parameters *const *params, int n, dshash_table_handle *handles)
{
	dsa_area   *area;

	LWLockRegisterTranche(tranche, tranche_name);
	area = dsa_create_in_place(place, area_size, tranche, NULL);
	dsa_pin(area);
	dsa_set_size_limit(area, area_size);
	for (int i = 0; i < n; i++)
	{
		dshash_table *tab;

		params[i]->tranche_id = tranche;
		tab = dshash_create(area, params[i], NULL);
		handles[i] = dshash_get_hash_table_handle(tab);
		dshash_detach(tab);
	}
	dsa_set_size_limit(area, -1);
	dsa_detach(area);
}

dsa_area *
vt_shmem_attach(void *place, int tranche, const char *tranche_name,
				dshash_parameters *const *params, int n,
				const dshash_table_handle *handles, dshash_table **tables)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	dsa_area   *area;

	LWLockRegisterTranche(tranche, tranche_name);
	area = dsa_attach_in_place(place, NULL);
	dsa_pin_mapping(area);
	for (int i = 0; i < n; i++)
	{
		params[i]->tranche_id = tranche;
		tables[i] = dshash_attach(area, params[i], handles[i], NULL);
	}
	MemoryContextSwitchTo(old);
	return area;
}
