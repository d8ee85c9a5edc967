#!/usr/bin/env bash
# DNSBL and DNSWL in the policy service (docs/dnsbl.md), with a real DNS
# server: tests/dnsbl-dns.py in the mail namespace serves a DNSBL zone
# (bl.test), a DNSWL zone (wl.test) and a zone that never answers
# (slow.test), logging every query; /etc/netns/NAME/resolv.conf points the
# namespace's resolver at it. `mxshield serve` runs the policy service,
# the filter is attached natively to the mail host's veth.
# - the CLI: postscreen's syntax, bad syntax refused with nothing changed;
# - listed: the action in the policy answer, the source pushed to the
#   block list's dnsbl source with the expiry capped by --push-max and a
#   comment naming the list, the reply and the score; `lookup` shows it;
#   a real TCP SYN from it is then dropped by XDP (IPv4 and IPv6);
# - not listed: DUNNO; whitelisted: the DNSWL weight cancels the listing;
# - trusted, partner and gateway sources: DUNNO and no query at all;
# - a list that never answers: the request is answered at the timeout,
#   fail open, counted;
# - the cache: a second request asks nothing; after the record's TTL the
#   next one asks again;
# - --push-max 0: the action, and nothing pushed;
# - the metrics: lookups, cache hits, listed, timeouts, pushes.
source "$(dirname "$0")/lib.sh"

LISTED=198.51.100.20 LISTED6=2001:db8:1::20 PLAIN=198.51.100.30 WHITE=198.51.100.40
SLOW=198.51.100.50 SHORT=198.51.100.60 NOPUSH=198.51.100.21
TRUSTED=203.0.113.70 PARTNER=203.0.113.71 GATEWAY=203.0.113.72
LAB_PORTS=25 lab_up $LISTED $LISTED6 $PLAIN $WHITE $TRUSTED $PARTNER $GATEWAY || {
	not_ok "lab setup"
	exit 1
}
trap 'rm -rf "/etc/netns/$MAIL"; lab_cleanup' EXIT
in_mail() { ip netns exec "$MAIL" "$@"; }
P=10071 M=10072

# ---- DNS ------------------------------------------------------------------------
rev4() { awk -F. '{print $4"."$3"."$2"."$1}' <<<"$1"; }
rev6() { python3 -c 'import ipaddress,sys; print(".".join(reversed(ipaddress.ip_address(sys.argv[1]).exploded.replace(":",""))))' "$1"; }
dnslog=$work/dns.log
: >"$dnslog"
mkdir -p "/etc/netns/$MAIL"
# c-ares' own retry (5 s) is longer than the lookups' timeout set below:
# the timeout is ours
printf 'nameserver 127.0.0.1\noptions timeout:5 attempts:1\n' >"/etc/netns/$MAIL/resolv.conf"
in_mail python3 tests/dnsbl-dns.py --log "$dnslog" --zone bl.test --zone wl.test \
	--blackhole slow.test --neg-ttl 60 \
	--record "$(rev4 $LISTED).bl.test=127.0.0.4/300" \
	--record "$(rev6 $LISTED6).bl.test=127.0.0.4/300" \
	--record "$(rev4 $NOPUSH).bl.test=127.0.0.2/300" \
	--record "$(rev4 $WHITE).bl.test=127.0.0.4/300" \
	--record "$(rev4 $WHITE).wl.test=127.0.10.2/300" \
	--record "$(rev4 $SHORT).bl.test=127.0.0.9/2" \
	--record "$(rev4 $TRUSTED).bl.test=127.0.0.4/300" \
	--record "$(rev4 $PARTNER).bl.test=127.0.0.4/300" \
	--record "$(rev4 $GATEWAY).bl.test=127.0.0.4/300" &
lab_pids+=($!)
queries() { grep -c "^$1 " "$dnslog"; }

# ---- the CLI ----------------------------------------------------------------------
check "dnsbl add: postscreen's syntax" mx dnsbl add 'bl.test=127.0.0.[2..11]*3' \
	'wl.test=127.0.[0..255].[1..3]*-4'
out=$(mx dnsbl add 'ok.test*2' 'bad.test=127.0.0.[2,4]' 2>&1)
check_eq "dnsbl add: a bad filter is refused, saying where" \
	"mxshield: 'bad.test=127.0.0.[2,4]': filter '127.0.0.[2,4]': separate values with ';' (a ',' separates sites) at \"127.0.0.[2>,<4]\" (nothing was changed)" \
	"$out"
check_eq "... and nothing of the command was added" "bl.test=127.0.0.[2..11]*3 wl.test=127.0.[0..255].[1..3]*-4" \
	"$(mx --json dnsbl list | jq -r '[.sites[].site] | join(" ")')"
check_fails "dnsbl threshold: a bad --push-max is refused" mx dnsbl threshold 3 --push-max 5x
check "dnsbl threshold 3 --action reject --push-max 20s" mx dnsbl threshold 3 --action reject \
	--push-max 20s
check "dnsbl set --timeout 2s --min-ttl 1s" mx dnsbl set --timeout 2s --min-ttl 1s
check_eq "dnsbl list --json: the settings" "3 reject 20 2000 1" \
	"$(mx --json dnsbl list | jq -r '"\(.threshold) \(.action) \(.push_max_seconds) \(.timeout_ms) \(.min_ttl_seconds)"')"

# ---- the filter, the lists, the service ----------------------------------------------
mx trust add $TRUSTED >/dev/null
mx partner add acme --ip $PARTNER >/dev/null
mx gateway add $GATEWAY >/dev/null
check "filter attached natively" mx attach mx0 --mode native
check "before: $LISTED connects" can_connect $LISTED 25
check "before: $LISTED6 connects" can_connect $LISTED6 25
printf '[policy]\nlisten = inet:127.0.0.1:%s\n[metrics]\nenabled = yes\nlisten = 127.0.0.1:%s\n' \
	$P $M >"$work/mxshield.conf"
ip netns exec "$MAIL" "$MXS" --state-dir "$work/state" --bpffs-dir "$bpffs" serve \
	--config "$work/mxshield.conf" --log stderr >"$work/serve.log" 2>&1 &
svc=$!
lab_pids+=($svc)
for _ in $(seq 100); do
	in_mail ss -ltnH "sport = :$P" | grep -q . && break
	sleep 0.1
done
check "serve listens" in_mail ss -ltnH "sport = :$P"

req() {
	printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=%s\nsender=a@ok.example\nrecipient=r@corp.example\n\n' "$1"
}
ask() { req "$1" | in_mail socat -t 15 - "TCP:127.0.0.1:$P" 2>/dev/null | head -1; }
metric() {
	in_mail curl -s "http://127.0.0.1:$M/metrics" | awk -v m="$1" '$1 == m {print $2}'
}
dnsbl_entry() {
	mx --json block list --source dnsbl | jq -r --arg p "$1" '.[] | select(.prefix == $p) | "\(.action) \(.expires) \(.comment)"'
}

# ---- listed ------------------------------------------------------------------------
t0=$(date +%s)
check_eq "listed: the policy answer rejects, naming the list, the reply and the score" \
	"action=550 5.7.1 mxshield: rejected (DNSBL bl.test=127.0.0.4*3 score 3)" "$(ask $LISTED)"
check_eq "... one query to each list" "1 1" "$(queries "$(rev4 $LISTED).bl.test") $(queries "$(rev4 $LISTED).wl.test")"
for _ in $(seq 50); do [ -n "$(dnsbl_entry $LISTED/32)" ] && break; sleep 0.1; done
read -r act exp comment <<<"$(dnsbl_entry $LISTED/32)"
check_eq "... pushed to the block list's dnsbl source as drop" "drop" "$act"
check_eq "... its comment names the list, the reply and the score" "dnsbl: bl.test=127.0.0.4*3 score 3" "$comment"
check "... expiring at push-max (20 s), not the TTL (300 s): $((exp - t0)) s" \
	test "$exp" -ge $((t0 + 19)) -a "$exp" -le $((t0 + 22))
check "lookup names the dnsbl source and its comment" \
	grep -q "dnsbl: bl.test=127.0.0.4\*3 score 3" <<<"$(mx lookup $LISTED)"
before=$(stat_packets block drop)
check "its next connection dies at the NIC" cannot_connect $LISTED 25
check "... counted as a block-list drop by XDP" test "$(stat_packets block drop)" -gt "$before"
check_eq "IPv6 listed (nibbles): rejected" \
	"action=550 5.7.1 mxshield: rejected (DNSBL bl.test=127.0.0.4*3 score 3)" "$(ask $LISTED6)"
for _ in $(seq 50); do [ -n "$(dnsbl_entry $LISTED6/128)" ] && break; sleep 0.1; done
check_eq "... pushed as a /128" "drop" "$(dnsbl_entry $LISTED6/128 | cut -d' ' -f1)"
check "... its next connection dies at the NIC" cannot_connect $LISTED6 25
check_eq "a second request (the block list's entry answers it now): no new query" \
	"action=550 5.7.1 mxshield: rejected (IP block list $LISTED/32) 1" \
	"$(ask $LISTED) $(queries "$(rev4 $LISTED).bl.test")"

# ---- not listed, whitelisted ---------------------------------------------------------
check_eq "not listed: DUNNO" "action=DUNNO" "$(ask $PLAIN)"
check_eq "... after asking both lists (NXDOMAIN)" "1 1" \
	"$(queries "$(rev4 $PLAIN).bl.test") $(queries "$(rev4 $PLAIN).wl.test")"
check_eq "whitelisted: the DNSWL weight (-4) cancels the listing (3)" "action=DUNNO" "$(ask $WHITE)"
check_eq "... and it is not pushed" "" "$(dnsbl_entry $WHITE/32)"
check "... and connects" can_connect $WHITE 25

# ---- trusted, partner, gateway: never looked up ------------------------------------------
for a in $TRUSTED $PARTNER $GATEWAY; do
	check_eq "$a (trust/partner/gateway): DUNNO" "action=DUNNO" "$(ask $a)"
done
check_eq "... and the DNS server saw no query for any of them" "0 0 0" \
	"$(queries "$(rev4 $TRUSTED).bl.test") $(queries "$(rev4 $PARTNER).bl.test") $(queries "$(rev4 $GATEWAY).bl.test")"
check_eq "... nor are they pushed" "" \
	"$(dnsbl_entry $TRUSTED/32)$(dnsbl_entry $PARTNER/32)$(dnsbl_entry $GATEWAY/32)"

# ---- a list that never answers -------------------------------------------------------
mx dnsbl add 'slow.test*5' >/dev/null
t0=$(date +%s%N)
check_eq "a list that never answers: answered, fail open" "action=DUNNO" "$(ask $SLOW)"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "... at the 2 s timeout (${ms} ms), not before" test "$ms" -ge 1900 -a "$ms" -lt 8000
check "... the slow list was asked" test "$(queries "$(rev4 $SLOW).slow.test")" -ge 1
check_eq "... counted as a timeout" "1" "$(metric mxshield_dnsbl_timeouts_total)"
mx dnsbl del slow.test >/dev/null

# ---- the cache's TTL --------------------------------------------------------------------
check_eq "a 2 s TTL record (weight 3): rejected" \
	"action=550 5.7.1 mxshield: rejected (DNSBL bl.test=127.0.0.9*3 score 3)" "$(ask $SHORT)"
ask $SHORT >/dev/null
check_eq "... asked again at once: from the cache" "1" "$(queries "$(rev4 $SHORT).bl.test")"
sleep 3
ask $SHORT >/dev/null
check_eq "... after the TTL: asked again" "2" "$(queries "$(rev4 $SHORT).bl.test")"

# ---- --push-max 0 ---------------------------------------------------------------------
check "dnsbl threshold 1 --push-max 0" mx dnsbl threshold 1 --push-max 0
check_eq "push off: the action still applies" \
	"action=550 5.7.1 mxshield: rejected (DNSBL bl.test=127.0.0.2*3 score 3)" "$(ask $NOPUSH)"
sleep 0.5
check_eq "... and nothing is pushed" "" "$(dnsbl_entry $NOPUSH/32)"
check "dnsbl threshold 3 --action quarantine --push-max 1h" mx dnsbl threshold 3 \
	--action quarantine --push-max 1h
check_eq "the action follows the configuration (cached answer; pushed now)" \
	"action=HOLD mxshield: quarantined (DNSBL bl.test=127.0.0.2*3 score 3)" "$(ask $NOPUSH)"

# ---- metrics ---------------------------------------------------------------------------
# 11 checks (3 from the cache), 8 at or above the threshold, pushed: the
# two listed, the short-TTL one twice (its push expired with its TTL), and
# the one seen with --push-max 0 once pushing was back on
check_eq "metrics: lookups, cache hits, listed, pushes" "11 3 8 5" \
	"$(metric mxshield_dnsbl_lookups_total) $(metric mxshield_dnsbl_cache_hits_total) $(metric mxshield_dnsbl_listed_total) $(metric mxshield_dnsbl_pushes_total)"
in_mail curl -s "http://127.0.0.1:$M/metrics" >"$work/metrics.txt"
check "promtool check metrics finds nothing to say about the document" \
	test -z "$(promtool check metrics <"$work/metrics.txt" 2>&1)"
check "the service is still alive" kill -0 $svc

lab_finish
