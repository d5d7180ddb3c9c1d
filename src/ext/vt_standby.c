/*
 * vt_standby.c
 *	  What vatoken_validate must know on a hot standby: whether it can serve
 *	  there at all, and whether the standby's data is recent enough to trust
 *	  (the vatoken.standby_max_staleness setting).
 *
 * A delete reaches a standby only when the standby replays it.  Replay can
 * be held back (a replay conflict waits up to max_standby_streaming_delay,
 * pg_wal_replay_pause(), a lost connection to the primary), and until then
 * a deleted token still looks alive there.  With a bound set, a standby
 * whose data may be older than the bound answers "stale" instead.
 *
 * How old the data is: the standby is known to be current up to the later
 * of two instants, both taken by the primary's clock (so the two clocks
 * must agree, as for pg_last_xact_replay_timestamp()):
 *
 * - the commit time of the last transaction replayed
 *	 (pg_last_xact_replay_timestamp());
 * - the time the primary sent its last message to the WAL receiver, if the
 *	 standby has replayed all the WAL that message said the primary had
 *	 (pg_stat_wal_receiver's latest_end_lsn and last_msg_send_time; in a
 *	 keepalive that is what the primary has sent, so the rule holds within
 *	 the primary's own send delay).
 *
 * The second one is for an idle primary, which commits nothing: the
 * replayed commit time then only grows old, but the primary still answers
 * the WAL receiver's ping every wal_receiver_timeout / 2 (30 s by default).
 * Both are lower bounds of how current the data is, never later: a
 * standby that has lost its primary, or stopped replaying, turns stale once
 * the bound has passed.
 *
 * Nothing here runs on a primary beyond RecoveryInProgress(), a test of a
 * backend-local flag once recovery has ended.
 */
#include "postgres.h"

#include <limits.h>

#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "replication/walreceiver.h"
#include "storage/spin.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "vt_standby.h"
#include "vt_usage.h"

/* vatoken.standby_max_staleness, in milliseconds; 0 = no bound. */
static int	vt_standby_max_staleness_ms = 0;

void
vt_standby_define_guc(void)
{
	DefineCustomIntVariable("vatoken.standby_max_staleness",
							"On a hot standby, how old replayed data may be before vatoken_validate answers \"stale\".",
							"Zero turns the bound off.  Only the server's configuration sets it.",
							&vt_standby_max_staleness_ms,
							0, 0, INT_MAX,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/* The instant up to which the standby's data is known to be current. */
static TimestampTz
vt_standby_current_as_of(void)
{
	TimestampTz as_of = GetLatestXTime();
	XLogRecPtr	wal_end;
	TimestampTz sent;
	TimestampTz received;

	if (WalRcv == NULL)
		return as_of;
	SpinLockAcquire(&WalRcv->mutex);
	wal_end = WalRcv->latestWalEnd;
	sent = WalRcv->lastMsgSendTime;
	received = WalRcv->lastMsgReceiptTime;
	SpinLockRelease(&WalRcv->mutex);

	/*
	 * Every message from the primary sets wal_end and sent together, and
	 * received from the standby's clock.  A WAL receiver that starts (every
	 * few seconds while the primary is unreachable) sets sent and received
	 * to the same instant, its start, and leaves wal_end as it was: that
	 * pair says nothing about the primary, so it is not used.
	 */
	if (sent != received && sent > as_of && GetXLogReplayRecPtr(NULL) >= wal_end)
		as_of = sent;
	return as_of;
}

bool
vt_standby_refuses(void)
{
	TimestampTz as_of;

	if (!RecoveryInProgress())
		return false;

	if (!vt_usage_in_shmem())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("tokens cannot be checked on a hot standby unless vatoken is preloaded"),
				 errdetail("Without the preloaded library every valid call is counted by a write, "
						   "and a standby cannot write."),
				 errhint("Add vatoken to shared_preload_libraries on the standby and restart it.")));

	if (vt_standby_max_staleness_ms <= 0)
		return false;
	as_of = vt_standby_current_as_of();
	return as_of == 0 ||
		TimestampDifferenceExceeds(as_of, GetCurrentTimestamp(), vt_standby_max_staleness_ms);
}
