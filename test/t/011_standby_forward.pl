# Counting on hot standbys (vatoken preloaded everywhere): calls validated on
# a primary and two streaming standbys reach the primary's vatoken.usage
# exactly once, and each node's readers never see a call twice:
# - calls on all three nodes; a standby with vatoken.max_counters = 1 and
#   many tokens;
# - a lost acknowledgement (vatoken.debug_forward_resend: every batch is sent
#   a second time on a new connection);
# - the primary stopped while the standbys validate, a standby SIGKILLed
#   after a spool write, then the primary started again;
# - a clone of a standby made with pg_basebackup is a new node (delivering
#   through vatoken.forward_conninfo);
# - immediate stop of the primary after it recorded a batch that no standby
#   received, promotion of a standby, the other standby re-pointed; the old
#   primary rejoining from a fresh base backup;
# - the spool of a database dropped meanwhile is removed;
# - a file-level copy of a standby is refused, never counted twice;
# - what a database owner, a validate-only role and the delivery role can
#   do with vatoken_deliver.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VatokenTest;
use PostgreSQL::Test::RecursiveCopy;
use File::Path qw(make_path);
use Time::HiRes qw(usleep);

my $conf = qq{
shared_preload_libraries = 'vatoken'
vatoken.flush_interval = '100ms'
restart_after_crash = on
log_connections = on
};

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', $conf);
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION vatoken');
$primary->safe_psql('postgres',
	"SELECT pg_create_physical_replication_slot('s1'), pg_create_physical_replication_slot('s2')");
# standby2 delivers as a role of its own (the README's recipe).
$primary->safe_psql('postgres', q{
	CREATE ROLE vt_forward LOGIN;
	GRANT EXECUTE ON FUNCTION vatoken_deliver(uuid, bigint, bytea) TO vt_forward;
});
my @tok = map {
	$primary->safe_psql('postgres', "SELECT token FROM vatoken_create('o', 't$_')")
} 1 .. 3;
$primary->backup('b');

my $s1 = PostgreSQL::Test::Cluster->new('standby1');
$s1->init_from_backup($primary, 'b', has_streaming => 1);
$s1->append_conf('postgresql.conf', "primary_slot_name = 's1'");
$s1->start;
my $s2 = PostgreSQL::Test::Cluster->new('standby2');
$s2->init_from_backup($primary, 'b', has_streaming => 1);
$s2->append_conf('postgresql.conf', "primary_slot_name = 's2'\nvatoken.max_counters = 1\n"
	  . "vatoken.forward_conninfo = '" . $primary->connstr . " user=vt_forward'");
$s2->start;

# Calls made, by token number (1-based), over the whole test.
my $made = 0;

sub validate
{
	my ($node, $t, $n) = @_;
	my $ok = $node->safe_psql('postgres',
		"SELECT count(*) FROM generate_series(1, $n) g, "
		  . "LATERAL vatoken_validate('$tok[$t]' || left(g::text, 0)) v WHERE v.valid");
	die "validate: $ok of $n valid" unless $ok == $n;
	$made += $n;
}

# What the primary's table holds, and what a node's readers report.
sub table_total
{
	my ($node) = @_;
	return $node->safe_psql('postgres', 'SELECT coalesce(sum(calls), 0) FROM vatoken.usage');
}

sub seen_total
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT coalesce(sum(l.calls_today), 0) FROM unnest(ARRAY['o', 'many', 'scoped']) o,"
		  . ' LATERAL vatoken_list(o) l');
}

sub spooled
{
	my ($node) = @_;
	my @f = glob($node->data_dir . '/pgsql_tmp_vatoken/*/*/*.batch');
	return scalar @f;
}

# Every call made is in the primary's table once, and every standby has it
# back (nothing left in its spool).
sub settled
{
	my ($name, $p, @standbys) = @_;
	poll_until($p, 'postgres', 'SELECT coalesce(sum(calls), 0) FROM vatoken.usage', $made)
	  or diag("$name: primary has " . table_total($p) . " of $made");
	is(table_total($p), $made, "$name: the primary's table holds every call once");
	is(seen_total($p), $made, "$name: the primary's readers report every call once");
	for my $s (@standbys)
	{
		poll_until($s, 'postgres', 'SELECT coalesce(sum(calls), 0) FROM vatoken.usage', $made)
		  or diag("$name: " . $s->name . ' replayed ' . table_total($s));
		for (1 .. 300) { last if spooled($s) == 0; usleep(100_000); }
		is(spooled($s), 0, "$name: " . $s->name . ' has delivered its spool');
		is(seen_total($s), $made, "$name: " . $s->name . "'s readers report every call once");
	}
}

$primary->wait_for_catchup($_) for ($s1, $s2);

# --- calls on all three nodes
validate($primary, 0, 5);
validate($s1, 0, 7);
validate($s1, 1, 2);
validate($s2, 2, 4);
settled('all three nodes', $primary, $s1, $s2);
# vatoken_stats on a standby: its spool is delivered, nothing lags.
is($s1->safe_psql('postgres',
		'SELECT undelivered_batches, delivery_lag IS NULL, calls_pending, flushes > 0'
		  . ' FROM vatoken_stats() WHERE datname = current_database()'),
	'0|t|0|t', 'vatoken_stats on a standby: no undelivered batch, no lag once delivered');
is($primary->safe_psql('postgres', 'SELECT count(*) FROM vatoken.forward_nodes'),
	'2', 'one node row per standby');
ok($primary->wait_for_log(qr/connection authorized: user=vt_forward database=postgres application_name=vatoken forward/),
	'standby2 delivers as the role of vatoken.forward_conninfo');

# --- 2.0: a standby's refused calls and the client named reach the
# primary with its calls, and its readers see them once meanwhile
my ($sc, $sc_id) = split /\|/, $primary->safe_psql('postgres',
	"SELECT token, token_id FROM vatoken_create('scoped', 's', scopes => '{read}')");
$primary->wait_for_catchup($s1);
is($s1->safe_psql('postgres',
	"SELECT string_agg(v.status, ',' ORDER BY s.n) FROM (VALUES (1, '{read}'::text[]),"
	  . " (2, '{write}'), (3, '{write}')) s(n, x), LATERAL vatoken_verify('$sc', s.x, '192.0.2.9') v"),
	'valid,forbidden_scope,forbidden_scope', 'standby1: one accepted and two refused calls');
$made += 1;
is($s1->safe_psql('postgres',
	"SELECT sum(calls) || '|' || sum(rejected) FROM vatoken_usage_daily('scoped', $sc_id)"),
	'1|2', "standby1's readers see them at once");
ok(poll_until($primary, 'postgres',
	"SELECT sum(calls) || '|' || sum(rejected) || '|' || host(max(last_used_client)) FROM vatoken.usage"
	  . " WHERE token_id = $sc_id", '1|2|192.0.2.9'),
	'they reach the primary with the client named');
ok(poll_until($s1, 'postgres',
	"SELECT host(last_used_client) FROM vatoken_list('scoped')", '192.0.2.9'),
	'and come back to standby1 once');
is($s1->safe_psql('postgres',
	"SELECT sum(calls) || '|' || sum(rejected) FROM vatoken_usage_daily('scoped', $sc_id)"),
	'1|2', "standby1's readers still see them once");

# --- a standby with max_counters = 1 and many tokens: no error, exact
my @many = split /\n/, $primary->safe_psql('postgres',
	"SELECT c.token FROM generate_series(1, 30) g, LATERAL vatoken_create('many', 'm' || g) c");
$primary->wait_for_catchup($s2);
my $ok = $s2->safe_psql('postgres',
	'SELECT count(*) FROM unnest(ARRAY[' . join(',', map { "'$_'" } @many)
	  . ']) t, generate_series(1, 2) g, LATERAL vatoken_validate(t || left(g::text, 0)) v WHERE v.valid');
is($ok, '60', 'max_counters = 1 on a standby: 60 validations of 30 tokens, all valid');
$made += 60;
poll_until($primary, 'postgres', 'SELECT sum(calls) FROM vatoken.usage', $made)
  or diag('many: primary has ' . table_total($primary));
is($primary->safe_psql('postgres',
	"SELECT count(*) FILTER (WHERE u.calls = 2) || '/' || count(*) FROM vatoken.tokens t"
	  . " JOIN vatoken.usage u USING (token_id) WHERE t.owner = 'many'"),
	'30/30', 'every one of the 30 tokens has its 2 calls on the primary');
settled('max_counters = 1', $primary, $s1, $s2);

# --- a lost acknowledgement: each batch is sent again on a new connection
for my $s ($s1, $s2)
{
	$s->safe_psql('postgres', 'ALTER SYSTEM SET vatoken.debug_forward_resend = on');
	$s->reload;
}
my $dups_before = $primary->safe_psql('postgres', 'SELECT sum(duplicates) FROM vatoken.forward_nodes');
validate($s1, 0, 3);
validate($s2, 1, 6);
settled('lost acknowledgement', $primary, $s1, $s2);
cmp_ok($primary->safe_psql('postgres', 'SELECT sum(duplicates) FROM vatoken.forward_nodes'),
	'>=', $dups_before + 2, 'the batches were delivered twice, and added once');
for my $s ($s1, $s2)
{
	$s->safe_psql('postgres', 'ALTER SYSTEM RESET vatoken.debug_forward_resend');
	$s->reload;
}

# --- the primary stopped while the standbys validate; SIGKILL of a standby
# after its spool write; then the primary back
$primary->stop('fast');
validate($s1, 1, 8);
validate($s2, 2, 5);
for (1 .. 300) { last if spooled($s1) > 0 && spooled($s2) > 0; usleep(100_000); }
ok(spooled($s1) > 0 && spooled($s2) > 0, 'primary down: both standbys spool their calls');
# A batch as the standby sends it, for the delivery role's attempts below.
my ($batch_file) = glob($s1->data_dir . '/pgsql_tmp_vatoken/*/*/*.batch');
my $batch = slurp_file($batch_file);
my $replayed = table_total($s1);
is(seen_total($s1), $replayed + 8, 'standby1 reports its spooled calls once');
is(seen_total($s2), $replayed + 5, 'standby2 reports its spooled calls once');
is($s1->safe_psql('postgres',
		'SELECT undelivered_batches = ' . spooled($s1) . ', delivery_lag IS NOT NULL'
		  . ' FROM vatoken_stats() WHERE datname = current_database()'),
	't|t', 'vatoken_stats on a standby: the primary down, its batches are undelivered and lag');

$s1->kill9;
for (1 .. 100)
{
	last if $s1->start(fail_ok => 1);
	$s1->{_pid} = undef;
	usleep(200_000);
}
is(seen_total($s1), $replayed + 8, 'after SIGKILL, standby1 still has its spooled calls');
$s2->restart;
is(seen_total($s2), $replayed + 5, 'after a restart, standby2 still has its spooled calls');

$primary->start;
settled('primary back', $primary, $s1, $s2);

# --- the delivery role sends a recorded batch again, or under other numbers
my $node_uuid = join('-', unpack('H8 H4 H4 H4 H12', substr($batch, 8, 16)));
my $seq = unpack('q<', substr($batch, 24, 8));
my $hex = unpack('H*', $batch);
my ($ret, $out, $err) = $primary->psql('postgres',
	"SELECT vatoken_deliver('$node_uuid', $seq, '\\x$hex')", extra_params => [ '-U', 'vt_forward' ]);
is($out, 'duplicate', 'a recorded batch sent again is a duplicate');
($ret, $out, $err) = $primary->psql('postgres',
	"SELECT vatoken_deliver('$node_uuid', $seq + 1000, '\\x$hex')", extra_params => [ '-U', 'vt_forward' ]);
like($err, qr/does not match its node and sequence number/, 'under another number it is refused');
($ret, $out, $err) = $primary->psql('postgres',
	"SELECT vatoken_deliver(gen_random_uuid(), $seq, '\\x$hex')", extra_params => [ '-U', 'vt_forward' ]);
like($err, qr/does not match its node and sequence number/, 'under another node too');

# A batch with more calls in one count than a server can make in a day (it
# would overflow the day row and stop every later flush of the database) is
# refused, even with its checksum (CRC-32C of the batch with the field 0)
# made right.
sub crc32c
{
	my ($data) = @_;
	my $crc = 0xffffffff;
	for my $byte (unpack('C*', $data))
	{
		$crc ^= $byte;
		$crc = ($crc >> 1) ^ ($crc & 1 ? 0x82f63b78 : 0) for 1 .. 8;
	}
	return $crc ^ 0xffffffff;
}
my $huge = $batch;
substr($huge, 24, 8) = pack('q<', $seq + 2000);
substr($huge, 56 + 16, 8) = pack('q<', (1 << 40) + 1);
substr($huge, 52, 4) = pack('V', 0);
substr($huge, 52, 4) = pack('V', crc32c($huge));
($ret, $out, $err) = $primary->psql('postgres',
	"SELECT vatoken_deliver('$node_uuid', $seq + 2000, '\\x" . unpack('H*', $huge) . "')",
	extra_params => [ '-U', 'vt_forward' ]);
like($err, qr/more calls than one server can make in a day/, 'a count past 2^40 calls is refused');
is(table_total($primary), $made, 'and nothing was added');

# --- a clone of standby1 made with pg_basebackup is a new node
$s1->backup('from_s1');
my $clone = PostgreSQL::Test::Cluster->new('clone');
$clone->init_from_backup($s1, 'from_s1', has_streaming => 1);
ok(!-e $clone->data_dir . '/pgsql_tmp_vatoken',
	'pg_basebackup of a standby copies neither its node id nor its spool');
$clone->append_conf('postgresql.conf',
	"primary_slot_name = ''\nvatoken.forward_conninfo = '" . $primary->connstr . "'");
$clone->start;
$s1->wait_for_catchup($clone, 'replay', $primary->lsn('insert'));
validate($clone, 2, 6);
settled('clone', $primary, $s1, $s2, $clone);
is($primary->safe_psql('postgres', 'SELECT count(*) FROM vatoken.forward_nodes'),
	'3', 'the clone delivered as a node of its own');
isnt(slurp_file($clone->data_dir . '/pgsql_tmp_vatoken/node'),
	slurp_file($s1->data_dir . '/pgsql_tmp_vatoken/node'), 'with a new node id');
$clone->stop;

# --- immediate stop of the primary, which had recorded a batch of standby2
# that no standby received; standby1 promoted, standby2 re-pointed: the batch
# is sent again to the new primary, which never had it
$primary->wait_for_catchup($_) for ($s1, $s2);
for my $s ($s1, $s2)
{
	$s->safe_psql('postgres', "ALTER SYSTEM SET primary_conninfo = ''");
	$s->reload;
}
ok(poll_until($primary, 'postgres', 'SELECT count(*) FROM pg_stat_replication', '0'),
	'both standbys stop streaming');
validate($s2, 2, 4);
ok(poll_until($primary, 'postgres', 'SELECT sum(calls) FROM vatoken.usage', $made),
	'standby2 delivers a batch that no standby will replay');
$primary->stop('immediate');
validate($s1, 0, 4);
validate($s2, 1, 3);
for (1 .. 300) { last if spooled($s1) > 0 && spooled($s2) > 0; usleep(100_000); }
ok(spooled($s1) > 0 && spooled($s2) > 0, 'primary gone: both standbys spool');
$s1->promote;
$s1->safe_psql('postgres', "SELECT pg_create_physical_replication_slot('s2')");
$s2->safe_psql('postgres', "ALTER SYSTEM SET primary_conninfo = '" . $s1->connstr . "'");
$s2->safe_psql('postgres',
	"ALTER SYSTEM SET vatoken.forward_conninfo = '" . $s1->connstr . " user=vt_forward'");
$s2->reload;
validate($s1, 2, 2);
validate($s2, 2, 1);
settled('promotion', $s1, $s2);

# --- the old primary rejoins as a standby of the new one, from a fresh base
# backup: a new node (its spool and node id are not in a base backup), whose
# calls are counted once like any standby's
$s1->backup('rejoin');
my $old = PostgreSQL::Test::Cluster->new('old_primary');
$old->init_from_backup($s1, 'rejoin', has_streaming => 1);
# (standby1's postgresql.auto.conf, copied too, emptied primary_conninfo.)
$old->append_conf('postgresql.auto.conf',
	"primary_conninfo = '" . $s1->connstr . " application_name=old_primary'\n"
	  . "primary_slot_name = ''\n");
$old->start;
$s1->wait_for_catchup($old);
validate($old, 0, 6);
validate($s2, 1, 2);
settled('the old primary rejoined', $s1, $s2, $old);
is($s1->safe_psql('postgres', 'SELECT count(*) FROM vatoken.forward_nodes'),
	'4', 'the rejoined server is a node of its own');
$old->stop;

# --- a database dropped with batches still spooled: its spool goes too
$s1->safe_psql('postgres', 'CREATE DATABASE gone');
$s1->safe_psql('gone', 'CREATE EXTENSION vatoken');
my $gone_tok = $s1->safe_psql('gone', "SELECT token FROM vatoken_create('g', 'g')");
# (A conninfo that cannot work, with a password that must never be logged;
# set in postgresql.conf, as log_statement would log an ALTER SYSTEM.)
$s2->safe_psql('postgres', 'ALTER SYSTEM RESET vatoken.forward_conninfo');
$s2->append_conf('postgresql.conf',
	"vatoken.forward_conninfo = 'host=/nonexistent user=vt_forward password=vt-secret-pw'");
$s2->reload;
$s1->wait_for_catchup($s2);
is($s2->safe_psql('gone', "SELECT valid FROM vatoken_validate('$gone_tok')"), 't',
	'a standby validates in another database');
my $gone_oid = $s2->safe_psql('postgres', "SELECT oid FROM pg_database WHERE datname = 'gone'");
my @gone_spool;
for (1 .. 300)
{
	@gone_spool = glob($s2->data_dir . "/pgsql_tmp_vatoken/*/$gone_oid/*.batch");
	last if @gone_spool;
	usleep(100_000);
}
ok(@gone_spool > 0, 'its call is spooled while the primary cannot be reached');
$s1->safe_psql('postgres', 'DROP DATABASE gone');
$s1->wait_for_catchup($s2);
for (1 .. 300) { last unless glob($s2->data_dir . "/pgsql_tmp_vatoken/*/$gone_oid"); usleep(100_000); }
ok(!glob($s2->data_dir . "/pgsql_tmp_vatoken/*/$gone_oid"),
	'the database dropped, the standby removes its spool');
like(slurp_file($s2->logfile), qr/vatoken could not connect to the primary/,
	'the standby logs that it cannot reach the primary');
# (PostgreSQL itself logs a setting changed at reload, password and all, as
# for primary_conninfo: the README says to keep passwords in a passfile.)
my @leaks = grep { /vt-secret-pw/ && !/parameter "vatoken.forward_conninfo" changed to/ }
  split /\n/, slurp_file($s2->logfile);
is(scalar @leaks, 0, 'vatoken never logs the password of its conninfo') or diag(join("\n", @leaks));
$s2->safe_psql('postgres',
	"ALTER SYSTEM SET vatoken.forward_conninfo = '" . $s1->connstr . " user=vt_forward'");
$s2->reload;

# --- a file-level copy of standby2 shares its node id: refused, not counted twice
$s2->stop;
my $copy = PostgreSQL::Test::Cluster->new('copy');
make_path($copy->basedir);
PostgreSQL::Test::RecursiveCopy::copypath($s2->data_dir, $copy->data_dir);
chmod(0700, $copy->data_dir) or die "chmod: $!";
$copy->append_conf('postgresql.conf', 'port = ' . $copy->port . "\nprimary_slot_name = ''");
$s2->start;
$copy->start;
validate($s2, 0, 5);
validate($copy, 1, 7);
# Whichever delivers second is refused: by the primary when both spooled the
# same batch number (then both are), or by itself when its replay shows a
# number of its node beyond what it spooled.
my $refused = 0;
for (1 .. 1800)
{
	$refused = grep { slurp_file($_->logfile) =~ /vatoken counts of this standby are refused/ } ($s2, $copy);
	last if $refused;
	usleep(100_000);
}
ok($refused, 'a server sharing a node id is refused');
ok(poll_until($s1, 'postgres',
	"SELECT sum(calls) IN ($made - 7, $made - 5) FROM vatoken.usage"),
	'the first calls of one of them are counted');
is(table_total($s1) == $made, '', "never both (made $made, counted " . table_total($s1) . ')');
$copy->stop;

done_testing();
