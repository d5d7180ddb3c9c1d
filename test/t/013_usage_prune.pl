# With the preload the flush workers prune daily usage (issue 13), as
# vatoken_prune() does without it:
# - rows older than vatoken.usage_retention go, after a flush, without
#   anyone calling vatoken_prune();
# - the retention is the database's, as for its sessions: 400 days by
#   default, or what a superuser stored for it (ALTER DATABASE ... SET; only
#   a superuser may set it), while the worker's other settings are pinned;
# - the current and the previous month stay even with a retention of one
#   day, and they are the months of the database's vatoken.timezone, which
#   the worker keeps (a database west of UTC is still in May when UTC is in
#   June).
# vatoken's clock is frozen (TEMP_CONFIG, test/t/frozen-clock.conf, and
# below), so the days do not depend on when the test runs; every wait polls.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VatokenTest;

my $node = PostgreSQL::Test::Cluster->new('prune');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'vatoken'
vatoken.flush_interval = '100ms'
});
$node->start;

my %token;
for my $db ('app', 'west')
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION vatoken');
	$token{$db} = $node->safe_psql($db, "SELECT token FROM vatoken_create('o', 'pruned')");
}

# Rows of token 1 dated in the past, written directly (as a superuser).
sub insert_days
{
	my ($db, @days) = @_;
	$node->safe_psql($db,
		'INSERT INTO vatoken.usage (token_id, day, calls) SELECT 1, d::date, 5 FROM '
		  . 'unnest(ARRAY[' . join(',', map { "'$_'" } @days) . ']) d');
}

sub days
{
	my ($db) = @_;
	return $node->safe_psql($db,
		"SELECT string_agg(day::text, ',' ORDER BY day) FROM vatoken.usage WHERE day < '2026-06-01'");
}

# A call makes counts pending: the launcher starts the database's worker.
sub call
{
	my ($db) = @_;
	is($node->safe_psql($db, "SELECT valid FROM vatoken_validate('$token{$db}')"),
		't', "$db: a call starts its worker");
}

# --- the default retention (400 days) in west; 1 day stored for app
insert_days('west', '2024-01-01', '2025-06-01');
call('west');
ok(poll_until($node, 'west', "SELECT NOT EXISTS (SELECT FROM vatoken.usage WHERE day = '2024-01-01')"),
	'the worker prunes a day older than 400 days');
is(days('west'), '2025-06-01', 'and keeps the rest');
insert_days('app', '2024-01-01', '2025-06-01', '2026-05-02');
$node->safe_psql('postgres', "ALTER DATABASE app SET vatoken.usage_retention = '1d'");
call('app');
ok(poll_until($node, 'app', "SELECT NOT EXISTS (SELECT FROM vatoken.usage WHERE day < '2026-05-01')"),
	'a retention a superuser stored for the database reaches its worker');
is(days('app'), '2026-05-02', 'which keeps the previous month (May) whole');
$node->safe_psql('postgres', 'ALTER DATABASE app RESET ALL');
$node->safe_psql('west', "DELETE FROM vatoken.usage WHERE day < '2026-01-01'");
$node->safe_psql('app', "DELETE FROM vatoken.usage WHERE day < '2026-06-01'");

# --- a retention of one day; the clock on 1 June 05:00 UTC, 31 May in the west
$node->stop;
$node->append_conf('postgresql.conf', qq{
vatoken.usage_retention = '1d'
vatoken.debug_now = '2026-06-01 05:00:00+00'
});
$node->start;
$node->safe_psql('postgres', "ALTER DATABASE west SET vatoken.timezone = 'America/Los_Angeles'");
insert_days('app', '2026-04-30', '2026-05-01', '2026-05-31');
insert_days('west', '2026-03-31', '2026-04-01', '2026-04-30', '2026-05-01');
call('app');
call('west');
ok(poll_until($node, 'app', "SELECT NOT EXISTS (SELECT FROM vatoken.usage WHERE day < '2026-05-01')"),
	'UTC: the worker prunes everything before the previous month (May)');
is(days('app'), '2026-05-01,2026-05-31', 'and keeps the previous month whole');
ok(poll_until($node, 'west', "SELECT NOT EXISTS (SELECT FROM vatoken.usage WHERE day < '2026-04-01')"),
	'America/Los_Angeles: the worker prunes everything before its previous month (April)');
is(days('west'), '2026-04-01,2026-04-30,2026-05-01,2026-05-31',
	'and keeps April, the previous month in the database\'s time zone, and its current month');

# vatoken_prune() in a session draws the same line.
is($node->safe_psql('west', 'SELECT vatoken_prune()'), '0', 'vatoken_prune() finds nothing more to prune');

# --- a backlog larger than one round (10 batches of 10,000 rows) goes over
# several rounds, each after a flush; the previous month stays.
$node->safe_psql('app',
	"INSERT INTO vatoken.usage (token_id, day, calls) SELECT 1, date '1600-01-01' + g, 1"
	  . ' FROM generate_series(0, 119999) g');
# (Rows older than a cutoff already pruned wait for the next cutoff: a
# restart forgets it, as a server start after an upgrade does.)
$node->restart;
call('app');
ok(poll_until($node, 'app', "SELECT NOT EXISTS (SELECT FROM vatoken.usage WHERE day < '2026-05-01')"),
	'a backlog of 120,000 days is pruned over several rounds');
is(days('app'), '2026-05-01,2026-05-31', 'and the previous month stays');

$node->stop;
done_testing();
