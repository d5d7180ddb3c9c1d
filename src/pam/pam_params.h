/*
 * pam_params.h
 *	  The complete set of libpq connection parameters for one check.
 *
 * libpq fills every parameter that a connection string leaves out from PG*
 * environment variables, from service files (PGSERVICEFILE, or
 * ~/.pg_service.conf before the system file) and from files in the host
 * user's home (~/.pgpass, ~/.postgresql/).  For nginx the host user is
 * www-data, whose home may be writable by the web application.  So the
 * module hands libpq a value for every parameter that any of those could set,
 * resolves service= itself from one system file, and checks the result
 * (no secret in the arguments, TCP only with a verified server certificate).
 */
#ifndef VTP_PAM_PARAMS_H
#define VTP_PAM_PARAMS_H

#include <stdbool.h>
#include <stddef.h>

#include "pam_args.h"

/*
 * A path that cannot exist (/dev/null is not a directory): what libpq gets
 * for passfile, sslcert, sslkey, sslrootcert and sslcrl when neither the
 * conninfo nor the service names one, so that it never looks in the home.
 */
#define VTP_NO_FILE "/dev/null/pam_vatoken-none"

/* libpq's default socket directory on Debian, for a conninfo without host. */
#ifndef VTP_DEFAULT_SOCKET_DIR
#define VTP_DEFAULT_SOCKET_DIR "/var/run/postgresql"
#endif

typedef struct vtp_params
{
	const char **keywords;		/* NULL-terminated, for PQconnectStartParams */
	const char **values;
	size_t		n;
	/* owned storage */
	void	   *opts;			/* PQconninfoOption array */
	char	  **vals;			/* one malloc'd value (or NULL) per option */
	size_t		nopts;
} vtp_params;

/*
 * Build the parameters of args into *p.  Returns PAM_SUCCESS,
 * PAM_SERVICE_ERR (a secret in conninfo, a TCP connection without
 * sslmode=verify-full/verify-ca and sslrootcert, an unknown or unreadable
 * service) with a message fit for the log in err, or PAM_BUF_ERR.  *p must
 * be released with vtp_params_free whatever the result.
 */
extern int	vtp_params_build(const vtp_args *args, vtp_params *p,
							 char *err, size_t errlen);

/* The value given to keyword, or NULL. */
extern const char *vtp_params_get(const vtp_params *p, const char *keyword);

extern void vtp_params_free(vtp_params *p);

/*
 * Read the group [name] of the libpq service file path, calling
 * set(ctx, key, value) for each of its lines (first group of that name only,
 * as libpq does).  Returns 1 if found, 0 if the file has no such group, -1
 * on error (unreadable file, syntax error, set() failed) with a message in
 * err that quotes no value.
 */
extern int	vtp_service_read(const char *path, const char *name,
							 int (*set) (void *ctx, const char *key, const char *value),
							 void *ctx, char *err, size_t errlen);

/*
 * Does a connection with these host and hostaddr values (comma-separated
 * lists, either may be NULL or empty) use TCP for any of its hosts?
 */
extern bool vtp_uses_tcp(const char *host, const char *hostaddr);

#endif							/* VTP_PAM_PARAMS_H */
