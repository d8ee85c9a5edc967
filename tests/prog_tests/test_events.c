// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Drop events and new-connection counters under BPF_PROG_TEST_RUN: every
 * field of the event of an IPv4 drop, an IPv6 drop, a country drop, a tag,
 * a monitor-mode drop and an unparsed frame; the cap and the per-source
 * limit in the data plane (emitted + suppressed = candidates); events
 * never move the packet counters; SYN, retransmitted SYN, ACK.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "tests/check.h"
#include "core/parse.h"
#include "filter/compile.h"
#include "filter/install.h"
#include "mxshield.skel.h"
#include "../skel.h"

#define CC(a, b) (((a) - 'A') * 26 + ((b) - 'A'))

static struct mxshield_bpf *skel;
static struct mxs_maps_view mv;
static int ncpu;

static const struct { uint32_t list; const char *prefix; uint8_t action; uint32_t ref; } rules[] = {
	{ MXS_LIST_BLOCK, "192.0.2.0/24", MXS_ACT_DROP },
	{ MXS_LIST_BLOCK, "198.51.100.64/26", MXS_ACT_REJECT },
	{ MXS_LIST_BLOCK, "2001:db8:bad::/48", MXS_ACT_DROP },
	{ MXS_LIST_COUNTRY, "203.0.113.0/25", 0, CC('F', 'R') },
};

static int lab_open(void)
{
	struct rule_vec fam[2] = {};
	struct mxs_country_policy pol = { .action = MXS_ACT_DROP };
	__u32 fr = CC('F', 'R');
	char err[MXS_ERRLEN];
	skel = skel_load_unpinned(&mv);
	if (!skel)
		return -1;
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		struct mxs_prefix p;
		struct mxs_rule r = { .list = rules[i].list, .action = rules[i].action,
				      .ref = rules[i].ref };

		if (parse_prefix(rules[i].prefix, &p, err, sizeof(err)))
			return -1;
		r.prefixlen = p.plen;
		if (rule_vec_push(&fam[p.v6], &p, &r))
			return -1;
	}
	if (cmaps_install(&mv, fam, NULL, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	rule_vec_free(&fam[0]);
	rule_vec_free(&fam[1]);
	bpf_map_update_elem(mv.country_policy, &fr, &pol, BPF_ANY);
	ncpu = libbpf_num_possible_cpus();
	return 0;
}

static void set_config(uint32_t flags)
{
	struct mxs_config cfg = { .flags = flags, .nports = 2, .ports = { 25, 587 } };
	__u32 zero = 0;

	bpf_map_update_elem(bpf_map__fd(skel->maps.config), &zero, &cfg, BPF_ANY);
}

static void set_events(uint32_t rate, uint32_t flags)
{
	struct mxs_ev_config ec = { .rate = rate, .flags = flags };
	__u32 zero = 0;

	bpf_map_update_elem(bpf_map__fd(skel->maps.ev_config), &zero, &ec, BPF_ANY);
}

/* ------------------------------------------------------------- packets */

struct pkt {
	const char *src;
	uint16_t sport, dport;
	uint32_t seq;
	bool syn, ack;
	int cut;		/* keep only this many bytes */
};

static size_t build(const struct pkt *s, uint8_t *b)
{
	struct mxs_prefix a;
	char err[MXS_ERRLEN];
	struct tcphdr *t;
	size_t off = sizeof(struct ethhdr);

	memset(b, 0, 128);
	memcpy(b, "\x02\0\0\0\0\x01\x02\0\0\0\0\x02", 12);
	parse_addr(s->src, &a, err, sizeof(err));
	if (a.v6) {
		struct ipv6hdr *ip6 = (void *)(b + off);

		b[12] = 0x86, b[13] = 0xdd;
		ip6->version = 6;
		ip6->nexthdr = IPPROTO_TCP;
		ip6->hop_limit = 64;
		memcpy(&ip6->saddr, a.addr, 16);
		inet_pton(AF_INET6, "2001:db8:1::1", &ip6->daddr);
		off += sizeof(*ip6);
	} else {
		struct iphdr *ip = (void *)(b + off);

		b[12] = 0x08, b[13] = 0x00;
		ip->version = 4;
		ip->ihl = 5;
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		memcpy(&ip->saddr, a.addr, 4);
		inet_pton(AF_INET, "203.0.113.1", &ip->daddr);
		off += sizeof(*ip);
	}
	t = (void *)(b + off);
	t->source = htons(s->sport ? s->sport : 40000);
	t->dest = htons(s->dport ? s->dport : 25);
	t->seq = htonl(s->seq);
	t->doff = 5;
	t->syn = s->syn;
	t->ack = s->ack;
	off += sizeof(*t);
	return s->cut ? (size_t)s->cut : off;
}

/* Run @s @repeat times; the XDP action, or -1. */
static int run(const struct pkt *s, uint32_t repeat)
{
	uint8_t pkt[128];
	struct xdp_md ctx = { .ingress_ifindex = 1 };	/* lo */
	size_t len = build(s, pkt);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = repeat);

	ctx.data_end = len;
	if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.mxs_xdp), &o))
		return -1;
	return o.retval;
}

/* ------------------------------------------------------------- reading */

static struct mxs_event got[64];
static int ngot;

static int on_event(void *ctx, void *data, size_t size)
{
	if (size == sizeof(struct mxs_event) && ngot < 64)
		memcpy(&got[ngot], data, size);
	ngot++;
	return 0;
}

static struct ring_buffer *rb;

static int drain(void)
{
	ngot = 0;
	ring_buffer__consume(rb);
	return ngot;
}

static struct mxs_ev_state ev_totals(void)
{
	struct mxs_ev_state per[ncpu], t = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(bpf_map__fd(skel->maps.ev_state), &zero, per);
	for (int i = 0; i < ncpu; i++) {
		t.emitted += per[i].emitted;
		t.sup_rate += per[i].sup_rate;
		t.sup_source += per[i].sup_source;
		t.lost += per[i].lost;
	}
	return t;
}

static uint64_t sum64(int fd, __u32 k)
{
	uint64_t per[ncpu], t = 0;

	if (bpf_map_lookup_elem(fd, &k, per))
		return 0;
	for (int i = 0; i < ncpu; i++)
		t += per[i];
	return t;
}

static uint64_t stat_packets(__u32 k)
{
	struct mxs_counter per[ncpu];
	uint64_t t = 0;

	bpf_map_lookup_elem(bpf_map__fd(skel->maps.stats), &k, per);
	for (int i = 0; i < ncpu; i++)
		t += per[i].packets;
	return t;
}

static uint64_t conns(uint8_t reason, uint8_t action)
{
	return sum64(bpf_map__fd(skel->maps.conns), reason * MXS_ACT_MAX + action);
}

/* ----------------------------------------------------------- the cases */

struct want {
	const char *name;
	struct pkt pkt;
	uint32_t flags;		/* config.flags */
	int xdp;
	uint8_t reason, action, list;
	const char *src;	/* the event's source as text, NULL: none */
	const char *rule;	/* the event's rule, NULL: none */
	uint16_t country;
	uint8_t evflags;
	uint16_t dport;
};

static void addr_of(const struct mxs_event *e, const uint8_t *a, char *buf, size_t len)
{
	if (e->flags & MXS_EV_V6)
		inet_ntop(AF_INET6, a, buf, len);
	else
		inet_ntop(AF_INET, a + 12, buf, len);
}

static void check_event(const struct want *w)
{
	uint64_t t0 = now_tai_ns(), t1;
	char why[512] = "", src[64] = "", rule[80] = "", n[200];
	const struct mxs_event *e = &got[0];
	static const uint8_t zeros[16];
	int xdp;

	set_config(w->flags);
	drain();
	xdp = run(&w->pkt, 1);
	t1 = now_tai_ns();
	snprintf(n, sizeof(n), "%s: XDP action", w->name);
	CHECK(n, xdp == w->xdp, "got %d, want %d", xdp, w->xdp);
	snprintf(n, sizeof(n), "%s: one event", w->name);
	CHECK(n, drain() == 1, "%d events", ngot);
	if (ngot != 1)
		return;
	if (e->flags & MXS_EV_SRC) {
		struct mxs_prefix p = { .v6 = !!(e->flags & MXS_EV_V6), .plen = e->rule_plen };

		addr_of(e, e->src, src, sizeof(src));
		memcpy(p.addr, p.v6 ? e->rule : e->rule + 12, p.v6 ? 16 : 4);
		if (e->list != MXS_LIST_NONE && e->list != MXS_LIST_COUNTRY)
			prefix_str(&p, rule);
	}
#define FIELD(cond, ...) \
	do { if (!(cond)) snprintf(why + strlen(why), sizeof(why) - strlen(why), __VA_ARGS__); } \
	while (0)
	FIELD(e->tai_ns >= t0 && e->tai_ns <= t1, " time %llu not in [%llu, %llu];",
	      (unsigned long long)e->tai_ns, (unsigned long long)t0, (unsigned long long)t1);
	FIELD(e->ifindex == 1, " ifindex %u;", e->ifindex);
	FIELD(w->src ? !strcmp(src, w->src) : !(e->flags & MXS_EV_SRC), " source '%s';", src);
	FIELD(w->rule ? !strcmp(rule, w->rule) : !rule[0], " rule '%s';", rule);
	FIELD(w->rule || !memcmp(e->rule, zeros, 16), " rule bytes set without a rule;");
	FIELD(e->dport == w->dport, " dport %u;", e->dport);
	FIELD(e->country == w->country, " country %u;", e->country);
	FIELD(e->reason == w->reason, " reason %s;", reason_name(e->reason));
	FIELD(e->action == w->action, " action %s;", action_name(e->action));
	FIELD(e->list == w->list, " list %u;", e->list);
	FIELD(e->flags == w->evflags, " flags %#x, want %#x;", e->flags, w->evflags);
	FIELD(!memcmp(e->pad, zeros, sizeof(e->pad)), " padding not zero;");
	snprintf(n, sizeof(n), "%s: every field", w->name);
	CHECK(n, !why[0], "%s", why);
}

#define V4 (MXS_EV_SRC)
#define V6 (MXS_EV_SRC | MXS_EV_V6)
#define NOCC MXS_COUNTRY_NONE

static const struct want wants[] = {
	{ "IPv4 block drop", { "192.0.2.9", .syn = true, .seq = 1 }, 0, XDP_DROP, MXS_R_BLOCK,
	  MXS_ACT_DROP, MXS_LIST_BLOCK, "192.0.2.9", "192.0.2.0/24", NOCC,
	  V4 | MXS_EV_DROPPED | MXS_EV_SYN, 25 },
	{ "IPv6 block drop", { "2001:db8:bad::7", .dport = 587, .ack = true }, 0, XDP_DROP,
	  MXS_R_BLOCK, MXS_ACT_DROP, MXS_LIST_BLOCK, "2001:db8:bad::7", "2001:db8:bad::/48", NOCC,
	  V6 | MXS_EV_DROPPED, 587 },
	{ "country drop", { "203.0.113.5", .syn = true, .seq = 2 }, 0, XDP_DROP, MXS_R_COUNTRY,
	  MXS_ACT_DROP, MXS_LIST_COUNTRY, "203.0.113.5", NULL, CC('F', 'R'),
	  V4 | MXS_EV_DROPPED | MXS_EV_SYN, 25 },
	{ "tag: reject, passed", { "198.51.100.70", .syn = true, .seq = 3 }, 0, XDP_PASS,
	  MXS_R_BLOCK, MXS_ACT_REJECT, MXS_LIST_BLOCK, "198.51.100.70", "198.51.100.64/26",
	  NOCC, V4 | MXS_EV_SYN, 25 },
	{ "monitor: drop verdict, passed", { "192.0.2.10", .ack = true }, MXS_F_MONITOR,
	  XDP_PASS, MXS_R_BLOCK, MXS_ACT_DROP, MXS_LIST_BLOCK, "192.0.2.10", "192.0.2.0/24",
	  NOCC, V4, 25 },
	{ "gateway-only: no entry", { "198.51.100.1", .ack = true }, MXS_F_GATEWAY_ONLY,
	  XDP_DROP, MXS_R_GATEWAY_ONLY, MXS_ACT_DROP, MXS_LIST_NONE, "198.51.100.1", NULL, NOCC,
	  V4 | MXS_EV_DROPPED, 25 },
	{ "unparsed: IPv4 header cut, no source", { "192.0.2.9", .cut = 14 + 10 }, 0, XDP_DROP,
	  MXS_R_UNPARSED, MXS_ACT_DROP, MXS_LIST_NONE, NULL, NULL, NOCC, MXS_EV_DROPPED, 0 },
	{ "unparsed: TCP options cut, port read", { "192.0.2.9", .cut = 14 + 20 + 8 }, 0,
	  XDP_DROP, MXS_R_UNPARSED, MXS_ACT_DROP, MXS_LIST_NONE, "192.0.2.9", NULL, NOCC,
	  V4 | MXS_EV_DROPPED, 25 },
};

int main(void)
{
	struct mxs_ev_state a, b;
	uint64_t p0, p1;
	int e;

	if (lab_open()) {
		printf("not ok - loading the program: %s\n", strerror(errno));
		return 1;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, NULL, NULL);
	if (!rb) {
		printf("not ok - ring_buffer__new: %s\n", strerror(errno));
		return 1;
	}

	/* events off (the map as created: rate 0) */
	set_config(0);
	run(&(struct pkt){ "192.0.2.9" }, 10);
	a = ev_totals();
	CHECK("rate 0: no event", drain() == 0, "%d events", ngot);
	CHECK("rate 0: nothing counted", a.emitted + a.sup_rate + a.sup_source + a.lost == 0,
	      "%llu", (unsigned long long)(a.emitted + a.sup_rate));

	/* every field */
	set_events(1000, 0);
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++)
		check_event(&wants[i]);
	set_config(0);
	run(&(struct pkt){ "198.51.100.200" }, 1);
	CHECK("a pass: no event", drain() == 0, "%d events", ngot);

	/* the cap: 1000 candidates in one go (a second or two), in a second
	 * of their own (the events above count against theirs) */
	set_events(5, 0);
	sleep(1);
	drain();
	a = ev_totals();
	p0 = stat_packets(MXS_R_BLOCK * MXS_ACT_MAX + MXS_ACT_DROP);
	run(&(struct pkt){ "192.0.2.9" }, 1000);
	b = ev_totals();
	p1 = stat_packets(MXS_R_BLOCK * MXS_ACT_MAX + MXS_ACT_DROP);
	e = drain();
	CHECK("cap 5: 5 events a second (one or two seconds)", e >= 5 && e <= 10, "%d events", e);
	CHECK("cap: the rest suppressed by the cap", b.sup_rate - a.sup_rate == 1000 - (uint64_t)e,
	      "%llu", (unsigned long long)(b.sup_rate - a.sup_rate));
	CHECK("cap: emitted counter = events read", b.emitted - a.emitted == (uint64_t)e,
	      "%llu", (unsigned long long)(b.emitted - a.emitted));
	CHECK("cap: emitted + suppressed = candidates",
	      b.emitted + b.sup_rate + b.sup_source + b.lost -
	      (a.emitted + a.sup_rate + a.sup_source + a.lost) == 1000, "%llu",
	      (unsigned long long)(b.emitted + b.sup_rate - a.emitted - a.sup_rate));
	CHECK("cap: the packets all counted", p1 - p0 == 1000, "%llu",
	      (unsigned long long)(p1 - p0));

	/* one event per source and second */
	set_events(1000, MXS_EVC_PER_SOURCE);
	sleep(1);	/* a fresh second for 192.0.2.9 */
	drain();
	a = ev_totals();
	run(&(struct pkt){ "192.0.2.9" }, 500);
	run(&(struct pkt){ "192.0.2.10" }, 500);
	run(&(struct pkt){ "192.0.2.9" }, 500);
	b = ev_totals();
	e = drain();
	CHECK("per source: 2 sources, 2 events (4 across a second)", e >= 2 && e <= 4,
	      "%d events", e);
	CHECK("per source: the rest suppressed by source",
	      b.sup_source - a.sup_source == 1500 - (uint64_t)e && b.sup_rate == a.sup_rate,
	      "%llu by source, %llu by the cap", (unsigned long long)(b.sup_source - a.sup_source),
	      (unsigned long long)(b.sup_rate - a.sup_rate));

	/* new connections */
	{
		uint64_t c0 = conns(MXS_R_BLOCK, MXS_ACT_DROP);
		uint64_t r0 = sum64(bpf_map__fd(skel->maps.conns), MXS_CONN_RETRANS);
		uint64_t k0 = sum64(bpf_map__fd(skel->maps.country_conns), CC('F', 'R'));
		struct pkt syn = { "192.0.2.44", .sport = 41000, .seq = 777, .syn = true };
		struct pkt syn2 = syn, ack = syn, synack = syn;

		syn2.seq = 778;
		ack.syn = false;
		ack.ack = true;
		synack.ack = true;
		run(&syn, 1);
		run(&syn, 1);		/* retransmitted */
		run(&ack, 3);
		run(&synack, 1);	/* SYN+ACK: not a connection */
		run(&syn2, 1);		/* a new one, same ports */
		run(&(struct pkt){ "203.0.113.9", .syn = true, .seq = 9 }, 1);
		CHECK("SYN, its retransmission, ACKs, a SYN+ACK, a new SYN: 2 connections",
		      conns(MXS_R_BLOCK, MXS_ACT_DROP) - c0 == 2, "%llu",
		      (unsigned long long)(conns(MXS_R_BLOCK, MXS_ACT_DROP) - c0));
		CHECK("one retransmitted SYN",
		      sum64(bpf_map__fd(skel->maps.conns), MXS_CONN_RETRANS) - r0 == 1, "%llu",
		      (unsigned long long)(sum64(bpf_map__fd(skel->maps.conns), MXS_CONN_RETRANS) - r0));
		CHECK("country: one connection",
		      sum64(bpf_map__fd(skel->maps.country_conns), CC('F', 'R')) - k0 == 1, "%llu",
		      (unsigned long long)(sum64(bpf_map__fd(skel->maps.country_conns), CC('F', 'R')) - k0));
	}
	ring_buffer__free(rb);
	mxshield_bpf__destroy(skel);
	return failures ? 1 : 0;
}
