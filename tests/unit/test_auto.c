// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of automatic blocks (mta/auto.c): Postfix's log lines as
 * evidence, the sliding windows, doubling and its cap, trusted sources
 * spared, the memory bound under a flood of distinct sources, forgetting,
 * the rules' and offences' state files; and the log tailer (mta/logtail.c)
 * through a rename and a truncation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include "core/ctl.h"
#include "state/recfile.h"
#include "mta/auto.h"
#include "mta/logtail.h"
#include "../check.h"

static void test_parse(void)
{
	struct auto_evidence ev;
	char a[MXS_PFX_STRLEN];

	CHECK("unknown recipient from maillog_file",
	      auto_parse_line("Dec  1 10:00:00.123456 mx postfix/smtpd[4321]: NOQUEUE: reject: "
			      "RCPT from unknown[198.51.100.7]: 550 5.1.1 <nobody@corp.example>: "
			      "Recipient address rejected: User unknown in virtual mailbox table; "
			      "from=<a@b.example> to=<nobody@corp.example> proto=ESMTP helo=<x>", &ev) == 1 &&
	      ev.kind == AUTO_REJECT && !strcmp(prefix_str(&ev.src, a), "198.51.100.7/32") &&
	      !strcmp(ev.what, "RCPT to nobody@corp.example 550 5.1.1"), "%s / %s", a, ev.what);
	CHECK("unknown recipient with a queue id and a client port, IPv6",
	      auto_parse_line("2026-12-01T10:00:00.1+00:00 mx postfix/submission/smtpd[9]: 4Xy2Zq: "
			      "reject: RCPT from mail.example[2001:db8:1::60]:41234: 550 5.1.1 "
			      "<x@corp.example>: Recipient address rejected: User unknown in local "
			      "recipient table; from=<> to=<x@corp.example>", &ev) == 1 &&
	      ev.src.v6 && !strcmp(prefix_str(&ev.src, a), "2001:db8:1::60/128"), "%s", a);
	CHECK("SASL failure",
	      auto_parse_message("warning: unknown[203.0.113.9]: SASL LOGIN authentication failed: "
				 "UGFzc3dvcmQ6", &ev) == 1 && ev.kind == AUTO_AUTH_FAIL &&
	      !strcmp(ev.what, "SASL LOGIN authentication failed"), "%s", ev.what);
	CHECK("SASL failure in a file line",
	      auto_parse_line("Dec  1 10:00:00 mx postfix/smtpd[1]: warning: host.example[203.0.113.9]: "
			      "SASL PLAIN authentication failed: authentication failure", &ev) == 1 &&
	      ev.kind == AUTO_AUTH_FAIL, "not parsed");
	CHECK("a policy reject in the log is not an unknown recipient",
	      auto_parse_line("Dec  1 10:00:00 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from "
			      "unknown[198.51.100.7]: 550 5.7.1 <ceo@corp.example>: Recipient address "
			      "rejected: blocked", &ev) == 0, "counted");
	CHECK("'User unknown' in the client's recipient does not count",
	      auto_parse_message("NOQUEUE: reject: RCPT from unknown[198.51.100.7]: 550 5.1.1 "
				 "<a: User unknown@x>: Recipient address rejected: no", &ev) == 0,
	      "counted");
	CHECK("another program's line does not count",
	      auto_parse_line("Dec  1 10:00:00 mx postfix/cleanup[1]: warning: unknown[1.2.3.4]: "
			      "SASL LOGIN authentication failed", &ev) == 0, "counted");
	CHECK("connect lines do not count",
	      auto_parse_line("Dec  1 10:00:00 mx postfix/smtpd[1]: connect from unknown[198.51.100.7]",
			      &ev) == 0, "counted");
	CHECK("a bad address does not count",
	      auto_parse_message("warning: unknown[198.51.100.777]: SASL LOGIN authentication failed",
				 &ev) == 0, "counted");
}

static struct auto_evidence ev_of(enum auto_kind k, const char *ip)
{
	struct auto_evidence ev = { .kind = k };
	char err[MXS_ERRLEN];

	parse_addr(ip, &ev.src, err, sizeof(err));
	snprintf(ev.what, sizeof(ev.what), "test %s", auto_kind_names[k]);
	return ev;
}

/* Feed @n events of kind @k from @ip at times t0, t0+step, ...: the index
 * of the event that fired (0-based), or -1. */
static int feed(struct auto_engine *e, enum auto_kind k, const char *ip, int n, int64_t t0,
		int64_t step, struct auto_block *b)
{
	struct auto_evidence ev = ev_of(k, ip);

	for (int i = 0; i < n; i++)
		if (auto_evidence(e, &ev, AUTO_FROM_MAILLOG, t0 + i * step, b))
			return i;
	return -1;
}

static void test_windows(void)
{
	struct auto_rule r[2];
	struct auto_block b;
	char err[MXS_ERRLEN];
	struct auto_engine *e = auto_new(1000, 7 * 86400);
	int64_t t = 1800000000;
	int i;

	CHECK("rule made", auto_rule_make(&r[0], "probe", "reject", "5", "10m", "1h", "4h", err,
					  sizeof(err)) == 0, "%s", err);
	CHECK("rule on auth-fail made", auto_rule_make(&r[1], "auth", "auth-fail", "3", "1m", "10m",
						       NULL, err, sizeof(err)) == 0, "%s", err);
	CHECK("a --max shorter than --block refused",
	      auto_rule_make(&r[1], "x", "spam", "3", "1m", "10m", "5m", err, sizeof(err)) == -1 &&
	      strstr(err, "shorter"), "%s", err);
	CHECK("a bad kind refused", auto_rule_make(&r[1], "x", "virus", "3", "1m", "10m", NULL, err,
						   sizeof(err)) == -1, "accepted");
	CHECK("a count of 0 refused", auto_rule_make(&r[1], "x", "spam", "0", "1m", "10m", NULL, err,
						     sizeof(err)) == -1, "accepted");
	auto_rule_make(&r[1], "auth", "auth-fail", "3", "1m", "10m", NULL, err, sizeof(err));
	auto_set_rules(e, r, 2);

	/* 5 within 10 minutes: 4 spaced 3 min apart never fire ... */
	i = feed(e, AUTO_REJECT, "198.51.100.7", 8, t, 180, &b);
	CHECK("events spread wider than the window do not fire", i == -1, "fired at %d", i);
	/* ... 5 within 10m do, on the fifth */
	i = feed(e, AUTO_REJECT, "198.51.100.8", 5, t, 100, &b);
	CHECK("the fifth event within 10m fires", i == 4, "fired at %d", i);
	CHECK("first offence: --block", b.offence == 1 && b.expires - b.at == 3600,
	      "offence %u, %lld s", b.offence, (long long)(b.expires - b.at));
	CHECK("the comment names rule and evidence",
	      !strcmp(b.comment, "auto: rule probe: 5 reject in 10m, offence 1, last: test reject"),
	      "%s", b.comment);
	auto_commit(e, &b);
	i = feed(e, AUTO_REJECT, "198.51.100.8", 10, t + 500, 1, &b);
	CHECK("no counting while blocked", i == -1, "fired at %d", i);
	/* after the block: the second offence doubles, the third and fourth
	 * reach --max 4h */
	for (int off = 2; off <= 4; off++) {
		int64_t at = b.expires + 10;

		i = feed(e, AUTO_REJECT, "198.51.100.8", 5, at, 1, &b);
		if (i < 0)
			break;
		auto_commit(e, &b);
		CHECK(off == 2 ? "second offence: doubled" : off == 3 ? "third offence: 4h, the max" :
		      "fourth offence: still the max",
		      b.offence == (uint32_t)off && b.expires - b.at == (off == 2 ? 7200 : 14400),
		      "offence %u, %lld s", b.offence, (long long)(b.expires - b.at));
	}
	/* an offence is forgotten 'remember' after its block ended */
	i = feed(e, AUTO_REJECT, "198.51.100.8", 5, b.expires + 7 * 86400 + 1, 1, &b);
	CHECK("an offence past 'remember' starts over at 1", i == 4 && b.offence == 1,
	      "fired %d, offence %u", i, b.offence);
	/* no doubling without --max */
	i = feed(e, AUTO_AUTH_FAIL, "203.0.113.9", 3, t, 1, &b);
	auto_commit(e, &b);
	i = feed(e, AUTO_AUTH_FAIL, "203.0.113.9", 3, b.expires + 1, 1, &b);
	CHECK("without --max every block is --block", i == 2 && b.offence == 2 &&
	      b.expires - b.at == 600, "offence %u, %lld s", b.offence, (long long)(b.expires - b.at));
	/* kinds are counted apart */
	i = feed(e, AUTO_SPAM, "198.51.100.9", 50, t, 1, &b);
	CHECK("a kind no rule counts never fires", i == -1, "fired at %d", i);
	/* spared (trusted) */
	i = feed(e, AUTO_AUTH_FAIL, "203.0.113.70", 3, t, 1, &b);
	auto_spare(e, &b);
	i = feed(e, AUTO_AUTH_FAIL, "203.0.113.70", 3, t + 5, 1, &b);
	CHECK("a spared source is not looked at again within the window", i == -1, "fired %d", i);
	/* forget */
	i = feed(e, AUTO_REJECT, "198.51.100.10", 5, t, 1, &b);
	auto_commit(e, &b);
	auto_forget(e, &b.src, INT64_MAX);
	i = feed(e, AUTO_REJECT, "198.51.100.10", 5, t + 10, 1, &b);
	CHECK("forgotten: counted at once again, offence 1", i == 4 && b.offence == 1,
	      "fired %d offence %u", i, b.offence);
	{
		struct auto_stats st;

		auto_stats(e, &st);
		CHECK("evidence counted by kind", st.evidence[AUTO_SPAM][AUTO_FROM_MAILLOG] == 50 &&
		      st.spared == 1, "spam %llu spared %llu",
		      (unsigned long long)st.evidence[AUTO_SPAM][AUTO_FROM_MAILLOG],
		      (unsigned long long)st.spared);
		CHECK("blocks counted by rule", auto_blocks(e, 0) == 5 && auto_blocks(e, 1) == 1,
		      "%llu %llu", (unsigned long long)auto_blocks(e, 0),
		      (unsigned long long)auto_blocks(e, 1));
	}
	auto_free(e);
}

static void test_bound(void)
{
	struct auto_rule r;
	struct auto_block b;
	struct auto_stats st;
	char err[MXS_ERRLEN], ip[32];
	struct auto_engine *e = auto_new(1000, 86400);
	int64_t t = 1800000000;
	int fired = 0;

	auto_rule_make(&r, "probe", "reject", "5", "10m", "1h", NULL, err, sizeof(err));
	auto_set_rules(e, &r, 1);
	/* a slow source: 4 events, then 100k distinct sources, then its 5th */
	feed(e, AUTO_REJECT, "203.0.113.5", 4, t, 1, &b);
	for (int i = 0; i < 100000; i++) {
		struct auto_evidence ev;

		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		ev = ev_of(AUTO_REJECT, ip);
		fired += auto_evidence(e, &ev, AUTO_FROM_MAILLOG, t + 10, &b);
	}
	auto_stats(e, &st);
	CHECK("a flood of 100k distinct sources keeps at most max_sources",
	      st.sources == 1000 && st.evicted == 100000 + 1 - 1000 && !fired,
	      "%zu sources, %llu evicted, %d fired", st.sources, (unsigned long long)st.evicted, fired);
	printf("# one counted source: %zu bytes (rule depth 5); 1000 sources: %zu KiB\n",
	       st.source_bytes, st.source_bytes * 1000 / 1024);
	CHECK("the evicted source starts over", feed(e, AUTO_REJECT, "203.0.113.5", 1, t + 20, 1,
						     &b) == -1, "fired");
	/* a source repeating itself stays while the flood passes */
	feed(e, AUTO_REJECT, "203.0.113.6", 4, t + 30, 1, &b);
	for (int i = 0; i < 5000; i++) {
		struct auto_evidence ev;

		snprintf(ip, sizeof(ip), "10.9.%d.%d", (i >> 8) & 255, i & 255);
		ev = ev_of(AUTO_REJECT, ip);
		auto_evidence(e, &ev, AUTO_FROM_MAILLOG, t + 40, &b);
		if (i % 500 == 0)	/* seen again now and then: stays recent */
			feed(e, AUTO_REJECT, "203.0.113.6", 0, t + 40, 1, &b);
	}
	auto_prune(e, t + 40 + 601);
	auto_stats(e, &st);
	CHECK("prune drops sources quiet for the longest window", st.sources == 0,
	      "%zu left", st.sources);
	auto_free(e);
}

static void test_state(void)
{
	char dir[] = "/tmp/mxs-test-auto.XXXXXX", err[MXS_ERRLEN];
	struct ctl c = { .lock_fd = -1 };
	struct auto_rule r[2], *rv;
	struct auto_offence *ov;
	struct auto_block b;
	struct auto_engine *e;
	struct mxs_prefix a;
	int n, removed;
	int64_t t = time(NULL) - 20000;	/* the forget request comes after */

	if (!mkdtemp(dir))
		return;
	c.state_dir = dir;
	auto_rule_make(&r[0], "probe", "reject", "5", "10m", "1h", "1d", err, sizeof(err));
	auto_rule_make(&r[1], "auth", "auth-fail", "3", "90s", "1h30m", NULL, err, sizeof(err));
	CHECK("rules written", auto_rules_write(&c, r, 2) == 0, "failed");
	CHECK("rules read back", auto_rules_read(&c, &rv, &n) == 0 && n == 2 &&
	      !memcmp(&rv[0], &r[0], sizeof(r[0])) && !memcmp(&rv[1], &r[1], sizeof(r[1])),
	      "n=%d", n);
	free(rv);

	e = auto_new(100, 86400);
	auto_set_rules(e, r, 2);
	auto_sync(e, &c, t, false);
	feed(e, AUTO_REJECT, "198.51.100.7", 5, t, 1, &b);
	auto_commit(e, &b);
	CHECK("offences written", auto_sync(e, &c, t, false) == 0, "failed");
	auto_free(e);
	/* a restart: the second offence doubles */
	e = auto_new(100, 86400);
	auto_set_rules(e, r, 2);
	CHECK("offences read at the start", auto_sync(e, &c, t, false) == 0, "failed");
	CHECK("after a restart the next offence doubles",
	      feed(e, AUTO_REJECT, "198.51.100.7", 5, t + 3700, 1, &b) == 4 && b.offence == 2 &&
	      b.expires - b.at == 7200, "offence %u", b.offence);
	auto_commit(e, &b);
	auto_sync(e, &c, t, false);
	CHECK("the file holds the offence", auto_offences_read(&c, &ov, &n) == 0 && n == 1 &&
	      ov[0].offence == 2 && !strcmp(ov[0].rule, "probe") && strstr(ov[0].comment, "offence 2"),
	      "n=%d", n);
	free(ov);
	/* forget while the service runs */
	parse_addr("198.51.100.7", &a, err, sizeof(err));
	CHECK("forget removes the record", auto_offences_forget(&c, &a, &removed) == 0 && removed == 1,
	      "removed %d", removed);
	auto_sync(e, &c, t, false);
	CHECK("... and the service forgets it too",
	      feed(e, AUTO_REJECT, "198.51.100.7", 5, t + 3700 + 7300, 1, &b) == 4 && b.offence == 1,
	      "offence %u", b.offence);
	auto_free(e);
	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			return;
	}
}

static int lines_seen;
static char last_line[256];
static void on_line(const char *line, void *arg)
{
	lines_seen++;
	snprintf(last_line, sizeof(last_line), "%s", line);
}

static void append(const char *path, const char *s)
{
	FILE *f = fopen(path, "a");

	if (f) {
		fputs(s, f);
		fclose(f);
	}
}

static void test_tail(void)
{
	char dir[] = "/tmp/mxs-test-tail.XXXXXX", path[PATH_MAX], old[PATH_MAX + 8];
	char err[MXS_ERRLEN];
	struct logtail *t;
	FILE *f;

	if (!mkdtemp(dir))
		return;
	snprintf(path, sizeof(path), "%s/maillog", dir);
	snprintf(old, sizeof(old), "%s.1", path);
	append(path, "before 1\nbefore 2\n");
	t = logtail_open(path, err, sizeof(err));
	CHECK("tail opened", t != NULL, "%s", err);
	if (!t)
		return;
	logtail_read(t, on_line, NULL);
	CHECK("what was there before is not read", lines_seen == 0, "%d lines", lines_seen);
	append(path, "one\ntw");
	logtail_read(t, on_line, NULL);
	CHECK("a new line read, a partial one held", lines_seen == 1 && !strcmp(last_line, "one"),
	      "%d, %s", lines_seen, last_line);
	append(path, "o\n");
	logtail_read(t, on_line, NULL);
	CHECK("the partial line completed", lines_seen == 2 && !strcmp(last_line, "two"), "%s",
	      last_line);
	/* rotation: a last line into the old file after the rename, then a new file */
	rename(path, old);
	append(old, "three\n");
	append(path, "four\n");
	logtail_read(t, on_line, NULL);
	CHECK("rename: the old file read to its end, the new from its start",
	      lines_seen == 4 && !strcmp(last_line, "four"), "%d, %s", lines_seen, last_line);
	/* truncation */
	f = fopen(path, "w");
	if (f)
		fclose(f);
	append(path, "5\n");
	logtail_read(t, on_line, NULL);
	CHECK("truncation: read from the start again", lines_seen == 5 && !strcmp(last_line, "5"),
	      "%d, %s", lines_seen, last_line);
	{
		uint64_t rot, trunc;

		logtail_counts(t, &rot, &trunc);
		CHECK("rotation and truncation counted", rot == 1 && trunc == 1, "%llu %llu",
		      (unsigned long long)rot, (unsigned long long)trunc);
	}
	logtail_close(t);
	unlink(path);
	unlink(old);
	rmdir(dir);
}

int main(void)
{
	test_parse();
	test_windows();
	test_bound();
	test_state();
	test_tail();
	return failures ? 1 : 0;
}
