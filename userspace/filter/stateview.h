/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filter/stateview.c: what the state directory alone says about the filter
 * -- for reads when nothing is loaded (they never load).
 */
#ifndef MXS_STATEVIEW_H
#define MXS_STATEVIEW_H

#include <stdint.h>
#include "../../maps/contract.h"

struct ctl;
struct mxs_prefix;

/* The filter's settings and country policies as the state directory has
 * them (what a load puts into the config and country_policy maps). */
int ctl_state_config(struct ctl *c, struct mxs_config *cfg);
/* The policy action of country index @cc: from the loaded filter's map,
 * or from the state directory when nothing is loaded. */
uint8_t ctl_country_action(struct ctl *c, uint32_t cc);
/* The verdict the filter gives @addr once loaded, from the state
 * directory alone: the entries of every list that cover @addr, decided by
 * mxs_decide() of maps/decide.h -- the precedence the compiler builds
 * into the live classifier. 0, or 1 after an error. */
int ctl_state_classify(struct ctl *c, const struct mxs_prefix *addr, uint32_t flags,
		       uint64_t now_tai, struct mxs_verdict *v);
/* The same over the trust, partner and gateway lists alone: exact for
 * those three (they precede every other list), MXS_LIST_NONE for an
 * address on none of them, whatever the later lists say. Cheap where the
 * block list is large: the milter's question (is this client trusted, or
 * which partner is it). 0, or 1 after an error. */
int ctl_state_classify_top(struct ctl *c, const struct mxs_prefix *addr, uint64_t now_tai,
			   struct mxs_verdict *v);

#endif
