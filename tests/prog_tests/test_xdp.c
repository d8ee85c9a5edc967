// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * BPF_PROG_TEST_RUN over a table of crafted packets. One rule set covers
 * every precedence case; each packet is checked for its XDP action, the
 * exact counter slots it moved (and nothing else), its tag map entry, the
 * hit counter of the deciding entry, the per-country counter, and the
 * controller's mxs_classify() verdict for the same source.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "core/parse.h"
#include "filter/compile.h"
#include "tests/ref/tries.h"
#include "filter/install.h"
#include "filter/classify.h"
#include "filter/geo.h"
#include "mxshield.skel.h"
#include "../skel.h"

/* the tables below name only the fields that matter for each row */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static int failures, checks;

static void result(bool good, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void result(bool good, const char *name, const char *fmt, ...)
{
	va_list ap;

	checks++;
	if (good) {
		printf("ok - %s\n", name);
		return;
	}
	failures++;
	printf("not ok - %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* ------------------------------------------------------------ the lab */

static struct mxshield_bpf *skel;
static struct mxs_maps_view mv;
static int ncpu;

struct rule_spec {
	uint32_t list;
	const char *prefix;
	uint8_t action;
	uint32_t ref;
	int expires;		/* 0 never, -1 past, +1 future */
};

#define CC(a, b) (((a) - 'A') * 26 + ((b) - 'A'))

static const struct rule_spec rules[] = {
	{ MXS_LIST_TRUST, "192.0.2.10/32" },
	{ MXS_LIST_PARTNER, "192.0.2.0/28", 0, 7 },
	{ MXS_LIST_GATEWAY, "192.0.2.16/28" },
	{ MXS_LIST_BLOCK, "192.0.2.0/24", MXS_ACT_DROP },
	{ MXS_LIST_BLOCK, "198.51.100.0/25", MXS_ACT_DROP },
	{ MXS_LIST_BLOCK, "198.51.100.64/26", MXS_ACT_REJECT },
	{ MXS_LIST_BLOCK, "198.51.100.32/27", MXS_ACT_QUARANTINE },
	{ MXS_LIST_BLOCK, "198.51.100.16/28", MXS_ACT_SPAM, 0, -1 },	/* expired */
	{ MXS_LIST_BLOCK, "198.51.100.8/29", MXS_ACT_REJECT, 0, +1 },
	{ MXS_LIST_BLOCK, "198.51.100.200/29", MXS_ACT_SPAM },
	{ MXS_LIST_BLOCK, "203.0.113.0/26", MXS_ACT_SPAM },
	{ MXS_LIST_PARTNER, "203.0.113.100/32", 0, 9 },
	{ MXS_LIST_COUNTRY, "203.0.113.0/25", 0, CC('A', 'A') },
	{ MXS_LIST_COUNTRY, "203.0.113.128/26", 0, CC('A', 'B') },
	{ MXS_LIST_COUNTRY, "203.0.113.192/27", 0, CC('A', 'C') },
	{ MXS_LIST_COUNTRY, "203.0.113.224/28", 0, CC('A', 'D') },
	{ MXS_LIST_COUNTRY, "203.0.113.240/28", 0, CC('A', 'E') },	/* no policy */
	{ MXS_LIST_BLOCK, "2001:db8:bad::/48", MXS_ACT_DROP },
	{ MXS_LIST_TRUST, "2001:db8:bad::1/128" },
	{ MXS_LIST_BLOCK, "2001:db8:bad:1::/64", MXS_ACT_SPAM },
	{ MXS_LIST_COUNTRY, "2001:db8:c0::/48", 0, CC('A', 'A') },
};

static const struct { uint32_t cc; uint8_t act; } policies[] = {
	{ CC('A', 'A'), MXS_ACT_DROP }, { CC('A', 'B'), MXS_ACT_REJECT },
	{ CC('A', 'C'), MXS_ACT_QUARANTINE }, { CC('A', 'D'), MXS_ACT_SPAM },
};

static void set_config(uint32_t flags, const uint16_t *ports, int n)
{
	struct mxs_config cfg = { .flags = flags, .nports = n };
	__u32 zero = 0;

	memcpy(cfg.ports, ports, n * sizeof(*ports));
	bpf_map_update_elem(bpf_map__fd(skel->maps.config), &zero, &cfg, BPF_ANY);
}

static const uint16_t smtp_ports[] = { 25, 465, 587 };

static int lab_open(void)
{
	struct rule_vec fam[2] = {};
	char err[MXS_ERRLEN];
	uint64_t now = now_tai_ns();

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
		if (rules[i].expires)
			r.expires = rules[i].expires < 0 ? now - 1000000000ULL : now + 3600000000000ULL;
		if (rule_vec_push(&fam[p.v6], &p, &r))
			return -1;
	}
	if (cmaps_install(&mv, fam, NULL, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	rule_vec_free(&fam[0]);
	rule_vec_free(&fam[1]);
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		struct mxs_country_policy pol = { .action = policies[i].act };

		bpf_map_update_elem(mv.country_policy, &policies[i].cc, &pol, BPF_ANY);
	}
	set_config(0, smtp_ports, 3);
	ncpu = libbpf_num_possible_cpus();
	return 0;
}

/* ------------------------------------------------------- packet builder */

enum { P_TCP = 6, P_UDP = 17, P_ARP = 1000 };

/* room for a TCP header beyond MXS_MAX_HDR_OFF */
#define PKT_MAX (MXS_MAX_HDR_OFF + 512)

struct pkt {
	const char *src;
	int proto;		/* P_TCP (default), P_UDP, P_ARP */
	uint16_t dport;		/* default 25 */
	int vlans;		/* that many VLAN tags, 802.1Q unless in ad */
	unsigned ad;		/* bit i: tag i (outermost 0) is 802.1ad */
	int ver;		/* IP version field, if not the right one */
	int ihl;		/* IPv4 header words, default 5 */
	int doff;		/* TCP data offset, default 5 */
	int ext;		/* IPv6: that many destination-options headers */
	int extlen;		/* ... of (extlen + 1) * 8 bytes each */
	bool chain;		/* IPv6: hop-by-hop, routing, dest opts, fragment(0) */
	int frag;		/* fragment offset in 8-byte units; -1: first, MF set */
	int cut;		/* keep only this many bytes */
};

static size_t build(const struct pkt *s, uint8_t *b)
{
	struct mxs_prefix a;
	char err[MXS_ERRLEN];
	size_t off = 12;
	uint8_t l4;
	int i;

	memset(b, 0, PKT_MAX);
	memcpy(b, "\x02\0\0\0\0\x01\x02\0\0\0\0\x02", 12);
	for (i = 0; i < s->vlans; i++) {
		uint16_t tpid = htons(s->ad & (1U << i) ? ETH_P_8021AD : ETH_P_8021Q);

		memcpy(b + off, &tpid, 2);
		b[off + 3] = 10 + i;	/* VLAN id */
		off += 4;
	}
	if (s->proto == P_ARP) {
		uint16_t t = htons(ETH_P_ARP);

		memcpy(b + off, &t, 2);
		return off + 2 + 28;
	}
	parse_addr(s->src, &a, err, sizeof(err));
	l4 = s->proto ? s->proto : P_TCP;
	{
		uint16_t t = htons(a.v6 ? ETH_P_IPV6 : ETH_P_IP);

		memcpy(b + off, &t, 2);
		off += 2;
	}
	if (!a.v6) {
		struct iphdr *ip = (void *)(b + off);
		int ihl = s->ihl ? s->ihl : 5;

		ip->version = s->ver ? s->ver : 4;
		ip->ihl = ihl;
		ip->ttl = 64;
		ip->protocol = l4;
		memcpy(&ip->saddr, a.addr, 4);
		inet_pton(AF_INET, "203.0.113.1", &ip->daddr);
		if (s->frag > 0)
			ip->frag_off = htons(s->frag);
		else if (s->frag < 0)
			ip->frag_off = htons(0x2000);	/* MF, offset 0 */
		for (int o = 20; o < ihl * 4; o++)
			b[off + o] = 1;			/* NOP options */
		off += ihl >= 5 ? ihl * 4 : 20;
	} else {
		struct ipv6hdr *ip6 = (void *)(b + off);
		uint8_t *nh = &ip6->nexthdr;

		ip6->version = s->ver ? s->ver : 6;
		ip6->hop_limit = 64;
		memcpy(&ip6->saddr, a.addr, 16);
		inet_pton(AF_INET6, "2001:db8:1::1", &ip6->daddr);
		off += sizeof(*ip6);
		if (s->chain) {
			static const uint8_t kinds[] = { 0, 43, 60, 44 };

			for (i = 0; i < 4; i++) {
				*nh = kinds[i];
				nh = b + off;
				off += 8;
			}
		}
		for (i = 0; i < s->ext; i++) {
			*nh = 60;
			nh = b + off;
			b[off + 1] = s->extlen;
			off += (s->extlen + 1) * 8;
		}
		if (s->frag) {
			*nh = 44;
			nh = b + off;
			b[off + 2] = (s->frag > 0 ? s->frag << 3 : 0) >> 8;
			b[off + 3] = (s->frag > 0 ? s->frag << 3 : 1) & 0xff;
			off += 8;
		}
		*nh = l4;
	}
	if (l4 == P_TCP) {
		struct tcphdr *t = (void *)(b + off);

		t->source = htons(40000);
		t->dest = htons(s->dport ? s->dport : 25);
		t->doff = s->doff ? s->doff : 5;
		t->syn = 1;
		off += sizeof(*t);
	} else {
		struct udphdr *u = (void *)(b + off);

		u->source = htons(40000);
		u->dest = htons(s->dport ? s->dport : 25);
		off += sizeof(*u);
	}
	return s->cut ? (size_t)s->cut : off;
}

/* ---------------------------------------------------------------- cases */

struct tcase {
	const char *name;
	struct pkt pkt;
	uint32_t flags;
	int xdp;		/* XDP_PASS / XDP_DROP */
	uint8_t reason, action;
	uint8_t list;		/* deciding list, or MXS_LIST_NONE */
	const char *rule;	/* deciding entry (hit counter, tag) */
	bool tag;		/* a tag entry is expected */
	bool country;		/* the per-country counter moves (country networks
				 * have no counters of their own: the per-country
				 * counter is theirs) */
};

#define MON MXS_F_MONITOR
#define GWO MXS_F_GATEWAY_ONLY
#define NONE MXS_LIST_NONE
/* headers that cannot be read on a frame that could be SMTP: no source is
 * classified, no entry hit, no tag; the verdict is drop */
#define UNPARSED(name, flags, xdp, ...)					\
	{ name, { __VA_ARGS__ }, flags, xdp, MXS_R_UNPARSED, MXS_ACT_DROP, NONE }
_Static_assert(MXS_MAX_VLANS >= 4, "the VLAN rows below have up to four tags");

static const struct tcase cases[] = {
	/* precedence */
	{ "trust beats partner and block", { "192.0.2.10" }, 0, XDP_PASS, MXS_R_TRUST, 0,
	  MXS_LIST_TRUST, "192.0.2.10/32" },
	{ "partner beats block", { "192.0.2.5" }, 0, XDP_PASS, MXS_R_PARTNER, 0,
	  MXS_LIST_PARTNER, "192.0.2.0/28" },
	{ "gateway beats block", { "192.0.2.20" }, 0, XDP_PASS, MXS_R_GATEWAY, 0,
	  MXS_LIST_GATEWAY, "192.0.2.16/28" },
	{ "block drop", { "192.0.2.200" }, 0, XDP_DROP, MXS_R_BLOCK, MXS_ACT_DROP,
	  MXS_LIST_BLOCK, "192.0.2.0/24" },
	{ "longest block entry wins: reject inside drop", { "198.51.100.70" }, 0, XDP_PASS,
	  MXS_R_BLOCK, MXS_ACT_REJECT, MXS_LIST_BLOCK, "198.51.100.64/26", true },
	{ "block quarantine", { "198.51.100.40" }, 0, XDP_PASS, MXS_R_BLOCK, MXS_ACT_QUARANTINE,
	  MXS_LIST_BLOCK, "198.51.100.32/27", true },
	{ "block spam", { "198.51.100.201" }, 0, XDP_PASS, MXS_R_BLOCK, MXS_ACT_SPAM,
	  MXS_LIST_BLOCK, "198.51.100.200/29", true },
	{ "expired entry stops matching, the covering one applies", { "198.51.100.20" }, 0,
	  XDP_DROP, MXS_R_BLOCK, MXS_ACT_DROP, MXS_LIST_BLOCK, "198.51.100.0/25" },
	{ "entry expiring in the future matches", { "198.51.100.9" }, 0, XDP_PASS, MXS_R_BLOCK,
	  MXS_ACT_REJECT, MXS_LIST_BLOCK, "198.51.100.8/29", true },
	{ "unlisted source: default pass", { "198.51.100.150" }, 0, XDP_PASS, MXS_R_DEFAULT, 0,
	  NONE, NULL },
	{ "block beats country", { "203.0.113.1" }, 0, XDP_PASS, MXS_R_BLOCK, MXS_ACT_SPAM,
	  MXS_LIST_BLOCK, "203.0.113.0/26", true },
	{ "partner beats country", { "203.0.113.100" }, 0, XDP_PASS, MXS_R_PARTNER, 0,
	  MXS_LIST_PARTNER, "203.0.113.100/32" },
	{ "country drop", { "203.0.113.70" }, 0, XDP_DROP, MXS_R_COUNTRY, MXS_ACT_DROP,
	  MXS_LIST_COUNTRY, NULL, false, true },
	{ "country reject", { "203.0.113.130" }, 0, XDP_PASS, MXS_R_COUNTRY, MXS_ACT_REJECT,
	  MXS_LIST_COUNTRY, NULL, true, true },
	{ "country quarantine", { "203.0.113.200" }, 0, XDP_PASS, MXS_R_COUNTRY,
	  MXS_ACT_QUARANTINE, MXS_LIST_COUNTRY, NULL, true, true },
	{ "country spam", { "203.0.113.230" }, 0, XDP_PASS, MXS_R_COUNTRY, MXS_ACT_SPAM,
	  MXS_LIST_COUNTRY, NULL, true, true },
	{ "country without a policy: default, still counted", { "203.0.113.245" }, 0, XDP_PASS,
	  MXS_R_DEFAULT, 0, NONE, NULL, false, true },
	{ "IPv6 block drop", { "2001:db8:bad::5" }, 0, XDP_DROP, MXS_R_BLOCK, MXS_ACT_DROP,
	  MXS_LIST_BLOCK, "2001:db8:bad::/48" },
	{ "IPv6 trust inside a block", { "2001:db8:bad::1" }, 0, XDP_PASS, MXS_R_TRUST, 0,
	  MXS_LIST_TRUST, "2001:db8:bad::1/128" },
	{ "IPv6 longest block entry: spam", { "2001:db8:bad:1::9" }, 0, XDP_PASS, MXS_R_BLOCK,
	  MXS_ACT_SPAM, MXS_LIST_BLOCK, "2001:db8:bad:1::/64", true },
	{ "IPv6 country drop", { "2001:db8:c0::9" }, 0, XDP_DROP, MXS_R_COUNTRY, MXS_ACT_DROP,
	  MXS_LIST_COUNTRY, NULL, false, true },
	{ "IPv6 unlisted", { "2001:db8:1::9" }, 0, XDP_PASS, MXS_R_DEFAULT, 0, NONE, NULL },

	/* ports and protocols */
	{ "port 465 is SMTP", { "192.0.2.200", .dport = 465 }, 0, XDP_DROP, MXS_R_BLOCK,
	  MXS_ACT_DROP, MXS_LIST_BLOCK, "192.0.2.0/24" },
	{ "port 587 is SMTP", { "192.0.2.200", .dport = 587 }, 0, XDP_DROP, MXS_R_BLOCK,
	  MXS_ACT_DROP, MXS_LIST_BLOCK, "192.0.2.0/24" },
	{ "port 80 untouched", { "192.0.2.200", .dport = 80 }, 0, XDP_PASS, MXS_R_NOT_SMTP, 0, NONE },
	{ "IPv6 port 443 untouched", { "2001:db8:bad::5", .dport = 443 }, 0, XDP_PASS,
	  MXS_R_NOT_SMTP, 0, NONE },
	{ "UDP to 25 untouched", { "192.0.2.200", .proto = P_UDP }, 0, XDP_PASS, MXS_R_NOT_TCP, 0,
	  NONE },
	{ "ARP untouched", { "192.0.2.200", .proto = P_ARP }, 0, XDP_PASS, MXS_R_NOT_IP, 0, NONE },

	/* encapsulation and headers */
	{ "802.1Q tag", { "192.0.2.200", .vlans = 1 }, 0, XDP_DROP, MXS_R_BLOCK, MXS_ACT_DROP,
	  MXS_LIST_BLOCK, "192.0.2.0/24" },
	{ "802.1ad tag alone", { "192.0.2.200", .vlans = 1, .ad = 1 }, 0, XDP_DROP, MXS_R_BLOCK,
	  MXS_ACT_DROP, MXS_LIST_BLOCK, "192.0.2.0/24" },
	{ "QinQ (802.1ad + 802.1Q)", { "2001:db8:bad::5", .vlans = 2, .ad = 1 }, 0, XDP_DROP,
	  MXS_R_BLOCK, MXS_ACT_DROP, MXS_LIST_BLOCK, "2001:db8:bad::/48" },
	{ "two 802.1Q tags", { "192.0.2.200", .vlans = 2 }, 0, XDP_DROP, MXS_R_BLOCK,
	  MXS_ACT_DROP, MXS_LIST_BLOCK, "192.0.2.0/24" },
	{ "three tags (802.1Q, 802.1ad, 802.1Q)", { "192.0.2.200", .vlans = 3, .ad = 2 }, 0,
	  XDP_DROP, MXS_R_BLOCK, MXS_ACT_DROP, MXS_LIST_BLOCK, "192.0.2.0/24" },
	{ "four tags (802.1ad, 802.1Q, 802.1ad, 802.1Q)", { "192.0.2.200", .vlans = 4, .ad = 5 },
	  0, XDP_DROP, MXS_R_BLOCK, MXS_ACT_DROP, MXS_LIST_BLOCK, "192.0.2.0/24" },
	{ "IPv6 under four tags (802.1Q, 802.1ad, 802.1ad, 802.1Q)",
	  { "2001:db8:bad::5", .vlans = 4, .ad = 6 }, 0, XDP_DROP, MXS_R_BLOCK, MXS_ACT_DROP,
	  MXS_LIST_BLOCK, "2001:db8:bad::/48" },
	{ "four tags, a tagged verdict", { "198.51.100.201", .vlans = 4, .ad = 15 }, 0, XDP_PASS,
	  MXS_R_BLOCK, MXS_ACT_SPAM, MXS_LIST_BLOCK, "198.51.100.200/29", true },
	{ "as many tags as MXS_MAX_VLANS", { "192.0.2.200", .vlans = MXS_MAX_VLANS, .ad = 1 }, 0,
	  XDP_DROP, MXS_R_BLOCK, MXS_ACT_DROP, MXS_LIST_BLOCK, "192.0.2.0/24" },
	UNPARSED("one tag more than MXS_MAX_VLANS: unparsed, dropped", 0, XDP_DROP,
		 "192.0.2.200", .vlans = MXS_MAX_VLANS + 1, .ad = 0x15),
	UNPARSED("one tag more, monitor: passed, counted", MON, XDP_PASS,
		 "192.0.2.200", .vlans = MXS_MAX_VLANS + 1, .ad = 0x15),
	UNPARSED("one tag more, gateway-only: dropped", GWO, XDP_DROP,
		 "192.0.2.200", .vlans = MXS_MAX_VLANS + 1),
	UNPARSED("one tag more from a trusted source: dropped all the same", 0, XDP_DROP,
		 "192.0.2.10", .vlans = MXS_MAX_VLANS + 1, .ad = 1),
	UNPARSED("one tag more from an unlisted source: dropped all the same", 0, XDP_DROP,
		 "198.51.100.150", .vlans = MXS_MAX_VLANS + 1),
	UNPARSED("IPv6, one tag more", 0, XDP_DROP, "2001:db8:1::9", .vlans = MXS_MAX_VLANS + 1,
		 .ad = 0xa),
	UNPARSED("ARP under one tag more than we walk: cannot be told from IP", 0, XDP_DROP,
		 "192.0.2.200", .proto = P_ARP, .vlans = MXS_MAX_VLANS + 1),
	{ "ARP under two tags untouched", { "192.0.2.200", .proto = P_ARP, .vlans = 2, .ad = 1 },
	  0, XDP_PASS, MXS_R_NOT_IP, 0, NONE },
	UNPARSED("cut inside the first VLAN tag", 0, XDP_DROP, "192.0.2.200", .vlans = 1,
		 .cut = 12 + 2),
	UNPARSED("cut inside the third VLAN tag", 0, XDP_DROP, "192.0.2.200", .vlans = 3,
		 .cut = 12 + 4 * 2 + 3),
	UNPARSED("cut inside the third VLAN tag, monitor: passed, counted", MON, XDP_PASS,
		 "192.0.2.200", .vlans = 3, .cut = 12 + 4 * 2 + 3),
	UNPARSED("cut after two tags, before the IPv4 header", 0, XDP_DROP, "192.0.2.200",
		 .vlans = 2, .cut = 12 + 4 * 2 + 2),
	{ "IPv4 options (IHL 8)", { "198.51.100.201", .ihl = 8 }, 0, XDP_PASS, MXS_R_BLOCK,
	  MXS_ACT_SPAM, MXS_LIST_BLOCK, "198.51.100.200/29", true },
	{ "IPv4 options (IHL 15) under three tags", { "192.0.2.200", .ihl = 15, .vlans = 3 }, 0,
	  XDP_DROP, MXS_R_BLOCK, MXS_ACT_DROP, MXS_LIST_BLOCK, "192.0.2.0/24" },
	UNPARSED("IPv4 IHL < 5", 0, XDP_DROP, "192.0.2.200", .ihl = 3),
	UNPARSED("IPv4 IHL < 5 from an unlisted source", 0, XDP_DROP, "198.51.100.150", .ihl = 4),
	UNPARSED("IPv4 EtherType, version 6", 0, XDP_DROP, "192.0.2.200", .ver = 6),
	UNPARSED("IPv4 header cut", 0, XDP_DROP, "192.0.2.200", .cut = 14 + 10),
	UNPARSED("IPv4 header cut, monitor: passed, counted", MON, XDP_PASS, "192.0.2.200",
		 .cut = 14 + 10),
	UNPARSED("Ethernet header only (the kernel's minimum frame)", 0, XDP_DROP,
		 "192.0.2.200", .cut = 14),
	UNPARSED("cut inside the IPv4 options", 0, XDP_DROP, "192.0.2.200", .ihl = 15,
		 .cut = 14 + 40),
	UNPARSED("TCP header cut before the ports", 0, XDP_DROP, "192.0.2.200",
		 .cut = 14 + 20 + 2),
	UNPARSED("TCP header cut after the ports (port 25)", 0, XDP_DROP, "192.0.2.200",
		 .cut = 14 + 20 + 10),
	{ "TCP header cut after the ports, port 80: not SMTP",
	  { "192.0.2.200", .dport = 80, .cut = 14 + 20 + 10 }, 0, XDP_PASS, MXS_R_NOT_SMTP, 0,
	  NONE },
	UNPARSED("TCP data offset < 5", 0, XDP_DROP, "192.0.2.200", .doff = 4),
	UNPARSED("TCP options cut (data offset 8, no options)", 0, XDP_DROP, "192.0.2.200",
		 .doff = 8),
	{ "TCP data offset < 5, port 80: not SMTP", { "192.0.2.200", .dport = 80, .doff = 2 }, 0,
	  XDP_PASS, MXS_R_NOT_SMTP, 0, NONE },
	{ "UDP cut after 6 bytes: not TCP", { "192.0.2.200", .proto = P_UDP, .cut = 14 + 20 + 6 },
	  0, XDP_PASS, MXS_R_NOT_TCP, 0, NONE },
	{ "IPv6 hop-by-hop, routing, dest opts, fragment 0", { "2001:db8:bad::5", .chain = true },
	  0, XDP_DROP, MXS_R_BLOCK, MXS_ACT_DROP, MXS_LIST_BLOCK, "2001:db8:bad::/48" },
	{ "IPv6 chain as long as MXS_MAX_IPV6_EXT", { "2001:db8:bad::5", .ext = MXS_MAX_IPV6_EXT },
	  0, XDP_DROP, MXS_R_BLOCK, MXS_ACT_DROP, MXS_LIST_BLOCK, "2001:db8:bad::/48" },
	UNPARSED("IPv6 chain beyond MXS_MAX_IPV6_EXT", 0, XDP_DROP, "2001:db8:bad::5",
		 .ext = MXS_MAX_IPV6_EXT + 1),
	UNPARSED("IPv6 chain beyond MXS_MAX_IPV6_EXT, unlisted source", 0, XDP_DROP,
		 "2001:db8:1::9", .ext = MXS_MAX_IPV6_EXT + 1),
	UNPARSED("IPv6 chain beyond MXS_MAX_IPV6_EXT, monitor: passed, counted", MON, XDP_PASS,
		 "2001:db8:1::9", .ext = MXS_MAX_IPV6_EXT + 1),
	UNPARSED("IPv6 TCP header beyond MXS_MAX_HDR_OFF", 0, XDP_DROP, "2001:db8:bad::5",
		 .ext = 2, .extlen = MXS_MAX_HDR_OFF / 16),
	{ "IPv6 non-first fragment passes", { "2001:db8:bad::5", .frag = 100 }, 0, XDP_PASS,
	  MXS_R_FRAGMENT, 0, NONE },
	{ "IPv4 non-first fragment passes", { "192.0.2.200", .frag = 100 }, 0, XDP_PASS,
	  MXS_R_FRAGMENT, 0, NONE },
	{ "IPv4 first fragment (MF) classified", { "192.0.2.200", .frag = -1 }, 0, XDP_DROP,
	  MXS_R_BLOCK, MXS_ACT_DROP, MXS_LIST_BLOCK, "192.0.2.0/24" },
	{ "IPv6 first fragment classified", { "2001:db8:bad::5", .frag = -1 }, 0, XDP_DROP,
	  MXS_R_BLOCK, MXS_ACT_DROP, MXS_LIST_BLOCK, "2001:db8:bad::/48" },
	UNPARSED("IPv6 extension chain cut", 0, XDP_DROP, "2001:db8:bad::5", .chain = true,
		 .cut = 14 + 40 + 12),
	UNPARSED("IPv6 header cut", 0, XDP_DROP, "2001:db8:bad::5", .cut = 14 + 30),
	UNPARSED("IPv6 EtherType, version 4", 0, XDP_DROP, "2001:db8:bad::5", .ver = 4),
	UNPARSED("IPv6 TCP header cut after the ports", 0, XDP_DROP, "2001:db8:1::9",
		 .cut = 14 + 40 + 8),
	UNPARSED("IPv6 TCP header cut under two tags, gateway-only", GWO, XDP_DROP,
		 "2001:db8:bad::1", .vlans = 2, .cut = 12 + 8 + 2 + 40 + 3),
	{ "IPv6 TCP header cut after the ports, port 443: not SMTP",
	  { "2001:db8:bad::5", .dport = 443, .cut = 14 + 40 + 8 }, 0, XDP_PASS, MXS_R_NOT_SMTP, 0,
	  NONE },

	/* modes */
	{ "monitor: drop verdict passes, tagged as drop", { "192.0.2.200" }, MON, XDP_PASS,
	  MXS_R_BLOCK, MXS_ACT_DROP, MXS_LIST_BLOCK, "192.0.2.0/24", true },
	{ "monitor: country drop passes", { "203.0.113.70" }, MON, XDP_PASS, MXS_R_COUNTRY,
	  MXS_ACT_DROP, MXS_LIST_COUNTRY, NULL, true, true },
	{ "gateway-only: unlisted dropped", { "198.51.100.150" }, GWO, XDP_DROP,
	  MXS_R_GATEWAY_ONLY, MXS_ACT_DROP, NONE },
	{ "gateway-only: tagged source dropped too", { "198.51.100.201" }, GWO, XDP_DROP,
	  MXS_R_GATEWAY_ONLY, MXS_ACT_DROP, NONE },
	{ "gateway-only: gateway passes", { "192.0.2.20" }, GWO, XDP_PASS, MXS_R_GATEWAY, 0,
	  MXS_LIST_GATEWAY, "192.0.2.16/28" },
	{ "gateway-only: trust passes", { "2001:db8:bad::1" }, GWO, XDP_PASS, MXS_R_TRUST, 0,
	  MXS_LIST_TRUST, "2001:db8:bad::1/128" },
	{ "gateway-only + monitor: passes, counted", { "198.51.100.150" }, GWO | MON, XDP_PASS,
	  MXS_R_GATEWAY_ONLY, MXS_ACT_DROP, NONE, NULL, true },
};

/* ------------------------------------------------------------- checking */

struct snap {
	struct mxs_counter s[MXS_STAT_SLOTS];
	struct mxs_counter c[MXS_COUNTRY_SLOTS];
};

static void snapshot(struct snap *sn)
{
	struct mxs_counter per[ncpu];
	int fs = bpf_map__fd(skel->maps.stats), fc = bpf_map__fd(skel->maps.country_stats);

	memset(sn, 0, sizeof(*sn));
	for (__u32 k = 0; k < MXS_STAT_SLOTS; k++) {
		bpf_map_lookup_elem(fs, &k, per);
		for (int i = 0; i < ncpu; i++)
			sn->s[k].packets += per[i].packets, sn->s[k].bytes += per[i].bytes;
	}
	for (__u32 k = 0; k < MXS_COUNTRY_SLOTS; k++) {
		bpf_map_lookup_elem(fc, &k, per);
		for (int i = 0; i < ncpu; i++)
			sn->c[k].packets += per[i].packets;
	}
}

/* Hits of an entry, and its last hit's time into *last_hit (if given). */
static uint64_t rule_hits_at(uint32_t list, const char *rule, uint64_t *last_hit)
{
	struct mxs_prefix p;
	struct hitmap hm;
	uint64_t hits = 0, last = 0;
	char err[MXS_ERRLEN];

	if (!rule || parse_prefix(rule, &p, err, sizeof(err)) || hitmap_load(&mv, &hm))
		return 0;
	hitmap_get(&hm, list, &p, &hits, &last);
	hitmap_free(&hm);
	if (last_hit)
		*last_hit = last;
	return hits;
}

static uint64_t rule_hits(uint32_t list, const char *rule)
{
	return rule_hits_at(list, rule, NULL);
}

static uint64_t coarse_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void run_case(const struct tcase *t)
{
	uint8_t pkt[PKT_MAX], out[PKT_MAX];
	struct snap a, b;
	struct mxs_prefix src;
	struct mxs_addr key;
	struct mxs_tag tag;
	char err[MXS_ERRLEN], why[512] = "";
	size_t len = build(&t->pkt, pkt);
	uint64_t hits0, hits1;
	int tags = bpf_map__fd(skel->maps.tags), moved = 0, cc_moved = 0;
	uint32_t slot = t->reason * MXS_ACT_MAX + t->action;
	uint32_t xslot = MXS_STAT_XDP + t->xdp;
	bool has_tag;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	set_config(t->flags, smtp_ports, 3);
	parse_addr(t->pkt.src, &src, err, sizeof(err));
	prefix_to_tag_key(&src, &key);
	bpf_map_delete_elem(tags, &key);
	hits0 = t->rule ? rule_hits(t->list, t->rule) : 0;
	snapshot(&a);
	if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.mxs_xdp), &o)) {
		result(false, t->name, "BPF_PROG_TEST_RUN: %s", strerror(errno));
		return;
	}
	snapshot(&b);
	hits1 = t->rule ? rule_hits(t->list, t->rule) : 0;
	has_tag = bpf_map_lookup_elem(tags, &key, &tag) == 0;

	if ((int)o.retval != t->xdp)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), " xdp=%u want %d;",
			 o.retval, t->xdp);
	for (uint32_t k = 0; k < MXS_STAT_SLOTS; k++) {
		uint64_t dp = b.s[k].packets - a.s[k].packets, db = b.s[k].bytes - a.s[k].bytes;
		bool want = k == slot || k == xslot;

		moved += dp;
		if (want && (dp != 1 || db != len))
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
				 " slot %u (%s/%s) moved %llu pkts %llu bytes;", k,
				 k < MXS_STAT_XDP ? reason_name(k / MXS_ACT_MAX) : "xdp",
				 k < MXS_STAT_XDP ? action_name(k % MXS_ACT_MAX) : "", (unsigned long long)dp,
				 (unsigned long long)db);
	}
	if (moved != 2)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), " %d counter packets moved, want 2;",
			 moved);
	for (uint32_t k = 0; k < MXS_COUNTRY_SLOTS; k++)
		cc_moved += b.c[k].packets - a.c[k].packets;
	if (cc_moved != (t->country ? 1 : 0))
		snprintf(why + strlen(why), sizeof(why) - strlen(why), " country counters moved %d;",
			 cc_moved);
	if (t->rule && hits1 != hits0 + 1)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), " hits of %s %llu -> %llu;",
			 t->rule, (unsigned long long)hits0, (unsigned long long)hits1);
	if (has_tag != t->tag) {
		snprintf(why + strlen(why), sizeof(why) - strlen(why), " tag %s;",
			 has_tag ? "present" : "missing");
	} else if (has_tag) {
		struct mxs_prefix rp;
		struct mxs_addr rk = {};

		if (t->rule) {
			parse_prefix(t->rule, &rp, err, sizeof(err));
			prefix_to_tag_key(&rp, &rk);
		}
		if (tag.action != t->action || tag.list != t->list || tag.reason != t->reason ||
		    tag.packets != 1 || tag.first_seen != tag.last_seen || !tag.first_seen ||
		    (t->rule && (memcmp(tag.rule_addr, rk.addr, 16) || tag.rule_plen != rp.plen)))
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
				 " tag {%s %s %s pkts %llu plen %u};", action_name(tag.action),
				 list_name(tag.list), reason_name(tag.reason),
				 (unsigned long long)tag.packets, tag.rule_plen);
	}
	/* classified packets: the controller must give the same verdict */
	if (t->reason >= MXS_R_TRUST) {
		struct mxs_verdict v;

		mxs_classify(&mv, &src, t->flags, now_tai_ns(), &v);
		if (v.action != t->action || v.reason != t->reason || v.list != t->list)
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
				 " controller says %s/%s/%s;", action_name(v.action),
				 reason_name(v.reason), list_name(v.list));
	}
	result(!why[0], t->name, "%s", why);
}

static void test_ports(void)
{
	static const uint16_t p2525[] = { 2525 };
	struct tcase t25 = { "port set 2525: 25 is not SMTP", { "192.0.2.200" }, 0, XDP_PASS,
			     MXS_R_NOT_SMTP, 0, NONE };
	struct tcase t2525 = { "port set 2525: 2525 is SMTP", { "192.0.2.200", .dport = 2525 }, 0,
			       XDP_DROP, MXS_R_BLOCK, MXS_ACT_DROP, MXS_LIST_BLOCK, "192.0.2.0/24" };
	uint8_t pkt[PKT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .repeat = 1);

	/* run_case resets the config: test the port set by hand */
	for (int i = 0; i < 2; i++) {
		const struct tcase *t = i ? &t2525 : &t25;

		o.data_size_in = build(&t->pkt, pkt);
		set_config(0, p2525, 1);
		if (bpf_prog_test_run_opts(bpf_program__fd(skel->progs.mxs_xdp), &o))
			result(false, t->name, "%s", strerror(errno));
		else
			result((int)o.retval == t->xdp, t->name, "xdp=%u", o.retval);
	}
	set_config(0, smtp_ports, 3);
}

static void test_repeat_tag(void)
{
	const struct tcase *t = &cases[4];	/* a reject tag */
	uint8_t pkt[PKT_MAX];
	struct mxs_prefix src;
	struct mxs_addr key;
	struct mxs_tag tag = {};
	char err[MXS_ERRLEN];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .repeat = 5);

	o.data_size_in = build(&t->pkt, pkt);
	parse_addr(t->pkt.src, &src, err, sizeof(err));
	prefix_to_tag_key(&src, &key);
	bpf_map_delete_elem(bpf_map__fd(skel->maps.tags), &key);
	bpf_prog_test_run_opts(bpf_program__fd(skel->progs.mxs_xdp), &o);
	bpf_map_lookup_elem(bpf_map__fd(skel->maps.tags), &key, &tag);
	result(tag.packets == 5 && tag.last_seen >= tag.first_seen && tag.action == MXS_ACT_REJECT,
	       "tag entry counts repeated packets", "packets=%llu", (unsigned long long)tag.packets);
}

/* Hits waiting in the CPUs' batches (struct mxs_hitbatch). */
static uint64_t pending_hits(void)
{
	struct mxs_hitbatch b[256];
	int ncpu = libbpf_num_possible_cpus();
	uint64_t pending = 0;

	for (__u32 k = 0; ncpu > 0 && ncpu <= 256 && k < MXS_HIT_SLOTS; k++)
		if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.hit_batch), &k, b))
			for (int i = 0; i < ncpu; i++)
				pending += b[i].pending;
	return pending;
}

/* A flood from one entry: 1000 packets in one run. The record takes the
 * first hit of each clock tick; the rest wait in the CPU's batch, which the
 * controller adds when it reads the counters: hit counts stay exact. The
 * test stays on one CPU: the batches are per CPU. */
static void test_hit_batch(void)
{
	const struct tcase *t = &cases[4];
	uint8_t pkt[PKT_MAX];
	uint64_t before, after, pending, t0, t1, last;
	cpu_set_t one, saved;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .repeat = 1000);

	sched_getaffinity(0, sizeof(saved), &saved);
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	sched_setaffinity(0, sizeof(one), &one);
	o.data_size_in = build(&t->pkt, pkt);
	before = rule_hits(t->list, t->rule);
	bpf_prog_test_run_opts(bpf_program__fd(skel->progs.mxs_xdp), &o);
	after = rule_hits(t->list, t->rule);
	pending = pending_hits();
	result(after - before == 1000 && pending > 0,
	       "a flood from one entry: its hits wait per CPU, and count exactly",
	       "hits %llu -> %llu, %llu pending", (unsigned long long)before,
	       (unsigned long long)after, (unsigned long long)pending);
	/* the next clock tick flushes the batch into the record */
	usleep(30000);
	o.repeat = 1;
	t0 = coarse_ns();
	bpf_prog_test_run_opts(bpf_program__fd(skel->progs.mxs_xdp), &o);
	t1 = coarse_ns();
	before = pending;
	pending = pending_hits();
	/* the last hit's time is the coarse clock of the new tick, not the
	 * one the CPU read at the tick before (struct tick_clock) */
	rule_hits_at(t->list, t->rule, &last);
	result(last >= t0 && last <= t1, "... and the record's last hit has that tick's time",
	       "last hit %llu, run between %llu and %llu", (unsigned long long)last,
	       (unsigned long long)t0, (unsigned long long)t1);
	result(rule_hits(t->list, t->rule) == after + 1 && pending + 900 < before,
	       "... and go into the record at the next clock tick",
	       "hits %llu, %llu -> %llu pending", (unsigned long long)rule_hits(t->list, t->rule),
	       (unsigned long long)before, (unsigned long long)pending);
	sched_setaffinity(0, sizeof(saved), &saved);
}

int main(void)
{
	libbpf_set_print(NULL);
	if (lab_open()) {
		printf("not ok - load the program and the rule set: %s\n", strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	test_ports();
	test_repeat_tag();
	test_hit_batch();
	mxshield_bpf__destroy(skel);
	printf("# %d checks\n", checks);
	return failures ? 1 : 0;
}
