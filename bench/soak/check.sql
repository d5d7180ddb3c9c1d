-- check.sql: after the run, with every client gone.  Prints the figures and
-- one line per check; \gset ok_* for run.sh.
\pset footer off
\echo '== figures'
SELECT count(*) AS validations,
       count(*) FILTER (WHERE status = 'valid') AS valid,
       count(*) FILTER (WHERE status = 'unknown') AS unknown,
       count(*) FILTER (WHERE status = 'malformed') AS malformed
FROM soak.calls;
SELECT (SELECT count(*) FROM soak.pool) AS tokens_issued,
       (SELECT count(*) FROM soak.deletes WHERE deleted) AS deletes_true,
       (SELECT count(*) FROM soak.deletes WHERE NOT deleted) AS deletes_false,
       (SELECT count(*) FROM soak.pool WHERE deleted_after IS NULL) AS live_tokens;

-- Validations of tokens that were deleted during the run, by when they
-- started relative to the delete's commit.
SELECT count(*) FILTER (WHERE c.started <= d.committed_before AND c.status = 'valid')
           AS valid_before_delete_known,
       count(*) FILTER (WHERE c.started > d.committed_before AND c.status = 'unknown')
           AS unknown_after_delete,
       count(*) FILTER (WHERE c.started > d.committed_before - interval '10 ms'
                          AND c.started <= d.committed_before)
           AS within_10ms_before_commit_known
FROM soak.calls c JOIN soak.deletes d ON d.token_id = c.token_id AND d.deleted;

\echo '== checks'
-- 1. Counted calls equal the valid calls made, exactly, token by token, for
-- every live token (a deleted token's usage is gone with it).
WITH made AS (
    SELECT p.token_id, coalesce(c.n, 0) AS valid_calls
    FROM soak.pool p
    LEFT JOIN (SELECT token_id, count(*) AS n FROM soak.calls
               WHERE status = 'valid' GROUP BY token_id) c USING (token_id)
    WHERE p.deleted_after IS NULL
),
counted AS (
    SELECT l.token_id, l.calls_this_month + l.calls_last_month AS calls,
           l.last_used_at
    FROM (SELECT DISTINCT owner FROM soak.pool) o,
         LATERAL vatoken_list(o.owner) l
)
SELECT count(*) AS live_tokens_compared,
       coalesce(sum(m.valid_calls), 0) AS valid_calls_made,
       coalesce(sum(k.calls), 0) AS calls_counted,
       count(*) FILTER (WHERE k.calls IS DISTINCT FROM m.valid_calls) AS tokens_miscounted,
       count(*) FILTER (WHERE (m.valid_calls > 0) IS DISTINCT FROM (k.last_used_at IS NOT NULL))
           AS last_use_wrong,
       count(*) FILTER (WHERE k.calls IS DISTINCT FROM m.valid_calls) = 0
       AND count(*) FILTER (WHERE (m.valid_calls > 0) IS DISTINCT FROM (k.last_used_at IS NOT NULL)) = 0
           AS ok_counts
FROM made m LEFT JOIN counted k USING (token_id) \gset
SELECT :live_tokens_compared AS live_tokens_compared, :valid_calls_made AS valid_calls_made,
       :calls_counted AS calls_counted, :tokens_miscounted AS tokens_miscounted,
       :last_use_wrong AS last_use_wrong;

-- 2. No deleted token was accepted by a validation that started after its
-- delete had committed.
SELECT count(*) AS accepted_after_delete, count(*) = 0 AS ok_no_resurrection
FROM soak.calls c JOIN soak.deletes d ON d.token_id = c.token_id AND d.deleted
WHERE c.status = 'valid' AND c.started > d.committed_before \gset
SELECT :accepted_after_delete AS accepted_after_delete;

-- 3. Exactly one delete of a token returned true.
SELECT count(*) AS tokens_deleted_twice, count(*) = 0 AS ok_one_true
FROM (SELECT token_id FROM soak.deletes WHERE deleted GROUP BY token_id HAVING count(*) > 1) x \gset
SELECT :tokens_deleted_twice AS tokens_deleted_twice;

-- 4. The extension holds exactly the live tokens of the pool: listed, and
-- deleted ones unknown.
SELECT (SELECT count(*) FROM (SELECT DISTINCT owner FROM soak.pool) o,
                             LATERAL vatoken_list(o.owner) l) AS listed,
       (SELECT count(*) FROM soak.pool WHERE deleted_after IS NULL) AS live_in_pool,
       (SELECT count(*) FROM soak.pool p, LATERAL vatoken_validate(p.token) v
         WHERE (p.deleted_after IS NULL) IS DISTINCT FROM v.valid) AS wrong_answers_now \gset
SELECT :listed AS listed, :live_in_pool AS live_in_pool, :wrong_answers_now AS wrong_answers_now;
SELECT :listed = :live_in_pool AND :wrong_answers_now = 0 AS ok_state \gset

SELECT :'ok_counts' AS ok_counts, :'ok_no_resurrection' AS ok_no_resurrection,
       :'ok_one_true' AS ok_one_true, :'ok_state' AS ok_state;
SELECT (:'ok_counts' AND :'ok_no_resurrection' AND :'ok_one_true' AND :'ok_state') AS soak_ok \gset
\echo soak_ok= :soak_ok
