// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark traffic generator (scripts/bench-e2e.sh, driven by
 * tests/bench/flood.c): run with BPF_PROG_TEST_RUN in live-frame mode
 * (BPF_F_TEST_XDP_LIVE_FRAMES), every run of the program gives the TCP SYN
 * template a new IPv4 source, a host of 192.0.2.0/24 or 198.51.100.0/24
 * derived from a per-CPU sequence number, and sends it back out of the
 * generator's veth (XDP_TX) into the filter under test. The IPv4 header
 * and TCP checksums are kept right by incremental update (RFC 1624), so
 * they hold whatever source the recycled page carried before.
 * Two more source streams, each optional:
 *
 *   flood_srcs   a table of nsrcs IPv4 sources (flood --src FILE): each
 *                frame takes one at random instead of a documentation
 *                host (the random-source row of the end-to-end benchmark:
 *                hosts inside the 1M benchmark prefixes, so that every
 *                frame is a blocked hit at a random place in the filter)
 *   flood_probe  a ring of FLOOD_PROBE_RING addresses written by another
 *                process (the churn driver, userspace/bench/churn.c, which
 *                pins it): one frame in 2^probe_shift takes a random
 *                non-zero slot of it, so the addresses the driver just
 *                pushed to the block list are probed all the time
 *
 * Not part of the product.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* frames run through the program, per CPU */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} flood_seq SEC(".maps");

#define FLOOD_PROBE_RING 4096	/* a power of two; flood.c has the same */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);		/* flood.c sets it to nsrcs */
	__type(key, __u32);
	__type(value, __u32);		/* network byte order */
} flood_srcs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, FLOOD_PROBE_RING);
	__type(key, __u32);
	__type(value, __u32);		/* network byte order; 0: empty */
} flood_probe SEC(".maps");

const volatile __u32 nsrcs;		/* 0: the documentation hosts */
const volatile __u32 probe_shift;	/* 0: no probes */

/* RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m') for a 32-bit field change */
static __always_inline __u16 csum_update4(__u16 check, __u32 from, __u32 to)
{
	__u32 sum = (__u16)~check;

	sum += (__u16)~(from >> 16) + (__u16)~(from & 0xffff);
	sum += (to >> 16) + (to & 0xffff);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

SEC("xdp")
int flood_xdp(struct xdp_md *xdp)
{
	void *data = (void *)(long)xdp->data, *data_end = (void *)(long)xdp->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *tcp = (void *)(ip + 1);
	__u32 zero = 0, from, to, i, *a;
	__u64 *seq, x;

	if ((void *)(tcp + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_ABORTED;
	seq = bpf_map_lookup_elem(&flood_seq, &zero);
	if (!seq)
		return XDP_ABORTED;
	/* the CPU number keeps the streams of two CPUs apart */
	x = (++*seq << 8 | bpf_get_smp_processor_id()) * 0x9e3779b97f4a7c15ULL;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	to = 0;
	if (probe_shift && !(x >> 40 & ((1U << probe_shift) - 1))) {
		i = (x >> 20) & (FLOOD_PROBE_RING - 1);
		a = bpf_map_lookup_elem(&flood_probe, &i);
		if (a)
			to = *a;
	}
	if (!to && nsrcs) {
		i = (__u32)(x >> 8) % nsrcs;
		a = bpf_map_lookup_elem(&flood_srcs, &i);
		if (a)
			to = *a;
	}
	if (!to) {
		/* 192.0.2.1-254 or 198.51.100.1-254 */
		to = (x & 1 ? 0xc6336400 : 0xc0000200) | ((x >> 8) % 254 + 1);
		to = bpf_htonl(to);
	}
	from = ip->saddr;
	ip->saddr = to;
	ip->check = csum_update4(ip->check, from, to);
	tcp->check = csum_update4(tcp->check, from, to);
	return XDP_TX;
}
