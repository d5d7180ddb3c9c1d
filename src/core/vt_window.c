/*
 * vt_window.c
 *	  Fixed rate-limit windows (see vt_window.h).
 */
#include "vt_window.h"

int64_t
vt_window_index(int64_t t, int64_t len_us)
{
	int64_t		q = t / len_us;

	/* Round toward minus infinity: an instant before the epoch too. */
	if (t % len_us != 0 && t < 0)
		q--;
	return q;
}

int64_t
vt_window_start(int64_t index, int64_t len_us)
{
	return index * len_us;
}

int64_t
vt_window_end(int64_t index, int64_t len_us)
{
	return (index + 1) * len_us;
}
