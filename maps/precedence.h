/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The precedence rule, written once:
 *
 *   trust > partner > gateway > [gateway-only] > block > country > default
 *
 * mxs_finish() turns the winning entry of an address (the live entry of the
 * first list in enum mxs_list order that covers it) into its verdict. Both
 * classifiers end in it: the reference (decide.h) and the compiled walk
 * (walk.h); the compiler (userspace/filter/compile.c) calls the reference
 * per address range, so the compiled build holds exactly this rule.
 *
 * The includer first declares
 *
 *   static __u8 mxs_country_action(void *ctx, __u32 cc);
 *
 * which returns the policy action of a country index.
 */
#ifndef MXS_PRECEDENCE_H
#define MXS_PRECEDENCE_H

#include "contract.h"

#define MXSHIELD_FINISH_H

/* The verdict of a winning entry (r), or of no entry (r == NULL). */
static __always_inline void mxs_finish(void *ctx, const struct mxs_rule *r,
				       __u32 flags, struct mxs_verdict *v)
{
	__builtin_memset(v, 0, sizeof(*v));
	v->list = MXS_LIST_NONE;
	v->country = MXS_COUNTRY_NONE;

	if (r && r->list <= MXS_LIST_GATEWAY) {
		v->action = MXS_ACT_NONE;
		v->list = r->list;
		v->reason = MXS_R_TRUST + r->list;	/* same order */
		goto matched;
	}
	if (flags & MXS_F_GATEWAY_ONLY) {
		v->action = MXS_ACT_DROP;
		v->reason = MXS_R_GATEWAY_ONLY;
		return;
	}
	if (r && r->list == MXS_LIST_BLOCK) {
		v->action = r->action ? r->action : MXS_ACT_DROP;
		v->list = MXS_LIST_BLOCK;
		v->reason = MXS_R_BLOCK;
		goto matched;
	}
	if (r && r->list == MXS_LIST_COUNTRY && r->ref < MXS_COUNTRY_SLOTS) {
		__u8 act = mxs_country_action(ctx, r->ref);

		v->country = r->ref;
		if (act != MXS_ACT_NONE && act < MXS_ACT_MAX) {
			v->action = act;
			v->list = MXS_LIST_COUNTRY;
			v->reason = MXS_R_COUNTRY;
			goto matched;
		}
	}
	v->action = MXS_ACT_NONE;
	v->reason = MXS_R_DEFAULT;
	return;
matched:
	v->rule_plen = r->prefixlen;
	v->ref = r->ref;
	v->expires = r->expires;
}


#endif /* MXS_PRECEDENCE_H */
