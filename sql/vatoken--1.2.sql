/* vatoken--1.2.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION vatoken" to load this file. \quit

-- The data lives in a schema of its own that no role but the extension's
-- owner can use; the functions live in the schema chosen at CREATE EXTENSION
-- (by default the first schema of the search_path, usually public) and are
-- the only way in.
CREATE SCHEMA vatoken;
REVOKE ALL ON SCHEMA vatoken FROM PUBLIC;

CREATE SEQUENCE vatoken.tokens_token_id_seq;

-- One row per live token.  Only the SHA-256 of the token is kept; a deleted
-- token's row, and with it its hash and usage, is gone.  A token's use does not
-- update its row: the last use is kept with the daily usage below.
CREATE TABLE vatoken.tokens (
    token_id     bigint      NOT NULL DEFAULT pg_catalog.nextval('vatoken.tokens_token_id_seq'::pg_catalog.regclass),
    owner        text        NOT NULL,
    name         text        NOT NULL,
    token_hash   bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT tokens_pkey PRIMARY KEY (token_id),
    CONSTRAINT tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT tokens_token_hash_check CHECK (pg_catalog.length(token_hash) OPERATOR(pg_catalog.=) 32)
);
ALTER SEQUENCE vatoken.tokens_token_id_seq OWNED BY vatoken.tokens.token_id;
CREATE INDEX tokens_owner_idx ON vatoken.tokens (owner, created_at, token_id);

-- API calls per token and local calendar day (setting vatoken.timezone),
-- and the time of the day's latest call: a token's last use is the latest
-- last_used_at of its rows.
CREATE TABLE vatoken.usage (
    token_id bigint NOT NULL,
    day      date   NOT NULL,
    calls    bigint NOT NULL,
    last_used_at timestamptz,
    CONSTRAINT usage_pkey PRIMARY KEY (token_id, day),
    CONSTRAINT usage_token_id_fkey FOREIGN KEY (token_id)
        REFERENCES vatoken.tokens (token_id) ON DELETE CASCADE,
    CONSTRAINT usage_calls_check CHECK (calls OPERATOR(pg_catalog.>=) 0)
);

REVOKE ALL ON ALL TABLES IN SCHEMA vatoken FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA vatoken FROM PUBLIC;

-- Every change to a token, however it is made, reaches the fast path's
-- per-session caches of tokens (vt_tokcache.c): before each row deleted or
-- updated and before TRUNCATE, this trigger marks the change, and its end
-- empties every session's cache.  Enabled ALWAYS, so that
-- session_replication_role cannot turn it off.  Without the preload it does
-- nothing.
CREATE FUNCTION vatoken.tokens_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'vatoken_tokens_changed'
LANGUAGE C;
REVOKE ALL ON FUNCTION vatoken.tokens_changed() FROM PUBLIC;
CREATE TRIGGER tokens_changed BEFORE UPDATE OR DELETE ON vatoken.tokens
    FOR EACH ROW EXECUTE FUNCTION vatoken.tokens_changed();
CREATE TRIGGER tokens_truncated BEFORE TRUNCATE ON vatoken.tokens
    FOR EACH STATEMENT EXECUTE FUNCTION vatoken.tokens_changed();
ALTER TABLE vatoken.tokens ENABLE ALWAYS TRIGGER tokens_changed,
    ENABLE ALWAYS TRIGGER tokens_truncated;

-- pg_dump keeps tokens, usage and the id sequence.
SELECT pg_catalog.pg_extension_config_dump('vatoken.tokens', '');
SELECT pg_catalog.pg_extension_config_dump('vatoken.usage', '');
SELECT pg_catalog.pg_extension_config_dump('vatoken.tokens_token_id_seq', '');

CREATE FUNCTION @extschema@.vatoken_create(owner text, name text)
RETURNS TABLE (token_id bigint, token text, name text, created_at timestamptz)
AS 'MODULE_PATHNAME', 'vatoken_create'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- The answer of vatoken_validate: one row for any input.
CREATE TYPE @extschema@.vatoken_validate_result AS (
    valid    boolean,
    status   text,
    token_id bigint,
    owner    text,
    name     text
);
REVOKE ALL ON TYPE @extschema@.vatoken_validate_result FROM PUBLIC;

-- vatoken_validate is on every API call's path.  It returns one composite
-- value (no set, no tuplestore), and its declaration does not pin
-- search_path: a SET clause costs every call a configuration save and
-- restore, and no code path of it resolves a name through the caller's
-- search_path (the fast path finds its tables by OID; the transactional path
-- pins search_path itself for its statements, whose every name is qualified).
CREATE FUNCTION @extschema@.vatoken_validate(token text)
RETURNS @extschema@.vatoken_validate_result
AS 'MODULE_PATHNAME', 'vatoken_validate'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER;

CREATE FUNCTION @extschema@.vatoken_list(owner text)
RETURNS TABLE (token_id bigint, name text, created_at timestamptz,
               last_used_at timestamptz, calls_today bigint,
               calls_this_week bigint, calls_this_month bigint,
               calls_last_month bigint)
AS 'MODULE_PATHNAME', 'vatoken_list'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION @extschema@.vatoken_usage(owner text, token_id bigint)
RETURNS TABLE (calls_today bigint, calls_this_week bigint,
               calls_this_month bigint, calls_last_month bigint)
AS 'MODULE_PATHNAME', 'vatoken_usage'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
ROWS 1;

CREATE FUNCTION @extschema@.vatoken_delete(owner text, token_id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'vatoken_delete'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

REVOKE ALL ON FUNCTION @extschema@.vatoken_create(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.vatoken_validate(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.vatoken_list(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.vatoken_usage(text, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.vatoken_delete(text, bigint) FROM PUBLIC;

-- Counting on hot standbys ----------------------------------------------
-- A hot standby with the library preloaded counts its calls and delivers
-- them to the primary in numbered batches through vatoken_deliver, one
-- transaction each.  One row per standby ("node") records the highest batch
-- added and its digest, in the same transaction as its counts: a batch
-- recorded before adds nothing, and another batch under a recorded number
-- (two servers sharing a node id) gets the node refused.  The standby
-- removes a batch from its spool once its own replay shows it recorded.
CREATE TABLE vatoken.forward_nodes (
    node        uuid        NOT NULL,
    last_seq    bigint      NOT NULL DEFAULT 0,
    last_digest bytea       NOT NULL DEFAULT ''::pg_catalog.bytea,
    batches     bigint      NOT NULL DEFAULT 0,
    duplicates  bigint      NOT NULL DEFAULT 0,
    refused_at  timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT forward_nodes_pkey PRIMARY KEY (node)
);
REVOKE ALL ON TABLE vatoken.forward_nodes FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('vatoken.forward_nodes', '');

-- Called by a standby's forwarder only; EXECUTE is granted to a delivery
-- role of your choice (README, "Counting on hot standbys").
CREATE FUNCTION @extschema@.vatoken_deliver(node uuid, seq bigint, batch bytea)
RETURNS text
AS 'MODULE_PATHNAME', 'vatoken_deliver'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.vatoken_deliver(uuid, bigint, bytea) FROM PUBLIC;
