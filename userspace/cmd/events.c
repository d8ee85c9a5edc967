// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * events: the data plane's drop events (maps/contract.h, "drop events"),
 * read from the pinned ring buffer and printed as text lines, or JSON
 * lines under --json, until SIGINT or SIGTERM (or --seconds). The kernel
 * samples and caps them; --rate and --per-source change the cap first (two
 * settings: kept in the state directory, applied to the live filter at
 * once, reapplied by restore).
 *
 * A read: it never loads, exits 3 when nothing is loaded, and holds no
 * lock on the state directory while it streams. One reader at a time: the
 * ring has one read position, so two readers (this and `mxshield serve`'s
 * [events]) share the events out between them (a few twice), and neither
 * has them all.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/json.h"
#include "../core/parse.h"
#include "../filter/dropevent.h"
#include "../filter/loader.h"
#include "objects.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

struct reader {
	struct ctl *c;
	unsigned long long n;
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct reader *r = ctx;
	struct drop_event e;
	char line[512];

	if (drop_event_decode(data, size, &e))
		return 0;	/* not ours: a record of another size */
	r->n++;
	if (r->c->json) {
		jw_start(stdout);
		jw_obj();
		jw_kstr("time", e.time);
		jw_ki64("time_ns", e.unix_ns);
		jw_ku64("ifindex", e.ifindex);
		jw_kstr("interface", e.iface[0] ? e.iface : NULL);
		jw_kstr("source", e.source[0] ? e.source : NULL);
		jw_key("port");
		if (e.port)
			jw_u64(e.port);
		else
			jw_null();
		jw_kstr("reason", e.reason);
		jw_kstr("action", e.action);
		jw_kbool("dropped", e.dropped);
		jw_kstr("list", e.list);
		jw_kstr("rule", e.rule[0] ? e.rule : NULL);
		jw_kstr("country", e.country[0] ? e.country : NULL);
		jw_kbool("syn", e.syn);
		jw_end_obj();
		return 0;
	}
	/* the list: the reason's, or JSON's "list" */
	drop_event_line(&e, line, sizeof(line));
	printf("%s %s\n", e.time, line);
	return 0;
}

/* --rate, --per-source: the settings, on a loaded filter only (nothing is
 * loaded for them). 0, 1 after an error, or MXS_EXIT_NOT_LOADED. */
static int set_cap(struct ctl *c, const char *rate, const char *ps)
{
	if (ctl_lock(c))
		return 1;
	if (ctl_open_pinned(c))
		return ctl_not_loaded(c, "no events (nothing changed)");
	if (c->fd_evcfg < 0)
		return ctl_err("the loaded filter predates drop events: 'mxshield restore' "
			       "upgrades it in place");
	if (rate && filter_set_setting(c, "event_rate", rate))
		return 1;
	if (ps && filter_set_setting(c, "event_per_source", ps))
		return 1;
	return 0;
}

static void unlock(struct ctl *c)
{
	/* a reader that streams for days must not hold back every change */
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	c->lock_fd = -1;
}

static int stream(struct ctl *c, double seconds)
{
	struct reader r = { .c = c };
	struct sigaction sa = { .sa_handler = on_signal };	/* no SA_RESTART */
	struct ring_buffer *rb;
	struct timespec t0, t;
	int fd, err = 0;

	if (ctl_open_ro(c))
		return 1;
	if (!c->loaded)
		return ctl_not_loaded(c, "no events");
	fd = filter_open_events(c);
	unlock(c);
	if (fd == -ENOENT)
		return ctl_err("the loaded filter predates drop events: 'mxshield restore' "
			       "upgrades it in place");
	if (fd < 0)
		return ctl_err("%s/events: %s", c->bpffs_dir, bpf_errstr(fd));
	rb = ring_buffer__new(fd, on_event, &r, NULL);
	if (!rb) {
		err = -errno;
		close(fd);
		return ctl_err("reading the events ring buffer: %s", bpf_errstr(err));
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop) {
		int ms = 250;

		if (seconds >= 0) {
			double left;

			clock_gettime(CLOCK_MONOTONIC, &t);
			left = seconds - (t.tv_sec - t0.tv_sec) - (t.tv_nsec - t0.tv_nsec) / 1e9;
			if (left <= 0)
				break;
			if (left * 1000 < ms)
				ms = (int)(left * 1000) + 1;
		}
		err = ring_buffer__poll(rb, ms);
		fflush(stdout);
		if (err == -EINTR) {
			err = 0;
			continue;
		}
		if (err < 0)
			break;
		err = 0;
	}
	ring_buffer__free(rb);
	close(fd);
	if (err)
		return ctl_err("reading the events ring buffer: %s", bpf_errstr(err));
	return 0;
}

static int do_events(struct ctl *c, const struct cli_args *a)
{
	const char *rate = cli_opt(a, "rate"), *ps = cli_opt(a, "per-source");
	const char *secs = cli_opt(a, "seconds");
	double seconds = -1;
	int rc;

	if (rate) {
		char *end;
		unsigned long v;

		errno = 0;
		v = strtoul(rate, &end, 10);
		if (!*rate || *end || rate[0] == '-' || errno || v > MXS_EV_RATE_MAX)
			return cli_usage(a, "--rate '%s': events a second, 0 (none) to %u", rate,
					 MXS_EV_RATE_MAX);
	}
	if (secs) {
		char *end;

		seconds = strtod(secs, &end);
		if (!*secs || *end || !(seconds >= 0) || seconds > 1e9)
			return cli_usage(a, "--seconds '%s': a number of seconds, 0 or more", secs);
	}
	if (rate || ps) {
		rc = set_cap(c, rate, ps);
		if (rc)
			return rc;
		unlock(c);
		if (seconds == 0) {
			if (c->json) {
				jw_obj();
				if (rate)
					jw_ku64("event_rate", strtoul(rate, NULL, 10));
				if (ps)
					jw_kbool("event_per_source", !strcmp(ps, "on"));
				jw_end_obj();
			} else {
				if (rate)
					printf("events: at most %s a second\n", rate);
				if (ps)
					printf("events: one per source and second %s\n", ps);
			}
			return 0;
		}
	}
	return stream(c, seconds);
}

static const char *const on_off[] = { "on", "off", NULL };

static const struct cli_opt events_opts[] = {
	{ "rate", "N", "first set the cap: at most N events a second, all CPUs together "
	  "(0: none; default 100); kept in the state" },
	{ "per-source", "on|off", "first set whether a source gets at most one event a "
	  "second (default on); kept in the state", on_off },
	{ "seconds", "S", "stop after S seconds (0 with --rate or --per-source: only set)" },
	{ 0 }
};

static const struct cli_cmd events_cmds[] = {
	{ NULL, do_events, NULL, 0, 0,
	  "Stream the packets the filter dropped or tagged, sampled and capped in the "
	  "kernel, one line each (a JSON object a line with --json), until SIGINT or "
	  "SIGTERM.", events_opts, .stream = true },
	{ 0 }
};

const struct cli_obj obj_events = {
	"events", "the drop events of the data plane, as they happen", events_cmds,
	.verb = true, .section = SECTION_READ,
	.more = "Each event says when (UTC), on which interface, from which source and to "
		"which port, the reason, the deciding list and entry, the country when "
		"the country policy decided, the action and whether the packet was "
		"dropped (not in monitor mode, not a tag), and whether it opened a "
		"connection (a SYN). The kernel writes at most --rate events a second "
		"and, with --per-source on, one per source and second; `mxshield stats` "
		"counts the events emitted and those suppressed.",
};
