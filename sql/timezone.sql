-- Usage is counted per calendar day in vatoken.timezone, which comes from the
-- server's or the database's settings, never from a session.
SHOW vatoken.timezone;
SELECT token AS tz_tok, token_id AS tz_id FROM vatoken_create('tz-owner', 'Zones') \gset
SELECT current_database() AS db \gset

-- Kiritimati (UTC+14) and Pago Pago (UTC-11) are 25 hours apart, so their
-- dates always differ: a call counted "today" in one is not today in the other.
ALTER DATABASE :"db" SET vatoken.timezone = 'Pacific/Kiritimati';
\c
SHOW vatoken.timezone;
SELECT valid FROM vatoken_validate(:'tz_tok');
SELECT calls_today FROM vatoken_usage('tz-owner', :tz_id);
ALTER DATABASE :"db" SET vatoken.timezone = 'Pacific/Pago_Pago';
\c
SELECT calls_today FROM vatoken_usage('tz-owner', :tz_id);
ALTER DATABASE :"db" RESET vatoken.timezone;
\c
SHOW vatoken.timezone;

-- Week and month edges in other zones.  One call at 2026-03-01 00:30 UTC, a
-- Sunday: in New York it is still Saturday 28 February, so the call counts on
-- that day.  Read at the same instant in UTC (Sunday 1 March), the call is
-- last month's but still this week's; read in Berlin at 23:30 UTC (Monday 2
-- March 00:30 there), it is neither this week's nor this month's.
ALTER DATABASE :"db" SET vatoken.timezone = 'America/New_York';
ALTER DATABASE :"db" SET vatoken.debug_now = '2026-03-01 00:30:00+00';
\c
SELECT token AS edge_tok, token_id AS edge_id FROM vatoken_create('edge-owner', 'Edges') \gset
SELECT valid FROM vatoken_validate(:'edge_tok');
SELECT 'New York' AS zone, * FROM vatoken_usage('edge-owner', :edge_id);
ALTER DATABASE :"db" SET vatoken.timezone = 'UTC';
\c
SELECT 'UTC' AS zone, * FROM vatoken_usage('edge-owner', :edge_id);
ALTER DATABASE :"db" SET vatoken.timezone = 'Europe/Berlin';
ALTER DATABASE :"db" SET vatoken.debug_now = '2026-03-01 23:30:00+00';
\c
SELECT 'Berlin' AS zone, * FROM vatoken_usage('edge-owner', :edge_id);
ALTER DATABASE :"db" RESET vatoken.timezone;
ALTER DATABASE :"db" RESET vatoken.debug_now;
\c
SELECT vatoken_delete('edge-owner', :edge_id);

-- A session cannot move the day its calls count under: SET, SET LOCAL and a
-- function's SET clause are refused, even for a superuser.  (Once the
-- library is loaded: before, SET only sets a placeholder, which the library
-- refuses in the same way when it loads.)
SELECT count(*) FROM vatoken_list('nobody');
SELECT vt_try($$SET vatoken.timezone = 'Pacific/Kiritimati'$$) AS session_set;
SELECT vt_try($$SET LOCAL vatoken.timezone = 'Pacific/Kiritimati'$$) AS session_set_local;
SELECT vt_try($$SET vatoken.debug_now = '2030-01-01 00:00:00+00'$$) AS session_set_clock;
SELECT vt_try($f$CREATE FUNCTION tz_in_kiritimati() RETURNS text LANGUAGE sql
    SET vatoken.timezone = 'Pacific/Kiritimati' AS $$ SELECT 'ran' $$$f$) AS function_set;
SHOW vatoken.timezone;

-- Only superusers may change the setting.
CREATE ROLE vt_tz_user;
GRANT EXECUTE ON FUNCTION vt_try(text) TO vt_tz_user;
SET ROLE vt_tz_user;
SELECT vt_try($$SET vatoken.timezone = 'Europe/Berlin'$$) AS non_superuser;
RESET ROLE;
REVOKE ALL ON FUNCTION vt_try(text) FROM vt_tz_user;
DROP ROLE vt_tz_user;
