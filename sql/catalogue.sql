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

-- 6. 2.0 (issue 12): the policy arguments of vatoken_create and
-- vatoken_update, vatoken_rotate's grace, vatoken_report_leak,
-- vatoken_verify, vatoken.actor and vatoken_audit.  vatoken's clock is
-- frozen at 2026-06-17 12:00 UTC (test/regress.conf).
SET timezone = 'UTC';
SELECT token AS pol_tok, token_id AS pol_id
FROM vatoken_create('cat-pol', 'Policy', '2026-07-01 00:00+00', '{ops:*,flights:read}',
                    '{10.0.0.0/8}') \gset

-- Everything a rejected case could change: every token row (secrets,
-- policy, revoke), the id sequence, the audit trail and the token's calls
-- (read through vatoken_list, which counts pending calls with the preload).
CREATE FUNCTION cat_pol_state(OUT tokens text, OUT seq bigint, OUT audit text,
                              OUT calls bigint)
LANGUAGE sql AS $$
    SELECT (SELECT md5(string_agg(t::text, ',' ORDER BY token_id)) FROM vatoken.tokens t),
           (SELECT last_value FROM vatoken.tokens_token_id_seq),
           (SELECT md5(coalesce(string_agg(a::text, ',' ORDER BY audit_id), '')) FROM vatoken.audit a),
           (SELECT sum(calls_today) FROM vatoken_list('cat-pol'))::bigint
$$;
CREATE TEMP TABLE cat_pol_before AS SELECT * FROM cat_pol_state();

-- 6a. Rejected policy arguments: an ERROR that names the argument.
SELECT fn, input, vt_try(stmt) AS outcome FROM (VALUES
    -- scopes: 1 to 100 of A-Z a-z 0-9 _ . : -, "*" alone or a final ":*"
    ('create', 'scope 1 MB',             $$SELECT vatoken_create('cat-pol', 'x', NULL, ARRAY[repeat('s', 1048576)])$$),
    ('create', 'scope 101 characters',   $$SELECT vatoken_create('cat-pol', 'x', NULL, ARRAY[repeat('s', 101)])$$),
    ('create', 'scope ß',                $$SELECT vatoken_create('cat-pol', 'x', NULL, '{ops:read,ß}')$$),
    ('create', 'scope emoji',            $$SELECT vatoken_create('cat-pol', 'x', NULL, '{ops:😀}')$$),
    ('create', 'scope fullwidth',        $$SELECT vatoken_create('cat-pol', 'x', NULL, '{ｏｐｓ}')$$),
    ('create', 'scope tab',              $$SELECT vatoken_create('cat-pol', 'x', NULL, ARRAY[E'ops\tread'])$$),
    ('create', 'scope trailing LF',      $$SELECT vatoken_create('cat-pol', 'x', NULL, ARRAY[E'ops:read\n'])$$),
    ('create', 'scope NEL U+0085',       $$SELECT vatoken_create('cat-pol', 'x', NULL, ARRAY[E'ops\u0085'])$$),
    ('create', 'scope with a space',     $$SELECT vatoken_create('cat-pol', 'x', NULL, '{"ops read"}')$$),
    ('create', 'scope empty',            $$SELECT vatoken_create('cat-pol', 'x', NULL, '{""}')$$),
    ('create', 'scope **',               $$SELECT vatoken_create('cat-pol', 'x', NULL, '{**}')$$),
    ('create', 'scope ops*',             $$SELECT vatoken_create('cat-pol', 'x', NULL, '{ops*}')$$),
    ('create', 'scope *:read',           $$SELECT vatoken_create('cat-pol', 'x', NULL, '{*:read}')$$),
    ('create', 'scope :* alone',         $$SELECT vatoken_create('cat-pol', 'x', NULL, '{:*}')$$),
    ('create', 'scope ops:*:*',          $$SELECT vatoken_create('cat-pol', 'x', NULL, '{ops:*:*}')$$),
    ('create', 'scope ops:**',           $$SELECT vatoken_create('cat-pol', 'x', NULL, '{ops:**}')$$),
    ('create', 'scope % (LIKE)',         $$SELECT vatoken_create('cat-pol', 'x', NULL, '{ops:%}')$$),
    ('create', 'scopes {NULL}',          $$SELECT vatoken_create('cat-pol', 'x', NULL, ARRAY[NULL]::text[])$$),
    ('create', 'scopes {a,NULL}',        $$SELECT vatoken_create('cat-pol', 'x', NULL, ARRAY['a', NULL])$$),
    ('create', 'scopes two-dimensional', $$SELECT vatoken_create('cat-pol', 'x', NULL, '{{a,b},{c,d}}')$$),
    ('update', 'scope 1 MB',             format($$SELECT vatoken_update('cat-pol', %s, scopes => ARRAY[repeat('s', 1048576)])$$, :pol_id)),
    ('update', 'scope * misuse',         format($$SELECT vatoken_update('cat-pol', %s, scopes => '{ops:read,*ops}')$$, :pol_id)),
    ('update', 'scopes {NULL}',          format($$SELECT vatoken_update('cat-pol', %s, scopes => ARRAY[NULL]::text[])$$, :pol_id)),
    ('update', 'scopes two-dimensional', format($$SELECT vatoken_update('cat-pol', %s, scopes => '{{ops:read}}')$$, :pol_id)),
    ('update', 'good name, bad scope',   format($$SELECT vatoken_update('cat-pol', %s, name => 'renamed', scopes => '{"bad scope"}')$$, :pol_id)),
    -- allowed_clients
    ('create', 'clients empty',          $$SELECT vatoken_create('cat-pol', 'x', NULL, NULL, '{}')$$),
    ('create', 'clients {NULL}',         $$SELECT vatoken_create('cat-pol', 'x', NULL, NULL, ARRAY[NULL]::cidr[])$$),
    ('create', 'clients two-dimensional',$$SELECT vatoken_create('cat-pol', 'x', NULL, NULL, '{{10.0.0.0/8},{::/0}}')$$),
    ('create', 'client with host bits',  $$SELECT vatoken_create('cat-pol', 'x', NULL, NULL, '{10.0.0.1/8}')$$),
    ('create', 'client not an address',  $$SELECT vatoken_create('cat-pol', 'x', NULL, NULL, '{localhost}')$$),
    ('update', 'clients empty',          format($$SELECT vatoken_update('cat-pol', %s, allowed_clients => '{}')$$, :pol_id)),
    ('update', 'clients {10/8,NULL}',    format($$SELECT vatoken_update('cat-pol', %s, allowed_clients => ARRAY['10.0.0.0/8', NULL]::cidr[])$$, :pol_id)),
    ('update', 'good expiry, bad clients', format($$SELECT vatoken_update('cat-pol', %s, expires_at => '2026-08-01', allowed_clients => '{}')$$, :pol_id)),
    -- expires_at
    ('create', 'expires -infinity',      $$SELECT vatoken_create('cat-pol', 'x', '-infinity')$$),
    ('create', 'expires epoch',          $$SELECT vatoken_create('cat-pol', 'x', 'epoch')$$),
    ('create', 'expires exactly now',    $$SELECT vatoken_create('cat-pol', 'x', '2026-06-17 12:00:00+00')$$),
    ('create', 'expires beyond range',   $$SELECT vatoken_create('cat-pol', 'x', '294277-01-01 00:00+00')$$),
    ('update', 'expires -infinity',      format($$SELECT vatoken_update('cat-pol', %s, expires_at => '-infinity')$$, :pol_id)),
    ('update', 'expires 1 us ago',       format($$SELECT vatoken_update('cat-pol', %s, expires_at => '2026-06-17 11:59:59.999999+00')$$, :pol_id)),
    -- grace
    ('rotate', 'grace -1 microsecond',   format($$SELECT vatoken_rotate('cat-pol', %s, '-1 microsecond')$$, :pol_id)),
    ('rotate', 'grace 1 month -31 days', format($$SELECT vatoken_rotate('cat-pol', %s, '1 month -31 days')$$, :pol_id)),
    ('rotate', 'grace -2^31 months',     format($$SELECT vatoken_rotate('cat-pol', %s, '-2147483648 months')$$, :pol_id)),
    ('rotate', 'grace 178000000 years',  format($$SELECT vatoken_rotate('cat-pol', %s, '178000000 years')$$, :pol_id)),
    ('rotate', 'grace 2^31-1 months',    format($$SELECT vatoken_rotate('cat-pol', %s, '2147483647 months')$$, :pol_id)),
    ('rotate', 'grace max microseconds', format($$SELECT vatoken_rotate('cat-pol', %s, interval '9223372036854775807 microseconds')$$, :pol_id)),
    ('rotate', 'grace not an interval',  format($$SELECT vatoken_rotate('cat-pol', %s, 'forever')$$, :pol_id)),
    -- vatoken_audit and vatoken_audit_prune
    ('audit',  'owner NULL',             $$SELECT vatoken_audit(NULL)$$),
    ('audit',  'owner 1 MB',             $$SELECT vatoken_audit(repeat('o', 1048576))$$),
    ('audit',  'owner 201 emoji',        $$SELECT vatoken_audit(repeat('😀', 201))$$),
    ('audit',  'owner with LF',          $$SELECT vatoken_audit(E'cat-pol\n')$$),
    ('audit',  'owner NEL U+0085',       $$SELECT vatoken_audit(E'cat-pol\u0085')$$),
    ('prune',  'older_than NULL',        $$SELECT vatoken_audit_prune(NULL)$$),
    ('prune',  'older_than -1 second',   $$SELECT vatoken_audit_prune('-1 second')$$),
    ('prune',  'older_than 1000000 years', $$SELECT vatoken_audit_prune('1000000 years')$$)
) AS cases(fn, input, stmt);

-- With vatoken.max_lifetime: an expiry later than it allows, or none at
-- all, is rejected (and none at create means the longest).
SET vatoken.max_lifetime = '90d';
SELECT fn, input, vt_try(stmt) AS outcome FROM (VALUES
    ('create', 'expires far future',     $$SELECT vatoken_create('cat-pol', 'x', '294276-12-31 23:59:59+00')$$),
    ('create', 'expires infinity',       $$SELECT vatoken_create('cat-pol', 'x', 'infinity')$$),
    ('create', '90 days + 1 us',         $$SELECT vatoken_create('cat-pol', 'x', '2026-09-15 12:00:00.000001+00')$$),
    ('update', 'expires infinity',       format($$SELECT vatoken_update('cat-pol', %s, expires_at => 'infinity')$$, :pol_id)),
    ('update', 'expires far future',     format($$SELECT vatoken_update('cat-pol', %s, expires_at => '294276-12-31 23:59:59+00')$$, :pol_id))
) AS cases(fn, input, stmt);
RESET vatoken.max_lifetime;

-- 6b. vatoken_report_leak answers nothing, whatever the input, and revokes
-- nothing that is not a live token's exact secret.
SELECT input, vatoken_report_leak(t, 'cat') IS NOT NULL AS answered FROM (VALUES
    ('NULL',                      NULL::text),
    ('1 MB',                      repeat('v', 1048576)),
    ('1 MB then the token',       repeat(' ', 1048576) || :'pol_tok'),
    ('the token + LF',            :'pol_tok' || E'\n'),
    ('the token upper-cased',     upper(:'pol_tok')),
    ('the token, last char off',  left(:'pol_tok', 52) || CASE WHEN right(:'pol_tok', 1) = 'x' THEN 'y' ELSE 'x' END),
    ('53 two-byte characters',    repeat('ß', 53)),
    ('SQL injection',             $$' OR 1=1; UPDATE vatoken.tokens SET revoked_at = now(); --$$)
) AS c(input, t);
SELECT vatoken_report_leak(NULL, NULL) IS NOT NULL AS both_null_answered;

-- Nothing was written by any of 6a or 6b.
SELECT a.tokens = b.tokens AS tokens_unchanged, a.seq - b.seq AS ids_used,
       a.audit = b.audit AS audit_unchanged, a.calls - b.calls AS new_calls
FROM cat_pol_state() a, cat_pol_before b;
SELECT status, scopes, allowed_clients, expires_at FROM vatoken_list('cat-pol');

-- 6c. vatoken_verify: one row for any scopes and client, never an error; a
-- malformed required scope is never granted; the client's own netmask is
-- ignored (its address is matched); only "valid" counts a call.
SELECT input, v.valid, v.status, v.token_id = :pol_id AS named FROM (VALUES
    ('scope 1 MB',                ARRAY[repeat('s', 1048576)], '10.0.0.1'::inet),
    ('ops: + 1 MB',               ARRAY['ops:' || repeat('s', 1048576)], '10.0.0.1'),
    ('ops:read',                  '{ops:read}', '10.0.0.1'),
    ('ops:ré',                    '{ops:ré}', '10.0.0.1'),
    ('ops:read + LF',             ARRAY[E'ops:read\n'], '10.0.0.1'),
    ('required ops:*',            '{ops:*}', '10.0.0.1'),
    ('required *',                '{*}', '10.0.0.1'),
    ('{NULL}',                    ARRAY[NULL]::text[], '10.0.0.1'),
    ('{ops:read,NULL}',           ARRAY['ops:read', NULL], '10.0.0.1'),
    ('2-D, all granted',          '{{ops:read},{flights:read}}', '10.0.0.1'),
    ('2-D, one not granted',      '{{ops:read},{flights:write}}', '10.0.0.1'),
    ('100000 x ops:read',         array_fill('ops:read'::text, ARRAY[100000]), '10.0.0.1'),
    ('scopes NULL',               NULL, '10.0.0.1'),
    ('client NULL',               '{}', NULL),
    ('client 10.0.0.0/7',         '{}', '10.0.0.0/7'),
    ('client 0.0.0.0/0',          '{}', '0.0.0.0/0'),
    ('client ::/0',               '{}', '::/0'),
    ('client ::ffff:10.1.1.1/96', '{}', '::ffff:10.1.1.1/96'),
    ('client ::ffff:11.1.1.1',    '{}', '::ffff:11.1.1.1')
) AS c(input, s, ip), LATERAL vatoken_verify(:'pol_tok', c.s, c.ip) v;
SELECT input, v.valid, v.status, v.token_id IS NULL AS unnamed FROM (VALUES
    ('NULL token',                NULL::text),
    ('1 MB',                      repeat('v', 1048576)),
    ('token + LF',                :'pol_tok' || E'\n')
) AS c(input, t), LATERAL vatoken_verify(c.t, ARRAY[repeat('s', 1048576)], '0.0.0.0/0') v;
SELECT a.tokens = b.tokens AS tokens_unchanged, a.calls - b.calls AS new_calls
FROM cat_pol_state() a, cat_pol_before b;

-- 6d. What is stored of a hostile source and actor: control characters
-- (C0, DEL, C1) become spaces, cut at 200 characters.
-- (First the accepted grace extremes: a month is cut at the expiry, NULL is
-- no grace.)
SELECT previous_valid_until FROM vatoken_rotate('cat-pol', :pol_id, '1 month');
SELECT token AS pol_tok, previous_valid_until IS NULL AS no_previous
FROM vatoken_rotate('cat-pol', :pol_id, NULL) \gset
SELECT :'no_previous' AS no_previous;
BEGIN;
SET LOCAL vatoken.actor = E'staff\t42\r\n\x1b[31m\x7f\u0085\u009b!';
SELECT vatoken_update('cat-pol', :pol_id, name => 'Policy 2');
COMMIT;
SELECT set_config('vatoken.actor', repeat('語', 1048576), false) IS NOT NULL AS actor_set;
SELECT vatoken_update('cat-pol', :pol_id, name => 'Policy 3');
SET vatoken.actor = '';
SELECT vatoken_update('cat-pol', :pol_id, name => 'Policy 4');
RESET vatoken.actor;
SELECT vatoken_report_leak(:'pol_tok' , E'scan\tner\n\x01\x7f\u0085\u009f' || repeat('é', 1048576));
SELECT status, left(revoked_reason, 40) AS reason, length(revoked_reason) AS reason_length,
       revoked_reason ~ '[\x01-\x1f\x7f\u0080-\u009f]' AS has_control
FROM vatoken_list('cat-pol');
SELECT event, left(actor, 30) AS actor, length(actor) AS actor_length,
       actor ~ '[\x01-\x1f\x7f\u0080-\u009f]' AS actor_control,
       left(detail->>'source', 20) AS source, length(detail->>'source') AS source_length,
       detail->>'source' ~ '[\x01-\x1f\x7f\u0080-\u009f]' AS source_control
FROM vatoken_audit('cat-pol') ORDER BY at, event, name;
SELECT count(*) AS all_events FROM vatoken_audit('cat-pol', NULL);
SELECT count(*) AS events_since_infinity FROM vatoken_audit('cat-pol', 'infinity');
SELECT vatoken_delete('cat-pol', :pol_id);
DROP FUNCTION cat_pol_state();
