-- (b-hot verify), (g), (h): read the token and verify it with
-- vatoken_verify; which token :i names decides the case (setup_ratelimit.sql)
SELECT valid FROM fixture, vatoken_verify(fixture.token) WHERE i = :i;
