-- With the library preloaded, each session keeps the tokens it validated
-- (vt_tokcache.c) and answers them again without an index probe.  Every
-- change to a token, however it is made, must reach that cache at once.
-- (The cross-session cases are in test/isolation/specs/validate_delete.spec.)
SHOW vatoken.token_cache_size;
CREATE FUNCTION cache_index_reads() RETURNS bigint LANGUAGE sql AS $$
    SELECT coalesce(idx_scan, 0) FROM pg_stat_xact_user_tables
    WHERE relid = 'vatoken.tokens'::regclass $$;
SELECT token AS c1, token_id AS c1_id FROM vatoken_create('cache-owner', 'one') \gset
SELECT token AS c2, token_id AS c2_id FROM vatoken_create('cache-owner', 'two') \gset
SELECT token AS c3, token_id AS c3_id FROM vatoken_create('cache-owner', 'three') \gset
SELECT token AS c4, token_id AS c4_id FROM vatoken_create('cache-owner', 'four') \gset
SELECT token AS c5, token_id AS c5_id FROM vatoken_create('cache-owner', 'five') \gset

-- A token validated once is answered from the cache: no index read.
SELECT valid FROM vatoken_validate(:'c1');
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT valid, name FROM vatoken_validate(:'c1');
SELECT cache_index_reads() AS index_reads;
COMMIT;
-- ... and still counted.
SELECT calls_today FROM vatoken_usage('cache-owner', :c1_id);

-- vatoken_delete: unknown at once in the session that had it cached.
SELECT vatoken_delete('cache-owner', :c1_id);
SELECT valid, status FROM vatoken_validate(:'c1');

-- The transaction that deletes a token sees it unknown at once; if it rolls
-- back, the token stays valid.
SELECT valid FROM vatoken_validate(:'c2');
BEGIN;
SELECT vatoken_delete('cache-owner', :c2_id);
SELECT valid, status FROM vatoken_validate(:'c2');
ROLLBACK;
SELECT valid, status FROM vatoken_validate(:'c2');

-- A change made by hand (a superuser) is seen at once.
UPDATE vatoken.tokens SET name = 'two, renamed' WHERE token_id = :c2_id;
SELECT valid, name FROM vatoken_validate(:'c2');

-- session_replication_role does not turn the trigger off.
SET session_replication_role = replica;
DELETE FROM vatoken.tokens WHERE token_id = :c2_id;
RESET session_replication_role;
SELECT valid, status FROM vatoken_validate(:'c2');

-- With the trigger disabled, or enabled only for the origin role, the cache
-- is not used: a delete it cannot see is still seen.
ALTER TABLE vatoken.tokens DISABLE TRIGGER tokens_changed;
SELECT valid FROM vatoken_validate(:'c3');
SELECT valid FROM vatoken_validate(:'c3');
DELETE FROM vatoken.tokens WHERE token_id = :c3_id;
SELECT valid, status FROM vatoken_validate(:'c3');
ALTER TABLE vatoken.tokens ENABLE TRIGGER tokens_changed;
SET session_replication_role = replica;
SELECT valid FROM vatoken_validate(:'c4');
SELECT valid FROM vatoken_validate(:'c4');
DELETE FROM vatoken.tokens WHERE token_id = :c4_id;
RESET session_replication_role;
SELECT valid, status FROM vatoken_validate(:'c4');
ALTER TABLE vatoken.tokens ENABLE ALWAYS TRIGGER tokens_changed;

-- A token this transaction created is not kept past its rollback.
BEGIN;
SELECT token AS c6 FROM vatoken_create('cache-owner', 'six') \gset
SELECT valid FROM vatoken_validate(:'c6');
SELECT valid FROM vatoken_validate(:'c6');
ROLLBACK;
SELECT valid, status FROM vatoken_validate(:'c6');

-- A transaction that deleted a token cannot be prepared (its end would come
-- from another session); nothing is deleted.
BEGIN;
SELECT vatoken_delete('cache-owner', :c5_id);
PREPARE TRANSACTION 'vatoken_cache';
SELECT valid, status FROM vatoken_validate(:'c5');

-- Turned off, the cache is not used.
SET vatoken.token_cache_size = 0;
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT valid FROM vatoken_validate(:'c5');
SELECT cache_index_reads() > 0 AS index_read;
COMMIT;
RESET vatoken.token_cache_size;

-- TRUNCATE reaches the cache too.
SELECT valid FROM vatoken_validate(:'c5');
TRUNCATE vatoken.tokens CASCADE;
SELECT valid, status FROM vatoken_validate(:'c5');

-- The trigger function cannot be called directly, and a role that may only
-- validate cannot change the setting.
SELECT vatoken.tokens_changed();
CREATE ROLE cache_validator;
GRANT EXECUTE ON FUNCTION vatoken_validate(text) TO cache_validator;
SET ROLE cache_validator;
SET vatoken.token_cache_size = 0;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION vatoken_validate(text) FROM cache_validator;
DROP ROLE cache_validator;
DROP FUNCTION cache_index_reads();
