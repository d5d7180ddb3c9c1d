/*
 * fuzz_token.c
 *	  libFuzzer target for the token parser, the base62 codec and the CRC-32
 *	  of the pure core.
 *
 * The input is used three ways at once: as a candidate token, as a base62
 * string, and (its first bytes) as a secret or a number to encode.  Memory
 * errors are the sanitizers' to find; every property below that does not
 * hold calls abort(), which libFuzzer reports as a crash with the input.
 *
 * Build and run with "make fuzz" (mk/fuzz.mk).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vt_base62.h"
#include "vt_crc32.h"
#include "vt_token.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Enough digits for any 64-byte number: 62^86 > 2^512. */
#define WIDE_DIGITS 86

static const char alphabet[] =
"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static void
fail(const char *what)
{
	fprintf(stderr, "property violated: %s\n", what);
	abort();
}

static int
is_base62(char c)
{
	return c != '\0' && strchr(alphabet, c) != NULL;
}

/* A table-driven CRC-32 (zlib's), sharing nothing with the core's bitwise one. */
static uint32_t
reference_crc32(const uint8_t *p, size_t len)
{
	static uint32_t table[256];
	static int	ready;
	uint32_t	crc = 0xFFFFFFFFu;

	if (!ready)
	{
		for (uint32_t n = 0; n < 256; n++)
		{
			uint32_t	c = n;

			for (int k = 0; k < 8; k++)
				c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
			table[n] = c;
		}
		ready = 1;
	}
	for (size_t i = 0; i < len; i++)
		crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
	return crc ^ 0xFFFFFFFFu;
}

static void
check_token_parser(const char *buf, size_t size)
{
	vt_token_status status = vt_token_check(buf, size);
	const char *name = vt_token_status_name(status);

	if (name == NULL || strcmp(name, "unknown status") == 0)
		fail("vt_token_check returned a status outside the enum");
	if (vt_token_check(NULL, size) != VT_TOKEN_BAD_LENGTH)
		fail("NULL is not a bad length");
	if (size != VT_TOKEN_LEN && status != VT_TOKEN_BAD_LENGTH)
		fail("a wrong length is not reported as such");
	if (status == VT_TOKEN_OK)
	{
		if (size != 53)
			fail("accepted token is not 53 bytes");
		if (memcmp(buf, "vat_", 4) != 0)
			fail("accepted token does not start with vat_");
		for (size_t i = 4; i < size; i++)
			if (!is_base62(buf[i]))
				fail("accepted token has a non-base62 byte after the prefix");
	}
}

static void
check_decode(const char *buf, size_t size)
{
	uint32_t	v = 0;
	int			all_digits = 1;
	char		enc[6];

	for (size_t i = 0; i < size; i++)
		if (!is_base62(buf[i]))
			all_digits = 0;

	if (!vt_base62_decode_u32(buf, size, &v))
	{
		if (all_digits && size <= 5)
			fail("five base62 digits or fewer always fit in 32 bits");
		return;
	}
	if (!all_digits)
		fail("decode accepted a non-digit");

	/* Decoded digits re-encode to themselves, with '0' padding on the left. */
	vt_base62_encode_u32(v, enc);
	if (size <= 6)
	{
		for (size_t i = 0; i < 6 - size; i++)
			if (enc[i] != '0')
				fail("short decode does not re-encode to its digits");
		if (memcmp(enc + 6 - size, buf, size) != 0)
			fail("short decode does not re-encode to its digits");
	}
	else
	{
		for (size_t i = 0; i < size - 6; i++)
			if (buf[i] != '0')
				fail("long decode accepted a non-zero leading digit");
		if (memcmp(enc, buf + size - 6, 6) != 0)
			fail("long decode does not re-encode to its digits");
	}
}

static void
check_u32_round_trip(const uint8_t *data, size_t size)
{
	uint32_t	v,
				back = 0;
	char		enc[6];

	if (size < 4)
		return;
	v = (uint32_t) data[0] << 24 | (uint32_t) data[1] << 16 |
		(uint32_t) data[2] << 8 | (uint32_t) data[3];
	vt_base62_encode_u32(v, enc);
	for (int i = 0; i < 6; i++)
		if (!is_base62(enc[i]))
			fail("encode_u32 wrote a non-digit");
	if (!vt_base62_decode_u32(enc, 6, &back) || back != v)
		fail("u32 encode/decode round trip");
}

/*
 * The encoding of up to 64 bytes into enough digits for any of them; it must
 * also fit into exactly as many digits as it has significant ones (giving the
 * same digits), and not into one fewer.
 */
static void
check_encode_bytes(const uint8_t *data, size_t size)
{
	size_t		inlen = size > 64 ? 64 : size;
	char		wide[WIDE_DIGITS];
	char		narrow[WIDE_DIGITS];
	size_t		zeros = 0;
	size_t		need;

	if (!vt_base62_encode_bytes(data, inlen, wide, WIDE_DIGITS))
		fail("64 bytes do not fit in 86 digits");
	for (size_t w = 0; w < WIDE_DIGITS; w++)
		if (!is_base62(wide[w]))
			fail("encode_bytes wrote a non-digit");
	while (zeros < WIDE_DIGITS && wide[zeros] == '0')
		zeros++;
	need = WIDE_DIGITS - zeros;

	if (!vt_base62_encode_bytes(data, inlen, narrow, need) ||
		memcmp(narrow, wide + zeros, need) != 0)
		fail("encoding into its significant digits differs");
	if (need > 0 && vt_base62_encode_bytes(data, inlen, narrow, need - 1))
		fail("encoding fits into fewer digits than it has");
	if (size > 64)
	{
		char		dummy[1];

		if (vt_base62_encode_bytes(data, size, dummy, 0))
			fail("more than 64 input bytes accepted");
	}
}

static void
check_format(const uint8_t *data, size_t size)
{
	char		token[VT_TOKEN_LEN + 1];
	size_t		pos;
	char		orig;
	const char *repl;

	if (size < VT_SECRET_BYTES)
		return;
	vt_token_format(data, token);
	if (strlen(token) != VT_TOKEN_LEN)
		fail("formatted token is not 53 characters");
	if (vt_token_check(token, VT_TOKEN_LEN) != VT_TOKEN_OK)
		fail("formatted token is rejected");
	if (vt_crc32(token + 4, VT_SECRET_CHARS) !=
		reference_crc32((const uint8_t *) token + 4, VT_SECRET_CHARS))
		fail("vt_crc32 differs from the table-driven CRC-32");

	/* One substituted character, chosen by the next two input bytes. */
	if (size < VT_SECRET_BYTES + 2)
		return;
	pos = VT_TOKEN_PREFIX_LEN + data[VT_SECRET_BYTES] % (VT_TOKEN_LEN - VT_TOKEN_PREFIX_LEN);
	orig = token[pos];
	repl = alphabet + data[VT_SECRET_BYTES + 1] % 62;
	if (*repl == orig)
		repl = alphabet + (repl - alphabet + 1) % 62;
	token[pos] = *repl;
	if (vt_token_check(token, VT_TOKEN_LEN) != VT_TOKEN_BAD_CHECKSUM)
		fail("single-character substitution not detected");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exactly sized heap copy, so that any over-read is reported. */
	char	   *buf = malloc(size ? size : 1);

	if (buf == NULL)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);

	check_token_parser(buf, size);
	check_decode(buf, size);
	if (vt_crc32(buf, size) != reference_crc32(data, size))
		fail("vt_crc32 differs from the table-driven CRC-32");
	check_u32_round_trip(data, size);
	check_encode_bytes(data, size);
	check_format(data, size);

	free(buf);
	return 0;
}
