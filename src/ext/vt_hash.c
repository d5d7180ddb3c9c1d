/*
 * vt_hash.c
 *	  SHA-256 of a token, the only form in which a token is ever stored.
 *
 * Uses PostgreSQL's own cryptohash (OpenSSL underneath on Debian), so the
 * extension needs no other extension at run time; the result equals
 * pgcrypto's digest(token, 'sha256'), which the regression suite checks.
 */
#include "postgres.h"

#include "common/cryptohash.h"

#include "vatoken.h"

void
vt_hash_token(const char *token, size_t len, uint8 hash[VT_HASH_LEN])
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (ctx == NULL ||
		pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) token, len) < 0 ||
		pg_cryptohash_final(ctx, hash, VT_HASH_LEN) < 0)
	{
		const char *reason = pg_cryptohash_error(ctx);

		pg_cryptohash_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute SHA-256 hash of token"),
				 errdetail("%s", reason ? reason : "unknown error")));
	}
	pg_cryptohash_free(ctx);
}
