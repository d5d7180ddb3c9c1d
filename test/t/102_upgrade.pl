# Upgrades: ALTER EXTENSION vatoken UPDATE from every released version gives
# exactly the objects of a fresh install of the latest version, with tokens
# and usage intact.
#
# The released versions are the base install scripts sql/vatoken--X.sql; the
# latest is default_version in vatoken.control.  For each older X: install X
# in a database of its own, issue, use and delete tokens, ALTER EXTENSION
# vatoken UPDATE, then compare test/upgrade/describe.sql (every member with
# its signature, security, configuration, ACL, columns, defaults,
# constraints, indexes, sequences and pg_dump registration) against a fresh
# install of the latest, and check that old tokens validate, usage and last
# use are unchanged, deleted tokens stay unknown and new ids continue.
#
# While only one version exists there is nothing to update from: the test
# says so, still checks that every version has an update path to the latest
# and that a dump and restore reproduce the fresh install object for object,
# and proves on purpose-made differences that the comparison would notice a
# divergent upgrade.  It starts testing real upgrades as soon as a
# sql/vatoken--A--B.sql and an older base script appear (installed with
# `make install`).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = $ENV{TESTDIR} // '.';
my $describe = slurp_file("$root/test/upgrade/describe.sql");

my ($default) = slurp_file("$root/vatoken.control") =~ /^default_version\s*=\s*'([^']+)'/m;
ok(defined $default, "default_version in vatoken.control: $default");

opendir(my $dh, "$root/sql") or die "cannot open sql/: $!";
my @scripts = sort grep { /^vatoken--.+\.sql$/ } readdir($dh);
closedir($dh);
my @updates = grep { /^vatoken--.+--.+\.sql$/ } @scripts;
my @bases = map { /^vatoken--(.+)\.sql$/ && $1 !~ /--/ ? ($1) : () } @scripts;
ok((grep { $_ eq $default } @bases), "a base install script exists for $default");
my @old = grep { $_ ne $default } @bases;
note("base versions: @bases; update scripts: @updates; default: $default");

# The tests run against the installed extension: it must be this tree's.
my $sharedir = `pg_config --sharedir`;
chomp $sharedir;
for my $s (@scripts, '../vatoken.control')
{
	my $mine = $s eq '../vatoken.control' ? "$root/vatoken.control" : "$root/sql/$s";
	(my $name = $s) =~ s{^\.\./}{};
	my $installed = "$sharedir/extension/$name";
	ok(-f $installed && slurp_file($installed) eq slurp_file($mine),
		"installed $name is this tree's (else run make install)");
}

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->append_conf('postgresql.conf', "vatoken.timezone = 'UTC'\n");
$node->start;

sub describe { return $node->safe_psql($_[0], $describe); }

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION vatoken');
my $fresh = describe('fresh');
like($fresh, qr/^extension version=\Q$default\E /m, "fresh install is $default");
like($fresh, qr/^function .*vatoken_delete\(text,bigint\) .*secdef=t config=\{"search_path=pg_catalog, pg_temp"\}/m,
	'the description has the functions with their security settings');
like($fresh, qr/^type vatoken_validate_result columns=\(valid boolean, status text, token_id bigint, owner text, name text\) acl=/m,
	'the description has the composite types with their columns');
like($fresh, qr/^extension config_dump vatoken\.tokens /m,
	'the description has the pg_dump registration');

# Every version has an update path to the latest.
for my $v (@old)
{
	is($node->safe_psql('fresh',
		"SELECT count(*) FROM pg_extension_update_paths('vatoken') "
		. "WHERE source = '$v' AND target = '$default' AND path IS NOT NULL"),
		'1', "an update path leads from $v to $default");
}

# Tokens, usage and deletes in a database; returns what must survive.
sub fill
{
	my ($db) = @_;
	$node->safe_psql($db, <<'SQL');
CREATE TABLE upgrade_tokens AS
    SELECT g, c.token_id, c.token FROM generate_series(1, 4) g,
        LATERAL vatoken_create('upgrade-owner', 'token ' || g) c;
SELECT count(*) FROM upgrade_tokens t, generate_series(1, 3) n,
    LATERAL vatoken_validate(CASE WHEN n <= t.g THEN t.token END) v WHERE v.valid;
SELECT vatoken_delete('upgrade-owner', token_id) FROM upgrade_tokens WHERE g = 4;
SQL
	return $node->safe_psql($db,
		"SELECT token_id, name, created_at, last_used_at, calls_today, calls_this_week, "
		. "calls_this_month, calls_last_month FROM vatoken_list('upgrade-owner')");
}

sub check_data
{
	my ($db, $list, $what) = @_;
	is($node->safe_psql($db,
		"SELECT token_id, name, created_at, last_used_at, calls_today, calls_this_week, "
		. "calls_this_month, calls_last_month FROM vatoken_list('upgrade-owner')"),
		$list, "$what: tokens, last use and usage intact");
	is($node->safe_psql($db,
		"SELECT string_agg(v.status, ',' ORDER BY t.g) FROM upgrade_tokens t, "
		. "LATERAL vatoken_validate(t.token) v"),
		'valid,valid,valid,unknown', "$what: old tokens validate, the deleted one stays unknown");
	is($node->safe_psql($db,
		"SELECT calls_today FROM upgrade_tokens t, LATERAL vatoken_usage('upgrade-owner', t.token_id) "
		. "WHERE t.g = 2"),
		'3', "$what: a validation after the change is counted on top");
	cmp_ok($node->safe_psql($db,
		"SELECT token_id FROM vatoken_create('upgrade-owner', 'after')"),
		'>', $node->safe_psql($db, 'SELECT max(token_id) FROM upgrade_tokens'),
		"$what: new ids continue after the old ones");
}

# Upgrades from every older version.
my @granted = ('vatoken_create(text, text)', 'vatoken_validate(text)', 'vatoken_list(text)',
	'vatoken_usage(text, bigint)', 'vatoken_delete(text, bigint)');
$node->safe_psql('postgres', 'CREATE ROLE upgrade_api');
if (@old)
{
	for my $v (@old)
	{
		my $db = "from_$v";
		$db =~ s/\W/_/g;
		$node->safe_psql('postgres', qq{CREATE DATABASE "$db"});
		$node->safe_psql($db, "CREATE EXTENSION vatoken VERSION '$v'");
		my $list = fill($db);
		if ($v eq '1.0')
		{
			# 1.1 moves a token's last use to its latest usage row; a token
			# whose usage rows were deleted by hand keeps it too.
			$node->safe_psql($db,
				"DELETE FROM vatoken.usage WHERE token_id = (SELECT token_id FROM upgrade_tokens WHERE g = 3)");
			$list = $node->safe_psql($db,
				"SELECT token_id, name, created_at, last_used_at, calls_today, calls_this_week, "
				. "calls_this_month, calls_last_month FROM vatoken_list('upgrade-owner')");
			like($list, qr/\|token 3\|[^|]+\|[^|]+\|0\|0\|0\|0$/m,
				'1.0: a token with its usage rows deleted still has a last use');
		}
		# Privileges granted on the functions survive the update, also where
		# an update re-creates a function (1.2 re-creates vatoken_validate,
		# 2.0 vatoken_create and vatoken_list).
		$node->safe_psql($db, "GRANT EXECUTE ON FUNCTION $_ TO upgrade_api")
		  for grep { $_ ne 'vatoken_validate(text)' } @granted;
		$node->safe_psql($db,
			'GRANT EXECUTE ON FUNCTION vatoken_validate(text) TO upgrade_api WITH GRANT OPTION');
		$node->safe_psql($db, 'ALTER EXTENSION vatoken UPDATE');
		# (2.0 re-creates vatoken_create with its policy arguments.)
		my @now_granted = map {
			$_ eq 'vatoken_create(text, text)' && $default ge '2.0'
			  ? 'vatoken_create(text, text, timestamptz, text[], cidr[], integer, interval)' : $_
		} @granted;
		is($node->safe_psql($db, 'SELECT ' . join(', ',
				map { "has_function_privilege('upgrade_api', '$_', 'EXECUTE')" } @now_granted)
			  . ", has_function_privilege('upgrade_api', 'vatoken_validate(text)', "
			  . "'EXECUTE WITH GRANT OPTION')"),
			join('|', ('t') x (@granted + 1)),
			"$v updated to $default: EXECUTE granted on each function, with its grant option, is kept");
		$node->safe_psql($db, "REVOKE ALL ON FUNCTION $_ FROM upgrade_api CASCADE") for @now_granted;
		is(describe($db), $fresh, "$v updated to $default has exactly the objects of a fresh install");
		check_data($db, $list, "$v updated to $default");
	}
}
else
{
	note("only $default exists: no upgrade to test yet");
	pass("no released version before $default: nothing to update from");
}

# ALTER EXTENSION UPDATE on the latest version is a no-op.
$node->safe_psql('postgres', 'CREATE DATABASE noop');
$node->safe_psql('noop', 'CREATE EXTENSION vatoken');
my $list = fill('noop');
my ($rc, $out, $err) = $node->psql('noop', 'ALTER EXTENSION vatoken UPDATE');
like($err, qr/version "\Q$default\E" of extension "vatoken" is already installed/,
	'ALTER EXTENSION UPDATE on the latest version changes nothing');
is(describe('noop'), $fresh, 'and the objects are those of a fresh install');

# A dump and restore of a database with tokens reproduces the fresh install
# object for object (001_dump_restore.pl checks the data in depth).
my $dump = $node->basedir . '/noop.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('noop'), '-f', $dump ],
	'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('restored'), $dump ], 'pg_restore');
is(describe('restored'), $fresh, 'a restored database has exactly the objects of a fresh install');
check_data('restored', $list, 'after dump and restore');

# The comparison notices what a careless upgrade script could get wrong: each
# change below, made to a fresh install, must change the description.
my @mutations = (
	[ 'volatility',       'ALTER FUNCTION vatoken_list(text) STABLE' ],
	[ 'security definer', 'ALTER FUNCTION vatoken_usage(text, bigint) SECURITY INVOKER' ],
	[ 'pinned search_path', 'ALTER FUNCTION vatoken_delete(text, bigint) RESET search_path' ],
	[ 'search_path pinned where it is not', 'ALTER FUNCTION vatoken_validate(text) SET search_path = pg_catalog, pg_temp' ],
	[ 'function ACL',     'GRANT EXECUTE ON FUNCTION vatoken_validate(text) TO PUBLIC' ],
	[ 'rows estimate',    'ALTER FUNCTION vatoken_list(text) ROWS 10' ],
	[ 'column default',   'ALTER TABLE vatoken.tokens ALTER COLUMN created_at SET DEFAULT pg_catalog.clock_timestamp()' ],
	[ 'column type',      'ALTER TABLE vatoken.usage ALTER COLUMN calls TYPE numeric' ],
	[ 'not null',         'ALTER TABLE vatoken.usage ALTER COLUMN last_used_at SET NOT NULL' ],
	[ 'constraint',       'ALTER TABLE vatoken.usage DROP CONSTRAINT usage_calls_check' ],
	[ 'foreign key action', 'ALTER TABLE vatoken.usage DROP CONSTRAINT usage_token_id_fkey, '
		  . 'ADD CONSTRAINT usage_token_id_fkey FOREIGN KEY (token_id) REFERENCES vatoken.tokens (token_id)' ],
	[ 'index',            'DROP INDEX vatoken.tokens_owner_idx' ],
	[ 'index definition', 'DROP INDEX vatoken.tokens_owner_idx; '
		  . 'CREATE INDEX tokens_owner_idx ON vatoken.tokens (owner)' ],
	[ 'table ACL',        'GRANT SELECT ON vatoken.usage TO PUBLIC' ],
	[ 'column ACL',       'GRANT SELECT (owner) ON vatoken.tokens TO PUBLIC' ],
	[ 'schema ACL',       'GRANT USAGE ON SCHEMA vatoken TO PUBLIC' ],
	[ 'sequence',         'ALTER SEQUENCE vatoken.tokens_token_id_seq INCREMENT BY 2' ],
	[ 'sequence owner',   'ALTER SEQUENCE vatoken.tokens_token_id_seq OWNED BY NONE' ],
	[ 'dump registration', "UPDATE pg_extension SET extconfig = extconfig[1:2], "
		  . "extcondition = extcondition[1:2] WHERE extname = 'vatoken'" ],
	[ 'new member',       'CREATE FUNCTION vatoken.extra() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$; '
		  . 'ALTER EXTENSION vatoken ADD FUNCTION vatoken.extra()' ],
	[ 'missing member',   'ALTER EXTENSION vatoken DROP FUNCTION vatoken_list(text)' ],
	[ 'comment',          "COMMENT ON TABLE vatoken.tokens IS 'x'" ],
	[ 'row level security', 'ALTER TABLE vatoken.tokens ENABLE ROW LEVEL SECURITY' ],
	[ 'type column',      'ALTER TYPE vatoken_validate_result RENAME ATTRIBUTE owner TO token_owner' ],
	[ 'type ACL',         'GRANT USAGE ON TYPE vatoken_validate_result TO PUBLIC' ],
);
for my $m (@mutations)
{
	my ($what, $sql) = @$m;
	$node->safe_psql('postgres', 'CREATE DATABASE mutant');
	$node->safe_psql('mutant', "CREATE EXTENSION vatoken; $sql");
	isnt(describe('mutant'), $fresh, "the comparison notices a different $what");
	$node->safe_psql('postgres', 'DROP DATABASE mutant');
}

$node->stop;
done_testing();
