/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The test programs' and the benchmark's packet: a TCP SYN to port 25 from
 * an IPv4 or IPv6 source, over Ethernet, for BPF_PROG_TEST_RUN. */
#ifndef MXS_TEST_SYN_H
#define MXS_TEST_SYN_H
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include "userspace/core/parse.h"
#include "userspace/filter/compile.h"

/* The longest such packet: buffers hold at least this many bytes. */
#define SYN_MAX (sizeof(struct ethhdr) + sizeof(struct ipv6hdr) + sizeof(struct tcphdr))

/* The SYN from @src into @buf; its length. */
static inline size_t build_syn(uint8_t *buf, const struct mxs_prefix *src)
{
	struct ethhdr *eth = (void *)buf;
	struct tcphdr *tcp;
	size_t off = sizeof(*eth);

	memset(buf, 0, SYN_MAX);
	eth->h_proto = htons(src->v6 ? ETH_P_IPV6 : ETH_P_IP);
	if (src->v6) {
		struct ipv6hdr *ip6 = (void *)(buf + off);

		ip6->version = 6;
		ip6->payload_len = htons(sizeof(*tcp));
		ip6->nexthdr = IPPROTO_TCP;
		ip6->hop_limit = 64;
		memcpy(&ip6->saddr, src->addr, 16);
		inet_pton(AF_INET6, "2001:db8:ffff::1", &ip6->daddr);
		off += sizeof(*ip6);
	} else {
		struct iphdr *ip = (void *)(buf + off);

		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons(sizeof(*ip) + sizeof(*tcp));
		ip->ttl = 64;
		ip->protocol = IPPROTO_TCP;
		memcpy(&ip->saddr, src->addr, 4);
		inet_pton(AF_INET, "203.0.113.1", &ip->daddr);
		off += sizeof(*ip);
	}
	tcp = (void *)(buf + off);
	tcp->source = htons(40000);
	tcp->dest = htons(25);
	tcp->doff = 5;
	tcp->syn = 1;
	return off + sizeof(*tcp);
}
#endif
