// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * make bench: per-packet kernel time of the mxshield XDP program measured
 * with BPF_PROG_TEST_RUN, next to a plain four-trie LPM baseline
 * (tests/bench/baseline.bpf.c) loaded with the same rules, in one run.
 *
 *   hit     one blocked source, repeated
 *   miss    one unlisted source (192.0.2.1), repeated
 *   random  a pseudo-random IPv4 source per packet (benchmark builds)
 *   blocked a random one of 65,536 hosts of random block prefixes per
 *           packet: every packet a blocked hit at a random place in the
 *           classifier, with its hit counted (benchmark builds; the
 *           end-to-end benchmark's random-source row, without the veth)
 *
 * at 0, 10k, 100k and 1M random block prefixes plus the full country table
 * of the CC0 database (every other country with a drop policy). Each figure
 * is the median of BENCH_RUNS runs of `repeat` packets.
 *
 * After each size, single-packet runs of both programs over the same
 * random sources must give the same verdicts (2,000 a family).
 *
 *   bench [--smoke]   --smoke: tiny sizes, few repeats (run by CI)
 *   bench --size N [--vs OBJ]   one size only; --vs: a column more, for
 *                     another build of the benchmark program (an object
 *                     file built from bpf/mxshield.bpf.c with -DMXS_BENCH,
 *                     say before a change) run in turn over the same maps:
 *                     this VM's speed drifts too much to compare two runs
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "core/parse.h"
#include "filter/compile.h"
#include "tests/ref/tries.h"
#include "filter/install.h"
#include "filter/classify.h"
#include "filter/geo.h"
#include "mxshield.skel.h"
#include "mxshield_bench.skel.h"
#include "baseline.skel.h"
#include "bpf/bench/rsrc.h"
#include "tests/syn.h"

#define BENCH_RUNS 5

static bool smoke;
static int failures;
static int prog_vs = -1;	/* --vs */
static int prog_bench = -1;	/* the benchmark build, which --vs compares with */

struct lab {
	struct mxshield_bpf *m;
	struct mxshield_bench_bpf *mb;
	struct baseline_bpf *b;
	struct mxs_maps_view mv;	/* mxshield's compiled build */
	struct rule_vec fam[2];		/* every entry so far */
	struct cinfo info;		/* of the last build */
	int base[4];			/* trust4, partner4, block4, country4 */
};

/* The map of @obj that @name is in another object of the same source:
 * the same name, or for global data (".bss", named after the object) the
 * same section. */
static struct bpf_map *twin_map(struct bpf_object *obj, const char *name)
{
	const char *sec = strchr(name, '.');
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) {
		const char *s = strchr(bpf_map__name(m), '.');

		if (sec ? s && !strcmp(s, sec) : !strcmp(bpf_map__name(m), name))
			return m;
	}
	return NULL;
}

static int open_lab(struct lab *l, const char *vs)
{
	struct bpf_map *m;
	int fd;

	l->m = mxshield_bpf__open();
	l->mb = mxshield_bench_bpf__open();
	l->b = baseline_bpf__open();
	if (!l->m || !l->mb || !l->b)
		return -1;
	bpf_object__for_each_map(m, l->m->obj)
		bpf_map__set_pin_path(m, NULL);
	if (mxshield_bpf__load(l->m))
		return -1;
	/* the benchmark build runs over the very same maps */
	bpf_object__for_each_map(m, l->mb->obj) {
		struct bpf_map *twin = bpf_object__find_map_by_name(l->m->obj, bpf_map__name(m));

		bpf_map__set_pin_path(m, NULL);
		if (twin && bpf_map__reuse_fd(m, bpf_map__fd(twin)))
			return -1;
	}
	if (mxshield_bench_bpf__load(l->mb) || baseline_bpf__load(l->b))
		return -1;
	if (vs) {
		struct bpf_object *o = bpf_object__open_file(vs, NULL);
		struct bpf_program *prog;

		if (!o)
			return -1;
		bpf_object__for_each_map(m, o) {
			struct bpf_map *twin = twin_map(l->mb->obj, bpf_map__name(m));

			bpf_map__set_pin_path(m, NULL);
			if (twin && bpf_map__reuse_fd(m, bpf_map__fd(twin)))
				return -1;
		}
		prog = bpf_object__find_program_by_name(o, "mxs_xdp");
		if (!prog || bpf_object__load(o))
			return -1;
		prog_vs = bpf_program__fd(prog);
	}
	l->mv = (struct mxs_maps_view){ .country_policy = bpf_map__fd(l->m->maps.country_policy),
					.c_gen = bpf_map__fd(l->m->maps.c_gen),
					.c_dir = bpf_map__fd(l->m->maps.c_dir),
					.c_node = bpf_map__fd(l->m->maps.c_node),
					.c_leaf = bpf_map__fd(l->m->maps.c_leaf),
					.c_rec = bpf_map__fd(l->m->maps.c_rec),
					.hit_batch = bpf_map__fd(l->m->maps.hit_batch) };
	l->base[0] = bpf_map__fd(l->b->maps.trust4);
	l->base[1] = bpf_map__fd(l->b->maps.partner4);
	l->base[2] = bpf_map__fd(l->b->maps.block4);
	l->base[3] = bpf_map__fd(l->b->maps.country4);
	{
		struct mxs_config cfg = { .nports = 1, .ports = { 25 } };
		__u32 zero = 0;

		fd = bpf_map__fd(l->m->maps.config);
		bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY);
	}
	return 0;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static long memlock(int fd)
{
	char p[64], line[128];
	long v = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", fd);
	f = fopen(p, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %ld", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

/* The networks the random IPv6 sources of both programs come from. */
static void set_nets6(struct lab *l, const struct pfx_vec *v)
{
	int fds[2] = { bpf_map__fd(l->mb->maps.bench_nets6), bpf_map__fd(l->b->maps.bench_nets6) };
	__u32 n = v->n < BENCH_NETS6_MAX ? v->n : BENCH_NETS6_MAX;

	for (__u32 i = 0; i < n; i++) {
		__u64 net = bench_net6(v->v[i].addr, v->v[i].plen);

		for (int k = 0; k < 2; k++)
			bpf_map_update_elem(fds[k], &i, &net, BPF_ANY);
	}
	l->mb->bss->bench_nnets6 = n;
	l->b->bss->bench_nnets6 = n;
}

/* The "blocked" row's sources: @want hosts of random IPv4 block prefixes
 * of @l, for both programs; 0 turns the row's sources off again. */
static void set_hosts4(struct lab *l, __u32 want, uint64_t *seed)
{
	int fds[2] = { bpf_map__fd(l->mb->maps.bench_hosts4), bpf_map__fd(l->b->maps.bench_hosts4) };
	size_t nb = 0, *blk = malloc((l->fam[0].n + 1) * sizeof(*blk));
	__u32 n = 0;

	for (size_t i = 0; blk && i < l->fam[0].n; i++)
		if (l->fam[0].r[i].list == MXS_LIST_BLOCK)
			blk[nb++] = i;
	while (want && nb && n < want && n < BENCH_HOSTS4_MAX) {
		uint64_t x = bench_mix(++*seed);
		const struct mxs_prefix *p = &l->fam[0].p[blk[(x >> 32) % nb]];
		uint32_t a, m = p->plen ? ~0u << (32 - p->plen) : 0;

		memcpy(&a, p->addr, 4);
		a = htonl((ntohl(a) & m) | ((uint32_t)x & ~m));
		for (int k = 0; k < 2; k++)
			bpf_map_update_elem(fds[k], &n, &a, BPF_ANY);
		n++;
	}
	free(blk);
	l->mb->bss->bench_nhosts4 = n;
	l->b->bss->bench_nhosts4 = n;
}

/* Load the country table: every network of the database, IPv4 and IPv6;
 * countries with an even index get a drop policy. The count of each family
 * into n[0], n[1]. */
static int load_countries(struct lab *l, const char *db, long n[2])
{
	int base[2] = { l->base[3], bpf_map__fd(l->b->maps.country6) };
	struct pfx_vec pv = {}, fam[2] = {};
	struct geo_meta meta;
	char err[512];

	if (geo_collect(db, NULL, &pv, NULL, &meta, err, sizeof(err))) {
		fprintf(stderr, "bench: %s\n", err);
		return -1;
	}
	for (size_t i = 0; i < pv.n; i++)
		pfx_vec_push(&fam[pv.v[i].v6], &pv.v[i], pv.ref[i]);
	for (int v6 = 0; v6 < 2; v6++) {
		struct pfx_vec *v = &fam[v6];
		struct mxs_rule *r = calloc(v->n ? v->n : 1, sizeof(*r));

		for (size_t i = 0; i < v->n; i++) {
			r[i].list = MXS_LIST_COUNTRY;
			r[i].ref = v->ref[i];
			r[i].prefixlen = v->v[i].plen;
			rule_vec_push(&l->fam[v6], &v->v[i], &r[i]);
			/* the baseline keeps the policy in its trie */
			r[i].action = v->ref[i] % 2 ? MXS_ACT_NONE : MXS_ACT_DROP;
		}
		trie_put_many(base[v6], v->v, r, v->n);
		n[v6] = v->n;
		if (v6)
			set_nets6(l, v);
		free(r);
		pfx_vec_free(v);
	}
	for (uint32_t cc = 0; cc < MXS_COUNTRY_SLOTS; cc += 2) {
		struct mxs_country_policy p = { .action = MXS_ACT_DROP };

		bpf_map_update_elem(bpf_map__fd(l->m->maps.country_policy), &cc, &p, BPF_ANY);
	}
	pfx_vec_free(&pv);
	return 0;
}

/* Add @n random block prefixes (60% /32, 30% /24, 10% /16-/23), never
 * inside 192.0.2.0/24 (the miss address), to both programs: mxshield
 * compiles and installs all its entries (*secs: that time), the baseline
 * puts them into its block trie (*tsecs). Returns the first one. */
static struct mxs_prefix add_blocks(struct lab *l, long n, uint64_t *seed, double *secs,
				    double *tsecs)
{
	struct mxs_prefix *p = calloc(n ? n : 1, sizeof(*p)), first = { 0 };
	struct mxs_rule *r = calloc(n ? n : 1, sizeof(*r));
	double t0;

	for (long i = 0; i < n; i++) {
		uint64_t x = bench_mix(++*seed);
		int k = x % 10;

		p[i].plen = k < 6 ? 32 : k < 9 ? 24 : 16 + (x >> 8) % 8;
		memcpy(p[i].addr, (uint8_t *)&x + 4, 4);
		prefix_mask(&p[i]);
		if (p[i].addr[0] == 192 && p[i].addr[1] == 0 && p[i].addr[2] <= 2)
			p[i].addr[0] = 10;
		r[i].list = MXS_LIST_BLOCK;
		r[i].action = MXS_ACT_DROP;
		r[i].prefixlen = p[i].plen;
	}
	for (long i = 0; i < n; i++)
		rule_vec_push(&l->fam[0], &p[i], &r[i]);
	{
		char err[MXS_ERRLEN];

		t0 = now_s();
		if (cmaps_install(&l->mv, l->fam, &l->info, err, sizeof(err))) {
			fprintf(stderr, "bench: %s\n", err);
			exit(1);
		}
		*secs = now_s() - t0;
	}
	t0 = now_s();
	trie_put_many(l->base[2], p, r, n);
	*tsecs = now_s() - t0;
	if (n)
		first = p[0];
	free(p);
	free(r);
	return first;
}

static int cmp_u32(const void *a, const void *b)
{
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 :
	       *(const uint32_t *)a > *(const uint32_t *)b;
}

/* One run of @repeat copies of @pkt through @prog: ns per packet; *ret
 * gets the verdict. */
static uint32_t run_once(int prog, const uint8_t *pkt, uint32_t len, int repeat, uint32_t *ret)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len, .repeat = repeat);

	if (bpf_prog_test_run_opts(prog, &o)) {
		fprintf(stderr, "bench: BPF_PROG_TEST_RUN: %s\n", strerror(errno));
		exit(1);
	}
	*ret = o.retval;
	return o.duration;
}

/* A row of the table: BENCH_RUNS runs of mxshield's program @pm and the
 * baseline's @pb in turn (the VM's speed drifts; neighbouring runs share
 * it), the median of each; *rm, *rb get their last verdicts. */
static void row(long size, const char *name, int pm, int pb, const struct mxs_prefix *src,
		int repeat, uint32_t *rm, uint32_t *rb)
{
	uint32_t dm[BENCH_RUNS], db[BENCH_RUNS], dv[BENCH_RUNS], len, ignore;
	uint8_t pkt[SYN_MAX];

	len = build_syn(pkt, src);
	for (int i = 0; i < BENCH_RUNS; i++) {
		dm[i] = run_once(pm, pkt, len, repeat, rm);
		db[i] = run_once(pb, pkt, len, repeat, rb);
		/* --vs: the other build where it applies (random rows) */
		if (prog_vs >= 0 && pm == prog_bench)
			dv[i] = run_once(prog_vs, pkt, len, repeat, &ignore);
	}
	qsort(dm, BENCH_RUNS, sizeof(dm[0]), cmp_u32);
	qsort(db, BENCH_RUNS, sizeof(db[0]), cmp_u32);
	printf("%-9ld %-7s %14u %14u %8.2f", size, name, dm[BENCH_RUNS / 2], db[BENCH_RUNS / 2],
	       (double)db[BENCH_RUNS / 2] / dm[BENCH_RUNS / 2]);
	if (prog_vs >= 0 && pm == prog_bench) {
		qsort(dv, BENCH_RUNS, sizeof(dv[0]), cmp_u32);
		printf(" %14u %8.2f", dv[BENCH_RUNS / 2], (double)dv[BENCH_RUNS / 2] / dm[BENCH_RUNS / 2]);
	}
	printf("\n");
}

static void check(bool good, const char *name)
{
	printf("%s - %s\n", good ? "ok" : "not ok", name);
	failures += !good;
}

/* The random streams of both programs run through the same sequence:
 * single-packet runs must give the same verdicts. */
static void agree(struct lab *l, int n, int v6)
{
	int pm = bpf_program__fd(l->mb->progs.mxs_xdp), pb = bpf_program__fd(l->b->progs.baseline_xdp);
	int seqm = bpf_map__fd(l->mb->maps.bench_seq), seqb = bpf_map__fd(l->b->maps.bench_seq);
	int ncpu = libbpf_num_possible_cpus(), bad = 0, drops = 0;
	uint64_t zeros[ncpu];
	struct mxs_prefix any = { .plen = v6 ? 128 : 32, .v6 = v6 };
	uint8_t pkt[SYN_MAX];
	uint32_t len = build_syn(pkt, &any);
	__u32 zero = 0;

	memset(zeros, 0, sizeof(zeros));
	bpf_map_update_elem(seqm, &zero, zeros, BPF_ANY);
	bpf_map_update_elem(seqb, &zero, zeros, BPF_ANY);
	for (int i = 0; i < n; i++) {
		uint32_t a, b;

		run_once(pm, pkt, len, 1, &a);
		run_once(pb, pkt, len, 1, &b);
		bad += a != b;
		drops += a == XDP_DROP;
	}
	printf("# random %s stream: %d of %d sources dropped\n", v6 ? "IPv6" : "IPv4", drops, n);
	check(bad == 0 && drops > 0 && drops < n,
	      v6 ? "random IPv6 sources: mxshield and the four-trie baseline give the same verdicts"
		 : "random IPv4 sources: mxshield and the four-trie baseline give the same verdicts");
}

int main(int argc, char **argv)
{
	static const long full[] = { 0, 10000, 100000, 1000000 };
	static const long tiny[] = { 0, 1000 };
	const long *sizes = full;
	int nsizes = 4, repeat = 1000000;
	long ncountry[2];
	struct lab l = {};
	uint64_t seed = 42;
	long have = 0;
	char db[512] = "";
	const char *vs = NULL;
	FILE *p;

	static long one[1];

	smoke = argc > 1 && !strcmp(argv[1], "--smoke");
	if (smoke)
		sizes = tiny, nsizes = 2, repeat = 10000;
	if (argc > 2 && !strcmp(argv[1], "--size")) {	/* one size only */
		one[0] = atol(argv[2]);
		sizes = one, nsizes = 1;
		if (argc > 4 && !strcmp(argv[3], "--vs"))
			vs = argv[4];
	}
	libbpf_set_print(NULL);
	if (open_lab(&l, vs)) {
		fprintf(stderr, "bench: loading the programs: %s\n", strerror(errno));
		return 1;
	}
	p = popen("scripts/fetch-country-db.sh --max-age 3650d", "r");	/* real, fresh or not */
	if (!p || !fgets(db, sizeof(db), p) || pclose(p)) {
		fprintf(stderr, "bench: no country database (scripts/fetch-country-db.sh)\n");
		return 1;
	}
	db[strcspn(db, "\n")] = '\0';
	if (load_countries(&l, db, ncountry))
		return 1;
	printf("# BPF_PROG_TEST_RUN, median of %d runs x %d packets; country table: %ld IPv4 + "
	       "%ld IPv6 prefixes\n", BENCH_RUNS, repeat, ncountry[0], ncountry[1]);
	printf("%-9s %-7s %14s %14s %8s", "PREFIXES", "CASE", "MXSHIELD ns", "4-TRIE ns", "RATIO");
	printf(vs ? " %14s %8s\n" : "\n", "--vs ns", "VS/MXS");
	int pm = bpf_program__fd(l.m->progs.mxs_xdp), pmb = bpf_program__fd(l.mb->progs.mxs_xdp),
	    pb = bpf_program__fd(l.b->progs.baseline_xdp);

	prog_bench = pmb;

	for (int s = 0; s < nsizes; s++) {
		struct mxs_prefix hit, miss = { .plen = 32, .addr = { 192, 0, 2, 1 } },
				   miss6 = { .plen = 128, .v6 = 1, .addr = { 0x20, 0x01, 0x0d, 0xb8 } };
		double load = 0, tload = 0;
		uint32_t rm, rb;
		long mem;

		hit = add_blocks(&l, sizes[s] - have, &seed, &load, &tload);
		if (have)
			hit = hit.plen ? hit : miss;
		have = sizes[s];
		if (!sizes[s])
			hit = miss;
		mem = memlock(l.base[2]) + memlock(l.base[3]) +
		      memlock(bpf_map__fd(l.b->maps.country6));
		row(sizes[s], "hit", pm, pb, &hit, repeat, &rm, &rb);
		if (sizes[s] && smoke)
			check(rm == XDP_DROP && rb == XDP_DROP, "blocked source dropped by both programs");
		row(sizes[s], "miss", pm, pb, &miss, repeat, &rm, &rb);
		if (smoke)
			check(rm == XDP_PASS && rb == XDP_PASS, "unlisted source passed by both programs");
		/* the benchmark builds: a random source per packet; IPv6, hosts of
		 * the IPv6 country networks (the block prefixes are IPv4) */
		l.b->bss->random_source = 1;
		row(sizes[s], "random", pmb, pb, &miss, repeat, &rm, &rb);
		row(sizes[s], "random6", pmb, pb, &miss6, repeat, &rm, &rb);
		if (sizes[s]) {
			set_hosts4(&l, 65536, &seed);
			row(sizes[s], "blocked", pmb, pb, &miss, repeat, &rm, &rb);
			if (smoke)
				check(rm == XDP_DROP && rb == XDP_DROP,
				      "random blocked hosts dropped by both programs");
			set_hosts4(&l, 0, &seed);
		}
		l.b->bss->random_source = 0;
		printf("#   mxshield: compile+install of all %zu IPv4 + %zu IPv6 entries %.2f s "
		       "(compile %.2f, maps %.2f); IPv4 %zu ranges, %zu nodes, %zu leaves, %zu "
		       "verdicts; IPv6 %zu nodes; %.1f MiB\n",
		       l.fam[0].n, l.fam[1].n, load, l.info.compile_s, l.info.load_s,
		       l.info.ranges[0], l.info.nodes[0], l.info.leaves[0], l.info.recs[0],
		       l.info.nodes[1], (l.info.bytes[0] + l.info.bytes[1]) / 1048576.0);
		printf("#   baseline: block trie load %.2f s (%ld new prefixes), block+country tries "
		       "%.1f MiB\n", tload, sizes[s] - (s ? sizes[s - 1] : 0), mem / 1048576.0);
		/* the same verdicts, at every size */
		l.b->bss->random_source = 1;
		agree(&l, 2000, 0);
		agree(&l, 2000, 1);
		l.b->bss->random_source = 0;
	}
	return failures ? 1 : 0;
}
