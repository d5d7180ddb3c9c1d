/*
 * vt_scope.c
 *	  Token scopes: grammar and matching (see vt_scope.h).
 */
#include "vt_scope.h"

#include <string.h>

static bool
vt_scope_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' || c == '-';
}

static vt_scope_status
vt_scope_check(const char *s, size_t len, bool wildcards)
{
	if (len == 0 || len > VT_SCOPE_MAX_LEN)
		return VT_SCOPE_BAD_LENGTH;
	for (size_t i = 0; i < len; i++)
	{
		if (s[i] == '*')
		{
			if (!wildcards)
				return VT_SCOPE_BAD_WILDCARD;
			/* "*" alone, or ":*" at the end after at least one character. */
			if (i != len - 1 || !(len == 1 || (len >= 3 && s[i - 1] == ':')))
				return VT_SCOPE_BAD_WILDCARD;
		}
		else if (!vt_scope_char(s[i]))
			return VT_SCOPE_BAD_CHARACTER;
	}
	return VT_SCOPE_OK;
}

vt_scope_status
vt_scope_check_granted(const char *s, size_t len)
{
	return vt_scope_check(s, len, true);
}

vt_scope_status
vt_scope_check_required(const char *s, size_t len)
{
	return vt_scope_check(s, len, false);
}

bool
vt_scope_grants(const char *granted, size_t glen, const char *required, size_t rlen)
{
	if (glen == 1 && granted[0] == '*')
		return true;
	if (glen >= 2 && granted[glen - 1] == '*')
	{
		/* "prefix:*": the prefix, colon included, and at least one more. */
		size_t		plen = glen - 1;

		return rlen > plen && memcmp(granted, required, plen) == 0;
	}
	return glen == rlen && memcmp(granted, required, glen) == 0;
}
