#!/usr/bin/perl
# Write a small MaxMind-format country database from a text spec, for tests
# and the demo. Uses Debian's libmaxmind-db-writer-perl.
#
#   scripts/make-test-mmdb.pl [--schema geoip2|country_code] [--build-epoch SECS] OUT.mmdb < spec
#
# --build-epoch: the metadata's build date (default now), e.g. an old one
# for the freshness checks of status and fetch-country-db.sh.
#
# spec: one "CIDR CC" per line (IPv4 or IPv6), '#' comments.
# geoip2 schema:       { country => { iso_code => CC, names => { en => CC } } }
# country_code schema: { country_code => CC }   (as the ip-location-db files)
use strict;
use warnings;
use Getopt::Long;
use MaxMind::DB::Writer::Tree;

my $schema = 'geoip2';
my $epoch;
GetOptions('schema=s' => \$schema, 'build-epoch=i' => \$epoch) or die "usage: $0 [--schema geoip2|country_code] OUT.mmdb < spec\n";
die "usage: $0 [--schema geoip2|country_code] OUT.mmdb < spec\n" unless @ARGV == 1;
die "unknown schema '$schema'\n" unless $schema eq 'geoip2' || $schema eq 'country_code';
my $out = $ARGV[0];

my %types = (
	country      => 'map',
	iso_code     => 'utf8_string',
	names        => 'map',
	en           => 'utf8_string',
	country_code => 'utf8_string',
);
my $tree = MaxMind::DB::Writer::Tree->new(
	ip_version            => 6,
	record_size           => 24,
	database_type         => $schema eq 'geoip2' ? 'GeoIP2-Country' : 'geo-whois-asn-country',
	languages             => ['en'],
	description           => { en => 'mxshield test database' },
	map_key_type_callback => sub { $types{ $_[0] } },
	# documentation ranges are "reserved": tests need exactly those
	remove_reserved_networks => 0,
	# ::ffff:0:0/96 and 2002::/16 lead to the IPv4 tree, as in real files
	alias_ipv6_to_ipv4    => 1,
);

$tree->_set_build_epoch($epoch) if defined $epoch;

my $n = 0;
while (my $line = <STDIN>) {
	$line =~ s/#.*//;
	next unless $line =~ /\S/;
	my ($cidr, $cc) = split ' ', $line;
	die "line $.: expected 'CIDR CC'\n" unless defined $cc && $cc =~ /^[A-Za-z]{2}$/;
	$cc = uc $cc;
	my $data = $schema eq 'geoip2'
		? { country => { iso_code => $cc, names => { en => $cc } } }
		: { country_code => $cc };
	$tree->insert_network($cidr, $data);
	$n++;
}
open my $fh, '>:raw', "$out.tmp.$$" or die "$out: $!\n";
$tree->write_tree($fh);
close $fh or die "$out: $!\n";
rename "$out.tmp.$$", $out or die "$out: $!\n";
print STDERR "wrote $out: $n networks, schema $schema\n";
