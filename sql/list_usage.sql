-- vatoken_list: the API settings table, one owner's tokens in creation order.
SELECT token_id AS a_id FROM vatoken_create('list-owner', 'First') \gset
SELECT token_id AS b_id, token AS b_tok FROM vatoken_create('list-owner', 'Second') \gset
SELECT token_id AS c_id FROM vatoken_create('list-owner', 'Third') \gset
SELECT token_id AS other_id FROM vatoken_create('other-owner', 'Not yours') \gset

SELECT name, token_id = :a_id AS is_a, last_used_at, calls_today, calls_this_week,
       calls_this_month, calls_last_month
FROM vatoken_list('list-owner');

-- Calls show up at once, with last_used_at.
SELECT count(*) FROM generate_series(1, 3) g, LATERAL vatoken_validate(:'b_tok' || left(g::text, 0)) v WHERE v.valid;
SELECT name, last_used_at IS NOT NULL AS used, calls_today, calls_this_week,
       calls_this_month, calls_last_month
FROM vatoken_list('list-owner');

-- Another owner sees none of these tokens, and an owner with none gets no rows.
SELECT name FROM vatoken_list('other-owner');
SELECT count(*) FROM vatoken_list('nobody');

-- vatoken_usage: one row for the owner's token, no row otherwise.
SELECT * FROM vatoken_usage('list-owner', :b_id);
SELECT count(*) AS rows_for_other_owner FROM vatoken_usage('list-owner', :other_id);
SELECT count(*) AS rows_for_missing_id FROM vatoken_usage('list-owner', 9223372036854775807);

-- Calendar periods.  Seed one token with a distinct power of two on each of
-- the last 63 days (in vatoken.timezone, UTC here) and compare what vatoken
-- reports with PostgreSQL's own calendar arithmetic for today.  The suite
-- freezes vatoken's clock (vatoken.debug_now in test/regress*.conf), so that
-- a run across midnight gives the same answers.
SELECT token_id AS p_id FROM vatoken_create('period-owner', 'Periods') \gset
SELECT (current_setting('vatoken.debug_now')::timestamptz AT TIME ZONE 'UTC')::date AS today \gset
INSERT INTO vatoken.usage (token_id, day, calls)
SELECT :p_id, :'today'::date - g, (2::numeric ^ g)::bigint
FROM generate_series(0, 62) g;

WITH today AS (SELECT :'today'::date AS d),
expected AS (
    SELECT
        sum(calls) FILTER (WHERE day = t.d) AS today,
        sum(calls) FILTER (WHERE day >= date_trunc('week', t.d)::date AND day <= t.d) AS week,
        sum(calls) FILTER (WHERE day >= date_trunc('month', t.d)::date AND day <= t.d) AS month,
        sum(calls) FILTER (WHERE day >= (date_trunc('month', t.d) - interval '1 month')::date
                             AND day < date_trunc('month', t.d)::date) AS last_month
    FROM vatoken.usage, today t WHERE token_id = :p_id
)
SELECT u.calls_today = e.today AS today_ok,
       u.calls_this_week = e.week AS week_ok,
       u.calls_this_month = e.month AS month_ok,
       u.calls_last_month = e.last_month AS last_month_ok,
       u.calls_last_month > 0 AS last_month_nonzero
FROM vatoken_usage('period-owner', :p_id) u, expected e;

-- vatoken_list reports the same numbers as vatoken_usage.
SELECT (l.calls_today, l.calls_this_week, l.calls_this_month, l.calls_last_month)
     = (u.calls_today, u.calls_this_week, u.calls_this_month, u.calls_last_month) AS list_matches_usage
FROM vatoken_list('period-owner') l, vatoken_usage('period-owner', :p_id) u;

-- Days after today (a clock set back) are not reported as today's calls.
INSERT INTO vatoken.usage VALUES (:p_id, :'today'::date + 1, 1000000);
SELECT calls_today = 1 AS future_day_ignored FROM vatoken_usage('period-owner', :p_id);
