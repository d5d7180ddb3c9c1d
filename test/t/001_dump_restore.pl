# pg_dump / pg_restore keeps tokens, usage and the id sequence: after a
# restore, old tokens validate, their usage is intact, deleted tokens stay
# deleted and new ids never collide with old ones.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('src', 'CREATE EXTENSION vatoken');

my @tokens;
for my $i (1 .. 3)
{
	push @tokens, $node->safe_psql('src',
		"SELECT token FROM vatoken_create('dump-owner', 'token $i')");
}
my $deleted = $node->safe_psql('src',
	"SELECT token FROM vatoken_create('dump-owner', 'deleted')");
$node->safe_psql('src', "SELECT vatoken_delete('dump-owner', 4)");
for (1 .. 5)
{
	$node->safe_psql('src', "SELECT valid FROM vatoken_validate('$tokens[0]')");
}
$node->safe_psql('src', "SELECT valid FROM vatoken_validate('$tokens[1]')");

my $list_sql = "SELECT token_id, name, created_at, last_used_at, calls_today, "
  . "calls_this_week, calls_this_month, calls_last_month "
  . "FROM vatoken_list('dump-owner')";
my $before = $node->safe_psql('src', $list_sql);

my $dump = $node->basedir . '/src.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('src'), '-f', $dump ],
	'pg_dump of a database with tokens');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('dst'), $dump ],
	'pg_restore into a new database');

is($node->safe_psql('dst', $list_sql), $before,
	'tokens, creation dates, last use and usage survive the round trip');

for my $i (0 .. 2)
{
	is($node->safe_psql('dst', "SELECT valid FROM vatoken_validate('$tokens[$i]')"),
		't', "old token $i validates after restore");
}
is($node->safe_psql('dst', "SELECT status FROM vatoken_validate('$deleted')"),
	'unknown', 'a token deleted before the dump stays unknown');
is($node->safe_psql('dst', "SELECT calls_today FROM vatoken_usage('dump-owner', 1)"),
	'6', 'the validation after restore is counted on top of the restored usage');

my $new_id = $node->safe_psql('dst',
	"SELECT token_id FROM vatoken_create('dump-owner', 'after restore')");
cmp_ok($new_id, '>', 4, 'new ids continue after the highest id ever issued');

is($node->safe_psql('dst',
	"SELECT count(*) FROM vatoken.tokens WHERE token_hash IS NULL OR length(token_hash) <> 32"),
	'0', 'only 32-byte hashes were restored');

$node->stop;
done_testing();
