# vatoken behind pgbouncer (Debian's 1.18) in transaction pooling, as API
# servers use it: a primary with the preload and a streaming standby, one
# pgbouncer in front of both, listening on a Unix socket in the test's
# temporary directory only (no TCP port).  pgbench validates with the
# extended protocol (unnamed statements, the token a bind parameter) and
# with the simple protocol, more clients than server connections, so that
# transactions of one client run on different server connections.
# - On the primary every call is counted exactly: calls made == calls in
#   vatoken.usage after the flush, and vatoken_usage agrees.
# - On the standby every call is answered valid and nothing fails, and its
#   calls reach the primary's vatoken.usage exactly once.
# - A deleted token is refused through the pooler at once.
# (pam_vatoken through pgbouncer is tested by test/pam/run.sh.)
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Path qw(make_path);
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VatokenTest;
use IPC::Run;

my $pgbouncer = $ENV{PGBOUNCER} // '/usr/sbin/pgbouncer';
BAIL_OUT("no $pgbouncer: scripts/deps.sh test installs it") unless -x $pgbouncer;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'vatoken'
vatoken.flush_interval = '100ms'
});
$primary->start;
$primary->safe_psql('postgres', 'CREATE DATABASE app');
$primary->safe_psql('app', q{
	CREATE EXTENSION vatoken;
	CREATE ROLE api LOGIN;
	GRANT EXECUTE ON FUNCTION vatoken_validate(text) TO api;
});
my %tok;
for my $k (qw(ext simple standby gone))
{
	$tok{$k} = $primary->safe_psql('app', "SELECT token_id || ' ' || token FROM vatoken_create('acme', '$k')");
}
my %id = map { $_ => (split / /, $tok{$_})[0] } keys %tok;
$tok{$_} = (split / /, $tok{$_})[1] for keys %tok;

$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->append_conf('postgresql.conf', "shared_preload_libraries = 'vatoken'\n");
$standby->start;
$primary->wait_for_catchup('standby', 'replay');

# ------------------------------------------------------------ pgbouncer
my $dir = PostgreSQL::Test::Utils::tempdir_short();
my $port = 6432;    # only the name of the socket file in $dir
my $user = getpwuid($>);
make_path("$dir/sock");
append_to_file("$dir/userlist.txt", qq{"api" ""\n"$user" ""\n});
append_to_file("$dir/pgbouncer.ini", sprintf(<<'EOF',
[databases]
app = host=%s port=%d dbname=app
app_standby = host=%s port=%d dbname=app

[pgbouncer]
listen_addr =
unix_socket_dir = %s
listen_port = %d
auth_type = trust
auth_file = %s/userlist.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 100
logfile = %s/pgbouncer.log
pidfile = %s/pgbouncer.pid
EOF
	$primary->host, $primary->port, $standby->host, $standby->port,
	"$dir/sock", $port, $dir, $dir, $dir));
my $bouncer = IPC::Run::start([ $pgbouncer, "$dir/pgbouncer.ini" ],
	'>', "$dir/stdout.log", '2>', "$dir/stderr.log");

# A query through pgbouncer, as role api; retried until pgbouncer listens.
sub via_bouncer
{
	my ($db, $sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-A', '-t', '-h', "$dir/sock", '-p', $port, '-U', 'api',
		'-d', $db, '-c', $sql ], '>', \$out, '2>', \$err);
	chomp $out;
	return ($out, $err);
}
my $ready = 0;
for (1 .. 300)
{
	my ($out) = via_bouncer('app', 'SELECT 1');
	if ($out eq '1') { $ready = 1; last; }
	select(undef, undef, undef, 0.1);
}
ok($ready, 'pgbouncer answers on its Unix socket')
  or BAIL_OUT('pgbouncer did not start: ' . slurp_file("$dir/pgbouncer.log"));

# pgbench through pgbouncer: $clients clients, $tx transactions each, one
# validation per transaction, aborted at once if a call is not valid.
sub bench
{
	my ($db, $mode, $token, $clients, $tx) = @_;
	my $arg = $mode eq 'simple' ? "'$token'" : ':tok';
	my $script = "$dir/validate-$mode.sql";
	unlink $script;
	append_to_file($script,
		"SELECT v.valid::int AS ok FROM vatoken_validate($arg) v \\gset\n\\set check 1 / :ok\n");
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ 'pgbench', '-n', '-h', "$dir/sock", '-p', $port, '-U', 'api',
		'-M', $mode, '-c', $clients, '-j', 1, '-t', $tx, '-D', "tok=$token", '-f', $script, $db ],
		'>', \$out, '2>', \$err);
	my ($done) = $out =~ /number of transactions actually processed: (\d+)/;
	my ($failed) = $out =~ /number of failed transactions: (\d+)/;
	return ($ok, $done // -1, $failed // 0, "$out$err");
}

sub usage_total
{
	my ($id) = @_;
	return $primary->safe_psql('app',
		"SELECT calls_this_month + calls_last_month FROM vatoken_usage('acme', $id)");
}

sub flushed_total
{
	my ($id) = @_;
	return "SELECT coalesce(sum(calls), 0) FROM vatoken.usage WHERE token_id = $id";
}

# ------------------------------------------------------------ primary: exact counts
for my $mode (qw(extended simple))
{
	my $k = $mode eq 'extended' ? 'ext' : 'simple';
	my ($ok, $done, $failed, $log) = bench('app', $mode, $tok{$k}, 6, 50);
	ok($ok && $done == 300 && $failed == 0, "primary, $mode protocol: 300 validations, none failed")
	  or diag($log);
	ok(poll_until($primary, 'app', flushed_total($id{$k}), '300', 60),
		"primary, $mode protocol: 300 calls flushed to vatoken.usage, exactly");
	is(usage_total($id{$k}), '300', "primary, $mode protocol: vatoken_usage reports 300");
}

# ------------------------------------------------------------ standby
for my $mode (qw(extended simple))
{
	my ($ok, $done, $failed, $log) = bench('app_standby', $mode, $tok{standby}, 6, 50);
	ok($ok && $done == 300 && $failed == 0, "standby, $mode protocol: 300 validations answered valid")
	  or diag($log);
}
# The standby counts its calls and delivers them to the primary (issue 11).
ok(poll_until($primary, 'app', flushed_total($id{standby}), '600', 60),
	"standby: its 600 calls reach the primary's vatoken.usage, exactly once");
unlike(slurp_file($standby->logfile), qr/ERROR|FATAL/, 'no error in the standby log');

# ------------------------------------------------------------ revocation through the pooler
my ($before) = via_bouncer('app', "SELECT status FROM vatoken_validate('$tok{gone}')");
is($before, 'valid', 'a token valid through pgbouncer');
$primary->safe_psql('app', "SELECT vatoken_delete('acme', $id{gone})");
my ($after) = via_bouncer('app', "SELECT status FROM vatoken_validate('$tok{gone}')");
is($after, 'unknown', 'deleted on the primary: unknown through pgbouncer at once');

$bouncer->kill_kill;
$standby->stop;
$primary->stop;
done_testing();
