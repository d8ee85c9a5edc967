// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The CLI objects in the order of `mxshield help`, and `mxshield gen`. */
#include <stdio.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "objects.h"

/* mxshield gen man|completion: the man page and the bash completion, from
 * the tables (the Makefile builds both). */
static int do_gen_man(struct ctl *c, const struct cli_args *a)
{
	cli_man(stdout);
	return 0;
}

static int do_gen_completion(struct ctl *c, const struct cli_args *a)
{
	cli_completion(stdout);
	return 0;
}

static const struct cli_cmd gen_cmds[] = {
	{ "man", do_gen_man, NULL, 0, 0, "Print mxshield(8) in roff." },
	{ "completion", do_gen_completion, NULL, 0, 0, "Print the bash completion script." },
	{ 0 }
};

const struct cli_obj obj_gen = {
	"gen", "the man page and the bash completion, generated from the command tables",
	gen_cmds, .section = "Building",
};

/* The objects, in the order of `mxshield help`; the IP lists come from
 * their registry (MXS_IP_LISTS), each row one object. */
static const struct cli_obj *const before_lists[] = {
	&obj_attach, &obj_detach, &obj_restore, &obj_unload, &obj_mode, &obj_gateway_only,
};
static const struct cli_obj *const after_lists[] = {
	&obj_feed, &obj_partner, &obj_country, &obj_geo,
	&obj_status, &obj_lookup, &obj_stats, &obj_top, &obj_events, &obj_tags, &obj_metrics,
	&obj_state, &obj_sweep, &obj_sync, &obj_fleet,
	&obj_serve, &obj_policy, &obj_envelope[0], &obj_envelope[1], &obj_envelope[2], &obj_envelope[3],
	&obj_envelope[4], &obj_org, &obj_dnsbl, &obj_milter, &obj_content, &obj_auto, &obj_language,
	&obj_route, &obj_quarantine,
	&obj_gen,
};
#define COUNT(a) (int)(sizeof(a) / sizeof((a)[0]))
static const struct cli_obj *objects[COUNT(before_lists) + MXS_NIP_LISTS + COUNT(after_lists)];

void cli_list_objects(void)
{
	int n = 0;

	for (int i = 0; i < COUNT(before_lists); i++)
		objects[n++] = before_lists[i];
	for (int i = 0; i < MXS_NIP_LISTS; i++)
		objects[n++] = &obj_iplist[i];
	for (int i = 0; i < COUNT(after_lists); i++)
		objects[n++] = after_lists[i];
	cli_set_objects(objects, n);
}

