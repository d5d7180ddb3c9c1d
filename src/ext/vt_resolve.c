/*
 * vt_resolve.c
 *	  Resolves and locks the extension's tables for validate, the flush and
 *	  the readers (vt_resolve.h).
 *
 * The OIDs are looked up by name once and kept until an invalidation
 * touches one of the relations, pg_extension, or everything.  A relation
 * counts only if it belongs to the extension vatoken (pg_depend): a table
 * named vatoken.tokens that someone made after DROP EXTENSION is never
 * written by the flush.  After the locks are taken (which processes pending
 * invalidations) the cache is checked again, as RangeVarGetRelidExtended
 * does, so the caller holds locks on the relations that the names lead to
 * now.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/dependency.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "storage/lmgr.h"
#include "storage/sinval.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "vt_resolve.h"

static bool cache_valid = false;
static bool callbacks_registered = false;
static vt_rels cache;

static void
vt_relcache_callback(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == cache.tokens || relid == cache.usage ||
		relid == cache.tokens_hash_index || relid == cache.tokens_previous_index)
		cache_valid = false;
}

static void
vt_syscache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	cache_valid = false;
}

/* The extension's version in this database, or NULL. */
static char *
vt_extversion(Oid extoid)
{
	HeapTuple	tuple;
	Datum		datum;
	bool		isnull;
	char	   *version = NULL;

	tuple = SearchSysCache1(EXTENSIONOID, ObjectIdGetDatum(extoid));
	if (!HeapTupleIsValid(tuple))
		return NULL;
	datum = SysCacheGetAttr(EXTENSIONOID, tuple, Anum_pg_extension_extversion, &isnull);
	if (!isnull)
		version = text_to_cstring(DatumGetTextPP(datum));
	ReleaseSysCache(tuple);
	return version;
}

static Oid
vt_member_relation(const char *name, Oid nspid, Oid extoid)
{
	Oid			relid = get_relname_relid(name, nspid);

	if (!OidIsValid(relid) || getExtensionOfObject(RelationRelationId, relid) != extoid)
		return InvalidOid;
	return relid;
}

/* The index of the tokens table (cache.tokens, found first) with this name. */
static Oid
vt_tokens_index(const char *name, Oid nspid)
{
	Oid			index = get_relname_relid(name, nspid);

	if (!OidIsValid(index) || !OidIsValid(cache.tokens) ||
		IndexGetRelation(index, true) != cache.tokens)
		return InvalidOid;
	return index;
}

/*
 * Fill the cache from the catalogs; false if the extension is missing.  The
 * catalog lookups may process invalidations themselves: the fill counts
 * only if none arrived while it ran, else it starts over.
 */
static bool vt_cache_fill_once(void);

static bool
vt_cache_fill(void)
{
	for (;;)
	{
		uint64		inval_count = SharedInvalidMessageCounter;
		bool		found = vt_cache_fill_once();

		if (inval_count == SharedInvalidMessageCounter)
		{
			cache_valid = found;
			return found;
		}
	}
}

static bool
vt_cache_fill_once(void)
{
	Oid			extoid;
	Oid			nspid;
	char	   *version;

	if (!callbacks_registered)
	{
		CacheRegisterRelcacheCallback(vt_relcache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(EXTENSIONOID, vt_syscache_callback, (Datum) 0);
		callbacks_registered = true;
	}
	memset(&cache, 0, sizeof(cache));
	cache_valid = false;

	extoid = get_extension_oid("vatoken", true);
	nspid = get_namespace_oid(VT_DATA_SCHEMA, true);
	if (!OidIsValid(extoid) || !OidIsValid(nspid))
		return false;
	cache.tokens = vt_member_relation("tokens", nspid, extoid);
	cache.usage = vt_member_relation("usage", nspid, extoid);
	version = vt_extversion(extoid);
	if (version == NULL)
		return false;
	cache.schema_1_0 = strcmp(version, "1.0") == 0;
	cache.schema_2_0 = atoi(version) >= 2;
	pfree(version);
	/* A token's current secret: token_hash before 2.0, secret_hash from 2.0. */
	cache.tokens_hash_index = vt_tokens_index(cache.schema_2_0 ? "tokens_secret_hash_key" :
											  "tokens_token_hash_key", nspid);
	if (cache.schema_2_0)
		cache.tokens_previous_index = vt_tokens_index("tokens_previous_hash_key", nspid);
	if (!OidIsValid(cache.tokens) || !OidIsValid(cache.usage) ||
		!OidIsValid(cache.tokens_hash_index) ||
		(cache.schema_2_0 && !OidIsValid(cache.tokens_previous_index)))
		return false;
	if (cache.schema_2_0)
	{
		/* By name: a column dropped by an earlier update shifts the numbers. */
		cache.att_expires_at = get_attnum(cache.tokens, "expires_at");
		cache.att_scopes = get_attnum(cache.tokens, "scopes");
		cache.att_allowed_clients = get_attnum(cache.tokens, "allowed_clients");
		cache.att_disabled_at = get_attnum(cache.tokens, "disabled_at");
		cache.att_revoked_at = get_attnum(cache.tokens, "revoked_at");
		cache.att_previous_valid_until = get_attnum(cache.tokens, "previous_valid_until");
		cache.att_rate_limit = get_attnum(cache.tokens, "rate_limit");
		cache.att_rate_window = get_attnum(cache.tokens, "rate_window");
		if (cache.att_expires_at == InvalidAttrNumber || cache.att_scopes == InvalidAttrNumber ||
			cache.att_allowed_clients == InvalidAttrNumber ||
			cache.att_disabled_at == InvalidAttrNumber ||
			cache.att_revoked_at == InvalidAttrNumber ||
			cache.att_previous_valid_until == InvalidAttrNumber ||
			cache.att_rate_limit == InvalidAttrNumber ||
			cache.att_rate_window == InvalidAttrNumber)
			return false;
	}
	return true;
}

static bool
vt_lock(Oid relid, LOCKMODE mode, bool wait)
{
	if (wait)
	{
		LockRelationOid(relid, mode);
		return true;
	}
	return ConditionalLockRelationOid(relid, mode);
}

vt_resolved
vt_resolve(vt_rels *rels, bool with_usage, LOCKMODE tokens_mode,
		   LOCKMODE usage_mode, bool wait)
{
	for (;;)
	{
		vt_rels		locked;

		if (!cache_valid && !vt_cache_fill())
		{
			if (!wait)
				return VT_RESOLVE_MISSING;
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("vatoken tables are missing in this database"),
					 errhint("Run CREATE EXTENSION vatoken in this database.")));
		}
		locked = cache;

		if (!vt_lock(locked.tokens, tokens_mode, wait))
			return VT_RESOLVE_BUSY;
		if (with_usage && !vt_lock(locked.usage, usage_mode, wait))
		{
			UnlockRelationOid(locked.tokens, tokens_mode);
			return VT_RESOLVE_BUSY;
		}

		/* Locking processed invalidations: do the names still lead here? */
		if (!cache_valid)
			(void) vt_cache_fill();
		if (cache_valid && cache.tokens == locked.tokens && cache.usage == locked.usage &&
			cache.tokens_hash_index == locked.tokens_hash_index &&
			cache.tokens_previous_index == locked.tokens_previous_index)
		{
			*rels = cache;
			return VT_RESOLVED;
		}
		UnlockRelationOid(locked.tokens, tokens_mode);
		if (with_usage)
			UnlockRelationOid(locked.usage, usage_mode);
		cache_valid = false;
	}
}
