# Issue 9, items 4 and 5: readers never spin, and a fast shutdown completes
# while a synchronous standby is down.
#
# - With vatoken.flush_interval = '10ms' and one database kept busy by a
#   bounded pgbench run that validates a token, vatoken_list of an owner
#   with 50000 tokens in that same database completes (statement_timeout
#   60 s): a reader may retry a bounded number of times, then it locks.
# - With synchronous_standby_names = 'missing' (no standby will ever
#   connect), a flush that commits must not block the readers of any
#   database: vatoken_list and vatoken_usage complete in the database with
#   the flushed counts and in another one, and the counts reach the table
#   (the worker commits with synchronous_commit = local).
# - pg_ctl stop -m fast completes in that state, and keeps the count.
# Our own sessions commit with synchronous_commit = local (PGOPTIONS).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VatokenTest;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('readers');
# Synchronous replication needs wal senders (max_wal_senders > 0).
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'vatoken'
vatoken.flush_interval = '100ms'
});
$node->start;
$ENV{PGOPTIONS} = '-c synchronous_commit=local';

sub set_conf
{
	my ($name, $value) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET $name = '$value'");
	$node->reload;
	poll_until($node, 'postgres', "SELECT current_setting('$name') = '$value'", 't', 30)
	  or die "$name not reloaded";
}

# Run $sql under statement_timeout $timeout; returns "rc|stdout|stderr".
sub timed_sql
{
	my ($db, $sql, $timeout) = @_;
	my ($out, $err) = ('', '');
	my $rc = $node->psql($db, "SET statement_timeout = '$timeout'; $sql",
		stdout => \$out, stderr => \$err, timeout => 120);
	return "$rc|$out|$err";
}

# ---------------------------------------------------------------------------
# Item 4 (b): a long list in a database flushed every 10 ms
$node->safe_psql('postgres', 'CREATE DATABASE busy');
$node->safe_psql('busy', 'CREATE EXTENSION vatoken');
my $hot = $node->safe_psql('busy', "SELECT token FROM vatoken_create('hot', 'hot')");
is($node->safe_psql('busy',
	"SELECT count(*) FROM generate_series(1, 50000) g, LATERAL vatoken_create('bulk', 'b' || g) c"),
	'50000', '50000 tokens for one owner');

my $tmp = PostgreSQL::Test::Utils::tempdir;
open my $fh, '>', "$tmp/validate.sql" or die;
print $fh "SELECT valid FROM vatoken_validate('$hot');\n";
close $fh;
set_conf('vatoken.flush_interval', '10ms');
# Bounded: at most 90 s, killed as soon as the list below has returned.
my ($bench_out, $bench_err) = ('', '');
my $bench = IPC::Run::start(
	[ 'pgbench', '-n', '-c', '1', '-R', '500', '-T', '90', '-f', "$tmp/validate.sql",
	  $node->connstr('busy') ],
	'>', \$bench_out, '2>', \$bench_err);
ok(poll_until($node, 'busy', 'SELECT count(*) > 0 FROM vatoken.usage', 't', 60),
	'the busy database is being flushed');
is(timed_sql('busy', "SELECT count(*) FROM vatoken_list('bulk')", '60s'), '0|50000|',
	'vatoken_list of 50000 tokens completes while the database is flushed every 10 ms');
$bench->kill_kill;
$bench->finish;
set_conf('vatoken.flush_interval', '100ms');

# ---------------------------------------------------------------------------
# Item 4 (a): a flush commit that would wait for a missing standby
$node->safe_psql('postgres', 'CREATE DATABASE one');
$node->safe_psql('postgres', 'CREATE DATABASE two');
$node->safe_psql($_, 'CREATE EXTENSION vatoken') for qw(one two);
my $t1 = $node->safe_psql('one', "SELECT token FROM vatoken_create('a', 'one-1')");
my $t2 = $node->safe_psql('two', "SELECT token FROM vatoken_create('a', 'two-1')");
$node->safe_psql('two', "SELECT valid FROM vatoken_validate('$t2')");
ok(poll_until($node, 'two', 'SELECT coalesce(sum(calls), 0) FROM vatoken.usage', '1', 60),
	'database two flushed before the standby goes missing');

set_conf('synchronous_standby_names', 'missing');
is($node->safe_psql('one',
	"SELECT count(*) FROM generate_series(1, 5) g, LATERAL vatoken_validate('$t1' || left(g::text, 0)) v WHERE v.valid"),
	'5', 'five calls in database one');
# The flush of database one has either committed or is waiting for the standby.
ok(poll_until($node, 'one', q{
	SELECT (SELECT coalesce(sum(calls), 0) FROM vatoken.usage) = 5
	    OR EXISTS (SELECT FROM pg_stat_activity
	               WHERE backend_type = 'vatoken flush' AND wait_event = 'SyncRep')},
	't', 60), 'the flush of database one has come to its commit');

is(timed_sql('two', "SELECT calls_today FROM vatoken_list('a')", '20s'), '0|1|',
	'vatoken_list in another database completes');
is(timed_sql('two', "SELECT calls_today FROM vatoken_usage('a', 1)", '20s'), '0|1|',
	'vatoken_usage in another database completes');
is(timed_sql('one', "SELECT calls_today FROM vatoken_list('a')", '20s'), '0|5|',
	'vatoken_list in the flushed database completes');
is(timed_sql('one', "SELECT calls_today FROM vatoken_usage('a', 1)", '20s'), '0|5|',
	'vatoken_usage in the flushed database completes');
ok(poll_until($node, 'one', 'SELECT coalesce(sum(calls), 0) FROM vatoken.usage', '5', 30),
	'the flush commits without waiting for the standby');

# ---------------------------------------------------------------------------
# Item 5: fast shutdown with the synchronous standby down
$node->safe_psql('one', "SELECT valid FROM vatoken_validate('$t1')");
{
	local $ENV{PGCTLTIMEOUT} = 30;
	my $stopped = $node->stop('fast', fail_ok => 1);
	ok($stopped, 'pg_ctl stop -m fast completes with the synchronous standby down');
	if (!$stopped)
	{
		# Do not leave a postmaster behind that no one can stop.
		$node->kill9;
		done_testing();
		exit 0;
	}
}
$node->start;
set_conf('synchronous_standby_names', '');
is($node->safe_psql('one', "SELECT calls_today FROM vatoken_usage('a', 1)"), '6',
	'the call counted before the shutdown is kept');

$node->stop;
done_testing();
