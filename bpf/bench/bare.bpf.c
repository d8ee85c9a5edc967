// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark floor for scripts/bench-e2e.sh: the cheapest filter there is.
 *
 *   xdp       parse Ethernet/IPv4/TCP and drop everything to port 25,
 *             counting the drops per CPU (bare_drops): what an XDP program
 *             with no lookup at all costs at the NIC
 *   xdp_pass  pass everything: keeps the veth's NAPI path (and so the
 *             XDP_TX frames of the generator) alive while nftables filters
 *             in the ingress hook; counts the TCP frames to port 25 it
 *             passes (bare_passes): with every generated source in the
 *             nft set, the frames nft drops, window by window (nft reads
 *             its counters only with the whole set: some 30 s at 1M)
 *
 * Not part of the product.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "smtp.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bare_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bare_passes SEC(".maps");

SEC("xdp")
int bare_xdp(struct xdp_md *xdp)
{
	__u32 zero = 0;
	__u64 *n;

	if (!smtp4(xdp))
		return XDP_PASS;
	n = bpf_map_lookup_elem(&bare_drops, &zero);
	if (n)
		++*n;
	return XDP_DROP;
}

SEC("xdp_pass")
int bare_pass(struct xdp_md *xdp)
{
	__u32 zero = 0;
	__u64 *n;

	if (smtp4(xdp)) {
		n = bpf_map_lookup_elem(&bare_passes, &zero);
		if (n)
			++*n;
	}
	return XDP_PASS;
}
