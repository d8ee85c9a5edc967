// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Reads change nothing. status, lookup, stats, tags and the lists' list
 * never mount a bpffs, pin, load, sweep or write: they read the pinned
 * maps when a filter is loaded, and the state directory otherwise. This
 * file holds the answers the state directory gives -- settings, country
 * policies, and the verdict the filter gives an address once loaded.
 *
 * That verdict is mxs_decide() of maps/decide.h over the entries of
 * every list that cover the address, collected the way a patch of the
 * live build collects them (ctl_collect_span): the same precedence, over
 * the same entries, the compiler builds into the classifier a load
 * installs (compile.c calls mxs_winner() over the entries covering each
 * address range; test_diff checks the compiled walk against mxs_decide()).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "../core/ctl.h"
#include "../state/recfile.h"
#include "build.h"
#include "compile.h"
#include "loader.h"
#include "stateview.h"

struct sctx {
	const struct rule_vec *in;	/* the entries covering the address */
	const uint8_t *policy;		/* action per country index */
};

static int mxs_match(void *ctx, __u32 list, __u8 plen, struct mxs_rule *out);
static __u8 mxs_country_action(void *ctx, __u32 cc);
#include "../../maps/decide.h"

/* The longest entry of @list no longer than @plen: all of them cover the
 * address. */
static int mxs_match(void *vctx, __u32 list, __u8 plen, struct mxs_rule *out)
{
	const struct sctx *s = vctx;
	const struct rule_vec *in = s->in;
	size_t best = in->n;

	for (size_t i = 0; i < in->n; i++)
		if (in->r[i].list == list && in->p[i].plen <= plen &&
		    (best == in->n || in->p[i].plen > in->p[best].plen))
			best = i;
	if (best == in->n)
		return 0;
	*out = in->r[best];
	out->prefixlen = in->p[best].plen;
	return 1;
}

static __u8 mxs_country_action(void *vctx, __u32 cc)
{
	const struct sctx *s = vctx;

	return cc < MXS_COUNTRY_SLOTS ? s->policy[cc] : MXS_ACT_NONE;
}

int ctl_state_config(struct ctl *c, struct mxs_config *cfg)
{
	char err[MXS_ERRLEN];
	struct recfile s;
	int rc;

	if (ctl_read(c, ST_SETTINGS, &s))
		return 1;
	rc = settings_to_config(&s, cfg, err, sizeof(err));
	recfile_free(&s);
	return rc ? ctl_err("settings: %s", err) : 0;
}

/* Every country's policy action from the state's countries file: what a
 * load writes into the country_policy map (loader.c, apply_policies). */
static int state_policies(struct ctl *c, uint8_t policy[MXS_COUNTRY_SLOTS])
{
	char err[MXS_ERRLEN];
	struct recfile f;
	int rc = 0;

	memset(policy, 0, MXS_COUNTRY_SLOTS);
	if (ctl_read(c, ST_COUNTRIES, &f))
		return 1;
	for (int i = 0; i < f.n && !rc; i++) {
		uint32_t cc;
		uint8_t act;

		if (parse_country(rec_get(&f.r[i], "cc"), &cc, NULL, err, sizeof(err)) ||
		    parse_action(rec_get(&f.r[i], "action"), &act, err, sizeof(err)))
			rc = ctl_err("countries:%d: %s", f.r[i].line, err);
		else
			policy[cc] = act;
	}
	recfile_free(&f);
	return rc;
}

uint8_t ctl_country_action(struct ctl *c, uint32_t cc)
{
	struct mxs_country_policy p = {};
	uint8_t policy[MXS_COUNTRY_SLOTS];

	if (cc >= MXS_COUNTRY_SLOTS)
		return MXS_ACT_NONE;
	if (c->loaded) {
		bpf_map_lookup_elem(c->mv.country_policy, &cc, &p);
		return p.action;
	}
	return state_policies(c, policy) ? MXS_ACT_NONE : policy[cc];
}

static int classify_upto(struct ctl *c, const struct mxs_prefix *addr, uint32_t flags,
			 uint32_t lists, uint64_t now_tai, struct mxs_verdict *v)
{
	uint8_t policy[MXS_COUNTRY_SLOTS];
	struct rule_vec fam[2] = {};
	struct mxs_prefix host = *addr;
	struct sctx s = { .in = &fam[addr->v6], .policy = policy };
	int rc = state_policies(c, policy);

	host.plen = addr->v6 ? 128 : 32;
	prefix_mask(&host);
	/* a host prefix: the entries that meet it are those that cover it */
	for (uint32_t l = 0; l < lists && !rc; l++)
		rc = ctl_collect_span(c, l, &host, fam);
	if (!rc)
		mxs_decide(&s, host.plen, now_tai, flags, v);
	rule_vec_free(&fam[0]);
	rule_vec_free(&fam[1]);
	return rc;
}

int ctl_state_classify(struct ctl *c, const struct mxs_prefix *addr, uint32_t flags,
		       uint64_t now_tai, struct mxs_verdict *v)
{
	return classify_upto(c, addr, flags, MXS_LIST_MAX, now_tai, v);
}

int ctl_state_classify_top(struct ctl *c, const struct mxs_prefix *addr, uint64_t now_tai,
			   struct mxs_verdict *v)
{
	/* the lists before the block list win over everything after them:
	 * their winner is the verdict's, whatever those hold */
	return classify_upto(c, addr, 0, MXS_LIST_GATEWAY + 1, now_tai, v);
}
