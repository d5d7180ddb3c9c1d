/*
 * vt_crc32.c
 *	  CRC-32 (IEEE), four bits at a time with a 16-entry table: every valid
 *	  call checks a 47-byte token, and the bitwise loop (eight steps a byte)
 *	  showed up at about 1% of a call in profiles; a 64-byte table does the
 *	  same in two steps a byte, where a 1 KiB byte table would buy little more.
 *
 * Part of the pure core: no PostgreSQL or PAM headers may be included here.
 */
#include "vt_crc32.h"

/* nibble[i]: the CRC of the four bits i (reflected polynomial 0xEDB88320). */
static const uint32_t nibble[16] = {
	0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu,
	0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
	0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
	0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu
};

uint32_t
vt_crc32(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t	crc = 0xFFFFFFFFu;

	for (size_t i = 0; i < len; i++)
	{
		crc ^= p[i];
		crc = (crc >> 4) ^ nibble[crc & 0x0Fu];
		crc = (crc >> 4) ^ nibble[crc & 0x0Fu];
	}
	return crc ^ 0xFFFFFFFFu;
}
