// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests: the published list formats (userspace/core/listfmt.c), line
 * by line and as whole files: mxshield's csv kept exactly, Spamhaus DROP
 * text and JSON (the metadata's record count), FireHOL netsets, AbuseIPDB
 * CSV (columns by header name, the score threshold, quoting), Postfix
 * cidr_table (brackets, every action class, for lists with and without
 * actions, the syntax it cannot read), and detection from the first lines.
 */
#include <stdlib.h>
#include <string.h>
#include "core/listfmt.h"
#include "../check.h"

#define NOW 1700000000

/* What one line gave: "ENTRY 192.0.2.0/24 reject 'comment' 97",
 * "SKIP", or "ERR why". */
static char got[512];
static struct listfmt lf;

static const char *feed(const char *line)
{
	char copy[4096], err[MXS_ERRLEN], ps[MXS_PFX_STRLEN];
	struct listfmt_ent e;
	int rc;

	snprintf(copy, sizeof(copy), "%s", line);
	rc = listfmt_line(&lf, copy, &e, err, sizeof(err));
	if (rc == LISTFMT_ERR)
		snprintf(got, sizeof(got), "ERR %s", err);
	else if (rc == LISTFMT_SKIP)
		snprintf(got, sizeof(got), "SKIP");
	else
		snprintf(got, sizeof(got), "ENTRY %s %s%s%s%s", prefix_str(&e.pfx, ps),
			 e.action ? action_name(e.action) : "-",
			 e.comment ? " '" : "", e.comment ? e.comment : "", e.comment ? "'" : "");
	if (rc == LISTFMT_ENTRY && e.score >= 0)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), " %d", e.score);
	if (rc == LISTFMT_ENTRY && e.expires)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), " +%lld",
			 (long long)(e.expires - NOW));
	return got;
}

static void start(enum listfmt_kind k, bool actions)
{
	listfmt_init(&lf, k, actions ? "block" : "trust", actions, true, NOW);
}

/* LINE under the current format gives WANT (exactly, or for errors: WANT
 * is "ERR" and a piece of the message) */
static void line_is(const char *line, const char *want)
{
	char name[600];

	feed(line);
	snprintf(name, sizeof(name), "%s: '%s' -> %s", listfmt_names[lf.kind], line, want);
	if (!strncmp(want, "ERR ", 4))
		CHECK(name, !strncmp(got, "ERR ", 4) && strstr(got, want + 4), "got '%s'", got);
	else
		CHECK(name, !strcmp(got, want), "got '%s'", got);
}

static void one(enum listfmt_kind k, bool actions, const char *line, const char *want)
{
	start(k, actions);
	line_is(line, want);
}

static void end_is(const char *want)
{
	char err[MXS_ERRLEN], name[300];
	int rc = listfmt_end(&lf, err, sizeof(err));

	snprintf(name, sizeof(name), "%s: end of file -> %s", listfmt_names[lf.kind],
		 want ? want : "fine");
	if (want)
		CHECK(name, rc && strstr(err, want), "rc=%d err='%s'", rc, rc ? err : "");
	else
		CHECK(name, !rc, "err='%s'", err);
}

static void test_names(void)
{
	CHECK("every kind has a name, and it maps back", ({
		bool ok = true;

		for (int k = 0; k < LISTFMT_N; k++)
			ok &= listfmt_names[k] && listfmt_kind(listfmt_names[k]) == k;
		ok && !listfmt_names[LISTFMT_N];
	}), "a name is missing or maps elsewhere");
	CHECK("an unknown name is -1", listfmt_kind("DROP") == -1 && listfmt_kind("") == -1 &&
	      listfmt_kind(NULL) == -1, "accepted");
}

static void test_csv(void)
{
	/* today's lines, exactly as iplist_import_line read them */
	one(LISTFMT_CSV, true, "192.0.2.1", "ENTRY 192.0.2.1/32 -");
	one(LISTFMT_CSV, true, "192.0.2.0/24,reject", "ENTRY 192.0.2.0/24 reject");
	one(LISTFMT_CSV, true, " 192.0.2.0/24 , quarantine , 1h ,a note, with a comma",
	    "ENTRY 192.0.2.0/24 quarantine 'a note, with a comma' +3600");
	one(LISTFMT_CSV, true, "192.0.2.0/24,,,", "ENTRY 192.0.2.0/24 - ''");
	one(LISTFMT_CSV, true, "192.0.2.0/24,,7d", "ENTRY 192.0.2.0/24 - +604800");
	one(LISTFMT_CSV, true, "2001:db8::/32,spam,,x", "ENTRY 2001:db8::/32 spam 'x'");
	one(LISTFMT_CSV, true, "192.0.2.1/24", "ERR host bits set");
	one(LISTFMT_CSV, true, "192.0.2.0/33", "ERR prefix length must be 0-32");
	one(LISTFMT_CSV, true, "192.0.2.1,bounce", "ERR ");
	one(LISTFMT_CSV, false, "192.0.2.1,reject", "ERR trust entries have no action");
	one(LISTFMT_CSV, true, "192.0.2.1,,soon", "ERR ");
	one(LISTFMT_CSV, true, "192.0.2.1 ; SBL1", "ERR not an IP address");
	{
		char longc[300];

		memset(longc, 'x', sizeof(longc));
		memcpy(longc, "192.0.2.1,,,", 12);
		longc[12 + 201] = '\0';
		one(LISTFMT_CSV, true, longc, "ERR comment too long");
		longc[12 + 200] = '\0';
		start(LISTFMT_CSV, true);
		feed(longc);
		CHECK("csv: a 200-character comment is kept", !strncmp(got, "ENTRY", 5), "%s", got);
	}
	one(LISTFMT_CSV, true, "192.0.2.1,,,tab\there", "ERR control characters");
	/* plain is read by the same parser */
	one(LISTFMT_PLAIN, true, "198.51.100.7", "ENTRY 198.51.100.7/32 -");
	one(LISTFMT_PLAIN, true, "198.51.100.7,reject", "ENTRY 198.51.100.7/32 reject");
}

static void test_netset(void)
{
	one(LISTFMT_NETSET, true, "203.0.113.0/24", "ENTRY 203.0.113.0/24 -");
	one(LISTFMT_NETSET, true, "203.0.113.9", "ENTRY 203.0.113.9/32 -");
	one(LISTFMT_NETSET, true, "2001:db8:1::/48", "ENTRY 2001:db8:1::/48 -");
	one(LISTFMT_NETSET, true, "203.0.113.0/24,reject", "ERR one address or CIDR alone");
	one(LISTFMT_NETSET, true, "203.0.113.0/24 x", "ERR one address or CIDR alone");
	one(LISTFMT_NETSET, true, "203.0.113.0-203.0.113.9", "ERR not an IP address");
}

static void test_drop(void)
{
	one(LISTFMT_DROP, true, "192.0.2.0/24 ; SBL123456", "ENTRY 192.0.2.0/24 - 'SBL123456'");
	one(LISTFMT_DROP, true, "192.0.2.0/24;SBL1", "ENTRY 192.0.2.0/24 - 'SBL1'");
	one(LISTFMT_DROP, true, "192.0.2.0/24\t;\tSBL1 extra words",
	    "ENTRY 192.0.2.0/24 - 'SBL1 extra words'");
	one(LISTFMT_DROP, true, "2001:db8::/32 ; SBL9", "ENTRY 2001:db8::/32 - 'SBL9'");
	one(LISTFMT_DROP, true, "192.0.2.0/24", "ENTRY 192.0.2.0/24 -");
	one(LISTFMT_DROP, true, "192.0.2.0/24 ;", "ENTRY 192.0.2.0/24 -");
	one(LISTFMT_DROP, true, "; Spamhaus DROP List 2026/01/09", "SKIP");
	one(LISTFMT_DROP, true, ";", "SKIP");
	one(LISTFMT_DROP, true, "192.0.2.0/20 ; SBL1", "ERR host bits set");
	one(LISTFMT_DROP, true, "192.0.2.0/24 SBL1", "ERR expected 'PREFIX ; SBLID'");
	one(LISTFMT_DROP, true, "; x", "SKIP");
	CHECK("drop: comment lines are not counted as skipped", lf.skipped == 0 && !lf.entries,
	      "skipped %ld", lf.skipped);
	{
		char line[400];

		snprintf(line, sizeof(line), "192.0.2.0/24 ; %0300d", 7);
		start(LISTFMT_DROP, true);
		feed(line);
		CHECK("drop: a long comment is cut to 200 bytes",
		      strlen(got) == strlen("ENTRY 192.0.2.0/24 - ''") + 200, "'%s'", got);
		/* 199 ASCII bytes, then a 2-byte character across the limit */
		snprintf(line, sizeof(line), "192.0.2.0/24 ; %0199d\xc3\xa9tail", 7);
		start(LISTFMT_DROP, true);
		feed(line);
		CHECK("drop: ... at a character boundary",
		      strlen(got) == strlen("ENTRY 192.0.2.0/24 - ''") + 199, "'%s'", got);
	}
}

static void test_drop_json(void)
{
	start(LISTFMT_DROP_JSON, true);
	line_is("{\"cidr\":\"192.0.2.0/24\",\"sblid\":\"SBL1\",\"rir\":\"arin\"}",
		"ENTRY 192.0.2.0/24 - 'SBL1 arin'");
	line_is("{ \"rir\" : \"ripencc\", \"cidr\" : \"2001:db8::/32\", \"sblid\": \"SBL2\" }",
		"ENTRY 2001:db8::/32 - 'SBL2 ripencc'");
	line_is("{\"cidr\":\"198.51.100.0/24\"}", "ENTRY 198.51.100.0/24 -");
	line_is("{\"cidr\":\"198.51.100.0/24\",\"sblid\":\"SBL3\",\"extra\":[1,2,{}]}",
		"ENTRY 198.51.100.0/24 - 'SBL3'");
	line_is("{\"type\":\"metadata\",\"timestamp\":1767945600,\"size\":200,\"records\":4,"
		"\"copyright\":\"(c) 2026 The Spamhaus Project SLU\"}", "SKIP");
	end_is(NULL);

	start(LISTFMT_DROP_JSON, true);
	line_is("{\"cidr\":\"192.0.2.0/24\",\"sblid\":\"SBL1\"}", "ENTRY 192.0.2.0/24 - 'SBL1'");
	line_is("{\"type\":\"metadata\",\"timestamp\":1,\"records\":2}", "SKIP");
	end_is("the metadata line says 2 records, the file has 1: truncated or damaged");

	start(LISTFMT_DROP_JSON, true);
	line_is("{\"cidr\":\"192.0.2.0/24\"}", "ENTRY 192.0.2.0/24 -");
	end_is("no metadata line at the end");

	start(LISTFMT_DROP_JSON, true);
	line_is("{\"cidr\":\"192.0.2.0/24\"}", "ENTRY 192.0.2.0/24 -");
	line_is("{\"type\":\"metadata\",\"timestamp\":1}", "SKIP");
	end_is(NULL);	/* no count: nothing to check */

	start(LISTFMT_DROP_JSON, true);
	end_is(NULL);	/* no lines at all: --replace refuses it elsewhere */

	start(LISTFMT_DROP_JSON, true);
	line_is("{\"cidr\":\"192.0.2.0/24\"}", "ENTRY 192.0.2.0/24 -");
	line_is("{\"cidr\":\"192.0.2.128/25\",\"sbl", "ERR cut short");
	line_is("{\"type\":\"metadata\",\"records\":2}", "SKIP");
	end_is(NULL);	/* the damaged line was a record: the count agrees */

	start(LISTFMT_DROP_JSON, true);
	line_is("{\"type\":\"metadata\",\"records\":0}", "SKIP");
	line_is("{\"cidr\":\"192.0.2.0/24\"}", "ERR a record after the metadata line");
	line_is("{\"type\":\"metadata\",\"records\":0}", "ERR a second metadata line");

	one(LISTFMT_DROP_JSON, true, "{\"type\":\"metadata\",\"records\":\"many\"}",
	    "ERR not a count");
	one(LISTFMT_DROP_JSON, true, "{\"type\":\"metadata\",\"records\":-1}", "ERR not a count");
	one(LISTFMT_DROP_JSON, true, "[\"192.0.2.0/24\"]", "ERR not a JSON object");
	one(LISTFMT_DROP_JSON, true, "\"192.0.2.0/24\"", "ERR not a JSON object");
	one(LISTFMT_DROP_JSON, true, "192.0.2.0/24 ; SBL1", "ERR not a JSON object");
	one(LISTFMT_DROP_JSON, true, "{\"cidr\":}", "ERR not JSON");
	one(LISTFMT_DROP_JSON, true, "{\"cidr\":\"192.0.2.0/24\"} {}", "ERR text after the JSON");
	one(LISTFMT_DROP_JSON, true, "{\"cidr\":\"192.0.2.0/24\"}x", "ERR text after the JSON");
	one(LISTFMT_DROP_JSON, true, "{\"cidr\":24}", "ERR without a \"cidr\" string");
	one(LISTFMT_DROP_JSON, true, "{\"sblid\":\"SBL1\"}", "ERR without a \"cidr\" string");
	one(LISTFMT_DROP_JSON, true, "{\"cidr\":\"192.0.2.1/24\"}", "ERR host bits set");
	one(LISTFMT_DROP_JSON, true,
	    "{\"asn\":64496,\"rir\":\"arin\",\"domain\":\"example.com\",\"cc\":\"US\"}",
	    "ERR an ASN-DROP record");
	one(LISTFMT_DROP_JSON, true, "{\"cidr\":\"192.0.2.0/24\",\"sblid\":\"SBL\\u0001\"}",
	    "ERR control character");
	one(LISTFMT_DROP_JSON, true, "{\"cidr\":\"192.0.2.0/24\",\"sblid\":\"S\\u00e9\"}",
	    "ENTRY 192.0.2.0/24 - 'S\xc3\xa9'");
	one(LISTFMT_DROP_JSON, true, "{\"cidr\":\"192.0.2.0/24\",\"sblid\":\"a\\tb\"}",
	    "ENTRY 192.0.2.0/24 - 'a b'");
}

static void test_abuseipdb(void)
{
	start(LISTFMT_ABUSEIPDB, true);
	line_is("ipAddress,countryCode,abuseConfidenceScore,lastReportedAt", "SKIP");
	line_is("192.0.2.10,US,100,2026-01-09T04:00:01+00:00",
		"ENTRY 192.0.2.10/32 - 'abuseipdb score 100 US, last reported "
		"2026-01-09T04:00:01+00:00' 100");
	line_is("192.0.2.11,NL,75,2026-01-09T04:00:01+00:00",
		"ENTRY 192.0.2.11/32 - 'abuseipdb score 75 NL, last reported "
		"2026-01-09T04:00:01+00:00' 75");
	line_is("192.0.2.12,NL,74,2026-01-09T04:00:01+00:00", "SKIP");
	line_is("192.0.2.13,,0,", "SKIP");
	line_is("2001:db8::13,,90,", "ENTRY 2001:db8::13/128 - 'abuseipdb score 90' 90");
	line_is("\"192.0.2.14\",\"DE\",\"99\",\"2026-01-09\"",
		"ENTRY 192.0.2.14/32 - 'abuseipdb score 99 DE, last reported 2026-01-09' 99");
	line_is("192.0.2.15,US,101,x", "ERR not 0-100");
	line_is("192.0.2.15,US,-1,x", "ERR not 0-100");
	line_is("192.0.2.15,US,9x,x", "ERR not 0-100");
	line_is("192.0.2.15,US,,x", "ERR not 0-100");
	line_is("192.0.2.15,US,100", "ERR 3 columns, the header has 4");
	line_is("192.0.2.15,US,100,x,y", "ERR 5 columns, the header has 4");
	line_is("192.0.2.300,US,100,x", "ERR not an IP address");
	line_is("\"192.0.2.15,US,100,x", "ERR without its closing quote");
	line_is("\"192.0.2.15\"x,US,100,x", "ERR text after a quoted column");
	CHECK("abuseipdb: below the minimum counted", lf.below_score == 2 && lf.skipped == 2 &&
	      lf.entries == 4, "below %ld skipped %ld entries %ld", lf.below_score, lf.skipped,
	      lf.entries);
	end_is(NULL);

	/* columns by their names, in any order, with others beside them */
	start(LISTFMT_ABUSEIPDB, true);
	lf.min_score = 90;
	line_is("lastReportedAt, abuseConfidenceScore ,Note,IPADDRESS", "SKIP");
	line_is("2026-01-09,95,\"a, quoted \"\"note\"\"\",198.51.100.1",
		"ENTRY 198.51.100.1/32 - 'abuseipdb score 95, last reported 2026-01-09' 95");
	line_is("2026-01-09,89,,198.51.100.2", "SKIP");

	/* no score column: only with min_score 0 */
	start(LISTFMT_ABUSEIPDB, true);
	line_is("ipAddress,countryCode", "ERR no abuseConfidenceScore column");
	start(LISTFMT_ABUSEIPDB, true);
	lf.min_score = 0;
	line_is("ipAddress,countryCode", "SKIP");
	line_is("203.0.113.5,BR", "ENTRY 203.0.113.5/32 - 'abuseipdb BR'");

	one(LISTFMT_ABUSEIPDB, true, "192.0.2.10,US,100,2026-01-09", "ERR AbuseIPDB's header");
	start(LISTFMT_ABUSEIPDB, true);
	line_is("ipAddress,ipAddress,abuseConfidenceScore", "ERR column ipAddress twice");
	start(LISTFMT_ABUSEIPDB, true);
	line_is("ipAddress,abuseConfidenceScore", "SKIP");
	line_is("192.0.2.10,100", "ENTRY 192.0.2.10/32 - 'abuseipdb score 100' 100");
	line_is("ipAddress,abuseConfidenceScore", "ERR not an IP address");
}

static void test_postfix(void)
{
	/* block list: the lines that stop mail */
	one(LISTFMT_POSTFIX_CIDR, true, "192.0.2.0/24 REJECT", "ENTRY 192.0.2.0/24 reject");
	one(LISTFMT_POSTFIX_CIDR, true, "192.0.2.0/24\treject\tlisted here",
	    "ENTRY 192.0.2.0/24 reject 'listed here'");
	one(LISTFMT_POSTFIX_CIDR, true, "192.0.2.0/24  554 5.7.1 go away",
	    "ENTRY 192.0.2.0/24 reject '5.7.1 go away'");
	one(LISTFMT_POSTFIX_CIDR, true, "192.0.2.0/24 450 4.7.1 later",
	    "ENTRY 192.0.2.0/24 reject '4.7.1 later'");
	one(LISTFMT_POSTFIX_CIDR, true, "192.0.2.0/24 DEFER try later",
	    "ENTRY 192.0.2.0/24 reject 'try later'");
	one(LISTFMT_POSTFIX_CIDR, true, "192.0.2.0/24 HOLD", "ENTRY 192.0.2.0/24 quarantine");
	one(LISTFMT_POSTFIX_CIDR, true, "192.0.2.0/24 Discard quietly",
	    "ENTRY 192.0.2.0/24 drop 'quietly'");
	one(LISTFMT_POSTFIX_CIDR, true, "192.0.2.7 REJECT", "ENTRY 192.0.2.7/32 reject");
	one(LISTFMT_POSTFIX_CIDR, true, "[2001:db8::]/32 REJECT v6",
	    "ENTRY 2001:db8::/32 reject 'v6'");
	one(LISTFMT_POSTFIX_CIDR, true, "[2001:db8::/32] REJECT", "ENTRY 2001:db8::/32 reject");
	one(LISTFMT_POSTFIX_CIDR, true, "[192.0.2.7] REJECT", "ENTRY 192.0.2.7/32 reject");
	one(LISTFMT_POSTFIX_CIDR, true, "2001:db8::1 REJECT", "ENTRY 2001:db8::1/128 reject");
	/* not blocks: skipped and counted */
	for (const char *const *w = (const char *const[]){ "OK", "permit", "RELAY", "DUNNO",
			"WARN x", "INFO x", "PREPEND X-Listed: yes", "FILTER smtp:[192.0.2.9]",
			"REDIRECT a@example.com", "BCC a@example.com", "DEFER_IF_REJECT x",
			"DEFER_IF_PERMIT x", "12345", "554", NULL }; *w; w++) {
		char line[128], name[160];

		snprintf(line, sizeof(line), "192.0.2.0/24 %s", *w);
		start(LISTFMT_POSTFIX_CIDR, true);
		feed(line);
		snprintf(name, sizeof(name), "postfix-cidr: '%s' is skipped for the block list",
			 line);
		CHECK(name, !strcmp(got, "SKIP") && lf.skipped == 1, "got '%s'", got);
	}
	/* a list without actions takes the passing lines */
	one(LISTFMT_POSTFIX_CIDR, false, "192.0.2.1 OK", "ENTRY 192.0.2.1/32 -");
	one(LISTFMT_POSTFIX_CIDR, false, "192.0.2.1 PERMIT a partner", "ENTRY 192.0.2.1/32 - "
	    "'a partner'");
	one(LISTFMT_POSTFIX_CIDR, false, "192.0.2.1 1700000000", "ENTRY 192.0.2.1/32 -");
	one(LISTFMT_POSTFIX_CIDR, false, "192.0.2.0/24 REJECT", "SKIP");
	one(LISTFMT_POSTFIX_CIDR, false, "192.0.2.0/24 DUNNO", "SKIP");
	/* what it cannot read */
	one(LISTFMT_POSTFIX_CIDR, true, "if 192.0.2.0/24", "ERR if/endif blocks are not read");
	one(LISTFMT_POSTFIX_CIDR, true, "endif", "ERR if/endif blocks are not read");
	one(LISTFMT_POSTFIX_CIDR, true, "!192.0.2.0/24 REJECT", "ERR a negated pattern");
	one(LISTFMT_POSTFIX_CIDR, true, "192.0.2.0/24", "ERR no result after the pattern");
	one(LISTFMT_POSTFIX_CIDR, true, "192.0.2.1/24 REJECT", "ERR host bits set");
	one(LISTFMT_POSTFIX_CIDR, true, "192.0.2.0/24 reject_unknown_client_hostname",
	    "ERR not a Postfix action");
	one(LISTFMT_POSTFIX_CIDR, true, "192.0.2.0/24 5.7.1 text", "ERR not a Postfix action");
	one(LISTFMT_POSTFIX_CIDR, true, "continued text", "ERR a continued line?");
	one(LISTFMT_POSTFIX_CIDR, true, "[192.0.2.0/24 REJECT", "ERR not an address pattern");
	one(LISTFMT_POSTFIX_CIDR, true, "[192.0.2.0]x REJECT", "ERR not an address pattern");
	one(LISTFMT_POSTFIX_CIDR, true, "[192.0.2.0/24]/24 REJECT", "ERR not an address pattern");
	one(LISTFMT_POSTFIX_CIDR, true, "[[192.0.2.0]] REJECT", "ERR not an address pattern");
}

static void detect_is(const char *name, const char *const *lines, size_t n, const char *want)
{
	enum listfmt_kind k = LISTFMT_AUTO;
	char err[MXS_ERRLEN], full[200];
	int rc = listfmt_detect(lines, n, &k, err, sizeof(err));

	snprintf(full, sizeof(full), "detect %s -> %s", name, want);
	if (!strncmp(want, "ERR ", 4))
		CHECK(full, rc && strstr(err, want + 4), "rc=%d kind=%s err='%s'", rc,
		      listfmt_names[k], rc ? err : "");
	else
		CHECK(full, !rc && !strcmp(listfmt_names[k], want), "rc=%d kind=%s err='%s'", rc,
		      listfmt_names[k], rc ? err : "");
}

#define L(...) (const char *const[]){ __VA_ARGS__ }, sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(char *)

static void test_detect(void)
{
	detect_is("nothing", NULL, 0, "plain");
	detect_is("bare prefixes", L("192.0.2.0/24", "198.51.100.7", "2001:db8::/32"), "plain");
	detect_is("export lines", L("192.0.2.0/24,drop,,x", "198.51.100.7,reject,,"), "csv");
	detect_is("bare and csv", L("192.0.2.0/24", "198.51.100.7,reject"), "csv");
	detect_is("DROP text", L("; Spamhaus DROP List", "; (c)", "192.0.2.0/24 ; SBL1"), "drop");
	detect_is("DROP text without its header", L("192.0.2.0/24 ; SBL1", "198.51.100.0/24;SBL2"),
		  "drop");
	detect_is("DROP header only", L("; Spamhaus DROP List"), "drop");
	detect_is("DROP JSON", L("{\"cidr\":\"192.0.2.0/24\"}", "{\"type\":\"metadata\"}"),
		  "drop-json");
	detect_is("AbuseIPDB", L("ipAddress,countryCode,abuseConfidenceScore,lastReportedAt",
				 "192.0.2.1,US,100,2026-01-09"), "abuseipdb");
	detect_is("AbuseIPDB, columns reordered and quoted",
		  L("\"abuseConfidenceScore\",\"ipAddress\""), "abuseipdb");
	detect_is("Postfix", L("192.0.2.1 OK", "192.0.2.0/24 REJECT go away",
			       "[2001:db8::]/32 554 5.7.1 no"), "postfix-cidr");
	detect_is("Postfix with if", L("if 192.0.2.0/24", "192.0.2.1 REJECT", "endif"),
		  "postfix-cidr");
	detect_is("Postfix with a bad pattern among good ones",
		  L("192.0.2.1 OK", "300.0.0.0/8 REJECT"), "postfix-cidr");
	detect_is("garbage alone: csv, which names each bad line", L("hello", "world"), "csv");
	detect_is("bare prefixes with a bad line", L("192.0.2.1", "192.0.2.0/33"), "plain");
	detect_is("DROP and Postfix lines", L("192.0.2.0/24 ; SBL1", "198.51.100.0/24 REJECT"),
		  "ERR look like drop ('192.0.2.0/24 ; SBL1') and like postfix-cidr "
		  "('198.51.100.0/24 REJECT'): say which with --format");
	detect_is("csv and DROP lines", L("192.0.2.0/24,reject", "198.51.100.0/24 ; SBL2"),
		  "ERR say which with --format");
	detect_is("csv and Postfix lines", L("192.0.2.0/24 REJECT", "198.51.100.0/24,reject"),
		  "ERR say which with --format");
	detect_is("JSON after the first line is not JSON",
		  L("192.0.2.1", "{\"cidr\":\"192.0.2.0/24\"}"), "plain");
}

int main(void)
{
	test_names();
	test_csv();
	test_netset();
	test_drop();
	test_drop_json();
	test_abuseipdb();
	test_postfix();
	test_detect();
	return failures ? 1 : 0;
}
