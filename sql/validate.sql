-- vatoken_validate: exactly one row for any input, never an error.
SELECT token AS tok FROM vatoken_create('airline-42', 'validate test') \gset

SELECT valid, status, owner, name, token_id IS NOT NULL AS has_id
FROM vatoken_validate(:'tok');

-- Malformed input is rejected by format and checksum alone.
SELECT label, v.valid, v.status, v.token_id, v.owner, v.name
FROM (VALUES
    ('null', NULL),
    ('empty', ''),
    ('prefix only', 'vat_'),
    ('upper case', upper(:'tok')),
    ('lower case', lower(:'tok')),
    ('leading space', ' ' || :'tok'),
    ('trailing space', :'tok' || ' '),
    ('trailing newline', :'tok' || E'\n'),
    ('one char short', left(:'tok', 52)),
    ('one char more', :'tok' || 'a'),
    ('wrong checksum', left(:'tok', 52) || CASE WHEN right(:'tok', 1) = 'a' THEN 'b' ELSE 'a' END),
    ('typo in secret', left(:'tok', 10) || CASE WHEN substr(:'tok', 11, 1) = 'x' THEN 'y' ELSE 'x' END || substr(:'tok', 12)),
    ('wrong prefix', 'tok_' || substr(:'tok', 5)),
    ('multibyte', 'vat_' || repeat('é', 49)),
    ('sql injection', $$vat_' OR '1'='1$$),
    ('one megabyte', repeat('a', 1024 * 1024)),
    ('random', md5('x') || md5('y'))
) AS input(label, token),
LATERAL vatoken_validate(input.token) v;

-- Malformed tokens are answered without reading any table; a well-formed
-- one (never validated before, so not in the session's cache) is looked up.
SELECT token AS fresh, token_id AS fresh_id FROM vatoken_create('airline-42', 'fresh') \gset
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT count(*) FROM vatoken_validate('vat_' || repeat('0', 49));
SELECT count(*) FROM vatoken_validate(left(:'tok', 52) || '!');
SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS table_reads
FROM pg_stat_xact_user_tables WHERE relid = 'vatoken.tokens'::regclass;
SELECT valid FROM vatoken_validate(:'fresh');
SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) > 0 AS table_read
FROM pg_stat_xact_user_tables WHERE relid = 'vatoken.tokens'::regclass;
COMMIT;
SELECT vatoken_delete('airline-42', :fresh_id);

-- Each valid call counts one API call; invalid ones count nothing.
SELECT token_id AS tok_id FROM vatoken_validate(:'tok') \gset
SELECT calls_today FROM vatoken_usage('airline-42', :tok_id);
SELECT count(*) FROM generate_series(1, 10) g, LATERAL vatoken_validate(:'tok' || left(g::text, 0)) v WHERE v.valid;
SELECT calls_today FROM vatoken_usage('airline-42', :tok_id);
SELECT valid FROM vatoken_validate(upper(:'tok'));
SELECT calls_today FROM vatoken_usage('airline-42', :tok_id);

-- A well-formed token that was never issued here (it was deleted) is unknown.
SELECT token AS gone, token_id AS gone_id FROM vatoken_create('airline-42', 'short-lived') \gset
SELECT vatoken_delete('airline-42', :gone_id);
SELECT valid, status, token_id, owner, name FROM vatoken_validate(:'gone');
