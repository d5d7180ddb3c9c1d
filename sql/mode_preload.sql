-- The regression suite runs twice (make test): this file runs only with the
-- library preloaded and proves that the fast path is on there (the library
-- in shared_preload_libraries, its launcher running), so that the other
-- files really test counting in shared memory.
SELECT current_setting('shared_preload_libraries') AS preloaded;
DO $$
BEGIN   -- the launcher starts with the server; give it up to 30 s
    FOR i IN 1..300 LOOP
        EXIT WHEN EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'vatoken launcher');
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT count(*) AS launchers FROM pg_stat_activity WHERE backend_type = 'vatoken launcher';
-- A valid call is counted when it happens: a rollback does not take it back,
-- and a read-only transaction can validate.
SELECT token AS m_tok, token_id AS m_id FROM vatoken_create('mode-owner', 'Mode') \gset
BEGIN;
SELECT valid FROM vatoken_validate(:'m_tok');
ROLLBACK;
SELECT calls_today FROM vatoken_usage('mode-owner', :m_id);
BEGIN READ ONLY;
SELECT valid FROM vatoken_validate(:'m_tok');
COMMIT;
SELECT calls_today FROM vatoken_usage('mode-owner', :m_id);
SELECT vatoken_delete('mode-owner', :m_id);
