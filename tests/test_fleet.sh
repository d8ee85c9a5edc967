#!/usr/bin/env bash
# A fleet of three edges sharing their lists through a real etcd cluster of
# three members (docs/fleet.md). Everything in namespaces of the test's own:
#
#   etcd namespace: members m1..m3 on 192.0.2.11..13 (its loopback), each
#     edge reached over a veth (198.51.100.0/30 blocks)
#   edge i: its own state dir and bpffs, XDP on mx0 (203.0.113.1/24), a
#     listener on port 25, `sync serve` against the three members
#   client i: senders 203.0.113.50.. over the veth to edge i
#
# FLEET_PARTITION sets the partition's length (default 60 s).
set -u
cd "$(dirname "$0")/.."
failures=0
ok() { echo "ok - $1"; }
not_ok() { echo "not ok - $1${2:+: $2}"; failures=$((failures + 1)); }
check() {
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$name"; else not_ok "$name" "'$*' failed"; fi
}

source scripts/fleet-lab.sh
setup || { not_ok "lab setup (etcd cluster, three edges with XDP)"; exit 1; }
ok "lab: a 3-member etcd cluster, three edges with XDP attached"

# edge 1 has a list before the fleet exists: it seeds etcd; the others join
mx 1 block add 203.0.113.51 --comment "edge 1's before the fleet" >/dev/null
mx 2 block add 203.0.113.61 --comment "edge 2's own, dropped on joining" >/dev/null
start_sync 1
seeded() { ectl get /mxshield/kv/block/m --print-value-only | grep -q '^gen='; }
wait_for 10 seeded || not_ok "edge 1 seeds etcd"
start_sync 2
start_sync 3
check "joining edges take the fleet's lists (edge 1's seed reaches 2 and 3)" \
	wait_for 10 everywhere has block 203.0.113.51/32
check "a joining edge's own entries give way to the fleet's" wait_for 5 hasnt 2 block 203.0.113.61/32

# ------------------------------------------ a block on edge 1 drops at 2 and 3
check "before: 203.0.113.60 connects at edge 2" can 2 203.0.113.60
mx 1 block add 203.0.113.60 --comment "added on edge 1" >/dev/null
check "a block added on edge 1 drops at edge 2 (real packets)" wait_for 5 cannot 2 203.0.113.60
check "... and at edge 3" wait_for 5 cannot 3 203.0.113.60
check "... and at edge 1" cannot 1 203.0.113.60
check "an unlisted source still connects at edge 3" can 3 203.0.113.50

# ------------------------------------ a trust entry removed on edge 3 goes
mx 1 block add 203.0.113.64/28 --comment "a block under the trust entry" >/dev/null
mx 2 trust add 203.0.113.70 >/dev/null
check "a trust entry added on edge 2 reaches every edge" wait_for 5 everywhere has trust 203.0.113.70/32
check "the trusted source connects at edge 1 inside a blocked /28" wait_for 5 can 1 203.0.113.70
mx 3 trust del 203.0.113.70 >/dev/null
check "a trust entry removed on edge 3 disappears everywhere" \
	wait_for 5 everywhere hasnt trust 203.0.113.70/32
check "... and its source drops at edge 1 (real packets)" wait_for 5 cannot 1 203.0.113.70

# ------------------- partners, country policies, envelope lists: whole files
# each edge has its own country database (not shared): 203.0.113.128/25 is CN
scripts/make-test-mmdb.pl --schema geoip2 "$work/geo.mmdb" 2>/dev/null <<<'203.0.113.128/25 CN'
for i in 1 2 3; do mx $i geo load "$work/geo.mmdb" >/dev/null; done
check "before: 203.0.113.131 (CN) connects at edge 1" can 1 203.0.113.131
mx 2 country add CN --action drop >/dev/null
check "a country policy set on edge 2 drops at edge 1 (real packets)" wait_for 5 cannot 1 203.0.113.131
check "... and at edge 3" wait_for 5 cannot 3 203.0.113.131
mx 1 partner add acme --ip 203.0.113.130 >/dev/null
has_partner() { mx "$1" --json partner list | jq -e '.[] | select(.name == "acme")'; }
check "a partner added on edge 1 appears on edges 2 and 3" wait_for 5 everywhere has_partner
check "... its address passes at edge 2 while its country drops (real packets)" \
	wait_for 5 can 2 203.0.113.130
check "... and at edge 3" wait_for 5 can 3 203.0.113.130
check "... the rest of the country still drops at edge 3" cannot 3 203.0.113.131
mx 3 sender add spammer@example.com --list block >/dev/null
has_sender() { mx "$1" sender list --list block | grep -q 'spammer@example.com'; }
check "an envelope sender block added on edge 3 shows on edges 1 and 2" \
	wait_for 5 everywhere has_sender
n=$(ectl get /mxshield/kv/file/ --prefix --keys-only | grep -c '^/mxshield/kv/file/')
check_eq() { if [ "$2" == "$3" ]; then ok "$1"; else not_ok "$1" "expected '$2', got '$3'"; fi; }
check_eq "etcd holds them as one key per file" 3 "$n"

# ---------------------------------------- a 100k replace, one switch per edge
{
	for a in $(seq 0 99999); do
		printf '2001:db8:%x:%x::/64\n' $((a / 65536 + 16)) $((a % 65536))
	done
	echo 203.0.113.80
	echo 203.0.113.60
	echo 203.0.113.51
	echo 203.0.113.64/28
} >"$work/big.txt"
gen_of() { sed -n 's/.*build=\([0-9]*\).*/\1/p' "$work/s$1/last-build"; }
g2=$(gen_of 2) g3=$(gen_of 3)
if mx 1 block import "$work/big.txt" --replace >/dev/null; then ok "a 100k-entry --replace on edge 1"; else
	not_ok "a 100k-entry --replace on edge 1"; fi
count() { mx "$1" --json block list | jq length; }
count_is() { [ "$(count "$1")" = "$2" ]; }
check "the 100k replace reaches edge 2" wait_for 30 count_is 2 100004
check "... and edge 3" wait_for 30 count_is 3 100004
check "... dropping its new entry at edge 3 (real packets)" wait_for 5 cannot 3 203.0.113.80
check_eq "edge 2 applied it as one full build (one switch)" $((g2 + 1)) "$(gen_of 2)"
check_eq "edge 3 applied it as one full build (one switch)" $((g3 + 1)) "$(gen_of 3)"
n=$(ectl get /mxshield/ --prefix --keys-only | grep -c '^/mxshield/blob/block/')
if [ "$n" -ge 1 ] && [ "$n" -le 8 ]; then ok "etcd holds it as $n chunks, not 100k keys"; else
	not_ok "etcd holds the replace as a few chunks" "$n chunk keys"; fi

# ------------------------------------------------- the etcd leader dies
leader=$(ectl endpoint status -w json | jq -r '.[] | select(.Status.leader == .Status.header.member_id) | .Endpoint' | head -1)
k=${leader#http://192.0.2.1}
k=${k%%:*}
case $k in 1|2|3) ;; *) k= ;; esac
if [ -n "$k" ]; then
	kill "${member[$k]}"
	ok "killed the etcd leader (m$k)"
	mx 2 block add 203.0.113.90 --comment "after the leader died" >/dev/null
	check "with the leader gone a change on edge 2 drops at edge 1" wait_for 15 cannot 1 203.0.113.90
	check "... and at edge 3" wait_for 15 cannot 3 203.0.113.90
	start_member $k existing
	wait_for 20 ectl endpoint health
else
	not_ok "found the etcd leader" "$leader"
fi

# ----------------------------------------------- edge 3 cut off for a while
ip netns exec $pre-e3 nft -f - <<EOF
table inet fleetcut {
	chain out { type filter hook output priority 0; ip daddr 192.0.2.0/24 drop; }
	chain in { type filter hook input priority 0; ip saddr 192.0.2.0/24 drop; }
}
EOF
t0=$(date +%s)
mx 1 block add 203.0.113.100 --comment "during the partition" >/dev/null
mx 3 block add 203.0.113.110 --comment "made on edge 3 while cut off" >/dev/null
cut() { [ "$(sstat 3 connected)" = false ]; }
check "the cut-off edge reports it is not connected" wait_for 10 cut
check "edge 1's change reaches edge 2 meanwhile" wait_for 5 cannot 2 203.0.113.100
check "the cut-off edge keeps filtering (its old blocks drop)" cannot 3 203.0.113.60
check "its own change takes effect locally at once" cannot 3 203.0.113.110
lag=$(sstat 3 lag)
sleep $((PART - ($(date +%s) - t0)))
lag2=$(sstat 3 lag)
err=$(sstat 3 error)
if awk -v a="$lag" -v b="$lag2" 'BEGIN { exit !(b > a && b >= 10) }'; then
	ok "the cut-off edge reports a growing lag ($lag s, then $lag2 s)"; else
	not_ok "the cut-off edge reports a growing lag" "$lag then $lag2"; fi
if [ -n "$err" ]; then ok "and its last error ($err)"; else not_ok "the cut-off edge reports its last error"; fi
check "edge 3 was not told of edge 1's change while cut off" hasnt 3 block 203.0.113.100/32
ip netns exec $pre-e3 nft delete table inet fleetcut
check "healed: edge 3 catches up (edge 1's change drops there)" wait_for 20 cannot 3 203.0.113.100
check "... and its own queued change reaches edge 1" wait_for 10 cannot 1 203.0.113.110
lag0() { [ "$(sstat 3 'lag < 1 and .connected')" = true ]; }
check "... and reports a lag of 0 again" wait_for 10 lag0
metric() { ip netns exec $pre-e3 curl -s http://127.0.0.1:9911/metrics | awk -v m="$1" '$1 == m { print $2 }'; }
rev3=$(metric mxshield_sync_applied_revision)
if [ -n "$rev3" ] && [ "${rev3%.*}" -gt 0 ] && [ "$(metric mxshield_sync_connected)" = 1 ]; then
	ok "edge 3's service exports its revision ($rev3) and connection in the metrics"; else
	not_ok "the service's metrics show the sync" "revision '$rev3'"; fi
check "status names the fleet sync" sh -c "ip netns exec $pre-e3 $MXS --state-dir $work/s3 --bpffs-dir /run/$pre-b3 status | grep -q 'fleet sync: edge edge3, revision [0-9]*, connected'"

# ---------------------------------------- an edge restarts from its revision
stop_sync 2
rev=$(sed -n 's/.*revision=\([0-9]*\).*/\1/p' "$work/s2/sync-state")
mx 1 block add 203.0.113.101 --comment "while edge 2 was down" >/dev/null
start_sync 2
check "a restarted edge catches up" wait_for 10 cannot 2 203.0.113.101
if grep -q "from revision $rev" "$work/sync2.log" && [ "$rev" -gt 0 ] &&
   [ "$(sstat 2 full_reads)" = 0 ]; then
	ok "it resumed from its revision ($rev), no full read"; else
	not_ok "it resumed from its revision" "rev $rev, full reads $(sstat 2 full_reads)"; fi

# ---------------------------------------------------- compaction past an edge
stop_sync 3
mx 1 block add 203.0.113.120 --comment "before the compaction" >/dev/null
mx 2 block del 203.0.113.90 >/dev/null
cur=$(ectl endpoint status -w json | jq -r '.[0].Status.header.revision')
ectl compact "$cur" --physical >/dev/null
start_sync 3
check "compacted past edge 3's revision: it reads everything again" \
	wait_for 15 grep -q "compacted past revision" "$work/sync3.log"
check "... and converges (a change made meanwhile drops there)" wait_for 10 cannot 3 203.0.113.120
check "... and a deletion made meanwhile is gone there" wait_for 10 can 3 203.0.113.90

# ------------------------------------------------------------ the end
agree() { [ "$(mx 1 --json fleet status | jq -r '.agree and .edges == 3')" = true ]; }
check "fleet status: three edges, their digests agree" wait_for 10 agree
mx 1 fleet status

for i in 1 2 3; do
	if grep -qiE "internal error|damaged" "$work/sync$i.log"; then
		not_ok "edge $i's sync log has no internal error" "$(grep -iE 'internal error|damaged' "$work/sync$i.log" | head -3)"
	fi
done
[ "$failures" -eq 0 ]
