/*
 * vt_crc32.h
 *	  CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320, as zlib), used as
 *	  the token checksum.
 *
 * Part of the pure core: no PostgreSQL or PAM headers may be included here.
 * PostgreSQL's own CRC is CRC-32C, a different polynomial; secret scanners
 * expect the zlib one, so the core carries its own.
 */
#ifndef VT_CRC32_H
#define VT_CRC32_H

#include <stddef.h>
#include <stdint.h>

extern uint32_t vt_crc32(const void *data, size_t len);

#endif							/* VT_CRC32_H */
