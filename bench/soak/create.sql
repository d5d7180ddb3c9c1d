-- Issue a token for one of 8 owners; it enters the pool in the same
-- transaction, so it is never picked before it exists.
\set o random(0, 7)
INSERT INTO soak.pool (token_id, owner, token)
SELECT c.token_id, 'soak-' || :o, c.token
FROM vatoken_create('soak-' || :o, 'soak token') AS c;
