/*
 * vt_mktoken.c
 *	  Test helper: print a random, well-formed vatoken token (right prefix,
 *	  alphabet, length and checksum) that no database has issued, so that the
 *	  integration tests can tell "unknown" from "malformed".
 */
#include <stdio.h>
#include <stdlib.h>

#include "vt_token.h"

int
main(void)
{
	uint8_t		secret[VT_SECRET_BYTES];
	char		token[VT_TOKEN_LEN + 1];
	FILE	   *f = fopen("/dev/urandom", "rb");

	if (f == NULL || fread(secret, 1, sizeof(secret), f) != sizeof(secret))
	{
		fprintf(stderr, "vt_mktoken: cannot read /dev/urandom\n");
		return EXIT_FAILURE;
	}
	fclose(f);
	vt_token_format(secret, token);
	if (vt_token_check(token, VT_TOKEN_LEN) != VT_TOKEN_OK)
		return EXIT_FAILURE;
	puts(token);
	return EXIT_SUCCESS;
}
