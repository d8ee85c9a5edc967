/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The benchmark programs' parser: the IPv4 or IPv6 header of a TCP packet
 * to port 25, or NULL (no VLANs, no IPv6 extension headers: the generated
 * traffic has neither). Not part of the product. */
#ifndef MXS_BENCH_SMTP_H
#define MXS_BENCH_SMTP_H
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

static __always_inline struct iphdr *smtp4(struct xdp_md *xdp)
{
	void *data = (void *)(long)xdp->data, *data_end = (void *)(long)xdp->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u16 *ports;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->protocol != IPPROTO_TCP)
		return NULL;
	ports = (void *)ip + ip->ihl * 4;
	if ((void *)(ports + 2) > data_end || ports[1] != bpf_htons(25))
		return NULL;
	return ip;
}

static __always_inline struct ipv6hdr *smtp6(struct xdp_md *xdp)
{
	void *data = (void *)(long)xdp->data, *data_end = (void *)(long)xdp->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	__u16 *ports = (void *)(ip6 + 1);

	if ((void *)(ports + 2) > data_end || eth->h_proto != bpf_htons(ETH_P_IPV6) ||
	    ip6->nexthdr != IPPROTO_TCP || ports[1] != bpf_htons(25))
		return NULL;
	return ip6;
}

#endif
