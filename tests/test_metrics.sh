#!/usr/bin/env bash
# The Prometheus endpoint (docs/metrics.md): `metrics show` and `metrics
# serve` in the mail namespace, the exposition checked by promtool, then a
# real Prometheus server (also in the namespace, scraping every second)
# sees the drop counter rise when blocked sources connect, and holds the
# value `stats` reports. Nothing listens outside the namespace; the lab's
# cleanup ends every process in it (Prometheus too), failed or not.
source "$(dirname "$0")/lib.sh"

BLOCKED=198.51.100.7 CN_SRC=192.0.2.66 DE_SRC=192.0.2.10
MPORT=9456 PPORT=9090 APORT=9457
MADDR=203.0.113.1:$MPORT
lab_up $BLOCKED $CN_SRC $DE_SRC || { not_ok "lab setup"; exit 1; }
inns() { ip netns exec "$MAIL" "$@"; }
get() { inns curl -sS --max-time 5 "$@"; }
# sample TEXT NAME{LABELS}: the value of one sample of an exposition
sample() { awk -v k="$2" '$1 == k { print $2; f = 1 } END { if (!f) print "none" }' <<<"$1"; }
# promql QUERY: the first result's value from Prometheus's HTTP API
promql() {
	get "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" |
		jq -r 'if .status == "success" then (.data.result[0].value[1] // "none") else "error" end'
}
# wait_for SECONDS CMD...: until CMD succeeds
wait_for() {
	local n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

scripts/make-test-mmdb.pl --schema geoip2 "$work/geo.mmdb" 2>/dev/null <<'EOF'
192.0.2.0/26   DE
192.0.2.64/26  CN
EOF
t0=$(date +%s)
check "block add 198.51.100.0/24 --action drop" mx block add 198.51.100.0/24 --action drop
check "country add CN --action drop" mx country add CN --action drop
check "geo load" mx geo load "$work/geo.mmdb"
check "unload" mx unload

# --- nothing loaded: the state alone, and no load
m=$(mx metrics show)
check_eq "not loaded: mxshield_filter_loaded 0" 0 "$(sample "$m" mxshield_filter_loaded)"
check_eq "not loaded: mxshield_up 1" 1 "$(sample "$m" mxshield_up)"
check_eq "not loaded: block list size from the state" 1 \
	"$(sample "$m" 'mxshield_list_entries{list="block",family="ipv4"}')"
check_eq "not loaded: country networks of the policy countries" 1 \
	"$(sample "$m" 'mxshield_list_entries{list="country",family="ipv4"}')"
check_eq "not loaded: no packet counters" none \
	"$(sample "$m" 'mxshield_packets_total{reason="block",verdict="drop"}')"
check "not loaded: the exposition passes promtool" promtool check metrics <<<"$m"
check_fails "metrics show loads nothing" test -e "$bpffs/c_gen"
check_fails "metrics show --json refused (text only)" mx --json metrics show

# --- loaded, served
t1=$(date +%s)
check "attach native" mx attach mx0 --mode native
# (ip netns exec itself: $! is then the server, not a subshell)
ip netns exec "$MAIL" "$MXS" --state-dir "$work/state" --bpffs-dir "$bpffs" metrics serve --listen "$MADDR" \
	2>"$work/serve.log" &
serve_pid=$!
lab_pids+=($serve_pid)
check "metrics serve listens on $MADDR in the namespace" \
	wait_for 5 bash -c "ip netns exec $MAIL ss -Hltn 'sport = :$MPORT' | grep -q 203.0.113.1"

hdr=$(get -D - -o "$work/body" "http://$MADDR/metrics")
check "GET /metrics: 200" grep -q '^HTTP/1.1 200' <<<"$hdr"
check "Content-Type: text/plain; version=0.0.4" \
	grep -qi '^Content-Type: text/plain; version=0.0.4' <<<"$hdr"
check "the exposition passes promtool check metrics" promtool check metrics <"$work/body"
check_eq "GET /: 404" 404 "$(get -o /dev/null -w '%{http_code}' "http://$MADDR/")"
check_eq "GET /metrics/x: 404" 404 "$(get -o /dev/null -w '%{http_code}' "http://$MADDR/metrics/x")"
check_eq "POST /metrics: 405" 405 \
	"$(get -o /dev/null -w '%{http_code}' -d x=1 "http://$MADDR/metrics")"
check "405 says Allow: GET, HEAD" bash -c "ip netns exec $MAIL curl -sS -X PUT -D - \
	-o /dev/null http://$MADDR/metrics | grep -qi '^Allow: GET, HEAD'"
check_eq "HEAD /metrics: 200" 200 "$(get -I -o /dev/null -w '%{http_code}' "http://$MADDR/metrics")"
check_eq "HTTP/1.0 GET: 200" 200 "$(get -0 -o /dev/null -w '%{http_code}' "http://$MADDR/metrics")"

m=$(cat "$work/body")
now=$(date +%s)
check_eq "loaded: mxshield_filter_loaded 1" 1 "$(sample "$m" mxshield_filter_loaded)"
check_eq "mxshield_build_info has the version" 1 \
	"$(sample "$m" "mxshield_build_info{version=\"$("$MXS" --version | awk '{print $NF}')\"}")"
check_eq "mx0 attached" 1 "$(sample "$m" 'mxshield_interface_attached{interface="mx0"}')"
check_eq "the live build carries the state" 1 "$(sample "$m" mxshield_build_current)"
lb=$(sample "$m" mxshield_last_build_timestamp_seconds)
check "last build time is the attach's ($t1..$now): $lb" \
	awk -v x="$lb" -v a="$t1" -v b="$now" 'BEGIN { exit !(x != "none" && x >= a && x <= b + 1) }'
check "last build duration is positive and under 60 s" awk -v x="$(sample "$m" \
	mxshield_last_build_duration_seconds)" 'BEGIN { exit !(x != "none" && x > 0 && x < 60) }'
gen=$(sample "$m" mxshield_build_generation)
check "build generation is a number ($gen)" test "$gen" -ge 0
check "kernel memory of the maps > 1 MiB" awk -v x="$(sample "$m" mxshield_map_memory_bytes)" \
	'BEGIN { exit !(x > 1048576) }'
gb=$(awk '$1 ~ /^mxshield_geo_database_build_timestamp_seconds/ { print $2 }' <<<"$m")
check "country database build time is its writing ($t0): $gb" \
	awk -v x="$gb" -v a="$t0" -v b="$now" 'BEGIN { exit !(x != "" && x >= a - 5 && x <= b) }'
check "country database file time present" grep -q '^mxshield_geo_database_modified_timestamp_seconds ' <<<"$m"
check_eq "every reason x verdict is there at zero" 60 \
	"$(grep -c '^mxshield_packets_total{' <<<"$m")"
check_eq "... of the new connections too" 60 "$(grep -c '^mxshield_connections_total{' <<<"$m")"
check_eq "SYN retransmits at 0" 0 "$(sample "$m" mxshield_syn_retransmits_total)"
check_eq "the events' cap (100 a second unless set)" 100 "$(sample "$m" mxshield_events_rate_limit)"

# --- a real Prometheus server in the namespace, scraping every second
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: mxshield
    static_configs:
      - targets: ['$MADDR']
EOF
check "promtool check config" promtool check config "$work/prometheus.yml"
ip netns exec "$MAIL" prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prom" \
	--web.listen-address="127.0.0.1:$PPORT" --log.level=warn >"$work/prom.log" 2>&1 &
lab_pids+=($!)
check "Prometheus ready (127.0.0.1:$PPORT in the namespace)" \
	wait_for 30 ip netns exec "$MAIL" curl -sf "http://127.0.0.1:$PPORT/-/ready"
q='mxshield_packets_total{reason="block",verdict="drop"}'
check "Prometheus scraped the endpoint (up 1, drop counter at 0)" wait_for 30 bash -c \
	"$(declare -f promql get inns); MAIL=$MAIL PPORT=$PPORT; \
	[ \"\$(promql 'up{job=\"mxshield\"}')\" = 1 ] && [ \"\$(promql '$q')\" = 0 ]"

# blocked sources: the block list, and a country with policy drop
for _ in 1 2 3; do
	check "blocked source $BLOCKED cannot connect" cannot_connect $BLOCKED 25
done
check "$CN_SRC (CN, policy drop) cannot connect" cannot_connect $CN_SRC 25
check "$DE_SRC connects" can_connect $DE_SRC 25
drops=$(stat_packets block drop)
cn=$(mx --json stats | jq '[.countries[] | select(.country == "CN") | .packets] | add // 0')
xdrop=$(xdp_packets drop)
check "stats counted the drops (block $drops, CN $cn, at the NIC $xdrop)" \
	test "$drops" -gt 0 -a "$cn" -gt 0 -a "$xdrop" -ge $((drops + cn))
# the traffic is over: a scrape after it has all three (one during it
# could have the block drops and not yet the country's)
wait_for 20 bash -c "$(declare -f promql get inns); MAIL=$MAIL PPORT=$PPORT; \
	[ \"\$(promql 'mxshield_xdp_actions_total{action=\"drop\"}')\" = $xdrop ]"
check_eq "Prometheus: the block drop counter is what stats says" "$drops" "$(promql "$q")"
check_eq "Prometheus: CN packets are what stats says" "$cn" \
	"$(promql 'mxshield_country_packets_total{country="CN"}')"
check_eq "Prometheus: XDP drops are what stats says" "$xdrop" \
	"$(promql 'mxshield_xdp_actions_total{action="drop"}')"
# new connections: a SYN once however often it is retransmitted
sj=$(mx --json stats)
conns=$(jq '[.verdicts[] | select(.reason == "block" and .action == "drop") | .connections] | add // 0' <<<"$sj")
cnconns=$(jq '[.countries[] | select(.country == "CN") | .connections] | add // 0' <<<"$sj")
check "stats counted the connections (block $conns of $drops packets, CN $cnconns)" \
	test "$conns" -ge 3 -a "$conns" -le "$drops" -a "$cnconns" -ge 1
check_eq "Prometheus: block/drop connections are what stats says" "$conns" \
	"$(promql 'mxshield_connections_total{reason="block",verdict="drop"}')"
check_eq "Prometheus: CN connections are what stats says" "$cnconns" \
	"$(promql 'mxshield_country_connections_total{country="CN"}')"
check_eq "Prometheus: SYN retransmits are what stats says" "$(jq .syn_retransmits <<<"$sj")" \
	"$(promql mxshield_syn_retransmits_total)"
check_eq "Prometheus: events emitted are what stats says" "$(jq .events.emitted <<<"$sj")" \
	"$(promql mxshield_events_emitted_total)"
check_eq "Prometheus: events suppressed (all causes) are what stats says" \
	"$(jq .events.suppressed <<<"$sj")" "$(promql 'sum(mxshield_events_suppressed_total)')"
check_eq "PromQL: increase of the drop counter over 1m > 0" 1 \
	"$(promql "increase(${q}[1m]) > bool 0")"

# a single change patches the live build in place
check "block add 198.51.100.99/32 (one entry)" mx block add 198.51.100.99 --action drop
m=$(get "http://$MADDR/metrics")
check_eq "block list grew to 2 entries" 2 "$(sample "$m" 'mxshield_list_entries{list="block",family="ipv4"}')"
check_eq "one patch in place (ipv4)" 1 "$(sample "$m" 'mxshield_build_patches{family="ipv4"}')"

# a full build: the generation counts up, the last build time moves on
check "country add DE --action spam (a full build)" mx country add DE --action spam
m=$(get "http://$MADDR/metrics")
check_eq "build generation counted up by one" $((gen + 1)) "$(sample "$m" mxshield_build_generation)"
check "last build time moved on" awk -v x="$(sample "$m" mxshield_last_build_timestamp_seconds)" \
	-v y="$lb" 'BEGIN { exit !(x != "none" && x > y) }'
check_eq "the full build ended the patches" 0 "$(sample "$m" 'mxshield_build_patches{family="ipv4"}')"

# unloaded under a running endpoint: it still answers, from the state
check "unload" mx unload
m=$(get "http://$MADDR/metrics")
check_eq "after unload: mxshield_filter_loaded 0" 0 "$(sample "$m" mxshield_filter_loaded)"
check_eq "after unload: mx0 recorded but not attached" 0 \
	"$(sample "$m" 'mxshield_interface_attached{interface="mx0"}')"
check_eq "after unload: list sizes still there" 2 \
	"$(sample "$m" 'mxshield_list_entries{list="block",family="ipv4"}')"
check "after unload: promtool check metrics" promtool check metrics <<<"$m"
check_fails "the endpoint did not load the filter again" test -e "$bpffs/c_gen"
check "Prometheus sees mxshield_filter_loaded 0" wait_for 10 bash -c \
	"$(declare -f promql get inns); MAIL=$MAIL PPORT=$PPORT; \
	[ \"\$(promql mxshield_filter_loaded)\" = 0 ]"

# nothing of this test listens in the root namespace
check_eq "nothing listens on :$MPORT or :$PPORT outside the namespace" "" \
	"$(ss -Hltn "( sport = :$MPORT or sport = :$PPORT )")"

kill -TERM $serve_pid
wait $serve_pid
check_eq "SIGTERM: metrics serve exits 0" 0 $?
check "it said where it listened and that it stopped" \
	bash -c "grep -q 'metrics on http://$MADDR/metrics' $work/serve.log && grep -q stopped $work/serve.log"

# --- socket activation (systemd's protocol: LISTEN_FDS, LISTEN_PID)
ip netns exec "$MAIL" systemd-socket-activate -l 127.0.0.1:$APORT --fdname=metrics \
	"$MXS" --state-dir "$work/state" --bpffs-dir "$bpffs" metrics serve 2>"$work/act.log" &
lab_pids+=($!)
check "socket activation: listening" wait_for 5 bash -c \
	"ip netns exec $MAIL ss -Hltn 'sport = :$APORT' | grep -q 127.0.0.1"
check_eq "socket activation: GET /metrics answers" 0 \
	"$(sample "$(get "http://127.0.0.1:$APORT/metrics")" mxshield_filter_loaded)"
check "socket activation: served on the socket from systemd" \
	wait_for 5 grep -q "a socket from systemd" "$work/act.log"

# --- bad listen addresses: a clear error, exit 1
out=$(mx metrics serve --listen nonsense 2>&1)
check_eq "--listen without a port: exit 1" 1 $?
check "... and says how to write it" grep -q 'ADDR:PORT' <<<"$out"
out=$(mx metrics serve --listen 127.0.0.1:$APORT 2>&1)
check_eq "--listen on a port in use: exit 1" 1 $?
check "... and says why" grep -qi 'in use' <<<"$out"

# --- the alert rules of docs/metrics.md
awk '/^```yaml$/ { y = 1; buf = ""; next } y && /^```$/ { y = 0; if (buf ~ /^groups:/) print buf; next }
	y { buf = buf $0 "\n" }' docs/metrics.md >"$work/alerts.yml"
check "docs/metrics.md has alert rules" grep -q 'alert: Mxshield' "$work/alerts.yml"
check "the documented alert rules pass promtool check rules" promtool check rules "$work/alerts.yml"
lab_finish
