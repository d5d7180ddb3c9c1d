/*
 * pam_client.h
 *	  The client address of a check: what PAM_RHOST says, if it is an address.
 */
#ifndef VTP_PAM_CLIENT_H
#define VTP_PAM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

/* Room for the longest address vtp_client_from_rhost writes, NUL included. */
#define VTP_CLIENT_MAX	46		/* INET6_ADDRSTRLEN */

/*
 * If rhost is exactly a literal IPv4 or IPv6 address (inet_pton: no host
 * name, no port, no zone, no surrounding spaces), write its canonical text
 * (inet_ntop) into buf and return true.  Otherwise (NULL, empty, a host name,
 * anything else) write "" and return false: the check then has no client,
 * and a token with an allow-list is refused.  Pure: no resolver is asked.
 */
extern bool vtp_client_from_rhost(const char *rhost, char *buf, size_t buflen);

#endif							/* VTP_PAM_CLIENT_H */
