-- vatoken_stats() with the fast path (this file runs with the library
-- preloaded only; mode_plain.sql has the row without it).  Nothing here
-- depends on timing: each wait polls for a state, and what is compared are
-- exact differences of calls.
CREATE VIEW stats_here AS
    SELECT * FROM vatoken_stats() s WHERE s.datname = current_database();
-- Poll (up to 30 s) until cond, an expression over stats_here, holds.
CREATE FUNCTION stats_wait(cond text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE ok boolean;
BEGIN
    FOR i IN 1..300 LOOP
        EXECUTE 'SELECT ' || cond || ' FROM stats_here' INTO ok;
        IF ok THEN RETURN true; END IF;
        PERFORM pg_sleep(0.1);
    END LOOP;
    RETURN false;
END $$;

-- One row for this database, with the fast path on; the capacity is
-- vatoken.max_counters.
SELECT count(*) AS rows_here FROM stats_here;
SELECT fast_path, counters_capacity = current_setting('vatoken.max_counters')::int AS capacity_is_setting,
       datid = (SELECT oid FROM pg_database WHERE datname = current_database()) AS datid_matches,
       undelivered_batches IS NULL AS not_a_standby, delivery_lag IS NULL AS no_lag
FROM stats_here;

SELECT token AS s_tok, token_id AS s_id FROM vatoken_create('stats-owner', 'Stats') \gset
SELECT stats_wait('calls_pending = 0') AS settled;
CREATE TEMP TABLE s0 AS SELECT * FROM stats_here;

-- 1. Every valid call is counted at once: calls_counted (flushed + pending)
-- rises by exactly the calls made, whether or not a flush ran meanwhile.
-- Rejected calls are not counted.
SELECT count(*) FILTER (WHERE (vatoken_validate(:'s_tok')).valid) AS valid_calls
FROM generate_series(1, 25);
SELECT valid FROM vatoken_validate('vat_not_a_token');
SELECT s.calls_counted - s0.calls_counted AS new_calls, s.calls_pending <= 25 AS pending_at_most_new
FROM stats_here s, s0;

-- 2. The flusher writes them: nothing pending, still the same total, one
-- flush more, its time and duration known, no error.
SELECT stats_wait('calls_pending = 0') AS flushed;
SELECT s.calls_counted - s0.calls_counted AS new_calls, s.calls_pending, s.counters,
       s.flushes > s0.flushes AS flushes_rose, s.last_flush_at IS NOT NULL AS flushed_at_known,
       s.last_flush_at >= coalesce(s0.last_flush_at, '-infinity') AS later,
       s.last_flush_duration >= '0' AS duration_known, s.flush_errors - s0.flush_errors AS new_errors
FROM stats_here s, s0;
SELECT calls_today FROM vatoken_usage('stats-owner', :s_id);

-- 3. A flush that fails is counted (here a trigger on vatoken.usage, which
-- the flusher's writes fire); the calls stay pending, and are written once
-- the cause is gone.
CREATE FUNCTION stats_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'stats test: usage writes refused'; END $$;
CREATE TRIGGER stats_refuse BEFORE INSERT OR UPDATE ON vatoken.usage
    FOR EACH ROW EXECUTE FUNCTION stats_refuse();
SELECT valid FROM vatoken_validate(:'s_tok');
SELECT stats_wait(format('flush_errors > %s', flush_errors)) AS error_counted FROM s0;
SELECT s.calls_pending AS still_pending, s.last_flush_error_at IS NOT NULL AS error_at_known
FROM stats_here s;
DROP TRIGGER stats_refuse ON vatoken.usage;
DROP FUNCTION stats_refuse();
SELECT stats_wait('calls_pending = 0') AS flushed_after_fix;
SELECT s.calls_counted - s0.calls_counted AS new_calls FROM stats_here s, s0;
SELECT calls_today FROM vatoken_usage('stats-owner', :s_id);

-- 4. Privileges: nobody but the owner may call it until granted.
CREATE ROLE vt_stats_nobody;
CREATE ROLE vt_stats_monitor;
GRANT EXECUTE ON FUNCTION vatoken_stats() TO vt_stats_monitor;
GRANT EXECUTE ON FUNCTION vt_try(text) TO vt_stats_nobody, vt_stats_monitor;
SET ROLE vt_stats_nobody;
SELECT vt_try('SELECT * FROM vatoken_stats()') AS nobody_reads_stats;
RESET ROLE;
SET ROLE vt_stats_monitor;
SELECT vt_try('SELECT * FROM vatoken_stats()') AS monitor_reads_stats;
RESET ROLE;
REVOKE EXECUTE ON FUNCTION vt_try(text) FROM vt_stats_nobody, vt_stats_monitor;
REVOKE EXECUTE ON FUNCTION vatoken_stats() FROM vt_stats_monitor;
DROP ROLE vt_stats_nobody;
DROP ROLE vt_stats_monitor;

SELECT vatoken_delete('stats-owner', :s_id);
DROP FUNCTION stats_wait(text);
DROP VIEW stats_here;
