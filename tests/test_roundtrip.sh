#!/usr/bin/env bash
# Export and import round-trip: `OBJECT list --format import` prints what
# `OBJECT import` reads back, so `list | import --replace` on another host
# reproduces every list exactly -- IP lists (actions, expiries as UTC
# times, comments with commas and quotes), partners, country policies, and
# the envelope lists (each list and pattern type). Host A is the lab's
# filter; host B a second state directory and bpffs in the same namespace.
source "$(dirname "$0")/lib.sh"

lab_up 198.51.100.7 || { not_ok "lab setup"; exit 1; }
bpffs_b=$work/bpffs-b
mkdir -p "$bpffs_b" && mount -t bpf bpf "$bpffs_b" || { not_ok "second bpffs"; exit 1; }
rt_cleanup() {
	ip netns exec "$MAIL" "$MXS" --state-dir "$work/state-b" --bpffs-dir "$bpffs_b" unload \
		>/dev/null 2>&1
	umount "$bpffs_b" 2>/dev/null
	lab_cleanup
}
trap rt_cleanup EXIT
mxb() { ip netns exec "$MAIL" "$MXS" --state-dir "$work/state-b" --bpffs-dir "$bpffs_b" "$@"; }

# --- host A's lists --------------------------------------------------------
set -e
mx attach mx0 --mode generic >/dev/null
mx block add 192.0.2.0/24 --action reject --expires 7d --comment 'night, and "day"' >/dev/null
mx block add 198.51.100.128/25 --expires 2031-05-01T12:00:00Z >/dev/null
mx block add 2001:db8:dead::/48 --action quarantine --comment 'ünïcode ✓' >/dev/null
mx block add 203.0.113.77 --action spam >/dev/null
mx trust add 192.0.2.200 --expires 12h --comment 'ops laptop' >/dev/null
mx trust add 2001:db8:1::/64 >/dev/null
mx gateway add 203.0.113.0/28 --comment 'scanner, eu-1' >/dev/null
mx partner add acme --ip 198.51.100.32/27,2001:db8:ac::/48 --domain acme.example,acme.test \
	--lock-domain --tls require --cert-name '*.mx.acme.example' --skip spam >/dev/null
mx partner add globex --ip 203.0.113.96/28 >/dev/null
mx country add RU --action drop >/dev/null
mx country add BR --action spam >/dev/null
mx sender add ceo@example.com --list allow --comment 'the boss' >/dev/null
mx sender add spam@bad.example --list block --action quarantine --expires 2d >/dev/null
mx domain add partner.example --list trust >/dev/null
mx tld add zip --action spam >/dev/null
mx recipient add honeypot@example.org >/dev/null
mx pattern add 'cheap pills' --comment 'a, b' >/dev/null
mx pattern add '^[a-z]{2,5}[0-9]+@' --type regex --action spam >/dev/null
set +e

# --- export from A, import into B, export from B --------------------------
# ROW: OBJECT [LIST OPTIONS...]: the same selection exported and imported
rows=(
	"block" "trust" "gateway" "partner" "country"
	"sender --list allow" "sender --list block" "domain --list trust" "tld --list block"
	"recipient --list block" "pattern --list block --type text"
	"pattern --list block --type regex"
)
for row in "${rows[@]}"; do
	read -r obj sel <<<"$row"
	# shellcheck disable=SC2086
	mx $obj list --format import $sel >"$work/a.txt" 2>"$work/err" ||
		{ not_ok "$row: export from A" "$(cat "$work/err")"; continue; }
	n=$(grep -vc '^#' "$work/a.txt")
	[ "$n" -gt 0 ] || { not_ok "$row: export from A has entries"; continue; }
	# shellcheck disable=SC2086
	mxb $obj import - --replace $sel <"$work/a.txt" >/dev/null 2>"$work/err" ||
		{ not_ok "$row: import into B" "$(cat "$work/err")"; continue; }
	# shellcheck disable=SC2086
	mxb $obj list --format import $sel >"$work/b.txt"
	if cmp -s "$work/a.txt" "$work/b.txt"; then
		ok "$row: $n entries exported, imported elsewhere, exported again: identical"
	else
		not_ok "$row: round trip" "$(diff "$work/a.txt" "$work/b.txt" | head -5 | tr '\n' '|')"
	fi
done

# the JSON lists agree too, field by field (but hit counters and when an
# entry was added, which belong to a host)
for obj in block trust gateway; do
	a=$(mx --json $obj list | jq -S 'map(del(.hits, .last_hit, .added))')
	b=$(mxb --json $obj list | jq -S 'map(del(.hits, .last_hit, .added))')
	check_eq "$obj: the JSON lists of A and B agree" "$a" "$b"
done
a=$(mx --json partner list | jq -S .)
b=$(mxb --json partner list | jq -S .)
check_eq "partner: the JSON lists agree (ids included)" "$a" "$b"
for obj in sender domain tld recipient pattern; do
	a=$(mx --json $obj list | jq -S .)
	b=$(mxb --json $obj list | jq -S .)
	check_eq "$obj: the JSON lists agree" "$a" "$b"
done

# B filters like A: the same verdicts (loaded by the imports)
for ip in 192.0.2.9 198.51.100.130 203.0.113.77 192.0.2.200 203.0.113.5 198.51.100.40; do
	a=$(mx --json lookup "$ip" | jq -c '{verdict, reason}')
	b=$(mxb --json lookup "$ip" | jq -c '{verdict, reason}')
	check_eq "lookup $ip: the same verdict on A and B ($a)" "$a" "$b"
done

# an export that spans several lists or pattern types says which to pick
mx sender list --format import >/dev/null 2>&1
check_eq "an export of entries on several lists without --list: usage error" 2 $?
mx pattern list --format import --list block >/dev/null 2>&1
check_eq "an export of text and regex patterns without --type: usage error" 2 $?
lab_finish
