-- The stored hash equals pgcrypto's digest(token, 'sha256'), so an
-- application may look tokens up with pgcrypto if it wants to; vatoken itself
-- needs no other extension at run time.
CREATE EXTENSION pgcrypto;
CREATE TEMP TABLE pc AS
SELECT c.* FROM generate_series(1, 20) g, LATERAL vatoken_create('pgcrypto-owner', 'pc ' || g) c;
SELECT count(*) AS tokens,
       bool_and(t.token_hash = digest(pc.token, 'sha256')) AS equals_pgcrypto_digest
FROM pc JOIN vatoken.tokens t USING (token_id);
-- Looking a token up by its pgcrypto digest finds exactly that token.
SELECT count(*) AS found
FROM pc JOIN vatoken.tokens t ON t.token_hash = digest(pc.token, 'sha256') AND t.token_id = pc.token_id;
DROP EXTENSION pgcrypto;
