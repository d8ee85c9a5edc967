// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* serve: the one long-running service (mta/service.c, docs/service.md). */
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../mta/service.h"
#include "objects.h"

/* The flags over the file's values: flag, section, key. */
static const struct { const char *flag, *section, *key; } flags[] = {
	{ "log", "service", "log" },
	{ "listen", "policy", "listen" },
	{ "sweep-interval", "sweep", "interval" },
	{ "geo-watch", "geo", "watch" },
};

static int do_serve(struct ctl *c, const struct cli_args *a)
{
	static const char *const names[] = { "--log", "--listen", "--sweep-interval",
					     "--geo-watch" };
	struct service_opts o = {
		.config = cli_opt(a, "config"),
		.check = cli_flag(a, "check"),
	};

	if (c->json)
		return cli_usage(a, "serve runs until stopped: it prints no JSON");
	for (unsigned i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		const char *v = cli_opt(a, flags[i].flag);

		if (v)
			o.over[o.nover++] = (struct service_override){ flags[i].section,
				flags[i].key, v, names[i] };
	}
	if (cli_flag(a, "no-policy"))
		o.over[o.nover++] = (struct service_override){ "policy", "enabled", "no",
							       "--no-policy" };
	return service_run(c, &o);
}

static const char *const log_targets[] = { "auto", "journal", "syslog", "stderr", NULL };

static const struct cli_opt serve_opts[] = {
	{ "config", "FILE", "the configuration (default " SERVICE_CONF_DEFAULT ")" },
	{ "check", NULL, "check the configuration, print what it sets, and exit" },
	{ "log", "TARGET", "over [service] log: auto, journal, syslog or stderr", log_targets },
	{ "listen", "SOCKET", "over [policy] listen: unix:PATH or inet:HOST:PORT" },
	{ "no-policy", NULL, "over [policy] enabled: no policy service" },
	{ "sweep-interval", "DURATION", "over [sweep] interval (e.g. 5m)" },
	{ "geo-watch", "FILE", "over [geo] watch: the country database to load on change" },
	{ NULL }
};

static const struct cli_cmd serve_cmds[] = {
	{ NULL, do_serve, NULL, 0, 0,
	  "Run the service of the configuration file until stopped: the policy service, "
	  "expiry sweeps, the country-database watch, the metrics endpoint, the drop-event "
	  "log; SIGHUP reloads it.", serve_opts },
	{ 0 }
};

const struct cli_obj obj_serve = {
	"serve", "the long-running service (policy, sweeps, database watch, metrics, events)", serve_cmds,
	.verb = true, .section = SECTION_MTA,
};
