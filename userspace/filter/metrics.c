// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The metrics (see metrics.h; every family in docs/metrics.md). Gathered
 * first, then written, because mxshield_up (the first family) says
 * whether every part could be read.
 *
 * Names follow Prometheus's conventions: base units (seconds, bytes),
 * counters end in _total, times are unix timestamps named
 * *_timestamp_seconds (an age is time() - x in PromQL, and a timestamp
 * does not go stale between two scrapes). The counters of every reason and
 * verdict are written even at zero: a series that appears only with its
 * first packet hides that packet from rate() and increase().
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "../core/ctl.h"
#include "../core/parse.h"
#include "../state/ipstore.h"
#include "../state/recfile.h"
#include "build.h"
#include "geo.h"
#include "install.h"
#include "loader.h"
#include "counters.h"
#include "feed.h"
#include "metrics.h"
#include "stateview.h"

/* ------------------------------------------------------------ writers */

/* HELP text: backslash and newline escaped. */
static void put_help(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

/* A label value: backslash, double quote and newline escaped. */
static void put_label_value(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '"')
			fputs("\\\"", out);
		else if (*s == '\\' || *s == '\n')
			fputs(*s == '\\' ? "\\\\" : "\\n", out);
		else
			fputc(*s, out);
	}
}

void metrics_head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s ", name);
	put_help(out, help);
	fprintf(out, "\n# TYPE %s %s\n", name, type);
}

static void put_labels(FILE *out, const char *name, va_list ap)
{
	const char *k;
	int n = 0;

	fputs(name, out);
	while ((k = va_arg(ap, const char *))) {
		const char *v = va_arg(ap, const char *);

		fprintf(out, "%s%s=\"", n++ ? "," : "{", k);
		put_label_value(out, v ? v : "");
		fputc('"', out);
	}
	if (n)
		fputc('}', out);
}

void metrics_sample(FILE *out, const char *name, double v, ...)
{
	va_list ap;

	va_start(ap, v);
	put_labels(out, name, ap);
	va_end(ap);
	fprintf(out, " %.15g\n", v);	/* a unix time to the ms fits */
}

void metrics_sample_u64(FILE *out, const char *name, uint64_t v, ...)
{
	va_list ap;

	va_start(ap, v);
	put_labels(out, name, ap);
	va_end(ap);
	fprintf(out, " %llu\n", (unsigned long long)v);
}

/* ------------------------------------------------------------ gathering */


/* Everything one exposition shows. */
struct snap {
	bool ok;			/* every part read */
	bool busy;			/* lock_nowait, and a change held the lock */
	bool loaded;
	struct mxs_config cfg;
	bool have_cfg;
	/* counters (loaded) */
	struct mxs_counter stat[MXS_STAT_SLOTS];
	struct mxs_counter country[MXS_COUNTRY_SLOTS];
	/* new connections and drop events (a filter loaded by an older
	 * mxshield has neither until restore upgrades it) */
	bool have_conns, have_ev;
	uint64_t conns[MXS_CONN_SLOTS];
	uint64_t country_conns[MXS_COUNTRY_SLOTS];
	struct mxs_ev_config evcfg;
	struct ev_counts ev;
	/* interfaces: recorded in the state, or live links */
	struct { char name[IF_NAMESIZE]; bool attached; } ifs[MXS_MAX_LINKS];
	int nifs;
	/* builds (loaded) */
	bool have_build;
	uint32_t build;			/* c_gen */
	int current;			/* ctl_build_current: 1, 0, -1 unknown */
	struct { bool ok; uint32_t patches; double used; } fill[2];
	bool have_last;
	struct last_build last;
	long memory;
	uint64_t compiled[2];
	/* the country database */
	bool have_geo, have_geo_meta;
	double geo_mtime;
	struct geo_meta geo;
	/* feeds: configuration and what their refreshes found */
	struct feed *feeds;
	int nfeeds;
};

/* A counter map summed over the CPUs, or 1 after an error naming @what. */
static int read_counters(int fd, uint32_t n, struct mxs_counter *out, const char *what)
{
	int err = counters_sum(fd, n, out);

	return err ? ctl_err("reading the %s: %s", what, bpf_errstr(err)) : 0;
}

static int read_u64s(int fd, uint32_t n, uint64_t *out, const char *what)
{
	int err = counters_sum_u64(fd, n, out);

	return err ? ctl_err("reading the %s: %s", what, bpf_errstr(err)) : 0;
}

/* The new-connection counters and the drop events' (stats has the same). */
static int gather_conns(struct ctl *c, struct snap *s)
{
	__u32 zero = 0;
	int err;

	if (c->fd_conns >= 0 && c->fd_cconns >= 0) {
		if (read_u64s(c->fd_conns, MXS_CONN_SLOTS, s->conns, "connection counters") ||
		    read_u64s(c->fd_cconns, MXS_COUNTRY_SLOTS, s->country_conns,
			      "connection counters"))
			return 1;
		s->have_conns = true;
	}
	if (c->fd_evstate < 0 || c->fd_evcfg < 0)
		return 0;
	if (bpf_map_lookup_elem(c->fd_evcfg, &zero, &s->evcfg))
		return ctl_err("reading the drop events' settings: %s", bpf_errstr(-errno));
	err = counters_events(c->fd_evstate, &s->ev);
	if (err)
		return ctl_err("reading the drop events' counters: %s", bpf_errstr(err));
	s->have_ev = true;
	return 0;
}

static int gather_ifaces(struct ctl *c, struct snap *s)
{
	char links[MXS_MAX_LINKS][IF_NAMESIZE];
	int n = s->loaded ? filter_links(c, links, MXS_MAX_LINKS) : 0;
	struct recfile ifs;

	if (ctl_read(c, ST_IFACES, &ifs))
		return 1;
	/* the interfaces the state records (restore attaches them) ... */
	for (int i = 0; i < ifs.n && s->nifs < MXS_MAX_LINKS; i++) {
		const char *name = rec_get(&ifs.r[i], "iface");

		if (name)
			snprintf(s->ifs[s->nifs++].name, IF_NAMESIZE, "%s", name);
	}
	recfile_free(&ifs);
	/* ... and the live links: attached while the interface exists */
	for (int i = 0; i < n; i++) {
		struct link_state ls;
		int j;

		for (j = 0; j < s->nifs && strcmp(s->ifs[j].name, links[i]); j++)
			;
		if (j == s->nifs) {
			if (s->nifs == MXS_MAX_LINKS)
				continue;
			snprintf(s->ifs[s->nifs++].name, IF_NAMESIZE, "%s", links[i]);
		}
		if (filter_link(c, links[i], &ls) == 0) {
			s->ifs[j].attached = ls.ifindex != 0;
			close(ls.fd);
		}
	}
	return 0;
}

/*
 * List sizes come from the state (expired entries not counted), as status
 * shows them; counting means reading every list, and the country list
 * walks the database. They change only when the state does or an entry
 * expires, so a server keeps them until its stamp (ctl_state_stamp: cheap,
 * headers and journal tails) changes or the earliest expiry passes.
 */
static struct {
	bool valid;
	uint64_t seq[MXS_NIP_LISTS];
	uint32_t other;
	int64_t until;			/* unix seconds; 0: no expiry */
	char dir[PATH_MAX];
	bool have[MXS_LIST_MAX];
	uint64_t n[MXS_LIST_MAX][2];
} sizes;

static int gather_sizes(struct ctl *c)
{
	uint64_t seq[MXS_NIP_LISTS];
	uint32_t other;
	int64_t until = 0, now = time(NULL);
	int rc = 0;

	if (ctl_state_stamp(c, seq, &other))
		return 1;
	for (int i = 0; i < MXS_NIP_LISTS; i++) {
		uint64_t sq;
		int64_t next = 0;

		if (ip_lists[i].has_expires && !store_peek(c, ip_lists[i].name, &sq, &next) &&
		    next && (!until || next < until))
			until = next;
	}
	if (sizes.valid && !memcmp(sizes.seq, seq, sizeof(seq)) && sizes.other == other &&
	    (!sizes.until || now < sizes.until) && !strcmp(sizes.dir, c->state_dir))
		return 0;
	memset(&sizes, 0, sizeof(sizes));
	for (uint32_t l = 0; l < MXS_LIST_MAX; l++) {
		struct rule_vec fam[2] = {};

		if (ctl_collect(c, l, fam)) {
			rc = 1;
			continue;
		}
		sizes.have[l] = true;
		sizes.n[l][0] = fam[0].n;
		sizes.n[l][1] = fam[1].n;
		rule_vec_free(&fam[0]);
		rule_vec_free(&fam[1]);
	}
	if (!rc) {
		memcpy(sizes.seq, seq, sizeof(seq));
		sizes.other = other;
		sizes.until = until;
		snprintf(sizes.dir, sizeof(sizes.dir), "%s", c->state_dir);
		sizes.valid = true;
	}
	return rc;
}

static void gather_build(struct ctl *c, struct snap *s)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(c->mv.c_gen, &zero, &s->build) == 0)
		s->have_build = true;
	s->current = ctl_build_current(c);
	for (int v6 = 0; v6 < 2; v6++)
		s->fill[v6].ok = cmaps_room(&c->mv, v6, &s->fill[v6].patches,
					    &s->fill[v6].used) == 0;
	/* the record of the last full build, if it is the live one's */
	s->have_last = s->have_build && ctl_last_build(c, &s->last) == 0 &&
		       s->last.build == s->build;
	s->memory = filter_memory(c, s->compiled);
}

/* The stored copy of the database: its file time (when `geo load` put it
 * there) and its own build time. Opening it reads its metadata only. */
static int gather_geo(struct ctl *c, struct snap *s)
{
	char p[PATH_MAX], err[MXS_ERRLEN];
	struct stat st;

	state_path(c, ST_GEO, p, sizeof(p));
	if (stat(p, &st))
		return errno == ENOENT ? 0 : ctl_err("%s: %s", p, strerror(errno));
	s->have_geo = true;
	s->geo_mtime = st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
	if (geo_meta_read(p, &s->geo, err, sizeof(err)))
		return ctl_err("%s", err);
	s->have_geo_meta = true;
	return 0;
}

static void gather(const struct ctl *tmpl, struct snap *s)
{
	struct ctl c = {
		.state_dir = tmpl->state_dir, .bpffs_dir = tmpl->bpffs_dir,
		.lock_fd = -1, .read_only = true, .lock_nowait = tmpl->lock_nowait,
	};
	bool ok = true;

	free(s->feeds);
	memset(s, 0, sizeof(*s));
	if (c.lock_nowait && ctl_lock_ro(&c) && c.lock_busy) {
		s->busy = true;
		return;
	}
	/* a read: the shared lock (never in the middle of a change), the
	 * pins if loaded and of this layout */
	if (ctl_open_ro(&c)) {
		ok = false;
		if (c.lock_fd < 0 && ctl_lock_ro(&c)) {	/* the state is still worth reading */
			memset(&sizes, 0, sizeof(sizes));	/* no stale sizes either */
			s->ok = false;
			return;
		}
	}
	s->loaded = c.loaded;
	if (c.loaded) {
		__u32 zero = 0;

		s->have_cfg = bpf_map_lookup_elem(c.fd_config, &zero, &s->cfg) == 0;
		if (read_counters(c.fd_stats, MXS_STAT_SLOTS, s->stat, "counters") ||
		    read_counters(c.fd_cstats, MXS_COUNTRY_SLOTS, s->country, "counters") ||
		    gather_conns(&c, s))
			ok = false;
		gather_build(&c, s);
	} else {
		s->have_cfg = ctl_state_config(&c, &s->cfg) == 0;
		ok &= s->have_cfg;
	}
	if (gather_ifaces(&c, s) || gather_sizes(&c) || gather_geo(&c, s) ||
	    feed_read_all(&c, &s->feeds, &s->nfeeds))
		ok = false;
	ctl_close_pinned(&c);
	ctl_unlock(&c);
	s->ok = ok;
}

/* ------------------------------------------------------------ writing */

static const char *const xdp_names[] = { "aborted", "drop", "pass", "tx", "redirect" };
static const char *const fam_names[2] = { "ipv4", "ipv6" };

static void write_counters(FILE *out, const struct snap *s)
{
	metrics_head(out, "mxshield_packets_total", "counter",
		     "Packets the XDP program classified, by reason and verdict (verdict drop "
		     "in monitor mode counts packets that passed).");
	for (int r = 0; r < MXS_R_MAX; r++)
		for (int a = 0; a < MXS_ACT_MAX; a++)
			metrics_sample_u64(out, "mxshield_packets_total",
					   s->stat[r * MXS_ACT_MAX + a].packets,
					   "reason", reason_name(r), "verdict", action_name(a),
					   NULL);
	metrics_head(out, "mxshield_bytes_total", "counter",
		     "Bytes of those packets (whole frames), by reason and verdict.");
	for (int r = 0; r < MXS_R_MAX; r++)
		for (int a = 0; a < MXS_ACT_MAX; a++)
			metrics_sample_u64(out, "mxshield_bytes_total",
					   s->stat[r * MXS_ACT_MAX + a].bytes,
					   "reason", reason_name(r), "verdict", action_name(a),
					   NULL);
	metrics_head(out, "mxshield_xdp_actions_total", "counter",
		     "Packets by what the XDP program returned to the NIC.");
	for (int x = 0; x < 5; x++)
		metrics_sample_u64(out, "mxshield_xdp_actions_total",
				   s->stat[MXS_STAT_XDP + x].packets, "action", xdp_names[x], NULL);
	metrics_head(out, "mxshield_country_packets_total", "counter",
		     "Packets classified by their source's country (countries with packets "
		     "only).");
	for (uint32_t cc = 0; cc < MXS_COUNTRY_SLOTS; cc++) {
		char code[3];

		if (!s->country[cc].packets)
			continue;
		country_code(cc, code);
		metrics_sample_u64(out, "mxshield_country_packets_total", s->country[cc].packets,
				   "country", code, NULL);
	}
	metrics_head(out, "mxshield_country_bytes_total", "counter",
		     "Bytes of those packets, by the source's country.");
	for (uint32_t cc = 0; cc < MXS_COUNTRY_SLOTS; cc++) {
		char code[3];

		if (!s->country[cc].packets)
			continue;
		country_code(cc, code);
		metrics_sample_u64(out, "mxshield_country_bytes_total", s->country[cc].bytes,
				   "country", code, NULL);
	}
}

static void write_conns(FILE *out, const struct snap *s)
{
	if (s->have_conns) {
		metrics_head(out, "mxshield_connections_total", "counter",
			     "New connections (a SYN, not its retransmissions) of classified SMTP "
			     "packets, by reason and verdict.");
		for (int r = 0; r < MXS_R_MAX; r++)
			for (int a = 0; a < MXS_ACT_MAX; a++)
				metrics_sample_u64(out, "mxshield_connections_total",
						   s->conns[r * MXS_ACT_MAX + a], "reason",
						   reason_name(r), "verdict", action_name(a), NULL);
		metrics_head(out, "mxshield_syn_retransmits_total", "counter",
			     "Retransmitted SYNs (counted as packets, not as connections).");
		metrics_sample_u64(out, "mxshield_syn_retransmits_total",
				   s->conns[MXS_CONN_RETRANS], NULL);
		metrics_head(out, "mxshield_country_connections_total", "counter",
			     "New connections by the source's country (countries with packets "
			     "only).");
		for (uint32_t cc = 0; cc < MXS_COUNTRY_SLOTS; cc++) {
			char code[3];

			if (!s->country[cc].packets)
				continue;
			country_code(cc, code);
			metrics_sample_u64(out, "mxshield_country_connections_total",
					   s->country_conns[cc], "country", code, NULL);
		}
	}
	if (s->have_ev) {
		metrics_head(out, "mxshield_events_emitted_total", "counter",
			     "Drop events the XDP program wrote to the ring buffer.");
		metrics_sample_u64(out, "mxshield_events_emitted_total", s->ev.emitted, NULL);
		metrics_head(out, "mxshield_events_suppressed_total", "counter",
			     "Drop events not written, by cause: the cap of the second (rate), "
			     "the per-source limit (source), the ring buffer full (ring_full).");
		metrics_sample_u64(out, "mxshield_events_suppressed_total", s->ev.sup_rate,
				   "cause", "rate", NULL);
		metrics_sample_u64(out, "mxshield_events_suppressed_total", s->ev.sup_source,
				   "cause", "source", NULL);
		metrics_sample_u64(out, "mxshield_events_suppressed_total", s->ev.lost,
				   "cause", "ring_full", NULL);
		metrics_head(out, "mxshield_events_rate_limit", "gauge",
			     "The drop events' cap: events a second at most, all CPUs (0: none).");
		metrics_sample_u64(out, "mxshield_events_rate_limit", s->evcfg.rate, NULL);
	}
}

static void write_build(FILE *out, const struct snap *s)
{
	if (s->have_build) {
		metrics_head(out, "mxshield_build_generation", "gauge",
			     "Full builds of the classifier since the filter was loaded, the first "
			     "one 0 (c_gen: each full build adds one).");
		metrics_sample_u64(out, "mxshield_build_generation", s->build, NULL);
	}
	if (s->current >= 0) {
		metrics_head(out, "mxshield_build_current", "gauge",
			     "1 when the live build carries the state on disk; 0 after an "
			     "interrupted change (the next command or restore rebuilds).");
		metrics_sample(out, "mxshield_build_current", s->current, NULL);
	}
	if (s->fill[0].ok || s->fill[1].ok) {
		metrics_head(out, "mxshield_build_patches", "gauge",
			     "Single changes patched into the live build in place since its "
			     "full build.");
		for (int v6 = 0; v6 < 2; v6++)
			if (s->fill[v6].ok)
				metrics_sample_u64(out, "mxshield_build_patches",
						   s->fill[v6].patches, "family", fam_names[v6],
						   NULL);
		metrics_head(out, "mxshield_build_fill_ratio", "gauge",
			     "Share of the live build's room used (the fullest of its node, leaf "
			     "and record maps); at 1 the next change makes a full build.");
		for (int v6 = 0; v6 < 2; v6++)
			if (s->fill[v6].ok)
				metrics_sample(out, "mxshield_build_fill_ratio", s->fill[v6].used,
					       "family", fam_names[v6], NULL);
	}
	if (s->have_last) {
		metrics_head(out, "mxshield_last_build_timestamp_seconds", "gauge",
			     "When the live build went live (unix time).");
		metrics_sample(out, "mxshield_last_build_timestamp_seconds", s->last.time, NULL);
		metrics_head(out, "mxshield_last_build_duration_seconds", "gauge",
			     "How long the live build took, from reading the state to the switch.");
		metrics_sample(out, "mxshield_last_build_duration_seconds", s->last.duration,
			       NULL);
	}
	if (s->loaded) {
		metrics_head(out, "mxshield_map_memory_bytes", "gauge",
			     "Kernel memory of the filter's maps, compiled classifier included.");
		metrics_sample(out, "mxshield_map_memory_bytes", s->memory, NULL);
		metrics_head(out, "mxshield_classifier_memory_bytes", "gauge",
			     "Kernel memory of the compiled classifier (both generations), by "
			     "family.");
		for (int v6 = 0; v6 < 2; v6++)
			metrics_sample_u64(out, "mxshield_classifier_memory_bytes", s->compiled[v6],
					   "family", fam_names[v6], NULL);
	}
}

/* Each feed, labelled feed="NAME" (and list= on the entries): how old the
 * copy held is, its entries, its last success and attempt, its failures. */
static void write_feeds(FILE *out, const struct snap *s)
{
	double now = (double)time(NULL);

	if (!s->nfeeds)
		return;
	metrics_head(out, "mxshield_feed_entries", "gauge",
		     "Entries of the feed's last good copy (its source in its list).");
	for (int i = 0; i < s->nfeeds; i++)
		metrics_sample_u64(out, "mxshield_feed_entries", s->feeds[i].entries, "feed",
				   s->feeds[i].name, "list", s->feeds[i].list, NULL);
	metrics_head(out, "mxshield_feed_age_seconds", "gauge",
		     "Seconds since the feed's copy was last found current (a download or a "
		     "304); absent before its first success.");
	for (int i = 0; i < s->nfeeds; i++)
		if (s->feeds[i].success)
			metrics_sample(out, "mxshield_feed_age_seconds",
				       now - (double)s->feeds[i].success, "feed", s->feeds[i].name,
				       NULL);
	metrics_head(out, "mxshield_feed_last_success_timestamp_seconds", "gauge",
		     "When a refresh of the feed last succeeded (unix time; 0: never).");
	for (int i = 0; i < s->nfeeds; i++)
		metrics_sample(out, "mxshield_feed_last_success_timestamp_seconds",
			       (double)s->feeds[i].success, "feed", s->feeds[i].name, NULL);
	metrics_head(out, "mxshield_feed_last_attempt_timestamp_seconds", "gauge",
		     "When a refresh of the feed was last tried (unix time; 0: never).");
	for (int i = 0; i < s->nfeeds; i++)
		metrics_sample(out, "mxshield_feed_last_attempt_timestamp_seconds",
			       (double)s->feeds[i].attempt, "feed", s->feeds[i].name, NULL);
	metrics_head(out, "mxshield_feed_failing", "gauge",
		     "1 when the feed's last refresh failed (the last good copy is in force).");
	for (int i = 0; i < s->nfeeds; i++)
		metrics_sample(out, "mxshield_feed_failing", s->feeds[i].error[0] != '\0', "feed",
			       s->feeds[i].name, NULL);
	metrics_head(out, "mxshield_feed_failures_total", "counter",
		     "Refreshes of the feed that failed (each kept the last good copy).");
	for (int i = 0; i < s->nfeeds; i++)
		metrics_sample_u64(out, "mxshield_feed_failures_total", s->feeds[i].failures,
				   "feed", s->feeds[i].name, NULL);
}

static void write_snap(FILE *out, const struct snap *s)
{
	metrics_head(out, "mxshield_up", "gauge",
		     "1 when every part of these metrics could be read (else see the log).");
	metrics_sample(out, "mxshield_up", s->ok, NULL);
	metrics_head(out, "mxshield_build_info", "gauge", "The controller's version.");
	metrics_sample(out, "mxshield_build_info", 1, "version", MXS_VERSION, NULL);
	metrics_head(out, "mxshield_filter_loaded", "gauge",
		     "1 when the XDP program and its maps are loaded (pinned).");
	metrics_sample(out, "mxshield_filter_loaded", s->loaded, NULL);
	if (s->have_cfg) {
		metrics_head(out, "mxshield_monitor_mode", "gauge",
			     "1 in monitor mode (classify, count and tag, drop nothing).");
		metrics_sample(out, "mxshield_monitor_mode", !!(s->cfg.flags & MXS_F_MONITOR),
			       NULL);
		metrics_head(out, "mxshield_gateway_only", "gauge",
			     "1 when only trusted, partner and gateway sources are admitted.");
		metrics_sample(out, "mxshield_gateway_only",
			       !!(s->cfg.flags & MXS_F_GATEWAY_ONLY), NULL);
	}
	if (s->nifs) {
		metrics_head(out, "mxshield_interface_attached", "gauge",
			     "1 when the filter is attached to the interface, 0 when the state "
			     "records it but it is not (restore attaches it) or it is gone.");
		for (int i = 0; i < s->nifs; i++)
			metrics_sample(out, "mxshield_interface_attached", s->ifs[i].attached,
				       "interface", s->ifs[i].name, NULL);
	}
	if (s->loaded) {
		write_counters(out, s);
		write_conns(out, s);
	}
	metrics_head(out, "mxshield_list_entries", "gauge",
		     "Entries of each list in the state directory (expired ones not counted; "
		     "country: the networks of the countries with a policy), by family.");
	for (uint32_t l = 0; l < MXS_LIST_MAX; l++)
		for (int v6 = 0; sizes.have[l] && v6 < 2; v6++)
			metrics_sample_u64(out, "mxshield_list_entries", sizes.n[l][v6],
					   "list", list_name(l), "family", fam_names[v6], NULL);
	if (s->loaded)
		write_build(out, s);
	if (s->have_geo) {
		metrics_head(out, "mxshield_geo_database_modified_timestamp_seconds", "gauge",
			     "When the stored country database was written (geo load; unix time).");
		metrics_sample(out, "mxshield_geo_database_modified_timestamp_seconds",
			       s->geo_mtime, NULL);
	}
	if (s->have_geo_meta && s->geo.build_epoch) {
		metrics_head(out, "mxshield_geo_database_build_timestamp_seconds", "gauge",
			     "When the stored country database was built by its publisher "
			     "(its metadata's build_epoch; unix time).");
		metrics_sample(out, "mxshield_geo_database_build_timestamp_seconds",
			       (double)s->geo.build_epoch, "type", s->geo.type, NULL);
	}
	write_feeds(out, s);
}

int metrics_write(const struct ctl *c, FILE *out)
{
	static struct snap s;	/* ~22 KiB of counters: not on the stack */

	gather(c, &s);
	if (s.busy)
		return METRICS_BUSY;
	write_snap(out, &s);
	return s.ok ? 0 : 1;
}

int metrics_body(FILE *out, void *arg)
{
	const struct metrics_src *src = arg;
	int rc = metrics_write(src->c, out);

	if (src->hook.fn && src->hook.fn(out, src->hook.arg))
		rc = 1;
	return rc;
}
