# The file in which a clean shutdown saves the counts not yet flushed
# ($PGDATA/pg_stat/vatoken.counters): a corrupt file is ignored with a LOG
# line and removed, adding nothing; a file that cannot be written loses the
# unflushed calls with a LOG line (as a crash would) and nothing else; a good
# file is loaded once and never again.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('counters_file');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'vatoken'
vatoken.flush_interval = '1h'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION vatoken');
my $token = $node->safe_psql('postgres', "SELECT token FROM vatoken_create('f', 'file')");
my $file = $node->data_dir . '/pg_stat/vatoken.counters';

sub validate_n
{
	my ($n) = @_;
	$node->safe_psql('postgres',
		"SELECT count(*) FROM generate_series(1, $n) g, "
		  . "LATERAL vatoken_validate('$token' || left(g::text, 0)) v WHERE v.valid");
}

sub calls { return $node->safe_psql('postgres', "SELECT calls_today FROM vatoken_usage('f', 1)"); }

sub table_calls
{
	return $node->safe_psql('postgres',
		'SELECT coalesce(sum(calls), 0) FROM vatoken.usage WHERE token_id = 1');
}

# A good file: saved at shutdown, loaded once, removed.
validate_n(5);
is(table_calls(), '0', 'five calls pending, none flushed');
$node->stop;
ok(-f $file, 'a clean shutdown saves the pending calls');
$node->start;
is(calls(), '5', 'the next start loads them');
$node->poll_query_until('postgres', "SELECT pg_stat_file('pg_stat/vatoken.counters', true) IS NULL")
  or die 'the counters file was not removed after loading';
pass('and removes the file');
$node->restart;
is(calls(), '5', 'a second restart adds nothing twice');

# A corrupt file: ignored, removed, nothing added.
$node->stop;
unlink $file;
append_to_file($file, 'this is not a vatoken counters file');
my $offset = -s $node->logfile;
$node->start;
ok($node->wait_for_log(qr/ignoring invalid vatoken counters file/, $offset),
	'a corrupt counters file is reported');
$node->poll_query_until('postgres', "SELECT pg_stat_file('pg_stat/vatoken.counters', true) IS NULL")
  or die 'the corrupt counters file was not removed';
pass('and removed');
is(calls(), '5', 'and adds nothing');

# A file that cannot be written (a directory in the way of the temporary
# file): the calls not yet flushed are lost, with a LOG line; the server
# stops and starts normally and keeps everything flushed before.
$node->safe_psql('postgres', "ALTER SYSTEM SET vatoken.flush_interval = '100ms'");
$node->reload;
$node->poll_query_until('postgres', 'SELECT sum(calls) = 5 FROM vatoken.usage')
  or die 'flush before the unwritable test';
# Restart with nothing pending, so that no flush worker runs (the launcher
# starts one only for pending counts, and with a 1 h interval not before).
$node->safe_psql('postgres', "ALTER SYSTEM SET vatoken.flush_interval = '1h'");
$node->restart;
validate_n(3);
is(calls(), '8', 'three calls pending');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'vatoken flush'"),
	'0', 'and no flush worker to write them at shutdown');
mkdir($file . '.tmp') or die "mkdir: $!";
$offset = -s $node->logfile;
$node->stop;
ok($node->log_contains(qr/could not write file "pg_stat\/vatoken.counters.tmp"/, $offset),
	'an unwritable counters file is reported at shutdown');
rmdir($file . '.tmp');
$node->start;
is(calls(), '5', 'the unflushed calls are lost, as in a crash; everything flushed is kept');
is(table_calls(), '5', 'and the table holds exactly what was flushed');

# A flush still committing at shutdown: the launcher saves only after the
# flushers are gone, so no call is both in the table and in the file.  A
# superuser's trigger makes the flush's insert take 6 s (longer than the
# launcher waits for other backends).
$node->safe_psql('postgres', q{
	CREATE TABLE slow_flush (on_ boolean);
	CREATE FUNCTION slow_flush() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF EXISTS (SELECT FROM public.slow_flush) THEN PERFORM pg_catalog.pg_sleep(6); END IF;
		RETURN NULL;
	END $$;
	CREATE TRIGGER slow_flush AFTER INSERT ON vatoken.usage
		FOR EACH STATEMENT EXECUTE FUNCTION public.slow_flush();
});
my $slow = $node->safe_psql('postgres', "SELECT token FROM vatoken_create('f', 'slow')");
my $slow_id = $node->safe_psql('postgres', "SELECT max(token_id) FROM vatoken.tokens");
# A flush worker that stays: started at 100 ms, then the interval is 1 h.
# A worker leaves after two idle flushes, which at 100 ms may come before
# the reload to 1 h reaches it on a busy machine: then try again.
my $calls1 = 5;
my $stays = 0;
for my $attempt (1 .. 5)
{
	$node->safe_psql('postgres', "ALTER SYSTEM SET vatoken.flush_interval = '100ms'");
	$node->reload;
	$node->safe_psql('postgres', "SELECT valid FROM vatoken_validate('$token')");
	$calls1++;
	$node->poll_query_until('postgres',
		"SELECT sum(calls) = $calls1 FROM vatoken.usage WHERE token_id = 1")
	  or die 'no flush before the slow-flush test';
	$node->safe_psql('postgres', "ALTER SYSTEM SET vatoken.flush_interval = '1h'");
	$node->reload;
	usleep(500_000);
	$stays = $node->safe_psql('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'vatoken flush'") eq 't';
	last if $stays;
}
die 'no flush worker' unless $stays;
$node->safe_psql('postgres', 'INSERT INTO slow_flush VALUES (true)');
$node->safe_psql('postgres',
	"SELECT count(*) FROM generate_series(1, 4) g, LATERAL vatoken_validate('$slow' || left(g::text, 0)) v WHERE v.valid");
$node->stop('fast');
$node->start;
$node->safe_psql('postgres', 'DELETE FROM slow_flush');
$node->safe_psql('postgres', "ALTER SYSTEM SET vatoken.flush_interval = '100ms'");
$node->reload;
$node->poll_query_until('postgres',
	"SELECT NOT EXISTS (SELECT FROM pg_stat_activity WHERE backend_type = 'vatoken flush') "
	  . "AND pg_stat_file('pg_stat/vatoken.counters', true) IS NULL")
  or die 'flush after the slow shutdown';
is($node->safe_psql('postgres', "SELECT calls_today FROM vatoken_usage('f', $slow_id)"),
	'4', 'a flush still committing at shutdown is not saved again: no call counted twice');
is($node->safe_psql('postgres', "SELECT sum(calls) FROM vatoken.usage WHERE token_id = $slow_id"),
	'4', 'and the table holds each call once');

# 2.0: refused calls and the client named go through the file too.  No
# flush worker runs (1 h interval, restarted with nothing pending), so the
# launcher's file is what keeps them.
$node->safe_psql('postgres', "ALTER SYSTEM SET vatoken.flush_interval = '1h'");
$node->restart;
my ($pol, $pol_id) = split /\|/, $node->safe_psql('postgres',
	"SELECT token, token_id FROM vatoken_create('g', 'policy', scopes => '{read}')");
$node->safe_psql('postgres', "SELECT vatoken_verify('$pol', '{read}', '192.0.2.44')");
$node->safe_psql('postgres', "SELECT vatoken_verify('$pol', '{write}')") for 1 .. 2;

sub daily
{
	return $node->safe_psql('postgres',
		"SELECT sum(calls) || '|' || sum(rejected) FROM vatoken_usage_daily('g', $pol_id)");
}

sub last_client
{
	return $node->safe_psql('postgres',
		"SELECT last_used_client FROM vatoken_list('g') WHERE token_id = $pol_id");
}
is(daily(), '1|2', 'one accepted and two refused calls pending');
$node->stop;
ok(-f $file, 'saved at shutdown');
$node->start;
is(daily(), '1|2', 'refused calls survive a clean restart');
is(last_client(), '192.0.2.44', 'and so does the client named');

# A file written by the 1.2 library (records without refused calls and
# client) is loaded too: upgrading the library across a clean restart loses
# nothing.  Its records: key (database, tokens table, token id, tag, day),
# calls, time of the last call.
my ($dbid, $relid, $tag, $day, $last) = split /\|/, $node->safe_psql('postgres', qq{
	SELECT d.oid, 'vatoken.tokens'::regclass::oid,
	       encode(substr(t.token_hash, 1, 8), 'hex'),
	       (SELECT max(day) FROM vatoken_usage_daily('g', $pol_id)) - date '1970-01-01',
	       (extract(epoch FROM timestamptz '2026-06-17 12:30:00+00'
	                - timestamptz '2000-01-01 00:00:00+00') * 1000000)::bigint
	FROM pg_database d, vatoken.tokens t
	WHERE d.datname = 'postgres' AND t.token_id = $pol_id});
$node->safe_psql('postgres', "ALTER SYSTEM SET vatoken.flush_interval = '100ms'");
$node->reload;
$node->poll_query_until('postgres',
	"SELECT coalesce(sum(rejected), 0) = 2 FROM vatoken.usage WHERE token_id = $pol_id")
  or die 'flush before the 1.2 file test';
$node->stop;
unlink $file;
open(my $fh, '>:raw', $file) or die "open: $!";
print $fh pack('L L Q', 0x76746332, 48, 12345);
print $fh pack('L L q a8 l l Q q', $dbid, $relid, $pol_id, pack('H16', $tag), $day, 0, 7, $last);
close($fh);
$node->start;
is(daily(), '8|2', 'a 1.2 counters file is loaded');
is(last_client(), '192.0.2.44', 'and leaves the client as it was');

$node->stop;
done_testing();
