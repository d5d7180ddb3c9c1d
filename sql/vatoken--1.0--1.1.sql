/* vatoken--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION vatoken UPDATE TO '1.1'" to load this file. \quit

-- 1.1 keeps a token's last use in its daily usage rows, so that counting a
-- call writes one row (the day's usage) instead of two: the token's row is
-- no longer updated by every flush.

ALTER TABLE vatoken.usage ADD COLUMN last_used_at timestamptz;

-- A token's last use moves to its latest day of usage; vatoken writes both
-- in the same transaction, so that row exists.
UPDATE vatoken.usage u
   SET last_used_at = t.last_used_at
  FROM vatoken.tokens t
 WHERE u.token_id OPERATOR(pg_catalog.=) t.token_id
   AND t.last_used_at IS NOT NULL
   AND u.day OPERATOR(pg_catalog.=) (SELECT pg_catalog.max(l.day) FROM vatoken.usage l
                                      WHERE l.token_id OPERATOR(pg_catalog.=) t.token_id);

-- Should a token have a last use but no usage row (its rows deleted by
-- hand), keep the last use on a row of no calls, dated in UTC.
INSERT INTO vatoken.usage (token_id, day, calls, last_used_at)
SELECT t.token_id, (t.last_used_at AT TIME ZONE 'UTC')::pg_catalog.date, 0, t.last_used_at
  FROM vatoken.tokens t
 WHERE t.last_used_at IS NOT NULL
   AND NOT EXISTS (SELECT FROM vatoken.usage u
                    WHERE u.token_id OPERATOR(pg_catalog.=) t.token_id);

ALTER TABLE vatoken.tokens DROP COLUMN last_used_at;
