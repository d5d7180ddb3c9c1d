-- Fixture of the rate-limit cells (issue 13), in the database "bench" after
-- setup.sql: two more tokens in the fixture, outside the drawn range 1..n.
--   i = 0:  a rate limit that is never reached (1,000,000 a second)
--   i = -1: a token at its limit (1 a day, used once here), so that every
--           call of the benchmark is refused with rate_limited
-- i = 1 stays the hot token without a limit.
INSERT INTO fixture
SELECT 0, token FROM vatoken_create('bench', 'unreached limit',
    rate_limit => 1000000, rate_window => '1 second')
UNION ALL
SELECT -1, token FROM vatoken_create('bench', 'at its limit',
    rate_limit => 1, rate_window => '1 day');
SELECT status FROM fixture, vatoken_verify(fixture.token) WHERE i = -1;
ANALYZE fixture;
