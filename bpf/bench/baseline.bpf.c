// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark baseline: a plain four-trie LPM classifier per family (trust,
 * partner, block, country looked up one after the other, first match
 * decides), with a minimal Ethernet/IP/TCP parse and the same per-packet
 * random sources as the mxshield benchmark build (rsrc.h). Not part of the
 * product.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "../../maps/contract.h"
#include "smtp.h"
#include "rsrc.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TRIE(name, ktype)						\
	struct {							\
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);			\
		__uint(map_flags, BPF_F_NO_PREALLOC);			\
		__uint(max_entries, MXS_MAX_ENTRIES);			\
		__type(key, ktype);					\
		__type(value, struct mxs_rule);				\
	} name SEC(".maps")

TRIE(trust4, struct mxs_lpm_v4);
TRIE(partner4, struct mxs_lpm_v4);
TRIE(block4, struct mxs_lpm_v4);
TRIE(country4, struct mxs_lpm_v4);
TRIE(trust6, struct mxs_lpm_v6);
TRIE(partner6, struct mxs_lpm_v6);
TRIE(block6, struct mxs_lpm_v6);
TRIE(country6, struct mxs_lpm_v6);

/* 1: derive the source from the sequence (random stream), 0: use the packet */
volatile int random_source;

/* trust, partner, block, country: the first that matches decides */
static __always_inline int decide(void *trust, void *partner, void *block, void *country,
				  const void *k)
{
	struct mxs_rule *r;

	if (bpf_map_lookup_elem(trust, k) || bpf_map_lookup_elem(partner, k))
		return XDP_PASS;
	r = bpf_map_lookup_elem(block, k);
	if (r)
		return r->action == MXS_ACT_DROP ? XDP_DROP : XDP_PASS;
	r = bpf_map_lookup_elem(country, k);
	if (r && r->action == MXS_ACT_DROP)
		return XDP_DROP;
	return XDP_PASS;
}

SEC("xdp")
int baseline_xdp(struct xdp_md *xdp)
{
	struct iphdr *ip = smtp4(xdp);
	struct ipv6hdr *ip6;

	if (ip) {
		struct mxs_lpm_v4 k = { .prefixlen = 32 };

		__builtin_memcpy(k.addr, &ip->saddr, 4);
		if (random_source)
			bench_src4(k.addr);
		return decide(&trust4, &partner4, &block4, &country4, &k);
	}
	ip6 = smtp6(xdp);
	if (ip6) {
		struct mxs_lpm_v6 k = { .prefixlen = 128 };

		__builtin_memcpy(k.addr, &ip6->saddr, 16);
		if (random_source)
			bench_src6(k.addr);
		return decide(&trust6, &partner6, &block6, &country6, &k);
	}
	return XDP_PASS;
}
