#!/usr/bin/env bash
# The content milter with a real Postfix: Postfix in the mail namespace
# with `mxshield milter serve` on a unix socket (smtpd_milters) beside
# `mxshield policy serve` (check_policy_service); messages built here in
# several encodings and charsets, sent with swaks from the client
# namespace; the result seen where Postfix puts it: the delivered
# Maildir file, the hold queue, the client's 550.
source "$(dirname "$0")/lib.sh"

PLAIN=203.0.113.60 TRUSTED=203.0.113.70 BETA=203.0.113.51 DELTA=203.0.113.53
LAB_PORTS=8080 lab_up $PLAIN $TRUSTED $BETA $DELTA || { not_ok "lab setup"; exit 1; }

pf=$work/postfix
msock=$work/milter/milter.sock
milter_log=$work/milter.log
policy_log=$work/policy.log
mta_cleanup() {
	[ -n "${KEEP:-}" ] && cp -r "$work" "$KEEP"	# KEEP=DIR: keep the evidence
	ip netns exec "$MAIL" postfix -c "$pf/etc" stop >/dev/null 2>&1
	rm -rf "/etc/netns/$MAIL" "/etc/netns/$CL"
	lab_cleanup
}
trap mta_cleanup EXIT
# no DNS in the lab: lookups fail at once instead of timing out
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

# ---- rules ------------------------------------------------------------------
mx trust add $TRUSTED >/dev/null
mx partner add beta --ip $BETA --skip policy >/dev/null
mx partner add delta --ip $DELTA --skip spam >/dev/null
# a sender pattern as before this change: the policy service's, at RCPT
mx pattern add '^bulk-[0-9]+@' --type regex --action quarantine >/dev/null
check "a sender pattern is stored as before (no field)" \
	bash -c "grep 'value=^bulk' '$work/state/envelope' | grep -vq 'field='"
mx pattern add 'cheap pills' --field subject --action spam >/dev/null
mx pattern add 'Größe' --field content --action spam >/dev/null
mx pattern add 'привет мир' --field content --action reject >/dev/null
mx pattern add '未承諾広告' --field subject --action quarantine >/dev/null
mx pattern add 'ご案内' --field content --action spam >/dev/null
mx pattern add '\bwin\s+\d+\s*(usd|eur)\b' --field content --type regex --action spam >/dev/null
mx pattern add 'wire transfer now' --field content --action quarantine >/dev/null
check_fails "a regex that does not compile is refused" \
	mx pattern add '(unclosed' --field content --type regex
msg=$(mx pattern add '(unclosed' --field content --type regex 2>&1)
check "... with PCRE2's reason and the offset" grep -q "at offset 9: missing closing parenthesis" <<<"$msg"

# ---- the services --------------------------------------------------------------
mx policy serve --listen inet:127.0.0.1:10040 >"$policy_log" 2>&1 &
lab_pids+=($!)
mx milter serve --listen "unix:$msock" >"$milter_log" 2>&1 &
milter_pid=$!
lab_pids+=($milter_pid)
for _ in $(seq 50); do
	[ -S "$msock" ] && ip netns exec "$MAIL" ss -ltn | grep -q '127.0.0.1:10040 ' && break
	sleep 0.1
done
check "milter listening on its unix socket" test -S "$msock"
check_eq "... mode 0660, group postfix" "660 postfix" "$(stat -c '%a %G' "$msock")"

# msg NAME FILE: send FILE (headers and body) as it is, from $src (PLAIN)
send() {
	local name=$1 file=$2 src=${3:-$PLAIN} from=${4:-a@ok.example}
	ip netns exec "$CL" swaks --server 203.0.113.1 --local-interface "$src" --from "$from" \
		--to r@corp.example --data "@$file" --timeout 20 >"$work/$name.out" 2>&1
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
held() {	# held NAME: the hold queue has the message with X-Test: NAME
	local id
	for _ in $(seq 30); do
		for id in $(ip netns exec "$MAIL" postqueue -c "$pf/etc" -j | jq -r 'select(.queue_name == "hold") | .queue_id'); do
			ip netns exec "$MAIL" postcat -c "$pf/etc" -hq "$id" 2>/dev/null | grep -q "^X-Test: $1\$" && return 0
		done
		sleep 0.1
	done
	return 1
}
# mkmsg NAME SUBJECT CTYPE CTE BODY: a message file
mkmsg() {
	local f=$work/$1.eml
	printf 'From: a@ok.example\r\nTo: r@corp.example\r\nX-Test: %s\r\n' "$1" > "$f"
	[ -n "$2" ] && printf 'Subject: %s\r\n' "$2" >> "$f"
	printf 'MIME-Version: 1.0\r\nContent-Type: %s\r\n' "$3" >> "$f"
	[ -n "$4" ] && printf 'Content-Transfer-Encoding: %s\r\n' "$4" >> "$f"
	printf '\r\n%s\r\n' "$5" >> "$f"
	echo "$f"
}

# ---- subject and content, in encodings and charsets ------------------------------
send plain "$(mkmsg plain 'hello' 'text/plain; charset=us-ascii' '' 'nothing to see')"
f=$(delivered plain)
check "a clean message is delivered" test -n "$f"
check_fails "... without mxshield headers" grep -q "^X-Spam-Flag\|^X-Mxshield" "${f:-/dev/null}"

send subj "$(mkmsg subj 'Cheap PILLS here' 'text/plain' '' 'hi')"
f=$(delivered subj)
check "subject text pattern (case-insensitive): delivered with X-Spam-Flag: YES" \
	grep -q "^X-Spam-Flag: YES" "${f:-/dev/null}"
check "... and the reason header names the rule" \
	grep -q '^X-Mxshield-Reason: pattern subject "cheap pills"' "${f:-/dev/null}"

# ISO-8859-1, quoted-printable: "GRÖßE" folds to the pattern's "größe"
send qp "$(mkmsg qp 'x' 'text/plain; charset=iso-8859-1' quoted-printable 'Die GR=D6=DFE pa=\r\nsst')"
f=$(delivered qp)
check "content pattern in an ISO-8859-1 quoted-printable body (Ö folded)" \
	grep -q '^X-Mxshield-Reason: pattern content "größe"' "${f:-/dev/null}"

# UTF-8, base64, Cyrillic in capitals: rejected at the end of data
b64=$(printf 'Здравствуйте! ПРИВЕТ МИР, друзья.' | base64 -w 60)
send b64 "$(mkmsg b64 'x' 'text/plain; charset=utf-8' base64 "$b64")"
check "content pattern in a UTF-8 base64 body (Cyrillic folded): 550 at the client" rejected b64
check "... naming the rule" grep -q "550 5.7.1 mxshield: rejected (pattern content \"?????? ???\")" "$work/b64.out"

# ISO-2022-JP: an RFC 2047 Subject and the body
jsub=$(printf '【未承諾広告】セール' | iconv -f UTF-8 -t ISO-2022-JP | base64 -w 0)
jbody=$(printf 'セールのご案内です。\n' | iconv -f UTF-8 -t ISO-2022-JP)
send jp "$(mkmsg jp "=?ISO-2022-JP?B?$jsub?=" 'text/plain; charset=ISO-2022-JP' 7bit "$jbody")"
check "subject pattern in an ISO-2022-JP encoded-word: accepted" accepted jp
check "... and held (quarantine)" held jp
list=$(mx --json quarantine list --postfix-config "$pf/etc")
check "quarantine list shows it with its reason" \
	jq -e '.[] | select(.reason == "pattern subject \"未承諾広告\"")' <<<"$list"
jbody2=$(printf 'セールのご案内です。\n' | iconv -f UTF-8 -t ISO-2022-JP | base64 -w 60)
send jp2 "$(mkmsg jp2 'sale' 'text/plain; charset=ISO-2022-JP' base64 "$jbody2")"
f=$(delivered jp2)
check "content pattern in an ISO-2022-JP base64 body" \
	grep -q '^X-Mxshield-Reason: pattern content "ご案内"' "${f:-/dev/null}"

# HTML in multipart/alternative: the text of the HTML part (no text part)
html='<html><style>p{}</style><p>You <b>WIN</b> 500&nbsp;EUR</p><script>win 1 usd</script></html>'
mp=$(printf -- '--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n--B--' "$html")
send html "$(mkmsg html 'news' 'multipart/alternative; boundary="B"' '' "$mp")"
f=$(delivered html)
check "regex content pattern over HTML reduced to text" \
	grep -q '^X-Mxshield-Reason: pattern content "\\bwin' "${f:-/dev/null}"

# ---- empty mail ------------------------------------------------------------------------
send empty0 "$(mkmsg empty0 '' 'text/plain' '' '   ')"
f=$(delivered empty0)
check "empty mail with the rule off: delivered untouched" test -n "$f"
check_fails "... no headers" grep -q "^X-Mxshield" "${f:-/dev/null}"
mx content empty --action quarantine >/dev/null
send empty1 "$(mkmsg empty1 '' 'text/plain' '' '  ')"
check "empty mail (no subject, blank body): held" held empty1
att=$(printf -- '--B\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--B--')
send empty2 "$(mkmsg empty2 ' ' 'multipart/mixed; boundary="B"' '' "$att")"
check "blank subject and only an attachment: empty, held" held empty2
send notempty "$(mkmsg notempty 'hi' 'text/plain' '' '')"
check "a subject alone is not empty: delivered" delivered notempty
mx content empty --action off >/dev/null

# ---- who bypasses ----------------------------------------------------------------------
send trusted "$(mkmsg trusted 'cheap pills' 'text/plain' '' 'x')" $TRUSTED
f=$(delivered trusted)
check "trusted source: content rules bypassed" test -n "$f"
check_fails "... no headers" grep -q "^X-Spam-Flag\|^X-Mxshield" "${f:-/dev/null}"
send delta "$(mkmsg delta 'cheap pills' 'text/plain' '' 'x')" $DELTA
f=$(delivered delta)
check "partner with --skip spam: delivered without spam headers" test -n "$f"
check_fails "... none" grep -q "^X-Spam-Flag" "${f:-/dev/null}"
send delta2 "$(mkmsg delta2 'x' 'text/plain; charset=utf-8' '' 'привет мир')" $DELTA
check "partner with --skip spam: a content reject does not apply" delivered delta2
send beta "$(mkmsg beta 'x' 'text/plain; charset=utf-8' '' 'привет мир')" $BETA
check "partner with --skip policy: a content reject does not apply" delivered beta

# ---- the sender pattern (policy service) still works --------------------------------------
send bulk "$(mkmsg bulk 'x' 'text/plain' '' 'x')" $PLAIN bulk-42@ok.example
check "old sender pattern: held by the policy service" held bulk

# ---- expiry ---------------------------------------------------------------------------------
mx pattern add 'flash offer' --field subject --action spam --expires 4s >/dev/null
send exp1 "$(mkmsg exp1 'Flash offer' 'text/plain' '' 'x')"
f=$(delivered exp1)
check "an expiring pattern matches before its expiry" grep -q "^X-Spam-Flag: YES" "${f:-/dev/null}"
sleep 5
send exp2 "$(mkmsg exp2 'Flash offer' 'text/plain' '' 'x')"
f=$(delivered exp2)
check "... and not after it" test -n "$f"
check_fails "... no header" grep -q "^X-Spam-Flag" "${f:-/dev/null}"

# ---- monitor mode ---------------------------------------------------------------------------
mx mode monitor >/dev/null 2>&1
send mon "$(mkmsg mon 'x' 'text/plain; charset=utf-8' '' 'привет мир')"
f=$(delivered mon)
check "monitor mode: a content reject is delivered" test -n "$f"
check "... with X-Mxshield-Monitor: would reject" \
	grep -q '^X-Mxshield-Monitor: would reject (pattern content "привет мир")' "${f:-/dev/null}"
mx mode enforce >/dev/null 2>&1

# ---- within limits ------------------------------------------------------------------------
mx pattern add '(a+)+$' --field content --type regex --action reject >/dev/null
send evil "$(mkmsg evil 'x' 'text/plain' '' "$(printf 'a%.0s' $(seq 60))b")"
check "a catastrophic regex: the message is answered (accepted)" accepted evil
check "... and the match limit stopped it (logged, counted)" \
	grep -q "stopped at the match limit" "$milter_log"
mx pattern del '(a+)+$' --field content >/dev/null

big=$work/big.eml
{
	printf 'From: a@ok.example\r\nTo: r@corp.example\r\nX-Test: big\r\nSubject: big one\r\n'
	printf 'Content-Type: text/plain\r\n\r\nplease send the wire transfer now\r\n'
	yes 'filler line of a twenty megabyte message, nothing more to it at all.' | head -c 20000000
} > "$big"
send big "$big"
check "a 20 MB message is answered" accepted big
check "... the rule in its first 2 MiB applies (held)" held big
check "... and the capture bound is logged" grep -q "larger than the capture" "$milter_log"
check "the milter is still up" kill -0 $milter_pid

# ---- run by mxshield serve ([milter]), in a child it starts again --------------------
kill $milter_pid
wait $milter_pid 2>/dev/null
cat > "$work/serve.conf" <<EOF
[service]
log = stderr
[policy]
enabled = no
[sweep]
enabled = no
[milter]
enabled = yes
listen = unix:$msock
EOF
check "serve --check takes [milter]" mx serve --config "$work/serve.conf" --check
mx serve --config "$work/serve.conf" >"$work/serve.log" 2>&1 &
serve_pid=$!
lab_pids+=($serve_pid)
child() { pgrep -P "$(pgrep -P $serve_pid -x mxshield || echo $serve_pid)" -x mxs-milter; }
for _ in $(seq 50); do [ -n "$(child)" ] && [ -S "$msock" ] && break; sleep 0.1; done
check "serve runs the milter in a child process" test -n "$(child)"
check_eq "... with no capability left" "0000000000000000" \
	"$(awk '/^CapEff/ { print $2 }' /proc/"$(child)"/status 2>/dev/null)"
sleep 0.3
send s1 "$(mkmsg s1 'cheap pills again' 'text/plain' '' 'x')"
f=$(delivered s1)
check "... which checks the content" grep -q '^X-Mxshield-Reason: pattern subject "cheap pills"' "${f:-/dev/null}"
old=$(child)
kill -9 "$old"
for _ in $(seq 40); do c=$(child); [ -n "$c" ] && [ "$c" != "$old" ] && break; sleep 0.1; done
check "a killed milter is started again" test -n "$c" -a "$c" != "$old"
check "... and the log says so" grep -q "milter: killed by signal 9" "$work/serve.log"
kill "$(pgrep -P $serve_pid -x mxshield || echo $serve_pid)"
wait $serve_pid 2>/dev/null
# libmilter looks at its stop flag every few seconds
for _ in $(seq 100); do pgrep -x mxs-milter >/dev/null || break; sleep 0.1; done
check_fails "serve stops its milter" pgrep -x mxs-milter

lab_finish
