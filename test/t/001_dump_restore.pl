# pg_dump / pg_restore keeps tokens, usage and the id sequence: after a
# restore, old tokens validate, their usage is intact, deleted tokens stay
# deleted and new ids never collide with old ones.  A dump taken at 1.0
# restores with the README's recipe (create 1.0, restore, update), and
# without it fails with the error the README names.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

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

# --- a dump taken at 1.0, restored where CREATE EXTENSION gives the latest
$node->safe_psql('postgres', 'CREATE DATABASE old10');
$node->safe_psql('old10', "CREATE EXTENSION vatoken VERSION '1.0'");
my $old_token = $node->safe_psql('old10',
	"SELECT token FROM vatoken_create('old-owner', 'from 1.0')");
$node->safe_psql('old10', "SELECT valid FROM vatoken_validate('$old_token')") for 1 .. 3;
my $old_list_sql = "SELECT token_id, name, created_at, last_used_at, calls_today, "
  . "calls_this_month FROM vatoken_list('old-owner')";
my $old_before = $node->safe_psql('old10', $old_list_sql);
my $old_dump = $node->basedir . '/old10.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('old10'), '-f', $old_dump ],
	'pg_dump of a database at 1.0');

$node->safe_psql('postgres', 'CREATE DATABASE naive');
my ($out, $err) = ('', '');
my $naive_ok = IPC::Run::run([ 'pg_restore', '-d', $node->connstr('naive'), $old_dump ],
	'>', \$out, '2>', \$err);
ok(!$naive_ok, 'restoring a 1.0 dump where CREATE EXTENSION gives the latest fails');
like($err, qr/column "last_used_at" of relation "tokens" does not exist/,
	'with the error the README names');

$node->safe_psql('postgres', 'CREATE DATABASE recipe');
$node->safe_psql('recipe', "CREATE EXTENSION vatoken VERSION '1.0'");
$node->command_ok([ 'pg_restore', '-d', $node->connstr('recipe'), $old_dump ],
	'the README recipe: create 1.0, then restore');
$node->safe_psql('recipe', 'ALTER EXTENSION vatoken UPDATE');
is($node->safe_psql('recipe', "SELECT extversion = default_version FROM pg_extension e "
	  . "JOIN pg_available_extensions a ON a.name = e.extname WHERE extname = 'vatoken'"),
	't', 'and update to the latest');
is($node->safe_psql('recipe', $old_list_sql), $old_before,
	'the 1.0 tokens keep their creation date, last use and usage');
is($node->safe_psql('recipe', "SELECT valid FROM vatoken_validate('$old_token')"),
	't', 'a 1.0 token validates after the recipe');

$node->stop;
done_testing();
