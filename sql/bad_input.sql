-- Bad input gets an ERROR that names the argument, with SQLSTATE 22004 for
-- NULL and 22023 for an invalid value, and writes nothing.
SELECT count(*) AS tokens_before FROM vatoken.tokens \gset

SELECT stmt, vt_try(stmt) AS outcome FROM (VALUES
    ($$SELECT vatoken_create(NULL, 'x')$$),
    ($$SELECT vatoken_create('o', NULL)$$),
    ($$SELECT vatoken_create('', 'x')$$),
    ($$SELECT vatoken_create(repeat('o', 201), 'x')$$),
    ($$SELECT vatoken_create(repeat('ö', 201), 'x')$$),
    ($$SELECT vatoken_create(E'air\nline', 'x')$$),
    ($$SELECT vatoken_create('o', '')$$),
    ($$SELECT vatoken_create('o', '     ')$$),
    ($$SELECT vatoken_create('o', repeat('n', 101))$$),
    ($$SELECT vatoken_create('o', E'tab\there')$$),
    ($$SELECT vatoken_create('o', E'new\nline')$$),
    ($$SELECT vatoken_create('o', E'bell\x07')$$),
    ($$SELECT vatoken_create('o', E'c1 \u0085 control')$$),
    ($$SELECT vatoken_create('o', E'del \x7f')$$),
    ($$SELECT vatoken_list(NULL)$$),
    ($$SELECT vatoken_list('')$$),
    ($$SELECT vatoken_list(repeat('o', 201))$$),
    ($$SELECT vatoken_usage(NULL, 1)$$),
    ($$SELECT vatoken_usage('o', NULL)$$),
    ($$SELECT vatoken_usage('o', 0)$$),
    ($$SELECT vatoken_usage('o', -1)$$),
    ($$SELECT vatoken_usage('', 1)$$),
    ($$SELECT vatoken_delete(NULL, 1)$$),
    ($$SELECT vatoken_delete('o', NULL)$$),
    ($$SELECT vatoken_delete('o', -9223372036854775808)$$),
    ($$SELECT vatoken_delete(repeat('o', 201), 1)$$)
) AS cases(stmt);

SELECT count(*) - :tokens_before AS tokens_written FROM vatoken.tokens;

-- Limits are inclusive and counted in characters, not bytes.
SELECT length(name) FROM vatoken_create(repeat('ö', 200), repeat('ü', 100));
SELECT count(*) FROM vatoken_list(repeat('ö', 200));
