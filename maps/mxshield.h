/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mxshield: the one header shared by the XDP program (bpf/) and the
 * controller (userspace/). Every map key, map value, flag, limit and the
 * precedence rule itself live here, so the two sides cannot disagree.
 *
 * Limits are plain #defines guarded by #ifndef: override them with -D at
 * build time (both sides must be built with the same values).
 */
#ifndef MXSHIELD_MAPS_H
#define MXSHIELD_MAPS_H

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* ---------------------------------------------------------------- limits */

/* SMTP destination ports the filter classifies (config.ports[]). */
#ifndef MXS_MAX_PORTS
#define MXS_MAX_PORTS 8
#endif

/* Entries per list trie and family. LPM tries are not preallocated, so
 * this is a ceiling, not a reservation. A full country table is ~1M. */
#ifndef MXS_MAX_ENTRIES
#define MXS_MAX_ENTRIES (1U << 22)
#endif

/* Source addresses remembered in the tag map (LRU: oldest evicted). */
#ifndef MXS_MAX_TAGS
#define MXS_MAX_TAGS 65536
#endif

/* VLAN tags parsed (802.1Q / 802.1ad). A frame with more is "unparsed". */
#ifndef MXS_MAX_VLANS
#define MXS_MAX_VLANS 2
#endif

/* IPv6 extension headers walked before giving up. */
#ifndef MXS_MAX_IPV6_EXT
#define MXS_MAX_IPV6_EXT 8
#endif

/* How many expired entries of one trie are stepped over (by re-looking up
 * with a shorter prefix) before that trie counts as "no match". The
 * controller sweeps expired entries, so nesting this deep is rare. */
#ifndef MXS_EXPIRED_STEPS
#define MXS_EXPIRED_STEPS 4
#endif

/* Country codes: two letters A-Z, index = (c0 - 'A') * 26 + (c1 - 'A'). */
#define MXS_COUNTRY_SLOTS (26 * 26)
#define MXS_COUNTRY_NONE 0xffff

/* ---------------------------------------------------------------- enums */

/* What a rule asks for. NONE means "no verdict of its own" (allow lists). */
enum mxs_action {
	MXS_ACT_NONE = 0,	/* pass, no tag */
	MXS_ACT_DROP,		/* XDP_DROP at the NIC */
	MXS_ACT_REJECT,		/* pass, tag: the MTA answers 5xx */
	MXS_ACT_QUARANTINE,	/* pass, tag: the MTA holds the message */
	MXS_ACT_SPAM,		/* pass, tag: the MTA marks it as spam */
	MXS_ACT_MAX,
};

/* The lists, in precedence order: a lower value wins. Also the slot of
 * each list's trie in the outer maps lists_v4 / lists_v6. */
enum mxs_list {
	MXS_LIST_TRUST = 0,
	MXS_LIST_PARTNER,
	MXS_LIST_GATEWAY,
	MXS_LIST_BLOCK,
	MXS_LIST_COUNTRY,
	MXS_LIST_MAX,
	MXS_LIST_NONE = MXS_LIST_MAX,
};

/* Why a packet got its verdict (the stats row). */
enum mxs_reason {
	/* not classified: passed untouched */
	MXS_R_NOT_IP = 0,	/* not IPv4/IPv6 (ARP, LLDP, ...) */
	MXS_R_NOT_TCP,		/* IP but not TCP */
	MXS_R_NOT_SMTP,		/* TCP to a port outside the SMTP set */
	MXS_R_FRAGMENT,		/* non-first IP fragment: no ports, see README */
	MXS_R_NO_SOURCE,	/* could not reach an IP source address: the
				 * default verdict (pass, or drop when
				 * gateway-only) */
	/* classified by source address */
	MXS_R_TRUST,
	MXS_R_PARTNER,
	MXS_R_GATEWAY,
	MXS_R_GATEWAY_ONLY,	/* not trusted/partner/gateway, gateway-only on */
	MXS_R_BLOCK,
	MXS_R_COUNTRY,
	MXS_R_DEFAULT,		/* no list matched */
	MXS_R_MAX,
};

/* config.flags */
#define MXS_F_MONITOR      (1U << 0)	/* classify, count, tag; pass all */
#define MXS_F_GATEWAY_ONLY (1U << 1)	/* only trust/partner/gateway in */

/* ----------------------------------------------------------- map layout */

/* LPM trie keys, one per family. Addresses in network byte order. */
struct mxs_lpm_v4 {
	__u32 prefixlen;
	__u8 addr[4];
};

struct mxs_lpm_v6 {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Value of every list trie entry (trust, partner, gateway, block, country).
 * hits/last_hit are updated in place by the XDP program. */
struct mxs_rule {
	__u64 expires;		/* CLOCK_TAI ns; 0 = never */
	__u64 hits;		/* packets this entry decided */
	__u64 last_hit;		/* CLOCK_TAI ns of the last such packet */
	__u32 ref;		/* partner: partner id; country: country index */
	__u8 action;		/* enum mxs_action (block; NONE elsewhere) */
	__u8 list;		/* enum mxs_list */
	__u8 prefixlen;		/* this entry's own prefix length */
	__u8 pad;
};

/* Single-slot array "config". */
struct mxs_config {
	__u32 flags;		/* MXS_F_* */
	__u32 nports;
	__u16 ports[MXS_MAX_PORTS];	/* host byte order */
};

/* Per-CPU counters. */
struct mxs_counter {
	__u64 packets;
	__u64 bytes;
};

/* Slots of the per-CPU array "stats":
 *   [reason * MXS_ACT_MAX + action]  what was decided and why
 *   [MXS_STAT_XDP + xdp_action]      what the NIC actually did
 */
#define MXS_STAT_XDP	(MXS_R_MAX * MXS_ACT_MAX)
#define MXS_STAT_SLOTS	(MXS_STAT_XDP + 8)

/* Value of "country_policy" (array indexed by country index). */
struct mxs_country_policy {
	__u8 action;		/* enum mxs_action; NONE = no policy */
	__u8 pad[7];
};

/* Key of the "tags" LRU hash: the source address. IPv4 is stored as an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d), so one map serves both. */
struct mxs_addr {
	__u8 addr[16];
};

/* Value of the "tags" LRU hash: what the mail server side needs. */
struct mxs_tag {
	__u64 first_seen;	/* CLOCK_TAI ns */
	__u64 last_seen;	/* CLOCK_TAI ns */
	__u64 packets;
	__u8 rule_addr[16];	/* the deciding entry (IPv4-mapped for v4) */
	__u32 ref;		/* country index / partner id of the rule */
	__u8 action;		/* enum mxs_action */
	__u8 list;		/* enum mxs_list, NONE for gateway-only */
	__u8 reason;		/* enum mxs_reason */
	__u8 rule_plen;		/* prefix length of the deciding entry */
};

/* ----------------------------------------------------- the precedence rule */

/* The outcome of classifying one source address. */
struct mxs_verdict {
	__u8 action;		/* enum mxs_action */
	__u8 list;		/* enum mxs_list or MXS_LIST_NONE */
	__u8 reason;		/* enum mxs_reason */
	__u8 rule_plen;
	__u32 ref;
	__u16 country;		/* country index if the country trie matched */
	__u16 pad;
	__u64 expires;
};

/*
 * mxs_decide(): the precedence, written once.
 *
 *   trust > partner > gateway > [gateway-only] > block > country > default
 *
 * The includer declares, then includes this header again with MXS_WANT_DECIDE:
 *
 *   static int mxs_match(void *ctx, __u32 list, __u8 plen, struct mxs_rule *out)
 *
 * which looks the source address up in one list's trie, limited to prefixes
 * of length <= plen, copies the longest match into *out and returns 1, or
 * returns 0 for no match; and
 *
 *   static __u8 mxs_country_action(void *ctx, __u32 cc)
 *
 * which returns the policy action of a country index. The XDP program
 * implements them over its maps; the controller's `lookup` over the pinned
 * maps, so both give the same answer for the same maps.
 */
#endif /* MXSHIELD_MAPS_H */

#if defined(MXS_WANT_DECIDE) && !defined(MXSHIELD_DECIDE_H)
#define MXSHIELD_DECIDE_H

static __always_inline int mxs_match_live(void *ctx, __u32 list, __u8 maxplen,
					  __u64 now, struct mxs_rule *r)
{
	__u8 plen = maxplen;
	int i;

	/* An expired entry stops matching: step past it to the next shorter
	 * entry covering the address, at most MXS_EXPIRED_STEPS times. */
	for (i = 0; i < MXS_EXPIRED_STEPS; i++) {
		if (!mxs_match(ctx, list, plen, r))
			return 0;
		if (!r->expires || r->expires > now)
			return 1;
		if (r->prefixlen == 0)
			return 0;
		plen = r->prefixlen - 1;
	}
	return 0;
}

static __always_inline void mxs_decide(void *ctx, __u8 maxplen, __u64 now,
				       __u32 flags, struct mxs_verdict *v)
{
	struct mxs_rule r;
	__u32 l;

	__builtin_memset(v, 0, sizeof(*v));
	v->list = MXS_LIST_NONE;
	v->country = MXS_COUNTRY_NONE;

	for (l = MXS_LIST_TRUST; l <= MXS_LIST_GATEWAY; l++) {
		if (mxs_match_live(ctx, l, maxplen, now, &r)) {
			v->action = MXS_ACT_NONE;
			v->list = l;
			v->reason = MXS_R_TRUST + l;	/* same order */
			goto matched;
		}
	}
	if (flags & MXS_F_GATEWAY_ONLY) {
		v->action = MXS_ACT_DROP;
		v->reason = MXS_R_GATEWAY_ONLY;
		return;
	}
	if (mxs_match_live(ctx, MXS_LIST_BLOCK, maxplen, now, &r)) {
		v->action = r.action ? r.action : MXS_ACT_DROP;
		v->list = MXS_LIST_BLOCK;
		v->reason = MXS_R_BLOCK;
		goto matched;
	}
	if (mxs_match_live(ctx, MXS_LIST_COUNTRY, maxplen, now, &r) &&
	    r.ref < MXS_COUNTRY_SLOTS) {
		__u8 act = mxs_country_action(ctx, r.ref);

		v->country = r.ref;
		if (act != MXS_ACT_NONE && act < MXS_ACT_MAX) {
			v->action = act;
			v->list = MXS_LIST_COUNTRY;
			v->reason = MXS_R_COUNTRY;
			goto matched;
		}
	}
	v->action = MXS_ACT_NONE;
	v->reason = MXS_R_DEFAULT;
	return;
matched:
	v->rule_plen = r.prefixlen;
	v->ref = r.ref;
	v->expires = r.expires;
}

#endif /* MXS_WANT_DECIDE */
