// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The content milter. libmilter runs one thread per MTA connection and
 * calls us per SMTP stage; per message we keep the client's address, the
 * envelope sender and a capture of the message (headers as the MTA passes
 * them, then the body) of at most MIME_CAPTURE_MAX bytes: past that the
 * MTA is told to skip the rest of the body (SMFIS_SKIP), so a 20 MB
 * message costs 2 MB of reading. At the end of the message:
 *
 *   decode (mime.c) -> content checks in order (content.c) -> if they
 *   found something: the client's standing (trust, partner: from the state
 *   directory, ctl_state_classify_top()) and the envelope lists' allow
 *   entries, by policy_decide_content() -> headers, hold, or 550.
 *
 * The rules are compiled once per change of the state files (their
 * mtimes, three stat() calls at the start of each message) into a refcounted set
 * every thread shares read-only; a message keeps the set it started with.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <libmilter/mfapi.h>
#include "../core/ctl.h"
#include "../core/log.h"
#include "../core/parse.h"
#include "../filter/stateview.h"
#include "content.h"
#include "envelope.h"
#include "mime.h"
#include "milter.h"
#include "policy_decide.h"
#include "policy_service.h"
#include "spf.h"

/* ------------------------------------------------------------ the rules */

struct ruleset {
	struct env_set env;
	struct content_rules *cr;
	uint32_t flags;			/* the filter's settings (monitor mode) */
	int refs;
};

static struct {
	pthread_mutex_t mu;
	struct ctl *c;
	struct ruleset *cur;
	struct timespec stamp[4];
	pthread_mutex_t classify_mu;	/* ctl reads are not made for threads */
	bool skip_ok;			/* the MTA takes SMFIS_SKIP */
	bool leadspc;			/* header values carry their leading space */
} m = { .mu = PTHREAD_MUTEX_INITIALIZER, .classify_mu = PTHREAD_MUTEX_INITIALIZER };

static void rules_put(struct ruleset *r)
{
	bool last;

	if (!r)
		return;
	pthread_mutex_lock(&m.mu);
	last = --r->refs == 0;
	pthread_mutex_unlock(&m.mu);
	if (last) {
		content_rules_free(r->cr);
		env_free(&r->env);
		free(r);
	}
}

static struct ruleset *rules_load(char *err, size_t errlen)
{
	struct ruleset *r = calloc(1, sizeof(*r));
	struct mxs_config cfg = {};

	if (!r)
		return snprintf(err, errlen, "out of memory"), NULL;
	if (env_load(m.c, &r->env, err, errlen)) {
		free(r);
		return NULL;
	}
	r->cr = content_rules_build(&r->env, err, errlen);
	if (!r->cr) {
		env_free(&r->env);
		free(r);
		return NULL;
	}
	if (!ctl_state_config(m.c, &cfg))
		r->flags = cfg.flags;
	r->refs = 1;
	return r;
}

/* The current set, reloaded first when a state file changed. */
static struct ruleset *rules_get(void)
{
	static const char *const files[4] = { ST_ENVELOPE, ST_PARTNERS, ST_SETTINGS,
					      ST_LANGUAGE };
	struct timespec now[4] = {};
	struct ruleset *r;
	bool changed = false;

	pthread_mutex_lock(&m.mu);
	{
		for (int i = 0; i < 4; i++) {
			char p[4096];
			struct stat st;

			state_path(m.c, files[i], p, sizeof(p));
			if (!stat(p, &st))
				now[i] = st.st_mtim;
			if (now[i].tv_sec != m.stamp[i].tv_sec || now[i].tv_nsec != m.stamp[i].tv_nsec)
				changed = true;
		}
	}
	if (changed || !m.cur) {
		char err[MXS_ERRLEN + 64];
		struct ruleset *fresh;

		/* compiled under the lock: the threads wait for one build
		 * rather than each building its own */
		memcpy(m.stamp, now, sizeof(now));
		fresh = rules_load(err, sizeof(err));
		if (!fresh) {
			log_print(LOG_ERR, "milter: keeping the previous rules: %s", err);
		} else {
			if (m.cur && --m.cur->refs == 0) {
				content_rules_free(m.cur->cr);
				env_free(&m.cur->env);
				free(m.cur);
			}
			m.cur = fresh;
			log_print(LOG_INFO, "milter: rules loaded: %d content rules%s",
				  content_rules_count(fresh->cr),
				  fresh->flags & MXS_F_MONITOR ? " (monitor mode)" : "");
		}
	}
	r = m.cur;
	if (r)
		r->refs++;
	pthread_mutex_unlock(&m.mu);
	return r;
}

/* ------------------------------------------------------ per connection */

struct mctx {
	char addr[INET6_ADDRSTRLEN];	/* "" for a local or unknown client */
	char sender[512];
	struct mxs_verdict ipv;		/* the client's standing, once asked */
	bool ipv_known;
	char *buf;			/* the capture */
	size_t n;
	bool cut;
	struct ruleset *rules;
};

static struct mctx *ctx_of(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

static void message_reset(struct mctx *x)
{
	x->n = 0;
	x->cut = false;
	x->sender[0] = '\0';
	rules_put(x->rules);
	x->rules = NULL;
}

static void capture(struct mctx *x, const void *p, size_t n)
{
	if (x->n + n > MIME_CAPTURE_MAX) {
		n = MIME_CAPTURE_MAX - x->n;
		x->cut = true;
	}
	if (!x->buf && !(x->buf = malloc(MIME_CAPTURE_MAX)))
		return;
	memcpy(x->buf + x->n, p, n);
	x->n += n;
}

static sfsistat on_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			     unsigned long f2, unsigned long f3, unsigned long *pf0,
			     unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	/* headers to add, and the hold; steps we do not need are left out,
	 * and header values keep their leading space (the capture is the
	 * message as written) */
	*pf0 = (SMFIF_ADDHDRS | SMFIF_QUARANTINE) & f0;
	*pf1 = f1 & (SMFIP_SKIP | SMFIP_HDR_LEADSPC | SMFIP_NOHELO | SMFIP_NORCPT |
		     SMFIP_NOUNKNOWN | SMFIP_NODATA);
	*pf2 = *pf3 = 0;
	m.skip_ok = f1 & SMFIP_SKIP;
	m.leadspc = f1 & SMFIP_HDR_LEADSPC;
	return SMFIS_CONTINUE;
}

static sfsistat on_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	struct mctx *x = calloc(1, sizeof(*x));

	if (!x)
		return SMFIS_TEMPFAIL;
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, x->addr, sizeof(x->addr));
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, x->addr,
			  sizeof(x->addr));
	smfi_setpriv(ctx, x);
	return SMFIS_CONTINUE;
}

static sfsistat on_envfrom(SMFICTX *ctx, char **argv)
{
	struct mctx *x = ctx_of(ctx);
	const char *s = argv && argv[0] ? argv[0] : "";
	size_t l;

	if (!x)
		return SMFIS_ACCEPT;
	message_reset(x);
	x->rules = rules_get();
	if (!x->rules || !content_rules_count(x->rules->cr))
		return SMFIS_ACCEPT;	/* nothing to check: the MTA stops asking */
	if (*s == '<')
		s++;
	l = strlen(s);
	if (l && s[l - 1] == '>')
		l--;
	snprintf(x->sender, sizeof(x->sender), "%.*s", (int)l, s);
	return SMFIS_CONTINUE;
}

static sfsistat on_header(SMFICTX *ctx, char *name, char *value)
{
	struct mctx *x = ctx_of(ctx);

	if (!x)
		return SMFIS_CONTINUE;
	capture(x, name, strlen(name));
	capture(x, ":", 1);
	capture(x, value, strlen(value));
	capture(x, "\r\n", 2);
	return SMFIS_CONTINUE;
}

static sfsistat on_eoh(SMFICTX *ctx)
{
	struct mctx *x = ctx_of(ctx);

	if (x)
		capture(x, "\r\n", 2);
	return SMFIS_CONTINUE;
}

static sfsistat on_body(SMFICTX *ctx, unsigned char *p, size_t n)
{
	struct mctx *x = ctx_of(ctx);

	if (!x)
		return SMFIS_CONTINUE;
	capture(x, p, n);
	/* the rest is not read: no need to have it sent */
	return x->cut && m.skip_ok ? SMFIS_SKIP : SMFIS_CONTINUE;
}

/* The client's standing, for the precedence (trust, partner). */
static void client_verdict(const struct mctx *x, struct mxs_verdict *v)
{
	struct mxs_prefix a;
	char err[MXS_ERRLEN];

	memset(v, 0, sizeof(*v));
	v->list = MXS_LIST_NONE;
	v->country = MXS_COUNTRY_NONE;
	if (!*x->addr || parse_addr(x->addr, &a, err, sizeof(err)))
		return;
	pthread_mutex_lock(&m.classify_mu);
	if (ctl_state_classify_top(m.c, &a, now_tai_ns(), v)) {
		v->list = MXS_LIST_NONE;
		log_print(LOG_WARNING, "milter: cannot classify %s from the state: content "
			  "rules apply as to anyone", x->addr);
	}
	pthread_mutex_unlock(&m.classify_mu);
}

static void add_header(SMFICTX *ctx, const char *name, const char *value)
{
	char v[512];

	/* with SMFIP_HDR_LEADSPC the MTA writes "Name:" and the value as
	 * given: the space after the colon is ours to give */
	snprintf(v, sizeof(v), "%s%s", m.leadspc ? " " : "", value);
	if (smfi_addheader(ctx, (char *)name, v) != MI_SUCCESS)
		log_print(LOG_WARNING, "milter: the MTA refused header %s", name);
}

static sfsistat on_eom(SMFICTX *ctx)
{
	struct mctx *x = ctx_of(ctx);
	const char *qid = smfi_getsymval(ctx, "i");
	struct content_verdict cv;
	struct policy_out o;
	struct msg_text t;
	struct mxs_verdict ipv;
	struct policy_req q = { .request = "smtpd_access_policy", .protocol_state = "END-OF-MESSAGE" };
	sfsistat rc = SMFIS_ACCEPT;
	char line[400];

	if (!x || !x->rules)
		return SMFIS_ACCEPT;
	qid = qid ? qid : "NOQUEUE";
	if (mime_decode(x->buf ? x->buf : "", x->n, &t)) {
		msg_text_free(&t);
		log_print(LOG_ERR, "milter: %s: out of memory decoding the message: accepted", qid);
		message_reset(x);
		return SMFIS_ACCEPT;
	}
	t.truncated |= x->cut;
	if (x->cut)
		log_print(LOG_INFO, "milter: %s: message larger than the capture: its first %u "
			  "KiB read", qid, MIME_CAPTURE_MAX >> 10);
	content_run(x->rules->cr, &t, &cv);
	msg_text_free(&t);
	if (cv.limit_hits) {
		struct content_stats st;

		content_stats_get(&st);
		log_print(LOG_WARNING, "milter: %s: %u regular expression match(es) stopped at "
			  "the match limit (%llu since the start)", qid, cv.limit_hits,
			  (unsigned long long)st.limit_hits);
	}
	for (int i = 0; i < cv.nhdr; i++)
		add_header(ctx, cv.hdr[i].name, cv.hdr[i].value);
	if (cv.action == MXS_ACT_NONE)
		goto out;

	/* once per connection (a Postfix connection is one SMTP session) */
	if (!x->ipv_known) {
		client_verdict(x, &x->ipv);
		x->ipv_known = true;
	}
	ipv = x->ipv;
	q.client_address = *x->addr ? x->addr : NULL;
	q.sender = x->sender;
	policy_decide_content(&q, &x->rules->env, &ipv, x->rules->flags, spf_check_fail, NULL,
			      cv.action, cv.reason, &o);
	if (o.verdict == MXS_ACT_NONE) {
		log_print(LOG_INFO, "milter: %s from %s: %s passes (%s)", qid,
			  *x->addr ? x->addr : "local", cv.reason, o.log);
		goto out;
	}
	if (x->rules->flags & MXS_F_MONITOR) {
		snprintf(line, sizeof(line), "would %s (%s)", action_name(o.verdict), o.reason);
		add_header(ctx, "X-Mxshield-Monitor", line);
		log_print(LOG_INFO, "milter: %s from %s: monitor: %s", qid,
			  *x->addr ? x->addr : "local", line);
		goto out;
	}
	log_print(LOG_NOTICE, "milter: %s from %s: %s (%s)", qid, *x->addr ? x->addr : "local",
		  action_name(o.verdict), o.reason);
	switch (o.verdict) {
	case MXS_ACT_REJECT:
		snprintf(line, sizeof(line), "mxshield: rejected (%s)", o.reason);
		/* an SMTP reply is ASCII (without SMTPUTF8 Postfix blanks the
		 * rest), and libmilter takes '%' as a format character */
		{
			unsigned char *r = (unsigned char *)line, *w = r;

			for (; *r; r++)
				if ((*r & 0xc0) != 0x80)	/* one '?' a character */
					*w++ = *r >= 0x80 || *r < 0x20 || *r == '%' ? '?' : *r;
			*w = '\0';
		}
		smfi_setreply(ctx, "550", "5.7.1", line);
		rc = SMFIS_REJECT;
		break;
	case MXS_ACT_QUARANTINE:
		/* the reason goes with the message, for `quarantine list` */
		add_header(ctx, "X-Mxshield-Reason", o.reason);
		snprintf(line, sizeof(line), "mxshield: quarantined (%s)", o.reason);
		if (smfi_quarantine(ctx, line) != MI_SUCCESS) {
			log_print(LOG_ERR, "milter: %s: the MTA refused the hold (is "
				  "SMFIF_QUARANTINE offered?): delivered with headers", qid);
			add_header(ctx, "X-Spam-Flag", "YES");
		}
		break;
	default:
		add_header(ctx, "X-Spam-Flag", "YES");
		add_header(ctx, "X-Mxshield-Reason", o.reason);
		break;
	}
out:
	message_reset(x);
	return rc;
}

static sfsistat on_abort(SMFICTX *ctx)
{
	struct mctx *x = ctx_of(ctx);

	if (x)
		message_reset(x);
	return SMFIS_CONTINUE;
}

static sfsistat on_close(SMFICTX *ctx)
{
	struct mctx *x = ctx_of(ctx);

	if (x) {
		message_reset(x);
		free(x->buf);
		free(x);
		smfi_setpriv(ctx, NULL);
	}
	return SMFIS_CONTINUE;
}

/* ---------------------------------------------------------------- start */

int milter_listen_check(const char *spec, char *err, size_t errlen)
{
	const char *colon;

	if (!strncmp(spec, "unix:/", 6) && strlen(spec + 5) < 108)
		return 0;
	if (!strncmp(spec, "inet:", 5) && (colon = strrchr(spec + 5, ':')) && colon > spec + 5 &&
	    colon[1])
		return 0;
	return mxs_fail(err, errlen, "'%s': expected unix:/ABSOLUTE/PATH or inet:HOST:PORT",
			spec);
}

/* Ours (inet:HOST:PORT, [V6]:PORT) in libmilter's words (inet:PORT@HOST,
 * inet6:PORT@HOST). */
static void to_libmilter(const char *spec, char *out, size_t len)
{
	const char *colon;
	char host[128];
	bool v6;

	if (!strncmp(spec, "unix:", 5)) {
		snprintf(out, len, "%s", spec);
		return;
	}
	colon = strrchr(spec + 5, ':');
	snprintf(host, sizeof(host), "%.*s", (int)(colon - spec - 5), spec + 5);
	v6 = host[0] == '[' || strchr(host, ':');
	if (host[0] == '[') {
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	snprintf(out, len, "%s:%s@%s", v6 ? "inet6" : "inet", colon + 1, host);
}

static struct smfiDesc desc = {
	.xxfi_name = "mxshield",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_QUARANTINE,
	.xxfi_connect = on_connect,
	.xxfi_envfrom = on_envfrom,
	.xxfi_header = on_header,
	.xxfi_eoh = on_eoh,
	.xxfi_body = on_body,
	.xxfi_eom = on_eom,
	.xxfi_abort = on_abort,
	.xxfi_close = on_close,
	.xxfi_negotiate = on_negotiate,
};

int milter_serve(struct ctl *c, const struct milter_opts *o)
{
	const char *spec = o->listen ? o->listen : MILTER_LISTEN_DEFAULT;
	struct passwd *pw = NULL;
	char conn[PATH_MAX + 32], err[MXS_ERRLEN + 64];
	gid_t gid = (gid_t)-1;
	bool unixsock = !strncmp(spec, "unix:", 5);
	struct ruleset *r;
	mode_t um;

	if (o->log_ident)
		log_open(LOG_TO_STDERR, o->log_ident);
	if (milter_listen_check(spec, err, sizeof(err)))
		return ctl_err("milter: %s", err);
	if (o->socket_group && !unixsock)
		return ctl_err("milter: --socket-group is for a unix: socket");
	if (unixsock) {
		struct group *gr = getgrnam(o->socket_group ? o->socket_group : "postfix");

		if (!gr && o->socket_group)
			return ctl_err("milter: --socket-group %s: no such group", o->socket_group);
		if (gr)
			gid = gr->gr_gid;
	}
	if (o->user && !(pw = getpwnam(o->user)))
		return ctl_err("milter: --user %s: no such user", o->user);
	m.c = c;
	/* the rules, now: a state directory that cannot be read is an
	 * error at the start, not a log line per message */
	if (!(r = rules_load(err, sizeof(err))))
		return ctl_err("milter: %s", err);
	rules_put(r);

	to_libmilter(spec, conn, sizeof(conn));
	if (smfi_setconn(conn) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS)
		return ctl_err("milter: libmilter refused %s", conn);
	smfi_settimeout(o->timeout > 0 ? o->timeout : 300);
	/* a unix socket is born 0660 (no window with a wider mode) and
	 * gets the MTA's group */
	um = umask(0117);
	if (smfi_opensocket(true) != MI_SUCCESS) {
		umask(um);
		return ctl_err("milter: cannot listen on %s (in use? the directory there?)", spec);
	}
	umask(um);
	if (unixsock && gid != (gid_t)-1 && lchown(spec + 5, -1, gid))
		return ctl_err("milter: %s: setting its group: %s", spec, strerror(errno));
	if (pw && drop_to(pw, -1))
		return 1;
	if (pw && (r = rules_load(err, sizeof(err))) == NULL)
		return ctl_err("milter: --user %s cannot read the state directory %s: %s (make it "
			       "and its files readable by a group of the user)", o->user,
			       c->state_dir, err);
	if (pw)
		rules_put(r);
	log_print(LOG_NOTICE, "milter: listening on %s%s%s (captures up to %u KiB a message)",
		  spec, pw ? " as " : "", pw ? pw->pw_name : "", MIME_CAPTURE_MAX >> 10);
	if (smfi_main() != MI_SUCCESS)
		return ctl_err("milter: libmilter stopped with an error");
	{
		struct content_stats st;

		content_stats_get(&st);
		log_print(LOG_NOTICE, "milter: stopped after %llu messages checked (%llu regex "
			  "limit stops, %llu cut at a bound)", (unsigned long long)st.messages,
			  (unsigned long long)st.limit_hits, (unsigned long long)st.truncated);
	}
	if (unixsock)
		unlink(spec + 5);
	return 0;
}
