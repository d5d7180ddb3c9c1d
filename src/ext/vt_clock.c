/*
 * vt_clock.c
 *	  The vatoken.timezone setting and the local calendar day it defines.
 *
 * Usage is counted per local day in this time zone, and the periods that
 * vatoken_list reports (today, this week, ...) are calendar periods in it.
 * Every session of a database must count into the same days, whatever it
 * sets: the setting is superuser-only and can only come from the server's
 * configuration, a database's or a role's stored settings (ALTER DATABASE
 * ... SET is the way to give a database its own zone); SET, SET LOCAL, a
 * function's SET clause and a client's startup options are refused.
 */
#include "postgres.h"

#include "pgtime.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "vatoken.h"

char	   *vt_timezone_name = NULL;
static pg_tz *vt_timezone = NULL;

/*
 * vatoken.debug_now: for tests only, the instant vatoken takes as "now" when
 * it counts a call and reads "today" (so that a test run across midnight,
 * or one that needs a week or month edge, gets the same answers).  Empty,
 * the default, means the wall clock.  Like vatoken.timezone it comes only
 * from the configuration or stored settings, never from a session.
 */
char	   *vt_debug_now_text = NULL;
static bool vt_debug_now_set = false;
static TimestampTz vt_debug_now = 0;

/*
 * vt_today is on the hot path, and converting a timestamp to a local date
 * costs far more than the rest of counting a call.  Every time zone offset
 * is a whole number of seconds, so the local date cannot change within one
 * second: remember it for the second it was computed in.
 */
static int64 vt_today_cached_second = -1;
static vt_day vt_today_cached;

/* Settings that decide the day a call counts under come from no session. */
static bool
vt_check_not_session(const char *name, GucSource source)
{
	if (source == PGC_S_CLIENT || source == PGC_S_SESSION)
	{
		GUC_check_errdetail("%s cannot be set in a session.", name);
		GUC_check_errhint("Set it in postgresql.conf or with ALTER DATABASE ... SET, "
						  "so that every session counts calls into the same days.");
		return false;
	}
	return true;
}

static bool
vt_timezone_check(char **newval, void **extra, GucSource source)
{
	pg_tz	   *tz;

	if (!vt_check_not_session("vatoken.timezone", source))
		return false;
	tz = pg_tzset(*newval);

	if (tz == NULL)
	{
		GUC_check_errdetail("Time zone \"%s\" is not recognized.", *newval);
		return false;
	}
	if (!pg_tz_acceptable(tz))
	{
		GUC_check_errdetail("Time zone \"%s\" appears to use leap seconds.", *newval);
		return false;
	}

	/* pg_tzset caches zones for the life of the process, so keep a pointer. */
	*extra = malloc(sizeof(pg_tz *));
	if (*extra == NULL)
		return false;
	*((pg_tz **) *extra) = tz;
	return true;
}

static void
vt_timezone_assign(const char *newval, void *extra)
{
	vt_timezone = *((pg_tz **) extra);
	vt_today_cached_second = -1;
}

static bool
vt_debug_now_check(char **newval, void **extra, GucSource source)
{
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz = 0;
	TimestampTz ts;

	if (!vt_check_not_session("vatoken.debug_now", source))
		return false;
	*extra = malloc(sizeof(TimestampTz));
	if (*extra == NULL)
		return false;
	if (**newval == '\0')
	{
		*((TimestampTz *) *extra) = DT_NOBEGIN;		/* the wall clock */
		return true;
	}
	if (strlen(*newval) >= MAXDATELEN ||
		ParseDateTime(*newval, workbuf, sizeof(workbuf), field, ftype,
					  MAXDATEFIELDS, &nf) != 0 ||
		DecodeDateTime(field, ftype, nf, &dtype, &tm, &fsec, &tz) != 0 ||
		dtype != DTK_DATE || tm2timestamp(&tm, fsec, &tz, &ts) != 0)
	{
		GUC_check_errdetail("\"%s\" is not a timestamp with time zone.", *newval);
		free(*extra);
		*extra = NULL;
		return false;
	}
	*((TimestampTz *) *extra) = ts;
	return true;
}

static void
vt_debug_now_assign(const char *newval, void *extra)
{
	vt_debug_now = *((TimestampTz *) extra);
	vt_debug_now_set = vt_debug_now != DT_NOBEGIN;
}

void
vt_define_timezone_guc(void)
{
	DefineCustomStringVariable("vatoken.debug_now",
							   "For tests only: the time vatoken takes as now; empty for the clock.",
							   NULL,
							   &vt_debug_now_text,
							   "",
							   PGC_SUSET,
							   GUC_NOT_IN_SAMPLE | GUC_NO_SHOW_ALL,
							   vt_debug_now_check,
							   vt_debug_now_assign,
							   NULL);

	DefineCustomStringVariable("vatoken.timezone",
							   "Time zone of the calendar days in which API calls are counted.",
							   "Today, this week (from Monday), this month and last month are "
							   "calendar periods in this time zone.",
							   &vt_timezone_name,
							   "UTC",
							   PGC_SUSET,
							   0,
							   vt_timezone_check,
							   vt_timezone_assign,
							   NULL);
}

/* The date in vatoken.timezone at the instant now. */
vt_day
vt_local_day(TimestampTz now)
{
	int64		second = now / USECS_PER_SEC;
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoffset;

	if (second == vt_today_cached_second)
		return vt_today_cached;

	if (timestamp2tm(now, &tzoffset, &tm, &fsec, NULL, vt_timezone) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("current time is out of range")));

	vt_today_cached = vt_day_from_civil(tm.tm_year, tm.tm_mon, tm.tm_mday);
	vt_today_cached_second = second;
	return vt_today_cached;
}

/* Now: the wall clock, unless a test set vatoken.debug_now. */
TimestampTz
vt_now(void)
{
	return vt_debug_now_set ? vt_debug_now : GetCurrentTimestamp();
}

/* Today's date in vatoken.timezone. */
vt_day
vt_today(void)
{
	return vt_local_day(vt_now());
}
