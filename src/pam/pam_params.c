/*
 * pam_params.c
 *	  From module arguments to the complete libpq parameter set of a check.
 *
 * Owns: the refusal of secrets in the final parameter set (with
 * vtp_refuse_secret of pam_args.c: libpq's own dispchar '*', never a list
 * of names), the reading of the system service file, the values the
 * module pins (client_encoding, tcp_user_timeout, the "no file" paths;
 * statement_timeout is set by the query, see pam_check.c, because poolers
 * refuse an "options" startup parameter) and the rule that TCP needs a
 * verified server.
 *
 * Order of precedence, per parameter: the conninfo argument, then the group
 * of service= in servicefile=, then the module's pin, then libpq's compiled
 * default.  libpq treats an empty value as unset and takes the environment
 * variable instead, so where no non-empty value means "libpq's default"
 * (hostaddr, password, ...) a set environment variable is refused as a
 * configuration error.  host, user and dbname get libpq's defaults spelled
 * out: the default socket directory, the name of the effective user, the user
 * name.  service itself is never given to libpq, and PGSERVICE is refused.
 */
#include "pam_params.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <security/pam_modules.h>


#define VTP_APPLICATION_NAME "pam_vatoken"
#define VTP_SERVICE_LINE_MAX 1024

/* Parameters naming a file that libpq would otherwise look for in the home. */
static const char *const vtp_file_params[] = {
	"passfile", "sslcert", "sslkey", "sslrootcert", "sslcrl"
};

static int
find(const vtp_params *p, const char *keyword)
{
	const PQconninfoOption *o = p->opts;
	size_t		i;

	for (i = 0; i < p->nopts; i++)
		if (strcmp(o[i].keyword, keyword) == 0)
			return (int) i;
	return -1;
}

const char *
vtp_params_get(const vtp_params *p, const char *keyword)
{
	int			i = find(p, keyword);

	return i >= 0 ? p->vals[i] : NULL;
}

/* Set keyword to a copy of value; replace=false keeps an earlier value. */
static int
set_value(vtp_params *p, const char *keyword, const char *value, bool replace)
{
	int			i = find(p, keyword);
	char	   *copy;

	if (i < 0)
		return PAM_SERVICE_ERR;
	if (p->vals[i] != NULL && !replace)
		return PAM_SUCCESS;
	copy = strdup(value);
	if (copy == NULL)
		return PAM_BUF_ERR;
	free(p->vals[i]);
	p->vals[i] = copy;
	return PAM_SUCCESS;
}

void
vtp_params_free(vtp_params *p)
{
	size_t		i;

	if (p->vals != NULL)
		for (i = 0; i < p->nopts; i++)
			free(p->vals[i]);
	free(p->vals);
	free(p->keywords);
	free(p->values);
	if (p->opts != NULL)
		PQconninfoFree(p->opts);
	memset(p, 0, sizeof(*p));
}

static char *
trim(char *s)
{
	char	   *e;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

int
vtp_service_read(const char *path, const char *name,
				 int (*set) (void *ctx, const char *key, const char *value),
				 void *ctx, char *err, size_t errlen)
{
	FILE	   *f = fopen(path, "re");
	char		line[VTP_SERVICE_LINE_MAX];
	bool		in_group = false;
	int			lineno = 0;
	int			found = 0;

	if (f == NULL)
	{
		snprintf(err, errlen, "cannot read service file \"%s\": %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL)
	{
		char	   *s;
		char	   *eq;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f))
		{
			snprintf(err, errlen, "service file \"%s\", line %d: line too long", path, lineno);
			found = -1;
			break;
		}
		s = trim(line);
		if (s[0] == '\0' || s[0] == '#')
			continue;
		if (s[0] == '[')
		{
			size_t		len = strlen(s);

			if (in_group)
				break;			/* libpq reads the first such group only */
			in_group = (s[len - 1] == ']' && len - 2 == strlen(name) &&
						strncmp(s + 1, name, len - 2) == 0);
			if (in_group)
				found = 1;
			continue;
		}
		if (!in_group)
			continue;
		eq = strchr(s, '=');
		if (eq == NULL)
		{
			snprintf(err, errlen, "service file \"%s\", line %d: syntax error", path, lineno);
			found = -1;
			break;
		}
		*eq = '\0';
		if (strcmp(s, "service") == 0 || set(ctx, s, eq + 1) != PAM_SUCCESS)
		{
			snprintf(err, errlen, "service file \"%s\", line %d: bad or unknown keyword \"%.64s\"",
					 path, lineno, s);
			found = -1;
			break;
		}
	}
	fclose(f);
	return found;
}

/* set() of vtp_service_read: fill what the conninfo left out. */
static int
service_set(void *ctx, const char *key, const char *value)
{
	return set_value(ctx, key, value, false);
}

/*
 * The n-th entry of a comma-separated list: its start, and its length in
 * *len; NULL if the list has no such entry.
 */
static const char *
list_item(const char *list, int n, size_t *len)
{
	const char *s = list;

	*len = 0;
	if (list == NULL)
		return NULL;
	while (n-- > 0)
	{
		s = strchr(s, ',');
		if (s == NULL)
			return NULL;
		s++;
	}
	*len = strcspn(s, ",");
	return s;
}

static int
list_count(const char *list)
{
	int			n = 1;

	if (list == NULL || list[0] == '\0')
		return 0;
	for (; *list != '\0'; list++)
		if (*list == ',')
			n++;
	return n;
}

bool
vtp_uses_tcp(const char *host, const char *hostaddr)
{
	int			nh = list_count(host);
	int			na = list_count(hostaddr);
	int			n = nh > na ? nh : na;
	int			i;

	for (i = 0; i < n; i++)
	{
		size_t		alen;
		size_t		hlen;
		const char *a = list_item(hostaddr, i, &alen);
		const char *h = list_item(host, i, &hlen);

		if (a != NULL && alen > 0)
			return true;
		/* An empty host is libpq's default socket directory. */
		if (h != NULL && hlen > 0 && h[0] != '/' && h[0] != '@')
			return true;
	}
	return false;
}

/* The TCP rule: a server reached over TCP must prove who it is. */
static int
check_tcp(const vtp_params *p, const vtp_args *args, char *err, size_t errlen)
{
	const char *sslmode = vtp_params_get(p, "sslmode");
	const char *rootcert = vtp_params_get(p, "sslrootcert");

	if (args->insecure_tcp || !vtp_uses_tcp(vtp_params_get(p, "host"),
											vtp_params_get(p, "hostaddr")))
		return PAM_SUCCESS;
	if (sslmode == NULL ||
		(strcmp(sslmode, "verify-full") != 0 && strcmp(sslmode, "verify-ca") != 0))
	{
		snprintf(err, errlen, "a TCP conninfo needs sslmode=verify-full (or verify-ca), "
				 "or the argument insecure_tcp");
		return PAM_SERVICE_ERR;
	}
	if (rootcert == NULL || rootcert[0] == '\0')
	{
		snprintf(err, errlen, "a TCP conninfo with sslmode=%s needs sslrootcert=<file>", sslmode);
		return PAM_SERVICE_ERR;
	}
	return PAM_SUCCESS;
}

/* Parameters the module always sets, whatever the arguments say. */
static int
pin_values(vtp_params *p, const vtp_args *args)
{
	const char *tut = vtp_params_get(p, "tcp_user_timeout");
	char		ms[24];
	int			rc;

	/* Owners are compared byte for byte with the PAM user: UTF-8 always. */
	rc = set_value(p, "client_encoding", "UTF8", true);
	if (rc == PAM_SUCCESS)
		rc = set_value(p, "fallback_application_name", VTP_APPLICATION_NAME, true);
	if (rc == PAM_SUCCESS)
		rc = set_value(p, "application_name", VTP_APPLICATION_NAME, false);
	/* Not used by the non-blocking connect; spelled out so PGCONNECT_TIMEOUT is not. */
	if (rc == PAM_SUCCESS)
	{
		snprintf(ms, sizeof(ms), "%d", args->timeout);
		rc = set_value(p, "connect_timeout", ms, false);
	}
	/* Never longer than the deadline of the whole check. */
	if (rc == PAM_SUCCESS &&
		(tut == NULL || atol(tut) <= 0 || atol(tut) > (long) args->timeout * 1000))
	{
		snprintf(ms, sizeof(ms), "%ld", (long) args->timeout * 1000);
		rc = set_value(p, "tcp_user_timeout", ms, true);
	}
	return rc;
}

/* Give every parameter that the environment could set a value of our own. */
static int
pin_environment(vtp_params *p, char *err, size_t errlen)
{
	const PQconninfoOption *o = p->opts;
	size_t		i;
	int			rc = PAM_SUCCESS;
	struct passwd pw;
	struct passwd *pwp = NULL;
	char		pwbuf[1024];

	if (getenv("PGSERVICE") != NULL)
	{
		snprintf(err, errlen, "environment variable PGSERVICE is set; "
				 "name the service in conninfo= instead");
		return PAM_SERVICE_ERR;
	}
	rc = set_value(p, "host", VTP_DEFAULT_SOCKET_DIR, false);
	if (rc == PAM_SUCCESS && vtp_params_get(p, "user") == NULL)
	{
		if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &pwp) != 0 || pwp == NULL)
		{
			snprintf(err, errlen, "conninfo has no user and the effective user has no name");
			return PAM_SERVICE_ERR;
		}
		rc = set_value(p, "user", pw.pw_name, false);
	}
	if (rc == PAM_SUCCESS)
		rc = set_value(p, "dbname", vtp_params_get(p, "user"), false);

	for (i = 0; i < sizeof(vtp_file_params) / sizeof(vtp_file_params[0]) && rc == PAM_SUCCESS; i++)
		rc = set_value(p, vtp_file_params[i], VTP_NO_FILE, false);
	/* A GSSAPI session would stand in for the TLS the rules above ask for. */
	if (rc == PAM_SUCCESS && find(p, "gssencmode") >= 0)
		rc = set_value(p, "gssencmode", "disable", false);
	for (i = 0; i < p->nopts && rc == PAM_SUCCESS; i++)
	{
		if (o[i].envvar == NULL || strcmp(o[i].keyword, "service") == 0)
			continue;
		if (p->vals[i] != NULL)
			continue;
		if (o[i].compiled != NULL && o[i].compiled[0] != '\0')
			rc = set_value(p, o[i].keyword, o[i].compiled, false);
		else if (getenv(o[i].envvar) != NULL)
		{
			snprintf(err, errlen, "environment variable %s is set and conninfo has no %s; "
					 "set %s in conninfo= (or unset the variable)",
					 o[i].envvar, o[i].keyword, o[i].keyword);
			return PAM_SERVICE_ERR;
		}
	}
	return rc;
}

static int
make_arrays(vtp_params *p)
{
	const PQconninfoOption *o = p->opts;
	size_t		i;

	p->keywords = calloc(p->nopts + 1, sizeof(*p->keywords));
	p->values = calloc(p->nopts + 1, sizeof(*p->values));
	if (p->keywords == NULL || p->values == NULL)
		return PAM_BUF_ERR;
	p->n = 0;
	for (i = 0; i < p->nopts; i++)
	{
		if (p->vals[i] == NULL || strcmp(o[i].keyword, "service") == 0)
			continue;
		p->keywords[p->n] = o[i].keyword;
		p->values[p->n] = p->vals[i];
		p->n++;
	}
	return PAM_SUCCESS;
}

int
vtp_params_build(const vtp_args *args, vtp_params *p, char *err, size_t errlen)
{
	PQconninfoOption *opts;
	char	   *pqerr = NULL;
	const char *service = NULL;
	size_t		i;
	int			rc = PAM_SUCCESS;

	memset(p, 0, sizeof(*p));
	if (errlen > 0)
		err[0] = '\0';
	/* PQconninfoParse reads no environment and no file. */
	opts = PQconninfoParse(args->conninfo != NULL ? args->conninfo : "", &pqerr);
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
	p->opts = opts;
	for (i = 0; opts[i].keyword != NULL; i++)
		p->nopts++;
	p->vals = calloc(p->nopts, sizeof(*p->vals));
	if (p->vals == NULL)
		return PAM_BUF_ERR;

	for (i = 0; i < p->nopts && rc == PAM_SUCCESS; i++)
	{
		if (opts[i].val == NULL)
			continue;
		if (vtp_refuse_secret(opts[i].keyword, opts[i].dispchar, opts[i].val, err, errlen))
			return PAM_SERVICE_ERR;
		if (strcmp(opts[i].keyword, "service") == 0)
			service = opts[i].val;
		else
			rc = set_value(p, opts[i].keyword, opts[i].val, true);
	}
	if (rc == PAM_SUCCESS && service != NULL)
	{
		int			found = vtp_service_read(args->servicefile, service, service_set, p,
											 err, errlen);

		if (found < 0)
			return PAM_SERVICE_ERR;
		if (found == 0)
		{
			snprintf(err, errlen, "service \"%.64s\" not found in \"%s\"", service,
					 args->servicefile);
			return PAM_SERVICE_ERR;
		}
	}
	if (rc == PAM_SUCCESS)
		rc = check_tcp(p, args, err, errlen);
	if (rc == PAM_SUCCESS)
		rc = pin_values(p, args);
	if (rc == PAM_SUCCESS)
		rc = pin_environment(p, err, errlen);
	if (rc == PAM_SUCCESS)
		rc = make_arrays(p);
	if (rc == PAM_BUF_ERR)
		snprintf(err, errlen, "out of memory");
	return rc;
}
