// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The controller's classifier: the compiled walk and mxs_finish() from
 * maps/walk.h -- the code the XDP program runs -- over the live build
 * in the pinned maps, element by element through bpf(2). `mxshield lookup`
 * and the policy service answer through here, so they give exactly the
 * verdict the XDP program gives.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "classify.h"
#include "install.h"

struct uctx {
	const struct mxs_maps_view *mv;
	int fd[4];			/* dir, node, leaf, rec of the live build */
	struct mxs_cline line;
	struct mxs_cnode node;
	struct mxs_crec rec;
	__u64 now;			/* CLOCK_TAI ns */
};

static const __u32 *mxs_c_dir(void *ctx, __u32 i);
static const struct mxs_cnode *mxs_c_node(void *ctx, __u32 i);
static const __u32 *mxs_c_leaf(void *ctx, __u32 i);
static struct mxs_crec *mxs_c_rec(void *ctx, __u32 i);
static __u8 mxs_country_action(void *ctx, __u32 cc);
static __u64 mxs_c_now(void *ctx);
#include "../../maps/walk.h"

static const __u32 *line_at(struct uctx *c, int fd, __u32 i)
{
	__u32 k = i / MXS_CLINE;

	if (bpf_map_lookup_elem(fd, &k, &c->line))
		return NULL;
	return &c->line.v[i % MXS_CLINE];
}

static const __u32 *mxs_c_dir(void *vctx, __u32 i)
{
	struct uctx *c = vctx;

	return line_at(c, c->fd[0], i);
}

static const __u32 *mxs_c_leaf(void *vctx, __u32 i)
{
	struct uctx *c = vctx;

	return line_at(c, c->fd[2], i);
}

static const struct mxs_cnode *mxs_c_node(void *vctx, __u32 i)
{
	struct uctx *c = vctx;

	return bpf_map_lookup_elem(c->fd[1], &i, &c->node) ? NULL : &c->node;
}

static struct mxs_crec *mxs_c_rec(void *vctx, __u32 i)
{
	struct uctx *c = vctx;

	return bpf_map_lookup_elem(c->fd[3], &i, &c->rec) ? NULL : &c->rec;
}

static __u64 mxs_c_now(void *vctx)
{
	return ((struct uctx *)vctx)->now;
}

static __u8 mxs_country_action(void *vctx, __u32 cc)
{
	struct uctx *c = vctx;
	struct mxs_country_policy p = {};

	if (bpf_map_lookup_elem(c->mv->country_policy, &cc, &p))
		return MXS_ACT_NONE;
	return p.action;
}

int (*mxs_inner_fd)(int outer, __u32 slot) = cmaps_inner_fd;

int mxs_classify(const struct mxs_maps_view *mv, const struct mxs_prefix *addr,
		 uint32_t flags, uint64_t now_tai, struct mxs_verdict *v)
{
	int outer[4];
	struct uctx c = { .mv = mv, .fd = { -1, -1, -1, -1 }, .now = now_tai };
	__u32 zero = 0, gen = 0, slot;
	__u64 hi = 0, lo = 0;
	int ok = 1;

	cmaps_outer(mv, outer);
	bpf_map_lookup_elem(mv->c_gen, &zero, &gen);
	slot = MXS_CSLOT(gen & 1, addr->v6);
	for (int i = 0; i < 4; i++) {
		c.fd[i] = mxs_inner_fd(outer[i], slot);
		ok &= c.fd[i] >= 0;
	}
	for (int i = 0; i < 8; i++)
		hi = hi << 8 | addr->addr[i];
	for (int i = 8; i < 16; i++)
		lo = lo << 8 | addr->addr[i];
	if (!addr->v6)
		hi &= 0xffffffff00000000ULL, lo = 0;
	if (ok)
		mxs_c_classify(&c, addr->v6, hi, lo, flags, v, &(__u32){ 0 });
	else
		mxs_finish(&c, NULL, flags, v);	/* nothing compiled */
	for (int i = 0; i < 4; i++)
		if (c.fd[i] >= 0)
			close(c.fd[i]);
	return ok ? 0 : -ENOENT;
}
