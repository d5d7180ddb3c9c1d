#!/usr/bin/env bash
# demo-walkthrough.sh — the main job end to end against a throwaway cluster,
# then 2.0's token policy: scopes, client allow-list, expiry, rotation with
# grace, a leak report.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/cluster.sh
vt_cluster_start
echo "Started a throwaway PostgreSQL 15 cluster in $VT_DIR (port $VT_PORT)."
echo

psql "$VT_CONNINFO" -X -q -v ON_ERROR_STOP=1 <<'SQL'
\pset footer off
\echo '-- 1. Install the extension.'
\echo 'CREATE EXTENSION vatoken;'
CREATE EXTENSION vatoken;

\echo
\echo '-- 2. A manager (Can Manage API Settings) creates a token for airline-42.'
\echo '--    The token is shown now and never again; only its SHA-256 is stored.'
\echo 'SELECT * FROM vatoken_create(owner => ''airline-42'', name => ''Discord bot'');'
SELECT * FROM vatoken_create(owner => 'airline-42', name => 'Discord bot') \gset
\echo 'token_id   =' :token_id
\echo 'token      =' :token
\echo 'name       =' :name
\echo 'created_at =' :created_at
SELECT * FROM vatoken_create(owner => 'airline-42', name => 'Website') \g /dev/null

\echo
\echo '-- 3. An API server checks the token on each request; each valid check counts one call.'
\echo 'SELECT * FROM vatoken_validate(''<token>'');   -- three requests'
SELECT * FROM vatoken_validate(:'token');
SELECT * FROM vatoken_validate(:'token') \g /dev/null
SELECT * FROM vatoken_validate(:'token') \g /dev/null
\echo 'A typo is caught by the checksum without a lookup:'
SELECT * FROM vatoken_validate(left(:'token', 52) || CASE WHEN right(:'token', 1) = 'x' THEN 'y' ELSE 'x' END);

\echo
\echo '-- 4. The API settings page: every token with its usage.'
\echo 'SELECT * FROM vatoken_list(''airline-42'');'
SELECT * FROM vatoken_list('airline-42');
\echo 'SELECT * FROM vatoken_usage(''airline-42'', <token_id>);'
SELECT * FROM vatoken_usage('airline-42', :token_id);
\echo 'The last week, day by day (the chart on the page): calls and refused calls.'
\echo 'SELECT * FROM vatoken_usage_daily(''airline-42'', <token_id>, current_date - 6);'
SELECT * FROM vatoken_usage_daily('airline-42', :token_id, current_date - 6);

\echo
\echo '-- 5. After the confirmation, the manager deletes the token.'
\echo 'SELECT vatoken_delete(''airline-42'', <token_id>);'
SELECT vatoken_delete('airline-42', :token_id);

\echo
\echo '-- 6. The deleted token is unknown from now on, everywhere.'
SELECT * FROM vatoken_validate(:'token');
SELECT token_id, name, status FROM vatoken_list('airline-42');

\echo
\echo '-- 7. 2.0: a token with a policy: the scopes it grants, the networks it may be used from.'
\echo 'SELECT * FROM vatoken_create(''airline-42'', ''Ops dashboard'','
\echo '                             scopes => ''{flights:read,ops:*}'', allowed_clients => ''{10.0.0.0/8}'');'
SELECT token AS ops_token, token_id AS ops_id FROM vatoken_create('airline-42', 'Ops dashboard',
    scopes => '{flights:read,ops:*}', allowed_clients => '{10.0.0.0/8}') \gset
\echo 'The API server passes the scopes the call needs and the caller''s address:'
\echo 'SELECT status FROM vatoken_verify(''<token>'', scopes => ..., client => ...);'
SELECT c.call, v.status
FROM (VALUES ('GET /flights from 10.1.2.3',    '{flights:read}'::text[], '10.1.2.3'::inet),
             ('POST /ops/restart from 10.1.2.3', '{ops:restart}',          '10.1.2.3'),
             ('POST /pireps from 10.1.2.3',     '{pireps:write}',         '10.1.2.3'),
             ('GET /flights from 192.0.2.7',    '{flights:read}',         '192.0.2.7')) AS c(call, scopes, client),
     LATERAL vatoken_verify(:'ops_token', c.scopes, c.client) AS v;

\echo
\echo '-- 8. Expiry: the manager gives the token one more second.'
\echo 'SELECT vatoken_update(''airline-42'', <token_id>, expires_at => now() + interval ''1 second'');'
SELECT vatoken_update('airline-42', :ops_id, expires_at => now() + interval '1 second') \g /dev/null
SELECT 'now' AS checked, status FROM vatoken_verify(:'ops_token', '{flights:read}', '10.1.2.3');
SELECT pg_sleep(1.2) \g /dev/null
SELECT '1.2 s later' AS checked, status FROM vatoken_verify(:'ops_token', '{flights:read}', '10.1.2.3');

\echo
\echo '-- 9. Rotation: a new secret for the same token; the old one keeps working for an hour.'
SELECT token AS ci_old, token_id AS ci_id FROM vatoken_create('airline-42', 'CI pipeline') \gset
\echo 'SELECT token, previous_valid_until FROM vatoken_rotate(''airline-42'', <token_id>, grace => ''1 hour'');'
SELECT token AS ci_new, previous_valid_until FROM vatoken_rotate('airline-42', :ci_id, grace => '1 hour') \gset
\echo 'previous_valid_until =' :previous_valid_until
SELECT 'old secret' AS secret, status FROM vatoken_verify(:'ci_old')
UNION ALL
SELECT 'new secret', status FROM vatoken_verify(:'ci_new');

\echo
\echo '-- 10. The new secret shows up in a public repository: a secret scanner reports it.'
\echo 'SELECT vatoken_report_leak(''<token>'', source => ''github-secret-scanning'');'
SELECT vatoken_report_leak(:'ci_new', source => 'github-secret-scanning') \g /dev/null
\echo 'It is revoked for good, under both secrets; the settings page says why:'
SELECT 'old secret' AS secret, status FROM vatoken_verify(:'ci_old')
UNION ALL
SELECT 'new secret', status FROM vatoken_verify(:'ci_new');
SELECT name, status, revoked_reason FROM vatoken_list('airline-42');
SQL

echo
echo "Demo finished; the throwaway cluster is stopped and removed."
