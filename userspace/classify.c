// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The controller's half of the precedence rule: mxs_decide() from
 * maps/mxshield.h, with its two lookups implemented over the pinned maps.
 * `mxshield lookup` and (later) the policy service answer through here,
 * so they give exactly the verdict the XDP program gives.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "mxs.h"

struct uctx {
	const struct mxs_maps_view *mv;
	const struct mxs_prefix *addr;
	int fds[MXS_LIST_MAX];	/* opened lazily, -1 = not yet */
};

static int mxs_match(void *ctx, __u32 list, __u8 plen, struct mxs_rule *out);
static __u8 mxs_country_action(void *ctx, __u32 cc);
#define MXS_WANT_DECIDE
#include "../maps/mxshield.h"

int mxs_trie_fd(const struct mxs_maps_view *mv, uint32_t list, int v6)
{
	uint32_t id = 0;
	int fd;

	if (bpf_map_lookup_elem(v6 ? mv->lists_v6 : mv->lists_v4, &list, &id))
		return -errno;
	fd = bpf_map_get_fd_by_id(id);
	return fd < 0 ? -errno : fd;
}

static int mxs_match(void *vctx, __u32 list, __u8 plen, struct mxs_rule *out)
{
	struct uctx *c = vctx;
	union {
		struct mxs_lpm_v4 k4;
		struct mxs_lpm_v6 k6;
	} k;

	if (list >= MXS_LIST_MAX)
		return 0;
	if (c->fds[list] == -1)
		c->fds[list] = mxs_trie_fd(c->mv, list, c->addr->v6);
	if (c->fds[list] < 0)
		return 0;
	memset(&k, 0, sizeof(k));
	if (c->addr->v6) {
		k.k6.prefixlen = plen;
		memcpy(k.k6.addr, c->addr->addr, 16);
	} else {
		k.k4.prefixlen = plen;
		memcpy(k.k4.addr, c->addr->addr, 4);
	}
	return bpf_map_lookup_elem(c->fds[list], &k, out) == 0;
}

static __u8 mxs_country_action(void *vctx, __u32 cc)
{
	struct uctx *c = vctx;
	struct mxs_country_policy p = {};

	if (bpf_map_lookup_elem(c->mv->country_policy, &cc, &p))
		return MXS_ACT_NONE;
	return p.action;
}

static void uctx_init(struct uctx *c, const struct mxs_maps_view *mv,
		      const struct mxs_prefix *addr)
{
	c->mv = mv;
	c->addr = addr;
	for (int i = 0; i < MXS_LIST_MAX; i++)
		c->fds[i] = -1;
}

static void uctx_close(struct uctx *c)
{
	for (int i = 0; i < MXS_LIST_MAX; i++)
		if (c->fds[i] >= 0)
			close(c->fds[i]);
}

int mxs_classify(const struct mxs_maps_view *mv, const struct mxs_prefix *addr,
		 uint32_t flags, uint64_t now_tai, struct mxs_verdict *v)
{
	struct uctx c;

	uctx_init(&c, mv, addr);
	mxs_decide(&c, addr->v6 ? 128 : 32, now_tai, flags, v);
	uctx_close(&c);
	return 0;
}

int mxs_list_match(const struct mxs_maps_view *mv, const struct mxs_prefix *addr,
		   uint32_t list, uint64_t now_tai, struct mxs_rule *r)
{
	struct uctx c;
	int found;

	uctx_init(&c, mv, addr);
	found = mxs_match_live(&c, list, addr->v6 ? 128 : 32, now_tai, r);
	uctx_close(&c);
	return found;
}
