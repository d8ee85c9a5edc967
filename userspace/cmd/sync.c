// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sync and fleet: the lists a fleet of MX hosts shares through etcd
 * (mta/sync.c, docs/fleet.md). `sync serve` runs one edge's side of it;
 * `sync status` reads this edge's, `fleet status` every edge's as etcd
 * holds them.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/json.h"
#include "../core/log.h"
#include "../mta/sync.h"
#include "../state/recfile.h"
#include "objects.h"

static volatile int stop;

static void on_signal(int sig)
{
	stop = 1;
}

static int do_serve(struct ctl *c, const struct cli_args *a)
{
	static char host[256];
	struct sigaction sa = { .sa_handler = on_signal };
	struct sync_conf cf = {
		.endpoints = cli_opt(a, "endpoints"),
		.prefix = cli_opt(a, "prefix") ? cli_opt(a, "prefix") : "/mxshield/",
		.name = cli_opt(a, "name"),
		.cert = cli_opt(a, "cert"),
		.key = cli_opt(a, "key"),
		.cacert = cli_opt(a, "cacert"),
		.share = cli_opt(a, "share"),
	};
	enum log_target lt = LOG_TO_STDERR;
	char err[256];

	if (c->json)
		return cli_usage(a, "sync serve runs until stopped: it prints no JSON");
	if (!cf.endpoints)
		return cli_usage(a, "--endpoints is required (e.g. http://192.0.2.10:2379)");
	if (cli_opt(a, "log") && log_parse_target(cli_opt(a, "log"), &lt, err, sizeof(err)))
		return cli_usage(a, "--log: %s", err);
	if (!cf.name) {
		if (gethostname(host, sizeof(host)))
			snprintf(host, sizeof(host), "edge");
		cf.name = host;
	}
	if (parse_name(cf.name, err, sizeof(err)))
		return cli_usage(a, "--name: %s", err);
	log_open(lt, "mxshield-sync");
	ctl_errors_to_log(true);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return sync_run(c, &cf, &stop);
}

static void print_status(const struct sync_status *st, double now)
{
	printf("edge %s: revision %lld, %s", st->name, (long long)st->rev,
	       st->connected ? "connected" : "not connected");
	if (st->endpoint[0])
		printf(" (%s)", st->endpoint);
	printf(", lag %.1f s, digest %016llx\n", st->lag,
	       (unsigned long long)st->digest);
	printf("changes applied from the fleet %llu, sent %llu, full reads %llu\n",
	       (unsigned long long)st->changes_in, (unsigned long long)st->changes_out,
	       (unsigned long long)st->full_reads);
	if (st->error[0])
		printf("last error: %s\n", st->error);
}

static void json_status(const struct sync_status *st, double now)
{
	char d[32];

	snprintf(d, sizeof(d), "%016llx", (unsigned long long)st->digest);
	jw_kstr("name", st->name);
	jw_ki64("revision", st->rev);
	jw_kbool("connected", st->connected);
	jw_kstr("endpoint", st->endpoint);
	jw_kdouble("lag", st->lag);
	jw_kdouble("age", now - st->time);
	jw_kstr("digest", d);
	jw_ku64("changes_in", st->changes_in);
	jw_ku64("changes_out", st->changes_out);
	jw_ku64("full_reads", st->full_reads);
	jw_kstr("error", st->error);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int do_status(struct ctl *c, const struct cli_args *a)
{
	struct sync_status st;
	int r = sync_status_read(c, &st);

	if (r < 0)
		return ctl_err("%s/%s: unreadable", c->state_dir, ST_SYNC_STATUS);
	if (r > 0) {
		if (c->json) {
			jw_obj();
			jw_kbool("member", false);
			jw_end_obj();
		} else {
			printf("not a fleet member: 'mxshield sync serve' has not run here\n");
		}
		return 0;
	}
	if (c->json) {
		jw_obj();
		jw_kbool("member", true);
		json_status(&st, now_s());
		jw_end_obj();
	} else {
		print_status(&st, now_s());
	}
	return 0;
}

static int fleet_conf(struct ctl *c, const struct cli_args *a, struct recfile *f,
		      struct sync_conf *cf)
{
	int r = sync_conf_load(c, f, cf);

	if (r < 0)
		return 1;
	if (cli_opt(a, "endpoints"))
		cf->endpoints = cli_opt(a, "endpoints");
	if (cli_opt(a, "prefix"))
		cf->prefix = cli_opt(a, "prefix");
	if (!cf->prefix)
		cf->prefix = "/mxshield/";
	if (!cf->endpoints)
		return ctl_err("no etcd endpoints: give --endpoints, or run 'mxshield sync serve' "
			       "on this host first");
	return 0;
}

static int do_fleet_status(struct ctl *c, const struct cli_args *a)
{
	struct recfile f = {};
	struct sync_conf cf;
	struct fleet_edge *ed = NULL;
	int n = 0, rc = 1;
	int64_t rev = 0;
	char err[512];
	bool agree = true;
	double now = now_s();

	if (fleet_conf(c, a, &f, &cf))
		goto out;
	if (fleet_read(&cf, &ed, &n, &rev, err, sizeof(err))) {
		ctl_err("etcd: %s", err);
		goto out;
	}
	for (int i = 1; i < n; i++)
		if (ed[i].st.digest != ed[0].st.digest)
			agree = false;
	if (c->json) {
		jw_obj();
		jw_ki64("revision", rev);
		jw_ki64("edges", n);
		jw_kbool("agree", agree && n > 0);
		jw_key("members");
		jw_arr();
		for (int i = 0; i < n; i++) {
			jw_obj();
			json_status(&ed[i].st, now);
			jw_end_obj();
		}
		jw_end_arr();
		jw_end_obj();
	} else {
		printf("%-20s %10s %-9s %8s %-16s %s\n", "EDGE", "REVISION", "CONNECTED", "LAG",
		       "DIGEST", "ERROR");
		for (int i = 0; i < n; i++)
			printf("%-20s %10lld %-9s %7.1fs %016llx %s\n", ed[i].st.name,
			       (long long)ed[i].st.rev, ed[i].st.connected ? "yes" : "no",
			       ed[i].st.lag, (unsigned long long)ed[i].st.digest, ed[i].st.error);
		if (!n)
			printf("no edge connected under %s (etcd revision %lld)\n", cf.prefix,
			       (long long)rev);
		else
			printf("%d edge%s at etcd revision %lld: %s\n", n, n == 1 ? "" : "s",
			       (long long)rev, agree ? "the lists agree" : "the lists DIFFER");
	}
	rc = 0;
out:
	free(ed);
	recfile_free(&f);
	return rc;
}

static const char *const log_targets[] = { "stderr", "journal", "syslog", NULL };

static const struct cli_opt serve_opts[] = {
	{ "endpoints", "URL[,URL..]", "etcd's client URLs (http:// or https://), each member" },
	{ "prefix", "PATH", "the fleet's keys in etcd (default /mxshield/)" },
	{ "name", "NAME", "this edge's name in the fleet (default the host name)" },
	{ "cert", "FILE", "TLS client certificate (PEM) for etcd" },
	{ "key", "FILE", "its private key (PEM)" },
	{ "cacert", "FILE", "the CA that signed etcd's server certificates" },
	{ "share", "LIST[,LIST..]", "the lists and files shared (default block,trust,gateway,"
	  "block.auto,block.dnsbl,partners,countries,envelope)" },
	{ "log", "TARGET", "stderr (default), journal or syslog", log_targets },
	{ NULL }
};

static const struct cli_opt fleet_opts[] = {
	{ "endpoints", "URL[,URL..]", "etcd's client URLs (default: those sync serve ran with)" },
	{ "prefix", "PATH", "the fleet's keys in etcd (default: sync serve's, or /mxshield/)" },
	{ NULL }
};

static const struct cli_cmd sync_cmds[] = {
	{ "serve", do_serve, NULL, 0, 0,
	  "Share this edge's lists with the fleet through etcd until stopped: apply every "
	  "change the fleet makes, send this edge's own.", serve_opts },
	{ "status", do_status, NULL, 0, 0,
	  "This edge's sync: applied revision, lag, connection, last error." },
	{ 0 }
};

static const struct cli_cmd fleet_cmds[] = {
	{ "status", do_fleet_status, NULL, 0, 0,
	  "Every connected edge, its applied revision and lag, and whether their lists agree.",
	  fleet_opts },
	{ 0 }
};

const struct cli_obj obj_sync = {
	"sync", "this edge's share of the fleet's lists (etcd)", sync_cmds,
	.dflt = "status", .section = SECTION_STATE,
};

const struct cli_obj obj_fleet = {
	"fleet", "the edges sharing the lists, as etcd sees them", fleet_cmds,
	.dflt = "status", .section = SECTION_STATE,
};
