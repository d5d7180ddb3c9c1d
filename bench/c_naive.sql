-- (c) read the token and validate it the naive way (PL/pgSQL + pgcrypto)
SELECT naive_validate(fixture.token) FROM fixture WHERE i = :i;
