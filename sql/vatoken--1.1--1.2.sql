/* vatoken--1.1--1.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION vatoken UPDATE TO '1.2'" to load this file. \quit

-- vatoken_list and vatoken_usage read with a snapshot
-- taken when they run (so that they see every committed flush of the counts
-- kept in shared memory), not the statement's: they are volatile.
ALTER FUNCTION @extschema@.vatoken_list(text) VOLATILE;
ALTER FUNCTION @extschema@.vatoken_usage(text, bigint) VOLATILE;

-- vatoken_validate returns one composite value instead of a set of one row
-- (SELECT * FROM vatoken_validate($1) and its column names are unchanged),
-- and its declaration no longer pins search_path (see vatoken--1.2.sql).
-- The return type cannot be altered: the function is re-created, and the
-- EXECUTE privileges granted on it are granted again.
CREATE TYPE @extschema@.vatoken_validate_result AS (
    valid    boolean,
    status   text,
    token_id bigint,
    owner    text,
    name     text
);
REVOKE ALL ON TYPE @extschema@.vatoken_validate_result FROM PUBLIC;

DO $$
DECLARE
    grants text[];
    g text;
BEGIN
    SELECT pg_catalog.array_agg(pg_catalog.format(
               'GRANT EXECUTE ON FUNCTION @extschema@.vatoken_validate(text) TO %s%s',
               CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                    ELSE pg_catalog.quote_ident(r.rolname) END,
               CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END))
      INTO grants
      FROM pg_catalog.pg_proc p
     CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
      LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
     WHERE p.oid OPERATOR(pg_catalog.=) '@extschema@.vatoken_validate(text)'::pg_catalog.regprocedure
       AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
       AND a.grantee OPERATOR(pg_catalog.<>) p.proowner;

    DROP FUNCTION @extschema@.vatoken_validate(text);
    CREATE FUNCTION @extschema@.vatoken_validate(token text)
    RETURNS @extschema@.vatoken_validate_result
    AS 'MODULE_PATHNAME', 'vatoken_validate'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER;
    REVOKE ALL ON FUNCTION @extschema@.vatoken_validate(text) FROM PUBLIC;

    FOREACH g IN ARRAY COALESCE(grants, '{}') LOOP
        EXECUTE g;
    END LOOP;
END
$$;

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
