/*
 * vt_period.h
 *	  Calendar arithmetic for the usage periods that vatoken reports: today,
 *	  this week (weeks start on Monday), this month and last month, plus the
 *	  horizon before which daily history may be discarded.
 *
 * Part of the pure core: no PostgreSQL or PAM headers may be included here.
 * Days are counted in the proleptic Gregorian calendar as days since
 * 1970-01-01 (day 0); the caller has already turned "now" into a local date in
 * the configured time zone, so nothing here knows about time zones.
 *
 * Every date of PostgreSQL's date type is a valid day.  Within 14 months of
 * the int32 limits the period arithmetic would overflow, so callers must not
 * pass sentinel values such as those of 'infinity'.
 */
#ifndef VT_PERIOD_H
#define VT_PERIOD_H

#include <stdint.h>

typedef int32_t vt_day;

/* How many whole months of daily history are always kept before this month. */
#define VT_RETENTION_MONTHS		13

/* All ranges are inclusive on both ends. */
typedef struct vt_periods
{
	vt_day		today;
	vt_day		week_start;			/* Monday of today's week */
	vt_day		month_start;		/* first day of today's month */
	vt_day		last_month_start;	/* first day of the previous month */
	vt_day		last_month_end;		/* last day of the previous month */
	vt_day		retention_start;	/* first day of the month 13 months back */
} vt_periods;

extern vt_day vt_day_from_civil(int year, int month, int mday);
extern void vt_civil_from_day(vt_day day, int *year, int *month, int *mday);

/* 0 = Monday ... 6 = Sunday */
extern int	vt_weekday(vt_day day);

extern void vt_periods_for(vt_day today, vt_periods *periods);

#endif							/* VT_PERIOD_H */
