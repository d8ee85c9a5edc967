// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * metrics serve, metrics show: the Prometheus endpoint in the foreground,
 * and the same document once on stdout. Both only read (filter/metrics.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/httpd.h"
#include "../filter/metrics.h"
#include "objects.h"

static int do_show(struct ctl *c, const struct cli_args *a)
{
	if (c->json)
		return cli_usage(a, "the metrics are Prometheus text only ('status --json' and "
				 "'stats --json' have the same figures in JSON)");
	metrics_write(c, stdout);
	/* a part that could not be read is in the document (mxshield_up 0)
	 * and on stderr: the command did its job, like a scrape */
	return fflush(stdout) ? ctl_err("writing: %m") : 0;
}

/* Where to listen: --listen, else the socket systemd passed, else the
 * default. The fd, or -1 after an error. */
static int listen_fd(const struct cli_args *a, char *how, size_t howlen)
{
	const char *spec = cli_opt(a, "listen");
	char err[MXS_ERRLEN] = "";
	int fd;

	if (!spec && getenv("LISTEN_FDS")) {
		fd = httpd_activated("metrics", err, sizeof(err));
		if (fd >= 0) {
			snprintf(how, howlen, "a socket from systemd");
			return fd;
		}
		if (fd == -2)
			return ctl_err("%s", err), -1;
		/* LISTEN_FDS for another process (LISTEN_PID): ours to bind */
	}
	fd = httpd_listen(spec ? spec : MXS_METRICS_LISTEN, err, sizeof(err));
	if (fd < 0)
		return ctl_err("%s", err), -1;
	snprintf(how, howlen, "%s", spec ? spec : MXS_METRICS_LISTEN);
	return fd;
}

static int do_serve(struct ctl *c, const struct cli_args *a)
{
	struct metrics_src src = { .c = c };
	char err[MXS_ERRLEN], how[64], addr[80];
	struct httpd *h;
	int fd, sig;

	if (c->json)
		return cli_usage(a, "metrics serve has no JSON output (it serves Prometheus text)");
	fd = listen_fd(a, how, sizeof(how));
	if (fd < 0)
		return 1;
	httpd_sockname(fd, addr, sizeof(addr));
	h = httpd_start(fd, MXS_METRICS_PATH, MXS_METRICS_CTYPE, metrics_body, &src, err,
			sizeof(err));
	if (!h)
		return ctl_err("%s", err);
	fprintf(stderr, "mxshield: metrics on http://%s%s (%s), state %s, pins %s\n", addr,
		MXS_METRICS_PATH, how, c->state_dir, c->bpffs_dir);
	fflush(stderr);
	sig = httpd_serve(h);
	httpd_stop(h);
	fprintf(stderr, "mxshield: metrics: stopped (%s)\n", strsignal(sig));
	return 0;
}

static const struct cli_opt serve_opts[] = {
	{ "listen", "ADDR:PORT",
	  "where to listen: 127.0.0.1:9456 by default, [::1]:9456 for IPv6; without it a "
	  "socket passed by systemd (socket activation) is used" },
	{ NULL }
};

static const struct cli_cmd metrics_cmds[] = {
	{ "show", do_show, NULL, 0, 0,
	  "Print the metrics once, in Prometheus's text format (for a textfile collector, "
	  "or to look)." },
	{ "serve", do_serve, NULL, 0, 0,
	  "Serve the metrics to Prometheus on GET /metrics until killed (reads only: "
	  "never loads; answers with mxshield_filter_loaded 0 when nothing is loaded).",
	  serve_opts },
	{ 0 }
};

const struct cli_obj obj_metrics = {
	"metrics", "the Prometheus metrics endpoint", metrics_cmds, .section = SECTION_READ,
	.dflt = "show",
};
