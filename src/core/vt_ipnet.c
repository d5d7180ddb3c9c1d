/*
 * vt_ipnet.c
 *	  Client allow-lists: network containment (see vt_ipnet.h).
 */
#include "vt_ipnet.h"

#include <string.h>

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool
vt_ipnet_contains(const vt_ipnet *net, const vt_ipnet *client)
{
	uint8_t		family = client->family;
	const uint8_t *addr = client->addr;
	int			maxbits = net->family == VT_IPV4 ? 32 : 128;
	int			full;
	int			rest;

	if (family == VT_IPV6 && net->family == VT_IPV4 &&
		memcmp(addr, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0)
	{
		family = VT_IPV4;
		addr += sizeof(v4_mapped_prefix);
	}
	if (family != net->family || net->bits > maxbits)
		return false;

	full = net->bits / 8;
	rest = net->bits % 8;
	if (memcmp(net->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((net->addr[full] ^ addr[full]) & (uint8_t) (0xff << (8 - rest))) == 0;
}
