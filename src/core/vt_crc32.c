/*
 * vt_crc32.c
 *	  Bitwise CRC-32 (IEEE).  Tokens are 43 bytes long, so a table buys nothing
 *	  worth its cache footprint.
 *
 * Part of the pure core: no PostgreSQL or PAM headers may be included here.
 */
#include "vt_crc32.h"

uint32_t
vt_crc32(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t	crc = 0xFFFFFFFFu;

	for (size_t i = 0; i < len; i++)
	{
		crc ^= p[i];
		for (int bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return crc ^ 0xFFFFFFFFu;
}
