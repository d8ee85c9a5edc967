// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The XDP program and the Postfix policy decision must agree on every
 * source address. A random rule set (nested prefixes, every list, every
 * action, expired entries, country policies) is loaded into the maps; for
 * each address of a generated corpus the program runs on a TCP SYN to port
 * 25 (BPF_PROG_TEST_RUN) and policy_decide() answers a policy request for
 * the same client over the same maps:
 *
 *   XDP_DROP           <-> 550 (drop reaches Postfix only through XCLIENT)
 *   tag reject         <-> 550
 *   tag quarantine     <-> HOLD
 *   tag spam           <-> PREPEND X-Spam-Flag
 *   pass, no tag       <-> DUNNO
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "core/ctl.h"
#include "core/json.h"
#include "state/recfile.h"
#include "mta/envelope.h"
#include "mta/policy_decide.h"
#include "filter/classify.h"
#include "filter/install.h"
#include "mxshield.skel.h"
#include "../skel.h"
#include "../syn.h"
#define TEST_RNG_SEED 0x9e3779b97f4a7c15ULL
#include "../rand.h"

static int failures;
struct lab {
	struct mxshield_bpf *skel;
	struct mxs_maps_view mv;
	int prog, config, tags;
};

static int lab_open(struct lab *l)
{
	l->skel = skel_load_unpinned(&l->mv);
	if (!l->skel)
		return -1;
	l->config = bpf_map__fd(l->skel->maps.config);
	l->tags = bpf_map__fd(l->skel->maps.tags);
	l->prog = bpf_program__fd(l->skel->progs.mxs_xdp);
	return 0;
}

static void set_flags(struct lab *l, uint32_t flags)
{
	struct mxs_config cfg = { .flags = flags, .nports = 1, .ports = { 25 } };
	__u32 zero = 0;

	bpf_map_update_elem(l->config, &zero, &cfg, BPF_ANY);
}

static int random_rules(struct lab *l)
{
	struct rule_vec fam[2] = {};
	char err[MXS_ERRLEN];
	static const struct { uint32_t list; int n; } plan[] = {
		{ MXS_LIST_TRUST, 6 }, { MXS_LIST_PARTNER, 6 }, { MXS_LIST_GATEWAY, 6 },
		{ MXS_LIST_BLOCK, 120 }, { MXS_LIST_COUNTRY, 40 },
	};
	uint64_t now = now_tai_ns();

	for (size_t k = 0; k < sizeof(plan) / sizeof(plan[0]); k++) {
		for (int i = 0; i < plan[k].n; i++) {
			int v6 = rnd() & 1;
			struct mxs_prefix p;
			struct mxs_rule r = { .list = plan[k].list };

			rand_prefix(&p, v6, 24, 32);
			if (plan[k].list != MXS_LIST_BLOCK && p.plen > (v6 ? 64 : 28))
				p.plen = v6 ? 64 : 28, prefix_mask(&p);
			r.prefixlen = p.plen;
			if (plan[k].list == MXS_LIST_BLOCK)
				r.action = MXS_ACT_DROP + rnd() % 4;
			if (plan[k].list == MXS_LIST_COUNTRY)
				r.ref = rnd() % 6;	/* AA..AF: some with policies */
			if (rnd() % 8 == 0)	/* some expired, some not yet */
				r.expires = rnd() & 1 ? now - 1000000000ULL : now + 3600000000000ULL;
			/* one entry per list and prefix: the last one counts */
			for (size_t j = 0; j < fam[v6].n; j++)
				if (fam[v6].r[j].list == r.list && fam[v6].p[j].plen == p.plen &&
				    !memcmp(fam[v6].p[j].addr, p.addr, 16))
					fam[v6].r[j].list = MXS_LIST_MAX;	/* dropped */
			rule_vec_push(&fam[v6], &p, &r);
		}
	}
	for (int v6 = 0; v6 < 2; v6++) {
		size_t o = 0;

		for (size_t j = 0; j < fam[v6].n; j++)
			if (fam[v6].r[j].list != MXS_LIST_MAX) {
				fam[v6].p[o] = fam[v6].p[j];
				fam[v6].r[o++] = fam[v6].r[j];
			}
		fam[v6].n = o;
	}
	if (cmaps_install(&l->mv, fam, NULL, err, sizeof(err))) {
		printf("not ok - install the rule set: %s\n", err);
		return -1;
	}
	rule_vec_free(&fam[0]);
	rule_vec_free(&fam[1]);
	for (uint32_t cc = 0; cc < 6; cc++) {
		struct mxs_country_policy pol = { .action = cc < 4 ? MXS_ACT_DROP + cc : MXS_ACT_NONE };

		bpf_map_update_elem(l->mv.country_policy, &cc, &pol, BPF_ANY);
	}
	return 0;
}

/* What the data plane did with a SYN from @a: an MXS_ACT_* value. */
static int xdp_verdict(struct lab *l, const struct mxs_prefix *a, int *out)
{
	uint8_t pkt[128];
	struct mxs_addr k;
	struct mxs_tag t;
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .repeat = 1);

	o.data_size_in = build_syn(pkt, a);
	prefix_to_tag_key(a, &k);
	bpf_map_delete_elem(l->tags, &k);
	if (bpf_prog_test_run_opts(l->prog, &o))
		return -errno;
	if (o.retval == XDP_DROP)
		*out = MXS_ACT_DROP;
	else if (!bpf_map_lookup_elem(l->tags, &k, &t))
		*out = t.action;
	else
		*out = MXS_ACT_NONE;
	return 0;
}

static int policy_verdict(struct lab *l, const struct mxs_prefix *a, uint32_t flags)
{
	struct env_set empty = {};
	struct policy_out o;
	char ip[INET6_ADDRSTRLEN];
	struct policy_req q = {
		.request = "smtpd_access_policy", .protocol_state = "RCPT",
		.client_address = ip, .sender = "someone@example.net",
		.recipient = "postmaster@example.org", .instance = "agree",
	};

	inet_ntop(a->v6 ? AF_INET6 : AF_INET, a->addr, ip, sizeof(ip));
	policy_decide(&q, &empty, &l->mv, flags, NULL, NULL, &o);
	if (!strncmp(o.action, "550 ", 4))
		return MXS_ACT_REJECT;
	if (!strncmp(o.action, "HOLD", 4))
		return MXS_ACT_QUARANTINE;
	if (!strncmp(o.action, "PREPEND X-Spam-Flag", 19))
		return MXS_ACT_SPAM;
	if (!strncmp(o.action, "PREPEND X-Mxshield-Monitor", 26))
		return -2;	/* monitor: a header instead of the action */
	return MXS_ACT_NONE;
}

static void run_corpus(struct lab *l, uint32_t flags, const char *mode)
{
	int n[2] = { 0, 0 }, bad[2] = { 0, 0 }, seen[MXS_ACT_MAX] = { 0 };

	set_flags(l, flags);
	for (int v6 = 0; v6 < 2; v6++) {
		int count = v6 ? 3000 : 768;

		for (int i = 0; i < count; i++) {
			struct mxs_prefix a;
			int x = 0, p, want;

			if (v6) {
				rand_addr(&a, 1);
			} else {	/* every IPv4 documentation address */
				static const uint8_t nets[3][3] = {
					{ 192, 0, 2 }, { 198, 51, 100 }, { 203, 0, 113 } };

				memset(&a, 0, sizeof(a));
				memcpy(a.addr, nets[i / 256], 3);
				a.addr[3] = i % 256;
				a.plen = 32;
			}
			if (xdp_verdict(l, &a, &x)) {
				printf("not ok - %s: BPF_PROG_TEST_RUN failed: %s\n", mode, strerror(errno));
				failures++;
				return;
			}
			p = policy_verdict(l, &a, flags);
			seen[x]++;
			/* the policy turns drop into reject; monitor tags everything
			 * as a header and drops nothing */
			want = x == MXS_ACT_DROP ? MXS_ACT_REJECT : x;
			if (flags & MXS_F_MONITOR && x != MXS_ACT_NONE)
				want = -2;
			n[v6]++;
			if (p != want && bad[v6]++ < 5) {
				char s[MXS_PFX_STRLEN];

				printf("# %s: %s xdp=%s policy=%d\n", mode, prefix_str(&a, s),
				       action_name(x), p);
			}
		}
	}
	for (int v6 = 0; v6 < 2; v6++) {
		if (bad[v6]) {
			failures++;
			printf("not ok - %s %s: %d of %d addresses disagree\n", mode,
			       v6 ? "IPv6" : "IPv4", bad[v6], n[v6]);
		} else {
			printf("ok - %s %s: XDP and policy agree on %d addresses\n", mode,
			       v6 ? "IPv6" : "IPv4", n[v6]);
		}
	}
	/* the corpus must exercise every verdict, or agreement proves little */
	if (!(flags & MXS_F_MONITOR)) {
		bool all = true;

		for (int a = 0; a < MXS_ACT_MAX; a++)
			all &= seen[a] > 0;
		if (all)
			printf("ok - %s: corpus covers every verdict (pass %d drop %d reject %d "
			       "quarantine %d spam %d)\n", mode, seen[0], seen[1], seen[2], seen[3],
			       seen[4]);
		else
			printf("not ok - %s: corpus misses a verdict (pass %d drop %d reject %d "
			       "quarantine %d spam %d)\n", mode, seen[0], seen[1], seen[2], seen[3],
			       seen[4]), failures++;
	}
}

int main(void)
{
	struct lab l = {};

	libbpf_set_print(NULL);
	if (lab_open(&l)) {
		printf("not ok - load the XDP program and maps: %s\n", strerror(errno));
		return 1;
	}
	if (random_rules(&l))
		return 1;
	run_corpus(&l, 0, "enforce");
	run_corpus(&l, MXS_F_MONITOR, "monitor");
	mxshield_bpf__destroy(l.skel);
	return failures ? 1 : 0;
}
