#!/usr/bin/env bash
# Fetch the CC0 country database @ip-location-db/geo-whois-asn-country-mmdb
# (data by NRO, licensed CC0) from the npm registry, check it, install it
# atomically as DIR/geo-whois-asn-country.mmdb and print that path.
#
#   fetch-country-db.sh [--max-age DURATION] [--package FILE.tgz] [DIR]
#
# DIR defaults to /var/cache/mxshield. A copy already there is printed
# again only while it is fresh: `mxshield geo check --max-age` (a valid
# MaxMind DB with country data, built no longer ago than DURATION, default
# 30d); a stale or damaged copy is fetched anew. What is fetched is checked
# the same way before it replaces anything: a stale or invalid download
# exits 1 and leaves the installed copy as it was. --package installs from
# an npm tarball fetched elsewhere (a mail host without npm).
# MXSHIELD names the controller (default: the repository's ./mxshield when
# run from a checkout, else mxshield in PATH).
set -euo pipefail
pkg=@ip-location-db/geo-whois-asn-country-mmdb
max_age=30d tgz= dir=
while [ $# -gt 0 ]; do
	case $1 in
	--max-age) max_age=${2:?--max-age needs a duration}; shift 2 ;;
	--package) tgz=${2:?--package needs a file}; shift 2 ;;
	-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
	-*) echo "fetch-country-db: unknown option $1" >&2; exit 2 ;;
	*) dir=$1; shift ;;
	esac
done
dir=${dir:-/var/cache/mxshield}
here=$(dirname "$0")/..
if [ -n "${MXSHIELD:-}" ]; then mx=$MXSHIELD
elif [ -x "$here/mxshield" ] && [ -f "$here/userspace/cmd/main.c" ]; then mx=$here/mxshield
else mx=mxshield; fi
out=$dir/geo-whois-asn-country.mmdb
say() { echo "fetch-country-db: $*" >&2; }
# the error line of `geo check`, without its "mxshield: "
reason() { grep -m1 "^mxshield: " <<<"$1" | sed "s/^mxshield: //" || tail -1 <<<"$1"; }

mkdir -p "$dir"
if [ -e "$out" ]; then
	if why=$("$mx" geo check --max-age "$max_age" "$out" 2>&1); then
		echo "$out"
		exit 0
	fi
	say "the cached copy is not used: $(reason "$why")"
fi

tmp=$(mktemp -d "$dir/fetch.XXXXXX")	# in DIR: the rename below is atomic
trap 'rm -rf "$tmp"' EXIT
if [ -n "$tgz" ]; then
	cp "$tgz" "$tmp/pkg.tgz" || { say "$tgz: cannot read it"; exit 1; }
else
	(cd "$tmp" && npm pack --silent "$pkg" >/dev/null 2>&1) || { say "npm pack $pkg failed"; exit 1; }
fi
tar -xzf "$tmp"/*.tgz -C "$tmp" || { say "not a package tarball"; exit 1; }
db=$(find "$tmp/package" -name '*.mmdb' 2>/dev/null | grep -v -e ipv4 -e ipv6 | head -1 || true)
[ -n "$db" ] || db=$(find "$tmp/package" -name '*.mmdb' 2>/dev/null | head -1 || true)
[ -n "$db" ] || { say "no .mmdb in the package"; exit 1; }
if ! why=$("$mx" geo check --max-age "$max_age" "$db" 2>&1); then
	say "the fetched database is refused, nothing installed: $(reason "$why")"
	exit 1
fi
mv "$db" "$tmp/new.mmdb"
mv -f "$tmp/new.mmdb" "$out"
echo "$out"
