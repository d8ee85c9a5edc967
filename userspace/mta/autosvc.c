// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Automatic blocks in `mxshield serve` (autosvc.h).
 *
 * Everything runs in the service's one thread and never waits: the log is
 * read as it grows (inotify, sd_journal's fd), the policy service tells
 * its answers as it gives them, and a block goes to the service's push
 * queue (srcq_push), which the service applies as one batch a few
 * milliseconds later under the state directory's lock taken without
 * waiting. The offences are written in the same turn, before the batch,
 * under auto.lock, also without waiting (busy: tried again 50 ms later).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "../core/ctl.h"
#include "../core/log.h"
#include "../filter/build.h"
#include "../filter/metrics.h"
#include "../filter/source.h"
#include "../state/ipstore.h"
#include "auto.h"
#include "autosvc.h"
#include "logtail.h"

#define TICK_MS       1000	/* the log looked at, the rules file, upkeep */
#define RETRY_MS      50	/* the offences not written: auto.lock was taken */
#define PRUNE_EVERY_S 10

struct autosvc {
	char state_dir[PATH_MAX], bpffs_dir[PATH_MAX];
	struct auto_engine *e;
	struct srcq *q;
	int ep;
	struct logtail *tail;
	struct journaltail *jt;
	char maillog[PATH_MAX], journal[PATH_MAX];
	bool journal_on;
	struct stat rules_st;		/* the rules file as last read */
	bool rules_read;
	bool sync_due;
	int64_t next_tick, next_prune;	/* ms, monotonic; s, unix */
	uint64_t lines[AUTO_ORIGINS];	/* log lines read, by origin */
	uint64_t push_failed;
	bool missing_said;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct ctl ctl_of(const struct autosvc *a)
{
	return (struct ctl){ .state_dir = a->state_dir, .bpffs_dir = a->bpffs_dir,
			     .lock_fd = -1 };
}

/* The list that makes @src unblockable (trust, partner, gateway: whatever
 * the filter puts before the block list), or NULL. Read from the state,
 * every source of each list, as `lookup` does with nothing loaded: the
 * same answer whether the filter is loaded or not. */
static const char *protected_by(const struct autosvc *a, const struct mxs_prefix *src)
{
	static const uint32_t lists[] = { MXS_LIST_TRUST, MXS_LIST_PARTNER, MXS_LIST_GATEWAY };
	struct ctl c = ctl_of(a);
	uint64_t now = now_tai_ns();
	struct mxs_rule r;

	c.readonly = true;	/* a read: a torn journal line is left to its writer */
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		if (ctl_list_match(&c, lists[i], src, now, NULL, &r))
			return list_name(lists[i]);
	return NULL;
}

static void evidence(struct autosvc *a, const struct auto_evidence *ev, enum auto_origin from)
{
	struct auto_block b;
	struct st_ent ent = {};
	const char *prot;
	char ip[MXS_PFX_STRLEN], until[32];

	if (!auto_evidence(a->e, ev, from, time(NULL), &b))
		return;
	auto_addr_str(&b.src, ip);
	prot = protected_by(a, &b.src);
	if (prot) {
		auto_spare(a->e, &b);
		log_print(LOG_NOTICE, "auto: %s not blocked: it is on the %s list (rule %s fired)",
			  ip, prot, auto_rule_at(a->e, b.rule)->name);
		return;
	}
	st_set_prefix(&ent, &b.src);
	ent.action = MXS_ACT_DROP;
	ent.added = b.at;
	ent.expires = b.expires;
	if (srcq_push(a->q, &ip_lists[MXS_IPL_BLOCK], AUTO_SOURCE, &ent, b.comment)) {
		a->push_failed++;
		log_print(LOG_ERR, "auto: %s not blocked: the queue of pushes is full", ip);
		return;
	}
	auto_commit(a->e, &b);
	a->sync_due = true;
	log_print(LOG_NOTICE, "auto: blocking %s until %s: %s", ip,
		  fmt_time(b.expires, until, sizeof(until)), b.comment);
}

static void on_line(const char *line, void *arg)
{
	struct autosvc *a = arg;
	struct auto_evidence ev;

	a->lines[AUTO_FROM_MAILLOG]++;
	if (auto_parse_line(line, &ev))
		evidence(a, &ev, AUTO_FROM_MAILLOG);
}

static void on_message(const char *msg, void *arg)
{
	struct autosvc *a = arg;
	struct auto_evidence ev;

	a->lines[AUTO_FROM_JOURNAL]++;
	if (auto_parse_message(msg, &ev))
		evidence(a, &ev, AUTO_FROM_JOURNAL);
}

void autosvc_policy(void *arg, const char *client, const char *rcpt, const char *action)
{
	struct autosvc *a = arg;
	struct auto_evidence ev = {};
	char err[MXS_ERRLEN];

	if (!a || parse_addr(client, &ev.src, err, sizeof(err)))
		return;
	/* the answer given, by its first word: a 5xx or REJECT; a HOLD
	 * (quarantine, each recipient); the spam header (once a message: the
	 * later recipients of one get DUNNO). Monitor mode's header is no
	 * verdict. */
	if (action[0] == '5' || !strncasecmp(action, "REJECT", 6)) {
		ev.kind = AUTO_REJECT;
		snprintf(ev.what, sizeof(ev.what), "RCPT to %.60s: %.40s", rcpt, action);
	} else if (!strncasecmp(action, "HOLD", 4)) {
		ev.kind = AUTO_SPAM;
		snprintf(ev.what, sizeof(ev.what), "RCPT to %.60s: quarantine", rcpt);
	} else if (!strncasecmp(action, "PREPEND X-Spam-Flag:", 20)) {
		ev.kind = AUTO_SPAM;
		snprintf(ev.what, sizeof(ev.what), "RCPT to %.60s: spam", rcpt);
	} else {
		return;
	}
	evidence(a, &ev, AUTO_FROM_POLICY);
}

/* The rules file changed (auto rule add|del): take the new rules. */
static void rules_check(struct autosvc *a)
{
	struct ctl c = ctl_of(a);
	char p[PATH_MAX];
	struct stat st = {};
	struct auto_rule *v;
	int n;

	state_path(&c, ST_AUTO_RULES, p, sizeof(p));
	if (stat(p, &st) && errno != ENOENT)
		return;
	if (a->rules_read && st.st_ino == a->rules_st.st_ino && st.st_size == a->rules_st.st_size &&
	    st.st_mtim.tv_sec == a->rules_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == a->rules_st.st_mtim.tv_nsec)
		return;
	a->rules_st = st;
	if (auto_rules_read(&c, &v, &n)) {
		log_print(LOG_ERR, "auto: the rules could not be read: the previous ones stay");
		return;
	}
	auto_set_rules(a->e, v, n);
	log_print(a->rules_read ? LOG_NOTICE : LOG_INFO, "auto: %d rule%s%s", n, n == 1 ? "" : "s",
		  n ? "" : " (none: nothing is counted; 'mxshield auto rule add')");
	a->rules_read = true;
	free(v);
}

static void sources_close(struct autosvc *a)
{
	if (a->tail) {
		epoll_ctl(a->ep, EPOLL_CTL_DEL, logtail_fd(a->tail), NULL);
		logtail_close(a->tail);
		a->tail = NULL;
	}
	if (a->jt) {
		epoll_ctl(a->ep, EPOLL_CTL_DEL, journaltail_fd(a->jt), NULL);
		journaltail_close(a->jt);
		a->jt = NULL;
	}
}

/* Open the log's sources of @conf (a reload: the ones that changed). */
static void sources_open(struct autosvc *a, const struct autosvc_conf *conf)
{
	char err[PATH_MAX + MXS_ERRLEN];
	const char *ml = conf->maillog_file ? conf->maillog_file : "";
	const char *jn = conf->journal ? conf->journal : "";
	bool jon = conf->journal != NULL;

	if (strcmp(ml, a->maillog) && a->tail) {
		epoll_ctl(a->ep, EPOLL_CTL_DEL, logtail_fd(a->tail), NULL);
		logtail_close(a->tail);
		a->tail = NULL;
	}
	if (*ml && !a->tail) {
		a->tail = logtail_open(ml, err, sizeof(err));
		if (!a->tail)
			log_print(LOG_ERR, "auto: %s: Postfix's log is not read", err);
		else if (epoll_ctl(a->ep, EPOLL_CTL_ADD, logtail_fd(a->tail),
				   &(struct epoll_event){ .events = EPOLLIN }))
			log_print(LOG_ERR, "auto: epoll: %s", strerror(errno));
		else
			log_print(LOG_INFO, "auto: reading Postfix's log %s%s", ml,
				  access(ml, R_OK) ? " (not there yet: waiting for it)" : "");
	}
	snprintf(a->maillog, sizeof(a->maillog), "%s", ml);
	if ((jon != a->journal_on || strcmp(jn, a->journal)) && a->jt) {
		epoll_ctl(a->ep, EPOLL_CTL_DEL, journaltail_fd(a->jt), NULL);
		journaltail_close(a->jt);
		a->jt = NULL;
	}
	if (jon && !a->jt) {
		a->jt = journaltail_open(*jn ? jn : NULL, err, sizeof(err));
		if (!a->jt)
			log_print(LOG_ERR, "auto: %s: Postfix's journal entries are not read", err);
		else if (epoll_ctl(a->ep, EPOLL_CTL_ADD, journaltail_fd(a->jt),
				   &(struct epoll_event){ .events = EPOLLIN }))
			log_print(LOG_ERR, "auto: epoll: %s", strerror(errno));
		else
			log_print(LOG_INFO, "auto: reading the journal%s%s (postfix/smtpd)",
				  *jn ? " in " : "", jn);
	}
	a->journal_on = jon;
	snprintf(a->journal, sizeof(a->journal), "%s", jn);
}

struct autosvc *autosvc_start(const struct ctl *c, const struct autosvc_conf *conf,
			      struct srcq *q)
{
	struct autosvc *a = calloc(1, sizeof(*a));
	struct ctl cc;

	if (!a) {
		ctl_err("out of memory");
		return NULL;
	}
	snprintf(a->state_dir, sizeof(a->state_dir), "%s", c->state_dir);
	snprintf(a->bpffs_dir, sizeof(a->bpffs_dir), "%s", c->bpffs_dir);
	a->e = auto_new(conf->max_sources, conf->remember);
	a->q = q;
	a->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!a->e || !a->q || a->ep < 0) {
		ctl_err("auto: %s", a->ep < 0 ? strerror(errno) : "out of memory");
		autosvc_stop(a);
		return NULL;
	}
	rules_check(a);
	cc = ctl_of(a);
	/* the offences remembered: waited for, this once (a command holds
	 * auto.lock for milliseconds) */
	if (auto_sync(a->e, &cc, time(NULL), true) < 0) {
		autosvc_stop(a);
		return NULL;
	}
	sources_open(a, conf);
	a->next_tick = mono_ms() + TICK_MS;
	a->next_prune = time(NULL) + PRUNE_EVERY_S;
	return a;
}

int autosvc_fd(const struct autosvc *a)
{
	return a->ep;
}

void autosvc_reconf(struct autosvc *a, const struct autosvc_conf *conf)
{
	sources_open(a, conf);
	/* remember: the engine keeps what it has, it applies from the next
	 * prune */
	rules_check(a);
}

void autosvc_ready(struct autosvc *a)
{
	int64_t now_ms = mono_ms();
	struct ctl c = ctl_of(a);

	/* the reads below take what made our epoll fd readable (inotify's
	 * events, sd_journal_process()) */
	if (now_ms >= a->next_tick) {
		/* once a second: what inotify does not tell (a rename into
		 * another directory), the rules, upkeep */
		rules_check(a);
		{
			char fp[PATH_MAX];

			state_path(&c, ST_AUTO_FORGET, fp, sizeof(fp));
			if (!access(fp, F_OK))
				a->sync_due = true;	/* auto forget asked */
		}
		if (time(NULL) >= a->next_prune) {
			auto_prune(a->e, time(NULL));
			a->next_prune = time(NULL) + PRUNE_EVERY_S;
			a->sync_due = true;	/* offences forgotten, auto-forget */
		}
		a->next_tick = now_ms + TICK_MS;
	}
	if (a->tail)
		logtail_read(a->tail, on_line, a);
	if (a->jt)
		journaltail_read(a->jt, on_message, a);
	/* the offences now, the batch the service applies after: a block's
	 * history outlives a crash before the batch */
	if (a->sync_due && auto_sync(a->e, &c, time(NULL), false) == 0)
		a->sync_due = false;
}

int autosvc_timeout(const struct autosvc *a)
{
	int64_t left = a->next_tick - mono_ms();

	if (a->sync_due)
		return RETRY_MS;
	return left > 0 ? (int)left : 0;
}

void autosvc_metrics(const struct autosvc *a, FILE *out)
{
	struct auto_stats st;

	auto_stats(a->e, &st);
	metrics_head(out, "mxshield_auto_evidence_total", "counter",
		     "Evidence for automatic blocks since the service started, by kind (reject, "
		     "spam, auth-fail) and origin (policy: the policy service's answers; "
		     "maillog, journal: Postfix's log).");
	for (int k = 0; k < AUTO_KINDS; k++)
		for (int o = 0; o < AUTO_ORIGINS; o++)
			metrics_sample_u64(out, "mxshield_auto_evidence_total", st.evidence[k][o],
					   "kind", auto_kind_names[k], "origin",
					   auto_origin_names[o], NULL);
	metrics_head(out, "mxshield_auto_blocks_total", "counter",
		     "Automatic blocks pushed since the service started, by rule.");
	for (int i = 0; i < auto_nrules(a->e); i++)
		metrics_sample_u64(out, "mxshield_auto_blocks_total", auto_blocks(a->e, i), "rule",
				   auto_rule_at(a->e, i)->name, NULL);
	metrics_head(out, "mxshield_auto_tracked_sources", "gauge",
		     "Sources whose evidence is being counted now (at most [auto] max_sources).");
	metrics_sample(out, "mxshield_auto_tracked_sources", (double)st.sources, NULL);
	metrics_head(out, "mxshield_auto_offenders", "gauge",
		     "Sources with an offence remembered (their next block doubles).");
	metrics_sample(out, "mxshield_auto_offenders", (double)st.offenders, NULL);
	metrics_head(out, "mxshield_auto_evicted_total", "counter",
		     "Counted sources dropped to stay within [auto] max_sources (their counts "
		     "start again).");
	metrics_sample_u64(out, "mxshield_auto_evicted_total", st.evicted, NULL);
	metrics_head(out, "mxshield_auto_spared_total", "counter",
		     "Rules that fired for a trust, partner or gateway source: not blocked.");
	metrics_sample_u64(out, "mxshield_auto_spared_total", st.spared, NULL);
	metrics_head(out, "mxshield_auto_log_lines_total", "counter",
		     "Lines of Postfix's log read (maillog: the file; journal: smtpd's entries).");
	metrics_sample_u64(out, "mxshield_auto_log_lines_total", a->lines[AUTO_FROM_MAILLOG],
			   "origin", "maillog", NULL);
	metrics_sample_u64(out, "mxshield_auto_log_lines_total", a->lines[AUTO_FROM_JOURNAL],
			   "origin", "journal", NULL);
}

void autosvc_stop(struct autosvc *a)
{
	if (!a)
		return;
	if (a->e && a->sync_due) {
		struct ctl c = ctl_of(a);

		/* what is decided is written: waited for, on the way out (the
		 * service applies the queue after the parts stop) */
		auto_sync(a->e, &c, time(NULL), true);
	}
	sources_close(a);
	if (a->ep >= 0)
		close(a->ep);
	auto_free(a->e);
	free(a);
}
