/*
 * vt_ipnet.h
 *	  Client allow-lists: whether a client address lies in an allowed
 *	  network.
 *
 * Part of the pure core: no PostgreSQL or PAM headers may be included here.
 * The glue converts PostgreSQL's inet and cidr values to vt_ipnet.
 *
 * An IPv4 client written as an IPv4-mapped IPv6 address (::ffff:a.b.c.d, as
 * a dual-stack socket reports it) is matched as the IPv4 address it is.
 * Otherwise an IPv4 network never contains an IPv6 address, nor the other
 * way round.
 */
#ifndef VT_IPNET_H
#define VT_IPNET_H

#include <stdbool.h>
#include <stdint.h>

#define VT_IPV4		4
#define VT_IPV6		6

typedef struct vt_ipnet
{
	uint8_t		family;			/* VT_IPV4 or VT_IPV6 */
	uint8_t		bits;			/* prefix length: 0-32 or 0-128 */
	uint8_t		addr[16];		/* network order; IPv4 uses the first 4 */
} vt_ipnet;

/* Is the address of client (its prefix length is ignored) inside net? */
extern bool vt_ipnet_contains(const vt_ipnet *net, const vt_ipnet *client);

#endif							/* VT_IPNET_H */
