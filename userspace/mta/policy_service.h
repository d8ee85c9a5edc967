/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mta/policy_service.c: the Postfix policy service (check_policy_service),
 * run by `mxshield policy serve` (cmd/policy.c).
 */
#ifndef MXS_POLICY_SERVICE_H
#define MXS_POLICY_SERVICE_H

struct ctl;

/* The service's options, as given on the command line (NULL: default). */
struct policy_opts {
	const char *listen;		/* unix:PATH or inet:HOST:PORT */
	const char *user;		/* run as this user after binding */
	const char *socket_group;	/* group of a unix: socket */
	const char *request_timeout, *idle_timeout;	/* seconds */
	const char *max_conn, *max_per_peer;
};

/* Serve until killed; returns only on an error (1). */
int policy_serve(struct ctl *c, const struct policy_opts *o);

#endif
