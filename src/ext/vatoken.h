/*
 * vatoken.h
 *	  Declarations shared by the extension's C files: settings, the local
 *	  calendar day, token hashing and argument checks.
 *
 * The extension layer sits on top of the pure core in src/core and never
 * depends on the PAM module.
 */
#ifndef VATOKEN_H
#define VATOKEN_H

#include "postgres.h"

#include "common/sha2.h"
#include "datatype/timestamp.h"
#include "utils/array.h"
#include "utils/date.h"
#include "utils/timestamp.h"

#include "vt_ipnet.h"
#include "vt_period.h"

#define VT_HASH_LEN			PG_SHA256_DIGEST_LENGTH

/* Days between the core's epoch (1970-01-01) and PostgreSQL's (2000-01-01). */
#define VT_DAY_FROM_DATEADT(d)	((vt_day) ((d) + (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)))
#define VT_DATEADT_FROM_DAY(d)	((DateADT) ((d) - (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE)))

/*
 * A token's row as validate and verify need it: who it is and its policy
 * (schema 2.0; for an older schema, the defaults: no expiry, enabled, every
 * scope, any client).
 */
typedef struct vt_token_row
{
	int64		token_id;
	uint64		tag;			/* first 8 bytes of token_hash: its counters' tag */
	bool		previous;		/* found by its previous secret (2.0 rotation), */
	TimestampTz previous_valid_until;	/* valid until then */
	text	   *owner;			/* palloc'd in the caller's memory context */
	text	   *name;
	bool		has_expiry;
	TimestampTz expires_at;
	bool		disabled;
	bool		revoked;		/* reported leaked */
	ArrayType  *scopes;			/* text[]; NULL: every scope */
	ArrayType  *clients;		/* cidr[]; NULL: any client */
	int32		rate_limit;		/* calls per window; 0: no limit */
	int64		rate_window_us; /* the window's length */
} vt_token_row;

/* The policy of a token without one: no expiry, enabled, every scope, any client. */
static inline void
vt_token_row_default_policy(vt_token_row *row)
{
	row->previous = false;
	row->previous_valid_until = 0;
	row->has_expiry = false;
	row->expires_at = 0;
	row->disabled = false;
	row->revoked = false;
	row->scopes = NULL;
	row->clients = NULL;
	row->rate_limit = 0;
	row->rate_window_us = 0;
}

/*
 * The identity of a counted token: the OID of its database's vatoken.tokens,
 * its id, and a tag taken from its hash.  An id can be reused (TRUNCATE ...
 * RESTART IDENTITY, a sequence restarted, the extension re-created); the tag
 * of a new token is a different one, so its counts never mix with the old.
 */
typedef struct vt_token_ident
{
	Oid			relid;
	int64		token_id;
	uint64		tag;
} vt_token_ident;

/*
 * The tag of a token from a bytea that starts with its token_hash (the hash
 * itself, or the substr(token_hash, 1, 8) that statements return).
 */
static inline uint64
vt_tag_of(Datum hash)
{
	bytea	   *b = DatumGetByteaPP(hash);
	uint64		tag = 0;

	memcpy(&tag, VARDATA_ANY(b), Min(VARSIZE_ANY_EXHDR(b), sizeof(tag)));
	return tag;
}

/*
 * Pending (counted but not yet flushed) calls of one token on one day:
 * accepted calls and refused ones (2.0, "rejected"), the time of the latest
 * accepted call (0: none counted yet) and the client address of the latest
 * accepted call that gave one (client_at 0: none).
 */
typedef struct vt_pending
{
	vt_token_ident token;
	vt_day		day;
	uint64		calls;			/* not yet in vatoken.usage */
	uint64		calls_total;	/* the counter's total when collected */
	uint64		rejected;		/* refused calls, not yet in vatoken.usage */
	uint64		rejected_total; /* the counter's total when collected */
	TimestampTz last_used;
	TimestampTz client_at;
	vt_ipnet	client;
	bool		resolved;		/* flush: written, or its token is gone */
} vt_pending;

/* vt_clock.c: the vatoken.timezone setting, "now" and "today" in it */
extern char *vt_timezone_name;
extern void vt_define_timezone_guc(void);
extern vt_day vt_local_day(TimestampTz now);
extern vt_day vt_today(void);
extern TimestampTz vt_now(void);

/* Microseconds from the Unix epoch to PostgreSQL's (TimestampTz 0). */
#define VT_UNIX_EPOCH_SHIFT_US	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

/* The length of an interval without months (a rate window), in microseconds. */
static inline int64
vt_interval_us(const Interval *iv)
{
	return iv->time + (int64) iv->day * USECS_PER_DAY;
}

/* An interval of us microseconds (no months, no days). */
static inline Interval *
vt_interval_of_us(int64 us)
{
	Interval   *iv = palloc0(sizeof(Interval));

	iv->time = us;
	return iv;
}

/* vt_hash.c */
extern void vt_hash_token(const char *token, size_t len, uint8 hash[VT_HASH_LEN]);

/* vt_input.c: argument checks; each raises a specific SQLSTATE */
/*
 * The length of the control character at s (C0, DEL, or in a UTF-8 database
 * C1 U+0080..U+009F), or 0 if there is none; end bounds the string.
 */
extern int	vt_control_char_len(const char *s, const char *end);
#define VT_OWNER_MAX_CHARS	200
#define VT_NAME_MAX_CHARS	100
extern text *vt_check_owner(FunctionCallInfo fcinfo, int argno);
extern text *vt_check_name(FunctionCallInfo fcinfo, int argno);
extern int64 vt_check_token_id(FunctionCallInfo fcinfo, int argno);

/* vt_functions.c: vatoken.usage_retention, in minutes */
extern int	vt_usage_retention_min;

/* Daily usage of days before this one may be pruned (vt_functions.c). */
extern vt_day vt_usage_prune_cutoff(void);

#endif							/* VATOKEN_H */
