# Issue 9, items 2, 7 and 8: what the fast path counts, and where.
#
# - A full counter table (vatoken.max_counters = 8) never makes a validation
#   write in the caller's transaction: no error in a READ ONLY or REPEATABLE
#   READ transaction, no count lost by a ROLLBACK, no wait on a row lock
#   held by another session; every call reaches vatoken.usage exactly, and
#   a full table makes the workers flush early (flush_interval '1h').
# - A token id that is reused (TRUNCATE ... RESTART IDENTITY, ALTER
#   SEQUENCE ... RESTART after a delete, DROP/CREATE EXTENSION) never
#   inherits the pending counts of the old token with that id.
# - The day a call counts under does not depend on the session:
#   SET vatoken.timezone is refused (22023) in a session, SET LOCAL and a
#   function's SET clause too; ALTER DATABASE ... SET still works.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VatokenTest;

my $node = PostgreSQL::Test::Cluster->new('counting');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'vatoken'
vatoken.flush_interval = '1h'
vatoken.max_counters = 8
});
$node->start;

# Run $sql in database one; returns (exit code, stdout, stderr).
sub try_sql
{
	my ($db, $sql) = @_;
	my ($out, $err) = ('', '');
	my $rc = $node->psql($db, $sql, stdout => \$out, stderr => \$err,
		on_error_stop => 1, timeout => 60);
	return ($rc, $out, $err);
}

$node->safe_psql('postgres', 'CREATE DATABASE one');
$node->safe_psql('one', 'CREATE EXTENSION vatoken');

# ---------------------------------------------------------------------------
# Item 2: a full counter table (8 counters, 20 tokens)
$node->safe_psql('one', q{
	CREATE TABLE full_tokens AS SELECT c.token_id, c.token FROM generate_series(1, 20) g,
		LATERAL vatoken_create('full', 'f' || g) c;
});
# 20 tokens x 3 calls: needs 20 counters.
my $validate_all = q{
	SELECT count(*) FROM full_tokens, generate_series(1, 3) g,
		LATERAL vatoken_validate(full_tokens.token || left(g::text, 0)) v WHERE v.valid;
};
my $list_total = "SELECT sum(calls_today) FROM vatoken_list('full')";
my $table_total = "SELECT coalesce(sum(calls), 0) FROM vatoken.usage WHERE token_id IN (SELECT token_id FROM full_tokens)";
my $per_token = "SELECT string_agg(token_id || '=' || calls_today, ',') FROM vatoken_list('full')";

# Each stage validates 20 x 3 times and checks that exactly 3 more calls of
# every token are counted, so that a failing stage does not fail the next.
sub per_token
{
	return { map { split /=/ } split /,/, $node->safe_psql('one', $per_token) };
}
my $counted = per_token();
sub stage
{
	my ($sql, $what) = @_;
	my ($rc, $out, $err) = try_sql('one', $sql);
	is("$rc|$out|$err", '0|60|', "full table: no error, no wait: $what");
	my $now = per_token();
	my @wrong = grep { $now->{$_} - $counted->{$_} != 3 } sort { $a <=> $b } keys %$now;
	is(join(' ', map { "$_:+" . ($now->{$_} - $counted->{$_}) } @wrong), '',
		"full table: every token counted 3 more times: $what");
	$counted = $now;
}

sub total { my $t = 0; $t += $_ for values %{ $_[0] }; return $t; }

# Wait until vatoken.usage holds every call counted so far.
sub flushed
{
	my ($what) = @_;
	ok(poll_until($node, 'one', "SELECT ($table_total) = ($list_total)", 't', 60), $what)
	  or diag('vatoken.usage holds ' . $node->safe_psql('one', $table_total)
		  . ', vatoken_list says ' . $node->safe_psql('one', $list_total));
}

stage("BEGIN READ ONLY; $validate_all COMMIT;", 'inside BEGIN READ ONLY');
stage("BEGIN; $validate_all ROLLBACK;", 'in a transaction that rolls back');
stage("BEGIN ISOLATION LEVEL REPEATABLE READ; $validate_all COMMIT;", 'inside REPEATABLE READ');

# Make usage rows exist (a first flush), then lock them from another session.
set_flush_interval($node, '100ms');
flushed('a flush writes every call counted so far');
set_flush_interval($node, '1h');

my $locker = $node->background_psql('one');
$locker->query_safe(
	'BEGIN; SELECT count(*) FROM (SELECT FROM vatoken.usage WHERE token_id IN (SELECT token_id FROM full_tokens) FOR UPDATE) l;');
my $t0 = time;
stage("SET lock_timeout = '3s'; $validate_all", 'while another session locks the usage rows');
cmp_ok(time - $t0, '<', 3, 'the validations did not wait for the lock');
$locker->query_safe('ROLLBACK');
$locker->quit;

set_flush_interval($node, '100ms');
flushed('with flush_interval 100ms the table reaches the exact total');
is($node->safe_psql('one', $list_total), total($counted), 'no call counted twice');

# With a long interval, an overflowing table makes the workers flush early.
set_flush_interval($node, '1h');
stage($validate_all, 'flush_interval 1h');
flushed('an overflowing table is flushed early: the table reaches the total within 60 s');
is($node->safe_psql('one', $list_total), total($counted), 'no call counted twice');

# ---------------------------------------------------------------------------
# Item 7: a reused token id never inherits pending counts.
#
# In a new database: token 1 gets 3 pending calls (interval 1h), $reset runs,
# a new token gets id 1 again.  It must show 0 calls; once used twice, 2, and
# after a flush (made visible by a marker token) the table has its 2 only.
sub identity_case
{
	my ($db, $reset, $what) = @_;

	set_flush_interval($node, '1h');
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, 'CREATE EXTENSION vatoken');
	my $old = $node->safe_psql($db, "SELECT token FROM vatoken_create('o', 'old')");
	is($node->safe_psql($db,
		"SELECT count(*) FROM generate_series(1, 3) g, LATERAL vatoken_validate('$old' || left(g::text, 0)) v WHERE v.valid"),
		'3', "$what: three calls of token 1 pending");
	$node->safe_psql($db, $reset);
	my ($new_id, $new_token) = split /\|/, $node->safe_psql($db,
		"SELECT token_id, token FROM vatoken_create('o', 'new')");
	is($new_id, '1', "$what: the new token reuses id 1");
	is($node->safe_psql($db, "SELECT calls_today FROM vatoken_usage('o', 1)"),
		'0', "$what: vatoken_usage shows 0 calls for the new token 1");
	is($node->safe_psql($db, "SELECT calls_today FROM vatoken_list('o') WHERE token_id = 1"),
		'0', "$what: vatoken_list shows 0 calls for the new token 1");

	# The new token 1 is used too: the same flush then holds calls of two
	# tokens with id 1, and must write only the new one's.
	my $marker = $node->safe_psql($db, "SELECT token FROM vatoken_create('o', 'marker')");
	$node->safe_psql($db, "SELECT valid FROM vatoken_validate('$marker')");
	$node->safe_psql($db, "SELECT valid FROM vatoken_validate('$new_token')") for 1 .. 2;
	is($node->safe_psql($db, "SELECT calls_today FROM vatoken_usage('o', 1)"),
		'2', "$what: the new token 1 counts its own two calls only");
	set_flush_interval($node, '100ms');
	ok(poll_until($node, $db, 'SELECT coalesce(sum(calls), 0) FROM vatoken.usage WHERE token_id = 2', '1', 60),
		"$what: a flush writes the marker's call");
	is($node->safe_psql($db, 'SELECT coalesce(sum(calls), 0) FROM vatoken.usage WHERE token_id = 1'),
		'2', "$what: after the flush, vatoken.usage has only the new token 1's calls");
	is($node->safe_psql($db, "SELECT calls_today FROM vatoken_usage('o', 1)"),
		'2', "$what: and vatoken_usage still shows 2");
}

identity_case('idtrunc', 'TRUNCATE vatoken.tokens, vatoken.usage, vatoken.rate_windows RESTART IDENTITY',
	'TRUNCATE RESTART IDENTITY');
identity_case('idseq', "SELECT vatoken_delete('o', 1); ALTER SEQUENCE vatoken.tokens_token_id_seq RESTART",
	'delete + ALTER SEQUENCE RESTART');
identity_case('idext', 'DROP EXTENSION vatoken; CREATE EXTENSION vatoken',
	'DROP/CREATE EXTENSION');

# ---------------------------------------------------------------------------
# Item 8: vatoken.timezone cannot be changed by a session.
sub refused
{
	my ($sql, $what) = @_;
	my ($rc, $out, $err) = try_sql('one', "\\set VERBOSITY verbose\n$sql");
	ok($rc != 0 && $err =~ /ERROR:  22023:/, "$what is refused with 22023")
	  or diag("exit $rc, stdout '$out', stderr '$err'");
}

refused("SET vatoken.timezone = 'Pacific/Kiritimati';", 'SET vatoken.timezone (superuser)');
refused("BEGIN; SET LOCAL vatoken.timezone = 'Pacific/Kiritimati'; COMMIT;",
	'SET LOCAL vatoken.timezone');
refused(q{
	CREATE FUNCTION kiritimati_day() RETURNS text LANGUAGE sql
		SET vatoken.timezone = 'Pacific/Kiritimati' AS $$ SELECT current_setting('vatoken.timezone') $$;
	SELECT kiritimati_day();
}, "a function's SET vatoken.timezone clause");
$node->safe_psql('postgres', "ALTER DATABASE one SET vatoken.timezone = 'Pacific/Kiritimati'");
is($node->safe_psql('one', 'SHOW vatoken.timezone'), 'Pacific/Kiritimati',
	'ALTER DATABASE SET vatoken.timezone applies to new sessions');
$node->safe_psql('postgres', 'ALTER DATABASE one RESET vatoken.timezone');
is($node->safe_psql('one', 'SHOW vatoken.timezone'), 'UTC', 'and RESET too');

$node->stop;
done_testing();
