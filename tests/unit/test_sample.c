// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests: the rates between two samples (userspace/filter/sample.c),
 * on samples made by hand -- deltas over the time between them, a counter
 * that went down counting from zero, the top lists busiest first and cut,
 * tags matched by address between the samples.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "filter/sample.h"
#include "../check.h"

static bool near(double a, double b)
{
	return fabs(a - b) < 1e-9;
}

static struct sample_tag tag(uint8_t last, uint64_t packets, uint8_t action)
{
	struct sample_tag t = { .src = { .plen = 32, .addr = { 192, 0, 2, last } },
				.packets = packets, .action = action, .list = MXS_LIST_BLOCK };
	return t;
}

static void test_rates(void)
{
	static struct sample a, b;	/* big arrays: not on the stack */
	int bd = MXS_R_BLOCK * MXS_ACT_MAX + MXS_ACT_DROP;
	int tp = MXS_R_TRUST * MXS_ACT_MAX + MXS_ACT_NONE;
	struct sample_tag ta[] = { tag(1, 100, MXS_ACT_SPAM), tag(2, 50, MXS_ACT_REJECT) };
	struct sample_tag tb[] = { tag(1, 110, MXS_ACT_SPAM), tag(2, 90, MXS_ACT_REJECT),
				   tag(3, 5, MXS_ACT_SPAM) };
	struct rates r;

	a.at_ns = 1000000000ULL;
	b.at_ns = 3000000000ULL;	/* two seconds later */
	a.stat[bd].packets = 100;
	b.stat[bd].packets = 300;
	a.stat[bd].bytes = 6000;
	b.stat[bd].bytes = 18000;
	a.stat[tp].packets = 500;
	b.stat[tp].packets = 40;		/* reset in between */
	a.stat[MXS_STAT_XDP + 1].packets = 10;
	b.stat[MXS_STAT_XDP + 1].packets = 30;
	for (int cc = 0; cc < 5; cc++) {
		a.cstat[cc].packets = 10;
		b.cstat[cc].packets = 10 + 2 * cc;	/* country 4 the busiest */
	}
	b.cstat[7].packets = 1000;		/* new, but no packets since... */
	a.cstat[7].packets = 1000;		/* ...the first sample: rate 0 */
	a.tags = ta;
	a.ntags = 2;
	b.tags = tb;
	b.ntags = 3;

	CHECK("rates computed", sample_rates(&a, &b, 3, &r) == 0, "failed");
	CHECK("seconds between the samples", near(r.secs, 2), "%g", r.secs);
	CHECK("block/drop: 100 packets/s", near(r.verdict[MXS_R_BLOCK][MXS_ACT_DROP].per_s, 100),
	      "%g", r.verdict[MXS_R_BLOCK][MXS_ACT_DROP].per_s);
	CHECK("block/drop: total", r.verdict[MXS_R_BLOCK][MXS_ACT_DROP].total == 300, "%llu",
	      (unsigned long long)r.verdict[MXS_R_BLOCK][MXS_ACT_DROP].total);
	CHECK("block/drop: 6000 bytes/s",
	      near(r.verdict_bytes[MXS_R_BLOCK][MXS_ACT_DROP].per_s, 6000), "%g",
	      r.verdict_bytes[MXS_R_BLOCK][MXS_ACT_DROP].per_s);
	CHECK("a counter reset counts from zero",
	      near(r.verdict[MXS_R_TRUST][MXS_ACT_NONE].per_s, 20), "%g",
	      r.verdict[MXS_R_TRUST][MXS_ACT_NONE].per_s);
	CHECK("XDP drop: 10/s", near(r.xdp[1].per_s, 10), "%g", r.xdp[1].per_s);
	CHECK("an idle counter: 0/s", near(r.verdict[MXS_R_DEFAULT][MXS_ACT_NONE].per_s, 0),
	      "%g", r.verdict[MXS_R_DEFAULT][MXS_ACT_NONE].per_s);

	CHECK("countries cut to 3", r.countries.n == 3, "%zu", r.countries.n);
	CHECK("busiest country first", r.countries.n == 3 && r.countries.row[0].country == 4 &&
	      near(r.countries.row[0].r.per_s, 4), "country %u at %g",
	      r.countries.row[0].country, r.countries.row[0].r.per_s);
	CHECK("countries by rate", r.countries.n == 3 && r.countries.row[1].country == 3 &&
	      r.countries.row[2].country == 2, "%u %u", r.countries.row[1].country,
	      r.countries.row[2].country);

	CHECK("three tags", r.tagged.n == 3, "%zu", r.tagged.n);
	CHECK("tag matched by address: 192.0.2.2 at 20/s first",
	      r.tagged.n == 3 && r.tagged.row[0].p.addr[3] == 2 &&
	      near(r.tagged.row[0].r.per_s, 20) && r.tagged.row[0].action == MXS_ACT_REJECT,
	      "%u at %g", r.tagged.row[0].p.addr[3], r.tagged.row[0].r.per_s);
	CHECK("192.0.2.1 at 5/s", r.tagged.n == 3 && r.tagged.row[1].p.addr[3] == 1 &&
	      near(r.tagged.row[1].r.per_s, 5), "%u at %g", r.tagged.row[1].p.addr[3],
	      r.tagged.row[1].r.per_s);
	CHECK("a new tag counts from zero: 2.5/s", r.tagged.n == 3 &&
	      r.tagged.row[2].p.addr[3] == 3 && near(r.tagged.row[2].r.per_s, 2.5), "%g",
	      r.tagged.row[2].r.per_s);
	CHECK("no entries without hit counters", r.entries.n == 0, "%zu", r.entries.n);
	CHECK("dropped sources: not available yet", r.dropped.na && r.dropped.note, "available");
	rates_free(&r);

	CHECK("the same instant: no rate, no division by zero",
	      sample_rates(&b, &b, 3, &r) == 0 &&
	      near(r.verdict[MXS_R_BLOCK][MXS_ACT_DROP].per_s, 0), "%g",
	      r.verdict[MXS_R_BLOCK][MXS_ACT_DROP].per_s);
	rates_free(&r);
}

int main(void)
{
	test_rates();
	return failures ? 1 : 0;
}
