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

-- 2.0: refused calls and the client named are flushed into the day's row
-- with the accepted calls, and read once, before and after the flush.
SELECT token AS f_tok, token_id AS f_id
FROM vatoken_create('mode-owner', 'Flushed', scopes => '{read}') \gset
SELECT status FROM vatoken_verify(:'f_tok', '{read}', '198.51.100.7');
SELECT status FROM vatoken_verify(:'f_tok', '{read}');
SELECT status FROM vatoken_verify(:'f_tok', '{write}', '198.51.100.8');
SELECT calls, rejected FROM vatoken_usage_daily('mode-owner', :f_id, '2026-06-17', '2026-06-17');
DO $$
BEGIN   -- the flush interval is 100 ms (test/regress-preload.conf); up to 30 s
    FOR i IN 1..300 LOOP
        EXIT WHEN EXISTS (SELECT FROM vatoken.usage u JOIN vatoken.tokens t USING (token_id)
                          WHERE t.name = 'Flushed' AND u.calls = 2 AND u.rejected = 1);
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT u.calls, u.rejected, u.last_used_client, u.last_client_at = u.last_used_at AS client_at_last_use
FROM vatoken.usage u WHERE u.token_id = :f_id;
SELECT calls, rejected FROM vatoken_usage_daily('mode-owner', :f_id, '2026-06-17', '2026-06-17');
SELECT last_used_client, calls_today FROM vatoken_list('mode-owner') WHERE token_id = :f_id;
SELECT vatoken_delete('mode-owner', :f_id);
