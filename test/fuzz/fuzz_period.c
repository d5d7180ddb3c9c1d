/*
 * fuzz_period.c
 *	  libFuzzer target for the calendar arithmetic of the pure core.
 *
 * Each 4 input bytes name a day within about 8,200 years of 1970 (+/- 3,000,000
 * days, far wider than any date vatoken will see, and far enough from the
 * int32 limits that "today - 6" cannot overflow).  For each day the civil
 * conversions must round trip and step like a calendar, and the usage periods
 * must keep their relations; abort() reports a violated one.
 *
 * Build and run with "make fuzz" (mk/fuzz.mk).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vt_period.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DAY_RANGE	3000000

static void
fail(const char *what, vt_day day)
{
	fprintf(stderr, "property violated for day %ld: %s\n", (long) day, what);
	abort();
}

static int
days_in_month(int y, int m)
{
	static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int			leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : len[m - 1];
}

static vt_day
day_from_bytes(const uint8_t *p)
{
	uint32_t	u = (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 |
		(uint32_t) p[2] << 8 | (uint32_t) p[3];

	return (vt_day) ((int64_t) (u % (2 * DAY_RANGE + 1)) - DAY_RANGE);
}

/* A month as one number, so that months can be counted across years. */
static int64_t
month_index(int y, int m)
{
	return (int64_t) y * 12 + (m - 1);
}

static void
check_civil(vt_day day)
{
	int			y,
				m,
				d,
				ny,
				nm,
				nd,
				w;

	vt_civil_from_day(day, &y, &m, &d);
	if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		fail("civil_from_day gave an impossible date", day);
	if (vt_day_from_civil(y, m, d) != day)
		fail("day -> civil -> day round trip", day);

	/* The next day is the next date of the calendar. */
	vt_civil_from_day(day + 1, &ny, &nm, &nd);
	if (d < days_in_month(y, m))
	{
		if (ny != y || nm != m || nd != d + 1)
			fail("next day within a month", day);
	}
	else if (m < 12)
	{
		if (ny != y || nm != m + 1 || nd != 1)
			fail("next day across a month end", day);
	}
	else if (ny != y + 1 || nm != 1 || nd != 1)
		fail("next day across a year end", day);

	w = vt_weekday(day);
	if (w < 0 || w > 6 || vt_weekday(day + 1) != (w + 1) % 7 ||
		vt_weekday(day + 7) != w)
		fail("weekday", day);
}

static void
check_periods(vt_day day)
{
	vt_periods	p;
	int			y,
				m,
				d,
				ly,
				lm,
				ld,
				ry,
				rm,
				rd;

	vt_periods_for(day, &p);
	vt_civil_from_day(day, &y, &m, &d);
	vt_civil_from_day(p.last_month_start, &ly, &lm, &ld);
	vt_civil_from_day(p.retention_start, &ry, &rm, &rd);

	if (p.today != day)
		fail("today", day);
	if (p.week_start > day || day - p.week_start > 6 || vt_weekday(p.week_start) != 0)
		fail("week_start is not the Monday of this week", day);
	if (p.month_start > day || p.month_start != day - (d - 1))
		fail("month_start is not the 1st of this month", day);
	if (p.last_month_end + 1 != p.month_start)
		fail("last_month_end is not the day before month_start", day);
	if (ld != 1 || month_index(ly, lm) + 1 != month_index(y, m))
		fail("last_month_start is not the 1st of the previous month", day);
	if (p.last_month_end - p.last_month_start + 1 != days_in_month(ly, lm))
		fail("last month does not have its number of days", day);
	if (p.retention_start >= p.last_month_start || rd != 1 ||
		month_index(ry, rm) + VT_RETENTION_MONTHS != month_index(y, m))
		fail("retention_start is not the 1st of the month 13 months back", day);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vt_day		prev = 0;

	for (size_t off = 0; off + 4 <= size && off < 64; off += 4)
	{
		vt_day		day = day_from_bytes(data + off);
		int			y1,
					m1,
					d1,
					y2,
					m2,
					d2;

		check_civil(day);
		check_periods(day);

		/* Days and dates are in the same order. */
		if (off > 0)
		{
			vt_civil_from_day(prev, &y1, &m1, &d1);
			vt_civil_from_day(day, &y2, &m2, &d2);
			if ((prev < day) !=
				(y1 < y2 || (y1 == y2 && (m1 < m2 || (m1 == m2 && d1 < d2)))))
				fail("days and civil dates ordered differently", day);
		}
		prev = day;
	}
	return 0;
}
