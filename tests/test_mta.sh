#!/usr/bin/env bash
# The hand-off to the MTA with a real Postfix: Postfix (its own configuration,
# queue and Maildir under the test's directory) runs in the mail namespace
# with the XDP filter attached and check_policy_service pointing at
# `mxshield policy serve`; dnsmasq there serves the SPF records. Real SMTP
# sessions (swaks) from several sources, with and without TLS and client
# certificates.
source "$(dirname "$0")/lib.sh"

DROPPED=198.51.100.10 REJECTED=198.51.100.20 HELD=198.51.100.30 SPAMMY=198.51.100.40
PARTNER=203.0.113.50 PLAIN=203.0.113.60 TRUSTED=203.0.113.70 GATEWAY=203.0.113.80
PLAIN6=2001:db8:1::60
BETA=203.0.113.51 GAMMA=203.0.113.52 DELTA=203.0.113.53	# partners: skip policy, none, skip spam
LAB_PORTS=8080 lab_up $DROPPED $REJECTED $HELD $SPAMMY $PARTNER $PLAIN $TRUSTED $GATEWAY \
	$PLAIN6 $BETA $GAMMA $DELTA || { not_ok "lab setup"; exit 1; }

pf=$work/postfix
KEEP=${KEEP:-}
policy_log=$work/policy.log
mta_cleanup() {
	[ -n "$KEEP" ] && cp -r "$work" "$KEEP"	# KEEP=DIR: keep the evidence
	ip netns exec "$MAIL" postfix -c "$pf/etc" stop >/dev/null 2>&1
	rm -rf "/etc/netns/$MAIL"
	lab_cleanup
}
trap mta_cleanup EXIT

# ---- certificates: a CA, the MX, two partner client certificates --------
mkdir -p "$pf/tls"
(
	cd "$pf/tls" || exit 1
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=mxshield test CA" \
		-keyout ca.key -out ca.crt
	for cn in mx.corp.example mx1.acme.example a.b.acme.example; do
		openssl req -newkey rsa:2048 -nodes -subj "/CN=$cn" -keyout "$cn.key" -out "$cn.csr"
		openssl x509 -req -in "$cn.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
			-out "$cn.crt"
	done
) >/dev/null 2>&1
check "test certificates made" test -s "$pf/tls/a.b.acme.example.crt"

# ---- DNS for SPF, inside the mail namespace ------------------------------
mkdir -p "/etc/netns/$MAIL"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "/etc/netns/$MAIL/resolv.conf"
ip netns exec "$MAIL" dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
	--listen-address=127.0.0.1 --port=53 --pid-file="$work/dnsmasq.pid" \
	--txt-record=spf-pass.example,"v=spf1 ip4:$SPAMMY -all" \
	--txt-record=spf-fail.example,"v=spf1 -all" 2>"$work/dnsmasq.log" &
lab_pids+=($!)

# ---- Postfix -------------------------------------------------------------
chmod 755 "$work"	# Postfix's own users walk into its queue under here
postfix_base "$pf"
cat >> "$pf/etc/main.cf" <<EOF
myhostname = mx.corp.example
mydomain = corp.example
mydestination =
inet_interfaces = all
inet_protocols = all
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
virtual_mailbox_domains = corp.example
virtual_mailbox_base = $pf/mail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
# the hand-off
smtpd_recipient_restrictions = reject_unauth_destination,
	check_policy_service inet:127.0.0.1:10040
smtpd_data_restrictions = check_policy_service inet:127.0.0.1:10040
smtpd_authorized_xclient_hosts = $GATEWAY
smtpd_tls_cert_file = $pf/tls/mx.corp.example.crt
smtpd_tls_key_file = $pf/tls/mx.corp.example.key
smtpd_tls_security_level = may
smtpd_tls_ask_ccert = yes
smtpd_tls_CAfile = $pf/tls/ca.crt
EOF
check "postfix starts in the mail namespace" ip netns exec "$MAIL" postfix -c "$pf/etc" start

# ---- mxshield: filter, lists, policy service -----------------------------
mx block add $DROPPED >/dev/null
mx block add $REJECTED --action reject >/dev/null
mx block add $HELD --action quarantine >/dev/null
mx block add $SPAMMY --action spam >/dev/null
mx trust add $TRUSTED >/dev/null
mx gateway add $GATEWAY >/dev/null
mx partner add acme --ip $PARTNER --domain acme.example --lock-domain --tls require \
	--cert-name '*.acme.example' >/dev/null
mx org-domain add corp.example >/dev/null
mx domain add evil.example --list block --action reject >/dev/null
mx recipient add ceo@corp.example --action reject >/dev/null
mx pattern add '^bulk-[0-9]+@' --type regex --action quarantine >/dev/null
mx tld add zip --action spam >/dev/null
mx sender add friend@spf-pass.example --list allow >/dev/null
mx partner add beta --ip $BETA --skip policy >/dev/null
mx partner add gamma --ip $GAMMA >/dev/null
mx partner add delta --ip $DELTA --skip spam >/dev/null
mx sender add friend@spf-fail.example --list allow >/dev/null
check_fails "the org's own TLD can't be blocked" mx tld add example
msg=$(mx tld add example 2>&1)
check "... and the error says why" grep -q "organisation's own domain corp.example" <<<"$msg"
check "attach native" mx attach mx0 --mode native
mx policy serve --listen inet:127.0.0.1:10040 >"$policy_log" 2>&1 &
policy_pid=$!
lab_pids+=($policy_pid)
for _ in $(seq 50); do
	ip netns exec "$MAIL" ss -ltn | grep -q '127.0.0.1:10040 ' && ip netns exec "$MAIL" ss -ltn | grep -q ':25 ' && break
	sleep 0.1
done
check "policy service listening" bash -c "ip netns exec $MAIL ss -ltn | grep -q 127.0.0.1:10040"

# smtp NAME SRC FROM TO [swaks options]: one session; output in $work/NAME.out
smtp() {
	local name=$1 src=$2 from=$3 to=$4 dst=203.0.113.1
	shift 4
	case $src in *:*) dst=2001:db8:1::1 ;; esac
	ip netns exec "$CL" swaks --server "$dst" --local-interface "$src" --from "$from" --to "$to" \
		--header "Subject: t-$name" --timeout 4 "$@" >"$work/$name.out" 2>&1
}
rejected() { grep -q '^<\*\* *5[0-9][0-9]' "$work/$1.out"; }
accepted() { grep -q '^<- *250 2.0.0 Ok: queued' "$work/$1.out"; }
# delivered NAME: path of the delivered message with subject t-NAME
delivered() {
	local f
	for _ in $(seq 40); do
		f=$(grep -l "^Subject: t-$1\$" "$pf"/mail/inbox/new/* 2>/dev/null | head -1)
		[ -n "$f" ] && { echo "$f"; return 0; }
		sleep 0.1
	done
	return 1
}
held_ids() { mx --json quarantine list --postfix-config "$pf/etc" | jq -r '.[].id'; }

# ---- IP verdicts ----------------------------------------------------------
smtp drop $DROPPED a@ok.example r@corp.example
check "dropped source never connects (SYN dropped: a timeout, not a refusal)" grep -q "connect: timeout" "$work/drop.out"
check_fails "dropped source never reached Postfix" grep -q "connect from.*$DROPPED" "$pf/maillog"
smtp reject $REJECTED a@ok.example r@corp.example
check "reject-tagged source gets 550 with the reason" grep -q '^<\*\* *550 5.7.1 .*mxshield: rejected (IP block list 198.51.100.20/32)' "$work/reject.out"
smtp plain $PLAIN a@ok.example r@corp.example
f=$(delivered plain)
check "unlisted source delivered" test -n "$f"
check_fails "... without mxshield headers" grep -q "^X-Spam-Flag\|^X-Mxshield" "${f:-/dev/null}"
smtp plain6 $PLAIN6 a@ok.example r@corp.example
check "unlisted IPv6 source delivered" delivered plain6
smtp spam $SPAMMY a@ok.example r@corp.example --to r2@corp.example
f=$(delivered spam)
check "spam-tagged source delivered" test -n "$f"
check "... with X-Spam-Flag: YES" grep -q "^X-Spam-Flag: YES" "${f:-/dev/null}"
check "... with X-Mxshield naming the reason" grep -q "^X-Mxshield: spam; IP block list 198.51.100.40/32" "${f:-/dev/null}"
check_eq "... once, however many recipients" "1" "$(grep -c '^X-Spam-Flag' "${f:-/dev/null}")"

# ---- quarantine -------------------------------------------------------------
before=$(held_ids | wc -l)
smtp held $HELD a@ok.example r@corp.example
check "quarantine-tagged source accepted" accepted held
sleep 0.5
check_eq "... and the message sits in the hold queue" "$((before + 1))" "$(held_ids | wc -l)"
id=$(mx --json quarantine list --postfix-config "$pf/etc" | jq -r '.[] | select(.sender == "a@ok.example") | .id' | head -1)
check "quarantine list shows sender and id" test -n "$id"
check "quarantine release" mx quarantine release "$id" --postfix-config "$pf/etc"
check "released message delivered" delivered held
smtp held2 $HELD b@ok.example r@corp.example
sleep 0.5
id=$(mx --json quarantine list --postfix-config "$pf/etc" | jq -r '.[] | select(.sender == "b@ok.example") | .id' | head -1)
check "quarantine delete" mx quarantine delete "$id" --postfix-config "$pf/etc"
check_eq "deleted message is gone" "" \
	"$(mx --json quarantine list --postfix-config "$pf/etc" | jq -r '.[] | select(.sender == "b@ok.example") | .id')"
check_fails "a bad queue id is refused" mx quarantine release "../x" --postfix-config "$pf/etc"

# ---- partner connector ------------------------------------------------------
smtp p-notls $PARTNER x@acme.example r@corp.example
check "partner without TLS rejected (TLS required)" grep -q "550 5.7.1 .*mxshield: connector acme requires TLS" "$work/p-notls.out"
smtp p-tls $PARTNER x@acme.example r@corp.example --tls --tls-cert "$pf/tls/mx1.acme.example.crt" \
	--tls-key "$pf/tls/mx1.acme.example.key"
check "partner with TLS and cert mx1.acme.example delivered" delivered p-tls
smtp p-badcert $PARTNER x@acme.example r@corp.example --tls \
	--tls-cert "$pf/tls/a.b.acme.example.crt" --tls-key "$pf/tls/a.b.acme.example.key"
check "cert a.b.acme.example rejected (*. matches one label)" grep -q "550 5.7.1 .*mxshield: client certificate does not match connector acme" "$work/p-badcert.out"
smtp p-lock $PLAIN x@acme.example r@corp.example
check "acme.example from a foreign IP rejected (lock-domain)" grep -q "550 5.7.1 .*mxshield: mail from acme.example is accepted only through connector acme" "$work/p-lock.out"

# ---- envelope lists -----------------------------------------------------------
smtp e-dom $PLAIN x@evil.example r@corp.example
check "blocked domain rejected" grep -q "550 5.7.1 .*mxshield: rejected (domain block list evil.example)" "$work/e-dom.out"
smtp e-sub $PLAIN x@mail.evil.example r@corp.example
check "subdomain of a blocked domain rejected" rejected e-sub
smtp e-rcpt $PLAIN x@ok.example ceo@corp.example
check "blocked recipient rejected" grep -q "recipient block list ceo@corp.example" "$work/e-rcpt.out"
before=$(held_ids | wc -l)
smtp e-pat $PLAIN bulk-123@ok.example r@corp.example
sleep 0.5
check_eq "regex pattern sends to the hold queue" "$((before + 1))" "$(held_ids | wc -l)"
smtp e-tld $PLAIN x@shop.zip r@corp.example
f=$(delivered e-tld)
check "blocked TLD tags spam" grep -q "^X-Mxshield: spam; tld block list zip" "${f:-/dev/null}"

# ---- import: all or nothing, file:line errors, gzip ------------------------------
n0=$(mx --json sender list --list block | jq length)
cat > "$work/senders.csv" <<'EOF'
# sender,action,expires,comment
promo@beta.example,reject
bulk@bad.example,quarantine,7d,seen in a campaign
not-an-address,spam
EOF
check_fails "import with a bad line fails" mx sender import "$work/senders.csv" --list block
msg=$(mx sender import "$work/senders.csv" --list block 2>&1)
check "... naming file:line" grep -q "senders.csv:4: 'not-an-address': not an email address" <<<"$msg"
check_eq "... and imports nothing" "$n0" "$(mx --json sender list --list block | jq length)"
sed -i '/not-an-address/d' "$work/senders.csv"
gzip "$work/senders.csv"
check "gzip import" mx sender import "$work/senders.csv.gz" --list block
check_eq "... adds both" "$((n0 + 2))" "$(mx --json sender list --list block | jq length)"
check_eq "... with their actions and comments" "quarantine seen in a campaign" \
	"$(mx --json sender list --list block | jq -r '.[] | select(.value == "bulk@bad.example") | "\(.action) \(.comment)"')"

# ---- partner --skip ---------------------------------------------------------------
smtp skip-pol $BETA promo@beta.example r@corp.example
check "partner with --skip policy: envelope block not applied" delivered skip-pol
smtp noskip $GAMMA promo@beta.example r@corp.example
check "partner without --skip: envelope block applies" rejected noskip
smtp skip-spam $DELTA x@shop.zip r@corp.example
f=$(delivered skip-spam)
check "partner with --skip spam: delivered" test -n "$f"
check_fails "... without the spam headers" grep -q "^X-Spam-Flag" "${f:-/dev/null}"
smtp skip-spam-rej $DELTA x@ok.example ceo@corp.example
check "partner with --skip spam: a reject still applies" rejected skip-spam-rej

# ---- allow + SPF ---------------------------------------------------------------
smtp spf-pass $SPAMMY friend@spf-pass.example r@corp.example
f=$(delivered spf-pass)
check "allowed sender, SPF pass: delivered" test -n "$f"
check_fails "... not marked as spam" grep -q "^X-Spam-Flag" "${f:-/dev/null}"
smtp spf-fail $SPAMMY friend@spf-fail.example r@corp.example
f=$(delivered spf-fail)
check "allowed sender, SPF fail: still marked as spam" grep -q "^X-Spam-Flag: YES" "${f:-/dev/null}"
check "... and the log says why" grep -q "allow list friend@spf-fail.example ignored: SPF fail" "$policy_log"

# ---- trust ------------------------------------------------------------------------
smtp trust $TRUSTED x@evil.example r@corp.example
f=$(delivered trust)
check "trusted IP skips every check (blocked domain delivered)" test -n "$f"
check_fails "... without headers" grep -q "^X-Spam-Flag\|^X-Mxshield" "${f:-/dev/null}"

# ---- gateway / XCLIENT ------------------------------------------------------------
smtp xclient $GATEWAY a@ok.example r@corp.example --xclient-addr $REJECTED
check "via the gateway (XCLIENT) the original client's block applies" grep -q "550 5.7.1 .*mxshield: rejected (IP block list 198.51.100.20/32)" "$work/xclient.out"
smtp xclient-drop $GATEWAY a@ok.example r@corp.example --xclient-addr $DROPPED
check "via the gateway a NIC drop becomes a reject" rejected xclient-drop

# ---- monitor mode --------------------------------------------------------------------
mx mode monitor >/dev/null
smtp m-rej $REJECTED a@ok.example r@corp.example
f=$(delivered m-rej)
check "monitor: reject-tagged mail delivered" test -n "$f"
check "... with X-Mxshield-Monitor: would reject" grep -q "^X-Mxshield-Monitor: would reject" "${f:-/dev/null}"
smtp m-drop $DROPPED a@ok.example r@corp.example
check "monitor: the dropped source connects" accepted m-drop
mx mode enforce >/dev/null
smtp m-back $REJECTED a@ok.example r@corp.example
check "enforce again: rejected" rejected m-back

# ---- the policy service under garbage and load -----------------------------------------
pol() { ip netns exec "$MAIL" socat -t 3 - TCP:127.0.0.1:10040 2>/dev/null; }
printf 'request=smtpd_access_policy\0\nbad\n\n' | pol >/dev/null
head -c 100000 /dev/zero | tr '\0' 'A' | pol >/dev/null
printf 'request=smtpd_access_policy\nclient_address=198.51.' | pol >/dev/null
ans=$(printf 'garbage line\nno equals\n\n' | pol)
check_eq "malformed request answered DUNNO" "action=DUNNO" "$(head -1 <<<"$ans")"
head -c 20000 /dev/urandom | pol >/dev/null
check "survives NUL bytes, a 100 KB line, truncation, random bytes" kill -0 $policy_pid
check "the log names the bad input" grep -q "NUL byte in request\|larger than" "$policy_log"

req="request=smtpd_access_policy
protocol_state=RCPT
client_address=$REJECTED
sender=a@ok.example
recipient=r@corp.example
instance=load
"
clients=()
for c in $(seq 40); do
	(for _ in $(seq 25); do printf '%s\n' "$req"; done | pol | grep -c '^action=550' > "$work/load.$c") &
	clients+=($!)
done
wait "${clients[@]}"
total=$(cat "$work"/load.* | awk "{ s += \$1 } END { print s }")
check_eq "40 concurrent clients x 25 requests: every one answered correctly" 1000 "$total"
check "policy service alive after the load" kill -0 $policy_pid
rss=$(awk '/VmRSS/ { print $2 }' /proc/$policy_pid/status 2>/dev/null)
check "policy service memory bounded (VmRSS ${rss:-?} kB < 64 MB)" test "${rss:-999999}" -lt 65536
ans=$(printf '%s\n' "$req" | pol)
check_eq "still answering" "action=550 5.7.1 mxshield: rejected (IP block list 198.51.100.20/32)" "$(head -1 <<<"$ans")"

lab_finish
