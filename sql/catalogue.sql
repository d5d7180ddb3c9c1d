-- The catalogue of bad input (docs/hardening.md, "Bad-input catalogue"):
-- every function against NULL, empty, whitespace, very long (1 MB),
-- non-printing, multibyte and SQL-injection input, and ids that do not
-- exist, are negative, huge or another owner's.  Rejected input gets an
-- ERROR with a specific SQLSTATE (vatoken_validate: a row with valid = false
-- instead), hostile-looking but valid input is taken literally, and no case
-- leaves anything behind.  Complements bad_input.sql and validate.sql.
--
-- Counts are read through vatoken_list/vatoken_usage, so this file holds
-- with and without the preload fast path.
SELECT token AS cat_tok, token_id AS cat_id FROM vatoken_create('cat-owner', 'Catalogue') \gset
SELECT token AS oth_tok, token_id AS oth_id FROM vatoken_create('cat-other', 'Other owner''s') \gset
SELECT valid FROM vatoken_validate(:'cat_tok');

-- Everything a case could change: live tokens, the id sequence, and the
-- calls of both owners' tokens.
CREATE FUNCTION cat_state(OUT tokens bigint, OUT seq bigint,
                          OUT cat_calls bigint, OUT other_calls bigint)
LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM vatoken.tokens),
           (SELECT last_value FROM vatoken.tokens_token_id_seq),
           (SELECT sum(calls_today) FROM vatoken_list('cat-owner')),
           (SELECT sum(calls_today) FROM vatoken_list('cat-other'))
$$;
CREATE TEMP TABLE cat_before AS SELECT * FROM cat_state();

-- 1. Rejected input: each raises an ERROR that names the argument.
SELECT fn, input, vt_try(stmt) AS outcome FROM (VALUES
    -- whitespace and empty
    ('create', 'owner tab',              $$SELECT vatoken_create(E'\t', 'x')$$),
    ('create', 'owner CR LF',            $$SELECT vatoken_create(E'cat-owner\r\n', 'x')$$),
    ('create', 'name spaces only',       $$SELECT vatoken_create('cat-owner', repeat(' ', 500))$$),
    ('create', 'name tab only',          $$SELECT vatoken_create('cat-owner', E'\t')$$),
    ('create', 'name empty, owner bad',  $$SELECT vatoken_create('', '')$$),
    ('create', 'both NULL',              $$SELECT vatoken_create(NULL, NULL)$$),
    ('list',   'owner NULL::text',       $$SELECT vatoken_list(NULL::text)$$),
    ('list',   'owner tab',              $$SELECT vatoken_list(E'\t')$$),
    ('usage',  'owner empty',            $$SELECT vatoken_usage('', 1)$$),
    ('usage',  'both NULL',              $$SELECT vatoken_usage(NULL, NULL)$$),
    ('delete', 'owner empty',            $$SELECT vatoken_delete('', 1)$$),
    ('delete', 'owner newline',          $$SELECT vatoken_delete(E'\n', 1)$$),
    -- very long (1 MB)
    ('create', 'owner 1 MB',             $$SELECT vatoken_create(repeat('o', 1048576), 'x')$$),
    ('create', 'name 1 MB',              $$SELECT vatoken_create('cat-owner', repeat('n', 1048576))$$),
    ('create', 'name 1 MB of spaces',    $$SELECT vatoken_create('cat-owner', repeat(' ', 1048576))$$),
    ('list',   'owner 1 MB',             $$SELECT vatoken_list(repeat('o', 1048576))$$),
    ('usage',  'owner 1 MB',             $$SELECT vatoken_usage(repeat('o', 1048576), 1)$$),
    ('delete', 'owner 1 MB',             $$SELECT vatoken_delete(repeat('o', 1048576), 1)$$),
    -- non-printing (C0, DEL, C1)
    ('create', 'owner ESC',              $$SELECT vatoken_create(E'cat\x1bowner', 'x')$$),
    ('create', 'owner DEL',              $$SELECT vatoken_create(E'cat\x7fowner', 'x')$$),
    ('create', 'owner C1 U+009B',        $$SELECT vatoken_create(E'cat\u009Bowner', 'x')$$),
    ('create', 'name U+0001',            $$SELECT vatoken_create('cat-owner', E'\u0001')$$),
    ('create', 'name ends in NEL U+0085',$$SELECT vatoken_create('cat-owner', E'label\u0085')$$),
    ('list',   'owner C1 U+0080',        $$SELECT vatoken_list(E'\u0080')$$),
    ('usage',  'owner backspace',        $$SELECT vatoken_usage(E'cat-owner\b', 1)$$),
    ('delete', 'owner form feed',        $$SELECT vatoken_delete(E'\fcat-owner', 1)$$),
    -- multibyte: limits count characters
    ('create', 'owner 201 emoji',        $$SELECT vatoken_create(repeat('😀', 201), 'x')$$),
    ('create', 'name 101 CJK',           $$SELECT vatoken_create('cat-owner', repeat('語', 101))$$),
    ('list',   'owner 201 x 2-byte',     $$SELECT vatoken_list(repeat('ß', 201))$$),
    -- ids: zero, negative, the smallest bigint
    ('usage',  'id 0',                   $$SELECT vatoken_usage('cat-owner', 0)$$),
    ('usage',  'id min bigint',          $$SELECT vatoken_usage('cat-owner', -9223372036854775808)$$),
    ('delete', 'id 0',                   $$SELECT vatoken_delete('cat-owner', 0)$$),
    ('delete', 'id -1',                  $$SELECT vatoken_delete('cat-owner', -1)$$),
    -- ids beyond bigint never reach the function
    ('usage',  'id 2^63 (numeric)',      $$SELECT vatoken_usage('cat-owner', 9223372036854775808)$$),
    ('usage',  'id 2^63 as bigint',      $$SELECT vatoken_usage('cat-owner', 9223372036854775808::bigint)$$),
    ('delete', 'id 1e30',                $$SELECT vatoken_delete('cat-owner', 1e30::bigint)$$),
    -- invalid UTF-8 never reaches the function either
    ('create', 'owner invalid UTF-8',    $$SELECT vatoken_create(convert_from('\xc3'::bytea, 'UTF8'), 'x')$$)
) AS cases(fn, input, stmt);

-- 2. Hostile-looking but valid input is taken literally: SQL text is data,
-- LIKE and regex characters match only themselves, case and spaces count.
SELECT fn, input, vt_try(stmt) AS outcome FROM (VALUES
    ('list',   'injection',              $$SELECT vatoken_list($i$cat-owner' OR '1'='1$i$)$$),
    ('list',   'injection with comment', $$SELECT vatoken_list($i$'); DELETE FROM vatoken.tokens; --$i$)$$),
    ('usage',  'injection',              format($$SELECT vatoken_usage(%L, %s)$$, $i$cat-owner' OR 'x'='x$i$, :cat_id)),
    ('delete', 'injection',              format($$SELECT vatoken_delete(%L, %s)$$, $i$x' OR token_id > 0 --$i$, :cat_id))
) AS cases(fn, input, stmt);
SELECT vatoken_delete($i$x' OR token_id > 0 --$i$, :cat_id) AS injection_deleted,
       (SELECT count(*) FROM vatoken_usage($i$x' OR 'x'='x$i$, :cat_id)) AS injection_usage_rows;

SELECT owner_label, (SELECT count(*) FROM vatoken_list(o)) AS listed
FROM (VALUES
    ('injection',        $$cat-owner' OR '1'='1$$),
    ('percent',          '%'),
    ('underscore x9',    '_________'),
    ('regex',            'cat-.*'),
    ('upper case',       'CAT-OWNER'),
    ('trailing space',   'cat-owner '),
    ('leading space',    ' cat-owner'),
    ('NBSP inside',      E'cat-\u00A0owner'),
    ('zero-width space', E'cat-owner\u200B'),
    ('fullwidth',        'ｃａｔ-ｏｗｎｅｒ')
) AS o(owner_label, o);

SELECT input, deleted, usage_rows FROM (VALUES
    ('another owner''s id',   'cat-owner', :oth_id::bigint),
    ('own id, other''s owner', 'cat-other', :cat_id::bigint),
    ('id never issued',       'cat-owner', 999999999::bigint),
    ('id max bigint',         'cat-owner', 9223372036854775807),
    ('owner differs by case', 'Cat-Owner', :cat_id::bigint),
    ('owner with NBSP',       E'cat-owner\u00A0', :cat_id::bigint)
) AS c(input, o, id),
LATERAL (SELECT vatoken_delete(c.o, c.id) AS deleted) d,
LATERAL (SELECT count(*) AS usage_rows FROM vatoken_usage(c.o, c.id)) u;

-- The other owner's token is untouched by all of that.
SELECT valid, status, owner FROM vatoken_validate(:'oth_tok');

-- 3. vatoken_validate: exactly one row with valid = false for anything but a
-- live token, whatever the input; never an error.
SELECT input, count(*) AS rows, bool_and(v.valid IS FALSE) AS rejected,
       min(v.status) AS status,
       bool_and(v.token_id IS NULL AND v.owner IS NULL AND v.name IS NULL) AS rest_null
FROM (VALUES
    ('NULL::text',              NULL::text),
    ('single space',            ' '),
    ('53 spaces',               repeat(' ', 53)),
    ('53 tabs',                 repeat(E'\t', 53)),
    ('token + CR LF',           :'cat_tok' || E'\r\n'),
    ('token in quotes',         quote_literal(:'cat_tok')),
    ('token twice',             :'cat_tok' || :'cat_tok'),
    ('NBSP instead of a char',  left(:'cat_tok', 20) || E'\u00A0' || substr(:'cat_tok', 22)),
    ('zero-width space inside', left(:'cat_tok', 20) || E'\u200B' || substr(:'cat_tok', 21)),
    ('BOM prefix',              E'\uFEFF' || :'cat_tok'),
    ('fullwidth prefix',        'ｖａｔ_' || substr(:'cat_tok', 5)),
    ('53 two-byte chars',       repeat('é', 53)),
    ('53 four-byte chars',      repeat('😀', 53)),
    ('control chars, 53 bytes', repeat(E'\x01', 53)),
    ('DEL, 53 bytes',           repeat(E'\x7f', 53)),
    ('1 MB',                    repeat('vat_', 262144)),
    ('1 MB + the token',        repeat(' ', 1048576) || :'cat_tok'),
    ('injection',               $$' OR 1=1; DELETE FROM vatoken.tokens; --$$),
    ('injection, 53 bytes',     rpad($$vat_'||(SELECT 1)||'$$, 53, 'x')),
    ('hex of its SHA-256',      encode(sha256(convert_to(:'cat_tok', 'UTF8')), 'hex')),
    ('base64 of its SHA-256',   encode(sha256(convert_to(:'cat_tok', 'UTF8')), 'base64')),
    ('other owner''s, altered',  left(:'oth_tok', 52) || CASE WHEN right(:'oth_tok', 1) = 'A' THEN 'B' ELSE 'A' END)
) AS c(input, t),
LATERAL vatoken_validate(c.t) v
GROUP BY input ORDER BY min(v.status), input;

-- The real tokens still validate (one more call each).
SELECT valid, status, owner, name FROM vatoken_validate(:'cat_tok');
SELECT valid, status, owner, name FROM vatoken_validate(:'oth_tok');

-- 4. Nothing was written by any rejected case: the same live tokens, no id
-- consumed, and only the valid calls made since were counted (one with
-- cat-owner's token, two with cat-other's).
SELECT a.tokens - b.tokens AS new_tokens, a.seq - b.seq AS ids_used,
       a.cat_calls - b.cat_calls AS new_calls_cat,
       a.other_calls - b.other_calls AS new_calls_other
FROM cat_state() a, cat_before b;

-- 5. Valid input that looks hostile is stored and returned exactly as given
-- (the name trimmed of U+0020 only), matched exactly, and can be deleted.
CREATE TEMP TABLE cat_odd AS
SELECT o.label, o.owner, o.expected_name, c.token_id, c.token, c.name
FROM (VALUES
    ('injection owner and name', $$x'); DROP TABLE vatoken.tokens; --$$,
                                 $$Robert'); DROP TABLE vatoken.usage; --$$,
                                 $$Robert'); DROP TABLE vatoken.usage; --$$),
    ('percent owner',            '%', '%', '%'),
    ('space owner',              ' ', 'x', 'x'),
    ('name padded with spaces',  'cat-pad', '   padded   ', 'padded'),
    ('name NBSP only',           'cat-nbsp', E'\u00A0', E'\u00A0'),
    ('name zero-width space',    'cat-zwsp', E'\u200B', E'\u200B'),
    ('owner 200 emoji',          repeat('😀', 200), repeat('語', 100), repeat('語', 100)),
    ('owner combining marks',    E'e\u0301e\u0301', E'n\u0303', E'n\u0303')
) AS o(label, owner, name, expected_name),
LATERAL vatoken_create(o.owner, o.name) c;

SELECT d.label, d.name = d.expected_name AS name_as_given,
       (SELECT count(*) FROM vatoken_list(d.owner) l
         WHERE l.token_id = d.token_id AND l.name = d.expected_name) AS listed,
       v.valid AS validates, v.owner = d.owner AS owner_as_given
FROM cat_odd d, LATERAL vatoken_validate(d.token) v
ORDER BY d.label;
SELECT count(*) FILTER (WHERE vatoken_delete(owner, token_id)) AS deleted FROM cat_odd;
SELECT count(*) FILTER (WHERE v.status = 'unknown') AS now_unknown
FROM cat_odd d, LATERAL vatoken_validate(d.token) v;

SELECT a.tokens - b.tokens AS new_tokens, a.seq - b.seq AS ids_used
FROM cat_state() a, cat_before b;

DROP FUNCTION cat_state();
SELECT vatoken_delete('cat-owner', :cat_id), vatoken_delete('cat-other', :oth_id);
