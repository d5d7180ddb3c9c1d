-- setup.sql: the soak's own bookkeeping, beside the extension.
--
-- soak.pool    every token the soak issued (its plaintext, for the clients to
--              validate), and when its delete was known to have committed
-- soak.calls   one row per validation: the token, the statement's start time
--              and the answer; written in the validating statement itself,
--              so a counted call and its row commit together
-- soak.deletes one row per delete attempt on a live-looking token
CREATE EXTENSION vatoken;
CREATE SCHEMA soak;

CREATE TABLE soak.pool (
    token_id      bigint PRIMARY KEY,
    owner         text NOT NULL,
    token         text NOT NULL,
    deleted_after timestamptz
);

CREATE UNLOGGED TABLE soak.calls (
    token_id bigint NOT NULL,
    started  timestamptz NOT NULL,
    status   text NOT NULL
);

CREATE UNLOGGED TABLE soak.deletes (
    token_id         bigint NOT NULL,
    deleted          boolean NOT NULL,
    -- clock_timestamp() of the statement after the delete's own: the delete
    -- had committed, and was visible to every session, before this moment.
    committed_before timestamptz NOT NULL
);

INSERT INTO soak.pool (token_id, owner, token)
SELECT c.token_id, 'soak-' || (g % 8), c.token
FROM generate_series(1, :seed_tokens) AS g,
     LATERAL vatoken_create('soak-' || (g % 8), 'soak seed ' || g) AS c;
ANALYZE soak.pool;
