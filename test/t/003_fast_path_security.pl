# Issue 9, item 1: the flush worker runs no code of a database owner and
# ignores the database's settings.
#
# A database owner who is not a superuser shadows the operators the flush
# uses (bigint + and =, date =, bytea =) with functions that record who ran
# them and try to make the owner a superuser, and points the database's
# search_path at them.  After validations and a flush, the owner is still
# not a superuser, none of the functions ran, and the counts reached
# vatoken.usage exactly.  A control shows that the shadows do capture
# ordinary SQL run in that database.
#
# Then a database whose settings would stop an unpinned worker
# (default_transaction_read_only, 1 ms timeouts, remote_apply) is flushed
# all the same.  Both databases are configured before anything is counted in
# them, so the flush worker that serves them starts with those settings.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VatokenTest;

my $node = PostgreSQL::Test::Cluster->new('security');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'vatoken'
vatoken.flush_interval = '100ms'
});
$node->start;

# Our own sessions must neither be captured by the shadows nor stopped by
# the hostile settings: client options override database settings.
$ENV{PGOPTIONS} = '-c search_path=pg_catalog,public -c statement_timeout=0'
  . ' -c lock_timeout=0 -c idle_in_transaction_session_timeout=0'
  . ' -c default_transaction_read_only=off';

sub validate_n
{
	my ($db, $token, $n) = @_;
	return $node->safe_psql($db,
		"SELECT count(*) FROM generate_series(1, $n) g, "
		  . "LATERAL vatoken_validate('$token' || left(g::text, 0)) v WHERE v.valid");
}

# The last lines of the server log that match $re.
sub log_tail
{
	my ($re) = @_;
	my @lines = grep { /$re/ } split /\n/, slurp_file($node->logfile);
	return join("\n", @lines > 5 ? @lines[-5 .. -1] : @lines);
}

sub table_calls
{
	my ($db) = @_;
	return $node->safe_psql($db,
		'SELECT coalesce(sum(calls), 0) FROM vatoken.usage');
}

# --- a hostile database owner
$node->safe_psql('postgres', q{
	CREATE ROLE app_owner LOGIN;
	CREATE DATABASE app OWNER app_owner;
});
$node->safe_psql('app', 'CREATE EXTENSION vatoken SCHEMA public');
my $token = $node->safe_psql('app', "SELECT token FROM vatoken_create('o', 'app-1')");

# Everything below runs as app_owner, and every operator inside the
# shadows is qualified so that they return the normal result.
$node->safe_psql('app', <<'SQL');
SET ROLE app_owner;
CREATE SCHEMA m;
CREATE TABLE m.spied (op text, who name, super boolean,
                      at timestamptz DEFAULT pg_catalog.clock_timestamp());
GRANT ALL ON SCHEMA m TO PUBLIC;
GRANT ALL ON m.spied TO PUBLIC;
CREATE FUNCTION m.spy(p_op text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO m.spied (op, who, super)
    SELECT p_op, current_user, r.rolsuper FROM pg_catalog.pg_roles r
    WHERE r.rolname OPERATOR(pg_catalog.=) current_user;
    BEGIN
        EXECUTE 'ALTER ROLE app_owner SUPERUSER';
    EXCEPTION WHEN OTHERS THEN
        NULL;
    END;
END
$$;
CREATE FUNCTION m.int8pl(bigint, bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN PERFORM m.spy('bigint+'); RETURN $1 OPERATOR(pg_catalog.+) $2; END $$;
CREATE FUNCTION m.int8eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM m.spy('bigint='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE FUNCTION m.dateeq(date, date) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM m.spy('date='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE FUNCTION m.byteaeq(bytea, bytea) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM m.spy('bytea='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR m.+ (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = m.int8pl);
CREATE OPERATOR m.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = m.int8eq);
CREATE OPERATOR m.= (LEFTARG = date, RIGHTARG = date, FUNCTION = m.dateeq);
CREATE OPERATOR m.= (LEFTARG = bytea, RIGHTARG = bytea, FUNCTION = m.byteaeq);
ALTER DATABASE app SET search_path = m, pg_catalog;
SQL

# Control: a session that takes the database's search_path is captured.
{
	local $ENV{PGOPTIONS} = '';
	$node->safe_psql('app', q{
		SET ROLE app_owner;
		SELECT 1::bigint + 2::bigint, 1::bigint = 1::bigint,
		       current_date = current_date, '\x01'::bytea = '\x01'::bytea;
	});
}
is($node->safe_psql('app',
	"SELECT string_agg(DISTINCT op || ':' || who || ':' || super, ',' ORDER BY op || ':' || who || ':' || super) FROM m.spied"),
	'bigint+:app_owner:false,bigint=:app_owner:false,bytea=:app_owner:false,date=:app_owner:false',
	'control: the shadow operators capture SQL run in the database');
$node->safe_psql('app', 'TRUNCATE m.spied');

# Count, and wait for the flush (a new worker: nothing was counted here yet).
is(validate_n('app', $token, 7), '7', 'seven valid calls in the hostile database');
ok(poll_until($node, 'app', 'SELECT coalesce(sum(calls), 0) FROM vatoken.usage', '7', 60),
	'the flush writes the seven calls to vatoken.usage')
  or diag('vatoken.usage holds ' . table_calls('app'));
# A second round, so that a flush also updates an existing row (bigint +).
is(validate_n('app', $token, 5), '5', 'five more calls');
ok(poll_until($node, 'app', 'SELECT coalesce(sum(calls), 0) FROM vatoken.usage', '12', 60),
	'the flush adds them to the existing row: exactly 12');

is($node->safe_psql('postgres',
	"SELECT rolsuper FROM pg_roles WHERE rolname = 'app_owner'"),
	'f', 'the database owner is still not a superuser');
is($node->safe_psql('app',
	"SELECT count(*) || ' ' || coalesce(string_agg(DISTINCT op || ' as ' || who, ', '), '') FROM m.spied"),
	'0 ', 'no shadow operator ran during the flushes');
is($node->safe_psql('app', "SELECT calls_today FROM vatoken_usage('o', 1)"),
	'12', 'vatoken_usage reports every call once');

# --- settings that would stop a worker that takes them
$node->safe_psql('postgres', q{
	CREATE DATABASE hostile OWNER app_owner;
	ALTER DATABASE hostile SET default_transaction_read_only = on;
	ALTER DATABASE hostile SET statement_timeout = '1ms';
	ALTER DATABASE hostile SET lock_timeout = '1ms';
	ALTER DATABASE hostile SET idle_in_transaction_session_timeout = '1ms';
	ALTER DATABASE hostile SET synchronous_commit = 'remote_apply';
});
$node->safe_psql('hostile', 'CREATE EXTENSION vatoken SCHEMA public');
my $token2 = $node->safe_psql('hostile', "SELECT token FROM vatoken_create('o', 'hostile-1')");
is(validate_n('hostile', $token2, 9), '9', 'nine valid calls in the read-only database');
ok(poll_until($node, 'hostile', 'SELECT coalesce(sum(calls), 0) FROM vatoken.usage', '9', 60),
	'read-only default and 1 ms timeouts do not stop the flush')
  or diag('vatoken.usage holds ' . table_calls('hostile') . "; server log:\n"
	  . log_tail(qr/vatoken|read-only|timeout/));
is(validate_n('hostile', $token2, 3), '3', 'three more calls');
ok(poll_until($node, 'hostile', 'SELECT coalesce(sum(calls), 0) FROM vatoken.usage', '12', 60),
	'and the next flush adds them: exactly 12');

$node->stop;
done_testing();
