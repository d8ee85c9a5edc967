// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * With nothing loaded, `mxshield lookup` answers from the state directory
 * (ctl_state_classify: mxs_decide() over the entries that cover the
 * address). It must give the verdict the filter gives once loaded. A
 * random state directory (trust, gateway and block lists as snapshot plus
 * journal, with deletions, expired and expiring entries; partners; a
 * country database written for the test and country policies) is compiled
 * into the maps as a load does (ctl_compile), and for every IPv4
 * documentation address, thousands of IPv6 ones and the first and last
 * address of every entry, mxs_classify() over the live build -- the walk
 * the XDP program runs -- and ctl_state_classify() over the state must
 * give the same verdict: action, list, reason, deciding prefix length
 * (but for a country: the build keeps none), reference, country and
 * expiry. In enforce, gateway-only and monitor mode.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "core/ctl.h"
#include "core/json.h"
#include "filter/build.h"
#include "filter/loader.h"
#include "filter/stateview.h"
#include "state/recfile.h"
#include "state/ipstore.h"
#include "mxshield.skel.h"
#include "../skel.h"
#define TEST_RNG_SEED 0x2545f4914f6cdd1dULL
#include "../rand.h"

static int failures;
/* The entries a case put into the state, for the boundary addresses. */
static struct mxs_prefix made[4096];
static int nmade;

static struct st_ent rand_ent(const struct listdef *d, int64_t now)
{
	struct mxs_prefix p;
	struct st_ent e = { .added = now };

	if (d->list == MXS_LIST_BLOCK)
		rand_prefix(&p, rnd() & 1, 27, 48);
	else
		rand_prefix(&p, rnd() & 1, 29, 60);
	st_set_prefix(&e, &p);
	if (d->has_action)
		e.action = MXS_ACT_DROP + rnd() % 4;
	if (d->has_expires && rnd() % 6 == 0)	/* expired, or expiring later */
		e.expires = rnd() & 1 ? now - 60 : now + 3600;
	if (nmade < (int)(sizeof(made) / sizeof(made[0])))
		made[nmade++] = p;
	return e;
}

/* One IP list: a snapshot of @nsnap entries, then @njour changes in the
 * journal, some of them deletions. */
static int make_list(struct ctl *c, const struct listdef *d, int nsnap, int njour)
{
	int64_t now = time(NULL);
	struct st_vec v = {};
	struct store s;

	for (int i = 0; i < nsnap; i++) {
		struct st_ent e = rand_ent(d, now);

		if (st_vec_push(&v, &e, i % 3 ? "" : "a comment"))
			return -1;
	}
	if (st_vec_finish(&v) < 0 || store_open(c, d->name, &s))
		return -1;
	store_adopt(&s, &v);
	if (store_sync(c, d->name, &s))
		return -1;
	for (int i = 0; i < njour; i++) {
		struct st_ent e = rand_ent(d, now);

		if (i % 4 == 0 && s.nbase) {	/* delete an entry of the snapshot */
			e = s.base[rnd() % s.nbase];
			e.del = 1;
		}
		if (store_apply(&s, &e, NULL))
			return -1;
	}
	if (store_sync(c, d->name, &s))
		return -1;
	store_close(&s);
	return 0;
}

static const char *const ccs[] = { "CN", "DE", "BR", "JP", "US", "FR" };

/* Partners, a country database (non-overlapping networks, every country
 * of ccs[] or none), policies for four of those countries. */
static int make_others(struct ctl *c, const char *dir)
{
	struct recfile f = {};
	char cmd[512], buf[64];
	FILE *gen;

	for (int i = 0; i < 8; i++) {
		struct rec *r = recfile_add(&f);
		char ips[256] = "", ps[MXS_PFX_STRLEN];

		snprintf(buf, sizeof(buf), "p%d", i);
		rec_set(r, "name", buf);
		snprintf(buf, sizeof(buf), "%d", i + 1);
		rec_set(r, "id", buf);
		for (int k = 0; k < 2; k++) {
			struct mxs_prefix p;

			rand_prefix(&p, rnd() & 1, 29, 60);
			made[nmade++] = p;
			snprintf(ips + strlen(ips), sizeof(ips) - strlen(ips), "%s%s", k ? "," : "",
				 prefix_str(&p, ps));
		}
		rec_set(r, "ip", ips);
	}
	if (ctl_write(c, ST_PARTNERS, &f))
		return -1;
	recfile_free(&f);

	for (int i = 0; i < 4; i++) {
		struct rec *r = recfile_add(&f);

		rec_set(r, "cc", ccs[i]);
		rec_set(r, "action", action_name(MXS_ACT_DROP + i));
	}
	if (ctl_write(c, ST_COUNTRIES, &f))
		return -1;
	recfile_free(&f);

	snprintf(cmd, sizeof(cmd), "scripts/make-test-mmdb.pl --schema geoip2 %s/%s 2>%s/mmdb.log",
		 dir, ST_GEO, dir);
	gen = popen(cmd, "w");
	if (!gen)
		return -1;
	/* IPv4: the documentation /24s cut into /26 and /27 networks */
	for (int n = 0; n < 3; n++) {
		static const char *const nets[] = { "192.0.2", "198.51.100", "203.0.113" };

		for (int o = 0; o < 256;) {
			int len = rnd() & 1 ? 26 : 27, sz = 1 << (32 - len);
			int k = rnd() % 8;

			if (o % sz) {
				len = 27;
				sz = 32;
			}
			if (k < 6)
				fprintf(gen, "%s.%d/%d %s\n", nets[n], o, len, ccs[k]);
			o += sz;
		}
	}
	/* IPv6: the /64s random addresses fall into */
	for (int a = 0; a < 4; a++)
		for (int b = 0; b < 4; b++)
			for (int x = 0; x < 3; x++)
				for (int y = 0; y < 3; y++) {
					int k = rnd() % 8;

					if (k < 6)
						fprintf(gen, "2001:db8:%x:%x::/64 %s\n", a << 8 | b,
							x << 8 | y, ccs[k]);
				}
	return pclose(gen) == 0 ? 0 : -1;
}

static int open_maps(struct mxshield_bpf **skel, struct ctl *c)
{
	*skel = skel_load_unpinned(&c->mv);
	return *skel ? 0 : -1;
}

/* What a load does: compile every list from state, set the policies. */
static int load(struct ctl *c)
{
	if (ctl_compile(c, -1, NULL, NULL, NULL))
		return -1;
	for (uint32_t cc = 0; cc < MXS_COUNTRY_SLOTS; cc++) {
		struct mxs_country_policy p = { .action = MXS_ACT_NONE };

		for (int i = 0; i < 4; i++) {
			uint32_t k;
			char err[MXS_ERRLEN];

			if (!parse_country(ccs[i], &k, NULL, err, sizeof(err)) && k == cc)
				p.action = MXS_ACT_DROP + i;
		}
		if (bpf_map_update_elem(c->mv.country_policy, &cc, &p, BPF_ANY))
			return -1;
	}
	return 0;
}

static int compare(struct ctl *c, const struct mxs_prefix *a, uint32_t flags, int seen[])
{
	struct mxs_verdict live, state;
	uint64_t now = now_tai_ns();
	char s[MXS_PFX_STRLEN];

	mxs_classify(&c->mv, a, flags, now, &live);
	if (ctl_state_classify(c, a, flags, now, &state))
		return -1;
	seen[live.reason]++;
	/* as in test_diff: the compiled build names a country, not the
	 * length of its database network */
	if (live.list == MXS_LIST_COUNTRY)
		live.rule_plen = state.rule_plen;
	if (!memcmp(&live, &state, sizeof(live)))
		return 0;
	printf("# %s: loaded %s %s /%u ref %u country %u, state %s %s /%u ref %u country %u\n",
	       prefix_str(a, s), action_name(live.action), reason_name(live.reason),
	       live.rule_plen, live.ref, live.country, action_name(state.action),
	       reason_name(state.reason), state.rule_plen, state.ref, state.country);
	return 1;
}

static void run(struct ctl *c, uint32_t flags, const char *mode)
{
	int n = 0, bad = 0, seen[MXS_R_MAX] = { 0 };

	for (int i = 0; i < 768 + 3000 + 2 * nmade && bad < 5; i++) {
		struct mxs_prefix a;
		int r;

		if (i < 768) {		/* every IPv4 documentation address */
			static const uint8_t nets[3][3] = {
				{ 192, 0, 2 }, { 198, 51, 100 }, { 203, 0, 113 } };

			memset(&a, 0, sizeof(a));
			memcpy(a.addr, nets[i / 256], 3);
			a.addr[3] = i % 256;
			a.plen = 32;
		} else if (i < 768 + 3000) {
			rand_addr(&a, 1);
		} else {		/* first and last address of every entry */
			int k = (i - 768 - 3000) / 2;

			a = made[k];
			if (i % 2)
				prefix_last(&a);
			a.plen = a.v6 ? 128 : 32;
		}
		r = compare(c, &a, flags, seen);
		if (r < 0) {
			printf("not ok - %s: ctl_state_classify failed\n", mode);
			failures++;
			return;
		}
		bad += r;
		n++;
	}
	if (bad) {
		printf("not ok - %s: the state and the loaded filter disagree (%d of %d addresses)\n",
		       mode, bad, n);
		failures++;
		return;
	}
	printf("ok - %s: the state gives the loaded filter's verdict on %d addresses "
	       "(trust %d partner %d gateway %d gateway-only %d block %d country %d default %d)\n",
	       mode, n, seen[MXS_R_TRUST], seen[MXS_R_PARTNER], seen[MXS_R_GATEWAY],
	       seen[MXS_R_GATEWAY_ONLY], seen[MXS_R_BLOCK], seen[MXS_R_COUNTRY],
	       seen[MXS_R_DEFAULT]);
	/* every list must decide somewhere, or agreement proves little */
	if (!(flags & MXS_F_GATEWAY_ONLY) &&
	    !(seen[MXS_R_TRUST] && seen[MXS_R_PARTNER] && seen[MXS_R_GATEWAY] &&
	      seen[MXS_R_BLOCK] && seen[MXS_R_COUNTRY] && seen[MXS_R_DEFAULT])) {
		printf("not ok - %s: some list decided no address\n", mode);
		failures++;
	}
}

int main(void)
{
	char dir[] = "/tmp/mxs-readonly.XXXXXX", cmd[64];
	struct ctl c = { .lock_fd = -1, .bpffs_dir = "/nonexistent" };
	struct mxshield_bpf *skel = NULL;

	libbpf_set_print(NULL);
	if (!mkdtemp(dir)) {
		printf("not ok - temporary state directory: %s\n", strerror(errno));
		return 1;
	}
	c.state_dir = dir;
	for (int round = 0; round < 3 && !failures; round++) {
		nmade = 0;
		snprintf(cmd, sizeof(cmd), "rm -f %s/*", dir);
		if (system(cmd) ||
		    make_list(&c, listdef_by_id(MXS_LIST_TRUST), 20, 10) ||
		    make_list(&c, listdef_by_id(MXS_LIST_GATEWAY), 20, 10) ||
		    make_list(&c, listdef_by_id(MXS_LIST_BLOCK), 100, 50) ||
		    make_others(&c, dir)) {
			printf("not ok - round %d: write a random state directory\n", round);
			failures++;
			break;
		}
		if (!skel && open_maps(&skel, &c)) {
			printf("not ok - load the XDP program and maps: %s\n", strerror(errno));
			failures++;
			break;
		}
		if (load(&c)) {
			printf("not ok - round %d: compile the state into the maps\n", round);
			failures++;
			break;
		}
		printf("# round %d: %d entries\n", round, nmade);
		run(&c, 0, "enforce");
		run(&c, MXS_F_GATEWAY_ONLY, "gateway-only");
		run(&c, MXS_F_MONITOR, "monitor");
	}
	mxshield_bpf__destroy(skel);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		printf("# could not remove %s\n", dir);
	return failures ? 1 : 0;
}
