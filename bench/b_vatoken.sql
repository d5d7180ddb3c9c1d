-- (b) read the token and validate it with vatoken (one call counted)
SELECT valid FROM fixture, vatoken_validate(fixture.token) WHERE i = :i;
