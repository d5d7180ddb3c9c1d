#!/usr/bin/env bash
# demo-walkthrough.sh — the main job end to end against a throwaway cluster.
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

\echo
\echo '-- 5. After the confirmation, the manager deletes the token.'
\echo 'SELECT vatoken_delete(''airline-42'', <token_id>);'
SELECT vatoken_delete('airline-42', :token_id);

\echo
\echo '-- 6. The deleted token is unknown from now on, everywhere.'
SELECT * FROM vatoken_validate(:'token');
SELECT * FROM vatoken_list('airline-42');
SQL

echo
echo "Demo finished; the throwaway cluster is stopped and removed."
