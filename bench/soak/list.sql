-- The API settings page of one owner, and one token's usage.
\set o random(0, 7)
SELECT count(*), sum(calls_today) FROM vatoken_list('soak-' || :o);
SELECT u.* FROM (SELECT token_id FROM soak.pool WHERE owner = 'soak-' || :o
                 ORDER BY token_id DESC LIMIT 1) AS p,
     LATERAL vatoken_usage('soak-' || :o, p.token_id) AS u;
