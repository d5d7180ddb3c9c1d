-- CREATE EXTENSION vatoken SCHEMA s puts the functions in s (the data stays in
-- schema vatoken); they work there, called with their schema, in both modes,
-- from a session whose search_path does not include s.
SELECT current_database() AS here_db \gset
CREATE DATABASE vatoken_schema;
\c vatoken_schema
CREATE SCHEMA api;
CREATE EXTENSION vatoken SCHEMA api;
SELECT n.nspname AS function_schema, count(*) AS functions
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.proname LIKE 'vatoken\_%' GROUP BY 1;
SELECT token AS s_tok, token_id AS s_id FROM api.vatoken_create('schema-owner', 'In api') \gset
SELECT valid, status, owner, name FROM api.vatoken_validate(:'s_tok');
SELECT name, calls_today, last_used_at IS NOT NULL AS used FROM api.vatoken_list('schema-owner');
SELECT calls_today FROM api.vatoken_usage('schema-owner', :s_id);
SELECT api.vatoken_delete('schema-owner', :s_id);
SELECT status FROM api.vatoken_validate(:'s_tok');
-- Unqualified, the functions are not found: they are only in api.
SELECT * FROM vatoken_validate('not a token');
\c :here_db
DROP DATABASE vatoken_schema;
