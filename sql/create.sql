-- vatoken_create returns the token once, in a fixed recognisable format.
SELECT token_id, name,
       length(token) AS token_length,
       token ~ '^vat_[A-Za-z0-9]{49}$' AS well_formed,
       created_at = now() AS created_now
FROM vatoken_create(owner => 'airline-42', name => 'Discord bot');

-- The name is trimmed of surrounding spaces; inner spaces and any script stay.
SELECT name FROM vatoken_create('airline-42', '   Website   ');
SELECT name FROM vatoken_create('airline-42', 'Crew app ✈ Köln');

-- Every token is different, and only its SHA-256 is stored.
CREATE TEMP TABLE issued AS
SELECT c.* FROM generate_series(1, 50) g,
     LATERAL vatoken_create('airline-7', 'bulk ' || g) c;
SELECT count(*) AS issued, count(DISTINCT token) AS distinct_tokens FROM issued;
SELECT bool_and(t.token_hash = sha256(convert_to(i.token, 'UTF8'))) AS stored_hash_is_sha256
FROM issued i JOIN vatoken.tokens t USING (token_id);

-- No column of any extension table holds a token, in any form.
SELECT count(*) AS rows_containing_a_token
FROM issued i, vatoken.tokens t
WHERE t::text LIKE '%' || i.token || '%'
   OR t::text LIKE '%' || substr(i.token, 5, 43) || '%'
   OR encode(t.token_hash, 'escape') LIKE '%' || i.token || '%';
SELECT column_name, data_type FROM information_schema.columns
WHERE table_schema = 'vatoken' AND table_name = 'tokens' ORDER BY ordinal_position;

-- Ids come from a sequence, in creation order.
SELECT min(token_id) > 3 AND max(token_id) - min(token_id) = 49 AS ids_in_order FROM issued;
