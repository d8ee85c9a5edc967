/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The random-source streams of the benchmark builds: mxshield's
 * (-DMXS_BENCH) and the baseline derive each packet's source address from
 * the same per-CPU sequence, so both see the very same sources. Not part of
 * the product. */
#ifndef MXS_BENCH_RSRC_H
#define MXS_BENCH_RSRC_H
#include <linux/types.h>

/* An element of bench_nets6 (the benchmark fills it, tests/bench/bench.c):
 * a network's first 64 bits (host order) with its prefix length in the
 * low 7 bits; networks longer than BENCH_NET6_PLEN count as that long (8
 * bytes an element keep the table -- and its read per packet, which both
 * programs pay -- small). */
#define BENCH_NETS6_MAX (1U << 20)
#define BENCH_HOSTS4_MAX (1U << 17)	/* bench_hosts4, below */
#define BENCH_NET6_PLEN 57
static inline __u64 bench_net6(const __u8 *addr, unsigned plen)
{
	__u64 hi = 0;

	for (int i = 0; i < 8; i++)
		hi = hi << 8 | addr[i];
	plen = plen < BENCH_NET6_PLEN ? plen : BENCH_NET6_PLEN;
	return (hi & ~0x7fULL) | plen;
}

/* splitmix64's finaliser: the @x-th number of a stream (the benchmark
 * also draws its random prefixes with it). */
static inline __u64 bench_mix(__u64 x)
{
	x *= 0x9e3779b97f4a7c15ULL;
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	return x;
}

#ifdef __bpf__
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

/* Per-CPU sequence numbers of the random streams. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bench_seq SEC(".maps");

/* The IPv6 networks random IPv6 sources are drawn from (the country
 * table's): a uniformly random host of 2000::/3 is almost never in an
 * allocated network, which would measure nothing but the first stage. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_NETS6_MAX);
	__type(key, __u32);
	__type(value, __u64);
} bench_nets6 SEC(".maps");
volatile __u32 bench_nnets6;	/* entries in bench_nets6 */

/* Blocked hosts (the benchmark fills it, userspace/bench/bench.c): with
 * bench_nhosts4 > 0, each random IPv4 source is a random one of them --
 * a blocked hit at a random place in the classifier, instead of a
 * uniformly random address (most of which end early). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_HOSTS4_MAX);
	__type(key, __u32);
	__type(value, __u32);	/* network byte order */
} bench_hosts4 SEC(".maps");
volatile __u32 bench_nhosts4;

/* The next pseudo-random number of this CPU's stream (splitmix64), or 0. */
static __always_inline __u64 bench_next(void)
{
	__u32 zero = 0;
	__u64 *seq = bpf_map_lookup_elem(&bench_seq, &zero);

	return seq ? bench_mix(++*seq) : 0;
}

/* A random IPv4 source (network byte order) into a4: uniformly random,
 * or a random one of bench_hosts4. */
static __always_inline void bench_src4(__u8 *a4)
{
	__u64 x = bench_next();
	__u32 n = bench_nhosts4, i, *h;

	if (n) {
		i = (__u32)(x >> 32) % n;
		h = bpf_map_lookup_elem(&bench_hosts4, &i);
		if (h) {
			__builtin_memcpy(a4, h, 4);
			return;
		}
	}
	__builtin_memcpy(a4, &x, 4);
}

/* A random host of a random network of bench_nets6 into a6 (untouched when
 * there is none). */
static __always_inline void bench_src6(__u8 *a6)
{
	__u64 x = bench_next(), r = x * 0xd6e8feb86659fd93ULL, *net, hi, lo, m;
	__u32 n = bench_nnets6, i, plen;

	if (!n)
		return;
	i = (__u32)(x >> 32) % n;
	net = bpf_map_lookup_elem(&bench_nets6, &i);
	if (!net)
		return;
	plen = *net & 0x7f;
	m = plen ? ~0ULL << (64 - plen) : 0;	/* plen <= BENCH_NET6_PLEN */
	hi = bpf_cpu_to_be64((*net & m) | (r & ~m));
	lo = bpf_cpu_to_be64(r ^ x << 17);
	__builtin_memcpy(a6, &hi, 8);
	__builtin_memcpy(a6 + 8, &lo, 8);
}
#endif /* __bpf__ */
#endif /* MXS_BENCH_RSRC_H */
