/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mta/autosvc.c: automatic blocks as a part of `mxshield serve` ([auto]):
 * the evidence read from Postfix's log (mta/logtail.c) and told by the
 * policy service, counted by the engine (mta/auto.c), and the blocks it
 * gives pushed into the block list's "auto" source (filter/source.h's
 * coalescer), never for a trusted, partner or gateway source.
 */
#ifndef MXS_AUTOSVC_H
#define MXS_AUTOSVC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct ctl;

struct autosvc_conf {
	const char *maillog_file;	/* NULL: not read */
	const char *journal;		/* NULL: not read; "" the system's; else a directory */
	size_t max_sources;
	int64_t remember;		/* seconds after a block ends */
};

struct autosvc;
/* Start: the rules and the offences read, the log opened; the blocks go
 * to @q, the service's push queue, which the service applies in batches.
 * NULL after ctl_err. */
struct srcq;
struct autosvc *autosvc_start(const struct ctl *c, const struct autosvc_conf *conf,
			      struct srcq *q);
/* An epoll fd: readable when the log has something new. */
int autosvc_fd(const struct autosvc *a);
/* Read what is new, count it, push the blocks, the rules changed on
 * disk, upkeep. Then autosvc_timeout() ms until it wants to run again. */
void autosvc_ready(struct autosvc *a);
int autosvc_timeout(const struct autosvc *a);
/* A reload: the log's sources and remember (max_sources needs a restart). */
void autosvc_reconf(struct autosvc *a, const struct autosvc_conf *conf);
/* The policy service's answer to a recipient (a policy_observer): a
 * reject, or a spam or quarantine verdict, is evidence. */
void autosvc_policy(void *arg, const char *client, const char *rcpt, const char *action);
void autosvc_metrics(const struct autosvc *a, FILE *out);
void autosvc_stop(struct autosvc *a);

#endif
