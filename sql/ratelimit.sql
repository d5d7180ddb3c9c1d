-- 2.0: per-token rate limits, exact across sessions.  vatoken's clock is
-- frozen at 2026-06-17 12:00:00 UTC (test/regress.conf): every call below
-- falls in the same window, whose end is known.
SET timezone = 'UTC';
SELECT token AS rl, token_id AS rl_id
FROM vatoken_create('rl', 'three a minute', rate_limit => 3, rate_window => '1 minute') \gset

-- Three calls are accepted, then each is refused until the window ends.
SELECT g, v.valid, v.status, v.rate_limit, v.rate_remaining, v.rate_reset, v.retry_after
FROM generate_series(1, 5) g, LATERAL vatoken_verify(:'rl' || left(g::text, 0)) v ORDER BY g;
SELECT valid, status FROM vatoken_validate(:'rl');
-- A refused call is not an API call.
SELECT calls_today FROM vatoken_usage('rl', :rl_id);

-- Windows are aligned to multiples of their length since the Unix epoch:
-- a 7-second window holding 12:00:00 runs from 11:59:56 to 12:00:03.
SELECT token AS rl7 FROM vatoken_create('rl', 'seven seconds', rate_limit => 1, rate_window => '7 seconds') \gset
SELECT status, rate_remaining, rate_reset, retry_after FROM vatoken_verify(:'rl7');
SELECT status, rate_remaining, rate_reset, retry_after FROM vatoken_verify(:'rl7');
-- A day's window ends at midnight UTC; without a window, a minute.
SELECT token AS rld FROM vatoken_create('rl', 'a day', rate_limit => 1000000, rate_window => '1 day') \gset
SELECT status, rate_remaining, rate_reset FROM vatoken_verify(:'rld');
SELECT token AS rlm FROM vatoken_create('rl', 'default window', rate_limit => 10) \gset
SELECT status, rate_remaining, rate_reset FROM vatoken_verify(:'rlm');

-- Only a call that passes every other check takes from the window.
SELECT token AS rls, token_id AS rls_id
FROM vatoken_create('rl', 'scoped', scopes => '{a}', rate_limit => 1) \gset
SELECT status FROM vatoken_verify(:'rls', '{b}');
SELECT status FROM vatoken_verify(:'rls', '{a}');
SELECT status FROM vatoken_verify(:'rls', '{a}');
SELECT vatoken_update('rl', :rls_id, enabled => false);
SELECT status, rate_limit FROM vatoken_verify(:'rls', '{a}');

-- Without a limit the columns are NULL.
SELECT token AS rln FROM vatoken_create('rl', 'unlimited') \gset
SELECT status, rate_limit, rate_remaining, rate_reset, retry_after FROM vatoken_verify(:'rln');

-- Update: a higher limit in the same window accepts more at once; a new
-- window length starts a new window; rate_limit => 0 removes the limit.
SELECT vatoken_update('rl', :rl_id, rate_limit => 4, rate_window => '1 minute');
SELECT status, rate_remaining FROM vatoken_verify(:'rl');
SELECT status, rate_remaining FROM vatoken_verify(:'rl');
SELECT vatoken_update('rl', :rl_id, rate_limit => 2, rate_window => '1 hour');
SELECT status, rate_remaining, rate_reset FROM vatoken_verify(:'rl');
SELECT name, rate_limit, rate_window FROM vatoken_list('rl') WHERE token_id = :rl_id;
SELECT vatoken_update('rl', :rl_id, rate_limit => 0);
SELECT status, rate_limit FROM vatoken_verify(:'rl');
SELECT name, rate_limit, rate_window FROM vatoken_list('rl') WHERE token_id = :rl_id;

-- Bad limits and windows are errors and create nothing.
SELECT vatoken_create('rl', 'bad', rate_limit => 0);
SELECT vatoken_create('rl', 'bad', rate_limit => 1000001);
SELECT vatoken_create('rl', 'bad', rate_limit => -1);
SELECT vatoken_create('rl', 'bad', rate_limit => 5, rate_window => '0.5 seconds');
SELECT vatoken_create('rl', 'bad', rate_limit => 5, rate_window => '25 hours');
SELECT vatoken_create('rl', 'bad', rate_limit => 5, rate_window => '1 month');
SELECT vatoken_create('rl', 'bad', rate_window => '1 minute');
SELECT vatoken_update('rl', :rl_id, rate_limit => 0, rate_window => '1 minute');
SELECT vatoken_update('rl', :rl_id, rate_window => '1 minute');
SELECT count(*) AS bad_tokens FROM vatoken.tokens WHERE name = 'bad';

-- Retention (vatoken.usage_retention, 400 days by default): vatoken_prune()
-- removes older daily usage, never the current or the previous month.
-- vatoken's clock is frozen at 2026-06-17, so the previous month is May.
SELECT token_id AS pr_id FROM vatoken_create('rl', 'history') \gset
INSERT INTO vatoken.usage (token_id, day, calls)
SELECT :pr_id, d::date, 1
FROM unnest(ARRAY['2025-01-01', '2025-05-13', '2025-05-14', '2026-04-30',
                  '2026-05-01', '2026-06-16']) AS d;
SHOW vatoken.usage_retention;
SELECT vatoken_prune() >= 1 AS pruned;
SELECT day FROM vatoken.usage WHERE token_id = :pr_id ORDER BY day;
SET vatoken.usage_retention = '10d';
SELECT vatoken_prune() >= 3 AS pruned;
SELECT day FROM vatoken.usage WHERE token_id = :pr_id ORDER BY day;
SET vatoken.usage_retention = '1d';
SELECT vatoken_prune() AS pruned;
RESET vatoken.usage_retention;
SELECT calls_this_month, calls_last_month FROM vatoken_usage('rl', :pr_id);
SET vatoken.usage_retention = '12h';
