-- Validate a random token among the 1000 newest (live or deleted), one call
-- in 20 with a mangled copy (malformed), and log the answer in the same
-- statement.  statement_timestamp() is taken when the statement arrives,
-- before any snapshot it uses (simple query protocol): a lower bound of the
-- moment the validation "looked".
\set r random(0, 999)
\set mangle random(1, 20)
INSERT INTO soak.calls (token_id, started, status)
SELECT p.token_id, statement_timestamp(), v.status
FROM (SELECT token_id, token FROM soak.pool
      WHERE token_id >= (SELECT max(token_id) FROM soak.pool) - 1000 + :r
      ORDER BY token_id LIMIT 1) AS p,
     LATERAL vatoken_validate(CASE WHEN :mangle = 1 THEN upper(p.token) ELSE p.token END) AS v;
