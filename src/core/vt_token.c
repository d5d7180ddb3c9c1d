/*
 * vt_token.c
 *	  Token generation from random bytes and syntactic checking.
 *
 * Part of the pure core: no PostgreSQL or PAM headers may be included here.
 * The random bytes come from the caller (pg_strong_random in the extension),
 * which keeps this file deterministic and testable.
 */
#include "vt_token.h"

#include <string.h>

#include "vt_base62.h"
#include "vt_crc32.h"

void
vt_token_format(const uint8_t secret[VT_SECRET_BYTES], char out[VT_TOKEN_LEN + 1])
{
	char	   *secret_chars = out + VT_TOKEN_PREFIX_LEN;
	char	   *checksum_chars = secret_chars + VT_SECRET_CHARS;

	memcpy(out, VT_TOKEN_PREFIX, VT_TOKEN_PREFIX_LEN);
	/* 62^43 > 2^256, so 32 bytes always fit into 43 digits. */
	(void) vt_base62_encode_bytes(secret, VT_SECRET_BYTES,
								  secret_chars, VT_SECRET_CHARS);
	vt_base62_encode_u32(vt_crc32(secret_chars, VT_SECRET_CHARS), checksum_chars);
	out[VT_TOKEN_LEN] = '\0';
}

vt_token_status
vt_token_check(const char *s, size_t len)
{
	uint32_t	checksum;

	if (s == NULL || len != VT_TOKEN_LEN)
		return VT_TOKEN_BAD_LENGTH;
	if (memcmp(s, VT_TOKEN_PREFIX, VT_TOKEN_PREFIX_LEN) != 0)
		return VT_TOKEN_BAD_PREFIX;
	for (size_t i = VT_TOKEN_PREFIX_LEN; i < VT_TOKEN_LEN; i++)
		if (vt_base62_digit(s[i]) < 0)
			return VT_TOKEN_BAD_CHARACTER;
	if (!vt_base62_decode_u32(s + VT_TOKEN_PREFIX_LEN + VT_SECRET_CHARS,
							  VT_CHECKSUM_CHARS, &checksum))
		return VT_TOKEN_BAD_CHECKSUM;	/* digits, but above 2^32 */
	if (checksum != vt_crc32(s + VT_TOKEN_PREFIX_LEN, VT_SECRET_CHARS))
		return VT_TOKEN_BAD_CHECKSUM;
	return VT_TOKEN_OK;
}

const char *
vt_token_status_name(vt_token_status status)
{
	switch (status)
	{
		case VT_TOKEN_OK:
			return "ok";
		case VT_TOKEN_BAD_LENGTH:
			return "bad length";
		case VT_TOKEN_BAD_PREFIX:
			return "bad prefix";
		case VT_TOKEN_BAD_CHARACTER:
			return "bad character";
		case VT_TOKEN_BAD_CHECKSUM:
			return "bad checksum";
	}
	return "unknown status";
}
