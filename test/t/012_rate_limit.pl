# Rate limits are exact under concurrency (issue 13): 8 clients hammer one
# token that accepts 100 calls a window, in both modes.  vatoken's clock is
# frozen (TEMP_CONFIG, test/t/frozen-clock.conf), so every call falls in the
# same window, whatever the machine's speed: exactly 100 are accepted and
# every other call is refused with the time left until the window ends.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VatokenTest;

my $clients = 8;
my $per_client = 50;
my $limit = 100;

for my $mode ('plain', 'preload')
{
	my $node = PostgreSQL::Test::Cluster->new("rate_$mode");
	$node->init;
	$node->append_conf('postgresql.conf',
		$mode eq 'preload'
		? "shared_preload_libraries = 'vatoken'\nvatoken.flush_interval = '100ms'\n"
		: "max_connections = 20\n");
	$node->start;
	$node->safe_psql('postgres', q{
		CREATE EXTENSION vatoken;
		CREATE TABLE answers (status text, remaining int, retry_after interval);
	});
	my ($tok, $id) = split /\|/, $node->safe_psql('postgres',
		"SELECT token, token_id FROM vatoken_create('rate-owner', 'hammered', "
		  . "rate_limit => $limit, rate_window => '1 hour')");
	my ($other) = $node->safe_psql('postgres',
		"SELECT token FROM vatoken_create('rate-owner', 'bystander', rate_limit => 5, "
		  . "rate_window => '1 hour')");

	my $script = $node->basedir . '/hammer.sql';
	PostgreSQL::Test::Utils::append_to_file($script,
		"INSERT INTO answers SELECT status, rate_remaining, retry_after FROM vatoken_verify(:tok);\n");
	$node->command_ok(
		[
			'pgbench', '-n', '-M', 'prepared', '-c', $clients, '-j', '2',
			'-t', $per_client, '-D', "tok=$tok", '-f', $script, 'postgres'
		],
		"$mode: $clients clients, $per_client calls each");

	is($node->safe_psql('postgres',
		"SELECT string_agg(status || ':' || n, ',' ORDER BY status) FROM "
		  . "(SELECT status, count(*) AS n FROM answers GROUP BY status) s"),
		"rate_limited:" . ($clients * $per_client - $limit) . ",valid:$limit",
		"$mode: exactly $limit calls accepted, every other one refused");
	is($node->safe_psql('postgres',
		"SELECT count(DISTINCT remaining) FILTER (WHERE status = 'valid'), "
		  . "min(remaining) FILTER (WHERE status = 'valid'), "
		  . "max(remaining) FILTER (WHERE status = 'valid') FROM answers"),
		"$limit|0|" . ($limit - 1),
		"$mode: each accepted call saw its own remaining count, $limit distinct");
	# The frozen clock is 2026-06-17 12:00 UTC: the hour's window ends at 13:00.
	is($node->safe_psql('postgres',
		"SELECT count(*) FROM answers WHERE status = 'rate_limited' "
		  . "AND retry_after = interval '1 hour' AND remaining = 0"),
		$clients * $per_client - $limit,
		"$mode: every refused call was told to retry when the window ends");
	ok(poll_until($node, 'postgres',
		"SELECT calls_today FROM vatoken_usage('rate-owner', $id)", $limit, 60),
		"$mode: only the accepted calls were counted");
	is($node->safe_psql('postgres', "SELECT status FROM vatoken_verify('$other')"),
		'valid', "$mode: another token's window is its own");
	$node->stop;
}

done_testing();
