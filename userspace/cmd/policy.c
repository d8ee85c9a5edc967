// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* policy serve: the Postfix policy service in the foreground. */
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../mta/policy_service.h"
#include "objects.h"

static int do_serve(struct ctl *c, const struct cli_args *a)
{
	struct policy_opts o = {
		.listen = cli_opt(a, "listen"),
		.user = cli_opt(a, "user"),
		.socket_group = cli_opt(a, "socket-group"),
		.request_timeout = cli_opt(a, "request-timeout"),
		.idle_timeout = cli_opt(a, "idle-timeout"),
		.max_conn = cli_opt(a, "max-conn"),
		.max_per_peer = cli_opt(a, "max-per-peer"),
	};

	return policy_serve(c, &o);
}

static const struct cli_opt serve_opts[] = {
	{ "listen", "SOCKET", "unix:PATH or inet:HOST:PORT (default inet:127.0.0.1:10040)" },
	{ "user", "USER", "after binding, run as USER with no capability" },
	{ "socket-group", "GROUP", "the group of a unix: socket (default postfix), mode 0660" },
	{ "request-timeout", "SECONDS", "a started request must end within this (default 10)" },
	{ "idle-timeout", "SECONDS", "close a connection idle this long (default 600)" },
	{ "max-conn", "N", "connections at most (default 4096; the oldest silent one goes)" },
	{ "max-per-peer", "N", "inet: connections of one peer address at most (default 256)" },
	{ NULL }
};

static const struct cli_cmd policy_cmds[] = {
	{ "serve", do_serve, NULL, 0, 0,
	  "Answer Postfix's policy requests (check_policy_service) until killed: the "
	  "filter's tags, the envelope lists, partners, TLS rules.", serve_opts },
	{ 0 }
};

const struct cli_obj obj_policy = {
	"policy", "the Postfix policy service", policy_cmds, .section = SECTION_MTA,
};
