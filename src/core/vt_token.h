/*
 * vt_token.h
 *	  The vatoken token format: generation from random bytes and syntactic
 *	  checking (prefix, alphabet, length, checksum).
 *
 * Part of the pure core: no PostgreSQL or PAM headers may be included here.
 *
 * A token is
 *
 *	  "vat_" <43 base62 characters: 32 random bytes> <6 base62 characters: CRC32>
 *
 * 53 characters in all, only [A-Za-z0-9_].  The CRC32 (IEEE) is taken over
 * the 43 secret characters; it lets a secret scanner recognise a token and lets
 * vatoken_validate reject typos without reading any table.  The checksum is
 * not a security measure: the 256-bit secret is.
 */
#ifndef VT_TOKEN_H
#define VT_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VT_TOKEN_PREFIX			"vat_"
#define VT_TOKEN_PREFIX_LEN		4
#define VT_SECRET_BYTES			32	/* 256 bits of randomness */
#define VT_SECRET_CHARS			43	/* ceil(256 / log2(62)) */
#define VT_CHECKSUM_CHARS		6	/* 62^6 > 2^32 */
#define VT_TOKEN_LEN			(VT_TOKEN_PREFIX_LEN + VT_SECRET_CHARS + VT_CHECKSUM_CHARS)

typedef enum vt_token_status
{
	VT_TOKEN_OK = 0,
	VT_TOKEN_BAD_LENGTH,		/* not exactly VT_TOKEN_LEN bytes */
	VT_TOKEN_BAD_PREFIX,		/* does not start with "vat_" */
	VT_TOKEN_BAD_CHARACTER,		/* a byte outside [A-Za-z0-9] after the prefix */
	VT_TOKEN_BAD_CHECKSUM		/* well formed, but the checksum does not match */
} vt_token_status;

/*
 * Format a token from VT_SECRET_BYTES random bytes into out, which must have
 * room for VT_TOKEN_LEN + 1 bytes; the result is NUL-terminated.
 */
extern void vt_token_format(const uint8_t secret[VT_SECRET_BYTES],
							char out[VT_TOKEN_LEN + 1]);

/*
 * Check the syntax and checksum of a candidate token of len bytes (which need
 * not be NUL-terminated and may contain NUL bytes).  Never reads past len.
 */
extern vt_token_status vt_token_check(const char *s, size_t len);

/* A short, static, lowercase description of a status, for logs and tests. */
extern const char *vt_token_status_name(vt_token_status status);

#endif							/* VT_TOKEN_H */
