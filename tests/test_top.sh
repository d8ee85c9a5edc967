#!/usr/bin/env bash
# mxshield top: the live view under tmux (a detached session of a fixed
# size on a socket of its own), fed by real TCP connection attempts from a
# blocked source, a spam-tagged source and a source in a country: the
# block/drop rate is positive, a country and an entry with hits show, the
# lines fit the window and follow a resize, q and the signals it handles
# give the terminal back. --once in a pipe; nothing loaded: exit 3.
source "$(dirname "$0")/lib.sh"

BLOCKED=203.0.113.20 SPAM=203.0.113.60 CN1=203.0.113.30 DE1=203.0.113.200
lab_up $BLOCKED $SPAM $CN1 $DE1 || { not_ok "lab setup"; exit 1; }

unset TMUX
TMUX_SOCK=mxtop-$$
tm() { tmux -L "$TMUX_SOCK" "$@"; }
top_cleanup() {
	tm kill-server 2>/dev/null
	lab_cleanup
}
trap top_cleanup EXIT

# --- nothing loaded
mx top --once >/dev/null 2>"$work/err"
check_eq "nothing loaded: top exits 3" 3 $?
check "nothing loaded: the message says so" grep -q "not loaded" "$work/err"

# --- the filter, a country database, traffic
scripts/make-test-mmdb.pl --schema geoip2 "$work/geo.mmdb" 2>/dev/null <<'EOF'
203.0.113.0/25      CN
203.0.113.128/25    DE
EOF
check "geo load" mx geo load "$work/geo.mmdb"
# (the data plane counts the countries that have a policy)
mx country add CN --action drop >/dev/null
mx country add DE --action spam >/dev/null
mx block add $BLOCKED --comment "test: top" >/dev/null
mx block add $SPAM --action spam >/dev/null
check "attach" mx attach mx0 --mode native

# Connection attempts, 25 a second from each source, without waiting for
# an answer (a dropped SYN gets none): every attempt is a new SYN.
ip netns exec "$CL" python3 - $BLOCKED $SPAM $CN1 $DE1 <<'EOF' &
import socket, sys, time
srcs, socks = sys.argv[1:], []
while True:
    for s in srcs:
        k = socket.socket()
        k.setblocking(False)
        k.bind((s, 0))
        k.connect_ex(("203.0.113.1", 25))
        socks.append((time.monotonic(), k))
    while socks and socks[0][0] < time.monotonic() - 0.5:
        socks.pop(0)[1].close()
    time.sleep(0.04)
EOF
lab_pids+=($!)
sleep 1.5

# --- --once in a plain pipe
once=$(mx top --once --interval 1 | cat)
sed 's/^/# /' <<<"$once"
rate=$(awk '$1 == "block" && $2 == "drop" {print $3}' <<<"$once")
check "--once: the block/drop row shows a positive rate ($rate/s)" \
	awk -v r="${rate:-0}" 'BEGIN { exit !(r + 0 > 0) }'
crate=$(awk '$1 == "block" && $2 == "drop" {print $4}' <<<"$once")
check "--once: the block/drop row shows new connections a second ($crate/s)" \
	awk -v r="${crate:-0}" 'BEGIN { exit !(r + 0 > 0) }'
check "--once: no escape sequences in a pipe" bash -c "! grep -q $'\e' <<<\"\$1\"" _ "$once"
check "--once: the blocked entry has hits, at a positive rate" \
	awk -v p="$BLOCKED/32" '$1 == "block" && $2 == p { ok = $3 + 0 > 0 && $4 + 0 > 0 } END { exit !ok }' <<<"$once"
check "--once: the spam-tagged source shows" grep -Eq "^ +$SPAM +spam +block +" <<<"$once"
check "--once: country DE counted" grep -Eq "^DE +[0-9.]+[kMG]? +[1-9]" <<<"$once"
check "--once: country CN drops at a positive rate" \
	awk '$1 == "country" && $2 == "drop" { ok = $3 + 0 > 0 } END { exit !ok }' <<<"$once"
check "--once: the DE source is tagged by its country" grep -Eq "^ +$DE1 +spam +country +" <<<"$once"
check "--once: policy decisions say n/a" grep -q "^POLICY DECISIONS: n/a" <<<"$once"
check "--once --count refused" test "$(mx top --once --count 2 >/dev/null 2>&1; echo $?)" = 2
check "--interval 0 refused" test "$(mx top --interval 0 >/dev/null 2>&1; echo $?)" = 2
json=$(mx --json top --once --interval 0.5)
check "--once --json: block drop rate > 0" \
	jq -e '[.verdicts[] | select(.reason == "block" and .action == "drop")][0].packets_per_s > 0' <<<"$json"
check "--once --json: block drop connections a second > 0, connections <= packets" \
	jq -e '[.verdicts[] | select(.reason == "block" and .action == "drop")][0] | .connections_per_s > 0 and .connections <= .packets' <<<"$json"
check "--once --json: DE among the countries" jq -e 'any(.countries[]; .country == "DE")' <<<"$json"
n=$(mx top --count 2 --interval 0.3 | grep -c '^mxshield top')
check_eq "--count 2 off a terminal: two plain frames" 2 "$n"

# --- live, under tmux
W=120 H=40
top_cmd="nsenter --net=/run/netns/$MAIL $MXS --state-dir $work/state --bpffs-dir $bpffs top"
tm new-session -d -x $W -y $H -s top "env -i PATH=$PATH TERM=xterm PS1='PROMPT\$ ' bash --norc --noprofile"
tm send-keys -t top "stty -a | grep -o -- '-\?icanon' > $work/stty.before" Enter
tm send-keys -t top "$top_cmd" Enter

# pane: the screen as it is now, wrapped lines joined (a line longer than
# the window comes out longer than the window)
pane() { tm capture-pane -p -J -t top; }
wait_for() {	# wait_for REGEX: up to 10 s for the pane to show it
	for _ in $(seq 50); do pane | grep -Eq "$1" && return 0; sleep 0.2; done
	return 1
}
fits() {	# fits COLS ROWS: every line of the pane within the window
	local s
	s=$(pane)
	awk -v w="$1" 'length($0) > w { bad = 1 } END { exit bad }' <<<"$s" &&
		[ "$(wc -l <<<"$s")" -le "$2" ]
}
rule_len() { pane | awk '/^-+$/ { print length($0); exit }'; }

check "top draws under tmux" wait_for "^block +drop +[0-9.]+[kMG]? "
sleep 2.2	# a frame over a full interval of traffic
screen=$(pane)
[ -n "${TOP_SHOW:-}" ] && sed 's/^/# /' <<<"$screen"
rate=$(awk '$1 == "block" && $2 == "drop" {print $3}' <<<"$screen")
check "live: the block/drop row shows a positive rate ($rate/s)" \
	awk -v r="${rate:-0}" 'BEGIN { exit !(r + 0 > 0) }'
check "live: a country with packets shows" grep -Eq "^(DE|CN) +[0-9.]+[kMG]? +[1-9]" <<<"$screen"
check "live: an entry with hits shows" grep -Eq "^block +$BLOCKED/32 " <<<"$screen"
check "live: q quits is shown" grep -q "(q quits)" <<<"$screen"
check "live: every line fits ${W} columns, ${H} rows" fits $W $H
check_eq "live: the rule spans the window" $W "$(rule_len)"
check "live: the shell's prompt is not on the screen (alternate screen)" \
	bash -c "! grep -q '^PROMPT' <<<\"\$1\"" _ "$screen"

# resize: the frame follows
tm resize-window -t top -x 64 -y 18
for _ in $(seq 25); do [ "$(rule_len)" = 64 ] && break; sleep 0.2; done
check_eq "resized: the rule spans the new width" 64 "$(rule_len)"
check "resized: every line fits 64 columns, 18 rows" fits 64 18
check "resized: the verdict rows are still there" grep -Eq "^block +drop " <<<"$(pane)"
tm resize-window -t top -x $W -y $H

# q: top ends, the shell's screen and mode come back
tm send-keys -t top q
check "q: the shell's prompt is back" wait_for "^PROMPT"
tm send-keys -t top "stty -a | grep -o -- '-\?icanon' > $work/stty.after" Enter
for _ in $(seq 25); do [ -s "$work/stty.after" ] && break; sleep 0.2; done
check_eq "q: the terminal's mode is restored" "$(cat "$work/stty.before")" "$(cat "$work/stty.after")"
check_eq "q: canonical mode again" icanon "$(cat "$work/stty.after")"
check "q: no top process left" bash -c "! pgrep -f '^$MXS .*--bpffs-dir $bpffs top'"

# a signal it handles: SIGTERM, and ^C (SIGINT) from the terminal
for how in TERM INT; do
	rm -f "$work/stty.after"
	tm send-keys -t top "clear; $top_cmd" Enter
	wait_for "^block +drop " || not_ok "top drawn again ($how)"
	if [ $how = TERM ]; then
		pkill -TERM -f "^$MXS .*--bpffs-dir $bpffs top"
	else
		tm send-keys -t top C-c
	fi
	wait_for "^PROMPT" || not_ok "the prompt after SIG$how"
	tm send-keys -t top "stty -a | grep -o -- '-\?icanon' > $work/stty.after" Enter
	for _ in $(seq 25); do [ -s "$work/stty.after" ] && break; sleep 0.2; done
	check_eq "SIG$how: the terminal's mode is restored" icanon "$(cat "$work/stty.after" 2>/dev/null)"
done

# unloaded while watching: top says so and exits 3
tm send-keys -t top "clear; $top_cmd; echo EXIT=\$?" Enter
wait_for "^block +drop " || not_ok "top drawn again (unload)"
mx unload >/dev/null
check "unloaded while watching: top exits 3" wait_for "^EXIT=3"
check "unloaded while watching: it says why" grep -q "not loaded: the filter was unloaded" <<<"$(pane)"

lab_finish
