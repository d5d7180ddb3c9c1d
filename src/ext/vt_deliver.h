/*
 * vt_deliver.h
 *	  Adding a standby's batch of counts on the primary, once (vt_deliver.c).
 */
#ifndef VT_DELIVER_H
#define VT_DELIVER_H

#include "postgres.h"

#include "utils/uuid.h"

#include "vt_store.h"

/*
 * Check batch (bytes from anybody), record (node, seq) and add its counts
 * in the current transaction, unless recorded before or the node is refused.
 */
extern vt_deliver_result vt_deliver_batch(const pg_uuid_t *node, int64 seq, const bytea *batch);

#endif							/* VT_DELIVER_H */
