/*
 * pam_check.c
 *	  The only file of pam_vatoken that talks to PostgreSQL.
 *
 * Owns: the deadline of a check, the query text, the choice between
 * vatoken_verify and (on a 1.x database, with no scope=) vatoken_validate,
 * and copying the reply out of libpq before the connection is closed.  The connection parameters come
 * from pam_params.c.  One short-lived connection per check: a PAM module
 * lives inside someone else's process (sshd, nginx, a postgres backend) and
 * must not keep sockets or state there between calls.
 *
 * One deadline, timeout= seconds from the start, bounds the whole check: all
 * hosts and addresses, TLS, authentication and the query.  libpq is driven
 * without blocking (PQconnectStartParams/PQconnectPoll, PQsendQueryParams)
 * and the module waits with poll() on PQsocket for what is left of the
 * deadline, read from CLOCK_MONOTONIC.  connect_timeout in the conninfo
 * cannot lengthen it (libpq applies it only to blocking connects), and
 * nginx, which calls PAM in its event loop, is never stalled for longer.
 * tcp_user_timeout (pam_params.c) and statement_timeout are set too, so that
 * the kernel and the server give up as well.
 *
 * statement_timeout is set by the query itself, not by an "options" startup
 * parameter, which poolers such as pgbouncer refuse: the check is one
 * pipeline, set_config('statement_timeout', ..., true) then the call, closed
 * by a single Sync.  Both run in one implicit transaction, so the setting
 * holds for the call and ends with it: behind a pooler in transaction mode
 * it never reaches the next client of the same server connection.
 *
 * A database without vatoken_verify (schema 1.x) answers the first pipeline
 * with an error; with no scope= the same connection then sends a second one,
 * the same but for vatoken_validate, within the same deadline (each is its
 * own transaction, so poolers keep working).  With scope= there is no
 * fallback: vatoken_validate cannot check a scope, so the check fails closed.
 *
 * The token travels only as parameter $1, never in SQL text, and is never
 * copied by this file.  The scopes ($2) and the client ($3) are parameters
 * too.  libpq keeps it in its own output buffer until
 * PQfinish, which frees that buffer without wiping it; that is outside the
 * module's control.
 */
#include "pam_check.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <security/pam_modules.h>

#include "pam_client.h"
#include "pam_params.h"

/* The first statement of the pipeline; $1 is vtp_statement_timeout's value. */
#define VTP_SET_TIMEOUT_QUERY \
	"SELECT pg_catalog.set_config('statement_timeout', $1::text, true)"

void
vtp_statement_timeout(int timeout, char *buf, size_t buflen)
{
	/* Half a second under the deadline, so that a live server answers first. */
	snprintf(buf, buflen, "%dms", timeout * 1000 - 500);
}

void
vtp_build_query(const char *schema, vtp_call call, char *buf, size_t buflen)
{
	/* schema was checked by vtp_schema_name_ok: quoting it is enough. */
	if (call == VTP_CALL_VERIFY)
		snprintf(buf, buflen,
				 "SELECT valid, status, token_id, owner, name "
				 "FROM \"%s\".vatoken_verify($1::text, $2::text[], $3::inet)",
				 schema);
	else
		snprintf(buf, buflen,
				 "SELECT valid, status, token_id, owner, name "
				 "FROM \"%s\".vatoken_validate($1::text)",
				 schema);
}

bool
vtp_scopes_literal(const char *const *scopes, int n, char *buf, size_t buflen)
{
	size_t		used = 0;
	int			i;

	if (buflen < 3)
		return false;
	buf[used++] = '{';
	for (i = 0; i < n; i++)
	{
		size_t		len = strlen(scopes[i]);

		/* separator, two quotes, the scope, then room for "}" and NUL */
		if (used + (i > 0) + len + 2 + 2 > buflen)
			return false;
		if (i > 0)
			buf[used++] = ',';
		buf[used++] = '"';
		memcpy(buf + used, scopes[i], len);
		used += len;
		buf[used++] = '"';
	}
	buf[used++] = '}';
	buf[used] = '\0';
	return true;
}

/* vatoken_verify is missing (before 2.0) or not granted to the module's role. */
static bool
vtp_verify_missing(const char *sqlstate)
{
	return sqlstate != NULL &&
		(strcmp(sqlstate, "42883") == 0 || strcmp(sqlstate, "42501") == 0);
}

bool
vtp_fallback_allowed(const char *sqlstate, int nscopes)
{
	return nscopes == 0 && vtp_verify_missing(sqlstate);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait until the connection's socket is ready for events or the deadline
 * passes.  Returns 1 when ready, 0 at the deadline, -1 on error.
 */
static int
wait_socket(PGconn *conn, short events, long long deadline)
{
	struct pollfd pfd;

	pfd.fd = PQsocket(conn);
	if (pfd.fd < 0)
		return -1;
	pfd.events = events;
	for (;;)
	{
		long long	left = deadline - now_ms();
		int			rc;

		if (left <= 0)
			return 0;
		pfd.revents = 0;
		rc = poll(&pfd, 1, left > 60000 ? 60000 : (int) left);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* Connect; on failure a reason is in err. */
static bool
connect_until(PGconn *conn, long long deadline, int timeout, char *err, size_t errlen,
			  const char *token)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (PQstatus(conn) == CONNECTION_BAD)
		st = PGRES_POLLING_FAILED;
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED)
	{
		int			w = wait_socket(conn, st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
									deadline);

		if (w == 0)
		{
			snprintf(err, errlen, "cannot connect: no answer within timeout=%d s", timeout);
			return false;
		}
		if (w < 0)
			break;
		st = PQconnectPoll(conn);
	}
	if (st == PGRES_POLLING_OK)
		return true;
	vtp_error_line(err, errlen, "cannot connect: ", PQerrorMessage(conn), token);
	return false;
}

/*
 * Send the pipeline (set statement_timeout, then query with the token as $1,
 * then Sync) and collect the call's result, or the first error of either
 * statement (the caller PQclears it).  NULL with a reason in err when the
 * deadline passes or the connection breaks.
 */
static PGresult *
query_until(PGconn *conn, const char *query, int nparams, const char *const *params,
			const char *token, long long deadline, int timeout, char *err, size_t errlen)
{
	char		setting[24];
	const char *setting_params[1] = {setting};
	PGresult   *kept = NULL;
	PGresult   *res;
	int			statement = 0;	/* whose results are being read: 0 or 1 */
	int			w;

	vtp_statement_timeout(timeout, setting, sizeof(setting));
	if (PQsetnonblocking(conn, 1) != 0 || !PQenterPipelineMode(conn) ||
		!PQsendQueryParams(conn, VTP_SET_TIMEOUT_QUERY, 1, NULL, setting_params, NULL, NULL, 0) ||
		!PQsendQueryParams(conn, query, nparams, NULL, params, NULL, NULL, 0) ||
		!PQpipelineSync(conn))
		goto broken;
	for (;;)
	{
		int			f = PQflush(conn);

		if (f < 0)
			goto broken;
		if (f == 0)
			break;
		w = wait_socket(conn, POLLIN | POLLOUT, deadline);
		if (w <= 0 || !PQconsumeInput(conn))
			goto wait_failed;
	}
	for (;;)
	{
		while (!PQisBusy(conn))
		{
			res = PQgetResult(conn);
			if (res == NULL)
			{
				/*
				 * The end of one statement's results.  There are two: a
				 * third end (a broken connection answers NULL for ever)
				 * never comes before the Sync.
				 */
				if (++statement > 2 || PQstatus(conn) == CONNECTION_BAD)
					goto broken;
				continue;
			}
			if (PQresultStatus(res) == PGRES_PIPELINE_SYNC)
			{
				PQclear(res);
				if (kept == NULL)
					goto broken;
				return kept;
			}
			/* The call's result, or the first error (an abort follows it). */
			if (kept == NULL &&
				(statement == 1 || PQresultStatus(res) != PGRES_TUPLES_OK))
				kept = res;
			else
				PQclear(res);
		}
		w = wait_socket(conn, POLLIN, deadline);
		if (w <= 0 || !PQconsumeInput(conn))
			goto wait_failed;
	}

wait_failed:
	if (w == 0)
	{
		PQclear(kept);
		snprintf(err, errlen, "query failed: no answer within timeout=%d s", timeout);
		return NULL;
	}
broken:
	PQclear(kept);
	vtp_error_line(err, errlen, "query failed: ", PQerrorMessage(conn), token);
	return NULL;
}

/*
 * Run one pipeline of call and return its result: the row, or the error of
 * the call (PQclear it), or NULL with a reason in err.
 */
static PGresult *
run_call(PGconn *conn, const vtp_args *args, vtp_call call, const char *token,
		 const char *scopes, const char *client, long long deadline,
		 char *err, size_t errlen)
{
	char		query[VTP_QUERY_MAX];
	const char *params[3] = {token, scopes, client};

	vtp_build_query(args->schema, call, query, sizeof(query));
	return query_until(conn, query, call == VTP_CALL_VERIFY ? 3 : 1, params, token,
					   deadline, args->timeout, err, errlen);
}

vtp_outcome
vtp_check_token(const vtp_args *args, const char *token, const char *rhost,
				vtp_result *r, char *err, size_t errlen)
{
	long long	deadline = now_ms() + (long long) args->timeout * 1000;
	char		scopes[VTP_SCOPES_LITERAL_MAX];
	const char *row[VTP_RESULT_COLUMNS] = {NULL};
	vtp_call	call = VTP_CALL_VERIFY;
	vtp_params	p;
	PGconn	   *conn;
	PGresult   *res;
	int			nfields;
	int			ntuples;
	int			i;
	int			rc;

	vtp_result_clear(r);
	r->fallback[0] = '\0';
	if (errlen > 0)
		err[0] = '\0';

	r->has_client = vtp_client_from_rhost(rhost, r->client, sizeof(r->client));
	if (!vtp_scopes_literal(args->scopes, args->nscopes, scopes, sizeof(scopes)))
	{
		snprintf(err, errlen, "scope= arguments too long");
		r->outcome = VTP_OUT_CONFIG;
		return r->outcome;
	}
	rc = vtp_params_build(args, &p, err, errlen);
	if (rc != PAM_SUCCESS)
	{
		vtp_params_free(&p);
		r->outcome = rc == PAM_BUF_ERR ? VTP_OUT_NOMEM : VTP_OUT_CONFIG;
		return r->outcome;
	}
	conn = PQconnectStartParams(p.keywords, p.values, 0);
	vtp_params_free(&p);
	if (conn == NULL)
	{
		snprintf(err, errlen, "out of memory");
		r->outcome = VTP_OUT_NOMEM;
		return r->outcome;
	}
	if (!connect_until(conn, deadline, args->timeout, err, errlen, token))
	{
		PQfinish(conn);
		r->outcome = VTP_OUT_UNAVAILABLE;
		return r->outcome;
	}

	res = run_call(conn, args, call, token, scopes, r->has_client ? r->client : NULL,
				   deadline, err, errlen);
	if (res != NULL && PQresultStatus(res) != PGRES_TUPLES_OK &&
		vtp_fallback_allowed(PQresultErrorField(res, PG_DIAG_SQLSTATE), args->nscopes))
	{
		/* A 1.x database (or grant) and no scope=: ask vatoken_validate. */
		snprintf(r->fallback, sizeof(r->fallback), "%s",
				 PQresultErrorField(res, PG_DIAG_SQLSTATE));
		PQclear(res);
		r->has_client = false;		/* vatoken_validate takes none */
		r->client[0] = '\0';
		call = VTP_CALL_VALIDATE;
		res = run_call(conn, args, call, token, NULL, NULL, deadline, err, errlen);
	}
	if (res == NULL)
	{
		PQfinish(conn);
		r->outcome = VTP_OUT_UNAVAILABLE;
		return r->outcome;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		char		prefix[96];

		snprintf(prefix, sizeof(prefix), "%squery failed (SQLSTATE %s): ",
				 args->nscopes > 0 && vtp_verify_missing(state)
				 ? "scope= needs vatoken_verify (vatoken 2.0): " : "",
				 state != NULL ? state : "none");
		vtp_error_line(err, errlen, prefix, msg != NULL ? msg : PQerrorMessage(conn), token);
		PQclear(res);
		PQfinish(conn);
		r->outcome = VTP_OUT_UNAVAILABLE;
		return r->outcome;
	}

	nfields = PQnfields(res);
	ntuples = PQntuples(res);
	if (nfields == VTP_RESULT_COLUMNS && ntuples >= 1)
		for (i = 0; i < VTP_RESULT_COLUMNS; i++)
			row[i] = PQgetisnull(res, 0, i) ? NULL : PQgetvalue(res, 0, i);
	(void) vtp_result_from_row(ntuples, nfields, row, r);
	if (r->outcome == VTP_OUT_UNAVAILABLE)
		snprintf(err, errlen,
				 "unexpected reply from %s (%d rows, %d columns)",
				 call == VTP_CALL_VERIFY ? "vatoken_verify" : "vatoken_validate",
				 ntuples, nfields);
	PQclear(res);
	PQfinish(conn);
	return r->outcome;
}
