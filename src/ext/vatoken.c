/*
 * vatoken.c
 *	  Module entry point: registers the settings.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "vatoken.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	vt_define_timezone_guc();
	MarkGUCPrefixReserved("vatoken");
}
