# What the flush worker sees and reports, and what a database owner who is
# not a superuser cannot do to it:
# - settings the owner stores for the database (ALTER DATABASE ... SET) are
#   back at their defaults in the worker, so they cannot slow its plans;
# - a DROP DATABASE that fails does not keep the worker away: the calls
#   still reach the table;
# - the worker reports its writes to the statistics while it stays, so that
#   autovacuum sees them;
# - on a hot standby a validation answers as on the primary, never errors,
#   and its calls reach the primary, also when the owner stored settings
#   (read-only transactions, a lock timeout) that would stop a session there.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VatokenTest;
use IPC::Run;

my $node = PostgreSQL::Test::Cluster->new('flushenv');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'vatoken'
vatoken.flush_interval = '100ms'
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE ROLE app_owner LOGIN;
	CREATE DATABASE app OWNER app_owner;
});
$node->safe_psql('app', 'CREATE EXTENSION vatoken');
my $token = $node->safe_psql('app', "SELECT token FROM vatoken_create('o', 'env')");

sub validate_n
{
	my ($n) = @_;
	$node->safe_psql('app',
		"SELECT count(*) FROM generate_series(1, $n) g, "
		  . "LATERAL vatoken_validate('$token' || left(g::text, 0)) v WHERE v.valid");
}

sub table_calls
{
	return $node->safe_psql('app', 'SELECT coalesce(sum(calls), 0) FROM vatoken.usage');
}

# --- settings: a superuser's trigger records what the worker runs with
$node->safe_psql('app', q{
	CREATE TABLE public.seen (random_page_cost text, work_mem text, enable_indexscan text);
	CREATE FUNCTION public.record_settings() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		INSERT INTO public.seen VALUES (pg_catalog.current_setting('random_page_cost'),
			pg_catalog.current_setting('work_mem'), pg_catalog.current_setting('enable_indexscan'));
		RETURN NULL;
	END $$;
	CREATE TRIGGER record_settings AFTER INSERT OR UPDATE ON vatoken.usage
		FOR EACH STATEMENT EXECUTE FUNCTION public.record_settings();
});
$node->safe_psql('app', q{
	ALTER DATABASE app SET random_page_cost = 1e10;
	ALTER DATABASE app SET work_mem = '64kB';
	ALTER DATABASE app SET enable_indexscan = off;
}, extra_params => [ '-U', 'app_owner' ]);
is($node->safe_psql('app', 'SHOW random_page_cost'), '1e+10',
	'control: the owner\'s settings apply to sessions of the database');
validate_n(3);
$node->poll_query_until('app', 'SELECT count(*) > 0 FROM public.seen')
  or die 'the flush did not run';
is($node->safe_psql('app', 'SELECT DISTINCT random_page_cost, work_mem, enable_indexscan FROM public.seen'),
	'4|4MB|on', 'the flush worker runs with the defaults, not the database\'s settings');
is(table_calls(), '3', 'and writes the calls');
$node->safe_psql('app', q{
	DROP TRIGGER record_settings ON vatoken.usage;
	ALTER DATABASE app RESET ALL;
});

# --- statistics: the worker stays while the interval is long, and reports
$node->safe_psql('postgres', "ALTER SYSTEM SET vatoken.flush_interval = '1h'");
$node->reload;
validate_n(2);
$node->safe_psql('postgres', "ALTER SYSTEM SET vatoken.flush_interval = '100ms'");
$node->reload;
$node->poll_query_until('app', 'SELECT sum(calls) = 5 FROM vatoken.usage')
  or die 'flush for the statistics test';
$node->safe_psql('postgres', "ALTER SYSTEM SET vatoken.flush_interval = '1h'");
$node->reload;
my $flusher = $node->safe_psql('app',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'vatoken flush'");
ok($flusher, 'a flush worker stays');
ok($node->poll_query_until('app',
	"SELECT n_tup_ins + n_tup_upd >= 2 FROM pg_stat_all_tables WHERE relid = 'vatoken.usage'::regclass"),
	'and has reported its writes to the statistics');
is($node->safe_psql('app',
	"SELECT count(*) FROM pg_stat_activity WHERE pid = $flusher"), '1',
	'while it still runs');

# --- DROP DATABASE that fails keeps nothing from the table
$node->safe_psql('postgres', "ALTER SYSTEM SET vatoken.flush_interval = '500ms'");
$node->reload;
my ($out, $err) = ('', '');
my $holder = IPC::Run::start(
	[ 'psql', '-X', '-d', $node->connstr('app'), '-c', 'SELECT pg_sleep(60)' ],
	'>', \$out, '2>', \$err);
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = 'app' AND query = 'SELECT pg_sleep(60)'")
  or die 'no session holding the database';
my $before = table_calls();
validate_n(7);
my ($rc, $dout, $derr) = $node->psql('postgres', 'DROP DATABASE app',
	extra_params => [ '-U', 'app_owner' ]);
like($derr, qr/is being accessed by other users/, 'the owner\'s DROP DATABASE fails');
# A DROP DATABASE that got as far as its wait used to keep flush workers
# away for 10 s: the calls must arrive well within that (16 intervals).
ok(poll_until($node, 'app', "SELECT sum(calls) = $before + 7 FROM vatoken.usage", 't', 8),
	'and the calls still reach the table');
validate_n(2);
ok(poll_until($node, 'app', "SELECT sum(calls) = $before + 9 FROM vatoken.usage", 't', 8),
	'and so do later ones: the failed DROP left no mark');
$holder->kill_kill;

# --- a hot standby
$node->safe_psql('postgres', "ALTER SYSTEM SET vatoken.flush_interval = '100ms'");
$node->reload;
$node->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($node, 'b', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
my $calls_before = table_calls();
my $usage_before = $node->safe_psql('app', "SELECT calls_today FROM vatoken_usage('o', 1)");
is($standby->safe_psql('app', "SELECT valid, status FROM vatoken_validate('$token')"),
	't|valid', 'a hot standby validates');
is($standby->safe_psql('app',
	"SELECT count(*) FROM generate_series(1, 50) g, LATERAL vatoken_validate('$token' || left(g::text, 0)) v WHERE v.valid"),
	'50', 'many times, without an error');
is($standby->safe_psql('app', "SELECT status FROM vatoken_validate('vat_' || repeat('0', 49))"),
	'malformed', 'and answers malformed input as the primary does');
is($standby->safe_psql('app', "SELECT calls_today FROM vatoken_usage('o', 1)"),
	$usage_before + 51, 'the standby reports its own calls at once, whether delivered or not');
ok(poll_until($node, 'app', "SELECT sum(calls) = $calls_before + 51 FROM vatoken.usage", 't', 60),
	'and delivers them to the primary (test/t/011_standby_forward.pl: how, exactly once)');

# The owner's database settings on the primary apply to the forwarder's
# session there too: it pins the ones that could make delivery fail.
$node->safe_psql('app', q{
	ALTER DATABASE app SET default_transaction_read_only = on;
	ALTER DATABASE app SET lock_timeout = '1ms';
}, extra_params => [ '-U', 'app_owner' ]);
# (They apply from the next connection: end the forwarder's.)
$node->safe_psql('postgres',
	"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'vatoken forward'");
is($standby->safe_psql('app',
	"SELECT count(*) FROM generate_series(1, 4) g, LATERAL vatoken_validate('$token' || left(g::text, 0)) v WHERE v.valid"),
	'4', 'the standby validates with the owner\'s settings in place');
ok(poll_until($node, 'app', "SELECT sum(calls) = $calls_before + 55 FROM vatoken.usage", 't', 60),
	'and its calls still reach the primary (read-only by default for the database)');
$node->safe_psql('app', 'BEGIN READ WRITE; ALTER DATABASE app RESET ALL; COMMIT;',
	extra_params => [ '-U', 'app_owner' ]);
$standby->stop;

$node->stop;
done_testing();
