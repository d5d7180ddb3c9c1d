# VatokenTest.pm: helpers that the TAP tests in test/t share.
package VatokenTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Utils;

our @EXPORT = qw(poll_until set_flush_interval);

# Wait at most $seconds until $query in $db returns $expected (default 't');
# true if it did.
sub poll_until
{
	my ($node, $db, $query, $expected, $seconds) = @_;
	local $PostgreSQL::Test::Utils::timeout_default = $seconds // $PostgreSQL::Test::Utils::timeout_default;
	return $node->poll_query_until($db, $query, $expected // 't');
}

# Set vatoken.flush_interval and wait until the server has reloaded it.
sub set_flush_interval
{
	my ($node, $value) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET vatoken.flush_interval = '$value'");
	$node->reload;
	poll_until($node, 'postgres', 'SHOW vatoken.flush_interval', $value, 30)
	  or die "flush_interval not reloaded";
}

1;
