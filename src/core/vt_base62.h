/*
 * vt_base62.h
 *	  Fixed-width base62 encoding ("0-9A-Za-z") of byte strings and of 32-bit
 *	  integers, and decoding of the latter.
 *
 * Part of the pure core: no PostgreSQL or PAM headers may be included here.
 * Fixed width means that every value of a given size encodes to the same
 * number of characters (most significant digit first, padded with '0'), so
 * tokens have one length and can be recognised by it.
 */
#ifndef VT_BASE62_H
#define VT_BASE62_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Value of a base62 digit, or -1 if c is not one. */
extern int	vt_base62_digit(char c);

/*
 * Encode the big-endian number in in[0..inlen) into exactly outlen base62
 * digits (no terminator written).  Returns false, writing nothing useful, if
 * the number does not fit in outlen digits or inlen exceeds 64 bytes.
 */
extern bool vt_base62_encode_bytes(const uint8_t *in, size_t inlen,
								   char *out, size_t outlen);

/* Encode v into exactly 6 base62 digits (no terminator written). */
extern void vt_base62_encode_u32(uint32_t v, char out[6]);

/*
 * Decode exactly len base62 digits into *v.  Returns false if a character is
 * not a base62 digit or the value does not fit in 32 bits.
 */
extern bool vt_base62_decode_u32(const char *s, size_t len, uint32_t *v);

#endif							/* VT_BASE62_H */
