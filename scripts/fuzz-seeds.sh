#!/usr/bin/env bash
# Seed inputs for the fuzz targets that are build products rather than
# committed files (docs/fuzzing.md):
#   snapshot, journal  real block.list / block.journal files, written by the
#                      built ./mxshield in a temporary state directory (so
#                      they are always in the current on-disk format)
#   geo                small .mmdb databases from scripts/make-test-mmdb.pl
#                      (both schemas, IPv4 and IPv6 networks)
# Usage: scripts/fuzz-seeds.sh OUTDIR   (writes OUTDIR/TARGET/seed-*)
# mxshield loads its BPF program to change a list: that happens in a private
# mount and network namespace (unshare), on a bpffs mounted there, so no pin
# and no program outlives the script. Without root the store seeds are
# skipped with a warning (the targets still run on their committed corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: $0 OUTDIR}
mkdir -p "$out/snapshot" "$out/journal" "$out/geo"
tmp=$(mktemp -d /tmp/mxs-fuzzseed.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# --- geo
db_spec='198.51.100.0/24 CN
198.51.100.128/25 HK
203.0.113.0/25 DE
192.0.2.64/26 us
2001:db8:c0::/48 CN
2001:db8:de::/48 DE'
for schema in geoip2 country_code; do
	printf '%s\n' "$db_spec" | scripts/make-test-mmdb.pl --schema $schema \
		"$out/geo/seed-$schema.mmdb" 2>/dev/null
done
printf '192.0.2.0/24 FR\n' | scripts/make-test-mmdb.pl "$out/geo/seed-one.mmdb" 2>/dev/null

# --- snapshot, journal
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
	echo "fuzz-seeds: not root: no snapshot/journal seeds from mxshield" >&2
	exit 0
fi
cat > "$tmp/import.csv" <<'LIST'
# a CSV import: address, action, expiry, comment
192.0.2.0/24,reject,7d,documentation net
198.51.100.7
203.0.113.128/25,spam,,comment, with a comma
2001:db8::/32,quarantine,12h,v6
2001:db8:1::1
LIST
unshare --mount --net bash -euc '
	tmp=$1 out=$2
	mkdir -p "$tmp/bpffs" "$tmp/state"
	mount -t bpf bpf "$tmp/bpffs"
	mx() { ./mxshield --state-dir "$tmp/state" --bpffs-dir "$tmp/bpffs" "$@" >/dev/null; }
	mx block import "$tmp/import.csv"
	cp "$tmp/state/block.list" "$out/snapshot/seed-import"
	mx block add 192.0.2.128/25 --action quarantine --expires 1h --comment "journal line"
	mx block add 2001:db8:2::/48 --comment "x"
	mx block del 198.51.100.7
	mx block add 198.51.100.7/32 --action spam
	mx block add ::ffff:192.0.2.1
	cp "$tmp/state/block.journal" "$out/journal/seed-adds"
	mx block flush
	[ -e "$tmp/state/block.list" ] && cp "$tmp/state/block.list" "$out/snapshot/seed-empty"
	mx block add 203.0.113.5
	cp "$tmp/state/block.journal" "$out/journal/seed-one"
	mx trust add 192.0.2.1 --comment trusted
	mx trust add 2001:db8::/64
	mx trust import "$tmp/import.csv" --skip-invalid 2>/dev/null || true
	[ -e "$tmp/state/trust.list" ] && cp "$tmp/state/trust.list" "$out/snapshot/seed-trust"
	mx unload 2>/dev/null || true
' fuzz-seeds "$tmp" "$out"
ls "$out"/snapshot "$out"/journal >/dev/null
