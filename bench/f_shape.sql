-- (f) the query shape alone: a trivial built-in set-returning function in
-- place of vatoken_validate, joined the same way; what any function called
-- like (b) costs at least
SELECT g FROM fixture, generate_series(fixture.i, fixture.i) g WHERE i = :i;
