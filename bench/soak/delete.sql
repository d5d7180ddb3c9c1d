-- Delete a random live-looking token among the 1000 newest.  Concurrent
-- deleters may pick the same token: exactly one of them may get true.  The
-- delete commits with its statement; the next statement records a time
-- after that commit.
\set r random(0, 999)
SELECT coalesce(max(c.token_id), 0) AS tried,
       coalesce(bool_or(vatoken_delete(c.owner, c.token_id)), false)::int AS ok
FROM (SELECT token_id, owner FROM soak.pool
      WHERE deleted_after IS NULL
        AND token_id >= (SELECT max(token_id) FROM soak.pool) - 1000 + :r
      ORDER BY token_id LIMIT 1) AS c \gset
INSERT INTO soak.deletes (token_id, deleted, committed_before)
SELECT :tried, :ok = 1, clock_timestamp() WHERE :tried <> 0;
UPDATE soak.pool SET deleted_after = clock_timestamp() WHERE token_id = :tried AND :ok = 1;
