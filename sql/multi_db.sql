-- vatoken works in every database of a cluster, each with its own tokens.
SELECT current_database() AS here_db \gset
SELECT token AS here_tok FROM vatoken_create('multi-owner', 'In regression db') \gset
CREATE DATABASE vatoken_second;
\c vatoken_second
CREATE EXTENSION vatoken;
SELECT token AS there_tok, token_id AS there_id FROM vatoken_create('multi-owner', 'In second db') \gset
SELECT valid, status FROM vatoken_validate(:'there_tok');
-- A token of another database is unknown here.
SELECT valid, status FROM vatoken_validate(:'here_tok');
SELECT name, calls_today FROM vatoken_list('multi-owner');
\c :here_db
SELECT valid, status FROM vatoken_validate(:'here_tok');
SELECT valid, status FROM vatoken_validate(:'there_tok');
SELECT name, calls_today FROM vatoken_list('multi-owner');
DROP DATABASE vatoken_second;
