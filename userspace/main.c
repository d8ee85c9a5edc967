// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mxshield [OPTIONS] OBJECT COMMAND [ARGS]: the controller. Global options,
 * then one dispatch table from OBJECT to its handler.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "envelope.h"

static const char usage_text[] =
"usage: mxshield [--json] [--state-dir DIR] [--bpffs-dir DIR] OBJECT COMMAND [ARGS]\n"
"\n"
"  attach IFACE [--mode native|generic] [--ports 25,465,587]\n"
"  detach IFACE\n"
"  unload                          detach everywhere, remove pins (state kept)\n"
"  restore                         attach every interface in the state (boot)\n"
"  status\n"
"  mode enforce|monitor\n"
"  gateway-only on|off\n"
"  block   add CIDR [--action drop|reject|quarantine|spam] [--expires 7d] [--comment TEXT]\n"
"  block   del CIDR | list | flush\n"
"  trust   add CIDR [--expires 12h] [--comment TEXT] | del CIDR | list | flush\n"
"  gateway add CIDR [--comment TEXT] | del CIDR | list | flush\n"
"  block|trust|gateway import FILE[.gz]|- [--action A] [--replace [--allow-empty]]\n"
"                [--skip-invalid]\n"
"  partner add NAME --ip CIDR[,CIDR..] [--domain DOMAIN[,..]] [--lock-domain]\n"
"              [--tls opportunistic|require] [--cert-name NAME] [--skip spam,policy]\n"
"  partner del NAME | list\n"
"  country add CC --action drop|reject|quarantine|spam | del CC | list\n"
"  geo     load FILE.mmdb\n"
"  lookup  IP\n"
"  stats   [reset]\n"
"  tags    list | flush\n"
"  sweep                           remove expired entries\n"
"  state   check                   every state file's health (exit 0: all sound)\n"
"  state   repair LIST             set a damaged file aside, rebuild from what verifies\n"
"\n"
"  Mail-server side (Postfix policy service):\n"
"  policy serve [--listen unix:PATH|inet:127.0.0.1:10040] [--user USER]\n"
"               [--socket-group GROUP] [--max-conn 4096] [--max-per-peer 256]\n"
"               [--request-timeout 10] [--idle-timeout 600]\n"
"  sender|domain add VALUE --list allow|block|trust [--action reject|quarantine|spam]\n"
"                [--expires D] [--comment T]\n"
"  tld|recipient add VALUE [--action A] [--expires D] [--comment T]   (block list)\n"
"  pattern add TEXT|REGEX [--type text|regex] [--action A] [--expires D]\n"
"  sender|domain|tld|recipient|pattern del VALUE [--list L] | list [--list L]\n"
"  sender|domain|tld|recipient|pattern import FILE[.gz]|- [--list L] [--action A]\n"
"                [--replace [--allow-empty]]\n"
"  org-domain add|del DOMAIN | list\n"
"  quarantine list | release ID | delete ID [--postfix-config DIR]\n"
"\n"
"Environment: MXSHIELD_STATE_DIR (default " MXS_DEFAULT_STATE_DIR "),\n"
"             MXSHIELD_DEBUG=1 (show libbpf messages),\n"
"             MXSHIELD_BPFFS_DIR (default " MXS_DEFAULT_BPFFS_DIR ").\n";

typedef int (*handler_fn)(struct ctl *c, int argc, char **argv);

static int do_block(struct ctl *c, int argc, char **argv) { return cmd_iplist(c, "block", argc, argv); }
static int do_trust(struct ctl *c, int argc, char **argv) { return cmd_iplist(c, "trust", argc, argv); }
static int do_gateway(struct ctl *c, int argc, char **argv) { return cmd_iplist(c, "gateway", argc, argv); }
static int do_sender(struct ctl *c, int argc, char **argv) { return cmd_envelope(c, "sender", argc, argv); }
static int do_domain(struct ctl *c, int argc, char **argv) { return cmd_envelope(c, "domain", argc, argv); }
static int do_tld(struct ctl *c, int argc, char **argv) { return cmd_envelope(c, "tld", argc, argv); }
static int do_recipient(struct ctl *c, int argc, char **argv) { return cmd_envelope(c, "recipient", argc, argv); }
static int do_pattern(struct ctl *c, int argc, char **argv) { return cmd_envelope(c, "pattern", argc, argv); }

/* argv handed to a handler starts at the word after OBJECT for objects
 * that take a COMMAND, and at OBJECT itself for verbs (attach IFACE...). */
static const struct {
	const char *name;
	handler_fn fn;
	bool verb;
} objects[] = {
	{ "attach", cmd_attach, true },
	{ "detach", cmd_detach, true },
	{ "unload", cmd_unload, true },
	{ "restore", cmd_restore, true },
	{ "status", cmd_status, true },
	{ "mode", cmd_mode, true },
	{ "gateway-only", cmd_gateway_only, true },
	{ "lookup", cmd_lookup, true },
	{ "stats", cmd_stats, true },
	{ "sweep", cmd_sweep, true },
	{ "block", do_block, false },
	{ "trust", do_trust, false },
	{ "gateway", do_gateway, false },
	{ "partner", cmd_partner, false },
	{ "country", cmd_country, false },
	{ "geo", cmd_geo, false },
	{ "tags", cmd_tags, false },
	{ "sender", do_sender, false },
	{ "domain", do_domain, false },
	{ "tld", do_tld, false },
	{ "recipient", do_recipient, false },
	{ "pattern", do_pattern, false },
	{ "org-domain", cmd_org, false },
	{ "policy", cmd_policy, false },
	{ "quarantine", cmd_quarantine, false },
	{ "state", cmd_state, false },
};

int main(int argc, char **argv)
{
	struct ctl c = {
		.state_dir = getenv("MXSHIELD_STATE_DIR"),
		.bpffs_dir = getenv("MXSHIELD_BPFFS_DIR"),
		.lock_fd = -1,
	};
	int i = 1, rc;

	if (!c.state_dir || !*c.state_dir)
		c.state_dir = MXS_DEFAULT_STATE_DIR;
	if (!c.bpffs_dir || !*c.bpffs_dir)
		c.bpffs_dir = MXS_DEFAULT_BPFFS_DIR;
	for (; i < argc && !strncmp(argv[i], "-", 1); i++) {
		if (!strcmp(argv[i], "--json") || !strcmp(argv[i], "-j")) {
			c.json = true;
		} else if (!strcmp(argv[i], "--state-dir") && i + 1 < argc) {
			c.state_dir = argv[++i];
		} else if (!strcmp(argv[i], "--bpffs-dir") && i + 1 < argc) {
			c.bpffs_dir = argv[++i];
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage_text, stdout);
			return 0;
		} else {
			fputs(usage_text, stderr);
			return ctl_err("unknown or incomplete option '%s'", argv[i]);
		}
	}
	if (i >= argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (!strcmp(argv[i], "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	for (size_t k = 0; k < sizeof(objects) / sizeof(objects[0]); k++) {
		if (strcmp(argv[i], objects[k].name))
			continue;
		if (!objects[k].verb && i + 1 >= argc)
			return ctl_err("%s: missing command (see mxshield help)", argv[i]);
		if (c.json)
			jw_start(stdout);
		if (objects[k].verb)
			rc = objects[k].fn(&c, argc - i, argv + i);
		else
			rc = objects[k].fn(&c, argc - i - 1, argv + i + 1);
		/* commands without a JSON body still print a JSON result */
		return rc;
	}
	fputs(usage_text, stderr);
	return ctl_err("unknown object '%s'", argv[i]);
}
