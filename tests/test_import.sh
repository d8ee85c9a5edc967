#!/usr/bin/env bash
# Import integrity and always-valid JSON, through the controller (its own
# state directory and bpffs; the lab's mail namespace, no traffic):
#  - a gzip list cut anywhere, or with anything appended, fails and leaves
#    the list as it was; two gzip members are one list
#  - --replace with a file without entries (a failed download) is refused
#    unless --allow-empty, for IP lists and envelope lists
#  - NUL and control bytes in a line: FILE:LINE, nothing applied
#  - values that are not UTF-8 are refused at the CLI, and --json output
#    stays valid UTF-8 even over a hand-edited state file
# List entries come from the shared address space 100.64.0.0/10: data only.
source "$(dirname "$0")/lib.sh"

lab_up || { not_ok "lab setup"; exit 1; }

# valid_json FILE: strict JSON whose bytes are UTF-8 (python) and jq agrees
valid_json() {
	/usr/bin/python3 -c 'import json,sys; json.loads(open(sys.argv[1],"rb").read().decode("utf-8"))' "$1" &&
		jq -e . "$1" >/dev/null
}
block_list() { mx --json block list | jq -cS .; }

# --- a 20000-entry list, gzipped -------------------------------------------
gen() {	# gen FIRST COUNT: COUNT distinct /28s from index FIRST
	awk -v f="$1" -v n="$2" 'BEGIN { for (i = f; i < f + n; i++)
		printf "100.%d.%d.%d/28\n", 64 + int(i / 4096), int(i / 16) % 256, (i % 16) * 16 }'
}
gen 0 20000 >"$work/list.txt"
gzip -9nc "$work/list.txt" >"$work/list.gz"
gzlen=$(stat -c %s "$work/list.gz")
gen 30000 1000 >"$work/base.txt"
check "base list of 1000 imported" mx block import "$work/base.txt" --replace
before=$(block_list)
check_eq "... 1000 entries" 1000 "$(jq length <<<"$before")"

# every cut point among: the first 20 bytes, the last 8, and 40 in between
cuts=$(seq 0 19; seq $((gzlen - 8)) $((gzlen - 1)); seq 20 $(((gzlen - 28) / 40)) $((gzlen - 9)) | head -40)
ncut=0 wrong=()
for cut in $cuts; do
	head -c "$cut" "$work/list.gz" >"$work/cut.gz"
	for mode in --replace ""; do
		# shellcheck disable=SC2086 # mode: no word or one
		if msg=$(mx block import "$work/cut.gz" $mode 2>&1); then
			wrong+=("$cut$mode:exit-0")
		elif ! grep -q "cut.gz: truncated or damaged gzip stream" <<<"$msg"; then
			wrong+=("$cut$mode:message:${msg:0:80}")
		fi
	done
	[ "$(block_list)" == "$before" ] || wrong+=("$cut:list-changed")
	ncut=$((ncut + 1))
done
check_eq "a ${gzlen}-byte gzip of 20000 entries cut at $ncut offsets: every import fails (with and without --replace), the list unchanged" \
	"" "${wrong[*]}"

(cat "$work/list.gz"; echo "junk") >"$work/garbage.gz"
msg=$(mx block import "$work/garbage.gz" --replace 2>&1)
check_eq "trailing garbage after the gzip stream: refused" 1 "$?"
check "... saying so" grep -q "garbage.gz: truncated or damaged gzip stream: data after the end" <<<"$msg"
(cat "$work/list.gz"; head -c 40 "$work/list.gz") >"$work/half.gz"
check_fails "a second gzip member cut short: refused" mx block import "$work/half.gz" --replace
head -c -4 "$work/list.gz" | cat - <(printf '\0\0\0\0') >"$work/badlen.gz"
check_fails "a wrong length in the trailer: refused" mx block import "$work/badlen.gz" --replace
check_eq "... the list unchanged by all of them" "$before" "$(block_list)"

head -n 10000 "$work/list.txt" | gzip -nc >"$work/two.gz"
tail -n +10001 "$work/list.txt" | gzip -nc >>"$work/two.gz"
check "two concatenated gzip members: accepted" mx block import "$work/two.gz" --replace
two=$(block_list)
check_eq "... as one list of 20000" 20000 "$(jq length <<<"$two")"
check "the whole single-member gzip: accepted" mx block import - --replace <"$work/list.gz"
check_eq "... the same list" "$two" "$(block_list)"
check "... and from standard input, gzip from a pipe" \
	bash -c "cat '$work/two.gz' | ip netns exec '$MAIL' '$MXS' --state-dir '$work/state' --bpffs-dir '$bpffs' block import - --replace"
check "back to the base list" mx block import "$work/base.txt" --replace
before=$(block_list)

# --- --replace with nothing to replace with ------------------------------
: >"$work/empty.txt"
printf '# a list with comments only\n\n   \n# (the download failed)\n' >"$work/comments.txt"
for f in empty.txt comments.txt; do
	msg=$(mx block import "$work/$f" --replace 2>&1)
	check_eq "--replace with $f: refused" 1 "$?"
	check "... naming --allow-empty" grep -q "$f: no valid entries: --replace would empty the block list; nothing changed (add --allow-empty" <<<"$msg"
done
check_fails "--replace from an empty standard input: refused" mx block import - --replace </dev/null
printf '100.64.0.0/33\n' >"$work/allbad.txt"
check_fails "--replace --skip-invalid with no valid line: refused" \
	mx block import "$work/allbad.txt" --replace --skip-invalid
check_eq "... the list unchanged" "$before" "$(block_list)"
check "without --replace an empty file changes nothing and succeeds" mx block import "$work/empty.txt"
check "--replace --allow-empty with comments only: accepted" \
	mx block import "$work/comments.txt" --replace --allow-empty
check_eq "... the list is empty" 0 "$(mx --json block list | jq length)"
check_fails "--allow-empty without --replace: refused" mx block import "$work/empty.txt" --allow-empty
check "back to the base list" mx block import "$work/base.txt" --replace
before=$(block_list)

# --- NUL and control bytes --------------------------------------------------
msg=$(printf '100.64.0.1\0junk\n' | mx block import - 2>&1)
check_eq "a NUL byte in a line: refused" 1 "$?"
check "... as -:1" grep -q -- "-:1: NUL byte at column 11" <<<"$msg"
printf '# list\n100.64.0.1\n100.64.0.2\x1b[0m\n' >"$work/esc.txt"
msg=$(mx block import "$work/esc.txt" --skip-invalid 2>&1)
check_eq "an ESC byte on line 3: refused even with --skip-invalid" 1 "$?"
check "... as FILE:3" grep -q "esc.txt:3: control character 0x1b at column 11" <<<"$msg"
printf '100.64.0.1\0\n' | gzip -nc >"$work/nul.gz"
check_fails "a NUL byte inside a gzip list: refused" mx block import "$work/nul.gz"
check_eq "... the list unchanged" "$before" "$(block_list)"
printf '100.64.7.1\r\n100.64.7.2\r\n' >"$work/crlf.txt"
check "CRLF lines: accepted" mx block import "$work/crlf.txt"
check_eq "... both entries in" 2 "$(mx --json block list | jq '[.[] | select(.prefix | startswith("100.64.7."))] | length')"
printf '100.64.7.3,,,caf\xe9\n' >"$work/latin1.txt"
msg=$(mx block import "$work/latin1.txt" 2>&1)
check_eq "a comment column that is not UTF-8: refused" 1 "$?"
check "... as FILE:1" grep -q "latin1.txt:1: not valid UTF-8" <<<"$msg"
check_fails "block add --comment that is not UTF-8: refused" \
	mx block add 100.64.7.4 --comment $'caf\xe9'

# --- envelope lists -----------------------------------------------------------
msg=$(mx sender add $'\xff\xfe@x.com' --list block 2>&1)
check_eq "sender add with bytes that are not UTF-8: refused" 1 "$?"
check "... saying so" grep -q "sender is not valid UTF-8" <<<"$msg"
check "sender add with a UTF-8 local part: accepted" mx sender add $'caf\xc3\xa9@x.example' --list block
check_fails "pattern add that is not UTF-8: refused" mx pattern add $'viagr\xe0'
check_fails "sender add --comment that is not UTF-8: refused" \
	mx sender add a@x.example --list block --comment $'\xff'
printf 'a@x.example\nb\xff@x.example\nc@x.example\n' >"$work/senders.txt"
msg=$(mx sender import "$work/senders.txt" --list block 2>&1)
check_eq "sender import with a line that is not UTF-8: refused" 1 "$?"
check "... as FILE:2" grep -q "senders.txt:2: not valid UTF-8" <<<"$msg"
printf 'a@x.example\0\n' >"$work/senders-nul.txt"
check_fails "sender import with a NUL byte: refused" mx sender import "$work/senders-nul.txt" --list block
printf 'a@x.example\nb@x.example\n' | gzip -nc >"$work/senders.gz"
head -c -3 "$work/senders.gz" >"$work/senders-cut.gz"
check_fails "sender import of a cut gzip: refused" mx sender import "$work/senders-cut.gz" --list block
check_eq "... nothing imported by any of them" 1 "$(mx --json sender list --list block | jq length)"
printf 'e1@x.example,,1d,a comment, with a comma\n e2@x.example , quarantine \n' >"$work/cols.csv"
check "sender import: an empty action column, a comment with a comma" \
	mx sender import "$work/cols.csv" --list block
check_eq "... the default action, the expiry, the whole comment" "reject true a comment, with a comma" \
	"$(mx --json sender list --list block | jq -r --arg now "$(date +%s)" \
		'.[] | select(.value == "e1@x.example") | "\(.action) \(.expires | tonumber > ($now | tonumber)) \(.comment)"')"
check_eq "... blanks around columns cut" "quarantine" \
	"$(mx --json sender list --list block | jq -r '.[] | select(.value == "e2@x.example") | .action')"
printf 'pro[0-9]{1,3}mo\n' >"$work/re.txt"
check "pattern import --type regex: a regex with a comma" mx pattern import "$work/re.txt" --type regex
check_eq "... kept whole" '["pro[0-9]{1,3}mo"]' "$(mx --json pattern list | jq -c '[.[].value]')"
check "sender import --replace of a gzip" mx sender import "$work/senders.gz" --list block --replace
check_eq "... the block senders are the file's" '["a@x.example","b@x.example"]' \
	"$(mx --json sender list --list block | jq -c '[.[].value] | sort')"
msg=$(mx sender import "$work/comments.txt" --list block --replace 2>&1)
check_eq "sender import --replace of comments only: refused" 1 "$?"
check "... naming --allow-empty" grep -q "no valid entries: --replace would empty the block sender list.*--allow-empty" <<<"$msg"
check_eq "... the list unchanged" 2 "$(mx --json sender list --list block | jq length)"
check "... accepted with --allow-empty" mx sender import "$work/comments.txt" --list block --replace --allow-empty
check_eq "... the block senders are gone" 0 "$(mx --json sender list --list block | jq length)"

# --- --json output over a hand-edited state file -------------------------------
# (of the older format without a checksum: a checksummed file changed by hand
# is refused as damaged, see test_state)
sed -i '1s/^# mxshield state v2 .*/# mxshield state v1/' "$work/state/envelope"
printf 'kind=sender\tlist=block\tvalue=\xff\xfe@x.example\taction=reject\texpires=0\tcomment=caf\xe9 \x01\n' \
	>>"$work/state/envelope"
printf 'kind=domain\tlist=allow\tvalue=\xc3\xa9\xe2\x82.example\texpires=0\tcomment=\xe2\x80\xa8\n' \
	>>"$work/state/envelope"
mx --json sender list >"$work/senders.json"
check "sender list over invalid UTF-8 in the state: valid JSON" valid_json "$work/senders.json"
check_eq "... the bad bytes as U+FFFD, the control byte escaped" \
	"$(printf '["\xef\xbf\xbd\xef\xbf\xbd@x.example","caf\xef\xbf\xbd \\u0001"]')" \
	"$(jq -c '[.[] | select(.value | startswith("\ufffd")) | .value, .comment]' "$work/senders.json")"
check "sender del of the hand-edited value as written" mx sender del $'\xff\xfe@x.example' --list block
check_eq "... gone" 0 "$(mx --json sender list | jq '[.[] | select(.value | startswith("\ufffd"))] | length')"
mx --json domain list >"$work/domains.json"
check "domain list over a cut UTF-8 sequence: valid JSON" valid_json "$work/domains.json"
for cmd in "block list" "trust list" "partner list" "status" "org-domain list"; do
	# shellcheck disable=SC2086
	mx --json $cmd >"$work/out.json"
	check "--json $cmd: valid JSON" valid_json "$work/out.json"
done

lab_finish
