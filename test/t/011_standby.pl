# vatoken on a hot standby (primary plus a streaming standby), in both modes:
# - without the preload, vatoken_validate fails there with a clear error
#   (55000, a hint naming shared_preload_libraries); list and usage work;
#   create and delete get the ordinary read-only error;
# - with the preload, vatoken_validate answers exactly as on the primary and
#   never errors, also with vatoken.max_counters = 1 and many tokens; no
#   vatoken worker runs on the standby;
# - revocation: with synchronous_commit = remote_apply a delete is seen on the
#   standby as soon as it commits; with replay paused (or the primary
#   stopped) the standby keeps the deleted token alive, unless
#   vatoken.standby_max_staleness is set: then it answers "stale" once the
#   bound has passed, but not merely because the primary is idle.
# Tokens travel through a table, never as literals, and none may reach the
# standby's log.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VatokenTest;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
# Nothing but the test writes on the primary, so that "idle" means idle.
$primary->append_conf('postgresql.conf', "autovacuum = off\n");
$primary->start;

$primary->safe_psql('postgres', 'CREATE DATABASE app');
$primary->safe_psql('app', q{
	CREATE EXTENSION vatoken;
	CREATE ROLE api LOGIN;
	GRANT EXECUTE ON FUNCTION vatoken_validate(text) TO api;
	CREATE TABLE toks (k text PRIMARY KEY, id bigint, token text);
	GRANT SELECT ON toks TO api;
	INSERT INTO toks SELECT 'a', token_id, token FROM vatoken_create('alice', 'a');
	INSERT INTO toks SELECT 'b', token_id, token FROM vatoken_create('alice', 'b');
	INSERT INTO toks SELECT 'c', token_id, token FROM vatoken_create('alice', 'c');
	INSERT INTO toks SELECT 'd', token_id, token FROM vatoken_create('alice', 'd');
	SELECT vatoken_delete('alice', id) FROM toks WHERE k = 'd';
	-- well formed, right checksum of another secret: malformed
	INSERT INTO toks SELECT 'm', NULL, left(token, 4) || 'x' || substr(token, 6) FROM toks WHERE k = 'a';
	INSERT INTO toks SELECT 'many' || g, token_id, token
	  FROM generate_series(1, 60) g, LATERAL vatoken_create('many', 'm' || g);
	SELECT count(*) FROM toks, LATERAL vatoken_validate(toks.token) v WHERE k = 'a';
});
# Attempts to turn the staleness bound off on the standby through stored
# settings, which replicate: the database owner (not a superuser) for the
# database, a superuser for the validate-only role.  Whatever is stored, the
# bound holds (checked below while replay is paused).
$primary->safe_psql('app', q{CREATE ROLE dbo LOGIN; ALTER DATABASE app OWNER TO dbo;});
for my $sql ('SET ROLE dbo; ALTER DATABASE app SET vatoken.standby_max_staleness = 0',
	'ALTER ROLE api SET vatoken.standby_max_staleness = 0')
{
	my ($ret, $out, $err) = $primary->psql('app', $sql);
	note("$sql: " . ($ret == 0 ? 'stored' : "refused: $err"));
}
my @secrets = map { substr($_, 4, 43) }
  split /\n/, $primary->safe_psql('app', 'SELECT token FROM toks');

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
# The WAL receiver pings an idle primary every wal_receiver_timeout / 2.
$standby->append_conf('postgresql.conf', qq{
wal_receiver_timeout = '2s'
log_statement = 'all'
});
$standby->start;
$primary->wait_for_catchup('standby', 'replay');

# One validation, as "valid|status|token_id|owner|name"; with $role, in a
# session that logs in as that role.
sub check
{
	my ($node, $k, $role) = @_;
	return $node->safe_psql('app',
		"SELECT v.* FROM toks, vatoken_validate(toks.token) v WHERE toks.k = '$k'",
		$role ? (extra_params => [ '-U', $role ]) : ());
}

sub status
{
	my ($node, $k) = @_;
	return $node->safe_psql('app',
		"SELECT v.status FROM toks, vatoken_validate(toks.token) v WHERE toks.k = '$k'");
}

# Run sql on the standby, expecting an error; its verbose text.
sub error_of
{
	my ($sql) = @_;
	my ($ret, $out, $err) = $standby->psql('app', "\\set VERBOSITY verbose\n$sql");
	isnt($ret, 0, "fails: $sql");
	return $err;
}

sub log_has_no_token
{
	my ($label) = @_;
	my $log = slurp_file($standby->logfile);
	my @found = grep { $log =~ /\Q$_\E/i } @secrets;
	is(scalar @found, 0, "$label: no token in the standby's log");
}

# ------------------------------------------------------------ without the preload
is(check($standby, 'm'), 'f|malformed|||', 'no preload: a malformed token is answered on the standby');
for my $role ('', 'api')
{
	my $err = error_of(($role ? "SET ROLE $role;\n" : '')
		  . "SELECT v.* FROM toks, vatoken_validate(toks.token) v WHERE toks.k = 'a';");
	like($err, qr/ERROR:  55000: tokens cannot be checked on a hot standby unless vatoken is preloaded/,
		"no preload: validate on the standby fails with 55000 (role '$role')");
	like($err, qr/HINT:  Add vatoken to shared_preload_libraries on the standby/,
		'and the hint names shared_preload_libraries');
	unlike($err, qr/FOR KEY SHARE|read-only transaction/, 'not the read-only error of a write');
}
like(error_of("SELECT v.* FROM toks, vatoken_validate(toks.token) v WHERE toks.k = 'd';"),
	qr/55000/, 'no preload: an unknown token gets the same error');

is($standby->safe_psql('app', "SELECT * FROM vatoken_list('alice')"),
	$primary->safe_psql('app', "SELECT * FROM vatoken_list('alice')"),
	'no preload: vatoken_list on the standby equals the primary');
is($standby->safe_psql('app', "SELECT * FROM toks, vatoken_usage('alice', toks.id) WHERE k = 'a'"),
	$primary->safe_psql('app', "SELECT * FROM toks, vatoken_usage('alice', toks.id) WHERE k = 'a'"),
	'no preload: vatoken_usage on the standby equals the primary');
like(error_of("SELECT * FROM vatoken_create('alice', 'x');"),
	qr/25006: cannot execute .* in a read-only transaction/, 'no preload: create gets the read-only error');
like(error_of("SELECT vatoken_delete('alice', id) FROM toks WHERE k = 'a';"),
	qr/25006: cannot execute .* in a read-only transaction/, 'no preload: delete gets the read-only error');
like(check($primary, 'a'), qr/^t\|valid\|/, 'no preload: the primary still validates');
log_has_no_token('no preload');

# ------------------------------------------------------------ with the preload
$primary->append_conf('postgresql.conf', "shared_preload_libraries = 'vatoken'\n");
$standby->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'vatoken'
vatoken.max_counters = 1
});
$primary->restart;
$standby->restart;
$primary->wait_for_catchup('standby', 'replay');
my $log_offset = -s $standby->logfile;

for my $k (qw(a b c d m many1))
{
	is(check($standby, $k), check($primary, $k), "preload: the standby answers as the primary ($k)");
	is(check($standby, $k, 'api'), check($primary, $k), "... also for the validate-only role ($k)");
}
for my $round (1 .. 3)
{
	is($standby->safe_psql('app',
		"SELECT count(*) FILTER (WHERE v.valid), count(*) FROM toks, vatoken_validate(toks.token) v WHERE k LIKE 'many%'"),
		'60|60', "preload, max_counters = 1: 60 distinct tokens valid on the standby (round $round)");
}
is($standby->safe_psql('app', "SELECT count(*) FROM vatoken_list('many')"), '60',
	'preload: vatoken_list works on the standby');
is($standby->safe_psql('app', "SELECT count(*) FROM toks, vatoken_usage('alice', toks.id) WHERE k = 'a'"),
	'1', 'preload: vatoken_usage works on the standby');
is($standby->safe_psql('app',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'vatoken launcher'"),
	'1', 'preload: the launcher runs on the standby (its workers forward the counts)');
my $log = substr(slurp_file($standby->logfile), $log_offset);
unlike($log, qr/ERROR|FATAL|PANIC/, 'preload: no error in the standby log while it validates');

like(error_of("SELECT * FROM vatoken_create('alice', 'x');"),
	qr/25006: cannot execute .* in a read-only transaction/, 'preload: create gets the read-only error');
like(error_of("SELECT vatoken_delete('alice', id) FROM toks WHERE k = 'a';"),
	qr/25006: cannot execute .* in a read-only transaction/, 'preload: delete gets the read-only error');
like(error_of("SET ROLE api; SET vatoken.standby_max_staleness = 0;"),
	qr/55P02: parameter "vatoken.standby_max_staleness" cannot be changed now/,
	'a session cannot change the staleness bound');

# ------------------------------------------------------------ revocation: remote_apply
$primary->append_conf('postgresql.conf', "synchronous_standby_names = 'standby'\n");
$primary->reload;
poll_until($primary, 'postgres',
	"SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby'", 'sync', 60)
  or die 'the standby did not become synchronous';
is(status($standby, 'b'), 'valid', 'b is valid on the standby');
$primary->safe_psql('app',
	"SET synchronous_commit = remote_apply; SELECT vatoken_delete('alice', id) FROM toks WHERE k = 'b'");
is(status($standby, 'b'), 'unknown',
	'remote_apply: a delete is unknown on the standby as soon as it commits');
$primary->append_conf('postgresql.conf', "synchronous_standby_names = ''\n");
$primary->reload;
poll_until($primary, 'postgres', 'SHOW synchronous_standby_names', '', 60)
  or die 'synchronous_standby_names not reloaded';

# ------------------------------------------------------------ the staleness bound
$standby->append_conf('postgresql.conf', "vatoken.standby_max_staleness = '10s'\n");
$standby->reload;
poll_until($standby, 'app', 'SHOW vatoken.standby_max_staleness', '10s', 60)
  or die 'bound not reloaded';
# The primary's clock says "now" for the primary's timestamps.
poll_until($standby, 'app',
	"SELECT pg_last_xact_replay_timestamp() < now() - interval '12 s'", 't', 120)
  or die 'the last replayed transaction did not grow old';
is(status($standby, 'a'), 'valid',
	'bound 10s, idle primary (last commit older than the bound): still valid');

# Replay held back: the delete is received, not applied.
$standby->safe_psql('app', 'SELECT pg_wal_replay_pause()');
poll_until($standby, 'app', 'SELECT pg_get_wal_replay_pause_state()', 'paused', 60)
  or die 'replay did not pause';
$primary->safe_psql('app', "SELECT vatoken_delete('alice', id) FROM toks WHERE k = 'a'");
my $lsn = $primary->safe_psql('app', 'SELECT pg_current_wal_flush_lsn()');
poll_until($standby, 'app', "SELECT pg_last_wal_receive_lsn() >= '$lsn'", 't', 60)
  or die 'the delete was not received';
ok(poll_until($standby, 'app',
	"SELECT v.status FROM toks, vatoken_validate(toks.token) v WHERE toks.k = 'a'", 'stale', 120),
	'replay paused: the deleted token turns stale once the bound has passed');
is(check($standby, 'c'), 'f|stale|||', 'replay paused: a live token is stale too, nothing else returned');
is(check($standby, 'c', 'api'), 'f|stale|||',
	'replay paused: stored database and role settings do not turn the bound off');
is(check($standby, 'm'), 'f|malformed|||', 'replay paused: a malformed token stays malformed');
like(check($primary, 'c'), qr/^t\|valid\|/, 'meanwhile the primary answers valid');

$standby->append_conf('postgresql.conf', "vatoken.standby_max_staleness = 0\n");
$standby->reload;
poll_until($standby, 'app', 'SHOW vatoken.standby_max_staleness', '0', 60) or die 'bound not reloaded';
is(status($standby, 'a'), 'valid',
	'without the bound, the paused standby still accepts the deleted token (the documented exposure)');

$standby->append_conf('postgresql.conf', "vatoken.standby_max_staleness = '10s'\n");
$standby->reload;
poll_until($standby, 'app', 'SHOW vatoken.standby_max_staleness', '10s', 60) or die 'bound not reloaded';
$standby->safe_psql('app', 'SELECT pg_wal_replay_resume()');
$primary->wait_for_catchup('standby', 'replay');
ok(poll_until($standby, 'app',
	"SELECT string_agg(v.status, ',' ORDER BY k) FROM toks, vatoken_validate(toks.token) v WHERE k IN ('a', 'c')",
	'unknown,valid', 60), 'replay resumed: the delete is seen, live tokens valid again');

# The primary ignores the bound, however small.
$primary->append_conf('postgresql.conf', "vatoken.standby_max_staleness = '1ms'\n");
$primary->reload;
poll_until($primary, 'app', 'SHOW vatoken.standby_max_staleness', '1ms', 60) or die 'bound not reloaded';
like(check($primary, 'c'), qr/^t\|valid\|/, 'a primary ignores vatoken.standby_max_staleness');

# The primary goes away: the standby turns stale.
$primary->stop('fast');
ok(poll_until($standby, 'app',
	"SELECT v.status FROM toks, vatoken_validate(toks.token) v WHERE toks.k = 'c'", 'stale', 120),
	'primary stopped: the standby answers stale once the bound has passed');
is(check($standby, 'm'), 'f|malformed|||', 'primary stopped: malformed stays malformed');

log_has_no_token('the whole test');
$standby->stop;
done_testing();
