#!/usr/bin/env bash
# `mxshield serve` with its parts wired in (docs/service.md, docs/operations.md),
# in the lab's mail namespace:
# - [metrics] enabled: the endpoint in serve's loop answers the filter's
#   families (promtool passes) and the service's own: the policy service's
#   answers per action (counted as requests are answered) and whether it
#   has IP verdicts; `metrics show` alone has none of them;
# - a scrape while a change holds the state directory's lock answers at
#   once with the previous figures, and the policy service answers too;
# - socket activation of both sockets by name (policy, metrics): served on
#   the passed sockets, nothing bound of its own; a socket of another name
#   is refused;
# - the filter not loaded: the policy service has no IP verdicts (gauge 0);
# - [events] enabled: the drop events of a blocked source reach the journal
#   (its native socket is the test's, in a private mount namespace) with
#   their structured fields, facility mail, priority notice for a drop;
#   the count logged is the kernel's emitted count; after unload and a new
#   load a reload reads the new ring buffer; with the stderr log each event
#   is one line.
source "$(dirname "$0")/lib.sh"

CLIENT=198.51.100.7 BLOCKED=198.51.100.20 DROPPED=198.51.100.30
lab_up $CLIENT $DROPPED || { not_ok "lab setup"; exit 1; }
in_mail() { ip netns exec "$MAIL" "$@"; }
MXA=("$MXS" --state-dir "$work/state" --bpffs-dir "$bpffs")
P1=10071 P2=10072 MP=9471 MP2=9472

req() {
	printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=%s\nsender=%s\nrecipient=r@corp.example\n\n' \
		"$1" "${2:-a@ok.example}"
}
ask() { req "$2" "${3:-}" | in_mail socat -t 3 - "TCP:127.0.0.1:$1" 2>/dev/null | head -1; }
listening() { in_mail ss -ltnH "sport = :$1" | grep -q .; }
scrape() { in_mail curl -sS --max-time 3 "http://127.0.0.1:$1/metrics"; }
sample() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print "none" }' <<<"$1"; }
# until SECONDS CMD...: until CMD succeeds
until_ok() {
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}
svc=
start() {	# start NAME CONF [ARGS...]: serve, logs to $work/NAME.log
	local name=$1 conf=$2
	shift 2
	ip netns exec "$MAIL" "${MXA[@]}" serve --config "$conf" --log stderr "$@" \
		>"$work/$name.log" 2>&1 &
	svc=$!
	lab_pids+=("$svc")
}
stop() { kill "$svc" 2>/dev/null; wait "$svc" 2>/dev/null; }
REJECT="action=550 5.7.1 mxshield: rejected (IP block list $BLOCKED/32)"

mx block add $BLOCKED --action reject >/dev/null
mx attach mx0 --mode generic >/dev/null

# ---- 1. the metrics endpoint in serve's loop ----------------------------------------
conf=$work/mxshield.conf
printf '[policy]\nlisten = inet:127.0.0.1:%s\n[sweep]\nenabled = no\n[metrics]\nenabled = yes\nlisten = 127.0.0.1:%s\n' \
	$P1 $MP >"$conf"
start main "$conf"
check "serve with [metrics] enabled: policy and metrics listen" \
	until_ok 10 bash -c "$(declare -f listening in_mail); MAIL=$MAIL; listening $P1 && listening $MP"
check "... and says where the metrics are" grep -q "metrics on http://127.0.0.1:$MP/metrics" "$work/main.log"
m=$(scrape $MP)
check "the document passes promtool check metrics" promtool check metrics <<<"$m"
check_eq "the filter's families are there (loaded 1)" 1 "$(sample "$m" mxshield_filter_loaded)"
check_eq "policy decisions start at 0 (reject)" 0 "$(sample "$m" 'mxshield_policy_decisions_total{action="reject"}')"
check_eq "the policy service has IP verdicts: 1" 1 "$(sample "$m" mxshield_policy_ip_verdicts)"
check_eq "serve: a blocked IP is rejected" "$REJECT" "$(ask $P1 $BLOCKED)"
check_eq "serve: another gets DUNNO" "action=DUNNO" "$(ask $P1 $CLIENT)"
check_eq "serve: again DUNNO" "action=DUNNO" "$(ask $P1 $CLIENT)"
m=$(scrape $MP)
check_eq "decisions counted: reject 1" 1 "$(sample "$m" 'mxshield_policy_decisions_total{action="reject"}')"
check_eq "decisions counted: dunno 2" 2 "$(sample "$m" 'mxshield_policy_decisions_total{action="dunno"}')"
check_eq "decisions counted: defer 0 (never a deferral)" 0 \
	"$(sample "$m" 'mxshield_policy_decisions_total{action="defer"}')"
check_eq "metrics show alone has no policy decisions" none \
	"$(sample "$(mx metrics show)" 'mxshield_policy_decisions_total{action="reject"}')"

# a change holding the lock: neither the policy service nor a scrape waits
in_mail flock -x "$work/state/.lock" sleep 20 &
holder=$!
lab_pids+=($holder)
until_ok 5 bash -c "! flock -n -s $work/state/.lock true"
check_eq "lock held by a change: the policy service answers" "$REJECT" "$(ask $P1 $BLOCKED)"
m=$(scrape $MP)
check_eq "lock held: a scrape answers (the previous filter figures)" 1 "$(sample "$m" mxshield_filter_loaded)"
check_eq "... and counts the busy scrape" 1 "$(sample "$m" mxshield_metrics_busy_scrapes_total)"
check_eq "... the decisions are live: reject 2" 2 \
	"$(sample "$m" 'mxshield_policy_decisions_total{action="reject"}')"
check "... both while the lock was still held" kill -0 $holder
kill $holder 2>/dev/null; wait $holder 2>/dev/null
stop

# ---- socket activation of both sockets, by name --------------------------------------
printf '[metrics]\nenabled = yes\nlisten = 127.0.0.1:%s\n[sweep]\nenabled = no\n' $MP >"$work/sa.conf"
ip netns exec "$MAIL" systemd-socket-activate -l 127.0.0.1:$P2 -l 127.0.0.1:$MP2 --fdname=policy:metrics \
	"${MXA[@]}" serve --config "$work/sa.conf" --log stderr >"$work/sa.log" 2>&1 &
svc=$!
lab_pids+=("$svc")
until_ok 5 bash -c "$(declare -f listening in_mail); MAIL=$MAIL; listening $P2 && listening $MP2"
check_eq "socket activation: the policy socket (named policy) answers" "$REJECT" "$(ask $P2 $BLOCKED)"
check_eq "socket activation: the metrics socket (named metrics) answers" 1 \
	"$(sample "$(scrape $MP2)" 'mxshield_policy_decisions_total{action="reject"}')"
check "... says so" grep -q "metrics on http://127.0.0.1:$MP2/metrics (socket from systemd)" "$work/sa.log"
check_fails "... and binds nothing of its own" listening $MP
stop
ip netns exec "$MAIL" timeout 10 systemd-socket-activate -l 127.0.0.1:$P2 -l 127.0.0.1:$MP2 \
	--fdname=policy:other "${MXA[@]}" serve --config "$work/sa.conf" --log stderr >"$work/bad.log" 2>&1 &
svc=$!
lab_pids+=("$svc")
until_ok 5 bash -c "$(declare -f listening in_mail); MAIL=$MAIL; listening $MP2"
in_mail curl -s --max-time 2 "http://127.0.0.1:$MP2/metrics" >/dev/null
wait $svc
check_eq "a socket named neither policy nor metrics: exit 1" 1 $?
out=$(cat "$work/bad.log")
check "a socket named neither policy nor metrics is refused" grep -q "systemd passed a socket named 'other'" <<<"$out"

# ---- 2. the drop-event log ---------------------------------------------------------
mx block add $DROPPED --action drop >/dev/null
mx attach mx0 --mode generic >/dev/null
mx events --rate 100 --per-source on --seconds 0 >/dev/null
journal=$work/journal.sock
journal_listen "$journal" "$work/journal.jsonl"
printf '[service]\nlog = journal\n[policy]\nenabled = no\n[sweep]\nenabled = no\n[metrics]\nenabled = yes\nlisten = 127.0.0.1:%s\n[events]\nenabled = yes\n' \
	$MP >"$work/ev.conf"
with_journal "$journal" "${MXA[@]}" serve --config "$work/ev.conf" >"$work/ev.log" 2>&1 &
svc=$!
lab_pids+=("$svc")
jq_n() { jq -s "$1" "$work/journal.jsonl"; }
EVID=55e875f930404e308976ea59a654679e
check "events: the service reads the ring buffer" until_ok 10 grep -q "reading the ring buffer" "$work/journal.jsonl"
check "events: $DROPPED (blocked, drop) cannot connect" cannot_connect $DROPPED 25
check "events: a drop event reaches the journal" until_ok 10 bash -c \
	"[ \"\$(jq -s 'map(select(.MESSAGE_ID == \"$EVID\")) | length' $work/journal.jsonl)\" -gt 0 ]"
first=$(jq -c -s "map(select(.MESSAGE_ID == \"$EVID\"))[0] | [.MXSHIELD_SOURCE, .MXSHIELD_PORT, .MXSHIELD_REASON, .MXSHIELD_ACTION, .MXSHIELD_DROPPED, .MXSHIELD_LIST, .MXSHIELD_RULE, .MXSHIELD_INTERFACE, .MXSHIELD_SYN]" "$work/journal.jsonl")
check_eq "events: the structured fields of the first (a SYN)" \
	"[\"$DROPPED\",\"25\",\"block\",\"drop\",\"1\",\"block\",\"$DROPPED/32\",\"mx0\",\"1\"]" "$first"
check_eq "events: facility mail, priority notice, identifier mxshield" '"2 5 mxshield"' \
	"$(jq_n "map(select(.MESSAGE_ID == \"$EVID\"))[0] | \"\(.SYSLOG_FACILITY) \(.PRIORITY) \(.SYSLOG_IDENTIFIER)\"")"
check "events: the message is the events line" jq -e -s \
	"map(select(.MESSAGE_ID == \"$EVID\"))[0].MESSAGE | startswith(\"drop event: mx0 drop from $DROPPED port 25 reason block rule $DROPPED/32 new-connection\")" \
	"$work/journal.jsonl"
check "events: an RFC 3339 time of the packet" jq -e -s \
	"map(select(.MESSAGE_ID == \"$EVID\"))[0].MXSHIELD_TIME | test(\"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$\")" \
	"$work/journal.jsonl"
# every event emitted was read and logged once: the kernel's count, the
# journal's, the service's counter
sleep 1
emitted=$(mx --json stats | jq .events.emitted)
logged=$(jq_n "map(select(.MESSAGE_ID == \"$EVID\")) | length")
check "events: some were emitted ($emitted)" test "$emitted" -gt 0
check_eq "events: the journal has each emitted event once" "$emitted" "$logged"
check_eq "events: mxshield_events_logged_total says so" "$emitted" \
	"$(sample "$(scrape $MP)" mxshield_events_logged_total)"
check_eq "events: mxshield_events_reader 1" 1 "$(sample "$(scrape $MP)" mxshield_events_reader)"
# the filter unloaded and loaded again: a new ring buffer, read after a reload
mx unload >/dev/null
mx attach mx0 --mode generic >/dev/null
kill -HUP "$svc"
check "events: after unload and a new load, a reload reads the new ring" until_ok 10 bash -c \
	"[ \"\$(grep -c 'reading the ring buffer' $work/journal.jsonl)\" -ge 2 ]"
n0=$(jq_n "map(select(.MESSAGE_ID == \"$EVID\")) | length")
cannot_connect $DROPPED 25
check "events: ... and its events are logged" until_ok 10 bash -c \
	"[ \"\$(jq -s 'map(select(.MESSAGE_ID == \"$EVID\")) | length' $work/journal.jsonl)\" -gt $n0 ]"
check_fails "events: nothing on standard error" test -s "$work/ev.log"
stop

# with the stderr log: one line an event
printf '[policy]\nenabled = no\n[sweep]\nenabled = no\n[events]\nenabled = yes\n' >"$work/ev2.conf"
start ev2 "$work/ev2.conf"
check "events (stderr): reading" until_ok 10 grep -q "reading the ring buffer" "$work/ev2.log"
# the data plane reports a source once a second (event_per_source): a
# restart quicker than that would see this SYN's event suppressed
sleep 1.2
cannot_connect $DROPPED 25
check "events (stderr): a line with the event and its time" until_ok 10 grep -qE \
	"drop event: mx0 drop from $DROPPED port 25 reason block rule $DROPPED/32 new-connection at [0-9-]+T[0-9:.]+Z" \
	"$work/ev2.log"
stop

# ---- the filter not loaded: no IP verdicts, said in the metrics -----------------------
mx unload >/dev/null
start nl "$conf"
until_ok 10 bash -c "$(declare -f listening in_mail); MAIL=$MAIL; listening $MP"
m=$(scrape $MP)
check_eq "filter not loaded: mxshield_policy_ip_verdicts 0" 0 "$(sample "$m" mxshield_policy_ip_verdicts)"
check_eq "filter not loaded: a listed IP gets DUNNO" "action=DUNNO" "$(ask $P1 $BLOCKED)"
stop
check_fails "serve loaded nothing" test -e "$bpffs/c_gen"

lab_cleanup
lab_finish
