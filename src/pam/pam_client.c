/*
 * pam_client.c
 *	  Turning PAM_RHOST into the client address given to vatoken_verify.
 *
 * Owns the one rule: only a literal address counts.  PAM_RHOST is whatever
 * the application set (sshd: an address, or a host name with UseDNS;
 * nginx and PostgreSQL: the peer's address), and a host name is never
 * resolved: a lookup could block the host process and the answer is the
 * client's to influence (its own reverse zone).  Anything that inet_pton
 * does not take whole is no client, which fails closed for a token with an
 * allow-list.  What is sent is inet_ntop's text, never the caller's bytes.
 */
#include "pam_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

bool
vtp_client_from_rhost(const char *rhost, char *buf, size_t buflen)
{
	unsigned char addr[sizeof(struct in6_addr)];
	char		text[INET6_ADDRSTRLEN];
	int			family;

	if (buflen > 0)
		buf[0] = '\0';
	if (rhost == NULL || rhost[0] == '\0' || buflen == 0)
		return false;
	if (inet_pton(AF_INET, rhost, addr) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, rhost, addr) == 1)
		family = AF_INET6;
	else
		return false;
	if (inet_ntop(family, addr, text, sizeof(text)) == NULL || strlen(text) >= buflen)
		return false;
	snprintf(buf, buflen, "%s", text);
	return true;
}
