/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filter/metrics.c: the Prometheus text exposition (format 0.0.4) of the
 * filter and its state: counters per reason and verdict, per XDP action
 * and per country; list sizes; builds; kernel memory; the country
 * database's age. A read like `stats` and `status`: it never loads, and
 * answers from the state directory when nothing is loaded. docs/metrics.md
 * lists every metric.
 */
#ifndef MXS_METRICS_H
#define MXS_METRICS_H

#include <stdint.h>
#include <stdio.h>

struct ctl;

#define MXS_METRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"
#define MXS_METRICS_PATH "/metrics"
#define MXS_METRICS_LISTEN "127.0.0.1:9456"

/* Write one exposition to @out. @c gives the state and bpffs directories
 * only: every call opens them afresh, read-only (the shared lock, the pins
 * with BPF_F_RDONLY), and closes them before it returns, so a filter
 * loaded, reloaded or unloaded between two calls is seen as it is. 0; 1
 * when a part could not be read (said on stderr, and mxshield_up is 0).
 * With c->lock_nowait, METRICS_BUSY and nothing written while a change
 * holds the state directory's lock (a loop that must not wait for a
 * build: `mxshield serve`). One thread at a time: it keeps the list sizes
 * between calls. */
#define METRICS_BUSY 2
int metrics_write(const struct ctl *c, FILE *out);

/*
 * More metric families after the filter's, from whoever runs the endpoint:
 * the hook of a service that knows more than the maps and the state
 * directory tell. The policy service's decisions are one (another process
 * cannot read them): `mxshield serve` passes a hook that writes
 *
 *   mxshield_policy_decisions_total{action="reject|defer|hold|prepend|dunno|..."}
 *
 * with metrics_head() and metrics_sample() below. NULL fn: none.
 */
struct metrics_hook {
	int (*fn)(FILE *out, void *arg);
	void *arg;
};
/* The endpoint's document (an httpd_body_fn, core/httpd.h): @arg is a
 * struct metrics_src; metrics_write() and then the hook. */
struct metrics_src {
	const struct ctl *c;
	struct metrics_hook hook;
};
int metrics_body(FILE *out, void *arg);

/* Writers for a family: its HELP and TYPE lines, then each sample with
 * its labels as name, value pairs ending with NULL (values escaped). */
void metrics_head(FILE *out, const char *name, const char *type, const char *help);
void metrics_sample(FILE *out, const char *name, double v, ...)
	__attribute__((sentinel));
void metrics_sample_u64(FILE *out, const char *name, uint64_t v, ...)
	__attribute__((sentinel));

#endif
