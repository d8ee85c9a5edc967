// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mxshield XDP program: classify TCP packets to the SMTP ports by source
 * address and drop or tag them. The precedence rule is mxs_decide() in
 * maps/precedence.h; this file parses packets, implements the lookups the
 * walk (maps/walk.h) needs over the maps of maps/maps.bpf.h, and records
 * what happened on one exit path.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../maps/contract.h"

#ifdef MXS_REFERENCE
static int mxs_match(void *ctx, __u32 list, __u8 plen, struct mxs_rule *out);
#else
static const __u32 *mxs_c_dir(void *ctx, __u32 i);
static const struct mxs_cnode *mxs_c_node(void *ctx, __u32 i);
static const __u32 *mxs_c_leaf(void *ctx, __u32 i);
static struct mxs_crec *mxs_c_rec(void *ctx, __u32 i);
#endif
static __u8 mxs_country_action(void *ctx, __u32 cc);
static __always_inline __u64 mxs_c_now(void *ctx);
#ifdef MXS_REFERENCE
#include "../maps/decide.h"
#else
#include "../maps/walk.h"
#endif

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#include "../maps/maps.bpf.h"

/* --------------------------------------------------------------- lookups */

struct mxs_ctx {
	int v6;
	struct mxs_lpm_v4 k4;
	struct mxs_lpm_v6 k6;
	__u64 *hits, *last_hit;	/* counters of the deciding entry */
	__u64 now;		/* CLOCK_TAI ns, read at the first need (0: not yet) */
	__u32 seq;		/* a SYN's sequence number (network order) */
	__u16 sport;		/* a SYN's source port (network order) */
	__u16 dport;		/* an SMTP packet's destination port; 0: unread */
	__u8 syn;		/* SYN without ACK, on a classified packet */
	__u8 has_src;		/* the source address (k4 or k6) was read */
#ifndef MXS_REFERENCE
	__u32 slot;		/* this family's live arrays: MXS_CSLOT(gen, v6) */
	__u32 build;		/* c_gen's value */
	__u32 rec;		/* the deciding record's index */
#endif
};

/* The TAI clock costs tens of ns a read on a VM: a packet reads it only if
 * it needs it (an entry that can expire, a tag), and at most once. */
static __always_inline __u64 mxs_c_now(void *vctx)
{
	struct mxs_ctx *c = vctx;

	if (!c->now)
		c->now = bpf_ktime_get_tai_ns();
	return c->now;
}

#ifdef MXS_REFERENCE
static __noinline int mxs_match(void *vctx, __u32 list, __u8 plen,
				struct mxs_rule *out)
{
	struct mxs_ctx *c = vctx;
	struct mxs_rule *r;
	void *trie;

	if (c->v6) {
		trie = bpf_map_lookup_elem(&lists_v6, &list);
		if (!trie)
			return 0;
		c->k6.prefixlen = plen;
		r = bpf_map_lookup_elem(trie, &c->k6);
	} else {
		trie = bpf_map_lookup_elem(&lists_v4, &list);
		if (!trie)
			return 0;
		c->k4.prefixlen = plen;
		r = bpf_map_lookup_elem(trie, &c->k4);
	}
	if (!r)
		return 0;
	__builtin_memcpy(out, r, sizeof(*out));
	c->hits = &r->hits;
	c->last_hit = &r->last_hit;
	return 1;
}
#else
static __always_inline const __u32 *line_at(void *map, __u32 i)
{
	__u32 k = i / MXS_CLINE;
	struct mxs_cline *l = bpf_map_lookup_elem(map, &k);

	return l ? &l->v[i % MXS_CLINE] : 0;
}

/* Each array is looked up in its outer map only when the walk needs it
 * (inlined array lookups, a few instructions): a first-stage answer
 * touches c_dir alone. */
static __always_inline const __u32 *mxs_c_dir(void *vctx, __u32 i)
{
	void *m = bpf_map_lookup_elem(&c_dir, &((struct mxs_ctx *)vctx)->slot);

	return m ? line_at(m, i) : 0;
}

static __always_inline const __u32 *mxs_c_leaf(void *vctx, __u32 i)
{
	void *m = bpf_map_lookup_elem(&c_leaf, &((struct mxs_ctx *)vctx)->slot);

	return m ? line_at(m, i) : 0;
}

static __always_inline const struct mxs_cnode *mxs_c_node(void *vctx, __u32 i)
{
	void *m = bpf_map_lookup_elem(&c_node, &((struct mxs_ctx *)vctx)->slot);

	return m ? bpf_map_lookup_elem(m, &i) : 0;
}

static __always_inline struct mxs_crec *mxs_c_rec(void *vctx, __u32 i)
{
	void *m = bpf_map_lookup_elem(&c_rec, &((struct mxs_ctx *)vctx)->slot);

	return m ? bpf_map_lookup_elem(m, &i) : 0;
}
#endif

static __u8 mxs_country_action(void *ctx, __u32 cc)
{
	struct mxs_country_policy *p = bpf_map_lookup_elem(&country_policy, &cc);

	return p ? p->action : MXS_ACT_NONE;
}



/* A build that wraps this file (bpf/bench/mxshield_bench.bpf.c) may rewrite
 * the source address before classification. */
#ifndef MXS_SOURCE_HOOK
#define MXS_SOURCE_HOOK(c) do { } while (0)
#endif

/* Classify the source address in *c: the one lookup path. */
static __always_inline void classify(struct mxs_ctx *c, __u32 flags,
				     struct mxs_verdict *v)
{
#ifdef MXS_REFERENCE
	mxs_decide(c, c->v6 ? 128 : 32, mxs_c_now(c), flags, v);
#else
	__u32 zero = 0, *gen = bpf_map_lookup_elem(&c_gen, &zero);
	struct mxs_crec *r;
	__u64 hi, lo = 0;

	/* nothing compiled yet (the controller installs a build before it
	 * attaches): the walk finds no dir map, and no entry matches */
	c->build = gen ? *gen : 0;
	c->slot = MXS_CSLOT(c->build & 1, c->v6);
	if (c->v6) {
		__builtin_memcpy(&hi, c->k6.addr, 8);
		__builtin_memcpy(&lo, &c->k6.addr[8], 8);
		hi = bpf_be64_to_cpu(hi);
		lo = bpf_be64_to_cpu(lo);
	} else {
		__u32 a;

		__builtin_memcpy(&a, c->k4.addr, 4);
		hi = (__u64)bpf_ntohl(a) << 32;
	}
	r = mxs_c_classify(c, c->v6, hi, lo, flags, v, &c->rec);
	if (r) {
		c->hits = &r->hits;
		c->last_hit = &r->last_hit;
	}
#endif
}

/* Count a hit of the deciding entry (see struct mxs_hitbatch). */
static __always_inline void count_hit(struct mxs_ctx *c)
{
#ifdef MXS_REFERENCE
	__sync_fetch_and_add(c->hits, 1);
	*c->last_hit = bpf_ktime_get_coarse_ns();
#else
	/* records next to each other (one list's neighbours) in different slots */
	__u32 k = (c->rec * 2654435761U) >> (32 - __builtin_ctz(MXS_HIT_SLOTS));
	struct mxs_hitbatch *b = bpf_map_lookup_elem(&hit_batch, &k);
	__u64 j = bpf_jiffies64();
	struct mxs_tickclock *t;
	__u32 zero = 0;

	if (!b) {
		__sync_fetch_and_add(c->hits, 1);
		return;
	}
	if (b->val == c->rec && b->slot == c->slot && b->build == c->build &&
	    b->jiffies == j && b->pending < (1U << 30)) {
		b->pending++;
		return;
	}
	if (b->pending && b->build == c->build) {
		/* the batch of the entry before: into its record */
		void *m = bpf_map_lookup_elem(&c_rec, &b->slot);
		struct mxs_crec *r = m ? bpf_map_lookup_elem(m, &b->val) : 0;

		if (r)
			__sync_fetch_and_add(&r->hits, b->pending);
	}
	__sync_fetch_and_add(c->hits, 1);
	t = bpf_map_lookup_elem(&tick_clock, &zero);
	if (t && t->jiffies != j) {
		t->jiffies = j;
		t->coarse_ns = bpf_ktime_get_coarse_ns();
	}
	*c->last_hit = t ? t->coarse_ns : bpf_ktime_get_coarse_ns();
	b->jiffies = j;
	b->build = c->build;
	b->slot = c->slot;
	b->val = c->rec;
	b->pending = 0;
#endif
}

/* --------------------------------------------------------------- parsing
 *
 * Which frames are SMTP, which cannot be, and which could be but cannot be
 * read (docs/parser.md has the full table):
 *
 *   P_CLASSIFY  TCP to an SMTP port with every header whole: classified
 *               by source address;
 *   P_PASS      cannot be SMTP (not IP, not TCP, another port, a non-first
 *               fragment): passed untouched, the reason says why;
 *   P_UNPARSED  EtherType VLAN, IPv4 or IPv6, but a header up to and
 *               including TCP's is cut short, malformed (IPv4 version or
 *               IHL, IPv6 version, TCP data offset) or beyond the limits
 *               (MXS_MAX_VLANS, MXS_MAX_IPV6_EXT, MXS_MAX_HDR_OFF): it
 *               could be SMTP and its source cannot be trusted or not even
 *               read, so it fails closed (MXS_R_UNPARSED, verdict drop).
 *
 * The kernel's own stack drops every malformed or truncated frame of the
 * third kind too; only the limits make a valid frame unparsed.
 */

#define VLAN_HLEN 4
#define IP_OFFMASK 0x1fff
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH 51
#define NEXTHDR_DEST 60

enum parse_result {
	P_CLASSIFY,	/* SMTP packet: classify by source */
	P_PASS,		/* not for us: reason says why */
	P_UNPARSED,	/* could be SMTP, headers unreadable: fail closed */
};

static __always_inline int smtp_port(const struct mxs_config *cfg, __u16 dport)
{
	int i;

	for (i = 0; i < MXS_MAX_PORTS; i++) {
		if (i >= cfg->nports)
			break;
		if (cfg->ports[i] == dport)
			return 1;
	}
	return 0;
}

/* The TCP header at @off: to an SMTP port, and whole (data offset >= 5,
 * options included)? A header cut short is unparsed, unless what is left
 * of it shows a destination port outside the SMTP set. */
static __always_inline int parse_tcp(void *data, void *data_end, __u32 off,
				     struct mxs_ctx *c, const struct mxs_config *cfg,
				     __u8 *reason)
{
	struct tcphdr *th;
	__u32 doff;

	if (off > MXS_MAX_HDR_OFF)
		return P_UNPARSED;
	th = data + off;
	if ((void *)(th + 1) > data_end) {
		if ((void *)th + 4 > data_end)
			return P_UNPARSED;
		if (smtp_port(cfg, bpf_ntohs(th->dest))) {
			c->dport = bpf_ntohs(th->dest);
			return P_UNPARSED;
		}
		*reason = MXS_R_NOT_SMTP;
		return P_PASS;
	}
	if (!smtp_port(cfg, bpf_ntohs(th->dest))) {
		*reason = MXS_R_NOT_SMTP;
		return P_PASS;
	}
	c->dport = bpf_ntohs(th->dest);
	doff = th->doff * 4;
	if (doff < sizeof(*th) || (void *)th + doff > data_end)
		return P_UNPARSED;
	/* a connection's first packet (the "conns" counters) */
	if (th->syn && !th->ack) {
		c->syn = 1;
		c->sport = th->source;
		c->seq = th->seq;
	}
	return P_CLASSIFY;
}

static __always_inline int parse_ipv4(void *data, void *data_end, __u32 off,
				      struct mxs_ctx *c,
				      const struct mxs_config *cfg, __u8 *reason)
{
	struct iphdr *ip;
	__u8 vihl;

	if (off > MXS_MAX_HDR_OFF)
		return P_UNPARSED;
	ip = data + off;
	if ((void *)(ip + 1) > data_end)
		return P_UNPARSED;
	/* version 4 and IHL 5..15 in one comparison: 0x45..0x4f */
	vihl = *(__u8 *)ip;
	if ((__u8)(vihl - 0x45) > 0x0a)
		return P_UNPARSED;
	if (ip->protocol != IPPROTO_TCP) {
		*reason = MXS_R_NOT_TCP;
		return P_PASS;
	}
	if (ip->frag_off & bpf_htons(IP_OFFMASK)) {
		*reason = MXS_R_FRAGMENT;
		return P_PASS;
	}
	__builtin_memcpy(c->k4.addr, &ip->saddr, 4);
	c->has_src = 1;
	return parse_tcp(data, data_end, off + (vihl & 0xf) * 4, c, cfg, reason);
}

static __always_inline int parse_ipv6(void *data, void *data_end, __u32 off,
				      struct mxs_ctx *c,
				      const struct mxs_config *cfg, __u8 *reason)
{
	struct ipv6hdr *ip6;
	__u8 nh;
	int i;

	if (off > MXS_MAX_HDR_OFF)
		return P_UNPARSED;
	ip6 = data + off;
	if ((void *)(ip6 + 1) > data_end || ip6->version != 6)
		return P_UNPARSED;
	c->v6 = 1;
	__builtin_memcpy(c->k6.addr, &ip6->saddr, 16);
	c->has_src = 1;
	nh = ip6->nexthdr;
	off += sizeof(*ip6);

	for (i = 0; i < MXS_MAX_IPV6_EXT; i++) {
		__u8 *h;

		if (nh == IPPROTO_TCP)
			return parse_tcp(data, data_end, off, c, cfg, reason);
		if (nh != NEXTHDR_HOP && nh != NEXTHDR_ROUTING &&
		    nh != NEXTHDR_DEST && nh != NEXTHDR_FRAGMENT &&
		    nh != NEXTHDR_AUTH) {
			*reason = MXS_R_NOT_TCP;
			return P_PASS;
		}
		if (off > MXS_MAX_HDR_OFF)
			return P_UNPARSED;	/* the chain runs too far */
		h = data + off;
		if ((void *)(h + 8) > data_end)
			return P_UNPARSED;	/* the chain is cut */
		if (nh == NEXTHDR_FRAGMENT) {
			/* offset in bits 15..3 of bytes 2-3 */
			if ((h[2] << 8 | h[3]) & 0xfff8) {
				*reason = MXS_R_FRAGMENT;
				return P_PASS;
			}
			off += 8;
		} else if (nh == NEXTHDR_AUTH) {
			off += ((__u32)h[1] + 2) * 4;
		} else {
			off += ((__u32)h[1] + 1) * 8;
		}
		nh = h[0];
	}
	if (nh == IPPROTO_TCP)
		return parse_tcp(data, data_end, off, c, cfg, reason);
	/* a chain longer than we walk: what ends it could be TCP */
	return P_UNPARSED;
}

/* ------------------------------------------------------------- recording */

static __always_inline void count(__u32 slot, __u64 bytes)
{
	struct mxs_counter *cnt = bpf_map_lookup_elem(&stats, &slot);

	if (cnt) {
		cnt->packets++;
		cnt->bytes += bytes;
	}
}

/* The source as the tag and event key: IPv4 as ::ffff:a.b.c.d. */
static __always_inline void source_addr(const struct mxs_ctx *c, struct mxs_addr *src)
{
	if (c->v6) {
		__builtin_memcpy(src->addr, c->k6.addr, 16);
	} else {
		src->addr[10] = 0xff;
		src->addr[11] = 0xff;
		__builtin_memcpy(&src->addr[12], c->k4.addr, 4);
	}
}

/* @a (16 bytes, IPv4-mapped for IPv4) masked to the verdict's entry. */
static __always_inline void mask_to_rule(const struct mxs_ctx *c, const struct mxs_verdict *v,
					 __u8 *a)
{
	__u32 plen = c->v6 ? v->rule_plen : v->rule_plen + 96, i;

	for (i = 0; i < 16; i++) {
		if (plen >= 8) {
			plen -= 8;
			continue;
		}
		a[i] &= (__u8)(0xff00 >> plen);
		plen = 0;
	}
}

static __always_inline void record_tag(struct mxs_ctx *c, const struct mxs_verdict *v)
{
	__u64 now = mxs_c_now(c);
	struct mxs_addr src = {};
	struct mxs_tag *t, nt = {};

	source_addr(c, &src);
	t = bpf_map_lookup_elem(&tags, &src);
	if (t) {
		t->last_seen = now;
		t->packets++;
		t->action = v->action;
		t->list = v->list;
		t->reason = v->reason;
		t->ref = v->ref;
		t->rule_plen = v->rule_plen;
		return;
	}
	nt.first_seen = now;
	nt.last_seen = now;
	nt.packets = 1;
	nt.action = v->action;
	nt.list = v->list;
	nt.reason = v->reason;
	nt.ref = v->ref;
	nt.rule_plen = v->rule_plen;
	/* the deciding entry: the source masked to the rule's prefix */
	__builtin_memcpy(nt.rule_addr, src.addr, 16);
	mask_to_rule(c, v, nt.rule_addr);
	bpf_map_update_elem(&tags, &src, &nt, BPF_ANY);
}

/* ----------------------------------------------------- new connections */

/* Is this SYN a new connection, or a retransmission of one seen lately
 * (same source, ports and sequence number)? See MXS_SYN_SLOTS. */
static __always_inline int syn_is_new(const struct mxs_ctx *c)
{
	__u64 a, b = 0, x, *slot;
	__u32 k;

	if (c->v6) {
		__builtin_memcpy(&a, c->k6.addr, 8);
		__builtin_memcpy(&b, &c->k6.addr[8], 8);
	} else {
		__u32 a4;

		__builtin_memcpy(&a4, c->k4.addr, 4);
		a = a4;
	}
	x = (a * 0x9e3779b97f4a7c15ULL) ^ b;
	x ^= (__u64)c->seq << 32 | (__u32)c->sport << 16 | c->dport;
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	x |= 1;			/* 0: an empty slot */
	k = x >> (64 - __builtin_ctz(MXS_SYN_SLOTS));
	slot = bpf_map_lookup_elem(&syn_seen, &k);
	if (!slot)
		return 1;
	if (*slot == x)
		return 0;
	*slot = x;
	return 1;
}

static __always_inline void count_u64(void *map, __u32 k)
{
	__u64 *n = bpf_map_lookup_elem(map, &k);

	if (n)
		(*n)++;
}

/* ---------------------------------------------------------- drop events */

static __always_inline int same_addr(const __u8 *a, const __u8 *b)
{
	__u64 a0, a1, b0, b1;

	__builtin_memcpy(&a0, a, 8);
	__builtin_memcpy(&a1, a + 8, 8);
	__builtin_memcpy(&b0, b, 8);
	__builtin_memcpy(&b1, b + 8, 8);
	return a0 == b0 && a1 == b1;
}

/* emit_event()'s @how: the reason, and what else the event says */
#define EV_HOW_DROPPED	(1U << 8)
#define EV_HOW_SYN	(1U << 9)

/* The event of a packet whose verdict is not pass, if the cap and the
 * per-source limit let it through (see "drop events" in the contract).
 * Runs after the verdict and the counters: it cannot change them. A
 * function of its own (a BPF-to-BPF call): inlined, its code made every
 * packet's path a few ns slower, events on or off. */
static __noinline void emit_event(struct xdp_md *xdp, struct mxs_ctx *c,
				  const struct mxs_verdict *v, __u32 how)
{
	__u32 zero = 0, rate, flags;
	struct mxs_ev_config *ec = bpf_map_lookup_elem(&ev_config, &zero);
	struct mxs_addr src = {};
	struct mxs_ev_state *st;
	struct mxs_ev_bucket *b;
	struct mxs_event *e;
	__u64 sec, j, *seen;
	int ok, entry;

	if (!ec || !ec->rate)
		return;
	rate = ec->rate;
	flags = ec->flags;
	st = bpf_map_lookup_elem(&ev_state, &zero);
	if (!st)
		return;
	/* The second: of the coarse clock, which moves only with jiffies,
	 * so a CPU reads it once a tick (bpf_jiffies64() is inlined: a
	 * load). Within a tick a CPU that found the cap reached suppresses
	 * at once: a flood's path, no helper call, no shared cache line. */
	j = bpf_jiffies64();
	if (st->jiffies == j) {
		if (st->spent) {
			st->sup_rate++;
			return;
		}
		sec = st->sec;
	} else {
		sec = bpf_ktime_get_coarse_ns() / 1000000000ULL;
		st->jiffies = j;
		if (st->sec != sec) {
			st->sec = sec;
			st->spent = 0;
		} else if (st->spent) {
			st->sup_rate++;
			return;
		}
	}
	if (c->has_src)
		source_addr(c, &src);
	if (flags & MXS_EVC_PER_SOURCE) {
		if (st->last_src_sec == sec && same_addr(st->last_src, src.addr)) {
			st->sup_source++;
			return;
		}
		seen = bpf_map_lookup_elem(&ev_recent, &src);
		if (seen && *seen == sec) {
			st->sup_source++;
			return;
		}
	}
	b = bpf_map_lookup_elem(&ev_bucket, &zero);
	if (!b)
		return;
	bpf_spin_lock(&b->lock);
	if (b->sec != sec) {
		b->sec = sec;
		b->count = 0;
	}
	ok = b->count < rate;
	if (ok)
		b->count++;
	bpf_spin_unlock(&b->lock);
	if (!ok) {
		st->spent = 1;
		st->sup_rate++;
		return;
	}
	if (flags & MXS_EVC_PER_SOURCE) {
		__builtin_memcpy(st->last_src, src.addr, 16);
		st->last_src_sec = sec;
		bpf_map_update_elem(&ev_recent, &src, &sec, BPF_ANY);
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		st->lost++;
		return;
	}
	e->tai_ns = mxs_c_now(c);
	__builtin_memcpy(e->src, src.addr, 16);
	__builtin_memcpy(e->rule, src.addr, 16);
	/* an entry of an IP list; a country network is the country's */
	entry = v->list < MXS_LIST_COUNTRY;
	if (entry)
		mask_to_rule(c, v, e->rule);
	else
		__builtin_memset(e->rule, 0, 16);
	e->ifindex = xdp->ingress_ifindex;
	e->ref = v->ref;
	e->dport = c->dport;
	e->country = v->country;
	e->reason = how & 0xff;
	e->action = v->action;
	e->list = v->list;
	e->rule_plen = entry ? v->rule_plen : 0;
	e->flags = (c->v6 ? MXS_EV_V6 : 0) | (c->has_src ? MXS_EV_SRC : 0) |
		   (how & EV_HOW_DROPPED ? MXS_EV_DROPPED : 0) |
		   (how & EV_HOW_SYN ? MXS_EV_SYN : 0);
	__builtin_memset(e->pad, 0, sizeof(e->pad));
	bpf_ringbuf_submit(e, 0);
	st->emitted++;
}

/* Inline, the cases that cost nothing or next to it: events off, and a
 * flood past the cap (this CPU found it reached in this tick). */
static __always_inline void maybe_event(struct xdp_md *xdp, struct mxs_ctx *c,
					const struct mxs_verdict *v, __u32 how)
{
	__u32 zero = 0;
	struct mxs_ev_config *ec = bpf_map_lookup_elem(&ev_config, &zero);
	struct mxs_ev_state *st;

	if (!ec || !ec->rate)
		return;
	st = bpf_map_lookup_elem(&ev_state, &zero);
	if (st && st->spent && st->jiffies == bpf_jiffies64()) {
		st->sup_rate++;
		return;
	}
	emit_event(xdp, c, v, how);
}

SEC("xdp")
int mxs_xdp(struct xdp_md *xdp)
{
	void *data = (void *)(long)xdp->data;
	void *data_end = (void *)(long)xdp->data_end;
	__u64 bytes = data_end - data;
	struct mxs_verdict v = { .list = MXS_LIST_NONE,
				 .country = MXS_COUNTRY_NONE };
	struct mxs_ctx c = {};
	struct mxs_config *cfg;
	struct ethhdr *eth = data;
	__u32 zero = 0, off, i;
	__u8 reason = MXS_R_NOT_IP;
	int xdp_act = XDP_PASS;
	__u16 proto;
	int res = P_PASS, syn_new = 0;

	cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg)
		return XDP_PASS;

	if ((void *)(eth + 1) > data_end)
		goto out;
	proto = eth->h_proto;
	off = sizeof(*eth);
	/* VLAN tags, 802.1Q and 802.1ad in any order: a tag cut short ends
	 * the walk on a VLAN EtherType, as does a stack deeper than we walk */
	for (i = 0; i < MXS_MAX_VLANS; i++) {
		__u16 *vh;

		if (proto != bpf_htons(ETH_P_8021Q) &&
		    proto != bpf_htons(ETH_P_8021AD))
			break;
		vh = data + off;
		if ((void *)(vh + 2) > data_end)
			break;
		proto = vh[1];
		off += VLAN_HLEN;
	}

	if (proto == bpf_htons(ETH_P_IP))
		res = parse_ipv4(data, data_end, off, &c, cfg, &reason);
	else if (proto == bpf_htons(ETH_P_IPV6))
		res = parse_ipv6(data, data_end, off, &c, cfg, &reason);
	else if (proto == bpf_htons(ETH_P_8021Q) ||
		 proto == bpf_htons(ETH_P_8021AD))
		res = P_UNPARSED;	/* what is under the tags could be IP */

	if (res == P_CLASSIFY) {

		MXS_SOURCE_HOOK(&c);
		classify(&c, cfg->flags, &v);
#ifdef MXS_TRACE
		bpf_map_update_elem(&trace, &zero, &v, BPF_ANY);
#endif
		reason = v.reason;
		if (v.list != MXS_LIST_NONE && c.hits)
			count_hit(&c);
		if (v.country != MXS_COUNTRY_NONE) {
			__u32 cc = v.country;
			struct mxs_counter *cs =
				bpf_map_lookup_elem(&country_stats, &cc);

			if (cs) {
				cs->packets++;
				cs->bytes += bytes;
			}
		}
		if (v.action >= MXS_ACT_REJECT ||
		    (v.action == MXS_ACT_DROP && (cfg->flags & MXS_F_MONITOR)))
			record_tag(&c, &v);
	} else if (res == P_UNPARSED) {
		/* could be SMTP, and no source to classify that can be
		 * trusted: fail closed (passed and counted in monitor mode) */
		reason = MXS_R_UNPARSED;
		v.action = MXS_ACT_DROP;
	}

out:
	if (v.action == MXS_ACT_DROP && !(cfg->flags & MXS_F_MONITOR))
		xdp_act = XDP_DROP;
	count(reason * MXS_ACT_MAX + v.action, bytes);
	count(MXS_STAT_XDP + xdp_act, bytes);
	if (c.syn) {
		/* set on classified packets only */
		syn_new = syn_is_new(&c);
		if (!syn_new) {
			count_u64(&conns, MXS_CONN_RETRANS);
		} else {
			count_u64(&conns, reason * MXS_ACT_MAX + v.action);
			if (v.country != MXS_COUNTRY_NONE)
				count_u64(&country_conns, v.country);
		}
	}
	if (v.action != MXS_ACT_NONE)
		maybe_event(xdp, &c, &v, reason | (xdp_act == XDP_DROP ? EV_HOW_DROPPED : 0) |
			    (syn_new ? EV_HOW_SYN : 0));
	return xdp_act;
}
