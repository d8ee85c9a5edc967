// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests: every parser the controller has, and the state file format. */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/parse.h"
#include "filter/compile.h"
#include "filter/install.h"
#include "filter/classify.h"
#include "filter/geo.h"
#include "state/recfile.h"
#include "../check.h"

static char err[MXS_ERRLEN];

static void prefix_ok(const char *in, const char *want, int v6)
{
	struct mxs_prefix p;
	char buf[MXS_PFX_STRLEN], name[128];
	int rc = parse_prefix(in, &p, err, sizeof(err));

	snprintf(name, sizeof(name), "prefix '%s' -> %s", in, want);
	CHECK(name, rc == 0 && !strcmp(prefix_str(&p, buf), want) && p.v6 == v6,
	      "rc=%d got '%s' v6=%d err='%s'", rc, rc ? "" : buf, p.v6, rc ? err : "");
}

static void prefix_bad(const char *in, const char *needle)
{
	struct mxs_prefix p;
	char name[128];
	int rc = parse_prefix(in, &p, err, sizeof(err));

	snprintf(name, sizeof(name), "prefix '%s' rejected (%s)", in, needle);
	CHECK(name, rc == -1 && strstr(err, needle), "rc=%d err='%s'", rc, err);
}

static void test_prefixes(void)
{
	struct mxs_prefix a, b;

	prefix_ok("198.51.100.0/24", "198.51.100.0/24", 0);
	prefix_ok("198.51.100.7", "198.51.100.7/32", 0);
	prefix_ok("0.0.0.0/0", "0.0.0.0/0", 0);
	prefix_ok("2001:db8::/32", "2001:db8::/32", 1);
	prefix_ok("2001:DB8:0:0::1", "2001:db8::1/128", 1);
	prefix_ok("::ffff:198.51.100.0/120", "198.51.100.0/24", 0);
	prefix_ok("::ffff:203.0.113.9", "203.0.113.9/32", 0);
	prefix_ok("::/0", "::/0", 1);
	prefix_bad("198.51.100.1/24", "the network is 198.51.100.0/24");
	prefix_bad("2001:db8::1/32", "the network is 2001:db8::/32");
	prefix_bad("::ffff:198.51.100.1/120", "the network is 198.51.100.0/24");
	prefix_bad("198.51.100.0/33", "prefix length must be 0-32");
	prefix_bad("2001:db8::/129", "prefix length must be 0-128");
	prefix_bad("198.51.100.0/", "prefix length");
	prefix_bad("198.51.100.0/-1", "prefix length");
	prefix_bad("198.51.100.0/2x", "prefix length");
	prefix_bad("198.51.100", "not an IP address");
	prefix_bad("example.com", "not an IP address");
	prefix_bad("", "empty");
	prefix_bad("1.2.3.4 ", "not an IP address");

	CHECK("addr rejects a CIDR", parse_addr("198.51.100.0/24", &a, err, sizeof(err)) == -1,
	      "accepted");
	CHECK("addr maps IPv4-mapped IPv6 to IPv4",
	      parse_addr("::ffff:192.0.2.1", &a, err, sizeof(err)) == 0 && !a.v6 && a.plen == 32 &&
	      a.addr[0] == 192 && a.addr[3] == 1, "v6=%d plen=%d", a.v6, a.plen);
	parse_prefix("198.51.100.0/24", &a, err, sizeof(err));
	parse_prefix("198.51.100.128/25", &b, err, sizeof(err));
	CHECK("contains: /24 holds /25", prefix_contains(&a, &b), "no");
	CHECK("contains: /25 not /24", !prefix_contains(&b, &a), "yes");
	parse_prefix("2001:db8::/32", &b, err, sizeof(err));
	CHECK("contains: families differ", !prefix_contains(&a, &b), "yes");
}

static void test_durations(void)
{
	static const struct { const char *in; int64_t want; } ok[] = {
		{ "45s", 45 }, { "30m", 1800 }, { "12h", 43200 }, { "7d", 604800 },
		{ "1d12h", 129600 }, { "1h30m15s", 5415 },
	};
	static const struct { const char *in, *needle; } bad[] = {
		{ "10", "needs a unit" }, { "5w", "unknown duration unit" },
		{ "0s", "positive" }, { "", "empty" }, { "h", "bad duration" },
		{ "-5m", "bad duration" }, { "999999999d", "too long" },
		{ "36600d5s", "too long" },
	};
	char name[96];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t s = -1;
		int rc = parse_duration(ok[i].in, &s, err, sizeof(err));

		snprintf(name, sizeof(name), "duration '%s' = %llds", ok[i].in, (long long)ok[i].want);
		CHECK(name, rc == 0 && s == ok[i].want, "rc=%d got %lld err=%s", rc, (long long)s,
		      rc ? err : "");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t s;
		int rc = parse_duration(bad[i].in, &s, err, sizeof(err));

		snprintf(name, sizeof(name), "duration '%s' rejected", bad[i].in);
		CHECK(name, rc == -1 && strstr(err, bad[i].needle), "rc=%d err=%s", rc, err);
	}
}

static void test_countries(void)
{
	static const char *const good[] = { "de", "DE", "Cn", "us", "xk", "zw", "ad" };
	static const char *const bad[] = { "ZZ", "UK", "EU", "D", "DEU", "1A", "", "d3" };
	char name[64], code[3];
	uint32_t idx;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = parse_country(good[i], &idx, code, err, sizeof(err));
		char back[3];

		country_code(idx, back);
		snprintf(name, sizeof(name), "country '%s' accepted", good[i]);
		CHECK(name, rc == 0 && idx < MXS_COUNTRY_SLOTS && !strcmp(back, code) &&
		      code[0] == (good[i][0] & ~0x20), "rc=%d code=%s back=%s", rc, code, back);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(name, sizeof(name), "country '%s' rejected", bad[i]);
		CHECK(name, parse_country(bad[i], &idx, code, err, sizeof(err)) == -1, "accepted");
	}
	parse_country("DE", &idx, code, err, sizeof(err));
	CHECK("country index of DE", idx == 3 * 26 + 4, "idx=%u", idx);
}

static void test_small_parsers(void)
{
	uint16_t ports[MXS_MAX_PORTS];
	uint32_t n = 0;
	uint8_t act = 0;
	char dom[256];

	CHECK("ports default set", parse_ports("25,465,587", ports, &n, err, sizeof(err)) == 0 &&
	      n == 3 && ports[0] == 25 && ports[1] == 465 && ports[2] == 587, "n=%u", n);
	CHECK("ports 8 allowed", parse_ports("1,2,3,4,5,6,7,8", ports, &n, err, sizeof(err)) == 0 &&
	      n == 8, "n=%u err=%s", n, err);
	CHECK("ports 9 refused", parse_ports("1,2,3,4,5,6,7,8,9", ports, &n, err, sizeof(err)) == -1 &&
	      strstr(err, "at most 8"), "err=%s", err);
	CHECK("ports duplicate refused", parse_ports("25,25", ports, &n, err, sizeof(err)) == -1 &&
	      strstr(err, "twice"), "err=%s", err);
	CHECK("port 0 refused", parse_ports("0", ports, &n, err, sizeof(err)) == -1, "accepted");
	CHECK("port 65536 refused", parse_ports("65536", ports, &n, err, sizeof(err)) == -1, "accepted");
	CHECK("ports trailing comma refused", parse_ports("25,", ports, &n, err, sizeof(err)) == -1,
	      "accepted");
	CHECK("ports garbage refused", parse_ports("25;587", ports, &n, err, sizeof(err)) == -1,
	      "accepted");

	CHECK("action quarantine", parse_action("quarantine", &act, err, sizeof(err)) == 0 &&
	      act == MXS_ACT_QUARANTINE, "act=%u", act);
	CHECK("action names round-trip", !strcmp(action_name(MXS_ACT_SPAM), "spam") &&
	      !strcmp(action_name(MXS_ACT_DROP), "drop"), "names");
	CHECK("action 'pass' is not an action", parse_action("pass", &act, err, sizeof(err)) == -1,
	      "accepted");
	CHECK("action 'DROP' is case-sensitive", parse_action("DROP", &act, err, sizeof(err)) == -1,
	      "accepted");

	CHECK("domain lower-cased, root dot dropped",
	      parse_domain("Mail.Example.COM.", dom, sizeof(dom), err, sizeof(err)) == 0 &&
	      !strcmp(dom, "mail.example.com"), "got %s", dom);
	CHECK("domain with empty label refused",
	      parse_domain("a..example", dom, sizeof(dom), err, sizeof(err)) == -1, "accepted");
	CHECK("domain with space refused",
	      parse_domain("a example", dom, sizeof(dom), err, sizeof(err)) == -1, "accepted");
	CHECK("domain label ending in '-' refused",
	      parse_domain("a-.example", dom, sizeof(dom), err, sizeof(err)) == -1, "accepted");
	CHECK("name ok", parse_name("acme-corp.eu_1", err, sizeof(err)) == 0, "err=%s", err);
	CHECK("name with slash refused", parse_name("a/b", err, sizeof(err)) == -1, "accepted");
	CHECK("empty name refused", parse_name("", err, sizeof(err)) == -1, "accepted");
}

static void test_time(void)
{
	int64_t now = time(NULL);
	uint64_t tai = unix_to_tai_ns(now + 3600);
	char buf[64];

	CHECK("tai round trip", tai_ns_to_unix(tai) == now + 3600, "got %lld",
	      (long long)tai_ns_to_unix(tai));
	CHECK("tai of 0 is never", unix_to_tai_ns(0) == 0 && tai_ns_to_unix(0) == 0, "nonzero");
	/* found by tests/fuzz/fuzz_journal.c: an expiry past 2262 overflowed */
	CHECK("tai of a far expiry saturates, in the future",
	      unix_to_tai_ns(INT64_MAX / 2) == INT64_MAX &&
	      unix_to_tai_ns(10000000000000LL) == INT64_MAX &&
	      tai_ns_to_unix(unix_to_tai_ns(INT64_MAX / 2)) > now + 200LL * 365 * 86400,
	      "tai %llu unix %lld", (unsigned long long)unix_to_tai_ns(INT64_MAX / 2),
	      (long long)tai_ns_to_unix(unix_to_tai_ns(INT64_MAX / 2)));
	CHECK("tai of the last representable second", unix_to_tai_ns(9000000000LL) <
	      (uint64_t)INT64_MAX && tai_ns_to_unix(unix_to_tai_ns(9000000000LL)) == 9000000000LL,
	      "got %lld", (long long)tai_ns_to_unix(unix_to_tai_ns(9000000000LL)));
	CHECK("tai ahead of now", tai > now_tai_ns(), "tai=%llu", (unsigned long long)tai);
	{
		/* the two clock reads behind the TAI offset may fall on both
		 * sides of a second: round trips through a whole second of
		 * them, every one exact (whole seconds dropped one, now and
		 * then) */
		struct timespec t0, t;
		long n = 0, off = 0;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		do {
			off += tai_ns_to_unix(unix_to_tai_ns(now)) != now;
			n++;
			clock_gettime(CLOCK_MONOTONIC, &t);
		} while ((t.tv_sec - t0.tv_sec) * 1000000000L + t.tv_nsec - t0.tv_nsec < 1100000000L);
		CHECK("tai round trips exact across a second boundary", off == 0,
		      "%ld of %ld off", off, n);
	}
	now = time(NULL);	/* a second has gone by in the loop */
	fmt_remaining(now + 7 * 86400 + 60, buf, sizeof(buf));
	CHECK("remaining 7d", !strncmp(buf, "in 7d", 5), "got %s", buf);
	fmt_remaining(now - 300, buf, sizeof(buf));
	CHECK("expired 5m ago", !strcmp(buf, "expired 5m0s ago"), "got %s", buf);
}

static void test_state(void)
{
	char dir[] = "/tmp/mxs-unit.XXXXXX", path[256], line[300];
	struct recfile f = {}, g;
	struct rec r, *nr;
	FILE *fp;
	int rc;

	CHECK("state line parses", state_parse_line("prefix=198.51.100.0/24\taction=drop\tcomment=a\\tb\\\\c\\nd",
						     &r, err, sizeof(err)) == 0 &&
	      !strcmp(rec_get(&r, "comment"), "a\tb\\c\nd") && !strcmp(rec_get(&r, "action"), "drop"),
	      "err=%s", err);
	rec_free(&r);
	CHECK("state line: field without '='", state_parse_line("prefix", &r, err, sizeof(err)) == -1 &&
	      strstr(err, "not key=value"), "err=%s", err);
	CHECK("state line: duplicate key", state_parse_line("a=1\ta=2", &r, err, sizeof(err)) == -1 &&
	      strstr(err, "twice"), "err=%s", err);
	CHECK("state line: bad key", state_parse_line("A B=1", &r, err, sizeof(err)) == -1, "accepted");
	CHECK("state line: dangling backslash", state_parse_line("a=x\\", &r, err, sizeof(err)) == -1,
	      "accepted");
	CHECK("state line: empty value allowed", state_parse_line("comment=", &r, err, sizeof(err)) == 0 &&
	      !strcmp(rec_get(&r, "comment"), ""), "err=%s", err);
	rec_free(&r);

	if (!mkdtemp(dir)) {
		CHECK("mkdtemp", 0, "failed");
		return;
	}
	snprintf(path, sizeof(path), "%s/block", dir);
	CHECK("missing state file is empty", state_read(path, &g, err, sizeof(err)) == 0 && g.n == 0,
	      "n=%d", g.n);
	nr = recfile_add(&f);
	rec_set(nr, "prefix", "198.51.100.0/24");
	rec_set(nr, "comment", "tab\there, newline\nthere, back\\slash");
	nr = recfile_add(&f);
	rec_set(nr, "prefix", "2001:db8::/32");
	rec_set(nr, "future_key", "kept");
	rc = state_write(path, &f, err, sizeof(err));
	CHECK("state write", rc == 0, "err=%s", err);
	rc = state_read(path, &g, err, sizeof(err));
	CHECK("state round trip", rc == 0 && g.n == 2 &&
	      !strcmp(rec_get(&g.r[0], "comment"), rec_get(&f.r[0], "comment")) &&
	      !strcmp(rec_get(&g.r[1], "future_key"), "kept") && g.r[1].line == 3,
	      "rc=%d n=%d err=%s", rc, g.n, err);
	CHECK("recfile_find", recfile_find(&g, "prefix", "2001:db8::/32") == 1 &&
	      recfile_find(&g, "prefix", "2001:db8::/48") == -1, "wrong index");
	recfile_free(&g);
	{
		DIR *d = opendir(dir);
		struct dirent *e;
		int stray = 0;

		while (d && (e = readdir(d)))
			if (strstr(e->d_name, ".tmp."))
				stray++;
		if (d)
			closedir(d);
		CHECK("atomic write leaves no temporary file", stray == 0, "%d left", stray);
	}
	fp = fopen(path, "a");
	fputs("prefix=203.0.113.0/24\n", fp);
	fclose(fp);
	rc = state_read(path, &g, err, sizeof(err));
	CHECK("a line added to a checksummed state file is damage", rc == -1 &&
	      strstr(err, path) && strstr(err, "checksum"), "rc=%d err=%s", rc, err);
	recfile_free(&g);
	truncate(path, 40);
	rc = state_read(path, &g, err, sizeof(err));
	CHECK("... so is one cut short", rc == -1 && strstr(err, "checksum"), "err=%s", err);
	truncate(path, 0);
	rc = state_read(path, &g, err, sizeof(err));
	CHECK("... and an empty one (never read as no records)", rc == -1 &&
	      strstr(err, "empty"), "err=%s", err);
	/* a file of version 1 (no checksum) is read, its lines checked */
	fp = fopen(path, "w");
	fputs("# mxshield state v1\nprefix=198.51.100.0/24\n\nprefix=203.0.113.0/24\tbroken\n", fp);
	fclose(fp);
	rc = state_read(path, &g, err, sizeof(err));
	snprintf(line, sizeof(line), "%s:4: field 'broken'", path);
	CHECK("state error names file:line", rc == -1 && strstr(err, line), "err=%s", err);
	fp = fopen(path, "w");
	fwrite("# mxshield state v1\nprefix=198.51.100.0/24\0junk\n", 1, 46, fp);
	fclose(fp);
	rc = state_read(path, &g, err, sizeof(err));
	snprintf(line, sizeof(line), "%s:2: NUL", path);
	CHECK("a NUL byte in a state line is damage, not the line's end", rc == -1 &&
	      strstr(err, line), "err=%s", err);
	recfile_free(&f);
	snprintf(line, sizeof(line), "rm -rf %s", dir);
	if (system(line))
		printf("# cleanup failed\n");
}

int main(void)
{
	test_prefixes();
	test_durations();
	test_countries();
	test_small_parsers();
	test_time();
	test_state();
	return failures ? 1 : 0;
}
