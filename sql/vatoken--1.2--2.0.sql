/* vatoken--1.2--2.0.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION vatoken UPDATE TO '2.0'" to load this file. \quit

-- 2.0: a policy on each token.  Existing tokens keep working as before:
-- no expiry, every scope, any client, enabled; their hint is unknown.
ALTER TABLE vatoken.tokens
    ADD COLUMN expires_at      timestamptz,
    ADD COLUMN scopes          text[]      NOT NULL DEFAULT '{*}',
    ADD COLUMN allowed_clients cidr[],
    ADD COLUMN disabled_at     timestamptz,
    ADD COLUMN hint            text,
    ADD COLUMN revoked_at      timestamptz,
    ADD COLUMN revoked_source  text,
    ADD COLUMN secret_hash          bytea,
    ADD COLUMN previous_hash        bytea,
    ADD COLUMN previous_valid_until timestamptz,
    ADD COLUMN rate_limit           integer,
    ADD COLUMN rate_window          interval;
-- Every token's current secret is still its first.
UPDATE vatoken.tokens SET secret_hash = token_hash;
ALTER TABLE vatoken.tokens
    ALTER COLUMN secret_hash SET NOT NULL,
    ADD CONSTRAINT tokens_secret_hash_key UNIQUE (secret_hash),
    ADD CONSTRAINT tokens_previous_hash_key UNIQUE (previous_hash),
    ADD CONSTRAINT tokens_secret_hash_check CHECK (pg_catalog.length(secret_hash) OPERATOR(pg_catalog.=) 32),
    ADD CONSTRAINT tokens_previous_hash_check CHECK (pg_catalog.length(previous_hash) OPERATOR(pg_catalog.=) 32),
    ADD CONSTRAINT tokens_rate_check CHECK ((rate_limit IS NULL) OPERATOR(pg_catalog.=) (rate_window IS NULL));

-- 2.0's day rows also count refused calls, and keep the client address of
-- the latest call that named one.
ALTER TABLE vatoken.usage
    ADD COLUMN rejected bigint NOT NULL DEFAULT 0,
    ADD COLUMN last_used_client inet,
    ADD COLUMN last_client_at   timestamptz,
    ADD CONSTRAINT usage_rejected_check CHECK (rejected OPERATOR(pg_catalog.>=) 0);
-- Pruning (vatoken_prune and the flush workers) removes the oldest days.
CREATE INDEX usage_day_idx ON vatoken.usage (day);

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
REVOKE ALL ON FUNCTION @extschema@.vatoken_verify(text, text[], inet) FROM PUBLIC;

CREATE FUNCTION @extschema@.vatoken_update(owner text, token_id bigint,
    name text DEFAULT NULL, expires_at timestamptz DEFAULT NULL,
    scopes text[] DEFAULT NULL, allowed_clients cidr[] DEFAULT NULL,
    enabled boolean DEFAULT NULL, rate_limit integer DEFAULT NULL,
    rate_window interval DEFAULT NULL)
RETURNS boolean
AS 'MODULE_PATHNAME', 'vatoken_update'
LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION @extschema@.vatoken_update(text, bigint, text, timestamptz, text[], cidr[], boolean, integer, interval) FROM PUBLIC;

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

-- vatoken_create gains the policy arguments (a call with owner and name
-- alone is unchanged) and vatoken_list the policy columns, after the 1.x
-- ones.  Neither can be altered in place: each is re-created, and the
-- EXECUTE privileges granted on the old one are granted on the new one.
DO $$
DECLARE
    grants text[];
    g text;
BEGIN
    -- GRANT statements that give the new functions the old ones' EXECUTE.
    SELECT pg_catalog.array_agg(pg_catalog.format(
               'GRANT EXECUTE ON FUNCTION %s TO %s%s',
               CASE WHEN p.proname OPERATOR(pg_catalog.=) 'vatoken_create'
                    THEN '@extschema@.vatoken_create(text, text, timestamptz, text[], cidr[], integer, interval)'
                    ELSE '@extschema@.vatoken_list(text)' END,
               CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                    ELSE pg_catalog.quote_ident(r.rolname) END,
               CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END))
      INTO grants
      FROM pg_catalog.pg_proc p
     CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
      LEFT JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
     WHERE p.oid OPERATOR(pg_catalog.=) ANY (ARRAY[
               '@extschema@.vatoken_create(text, text)'::pg_catalog.regprocedure,
               '@extschema@.vatoken_list(text)'::pg_catalog.regprocedure])
       AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
       AND a.grantee OPERATOR(pg_catalog.<>) p.proowner;

    DROP FUNCTION @extschema@.vatoken_create(text, text);
    CREATE FUNCTION @extschema@.vatoken_create(owner text, name text,
        expires_at timestamptz DEFAULT NULL, scopes text[] DEFAULT NULL,
        allowed_clients cidr[] DEFAULT NULL, rate_limit integer DEFAULT NULL,
        rate_window interval DEFAULT NULL)
    RETURNS TABLE (token_id bigint, token text, name text, created_at timestamptz,
                   expires_at timestamptz)
    AS 'MODULE_PATHNAME', 'vatoken_create'
    LANGUAGE C VOLATILE CALLED ON NULL INPUT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
    REVOKE ALL ON FUNCTION @extschema@.vatoken_create(text, text, timestamptz, text[], cidr[], integer, interval) FROM PUBLIC;

    DROP FUNCTION @extschema@.vatoken_list(text);
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
    REVOKE ALL ON FUNCTION @extschema@.vatoken_list(text) FROM PUBLIC;

    FOREACH g IN ARRAY COALESCE(grants, '{}') LOOP
        EXECUTE g;
    END LOOP;
END
$$;

-- Monitoring: vatoken_stats() (as in vatoken--2.0.sql).
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
