// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark helper for scripts/bench-e2e.sh and scripts/bench-import.sh.
 *
 *   flood IFNAME SECONDS [DSTMAC]
 *	send TCP SYNs to 203.0.113.1 port 25 out of IFNAME (a veth end, in
 *	the generator's namespace) for about SECONDS: the XDP program of
 *	tests/bench/flood.bpf.c runs in live-frame mode (BPF_PROG_TEST_RUN
 *	with BPF_F_TEST_XDP_LIVE_FRAMES) as if the frames had arrived on
 *	IFNAME, gives each a new source in 192.0.2.0/24 or 198.51.100.0/24 and
 *	sends it out with XDP_TX. DSTMAC (default broadcast): the peer's
 *	address. Prints one line:
 *	  sent PACKETS secs SECONDS mpps RATE lost LOST
 *	LOST: frames the veth could not hand to its peer (its ring was full),
 *	from the device's ethtool counters ("-" when it has none).
 *
 *   flood IFNAME SECONDS DSTMAC COUNT
 *	the same, but exactly COUNT frames, paced to take about SECONDS
 *	(tests/test_events.sh: a flood of a known size over several seconds).
 *
 *   flood --gen N SEED
 *	print N distinct random IPv4 prefixes, one CIDR a line, the same for
 *	the same SEED: 60% /32, 30% /24, 10% /16-/23, never inside or over
 *	0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/3 or the documentation networks
 *	192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 (the benchmark's own
 *	addresses). The one generator of the benchmarks' block lists.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/ether.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "flood.skel.h"

#define FLOOD_MAX_REPEAT (1u << 20)
#define FLOOD_MIN_REPEAT (1u << 12)
#define FLOOD_BATCH 64

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* ----------------------------------------------------------- prefix list */

/* does a/plen overlap net/nlen (either one inside the other)? */
static bool overlaps(uint32_t a, int plen, uint32_t net, int nlen)
{
	int l = plen < nlen ? plen : nlen;
	uint32_t m = l ? ~0u << (32 - l) : 0;

	return (a & m) == (net & m);
}

static bool reserved(uint32_t a, int plen)
{
	static const struct {
		uint32_t net;
		int len;
	} r[] = {
		{ 0x00000000, 8 },	/* 0.0.0.0/8 */
		{ 0x7f000000, 8 },	/* 127.0.0.0/8 */
		{ 0xe0000000, 3 },	/* 224.0.0.0/3 */
		{ 0xc0000200, 24 },	/* 192.0.2.0/24 */
		{ 0xc6336400, 24 },	/* 198.51.100.0/24 */
		{ 0xcb007100, 24 },	/* 203.0.113.0/24 */
	};

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		if (overlaps(a, plen, r[i].net, r[i].len))
			return true;
	return false;
}

/* open addressing over (address, length) keys, 0 = free */
struct seen {
	uint64_t *slot;
	size_t mask;
};

static bool seen_add(struct seen *s, uint64_t key)
{
	size_t i = mix64(key) & s->mask;

	while (s->slot[i]) {
		if (s->slot[i] == key)
			return false;
		i = (i + 1) & s->mask;
	}
	s->slot[i] = key;
	return true;
}

static int gen(long n, uint64_t seed)
{
	struct seen s = {};
	size_t cap = 16;
	uint64_t ctr = seed << 32;

	if (n < 0)
		return 1;
	while (cap < 2 * (size_t)n)
		cap <<= 1;
	s.slot = calloc(cap, sizeof(*s.slot));
	s.mask = cap - 1;
	if (!s.slot) {
		perror("flood");
		return 1;
	}
	for (long i = 0; i < n;) {
		uint64_t x = mix64(ctr++);
		int k = x % 10, plen = k < 6 ? 32 : k < 9 ? 24 : 16 + (x >> 8) % 8;
		uint32_t a = (uint32_t)(x >> 32) & (~0u << (32 - plen));

		if (reserved(a, plen) || !seen_add(&s, (uint64_t)a << 8 | plen))
			continue;
		printf("%u.%u.%u.%u/%d\n", a >> 24, a >> 16 & 0xff, a >> 8 & 0xff, a & 0xff, plen);
		i++;
	}
	free(s.slot);
	return fflush(stdout) ? 1 : 0;
}

/* ----------------------------------------------------------------- flood */

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Sum of the ethtool counters of @ifname whose names end in @suffix (the
 * veth's per-queue "xdp_xmit_errors"), -1 when there are none. */
static long long ethtool_sum(int sock, const char *ifname, const char *suffix)
{
	struct {
		struct ethtool_sset_info hdr;
		__u32 len;
	} ss = { .hdr = { .cmd = ETHTOOL_GSSET_INFO, .sset_mask = 1ULL << ETH_SS_STATS } };
	struct ethtool_gstrings *names = NULL;
	struct ethtool_stats *vals = NULL;
	struct ifreq ifr = {};
	long long sum = -1;
	size_t sl = strlen(suffix);
	__u32 n;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ss;
	if (ioctl(sock, SIOCETHTOOL, &ifr) || !ss.hdr.sset_mask)
		return -1;
	n = ss.len;
	names = calloc(1, sizeof(*names) + (size_t)n * ETH_GSTRING_LEN);
	vals = calloc(1, sizeof(*vals) + (size_t)n * sizeof(__u64));
	if (!names || !vals)
		goto out;
	names->cmd = ETHTOOL_GSTRINGS;
	names->string_set = ETH_SS_STATS;
	names->len = n;
	ifr.ifr_data = (void *)names;
	if (ioctl(sock, SIOCETHTOOL, &ifr))
		goto out;
	vals->cmd = ETHTOOL_GSTATS;
	vals->n_stats = n;
	ifr.ifr_data = (void *)vals;
	if (ioctl(sock, SIOCETHTOOL, &ifr))
		goto out;
	for (__u32 i = 0; i < n; i++) {
		char *s = (char *)names->data + (size_t)i * ETH_GSTRING_LEN;
		size_t l = strnlen(s, ETH_GSTRING_LEN);

		if (l >= sl && !memcmp(s + l - sl, suffix, sl))
			sum = (sum < 0 ? 0 : sum) + (long long)vals->data[i];
	}
out:
	free(names);
	free(vals);
	return sum;
}

static size_t syn_frame(uint8_t *b, const uint8_t *dst, const uint8_t *src)
{
	struct ethhdr *eth = (void *)b;
	struct iphdr *ip = (void *)(eth + 1);
	struct tcphdr *t = (void *)(ip + 1);
	uint16_t *w;
	uint32_t sum;

	memset(b, 0, 64);
	memcpy(eth->h_dest, dst, ETH_ALEN);
	memcpy(eth->h_source, src, ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->tot_len = htons(sizeof(*ip) + sizeof(*t));
	ip->id = htons(1);
	inet_pton(AF_INET, "192.0.2.1", &ip->saddr);
	inet_pton(AF_INET, "203.0.113.1", &ip->daddr);
	t->source = htons(40000);
	t->dest = htons(25);
	t->seq = htonl(1);
	t->doff = sizeof(*t) / 4;
	t->syn = 1;
	t->window = htons(64240);
	/* the checksums of the template; the program updates them */
	sum = 0;
	for (w = (uint16_t *)ip; w < (uint16_t *)t; w++)
		sum += *w;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip->check = ~sum;
	sum = htons(IPPROTO_TCP) + htons(sizeof(*t));
	for (w = (uint16_t *)&ip->saddr; w < (uint16_t *)(t + 1); w++)
		sum += *w;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	t->check = ~sum;
	return (uint8_t *)(t + 1) - b;
}

static void sleep_until(double t)
{
	double d = t - now_s();

	if (d > 0) {
		struct timespec ts = { (time_t)d, (long)((d - (time_t)d) * 1e9) };

		nanosleep(&ts, NULL);
	}
}

static int flood(const char *ifname, double secs, const char *dstmac, uint64_t count)
{
	uint8_t pkt[64], dst[ETH_ALEN], src[ETH_ALEN];
	struct flood_bpf *skel;
	struct xdp_md ctx = {};
	struct ifreq ifr = {};
	long long lost0, lost1;
	uint64_t sent = 0;
	double t0, t, rate = 0;
	__u32 repeat = FLOOD_MIN_REPEAT;
	int sock, prog, ifindex;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
		    .batch_size = FLOOD_BATCH);

	memset(dst, 0xff, sizeof(dst));
	if (dstmac && !ether_aton_r(dstmac, (struct ether_addr *)dst)) {
		fprintf(stderr, "flood: bad MAC address '%s'\n", dstmac);
		return 1;
	}
	/* the socket lives in our namespace: index and address are of its IFNAME */
	ifindex = if_nametoindex(ifname);
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (!ifindex || sock < 0 || ioctl(sock, SIOCGIFHWADDR, &ifr)) {
		fprintf(stderr, "flood: %s: %s\n", ifname, strerror(errno));
		return 1;
	}
	memcpy(src, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	o.data_size_in = syn_frame(pkt, dst, src);
	ctx.data_end = o.data_size_in;
	ctx.ingress_ifindex = ifindex;

	libbpf_set_print(NULL);
	skel = flood_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "flood: loading the generator: %s\n", strerror(errno));
		return 1;
	}
	prog = bpf_program__fd(skel->progs.flood_xdp);
	lost0 = ethtool_sum(sock, ifname, "xdp_xmit_errors");
	t0 = t = now_s();
	while (count ? sent < count : t - t0 < secs) {
		double left = secs - (t - t0), start = t;

		if (count) {
			/* paced: chunks at the times they are due, 20 a
			 * second (a run has a fixed cost: a page pool) */
			uint64_t chunk = count / (secs * 20) + 1;

			chunk = chunk < FLOOD_MIN_REPEAT ? FLOOD_MIN_REPEAT :
				chunk > FLOOD_MAX_REPEAT ? FLOOD_MAX_REPEAT : chunk;
			repeat = count - sent < chunk ? count - sent : chunk;
			sleep_until(t0 + secs * sent / count);
		} else if (rate > 0) {
			/* the first run measures the rate; later runs end about on time */
			double want = rate * left;

			repeat = want > FLOOD_MAX_REPEAT ? FLOOD_MAX_REPEAT :
				 want < FLOOD_MIN_REPEAT ? FLOOD_MIN_REPEAT : (__u32)want;
		}
		o.repeat = repeat;
		if (bpf_prog_test_run_opts(prog, &o)) {
			fprintf(stderr, "flood: BPF_PROG_TEST_RUN on %s: %s\n", ifname,
				strerror(errno));
			flood_bpf__destroy(skel);
			return 1;
		}
		sent += repeat;
		t = now_s();
		if (t > start)
			rate = repeat / (t - start);
	}
	lost1 = ethtool_sum(sock, ifname, "xdp_xmit_errors");
	printf("sent %llu secs %.3f mpps %.3f lost ", (unsigned long long)sent, t - t0,
	       sent / (t - t0) / 1e6);
	if (lost0 >= 0 && lost1 >= 0)
		printf("%lld\n", lost1 - lost0);
	else
		printf("-\n");
	flood_bpf__destroy(skel);
	close(sock);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: flood IFNAME SECONDS [DSTMAC [COUNT]]\n"
			"       flood --gen N SEED\n");
	return 2;
}

int main(int argc, char **argv)
{
	char *end;

	if (argc == 4 && !strcmp(argv[1], "--gen")) {
		long n = strtol(argv[2], &end, 10);

		if (*end || n < 0)
			return usage();
		return gen(n, strtoull(argv[3], NULL, 0));
	}
	if (argc >= 3 && argc <= 5) {
		double secs = strtod(argv[2], &end);
		unsigned long long count = 0;

		if (*end || secs <= 0)
			return usage();
		if (argc == 5) {
			count = strtoull(argv[4], &end, 10);
			if (*end || !count)
				return usage();
		}
		return flood(argv[1], secs, argc >= 4 ? argv[3] : NULL, count);
	}
	return usage();
}
