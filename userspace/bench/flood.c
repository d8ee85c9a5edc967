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
 *   Options before IFNAME:
 *   --src FILE	each frame's source a random one of the IPv4 addresses
 *		of FILE (one a line, as printed by --sources) instead of a
 *		documentation host
 *   --probe PIN	one frame in 2^SHIFT (--probe-shift, default 3) takes
 *		its source from a random non-empty slot of the probe ring
 *		pinned at PIN (a BPF array of FLOOD_PROBE_RING addresses that
 *		the churn driver, build/churn, creates and fills)
 *   --prog-stats	keep the kernel's BPF run-time statistics on while
 *		it floods (BPF_ENABLE_STATS: run_time_ns and run_cnt of every
 *		program, the filter's included; bench-e2e.sh E2E_PROG_STATS=1
 *		reads them: the time a frame spends in the filter's program)
 *
 *   flood --sources N SEED FILE
 *	print N distinct random IPv4 addresses, each a random host of a
 *	random prefix of FILE (a list printed by --gen), the same for the
 *	same SEED: sources that are blocked hits all over the classifier.
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
#define FLOOD_PROBE_RING 4096	/* flood.bpf.c has the same */

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

/* Read a list of CIDRs (or addresses) of @path: the networks into *net,
 * their lengths into *len; the count, or -1 with a message. */
static long read_prefixes(const char *path, uint32_t **net, uint8_t **len)
{
	FILE *f = fopen(path, "r");
	char line[128];
	long n = 0, cap = 0, lineno = 0;

	*net = NULL;
	*len = NULL;
	if (!f) {
		fprintf(stderr, "flood: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		unsigned a, b, c, d, l = 32;
		char *slash = strchr(line, '/');

		lineno++;
		if (sscanf(line, "%u.%u.%u.%u", &a, &b, &c, &d) != 4 || a > 255 || b > 255 ||
		    c > 255 || d > 255 || (slash && (sscanf(slash + 1, "%u", &l) != 1 || l > 32))) {
			fprintf(stderr, "flood: %s:%ld: not an IPv4 prefix\n", path, lineno);
			goto fail;
		}
		if (n == cap) {
			uint32_t *nn;
			uint8_t *nl;

			cap = cap ? 2 * cap : 4096;
			nn = realloc(*net, cap * sizeof(**net));
			if (nn)
				*net = nn;
			nl = realloc(*len, cap);
			if (nl)
				*len = nl;
			if (!nn || !nl) {
				perror("flood");
				goto fail;
			}
		}
		(*net)[n] = a << 24 | b << 16 | c << 8 | d;
		(*len)[n++] = l;
	}
	fclose(f);
	return n;
fail:
	fclose(f);
	free(*net);
	free(*len);
	return -1;
}

/* --sources: @n distinct hosts of random prefixes of @path */
static int sources(long n, uint64_t seed, const char *path)
{
	struct seen s = {};
	uint32_t *net;
	uint8_t *len;
	long np = read_prefixes(path, &net, &len);
	uint64_t ctr = seed << 32 | 0x5eed;
	size_t cap = 16;
	int rc = 1;

	if (np < 0)
		return 1;
	if (!np && n) {
		fprintf(stderr, "flood: %s: no prefixes\n", path);
		goto out;
	}
	while (cap < 2 * (size_t)n)
		cap <<= 1;
	s.slot = calloc(cap, sizeof(*s.slot));
	s.mask = cap - 1;
	if (!s.slot) {
		perror("flood");
		goto out;
	}
	for (long i = 0, tries = 0; i < n; tries++) {
		uint64_t x = mix64(ctr++);
		long k = (long)((x >> 32) % (uint64_t)np);
		uint32_t host = len[k] ? (uint32_t)x & ~(~0u << (32 - len[k])) : (uint32_t)x;
		uint32_t a = (net[k] & (len[k] ? ~0u << (32 - len[k]) : 0)) | host;

		if (tries > 64 * n + 1000) {
			fprintf(stderr, "flood: %s: fewer than %ld distinct hosts\n", path, n);
			goto out;
		}
		if (!a || !seen_add(&s, a))
			continue;
		printf("%u.%u.%u.%u\n", a >> 24, a >> 16 & 0xff, a >> 8 & 0xff, a & 0xff);
		i++;
	}
	rc = fflush(stdout) ? 1 : 0;
out:
	free(s.slot);
	free(net);
	free(len);
	return rc;
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

struct flood_opts {
	const char *src;	/* --src FILE */
	const char *probe;	/* --probe PIN */
	unsigned probe_shift;
	bool prog_stats;	/* --prog-stats */
};

/* Before the load: the source table of --src and the probe ring of --probe. */
static int flood_prepare(struct flood_bpf *skel, const struct flood_opts *fo,
			 uint32_t **srcs, long *nsrcs)
{
	uint8_t *len;
	int fd;

	*srcs = NULL;
	*nsrcs = 0;
	if (fo->src) {
		*nsrcs = read_prefixes(fo->src, srcs, &len);
		if (*nsrcs < 0)
			return -1;
		free(len);
		if (!*nsrcs) {
			fprintf(stderr, "flood: %s: no addresses\n", fo->src);
			return -1;
		}
		skel->rodata->nsrcs = *nsrcs;
		bpf_map__set_max_entries(skel->maps.flood_srcs, *nsrcs);
	}
	if (fo->probe) {
		fd = bpf_obj_get(fo->probe);
		if (fd < 0 || bpf_map__reuse_fd(skel->maps.flood_probe, fd)) {
			fprintf(stderr, "flood: the probe ring %s: %s\n", fo->probe, strerror(errno));
			return -1;
		}
		close(fd);
		skel->rodata->probe_shift = fo->probe_shift;
	}
	return 0;
}

/* After the load: fill the source table (network byte order). */
static int flood_fill(struct flood_bpf *skel, const uint32_t *srcs, long n)
{
	int fd = bpf_map__fd(skel->maps.flood_srcs);

	for (uint32_t i = 0; i < (uint32_t)n; i++) {
		uint32_t a = htonl(srcs[i]);

		if (bpf_map_update_elem(fd, &i, &a, BPF_ANY)) {
			fprintf(stderr, "flood: the source table: %s\n", strerror(errno));
			return -1;
		}
	}
	return 0;
}

static int flood(const char *ifname, double secs, const char *dstmac, uint64_t count,
		 const struct flood_opts *fo)
{
	uint32_t *srcs;
	long nsrcs;
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
	skel = flood_bpf__open();
	if (!skel) {
		fprintf(stderr, "flood: opening the generator: %s\n", strerror(errno));
		return 1;
	}
	if (flood_prepare(skel, fo, &srcs, &nsrcs)) {
		flood_bpf__destroy(skel);
		return 1;
	}
	if (flood_bpf__load(skel)) {
		fprintf(stderr, "flood: loading the generator: %s\n", strerror(errno));
		flood_bpf__destroy(skel);
		free(srcs);
		return 1;
	}
	if (nsrcs && flood_fill(skel, srcs, nsrcs)) {
		flood_bpf__destroy(skel);
		free(srcs);
		return 1;
	}
	free(srcs);
	prog = bpf_program__fd(skel->progs.flood_xdp);
	/* held until we exit: the statistics are on while this fd lives */
	if (fo->prog_stats && bpf_enable_stats(BPF_STATS_RUN_TIME) < 0) {
		fprintf(stderr, "flood: BPF_ENABLE_STATS: %s\n", strerror(errno));
		flood_bpf__destroy(skel);
		return 1;
	}
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
	fprintf(stderr, "usage: flood [--src FILE] [--probe PIN [--probe-shift K]] "
			"[--prog-stats] IFNAME SECONDS [DSTMAC [COUNT]]\n"
			"       flood --gen N SEED\n"
			"       flood --sources N SEED FILE\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct flood_opts fo = { .probe_shift = 3 };
	char *end;

	if (argc == 4 && !strcmp(argv[1], "--gen")) {
		long n = strtol(argv[2], &end, 10);

		if (*end || n < 0)
			return usage();
		return gen(n, strtoull(argv[3], NULL, 0));
	}
	if (argc == 5 && !strcmp(argv[1], "--sources")) {
		long n = strtol(argv[2], &end, 10);

		if (*end || n < 0)
			return usage();
		return sources(n, strtoull(argv[3], NULL, 0), argv[4]);
	}
	while (argc >= 3 && !strncmp(argv[1], "--", 2)) {
		if (!strcmp(argv[1], "--prog-stats")) {
			fo.prog_stats = true;
			argc--;
			argv++;
			continue;
		}
		if (!strcmp(argv[1], "--src"))
			fo.src = argv[2];
		else if (!strcmp(argv[1], "--probe"))
			fo.probe = argv[2];
		else if (!strcmp(argv[1], "--probe-shift")) {
			fo.probe_shift = strtoul(argv[2], &end, 10);
			if (*end || fo.probe_shift < 1 || fo.probe_shift > 16)
				return usage();
		} else
			return usage();
		argc -= 2;
		argv += 2;
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
		return flood(argv[1], secs, argc >= 4 ? argv[3] : NULL, count, &fo);
	}
	return usage();
}
