# The shared-memory fast path (vatoken in shared_preload_libraries):
# counts stay exact through the background flush, a clean restart, a full
# counter table and several databases; a crash loses at most the calls of the
# last flush interval and never anything flushed before.
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

my $node = PostgreSQL::Test::Cluster->new('fast');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'vatoken'
vatoken.flush_interval = '1h'
vatoken.max_counters = 8
restart_after_crash = on
});
$node->start;

sub validate_n
{
	my ($db, $token, $n) = @_;
	$node->safe_psql($db,
		"SELECT count(*) FROM generate_series(1, $n) g, "
		  . "LATERAL vatoken_validate('$token' || left(g::text, 0)) v WHERE v.valid");
}

sub usage_today
{
	my ($db, $owner, $id) = @_;
	return $node->safe_psql($db, "SELECT calls_today FROM vatoken_usage('$owner', $id)");
}

sub table_calls
{
	my ($db, $id) = @_;
	return $node->safe_psql($db,
		"SELECT coalesce(sum(calls), 0) FROM vatoken.usage WHERE token_id = $id");
}

# Start again after SIGKILL of the postmaster.  Its orphaned children exit
# once they notice, and a killed postmaster that nobody reaps stays a zombie
# whose PID still "exists": then the stale lock file is removed by hand, as
# an administrator would.
sub restart_after_kill
{
	my ($pid) = @_;
	for (1 .. 100)
	{
		my $stat = -e "/proc/$pid/stat" ? slurp_file("/proc/$pid/stat") : '';
		last if $stat eq '' || $stat =~ /^\d+ \(.*\) Z/;
		usleep(100_000);
	}
	for (1 .. 50)
	{
		return if $node->start(fail_ok => 1);
		$node->{_pid} = undef;    # start() remembered the stale PID
		my $stat = -e "/proc/$pid/stat" ? slurp_file("/proc/$pid/stat") : '';
		unlink($node->data_dir . '/postmaster.pid') if $stat =~ /^\d+ \(.*\) Z/;
		usleep(200_000);
	}
	die 'could not restart after SIGKILL';
}

$node->safe_psql('postgres', 'CREATE DATABASE one');
$node->safe_psql('postgres', 'CREATE DATABASE two');
$node->safe_psql($_, 'CREATE EXTENSION vatoken') for qw(one two);

# --- validate writes nothing to tables; readers add the pending calls
my $t1 = $node->safe_psql('one', "SELECT token FROM vatoken_create('a', 'one-1')");
validate_n('one', $t1, 10);
is(table_calls('one', 1), '0', 'with preload, validate writes nothing to vatoken.usage');
is(usage_today('one', 'a', 1), '10', 'vatoken_usage adds the calls pending in shared memory');
isnt($node->safe_psql('one', "SELECT last_used_at FROM vatoken_list('a')"), '',
	'vatoken_list reports last_used_at of pending calls');

is($node->safe_psql('one',
	"BEGIN READ ONLY; SELECT valid FROM vatoken_validate('$t1'); COMMIT;"),
	't', 'with preload, validate works in a read-only transaction');
is(usage_today('one', 'a', 1), '11', 'and the call is counted');

# --- two databases are counted apart, although both have a token with id 1
my $t2 = $node->safe_psql('two', "SELECT token FROM vatoken_create('a', 'two-1')");
validate_n('two', $t2, 3);
is(usage_today('one', 'a', 1), '11', 'database one counts its own calls');
is(usage_today('two', 'a', 1), '3', 'database two counts its own calls, same token id');

# --- the background flush writes exactly what was counted
set_flush_interval($node, '100ms');
$node->poll_query_until('one', "SELECT sum(calls) = 11 FROM vatoken.usage WHERE token_id = 1")
  or die 'flush did not happen in database one';
$node->poll_query_until('two', "SELECT sum(calls) = 3 FROM vatoken.usage WHERE token_id = 1")
  or die 'flush did not happen in database two';
is(usage_today('one', 'a', 1), '11', 'after the flush, no call is counted twice');
isnt($node->safe_psql('one', "SELECT max(last_used_at) FROM vatoken.usage WHERE token_id = 1"),
	'', 'the flush writes last_used_at');

# --- a database still at schema 1.0 (new library, no ALTER EXTENSION UPDATE
# yet) is flushed too, with its last use in tokens.last_used_at
$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('old', "CREATE EXTENSION vatoken VERSION '1.0'");
my $t_old = $node->safe_psql('old', "SELECT token FROM vatoken_create('a', 'old-1')");
validate_n('old', $t_old, 4);
is(usage_today('old', 'a', 1), '4', 'schema 1.0: calls pending are reported');
$node->poll_query_until('old', "SELECT sum(calls) = 4 FROM vatoken.usage WHERE token_id = 1")
  or die 'flush did not happen in the 1.0 database';
is($node->safe_psql('old',
	"SELECT t.last_used_at = l.last_used_at FROM vatoken.tokens t, vatoken_list('a') l"),
	't', 'schema 1.0: the flush writes tokens.last_used_at, and list reports it');
is(usage_today('old', 'a', 1), '4', 'schema 1.0: no call counted twice after the flush');
$node->safe_psql('old', 'ALTER EXTENSION vatoken UPDATE');
validate_n('old', $t_old, 2);
is(usage_today('old', 'a', 1), '6', 'updated to the latest: counting goes on');
$node->safe_psql('postgres', 'DROP DATABASE old');

# --- a clean restart loses nothing
set_flush_interval($node, '1h');
validate_n('one', $t1, 7);
is(table_calls('one', 1), '11', 'seven calls pending before the restart');
$node->restart;
is(usage_today('one', 'a', 1), '18', 'a clean restart loses no pending call');
set_flush_interval($node, '100ms');
$node->poll_query_until('one', "SELECT sum(calls) = 18 FROM vatoken.usage WHERE token_id = 1")
  or die 'calls saved at shutdown were not flushed after the restart';
pass('calls saved at shutdown are flushed after the restart');

# --- a full counter table loses nothing (max_counters = 8)
set_flush_interval($node, '1h');
$node->safe_psql('one', q{
	CREATE TABLE full_tokens AS SELECT c.token FROM generate_series(1, 20) g,
		LATERAL vatoken_create('full', 'f' || g) c;
});
$node->safe_psql('one', q{
	SELECT count(*) FROM full_tokens, generate_series(1, 3) g,
		LATERAL vatoken_validate(full_tokens.token || left(g::text, 0)) v WHERE v.valid;
});
is($node->safe_psql('one', "SELECT sum(calls_today), min(calls_today), max(calls_today) FROM vatoken_list('full')"),
	'60|3|3', 'with more tokens than counters, every call is still counted');
$node->poll_query_until('one',
	"SELECT sum(calls) = 60 FROM vatoken.usage u JOIN vatoken.tokens t USING (token_id) WHERE t.owner = 'full'")
  or die 'a full counter table did not make the workers flush early';
pass('a full counter table makes the workers flush before the interval');
$node->restart;
is($node->safe_psql('one', "SELECT sum(calls_today) FROM vatoken_list('full')"),
	'60', 'and a restart with a full table loses none of them');

# --- a crash loses at most the last interval, never what was flushed
set_flush_interval($node, '100ms');
$node->poll_query_until('one', "SELECT sum(calls) = 18 FROM vatoken.usage WHERE token_id = 1")
  or die 'flush before crash test';
set_flush_interval($node, '1h');
validate_n('one', $t1, 5);
is(usage_today('one', 'a', 1), '23', 'five calls pending before the crash');
my ($old_postmaster) = split /\n/, slurp_file($node->data_dir . '/postmaster.pid');
my $started = $node->safe_psql('one', 'SELECT pg_postmaster_start_time()');
$node->kill9;
restart_after_kill($old_postmaster);
isnt($node->safe_psql('one', 'SELECT pg_postmaster_start_time()'), $started,
	'the postmaster was killed and started again');
my $after = usage_today('one', 'a', 1);
cmp_ok($after, '>=', 18, 'SIGKILL of the postmaster keeps every flushed call');
cmp_ok($after, '<=', 23, 'and invents none');

# SIGKILL of one backend: the postmaster reinitialises shared memory.
validate_n('one', $t1, 4);
my $pid = $node->safe_psql('one',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'vatoken launcher'");
ok($pid, 'the launcher is running');
my ($stdout, $stderr) = ('', '');
my $victim = IPC::Run::start(
	[ 'psql', '-X', '-d', $node->connstr('one'), '-c',
	  "SET application_name = 'victim'; SELECT pg_sleep(120)" ],
	'>', \$stdout, '2>', \$stderr);
$node->poll_query_until('one',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE application_name = 'victim'")
  or die 'victim backend did not start';
my $victim_pid = $node->safe_psql('one',
	"SELECT pid FROM pg_stat_activity WHERE application_name = 'victim'");
my $log_offset = -s $node->logfile;
kill 'KILL', $victim_pid;
$victim->finish;
$node->wait_for_log(qr/server process \(PID $victim_pid\) was terminated by signal 9/, $log_offset);
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
pass('the backend was killed and the postmaster reinitialised shared memory');
$node->poll_query_until('one', 'SELECT 1', '1') or die 'no recovery after backend crash';
my $after_backend = usage_today('one', 'a', 1);
cmp_ok($after_backend, '>=', $after, 'a backend crash keeps every flushed call');
cmp_ok($after_backend, '<=', $after + 4, 'and invents none');

# --- a terminated launcher comes back, and never doubles a flush
set_flush_interval($node, '100ms');
$node->poll_query_until('one',
	"SELECT sum(calls_today) = 60 AND sum(calls_today) = (SELECT sum(calls) FROM vatoken.usage u JOIN vatoken.tokens t USING (token_id) WHERE t.owner = 'full') FROM vatoken_list('full')")
  or die 'full tokens not flushed';
my $launcher = $node->safe_psql('one',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'vatoken launcher'");
$node->safe_psql('one', "SELECT pg_terminate_backend($launcher)");
$node->poll_query_until('one',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'vatoken launcher' AND pid <> $launcher")
  or die 'launcher did not come back';
pass('a terminated launcher is started again');
my $before_more = usage_today('one', 'a', 1);
for (1 .. 5)
{
	validate_n('one', $t1, 20);
	usleep(150_000);
}
$node->poll_query_until('one',
	"SELECT sum(calls) = $before_more + 100 FROM vatoken.usage WHERE token_id = 1")
  or die 'flushes after the launcher restart went wrong: '
  . $node->safe_psql('one', 'SELECT sum(calls) FROM vatoken.usage WHERE token_id = 1');
is(usage_today('one', 'a', 1), $before_more + 100,
	'flushes around a launcher restart count every call once');
is($node->safe_psql('one',
	"SELECT count(*) <= 1 FROM pg_stat_activity WHERE backend_type = 'vatoken flush' AND datname = 'one'"),
	't', 'at most one flush worker for the database');

# --- counts of a dropped extension never land on a new token with the same id
# Database two has calls of its token 1 pending (interval 1h) at the DROP.
set_flush_interval($node, '1h');
validate_n('two', $t2, 5);
is(usage_today('two', 'a', 1), '8', 'five calls pending in database two before the DROP');
$node->safe_psql('two', 'DROP EXTENSION vatoken');
$node->safe_psql('two', 'CREATE EXTENSION vatoken');
my $t2b = $node->safe_psql('two', "SELECT token FROM vatoken_create('a', 'new two-1')");
is($node->safe_psql('two', "SELECT token_id FROM vatoken_list('a')"), '1',
	'the new token reuses id 1');
is(usage_today('two', 'a', 1), '0', 'a recreated extension starts from zero');
validate_n('two', $t2b, 2);
$node->restart;
is(usage_today('two', 'a', 1), '2', 'old counters stay apart after a restart');
set_flush_interval($node, '100ms');
$node->poll_query_until('two', "SELECT coalesce(sum(calls), 0) = 2 FROM vatoken.usage WHERE token_id = 1")
  or die 'flush after the re-created extension: '
  . table_calls('two', 1);
is(usage_today('two', 'a', 1), '2', 'the pending calls of the dropped extension never reach the new one');

$node->stop;
done_testing();
