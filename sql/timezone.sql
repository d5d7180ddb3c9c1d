-- Usage is counted per calendar day in vatoken.timezone.
SHOW vatoken.timezone;
SELECT token AS tz_tok, token_id AS tz_id FROM vatoken_create('tz-owner', 'Zones') \gset

-- Kiritimati (UTC+14) and Pago Pago (UTC-11) are 25 hours apart, so their
-- dates always differ: a call counted "today" in one is not today in the other.
SET vatoken.timezone = 'Pacific/Kiritimati';
SELECT valid FROM vatoken_validate(:'tz_tok');
SELECT calls_today FROM vatoken_usage('tz-owner', :tz_id);
SET vatoken.timezone = 'Pacific/Pago_Pago';
SELECT calls_today FROM vatoken_usage('tz-owner', :tz_id);
RESET vatoken.timezone;

-- Unknown zones are refused; only superusers may change the setting.
SELECT vt_try($$SET vatoken.timezone = 'Mars/Olympus_Mons'$$) AS unknown_zone;
CREATE ROLE vt_tz_user;
GRANT EXECUTE ON FUNCTION vt_try(text) TO vt_tz_user;
SET ROLE vt_tz_user;
SELECT vt_try($$SET vatoken.timezone = 'Europe/Berlin'$$) AS non_superuser;
RESET ROLE;
REVOKE ALL ON FUNCTION vt_try(text) FROM vt_tz_user;
DROP ROLE vt_tz_user;
