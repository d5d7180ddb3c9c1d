/*
 * vt_input.c
 *	  Checks of the arguments of vatoken_create, vatoken_list, vatoken_usage
 *	  and vatoken_delete.
 *
 * Every check runs before anything is written and raises an ERROR that names
 * the argument: 22004 (null_value_not_allowed) for NULL, 22023
 * (invalid_parameter_value) for anything else.  Nothing here ever sees a
 * token, so no message can contain one.
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "vatoken.h"

static void
vt_check_not_null(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", argname)));
}

int
vt_control_char_len(const char *s, const char *end)
{
	unsigned char c = (unsigned char) *s;

	if (c < 0x20 || c == 0x7f)
		return 1;
	if (GetDatabaseEncoding() == PG_UTF8 && c == 0xc2 && s + 1 < end &&
		(unsigned char) s[1] >= 0x80 && (unsigned char) s[1] <= 0x9f)
		return 2;				/* U+0080 .. U+009F */
	return 0;
}

/*
 * True if the (server-encoded) string contains a C0 or C1 control character
 * or DEL.
 */
static bool
vt_has_control_character(const char *s, int len)
{
	const char *end = s + len;

	for (; s < end; s += pg_mblen(s))
	{
		if (vt_control_char_len(s, end) > 0)
			return true;
	}
	return false;
}

text *
vt_check_owner(FunctionCallInfo fcinfo, int argno)
{
	text	   *owner;
	int			chars;

	vt_check_not_null(fcinfo, argno, "owner");
	owner = PG_GETARG_TEXT_PP(argno);
	chars = pg_mbstrlen_with_len(VARDATA_ANY(owner), VARSIZE_ANY_EXHDR(owner));
	if (chars < 1 || chars > VT_OWNER_MAX_CHARS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("owner must be between 1 and %d characters long",
						VT_OWNER_MAX_CHARS),
				 errdetail("The owner given has %d characters.", chars)));
	if (vt_has_control_character(VARDATA_ANY(owner), VARSIZE_ANY_EXHDR(owner)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("owner must not contain control characters")));
	return owner;
}

/*
 * The name is trimmed of leading and trailing spaces; the trimmed name is what
 * gets checked, stored and returned.
 */
text *
vt_check_name(FunctionCallInfo fcinfo, int argno)
{
	text	   *name;
	const char *start;
	const char *end;
	int			chars;

	vt_check_not_null(fcinfo, argno, "name");
	name = PG_GETARG_TEXT_PP(argno);
	start = VARDATA_ANY(name);
	end = start + VARSIZE_ANY_EXHDR(name);
	while (start < end && *start == ' ')
		start++;
	while (end > start && end[-1] == ' ')
		end--;

	chars = pg_mbstrlen_with_len(start, end - start);
	if (chars < 1 || chars > VT_NAME_MAX_CHARS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("name must be between 1 and %d characters long",
						VT_NAME_MAX_CHARS),
				 errdetail("The name given has %d characters after trimming spaces.",
						   chars)));
	if (vt_has_control_character(start, end - start))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("name must not contain control characters"),
				 errhint("Use a short, printable label such as \"Discord bot\".")));
	return cstring_to_text_with_len(start, end - start);
}

int64
vt_check_token_id(FunctionCallInfo fcinfo, int argno)
{
	int64		token_id;

	vt_check_not_null(fcinfo, argno, "token_id");
	token_id = PG_GETARG_INT64(argno);
	if (token_id <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("token_id must be a positive number"),
				 errdetail("Token ids are assigned from 1 upwards; %lld is not one.",
						   (long long) token_id)));
	return token_id;
}
