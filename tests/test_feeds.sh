#!/usr/bin/env bash
# Feeds (docs/feeds.md) against a real HTTP and HTTPS server of the test's
# own (tests/feed-server.py) in the client namespace, TLS from a test CA
# made here with openssl:
# - two feeds and a manual entry sharing prefixes: each feed is a source of
#   the block list, the manual entry decides its prefix, lookup names every
#   source, real connections from listed sources die at the NIC;
# - conditional GET (ETag: 304, nothing rebuilt), gzip Content-Encoding,
#   TLS verified (refused without --cacert);
# - every failure keeps the last good copy and records the error: HTTP
#   500, a body cut short, a gzip stream cut, a slow server past the
#   timeout, a body past the size limit (with and without a length), a bad
#   line, too few entries, a shrink past the limit (until --force);
# - del of one feed keeps a prefix another still lists; a good refresh
#   changes exactly that feed's entries; a restore keeps every feed;
# - feed list, status and the metrics show age, entries, last success and
#   the last error; `feed update --due`; mxshield serve refreshes a feed
#   that falls due, and its metrics endpoint shows it.
source "$(dirname "$0")/lib.sh"

SRV=198.51.100.10
lab_up $SRV 192.0.2.10 192.0.2.40 192.0.2.50 192.0.2.70 192.0.2.100 || { not_ok "lab setup"; exit 1; }
root=$work/www
mkdir -p "$root"
slog=$work/server.log
touch "$slog"

# a test CA and a server certificate for the server's address
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-keyout "$work/ca.key" -out "$work/ca.pem" -subj /CN=mxshield-test-ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
	-keyout "$work/srv.key" -out "$work/srv.csr" -subj "/CN=$SRV" 2>/dev/null
printf 'subjectAltName=IP:%s\nbasicConstraints=CA:FALSE\n' $SRV >"$work/srv.ext"
openssl x509 -req -in "$work/srv.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
	-CAcreateserial -days 2 -out "$work/srv.pem" -extfile "$work/srv.ext" 2>/dev/null
check "test CA and server certificate" openssl verify -CAfile "$work/ca.pem" "$work/srv.pem"

srv() {
	ip netns exec "$CL" /usr/bin/python3 "$(dirname "$0")/feed-server.py" --root "$root" --bind $SRV \
		--log "$slog" "$@" >"$work/server-$1$2.err" 2>&1 &
	lab_pids+=($!)
}
srv --port 8000
srv --port 8443 --cert "$work/srv.pem" --key "$work/srv.key"
up=no
for _ in $(seq 300); do
	ip netns exec "$CL" ss -ltn | grep -q ":8443 " && ip netns exec "$CL" ss -ltn | grep -q ":8000 " &&
		up=yes && break
	sleep 0.1
done
check_eq "the feed server listens (http 8000, https 8443)" yes "$up"

HTTP=http://$SRV:8000 HTTPS=https://$SRV:8443
# put NAME [MODE] < content: what the server serves as NAME, and how
put() { cat >"$root/$1.new"; mv "$root/$1.new" "$root/$1"; echo "${2:-ok}" >"$root/$1.mode"; }
mode() { echo "$2" >"$root/$1.mode"; }
fj() { mx --json feed list | jq -r --arg n "$1" ".[] | select(.name == \$n) | $2"; }
# verdict ADDR: "VERDICT SOURCE,SOURCE" of the deciding entry
verdict() {
	mx --json lookup "$1" | jq -r '.verdict + " " + ([(.matches[] | select(.decides) |
		.sources[]?.source)] | join(","))'
}
# sources: every prefix of the block list with its sources, one a line
sources() { mx --json block list | jq -r '.[] | .prefix + " " + (.sources | join(","))'; }
served() { grep -c "^/$1 $2 " "$slog"; }

check "attach mx0" mx attach mx0 --mode generic
check "manual entry 192.0.2.0/28 (spam)" mx block add 192.0.2.0/28 --action spam --comment mine

put a.txt <<'EOF'
# feed a
192.0.2.0/28 ; SBL1
192.0.2.32/28 ; SBL2
2001:db8:a::/48
EOF
put b.txt gzip <<'EOF'
192.0.2.32/28
192.0.2.48/28
EOF
check "feed add a (http)" mx feed add a $HTTP/a.txt
check "feed add b (https, private CA)" mx feed add b $HTTPS/b.txt --cacert "$work/ca.pem"
check_fails "feed add: a name that is no source name" mx feed add 'x/y' $HTTP/a.txt
check_fails "feed add: a name twice" mx feed add a $HTTP/a.txt
out=$(mx feed add tr $HTTP/a.txt --list trust --action drop 2>&1); rc=$?
check_eq "feed add: --action on a list without actions is a usage error" 2 $rc
check "feed add nocert (https, system CAs)" mx feed add nocert $HTTPS/b.txt
out=$(mx feed update nocert 2>&1)
if [[ $out == *FAILED* ]] && grep -qiE 'certificate|SSL' <<<"$(fj nocert .error)"; then
	ok "TLS verified: the test CA's certificate is refused without --cacert"
else
	not_ok "TLS verified: the test CA's certificate is refused without --cacert" "$out"
fi
check "feed del nocert" mx feed del nocert

check "feed update (all)" mx feed update
check_eq "feed a: 3 entries, b: 2" "3 2" "$(fj a .entries) $(fj b .entries)"
check_eq "b's copy came gzip-encoded, kept as it came (verified whole when read)" "gzip gz" \
	"$(cat "$root/b.txt.mode") $(head -c2 "$work/state/feed.d/b.last" | od -An -tx1 | grep -q '1f 8b' && echo gz || echo text)"
check_eq "the manual entry decides its prefix; lookup names both sources" \
	"spam manual,feed:a" "$(verdict 192.0.2.5)"
check_eq "a prefix of two feeds: one rule, both sources" "drop feed:a,feed:b" "$(verdict 192.0.2.40)"
check_eq "feed b alone" "drop feed:b" "$(verdict 192.0.2.50)"
check_eq "IPv6 from feed a" "drop feed:a" "$(verdict 2001:db8:a::1)"
check_eq "the comment of a DROP-style line is the entry's" "SBL2" \
	"$(mx --json lookup 192.0.2.40 | jq -r '.matches[0].sources[] | select(.source == "feed:a") | .comment')"
check "packets: 192.0.2.40 (feeds a, b) dropped at the NIC" cannot_connect 192.0.2.40 25
check "packets: 192.0.2.50 (feed b) dropped" cannot_connect 192.0.2.50 25
check "packets: 192.0.2.100 (no feed) connects" can_connect 192.0.2.100 25

# conditional GET: nothing changed, nothing rebuilt
build_of() { mx metrics show 2>/dev/null | awk '$1 == "mxshield_build_generation" { print $2 }'; }
b0=$(build_of)
out=$(mx feed update a b)
check_eq "update again: both unchanged" "2" "$(grep -c unchanged <<<"$out")"
check "the server answered 304 to If-None-Match (a)" grep -qE '^/a.txt 304 "' "$slog"
check "the server answered 304 to If-None-Match (b, https)" grep -qE '^/b.txt 304 "' "$slog"
check_eq "a 304 rebuilds nothing" "$b0" "$(build_of)"
check_eq "... and counts as a success" "" "$(fj a .error)"

# failures of feed a: each keeps the last good copy and records the error
SNAP=$(sources)
failure() {	# failure NAME FEED ERROR-PATTERN [update options]
	local name=$1 feed=$2 pat=$3 n0 out
	shift 3
	n0=$(fj "$feed" .failures)
	out=$(mx feed update "$feed" "$@" 2>&1)
	if [[ $out == *FAILED* ]] && grep -qE "$pat" <<<"$(fj "$feed" .error)"; then
		ok "$name: refused ($(fj "$feed" .error | cut -c1-90))"
	else
		not_ok "$name: refused with /$pat/" "$out / error: $(fj "$feed" .error)"
	fi
	check_eq "$name: failure counted, time recorded" "$((n0 + 1)) yes" \
		"$(fj "$feed" .failures) $([ "$(fj "$feed" .last_error_time)" -ge "$(date -d '-1 min' +%s)" ] && echo yes)"
	check_eq "$name: the last good copy stays (every prefix and source)" "$SNAP" "$(sources)"
	check_eq "$name: no temporary file left" "" "$(ls "$work/state/feed.d/" | grep '\.tmp$')"
}
mode a.txt 500
failure "HTTP 500" a 'HTTP 500'
mode a.txt cut
# (the same bytes again would be a 304: --force asks unconditionally)
failure "a body cut short of its Content-Length" a 'truncated' --force
printf '192.0.2.0/28\n192.0.2.32/28\n2001:db8:a::/48\n198.51.100.0/24\n203.0.113.128/25\n' | put a.txt gzcut
failure "a gzip Content-Encoding cut short" a 'truncated or damaged gzip stream'
printf '192.0.2.0/28\n192.0.2.32/28\nnot-an-address\n2001:db8:a::/48\n' | put a.txt
failure "a file with a bad line" a 'a.txt:3:'
check "the last good copy is on disk" test -s "$work/state/feed.d/a.last"
check_eq "after the failures, a still drops 192.0.2.40" "drop feed:a,feed:b" "$(verdict 192.0.2.40)"
check_eq "feed list shows the last error" yes \
	"$(mx feed list | grep -q "error .*a.txt:3: 'not-an-address'" && echo yes)"
check_eq "status shows it failing" yes "$(mx status | grep -qE '^  a +block +3 entries.*FAILING: .*a.txt:3' && echo yes)"
m=$(mx metrics show 2>/dev/null)
check_eq "metrics: a's entries, failing, failures, age" "3 1 4 yes" \
	"$(awk '$1 == "mxshield_feed_failing{feed=\"a\"}" || $1 == "mxshield_feed_failures_total{feed=\"a\"}" || $1 == "mxshield_feed_entries{feed=\"a\",list=\"block\"}" { printf "%s ", $2 }' <<<"$m")$(grep -qE '^mxshield_feed_age_seconds\{feed="a"\} [0-9]' <<<"$m" && echo yes)"

# shrink: a grows to 10, then comes back with 2 (more than 50% less)
{ printf '192.0.2.0/28\n192.0.2.32/28\n2001:db8:a::/48\n'; for i in $(seq 1 7); do echo "203.0.113.$((i * 16))/28"; done; } | put a.txt
check "a good copy of 10 entries" mx feed update a
check_eq "a: 10 entries, the error cleared, the last one kept" "10||a.txt:3" \
	"$(fj a .entries)|$(fj a .error)|$(fj a .last_error | grep -o 'a.txt:3')"
SNAP=$(sources)
printf '192.0.2.0/28\n192.0.2.32/28\n' | put a.txt
failure "a shrink past --max-shrink (50%)" a 'shrinks by more than 50%'
check "--force takes the shrink" mx feed update a --force
check_eq "a: 2 entries after --force" 2 "$(fj a .entries)"

# a feed with tight limits: timeout 2s, 2k, at least 2 entries
printf '192.0.2.64/28\n192.0.2.80/28\n192.0.2.96/28\n' | put t.txt
check "feed add t --timeout 2s --max-size 2k --min-entries 2" \
	mx feed add t $HTTP/t.txt --timeout 2s --max-size 2k --min-entries 2
check "t: a good copy" mx feed update t
SNAP=$(sources)
mode t.txt slow
failure "a slow server past --timeout" t 'timed out' --force
seq 1 200 | sed 's|.*|192.0.2.&/32|' | sed 's|192.0.2.\([0-9]*\)/32|198.51.100.\1/32|' | put t.txt
failure "a body larger than --max-size (Content-Length)" t 'size limit'
mode t.txt chunked
failure "a body larger than --max-size (chunked, aborted)" t 'size limit'
printf '192.0.2.64/28\n' | put t.txt
failure "fewer than --min-entries" t 'fewer than its minimum \(2\)'

# a gzip file (not an encoding): read whole and verified, a cut one refused
printf '192.0.2.112/28\n192.0.2.128/28\n' | gzip -c | put g.gz
check "feed add g (a .gz file)" mx feed add g $HTTP/g.gz
check "g: a good copy (gzip file)" mx feed update g
check_eq "g: 2 entries" 2 "$(fj g .entries)"
SNAP=$(sources)
seq 1 300 | sed 's|.*|198.51.100.&/32|' | head -250 | gzip -c | head -c 300 | put g.gz
failure "a gzip file cut short" g 'gzip|cut|end'

# del a feed: a prefix another still lists stays; the manual entry stays
check "feed del a" mx feed del a
check_eq "192.0.2.40: still dropped, by feed b alone" "drop feed:b" "$(verdict 192.0.2.40)"
check_eq "192.0.2.5: the manual entry alone" "spam manual" "$(verdict 192.0.2.5)"
check_eq "2001:db8:a::1: gone with feed a" pass "$(mx --json lookup 2001:db8:a::1 | jq -r .verdict)"
check "feed a's files are gone" test ! -e "$work/state/feed.d/a.last"

# a good refresh changes exactly that feed's entries
printf '192.0.2.48/28\n192.0.2.64/28\n' | put b.txt gzip
# every prefix with its sources but b
but_b() { mx --json block list | jq -r '.[] | (.sources - ["feed:b"]) as $s |
	select($s | length > 0) | .prefix + " " + ($s | join(","))'; }
before=$(but_b)
check "b: a new copy" mx feed update b
check_eq "b: only b's entries changed" "$before" "$(but_b)"
check_eq "b's entries are the new copy's" "192.0.2.48/28 feed:b|192.0.2.64/28 feed:b,feed:t" \
	"$(sources | grep 'feed:b' | tr '\n' '|' | sed 's/|$//')"
check "packets: 192.0.2.40 connects again (no feed lists it now)" can_connect 192.0.2.40 25
check "packets: 192.0.2.70 (b's new prefix) dropped at the NIC" cannot_connect 192.0.2.70 25

# --due: nothing due now; a new feed is
n=$(wc -l <"$slog")
check_eq "update --due: nothing is due" "" "$(mx feed update --due)"
check_eq "... and nothing was fetched" "$n" "$(wc -l <"$slog")"

# a restore rebuilds every feed's entries from the state
check "unload" mx unload
check "restore" mx restore
check_eq "after restore: b's entries are back" "drop feed:b" "$(verdict 192.0.2.50)"

# mxshield serve refreshes a feed that falls due; its metrics show it
printf '192.0.2.144/28\n' | put d.txt
MP=9460
printf '[policy]\nenabled = no\n[sweep]\nenabled = no\n[feeds]\ncheck = 1s\n[metrics]\nenabled = yes\nlisten = 127.0.0.1:%s\n' \
	$MP >"$work/serve.conf"
ip netns exec "$MAIL" "$MXS" --state-dir "$work/state" --bpffs-dir "$bpffs" serve \
	--config "$work/serve.conf" --log stderr >"$work/serve.log" 2>&1 &
lab_pids+=($!)
sleep 1
check "feed add d while serve runs" mx feed add d $HTTP/d.txt
for _ in $(seq 100); do [ "$(fj d .entries)" = 1 ] && break; sleep 0.1; done
check_eq "serve refreshed d (due at once)" 1 "$(fj d .entries)"
check "serve logged it" grep -q "feed d: updated, 1 entries" "$work/serve.log"
check_eq "d's entry is live" "drop feed:d" "$(verdict 192.0.2.150)"
m=$(ip netns exec "$MAIL" curl -s --max-time 5 http://127.0.0.1:$MP/metrics)
check_eq "serve's metrics: d's entries and last success" "1 yes" \
	"$(awk '$1 == "mxshield_feed_entries{feed=\"d\",list=\"block\"}" { print $2 }' <<<"$m") $(grep -qE '^mxshield_feed_last_success_timestamp_seconds\{feed="d"\} [1-9]' <<<"$m" && echo yes)"
n=$(served d.txt 200)
sleep 2
cp "$slog" "$work/server.log.keep"
check_eq "serve fetches d no more until it is due again" "$n" "$(served d.txt 200)"
check_fails "serve logged no error" grep -qiE "error|failed" "$work/serve.log"
lab_finish
