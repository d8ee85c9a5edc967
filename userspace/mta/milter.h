/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mta/milter.c: the content milter (Sendmail/Postfix milter protocol,
 * libmilter), run by `mxshield milter serve` and by `mxshield serve`'s
 * [milter] section (in a child process of its own). At the end of each
 * message it decodes the captured message (mime.h), runs the content
 * checks (content.h) and acts on their verdict with the precedence of the
 * policy service (policy_decide_content()): headers, quarantine (hold),
 * or 550 5.7.1.
 */
#ifndef MXS_MILTER_H
#define MXS_MILTER_H

struct ctl;

#define MILTER_LISTEN_DEFAULT "inet:127.0.0.1:10041"

struct milter_opts {
	const char *listen;		/* unix:/PATH or inet:HOST:PORT */
	const char *user;		/* become this user after binding (NULL: stay) */
	const char *socket_group;	/* a unix: socket's group (NULL: postfix if any) */
	int timeout;			/* s without a word from the MTA (0: 300) */
	const char *log_ident;		/* NULL: "mxshield-milter" on standard error */
};

/* Bind, drop privileges, serve until SIGTERM/SIGINT (libmilter's own
 * signal thread). 0 after a clean stop, 1 after an error (on standard
 * error / the log). One per process. */
int milter_serve(struct ctl *c, const struct milter_opts *o);

/* Check a listen spec; 0, or -1 with @err. */
int milter_listen_check(const char *spec, char *err, size_t errlen);

#endif
