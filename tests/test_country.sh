#!/usr/bin/env bash
# Country policies end to end: a GeoIP2-schema database written for the test
# (exact assertions, real TCP), then the real CC0 database from npm
# (@ip-location-db/geo-whois-asn-country-mmdb, data by NRO): the verdicts the
# kernel tries give must name the country libmaxminddb's mmdblookup gives.
source "$(dirname "$0")/lib.sh"

CN1=203.0.113.20 CN2=203.0.113.30 ACME=203.0.113.40 DE1=203.0.113.200
CN6=2001:db8:1::c0 DE6=2001:db8:1::de
lab_up $CN1 $CN2 $ACME $DE1 $CN6 $DE6 || { not_ok "lab setup"; exit 1; }

scripts/make-test-mmdb.pl --schema geoip2 "$work/small.mmdb" 2>/dev/null <<'EOF'
203.0.113.0/25      CN
203.0.113.128/25    DE
2001:db8:1::c0/122  CN
2001:db8:1::de/127  DE
EOF
check "small database written" test -s "$work/small.mmdb"

check "country add CN drop (before any database)" mx country add cn --action drop
check_fails "unknown country code refused" mx country add ZZ --action drop
check_fails "three-letter code refused" mx country add CHN --action drop
check_fails "country without --action refused" mx country add DE
check "geo load (GeoIP2 schema)" mx geo load "$work/small.mmdb"
check_eq "geo load reports the schema" "country.iso_code" \
	"$(mx --json geo load "$work/small.mmdb" | jq -r .schema)"
mx partner add acme --ip $ACME >/dev/null
check "attach" mx attach mx0

check_eq "lookup: CN address dropped by country" "drop country CN" \
	"$(mx --json lookup $CN1 | jq -r '"\(.verdict) \(.reason) \(.country)"')"
check_eq "lookup: DE address passes, country known" "pass default DE" \
	"$(mx --json lookup $DE1 | jq -r '"\(.verdict) \(.reason) \(.country)"')"
check_eq "lookup: IPv6 CN dropped" "drop country" \
	"$(mx --json lookup $CN6 | jq -r '"\(.verdict) \(.reason)"')"
check_eq "lookup: deciding entry is the database network" "203.0.113.0/25" \
	"$(mx --json lookup $CN1 | jq -r '.matches[] | select(.decides) | .entry')"
check "CN source can't connect" cannot_connect $CN1 25
check "CN IPv6 source can't connect" cannot_connect $CN6 25
check "DE source connects" can_connect $DE1 25
check "DE IPv6 source connects" can_connect $DE6 25
check "partner inside CN connects" can_connect $ACME 25
check "per-country counter counts CN packets" \
	test "$(mx --json stats | jq '[.countries[] | select(.country == "CN") | .packets] | add // 0')" -ge 2

check "country policy change: CN spam" mx country add CN --action spam
check "CN source connects once tagged spam" can_connect $CN2 25
check_eq "CN source tagged spam by country" "spam country" \
	"$(mx --json tags list | jq -r --arg s $CN2 '.[] | select(.source == $s) | "\(.action) \(.list)"')"
check "DE policy added: reject" mx country add de --action reject
check_eq "lookup: DE now reject" "reject country" \
	"$(mx --json lookup $DE1 | jq -r '"\(.verdict) \(.reason)"')"
check_eq "country list" "CN spam,DE reject" \
	"$(mx --json country list | jq -r '[.[] | "\(.country) \(.action)"] | join(",")')"

# a bad database changes nothing
head -c 3000 /dev/urandom > "$work/bad.mmdb"
check_fails "corrupt database refused" mx geo load "$work/bad.mmdb"
check_eq "after a refused load the old database still applies" "spam country" \
	"$(mx --json lookup $CN1 | jq -r '"\(.verdict) \(.reason)"')"

check "country del CN" mx country del CN
check_eq "lookup: CN without policy passes" "pass default" \
	"$(mx --json lookup $CN1 | jq -r '"\(.verdict) \(.reason)"')"
check "CN source connects after del" can_connect $CN1 25
check_fails "del of a country without policy fails" mx country del CN

# --- the real database -------------------------------------------------
# the classification test needs a real database, not a fresh one: the
# registry's copy may be months old (fetch-country-db.sh refuses those by default)
real=$(scripts/fetch-country-db.sh --max-age 3650d 2>&1) || { not_ok "real database from npm" "$real"; lab_finish; exit; }
mx country add US --action drop >/dev/null
mx country add CN --action reject >/dev/null
mx country add BR --action quarantine >/dev/null
mx country add JP --action spam >/dev/null
check "geo load of the real database" mx geo load "$real"
check_eq "real database schema" "country_code" "$(mx --json geo load "$real" | jq -r .schema)"
n4=$(mx --json status | jq '.lists[] | select(.list == "country") | .ipv4')
n6=$(mx --json status | jq '.lists[] | select(.list == "country") | .ipv6')
check "real database: many prefixes loaded (v4 $n4, v6 $n6)" test "$n4" -gt 10000 -a "$n6" -gt 1000
echo "# country tries hold $n4 IPv4 and $n6 IPv6 prefixes for US, CN, BR, JP, DE"

# sample addresses by construction (deterministic); lookups read files only
declare -A want=([US]=drop [CN]=reject [BR]=quarantine [JP]=spam [DE]=reject)
bad=0 total=0 hit=0
for i in $(seq 1 150); do
	a4="$(( (i * 37) % 223 + 1 )).$(( (i * 91) % 256 )).$(( (i * 53) % 256 )).$(( i % 256 ))"
	a6=$(printf '2%03x:%x::%x' $(( (i * 97) % 4096 )) $(( (i * 7919) % 65536 )) "$i")
	for a in $a4 $a6; do
		cc=$(mmdblookup --file "$real" --ip "$a" country_code 2>/dev/null | sed -n 's/.*"\([A-Z][A-Z]\)".*/\1/p')
		got=$(mx --json lookup "$a" | jq -r '"\(.verdict) \(.reason)"')
		exp="pass default"
		[ -n "$cc" ] && [ -n "${want[$cc]:-}" ] && exp="${want[$cc]} country" && hit=$((hit + 1))
		total=$((total + 1))
		if [ "$got" != "$exp" ]; then
			bad=$((bad + 1))
			[ $bad -le 3 ] && echo "# $a: mmdblookup says ${cc:-none}, mxshield says $got"
		fi
	done
done
check_eq "real database: kernel verdicts match mmdblookup on $total addresses ($hit in policy countries)" 0 $bad
check "real database: the sample hit policy countries" test $hit -gt 20

lab_finish
