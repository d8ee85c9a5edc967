/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mxshield's contract: the header shared by the XDP program (bpf/) and the
 * controller (userspace/). Every map key, map value, flag and limit lives
 * here, so the two sides cannot disagree. The rest of the contract is in
 * this folder too: the maps themselves (maps.bpf.h), the precedence rule
 * (precedence.h, decide.h) and the compiled walk (walk.h).
 *
 * Limits are plain #defines guarded by #ifndef: override them with -D at
 * build time (both sides must be built with the same values).
 */
#ifndef MXS_CONTRACT_H
#define MXS_CONTRACT_H

#include <linux/types.h>
#include <linux/bpf.h>		/* struct bpf_spin_lock */

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

/* VLAN tags followed (802.1Q 0x8100 and 802.1ad 0x88a8, in any order and
 * mix): QinQ is two, a provider's QinQ over a customer's QinQ four. A
 * frame with more tags is "unparsed" (MXS_R_UNPARSED): dropped when the
 * filter enforces, since the packet under the tags could be SMTP. Each
 * tag costs the untagged path nothing (the first comparison ends the
 * walk) and a tagged packet one bounds check and 4 bytes of reading. */
#ifndef MXS_MAX_VLANS
#define MXS_MAX_VLANS 4
#endif

/* IPv6 extension headers walked before giving up: a longer chain is
 * "unparsed" (MXS_R_UNPARSED), as is one that ends beyond MXS_MAX_HDR_OFF. */
#ifndef MXS_MAX_IPV6_EXT
#define MXS_MAX_IPV6_EXT 8
#endif

/* Bound for the offset of a header the XDP program reads (from the start
 * of the frame): keeps the verifier's range tracking small. A header that
 * starts beyond it (a long IPv6 extension chain) is "unparsed". */
#ifndef MXS_MAX_HDR_OFF
#define MXS_MAX_HDR_OFF 1024
#endif

/* How many expired entries of one trie are stepped over (by re-looking up
 * with a shorter prefix) before that trie counts as "no match". The
 * controller sweeps expired entries, so nesting this deep is rare. */
#ifndef MXS_EXPIRED_STEPS
#define MXS_EXPIRED_STEPS 4
#endif

/* The compiled classifier (see "compiled classifier" below): the first
 * stage indexes this many leading address bits directly; every further
 * level consumes MXS_STRIDE bits. (bits - dir bits) must be a multiple of
 * MXS_STRIDE. 20 bits, a 4 MiB first stage; an IPv4 /24 is then one node
 * below it, a host two. Measured against 14 bits (64 KiB, one level more):
 * end to end 84% of bare XDP instead of 78%, random IPv4 sources at 1M
 * prefixes 186 ns instead of 205-215, with the country table alone 47
 * instead of 38 (the first stage no longer stays in L2); random IPv6 hosts
 * of the country networks 208 instead of 220. IPv6 has at most 18 levels. */
#ifndef MXS_DIR_BITS_V4
#define MXS_DIR_BITS_V4 20
#endif
#ifndef MXS_DIR_BITS_V6
#define MXS_DIR_BITS_V6 20
#endif
#define MXS_STRIDE 6
/* The first stage of either family, in lines of 16 values: one size for
 * all, so the XDP program's lookups in it are inlined (no BPF_F_INNER_MAP). */
#define MXS_DIR_BITS_MAX (MXS_DIR_BITS_V4 > MXS_DIR_BITS_V6 ? MXS_DIR_BITS_V4 : MXS_DIR_BITS_V6)
#define MXS_DIR_LINES ((1U << MXS_DIR_BITS_MAX) / 16)
#define MXS_LEVELS_V4 ((32 - MXS_DIR_BITS_V4) / MXS_STRIDE)
#define MXS_LEVELS_V6 ((128 - MXS_DIR_BITS_V6) / MXS_STRIDE)
_Static_assert((32 - MXS_DIR_BITS_V4) % MXS_STRIDE == 0, "MXS_DIR_BITS_V4");
_Static_assert((128 - MXS_DIR_BITS_V6) % MXS_STRIDE == 0, "MXS_DIR_BITS_V6");

/* Compiled verdicts stepped through per packet when the deciding entry has
 * expired (each step is the verdict that applies once the previous entry
 * is gone). Deeper chains fall back to the default until the controller's
 * sweep recompiles. */
#ifndef MXS_CHAIN_STEPS
#define MXS_CHAIN_STEPS 8
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
	/* not classified: the headers could not be read (cut short,
	 * malformed, or deeper than the limits above) on a frame that could
	 * be SMTP. Verdict drop: XDP_DROP when enforcing, passed and counted
	 * in monitor mode. It took the slot of the former MXS_R_NO_SOURCE
	 * ("no-source"), whose frames it covers, so the stats map keeps its
	 * size (MXS_STAT_SLOTS). See docs/parser.md. */
	MXS_R_UNPARSED,
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

/* mxs_finish() maps a list to its reason by offset: keep the orders equal. */
_Static_assert(MXS_R_PARTNER - MXS_R_TRUST == MXS_LIST_PARTNER &&
	       MXS_R_GATEWAY - MXS_R_TRUST == MXS_LIST_GATEWAY,
	       "enum mxs_reason: trust, partner, gateway in enum mxs_list's order");

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
	__u64 last_hit;		/* CLOCK_MONOTONIC_COARSE ns of the last such
				 * packet (a cheap clock; the controller
				 * turns it into wall time) */
	__u32 ref;		/* partner: partner id; country: country index */
	__u8 action;		/* enum mxs_action (block; NONE elsewhere) */
	__u8 list;		/* enum mxs_list */
	__u8 prefixlen;		/* this entry's own prefix length */
	__u8 pad;
};

/*
 * ------------------------------------------------ the compiled classifier
 *
 * The controller compiles every list (trust, partner, gateway, block,
 * country) into one structure per family, with the precedence resolved at
 * build time: for every address, the value of the longest match is the
 * verdict mxs_decide() gives. It is a multibit trie in the style of
 * Poptrie: a direct-indexed first stage ("dir"), then nodes of 64 children
 * whose internal children and leaves are stored contiguously and found by
 * counting bits (popcount) in two 64-bit vectors.
 *
 * A value (dir entry, leaf) is one __u32:
 *   MXS_CV_NODE | index    dir only: continue at node[index]
 *   MXS_CV_COUNTRY | cc    the country policy of country index cc decides
 *   0                      no entry: the default
 *   index (1 .. 2^30-1)    rec[index]: an entry decides (see mxs_crec)
 *
 * The four arrays of one family live in four array maps that the
 * controller creates per build and swaps in through the outer maps c_dir,
 * c_node, c_leaf, c_rec at slot MXS_CSLOT(generation, v6); the map c_gen
 * names the live generation, so a new build becomes visible at once. dir
 * and leaf maps hold MXS_CLINE values per element (one cache line).
 *
 * Single changes do not rebuild the world: the node, leaf and rec maps are
 * created with spare room (MXS_CSPARE), and the controller recompiles only
 * the first-stage slots a changed prefix touches, appends their nodes,
 * leaves and records behind the used part, and then switches each slot
 * with one 4-byte write of its dir value. The old parts stay in place as
 * garbage until the next full build. rec[0] is never a verdict (value 0
 * means "no entry"); its first bytes hold the fill counts (mxs_cfill).
 */
#define MXS_CV_NODE	(1U << 31)
#define MXS_CV_COUNTRY	(1U << 30)
#define MXS_CV_INDEX	(MXS_CV_COUNTRY - 1)
/* Does value @v name a record (rec[v])? */
#define MXS_CV_IS_REC(v) ((v) != 0 && !((v) & (MXS_CV_NODE | MXS_CV_COUNTRY)))
#define MXS_CLINE	16
#define MXS_CSLOT(gen, v6) ((gen) * 2 + (v6))
#define MXS_CSLOTS	4

/* Spare room of a build, for in-place patches: 1/MXS_CSPARE more, plus
 * MXS_CSPARE_MIN elements, in each of the node, leaf and rec maps. */
#ifndef MXS_CSPARE
#define MXS_CSPARE	8
#endif
#ifndef MXS_CSPARE_MIN
#define MXS_CSPARE_MIN	4096
#endif

struct mxs_cline {
	__u32 v[MXS_CLINE];
};

/* Per CPU (map hit_batch, MXS_HIT_SLOTS slots chosen by the record's index):
 * the hits of an entry that CPU has counted but not yet added to the
 * entry's record. A flood from one entry would
 * otherwise make every CPU do an atomic add on the same cache line for
 * every packet. A CPU's first hit on an entry in a clock tick is added at
 * once (with its time); its further hits in the same tick only count up
 * here, and go to the record when another entry or another tick comes.
 * The controller adds what is pending when it reads the counters, so hit
 * counts are exact, and last-hit times are off by one tick at most. */
#ifndef MXS_HIT_SLOTS
#define MXS_HIT_SLOTS 64	/* a power of two */
#endif
struct mxs_hitbatch {
	__u64 jiffies;		/* the tick of the batch */
	__u32 build;		/* c_gen's value (builds count up) */
	__u32 slot;		/* MXS_CSLOT of the record's build and family */
	__u32 val;		/* the record's index */
	__u32 pending;		/* hits not yet in the record */
};

/* The lists the controller keeps entry by entry (trust, gateway, block):
 * the rows of MXS_IP_LISTS in userspace/filter/build.h, which checks. */
#define MXS_STATE_LISTS 3

/* In rec[0] of every build: how much of each map is used. */
struct mxs_cfill {
	__u32 nodes, leaves, recs;	/* leaves: values, not lines */
	__u32 patches;			/* in-place patches since the build */
	__u32 layout;			/* MXS_LAYOUT of the controller that built it */
	/* The state this build carries (IPv4's rec[0] only; the data path
	 * never reads it): set by the controller once a change is wholly
	 * applied, compared with the state on disk by the next command and
	 * by restore, which rebuild on any difference (crash safety). */
	__u32 stamped;			/* 1: the fields below are set */
	__u64 state_seq[MXS_STATE_LISTS]; /* seq of each IP list's files,
					 * by MXS_IP_LISTS order
					 * (userspace/filter/build.h) */
	__u32 state_other;		/* crc32 of the other inputs (settings,
					 * partners, countries, the database) */
	__u32 pad;
};
/* The meaning of the compiled arrays, beyond their sizes: a controller
 * refuses a build of another layout (and `restore` rebuilds it). 2: first
 * stage of 20 bits, MXS_CN_LASTFIRST. */
#define MXS_LAYOUT 2

/* The first two runs of a node's leaves live in the node itself, the
 * others in the leaf array from base_leaf; when the last run has the value
 * of the first (a network with islands in it: a country's /20 around a
 * blocked /24), MXS_CN_LASTFIRST in base_leaf says so, and a lookup there
 * needs no read of the leaf array either. 32 bytes: two nodes a cache
 * line, none across two. */
#define MXS_CN_LASTFIRST (1U << 31)
struct mxs_cnode {
	__u64 vector;		/* bit i: child i is a node */
	__u64 leafvec;		/* bit i: child i is a leaf starting a new run */
	__u32 base_node;	/* first child node */
	__u32 base_leaf;	/* the node's third run (the rest follow), and
				 * MXS_CN_LASTFIRST */
	__u32 leaf[2];		/* its first two runs */
};

/* A compiled verdict: the deciding entry, and the value that applies once
 * it has expired. hits/last_hit are updated in place by the XDP program. */
struct mxs_crec {
	__u64 expires;		/* CLOCK_TAI ns; 0 = never */
	__u64 hits;
	__u64 last_hit;		/* CLOCK_MONOTONIC_COARSE ns, as in mxs_rule */
	__u8 addr[16];		/* the entry's prefix (IPv4 in addr[0..3]) */
	__u32 ref;		/* partner id */
	__u32 next;		/* value once this entry has expired */
	__u8 action;
	__u8 list;
	__u8 prefixlen;
	__u8 pad[5];
};
_Static_assert(sizeof(struct mxs_cfill) <= sizeof(struct mxs_crec), "mxs_cfill in rec[0]");

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
 * A new reason changes the map's size, and libbpf refuses to reuse a pinned
 * map of another size: the load (restore, attach) over an older build's
 * pins would fail, as ctl_load() only makes the compiled maps anew. Hence
 * MXS_R_UNPARSED took MXS_R_NO_SOURCE's slot.
 */
#define MXS_STAT_XDP	(MXS_R_MAX * MXS_ACT_MAX)
#define MXS_STAT_SLOTS	(MXS_STAT_XDP + 8)

/* ------------------------------------------------------ new connections
 *
 * The stats map counts packets; a connection is one SYN (SYN set, ACK
 * clear) of a classified SMTP packet, counted once however often the
 * client retransmits it. Data, ACKs, FINs and retransmitted SYNs move the
 * packet counters only. Frames whose TCP header could not be read
 * (MXS_R_UNPARSED) and frames passed unclassified count no connection.
 *
 * A retransmitted SYN carries the first one's source, ports and sequence
 * number: the XDP program keeps a fingerprint of each SYN (a 64-bit hash of
 * the four) in a direct-mapped cache of MXS_SYN_SLOTS slots (map
 * "syn_seen", shared by all CPUs: a retransmission may arrive on another
 * CPU than the first SYN) and does not count a SYN whose fingerprint is
 * already in its slot. Accuracy: a retransmission is counted as a new
 * connection only when other SYNs overwrote its slot in between (about
 * k / MXS_SYN_SLOTS for k SYNs in between, a second or more for the
 * kernel's first retransmit), and two different SYNs are taken as one only
 * on a full 64-bit hash collision.
 */
#ifndef MXS_SYN_SLOTS
#define MXS_SYN_SLOTS (1U << 16)	/* a power of two; 8 bytes each */
#endif

/* Slots of the per-CPU array "conns" (__u64 each):
 *   [reason * MXS_ACT_MAX + action]  new connections, as in "stats"
 *   [MXS_CONN_RETRANS]               retransmitted SYNs (not counted above)
 * The rest are spare (a new reason must not change the map's size, see
 * MXS_STAT_SLOTS). Per country: the per-CPU array "country_conns" (__u64,
 * indexed by country index), beside country_stats' packets. */
#define MXS_CONN_RETRANS	MXS_STAT_XDP
#define MXS_CONN_SLOTS		(MXS_STAT_XDP + 8)

/* ---------------------------------------------------------- drop events
 *
 * For every packet whose verdict is not "pass" (dropped, tagged, or
 * unparsed: the action is not MXS_ACT_NONE) the XDP program may write one
 * struct mxs_event into the ring buffer "events", after the verdict is
 * decided and counted: an event never changes a verdict or a counter.
 * Events are sampled in the data plane, so that a flood cannot flood the
 * log (or the reader):
 *
 *   - a global cap of ev_config.rate events per second (0: no events),
 *     exact across CPUs: a second is CLOCK_MONOTONIC_COARSE ns / 10^9,
 *     the count of the current second lives in the global array
 *     "ev_bucket" under a bpf_spin_lock, and a CPU that found it spent
 *     marks itself spent until the second ends (in its "ev_state"), so a
 *     flood takes the lock at most once a CPU a second beyond the cap,
 *     and reads the clock once a tick (jiffies): a suppressed event
 *     costs two array lookups, a load of jiffies and an increment;
 *   - with MXS_EVC_PER_SOURCE, at most one event per source address and
 *     second: the sources of the last events are in the LRU hash
 *     "ev_recent", and each CPU remembers its last one (a flood from one
 *     source is suppressed without a hash lookup).
 *
 * Every candidate packet moves exactly one of the counters of ev_state:
 * emitted, or suppressed by the cap, by the per-source limit, or because
 * the ring was full (no reader, or one too slow). While events are
 * enabled (rate > 0), their sum is the number of packets with a verdict
 * other than pass.
 */
#ifndef MXS_EV_RING_BYTES
#define MXS_EV_RING_BYTES (256U * 1024)	/* ring buffer size: a power of two */
#endif
#ifndef MXS_EV_RECENT
#define MXS_EV_RECENT 8192	/* sources remembered for MXS_EVC_PER_SOURCE */
#endif
#define MXS_EV_RATE_DEFAULT 100		/* events a second, unless set */
#define MXS_EV_RATE_MAX 1000000

/* ev_config.flags */
#define MXS_EVC_PER_SOURCE (1U << 0)	/* one event per source and second */

/* Single-slot array "ev_config", written by the controller. */
struct mxs_ev_config {
	__u32 rate;		/* events a second, all CPUs; 0: none */
	__u32 flags;		/* MXS_EVC_* */
};

/* Single-slot array "ev_bucket": this second's count, all CPUs. */
struct mxs_ev_bucket {
	struct bpf_spin_lock lock;
	__u32 count;		/* events taken in second @sec */
	__u64 sec;		/* CLOCK_MONOTONIC_COARSE seconds */
};

/* Single-slot per-CPU array "ev_state": the CPU's view of the cap, its
 * last reported source, and the event counters (the controller sums the
 * counters over the CPUs; `stats reset` zeroes the whole value). */
struct mxs_ev_state {
	__u64 jiffies;		/* the tick @sec was read in (the coarse
				 * clock moves with the ticks only) */
	__u64 sec;		/* the second the fields below are about */
	__u32 spent;		/* the global cap was reached in @sec */
	__u32 pad;
	__u64 last_src_sec;	/* the second of ... */
	__u8 last_src[16];	/* ... this CPU's last event's source */
	__u64 emitted;		/* written to the ring */
	__u64 sup_rate;		/* suppressed: the cap of the second was reached */
	__u64 sup_source;	/* suppressed: this source was reported this second */
	__u64 lost;		/* suppressed: the ring was full */
};

/* event.flags */
#define MXS_EV_V6	(1U << 0)	/* an IPv6 source */
#define MXS_EV_SRC	(1U << 1)	/* the source address was read (not
					 * for every unparsed frame) */
#define MXS_EV_DROPPED	(1U << 2)	/* XDP_DROP (not in monitor mode, not a tag) */
#define MXS_EV_SYN	(1U << 3)	/* a new connection (see "conns") */

/* A record of the ring buffer "events". */
struct mxs_event {
	__u64 tai_ns;		/* CLOCK_TAI ns when the packet was seen */
	__u8 src[16];		/* source address (IPv4-mapped for IPv4) */
	__u8 rule[16];		/* the deciding entry's prefix (IPv4-mapped),
				 * when an IP list decided (trust .. block);
				 * zero otherwise (country: see country) */
	__u32 ifindex;		/* interface the packet came in on */
	__u32 ref;		/* partner id / country index of the rule */
	__u16 dport;		/* destination port, host order; 0: not
				 * read (an unparsed frame cut before it) */
	__u16 country;		/* the source's country index when the walk
				 * reached the country table (an entry of
				 * an IP list decides first); else
				 * MXS_COUNTRY_NONE */
	__u8 reason;		/* enum mxs_reason */
	__u8 action;		/* enum mxs_action (never MXS_ACT_NONE) */
	__u8 list;		/* enum mxs_list, MXS_LIST_NONE if none */
	__u8 rule_plen;		/* the entry's prefix length (IPv4: 0..32);
				 * 0 without an entry */
	__u8 flags;		/* MXS_EV_* above */
	__u8 pad[7];
};

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

#endif /* MXS_CONTRACT_H */
