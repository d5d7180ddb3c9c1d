/*
 * pam_args.c
 *	  Parsing and validation of the pam_vatoken module arguments.
 *
 * Owns: the list of accepted arguments, their defaults, the grammar of
 * scope= (that of a required scope in src/core/vt_scope.c) and the rule that a
 * conninfo must not carry a password or any other parameter that libpq
 * marks secret (dispchar '*': password, sslpassword, ...).  PAM service files
 * are world-readable, so a secret in one is a leak; credentials belong in a
 * passfile, a service file or a certificate.  PQconninfoParse is used (it
 * does no I/O) so that keyword/value and URI forms are recognised alike.
 *
 * Messages written to err name the offending argument, never its value.
 */
#include "pam_args.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <security/pam_modules.h>

#include "vt_scope.h"

/* Copy the name part of an argument ("name=value" -> "name") into err. */
static void
report(char *err, size_t errlen, const char *what, const char *arg)
{
	size_t		namelen = strcspn(arg, "=");

	if (namelen > 64)
		namelen = 64;
	snprintf(err, errlen, "%s: %.*s", what, (int) namelen, arg);
}

/* If arg is "name=value", return value; else NULL. */
static const char *
value_of(const char *arg, const char *name)
{
	size_t		n = strlen(name);

	if (strncmp(arg, name, n) == 0 && arg[n] == '=')
		return arg + n + 1;
	return NULL;
}

bool
vtp_schema_name_ok(const char *s)
{
	size_t		i;

	if (s == NULL || s[0] == '\0')
		return false;
	for (i = 0; s[i] != '\0'; i++)
	{
		char		c = s[i];
		bool		alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
		bool		digit = (c >= '0' && c <= '9');

		if (i >= VTP_MAX_SCHEMA_LEN)
			return false;
		if (!(alpha || (digit && i > 0)))
			return false;
	}
	return true;
}

static bool
parse_timeout(const char *s, int *out)
{
	char	   *end;
	long		v;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > VTP_MAX_TIMEOUT)
		return false;
	*out = (int) v;
	return true;
}

bool
vtp_refuse_secret(const char *keyword, const char *dispchar, const char *val,
				  char *err, size_t errlen)
{
	if (val == NULL || dispchar == NULL || strchr(dispchar, '*') == NULL)
		return false;
	snprintf(err, errlen,
			 "conninfo must not contain a password or other secret (%s; PAM files are "
			 "world-readable); use a passfile, a service file or a client certificate",
			 keyword);
	return true;
}

/*
 * Check that conninfo parses and holds no password.  Returns a PAM code.
 * libpq's own parse error is not repeated: it may quote part of the string.
 */
static int
check_conninfo(const char *conninfo, char *err, size_t errlen)
{
	PQconninfoOption *opts;
	PQconninfoOption *o;
	char	   *pqerr = NULL;
	int			rc = PAM_SUCCESS;

	opts = PQconninfoParse(conninfo, &pqerr);
	if (opts == NULL)
	{
		if (pqerr == NULL)
		{
			snprintf(err, errlen, "out of memory");
			return PAM_BUF_ERR;
		}
		PQfreemem(pqerr);
		snprintf(err, errlen, "conninfo is not a valid libpq connection string");
		return PAM_SERVICE_ERR;
	}
	for (o = opts; o->keyword != NULL; o++)
	{
		if (vtp_refuse_secret(o->keyword, o->dispchar, o->val, err, errlen))
		{
			rc = PAM_SERVICE_ERR;
			break;
		}
	}
	PQconninfoFree(opts);
	return rc;
}

int
vtp_args_parse(int argc, const char **argv, vtp_args *args,
			   char *err, size_t errlen)
{
	int			i;

	args->conninfo = NULL;
	args->servicefile = VTP_DEFAULT_SERVICEFILE;
	args->insecure_tcp = false;
	args->schema = VTP_DEFAULT_SCHEMA;
	args->nscopes = 0;
	args->match = VTP_MATCH_OWNER;
	args->timeout = VTP_DEFAULT_TIMEOUT;
	args->debug = false;
	args->use_first_pass = false;
	args->try_first_pass = false;
	if (errlen > 0)
		err[0] = '\0';

	for (i = 0; i < argc; i++)
	{
		const char *arg = argv[i];
		const char *v;

		if (arg == NULL)
			continue;
		if (strcmp(arg, "debug") == 0)
			args->debug = true;
		else if (strcmp(arg, "use_first_pass") == 0)
			args->use_first_pass = true;
		else if (strcmp(arg, "try_first_pass") == 0)
			args->try_first_pass = true;
		else if (strcmp(arg, "insecure_tcp") == 0)
			args->insecure_tcp = true;
		else if ((v = value_of(arg, "servicefile")) != NULL)
		{
			if (v[0] != '/')
			{
				report(err, errlen, "bad value (expected an absolute path)", arg);
				return PAM_SERVICE_ERR;
			}
			args->servicefile = v;
		}
		else if ((v = value_of(arg, "conninfo")) != NULL)
			args->conninfo = v;
		else if ((v = value_of(arg, "match")) != NULL)
		{
			if (strcmp(v, "owner") == 0)
				args->match = VTP_MATCH_OWNER;
			else if (strcmp(v, "any") == 0)
				args->match = VTP_MATCH_ANY;
			else
			{
				report(err, errlen, "bad value (expected owner or any)", arg);
				return PAM_SERVICE_ERR;
			}
		}
		else if ((v = value_of(arg, "schema")) != NULL)
		{
			if (!vtp_schema_name_ok(v))
			{
				report(err, errlen, "bad value (expected an unquoted identifier)", arg);
				return PAM_SERVICE_ERR;
			}
			args->schema = v;
		}
		else if ((v = value_of(arg, "scope")) != NULL)
		{
			if (vt_scope_check_required(v, strlen(v)) != VT_SCOPE_OK)
			{
				report(err, errlen,
					   "bad value (expected 1 to 100 characters of A-Za-z0-9_.:-, no *)", arg);
				return PAM_SERVICE_ERR;
			}
			if (args->nscopes >= VTP_MAX_SCOPES)
			{
				report(err, errlen, "too many (at most 32)", arg);
				return PAM_SERVICE_ERR;
			}
			args->scopes[args->nscopes++] = v;
		}
		else if ((v = value_of(arg, "timeout")) != NULL)
		{
			if (!parse_timeout(v, &args->timeout))
			{
				report(err, errlen, "bad value (expected whole seconds, 1 to 3600)", arg);
				return PAM_SERVICE_ERR;
			}
		}
		else
		{
			report(err, errlen, "unknown argument", arg);
			return PAM_SERVICE_ERR;
		}
	}

	if (args->conninfo != NULL)
		return check_conninfo(args->conninfo, err, errlen);
	return PAM_SUCCESS;
}
