/*
 * vt_period.c
 *	  Civil-date conversions and the usage periods derived from a local date.
 *
 * Part of the pure core: no PostgreSQL or PAM headers may be included here.
 * The conversions use 400-year eras (146097 days) with years starting in
 * March, so that the leap day is the last day of a year and needs no special
 * case; this is valid for every date an int32 day count can name.
 */
#include "vt_period.h"

#define DAYS_PER_ERA		146097
#define DAYS_1970_FROM_0000_03_01	719468

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

vt_day
vt_day_from_civil(int year, int month, int mday)
{
	int64_t		y = (int64_t) year - (month <= 2);
	int64_t		era = floor_div(y, 400);
	int64_t		yoe = y - era * 400;	/* [0, 399] */
	int64_t		mp = (month + 9) % 12;	/* March = 0 */
	int64_t		doy = (153 * mp + 2) / 5 + mday - 1;	/* [0, 365] */
	int64_t		doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;	/* [0, 146096] */

	return (vt_day) (era * DAYS_PER_ERA + doe - DAYS_1970_FROM_0000_03_01);
}

void
vt_civil_from_day(vt_day day, int *year, int *month, int *mday)
{
	int64_t		z = (int64_t) day + DAYS_1970_FROM_0000_03_01;
	int64_t		era = floor_div(z, DAYS_PER_ERA);
	int64_t		doe = z - era * DAYS_PER_ERA;	/* [0, 146096] */
	int64_t		yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t		doy = doe - (365 * yoe + yoe / 4 - yoe / 100);	/* [0, 365] */
	int64_t		mp = (5 * doy + 2) / 153;	/* March = 0 */
	int64_t		m = mp < 10 ? mp + 3 : mp - 9;

	*mday = (int) (doy - (153 * mp + 2) / 5 + 1);
	*month = (int) m;
	*year = (int) (yoe + era * 400 + (m <= 2));
}

int
vt_weekday(vt_day day)
{
	/* 1970-01-01 was a Thursday (3 when Monday is 0). */
	return (int) (((int64_t) day + 3 - 7 * floor_div((int64_t) day + 3, 7)));
}

/* First day of the month that lies delta months from (year, month). */
static vt_day
month_start_shifted(int year, int month, int delta)
{
	int64_t		index = (int64_t) year * 12 + (month - 1) + delta;
	int64_t		y = floor_div(index, 12);

	return vt_day_from_civil((int) y, (int) (index - y * 12) + 1, 1);
}

void
vt_periods_for(vt_day today, vt_periods *periods)
{
	int			year,
				month,
				mday;

	vt_civil_from_day(today, &year, &month, &mday);

	periods->today = today;
	periods->week_start = today - vt_weekday(today);
	periods->month_start = today - (mday - 1);
	periods->last_month_start = month_start_shifted(year, month, -1);
	periods->last_month_end = periods->month_start - 1;
	periods->retention_start = month_start_shifted(year, month, -VT_RETENTION_MONTHS);
}
