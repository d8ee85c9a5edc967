/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filter/sample.c: what the data plane counted, read at one instant (a
 * sample), and the rates between two samples -- per reason and verdict,
 * per XDP action, per country, per list entry (hit counters), per tagged
 * source -- with the busiest N of each. `mxshield top` draws them; nothing
 * here prints, so the metrics code and the tests can use it too.
 */
#ifndef MXS_SAMPLE_H
#define MXS_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include "../core/parse.h"
#include "install.h"

struct ctl;

/* The XDP actions the NIC counts (MXS_STAT_XDP + XDP_*), by name. */
#define SAMPLE_XDP_ACTIONS 5
extern const char *const sample_xdp_names[SAMPLE_XDP_ACTIONS];

/* One tagged source as the tag map holds it. */
struct sample_tag {
	struct mxs_prefix src;	/* a host (/32 or /128) */
	uint64_t packets;
	uint8_t action, list, reason;
};

struct sample {
	uint64_t at_ns;		/* CLOCK_MONOTONIC */
	struct mxs_counter stat[MXS_STAT_SLOTS];	/* summed over CPUs */
	struct mxs_counter cstat[MXS_COUNTRY_SLOTS];
	uint64_t conns[MXS_CONN_SLOTS];	/* new connections (the map "conns") */
	bool has_conns;		/* false: a filter loaded before they were counted */
	struct hitmap hits;	/* the live build's hit counters, by (list, prefix) */
	struct sample_tag *tags;	/* sorted by address (for the deltas) */
	size_t ntags;
};

/* Read every counter of the loaded filter (c->loaded, maps open). 0, or
 * a negative errno (the sample is empty then, and safe to free). */
int sample_take(const struct ctl *c, struct sample *s);
void sample_free(struct sample *s);

/* A rate: a per-second delta between two samples, and the total now. */
struct rate {
	double per_s;
	uint64_t total;
};

/* One row of a top-N list. */
struct top_row {
	struct rate r;
	uint8_t list, action, reason;	/* entries: list; sources: all three */
	uint16_t country;		/* countries: the country index */
	struct mxs_prefix p;		/* entries: the prefix; sources: the host */
};

struct top_list {
	struct top_row *row;	/* busiest first: by rate, then by total */
	size_t n, cap;		/* at most cap rows kept */
	bool na;		/* no source of data yet (see sample_top_dropped) */
	const char *note;	/* why not, when na */
};

/* Rates between two samples @a (older) and @b, top lists of @top rows
 * each. A counter that went down (stats reset, filter reloaded) counts
 * from zero. */
struct rates {
	double secs;		/* between the samples */
	struct rate verdict[MXS_R_MAX][MXS_ACT_MAX];	/* packets */
	struct rate verdict_bytes[MXS_R_MAX][MXS_ACT_MAX];
	struct rate conns[MXS_R_MAX][MXS_ACT_MAX];	/* new connections ... */
	bool has_conns;					/* ... if counted */
	struct rate xdp[SAMPLE_XDP_ACTIONS];
	struct top_list countries, entries, tagged, dropped;
};

/* 0, or -ENOMEM (the rates are then safe to free). */
int sample_rates(const struct sample *a, const struct sample *b, size_t top,
		 struct rates *r);
void rates_free(struct rates *r);

/* Top dropped sources from the drop-event ring buffer. The ring buffer is
 * not part of the data plane yet: the list is marked not available. This
 * is the place to plug the events in (count events per source between the
 * samples, as the tags are counted). */
int sample_top_dropped(const struct sample *a, const struct sample *b, struct top_list *t);

#endif
