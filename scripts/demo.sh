#!/usr/bin/env bash
# mxshield demo lab: the main job on an embedded default configuration.
#
# Two network namespaces joined by a veth pair (scripts/lab.sh): the senders
# and the mail host (MX), with the XDP filter attached natively to the mail
# host's veth and an SMTP greeting on port 25. A small MaxMind-format
# database (written here with libmaxmind-db-writer-perl) maps documentation
# ranges to countries. The embedded policy drops country CN and a botnet
# CIDR; partner "acme" sends from inside the CN range and gets through.
#
# Usage (root, fresh Debian 12): scripts/demo.sh
# The root network namespace is never touched; everything is removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
make -s mxshield
LAB_NAME=mxdemo LAB_PORTS=25 source scripts/lab.sh

# ---- the embedded default ------------------------------------------------
geo_spec='
198.51.100.0/24   CN
2001:db8:c0::/48  CN
203.0.113.0/24    DE
2001:db8:de::/48  DE
'
policy=(
	"geo load DB"
	"country add CN --action drop"
	"block add 203.0.113.192/26 --comment botnet-2026-11"
	"partner add acme --ip 198.51.100.77 --domain acme.example"
	"attach mx0 --mode native"
)
# name        address           who
senders='
cn-sender     198.51.100.20     a host in CN (country policy: drop)
acme-relay    198.51.100.77     partner acme, inside the CN range
botnet        203.0.113.200     inside the blocked CIDR 203.0.113.192/26
de-sender     203.0.113.10      an ordinary sender in DE
cn-sender6    2001:db8:c0::20   a host in CN over IPv6
de-sender6    2001:db8:de::10   an ordinary sender in DE over IPv6
'
# ---------------------------------------------------------------------------

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '\033[2m$ mxshield %s\033[0m\n' "$*"; mx "$@"; }

say "building the lab: namespaces $CL (senders) -> $MAIL (mail host)"
# shellcheck disable=SC2046
lab_up $(awk 'NF { print $2 }' <<<"$senders")
printf '%s\n' "$geo_spec" | scripts/make-test-mmdb.pl --schema geoip2 "$work/demo.mmdb"

say "configuring mxshield (in the mail namespace)"
for cmd in "${policy[@]}"; do
	# shellcheck disable=SC2086
	show ${cmd/DB/$work/demo.mmdb}
done
echo "ip link: $(ip -n "$MAIL" link show mx0 | grep -o 'prog/xdp id [0-9]* name [a-z_]*')"

say "SMTP connections from the senders' namespace to port 25"
while read -r name addr what; do
	[ -n "$name" ] || continue
	b=$(connect_from "$addr" 25 || true)
	if [ -n "$b" ]; then r="connected: $b"; else r="no answer (dropped at the NIC)"; fi
	printf '  %-11s %-16s %-44s -> %s\n' "$name" "$addr" "$what" "$r"
done <<<"$senders"

say "mxshield stats"
mx stats
say "mxshield lookup, for each sender"
while read -r name addr _; do
	[ -n "$name" ] && mx lookup "$addr"
done <<<"$senders"
say "mxshield status"
mx status
say "done: the lab is removed on exit"
