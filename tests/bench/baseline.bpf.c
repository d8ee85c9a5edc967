// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark baseline: a plain four-trie LPM classifier (trust, partner,
 * block, country looked up one after the other, first match decides), with
 * the same Ethernet/IPv4/TCP parse and the same per-packet random source as
 * the mxshield benchmark build. Not part of the product.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "../../maps/mxshield.h"
#include "smtp4.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TRIE(name)						\
	struct {						\
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);		\
		__uint(map_flags, BPF_F_NO_PREALLOC);		\
		__uint(max_entries, MXS_MAX_ENTRIES);		\
		__type(key, struct mxs_lpm_v4);			\
		__type(value, struct mxs_rule);			\
	} name SEC(".maps")

TRIE(trust4);
TRIE(partner4);
TRIE(block4);
TRIE(country4);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bench_seq SEC(".maps");

/* 1: derive the source from the sequence (random stream), 0: use the packet */
volatile int random_source;

SEC("xdp")
int baseline_xdp(struct xdp_md *xdp)
{
	struct iphdr *ip = smtp4(xdp);
	struct mxs_lpm_v4 k = { .prefixlen = 32 };
	struct mxs_rule *r;

	if (!ip)
		return XDP_PASS;
	__builtin_memcpy(k.addr, &ip->saddr, 4);
	if (random_source) {
		__u32 zero = 0;
		__u64 *seq = bpf_map_lookup_elem(&bench_seq, &zero), x;

		if (seq) {
			x = ++*seq * 0x9e3779b97f4a7c15ULL;
			x ^= x >> 31;
			x *= 0xbf58476d1ce4e5b9ULL;
			x ^= x >> 29;
			__builtin_memcpy(k.addr, &x, 4);
		}
	}
	if (bpf_map_lookup_elem(&trust4, &k) || bpf_map_lookup_elem(&partner4, &k))
		return XDP_PASS;
	r = bpf_map_lookup_elem(&block4, &k);
	if (r)
		return r->action == MXS_ACT_DROP ? XDP_DROP : XDP_PASS;
	r = bpf_map_lookup_elem(&country4, &k);
	if (r && r->action == MXS_ACT_DROP)
		return XDP_DROP;
	return XDP_PASS;
}
