/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mta/policy_service.c: the Postfix policy service (check_policy_service),
 * run by `mxshield policy serve` (cmd/policy.c).
 */
#ifndef MXS_POLICY_SERVICE_H
#define MXS_POLICY_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ctl;
struct passwd;

/* The service's options, as given on the command line (NULL: default). */
struct policy_opts {
	const char *listen;		/* unix:PATH or inet:HOST:PORT */
	const char *user;		/* run as this user after binding */
	const char *socket_group;	/* group of a unix: socket */
	const char *request_timeout, *idle_timeout;	/* seconds */
	const char *max_conn, *max_per_peer;
	/* where DNSBL pushes and automatic blocks go (filter/source.h): the
	 * caller applies it; NULL: nothing is pushed */
	struct srcq *srcq;
};

/* Serve until killed, alone (`mxshield policy serve`): logs to standard
 * error, drops to --user. Returns only on an error (1). */
int policy_serve(struct ctl *c, const struct policy_opts *o);

/*
 * The same service as one event source of a longer-running program
 * (mta/service.c): policy_open() checks the options, binds (or takes the
 * listening socket @lfd that systemd passed; -1: bind o->listen) and
 * opens the filter's maps if it is loaded; policy_begin() loads the lists
 * and logs that it listens. Then whenever policy_fd() is readable (an
 * epoll fd: poll it, or add it to an epoll set) and when the time
 * policy_run() returned has passed, call policy_run(): it handles what is
 * ready without waiting and returns the ms until its next deadline (-1:
 * none), or -2 after an error. One service per process.
 */
struct policy_server;
struct srcq;
struct policy_server *policy_open(struct ctl *c, const struct policy_opts *o, int lfd);
void policy_begin(struct policy_server *ps);
int policy_fd(const struct policy_server *ps);
int policy_run(struct policy_server *ps);
/* A reload: the limits that can change live (request and idle timeouts,
 * max_per_peer) applied to every connection, the lists re-read, the maps
 * opened if the filter appeared; restart[] names what changed but needs
 * a restart (max_conn). Open connections stay. 0, or 1 (bad options:
 * nothing changed). */
int policy_reconfigure(struct policy_server *ps, const struct policy_opts *o,
		       char *restart, size_t len);
/* Are the filter's maps open (IP verdicts on)? */
bool policy_has_maps(const struct policy_server *ps);
/* The answers given since the start, by the kind of action (the first
 * word: DUNNO, a 5xx code or REJECT, a 4xx code or DEFER*, HOLD, PREPEND,
 * anything else), at RCPT and DATA alike; names for the metrics. */
#define POLICY_ANSWER_KINDS 6
extern const char *const policy_answer_names[POLICY_ANSWER_KINDS];
void policy_answers(const struct policy_server *ps, uint64_t n[POLICY_ANSWER_KINDS]);
/* The DNSBL lookups and pushes since the start (docs/dnsbl.md); false
 * when the service has no resolver. */
struct policy_dnsbl_stats {
	uint64_t lookups, cache_hits, queries, listed, timeouts, errors, refused;
	uint64_t pushes, push_failures;
	uint64_t cached, sites;		/* gauges */
};
bool policy_dnsbl_stats(const struct policy_server *ps, struct policy_dnsbl_stats *st);

/* Become @pw for good (the milter too), keeping capability @keep (-1:
 * none): no_new_privs, the bounding and ambient sets emptied, the user's
 * groups, uid and gid, and a check that root cannot come back. @pw the
 * current user: only the capabilities go. 0, or 1 after ctl_err(). */
int drop_to(const struct passwd *pw, int keep);

/* Be told of every answer to a recipient (RCPT), once it is decided: the
 * client's address, the recipient, the action sent (automatic blocks count
 * rejects and spam verdicts from it). NULL: none. */
typedef void (*policy_observer)(void *arg, const char *client, const char *rcpt,
				const char *action);
void policy_observe(struct policy_server *ps, policy_observer fn, void *arg);

#endif
