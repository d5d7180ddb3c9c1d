# Security of the SQL interface, beyond sql/privileges.sql:
#
# 1. A role that shadows functions, an aggregate and operators in its own
#    schema, placed before pg_catalog in its search_path, captures nothing
#    when it or a superuser calls vatoken; neither do temporary tables named
#    like the extension's.  A control query proves the shadows do capture
#    ordinary SQL.
# 2. PUBLIC can execute nothing and read nothing, not even statistics; a
#    non-superuser can neither install, change nor drop the extension.
# 3. A validate-only role cannot create, list, see usage or delete.
# 4. With log_min_messages = debug5, verbose errors and the parse, rewrite
#    and plan dumps, creating, validating (valid, unknown and malformed
#    tokens, from SQL and as bind parameters of prepared statements, with
#    and without errors) and deleting tokens writes no token, and no token's
#    secret in any letter case, to the server log, pg_stat_statements or
#    pg_stat_activity.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# VATOKEN_TEST_PRELOAD=1 runs it all with the shared-memory fast path too.
my $preload = $ENV{VATOKEN_TEST_PRELOAD} ? ', vatoken' : '';

my $node = PostgreSQL::Test::Cluster->new('security');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'pg_stat_statements$preload'\n");
$node->append_conf('postgresql.conf', <<'CONF');
vatoken.timezone = 'UTC'
log_statement = 'none'
log_min_messages = debug5
log_error_verbosity = verbose
log_min_error_statement = debug5
debug_print_parse = on
debug_print_rewritten = on
debug_print_plan = on
pg_stat_statements.track = all
CONF
$node->start;

# The server log is large at debug5; it is read back in full at the end.
$node->safe_psql('postgres', 'CREATE DATABASE sec');
$node->safe_psql('sec', 'CREATE EXTENSION vatoken');
$node->safe_psql('sec', 'CREATE EXTENSION pg_stat_statements');

# Every function of the API, with a call of it.
my %api = (
	'vatoken_create(text, text, timestamptz, text[], cidr[], integer, interval)' =>
	  "vatoken_create('pub-owner', 'x')",
	'vatoken_validate(text)' => "vatoken_validate('pub-owner')",
	'vatoken_verify(text, text[], inet)' =>
	  "vatoken_verify('pub-owner', '{ops:read}', '10.0.0.1')",
	'vatoken_report_leak(text, text)' => "vatoken_report_leak('pub-owner', 'x')",
	'vatoken_rotate(text, bigint, interval)' => "vatoken_rotate('pub-owner', 1)",
	'vatoken_audit(text, timestamptz)' => "vatoken_audit('pub-owner')",
	'vatoken_audit_prune(interval)' => "vatoken_audit_prune('1 day')",
	'vatoken_prune()' => "vatoken_prune()",
	'vatoken_stats()' => "vatoken_stats()",
	'vatoken_update(text, bigint, text, timestamptz, text[], cidr[], boolean, integer, interval)' =>
	  "vatoken_update('pub-owner', 1, enabled => false)",
	'vatoken_list(text)' => "vatoken_list('pub-owner')",
	'vatoken_usage(text, bigint)' => "vatoken_usage('pub-owner', 1)",
	'vatoken_usage_daily(text, bigint, date, date)' => "vatoken_usage_daily('pub-owner', 1)",
	'vatoken_delete(text, bigint)' => "vatoken_delete('pub-owner', 1)");
my @functions = sort keys %api;

# psql as $user in database $db (default sec); returns (exit code, stdout,
# stderr).
sub psql_as
{
	my ($user, $sql, $db, $on_error_stop) = @_;
	my ($stdout, $stderr);
	my $rc = $node->psql(
		$db // 'sec', $sql,
		stdout => \$stdout,
		stderr => \$stderr,
		on_error_stop => $on_error_stop // 1,
		extra_params => [ '-U', $user ]);
	return ($rc, $stdout, $stderr);
}

###
### 1. Shadowing functions, operators and relations captures nothing.
###
$node->safe_psql('sec', <<'SQL');
CREATE ROLE mallory LOGIN;
CREATE SCHEMA mallory AUTHORIZATION mallory;
GRANT EXECUTE ON FUNCTION vatoken_create(text, text, timestamptz, text[], cidr[], integer, interval),
    vatoken_validate(text), vatoken_verify(text, text[], inet),
    vatoken_update(text, bigint, text, timestamptz, text[], cidr[], boolean, integer, interval),
    vatoken_report_leak(text, text), vatoken_rotate(text, bigint, interval),
    vatoken_audit(text, timestamptz), vatoken_audit_prune(interval),
    vatoken_list(text), vatoken_usage(text, bigint),
    vatoken_usage_daily(text, bigint, date, date), vatoken_delete(text, bigint)
    TO mallory;
SQL

# Every shadow bumps a sequence (which no rollback undoes, and which works in
# a read-only context too) and raises a WARNING, then behaves like the
# original so that a captured call would go unnoticed but for those traces.
my $shadows = <<'SQL';
SET search_path = mallory, pg_catalog, public;
CREATE SEQUENCE mallory.captures;
CREATE FUNCTION mallory.capture(what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.nextval('mallory.captures');
    RAISE WARNING 'captured % as %', what, current_user;
END $$;

CREATE FUNCTION mallory.now() RETURNS timestamptz LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('now'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION mallory.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('clock_timestamp'); RETURN pg_catalog.clock_timestamp(); END $$;
CREATE FUNCTION mallory.nextval(regclass) RETURNS bigint LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('nextval'); RETURN pg_catalog.nextval($1); END $$;
CREATE FUNCTION mallory.sha256(bytea) RETURNS bytea LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('sha256 ' || pg_catalog.encode($1, 'escape')); RETURN pg_catalog.sha256($1); END $$;
CREATE FUNCTION mallory.digest(text, text) RETURNS bytea LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('digest ' || $1); RETURN pg_catalog.sha256(pg_catalog.convert_to($1, 'UTF8')); END $$;
CREATE FUNCTION mallory.digest(bytea, text) RETURNS bytea LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('digest bytea'); RETURN pg_catalog.sha256($1); END $$;
CREATE FUNCTION mallory.length(bytea) RETURNS integer LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('length'); RETURN pg_catalog.length($1); END $$;
CREATE FUNCTION mallory.encode(bytea, text) RETURNS text LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('encode'); RETURN pg_catalog.encode($1, $2); END $$;
CREATE FUNCTION mallory.convert_to(text, name) RETURNS bytea LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('convert_to ' || $1); RETURN pg_catalog.convert_to($1, $2); END $$;
CREATE FUNCTION mallory.timezone(text, timestamptz) RETURNS timestamp LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('timezone'); RETURN pg_catalog.timezone($1, $2); END $$;
CREATE FUNCTION mallory.current_setting(text) RETURNS text LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('current_setting'); RETURN pg_catalog.current_setting($1); END $$;
CREATE FUNCTION mallory.btrim(text) RETURNS text LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('btrim ' || $1); RETURN pg_catalog.btrim($1); END $$;
CREATE FUNCTION mallory.length(text) RETURNS integer LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('length ' || $1); RETURN pg_catalog.length($1); END $$;

-- The aggregate that the usage query uses.
CREATE FUNCTION mallory.sum_step(bigint, bigint) RETURNS bigint LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('sum'); RETURN pg_catalog.int8pl(coalesce($1, 0), $2); END $$;
CREATE AGGREGATE mallory.sum(bigint) (SFUNC = mallory.sum_step, STYPE = bigint);

-- Operators the extension's statements use, on exactly their types.
CREATE FUNCTION mallory.op_capture_bytea(bytea, bytea) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('= bytea ' || pg_catalog.encode($1, 'hex')); RETURN pg_catalog.byteaeq($1, $2); END $$;
CREATE OPERATOR mallory.= (LEFTARG = bytea, RIGHTARG = bytea, FUNCTION = mallory.op_capture_bytea);
CREATE FUNCTION mallory.op_capture_text(text, text) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('= text ' || $1); RETURN pg_catalog.texteq($1, $2); END $$;
CREATE OPERATOR mallory.= (LEFTARG = text, RIGHTARG = text, FUNCTION = mallory.op_capture_text);
CREATE FUNCTION mallory.op_capture_int8(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('= bigint'); RETURN pg_catalog.int8eq($1, $2); END $$;
CREATE OPERATOR mallory.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = mallory.op_capture_int8);
CREATE FUNCTION mallory.op_capture_int8pl(bigint, bigint) RETURNS bigint LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('+ bigint'); RETURN pg_catalog.int8pl($1, $2); END $$;
CREATE OPERATOR mallory.+ (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = mallory.op_capture_int8pl);
CREATE FUNCTION mallory.op_capture_int8ge(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('>= bigint'); RETURN pg_catalog.int8ge($1, $2); END $$;
CREATE OPERATOR mallory.>= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = mallory.op_capture_int8ge);
CREATE FUNCTION mallory.op_capture_date(date, date) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('= date'); RETURN pg_catalog.date_eq($1, $2); END $$;
CREATE OPERATOR mallory.= (LEFTARG = date, RIGHTARG = date, FUNCTION = mallory.op_capture_date);
CREATE FUNCTION mallory.op_capture_datege(date, date) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('>= date'); RETURN pg_catalog.date_ge($1, $2); END $$;
CREATE OPERATOR mallory.>= (LEFTARG = date, RIGHTARG = date, FUNCTION = mallory.op_capture_datege);
CREATE FUNCTION mallory.op_capture_datele(date, date) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM mallory.capture('<= date'); RETURN pg_catalog.date_le($1, $2); END $$;
CREATE OPERATOR mallory.<= (LEFTARG = date, RIGHTARG = date, FUNCTION = mallory.op_capture_datele);
SQL
my ($rc, $out, $err) = psql_as('mallory', $shadows);
is($rc, 0, 'mallory creates shadows of functions, an aggregate and operators')
  or diag($err);

my $path = 'SET search_path = mallory, pg_catalog, public;';
my $captures = 'SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM mallory.captures';

# Control: in mallory's search path the shadows do capture ordinary SQL.
($rc, $out, $err) = psql_as('mallory', <<SQL);
$path
SELECT now() IS NOT NULL, sha256('x'::bytea) IS NOT NULL, 1::bigint = 1::bigint,
       'a'::text = 'a'::text, sum(x) FROM (VALUES (1::bigint)) v(x);
SQL
like($err, qr/captured now as mallory/, 'control: now() is captured in mallory\'s search path');
like($err, qr/captured = text/, 'control: text = is captured in mallory\'s search path');
like($err, qr/captured sum/, 'control: sum() is captured in mallory\'s search path');
my $control = $node->safe_psql('sec', $captures);
cmp_ok($control, '>=', 5, 'control: the captures are counted');

# Temporary tables named like the extension's relations, with triggers that
# capture whatever lands in them.
my $temp_shadows = <<'SQL';
CREATE TEMP TABLE tokens (LIKE pg_catalog.pg_class);
CREATE TEMP TABLE usage (token_id bigint, day date, calls bigint);
CREATE TEMP SEQUENCE tokens_token_id_seq;
SQL

# The caller's own SQL must not use a shadowed operator: it would be the
# caller's capture, not the extension's.
my $calls = <<'SQL';
CREATE TEMP TABLE t AS SELECT * FROM vatoken_create('shadow-owner', 'Shadowed');
SELECT count(*) FROM t, LATERAL vatoken_validate(t.token) v WHERE v.valid;
SELECT count(*) FROM t, LATERAL vatoken_validate(left(t.token, 52)
    || CASE WHEN right(t.token, 1) OPERATOR(pg_catalog.=) 'x' THEN 'y' ELSE 'x' END) v
 WHERE v.status OPERATOR(pg_catalog.=) 'malformed';
SELECT count(*) FROM t, LATERAL vatoken_verify(t.token, '{ops:read}', '10.0.0.1') v WHERE v.valid;
SELECT count(*) FROM t WHERE vatoken_update('shadow-owner', t.token_id, name => 'Renamed',
    expires_at => '2100-01-01', scopes => '{ops:*}', allowed_clients => '{10.0.0.0/8}',
    enabled => true);
SELECT count(*) FROM t, LATERAL vatoken_verify(t.token, '{ops:read}', '10.0.0.1') v WHERE v.valid;
SELECT count(*) FROM t, LATERAL vatoken_verify(t.token, '{pireps:read}', '10.0.0.1') v
 WHERE v.status OPERATOR(pg_catalog.=) 'forbidden_scope';
CREATE TEMP TABLE r AS SELECT r.* FROM t, LATERAL vatoken_rotate('shadow-owner', t.token_id, '1 hour') r;
SELECT count(*) FROM r, LATERAL vatoken_verify(r.token, '{ops:read}', '10.0.0.1') v WHERE v.valid;
SELECT count(*) FROM t, LATERAL vatoken_report_leak(t.token, 'scanner') r;
SELECT count(*) FROM t, LATERAL vatoken_verify(t.token) v
 WHERE v.status OPERATOR(pg_catalog.=) 'revoked';
SELECT count(*) FROM vatoken_list('shadow-owner');
SELECT count(*) FROM t, LATERAL vatoken_usage('shadow-owner', t.token_id) u;
SELECT count(*) FROM t, LATERAL vatoken_usage_daily('shadow-owner', t.token_id, '2026-06-17',
    '2026-06-17') d WHERE d.calls OPERATOR(pg_catalog.>=) 0;
SELECT count(*) FROM t, LATERAL vatoken_audit('shadow-owner', '-infinity') a
 WHERE a.event OPERATOR(pg_catalog.=) 'leak' AND a.token_id OPERATOR(pg_catalog.=) t.token_id;
SELECT vatoken_audit_prune('3650 days') OPERATOR(pg_catalog.>=) 0;
SELECT count(*) FROM t WHERE vatoken_delete('shadow-owner', t.token_id);
SELECT count(*) FROM t, LATERAL vatoken_validate(t.token) v
 WHERE v.status OPERATOR(pg_catalog.=) 'unknown';
SELECT count(*) FROM t WHERE vatoken_delete('shadow-owner', t.token_id);
SELECT (SELECT count(*) FROM pg_temp.usage) OPERATOR(pg_catalog.+)
       (SELECT count(*) FROM pg_temp.tokens) OPERATOR(pg_catalog.+)
       (SELECT CASE WHEN is_called THEN 1 ELSE 0 END FROM pg_temp.tokens_token_id_seq) AS temp_rows;
SQL

my $superuser = $node->safe_psql('sec', 'SELECT current_user');
for my $who ('mallory', $superuser)
{
	# pg_catalog searched after mallory's schema, after pg_temp too, and
	# before them (vatoken_validate pins no search_path in its declaration).
	for my $p ($path, 'SET search_path = pg_temp, mallory, pg_catalog, public;',
		'SET search_path = pg_catalog, mallory, pg_temp, public;')
	{
		my $before = $node->safe_psql('sec', $captures);
		($rc, $out, $err) = psql_as($who, "$p\n$temp_shadows\n$calls");
		is($rc, 0, "$who calls every function with [$p]") or diag($err);
		is($out, join("\n", (1) x 13, "t", 1, 1, 0, 0),
			"$who: create, validate, list, usage and delete work as usual");
		unlike($err, qr/captured/, "$who: no shadow was called");
		is($node->safe_psql('sec', $captures), $before,
			"$who: the capture counter did not move");
	}
}

###
### 2. PUBLIC: nothing executable, nothing readable; the extension is the
###    superuser's.
###
# Statistics exist only for tables with rows: give both some before ANALYZE.
$node->safe_psql('sec', 'CREATE ROLE nobody LOGIN');
$node->safe_psql('sec', q{
	CREATE TABLE pub_tokens AS SELECT c.token FROM generate_series(1, 20) g,
		LATERAL vatoken_create('pub-owner', 'For PUBLIC ' || g) c;
	SELECT count(*) FROM pub_tokens t, LATERAL vatoken_validate(t.token) v WHERE v.valid;
});
$node->poll_query_until('sec', 'SELECT count(*) > 0 FROM vatoken.usage')
  or die 'no usage rows to analyze';
$node->safe_psql('sec', 'ANALYZE vatoken.tokens, vatoken.usage');
cmp_ok($node->safe_psql('sec', "SELECT count(*) FROM pg_stats WHERE schemaname = 'vatoken'"),
	'>', 0, 'control: the extension\'s tables have statistics that a superuser sees');
my $sql_public = <<'SQL';
SELECT count(*) FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'vatoken'
WHERE has_function_privilege('public', p.oid, 'EXECUTE')
   OR EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
              WHERE a.grantee = 0);
SELECT count(*) FROM pg_class c
WHERE c.relnamespace = 'vatoken'::regnamespace
  AND (EXISTS (SELECT FROM aclexplode(coalesce(c.relacl, acldefault(
                 CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", c.relowner))) a
               WHERE a.grantee = 0)
       OR EXISTS (SELECT FROM pg_attribute at WHERE at.attrelid = c.oid AND at.attacl IS NOT NULL));
SELECT has_schema_privilege('public', 'vatoken', 'USAGE')
    OR has_schema_privilege('public', 'vatoken', 'CREATE');
SQL
is($node->safe_psql('sec', $sql_public), "0\n0\nf",
	'PUBLIC has no EXECUTE on any function, no privilege on any relation or column, none on the schema');

for my $f (@functions)
{
	($rc, $out, $err) = psql_as('nobody', "SELECT * FROM $api{$f}");
	like($err, qr/permission denied for function/, "a role without grants cannot call $f");
}
for my $rel ('vatoken.tokens', 'vatoken.usage', 'vatoken.tokens_token_id_seq')
{
	($rc, $out, $err) = psql_as('nobody', "SELECT * FROM $rel");
	like($err, qr/permission denied for schema vatoken/, "a role without grants cannot read $rel");
}
($rc, $out, $err) = psql_as('nobody',
	"SELECT count(*) FROM pg_stats WHERE schemaname = 'vatoken'");
is($out, '0', 'pg_stats shows nothing of the extension\'s tables to a role without grants');
($rc, $out, $err) = psql_as('nobody',
	"SELECT nextval('vatoken.tokens_token_id_seq')");
like($err, qr/permission denied/, 'a role without grants cannot draw ids');

$node->safe_psql('postgres', 'CREATE DATABASE nobodys OWNER nobody');
($rc, $out, $err) = psql_as('nobody', 'CREATE EXTENSION vatoken', 'nobodys');
like($err, qr/permission denied to create extension "vatoken"/,
	'a non-superuser cannot install the extension, even in a database of its own');
($rc, $out, $err) = psql_as('mallory', 'ALTER EXTENSION vatoken UPDATE');
like($err, qr/must be owner of extension vatoken/, 'a non-superuser cannot update the extension');
($rc, $out, $err) = psql_as('mallory', 'DROP EXTENSION vatoken');
like($err, qr/must be owner of extension vatoken/, 'a non-superuser cannot drop the extension');
# Unless the library is preloaded, the setting is a placeholder before the
# library is loaded, which anyone may set; loading the library discards it
# with a WARNING.  (Preloaded, the SET fails at once.)
($rc, $out, $err) = psql_as('mallory', <<'SQL', 'sec', 0);
SET vatoken.timezone = 'Pacific/Kiritimati';
SELECT count(*) FROM vatoken_list('nobody-at-all');
SHOW vatoken.timezone;
SQL
is($out, "0\nUTC", 'a non-superuser\'s SET of vatoken.timezone before the library loads has no effect');
like($err, qr/(WARNING|ERROR):  permission denied to set parameter "vatoken.timezone"/,
	'... and is reported');
($rc, $out, $err) = psql_as('mallory', <<'SQL');
SELECT count(*) FROM vatoken_list('nobody-at-all');
SET vatoken.timezone = 'Pacific/Kiritimati';
SQL
like($err, qr/ERROR:  permission denied to set parameter "vatoken.timezone"/,
	'a non-superuser cannot move the counting day once the library is loaded');
($rc, $out, $err) = psql_as('mallory', "ALTER ROLE mallory SET vatoken.timezone = 'Pacific/Kiritimati'");
like($err, qr/permission denied to set parameter "vatoken.timezone"/,
	'nor for its future sessions');
($rc, $out, $err) = psql_as('mallory',
	"ALTER FUNCTION vatoken_validate(text) SET search_path = mallory, pg_catalog");
like($err, qr/must be owner of function vatoken_validate/,
	'a non-superuser cannot unpin a function\'s search_path');

###
### 3. A validate-only role.
###
$node->safe_psql('sec', <<'SQL');
CREATE ROLE api_server LOGIN;
GRANT EXECUTE ON FUNCTION vatoken_validate(text) TO api_server;
CREATE TABLE api_tok AS SELECT token_id, token FROM vatoken_create('api-owner', 'For the API server');
GRANT SELECT ON api_tok TO api_server;
SQL
($rc, $out, $err) = psql_as('api_server',
	'SELECT v.valid, v.owner FROM api_tok t, LATERAL vatoken_validate(t.token) v');
is($out, 't|api-owner', 'the validate-only role validates');
for my $call (
	"vatoken_create('api-owner', 'sneaky')",
	"vatoken_list('api-owner')",
	"vatoken_usage('api-owner', 1)",
	"vatoken_usage_daily('api-owner', 1)",
	"vatoken_stats()",
	"vatoken_delete('api-owner', 1)")
{
	($rc, $out, $err) = psql_as('api_server', "SELECT * FROM $call");
	like($err, qr/permission denied for function/, "the validate-only role cannot call $call");
}
is($node->safe_psql('sec', "SELECT count(*) FROM vatoken_list('api-owner')"), '1',
	'the validate-only role changed nothing');

###
### 4. No token in the server log, pg_stat_statements or pg_stat_activity.
###
$node->safe_psql('sec', <<'SQL');
CREATE TABLE log_tokens AS
    SELECT c.token_id, c.token FROM generate_series(1, 5) g,
        LATERAL vatoken_create('log-owner', 'log token ' || g) c;
CREATE TABLE log_gone AS
    SELECT c.token_id, c.token FROM vatoken_create('log-owner', 'gone') c;
SELECT vatoken_delete('log-owner', token_id) FROM log_gone;
SQL

# Validate from SQL: valid, unknown and malformed, and inside statements
# that then fail (the failing statement is logged with its text).
$node->safe_psql('sec', <<'SQL');
SELECT count(*) FROM log_tokens t, LATERAL vatoken_validate(t.token) v WHERE v.valid;
SELECT count(*) FROM log_gone t, LATERAL vatoken_validate(t.token) v WHERE v.status = 'unknown';
SELECT count(*) FROM log_tokens t,
    LATERAL vatoken_validate(left(t.token, 52)
        || CASE WHEN right(t.token, 1) = 'x' THEN 'y' ELSE 'x' END) v1,
    LATERAL vatoken_validate(upper(t.token)) v2,
    LATERAL vatoken_validate(' ' || t.token) v3
WHERE v1.status = 'malformed' AND v2.status = 'malformed' AND v3.status = 'malformed';
SQL
for my $case (
	# (validates unknown tokens, so that no valid call is lost to the
	# rollback, whatever the counting mode)
	[ 'SELECT v.status, 1 / v.valid::int FROM log_gone t, LATERAL vatoken_validate(t.token) v',
	  qr/division by zero/ ],
	[ 'SELECT v.status, 1 / v.valid::int FROM log_tokens t, LATERAL vatoken_validate(upper(t.token)) v',
	  qr/division by zero/ ],
	[ 'SELECT vatoken_create(t.token, E\'\\n\') FROM log_tokens t',
	  qr/name must not contain control characters/ ],
	[ 'SELECT vatoken_list(t.token || repeat(\'x\', 200)) FROM log_tokens t',
	  qr/owner must be between 1 and 200 characters long/ ],
	[ 'SELECT vatoken_usage(t.token, -1) FROM log_tokens t',
	  qr/token_id must be a positive number/ ],
	[ 'SELECT vatoken_delete(t.token, 0) FROM log_tokens t',
	  qr/token_id must be a positive number/ ])
{
	my ($failing, $why) = @$case;
	my ($frc, $fout, $ferr) = psql_as($superuser, $failing);
	isnt($frc, 0, "fails as intended: $failing");
	like($ferr, $why, "and for the intended reason: $failing");
}

# Control: a made-up token written into the text of a failing statement does
# reach the log (log_min_error_statement), so the search below can find one.
my $control_secret = join('', map { ('A' .. 'Z', 'a' .. 'z', 0 .. 9)[ int(rand(62)) ] } 1 .. 43);
($rc, $out, $err) = psql_as($superuser,
	"SELECT v.status, 1 / 0 FROM vatoken_validate('vat_${control_secret}abcdef') v");
isnt($rc, 0, 'the control statement fails');

# Validate with the token as a bind parameter of a prepared statement, as an
# API server does: pgbench -M prepared sends :tok as $1.
$node->pgbench(
	'-n -M prepared -t 20', 0,
	[qr/number of transactions actually processed: 20/], [qr/^$/],
	'pgbench validates tokens passed as bind parameters',
	{
		'101_security_bind' => q{
\set i random(0, 4)
SELECT token AS tok FROM log_tokens ORDER BY token_id OFFSET :i LIMIT 1 \gset
SELECT valid FROM vatoken_validate(:tok);
SELECT status FROM vatoken_validate(lower(:tok::text));
SELECT token AS gone FROM log_gone \gset
SELECT status FROM vatoken_validate(:gone);
SELECT status FROM vatoken_validate(:tok::text || :gone::text);
}
	},
	'sec');
is($node->safe_psql('sec', <<'SQL'), '25', 'every valid call was counted (5 from SQL, 20 from pgbench)')
SELECT sum(l.calls_today) FROM vatoken_list('log-owner') l;
SQL
  or diag($node->safe_psql('sec', "SELECT * FROM vatoken_list('log-owner')"));

# Delete them all.
is($node->safe_psql('sec',
	"SELECT count(*) FROM log_tokens WHERE vatoken_delete('log-owner', token_id)"),
	'5', 'the tokens are deleted');

# Every token this test saw, and the 43-character secret inside each.
my @tokens = split /\n/, $node->safe_psql('sec', <<'SQL');
SELECT token FROM log_tokens UNION ALL SELECT token FROM log_gone
UNION ALL SELECT token FROM api_tok
SQL
is(scalar(@tokens), 7, 'seven tokens to look for');

my $stat = $node->safe_psql('sec',
	'SELECT string_agg(query, E\'\n\') FROM pg_stat_statements') . "\n"
  . $node->safe_psql('sec',
	'SELECT string_agg(coalesce(query, \'\'), E\'\n\') FROM pg_stat_activity');
$node->stop;
my $log = slurp_file($node->logfile);
cmp_ok(length($log), '>', 100_000, 'the debug5 server log is substantial');
like($log, qr/parse \S+: SELECT valid FROM vatoken_validate\(\$1\)/,
	'the log has the debug lines of the prepared statements');
like($log, qr/division by zero/, 'the log has the failing statements');
like($stat, qr/vatoken_validate\(\$1\)/, 'pg_stat_statements saw the prepared validate');

ok(index($log, $control_secret) >= 0, 'control: a token in statement text is found in the log');

my ($in_log, $in_stat) = (0, 0);
for my $tok (@tokens)
{
	my $secret = substr($tok, 4, 43);
	$in_log++  if index(lc($log),  lc($secret)) >= 0;
	$in_stat++ if index(lc($stat), lc($secret)) >= 0;
}
is($in_log,  0, 'no token or secret, in any letter case, in the server log');
is($in_stat, 0, 'no token or secret in pg_stat_statements or pg_stat_activity');

done_testing();
