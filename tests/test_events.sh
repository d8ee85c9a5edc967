#!/usr/bin/env bash
# Drop events and new-connection counters, end to end over the namespace lab:
#   1. crafted packets (scapy, tcpreplay): SYN, retransmitted SYN, ACK and
#      data, a second connection, IPv6, a tag, another port -- the packet
#      and connection counters and every field of each event;
#   2. a flood of 1,000,000 SYNs from 508 blocked sources (build/flood,
#      paced over a few seconds): the events read stay within the cap, the
#      counters stay exact, emitted + suppressed = the packets dropped;
#   3. the cap at 0: no event, and the event counters stand still.
source "$(dirname "$0")/lib.sh"

FLOOD=$PWD/build/flood
# the reader in the background, as its own process ($! is mxshield: ip
# netns exec execs it), so that a signal reaches it and nothing else; use
# only with &
mx_bg() { exec ip netns exec "$MAIL" "$MXS" --state-dir "$work/state" --bpffs-dir "$bpffs" "$@"; }
lab_up || { not_ok "lab setup"; exit 1; }
# a silent sender: every frame mx0 sees is one the test sent
ip netns exec "$CL" sysctl -qw net.ipv6.conf.cl0.disable_ipv6=1
ip -n "$CL" link set cl0 arp off multicast off
mac=$(ip -n "$MAIL" -j link show mx0 | jq -r '.[0].address')

mx events --json --seconds 1 >"$work/none.json" 2>/dev/null
check_eq "events with nothing loaded: exit 3" 3 "$?"
check_eq "... and says so in JSON" false "$(jq -r .loaded "$work/none.json")"

check "block the flood's sources" mx block add 192.0.2.0/24 --action drop
check "block 198.51.100.0/24" mx block add 198.51.100.0/24 --action drop
check "tag 198.51.100.128/29" mx block add 198.51.100.128/29 --action reject
check "block 2001:db8:66::/48" mx block add 2001:db8:66::/48 --action drop
check "attach native" mx attach mx0 --mode native
check_fails "--rate out of range is a usage error" mx events --rate 1000001 --seconds 0
check_fails "--rate not a number" mx events --rate ten --seconds 0
check "--rate 1000 --per-source off" mx events --rate 1000 --per-source off --seconds 0
check_eq "the cap is in the stats" "1000 false" \
	"$(mx --json stats | jq -r '"\(.events.rate) \(.events.per_source)"')"

# ---- 1. crafted packets --------------------------------------------------
/usr/bin/python3 - "$mac" "$work/a.pcap" <<'EOF'
import sys
from scapy.all import Ether, IP, IPv6, TCP, Raw, wrpcap
mac, out = sys.argv[1:]
e = Ether(dst=mac, src="02:00:00:00:77:01")
s4 = IP(src="198.51.100.7", dst="203.0.113.1", ttl=77)
p = [
    e / s4 / TCP(sport=40001, dport=25, flags="S", seq=1000),          # connection 1
    e / s4 / TCP(sport=40001, dport=25, flags="S", seq=1000),          # its retransmission
    e / s4 / TCP(sport=40001, dport=25, flags="A", seq=1001, ack=1),   # ACK
    e / s4 / TCP(sport=40001, dport=25, flags="PA", seq=1001, ack=1) / Raw(b"EHLO x\r\n"),
    e / s4 / TCP(sport=40001, dport=25, flags="FA", seq=1009, ack=1),
    e / s4 / TCP(sport=40002, dport=587, flags="S", seq=2000),         # connection 2
    e / s4 / TCP(sport=40003, dport=80, flags="S", seq=3000),          # not SMTP
    e / IPv6(src="2001:db8:66::5", dst="2001:db8:1::1", hlim=77)
      / TCP(sport=40004, dport=25, flags="S", seq=4000),               # connection 3
    e / IP(src="198.51.100.130", dst="203.0.113.1", ttl=77)
      / TCP(sport=40005, dport=25, flags="S", seq=5000),               # tagged
]
wrpcap(out, p)
EOF
check "pcap of crafted packets" test -s "$work/a.pcap"
mx stats reset >/dev/null
mx_bg events --json >"$work/a.jsonl" 2>"$work/a.err" &
reader=$!
lab_pids+=("$reader")
sleep 0.5
check "tcpreplay of the crafted packets" ip netns exec "$CL" tcpreplay -q -i cl0 "$work/a.pcap"
sleep 1
kill -INT "$reader"
wait "$reader"
check_eq "events ends on SIGINT with status 0" 0 "$?"
stats=$(mx --json stats)
row() { jq -r --arg r "$1" --arg a "$2" --arg f "$3" \
	'[.verdicts[] | select(.reason == $r and .action == $a) | .[$f]] | add // 0' <<<"$stats"; }
check_eq "block/drop packets: 5 + 1 IPv4, 1 IPv6 (port 80 not SMTP)" 7 "$(row block drop packets)"
check_eq "block/drop connections: one per SYN, not per retransmission" 3 \
	"$(row block drop connections)"
check_eq "block/reject: one packet, one connection" "1 1" \
	"$(row block reject packets) $(row block reject connections)"
check_eq "retransmitted SYNs counted apart" 1 "$(jq .syn_retransmits <<<"$stats")"
check_eq "not-SMTP: a packet, no connection" "1 0" \
	"$(row not-smtp pass packets) $(row not-smtp pass connections)"
check_eq "events: one per packet not passed (cap 1000, per source off)" 8 \
	"$(grep -c . "$work/a.jsonl")"
check_eq "emitted counter = events read" 8 "$(jq .events.emitted <<<"$stats")"
check_eq "nothing suppressed" 0 "$(jq .events.suppressed <<<"$stats")"
first=$(head -1 "$work/a.jsonl")
check_eq "first event: every field" \
	'{"interface":"mx0","source":"198.51.100.7","port":25,"reason":"block","action":"drop","dropped":true,"list":"block","rule":"198.51.100.0/24","country":null,"syn":true}' \
	"$(jq -c 'del(.time, .time_ns, .ifindex)' <<<"$first")"
check_eq "ifindex is mx0's" "$(ip -n "$MAIL" -j link show mx0 | jq '.[0].ifindex')" \
	"$(jq .ifindex <<<"$first")"
now=$(date +%s%N)
check "time within the last minute, RFC 3339 and ns agree" jq -e --argjson now "$now" \
	'(.time_ns < $now and .time_ns > $now - 60e9) and
	 ((.time | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601) == ((.time_ns / 1e9) | floor))' \
	<<<"$first"
check_eq "syn flag per event: S S A PA FA S(587) S6 S(tag)" \
	"true false false false false true true true" "$(jq -r .syn "$work/a.jsonl" | tr '\n' ' ' | sed 's/ $//')"
check_eq "ports" "25 25 25 25 25 587 25 25" "$(jq -r .port "$work/a.jsonl" | tr '\n' ' ' | sed 's/ $//')"
check_eq "IPv6 event" '"2001:db8:66::5 2001:db8:66::/48 drop true"' \
	"$(jq -c 'select(.source | test(":")) | "\(.source) \(.rule) \(.action) \(.dropped)"' "$work/a.jsonl")"
check_eq "tag event: reject, passed" '"198.51.100.130 198.51.100.128/29 reject false"' \
	"$(jq -c 'select(.action == "reject") | "\(.source) \(.rule) \(.action) \(.dropped)"' "$work/a.jsonl")"

# the same as text
mx_bg events --seconds 2 >"$work/a.txt" 2>&1 &
reader=$!
lab_pids+=("$reader")
sleep 0.5
ip netns exec "$CL" tcpreplay -q -i cl0 "$work/a.pcap" >/dev/null 2>&1
wait "$reader"
check_eq "text: one line an event" 8 "$(grep -c . "$work/a.txt")"
check "text: the first line (the replayed SYN is a retransmission now)" grep -Eq \
	'^[0-9-]{10}T[0-9:.]{15}Z mx0 drop from 198\.51\.100\.7 port 25 reason block rule 198\.51\.100\.0/24$' \
	"$work/a.txt"
check "text: the tag" grep -q ' reject (tagged) from 198\.51\.100\.130 port 25 ' "$work/a.txt"
sed 's/^/# /' "$work/a.txt"

# ---- 2. a flood of 1M SYNs ------------------------------------------------
cap=100
check "--rate $cap --per-source on" mx events --rate $cap --per-source on --seconds 0
mx stats reset >/dev/null
mx_bg events --json >"$work/f.jsonl" 2>"$work/f.err" &
reader=$!
lab_pids+=("$reader")
t0=$EPOCHREALTIME
sleep 0.3
out=$(ip netns exec "$CL" "$FLOOD" cl0 4 "$mac" 1000000)
echo "# flood: $out"
sleep 0.5
kill -INT "$reader"
wait "$reader"
t1=$EPOCHREALTIME
read -r _ sent _ _ _ _ _ lost <<<"$out"
check_eq "the generator sent 1,000,000 SYNs" 1000000 "$sent"
stats=$(mx --json stats)
dropped=$(row block drop packets)
tagged=$(row block reject packets)
check_eq "none lost between the veth ends" 0 "$lost"
check_eq "block/drop + block/reject packets = SYNs sent (exact)" "$sent" $((dropped + tagged))
check "the flood had both" test "$dropped" -gt 0 -a "$tagged" -gt 0
check_eq "XDP drops = block/drop packets" "$dropped" "$(jq .xdp.drop <<<"$stats")"
check_eq "emitted + suppressed = packets not passed" $((dropped + tagged)) \
	"$(jq '.events.emitted + .events.suppressed' <<<"$stats")"
n=$(grep -c . "$work/f.jsonl")
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { s = b - a; print (s == int(s) ? s : int(s) + 1) }')
echo "# $n events read in $secs s (cap $cap/s); $(jq -c .events <<<"$stats")"
check "events read within the cap: $n <= $cap x ($secs s + 1)" test "$n" -le $((cap * (secs + 1)))
check "events read: at least one second's cap ($n >= $cap)" test "$n" -ge $cap
check_eq "every event emitted was read" "$(jq .events.emitted <<<"$stats")" "$n"
check "every event: a flood source to port 25, dropped or tagged" jq -se \
	'all(.[]; .reason == "block" and .port == 25
	     and ((.action == "drop" and .dropped) or (.action == "reject" and (.dropped | not)))
	     and (.source | test("^(192\\.0\\.2|198\\.51\\.100)\\.")))' "$work/f.jsonl"
check "per wall-clock second, at most two kernel seconds' cap" jq -se --argjson cap $cap \
	'group_by(.time_ns / 1e9 | floor) | all(.[]; length <= 2 * $cap)' "$work/f.jsonl"
check "per source, at most two events a wall-clock second" jq -se \
	'group_by([.source, (.time_ns / 1e9 | floor)]) | all(.[]; length <= 2)' "$work/f.jsonl"
check "suppressed by the cap and by source" jq -e \
	'.events.suppressed_rate > 0 and .events.suppressed_source >= 0' <<<"$stats"
check_eq "the flood's SYNs repeat 508 sources' 4-tuple: new connections + retransmits = SYNs" \
	"$sent" "$(jq "([.verdicts[] | .connections] | add) + .syn_retransmits" <<<"$stats")"

# ---- 3. events off ----------------------------------------------------------
check "--rate 0" mx events --rate 0 --seconds 0
before=$(mx --json stats | jq -c '[.events.emitted, .events.suppressed]')
total() { mx --json stats | jq '[.verdicts[].packets] | add'; }
n0=$(total)
ip netns exec "$CL" "$FLOOD" cl0 0.5 "$mac" 10000 >/dev/null
check_eq "cap 0: no event emitted or suppressed" "$before" \
	"$(mx --json stats | jq -c '[.events.emitted, .events.suppressed]')"
check_eq "cap 0: the packets still counted" $((n0 + 10000)) "$(total)"
check_eq "the cap is kept in the state" 0 \
	"$(grep -o 'event_rate=[0-9]*' "$work/state/settings" | head -1 | cut -d= -f2)"

lab_finish
