/*
 * pam_args.h
 *	  The module arguments of pam_vatoken and their parser.
 *
 * Parsing is pure: no PAM handle, no logging, no network.  The parser turns
 * argv into a vtp_args struct or into a PAM code plus a message that is safe
 * to log (it never repeats an argument's value, which might be a secret).
 */
#ifndef VTP_PAM_ARGS_H
#define VTP_PAM_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#define VTP_DEFAULT_SCHEMA		"public"
#define VTP_DEFAULT_TIMEOUT		5		/* seconds, connect and statement */
#define VTP_MAX_TIMEOUT			3600
#define VTP_MAX_SCHEMA_LEN		63		/* NAMEDATALEN - 1 */
#define VTP_MAX_SCOPES			32		/* scope= arguments on one line */
/* The system-wide libpq service file; set by mk/pam.mk from pg_config. */
#ifndef VTP_DEFAULT_SERVICEFILE
#define VTP_DEFAULT_SERVICEFILE	"/etc/postgresql-common/pg_service.conf"
#endif

typedef enum vtp_match
{
	VTP_MATCH_OWNER = 0,		/* the PAM user must be the token's owner */
	VTP_MATCH_ANY				/* any valid token will do */
} vtp_match;

typedef struct vtp_args
{
	const char *conninfo;		/* points into argv; NULL means libpq defaults */
	const char *servicefile;	/* where service= is looked up; never ~ or env */
	const char *schema;			/* schema holding vatoken_verify/_validate */
	const char *scopes[VTP_MAX_SCOPES];	/* scope= values, point into argv */
	int			nscopes;
	vtp_match	match;
	int			timeout;		/* seconds */
	bool		debug;
	bool		insecure_tcp;	/* allow TCP without a verified server */
	/* honoured by pam_get_authtok itself; recorded for completeness */
	bool		use_first_pass;
	bool		try_first_pass;
} vtp_args;

/*
 * Parse argc/argv into *args.  Returns PAM_SUCCESS, PAM_SERVICE_ERR (unknown
 * argument, bad value, a secret in conninfo, a scope= that is not a valid
 * required scope or more than VTP_MAX_SCOPES of them) or PAM_BUF_ERR.  On failure a
 * message fit for the log is written to err (errlen bytes, NUL-terminated).
 */
/*
 * The one rule for secrets in a conninfo: if the option keyword, set to val,
 * is one that libpq marks secret (its dispchar has '*': password,
 * sslpassword, ...), write the configuration error into err and return
 * true.  Used when the arguments are parsed and again by pam_params.c.
 */
extern bool vtp_refuse_secret(const char *keyword, const char *dispchar, const char *val,
							  char *err, size_t errlen);

extern int	vtp_args_parse(int argc, const char **argv, vtp_args *args,
						   char *err, size_t errlen);

/* Is s a schema name that the module accepts (an identifier, no quoting)? */
extern bool vtp_schema_name_ok(const char *s);

#endif							/* VTP_PAM_ARGS_H */
