#!/usr/bin/env bash
# Automatic blocks (docs/auto.md) with a real Postfix in the lab's mail
# namespace, swaks from the client namespace, and `mxshield serve` with
# [auto] reading Postfix's maillog_file and answering its policy requests:
# - unknown recipients from one source fire a rule; the source is pushed
#   into the block list's "auto" source and its next SYN dies in XDP (a
#   real TCP connect fails, the block drop counter moves); lookup and
#   auto list name the rule and the evidence;
# - expiry: the block ends by itself; a repeat offence doubles, capped by
#   --max; the offences survive a restart of the service;
# - trust, partner and gateway sources are never blocked;
# - auto forget: the entry and the offences go, the source connects;
# - the log rotated by `postfix logrotate` and truncated in place: the
#   new lines are still read;
# - the policy service's own answers count (recipient rejects, spam);
# - SASL failures: real AUTH attempts Postfix (Cyrus SASL) fails and logs;
# - the journal: entries of postfix/smtpd in a journal directory written
#   by systemd-journal-remote (there is no journald here);
# - metrics: evidence by kind and origin, blocks by rule.
source "$(dirname "$0")/lib.sh"

PROBER=198.51.100.50 REPEAT=198.51.100.51 ROT1=198.51.100.52 ROT2=198.51.100.53
POLREJ=198.51.100.54 SPAMMER=198.51.100.55 SASLER=198.51.100.56 FORGET=198.51.100.57
TRUSTED=203.0.113.70 PARTNER=203.0.113.50 GATEWAY=203.0.113.80 JOURNALED=198.51.100.58
LAB_PORTS=8080 lab_up $PROBER $REPEAT $ROT1 $ROT2 $POLREJ $SPAMMER $SASLER $FORGET $TRUSTED \
	$PARTNER $GATEWAY || { not_ok "lab setup"; exit 1; }

pf=$work/postfix
in_mail() { ip netns exec "$MAIL" "$@"; }
auto_cleanup() {
	[ -n "${KEEP:-}" ] && cp -r "$work" "$KEEP"
	in_mail postfix -c "$pf/etc" stop >/dev/null 2>&1
	lab_cleanup
}
trap auto_cleanup EXIT

# ---- Postfix: one mailbox, SMTP AUTH (Cyrus SASL), the policy service ----
chmod 755 "$work"
# SMTP AUTH through Postfix's Cyrus SASL with no password store it can
# read here: every AUTH fails, and Postfix logs each failure itself
postfix_base "$pf"
mkdir -p "$pf/sasl"
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
# no DNS in the lab: no reverse lookups of the clients
smtpd_peername_lookup = no
virtual_mailbox_domains = corp.example
virtual_mailbox_base = $pf/mail
virtual_mailbox_maps = inline:{ alice@corp.example=inbox/ }
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $pf/sasl
smtpd_recipient_restrictions = permit_sasl_authenticated, reject_unauth_destination,
	check_policy_service inet:127.0.0.1:10040
EOF
check "postfix starts in the mail namespace" in_mail postfix -c "$pf/etc" start

# ---- mxshield: the filter, the lists, the rules ---------------------------
mx trust add $TRUSTED >/dev/null
mx gateway add $GATEWAY >/dev/null
mx partner add acme --ip $PARTNER >/dev/null
mx recipient add ceo@corp.example --action reject >/dev/null
mx tld add zip --action spam >/dev/null
check "attach native" mx attach mx0 --mode native
check "rule add: unknown recipients" mx auto rule add probe --on reject --count 3 --within 1m \
	--block 3s --max 10s
check "rule add: spam" mx auto rule add spammer --on spam --count 2 --within 1m --block 1h
check "rule add: SMTP AUTH failures" mx auto rule add auth --on auth-fail --count 3 \
	--within 1m --block 1h
check_fails "a rule without --block is refused" mx auto rule add x --on spam --count 2 --within 1m
check_fails "a --max below --block is refused" mx auto rule add x --on spam --count 2 \
	--within 1m --block 1h --max 1m
check_eq "rule list" "probe reject 3 60 3 10|spammer spam 2 60 3600 3600|auth auth-fail 3 60 3600 3600" \
	"$(mx --json auto rule list | jq -r '[.[] | "\(.name) \(.on) \(.count) \(.within) \(.block) \(.max)"] | join("|")')"

cat > "$work/serve.conf" <<EOF
[policy]
listen = inet:127.0.0.1:10040
[sweep]
interval = 1h
[metrics]
enabled = yes
listen = 127.0.0.1:9457
[auto]
enabled = yes
maillog_file = $pf/maillog
journal = $work/journal
EOF
mkdir -p "$work/journal"
svc=
serve_start() {
	ip netns exec "$MAIL" "$MXS" --state-dir "$work/state" --bpffs-dir "$bpffs" serve \
		--config "$work/serve.conf" --log stderr >>"$work/serve.log" 2>&1 &
	svc=$!
	lab_pids+=($svc)
	for _ in $(seq 50); do
		in_mail ss -ltn | grep -q '127.0.0.1:10040 ' && grep -q "auto: reading Postfix's log" \
			"$work/serve.log" && return 0
		sleep 0.1
	done
	return 1
}
check "serve with [auto] starts" serve_start

# probe SRC N [TAG]: one SMTP session from SRC with N unknown recipients
probe() {
	local to=
	for i in $(seq "$2"); do to+="${to:+,}nobody$i-${3:-x}@corp.example"; done
	ip netns exec "$CL" swaks --server 203.0.113.1 --local-interface "$1" --from a@ok.example \
		--to "$to" --timeout 4 --quit-after RCPT >"$work/probe-$1.out" 2>&1
}
# auto_entry SRC: its row of auto list --json (empty: none)
auto_entry() { mx --json auto list | jq -c --arg a "$1" '.[] | select(.address == $a)'; }
wait_entry() {
	for _ in $(seq 50); do [ -n "$(auto_entry "$1")" ] && return 0; sleep 0.1; done
	return 1
}
wait_gone() {
	for _ in $(seq 100); do [ -z "$(auto_entry "$1")" ] && return 0; sleep 0.1; done
	return 1
}
drops() { mx --json stats | jq -r '[.verdicts[] | select(.reason == "block" and .action == "drop") | .packets] | add // 0'; }

# ---- unknown recipients: blocked at the NIC -------------------------------
check "the prober connects before" can_connect $PROBER 25
probe $PROBER 3 a
check "3 unknown recipients fire the rule" wait_entry $PROBER
check "Postfix logged them as User unknown" \
	grep -q "reject: RCPT from .*\[$PROBER\]: 550 5.1.1 <nobody1-a@corp.example>.*User unknown" "$pf/maillog"
e=$(auto_entry $PROBER)
check_eq "auto list: rule, offence, 3 s" "probe 1 3" \
	"$(jq -r '"\(.rule) \(.offence) \(.expires - .blocked_at)"' <<<"$e")"
check "auto list: the comment names rule and evidence" \
	grep -q '^auto: rule probe: 3 reject in 1m, offence 1, last: RCPT to nobody3-a@corp.example 550 5.1.1$' \
	<<<"$(jq -r .comment <<<"$e")"
d0=$(drops)
check "its next SYN is dropped by XDP" cannot_connect $PROBER 25
check "... counted as a block drop" test "$(drops)" -gt "$d0"
check "lookup names the auto source" bash -c "ip netns exec $MAIL $MXS --state-dir $work/state \
	--bpffs-dir $bpffs lookup $PROBER | grep -q 'auto: rule probe'"
check "block list shows the source" bash -c "ip netns exec $MAIL $MXS --state-dir $work/state \
	--bpffs-dir $bpffs --json block list | jq -e '.[] | select(.prefix == \"$PROBER/32\") | .sources | index(\"auto\")' >/dev/null"
check "the service logged the block" grep -q "auto: blocking $PROBER until" "$work/serve.log"

# ---- expiry, doubling, the cap --------------------------------------------
sleep 3.2
check "the block expires by itself: it connects again" can_connect $PROBER 25
probe $PROBER 3 b
for _ in $(seq 50); do
	[ "$(auto_entry $PROBER | jq -r .offence)" = 2 ] && break
	sleep 0.1
done
check_eq "second offence: doubled to 6 s" "2 6" \
	"$(auto_entry $PROBER | jq -r '"\(.offence) \(.expires - .blocked_at)"')"
check "blocked again" cannot_connect $PROBER 25
# a restart in between: the offences are on disk
kill $svc; wait $svc 2>/dev/null
check "serve restarts" serve_start
sleep 5
check "the second block expires" can_connect $PROBER 25
probe $PROBER 3 c
for _ in $(seq 50); do
	[ "$(auto_entry $PROBER | jq -r .offence)" = 3 ] && break
	sleep 0.1
done
check_eq "third offence, after a restart: 12 s capped at --max 10 s" "3 10" \
	"$(auto_entry $PROBER | jq -r '"\(.offence) \(.expires - .blocked_at)"')"

# ---- never trust, partner, gateway ----------------------------------------
for src in $TRUSTED $PARTNER $GATEWAY; do probe $src 4 t; done
sleep 1
for src in $TRUSTED $PARTNER $GATEWAY; do
	check "$src (trust/partner/gateway) never blocked" test -z "$(auto_entry $src)"
	check "$src still connects" can_connect $src 25
done
check "the service says why" grep -q "auto: $TRUSTED not blocked: it is on the trust list" \
	"$work/serve.log"
check "... for the partner" grep -q "auto: $PARTNER not blocked: it is on the partner list" \
	"$work/serve.log"
check "... for the gateway" grep -q "auto: $GATEWAY not blocked: it is on the gateway list" \
	"$work/serve.log"

# ---- auto forget -----------------------------------------------------------
mx auto rule add forgetme --on reject --count 3 --within 1m --block 1h >/dev/null
sleep 1.2	# the service reads the rules again within a second
probe $FORGET 3 f
check "a 1h block" wait_entry $FORGET
check "blocked" cannot_connect $FORGET 25
check "auto forget" mx auto forget $FORGET
check "forgotten: no entry" test -z "$(auto_entry $FORGET)"
check "forgotten: no offence remembered" test -z "$(mx --json auto list --all | jq -c --arg a $FORGET '.[] | select(.address == $a)')"
check "forgotten: it connects at once" can_connect $FORGET 25
sleep 1.2
probe $FORGET 3 g
wait_entry $FORGET
check_eq "forgotten: the next block is a first offence" "1" "$(auto_entry $FORGET | jq -r .offence)"
mx auto forget $FORGET >/dev/null
mx auto rule del forgetme >/dev/null

# ---- rotation: postfix logrotate (rename), then copytruncate ---------------
in_mail postfix -c "$pf/etc" logrotate >/dev/null 2>&1
check "postfix logrotate renamed the log" bash -c "ls $pf/maillog.* >/dev/null 2>&1"
sleep 1.2
probe $ROT1 3 r
check "after a rename: the new file is read" wait_entry $ROT1
: > "$pf/maillog"
sleep 1.2
probe $ROT2 3 s
check "after a truncation: the file is read from its start" wait_entry $ROT2

# ---- the policy service's own answers --------------------------------------
ip netns exec "$CL" swaks --server 203.0.113.1 --local-interface $POLREJ --from a@ok.example \
	--to ceo@corp.example,ceo@corp.example,ceo@corp.example --timeout 4 --quit-after RCPT \
	>"$work/polrej.out" 2>&1
check "policy rejects (550 5.7.1) count as reject" wait_entry $POLREJ
check "... with the policy's answer as evidence" \
	grep -q "last: RCPT to ceo@corp.example: 550 5.7.1 mxshield: rejected" <<<"$(auto_entry $POLREJ | jq -r .comment)"
for i in 1 2; do
	ip netns exec "$CL" swaks --server 203.0.113.1 --local-interface $SPAMMER \
		--from "s$i@spam.zip" --to alice@corp.example --timeout 4 >"$work/spam$i.out" 2>&1
done
check "two spam verdicts fire the spam rule" wait_entry $SPAMMER
check_eq "... rule spammer" "spammer" "$(auto_entry $SPAMMER | jq -r .rule)"

# ---- SASL failures, real Cyrus SASL ----------------------------------------
for i in 1 2 3; do
	ip netns exec "$CL" swaks --server 203.0.113.1 --local-interface $SASLER \
		--from alice@corp.example --to alice@corp.example --auth LOGIN \
		--auth-user alice@corp.example --auth-password "wrong$i" --timeout 8 \
		>"$work/sasl$i.out" 2>&1
done
check "Postfix answered AUTH with a failure" grep -Eq "^<\\*\\* *[45][0-9][0-9] .*authentication failure" "$work/sasl1.out"
check "Postfix logged the SASL failures" grep -q "\[$SASLER\]: SASL LOGIN authentication failed" \
	"$pf/maillog"
check "3 SASL failures fire the auth rule" wait_entry $SASLER
check "... evidence: SASL LOGIN" grep -q "last: SASL LOGIN authentication failed" \
	<<<"$(auto_entry $SASLER | jq -r .comment)"

# ---- the journal (a directory written by systemd-journal-remote) -----------
for i in 1 2 3; do
	printf '__REALTIME_TIMESTAMP=%s000000\n__MONOTONIC_TIMESTAMP=%s\n_BOOT_ID=0123456789abcdef0123456789abcdef\nSYSLOG_IDENTIFIER=postfix/smtpd\nMESSAGE=warning: unknown[%s]: SASL PLAIN authentication failed: authentication failure\n\n' \
		"$(date +%s)" "$i" "$JOURNALED"
done >"$work/entries.export"
/lib/systemd/systemd-journal-remote --output="$work/journal/remote.journal" \
	"$work/entries.export" 2>/dev/null
check "journal entries of postfix/smtpd fire the auth rule" wait_entry $JOURNALED

# ---- metrics ----------------------------------------------------------------
m=$(in_mail curl -sS --max-time 3 http://127.0.0.1:9457/metrics)
check "metrics: unknown recipients from the log" grep -Eq '^mxshield_auto_evidence_total\{kind="reject",origin="maillog"\} (1[0-9]|[2-9][0-9])' <<<"$m"
check "metrics: policy rejects" grep -Eq '^mxshield_auto_evidence_total\{kind="reject",origin="policy"\} [3-9]' <<<"$m"
check "metrics: spam" grep -Eq '^mxshield_auto_evidence_total\{kind="spam",origin="policy"\} [2-9]' <<<"$m"
check "metrics: auth failures from the journal" grep -q '^mxshield_auto_evidence_total{kind="auth-fail",origin="journal"} 3$' <<<"$m"
check "metrics: blocks by rule" grep -q '^mxshield_auto_blocks_total{rule="spammer"} 1$' <<<"$m"
check "metrics: spared" grep -Eq '^mxshield_auto_spared_total [3-9]' <<<"$m"
check "metrics: tracked sources" grep -Eq '^mxshield_auto_tracked_sources [0-9]+$' <<<"$m"
grep mxshield_auto <<<"$m" >"$work/auto.prom"
if command -v promtool >/dev/null; then
	check "promtool accepts the families" bash -c "promtool check metrics <'$work/auto.prom'"
fi

kill $svc; wait $svc 2>/dev/null
check "state check: the auto files verify" mx state check
lab_finish
