/*
 * check_core.c
 *	  Check unit tests of the pure core: one suite per file of src/core.
 *
 * Every expected constant here was computed outside the core (zlib's crc32
 * and Python's integers and datetime module), or is derived inside the test
 * by a method that does not share code with the function under test (an
 * alphabet string, a calendar walked one day at a time).  A test that only
 * compared the core with itself could not fail.
 *
 * Run with "make check-unit"; "make check-sanitize" runs the same binary
 * built with AddressSanitizer and UndefinedBehaviorSanitizer.
 */
#include <check.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vt_base62.h"
#include "vt_crc32.h"
#include "vt_ipnet.h"
#include "vt_period.h"
#include "vt_scope.h"
#include "vt_token.h"
#include "vt_window.h"

/* The alphabet as the header describes it, written out independently. */
static const char alphabet[] =
"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* Tokens computed offline (Python: base62 of the 32 bytes, zlib.crc32). */
#define TOKEN_ZERO \
	"vat_00000000000000000000000000000000000000000002CZclj"
#define TOKEN_FF \
	"vat_yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp13sRzl1"
#define TOKEN_COUNTING \
	"vat_003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcwGkBIDlf1Yo7hP"

static void
fill_counting(uint8_t secret[VT_SECRET_BYTES])
{
	for (int i = 0; i < VT_SECRET_BYTES; i++)
		secret[i] = (uint8_t) i;
}

/*
 * Six base62 digits of a 64-bit value, so that the tests can write checksum
 * fields that vt_base62_encode_u32 cannot produce (values of 2^32 and above).
 */
static void
encode6_u64(uint64_t v, char out[6])
{
	for (int pos = 5; pos >= 0; pos--)
	{
		out[pos] = alphabet[v % 62];
		v /= 62;
	}
}

/* ---------------------------------------------------------------- crc32 */

START_TEST(test_crc32_known_vectors)
{
	static const uint8_t zeros[32];
	uint8_t		all_bytes[256];

	for (int i = 0; i < 256; i++)
		all_bytes[i] = (uint8_t) i;

	/* The check value of CRC-32/ISO-HDLC, the one zlib computes. */
	ck_assert_uint_eq(vt_crc32("123456789", 9), 0xCBF43926u);
	ck_assert_uint_eq(vt_crc32("", 0), 0u);
	ck_assert_uint_eq(vt_crc32("a", 1), 0xE8B7BE43u);
	ck_assert_uint_eq(vt_crc32("The quick brown fox jumps over the lazy dog", 43),
					  0x414FA339u);
	ck_assert_uint_eq(vt_crc32(zeros, sizeof(zeros)), 0x190A55ADu);
	ck_assert_uint_eq(vt_crc32(all_bytes, sizeof(all_bytes)), 0x29058C73u);
}
END_TEST

START_TEST(test_crc32_reads_only_len_bytes)
{
	/* The byte after len must not change the result. */
	ck_assert_uint_eq(vt_crc32("123456789X", 9), 0xCBF43926u);
	ck_assert_uint_eq(vt_crc32("123456789\0", 9), 0xCBF43926u);
}
END_TEST

static Suite *
crc32_suite(void)
{
	Suite	   *s = suite_create("vt_crc32");
	TCase	   *tc = tcase_create("crc32");

	tcase_add_test(tc, test_crc32_known_vectors);
	tcase_add_test(tc, test_crc32_reads_only_len_bytes);
	suite_add_tcase(s, tc);
	return s;
}

/* --------------------------------------------------------------- base62 */

START_TEST(test_base62_digit_values)
{
	for (int c = CHAR_MIN; c <= CHAR_MAX; c++)
	{
		const char *hit = c != 0 ? strchr(alphabet, c) : NULL;
		int			expected = hit ? (int) (hit - alphabet) : -1;

		ck_assert_msg(vt_base62_digit((char) c) == expected,
					  "vt_base62_digit(%d) = %d, expected %d",
					  c, vt_base62_digit((char) c), expected);
	}
	ck_assert_int_eq(vt_base62_digit('0'), 0);
	ck_assert_int_eq(vt_base62_digit('9'), 9);
	ck_assert_int_eq(vt_base62_digit('A'), 10);
	ck_assert_int_eq(vt_base62_digit('Z'), 35);
	ck_assert_int_eq(vt_base62_digit('a'), 36);
	ck_assert_int_eq(vt_base62_digit('z'), 61);
	/* The neighbours of each range. */
	ck_assert_int_eq(vt_base62_digit('/'), -1);
	ck_assert_int_eq(vt_base62_digit(':'), -1);
	ck_assert_int_eq(vt_base62_digit('@'), -1);
	ck_assert_int_eq(vt_base62_digit('['), -1);
	ck_assert_int_eq(vt_base62_digit('`'), -1);
	ck_assert_int_eq(vt_base62_digit('{'), -1);
	ck_assert_int_eq(vt_base62_digit('_'), -1);
	ck_assert_int_eq(vt_base62_digit((char) 0xE9), -1);
}
END_TEST

START_TEST(test_base62_u32_known_values)
{
	char		out[7] = {0};

	vt_base62_encode_u32(0, out);
	ck_assert_str_eq(out, "000000");
	vt_base62_encode_u32(61, out);
	ck_assert_str_eq(out, "00000z");
	vt_base62_encode_u32(62, out);
	ck_assert_str_eq(out, "000010");
	vt_base62_encode_u32(123456789, out);
	ck_assert_str_eq(out, "08M0kX");
	vt_base62_encode_u32(UINT32_MAX, out);
	ck_assert_str_eq(out, "4gfFC3");
}
END_TEST

START_TEST(test_base62_u32_round_trip)
{
	static const uint32_t edges[] = {
		0, 1, 61, 62, 63, 3843, 3844, 238327, 238328,
		14776335, 14776336, 916132831, 916132832,
		INT32_MAX, (uint32_t) INT32_MAX + 1, UINT32_MAX - 1, UINT32_MAX
	};
	char		out[6];
	uint32_t	back;

	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
	{
		back = ~edges[i];
		vt_base62_encode_u32(edges[i], out);
		ck_assert(vt_base62_decode_u32(out, 6, &back));
		ck_assert_uint_eq(back, edges[i]);
	}

	/* A sweep with an odd stride touches every digit position. */
	for (uint64_t v = 0; v <= UINT32_MAX; v += 65521)
	{
		vt_base62_encode_u32((uint32_t) v, out);
		for (int k = 0; k < 6; k++)
			ck_assert(vt_base62_digit(out[k]) >= 0);
		ck_assert(vt_base62_decode_u32(out, 6, &back));
		ck_assert_uint_eq(back, (uint32_t) v);
	}
}
END_TEST

START_TEST(test_base62_decode_rejects)
{
	uint32_t	v = 12345;

	/* Non-digits anywhere. */
	ck_assert(!vt_base62_decode_u32("00000_", 6, &v));
	ck_assert(!vt_base62_decode_u32("-00000", 6, &v));
	ck_assert(!vt_base62_decode_u32("00 000", 6, &v));
	ck_assert(!vt_base62_decode_u32("00\0" "000", 6, &v));
	ck_assert(!vt_base62_decode_u32("00\xc3\xa9" "00", 6, &v));

	/* 62^6 - 1 and 2^32 do not fit; 2^32 - 1 does. */
	ck_assert(!vt_base62_decode_u32("zzzzzz", 6, &v));
	ck_assert(!vt_base62_decode_u32("4gfFC4", 6, &v));
	ck_assert(!vt_base62_decode_u32("100000000", 9, &v));
	ck_assert(vt_base62_decode_u32("4gfFC3", 6, &v));
	ck_assert_uint_eq(v, UINT32_MAX);

	/* Leading zeros cost nothing; only len characters are read. */
	ck_assert(vt_base62_decode_u32("00000000000010", 14, &v));
	ck_assert_uint_eq(v, 62);
	ck_assert(vt_base62_decode_u32("10zzzz", 2, &v));
	ck_assert_uint_eq(v, 62);
	ck_assert(vt_base62_decode_u32("", 0, &v));
	ck_assert_uint_eq(v, 0);
}
END_TEST

START_TEST(test_base62_bytes)
{
	uint8_t		in[VT_SECRET_BYTES];
	uint8_t		big[65] = {0};
	char		out[64];

	/* All zeros: 43 '0'. */
	memset(in, 0, sizeof(in));
	memset(out, '#', sizeof(out));
	ck_assert(vt_base62_encode_bytes(in, sizeof(in), out, 43));
	for (int i = 0; i < 43; i++)
		ck_assert_int_eq(out[i], '0');
	ck_assert_int_eq(out[43], '#');		/* nothing written past outlen */

	/* 2^256 - 1 fits in 43 digits (62^43 > 2^256) but not in 42. */
	memset(in, 0xFF, sizeof(in));
	ck_assert(vt_base62_encode_bytes(in, sizeof(in), out, 43));
	ck_assert_int_eq(memcmp(out, "yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp1", 43), 0);
	ck_assert(!vt_base62_encode_bytes(in, sizeof(in), out, 42));

	/* Bytes 0x00 0x01 ... 0x1f, big-endian, as Python computes it. */
	fill_counting(in);
	ck_assert(vt_base62_encode_bytes(in, sizeof(in), out, 43));
	ck_assert_int_eq(memcmp(out, "003aUlTJC7tjlCTQj2uNU3MFagCXG9LRKRcwGkBIDlf", 43), 0);

	/* Small numbers, and the fixed width padding them. */
	in[0] = 255;
	ck_assert(vt_base62_encode_bytes(in, 1, out, 2));
	ck_assert_int_eq(memcmp(out, "47", 2), 0);	/* 4 * 62 + 7 */
	ck_assert(vt_base62_encode_bytes(in, 1, out, 5));
	ck_assert_int_eq(memcmp(out, "00047", 5), 0);
	ck_assert(!vt_base62_encode_bytes(in, 1, out, 1));
	ck_assert(vt_base62_encode_bytes(in, 0, out, 3));
	ck_assert_int_eq(memcmp(out, "000", 3), 0);

	/* Leading zero bytes do not change the digits. */
	in[0] = 0;
	in[1] = 255;
	ck_assert(vt_base62_encode_bytes(in, 2, out, 2));
	ck_assert_int_eq(memcmp(out, "47", 2), 0);

	/* At most 64 input bytes. */
	ck_assert(vt_base62_encode_bytes(big, 64, out, 10));
	ck_assert(!vt_base62_encode_bytes(big, 65, out, 10));
}
END_TEST

static Suite *
base62_suite(void)
{
	Suite	   *s = suite_create("vt_base62");
	TCase	   *tc = tcase_create("base62");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_base62_digit_values);
	tcase_add_test(tc, test_base62_u32_known_values);
	tcase_add_test(tc, test_base62_u32_round_trip);
	tcase_add_test(tc, test_base62_decode_rejects);
	tcase_add_test(tc, test_base62_bytes);
	suite_add_tcase(s, tc);
	return s;
}

/* ---------------------------------------------------------------- token */

static void
assert_token_shape(const char *token)
{
	ck_assert_uint_eq(strlen(token), VT_TOKEN_LEN);
	ck_assert_uint_eq(VT_TOKEN_LEN, 53);
	ck_assert_int_eq(strncmp(token, "vat_", 4), 0);
	ck_assert_uint_eq(strspn(token, "abcdefghijklmnopqrstuvwxyz"
							 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"), 53);
	ck_assert_uint_eq(strspn(token + 4, alphabet), 49);
	ck_assert_int_eq(vt_token_check(token, strlen(token)), VT_TOKEN_OK);
}

START_TEST(test_token_format_known)
{
	uint8_t		secret[VT_SECRET_BYTES];
	char		token[VT_TOKEN_LEN + 1];

	memset(secret, 0, sizeof(secret));
	vt_token_format(secret, token);
	ck_assert_str_eq(token, TOKEN_ZERO);
	assert_token_shape(token);

	memset(secret, 0xFF, sizeof(secret));
	vt_token_format(secret, token);
	ck_assert_str_eq(token, TOKEN_FF);
	assert_token_shape(token);

	fill_counting(secret);
	vt_token_format(secret, token);
	ck_assert_str_eq(token, TOKEN_COUNTING);
	assert_token_shape(token);
}
END_TEST

/*
 * CRC-32 detects every error confined to 32 consecutive bits, so changing
 * any one secret character must break the checksum; and a changed checksum
 * digit names another value (or one above 2^32).
 */
START_TEST(test_token_every_substitution_detected)
{
	static const char *const tokens[] = {TOKEN_ZERO, TOKEN_FF, TOKEN_COUNTING};

	for (size_t t = 0; t < sizeof(tokens) / sizeof(tokens[0]); t++)
	{
		char		buf[VT_TOKEN_LEN + 1];

		memcpy(buf, tokens[t], sizeof(buf));
		for (size_t pos = VT_TOKEN_PREFIX_LEN; pos < VT_TOKEN_LEN; pos++)
		{
			char		orig = buf[pos];

			for (const char *c = alphabet; *c; c++)
			{
				if (*c == orig)
					continue;
				buf[pos] = *c;
				ck_assert_msg(vt_token_check(buf, VT_TOKEN_LEN) == VT_TOKEN_BAD_CHECKSUM,
							  "token %zu: '%c' -> '%c' at %zu not detected (%s)",
							  t, orig, *c, pos,
							  vt_token_status_name(vt_token_check(buf, VT_TOKEN_LEN)));
			}
			buf[pos] = orig;
		}
		ck_assert_int_eq(vt_token_check(buf, VT_TOKEN_LEN), VT_TOKEN_OK);
	}
}
END_TEST

START_TEST(test_token_bad_length)
{
	const char *tok = TOKEN_COUNTING;
	char		longer[VT_TOKEN_LEN + 2];

	ck_assert_int_eq(vt_token_check(tok, 52), VT_TOKEN_BAD_LENGTH);
	ck_assert_int_eq(vt_token_check(tok, 0), VT_TOKEN_BAD_LENGTH);
	ck_assert_int_eq(vt_token_check("", 0), VT_TOKEN_BAD_LENGTH);
	ck_assert_int_eq(vt_token_check(NULL, 0), VT_TOKEN_BAD_LENGTH);
	ck_assert_int_eq(vt_token_check(NULL, VT_TOKEN_LEN), VT_TOKEN_BAD_LENGTH);

	memcpy(longer, tok, VT_TOKEN_LEN);
	longer[VT_TOKEN_LEN] = '0';
	longer[VT_TOKEN_LEN + 1] = '\0';
	ck_assert_int_eq(vt_token_check(longer, 54), VT_TOKEN_BAD_LENGTH);
	/* The same bytes cut at 53 are the valid token. */
	ck_assert_int_eq(vt_token_check(longer, 53), VT_TOKEN_OK);
}
END_TEST

START_TEST(test_token_bad_prefix)
{
	char		buf[VT_TOKEN_LEN + 1];

	memcpy(buf, TOKEN_COUNTING, sizeof(buf));
	memcpy(buf, "VAT_", 4);
	ck_assert_int_eq(vt_token_check(buf, VT_TOKEN_LEN), VT_TOKEN_BAD_PREFIX);
	memcpy(buf, "vat-", 4);
	ck_assert_int_eq(vt_token_check(buf, VT_TOKEN_LEN), VT_TOKEN_BAD_PREFIX);
	memcpy(buf, "tav_", 4);
	ck_assert_int_eq(vt_token_check(buf, VT_TOKEN_LEN), VT_TOKEN_BAD_PREFIX);
	memcpy(buf, "\0at_", 4);
	ck_assert_int_eq(vt_token_check(buf, VT_TOKEN_LEN), VT_TOKEN_BAD_PREFIX);
	/* A valid body shifted by one, so the prefix is "at_0". */
	ck_assert_int_eq(vt_token_check(TOKEN_COUNTING "X" + 1, VT_TOKEN_LEN),
					 VT_TOKEN_BAD_PREFIX);
}
END_TEST

START_TEST(test_token_bad_character)
{
	static const char bad[] = {'\0', '_', '-', ' ', '+', '/', '=', '.',
		'\n', (char) 0x80, (char) 0xC3, (char) 0xFF};
	char		buf[VT_TOKEN_LEN + 1];

	for (size_t pos = VT_TOKEN_PREFIX_LEN; pos < VT_TOKEN_LEN; pos++)
		for (size_t b = 0; b < sizeof(bad); b++)
		{
			memcpy(buf, TOKEN_COUNTING, sizeof(buf));
			buf[pos] = bad[b];
			ck_assert_msg(vt_token_check(buf, VT_TOKEN_LEN) == VT_TOKEN_BAD_CHARACTER,
						  "byte 0x%02x at %zu: %s", (unsigned char) bad[b], pos,
						  vt_token_status_name(vt_token_check(buf, VT_TOKEN_LEN)));
		}

	/* UTF-8 "é" taking the place of two characters keeps the length. */
	memcpy(buf, TOKEN_COUNTING, sizeof(buf));
	memcpy(buf + 20, "\xc3\xa9", 2);
	ck_assert_int_eq(vt_token_check(buf, VT_TOKEN_LEN), VT_TOKEN_BAD_CHARACTER);
}
END_TEST

START_TEST(test_token_checksum_overflow)
{
	char		buf[VT_TOKEN_LEN + 1];
	char	   *sum = buf + VT_TOKEN_PREFIX_LEN + VT_SECRET_CHARS;
	uint32_t	good;

	memcpy(buf, TOKEN_COUNTING, sizeof(buf));
	good = vt_crc32(buf + VT_TOKEN_PREFIX_LEN, VT_SECRET_CHARS);

	memcpy(sum, "zzzzzz", 6);
	ck_assert_int_eq(vt_token_check(buf, VT_TOKEN_LEN), VT_TOKEN_BAD_CHECKSUM);
	memcpy(sum, "4gfFC4", 6);
	ck_assert_int_eq(vt_token_check(buf, VT_TOKEN_LEN), VT_TOKEN_BAD_CHECKSUM);

	/* The right checksum plus 2^32 (or 2 * 2^32) must not wrap around to it. */
	encode6_u64((uint64_t) good + (UINT64_C(1) << 32), sum);
	ck_assert_int_eq(vt_token_check(buf, VT_TOKEN_LEN), VT_TOKEN_BAD_CHECKSUM);
	encode6_u64((uint64_t) good + (UINT64_C(2) << 32), sum);
	ck_assert_int_eq(vt_token_check(buf, VT_TOKEN_LEN), VT_TOKEN_BAD_CHECKSUM);

	encode6_u64(good, sum);
	ck_assert_int_eq(vt_token_check(buf, VT_TOKEN_LEN), VT_TOKEN_OK);
}
END_TEST

START_TEST(test_token_distinct_secrets)
{
	enum {NTOKENS = 1 + 8 * VT_SECRET_BYTES};
	static char tokens[NTOKENS][VT_TOKEN_LEN + 1];
	uint8_t		secret[VT_SECRET_BYTES];

	/* The counting secret, then the same with each one of its 256 bits flipped. */
	fill_counting(secret);
	vt_token_format(secret, tokens[0]);
	for (int bit = 0; bit < 8 * VT_SECRET_BYTES; bit++)
	{
		fill_counting(secret);
		secret[bit / 8] ^= (uint8_t) (1u << (bit % 8));
		vt_token_format(secret, tokens[1 + bit]);
		assert_token_shape(tokens[1 + bit]);
	}

	for (int i = 0; i < NTOKENS; i++)
		for (int j = i + 1; j < NTOKENS; j++)
			ck_assert_msg(memcmp(tokens[i] + VT_TOKEN_PREFIX_LEN,
								 tokens[j] + VT_TOKEN_PREFIX_LEN,
								 VT_SECRET_CHARS) != 0,
						  "tokens %d and %d share a secret part", i, j);
}
END_TEST

START_TEST(test_token_status_names)
{
	ck_assert_str_eq(vt_token_status_name(VT_TOKEN_OK), "ok");
	ck_assert_str_eq(vt_token_status_name(VT_TOKEN_BAD_LENGTH), "bad length");
	ck_assert_str_eq(vt_token_status_name(VT_TOKEN_BAD_PREFIX), "bad prefix");
	ck_assert_str_eq(vt_token_status_name(VT_TOKEN_BAD_CHARACTER), "bad character");
	ck_assert_str_eq(vt_token_status_name(VT_TOKEN_BAD_CHECKSUM), "bad checksum");
	ck_assert_str_eq(vt_token_status_name((vt_token_status) 99), "unknown status");
	ck_assert_int_eq(VT_TOKEN_OK, 0);
}
END_TEST

static Suite *
token_suite(void)
{
	Suite	   *s = suite_create("vt_token");
	TCase	   *tc = tcase_create("token");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_token_format_known);
	tcase_add_test(tc, test_token_every_substitution_detected);
	tcase_add_test(tc, test_token_bad_length);
	tcase_add_test(tc, test_token_bad_prefix);
	tcase_add_test(tc, test_token_bad_character);
	tcase_add_test(tc, test_token_checksum_overflow);
	tcase_add_test(tc, test_token_distinct_secrets);
	tcase_add_test(tc, test_token_status_names);
	suite_add_tcase(s, tc);
	return s;
}

/* --------------------------------------------------------------- period */

/* Assert that day is the civil date y-m-d; a macro, so failures name the line. */
#define ck_assert_civil(day, y, m, d) \
	do { \
		int			cy_, cm_, cd_; \
		vt_civil_from_day((day), &cy_, &cm_, &cd_); \
		ck_assert_msg(cy_ == (y) && cm_ == (m) && cd_ == (d), \
					  "%s = day %ld is %04d-%02d-%02d, expected %04d-%02d-%02d", \
					  #day, (long) (day), cy_, cm_, cd_, (y), (m), (d)); \
	} while (0)

static int
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

START_TEST(test_period_anchors)
{
	ck_assert_int_eq(vt_day_from_civil(1970, 1, 1), 0);
	ck_assert_int_eq(vt_day_from_civil(1969, 12, 31), -1);
	ck_assert_int_eq(vt_day_from_civil(2000, 1, 1), 10957);
	ck_assert_int_eq(vt_day_from_civil(2024, 2, 29), 19782);
	ck_assert_int_eq(vt_day_from_civil(2026, 11, 30), 20787);
	ck_assert_int_eq(vt_day_from_civil(1600, 1, 1), -135140);
	ck_assert_int_eq(vt_day_from_civil(1, 1, 1), -719162);
	ck_assert_int_eq(vt_day_from_civil(9999, 12, 31), 2932896);

	/* 2000 is a leap year (divisible by 400): Feb 29 exists. */
	ck_assert_civil(vt_day_from_civil(2000, 2, 29), 2000, 2, 29);
	ck_assert_int_eq(vt_day_from_civil(2000, 3, 1), vt_day_from_civil(2000, 2, 28) + 2);

	/* 1900 is not (divisible by 100): Mar 1 follows Feb 28. */
	ck_assert_int_eq(vt_day_from_civil(1900, 2, 28), -25509);
	ck_assert_int_eq(vt_day_from_civil(1900, 3, 1), vt_day_from_civil(1900, 2, 28) + 1);
	ck_assert_civil(-25509 + 1, 1900, 3, 1);
	ck_assert_civil(-1, 1969, 12, 31);
	ck_assert_civil(0, 1970, 1, 1);
}
END_TEST

/*
 * Walk a calendar kept by the test itself one day at a time from 1600-01-01
 * (day -135140) to 2500-12-31, and compare both conversions on every day.
 */
START_TEST(test_period_civil_walk)
{
	int			y = 1600,
				m = 1,
				d = 1;
	vt_day		day = -135140;

	for (;;)
	{
		int			cy,
					cm,
					cd;

		vt_civil_from_day(day, &cy, &cm, &cd);
		if (cy != y || cm != m || cd != d)
			ck_abort_msg("day %ld: civil_from_day gives %04d-%02d-%02d, expected %04d-%02d-%02d",
						 (long) day, cy, cm, cd, y, m, d);
		if (vt_day_from_civil(y, m, d) != day)
			ck_abort_msg("%04d-%02d-%02d: day_from_civil gives %ld, expected %ld",
						 y, m, d, (long) vt_day_from_civil(y, m, d), (long) day);

		if (y == 2500 && m == 12 && d == 31)
			break;
		day++;
		if (++d > days_in_month(y, m))
		{
			d = 1;
			if (++m > 12)
			{
				m = 1;
				y++;
			}
		}
	}
	ck_assert_int_eq(day, 193943);
}
END_TEST

START_TEST(test_period_round_trip_extremes)
{
	static const vt_day days[] = {
		INT32_MIN, INT32_MIN + 1, -719468 /* 0000-03-01 */ , -719469,
		-1000000, 1000000, 2932896, INT32_MAX - 1, INT32_MAX
	};

	for (size_t i = 0; i < sizeof(days) / sizeof(days[0]); i++)
	{
		int			y,
					m,
					d;

		vt_civil_from_day(days[i], &y, &m, &d);
		ck_assert(m >= 1 && m <= 12);
		ck_assert(d >= 1 && d <= days_in_month(y, m));
		ck_assert_msg(vt_day_from_civil(y, m, d) == days[i],
					  "day %ld -> %d-%02d-%02d -> %ld", (long) days[i], y, m, d,
					  (long) vt_day_from_civil(y, m, d));
	}
	ck_assert_civil(-719468, 0, 3, 1);
	ck_assert_civil(-719469, 0, 2, 29);		/* year 0 = 1 BC is a leap year */
}
END_TEST

START_TEST(test_period_weekday)
{
	ck_assert_int_eq(vt_weekday(0), 3);		/* 1970-01-01, Thursday */
	ck_assert_int_eq(vt_weekday(-1), 2);	/* 1969-12-31, Wednesday */
	ck_assert_int_eq(vt_weekday(-3), 0);	/* 1969-12-29, Monday */
	ck_assert_int_eq(vt_weekday(-4), 6);	/* 1969-12-28, Sunday */
	ck_assert_int_eq(vt_weekday(10957), 5);	/* 2000-01-01, Saturday */
	ck_assert_int_eq(vt_weekday(20787), 0);	/* 2026-11-30, Monday */
	ck_assert_int_eq(vt_weekday(vt_day_from_civil(2026, 11, 29)), 6);
	ck_assert_int_eq(vt_weekday(vt_day_from_civil(1600, 1, 1)), 5);	/* Saturday */

	for (vt_day day = -200000; day < 200000; day++)
	{
		int			w = vt_weekday(day);

		if (w < 0 || w > 6 || vt_weekday(day + 1) != (w + 1) % 7)
			ck_abort_msg("weekday(%ld) = %d, weekday(%ld) = %d",
						 (long) day, w, (long) day + 1, vt_weekday(day + 1));
	}
	ck_assert(vt_weekday(INT32_MIN) >= 0 && vt_weekday(INT32_MIN) <= 6);
	ck_assert(vt_weekday(INT32_MAX) >= 0 && vt_weekday(INT32_MAX) <= 6);
}
END_TEST

/* vt_periods_for(y-m-d), every field compared with a civil date. */
#define ck_assert_periods(y, m, d, wy, wm, wd, my, mm, lsy, lsm, ley, lem, led, ry, rm) \
	do { \
		vt_periods	p_; \
		vt_periods_for(vt_day_from_civil((y), (m), (d)), &p_); \
		ck_assert_civil(p_.today, (y), (m), (d)); \
		ck_assert_civil(p_.week_start, (wy), (wm), (wd)); \
		ck_assert_civil(p_.month_start, (my), (mm), 1); \
		ck_assert_civil(p_.last_month_start, (lsy), (lsm), 1); \
		ck_assert_civil(p_.last_month_end, (ley), (lem), (led)); \
		ck_assert_civil(p_.retention_start, (ry), (rm), 1); \
	} while (0)

START_TEST(test_periods_monday)
{
	/* 2026-11-30 is a Monday: the week starts today. */
	ck_assert_periods(2026, 11, 30,  2026, 11, 30,  2026, 11,
					  2026, 10,  2026, 10, 31,  2025, 10);
}
END_TEST

START_TEST(test_periods_sunday)
{
	/* 2026-11-29 is a Sunday: the last day of the week of Monday the 23rd. */
	ck_assert_periods(2026, 11, 29,  2026, 11, 23,  2026, 11,
					  2026, 10,  2026, 10, 31,  2025, 10);
}
END_TEST

START_TEST(test_periods_first_of_month)
{
	/* 2026-11-01 (a Sunday): the month starts today, the week in October. */
	ck_assert_periods(2026, 11, 1,  2026, 10, 26,  2026, 11,
					  2026, 10,  2026, 10, 31,  2025, 10);
}
END_TEST

START_TEST(test_periods_week_across_months)
{
	/* Wednesday 2026-12-02: the week began on Monday 2026-11-30. */
	ck_assert_periods(2026, 12, 2,  2026, 11, 30,  2026, 12,
					  2026, 11,  2026, 11, 30,  2025, 11);
	/* Friday 2027-01-01: the week began in 2026. */
	ck_assert_periods(2027, 1, 1,  2026, 12, 28,  2027, 1,
					  2026, 12,  2026, 12, 31,  2025, 12);
}
END_TEST

START_TEST(test_periods_january)
{
	/* Friday 2027-01-15: last month is December 2026. */
	ck_assert_periods(2027, 1, 15,  2027, 1, 11,  2027, 1,
					  2026, 12,  2026, 12, 31,  2025, 12);
}
END_TEST

START_TEST(test_periods_march)
{
	/* Sunday 2024-03-10: February 2024 had 29 days. */
	ck_assert_periods(2024, 3, 10,  2024, 3, 4,  2024, 3,
					  2024, 2,  2024, 2, 29,  2023, 2);
	/* Friday 2023-03-10: February 2023 had 28. */
	ck_assert_periods(2023, 3, 10,  2023, 3, 6,  2023, 3,
					  2023, 2,  2023, 2, 28,  2022, 2);
	/* Wednesday 2000-03-01: 2000 is a leap year, and the week began in February. */
	ck_assert_periods(2000, 3, 1,  2000, 2, 28,  2000, 3,
					  2000, 2,  2000, 2, 29,  1999, 2);
	/* Thursday 1900-03-01: 1900 is not. */
	ck_assert_periods(1900, 3, 1,  1900, 2, 26,  1900, 3,
					  1900, 2,  1900, 2, 28,  1899, 2);
}
END_TEST

START_TEST(test_periods_retention)
{
	/* Saturday 2026-02-28: 13 months back crosses into the previous year ... */
	ck_assert_periods(2026, 2, 28,  2026, 2, 23,  2026, 2,
					  2026, 1,  2026, 1, 31,  2025, 1);
	/* ... and from December reaches November of the previous year. */
	ck_assert_periods(2026, 12, 31,  2026, 12, 28,  2026, 12,
					  2026, 11,  2026, 11, 30,  2025, 11);
	/* The epoch, a Thursday. */
	ck_assert_periods(1970, 1, 1,  1969, 12, 29,  1970, 1,
					  1969, 12,  1969, 12, 31,  1968, 12);
}
END_TEST

/* The relations between the fields, on every day of the walk's range. */
START_TEST(test_periods_invariants)
{
	for (vt_day day = -135140; day <= 193943; day++)
	{
		vt_periods	p;
		int			y,
					m,
					d,
					ly,
					lm,
					ld,
					ry,
					rm,
					rd;

		vt_periods_for(day, &p);
		vt_civil_from_day(day, &y, &m, &d);
		vt_civil_from_day(p.last_month_start, &ly, &lm, &ld);
		vt_civil_from_day(p.retention_start, &ry, &rm, &rd);

		if (p.today != day ||
			vt_weekday(p.week_start) != 0 ||
			p.week_start > day || day - p.week_start > 6 ||
			p.month_start != day - (d - 1) ||
			p.last_month_end + 1 != p.month_start ||
			ld != 1 || (ly * 12 + lm) + 1 != y * 12 + m ||
			p.last_month_end - p.last_month_start + 1 != days_in_month(ly, lm) ||
			rd != 1 || (ry * 12 + rm) + VT_RETENTION_MONTHS != y * 12 + m)
			ck_abort_msg("periods of %04d-%02d-%02d (day %ld) are inconsistent",
						 y, m, d, (long) day);
	}
}
END_TEST

static Suite *
period_suite(void)
{
	Suite	   *s = suite_create("vt_period");
	TCase	   *tc_civil = tcase_create("civil");
	TCase	   *tc_periods = tcase_create("periods");

	tcase_set_timeout(tc_civil, 120);
	tcase_add_test(tc_civil, test_period_anchors);
	tcase_add_test(tc_civil, test_period_civil_walk);
	tcase_add_test(tc_civil, test_period_round_trip_extremes);
	tcase_add_test(tc_civil, test_period_weekday);
	suite_add_tcase(s, tc_civil);

	tcase_set_timeout(tc_periods, 120);
	tcase_add_test(tc_periods, test_periods_monday);
	tcase_add_test(tc_periods, test_periods_sunday);
	tcase_add_test(tc_periods, test_periods_first_of_month);
	tcase_add_test(tc_periods, test_periods_week_across_months);
	tcase_add_test(tc_periods, test_periods_january);
	tcase_add_test(tc_periods, test_periods_march);
	tcase_add_test(tc_periods, test_periods_retention);
	tcase_add_test(tc_periods, test_periods_invariants);
	suite_add_tcase(s, tc_periods);
	return s;
}

/* ---------------------------------------------------------------- scope */

#define GRANTED(s)	vt_scope_check_granted((s), strlen(s))
#define REQUIRED(s) vt_scope_check_required((s), strlen(s))
#define GRANTS(g, r) vt_scope_grants((g), strlen(g), (r), strlen(r))

START_TEST(test_scope_grammar)
{
	char		longest[VT_SCOPE_MAX_LEN + 2];

	ck_assert_int_eq(GRANTED("read"), VT_SCOPE_OK);
	ck_assert_int_eq(GRANTED("ops:read"), VT_SCOPE_OK);
	ck_assert_int_eq(GRANTED("a-b_c.d:E9"), VT_SCOPE_OK);
	ck_assert_int_eq(GRANTED("*"), VT_SCOPE_OK);
	ck_assert_int_eq(GRANTED("ops:*"), VT_SCOPE_OK);
	ck_assert_int_eq(GRANTED("a:b:*"), VT_SCOPE_OK);
	ck_assert_int_eq(GRANTED(""), VT_SCOPE_BAD_LENGTH);
	ck_assert_int_eq(GRANTED("ops*"), VT_SCOPE_BAD_WILDCARD);
	ck_assert_int_eq(GRANTED(":*"), VT_SCOPE_BAD_WILDCARD);
	ck_assert_int_eq(GRANTED("**"), VT_SCOPE_BAD_WILDCARD);
	ck_assert_int_eq(GRANTED("ops:*:read"), VT_SCOPE_BAD_WILDCARD);
	ck_assert_int_eq(GRANTED("*:read"), VT_SCOPE_BAD_WILDCARD);
	ck_assert_int_eq(GRANTED("ops read"), VT_SCOPE_BAD_CHARACTER);
	ck_assert_int_eq(GRANTED("ops/read"), VT_SCOPE_BAD_CHARACTER);
	ck_assert_int_eq(GRANTED("caf\xc3\xa9"), VT_SCOPE_BAD_CHARACTER);
	ck_assert_int_eq(vt_scope_check_granted("a\0b", 3), VT_SCOPE_BAD_CHARACTER);
	ck_assert_int_eq(REQUIRED("ops:read"), VT_SCOPE_OK);
	ck_assert_int_eq(REQUIRED("*"), VT_SCOPE_BAD_WILDCARD);
	ck_assert_int_eq(REQUIRED("ops:*"), VT_SCOPE_BAD_WILDCARD);
	ck_assert_int_eq(REQUIRED(""), VT_SCOPE_BAD_LENGTH);

	memset(longest, 'x', sizeof(longest));
	ck_assert_int_eq(vt_scope_check_granted(longest, VT_SCOPE_MAX_LEN), VT_SCOPE_OK);
	ck_assert_int_eq(vt_scope_check_granted(longest, VT_SCOPE_MAX_LEN + 1), VT_SCOPE_BAD_LENGTH);
	ck_assert_int_eq(VT_SCOPE_MAX_LEN, 100);
}
END_TEST

START_TEST(test_scope_grants)
{
	ck_assert(GRANTS("*", "anything"));
	ck_assert(GRANTS("*", "ops:read"));
	ck_assert(GRANTS("read", "read"));
	ck_assert(!GRANTS("read", "Read"));
	ck_assert(!GRANTS("read", "reads"));
	ck_assert(!GRANTS("reads", "read"));
	ck_assert(GRANTS("ops:*", "ops:read"));
	ck_assert(GRANTS("ops:*", "ops:read:all"));
	ck_assert(!GRANTS("ops:*", "ops"));
	ck_assert(!GRANTS("ops:*", "ops:"));
	ck_assert(!GRANTS("ops:*", "opsx:read"));
	ck_assert(!GRANTS("ops:*", "flights:read"));
	ck_assert(GRANTS("a:b:*", "a:b:c"));
	ck_assert(!GRANTS("a:b:*", "a:c"));
	ck_assert(!GRANTS("ops:read", "ops:*"));
}
END_TEST

static Suite *
scope_suite(void)
{
	Suite	   *s = suite_create("vt_scope");
	TCase	   *tc = tcase_create("scope");

	tcase_add_test(tc, test_scope_grammar);
	tcase_add_test(tc, test_scope_grants);
	suite_add_tcase(s, tc);
	return s;
}

/* ---------------------------------------------------------------- ipnet */

static vt_ipnet
v4(int a, int b, int c, int d, int bits)
{
	vt_ipnet	n = {VT_IPV4, (uint8_t) bits, {0}};

	n.addr[0] = (uint8_t) a;
	n.addr[1] = (uint8_t) b;
	n.addr[2] = (uint8_t) c;
	n.addr[3] = (uint8_t) d;
	return n;
}

/* An IPv6 address from its 8 groups. */
static vt_ipnet
v6(const uint16_t g[8], int bits)
{
	vt_ipnet	n = {VT_IPV6, (uint8_t) bits, {0}};

	for (int i = 0; i < 8; i++)
	{
		n.addr[2 * i] = (uint8_t) (g[i] >> 8);
		n.addr[2 * i + 1] = (uint8_t) (g[i] & 0xff);
	}
	return n;
}

START_TEST(test_ipnet_v4)
{
	vt_ipnet	net = v4(10, 1, 0, 0, 16);
	vt_ipnet	odd = v4(192, 168, 1, 128, 25);
	vt_ipnet	any = v4(0, 0, 0, 0, 0);
	vt_ipnet	host = v4(203, 0, 113, 7, 32);

	ck_assert(vt_ipnet_contains(&net, &(vt_ipnet) {0}) == false);
	{
		vt_ipnet	in = v4(10, 1, 255, 255, 32);
		vt_ipnet	out = v4(10, 2, 0, 0, 32);

		ck_assert(vt_ipnet_contains(&net, &in));
		ck_assert(!vt_ipnet_contains(&net, &out));
	}
	{
		vt_ipnet	in = v4(192, 168, 1, 200, 32);
		vt_ipnet	out = v4(192, 168, 1, 127, 32);

		ck_assert(vt_ipnet_contains(&odd, &in));
		ck_assert(!vt_ipnet_contains(&odd, &out));
	}
	{
		vt_ipnet	c = v4(1, 2, 3, 4, 32);
		vt_ipnet	same = v4(203, 0, 113, 7, 32);
		vt_ipnet	next = v4(203, 0, 113, 8, 32);

		ck_assert(vt_ipnet_contains(&any, &c));
		ck_assert(vt_ipnet_contains(&host, &same));
		ck_assert(!vt_ipnet_contains(&host, &next));
	}
}
END_TEST

START_TEST(test_ipnet_v6_and_mapped)
{
	const uint16_t doc[8] = {0x2001, 0x0db8, 0, 0, 0, 0, 0, 0};
	const uint16_t in_g[8] = {0x2001, 0x0db8, 0xffff, 0, 0, 0, 0, 1};
	const uint16_t out_g[8] = {0x2001, 0x0db9, 0, 0, 0, 0, 0, 1};
	const uint16_t mapped_g[8] = {0, 0, 0, 0, 0, 0xffff, 0x0a01, 0x0203};	/* ::ffff:10.1.2.3 */
	const uint16_t zero_g[8] = {0};
	vt_ipnet	net = v6(doc, 32);
	vt_ipnet	in = v6(in_g, 128);
	vt_ipnet	out = v6(out_g, 128);
	vt_ipnet	mapped = v6(mapped_g, 128);
	vt_ipnet	net4 = v4(10, 1, 0, 0, 16);
	vt_ipnet	any6 = v6(zero_g, 0);
	vt_ipnet	client4 = v4(10, 1, 2, 3, 32);

	ck_assert(vt_ipnet_contains(&net, &in));
	ck_assert(!vt_ipnet_contains(&net, &out));
	/* An IPv4-mapped client is matched as IPv4 ... */
	ck_assert(vt_ipnet_contains(&net4, &mapped));
	/* ... otherwise families never mix, not even with /0. */
	ck_assert(!vt_ipnet_contains(&any6, &client4));
	ck_assert(!vt_ipnet_contains(&net4, &in));
	ck_assert(vt_ipnet_contains(&any6, &in));
}
END_TEST

static Suite *
ipnet_suite(void)
{
	Suite	   *s = suite_create("vt_ipnet");
	TCase	   *tc = tcase_create("ipnet");

	tcase_add_test(tc, test_ipnet_v4);
	tcase_add_test(tc, test_ipnet_v6_and_mapped);
	suite_add_tcase(s, tc);
	return s;
}

/* ---------------------------------------------------------------- window */

#define MINUTE_US	INT64_C(60000000)

START_TEST(test_window_alignment)
{
	/* 2026-06-17 12:00:00 UTC is 1781697600 s after the epoch (Python). */
	int64_t		noon = INT64_C(1781697600) * 1000000;
	int64_t		i = vt_window_index(noon, MINUTE_US);

	ck_assert_int_eq(vt_window_start(i, MINUTE_US), noon);
	ck_assert_int_eq(vt_window_end(i, MINUTE_US), noon + MINUTE_US);
	/* The last microsecond of the minute is still in it; the next is not. */
	ck_assert_int_eq(vt_window_index(noon + MINUTE_US - 1, MINUTE_US), i);
	ck_assert_int_eq(vt_window_index(noon + MINUTE_US, MINUTE_US), i + 1);
	ck_assert_int_eq(vt_window_index(noon - 1, MINUTE_US), i - 1);
	/* A 7-second window is aligned to multiples of 7 s since the epoch. */
	ck_assert_int_eq(vt_window_start(vt_window_index(noon, 7000000), 7000000) % 7000000, 0);
	ck_assert_int_eq(vt_window_index(noon, 7000000), INT64_C(1781697600) / 7);
	/* A day's window starts at 00:00 UTC. */
	ck_assert_int_eq(vt_window_start(vt_window_index(noon, VT_WINDOW_MAX_US), VT_WINDOW_MAX_US),
					 noon - INT64_C(12) * 3600 * 1000000);
}
END_TEST

START_TEST(test_window_before_epoch)
{
	ck_assert_int_eq(vt_window_index(0, MINUTE_US), 0);
	ck_assert_int_eq(vt_window_index(-1, MINUTE_US), -1);
	ck_assert_int_eq(vt_window_index(-MINUTE_US, MINUTE_US), -1);
	ck_assert_int_eq(vt_window_index(-MINUTE_US - 1, MINUTE_US), -2);
	ck_assert_int_eq(vt_window_start(-1, MINUTE_US), -MINUTE_US);
	ck_assert_int_eq(vt_window_end(-1, MINUTE_US), 0);
}
END_TEST

static Suite *
window_suite(void)
{
	Suite	   *s = suite_create("vt_window");
	TCase	   *tc = tcase_create("window");

	tcase_add_test(tc, test_window_alignment);
	tcase_add_test(tc, test_window_before_epoch);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner    *sr = srunner_create(crc32_suite());
	int			failed;

	srunner_add_suite(sr, base62_suite());
	srunner_add_suite(sr, token_suite());
	srunner_add_suite(sr, period_suite());
	srunner_add_suite(sr, scope_suite());
	srunner_add_suite(sr, ipnet_suite());
	srunner_add_suite(sr, window_suite());

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
