#!/usr/bin/env bash
# Language rules with a real Postfix: Postfix in the mail namespace with
# `mxshield milter serve` (smtpd_milters) beside `mxshield policy serve`;
# the five test texts (tests/data/lang/: English, German, Spanish, Russian,
# Japanese, base64 in UTF-8, one also in ISO-2022-JP) sent with swaks. The
# result seen where Postfix puts it: the X-Mxshield-Language header in the
# delivered mail, the hold queue, the client's 550; allow and block rules,
# "other", the confidence threshold, trusted and partner bypass.
source "$(dirname "$0")/lib.sh"

PLAIN=203.0.113.60 TRUSTED=203.0.113.70 DELTA=203.0.113.53
LAB_PORTS=8080 lab_up $PLAIN $TRUSTED $DELTA || { not_ok "lab setup"; exit 1; }

pf=$work/postfix
msock=$work/milter/milter.sock
milter_log=$work/milter.log
data=$PWD/tests/data/lang
mta_cleanup() {
	[ -n "${KEEP:-}" ] && cp -r "$work" "$KEEP"	# KEEP=DIR: keep the evidence
	ip netns exec "$MAIL" postfix -c "$pf/etc" stop >/dev/null 2>&1
	rm -rf "/etc/netns/$MAIL" "/etc/netns/$CL"
	lab_cleanup
}
trap mta_cleanup EXIT
for ns in "$MAIL" "$CL"; do
	mkdir -p "/etc/netns/$ns"
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "/etc/netns/$ns/resolv.conf"
done
mkdir -p "$work/milter"
chmod 755 "$work/milter"

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
# the content milter: at the end of each message; fail open
smtpd_milters = unix:$msock
milter_default_action = accept
milter_protocol = 6
# the 20 MB message is taken
message_size_limit = 40000000
smtpd_peername_lookup = no
EOF
check "postfix starts in the mail namespace" ip netns exec "$MAIL" postfix -c "$pf/etc" start

mx trust add $TRUSTED >/dev/null
mx partner add delta --ip $DELTA --skip spam >/dev/null
mx policy serve --listen inet:127.0.0.1:10040 >"$work/policy.log" 2>&1 &
lab_pids+=($!)
mx milter serve --listen "unix:$msock" >"$milter_log" 2>&1 &
lab_pids+=($!)
for _ in $(seq 50); do
	[ -S "$msock" ] && ip netns exec "$MAIL" ss -ltn | grep -q '127.0.0.1:10040 ' && break
	sleep 0.1
done
check "milter listening" test -S "$msock"

# mkmsg NAME FILE [CHARSET]: the text of FILE as a base64 body (converted to CHARSET)
mkmsg() {
	local f=$work/$1.eml cs=${3:-utf-8}
	printf 'From: a@ok.example\r\nTo: r@corp.example\r\nX-Test: %s\r\nSubject: t-%s\r\n' "$1" "$1" > "$f"
	printf 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=%s\r\n' "$cs" >> "$f"
	printf 'Content-Transfer-Encoding: base64\r\n\r\n' >> "$f"
	iconv -f UTF-8 -t "$cs" "$2" | base64 -w 76 | sed 's/$/\r/' >> "$f"
	echo "$f"
}
send() {	# send NAME FILE [SRC]
	ip netns exec "$CL" swaks --server 203.0.113.1 --local-interface "${3:-$PLAIN}" \
		--from a@ok.example --to r@corp.example --data "@$2" --timeout 20 >"$work/$1.out" 2>&1
}
rejected() { grep -q '^<\*\* *550 5.7.1' "$work/$1.out"; }
accepted() { grep -q '^<- *250 2.0.0 Ok: queued' "$work/$1.out"; }
delivered() {
	local f
	for _ in $(seq 50); do
		f=$(grep -l "^X-Test: $1\$" "$pf"/mail/inbox/new/* 2>/dev/null | head -1)
		[ -n "$f" ] && { echo "$f"; return 0; }
		sleep 0.1
	done
	return 1
}
held() {
	local id
	for _ in $(seq 30); do
		for id in $(ip netns exec "$MAIL" postqueue -c "$pf/etc" -j | jq -r 'select(.queue_name == "hold") | .queue_id'); do
			ip netns exec "$MAIL" postcat -c "$pf/etc" -hq "$id" 2>/dev/null | grep -q "^X-Test: $1\$" && return 0
		done
		sleep 0.1
	done
	return 1
}
# lang FILE: the language and confidence of a delivered message's header
lang() { sed -n 's/^X-Mxshield-Language: //p' "${1:-/dev/null}"; }
confident() {	# confident FILE CODE: the header names CODE at 0.50 or more
	local v
	v=$(lang "$1")
	[ "${v%%;*}" = "$2" ] && awk -v c="${v##*=}" 'BEGIN { exit !(c >= 0.5) }'
}

# ---- no language rule: no detection, no header -------------------------------
send none "$(mkmsg none "$data/de.txt")"
f=$(delivered none)
check "no language rule: delivered" test -n "$f"
check_fails "... without X-Mxshield-Language" grep -q '^X-Mxshield-Language' "${f:-/dev/null}"

# ---- allow en, de; reject ru; other: quarantine ------------------------------
mx language add en --action allow >/dev/null
mx language add de --action allow >/dev/null
mx language add ru --action reject >/dev/null
mx language other --action quarantine >/dev/null
for l in en de; do
	send $l "$(mkmsg $l "$data/$l.txt")"
	f=$(delivered $l)
	check "$l (allowed): delivered" test -n "$f"
	check "... X-Mxshield-Language: $l with confidence >= 0.50 ($(lang "$f"))" confident "$f" $l
	check_fails "... not marked" grep -q '^X-Spam-Flag' "${f:-/dev/null}"
done
send ru "$(mkmsg ru "$data/ru.txt")"
check "ru (reject): 550 at the end of data" rejected ru
check "... naming the rule" grep -q '550 5.7.1 mxshield: rejected (language ru)' "$work/ru.out"
send es "$(mkmsg es "$data/es.txt")"
check "es (no rule, other quarantine): accepted" accepted es
check "... and held" held es
check "quarantine list names the reason" bash -c "mx --json quarantine list --postfix-config '$pf/etc' |
	jq -e '.[] | select(.reason == \"language es: not an allowed language\")'"
send ja "$(mkmsg ja "$data/ja.txt" ISO-2022-JP)"
check "ja in ISO-2022-JP (no rule): held" held ja

# ---- a block rule with spam, trusted and partner bypass ------------------------
mx language add ja --action spam >/dev/null
send ja2 "$(mkmsg ja2 "$data/ja.txt")"
f=$(delivered ja2)
check "ja (spam): delivered with X-Spam-Flag: YES" grep -q '^X-Spam-Flag: YES' "${f:-/dev/null}"
check "... the reason header names the rule" grep -q '^X-Mxshield-Reason: language ja' "${f:-/dev/null}"
check "... and the language header ($(lang "$f"))" confident "$f" ja
send trusted "$(mkmsg trusted "$data/ru.txt")" $TRUSTED
f=$(delivered trusted)
check "ru from a trusted source: delivered (rules bypassed)" test -n "$f"
send delta "$(mkmsg delta "$data/es.txt")" $DELTA
f=$(delivered delta)
check "es from a partner with --skip spam: delivered, not held" test -n "$f"

# ---- the threshold ---------------------------------------------------------------
mx language add ru --action spam >/dev/null
printf 'Спасибо, что пришли на совещание.\n' > "$work/short-ru.txt"
mx language threshold 1 >/dev/null
send short1 "$(mkmsg short1 "$work/short-ru.txt")"
f=$(delivered short1)
c=$(lang "$f")
check "a short ru text detected as ru below certainty ($c)" \
	awk -v v="$c" 'BEGIN { split(v, a, "; confidence="); exit !(a[1] == "ru" && a[2] < 1) }'
check_fails "... under threshold 1: no rule applied" grep -q '^X-Spam-Flag' "${f:-/dev/null}"
mx language threshold 0 >/dev/null
send short2 "$(mkmsg short2 "$work/short-ru.txt")"
f=$(delivered short2)
check "... under threshold 0: the ru rule applied" grep -q '^X-Mxshield-Reason: language ru' "${f:-/dev/null}"

# ---- other none: only the rules ----------------------------------------------------
mx language threshold 0.5 >/dev/null
mx language other --action none >/dev/null
send es2 "$(mkmsg es2 "$data/es.txt")"
f=$(delivered es2)
check "other none: es delivered" test -n "$f"
check "... with its language header ($(lang "$f"))" confident "$f" es

lab_finish
