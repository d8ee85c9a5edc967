#!/usr/bin/env bash
# mxshield demo lab: the main job on an embedded default configuration.
#
# Two network namespaces joined by a veth pair: "internet" (the senders) and
# "mail" (the MX, with the XDP filter attached natively to its veth and an
# SMTP listener on port 25). A small MaxMind-format database (written here
# with libmaxmind-db-writer-perl) maps documentation ranges to countries.
# The embedded policy blocks country CN and a botnet CIDR; partner "acme"
# sends from inside the CN range and gets through.
#
# Usage (root, fresh Debian 12): scripts/demo.sh
# The root network namespace is never touched; everything is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make -s mxshield

id=$$
MAIL=mxdemo-mail-$id
NET=mxdemo-net-$id
work=$(mktemp -d /tmp/mxshield-demo.XXXXXX)
bpffs=/run/mxshield-demo-$id
pids=()

cleanup() {
	set +e
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	[ -e "$bpffs/lists_v4" ] && ./mxshield --state-dir "$work/state" --bpffs-dir "$bpffs" unload >/dev/null
	mountpoint -q "$bpffs" && umount "$bpffs"
	rmdir "$bpffs" 2>/dev/null
	ip netns del "$MAIL" 2>/dev/null
	ip netns del "$NET" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# The embedded default: who is where, and the policy.
geo_spec='
# demo country database (documentation ranges only)
198.51.100.0/24   CN
2001:db8:c0::/48  CN
203.0.113.0/24    DE
2001:db8:de::/48  DE
'
# name        address          what it is
senders='
cn-sender     198.51.100.20    a host in CN (country policy: drop)
acme-relay    198.51.100.77    partner acme, inside the CN range
botnet        203.0.113.200    inside the blocked CIDR 203.0.113.192/26
de-sender     203.0.113.10     an ordinary sender in DE
cn-sender6    2001:db8:c0::20  a host in CN over IPv6
de-sender6    2001:db8:de::10  an ordinary sender in DE over IPv6
'

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
mx() { nsenter --net=/run/netns/"$MAIL" ./mxshield --state-dir "$work/state" --bpffs-dir "$bpffs" "$@"; }

say "building the lab: namespaces $NET -> $MAIL"
ip netns add "$MAIL"
ip netns add "$NET"
ip -n "$MAIL" link add mx0 type veth peer name net0 netns "$NET"
for ns in "$MAIL" "$NET"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	ip -n "$ns" link set lo up
done
ip -n "$MAIL" addr add 198.51.100.1/24 dev mx0
ip -n "$MAIL" addr add 203.0.113.1/24 dev mx0
ip -n "$MAIL" addr add 2001:db8:c0::1/48 dev mx0 nodad
ip -n "$MAIL" addr add 2001:db8:de::1/48 dev mx0 nodad
ip -n "$MAIL" link set mx0 up
while read -r name addr _; do
	[ -n "$name" ] || continue
	case $addr in
	*:*) ip -n "$NET" addr add "$addr/48" dev net0 nodad ;;
	198.51.100.*) ip -n "$NET" addr add "$addr/24" dev net0 ;;
	*) ip -n "$NET" addr add "$addr/24" dev net0 ;;
	esac
done <<<"$senders"
ip -n "$NET" link set net0 up

# an SMTP greeting on port 25 of the mail host
ip netns exec "$MAIL" socat TCP6-LISTEN:25,fork,reuseaddr,ipv6only=0 \
	SYSTEM:'echo "220 mx.demo.example ESMTP"' &
pids+=($!)

mkdir -p "$bpffs"
mount -t bpf bpf "$bpffs"
printf '%s\n' "$geo_spec" | scripts/make-test-mmdb.pl --schema geoip2 "$work/demo.mmdb"

say "configuring mxshield (in the mail namespace)"
show() { printf '\033[2m$ mxshield %s\033[0m\n' "$*"; mx "$@"; }
show geo load "$work/demo.mmdb"
show country add CN --action drop
show block add 203.0.113.192/26 --comment "botnet seen 2026-11"
show partner add acme --ip 198.51.100.77 --domain acme.example
show attach mx0 --mode native
echo "ip link: $(ip -n "$MAIL" link show mx0 | grep -o 'prog/xdp id [0-9]* name [a-z_]*')"

sleep 1
say "SMTP connections from the internet namespace"
try() {
	local addr=$1 dst
	case $addr in
	2001:db8:c0:*) dst="[2001:db8:c0::1]" ;;
	2001:db8:de:*) dst="[2001:db8:de::1]" ;;
	198.51.100.*) dst=198.51.100.1 ;;
	*) dst=203.0.113.1 ;;
	esac
	ip netns exec "$NET" timeout 4 socat -T2 STDIO \
		"TCP:$dst:25,bind=$(case $addr in *:*) echo "[$addr]";; *) echo "$addr";; esac),connect-timeout=2" \
		</dev/null 2>/dev/null | head -1 | tr -d '\r' || true
}
while read -r name addr what; do
	[ -n "$name" ] || continue
	b=$(try "$addr")
	if [ -n "$b" ]; then r="connected: $b"; else r="no answer (dropped at the NIC)"; fi
	printf '  %-11s %-16s %-44s -> %s\n' "$name" "$addr" "$what" "$r"
done <<<"$senders"

say "mxshield stats"
mx stats
say "mxshield lookup, for each sender"
while read -r name addr _; do
	[ -n "$name" ] || continue
	mx lookup "$addr"
done <<<"$senders"
say "mxshield status"
mx status
say "done: the lab is removed on exit"
