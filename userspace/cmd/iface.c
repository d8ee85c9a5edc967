// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Interfaces: attach, detach, restore, unload. A pinned link keeps the
 * program attached after the controller exits (filter/loader.c).
 */
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/json.h"
#include "../core/parse.h"
#include "../filter/loader.h"
#include "../state/recfile.h"
#include "objects.h"

static const char *const xdp_modes[] = { "native", "generic", NULL };

/* Record the SMTP ports (attach --ports) in the settings. 0, or 1. */
static int set_ports(struct ctl *c, const char *ports)
{
	char err[MXS_ERRLEN];
	uint16_t pv[MXS_MAX_PORTS];
	uint32_t np;
	struct recfile s;
	int rc;

	if (parse_ports(ports, pv, &np, err, sizeof(err)))
		return ctl_err("--ports: %s", err);
	if (ctl_read(c, ST_SETTINGS, &s))
		return 1;
	rec_set(s.n ? &s.r[0] : recfile_add(&s), "ports", ports);
	rc = ctl_write(c, ST_SETTINGS, &s);
	recfile_free(&s);
	return rc;
}

/* Load (or upgrade in place) and attach to one interface. */
static int attach_one(struct ctl *c, const char *ifname, const char *mode)
{
	unsigned ifindex = if_nametoindex(ifname);
	int prog_fd, rc;

	if (!ifindex)
		return ctl_err("%s: no such interface in this network namespace", ifname);
	/* a fresh load: after an upgrade the new program replaces the old
	 * one on every link, atomically, over the same maps */
	prog_fd = filter_load(c);
	if (prog_fd < 0)
		return 1;
	rc = filter_attach(c, ifname, ifindex, mode, prog_fd);
	if (!rc) {
		filter_update_links(c, prog_fd);
		rc = filter_iface_state(c, ifname, mode);
	}
	close(prog_fd);
	return rc;
}

static void print_attached(struct ctl *c, const char *ifname, const char *mode)
{
	if (c->json) {
		jw_obj();
		jw_kstr("attached", ifname);
		jw_kstr("xdp_mode", mode);
		jw_end_obj();
	} else {
		printf("attached to %s (%s mode)\n", ifname, mode);
	}
}

static int do_attach(struct ctl *c, const struct cli_args *a)
{
	const char *mode = cli_opt(a, "mode") ? : "native";
	const char *ports = cli_opt(a, "ports");

	if (!if_nametoindex(a->pos[0]))
		return ctl_err("%s: no such interface in this network namespace", a->pos[0]);
	if (filter_prepare(c) || (ports && set_ports(c, ports)))
		return 1;
	if (attach_one(c, a->pos[0], mode))
		return 1;
	print_attached(c, a->pos[0], mode);
	return 0;
}

static int do_detach(struct ctl *c, const struct cli_args *a)
{
	if (ctl_lock(c) || filter_detach(c, a->pos[0]))
		return 1;
	if (c->json) {
		jw_obj();
		jw_kstr("detached", a->pos[0]);
		jw_end_obj();
	} else {
		printf("detached from %s\n", a->pos[0]);
	}
	return 0;
}

/* After a reboot: attach every interface recorded in the state directory,
 * with its recorded mode (each attach fills the maps before attaching). */
static int do_restore(struct ctl *c, const struct cli_args *a)
{
	struct recfile f;
	int rc = 0, n = 0;

	if (filter_prepare(c) || ctl_read(c, ST_IFACES, &f))
		return 1;
	/* a filter left live: first of all, is it what the state says? */
	if (filter_reconcile_live(c)) {
		recfile_free(&f);
		return 1;
	}
	if (c->json) {
		jw_obj();
		jw_key("interfaces");
		jw_arr();
	}
	for (int i = 0; i < f.n; i++) {
		const char *ifname = rec_get(&f.r[i], "iface");
		const char *mode = rec_get(&f.r[i], "mode") ? : "native";
		int failed;

		if (!ifname)
			continue;
		failed = attach_one(c, ifname, mode);
		if (failed)
			rc = 1;
		else
			n++;
		if (c->json) {
			jw_obj();
			jw_kstr("name", ifname);
			jw_kstr("xdp_mode", mode);
			jw_kbool("attached", !failed);
			jw_end_obj();
		}
	}
	recfile_free(&f);
	if (c->json) {
		jw_end_arr();
		jw_ku64("restored", n);
		jw_end_obj();
	} else {
		printf("restored %d interface(s)%s\n", n, rc ? "; some failed (see above)" : "");
	}
	return rc;
}

static int do_unload(struct ctl *c, const struct cli_args *a)
{
	int n;

	if (ctl_lock(c) || filter_unload(c, &n))
		return 1;
	if (c->json) {
		jw_obj();
		jw_kbool("was_loaded", n >= 0);
		jw_ku64("detached", n > 0 ? n : 0);
		jw_kstr("state_dir", c->state_dir);
		jw_end_obj();
	} else if (n < 0) {
		printf("not loaded\n");
	} else {
		printf("unloaded: %d interface(s) detached, pins removed, state kept in %s\n",
		       n, c->state_dir);
	}
	return 0;
}

static const struct cli_opt attach_opts[] = {
	{ "mode", "MODE", "XDP mode: native (in the driver, default) or generic (any "
			  "interface, slower)", xdp_modes },
	{ "ports", "PORTS", "the SMTP ports to filter, comma-separated (default 25,465,587)" },
	{ NULL }
};

static const struct cli_cmd attach_cmds[] = {
	{ NULL, do_attach, "IFACE", 1, 1,
	  "Load the filter if needed (filling it from the state first) and attach it "
	  "to IFACE; attaching again replaces the program in place.", attach_opts,
	  .complete = "@iface" },
	{ 0 }
};
static const struct cli_cmd detach_cmds[] = {
	{ NULL, do_detach, "IFACE", 1, 1, "Detach the filter from IFACE and forget it.",
	  .complete = "@attached" },
	{ 0 }
};
static const struct cli_cmd restore_cmds[] = {
	{ NULL, do_restore, NULL, 0, 0,
	  "Attach every interface recorded in the state, with its mode (at boot; "
	  "upgrades a running filter in place)." },
	{ 0 }
};
static const struct cli_cmd unload_cmds[] = {
	{ NULL, do_unload, NULL, 0, 0,
	  "Detach everywhere and remove every pin; the state is kept." },
	{ 0 }
};

const struct cli_obj obj_attach = {
	"attach", "attach the filter to an interface", attach_cmds, .verb = true,
	.section = SECTION_FILTER,
};
const struct cli_obj obj_detach = {
	"detach", "detach the filter from an interface", detach_cmds, .verb = true,
	.section = SECTION_FILTER,
};
const struct cli_obj obj_restore = {
	"restore", "attach every recorded interface (boot)", restore_cmds, .verb = true,
	.section = SECTION_FILTER,
};
const struct cli_obj obj_unload = {
	"unload", "detach everywhere, remove the pins (state kept)", unload_cmds, .verb = true,
	.section = SECTION_FILTER,
};
