/*
 * vt_window.h
 *	  Fixed rate-limit windows: which window an instant falls in, and when it
 *	  ends.
 *
 * Part of the pure core: no PostgreSQL or PAM headers may be included here.
 *
 * Windows are aligned to multiples of their length since the Unix epoch
 * (1970-01-01 00:00:00 UTC): a one-minute window runs from :00 to :59.999999,
 * a one-hour window from the full hour, whatever the time zone.  Instants
 * are microseconds since the Unix epoch; they may be negative.
 */
#ifndef VT_WINDOW_H
#define VT_WINDOW_H

#include <stdint.h>

#define VT_WINDOW_MIN_US	INT64_C(1000000)			/* 1 second */
#define VT_WINDOW_MAX_US	(INT64_C(86400) * 1000000)	/* 1 day */

/* The number of the window of length len_us (> 0) that holds instant t. */
extern int64_t vt_window_index(int64_t t, int64_t len_us);

/* The first instant of window number index. */
extern int64_t vt_window_start(int64_t index, int64_t len_us);

/* The first instant after window number index (when the next one starts). */
extern int64_t vt_window_end(int64_t index, int64_t len_us);

#endif							/* VT_WINDOW_H */
