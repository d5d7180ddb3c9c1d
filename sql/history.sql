-- 2.0: refused calls, the last client named and the daily history.  The
-- clock is frozen at Wednesday 2026-06-17 12:00:00 UTC (test/regress.conf);
-- with the preload, every count below is still pending in shared memory
-- when it is read, or already flushed: the answers are the same.
SET timezone = 'UTC';
SELECT current_database() AS db \gset
SELECT token AS h, token_id AS h_id
FROM vatoken_create('hist', 'history', scopes => '{read}', allowed_clients => '{10.0.0.0/8}',
                    rate_limit => 2, rate_window => '1 hour') \gset

-- Two calls are accepted; then the window is full, the scope and the client
-- are wrong: each refusal of a known token counts as rejected.
SELECT status FROM vatoken_verify(:'h', '{read}', '10.1.2.3');
SELECT status FROM vatoken_verify(:'h', '{read}', '10.9.9.9');
SELECT status FROM vatoken_verify(:'h', '{read}', '10.1.2.3');
SELECT status FROM vatoken_verify(:'h', '{write}', '10.1.2.3');
SELECT status FROM vatoken_verify(:'h', '{read}', '192.0.2.1');
-- Input that names no token counts nowhere.
SELECT status FROM vatoken_verify('not a token');
SELECT status FROM vatoken_verify(:'h' || 'x');
SELECT * FROM vatoken_usage_daily('hist', :h_id, '2026-06-15', '2026-06-18');
-- A refused call is not a use: the last use and its client are the second call's.
SELECT last_used_at, last_used_client, calls_today FROM vatoken_list('hist');

-- Disabled, expired and revoked tokens: refused, and counted as such.
SELECT vatoken_update('hist', :h_id, enabled => false);
SELECT status FROM vatoken_verify(:'h', '{read}', '10.1.2.3');
SELECT vatoken_update('hist', :h_id, enabled => true, rate_limit => 0);
SELECT token AS hx, token_id AS hx_id
FROM vatoken_create('hist', 'expired', expires_at => '2026-06-18 00:00:00+00') \gset
UPDATE vatoken.tokens SET expires_at = '2026-06-17 11:00:00+00' WHERE token_id = :hx_id;
SELECT status FROM vatoken_verify(:'hx');
SELECT vatoken_report_leak(:'h');
SELECT status FROM vatoken_verify(:'h', '{read}', '10.1.2.3');
SELECT * FROM vatoken_usage_daily('hist', :h_id, '2026-06-17', '2026-06-17');
SELECT * FROM vatoken_usage_daily('hist', :hx_id, '2026-06-17', '2026-06-17');

-- The client is that of the latest accepted call that named one: a call
-- without a client keeps it, a later call with another replaces it.
SELECT token AS hc, token_id AS hc_id FROM vatoken_create('hist-client', 'any client') \gset
SELECT last_used_at, last_used_client FROM vatoken_list('hist-client');
SELECT status FROM vatoken_verify(:'hc', NULL, '2001:db8::7');
SELECT status FROM vatoken_validate(:'hc');
SELECT last_used_client FROM vatoken_list('hist-client');
SELECT status FROM vatoken_verify(:'hc', NULL, '::ffff:203.0.113.5');
SELECT last_used_client FROM vatoken_list('hist-client');

-- The default range is the 30 days up to today, zero-filled.
SELECT count(*), min(day), max(day), sum(calls), sum(rejected)
FROM vatoken_usage_daily('hist', :h_id);
-- Nothing for another owner's token or a token that does not exist.
SELECT count(*) FROM vatoken_usage_daily('someone-else', :h_id);
SELECT count(*) FROM vatoken_usage_daily('hist', 999999);

-- Days across a month end, as kept in the table (written here directly).
INSERT INTO vatoken.usage (token_id, day, calls, rejected)
VALUES (:hc_id, '2026-05-31', 5, 1), (:hc_id, '2026-06-01', 7, 0);
SELECT * FROM vatoken_usage_daily('hist-client', :hc_id, '2026-05-30', '2026-06-02');
SELECT calls_today, calls_this_month, calls_last_month FROM vatoken_list('hist-client');
-- A range may start before the token existed, up to 3660 days long.
SELECT count(*) FROM vatoken_usage_daily('hist-client', :hc_id, '2016-06-10', '2026-06-17');

-- Days are vatoken.timezone's.  At 2026-03-01 00:30 UTC it is still
-- 28 February in New York: a call made then is that day's there, and the
-- default range ends on that day; read in UTC, the same call is 28
-- February's too (it was counted there), and the range ends on 1 March.
ALTER DATABASE :"db" SET vatoken.timezone = 'America/New_York';
ALTER DATABASE :"db" SET vatoken.debug_now = '2026-03-01 00:30:00+00';
\c
SELECT token AS hz, token_id AS hz_id FROM vatoken_create('hist-zone', 'zones') \gset
SELECT status FROM vatoken_validate(:'hz');
SELECT * FROM vatoken_usage_daily('hist-zone', :hz_id, '2026-02-27', '2026-03-02');
SELECT max(day) FROM vatoken_usage_daily('hist-zone', :hz_id);
ALTER DATABASE :"db" SET vatoken.timezone = 'UTC';
\c
SELECT max(day) FROM vatoken_usage_daily('hist-zone', :hz_id);
SELECT * FROM vatoken_usage_daily('hist-zone', :hz_id, '2026-02-28', '2026-03-01');
ALTER DATABASE :"db" RESET vatoken.timezone;
ALTER DATABASE :"db" RESET vatoken.debug_now;
\c
SET timezone = 'UTC';

-- Bad arguments are errors.
SELECT * FROM vatoken_usage_daily('hist', :h_id, '2026-06-18', '2026-06-17');
SELECT * FROM vatoken_usage_daily('hist', :h_id, '2016-06-09', '2026-06-17');
SELECT * FROM vatoken_usage_daily('hist', :h_id, '-infinity', '2026-06-17');
SELECT * FROM vatoken_usage_daily('hist', :h_id, NULL, 'infinity');
SELECT * FROM vatoken_usage_daily('hist', :h_id, NULL, '4714-11-30 BC');
SELECT * FROM vatoken_usage_daily(NULL, :h_id);
SELECT * FROM vatoken_usage_daily('hist', 0);

-- The test clock may not make a prune remove recent history: set in the
-- future (2200), it moves the cutoff no later than the wall clock puts it,
-- so a row of the real today stays and one of 2000 goes.
SELECT token_id AS hp_id FROM vatoken_create('hist-prune', 'prune') \gset
INSERT INTO vatoken.usage (token_id, day, calls) VALUES (:hp_id, current_date, 1), (:hp_id, '2000-01-01', 1);
ALTER DATABASE :"db" SET vatoken.debug_now = '2200-01-01 00:00:00+00';
\c
SET timezone = 'UTC';
SELECT vatoken_prune() >= 1 AS pruned;
SELECT array_agg(day = current_date) AS kept_only_today FROM vatoken.usage WHERE token_id = :hp_id;
ALTER DATABASE :"db" RESET vatoken.debug_now;
\c
SET timezone = 'UTC';
SELECT vatoken_delete('hist-prune', :hp_id);

-- The settings the flush workers keep from a database's stored settings
-- (its days and its retention) are out of reach of a database owner who is
-- not a superuser.
SELECT d.datdba::regrole AS db_owner FROM pg_database d WHERE d.datname = current_database() \gset
CREATE ROLE vt_db_owner;
ALTER DATABASE :"db" OWNER TO vt_db_owner;
SET ROLE vt_db_owner;
ALTER DATABASE :"db" SET vatoken.usage_retention = '1d';
ALTER DATABASE :"db" SET vatoken.timezone = 'Pacific/Kiritimati';
ALTER DATABASE :"db" SET vatoken.debug_now = '2200-01-01 00:00:00+00';
RESET ROLE;
ALTER DATABASE :"db" OWNER TO :"db_owner";
DROP ROLE vt_db_owner;

SELECT vatoken_delete('hist', :h_id), vatoken_delete('hist', :hx_id),
       vatoken_delete('hist-client', :hc_id), vatoken_delete('hist-zone', :hz_id);
