/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mta/service.c: `mxshield serve`, the one long-running service. It reads
 * /etc/mxshield/mxshield.conf (docs/service.md) and runs what is enabled
 * there in one event loop: the policy service (mta/policy_service.c),
 * expiry sweeps on an interval, the country-database watch, the metrics
 * endpoint (filter/metrics.c over core/httpd.c) and the drop-event log
 * (the ring buffer to the journal). systemd: socket activation of the
 * policy and metrics sockets (by FileDescriptorName=), sd_notify
 * readiness, SIGHUP reloads the config and the lists
 * without dropping a connection, SIGTERM ends it (the filter stays
 * attached: the service never detaches or unloads it).
 */
#ifndef MXS_SERVICE_H
#define MXS_SERVICE_H

#include <stdbool.h>

struct ctl;

#define SERVICE_CONF_DEFAULT "/etc/mxshield/mxshield.conf"
#define SERVICE_MAX_OVERRIDES 16

/* A command-line flag over a config value ("policy", "listen", VALUE). */
struct service_override {
	const char *section, *key, *value;
	const char *flag;	/* "--listen", for the error message */
};

struct service_opts {
	const char *config;	/* NULL: SERVICE_CONF_DEFAULT, missing is fine */
	bool check;		/* check the config, print it, and exit */
	struct service_override over[SERVICE_MAX_OVERRIDES];
	int nover;
};

/* Run until SIGTERM or SIGINT: 0. A bad config or a failed start: an
 * error on standard error, nothing started, 1. */
int service_run(struct ctl *c, const struct service_opts *o);

/*
 * The parts after the policy service (the metrics endpoint, the drop-event
 * log) plug into the loop as a struct service_part of service.c: a
 * section of the config file of their own (its keys in the schema), a
 * start with the socket systemd passed under the part's name, an fd the
 * loop polls and a deadline, told of each reload, stopped at the end.
 */
struct service_conf;

/* The value of [section] key in a checked config (the default if the file
 * does not set it). */
const char *service_conf_get(const struct service_conf *sc, const char *section,
			     const char *key);

#endif
