-- The regression suite runs twice (make test): this file runs only in the
-- transactional mode and proves that the library is not preloaded there, so
-- that the other files really test counting in transactions.
SELECT current_setting('shared_preload_libraries') AS preloaded;
SELECT count(*) AS launchers FROM pg_stat_activity WHERE backend_type = 'vatoken launcher';
-- A valid call writes its count in the caller's transaction: a rollback
-- takes it back.
SELECT token AS m_tok, token_id AS m_id FROM vatoken_create('mode-owner', 'Mode') \gset
BEGIN;
SELECT valid FROM vatoken_validate(:'m_tok');
ROLLBACK;
SELECT calls_today FROM vatoken_usage('mode-owner', :m_id);
SELECT valid FROM vatoken_validate(:'m_tok');
SELECT calls_today FROM vatoken_usage('mode-owner', :m_id);
SELECT vatoken_delete('mode-owner', :m_id);

-- vatoken_stats(): without the fast path, one row for this database that
-- says so, and nothing else.
SELECT datname = current_database() AS this_db, fast_path,
       num_nulls(counters, counters_capacity, calls_counted, calls_pending, flushes,
                 last_flush_at, last_flush_duration, flush_errors, last_flush_error_at,
                 undelivered_batches, delivery_lag) AS null_columns
FROM vatoken_stats();
