-- Fixture for the benchmark: :n tokens issued by vatoken, their plaintext in
-- a table the benchmark reads (a stand-in for what API clients send), and
-- the same tokens in a naive Sanctum-style schema for the baseline.
CREATE EXTENSION IF NOT EXISTS vatoken;
CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE fixture (i int PRIMARY KEY, token text NOT NULL);
INSERT INTO fixture
SELECT g, c.token FROM generate_series(1, :n) g, LATERAL vatoken_create('bench', 'token ' || g) c;

-- The naive baseline: hash lookup with pgcrypto, then an UPDATE of
-- last_used_at and an upsert of the day's count, in the caller's transaction.
CREATE TABLE naive_tokens (
    id bigint PRIMARY KEY,
    token_hash bytea NOT NULL UNIQUE,
    last_used_at timestamptz
);
INSERT INTO naive_tokens SELECT token_id, token_hash, NULL FROM vatoken.tokens;
CREATE TABLE naive_usage (
    token_id bigint NOT NULL REFERENCES naive_tokens ON DELETE CASCADE,
    day date NOT NULL,
    calls bigint NOT NULL,
    PRIMARY KEY (token_id, day)
);
CREATE FUNCTION naive_validate(tok text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    tid bigint;
BEGIN
    SELECT id INTO tid FROM naive_tokens WHERE token_hash = digest(tok, 'sha256');
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE naive_tokens SET last_used_at = now() WHERE id = tid;
    INSERT INTO naive_usage AS u VALUES (tid, current_date, 1)
        ON CONFLICT (token_id, day) DO UPDATE SET calls = u.calls + 1;
    RETURN true;
END
$$;
VACUUM ANALYZE;
