/* vatoken--2.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION vatoken" to load this file. \quit

-- The data lives in a schema of its own that no role but the extension's
-- owner can use; the functions live in the schema chosen at CREATE EXTENSION
-- (by default the first schema of the search_path, usually public) and are
-- the only way in.
CREATE SCHEMA vatoken;
REVOKE ALL ON SCHEMA vatoken FROM PUBLIC;

CREATE SEQUENCE vatoken.tokens_token_id_seq;

-- One row per live token.  Only SHA-256 hashes of its secrets are kept: the
-- first secret's (token_hash, the token's identity, whose first 8 bytes tag
-- its counters), the current one's (secret_hash) and, for a grace period
-- after a rotation, the previous one's.  A deleted token's row, and with it
-- its hashes and usage, is gone.  A token's use does not
-- update its row: the last use is kept with the daily usage below.
CREATE TABLE vatoken.tokens (
    token_id     bigint      NOT NULL DEFAULT pg_catalog.nextval('vatoken.tokens_token_id_seq'::pg_catalog.regclass),
    owner        text        NOT NULL,
    name         text        NOT NULL,
    token_hash   bytea       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    -- 2.0: the token's policy.  NULL expires_at: never expires; scopes
    -- '{*}': every scope; NULL allowed_clients: any client; disabled_at set:
    -- disabled.  hint: the token's last four characters (NULL for tokens
    -- issued before 2.0).
    expires_at      timestamptz,
    scopes          text[]      NOT NULL DEFAULT '{*}',
    allowed_clients cidr[],
    disabled_at     timestamptz,
    hint            text,
    -- Revoked (irreversibly) when the token was reported leaked, and by whom.
    revoked_at      timestamptz,
    revoked_source  text,
    -- Rotation: the current secret, and the previous one until its grace ends.
    secret_hash          bytea NOT NULL,
    previous_hash        bytea,
    previous_valid_until timestamptz,
    -- At most rate_limit calls in each fixed window of rate_window.
    rate_limit           integer,
    rate_window          interval,
    CONSTRAINT tokens_pkey PRIMARY KEY (token_id),
    CONSTRAINT tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT tokens_token_hash_check CHECK (pg_catalog.length(token_hash) OPERATOR(pg_catalog.=) 32),
    CONSTRAINT tokens_secret_hash_key UNIQUE (secret_hash),
    CONSTRAINT tokens_previous_hash_key UNIQUE (previous_hash),
    CONSTRAINT tokens_secret_hash_check CHECK (pg_catalog.length(secret_hash) OPERATOR(pg_catalog.=) 32),
    CONSTRAINT tokens_previous_hash_check CHECK (pg_catalog.length(previous_hash) OPERATOR(pg_catalog.=) 32),
    CONSTRAINT tokens_rate_check CHECK ((rate_limit IS NULL) OPERATOR(pg_catalog.=) (rate_window IS NULL))
);
ALTER SEQUENCE vatoken.tokens_token_id_seq OWNED BY vatoken.tokens.token_id;
CREATE INDEX tokens_owner_idx ON vatoken.tokens (owner, created_at, token_id);

-- API calls per token and local calendar day (setting vatoken.timezone),
-- and the time of the day's latest call: a token's last use is the latest
-- last_used_at of its rows.  2.0 adds the day's refused calls of the token
-- and the client address of its latest call that named one, with that
-- call's time.
CREATE TABLE vatoken.usage (
    token_id bigint NOT NULL,
    day      date   NOT NULL,
    calls    bigint NOT NULL,
    last_used_at timestamptz,
    rejected bigint NOT NULL DEFAULT 0,
    last_used_client inet,
    last_client_at   timestamptz,
    CONSTRAINT usage_pkey PRIMARY KEY (token_id, day),
    CONSTRAINT usage_token_id_fkey FOREIGN KEY (token_id)
        REFERENCES vatoken.tokens (token_id) ON DELETE CASCADE,
    CONSTRAINT usage_calls_check CHECK (calls OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT usage_rejected_check CHECK (rejected OPERATOR(pg_catalog.>=) 0)
);
-- Pruning (vatoken_prune and the flush workers) removes the oldest days.
CREATE INDEX usage_day_idx ON vatoken.usage (day);

REVOKE ALL ON ALL TABLES IN SCHEMA vatoken FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA vatoken FROM PUBLIC;

-- Rate-limit windows without the preload (with it they live in shared
-- memory): the current window of each rate-limited token.
CREATE TABLE vatoken.rate_windows (
    token_id     bigint      NOT NULL,
    window_start  timestamptz NOT NULL,
    window_length interval    NOT NULL,
    calls         integer     NOT NULL,
    CONSTRAINT rate_windows_pkey PRIMARY KEY (token_id),
    CONSTRAINT rate_windows_token_id_fkey FOREIGN KEY (token_id)
        REFERENCES vatoken.tokens (token_id) ON DELETE CASCADE
);
REVOKE ALL ON TABLE vatoken.rate_windows FROM PUBLIC;

-- The audit trail (2.0): every change to a token, who made it and from
-- where.  Events outlive their token; only vatoken_audit_prune removes them.
-- detail says what changed and never holds a secret or a hash.
CREATE TABLE vatoken.audit (
    audit_id         bigint      GENERATED ALWAYS AS IDENTITY,
    at               timestamptz NOT NULL,
    owner            text        NOT NULL,
    event            text        NOT NULL,
    token_id         bigint      NOT NULL,
    name             text,
    actor            text,
    role             name        NOT NULL,
    client           inet,
    application_name text,
    detail           jsonb       NOT NULL,
    CONSTRAINT audit_pkey PRIMARY KEY (audit_id),
    CONSTRAINT audit_event_check CHECK (event OPERATOR(pg_catalog.=) ANY
        (ARRAY['create', 'update', 'disable', 'enable', 'rotate', 'delete', 'leak']))
);
CREATE INDEX audit_owner_at_idx ON vatoken.audit (owner, at);
REVOKE ALL ON TABLE vatoken.audit FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('vatoken.audit', '');
SELECT pg_catalog.pg_extension_config_dump('vatoken.audit_audit_id_seq', '');

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

CREATE FUNCTION @extschema@.vatoken_create(owner text, name text,
    expires_at timestamptz DEFAULT NULL, scopes text[] DEFAULT NULL,
    allowed_clients cidr[] DEFAULT NULL, rate_limit integer DEFAULT NULL,
    rate_window interval DEFAULT NULL)
RETURNS TABLE (token_id bigint, token text, name text, created_at timestamptz,
               expires_at timestamptz)
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

-- vatoken_verify: vatoken_validate with the policy checks (scopes the call
-- needs, the client's address) and the token's policy in its answer.  On the
-- hot path like vatoken_validate, and declared the same way.
CREATE TYPE @extschema@.vatoken_verify_result AS (
    valid      boolean,
    status     text,
    token_id   bigint,
    owner      text,
    name       text,
    scopes     text[],
    expires_at timestamptz,
    rate_limit     integer,
    rate_remaining integer,
    rate_reset     timestamptz,
    retry_after    interval
);
REVOKE ALL ON TYPE @extschema@.vatoken_verify_result FROM PUBLIC;

CREATE FUNCTION @extschema@.vatoken_verify(token text, scopes text[] DEFAULT '{}',
    client inet DEFAULT NULL)
RETURNS @extschema@.vatoken_verify_result
AS 'MODULE_PATHNAME', 'vatoken_verify'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER;

CREATE FUNCTION @extschema@.vatoken_update(owner text, token_id bigint,
    name text DEFAULT NULL, expires_at timestamptz DEFAULT NULL,
    scopes text[] DEFAULT NULL, allowed_clients cidr[] DEFAULT NULL,
    enabled boolean DEFAULT NULL, rate_limit integer DEFAULT NULL,
    rate_window interval DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'vatoken_update'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- vatoken_rotate: a new secret for the same token (name, policy, usage and
-- history continue); the previous secret stays valid for the grace period.
CREATE FUNCTION @extschema@.vatoken_rotate(owner text, token_id bigint,
    grace interval DEFAULT '0')
RETURNS TABLE (token_id bigint, token text, previous_valid_until timestamptz)
AS 'MODULE_PATHNAME', 'vatoken_rotate'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.vatoken_rotate(text, bigint, interval) FROM PUBLIC;

-- vatoken_audit: an owner's events, oldest first; vatoken_audit_prune: the
-- only way events go.
CREATE FUNCTION @extschema@.vatoken_audit(owner text, since timestamptz DEFAULT '-infinity')
RETURNS TABLE (at timestamptz, event text, token_id bigint, name text, actor text,
               role name, client inet, application_name text, detail jsonb)
AS 'MODULE_PATHNAME', 'vatoken_audit'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.vatoken_audit(text, timestamptz) FROM PUBLIC;

CREATE FUNCTION @extschema@.vatoken_audit_prune(older_than interval)
RETURNS bigint
AS 'MODULE_PATHNAME', 'vatoken_audit_prune'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.vatoken_audit_prune(interval) FROM PUBLIC;

-- vatoken_usage_daily: one token's calls and refused calls per day of a
-- range (default the last 30 days), zero-filled, for a chart.
CREATE FUNCTION @extschema@.vatoken_usage_daily(owner text, token_id bigint,
    since date DEFAULT NULL, until date DEFAULT NULL)
RETURNS TABLE (day date, calls bigint, rejected bigint)
AS 'MODULE_PATHNAME', 'vatoken_usage_daily'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.vatoken_usage_daily(text, bigint, date, date) FROM PUBLIC;

-- vatoken_prune: daily usage older than vatoken.usage_retention goes (never
-- the current or the previous month).
CREATE FUNCTION @extschema@.vatoken_prune()
RETURNS bigint
AS 'MODULE_PATHNAME', 'vatoken_prune'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.vatoken_prune() FROM PUBLIC;

-- vatoken_report_leak: for a secret-scanning service.  Revokes a live token
-- at once and for good; answers nothing, whatever the input, so it tells
-- nothing about whether the token existed.
CREATE FUNCTION @extschema@.vatoken_report_leak(token text, source text DEFAULT NULL)
RETURNS void
AS 'MODULE_PATHNAME', 'vatoken_report_leak'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.vatoken_report_leak(text, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.vatoken_list(owner text)
RETURNS TABLE (token_id bigint, name text, created_at timestamptz,
               last_used_at timestamptz, last_used_client inet, calls_today bigint,
               calls_this_week bigint, calls_this_month bigint,
               calls_last_month bigint, expires_at timestamptz, status text,
               scopes text[], allowed_clients cidr[], hint text,
               revoked_reason text, revoked_at timestamptz, rate_limit integer,
               rate_window interval)
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

REVOKE ALL ON FUNCTION @extschema@.vatoken_create(text, text, timestamptz, text[], cidr[], integer, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.vatoken_validate(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.vatoken_verify(text, text[], inet) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.vatoken_update(text, bigint, text, timestamptz, text[], cidr[], boolean, integer, interval) FROM PUBLIC;
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

-- Monitoring --------------------------------------------------------------
-- What the fast path of each database is doing: counters, calls counted
-- and pending, flushes and their errors, and on a standby its undelivered
-- batches (README, Monitoring).  Reads shared memory only: not SECURITY
-- DEFINER; EXECUTE is granted to a monitoring role of your choice.
CREATE FUNCTION @extschema@.vatoken_stats()
RETURNS TABLE (datid oid, datname name, fast_path boolean, counters integer,
               counters_capacity integer, calls_counted bigint,
               calls_pending bigint, flushes bigint,
               last_flush_at timestamptz, last_flush_duration interval,
               flush_errors bigint, last_flush_error_at timestamptz,
               undelivered_batches integer, delivery_lag interval)
AS 'MODULE_PATHNAME', 'vatoken_stats'
LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION @extschema@.vatoken_stats() FROM PUBLIC;
