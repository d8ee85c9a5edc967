#!/usr/bin/env bash
# Published list formats through `block|trust import --format` (its own
# state directory and bpffs; the lab's mail namespace, no traffic): each
# file of tests/data/formats with its format named and with auto; the
# entries, their actions and comments, the counts; AbuseIPDB's score
# threshold; a DROP JSON file whose record count disagrees with its
# metadata; Postfix actions cross-checked with postmap itself; ambiguous
# detection; bad lines as FILE:LINE with nothing applied.
# Documentation addresses only.
source "$(dirname "$0")/lib.sh"

data=$(cd "$(dirname "$0")/data/formats" && pwd)
lab_up || { not_ok "lab setup"; exit 1; }

# entries: the block list as "prefix action comment" lines, sorted
entries() { mx --json "${1:-block}" list | jq -r '.[] | "\(.prefix) \(.action // "-") \(.comment)"' | LC_ALL=C sort; }
block_json() { mx --json block list | jq -cS .; }
# fresh FILE ARGS...: an empty block list, then import FILE with ARGS
fresh() { mx block flush >/dev/null && mx block import "$@"; }
# jimport FILTER FILE ARGS...: jq FILTER over the --json report of a fresh import
jimport() {
	local filter=$1
	shift
	mx block flush >/dev/null && mx --json block import "$@" | jq -r "$filter"
}

# --- each format, named and detected ---------------------------------------
want_drop='192.0.2.0/25 drop SBL100001
198.51.100.0/24 drop SBL100002
203.0.113.64/26 drop SBL100003'
for fmt in drop auto; do
	check "drop.txt --format $fmt: imported" fresh "$data/drop.txt" --format $fmt
	check_eq "... 3 entries, each with its SBL id as comment, action drop" "$want_drop" "$(entries)"
done
check_eq "auto names the format it detected (--json)" "drop true" \
	"$(jimport '"\(.format) \(.detected)"' "$data/drop.txt")"
check_eq "... and a named one is not 'detected'" "drop false" \
	"$(jimport '"\(.format) \(.detected)"' "$data/drop.txt" --format drop)"
out=$(fresh "$data/drop.txt")
check "... the text report says it" grep -q "^block import .*drop.txt (drop, detected): 3 added" <<<"$out"
check "drop.txt --action reject" fresh "$data/drop.txt" --action reject
check_eq "... every entry reject" "reject reject reject" "$(mx --json block list | jq -r '[.[].action] | join(" ")')"
check "dropv6.txt (auto)" fresh "$data/dropv6.txt"
check_eq "... two IPv6 networks with their SBL ids" "2001:db8:100::/48 drop SBL200001
2001:db8:200::/40 drop SBL200002" "$(entries)"

want_json='192.0.2.0/25 drop SBL100001 arin
198.51.100.0/24 drop SBL100002 ripencc
2001:db8:100::/48 drop SBL200001 apnic'
for fmt in drop-json auto; do
	check "drop.json --format $fmt: imported" fresh "$data/drop.json" --format $fmt
	check_eq "... 3 entries, comment sblid and rir" "$want_json" "$(entries)"
done
gzip -nc "$data/drop.json" >"$work/drop.json.gz"
check_eq "drop.json gzipped, detected after inflating" "drop-json 3" \
	"$(jimport '"\(.format) \(.entries)"' "$work/drop.json.gz")"
check_eq "drop.txt from standard input, detected" "drop 3" \
	"$(mx block flush >/dev/null && mx --json block import - <"$data/drop.txt" | jq -r '"\(.format) \(.entries)"')"

for fmt in netset auto; do
	check "firehol.netset --format $fmt: imported" fresh "$data/firehol.netset" --format $fmt
	check_eq "... its 3 networks, no comment" "192.0.2.0/24 drop 
198.51.100.7/32 drop 
203.0.113.128/25 drop " "$(entries)"
done
check_eq "... auto calls it plain (a netset is plain lines)" "plain" \
	"$(jimport .format "$data/firehol.netset")"
printf '192.0.2.0/24,reject\n' >"$work/csvline.netset"
msg=$(mx block import "$work/csvline.netset" --format netset 2>&1)
check_eq "a CSV line in a netset: refused" 1 "$?"
check "... as FILE:1" grep -q "csvline.netset:1: '192.0.2.0/24,reject': a netset line is one address or CIDR alone" <<<"$msg"

check_eq "plain.txt: detected as plain" "plain 3" "$(jimport '"\(.format) \(.entries)"' "$data/plain.txt")"
check_eq "export.csv: detected as csv, its actions kept" "csv 192.0.2.0/24 reject from the export
198.51.100.9/32 quarantine " "$(jimport .format "$data/export.csv") $(entries)"

# --- AbuseIPDB ----------------------------------------------------------------
for fmt in abuseipdb auto; do
	check "abuseipdb.csv --format $fmt: imported" fresh "$data/abuseipdb.csv" --format $fmt
	check_eq "... the 4 lines scoring 75 or more (the default --min-score)" \
		"192.0.2.10/32 192.0.2.11/32 198.51.100.20/32 2001:db8::30/128" \
		"$(mx --json block list | jq -r '[.[].prefix] | sort | join(" ")')"
done
check_eq "... the comment: score, country, last report" \
	"abuseipdb score 97 NL, last reported 2026-01-09T03:59:12+00:00" \
	"$(mx --json block list | jq -r '.[] | select(.prefix == "192.0.2.11/32") | .comment')"
check_eq "... the 2 below counted, not invalid" "4 2 0 75" \
	"$(jimport '"\(.added) \(.below_min_score) \(.invalid) \(.min_score)"' "$data/abuseipdb.csv")"
out=$(fresh "$data/abuseipdb.csv")
check "... and in the text report" grep -q "(abuseipdb, detected): 4 added, .* 0 invalid, 2 below score 75" <<<"$out"
check_eq "--min-score 88: 3 entries (88 itself in)" "3 3" \
	"$(jimport '"\(.entries) \(.below_min_score)"' "$data/abuseipdb.csv" --min-score 88)"
check_eq "--min-score 0: all 6" "6 0" \
	"$(jimport '"\(.entries) \(.below_min_score)"' "$data/abuseipdb.csv" --min-score 0)"
check_eq "--min-score 100: the one at 100" "192.0.2.10/32" \
	"$(fresh "$data/abuseipdb.csv" --min-score 100 >/dev/null; mx --json block list | jq -r '.[].prefix')"
check_eq "columns found by name: quoted and reordered" "203.0.113.99/32 drop abuseipdb score 99 BR, last reported 2026-01-09T04:00:01+00:00" \
	"$(fresh "$data/abuseipdb-reordered.csv" >/dev/null; entries)"
msg=$(mx block import "$data/abuseipdb.csv" --min-score 101 2>&1)
check_eq "--min-score 101: usage error" 2 "$?"
msg=$(mx block import "$data/drop.txt" --format drop --min-score 50 2>&1)
check_eq "--min-score with --format drop: usage error" 2 "$?"
before=$(block_json)
msg=$(mx block import "$data/drop.txt" --min-score 50 2>&1)
check_eq "--min-score on a file detected as drop: refused" 1 "$?"
check "... saying so" grep -q "drop.txt: --min-score applies to AbuseIPDB files, this one is drop" <<<"$msg"
check_eq "... nothing imported" "$before" "$(block_json)"

# --- Postfix cidr_table -------------------------------------------------------
want_pf='192.0.2.0/24 reject spam source since 2026-01
198.51.100.0/25 reject 5.7.1 listed locally
198.51.100.128/25 reject 4.7.1 try again later
2001:db8::/32 reject v6 block
203.0.113.0/28 quarantine for review
203.0.113.16/28 drop '
for fmt in postfix-cidr auto; do
	check "postfix.cidr --format $fmt: imported" fresh "$data/postfix.cidr" --format $fmt
	check_eq "... the blocking rules, actions mapped, text as comment" "$want_pf" "$(entries)"
done
check_eq "... OK, PERMIT, DUNNO, WARN, PREPEND lines skipped and counted" "6 5 0" \
	"$(jimport '"\(.added) \(.skipped) \(.invalid)"' "$data/postfix.cidr")"
out=$(fresh "$data/postfix.cidr")
check "... in the text report" grep -q "(postfix-cidr, detected): 6 added, .* 5 skipped (not blocks)" <<<"$out"
check "--action spam overrides the file's actions" fresh "$data/postfix.cidr" --action spam
check_eq "... all 6 spam" "spam spam spam spam spam spam" \
	"$(mx --json block list | jq -r '[.[].action] | join(" ")')"
check "trust import of the same file" mx trust import "$data/postfix.cidr"
check_eq "... takes the OK and PERMIT lines" "192.0.2.1/32 - 
2001:db8:ffff::1/128 - partner relay" "$(entries trust)"
mx trust flush >/dev/null

# Postfix itself reads the test file the same way: for every blocking rule
# the lookup of its first address returns the result we mapped from
pfdir=$work/postfix
mkdir -p "$pfdir" && : >"$pfdir/main.cf"
fresh "$data/postfix.cidr" >/dev/null
mismatch=()
while read -r pfx action comment; do
	addr=${pfx%/*}
	res=$(postmap -c "$pfdir" -q "$addr" "cidr:$data/postfix.cidr" 2>&1)
	case ${res%% *} in
	REJECT | 4?? | 5??) want=reject ;; HOLD) want=quarantine ;; DISCARD) want=drop ;; *) want="?$res" ;;
	esac
	[ "$want" == "$action" ] || mismatch+=("$pfx:$action/postmap:$res")
	rest=
	[[ $res == *" "* ]] && rest=${res#* }
	[ "$comment" == "$rest" ] || mismatch+=("$pfx:comment '$comment'/postmap:'$res'")
done < <(entries)
check_eq "postmap -q agrees with each imported rule's action and comment" "" "${mismatch[*]}"
check_eq "... and 192.0.2.1 is OK to Postfix, so a trust entry here" "OK" \
	"$(postmap -c "$pfdir" -q 192.0.2.1 "cidr:$data/postfix.cidr" 2>&1)"

before=$(block_json)
msg=$(mx block import "$data/postfix-if.cidr" 2>&1)
check_eq "if/endif in a Postfix table: refused" 1 "$?"
check "... as FILE:2" grep -q "postfix-if.cidr:2: 'if': if/endif blocks are not read" <<<"$msg"
check "... and FILE:4" grep -q "postfix-if.cidr:4: 'endif': if/endif blocks are not read" <<<"$msg"
check "... nothing imported" test "$before" == "$(block_json)"
printf '192.0.2.0/24 REJECT\n!198.51.100.0/24 REJECT\n' >"$work/neg.cidr"
msg=$(mx block import "$work/neg.cidr" 2>&1)
check "a negated pattern: FILE:2" grep -q "neg.cidr:2: '!198.51.100.0/24': a negated pattern" <<<"$msg"
printf '192.0.2.0/24 check_client_access hash:/etc/x\n' >"$work/restr.cidr"
msg=$(mx block import "$work/restr.cidr" --format postfix-cidr 2>&1)
check "a restriction as result: FILE:1, the actions it reads named" \
	grep -q "restr.cidr:1: 'check_client_access': not a Postfix action this import reads (REJECT" <<<"$msg"

# --- DROP JSON: the metadata's record count -----------------------------------
check "back to a list of 3" fresh "$data/drop.txt"
before=$(block_json)
for args in "" "--replace" "--skip-invalid" "--format drop-json --replace --skip-invalid"; do
	# shellcheck disable=SC2086 # args: words
	msg=$(mx block import "$data/drop-short.json" $args 2>&1)
	check_eq "drop-short.json (a record lost, metadata says 3) ${args:-merge}: refused" 1 "$?"
done
check "... saying so" grep -q "drop-short.json: the metadata line says 3 records, the file has 2: truncated or damaged; nothing imported" <<<"$msg"
msg=$(mx block import "$data/drop-cut.json" --replace 2>&1)
check_eq "drop-cut.json (cut before its metadata line): refused" 1 "$?"
check "... saying so" grep -q "drop-cut.json: no metadata line at the end: the file is cut short" <<<"$msg"
check_eq "... the list unchanged by all of them" "$before" "$(block_json)"
printf '{"asn":64496,"rir":"arin","domain":"example.com","cc":"US","asname":"EXAMPLE"}\n{"type":"metadata","timestamp":1767945600,"records":1}\n' >"$work/asndrop.json"
msg=$(mx block import "$work/asndrop.json" 2>&1)
check "ASN-DROP JSON: refused as FILE:1" grep -q "asndrop.json:1: an ASN-DROP record" <<<"$msg"

# --- detection and bad lines ---------------------------------------------------
msg=$(mx block import "$data/ambiguous.txt" 2>&1)
check_eq "DROP and Postfix lines in one file: refused" 1 "$?"
check "... asking for --format" grep -q "ambiguous.txt: the first lines look like drop ('192.0.2.0/24 ; SBL100001') and like postfix-cidr ('198.51.100.0/24 REJECT'): say which with --format; nothing imported" <<<"$msg"
msg=$(mx block import "$data/ambiguous.txt" --format drop 2>&1)
check "... with --format drop: its line 2 is invalid" grep -q "ambiguous.txt:2: '198.51.100.0/24 REJECT': expected 'PREFIX ; SBLID'" <<<"$msg"
msg=$(mx block import "$data/ambiguous.txt" --format postfix-cidr 2>&1)
check "... with --format postfix-cidr: its line 1 is" grep -q "ambiguous.txt:1: ';': not a Postfix action" <<<"$msg"
check_eq "... the list unchanged" "$before" "$(block_json)"
msg=$(mx block import "$data/drop.txt" --format bogus 2>&1)
check_eq "--format bogus: usage error" 2 "$?"

msg=$(mx block import "$data/drop-bad.txt" 2>&1)
check_eq "a DROP file with a bad line: refused" 1 "$?"
check "... as FILE:3" grep -q "drop-bad.txt:3: '198.51.100.1/24': host bits set" <<<"$msg"
check_eq "... nothing imported" "$before" "$(block_json)"
check_eq "... --skip-invalid imports the other 2" "2 1" \
	"$(jimport '"\(.entries) \(.invalid)"' "$data/drop-bad.txt" --skip-invalid)"

# past the lines detection looks at: line numbers and entries hold
{
	echo "; Spamhaus DROP List"
	for i in $(seq 0 999); do echo "198.51.$((100 + i / 256 % 4)).$((i % 256))/32 ; SBL$i"; done
} >"$work/big.txt"
sed -i '4s|.*|198.51.100.3/31 ; SBLx|; 700s|.*|198.51.100.300 ; SBLy|' "$work/big.txt"
msg=$(mx block import "$work/big.txt" 2>&1)
check "1001 lines, a bad line 4 (in the lines detection reads): FILE:4" \
	grep -q "big.txt:4: '198.51.100.3/31': host bits set" <<<"$msg"
check "... and a bad line 700 (after them): FILE:700" \
	grep -q "big.txt:700: '198.51.100.300': not an IP address" <<<"$msg"
check_eq "... --skip-invalid: the other 998, detected as drop" "drop 998 2" \
	"$(jimport '"\(.format) \(.entries) \(.invalid)"' "$work/big.txt" --skip-invalid)"
check_eq "... each with its comment" "SBL999" \
	"$(mx --json block list | jq -r '.[] | select(.prefix == "198.51.103.231/32") | .comment')"

lab_finish
