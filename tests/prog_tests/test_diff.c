// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Differential test of the compiled classifier against the reference.
 *
 * The same XDP source is built twice with a "trace" map holding the last
 * verdict: the production classifier (one walk over the compiled build)
 * and the reference (-DMXS_REFERENCE: one LPM trie per list, mxs_decide()
 * per packet). Random rule sets -- every list, nested prefixes from a few
 * shared bases, every action, entries expired and expiring later, country
 * policies -- go into both (the compiled one through cmaps_install(), the
 * controller's path, several builds in a row so the generation flips); then
 * addresses at every prefix boundary (first, last, one before, one after),
 * inside every prefix and uniformly at random run through both programs
 * with BPF_PROG_TEST_RUN. Every field of the verdict must be identical.
 * Nothing is sent anywhere: the packets exist only inside the kernel call.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "core/parse.h"
#include "filter/compile.h"
#include "tests/ref/tries.h"
#include "filter/install.h"
#include "filter/classify.h"
#include "filter/geo.h"
#include "mxshield_trace.skel.h"
#include "mxshield_ref.skel.h"
#include "../syn.h"

static int failures;
static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct side {
	int prog, config, trace, cpol;
};

static struct mxshield_trace_bpf *cs;
static struct mxshield_ref_bpf *rs;
static struct side sc, sr;
static struct mxs_maps_view mv;

static int open_both(void)
{
	struct bpf_map *m;

	cs = mxshield_trace_bpf__open();
	rs = mxshield_ref_bpf__open();
	if (!cs || !rs)
		return -1;
	bpf_object__for_each_map(m, cs->obj)
		bpf_map__set_pin_path(m, NULL);
	bpf_object__for_each_map(m, rs->obj)
		bpf_map__set_pin_path(m, NULL);
	if (mxshield_trace_bpf__load(cs) || mxshield_ref_bpf__load(rs))
		return -1;
	sc = (struct side){ bpf_program__fd(cs->progs.mxs_xdp), bpf_map__fd(cs->maps.config),
			    bpf_map__fd(cs->maps.trace), bpf_map__fd(cs->maps.country_policy) };
	sr = (struct side){ bpf_program__fd(rs->progs.mxs_xdp), bpf_map__fd(rs->maps.config),
			    bpf_map__fd(rs->maps.trace), bpf_map__fd(rs->maps.country_policy) };
	mv = (struct mxs_maps_view){ .country_policy = sc.cpol,
				     .c_gen = bpf_map__fd(cs->maps.c_gen),
				     .c_dir = bpf_map__fd(cs->maps.c_dir),
				     .c_node = bpf_map__fd(cs->maps.c_node),
				     .c_leaf = bpf_map__fd(cs->maps.c_leaf),
				     .c_rec = bpf_map__fd(cs->maps.c_rec),
				     .hit_batch = bpf_map__fd(cs->maps.hit_batch) };
	return 0;
}

static int run(const struct side *s, const struct mxs_prefix *a, struct mxs_verdict *v,
	       uint32_t *ret)
{
	uint8_t pkt[128];
	__u32 zero = 0;
	struct mxs_verdict none = { .reason = 0xff };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .repeat = 1);

	o.data_size_in = build_syn(pkt, a);
	bpf_map_update_elem(s->trace, &zero, &none, BPF_ANY);
	if (bpf_prog_test_run_opts(s->prog, &o))
		return -errno;
	*ret = o.retval;
	return bpf_map_lookup_elem(s->trace, &zero, v) ? -errno : 0;
}

static void set_flags(uint32_t flags)
{
	struct mxs_config cfg = { .flags = flags, .nports = 1, .ports = { 25 } };
	__u32 zero = 0;

	bpf_map_update_elem(sc.config, &zero, &cfg, BPF_ANY);
	bpf_map_update_elem(sr.config, &zero, &cfg, BPF_ANY);
}

/* A random prefix near one of @nb shared bases, so that entries nest. */
static void rand_prefix(struct mxs_prefix *p, int v6, const struct mxs_prefix *bases, int nb)
{
	int bits = v6 ? 128 : 32;

	*p = bases[rnd() % nb];
	/* flip a few low-order bits below a random depth */
	for (int i = 0; i < 3; i++) {
		int b = bits - 1 - rnd() % (bits / 2);

		p->addr[b / 8] ^= 0x80 >> (b % 8);
	}
	switch (rnd() % 16) {
	case 0: p->plen = rnd() % (bits + 1); break;	/* any, /0 included */
	case 1: case 2: case 3: p->plen = bits; break;
	case 4: case 5: case 6: case 7:
		p->plen = v6 ? 32 + rnd() % 33 : 16 + rnd() % 17; break;
	default: p->plen = v6 ? 48 + rnd() % 81 : 20 + rnd() % 13; break;
	}
	prefix_mask(p);
}

static void rand_addr(struct mxs_prefix *p, int v6)
{
	uint64_t x = rnd(), y = rnd();

	memset(p, 0, sizeof(*p));
	p->v6 = v6;
	p->plen = v6 ? 128 : 32;
	memcpy(p->addr, &x, 8);
	memcpy(p->addr + 8, &y, 8);
	if (!v6)
		memset(p->addr + 4, 0, 12);
}

/* a +/- 1 on the address of @p (as a number), in place; wraps. */
static void addr_step(struct mxs_prefix *p, int up)
{
	for (int i = (p->v6 ? 16 : 4) - 1; i >= 0; i--) {
		if (up ? ++p->addr[i] != 0 : p->addr[i]-- != 0)
			break;
	}
}

struct tally {
	int n, bad;
	int seen[MXS_R_MAX];
};

static bool same(const struct mxs_verdict *a, const struct mxs_verdict *b)
{
	/* country verdicts name the country; the reference also knows the
	 * database network's length, the compiled build does not keep it */
	bool country = a->list == MXS_LIST_COUNTRY;

	return a->action == b->action && a->list == b->list && a->reason == b->reason &&
	       a->ref == b->ref && a->country == b->country && a->expires == b->expires &&
	       (country || a->rule_plen == b->rule_plen);
}

static void check_addr(const struct mxs_prefix *a, struct tally *t, const char *what)
{
	struct mxs_verdict vc, vr;
	uint32_t rc, rr;
	char s[MXS_PFX_STRLEN];

	if (run(&sc, a, &vc, &rc) || run(&sr, a, &vr, &rr)) {
		if (t->bad++ < 5)
			printf("# %s: BPF_PROG_TEST_RUN: %s\n", what, strerror(errno));
		return;
	}
	t->n++;
	if (vr.reason < MXS_R_MAX)
		t->seen[vr.reason]++;
	if (rc != rr || !same(&vc, &vr)) {
		if (t->bad++ < 5)
			printf("# %s: %s compiled {xdp %u %s %s %s plen %u ref %u} reference "
			       "{xdp %u %s %s %s plen %u ref %u}\n", what, prefix_str(a, s), rc,
			       action_name(vc.action), list_name(vc.list), reason_name(vc.reason),
			       vc.rule_plen, vc.ref, rr, action_name(vr.action), list_name(vr.list),
			       reason_name(vr.reason), vr.rule_plen, vr.ref);
	}
}

/* IPv4: @a in each of the 16 /24s of its first-stage /20, the ones that
 * hold other prefixes and the ones that do not. */
static void check_slot(const struct mxs_prefix *a, struct tally *t, const char *what)
{
	struct mxs_prefix b = *a;

	for (int g = 0; g < 16 && !a->v6; g++) {
		b.addr[2] = (a->addr[2] & 0xf0) | g;
		check_addr(&b, t, what);
	}
}

/* A round's random bases (entries nest around them) and one LPM trie per
 * list and family in the reference program's outer maps. 0, or -1 after a
 * "not ok" line. */
static int round_open(struct mxs_prefix bases[2][8], int tries[MXS_LIST_MAX][2],
		      const char *name)
{
	for (int v6 = 0; v6 < 2; v6++)
		for (int i = 0; i < 8; i++)
			rand_addr(&bases[v6][i], v6);
	for (uint32_t l = 0; l < MXS_LIST_MAX; l++) {
		for (int v6 = 0; v6 < 2; v6++) {
			tries[l][v6] = trie_create(v6);
			if (tries[l][v6] < 0 ||
			    outer_set(bpf_map__fd(v6 ? rs->maps.lists_v6 : rs->maps.lists_v4), l,
				      tries[l][v6])) {
				printf("not ok - %s: reference tries: %s\n", name, strerror(errno));
				failures++;
				return -1;
			}
		}
	}
	return 0;
}

static void close_tries(int tries[MXS_LIST_MAX][2])
{
	for (uint32_t l = 0; l < MXS_LIST_MAX; l++)
		for (int v6 = 0; v6 < 2; v6++)
			close(tries[l][v6]);
}

/* A random entry near the bases (@wide: sometimes a short prefix over many
 * first-stage slots) into fam[v6] and the reference trie of its list: every
 * list, every action, expired and expiring entries. *p gets its prefix.
 * false when the list has that prefix already (one entry per list and
 * prefix). */
static bool add_random(struct rule_vec *fam, int tries[MXS_LIST_MAX][2], int v6,
		       const struct mxs_prefix *bases, uint64_t now, bool wide,
		       struct mxs_prefix *p)
{
	uint32_t pick = rnd() % 100;
	struct mxs_rule r = {
		.list = pick < 8 ? MXS_LIST_TRUST : pick < 14 ? MXS_LIST_PARTNER :
			pick < 20 ? MXS_LIST_GATEWAY : pick < 70 ? MXS_LIST_BLOCK :
			MXS_LIST_COUNTRY,
	};

	rand_prefix(p, v6, bases, 8);
	/* bypass lists hold small networks: keep them from covering everything */
	if (r.list <= MXS_LIST_GATEWAY && p->plen < (v6 ? 64 : 24)) {
		p->plen = v6 ? 64 + rnd() % 65 : 24 + rnd() % 9;
		prefix_mask(p);
	}
	if (wide && rnd() % 6 == 0) {
		p->plen = (v6 ? 8 : 6) + rnd() % 10;
		prefix_mask(p);
	}
	if (r.list == MXS_LIST_BLOCK)
		r.action = MXS_ACT_DROP + rnd() % 4;
	if (r.list == MXS_LIST_PARTNER)
		r.ref = 1 + rnd() % 5;
	if (r.list == MXS_LIST_COUNTRY)
		r.ref = rnd() % 8;	/* AA..AH: some with policies */
	else if (rnd() % 4 == 0)	/* expired, or expiring later */
		r.expires = rnd() & 1 ? now - 1000000000ULL * (1 + rnd() % 100)
				      : now + 3600000000000ULL + rnd() % 1000;
	r.prefixlen = p->plen;
	for (size_t j = 0; j < fam->n; j++)
		if (fam->r[j].list == r.list && fam->p[j].plen == p->plen &&
		    !memcmp(fam->p[j].addr, p->addr, 16))
			return false;
	rule_vec_push(fam, p, &r);
	if (trie_put(tries[r.list][v6], p, &r)) {
		printf("# trie_put: %s\n", strerror(errno));
		failures++;
	}
	return true;
}

/* Country policies of AA..AH (some none) in both programs. */
static void set_policies(void)
{
	for (uint32_t cc = 0; cc < 8; cc++) {
		struct mxs_country_policy pol = { .action = cc < 5 ? MXS_ACT_DROP + cc % 4 : 0 };

		bpf_map_update_elem(sc.cpol, &cc, &pol, BPF_ANY);
		bpf_map_update_elem(sr.cpol, &cc, &pol, BPF_ANY);
	}
}

/* One round: @n entries per family, checked under @flags. */
static void round_(int n, uint32_t flags, const char *name)
{
	struct rule_vec fam[2] = {};
	struct mxs_prefix bases[2][8];
	struct tally t = {};
	uint64_t now = now_tai_ns();
	char err[MXS_ERRLEN];
	int tries[MXS_LIST_MAX][2];
	struct cinfo info;

	if (round_open(bases, tries, name))
		return;
	for (int v6 = 0; v6 < 2; v6++) {
		for (int i = 0; i < n; i++) {
			struct mxs_prefix p;

			add_random(&fam[v6], tries, v6, bases[v6], now, false, &p);
		}
	}
	set_policies();
	if (cmaps_install(&mv, fam, &info, err, sizeof(err))) {
		printf("not ok - %s: install: %s\n", name, err);
		failures++;
		goto out;
	}
	set_flags(flags);
	for (int v6 = 0; v6 < 2; v6++) {
		for (size_t i = 0; i < fam[v6].n; i++) {
			struct mxs_prefix a = fam[v6].p[i], b;

			a.plen = v6 ? 128 : 32;
			check_addr(&a, &t, name);
			b = a;
			addr_step(&b, 0);
			check_addr(&b, &t, name);
			b = fam[v6].p[i];
			prefix_last(&b);
			check_addr(&b, &t, name);
			addr_step(&b, 1);
			check_addr(&b, &t, name);
			b = fam[v6].p[i];
			for (int k = b.plen; k < (v6 ? 128 : 32); k++)
				if (rnd() & 1)
					b.addr[k / 8] |= 0x80 >> (k % 8);
			b.plen = v6 ? 128 : 32;
			check_addr(&b, &t, name);
			check_slot(&b, &t, name);
		}
		for (int i = 0; i < 500; i++) {
			struct mxs_prefix a;

			rand_addr(&a, v6);
			check_addr(&a, &t, name);
		}
	}
	if (t.bad) {
		failures++;
		printf("not ok - %s: %d of %d addresses differ\n", name, t.bad, t.n);
	} else {
		printf("ok - %s: %zu+%zu entries (%zu+%zu ranges, %zu+%zu nodes), %d addresses "
		       "agree (trust %d partner %d gateway %d block %d country %d default %d "
		       "gateway-only %d)\n", name, fam[0].n, fam[1].n, info.ranges[0], info.ranges[1],
		       info.nodes[0], info.nodes[1], t.n, t.seen[MXS_R_TRUST], t.seen[MXS_R_PARTNER],
		       t.seen[MXS_R_GATEWAY], t.seen[MXS_R_BLOCK], t.seen[MXS_R_COUNTRY],
		       t.seen[MXS_R_DEFAULT], t.seen[MXS_R_GATEWAY_ONLY]);
	}
out:
	close_tries(tries);
	rule_vec_free(&fam[0]);
	rule_vec_free(&fam[1]);
}

/*
 * In-place patches (what a single add or del does): a build of @n entries
 * per family, then @changes random additions and deletions, each applied to
 * the reference tries and to the live build through cmaps_patch() with only
 * the entries that meet the changed slots -- or a full build when the
 * change spans too many slots or the spare room runs out, as the
 * controller does. After every change the changed prefix's boundaries, and
 * at the end every entry's, must agree.
 */
static void patch_round(int n, int changes, const char *name)
{
	struct rule_vec fam[2] = {};
	struct mxs_prefix bases[2][8];
	struct tally t = {};
	uint64_t now = now_tai_ns();
	char err[MXS_ERRLEN];
	int tries[MXS_LIST_MAX][2], patched = 0, full = 0, adds = 0, dels = 0;
	struct cinfo info;

	if (round_open(bases, tries, name))
		return;
	/* the starting set, in a full build */
	for (int k = 0; k < 2 * n; k++) {
		struct mxs_prefix p;

		add_random(&fam[k % 2], tries, k % 2, bases[k % 2], now, false, &p);
	}
	if (cmaps_install(&mv, fam, &info, err, sizeof(err)))
		goto fail;
	for (int k = 0; k < changes; k++) {
		int v6 = rnd() % 2;
		bool del = fam[v6].n && rnd() % 5 < 2;
		struct mxs_prefix p, span, a;
		size_t i, first, slots;

		if (del) {
			struct mxs_rule r;

			i = rnd() % fam[v6].n;
			p = fam[v6].p[i];
			r = fam[v6].r[i];
			trie_del(tries[r.list][v6], &p);
			fam[v6].p[i] = fam[v6].p[fam[v6].n - 1];
			fam[v6].r[i] = fam[v6].r[fam[v6].n - 1];
			fam[v6].n--;
			dels++;
		} else {
			if (!add_random(&fam[v6], tries, v6, bases[v6], now, true, &p))
				continue;
			adds++;
		}
		if (mxs_patch_span(&p, &span, &first, &slots)) {
			if (cmaps_install(&mv, fam, &info, err, sizeof(err)))
				goto fail;
			full++;
		} else {
			struct rule_vec sub = {};
			int rc;

			for (size_t j = 0; j < fam[v6].n; j++)
				if (prefix_meets(&fam[v6].p[j], &span))
					rule_vec_push(&sub, &fam[v6].p[j], &fam[v6].r[j]);
			rc = cmaps_patch(&mv, v6, &sub, first, slots, NULL, err, sizeof(err));
			rule_vec_free(&sub);
			if (rc < 0)
				goto fail;
			if (rc > 0 && cmaps_install(&mv, fam, &info, err, sizeof(err)))
				goto fail;
			patched += rc == 0;
			full += rc > 0;
		}
		/* the changed prefix: first, last, just outside, one inside */
		a = p;
		a.plen = v6 ? 128 : 32;
		check_addr(&a, &t, name);
		addr_step(&a, 0);
		check_addr(&a, &t, name);
		a = p;
		prefix_last(&a);
		check_addr(&a, &t, name);
		addr_step(&a, 1);
		check_addr(&a, &t, name);
		check_slot(&a, &t, name);
	}
	for (int v6 = 0; v6 < 2; v6++) {
		for (size_t i = 0; i < fam[v6].n; i++) {
			struct mxs_prefix a = fam[v6].p[i];

			a.plen = v6 ? 128 : 32;
			check_addr(&a, &t, name);
			a = fam[v6].p[i];
			prefix_last(&a);
			check_addr(&a, &t, name);
		}
		for (int i = 0; i < 500; i++) {
			struct mxs_prefix a;

			rand_addr(&a, v6);
			check_addr(&a, &t, name);
		}
	}
	if (t.bad || patched < changes / 4) {
		failures++;
		printf("not ok - %s: %d of %d addresses differ; %d patches in place, %d full "
		       "builds\n", name, t.bad, t.n, patched, full);
	} else {
		printf("ok - %s: %d additions and %d deletions, %d patched in place, %d full "
		       "builds, %d addresses agree\n", name, adds, dels, patched, full, t.n);
	}
	goto out;
fail:
	failures++;
	printf("not ok - %s: %s\n", name, err);
out:
	close_tries(tries);
	rule_vec_free(&fam[0]);
	rule_vec_free(&fam[1]);
}

/* After a full build, the build before it (the idle generation) keeps
 * only one-element node, leaf and record maps; the live one keeps its own. */
static void check_release(void)
{
	const int outer[3] = { mv.c_node, mv.c_leaf, mv.c_rec };
	__u32 zero = 0, gen = 0;
	int bad = 0, live = 0;

	bpf_map_lookup_elem(mv.c_gen, &zero, &gen);
	for (int s = 0; s < MXS_CSLOTS; s++) {
		for (int w = 0; w < 3; w++) {
			struct bpf_map_info info = {};
			__u32 il = sizeof(info);
			int fd = cmaps_inner_fd(outer[w], s);

			if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &il)) {
				bad++;
			} else if ((uint32_t)(s / 2) == (gen & 1)) {
				live += info.max_entries > 1;
			} else {
				bad += info.max_entries != 1;
			}
			if (fd >= 0)
				close(fd);
		}
	}
	if (bad || live != 6) {
		failures++;
		printf("not ok - the build before the live one is released: %d idle maps not "
		       "released, %d live maps\n", bad, live);
	} else {
		printf("ok - the build before the live one is released (one-element maps), the "
		       "live one kept\n");
	}
}

int main(void)
{
	static const int sizes[] = { 0, 1, 5, 40, 300, 2000 };
	char name[64];

	libbpf_set_print(NULL);
	if (open_both()) {
		printf("not ok - load the compiled and reference programs: %s\n", strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(name, sizeof(name), "%d entries per family", sizes[i]);
		round_(sizes[i], 0, name);
	}
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "gateway-only, 300 entries, set %d", i);
		round_(300, MXS_F_GATEWAY_ONLY, name);
	}
	set_flags(0);
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "in-place patches, set %d", i);
		patch_round(300, 150, name);
	}
	/* little spare room: patches use it up, full builds take over */
	cmaps_spare_min = 16;
	patch_round(2000, 60, "in-place patches over 2000 entries per family, little room");
	cmaps_spare_min = MXS_CSPARE_MIN;
	check_release();
	mxshield_trace_bpf__destroy(cs);
	mxshield_ref_bpf__destroy(rs);
	return failures ? 1 : 0;
}
