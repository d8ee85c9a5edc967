#!/usr/bin/env bash
# State integrity: every field of a list snapshot's header, an entry, the
# comment pool and a journal line, damaged one at a time, is detected
# (non-zero exit naming the file), crashes nothing, overwrites nothing, and
# leaves the loaded filter filtering; `state check` reports it and `state
# repair` rebuilds from what verifies. Text state files likewise.
source "$(dirname "$0")/lib.sh"

A=198.51.100.10 B=198.51.100.20
lab_up $A
check "attach" mx attach mx0
check "block $A (drop) and a /24 with a comment" mx block add $A/32 --comment "marker A"
check "... 7.7.7.0/24" mx block add 7.7.7.0/24 --action reject --comment x
check "... an IPv6 entry" mx block add 2001:db8:77::/48
printf '192.0.2.%d\n' $(seq 1 200) >"$work/more.txt"
check "import 200 more (a snapshot)" mx block import "$work/more.txt"
check "one single add after it (a journal line)" mx block add 203.0.113.77/32 --expires 7d
check "state check: all sound" mx state check
check "... $A cannot connect" cannot_connect $A 25
st=$work/state
snap=$st/block.list jour=$st/block.journal
cp "$snap" "$work/good.list"
cp "$jour" "$work/good.journal"
nent=$(mx --json block list | jq length)

# damage FILE OFFSET BYTES(hex): overwrite bytes at OFFSET
damage() { printf "$(echo "$3" | sed 's/../\\x&/g')" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
restore_good() { cp "$work/good.list" "$snap"; cp "$work/good.journal" "$jour"; }

# expect_damage NAME: the list commands refuse, name the file, change nothing
expect_damage() {
	local name=$1 before after out rc
	before=$(md5sum "$snap" "$jour" 2>/dev/null)
	out=$(mx block list 2>&1 >/dev/null); rc=$?
	if [ $rc -ne 0 ] && [[ $out == *"$st/block."* ]]; then
		ok "$name: block list refuses, naming the file"
	else
		not_ok "$name: block list refuses, naming the file" "rc $rc: $out"
	fi
	check_fails "$name: block add refused" mx block add 198.51.100.99
	check_fails "$name: import --replace refused" mx block import "$work/more.txt" --replace
	check_fails "$name: state check says damaged" mx state check
	after=$(md5sum "$snap" "$jour" 2>/dev/null)
	check_eq "$name: nothing overwritten" "$before" "$after"
	check "$name: the loaded filter still drops $A" cannot_connect $A 25
	restore_good
}

# snapshot header fields (struct st_head): magic 0, version 8, entsize 12,
# n 16, npool 24, seq 32, next_expiry 40, chunk 48, pool_crc 52,
# table_crc 56, head_crc 60
for f in "magic:0" "version:8" "entsize:12" "n:16" "npool:24" "seq:32" "next_expiry:40" \
	"chunk:48" "pool_crc:52" "table_crc:56" "head_crc:60"; do
	damage "$snap" "${f#*:}" 5a
	expect_damage "header field ${f%%:*}"
done
for size in 0 63 100; do
	truncate -s $size "$snap"
	expect_damage "snapshot cut to $size bytes"
done
echo junk >>"$snap"
expect_damage "snapshot with bytes appended"
# the checksum table (64..), then the entries (the first after the table):
# each field of one entry (struct st_ent: addr 0, plen 16, v6 17, action
# 18, del 19, comment 20, added 24, expires 32)
tlen=$(( ( ($nent - 1 + 63) / 64 + 1) / 2 * 8 ))
damage "$snap" 64 ff
expect_damage "checksum table"
e0=$((64 + tlen))
for f in addr:0 plen:16 v6:17 action:18 del:19 comment:20 added:24 expires:32; do
	damage "$snap" $((e0 + ${f#*:})) 63
	expect_damage "entry field ${f%%:*}"
done
# swap two entries (order), each with a valid look
dd if="$work/good.list" of="$snap" bs=1 skip=$((e0 + 40)) seek=$e0 count=40 conv=notrunc status=none
dd if="$work/good.list" of="$snap" bs=1 skip=$e0 seek=$((e0 + 40)) count=40 conv=notrunc status=none
expect_damage "two entries swapped"
size=$(stat -c %s "$snap")
damage "$snap" $((size - 3)) 41
expect_damage "comment pool"

# journal lines: the header, the CRC, the seq, +/-, the prefix, action, times
jl=$(sed -n 2p "$work/good.journal")
for mut in "s/^# mxshield journal v2/# mxshield journal v3/" "2s/^[0-9a-f]/x/" \
	"2s/^\([0-9a-f]*\) [0-9]*/\1 999/" "2s/ + / - /" "2s/\/32 1 /\/32 x /" \
	"2s/\/32 1 /\/32 9 /" "2s/\/32/\/99/" "2s/ 203.0.113.77/ 203.0.113.76/"; do
	sed -i "$mut" "$jour"
	expect_damage "journal: $mut"
done
printf '1234abcd 999 + 1.2.3.4\0junk/32 1 0 0\n' >>"$jour"
expect_damage "journal: a NUL byte in a line"
# a torn last line is what a power loss leaves: cut silently
printf '00000000 999 + 198.51.100.50/32 1 0 0' >>"$jour"
check "a torn last journal line is not damage" mx block list
check "... a read leaves it" grep -q "198.51.100.50" "$jour"
check "... the next change" mx block add 198.51.100.51
check_fails "... cuts it off" grep -q "198.51.100.50" "$jour"
check_eq "... and its own line starts a line of its own" "3" "$(grep -c . "$jour")"
restore_good

# repair: an entry's expiry flipped in the snapshot, a journal line damaged
damage "$snap" $((e0 + 40 + 32)) 01
sed -i "2s/ + / - /" "$jour"
out=$(mx state repair block 2>&1); rc=$?
check_eq "state repair block exits 0" 0 $rc
[[ $out == *"lost: 1"*"journal line"* && $out == *"kept aside"* ]] && ok "... names what was lost" ||
	not_ok "... names what was lost" "$out"
check "... the damaged files kept aside" bash -c "ls $st/block.list.damaged.* $st/block.journal.damaged.*"
check "... then state check is sound" mx state check
n=$(mx --json block list | jq length)
check_eq "... lost: the 64 entries of the damaged chunk and the journal line's" \
	"$((nent - 1 - 64))" "$n"
check_eq "... $A (in another chunk) still listed" "drop" \
	"$(mx --json block list | jq -r --arg a $A/32 '.[] | select(.prefix == $a) | .action')"
check "... the filter follows the repaired state" bash -c "$(declare -f mx); MAIL=$MAIL MXS=$MXS \
	work=$work bpffs=$bpffs; mx state check | grep -q 'built from this state'"

# text state files: a changed byte, a cut
check "mode monitor (a settings file)" mx mode monitor
sed -i 's/monitor/enforce/' "$st/settings"
check_fails "settings changed by hand: mode refused" mx mode enforce
check_fails "... state check says damaged" mx state check
check "state repair settings" mx state repair settings
check "... then sound" mx state check

# least privilege: a state directory others could change is refused
chmod g+w "$st"
out=$(mx block list 2>&1 >/dev/null)
[[ $out == *"writable by its group"* ]] && ok "a group-writable state directory is refused" ||
	not_ok "a group-writable state directory is refused" "$out"
check_fails "... for changes too" mx block add 198.51.100.99
chmod 0700 "$st"
chown 65534 "$st"
check_fails "a state directory owned by another user is refused" mx block list
chown 0 "$st"
check "... and accepted again once it is root's, mode 0700" mx block list
check_eq "temporary files leave nothing behind" "" "$(ls "$st" | grep '\.tmp\.')"

lab_finish
