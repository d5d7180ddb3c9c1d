-- 2.0: a policy on each token (expiry, scopes, client allow-list, disable)
-- and vatoken_verify.  vatoken's clock is frozen at 2026-06-17 12:00 UTC
-- (test/regress.conf), so expiries are written around it.
SET timezone = 'UTC';

-- Create: the policy is optional; two arguments work as in 1.x.
SELECT token AS p_plain, token_id AS p_plain_id FROM vatoken_create('pol', 'plain') \gset
SELECT name, expires_at FROM vatoken_create('pol', 'two args');
SELECT token AS p_full, token_id AS p_full_id, expires_at AS p_full_expires
FROM vatoken_create('pol', 'full', '2026-07-01 00:00+00', '{flights:read,ops:*}',
                    '{10.0.0.0/8,2001:db8::/32}') \gset
SELECT :'p_full_expires' AS expires_at;

-- verify: one row for any input.
SELECT * FROM vatoken_verify(NULL);
SELECT valid, status FROM vatoken_verify('vat_nonsense');
SELECT valid, status, token_id = :p_plain_id AS same_id, owner, name, scopes, expires_at
FROM vatoken_verify(:'p_plain');
SELECT valid, status, name, scopes, expires_at FROM vatoken_verify(:'p_full', '{flights:read}', '10.1.2.3');

-- Scopes: exact, prefix with ":*", every scope with "*"; a malformed
-- required scope is never granted, and is no error.
SELECT s AS required, (vatoken_verify(:'p_full', s, '10.1.2.3')).status
FROM (VALUES ('{}'::text[]), (NULL), ('{flights:read}'), ('{flights:write}'),
             ('{ops:read}'), ('{ops:read:all}'), ('{ops}'), ('{ops:}'),
             ('{flights:read,ops:read}'), ('{flights:read,pireps:read}'),
             ('{*}'), ('{ops:*}'), ('{"bad scope"}'), ('{NULL}')) AS r(s);
SELECT (vatoken_verify(:'p_plain', '{anything,ops:read}')).status AS every_scope;

-- Clients: in a listed network, outside, unknown (NULL fails closed),
-- IPv6, and an IPv4-mapped IPv6 address.
SELECT c AS client, (vatoken_verify(:'p_full', '{}', c)).status
FROM (VALUES ('10.255.0.1'::inet), ('11.0.0.1'), (NULL), ('2001:db8:1::5'),
             ('2001:db9::1'), ('::ffff:10.0.0.7'), ('::ffff:11.0.0.7')) AS v(c);
SELECT (vatoken_verify(:'p_plain', '{}', '192.0.2.1')).status AS any_client;

-- vatoken_validate answers with the same statuses (no scope, no client).
SELECT valid, status FROM vatoken_validate(:'p_full');

-- Only valid calls count.
SELECT calls_today AS full_calls FROM vatoken_usage('pol', :p_full_id);

-- Expiry: at the expiry instant the token is expired (a superuser moves it
-- there by hand; the API refuses expiries in the past).
UPDATE vatoken.tokens SET expires_at = '2026-06-17 12:00:00+00' WHERE token_id = :p_plain_id;
SELECT valid, status, token_id = :p_plain_id AS same_id, expires_at FROM vatoken_verify(:'p_plain');
UPDATE vatoken.tokens SET expires_at = '2026-06-17 12:00:00.000001+00' WHERE token_id = :p_plain_id;
SELECT valid, status FROM vatoken_verify(:'p_plain');

-- Update: NULL leaves a field unchanged; infinity removes the expiry;
-- '{*}' grants every scope; '{0.0.0.0/0,::/0}' allows any client.
SELECT vatoken_update('pol', :p_full_id, name => 'full, renamed');
SELECT name, expires_at, status, scopes, allowed_clients, hint IS NOT NULL AS has_hint
FROM vatoken_list('pol') WHERE token_id = :p_full_id;
SELECT vatoken_update('pol', :p_full_id, expires_at => 'infinity', scopes => '{*}',
                      allowed_clients => '{0.0.0.0/0,::/0}');
SELECT name, expires_at, status, scopes, allowed_clients
FROM vatoken_list('pol') WHERE token_id = :p_full_id;
SELECT valid, status FROM vatoken_verify(:'p_full', '{pireps:write}');

-- Disable and enable.
SELECT vatoken_update('pol', :p_full_id, enabled => false);
SELECT valid, status FROM vatoken_verify(:'p_full');
SELECT status FROM vatoken_list('pol') WHERE token_id = :p_full_id;
SELECT vatoken_update('pol', :p_full_id, enabled => true);
SELECT valid, status FROM vatoken_verify(:'p_full');

-- Another owner's token, or one that does not exist: false, nothing changes.
SELECT vatoken_update('someone-else', :p_full_id, enabled => false);
SELECT vatoken_update('pol', 999999, enabled => false);
SELECT valid FROM vatoken_verify(:'p_full');

-- The list shows each token's policy and its hint (its last four characters).
SELECT name, status, scopes, allowed_clients, hint = right(:'p_full', 4) AS hint_matches
FROM vatoken_list('pol') WHERE token_id = :p_full_id;
SELECT count(*) AS listed, count(*) FILTER (WHERE status = 'active') AS active
FROM vatoken_list('pol');


-- vatoken_report_leak revokes a live token at once and for good, and
-- answers nothing, whatever the input.
SELECT token AS p_leak, token_id AS p_leak_id FROM vatoken_create('pol', 'leaky') \gset
SELECT valid FROM vatoken_verify(:'p_leak');
SELECT vatoken_report_leak(:'p_leak', E'secret scanning:\npublic repository');
SELECT valid, status, token_id = :p_leak_id AS same_id FROM vatoken_verify(:'p_leak');
SELECT valid, status FROM vatoken_validate(:'p_leak');
SELECT status, revoked_reason, revoked_at IS NOT NULL AS when_known
FROM vatoken_list('pol') WHERE token_id = :p_leak_id;
SELECT vatoken_update('pol', :p_leak_id, enabled => true);
SELECT vatoken_report_leak(:'p_leak', 'a second report');
SELECT status, revoked_reason FROM vatoken_list('pol') WHERE token_id = :p_leak_id;
SELECT valid, status FROM vatoken_verify(:'p_leak');
SELECT count(*) AS reports_without_error FROM (
    SELECT vatoken_report_leak(NULL) UNION ALL
    SELECT vatoken_report_leak('vat_x', NULL) UNION ALL
    SELECT vatoken_report_leak(repeat('a', 1000000), repeat('b', 1000)) UNION ALL
    SELECT vatoken_report_leak(left(:'p_full', 52) || 'x')) AS reports;
SELECT valid FROM vatoken_verify(:'p_full');
SELECT vatoken_delete('pol', :p_leak_id);

-- vatoken_rotate: a new secret for the same token id; name, policy and
-- usage continue.  Without grace the old secret is unknown at once.
CREATE FUNCTION vatoken_check_format(t text) RETURNS boolean LANGUAGE sql
    AS $$ SELECT t ~ '^vat_[0-9A-Za-z]{49}$' $$;
SELECT token AS r_old, token_id AS r_id FROM vatoken_create('pol', 'rotating', scopes => '{ops:*}') \gset
SELECT valid FROM vatoken_verify(:'r_old');
CREATE TEMP TABLE rot1 AS SELECT * FROM vatoken_rotate('pol', :r_id);
SELECT token_id = :r_id AS same_id, token <> :'r_old' AS new_secret,
       vatoken_check_format(token) AS well_formed, previous_valid_until FROM rot1;
SELECT token AS r_new FROM rot1 \gset
SELECT (vatoken_verify(:'r_old')).status AS old_secret,
       (vatoken_verify(:'r_new', '{ops:read}')).status AS new_secret,
       (vatoken_verify(:'r_new', '{pireps:read}')).status AS policy_kept;
SELECT name, scopes, hint = right(:'r_new', 4) AS new_hint FROM vatoken_list('pol') WHERE token_id = :r_id;
SELECT calls_today AS calls_across_secrets FROM vatoken_usage('pol', :r_id);

-- With a grace period the previous secret stays valid until it ends ...
CREATE TEMP TABLE rot2 AS SELECT * FROM vatoken_rotate('pol', :r_id, '1 hour');
SELECT previous_valid_until FROM rot2;
SELECT token AS r_newer FROM rot2 \gset
SELECT (vatoken_verify(:'r_new')).status AS previous, (vatoken_verify(:'r_newer')).status AS current,
       (vatoken_verify(:'r_old')).status AS older;
-- ... and is unknown from the instant it ends (moved there by hand).
UPDATE vatoken.tokens SET previous_valid_until = '2026-06-17 12:00+00' WHERE token_id = :r_id;
SELECT valid, status, token_id FROM vatoken_verify(:'r_new');
-- Rotating again during a grace period ends the older secret at once.
UPDATE vatoken.tokens SET previous_valid_until = '2026-06-17 13:00+00' WHERE token_id = :r_id;
SELECT (vatoken_verify(:'r_new')).status AS previous_in_grace;
CREATE TEMP TABLE rot3 AS SELECT * FROM vatoken_rotate('pol', :r_id, '10 minutes');
SELECT token AS r_newest FROM rot3 \gset
SELECT (vatoken_verify(:'r_new')).status AS older, (vatoken_verify(:'r_newer')).status AS previous,
       (vatoken_verify(:'r_newest')).status AS current;
SELECT calls_today AS calls_across_secrets FROM vatoken_usage('pol', :r_id);

-- The grace never outlasts the token's expiry.
SELECT token AS r_exp, token_id AS r_exp_id FROM vatoken_create('pol', 'expiring', '2026-06-17 12:30+00') \gset
SELECT previous_valid_until FROM vatoken_rotate('pol', :r_exp_id, '1 day');

-- A leaked previous secret still in its grace revokes the token; a revoked
-- token cannot be rotated.  Another owner's token, or none: no row.
SELECT vatoken_report_leak(:'r_newer', 'scanner');
SELECT (vatoken_verify(:'r_newest')).status AS current_after_leak;
\set VERBOSITY default
SELECT * FROM vatoken_rotate('pol', :r_id);
\set VERBOSITY terse
SELECT count(*) AS rows FROM vatoken_rotate('someone-else', :r_exp_id);
SELECT count(*) AS rows FROM vatoken_rotate('pol', 999999);
SELECT * FROM vatoken_rotate('pol', :r_exp_id, '-1 minute');
SELECT (vatoken_verify(:'r_exp')).status AS unchanged_after_errors;

-- Bad policy arguments are errors (22023, or 22004 for NULL elements) and
-- create nothing.
\set VERBOSITY default
SELECT vatoken_create('pol', 'bad', scopes => '{"ops read"}');
SELECT vatoken_create('pol', 'bad', scopes => '{ops*}');
SELECT vatoken_create('pol', 'bad', scopes => '{NULL}');
SELECT vatoken_create('pol', 'bad', allowed_clients => '{}');
SELECT vatoken_create('pol', 'bad', allowed_clients => '{NULL}');
SELECT vatoken_create('pol', 'bad', scopes => array_agg('s' || g)) FROM generate_series(1, 101) g;
SELECT count(*) FROM vatoken_create('pol', 'many scopes', scopes => (SELECT array_agg('s' || g) FROM generate_series(1, 100) g));
SELECT vatoken_create('pol', 'bad', allowed_clients => array_agg(('10.0.' || g || '.0/24')::cidr))
FROM generate_series(1, 101) g;
SELECT vatoken_create('pol', 'bad', expires_at => '2026-06-17 11:59+00');
SELECT vatoken_create('pol', 'bad', expires_at => '-infinity');
SELECT vatoken_update('pol', :p_full_id, scopes => '{x:*:y}');
SELECT vatoken_update('pol', :p_full_id, expires_at => '2020-01-01');
\set VERBOSITY terse
SELECT count(*) AS tokens_named_bad FROM vatoken.tokens WHERE name = 'bad';

-- vatoken.max_lifetime: without an expiry a token gets the longest allowed;
-- a later one, or none, is an error.  Only a superuser may set it.
SET vatoken.max_lifetime = '30d';
SELECT expires_at FROM vatoken_create('pol', 'capped');
SELECT expires_at FROM vatoken_create('pol', 'capped', '2026-07-01 00:00+00');
SELECT vatoken_create('pol', 'too long', '2026-08-01 00:00+00');
SELECT vatoken_create('pol', 'no expiry', 'infinity');
SELECT vatoken_update('pol', :p_full_id, expires_at => 'infinity');
RESET vatoken.max_lifetime;
CREATE ROLE pol_app;
SET ROLE pol_app;
SET vatoken.max_lifetime = '1d';
RESET ROLE;
DROP ROLE pol_app;
