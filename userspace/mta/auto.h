/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mta/auto.c: automatic blocks from what the MTA sees (docs/auto.md), in
 * the manner of fail2ban and CrowdSec, but dropping at the NIC.
 *
 * Evidence -- a recipient the policy service rejected, a spam or quarantine
 * verdict, an unknown recipient or a failed SMTP AUTH in Postfix's log --
 * is counted per source in sliding windows. A rule ("5 reject within 10m:
 * block 1h, doubling up to 1d") that a source's count reaches gives a
 * block: the caller pushes it into the block list's "auto" source. What
 * a source did is remembered (its offences), so a repeat offence gets a
 * longer block, across restarts too.
 *
 * Three state files, all record files (state/recfile.h, checksummed):
 *   auto-rules     the rules (auto rule add|del)
 *   auto-offences  each source's offences per rule: the last block's
 *                  number, time, expiry and evidence (written by the
 *                  service; auto forget removes records)
 *   auto-forget    sources `auto forget` asked the running service to
 *                  forget (its counts in memory too); the service takes
 *                  and removes it
 * The two the service and a command both write are changed under a lock
 * of their own (auto.lock), never the state directory's: the service
 * never waits for it.
 */
#ifndef MXS_AUTO_H
#define MXS_AUTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "../core/parse.h"

struct ctl;

#define ST_AUTO_RULES    "auto-rules"
#define ST_AUTO_OFFENCES "auto-offences"
#define ST_AUTO_FORGET   "auto-forget"
#define ST_AUTO_LOCK     "auto.lock"
/* the block list's source the service pushes to */
#define AUTO_SOURCE      "auto"

enum auto_kind { AUTO_REJECT, AUTO_SPAM, AUTO_AUTH_FAIL, AUTO_KINDS };
extern const char *const auto_kind_names[AUTO_KINDS + 1];	/* "reject" ... NULL */
/* where a piece of evidence came from */
enum auto_origin { AUTO_FROM_POLICY, AUTO_FROM_MAILLOG, AUTO_FROM_JOURNAL, AUTO_ORIGINS };
extern const char *const auto_origin_names[AUTO_ORIGINS];

#define AUTO_NAME_MAX   64
#define AUTO_COUNT_MAX  1000		/* --count: the windows' memory grows with it */
#define AUTO_DUR_MAX    (366LL * 86400)	/* --within, --block, --max */
#define AUTO_RULES_MAX  64
#define AUTO_WHAT_MAX   120		/* one piece of evidence, in words */

struct auto_rule {
	char name[AUTO_NAME_MAX];
	enum auto_kind on;
	uint32_t count;
	int64_t within, block, max;	/* seconds; max == block: no doubling */
};

/* The rules on disk: 0 and a malloc'ed *v (n entries), or 1 after ctl_err. */
int auto_rules_read(const struct ctl *c, struct auto_rule **v, int *n);
int auto_rules_write(const struct ctl *c, const struct auto_rule *v, int n);
/* A rule from the command line's words: 0, or -1 and err. */
int auto_rule_make(struct auto_rule *r, const char *name, const char *on, const char *count,
		   const char *within, const char *block, const char *max, char *err,
		   size_t errlen);
/* "30s", "10m", "1h30m", "2d": the shortest exact form. */
char *auto_fmt_duration(int64_t secs, char *buf, size_t len);

/* ------------------------------------------------------------- evidence */

struct auto_evidence {
	enum auto_kind kind;
	struct mxs_prefix src;		/* a full-length prefix */
	char what[AUTO_WHAT_MAX];	/* "RCPT to nobody@example.com 550 5.1.1" */
};

/* One line of Postfix's maillog_file ("Dec  1 10:00:00 mx postfix/smtpd[7]:
 * MESSAGE"; any program name ending in /smtpd): 1 and *ev when it is
 * evidence, else 0. */
int auto_parse_line(const char *line, struct auto_evidence *ev);
/* The MESSAGE of a journal entry of Postfix's smtpd: the same. Evidence is
 *   NOQUEUE: reject: RCPT from HOST[ADDR]: 550 5.1.1 <RCPT>: ... User unknown ...
 *   warning: HOST[ADDR]: SASL MECH authentication failed: ...
 * (a queue id instead of NOQUEUE, and HOST[ADDR]:PORT, too). */
int auto_parse_message(const char *msg, struct auto_evidence *ev);

/* --------------------------------------------------------------- engine */

/*
 * The windows and the offences, in bounded memory: at most @max_sources
 * sources are counted at once (past it the one whose last evidence is the
 * oldest goes, counted in evicted), and as many offence records are kept
 * (past it the one whose block ended first goes). An offence is
 * remembered for @remember seconds after its block ended.
 */
struct auto_engine;
struct auto_engine *auto_new(size_t max_sources, int64_t remember);
void auto_free(struct auto_engine *e);
/* New rules: windows of sources are kept where their kind's depth is. */
int auto_set_rules(struct auto_engine *e, const struct auto_rule *r, int n);
int auto_nrules(const struct auto_engine *e);
const struct auto_rule *auto_rule_at(const struct auto_engine *e, int i);

/* A block a rule gave. */
struct auto_block {
	struct mxs_prefix src;
	int rule;			/* index into the rules */
	uint32_t offence;		/* 1, 2, ...: this source's under this rule */
	int64_t at, expires;		/* unix seconds */
	char comment[400];		/* for the entry: rule, evidence, offence */
};

/* One piece of evidence at @now (unix seconds): 1 when a rule fires and *b
 * says what to block (nothing is recorded yet: auto_commit() it, or
 * auto_spare() it for a source that must never be blocked), else 0. */
int auto_evidence(struct auto_engine *e, const struct auto_evidence *ev,
		  enum auto_origin from, int64_t now, struct auto_block *b);
/* The block was pushed: remember the offence, and count no evidence of
 * the source until it expires. */
void auto_commit(struct auto_engine *e, const struct auto_block *b);
/* The source is trusted (trust, partner, gateway): no block, its counts
 * start again. */
void auto_spare(struct auto_engine *e, const struct auto_block *b);
/* Forget a source: its counts, and its offences recorded at or before
 * @before (unix seconds; INT64_MAX: all). */
void auto_forget(struct auto_engine *e, const struct mxs_prefix *src, int64_t before);
/* Let counts and offences past their time go (every few seconds). */
void auto_prune(struct auto_engine *e, int64_t now);

struct auto_stats {
	uint64_t evidence[AUTO_KINDS][AUTO_ORIGINS];
	uint64_t spared, evicted, offences_evicted;
	size_t sources, offenders;	/* now */
	size_t source_bytes;		/* the memory of one counted source */
};
void auto_stats(const struct auto_engine *e, struct auto_stats *st);
/* Blocks given by rule @i since the start (0 for a rule now deleted). */
uint64_t auto_blocks(const struct auto_engine *e, int i);

/* The offences on disk: read into the engine (those still remembered at
 * @now), and written from it when they changed. Both under auto.lock,
 * taken without waiting by the service: 1 = busy, try later. The forget
 * requests of auto-forget are applied on the way. 0, 1 busy, -1 error
 * (logged through ctl_err). */
int auto_sync(struct auto_engine *e, const struct ctl *c, int64_t now, bool wait);

/* -------------------------------------------------- for the commands */

struct auto_offence {
	struct mxs_prefix src;
	char rule[AUTO_NAME_MAX];
	uint32_t offence;
	int64_t at, expires;
	char comment[400];
};
/* A source's address alone, no length (buf >= MXS_PFX_STRLEN). */
char *auto_addr_str(const struct mxs_prefix *a, char *buf);
/* Every offence record on disk: 0 and a malloc'ed *v, or 1 after ctl_err. */
int auto_offences_read(const struct ctl *c, struct auto_offence **v, int *n);
/* Remove @src's offences, and ask a running service to forget its counts
 * (auto-forget). *removed: records removed. 0, or 1 after ctl_err. */
int auto_offences_forget(const struct ctl *c, const struct mxs_prefix *src, int *removed);

#endif
