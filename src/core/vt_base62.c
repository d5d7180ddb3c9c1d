/*
 * vt_base62.c
 *	  Fixed-width base62 encoding of byte strings and 32-bit integers.
 *
 * Part of the pure core: no PostgreSQL or PAM headers may be included here.
 */
#include "vt_base62.h"

#include <string.h>

static const char vt_base62_alphabet[] =
"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

int
vt_base62_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 36;
	return -1;
}

/*
 * Schoolbook long division of the big-endian number by 62, one output digit
 * per pass, least significant digit first into the end of out.
 */
bool
vt_base62_encode_bytes(const uint8_t *in, size_t inlen, char *out, size_t outlen)
{
	uint8_t		num[64];
	size_t		pos;

	if (inlen > sizeof(num))
		return false;
	memcpy(num, in, inlen);

	for (pos = outlen; pos > 0; pos--)
	{
		unsigned int rem = 0;

		for (size_t i = 0; i < inlen; i++)
		{
			unsigned int cur = (rem << 8) | num[i];

			num[i] = (uint8_t) (cur / 62);
			rem = cur % 62;
		}
		out[pos - 1] = vt_base62_alphabet[rem];
	}

	/* Whatever is left over did not fit into outlen digits. */
	for (size_t i = 0; i < inlen; i++)
		if (num[i] != 0)
			return false;
	return true;
}

void
vt_base62_encode_u32(uint32_t v, char out[6])
{
	for (int pos = 5; pos >= 0; pos--)
	{
		out[pos] = vt_base62_alphabet[v % 62];
		v /= 62;
	}
}

bool
vt_base62_decode_u32(const char *s, size_t len, uint32_t *v)
{
	uint64_t	acc = 0;

	for (size_t i = 0; i < len; i++)
	{
		int			d = vt_base62_digit(s[i]);

		if (d < 0)
			return false;
		acc = acc * 62 + (uint64_t) d;
		if (acc > UINT32_MAX)
			return false;
	}
	*v = (uint32_t) acc;
	return true;
}
