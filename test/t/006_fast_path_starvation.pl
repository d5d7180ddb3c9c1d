# Issue 9, item 6: flush workers cannot be starved.
#
# max_worker_processes = 3 (the logical replication launcher and the vatoken
# launcher take two of them), four databases kept busy by bounded, throttled
# pgbench runs that validate a token, and a fifth database whose counts were
# made before ALTER DATABASE ... ALLOW_CONNECTIONS false.  Every busy
# database's calls reach its vatoken.usage within 60 s while the load goes
# on, and all of them exactly once the load stops.  The closed database's
# calls are in its table too: that is checked after its connections are
# allowed again, with the interval set back to 1 h first so that nothing can
# flush it between re-enabling and the check.  (On cc10640 that last check
# cannot fail: a flush worker that exits wakes the launcher, which retries
# the closed database at once, so it is flushed as soon as connections are
# allowed.  It documents the contract; the busy databases are what fails.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VatokenTest;
use Time::HiRes qw(usleep);
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('starvation');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'vatoken'
vatoken.flush_interval = '1h'
max_worker_processes = 3
max_parallel_workers_per_gather = 0
});
$node->start;

my $table_total = 'SELECT coalesce(sum(calls), 0) FROM vatoken.usage';
my $list_total = "SELECT calls_today FROM vatoken_usage('o', 1)";

# Poll every database of @$dbs until $query returns 't' there, for at most
# $seconds in all; returns the databases where it never did.
sub wait_all
{
	my ($dbs, $query, $seconds) = @_;
	my %left = map { $_ => 1 } @$dbs;
	my $deadline = time + $seconds;
	while (%left && time < $deadline)
	{
		for my $db (sort keys %left)
		{
			delete $left{$db}
			  if $node->safe_psql($db, $query) eq 't';
		}
		usleep(200_000) if %left;
	}
	return sort keys %left;
}

my @busy = qw(b1 b2 b3 b4);
my %token;
for my $db (@busy, 'closed')
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION vatoken');
	$token{$db} = $node->safe_psql($db, "SELECT token FROM vatoken_create('o', '$db')");
}

# The closed database: four calls pending, then no connections allowed.
is($node->safe_psql('closed',
	"SELECT count(*) FROM generate_series(1, 4) g, LATERAL vatoken_validate('$token{closed}' || left(g::text, 0)) v WHERE v.valid"),
	'4', 'four calls in database closed');
$node->safe_psql('postgres', 'ALTER DATABASE closed ALLOW_CONNECTIONS false');

# Four busy databases: 50 validations a second each (never two empty flush
# intervals in a row), for at most 120 s; stopped as soon as we are done.
my $tmp = PostgreSQL::Test::Utils::tempdir;
my @bench;
for my $db (@busy)
{
	open my $fh, '>', "$tmp/$db.sql" or die;
	print $fh "SELECT valid FROM vatoken_validate('$token{$db}');\n";
	close $fh;
	my ($out, $err) = ('', '');
	push @bench, IPC::Run::start(
		[ 'pgbench', '-n', '-c', '1', '-R', '50', '-T', '120', '-f', "$tmp/$db.sql",
		  $node->connstr($db) ],
		'>', \$out, '2>', \$err);
}
ok(poll_until($node, 'postgres',
	"SELECT count(DISTINCT datname) = 4 FROM pg_stat_activity WHERE datname IN ('b1', 'b2', 'b3', 'b4') AND backend_type = 'client backend'", 't', 60),
	'the four busy databases are being validated');

set_flush_interval($node, '100ms');
my @unflushed = wait_all(\@busy, "SELECT ($table_total) > 0", 60);
is("@unflushed", '', 'every busy database is flushed within 60 s while busy');

$_->kill_kill for @bench;
$_->finish for @bench;
@unflushed = wait_all(\@busy, "SELECT ($table_total) = ($list_total)", 60);
is("@unflushed", '', 'once idle, every busy database has all its calls in its table');

# Give the closed database's counts the same bound, then look.
ok(poll_until($node, 'postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = 'closed'", 't', 30),
	'no session in database closed');
usleep(5_000_000);
set_flush_interval($node, '1h');
usleep(1_000_000);
$node->safe_psql('postgres', 'ALTER DATABASE closed ALLOW_CONNECTIONS true');
is($node->safe_psql('closed', $table_total), '4',
	'the calls of the database that allows no connections were flushed');
is($node->safe_psql('closed', $list_total), '4', 'and counted once');

$node->stop;
done_testing();
