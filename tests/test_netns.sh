#!/usr/bin/env bash
# Namespace integration test: native XDP on a veth of the mail host, real TCP
# connections from several IPv4 and IPv6 sources in another namespace.
source "$(dirname "$0")/lib.sh"

BLOCKED=203.0.113.20 BLOCKED6=2001:db8:1::20
TRUSTED=203.0.113.40 PARTNER=203.0.113.50 NET_BLOCKED=203.0.113.55
SPAM=203.0.113.60 UNLISTED=203.0.113.70 EXPIRING=203.0.113.80 GATEWAY=203.0.113.90
UNLISTED6=2001:db8:1::70

lab_up $BLOCKED $TRUSTED $PARTNER $NET_BLOCKED $SPAM $UNLISTED $EXPIRING $GATEWAY \
	$BLOCKED6 $UNLISTED6 || { not_ok "lab setup"; exit 1; }

# --- before the filter: everyone connects
check "before attach: $BLOCKED connects" can_connect $BLOCKED 25
check "before attach: $BLOCKED6 connects" can_connect $BLOCKED6 25

# --- lists, then attach (native)
mx block add $BLOCKED --comment "test: single host" >/dev/null
mx block add $BLOCKED6 >/dev/null
mx block add 203.0.113.32/27 >/dev/null          # covers .40, .50, .55
mx trust add $TRUSTED >/dev/null
mx partner add p1 --ip $PARTNER --domain p1.example >/dev/null
mx block add $SPAM --action spam >/dev/null
check "attach native" mx attach mx0 --mode native
check "ip link shows native (not generic) XDP on mx0" bash -c "ip -n $MAIL link show mx0 | grep -q 'mtu [0-9]* xdp '"
check_fails "attach to a missing interface fails" mx attach nosuch0

check "blocked IPv4 source can't reach port 25" cannot_connect $BLOCKED 25
check "blocked IPv4 source can't reach port 587" cannot_connect $BLOCKED 587
check "blocked source still reaches non-SMTP port 8080" can_connect $BLOCKED 8080
check "blocked IPv6 source can't reach port 25" cannot_connect $BLOCKED6 25
check "blocked IPv6 source reaches port 8080" can_connect $BLOCKED6 8080
check "CIDR-blocked source can't connect" cannot_connect $NET_BLOCKED 25
check "trusted source inside a blocked CIDR connects" can_connect $TRUSTED 25
check "partner inside a blocked CIDR connects" can_connect $PARTNER 25
check "spam-tagged source connects (tags pass)" can_connect $SPAM 25
check "unlisted IPv4 source connects" can_connect $UNLISTED 25
check "unlisted IPv6 source connects" can_connect $UNLISTED6 587
check_eq "tag map records the spam-tagged source" "spam block" \
	"$(mx --json tags list | jq -r --arg s $SPAM '.[] | select(.source == $s) | "\(.action) \(.list)"')"
check_eq "tag map holds no drop in enforce mode" "" \
	"$(mx --json tags list | jq -r --arg s $BLOCKED '.[] | select(.source == $s) | .action')"
hits=$(mx --json block list | jq -r --arg p "$BLOCKED/32" '.[] | select(.prefix == $p) | .hits')
check "hit counter of the blocked entry counts its SYNs" test "${hits:-0}" -ge 1
check_eq "lookup agrees: blocked source drops" "drop block drop" \
	"$(mx --json lookup $BLOCKED | jq -r '"\(.verdict) \(.reason) \(.nic)"')"

# --- bad input changes nothing
before=$(mx --json block list | jq length)
check_fails "host bits set is refused" mx block add 203.0.113.21/24
msg=$(mx block add 203.0.113.21/24 2>&1)
check "the error names the network" grep -q "203.0.113.0/24" <<<"$msg"
check_fails "bad duration is refused" mx block add 203.0.113.99 --expires 5
check_fails "bad action is refused" mx block add 203.0.113.99 --action burn
check_eq "nothing half-applied" "$before" "$(mx --json block list | jq length)"

# --- monitor mode: pass everything, count what would drop
drops_before=$(stat_packets block drop)
xdp_drop_before=$(xdp_packets drop)
check "mode monitor" mx mode monitor
check "monitor: blocked source connects" can_connect $BLOCKED 25
drops_after=$(stat_packets block drop)
check "monitor: block/drop verdicts still counted" test "$drops_after" -gt "$drops_before"
check_eq "monitor: nothing dropped at the NIC" "$xdp_drop_before" "$(xdp_packets drop)"
check_eq "monitor: would-be drop recorded as a tag" "drop" \
	"$(mx --json tags list | jq -r --arg s $BLOCKED '.[] | select(.source == $s) | .action')"
check "mode enforce" mx mode enforce
check "enforce again: blocked source can't connect" cannot_connect $BLOCKED 25

# --- expiry works in the kernel, with no controller running
mx block add $EXPIRING --expires 3s >/dev/null
check "entry with --expires 3s blocks" cannot_connect $EXPIRING 25
sleep 3.5
check "after expiry the source connects (no controller ran)" can_connect $EXPIRING 25
listing=$(mx block list)
check "a list shows the expired entry as expired (reads never sweep)" \
	grep -q "^$EXPIRING/32 .*expired " <<<"$listing"
check "sweep" mx sweep
check_eq "the controller sweeps the expired entry" "" \
	"$(mx --json block list | jq -r --arg p "$EXPIRING/32" '.[] | select(.prefix == $p) | .prefix')"

# --- the filter outlives every controller process; nsenter works as well
check_eq "a new controller process sees the attachment" "true" \
	"$(mx --json status | jq -r '.interfaces[] | select(.name == "mx0") | .attached')"
check_eq "nsenter --net keeps /sys and works too" "true" \
	"$(mx_nsenter --json status | jq -r '.loaded')"
check "still blocking after the controllers exited" cannot_connect $BLOCKED 25

# --- gateway-only: only trust, partner and gateway sources get in
mx gateway add $GATEWAY --comment "mail security gateway" >/dev/null
check "gateway-only on" mx gateway-only on
check "gateway-only: unlisted source can't connect" cannot_connect $UNLISTED 25
check "gateway-only: gateway connects" can_connect $GATEWAY 25
check "gateway-only: trusted source connects" can_connect $TRUSTED 25
check "gateway-only: partner connects" can_connect $PARTNER 25
check "gateway-only: non-SMTP untouched" can_connect $UNLISTED 8080
check "gateway-only off" mx gateway-only off
check "gateway-only off: unlisted connects again" can_connect $UNLISTED 25

# --- detach removes it cleanly
check "detach" mx detach mx0
check_fails "ip link shows no XDP after detach" bash -c "ip -n $MAIL -d link show mx0 | grep -q 'xdp id'"
check "after detach: blocked source connects" can_connect $BLOCKED 25

# --- a reboot: pins gone, state kept; restore brings back every list
check "attach again" mx attach mx0
check "unload (pins removed)" mx unload
check_fails "unload detached mx0" bash -c "ip -n $MAIL link show mx0 | grep -q 'mtu [0-9]* xdp '"
check_fails "no map pins left" test -e "$bpffs/c_dir"
check "restore after 'reboot' re-attaches recorded interfaces" mx restore
check "restore attached mx0 natively" bash -c "ip -n $MAIL link show mx0 | grep -q 'mtu [0-9]* xdp '"
check "restored: blocked IPv4 source can't connect" cannot_connect $BLOCKED 25
check "restored: blocked IPv6 source can't connect" cannot_connect $BLOCKED6 25
check "restored: partner connects" can_connect $PARTNER 25
check "restored: trusted connects" can_connect $TRUSTED 25
check_eq "restored: block list entries" "4" "$(mx --json block list | jq length)"

# --- concurrent invocations never lose an update
adders=()
for i in $(seq 1 20); do mx block add 198.51.100.$i >/dev/null & adders+=($!); done
wait "${adders[@]}"
check_eq "20 concurrent adds all landed" "24" "$(mx --json block list | jq length)"

# --- bulk import: file:line errors and nothing applied, --skip-invalid,
# CSV columns, gzip, standard input, --replace
imp=$work/import.txt
printf '# bulk list\n198.51.100.100\n198.51.100.101/32\n198.51.100.300\n\n198.51.100.128/25\n' >"$imp"
check_fails "import with an invalid line fails" mx block import "$imp"
msg=$(mx block import "$imp" 2>&1)
check "... naming file:line" grep -q "import.txt:4: " <<<"$msg"
check_eq "... and nothing was imported" "24" "$(mx --json block list | jq length)"
check "import --skip-invalid" mx block import "$imp" --skip-invalid
check_eq "... the valid lines are in" "27" "$(mx --json block list | jq length)"
printf '%s,spam,1h,csv entry, with a comma\n2001:db8:1::70,quarantine\n' $UNLISTED >"$work/imp.csv"
check "CSV import (action, expiry, comment columns)" mx block import "$work/imp.csv"
check_eq "... action column" "spam" \
	"$(mx --json block list | jq -r ".[] | select(.prefix == \"$UNLISTED/32\") | .action")"
check_eq "... comment column keeps its comma" "csv entry, with a comma" \
	"$(mx --json block list | jq -r ".[] | select(.prefix == \"$UNLISTED/32\") | .comment")"
check "... expiry column" test "$(mx --json block list | jq ".[] | select(.prefix == \"$UNLISTED/32\") | .expires")" -gt "$(date +%s)"
check_eq "... imported tag verdict in lookup" "spam" "$(mx --json lookup $UNLISTED | jq -r .verdict)"
check_fails "CSV action for trust entries refused" mx trust import "$work/imp.csv"
printf '%s\n' $UNLISTED $UNLISTED6 | gzip -c >"$work/imp.gz"
check "gzip from standard input, --replace" mx block import - --replace <"$work/imp.gz"
check_eq "... the list is exactly the file" "2" "$(mx --json block list | jq length)"
check "... replaced entries drop at the NIC" cannot_connect $UNLISTED 25
check "... and IPv6" cannot_connect $UNLISTED6 25
check "... removed entries connect again" can_connect $BLOCKED 25
check_eq "... the summary counts of a second replace" '{"added":0,"updated":2,"removed":0}' \
	"$(mx --json block import - --replace <"$work/imp.gz" | jq -c '{added, updated, removed}')"

# --- a large list: single adds and dels patch the live build in place (a
# journal line each), a restart replays the journal. The bulk entries are
# list entries only (shared address space 100.64.0.0/10), never traffic.
big=$work/big.txt
awk 'BEGIN { for (i = 0; i < 20000; i++)
	printf "100.%d.%d.%s\n", 64 + int(i / 4096), int(i / 16) % 256, (i % 2 ? (i % 16) "" : "0/24") }' |
	sort -u >"$big"
nbig=$(wc -l <"$big")
check "import $nbig prefixes --replace" mx block import "$big" --replace
check_eq "... a full build: no patches yet" "0" "$(mx --json status | jq .patches_ipv4)"
check_fails "... and no journal" test -e "$work/state/block.journal"
check "single add" mx block add $BLOCKED
check "... drops at the NIC" cannot_connect $BLOCKED 25
check_eq "... patched in place" "1" "$(mx --json status | jq .patches_ipv4)"
check_eq "... one journal line (and the journal's header)" "2" \
	"$(wc -l <"$work/state/block.journal")"
check "single del" mx block del $BLOCKED
check "... connects again" can_connect $BLOCKED 25
check_eq "... patched in place" "2" "$(mx --json status | jq .patches_ipv4)"
check "... a deletion line, with its CRC" \
	grep -qE "^[0-9a-f]{8} [0-9]+ - $BLOCKED/32\$" "$work/state/block.journal"
check "add a /12 over all of them" mx block add 100.64.0.0/12 --action spam
check_eq "... more than the spare room holds: a full build instead" "0" \
	"$(mx --json status | jq .patches_ipv4)"
check_eq "... decides for its addresses" "spam" "$(mx --json lookup 100.70.1.1 | jq -r .verdict)"
check_eq "... not for the longer entries inside it" "drop" \
	"$(mx --json lookup 100.64.0.1 | jq -r .verdict)"
check "unload and restore (the journal is replayed)" bash -c "$(declare -f mx); MAIL=$MAIL \
	MXS=$MXS work=$work bpffs=$bpffs; mx unload && mx restore"
check_eq "restored: every entry" "$((nbig + 1))" "$(mx --json block list | jq length)"
check "restored: the deleted entry connects" can_connect $BLOCKED 25
check_eq "restored: the /12" "spam" "$(mx --json lookup 100.70.1.1 | jq -r .verdict)"

# --- an upgrade that changed the compiled classifier's layout: pinned maps
# of "another version" (a c_node whose inner maps hold 24-byte nodes) are
# refused by list commands, and `restore` makes new maps for the running
# filter and switches the program over its pinned link, no detach
check "a blocked source, before the upgrade" bash -c "$(declare -f mx); MAIL=$MAIL \
	MXS=$MXS work=$work bpffs=$bpffs; mx block add $BLOCKED >/dev/null"
check "... drops" cannot_connect $BLOCKED 25
hits_of() { mx --json block list | jq -r --arg p "$1/32" '.[] | select(.prefix == $p) | .hits'; }
hits_before=$(hits_of $BLOCKED)
check "... and its entry counted hits" test "${hits_before:-0}" -gt 0
gen=$(bpftool -j map lookup pinned "$bpffs/c_gen" key 0 0 0 0 | jq -r '.value[0]')
slot=$(( (16#${gen#0x} & 1) * 2 ))
bpftool map create "$bpffs/old_in" type array key 4 value 24 entries 1 name old_in flags 5120
rm -f "$bpffs/c_node"
bpftool map create "$bpffs/c_node" type array_of_maps key 4 value 4 entries 4 name c_node \
	inner_map pinned "$bpffs/old_in"
bpftool map update pinned "$bpffs/c_node" key $slot 0 0 0 value pinned "$bpffs/old_in"
rm -f "$bpffs/old_in"
msg=$(mx block list 2>&1)
check "maps of another layout: list commands refuse them" grep -q "another layout" <<<"$msg"
check "restore upgrades them in place" mx restore
check_eq "... the entry's hits came along (no packet since)" "$hits_before" "$(hits_of $BLOCKED)"
check "... the link stayed" bash -c "ip -n $MAIL link show mx0 | grep -q 'mtu [0-9]* xdp '"
check "... the new maps decide: blocked source still drops" cannot_connect $BLOCKED 25
check "... unlisted source connects" can_connect $UNLISTED 25
check "... list commands work again" mx block list
check_fails "... no old pins left" bash -c "ls -A $bpffs | grep -q '^old_'"

# --- a build of another layout with maps of the same sizes: the layout
# number in rec[0] (struct mxs_cfill, bytes 16-19) tells, as after an
# upgrade that changed what the arrays mean but not their shapes
gen=$(bpftool -j map lookup pinned "$bpffs/c_gen" key 0 0 0 0 | jq -r '.value[0]')
slot=$(( (16#${gen#0x} & 1) * 2 ))
# shellcheck disable=SC2046 # the four bytes of the inner map's id
set -- $(bpftool -j map lookup pinned "$bpffs/c_rec" key $slot 0 0 0 | jq -r '.value[]')
rec_id=$(( $1 | $2 << 8 | $3 << 16 | $4 << 24 ))
bytes=$(bpftool -j map lookup id "$rec_id" key 0 0 0 0 | jq -r '.value | .[16] = "0x63" | join(" ")')
bpftool map update id "$rec_id" key 0 0 0 0 value $bytes
msg=$(mx block list 2>&1)
check "a build of another layout number: list commands refuse it" grep -q "another layout" <<<"$msg"
check "... restore rebuilds it" mx restore
check "... blocked source still drops" cannot_connect $BLOCKED 25
check "... list commands work again" mx block list

lab_finish
