#!/usr/bin/env bash
# `mxshield serve` (docs/service.md) in the lab's mail namespace:
# - bad configs are refused with FILE:LINE, exit 1, nothing listening; the
#   sample config passes --check;
# - the policy service answers Postfix requests; READY=1 reaches a
#   NOTIFY_SOCKET the test listens on (a python3 datagram socket);
# - SIGHUP: RELOADING=1 then READY=1; a changed config is applied (request
#   timeout, sweep interval: an expired entry is swept) while an open
#   policy connection keeps working; a restart-only key is reported, a bad
#   file on reload changes nothing;
# - the geo watch: the watched .mmdb replaced by mv, the new countries are
#   used (lookup changes); status shows the database's age and warns past
#   geo max-age (a database built in 2010);
# - socket activation: started by systemd-socket-activate -l, it serves on
#   the passed socket and binds nothing of its own;
# - the filter not loaded: DUNNO for a listed IP, envelope decisions still
#   made, never a 4xx; upkeep does not load the filter; a reload picks the
#   filter up once it is loaded;
# - SIGTERM: exit 0, the filter stays attached (same program id);
# - logs: to the journal's native socket (bound over /run/systemd/journal/
#   socket in a private mount namespace: PRIORITY, SYSLOG_FACILITY=2,
#   SYSLOG_IDENTIFIER), and on standard error without timestamps and with
#   <N> level prefixes when it is the JOURNAL_STREAM.
source "$(dirname "$0")/lib.sh"

CLIENT=198.51.100.7 BLOCKED=198.51.100.20 CN1=198.51.100.50
LAB_PORTS=8080 lab_up $CLIENT || { not_ok "lab setup"; exit 1; }
in_mail() { ip netns exec "$MAIL" "$@"; }
MXA=("$MXS" --state-dir "$work/state" --bpffs-dir "$bpffs")
P1=10061 P2=10062 P3=10063

req() {
	printf 'request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=%s\nsender=%s\nrecipient=r@corp.example\n\n' \
		"$1" "${2:-a@ok.example}"
}
# ask PORT CLIENT [SENDER]: the first line of the answer
ask() { req "$2" "${3:-}" | in_mail socat -t 3 - "TCP:127.0.0.1:$1" 2>/dev/null | head -1; }
listening() { in_mail ss -ltnH "sport = :$1" | grep -q .; }
REJECT="action=550 5.7.1 mxshield: rejected (IP block list $BLOCKED/32)"

# notify listener: every datagram one line, newlines as '|'
notify=$work/notify.sock
python3 - "$notify" "$work/notify.log" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        f.write(s.recv(65536).decode(errors="replace").replace("\n", "|") + "\n")
EOF
lab_pids+=($!)

svc=
# start NAME CONF [ARGS...]: serve in the background, logs to $work/NAME.log;
# 0 once READY=1 came (the notify log is cleared first)
start() {
	local name=$1 conf=$2
	shift 2
	: >"$work/notify.log"
	NOTIFY_SOCKET=$notify ip netns exec "$MAIL" "${MXA[@]}" serve --config "$conf" --log stderr \
		"$@" >"$work/$name.log" 2>&1 &
	svc=$!
	lab_pids+=("$svc")
	wait_for "READY=1" "$work/notify.log" 100
}
# wait_for TEXT FILE [TENTHS]: until FILE holds TEXT
wait_for() {
	for _ in $(seq "${3:-100}"); do
		grep -q "$1" "$2" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
stop() { kill "$svc" 2>/dev/null; wait "$svc" 2>/dev/null; }

# ---- bad configs: FILE:LINE, exit 1, nothing started ------------------------------
bad() {
	local name=$1 want=$2 f=$work/bad.conf out rc
	shift 2
	printf '%b' "$1" >"$f"
	shift
	out=$(in_mail "${MXA[@]}" serve --config "$f" --log stderr "$@" 2>&1)
	rc=$?
	if [ $rc -ne 1 ] || [[ "$out" != *"$want"* ]] || listening $P1; then
		not_ok "bad config refused: $name" "exit $rc, '$out'"
	else
		ok "bad config refused: $name"
	fi
}
L="[policy]\nlisten = inet:127.0.0.1:$P1\n"
bad "unknown key" "$work/bad.conf:3: unknown key 'bogus' in [policy]" "${L}bogus = 1\n"
bad "unknown section" "$work/bad.conf:4: unknown key 'x' in section [nosuch]" "${L}[nosuch]\nx = 1\n"
bad "bad duration" "$work/bad.conf:4: interval: 'five minutes': bad duration" \
	"${L}[sweep]\ninterval = five minutes\n"
bad "number out of range" "$work/bad.conf:3: max_conn: '0': expected a number from 1 to 1000000" \
	"${L}max_conn = 0\n"
bad "key twice" "$work/bad.conf:3: policy.listen given twice (first on line 2)" "${L}listen = unix:/x\n"
bad "not key = value" "$work/bad.conf:3: expected 'key = value', got 'max_conn 10'" "${L}max_conn 10\n"
bad "bad yes/no" "$work/bad.conf:4: enabled: 'on': expected yes or no" "${L}[sweep]\nenabled = on\n"
bad "relative listen path" "$work/bad.conf:2: listen: 'unix:sock': expected unix:/ABSOLUTE/PATH" \
	"[policy]\nlisten = unix:sock\n"
bad "a metrics address without a port" "$work/bad.conf:4: listen: 'nonsense': expected HOST:PORT" \
	"${L}[metrics]\nlisten = nonsense\n"
bad "a bad flag over a good file" "--sweep-interval: '5': duration needs a unit" "$L" --sweep-interval 5
out=$(in_mail "${MXA[@]}" serve --config "$work/none.conf" 2>&1)
check_eq "a missing --config file is refused" "mxshield: $work/none.conf: No such file or directory" "$out"
check "the sample config passes --check" "${MXA[@]}" serve --check --config scripts/mxshield.conf.sample
check_eq "--check: a flag over the file, with where it came from" "listen = unix:/run/p.sock	# --listen" \
	"$("${MXA[@]}" serve --check --config scripts/mxshield.conf.sample --listen unix:/run/p.sock | grep '^listen = unix')"

# ---- the policy service, readiness, reload ----------------------------------------
mx block add $BLOCKED --action reject >/dev/null
mx sender add spam@bad.example --list block --action reject >/dev/null
mx block add 198.51.100.99 --expires 2s --action drop >/dev/null
conf=$work/mxshield.conf
printf '[policy]\nlisten = inet:127.0.0.1:%s\nrequest_timeout = 10\n[sweep]\ninterval = 1h\n' $P1 >"$conf"
check "serve: READY=1 on the NOTIFY_SOCKET" start main "$conf"
check_eq "serve: STATUS= says what runs" "yes" \
	"$(grep -q "STATUS=policy on inet:127.0.0.1:$P1; sweeps every 1h" "$work/notify.log" && echo yes)"
check_eq "serve: answers a Postfix policy request (IP list)" "$REJECT" "$(ask $P1 $BLOCKED)"
check_eq "serve: answers DUNNO for a clean source" "action=DUNNO" "$(ask $P1 $CLIENT)"
check_eq "serve: envelope lists" "action=550 5.7.1 mxshield: rejected (sender block list spam@bad.example)" \
	"$(ask $P1 $CLIENT spam@bad.example | sed 's/ (sender block list.*/ (sender block list spam@bad.example)/')"

# an open connection through the reload (a coprocess holds it)
coproc PC { in_mail socat - "TCP:127.0.0.1:$P1" 2>/dev/null; }
lab_pids+=("$PC_PID")
req $BLOCKED >&"${PC[1]}"
read -r -t 5 first <&"${PC[0]}" && read -r -t 5 _ <&"${PC[0]}"
check_eq "open connection: answered before the reload" "$REJECT" "${first:-}"

sleep 2.5	# the 2 s entry has expired; the 1 h sweep has not come
printf '[policy]\nlisten = inet:127.0.0.1:%s\nrequest_timeout = 2\nmax_conn = 100\n[sweep]\ninterval = 1s\n' $P1 >"$conf"
: >"$work/notify.log"
kill -HUP "$svc"
check "SIGHUP: RELOADING=1 then READY=1" wait_for "READY=1" "$work/notify.log" 50
check_eq "SIGHUP: RELOADING=1 came first" "RELOADING=1" \
	"$(head -1 "$work/notify.log" | tr '|' '\n' | grep -m1 -o 'RELOADING=1\|READY=1')"
check "reload: the new request timeout applies" wait_for "policy limits now: requests within 2 s" "$work/main.log" 50
check "reload: a restart-only key is named, not applied" \
	grep -q "needs a restart to change: \[policy\] max_conn" "$work/main.log"
check "reload: the new sweep interval sweeps the expired entry" \
	wait_for "sweep: 1 expired entry removed" "$work/main.log" 50
check_eq "... and it is gone from the state" "0" \
	"$(mx --json block list | jq '[.[] | select(.prefix == "198.51.100.99/32")] | length')"
req $BLOCKED >&"${PC[1]}"
second=
read -r -t 5 second <&"${PC[0]}" && read -r -t 5 _ <&"${PC[0]}"
check_eq "open connection: still answered after the reload" "$REJECT" "${second:-}"
exec {PC[1]}>&-
# the live timeout: a partial request is closed after 2 s now, not 10
t0=$SECONDS
printf 'request=smtpd_access_policy\n' | in_mail socat -t 30 - "TCP:127.0.0.1:$P1" >/dev/null 2>&1
check "reload: a partial request closes at the new deadline (in $((SECONDS - t0)) s)" \
	test $((SECONDS - t0)) -lt 8

printf '[policy]\nlisten = inet:127.0.0.1:%s\nbogus = 1\n' $P1 >"$conf"
: >"$work/notify.log"
kill -HUP "$svc"
check "a bad config on reload: READY=1 again" wait_for "READY=1" "$work/notify.log" 50
check "... the error with FILE:LINE in the log" grep -q "$conf:3: unknown key 'bogus'" "$work/main.log"
check_eq "... and the service still serves" "$REJECT" "$(ask $P1 $BLOCKED)"
stop

# ---- the country database: watch, age, warning ---------------------------------
geo=$work/GeoIP
mkdir -p "$geo"
echo "$CN1/24 CN" | scripts/make-test-mmdb.pl "$geo/GeoLite2-Country.mmdb" 2>/dev/null
echo "${CN1%.*}.0/24 BR" | scripts/make-test-mmdb.pl --build-epoch 1262304000 "$work/old.mmdb" 2>/dev/null
mx country add CN --action reject >/dev/null
mx country add BR --action spam >/dev/null
printf '[policy]\nlisten = inet:127.0.0.1:%s\n[geo]\nwatch = %s\n' $P1 "$geo/GeoLite2-Country.mmdb" >"$conf"
check "serve with the geo watch" start geo "$conf"
lk() { mx --json lookup $CN1 | jq -r '"\(.verdict) \(.reason)"'; }
for _ in $(seq 100); do [ "$(lk)" = "reject country" ] && break; sleep 0.1; done
check_eq "geo watch: the database there at the start is loaded" "reject country" "$(lk)"
check_eq "status: a fresh database is not stale" "false 0" \
	"$(mx --json status | jq -r '"\(.geo.stale) \(.geo.age_seconds / 86400 | floor)"')"
cp "$work/old.mmdb" "$geo/.tmp.mmdb"
mv "$geo/.tmp.mmdb" "$geo/GeoLite2-Country.mmdb"	# as geoipupdate does
for _ in $(seq 100); do [ "$(lk)" = "spam country" ] && break; sleep 0.1; done
check_eq "geo watch: replaced by mv, the new countries are used" "spam country" "$(lk)"
check "... and logged" wait_for "geo watch: loaded $geo/GeoLite2-Country.mmdb" "$work/geo.log" 20
check_eq "status --json: the database's build date and stale" "1262304000 true 2592000" \
	"$(mx --json status | jq -r '"\(.geo.build_epoch) \(.geo.stale) \(.geo.max_age_seconds)"')"
check "status: warns past the limit" sh -c "'$MXS' --state-dir '$work/state' --bpffs-dir '$bpffs' status | grep -q 'warning: the country database is older than 30 days'"
check "status: shows the build date" sh -c "'$MXS' --state-dir '$work/state' --bpffs-dir '$bpffs' status | grep -q 'built 2010-01-01T00:00:00Z'"
mx geo max-age 20000d >/dev/null
check_eq "geo max-age 20000d: no longer stale" "false" "$(mx --json status | jq -r .geo.stale)"
printf '[policy]\nlisten = inet:127.0.0.1:%s\n[geo]\nwatch = %s\nmax_age = 7d\n' $P1 "$geo/GeoLite2-Country.mmdb" >"$conf"
kill -HUP "$svc"
for _ in $(seq 50); do [ "$(mx --json status | jq -r .geo.max_age_seconds)" = 604800 ] && break; sleep 0.1; done
check_eq "[geo] max_age in the config, applied on reload" "604800 true" \
	"$(mx --json status | jq -r '"\(.geo.max_age_seconds) \(.geo.stale)"')"
stop
out=$(mx geo check --max-age 30d "$work/old.mmdb" 2>&1)
check_eq "geo check --max-age refuses an old database" \
	"mxshield: $work/old.mmdb: built $(( ($(date +%s) - 1262304000) / 86400 )) days ago, older than --max-age 30d" \
	"$(grep '^mxshield:' <<<"$out")"

# ---- fetch-country-db.sh: a stale cache is not returned, a stale download not installed
cache=$work/cache
mkdir -p "$cache/pkg/package"
cp "$work/old.mmdb" "$cache/geo-whois-asn-country.mmdb"
cp "$work/old.mmdb" "$cache/pkg/package/geo-whois-asn-country.mmdb"
tar -czf "$work/old.tgz" -C "$cache/pkg" package
out=$(MXSHIELD=$MXS scripts/fetch-country-db.sh --package "$work/old.tgz" "$cache" 2>&1)
check_eq "fetch-country-db: a stale cache and a stale download: exit 1" "1" "$?"
check "... saying why" grep -q "the fetched database is refused, nothing installed" <<<"$out"
check "... the copy there untouched" cmp -s "$work/old.mmdb" "$cache/geo-whois-asn-country.mmdb"
echo "192.0.2.0/24 DE" | scripts/make-test-mmdb.pl "$cache/pkg/package/geo-whois-asn-country.mmdb" 2>/dev/null
tar -czf "$work/new.tgz" -C "$cache/pkg" package
check_eq "fetch-country-db: a fresh download replaces the stale copy" "$cache/geo-whois-asn-country.mmdb" \
	"$(MXSHIELD=$MXS scripts/fetch-country-db.sh --package "$work/new.tgz" "$cache" 2>/dev/null)"
check "... the new database" cmp -s "$cache/pkg/package/geo-whois-asn-country.mmdb" \
	"$cache/geo-whois-asn-country.mmdb"
cp "$work/old.mmdb" "$cache/geo-whois-asn-country.mmdb"
printf 'not a database' >"$cache/pkg/package/geo-whois-asn-country.mmdb"
tar -czf "$work/bad.tgz" -C "$cache/pkg" package
check_fails "fetch-country-db: an invalid download is refused" \
	env MXSHIELD="$MXS" scripts/fetch-country-db.sh --package "$work/bad.tgz" "$cache"
check "... the copy there untouched" cmp -s "$work/old.mmdb" "$cache/geo-whois-asn-country.mmdb"

# ---- socket activation ---------------------------------------------------------
printf '[policy]\nlisten = inet:127.0.0.1:%s\n[sweep]\nenabled = no\n' $P3 >"$conf"
: >"$work/notify.log"
ip netns exec "$MAIL" env NOTIFY_SOCKET="$notify" systemd-socket-activate -l 127.0.0.1:$P2 \
	"${MXA[@]}" serve --config "$conf" --log stderr >"$work/sa.log" 2>&1 &
svc=$!
lab_pids+=("$svc")
for _ in $(seq 50); do listening $P2 && break; sleep 0.1; done
check_eq "socket activation: answers on the passed socket" "$REJECT" "$(ask $P2 $BLOCKED)"
check "... says so" grep -q "listening on inet:127.0.0.1:$P2 (socket from systemd)" "$work/sa.log"
check_fails "... and binds nothing of its own" listening $P3
stop

# ---- SIGTERM leaves the filter attached -------------------------------------------
mx attach mx0 --mode generic >/dev/null
prog=$(mx --json status | jq -r .prog_id)
printf '[policy]\nlisten = inet:127.0.0.1:%s\n' $P1 >"$conf"
start term "$conf" >/dev/null
kill -TERM "$svc"
wait "$svc"
check_eq "SIGTERM: exit 0" "0" "$?"
check "SIGTERM: logged" grep -q "stopping (the filter stays attached)" "$work/term.log"
check_eq "SIGTERM: the filter is still attached, the same program" "true $prog" \
	"$(mx --json status | jq -r '"\(.interfaces[0].attached) \(.prog_id)"')"
check "... and still drops the blocked source" cannot_connect $BLOCKED 8080
mx detach mx0 >/dev/null

# ---- the filter not loaded; logs to the journal ----------------------------------
mx block add 198.51.100.98 --expires 2s --action drop >/dev/null
mx unload >/dev/null
sleep 2
journal=$work/journal.sock
journal_listen "$journal" "$work/journal.jsonl"
printf '[service]\nlog = journal\n[policy]\nlisten = inet:127.0.0.1:%s\n[sweep]\ninterval = 1s\n' $P1 >"$conf"
: >"$work/notify.log"
# a private mount namespace: the test's socket is the journal there only
NOTIFY_SOCKET=$notify with_journal "$journal" "${MXA[@]}" serve --config "$conf" \
	>"$work/nl.log" 2>&1 &
svc=$!
lab_pids+=("$svc")
check "filter not loaded: serve starts" wait_for "READY=1" "$work/notify.log" 100
check_eq "filter not loaded: a listed IP gets DUNNO (no IP verdicts)" "action=DUNNO" "$(ask $P1 $BLOCKED)"
check_eq "filter not loaded: the envelope lists still decide" "action=550" \
	"$(ask $P1 $CLIENT spam@bad.example | cut -d' ' -f1)"
check "filter not loaded: the sweep removes from the state" \
	wait_for "sweep: 1 expired entry removed (from the state: the filter is not loaded)" "$work/journal.jsonl" 50
check_fails "filter not loaded: upkeep did not load it" test -e "$bpffs/c_gen"
jq_has() { jq -e -s "$1" "$work/journal.jsonl" >/dev/null; }
check "journal: the warning, PRIORITY=4, facility mail, identifier mxshield" jq_has \
	'map(select(.PRIORITY == "4" and .SYSLOG_FACILITY == "2" and .SYSLOG_IDENTIFIER == "mxshield" and (.MESSAGE | contains("the filter is not loaded")))) | length > 0'
check "journal: decisions at PRIORITY=6" jq_has \
	'map(select(.PRIORITY == "6" and (.MESSAGE | test("client='$CLIENT' .* -> 550")))) | length > 0'
check_fails "journal: nothing on standard error" test -s "$work/nl.log"
mx block add 198.51.100.21 --action reject >/dev/null	# loads the filter
kill -HUP "$svc"
check "filter loaded later: a reload picks it up" wait_for "the filter is loaded now" "$work/journal.jsonl" 50
check_eq "... and the IP verdicts are back" "$REJECT" "$(ask $P1 $BLOCKED)"
stop
check_fails "no answer was ever a deferral (4xx)" grep -q '"MESSAGE": "client=.* -> 4' "$work/journal.jsonl"

# ---- policy serve alone: stderr as a journal stream -------------------------------
touch "$work/js.log"
js=$(stat -c '%d:%i' "$work/js.log")
JOURNAL_STREAM=$js ip netns exec "$MAIL" "${MXA[@]}" policy serve --listen inet:127.0.0.1:$P1 \
	2>>"$work/js.log" &
svc=$!
lab_pids+=("$svc")
wait_for "listening on" "$work/js.log" 50
check_eq "policy serve on a journal stream: <6> prefix, no timestamp" \
	"<6>listening on inet:127.0.0.1:$P1" "$(grep -m1 -o '^<6>listening on [^ ]*' "$work/js.log")"
check_fails "... no line with a timestamp" grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' "$work/js.log"
stop

lab_cleanup
pids=$(pgrep -f "$work" || true)
check_eq "test_serve left no namespace or controller process behind" "" "$(ip netns list | grep -e "$MAIL" -e "$CL")$pids"
lab_finish
