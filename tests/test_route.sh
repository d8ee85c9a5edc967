#!/usr/bin/env bash
# Per-recipient routing to an external scanner, with two real Postfix
# instances: the MX in the mail namespace (check_policy_service pointing at
# `mxshield policy serve`), and a "scanner" in the client namespace that
# stamps a header on each message and hands it back to the MX from its own
# address (on the gateway list). Checked: a routed recipient's mail goes
# through the scanner and is delivered once (no loop); an unrouted one's
# does not; a domain route; a message for routed and unrouted recipients
# is split (452 4.5.3 for the other kind); route add refuses a scanner
# that is not a gateway.
source "$(dirname "$0")/lib.sh"

CLIENT=198.51.100.7 SCANNER=203.0.113.90
LAB_PORTS=8080 lab_up $CLIENT $SCANNER || { not_ok "lab setup"; exit 1; }
mx_pf=$work/mx sc_pf=$work/scanner
KEEP=${KEEP:-}
route_cleanup() {
	[ -n "$KEEP" ] && cp -r "$work" "$KEEP"	# KEEP=DIR: keep the evidence
	ip netns exec "$MAIL" postfix -c "$mx_pf/etc" stop >/dev/null 2>&1
	ip netns exec "$CL" postfix -c "$sc_pf/etc" stop >/dev/null 2>&1
	lab_cleanup
}
trap route_cleanup EXIT

# postfix_conf DIR: postfix_base (tests/lib.sh) and this test's common part
postfix_conf() {
	local d=$1
	postfix_base "$d"
	cat >> "$d/etc/main.cf" <<EOF
mydestination =
inet_protocols = ipv4
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
smtp_host_lookup = native
# no resolver in the lab: no reverse lookups to wait for
smtpd_peername_lookup = no
EOF
}

chmod 755 "$work"	# Postfix's own users walk into its queue under here
# the MX: corp.example in one Maildir per user
postfix_conf "$mx_pf"
printf 'vip@corp.example vip/\nbob@corp.example bob/\n@sales.corp.example sales/\n' \
	> "$mx_pf/etc/vmaps"
cat >> "$mx_pf/etc/main.cf" <<EOF
myhostname = mx.corp.example
mydomain = corp.example
inet_interfaces = 203.0.113.1
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = corp.example, sales.corp.example
virtual_mailbox_base = $mx_pf/mail
virtual_mailbox_maps = texthash:$mx_pf/etc/vmaps
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_recipient_restrictions = reject_unauth_destination,
	check_policy_service inet:127.0.0.1:10040
smtpd_data_restrictions = check_policy_service inet:127.0.0.1:10040
EOF
# the scanner: takes mail from the MX, stamps it, hands it back from its
# own address
postfix_conf "$sc_pf"
printf '/^Subject:/ PREPEND X-Scanned-By: test-scanner\n' > "$sc_pf/etc/header_checks"
cat >> "$sc_pf/etc/main.cf" <<EOF
myhostname = scanner.example
inet_interfaces = $SCANNER
mynetworks = 203.0.113.1/32
relay_domains = corp.example, sales.corp.example
relayhost = [203.0.113.1]:25
smtp_bind_address = $SCANNER
header_checks = regexp:$sc_pf/etc/header_checks
EOF
check "the MX's Postfix starts" ip netns exec "$MAIL" postfix -c "$mx_pf/etc" start
check "the scanner's Postfix starts" ip netns exec "$CL" postfix -c "$sc_pf/etc" start

# ---- routes: refused without the gateway entry, then added -------------------
msg=$(mx route add vip@corp.example --via "smtp:[$SCANNER]:25" 2>&1)
check "a scanner that is no gateway is refused" grep -q "not on the gateway list.*gateway add $SCANNER" <<<"$msg"
check_eq "... and no route was added" "0" "$(mx --json route list | jq length)"
mx gateway add $SCANNER --comment "test scanner" >/dev/null
check "route add for a recipient" mx route add vip@corp.example --via "smtp:[$SCANNER]:25"
check "route add for a domain" mx route add @sales.corp.example --via "smtp:[$SCANNER]:25"
check_eq "route list --json" "vip@corp.example smtp:[$SCANNER]:25 $SCANNER" \
	"$(mx --json route list | jq -r '.[0] | "\(.recipient) \(.via) \(.scanner_addresses)"')"
check_fails "route add without brackets is refused" mx route add x@corp.example --via "smtp:$SCANNER:25"

mx policy serve --listen inet:127.0.0.1:10040 >"$work/policy.log" 2>&1 &
lab_pids+=($!)
for _ in $(seq 50); do
	ip netns exec "$MAIL" ss -ltn | grep -q '127.0.0.1:10040 ' && break
	sleep 0.1
done
check "policy service listening" bash -c "ip netns exec $MAIL ss -ltn | grep -q 127.0.0.1:10040"

# smtp NAME TO... [-- swaks options]: one session from the client
smtp() {
	local name=$1 to=$2
	shift 2
	ip netns exec "$CL" swaks --server 203.0.113.1 --local-interface $CLIENT \
		--from a@ok.example --to "$to" --header "Subject: t-$name" --timeout 4 "$@" \
		>"$work/$name.out" 2>&1
}
# delivered NAME BOX: the files in Maildir BOX with subject t-NAME (waits for one)
delivered() {
	local f
	for _ in $(seq 80); do
		f=$(grep -l "^Subject: t-$1\$" "$mx_pf/mail/$2/new/"* 2>/dev/null)
		[ -n "$f" ] && { sleep 1; grep -l "^Subject: t-$1\$" "$mx_pf/mail/$2/new/"*; return 0; }
		sleep 0.1
	done
	return 1
}

smtp routed vip@corp.example
f=$(delivered routed vip)
check "routed recipient: delivered" test -n "$f"
check_eq "... once" "1" "$(echo "$f" | grep -c .)"
check_eq "... through the scanner, once (no loop)" "1" \
	"$(grep -c '^X-Scanned-By: test-scanner' "${f:-/dev/null}" 2>/dev/null)"
check "... the scanner handed it back to the MX" grep -q "relay=203.0.113.1\[203.0.113.1\]:25.*status=sent" "$sc_pf/maillog"
check "... the policy service routed it once" test "$(grep -c 'rcpt=<vip@corp.example> .*-> FILTER' "$work/policy.log")" -eq 1
check "... and let it in from the scanner" grep -q "client=$SCANNER .*rcpt=<vip@corp.example> .*-> DUNNO" "$work/policy.log"

smtp plain bob@corp.example
f=$(delivered plain bob)
check "unrouted recipient: delivered" test -n "$f"
check_fails "... not through the scanner" grep -q '^X-Scanned-By' "${f:-/dev/null}"

smtp domain ann@sales.corp.example
f=$(delivered domain sales)
check "domain route: a user of the domain delivered through the scanner" \
	grep -q '^X-Scanned-By: test-scanner' "${f:-/dev/null}"

# ---- a message for a routed and an unrouted recipient: split ------------------
smtp mixed vip@corp.example,bob@corp.example
check "mixed: the unrouted recipient deferred with 452 4.5.3" \
	grep -q '^<\*\* *452 4.5.3 .*routed unlike' "$work/mixed.out"
f=$(delivered mixed vip)
check "mixed: the routed one delivered through the scanner" grep -q '^X-Scanned-By' "${f:-/dev/null}"
check_fails "mixed: nothing for the deferred one in this transaction" delivered mixed bob
smtp mixed2 bob@corp.example,vip@corp.example
check "mixed the other way: the routed recipient deferred" \
	grep -q '^<\*\* *452 4.5.3 .*routed unlike' "$work/mixed2.out"
f=$(delivered mixed2 bob)
check "... the unrouted one delivered directly" test -n "$f"
check_fails "... not through the scanner" grep -q '^X-Scanned-By' "${f:-/dev/null}"

check "route del" mx route del vip@corp.example
smtp after vip@corp.example
f=$(delivered after vip)
check "after route del: delivered directly" test -n "$f"
check_fails "... not through the scanner" grep -q '^X-Scanned-By' "${f:-/dev/null}"

lab_finish
