/*
 * vt_policy.c
 *	  A token's policy (vt_policy.h): argument checks for create and update,
 *	  and the verdict on a call (expiry, disable, client allow-list, scopes).
 *
 * The grammar and matching of scopes and of client networks are in the pure
 * core (vt_scope.c, vt_ipnet.c); this file converts PostgreSQL values to
 * them.  The verdict never raises an error: a malformed required scope is
 * simply never granted.
 */
#include "postgres.h"

#include <sys/socket.h>

#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "vt_ipnet.h"
#include "vt_policy.h"
#include "vt_scope.h"
#include "vt_window.h"

int			vt_max_lifetime_min = 0;

/*
 * At most this many scopes and networks per token: a token's policy is
 * judged at every call and kept in every session's cache.
 */
#define VT_MAX_SCOPES		100
#define VT_MAX_CLIENTS		100

/* The elements of a one-dimensional or empty array of text or cidr. */
static void
vt_elements(ArrayType *a, Oid type, Datum **elems, bool **nulls, int *n)
{
	deconstruct_array(a, type, -1, false, TYPALIGN_INT, elems, nulls, n);
}

/*
 * The elements of the array argument argname of a create or update: one
 * dimension, at most max of them (what: what they are, for the message) and
 * no NULL among them.
 */
static Datum *
vt_arg_elements(FunctionCallInfo fcinfo, int argno, Oid type, const char *argname,
				int max, const char *what, const char *hint, int *n)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(argno);
	Datum	   *elems;
	bool	   *nulls;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array", argname)));
	vt_elements(a, type, &elems, &nulls, n);
	if (*n > max)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a token may have at most %d %s", max, what),
				 errhint("%s", hint)));
	for (int i = 0; i < *n; i++)
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain null", argname)));
	return elems;
}

ArrayType *
vt_check_scopes(FunctionCallInfo fcinfo, int argno)
{
	Datum	   *elems;
	int			n;

	if (PG_ARGISNULL(argno))
		return NULL;
	elems = vt_arg_elements(fcinfo, argno, TEXTOID, "scopes", VT_MAX_SCOPES, "scopes",
							"Grant a prefix such as \"ops:*\" instead of many scopes.", &n);
	for (int i = 0; i < n; i++)
	{
		text	   *t = DatumGetTextPP(elems[i]);
		vt_scope_status st;

		st = vt_scope_check_granted(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
		if (st != VT_SCOPE_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("scope %d is not a valid scope", i + 1),
					 errdetail("A scope is 1 to %d characters of letters, digits and _ . : -; "
							   "\"*\" alone grants every scope, and a scope ending in \":*\" "
							   "grants every scope with that prefix.", VT_SCOPE_MAX_LEN)));
	}
	return construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT);
}

void
vt_ipnet_from_inet(const inet *in, vt_ipnet *out)
{
	out->family = ip_family(in) == PGSQL_AF_INET ? VT_IPV4 : VT_IPV6;
	out->bits = ip_bits(in);
	memset(out->addr, 0, sizeof(out->addr));
	memcpy(out->addr, ip_addr(in), ip_addrsize((inet *) in));
}

inet *
vt_inet_from_ipnet(const vt_ipnet *net)
{
	inet	   *out = palloc0(sizeof(inet));

	ip_family(out) = net->family == VT_IPV4 ? PGSQL_AF_INET : PGSQL_AF_INET6;
	ip_bits(out) = net->bits;
	memcpy(ip_addr(out), net->addr, ip_addrsize(out));
	SET_INET_VARSIZE(out);
	return out;
}

ArrayType *
vt_check_clients(FunctionCallInfo fcinfo, int argno)
{
	Datum	   *elems;
	int			n;
	bool		all4 = false;
	bool		all6 = false;

	if (PG_ARGISNULL(argno))
		return NULL;
	elems = vt_arg_elements(fcinfo, argno, CIDROID, "allowed_clients", VT_MAX_CLIENTS,
							"allowed client networks",
							"Allow wider networks instead of many small ones.", &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("allowed_clients must not be empty"),
				 errhint("Pass NULL, or '{0.0.0.0/0,::/0}', to allow any client.")));
	for (int i = 0; i < n; i++)
	{
		inet	   *net = DatumGetInetPP(elems[i]);

		if (ip_bits(net) == 0)
		{
			if (ip_family(net) == PGSQL_AF_INET)
				all4 = true;
			else
				all6 = true;
		}
	}
	if (all4 && all6)
		return NULL;			/* any client */
	return construct_array(elems, n, CIDROID, -1, false, TYPALIGN_INT);
}

TimestampTz
vt_max_expiry(TimestampTz now)
{
	return now + (TimestampTz) vt_max_lifetime_min * 60 * USECS_PER_SEC;
}

TimestampTz
vt_check_expiry(FunctionCallInfo fcinfo, int argno, bool update, bool *none)
{
	TimestampTz now = vt_now();
	TimestampTz limit = 0;
	TimestampTz expires;

	if (vt_max_lifetime_min > 0)
		limit = vt_max_expiry(now);

	*none = false;
	if (PG_ARGISNULL(argno) || TIMESTAMP_IS_NOEND(PG_GETARG_TIMESTAMPTZ(argno)))
	{
		if (vt_max_lifetime_min <= 0)
		{
			*none = true;
			return 0;
		}
		/* With a maximum lifetime, no expiry at create means the longest. */
		if (!PG_ARGISNULL(argno) || update)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a token must expire within vatoken.max_lifetime"),
					 errdetail("vatoken.max_lifetime is set, so every token has an expiry.")));
		return limit;
	}
	expires = PG_GETARG_TIMESTAMPTZ(argno);
	if (expires <= now)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expires_at must be in the future")));
	if (vt_max_lifetime_min > 0 && expires > limit)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("expires_at is later than vatoken.max_lifetime allows"),
				 errdetail("The latest expiry allowed now is %s.", timestamptz_to_str(limit))));
	return expires;
}

static bool
vt_client_allowed(ArrayType *clients, inet *client)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	vt_ipnet	c;

	if (clients == NULL)
		return true;
	if (client == NULL)
		return false;
	vt_ipnet_from_inet(client, &c);
	vt_elements(clients, CIDROID, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		vt_ipnet	net;

		if (nulls[i])
			continue;
		vt_ipnet_from_inet(DatumGetInetPP(elems[i]), &net);
		if (vt_ipnet_contains(&net, &c))
			return true;
	}
	return false;
}

static bool
vt_scopes_granted(ArrayType *granted, ArrayType *required)
{
	Datum	   *gel;
	bool	   *gnull;
	int			ng = 0;
	Datum	   *rel;
	bool	   *rnull;
	int			nr;

	if (required == NULL)
		return true;
	vt_elements(required, TEXTOID, &rel, &rnull, &nr);
	if (nr == 0)
		return true;
	if (granted != NULL)
		vt_elements(granted, TEXTOID, &gel, &gnull, &ng);
	for (int i = 0; i < nr; i++)
	{
		text	   *r;
		bool		ok = false;

		if (rnull[i])
			return false;
		r = DatumGetTextPP(rel[i]);
		if (vt_scope_check_required(VARDATA_ANY(r), VARSIZE_ANY_EXHDR(r)) != VT_SCOPE_OK)
			return false;
		if (granted == NULL)
			continue;			/* every scope */
		for (int j = 0; j < ng && !ok; j++)
		{
			text	   *g;

			if (gnull[j])
				continue;
			g = DatumGetTextPP(gel[j]);
			ok = vt_scope_grants(VARDATA_ANY(g), VARSIZE_ANY_EXHDR(g),
								 VARDATA_ANY(r), VARSIZE_ANY_EXHDR(r));
		}
		if (!ok)
			return false;
	}
	return true;
}

const char *
vt_policy_verdict(const vt_token_row *row, ArrayType *required, inet *client, TimestampTz now)
{
	const char *state;

	/* A previous secret past its grace is no secret of this token. */
	if (row->previous && row->previous_valid_until <= now)
		return "unknown";
	/* Revoked, disabled or expired: the token's state, as the list shows it. */
	state = vt_policy_state(row->revoked, row->disabled, row->has_expiry, row->expires_at, now);
	if (strcmp(state, "active") != 0)
		return state;
	if (!vt_client_allowed(row->clients, client))
		return "forbidden_client";
	if (!vt_scopes_granted(row->scopes, required))
		return "forbidden_scope";
	return "valid";
}

const char *
vt_policy_state(bool revoked, bool disabled, bool has_expiry, TimestampTz expires_at,
				TimestampTz now)
{
	if (revoked)
		return "revoked";
	if (disabled)
		return "disabled";
	if (has_expiry && expires_at <= now)
		return "expired";
	return "active";
}

ArrayType *
vt_policy_scopes(const vt_token_row *row)
{
	Datum		every;

	if (row->scopes != NULL)
		return row->scopes;
	every = CStringGetTextDatum("*");
	return construct_array(&every, 1, TEXTOID, -1, false, TYPALIGN_INT);
}

/*
 * A leak report's source or vatoken.actor as stored: cut at 200 characters,
 * and every control character (C0, DEL and, in UTF-8, C1 U+0080..U+009F, as
 * for owner and name) a space.
 */
text *
vt_clean_source(text *source)
{
	char	   *s;
	int			len;
	int			o = 0;

	if (source == NULL)
		return NULL;
	s = text_to_cstring(source);
	len = pg_mbcharcliplen(s, strlen(s), 200);
	for (int i = 0; i < len; i++)
	{
		int			control = vt_control_char_len(s + i, s + len);

		if (control > 0)
		{
			s[o++] = ' ';
			i += control - 1;
		}
		else
			s[o++] = s[i];
	}
	s[o] = '\0';
	return cstring_to_text(s);
}

void
vt_check_rate(FunctionCallInfo fcinfo, int limit_argno, int window_argno, bool update,
			  bool *set, int32 *limit, int64 *window_us)
{
	*set = false;
	*limit = 0;
	*window_us = 0;
	if (PG_ARGISNULL(limit_argno))
	{
		if (!PG_ARGISNULL(window_argno))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("rate_window needs rate_limit"),
					 errhint("Give both, for example rate_limit => 120, rate_window => '1 minute'.")));
		return;
	}
	*set = true;
	*limit = PG_GETARG_INT32(limit_argno);
	if (update && *limit == 0)
	{
		/* rate_limit => 0 removes the limit. */
		if (!PG_ARGISNULL(window_argno))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("rate_window needs a rate_limit above 0")));
		return;
	}
	if (*limit < 1 || *limit > VT_RATE_LIMIT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rate_limit must be between 1 and %d", VT_RATE_LIMIT_MAX),
				 update ? errhint("rate_limit => 0 removes the limit.") : 0));
	if (PG_ARGISNULL(window_argno))
		*window_us = 60 * USECS_PER_SEC;	/* one minute */
	else
	{
		Interval   *iv = PG_GETARG_INTERVAL_P(window_argno);

		*window_us = vt_interval_us(iv);
		if (iv->month != 0 || *window_us < VT_WINDOW_MIN_US || *window_us > VT_WINDOW_MAX_US)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("rate_window must be between 1 second and 1 day")));
	}
}
