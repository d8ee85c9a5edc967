/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The maps of the XDP program, each with its purpose: the part of the
 * contract the kernel sees. Included by bpf/mxshield.bpf.c (and the builds
 * that wrap it); the controller opens them through the skeleton generated
 * from that object and by their pins (userspace/filter/loader.c). Keys and
 * values are the structs of contract.h.
 */
#ifndef MXS_MAPS_BPF_H
#define MXS_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "contract.h"

/* ------------------------------------------------------------------ maps
 * All maps are pinned by name under the controller's bpffs directory, so
 * the filter and its lists outlive the controller process. */

#ifdef MXS_REFERENCE
/* Reference build (tests and benchmarks only): one LPM trie per list and
 * family, mxs_decide() per packet. The differential test requires the
 * compiled classifier to give the same verdict for every address. */
#define MXS_TRIE(keytype)						\
	struct {							\
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);			\
		__uint(map_flags, BPF_F_NO_PREALLOC);			\
		__uint(max_entries, MXS_MAX_ENTRIES);			\
		__uint(key_size, sizeof(keytype));	\
		__uint(value_size, sizeof(struct mxs_rule));	\
	}

/* IPv4 list tries, indexed by enum mxs_list (trust .. country). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MXS_LIST_MAX);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, MXS_TRIE(struct mxs_lpm_v4));
} lists_v4 SEC(".maps");

/* IPv6 list tries, indexed by enum mxs_list. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MXS_LIST_MAX);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, MXS_TRIE(struct mxs_lpm_v6));
} lists_v6 SEC(".maps");
#else
/* The compiled classifier (see maps/contract.h and maps/walk.h). Inner map templates: the
 * controller creates each build's arrays at their exact size (hence
 * BPF_F_INNER_MAP) and fills them through mmap (BPF_F_MMAPABLE). */
#define MXS_CARRAY(vtype)						\
	struct {							\
		__uint(type, BPF_MAP_TYPE_ARRAY);			\
		__uint(map_flags, BPF_F_MMAPABLE | BPF_F_INNER_MAP);	\
		__uint(max_entries, 1);					\
		__uint(key_size, sizeof(__u32));			\
		__uint(value_size, sizeof(vtype));			\
	}

/* The live generation: a full build fills the other slot, then writes the
 * next number here; the slot is the number's low bit. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} c_gen SEC(".maps");

/* First stage, indexed by the leading address bits; MXS_CSLOT(gen, v6). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MXS_CSLOTS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_ARRAY);
		__uint(map_flags, BPF_F_MMAPABLE);
		__uint(max_entries, MXS_DIR_LINES);
		__uint(key_size, sizeof(__u32));
		__uint(value_size, sizeof(struct mxs_cline));
	});
} c_dir SEC(".maps");

/* Nodes of 64 children. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MXS_CSLOTS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, MXS_CARRAY(struct mxs_cnode));
} c_node SEC(".maps");

/* Leaf values, run-length compressed per node. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MXS_CSLOTS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, MXS_CARRAY(struct mxs_cline));
} c_leaf SEC(".maps");

/* Per CPU, not pinned (a cache, rebuilt with the program): the coarse
 * clock as of the current tick, read once a tick. Under a flood from many
 * sources almost every hit is an entry's first in its tick and needs the
 * time for the entry's last hit: one helper call a packet fewer. */
struct mxs_tickclock {
	__u64 jiffies;
	__u64 coarse_ns;	/* bpf_ktime_get_coarse_ns() at that tick */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mxs_tickclock);
} tick_clock SEC(".maps");

/* Hits counted per CPU and not yet added to their record (mxs_hitbatch). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MXS_HIT_SLOTS);
	__type(key, __u32);
	__type(value, struct mxs_hitbatch);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hit_batch SEC(".maps");

/* Compiled verdicts: the deciding entry, its hit counters, its fallback. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, MXS_CSLOTS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, MXS_CARRAY(struct mxs_crec));
} c_rec SEC(".maps");
#endif

/* Action per country index; changing a policy is one atomic write. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MXS_COUNTRY_SLOTS);
	__type(key, __u32);
	__type(value, struct mxs_country_policy);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} country_policy SEC(".maps");

/* Mode flags and the SMTP port set (slot 0). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mxs_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} config SEC(".maps");

/* Verdict/reason and XDP action counters, see MXS_STAT_* in the header. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MXS_STAT_SLOTS);
	__type(key, __u32);
	__type(value, struct mxs_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} stats SEC(".maps");

/* SMTP packets per source country (country index), policy or not. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MXS_COUNTRY_SLOTS);
	__type(key, __u32);
	__type(value, struct mxs_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} country_stats SEC(".maps");

/* New connections (a SYN, not its retransmissions) per reason and verdict,
 * and the retransmitted SYNs: MXS_CONN_* in the header. A map of its own,
 * so that a filter loaded by an older mxshield keeps its pinned "stats". */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MXS_CONN_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} conns SEC(".maps");

/* New connections per source country (country index), beside country_stats. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MXS_COUNTRY_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} country_conns SEC(".maps");

/* Not pinned (a cache, made anew with the program): fingerprints of recent
 * SYNs, to tell a retransmission from a new connection (MXS_SYN_SLOTS). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MXS_SYN_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} syn_seen SEC(".maps");

/* Drop events (struct mxs_event), read by `mxshield events`. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, MXS_EV_RING_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} events SEC(".maps");

/* The events' cap and per-source switch (slot 0), set by the controller. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mxs_ev_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ev_config SEC(".maps");

/* Per CPU: its view of the cap, its last source, the event counters. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mxs_ev_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ev_state SEC(".maps");

/* Not pinned: the events taken in the current second, all CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mxs_ev_bucket);
} ev_bucket SEC(".maps");

/* Not pinned: the second of each recent source's last event (LRU). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MXS_EV_RECENT);
	__type(key, struct mxs_addr);
	__type(value, __u64);
} ev_recent SEC(".maps");

/* Tagged sources for the mail server side (policy service). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, MXS_MAX_TAGS);
	__type(key, struct mxs_addr);
	__type(value, struct mxs_tag);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tags SEC(".maps");

#ifdef MXS_TRACE
/* Test builds only: the verdict of the last classified packet. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mxs_verdict);
} trace SEC(".maps");
#endif

#endif /* MXS_MAPS_BPF_H */
