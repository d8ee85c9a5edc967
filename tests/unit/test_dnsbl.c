// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of mta/dnsbl.c: postscreen's site syntax (postscreen_dnsbl_sites),
 * the reply filter against every reply, the query names, the score, and
 * the state file (a bad line is an error with its line; nothing half-read).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/ctl.h"
#include "core/parse.h"
#include "mta/dnsbl.h"
#include "state/recfile.h"
#include "../check.h"

static char err[MXS_ERRLEN];

static void site_ok(const char *in, const char *domain, int weight, const char *canon)
{
	struct dnsbl_site s;
	char name[256], out[400] = "";
	int rc = dnsbl_parse_site(in, &s, err, sizeof(err));

	if (!rc)
		dnsbl_site_str(&s, out, sizeof(out));
	snprintf(name, sizeof(name), "site '%s' -> %s weight %d", in, domain, weight);
	CHECK(name, rc == 0 && !strcmp(s.domain, domain) && s.weight == weight &&
	      !strcmp(out, canon), "rc=%d err='%s' domain='%s' weight=%d str='%s'", rc,
	      rc ? err : "", s.domain, s.weight, out);
}

static void site_bad(const char *in, const char *needle)
{
	struct dnsbl_site s;
	char name[256];
	int rc = dnsbl_parse_site(in, &s, err, sizeof(err));

	snprintf(name, sizeof(name), "site '%s' refused (%s)", in, needle);
	CHECK(name, rc == -1 && strstr(err, needle), "rc=%d err='%s'", rc, err);
}

/* Every reply a.b.c.d in the space the filter's fields span: does the
 * matcher agree with a reference written from the pattern's meaning? */
static int matches_ref(const char *filter, const uint8_t a[4]);

static void filter_exhaustive(const char *filter)
{
	struct dnsbl_filter f;
	char name[256];
	long wrong = 0, seen = 0, hits = 0;
	uint8_t a[4];

	if (dnsbl_parse_filter(filter, &f, err, sizeof(err))) {
		snprintf(name, sizeof(name), "filter '%s' parses", filter);
		CHECK(name, 0, "%s", err);
		return;
	}
	/* octets 0 and 1 at 127.0 and 127.1 and 10.0; 2 and 3 in full */
	static const uint8_t heads[][2] = { { 127, 0 }, { 127, 1 }, { 10, 0 } };
	for (size_t h = 0; h < sizeof(heads) / sizeof(heads[0]); h++)
		for (int c = 0; c < 256; c++)
			for (int d = 0; d < 256; d++) {
				bool got, want;

				a[0] = heads[h][0];
				a[1] = heads[h][1];
				a[2] = c;
				a[3] = d;
				got = dnsbl_filter_match(&f, a);
				want = matches_ref(filter, a);
				wrong += got != want;
				hits += got;
				seen++;
			}
	snprintf(name, sizeof(name), "filter '%s': %ld replies, %ld match, the matcher agrees",
		 filter, seen, hits);
	CHECK(name, wrong == 0 && hits > 0, "%ld disagree", wrong);
}

/* The reference: a field matches a value when the value is the field's
 * number, or inside one of its ';'-separated numbers or N..M ranges. */
static bool field_ref(const char *field, size_t len, int v)
{
	char buf[128], *save, *tok;

	if (field[0] != '[')
		return atoi(field) == v;
	snprintf(buf, sizeof(buf), "%.*s", (int)len - 2, field + 1);
	for (tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		char *dots = strstr(tok, "..");
		int lo = atoi(tok), hi = dots ? atoi(dots + 2) : lo;

		if (v >= lo && v <= hi)
			return true;
	}
	return false;
}

static int matches_ref(const char *filter, const uint8_t a[4])
{
	const char *p = filter;

	for (int i = 0; i < 4; i++) {
		const char *end = p;

		if (*p == '[')
			end = strchr(p, ']') + 1;
		else
			while (*end && *end != '.')
				end++;
		if (!field_ref(p, end - p, a[i]))
			return 0;
		p = *end ? end + 1 : end;
	}
	return 1;
}

static void test_sites(void)
{
	site_ok("zen.spamhaus.org", "zen.spamhaus.org", 1, "zen.spamhaus.org");
	site_ok("zen.spamhaus.org*3", "zen.spamhaus.org", 3, "zen.spamhaus.org*3");
	site_ok("zen.spamhaus.org=127.0.0.[2..11]*3", "zen.spamhaus.org", 3,
		"zen.spamhaus.org=127.0.0.[2..11]*3");
	site_ok("list.dnswl.org=127.0.[0..255].[1..3]*-4", "list.dnswl.org", -4,
		"list.dnswl.org=127.0.[0..255].[1..3]*-4");
	site_ok("b.barracudacentral.org=127.0.0.2*7", "b.barracudacentral.org", 7,
		"b.barracudacentral.org=127.0.0.2*7");
	site_ok("bl.example.org=127.0.0.[2;4..6]", "bl.example.org", 1,
		"bl.example.org=127.0.0.[2;4..6]");
	site_ok("Zen.Spamhaus.ORG.=[127.0.0.4]*+2", "zen.spamhaus.org", 2,
		"zen.spamhaus.org=[127.0.0.4]*2");
	site_ok("bl.example.org*1", "bl.example.org", 1, "bl.example.org");
	site_ok("swl.spamhaus.org*-4", "swl.spamhaus.org", -4, "swl.spamhaus.org*-4");

	site_bad("", "empty site");
	site_bad("zen.spamhaus.org*", "bad weight ''");
	site_bad("zen.spamhaus.org*x", "bad weight 'x'");
	site_bad("zen.spamhaus.org*3x", "bad weight '3x'");
	site_bad("zen.spamhaus.org*99999999999", "bad weight");
	site_bad("zen.spamhaus.org=", "empty filter");
	site_bad("zen.spamhaus.org=127.0.0", "need four fields");
	site_bad("zen.spamhaus.org=127.0.0.256", "need a number 0..255");
	site_bad("zen.spamhaus.org=127.0.0.2.1", "garbage after the fourth field");
	site_bad("zen.spamhaus.org=127.0.0.[2,4]", "separate values with ';'");
	site_bad("zen.spamhaus.org=127.0.0.[11..2]", "N <= M");
	site_bad("zen.spamhaus.org=127.0.0.[2..]", "N <= M");
	site_bad("zen.spamhaus.org=127.0.0.[]", "need a number 0..255 inside []");
	site_bad("zen.spamhaus.org=127.0.[0.1]", "need ';' or ']'");
	site_bad("zen.spamhaus.org=127.0.0.3[6..9]", "garbage after the fourth field");
	site_bad("zen.spamhaus.org=[127.0.0.2", "missing ']'");
	site_bad("zen.spamhaus.org=127.0.0.x", "need a number 0..255 or '['");
	site_bad("zen spamhaus.org", "bad DNSBL domain");
	site_bad("localhost", "at least two labels");
	site_bad("=127.0.0.2", "bad DNSBL domain");

	{
		char where[MXS_ERRLEN];

		dnsbl_parse_site("zen.spamhaus.org=127.0.0.[2..x]", &(struct dnsbl_site){}, where,
				 sizeof(where));
		CHECK("a bad filter shows where it fails",
		      strstr(where, "at \"127.0.0.[2>.<.x]\"") != NULL, "got '%s'", where);
	}
}

static void test_filters(void)
{
	filter_exhaustive("127.0.0.[2..11]");
	filter_exhaustive("127.0.[0..255].[1..3]");
	filter_exhaustive("127.0.0.2");
	filter_exhaustive("127.0.0.[2;4..6]");
	filter_exhaustive("127.[0;1].[2..15].[0;2..3;200..255]");
	filter_exhaustive("10.0.[7].[0..0]");

	{
		struct dnsbl_site s;
		uint8_t err254[4] = { 127, 255, 255, 254 }, listed[4] = { 127, 0, 0, 2 };

		dnsbl_parse_site("zen.spamhaus.org", &s, err, sizeof(err));
		CHECK("no filter: any reply counts", dnsbl_site_matches(&s, listed), "no");
		CHECK("no filter: 127.255.255.254 (refused: public resolver) does not",
		      !dnsbl_site_matches(&s, err254), "it did");
		dnsbl_parse_site("zen.spamhaus.org=127.[0..255].[0..255].[0..255]", &s, err,
				 sizeof(err));
		CHECK("a filter over everything: 127.255.255.254 still does not count",
		      !dnsbl_site_matches(&s, err254), "it did");
	}
}

static void qname_is(const char *addr, const char *want)
{
	struct mxs_prefix p;
	char buf[DNSBL_QNAME_MAX + 1], name[256];

	parse_addr(addr, &p, err, sizeof(err));
	dnsbl_qname(&p, "bl.example.org", buf, sizeof(buf));
	snprintf(name, sizeof(name), "query name of %s", addr);
	CHECK(name, !strcmp(buf, want), "got '%s', want '%s'", buf, want);
}

static void test_qnames(void)
{
	qname_is("192.0.2.99", "99.2.0.192.bl.example.org");
	qname_is("::ffff:198.51.100.7", "7.100.51.198.bl.example.org");
	qname_is("2001:db8::1",
		 "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.example.org");
	qname_is("2001:db8:1:2:3:4:5:abcd",
		 "d.c.b.a.5.0.0.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example.org");
}

/* the score over fixed answers */
struct answers {
	const char *domain[4];
	struct dnsbl_answer an[4];
};

static const struct dnsbl_answer *answer_of(const char *domain, void *arg)
{
	struct answers *a = arg;

	for (int i = 0; i < 4 && a->domain[i]; i++)
		if (!strcmp(a->domain[i], domain))
			return &a->an[i];
	return NULL;
}

static void add_site(struct dnsbl_conf *cf, const char *s)
{
	dnsbl_parse_site(s, &cf->site[cf->n++], err, sizeof(err));
}

static void test_score(void)
{
	struct dnsbl_conf cf;
	struct dnsbl_score sc;
	struct answers a = {
		.domain = { "zen.spamhaus.org", "list.dnswl.org", "b.barracudacentral.org" },
		.an = {
			{ DNSBL_LISTED, 2, { { 127, 0, 0, 4 }, { 127, 0, 0, 11 } }, 300 },
			{ DNSBL_NOT_LISTED, 0, {}, 900 },
			{ DNSBL_LISTED, 1, { { 127, 0, 0, 2 } }, 120 },
		},
	};

	dnsbl_conf_init(&cf);
	add_site(&cf, "zen.spamhaus.org=127.0.0.[10;11]*8");
	add_site(&cf, "zen.spamhaus.org=127.0.0.[4..7]*3");
	add_site(&cf, "zen.spamhaus.org=127.0.0.2*3");
	add_site(&cf, "list.dnswl.org=127.0.[0..255].[1..3]*-4");
	add_site(&cf, "b.barracudacentral.org=127.0.0.2*7");
	dnsbl_score(&cf, answer_of, &a, &sc);
	CHECK("score: entries of one domain count each (8 + 3), barracuda 7: 18",
	      sc.score == 18 && sc.matched == 3 && !sc.failed, "score %d matched %d", sc.score,
	      sc.matched);
	CHECK("score: the reason names each entry with its reply",
	      !strcmp(sc.why, "zen.spamhaus.org=127.0.0.11*8 zen.spamhaus.org=127.0.0.4*3 "
		      "b.barracudacentral.org=127.0.0.2*7"), "got '%s'", sc.why);
	CHECK("score: the TTL is the least of the listing answers (120)", sc.ttl == 120,
	      "ttl %u", sc.ttl);

	a.an[1] = (struct dnsbl_answer){ DNSBL_LISTED, 1, { { 127, 0, 15, 3 } }, 900 };
	a.an[2].status = DNSBL_FAILED;
	dnsbl_score(&cf, answer_of, &a, &sc);
	CHECK("score: DNSWL subtracts, a failed list counts as not listed: 8 + 3 - 4 = 7",
	      sc.score == 7 && sc.failed && sc.ttl == 300, "score %d failed %d ttl %u", sc.score,
	      sc.failed, sc.ttl);
	a.domain[0] = NULL;
	dnsbl_score(&cf, answer_of, &a, &sc);
	CHECK("score: no answer at all: 0, failed", sc.score == 0 && sc.failed && !sc.why[0],
	      "score %d why '%s'", sc.score, sc.why);
}

/* The state file: saved and read back; a bad line is an error with its
 * line number. */
static void test_file(void)
{
	char dir[] = "/tmp/mxs-dnsbl-XXXXXX", path[300];
	struct ctl c = { .lock_fd = -1 };
	struct dnsbl_conf cf, back;
	FILE *f;

	if (!mkdtemp(dir)) {
		CHECK("temporary state directory", 0, "mkdtemp failed");
		return;
	}
	c.state_dir = dir;
	dnsbl_conf_init(&cf);
	add_site(&cf, "zen.spamhaus.org=127.0.0.[2..11]*3");
	add_site(&cf, "list.dnswl.org=127.0.[0..255].[1..3]*-4");
	cf.threshold = 3;
	cf.action = MXS_ACT_QUARANTINE;
	cf.push_max = 0;
	cf.timeout_ms = 2500;
	dnsbl_conf_save(&c, &cf);
	CHECK("state file: read back as written",
	      !dnsbl_conf_load(&c, &back, err, sizeof(err)) && back.n == 2 &&
	      back.threshold == 3 && back.action == MXS_ACT_QUARANTINE && back.push_max == 0 &&
	      back.timeout_ms == 2500 && back.site[1].weight == -4 &&
	      dnsbl_site_same(&back.site[0], &cf.site[0]), "err '%s' n %d", err, back.n);

	snprintf(path, sizeof(path), "%s/dnsbl", dir);
	f = fopen(path, "w");
	fprintf(f, "site=zen.spamhaus.org*3\nsite=bad=127.0.0\n");
	fclose(f);
	CHECK("state file: a bad site is an error naming its line",
	      dnsbl_conf_load(&c, &back, err, sizeof(err)) && strstr(err, "dnsbl:2:"),
	      "err '%s'", err);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_sites();
	test_filters();
	test_qnames();
	test_score();
	test_file();
	return failures ? 1 : 0;
}
