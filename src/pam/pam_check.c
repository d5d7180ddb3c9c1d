/*
 * pam_check.c
 *	  The only file of pam_vatoken that talks to PostgreSQL.
 *
 * Owns: turning the module arguments into libpq connection parameters
 * (connect_timeout and statement_timeout defaults, fallback application
 * name), the query text, and copying the reply out of libpq before the
 * connection is closed.  One short-lived connection per check: a PAM module
 * lives inside someone else's process (sshd, nginx, a postgres backend) and
 * must not keep sockets or state there between calls.
 *
 * The token travels only as parameter $1 of PQexecParams, never in SQL text,
 * and is never copied by this file.  libpq keeps it in its own output buffer
 * until PQfinish, which frees that buffer without wiping it; that is outside
 * the module's control.
 */
#include "pam_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#define VTP_APPLICATION_NAME "pam_vatoken"

void
vtp_build_query(const char *schema, char *buf, size_t buflen)
{
	/* schema was checked by vtp_schema_name_ok: quoting it is enough. */
	snprintf(buf, buflen,
			 "SELECT valid, status, token_id, owner, name "
			 "FROM \"%s\".vatoken_validate($1::text)",
			 schema);
}

bool
vtp_build_options(int timeout, const char *user_options, char *buf, size_t buflen)
{
	int			n;

	if (user_options != NULL && user_options[0] != '\0')
		n = snprintf(buf, buflen, "-c statement_timeout=%ds %s", timeout, user_options);
	else
		n = snprintf(buf, buflen, "-c statement_timeout=%ds", timeout);
	return n >= 0 && (size_t) n < buflen;
}

/*
 * Open the connection.  Returns NULL only when out of memory; otherwise the
 * caller checks PQstatus.
 */
static PGconn *
connect_db(const vtp_args *args)
{
	PQconninfoOption *opts;
	PQconninfoOption *o;
	const char **keywords = NULL;
	const char **values = NULL;
	const char *user_options = NULL;
	char	   *pqerr = NULL;
	char		timeout_buf[16];
	char	   *options_buf = NULL;
	size_t		options_len;
	size_t		n = 0;
	size_t		k = 0;
	bool		have_timeout = false;
	PGconn	   *conn = NULL;

	/* Already validated by vtp_args_parse, so NULL here means no memory. */
	opts = PQconninfoParse(args->conninfo != NULL ? args->conninfo : "", &pqerr);
	if (opts == NULL)
	{
		if (pqerr != NULL)
			PQfreemem(pqerr);
		return NULL;
	}
	for (o = opts; o->keyword != NULL; o++)
		n++;
	keywords = calloc(n + 4, sizeof(*keywords));
	values = calloc(n + 4, sizeof(*values));
	if (keywords == NULL || values == NULL)
		goto done;

	for (o = opts; o->keyword != NULL; o++)
	{
		if (o->val == NULL)
			continue;
		if (strcmp(o->keyword, "options") == 0)
		{
			user_options = o->val;
			continue;
		}
		if (strcmp(o->keyword, "connect_timeout") == 0)
			have_timeout = true;
		keywords[k] = o->keyword;
		values[k] = o->val;
		k++;
	}
	if (!have_timeout)
	{
		snprintf(timeout_buf, sizeof(timeout_buf), "%d", args->timeout);
		keywords[k] = "connect_timeout";
		values[k] = timeout_buf;
		k++;
	}
	options_len = 64 + (user_options != NULL ? strlen(user_options) : 0);
	options_buf = malloc(options_len);
	if (options_buf == NULL ||
		!vtp_build_options(args->timeout, user_options, options_buf, options_len))
		goto done;
	keywords[k] = "options";
	values[k] = options_buf;
	k++;
	keywords[k] = "fallback_application_name";
	values[k] = VTP_APPLICATION_NAME;
	k++;
	keywords[k] = NULL;
	values[k] = NULL;

	conn = PQconnectdbParams(keywords, values, 0);

done:
	free(options_buf);
	free(keywords);
	free(values);
	PQconninfoFree(opts);
	return conn;
}

vtp_outcome
vtp_check_token(const vtp_args *args, const char *token, vtp_result *r,
				char *err, size_t errlen)
{
	char		query[VTP_QUERY_MAX];
	const char *params[1];
	const char *row[VTP_RESULT_COLUMNS] = {NULL};
	PGconn	   *conn;
	PGresult   *res;
	int			nfields;
	int			ntuples;
	int			i;

	vtp_result_clear(r);
	if (errlen > 0)
		err[0] = '\0';

	conn = connect_db(args);
	if (conn == NULL)
	{
		snprintf(err, errlen, "out of memory");
		r->outcome = VTP_OUT_NOMEM;
		return r->outcome;
	}
	if (PQstatus(conn) != CONNECTION_OK)
	{
		vtp_error_line(err, errlen, "cannot connect: ", PQerrorMessage(conn), token);
		PQfinish(conn);
		r->outcome = VTP_OUT_UNAVAILABLE;
		return r->outcome;
	}

	vtp_build_query(args->schema, query, sizeof(query));
	params[0] = token;
	res = PQexecParams(conn, query, 1, NULL, params, NULL, NULL, 0);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
		char		prefix[48];

		snprintf(prefix, sizeof(prefix), "query failed (SQLSTATE %s): ",
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
				 "unexpected reply from vatoken_validate (%d rows, %d columns)",
				 ntuples, nfields);
	PQclear(res);
	PQfinish(conn);
	return r->outcome;
}
