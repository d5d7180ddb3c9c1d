-- vatoken_delete: irrecoverable, and only for the token's owner.
SELECT token_id AS d_id, token AS d_tok FROM vatoken_create('del-owner', 'Doomed') \gset
SELECT token_id AS k_id, token AS k_tok FROM vatoken_create('del-owner', 'Kept') \gset
SELECT valid FROM vatoken_validate(:'d_tok');
SELECT calls_today FROM vatoken_usage('del-owner', :d_id);

-- Another owner cannot delete it.
SELECT vatoken_delete('someone-else', :d_id) AS deleted_by_other;
SELECT valid FROM vatoken_validate(:'d_tok');

-- The owner can, once.
SELECT vatoken_delete('del-owner', :d_id) AS deleted;
SELECT vatoken_delete('del-owner', :d_id) AS deleted_again;
SELECT valid, status, token_id FROM vatoken_validate(:'d_tok');

-- Its hash and usage are gone; the other token is untouched.
SELECT count(*) AS token_rows FROM vatoken.tokens WHERE token_id = :d_id
    OR token_hash = sha256(convert_to(:'d_tok', 'UTF8'));
SELECT count(*) AS usage_rows FROM vatoken.usage WHERE token_id = :d_id;
SELECT name FROM vatoken_list('del-owner');
SELECT valid, status FROM vatoken_validate(:'k_tok');

-- Ids that never existed.
SELECT vatoken_delete('del-owner', 9223372036854775807) AS deleted_missing;

-- A delete rolled back leaves the token working.
BEGIN;
SELECT vatoken_delete('del-owner', :k_id);
ROLLBACK;
SELECT valid FROM vatoken_validate(:'k_tok');
