// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `mxshield serve`: the config file, and the loop that runs the parts.
 *
 * One thread, one epoll set: the policy service's own epoll fd, a
 * signalfd (SIGHUP, SIGTERM, SIGINT, SIGCHLD), a timerfd for the sweeps,
 * an inotify fd on the watched database's directory and a timerfd that
 * lets a burst of its events settle, and the fd of each part (the metrics
 * endpoint's epoll fd, the drop-event reader's). A part never waits: a
 * scrape that finds a change holding the state directory's lock answers
 * with the previous scrape's figures (ctl.lock_nowait), since Postfix's
 * answers come from this same thread. The policy service is never blocked
 * by upkeep: a sweep or a database load (a full build: seconds on a big
 * database) runs in a child process, one at a time, which takes the state
 * directory's lock (ctl_lock) only for its work and exits; its result is
 * logged when SIGCHLD comes. A child never loads a filter that is not
 * loaded (ctl_open_if_loaded): an unloaded filter gets its state updated
 * and the next restore compiles it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <pwd.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <systemd/sd-daemon.h>
#include "../core/conf.h"
#include "../core/ctl.h"
#include "../core/httpd.h"
#include "../core/log.h"
#include "../core/parse.h"
#include "../filter/build.h"
#include "../filter/dropevent.h"
#include "../filter/feed.h"
#include "../filter/geodb.h"
#include "../filter/source.h"
#include "../filter/loader.h"
#include "../filter/metrics.h"
#include "milter.h"
#include "autosvc.h"
#include "policy_service.h"
#include "service.h"
#include "sync.h"

/* ------------------------------------------------------------ the schema */

enum kind { K_BOOL, K_LOG, K_LISTEN, K_GROUP, K_NUM, K_DUR, K_PATH, K_ADDR, K_JOURNAL, K_URLS,
	    K_TEXT };

/* Every key the file may hold: its default, its type, and whether a
 * reload applies it (else it is reported as needing a restart). */
static const struct key {
	const char *section, *key, *dflt;
	enum kind kind;
	long lo, hi;		/* K_NUM bounds; K_DUR least seconds */
	bool live;
} keys[] = {
	{ "service", "log", "auto", K_LOG, 0, 0, false },
	{ "policy", "enabled", "yes", K_BOOL, 0, 0, false },
	{ "policy", "listen", "inet:127.0.0.1:10040", K_LISTEN, 0, 0, false },
	{ "policy", "socket_group", "postfix", K_GROUP, 0, 0, false },
	{ "policy", "request_timeout", "10", K_NUM, 1, 3600, true },
	{ "policy", "idle_timeout", "600", K_NUM, 1, 86400, true },
	{ "policy", "max_conn", "4096", K_NUM, 1, 1000000, false },
	{ "policy", "max_per_peer", "256", K_NUM, 1, 1000000, true },
	{ "sweep", "enabled", "yes", K_BOOL, 0, 0, true },
	{ "sweep", "interval", "1h", K_DUR, 1, 0, true },
	{ "feeds", "enabled", "yes", K_BOOL, 0, 0, true },
	{ "feeds", "check", "1m", K_DUR, 1, 0, true },
	{ "geo", "watch", "no", K_PATH, 0, 0, true },
	{ "geo", "max_age", "30d", K_DUR, 1, 0, true },
	{ "metrics", "enabled", "no", K_BOOL, 0, 0, false },
	{ "metrics", "listen", MXS_METRICS_LISTEN, K_ADDR, 0, 0, false },
	{ "events", "enabled", "no", K_BOOL, 0, 0, false },
	{ "milter", "enabled", "no", K_BOOL, 0, 0, false },
	{ "milter", "listen", MILTER_LISTEN_DEFAULT, K_LISTEN, 0, 0, false },
	{ "milter", "socket_group", "postfix", K_GROUP, 0, 0, false },
	{ "auto", "enabled", "no", K_BOOL, 0, 0, false },
	{ "auto", "maillog_file", "no", K_PATH, 0, 0, true },
	{ "auto", "journal", "no", K_JOURNAL, 0, 0, true },
	{ "auto", "max_sources", "65536", K_NUM, 1000, 10000000, false },
	{ "auto", "remember", "7d", K_DUR, 1, 0, false },
	{ "sync", "enabled", "no", K_BOOL, 0, 0, false },
	{ "sync", "endpoints", "", K_URLS, 0, 0, false },
	{ "sync", "prefix", "/mxshield/", K_PATH, 0, 0, false },
	{ "sync", "name", "", K_TEXT, 0, 0, false },
	{ "sync", "cert", "no", K_PATH, 0, 0, false },
	{ "sync", "key", "no", K_PATH, 0, 0, false },
	{ "sync", "cacert", "no", K_PATH, 0, 0, false },
	{ "sync", "share", "block,trust,gateway,block.auto,block.dnsbl,partners,countries,envelope",
	  K_TEXT, 0, 0, false },
};
#define NKEYS (int)(sizeof(keys) / sizeof(keys[0]))

/*
 * The parts after the policy service. Each has a section with "enabled";
 * start() gets the socket systemd passed under the part's name (-1: none)
 * and gives the fd the loop polls; ready() runs when it is readable or
 * when the deadline of timeout() (ms, -1: none) has passed; reload() after
 * the config was reread; metrics() adds the part's families to the
 * endpoint's document. A start of NULL: not in this build, refused.
 */
struct svc;
struct service_part {
	const char *section, *what;
	int (*start)(struct svc *s, int lfd, int *fd);	/* 0, or 1 after ctl_err */
	void (*ready)(struct svc *s);
	int (*timeout)(struct svc *s);
	void (*reload)(struct svc *s);
	void (*metrics)(struct svc *s, FILE *out);
	void (*stop)(struct svc *s);
};

static int metrics_start(struct svc *s, int lfd, int *fd);
static void metrics_ready(struct svc *s);
static int metrics_timeout(struct svc *s);
static void metrics_stop(struct svc *s);
static int events_start(struct svc *s, int lfd, int *fd);
static void events_ready(struct svc *s);
static int events_timeout(struct svc *s);
static void events_reload(struct svc *s);
static void events_metrics(struct svc *s, FILE *out);
static void events_stop(struct svc *s);
static int milter_start(struct svc *s, int lfd, int *fd);
static void milter_ready(struct svc *s);
static int milter_timeout(struct svc *s);
static void milter_metrics(struct svc *s, FILE *out);
static void milter_stop(struct svc *s);
static int auto_start(struct svc *s, int lfd, int *fd);
static void auto_ready(struct svc *s);
static int auto_timeout(struct svc *s);
static void auto_reload(struct svc *s);
static void auto_metrics(struct svc *s, FILE *out);
static void auto_stop(struct svc *s);
static int sync_start(struct svc *s, int lfd, int *fd);
static void sync_ready(struct svc *s);
static int sync_timeout(struct svc *s);
static void sync_metrics(struct svc *s, FILE *out);
static void sync_stop(struct svc *s);

static const struct service_part parts[] = {
	{ "metrics", "metrics endpoint", metrics_start, metrics_ready, metrics_timeout, NULL,
	  NULL, metrics_stop },
	{ "events", "drop-event log", events_start, events_ready, events_timeout,
	  events_reload, events_metrics, events_stop },
	{ "milter", "content milter", milter_start, milter_ready, milter_timeout, NULL,
	  milter_metrics, milter_stop },
	{ "auto", "automatic blocks", auto_start, auto_ready, auto_timeout, auto_reload,
	  auto_metrics, auto_stop },
	{ "sync", "fleet sync (etcd)", sync_start, sync_ready, sync_timeout, NULL, sync_metrics,
	  sync_stop },
};
#define NPARTS (int)(sizeof(parts) / sizeof(parts[0]))

struct service_conf {
	char path[PATH_MAX];
	bool file_read;			/* false: no file, the defaults */
	char val[NKEYS][PATH_MAX];
	int line[NKEYS];		/* 0: default or a flag */
	const char *from[NKEYS];	/* the flag that set it, or NULL */
};

const char *service_conf_get(const struct service_conf *sc, const char *section,
			     const char *key)
{
	for (int i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].section, section) && !strcmp(keys[i].key, key))
			return sc->val[i];
	return NULL;
}

static bool yes(const struct service_conf *sc, const char *section, const char *key)
{
	return !strcmp(service_conf_get(sc, section, key), "yes");
}

static int64_t secs(const struct service_conf *sc, const char *section, const char *key)
{
	int64_t v = 0;
	char err[MXS_ERRLEN];

	parse_duration(service_conf_get(sc, section, key), &v, err, sizeof(err));
	return v;
}

/* Check one value of key k: 0, or -1 with the reason. */
static int check_value(const struct key *k, const char *v, char *err, size_t errlen)
{
	enum log_target t;
	int64_t d;
	char *end;
	long n;

	switch (k->kind) {
	case K_BOOL:
		if (strcmp(v, "yes") && strcmp(v, "no"))
			return mxs_fail(err, errlen, "'%s': expected yes or no", v);
		return 0;
	case K_LOG:
		return log_parse_target(v, &t, err, errlen);
	case K_LISTEN:
		if (!strncmp(v, "unix:/", 6) && strlen(v) < 108)
			return 0;
		if (!strncmp(v, "inet:", 5) && strrchr(v + 5, ':') > v + 5)
			return 0;
		return mxs_fail(err, errlen, "'%s': expected unix:/ABSOLUTE/PATH or "
				"inet:HOST:PORT", v);
	case K_GROUP:
		return parse_name(v, err, errlen);
	case K_NUM:
		errno = 0;
		n = strtol(v, &end, 10);
		if (errno || end == v || *end || n < k->lo || n > k->hi)
			return mxs_fail(err, errlen, "'%s': expected a number from %ld to %ld", v,
					k->lo, k->hi);
		return 0;
	case K_DUR:
		if (parse_duration(v, &d, err, errlen))
			return -1;
		if (d < k->lo * 1)
			return mxs_fail(err, errlen, "'%s': at least 1s", v);
		return 0;
	case K_PATH:
		if (!strcmp(v, "no") || v[0] == '/')
			return 0;
		return mxs_fail(err, errlen, "'%s': expected an absolute path, or no", v);
	case K_ADDR:
		if (strrchr(v, ':') && strrchr(v, ':') != v)
			return 0;
		return mxs_fail(err, errlen, "'%s': expected HOST:PORT", v);
	case K_JOURNAL:
		if (!strcmp(v, "yes") || !strcmp(v, "no") || v[0] == '/')
			return 0;
		return mxs_fail(err, errlen, "'%s': expected yes (the system's journal), no, or "
				"the absolute path of a journal directory", v);
	case K_URLS:
		for (const char *p = v; *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p))
			if (strncmp(p, "http://", 7) && strncmp(p, "https://", 8))
				return mxs_fail(err, errlen, "'%s': expected http:// or https:// "
						"URLs, comma-separated", v);
		return 0;
	case K_TEXT:
		return 0;
	}
	return 0;
}

static int key_index(const char *section, const char *key)
{
	for (int i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].section, section) && !strcmp(keys[i].key, key))
			return i;
	return -1;
}

static void known_keys(const char *section, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < NKEYS; i++)
		if (!strcmp(keys[i].section, section))
			n += snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? ", " : "",
				      keys[i].key);
}

/* Read and check the whole file, then the flags over it. Nothing of a bad
 * file is taken: 0 and *sc, or 1 after "FILE:LINE: reason". */
static int conf_load(const struct service_opts *o, struct service_conf *sc)
{
	struct conf cf;
	char err[PATH_MAX + MXS_ERRLEN];
	const char *path = o->config ? o->config : SERVICE_CONF_DEFAULT;
	struct stat st;

	memset(sc, 0, sizeof(*sc));
	snprintf(sc->path, sizeof(sc->path), "%s", path);
	for (int i = 0; i < NKEYS; i++)
		snprintf(sc->val[i], sizeof(sc->val[i]), "%s", keys[i].dflt);
	if (!o->config && stat(path, &st) && errno == ENOENT) {
		/* no file where it is looked for by default: the defaults */
	} else if (conf_read(path, &cf, err, sizeof(err))) {
		return ctl_err("%s", err);
	} else {
		sc->file_read = true;
		for (int j = 0; j < cf.n; j++) {
			const struct conf_item *it = &cf.v[j];
			int i = key_index(it->section, it->key);
			char known[512];

			if (i < 0) {
				known_keys(it->section, known, sizeof(known));
				ctl_err(*known ? "%s:%d: unknown key '%s' in [%s] (known: %s)" :
					"%s:%d: unknown key '%s' in section [%s]%s", path, it->line,
					it->key, it->section, *known ? known :
					" (sections: service, policy, sweep, feeds, geo, metrics, events, milter, auto, sync)");
				conf_free(&cf);
				return 1;
			}
			if (check_value(&keys[i], it->value, err, sizeof(err))) {
				ctl_err("%s:%d: %s: %s", path, it->line, it->key, err);
				conf_free(&cf);
				return 1;
			}
			snprintf(sc->val[i], sizeof(sc->val[i]), "%s", it->value);
			sc->line[i] = it->line;
		}
		conf_free(&cf);
	}
	for (int j = 0; j < o->nover; j++) {
		const struct service_override *ov = &o->over[j];
		int i = key_index(ov->section, ov->key);

		if (i < 0 || check_value(&keys[i], ov->value, err, sizeof(err)))
			return ctl_err("%s: %s", ov->flag, i < 0 ? "unknown setting" : err);
		snprintf(sc->val[i], sizeof(sc->val[i]), "%s", ov->value);
		sc->line[i] = 0;
		sc->from[i] = ov->flag;
	}
	/* what only makes sense together */
	for (int p = 0; p < NPARTS; p++) {
		int i = key_index(parts[p].section, "enabled");

		if (!parts[p].start && yes(sc, parts[p].section, "enabled")) {
			return ctl_err("%s:%d: [%s] enabled = yes: this build has no %s yet "
				       "(coming; leave it at no)", path, sc->line[i],
				       parts[p].section, parts[p].what);
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- state */

enum job { JOB_SWEEP = 1, JOB_GEO = 2, JOB_MAX_AGE = 4, JOB_FEEDS = 8 };

struct svc {
	struct ctl *c;
	const struct service_opts *o;
	struct service_conf conf;
	struct policy_server *policy;
	int ep, sfd, sweep_tfd, geo_tfd, feeds_tfd, ifd, iwd;
	char geo_dir[PATH_MAX], geo_name[NAME_MAX + 1];
	unsigned pending;		/* enum job bits waiting for a child */
	pid_t child;
	unsigned child_jobs;
	int policy_timeout;		/* ms, from policy_run() */
	bool stop;
	/* the parts: running, their fds, their deadlines (ms, -1: none) */
	bool on[NPARTS];
	int part_fd[NPARTS];
	int64_t due[NPARTS];
	/* the metrics endpoint */
	struct httpd *httpd;
	struct ctl mctl;		/* its directories, lock_nowait */
	char *mlast;			/* the filter's part of the last full scrape */
	size_t mlastlen;
	uint64_t mbusy;			/* scrapes that answered with it */
	char maddr[80];
	/* the drop-event log: the pinned ring buffer, while there is one */
	int evep, evfd;			/* our epoll fd (holds the ring's), the map */
	struct ring_buffer *rb;
	__u32 ev_map_id;
	int64_t ev_check;		/* ms: when to look at the pin again */
	uint64_t ev_logged;
	bool ev_missing_said;
	/* single pushes to the lists' sources (DNSBL, automatic blocks),
	 * applied in batches (filter/source.h) */
	struct srcq *srcq;
	struct ctl qctl;		/* its directories */
	int64_t push_due;		/* ms: next flush (-1: nothing queued) */
	/* the content milter: a child process (libmilter has its own
	 * threads and loop), started again when it ends */
	pid_t milter_pid;
	int64_t milter_due;		/* ms: when to start it again (-1: running) */
	int milter_backoff;		/* ms, doubled per quick end, to 60 s */
	int64_t milter_started;
	uint64_t milter_restarts;
	/* automatic blocks */
	struct autosvc *autos;
	/* the fleet sync (mta/sync.c), in a child of its own */
	pid_t sync_pid;
	int64_t sync_restart;		/* ms: start it again (after it died) */
};

static int64_t mono_ms(void);

static void notify_status(struct svc *s, const char *prefix)
{
	const struct service_conf *sc = &s->conf;
	char st[1024];
	size_t n = 0;

	n += snprintf(st + n, sizeof(st) - n, "%s", prefix);
	if (s->policy)
		n += snprintf(st + n, sizeof(st) - n, "policy on %s%s; ",
			      service_conf_get(sc, "policy", "listen"),
			      policy_has_maps(s->policy) ? "" : " (filter not loaded)");
	if (yes(sc, "sweep", "enabled"))
		n += snprintf(st + n, sizeof(st) - n, "sweeps every %s; ",
			      service_conf_get(sc, "sweep", "interval"));
	if (yes(sc, "feeds", "enabled"))
		n += snprintf(st + n, sizeof(st) - n, "feeds checked every %s; ",
			      service_conf_get(sc, "feeds", "check"));
	if (strcmp(service_conf_get(sc, "geo", "watch"), "no"))
		n += snprintf(st + n, sizeof(st) - n, "watching %s; ",
			      service_conf_get(sc, "geo", "watch"));
	if (s->httpd)
		n += snprintf(st + n, sizeof(st) - n, "metrics on %s; ", s->maddr);
	if (yes(sc, "events", "enabled"))
		n += snprintf(st + n, sizeof(st) - n, "drop events %s; ",
			      s->rb ? "to the log" : "(no ring buffer yet)");
	if (yes(sc, "milter", "enabled"))
		n += snprintf(st + n, sizeof(st) - n, "milter on %s; ",
			      service_conf_get(sc, "milter", "listen"));
	if (s->autos)
		n += snprintf(st + n, sizeof(st) - n, "automatic blocks; ");
	if (n >= 2 && !strcmp(st + n - 2, "; "))
		st[n - 2] = '\0';
	sd_notifyf(0, "STATUS=%s", st);
}

/* ----------------------------------------------------------------- upkeep */

/* Are two files the same bytes? (A database put back unchanged, or an
 * event for a file already loaded.) */
static bool same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rbe"), *fb = fopen(b, "rbe");
	bool same = fa && fb;
	char x[65536], y[65536];

	while (same) {
		size_t n = fread(x, 1, sizeof(x), fa), m = fread(y, 1, sizeof(y), fb);

		if (n != m || memcmp(x, y, n))
			same = false;
		if (!n)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

/* Is a feed due? (The parent asks on each check: two small state files
 * read, no lock: they are replaced whole, never written in place.) */
static bool feeds_due(struct svc *s)
{
	int64_t now = time(NULL);
	struct feed *v;
	bool due = false;
	int n;

	if (feed_read_all(s->c, &v, &n))
		return false;
	for (int i = 0; i < n && !due; i++)
		due = feed_next_due(&v[i]) <= now;
	free(v);
	return due;
}

/* In the child: refresh every feed that is due, each applied on its own
 * (the lock only for its apply), each outcome logged. */
static int feeds_job(struct ctl *c)
{
	int64_t now = time(NULL);
	struct feed *v;
	int n, rc = 0;

	if (feed_read_all(c, &v, &n))
		return 1;
	for (int i = 0; i < n; i++) {
		struct feed_result r;

		if (feed_next_due(&v[i]) > now)
			continue;
		if (feed_refresh(c, v[i].name, false, FEED_IF_LOADED, &r)) {
			rc = 1;
			continue;
		}
		switch (r.outcome) {
		case FEED_UPDATED:
			log_print(LOG_NOTICE, "feed %s: updated, %llu entries (had %llu)",
				  v[i].name, (unsigned long long)r.entries,
				  (unsigned long long)r.before);
			break;
		case FEED_UNCHANGED:
			log_print(LOG_INFO, "feed %s: unchanged (%llu entries)", v[i].name,
				  (unsigned long long)r.entries);
			break;
		case FEED_BUSY:
			log_print(LOG_INFO, "feed %s: skipped: %s", v[i].name, r.error);
			break;
		case FEED_FAILED:
			log_print(LOG_WARNING, "feed %s: refresh failed: %s; the last good copy "
				  "stays (%llu entries)", v[i].name, r.error,
				  (unsigned long long)r.before);
			rc = 1;
			break;
		}
	}
	free(v);
	return rc;
}

/* In the child: one fresh context per job, the lock held only for it. */
static int job_run(struct svc *s, enum job j)
{
	struct ctl c = { .state_dir = s->c->state_dir, .bpffs_dir = s->c->bpffs_dir,
			 .lock_fd = -1 };
	const char *watch = service_conf_get(&s->conf, "geo", "watch");
	char gp[PATH_MAX];
	struct geo_info gi;
	struct geo_meta meta;
	int removed, rc = 0;

	switch (j) {
	case JOB_SWEEP:
		if (ctl_open_if_loaded(&c) || ctl_sweep(&c, &removed))
			return 1;
		if (removed)
			log_print(LOG_NOTICE, "sweep: %d expired entr%s removed%s", removed,
				  removed == 1 ? "y" : "ies", c.loaded ? "" :
				  " (from the state: the filter is not loaded)");
		break;
	case JOB_GEO:
		state_path(&c, ST_GEO, gp, sizeof(gp));
		if (access(watch, R_OK)) {
			log_print(LOG_WARNING, "geo watch: %s: %s (waiting for it)", watch,
				  strerror(errno));
			break;
		}
		if (same_file(watch, gp))
			break;	/* loaded already */
		if (geodb_load(&c, watch, false, &meta, NULL)) {
			log_print(LOG_ERR, "geo watch: %s not loaded: the previous database "
				  "stays", watch);
			return 1;
		}
		log_print(LOG_NOTICE, "geo watch: loaded %s (%s, %llu networks, built %lld days "
			  "ago)%s", watch, meta.type, (unsigned long long)meta.networks,
			  (long long)((time(NULL) - (int64_t)meta.build_epoch) / 86400),
			  c.loaded ? "" : "; the filter is not loaded: restore compiles it");
		break;
	case JOB_FEEDS:
		rc = feeds_job(&c);
		break;
	case JOB_MAX_AGE:
		if (geodb_info(&c, &gi))
			return 1;
		if (gi.max_age != secs(&s->conf, "geo", "max_age"))
			rc = geodb_set_max_age(&c, secs(&s->conf, "geo", "max_age"));
		break;
	}
	if (c.lock_fd >= 0)
		close(c.lock_fd);	/* the child ends anyway: the lock goes with it */
	return rc;
}

static void jobs_start(struct svc *s)
{
	sigset_t none;
	pid_t pid;

	if (s->child > 0 || !s->pending)
		return;
	pid = fork();
	if (pid < 0) {
		log_print(LOG_ERR, "fork for upkeep: %s (tried again later)", strerror(errno));
		return;
	}
	if (!pid) {
		int rc = 0;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGTERM, SIG_DFL);
		/* max-age first (status reads it), the database, the sweep */
		if (s->pending & JOB_MAX_AGE)
			rc |= job_run(s, JOB_MAX_AGE);
		if (s->pending & JOB_GEO)
			rc |= job_run(s, JOB_GEO);
		if (s->pending & JOB_SWEEP)
			rc |= job_run(s, JOB_SWEEP);
		if (s->pending & JOB_FEEDS)
			rc |= job_run(s, JOB_FEEDS);
		_exit(rc);
	}
	s->child = pid;
	s->child_jobs = s->pending;
	s->pending = 0;
}

static void milter_exited(struct svc *s, int status);

static void jobs_reap(struct svc *s)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid == s->milter_pid && pid > 0) {
			milter_exited(s, status);
			continue;
		}
		if (pid == s->sync_pid && pid > 0) {
			log_print(LOG_ERR, "sync: exited (%s %d): started again in 5 s",
				  WIFSIGNALED(status) ? "signal" : "status",
				  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			s->sync_pid = 0;
			s->sync_restart = mono_ms() + 5000;
			continue;
		}
		if (pid != s->child)
			continue;
		if (WIFSIGNALED(status))
			log_print(LOG_ERR, "upkeep (%s%s%s%s) killed by signal %d",
				  s->child_jobs & JOB_SWEEP ? "sweep " : "",
				  s->child_jobs & JOB_GEO ? "geo " : "",
				  s->child_jobs & JOB_MAX_AGE ? "max-age " : "",
				  s->child_jobs & JOB_FEEDS ? "feeds" : "", WTERMSIG(status));
		s->child = 0;
	}
	if (!s->stop)
		jobs_start(s);
}

static void want(struct svc *s, unsigned jobs)
{
	s->pending |= jobs;
	jobs_start(s);
}

/* ------------------------------------------------------------ the timers */

static void timer_set(int fd, int64_t first_ms, int64_t every_s)
{
	struct itimerspec it = {
		.it_value = { first_ms / 1000, (first_ms % 1000) * 1000000 },
		.it_interval = { every_s, 0 },
	};

	timerfd_settime(fd, 0, &it, NULL);
}

static void sweep_arm(struct svc *s)
{
	int64_t every = secs(&s->conf, "sweep", "interval");

	if (yes(&s->conf, "sweep", "enabled"))
		timer_set(s->sweep_tfd, every * 1000, every);
	else
		timer_set(s->sweep_tfd, 0, 0);
}

/* Check for due feeds every [feeds] check, the first time at once. */
static void feeds_arm(struct svc *s)
{
	int64_t every = secs(&s->conf, "feeds", "check");

	if (yes(&s->conf, "feeds", "enabled"))
		timer_set(s->feeds_tfd, 1, every);
	else
		timer_set(s->feeds_tfd, 0, 0);
}

static void feeds_tick(struct svc *s)
{
	uint64_t ticks;

	if (read(s->feeds_tfd, &ticks, sizeof(ticks)) > 0 && !(s->child_jobs & JOB_FEEDS &&
	    s->child > 0) && feeds_due(s))
		want(s, JOB_FEEDS);
}

/* Watch the directory (geoipupdate and the fetch script rename a new file
 * into place: IN_MOVED_TO; a copy over it: IN_CLOSE_WRITE), and check the
 * file now. */
static void geo_arm(struct svc *s)
{
	const char *watch = service_conf_get(&s->conf, "geo", "watch");
	const char *slash;

	if (s->iwd >= 0)
		inotify_rm_watch(s->ifd, s->iwd);
	s->iwd = -1;
	if (!strcmp(watch, "no"))
		return;
	slash = strrchr(watch, '/');
	snprintf(s->geo_dir, sizeof(s->geo_dir), "%.*s", slash == watch ? 1 : (int)(slash - watch),
		 watch);
	snprintf(s->geo_name, sizeof(s->geo_name), "%s", slash + 1);
	s->iwd = inotify_add_watch(s->ifd, s->geo_dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE);
	if (s->iwd < 0)
		log_print(LOG_WARNING, "geo watch: %s: %s: changes of %s are not seen until a "
			  "reload", s->geo_dir, strerror(errno), watch);
	want(s, JOB_GEO);
}

static void geo_event(struct svc *s)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	ssize_t n;

	while ((n = read(s->ifd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;

			if (e->wd == s->iwd && e->len && !strcmp(e->name, s->geo_name))
				hit = true;
			p += sizeof(*e) + e->len;
		}
	/* let a burst (create, write, close) settle for a second */
	if (hit)
		timer_set(s->geo_tfd, 1000, 0);
}

/* ---------------------------------------------------------------- reload */

static void policy_opts_of(const struct service_conf *sc, struct policy_opts *po)
{
	memset(po, 0, sizeof(*po));
	po->listen = service_conf_get(sc, "policy", "listen");
	po->socket_group = !strncmp(po->listen, "unix:", 5) ?
		service_conf_get(sc, "policy", "socket_group") : NULL;
	po->request_timeout = service_conf_get(sc, "policy", "request_timeout");
	po->idle_timeout = service_conf_get(sc, "policy", "idle_timeout");
	po->max_conn = service_conf_get(sc, "policy", "max_conn");
	po->max_per_peer = service_conf_get(sc, "policy", "max_per_peer");
}

static void reload(struct svc *s)
{
	struct service_conf fresh;
	char restart[512] = "", prestart[128];
	size_t n = 0;

	{
		struct timespec ts;

		/* MONOTONIC_USEC: what Type=notify-reload (systemd 253) asks */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading %s",
			   (unsigned long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000,
			   s->conf.path);
	}
	/* a bad file changes nothing: the running config stays */
	ctl_errors_to_log(true);
	if (conf_load(s->o, &fresh)) {
		log_print(LOG_ERR, "reload refused: the running configuration stays");
		sd_notify(0, "READY=1");
		notify_status(s, "reload refused (see the log); ");
		return;
	}
	for (int i = 0; i < NKEYS; i++)
		if (!keys[i].live && strcmp(fresh.val[i], s->conf.val[i])) {
			n += snprintf(restart + n, n < sizeof(restart) ? sizeof(restart) - n : 0,
				      "%s[%s] %s", n ? ", " : "", keys[i].section, keys[i].key);
			/* keep what runs: the restart applies it */
			snprintf(fresh.val[i], sizeof(fresh.val[i]), "%s", s->conf.val[i]);
		}
	s->conf = fresh;
	if (s->policy) {
		struct policy_opts po;

		policy_opts_of(&s->conf, &po);
		policy_reconfigure(s->policy, &po, prestart, sizeof(prestart));
	}
	sweep_arm(s);
	feeds_arm(s);
	geo_arm(s);
	want(s, JOB_MAX_AGE);
	for (int p = 0; p < NPARTS; p++)
		if (s->on[p] && parts[p].reload)
			parts[p].reload(s);
	log_print(LOG_NOTICE, "reloaded %s%s%s%s", s->conf.file_read ? s->conf.path :
		  "the defaults (no config file)", *restart ? "; needs a restart to change: " : "",
		  restart, *restart ? " (kept as they were)" : "");
	sd_notify(0, "READY=1");
	notify_status(s, "");
}

/* ------------------------------------------------------ the metrics part */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The policy service's DNSBL lookups and pushes (docs/dnsbl.md). */
static void dnsbl_families(struct svc *s, FILE *out)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} f[] = {
#define F(n, t, h, field) { "mxshield_dnsbl_" n, t, h, offsetof(struct policy_dnsbl_stats, field) }
		F("lookups_total", "counter", "Client addresses checked against the DNS lists "
		  "(trusted, partner and gateway sources never are).", lookups),
		F("cache_hits_total", "counter", "Checks answered from the cache alone, without a "
		  "query.", cache_hits),
		F("queries_total", "counter", "DNS queries sent (one per list domain and address "
		  "not cached).", queries),
		F("listed_total", "counter", "Checks that scored at or above the threshold.", listed),
		F("timeouts_total", "counter", "Checks answered at the timeout without every list "
		  "(fail open: a missing list counts as not listing).", timeouts),
		F("errors_total", "counter", "Queries that failed: no answer within the resolver's "
		  "retries, SERVFAIL, refused.", errors),
		F("refused_replies_total", "counter", "Replies in 127.255.255.0/24: the list refused "
		  "the query (e.g. Spamhaus through a public resolver).", refused),
		F("pushes_total", "counter", "Listed sources pushed to the block list's dnsbl source "
		  "(dropped at the NIC until the TTL ends).", pushes),
		F("push_failures_total", "counter", "Pushes the queue refused (full); a batch that "
		  "fails is the mxshield_push_failed_total of the queue.", push_failures),
		F("cache_entries", "gauge", "Answers in the cache now (one per address and list "
		  "domain).", cached),
		F("sites", "gauge", "Configured DNSBL and DNSWL entries.", sites),
#undef F
	};
	struct policy_dnsbl_stats st;

	if (!policy_dnsbl_stats(s->policy, &st))
		return;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		metrics_head(out, f[i].name, f[i].type, f[i].help);
		metrics_sample_u64(out, f[i].name, *(const uint64_t *)((const char *)&st + f[i].off),
				   NULL);
	}
}

/* What only the service knows: the policy service's answers, whether it
 * has IP verdicts, and each part's own families. */
static void push_metrics(struct svc *s, FILE *out)
{
	struct srcq_stats st;
	static const struct {
		const char *name, *help;
		size_t off;
	} fam[] = {
		{ "mxshield_push_queued_total", "Single changes queued for the lists' sources "
		  "(DNSBL pushes, automatic blocks).", offsetof(struct srcq_stats, pushed) },
		{ "mxshield_push_refused_total", "Changes refused: the queue was full.",
		  offsetof(struct srcq_stats, refused) },
		{ "mxshield_push_applied_total", "Changes written and live in the filter.",
		  offsetof(struct srcq_stats, applied) },
		{ "mxshield_push_batches_total", "Batches applied.",
		  offsetof(struct srcq_stats, flushes) },
		{ "mxshield_push_busy_total", "Batches put off because a change held the state "
		  "directory's lock.", offsetof(struct srcq_stats, busy) },
		{ "mxshield_push_failed_total", "Batches that failed (logged; retried).",
		  offsetof(struct srcq_stats, failed) },
	};

	srcq_stats(s->srcq, &st);
	for (size_t i = 0; i < sizeof(fam) / sizeof(fam[0]); i++) {
		metrics_head(out, fam[i].name, "counter", fam[i].help);
		metrics_sample_u64(out, fam[i].name, *(uint64_t *)((char *)&st + fam[i].off),
				   NULL);
	}
	metrics_head(out, "mxshield_push_pending", "gauge", "Changes queued, not yet applied.");
	metrics_sample_u64(out, "mxshield_push_pending", srcq_pending(s->srcq), NULL);
	metrics_head(out, "mxshield_push_last_batch_seconds", "gauge",
		     "How long the last batch took, from taking the lock to the stamp.");
	metrics_sample(out, "mxshield_push_last_batch_seconds", st.last_flush_s, NULL);
}

static void service_families(struct svc *s, FILE *out)
{
	if (s->policy) {
		uint64_t n[POLICY_ANSWER_KINDS];

		policy_answers(s->policy, n);
		metrics_head(out, "mxshield_policy_decisions_total", "counter",
			     "Answers of the policy service since the service started, by action "
			     "(the first word: dunno, reject for 5xx, defer for 4xx, hold, prepend, "
			     "other); only when served by mxshield serve.");
		for (int i = 0; i < POLICY_ANSWER_KINDS; i++)
			metrics_sample_u64(out, "mxshield_policy_decisions_total", n[i], "action",
					   policy_answer_names[i], NULL);
		metrics_head(out, "mxshield_policy_ip_verdicts", "gauge",
			     "1 when the policy service has the filter's maps open (IP verdicts); 0: "
			     "the envelope lists alone (the filter is not loaded).");
		metrics_sample(out, "mxshield_policy_ip_verdicts", policy_has_maps(s->policy),
			       NULL);
		dnsbl_families(s, out);
	}
	metrics_head(out, "mxshield_metrics_busy_scrapes_total", "counter",
		     "Scrapes answered with the previous scrape's filter figures because a change "
		     "held the state directory's lock (the service never waits for it).");
	metrics_sample_u64(out, "mxshield_metrics_busy_scrapes_total", s->mbusy, NULL);
	push_metrics(s, out);
	for (int p = 0; p < NPARTS; p++)
		if (s->on[p] && parts[p].metrics)
			parts[p].metrics(s, out);
}

/* The endpoint's document (an httpd_body_fn): the filter's part, read
 * without waiting for the lock, then the service's own. */
static int metrics_doc(FILE *out, void *arg)
{
	struct svc *s = arg;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	int rc = m ? metrics_write(&s->mctl, m) : 1;

	if (m)
		fclose(m);
	if (rc == METRICS_BUSY || !buf) {
		s->mbusy++;
		if (s->mlast) {
			fwrite(s->mlast, 1, s->mlastlen, out);
		} else {
			metrics_head(out, "mxshield_up", "gauge",
				     "1 when every part of these metrics could be read (else see "
				     "the log).");
			metrics_sample(out, "mxshield_up", 0, NULL);
		}
		free(buf);
	} else {
		fwrite(buf, 1, len, out);
		free(s->mlast);
		s->mlast = buf;
		s->mlastlen = len;
	}
	service_families(s, out);
	return 0;
}

static int metrics_start(struct svc *s, int lfd, int *fd)
{
	const char *listen = service_conf_get(&s->conf, "metrics", "listen");
	char err[MXS_ERRLEN];

	if (lfd < 0 && (lfd = httpd_listen(listen, err, sizeof(err))) < 0)
		return ctl_err("[metrics] listen: %s", err);
	httpd_sockname(lfd, s->maddr, sizeof(s->maddr));
	s->mctl = (struct ctl){ .state_dir = s->c->state_dir, .bpffs_dir = s->c->bpffs_dir,
				.lock_fd = -1, .lock_nowait = true };
	s->httpd = httpd_start(lfd, MXS_METRICS_PATH, MXS_METRICS_CTYPE, metrics_doc, s, err,
			       sizeof(err));
	if (!s->httpd)
		return ctl_err("metrics: %s", err);
	*fd = httpd_fd(s->httpd);
	return 0;
}

static void metrics_ready(struct svc *s)
{
	httpd_run(s->httpd);
}

static int metrics_timeout(struct svc *s)
{
	return httpd_timeout_ms(s->httpd);
}

static void metrics_stop(struct svc *s)
{
	httpd_stop(s->httpd);
	s->httpd = NULL;
	free(s->mlast);
	s->mlast = NULL;
}

/* --------------------------------------------------- the drop-event log */

/* journalctl MESSAGE_ID=55e875f930404e308976ea59a654679e: every drop event */
#define EVENT_MESSAGE_ID "MESSAGE_ID=55e875f930404e308976ea59a654679e"
#define EVENT_RECHECK_MS 10000	/* is the pinned ring still the one read? */

/* One event, one log message: the line `mxshield events` prints, and in
 * the journal each field on its own (journalctl MXSHIELD_REASON=block). */
static int event_log(void *ctx, void *data, size_t size)
{
	struct svc *s = ctx;
	struct drop_event e;
	char line[512], f[12][96];
	const char *fields[13];
	int n = 0, prio;

	if (drop_event_decode(data, size, &e))
		return 0;
	s->ev_logged++;
	drop_event_line(&e, line, sizeof(line));
	/* a packet dropped at the NIC is notice; a tag, or a drop verdict
	 * passed in monitor mode, info */
	prio = e.dropped ? LOG_NOTICE : LOG_INFO;
	if (log_current() != LOG_TO_JOURNAL) {
		log_print(prio, "drop event: %s at %s", line, e.time);
		return 0;
	}
	fields[n++] = EVENT_MESSAGE_ID;
#define FIELD(...) (snprintf(f[n], sizeof(f[n]), __VA_ARGS__), fields[n] = f[n], n++)
	FIELD("MXSHIELD_TIME=%s", e.time);
	if (e.iface[0])
		FIELD("MXSHIELD_INTERFACE=%s", e.iface);
	if (e.source[0])
		FIELD("MXSHIELD_SOURCE=%s", e.source);
	if (e.port)
		FIELD("MXSHIELD_PORT=%u", e.port);
	FIELD("MXSHIELD_REASON=%s", e.reason);
	FIELD("MXSHIELD_ACTION=%s", e.action);
	FIELD("MXSHIELD_DROPPED=%d", e.dropped);
	if (e.list)
		FIELD("MXSHIELD_LIST=%s", e.list);
	if (e.rule[0])
		FIELD("MXSHIELD_RULE=%s", e.rule);
	if (e.country[0])
		FIELD("MXSHIELD_COUNTRY=%s", e.country);
	FIELD("MXSHIELD_SYN=%d", e.syn);
#undef FIELD
	{
		char msg[560];

		snprintf(msg, sizeof(msg), "drop event: %s", line);
		log_fields(prio, msg, fields, n);
	}
	return 0;
}

static void events_close(struct svc *s)
{
	if (!s->rb)
		return;
	ring_buffer__consume(s->rb);	/* what is there still gets logged */
	ring_buffer__free(s->rb);	/* (its epoll fd leaves ours with it) */
	close(s->evfd);
	s->rb = NULL;
	s->evfd = -1;
	s->ev_map_id = 0;
}

/* Read the ring buffer pinned now: the one read already, a new one (the
 * filter was unloaded and loaded again: a new map), or none. An upgrade
 * in place (restore) keeps the map: nothing changes here then. */
static void events_open(struct svc *s)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd = filter_open_events(s->c);

	s->ev_check = mono_ms() + EVENT_RECHECK_MS;
	if (fd < 0) {
		if (s->rb)
			log_print(LOG_WARNING, "drop events: the ring buffer is gone (the filter "
				  "was unloaded): none until it is loaded again");
		else if (!s->ev_missing_said)
			log_print(LOG_WARNING, "drop events: no ring buffer under %s (the filter "
				  "is not loaded, or predates drop events: restore upgrades it); "
				  "looking again every %d s", s->c->bpffs_dir,
				  EVENT_RECHECK_MS / 1000);
		s->ev_missing_said = true;
		events_close(s);
		return;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || info.id == s->ev_map_id) {
		close(fd);
		return;
	}
	events_close(s);
	s->rb = ring_buffer__new(fd, event_log, s, NULL);
	if (!s->rb || epoll_ctl(s->evep, EPOLL_CTL_ADD, ring_buffer__epoll_fd(s->rb),
				&(struct epoll_event){ .events = EPOLLIN })) {
		log_print(LOG_ERR, "drop events: reading the ring buffer: %s", strerror(errno));
		if (s->rb)
			ring_buffer__free(s->rb);
		s->rb = NULL;
		close(fd);
		return;
	}
	s->evfd = fd;
	s->ev_map_id = info.id;
	s->ev_missing_said = false;
	log_print(LOG_INFO, "drop events: reading the ring buffer (map id %u) into the log",
		  info.id);
}

static int events_start(struct svc *s, int lfd, int *fd)
{
	(void)lfd;
	s->evfd = -1;
	s->evep = epoll_create1(EPOLL_CLOEXEC);
	if (s->evep < 0)
		return ctl_err("epoll: %s", strerror(errno));
	*fd = s->evep;
	events_open(s);
	return 0;
}

static void events_ready(struct svc *s)
{
	if (s->rb)
		ring_buffer__consume(s->rb);
	if (mono_ms() >= s->ev_check)
		events_open(s);
}

static int events_timeout(struct svc *s)
{
	int64_t left = s->ev_check - mono_ms();

	return left > 0 ? (int)left : 0;
}

static void events_reload(struct svc *s)
{
	events_open(s);		/* a filter loaded since: at once */
}

static void events_metrics(struct svc *s, FILE *out)
{
	metrics_head(out, "mxshield_events_logged_total", "counter",
		     "Drop events the service read from the ring buffer and wrote to the log.");
	metrics_sample_u64(out, "mxshield_events_logged_total", s->ev_logged, NULL);
	metrics_head(out, "mxshield_events_reader", "gauge",
		     "1 while the service reads the drop events' ring buffer (0: the filter is "
		     "not loaded, or predates drop events).");
	metrics_sample(out, "mxshield_events_reader", s->rb != NULL, NULL);
}

static void events_stop(struct svc *s)
{
	events_close(s);
	close(s->evep);
}

/* ------------------------------------------------------ the content milter */

/* In the child: no capability kept (the milter reads the state directory
 * and listens; nothing else), then libmilter's loop until SIGTERM. */
static void milter_child(struct svc *s)
{
	const struct service_conf *sc = &s->conf;
	const char *listen = service_conf_get(sc, "milter", "listen");
	struct milter_opts o = {
		.listen = listen,
		.socket_group = !strncmp(listen, "unix:", 5) ?
			service_conf_get(sc, "milter", "socket_group") : NULL,
	};
	struct passwd *pw = getpwuid(getuid());
	struct ctl c = { .state_dir = s->c->state_dir, .bpffs_dir = s->c->bpffs_dir,
			 .lock_fd = -1, .read_only = true };
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_IGN);	/* the lists are followed without it */
	prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0);
	prctl(PR_SET_NAME, "mxs-milter", 0, 0, 0);
	/* bound first (smfi_opensocket), then without capabilities: the
	 * drop is milter_serve()'s, with the current user as "user" */
	o.user = pw ? pw->pw_name : NULL;
	_exit(milter_serve(&c, &o));
}

static void milter_spawn(struct svc *s)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_print(LOG_ERR, "milter: fork: %s (tried again later)", strerror(errno));
		s->milter_due = mono_ms() + 5000;
		return;
	}
	if (!pid)
		milter_child(s);
	s->milter_pid = pid;
	s->milter_due = -1;
	s->milter_started = mono_ms();
}

static void milter_exited(struct svc *s, int status)
{
	int64_t ran = mono_ms() - s->milter_started;

	s->milter_pid = 0;
	if (s->stop)
		return;
	/* a quick end again and again (a socket in use): wait longer each time */
	s->milter_backoff = ran < 10000 ? (s->milter_backoff ? s->milter_backoff * 2 : 1000) : 1000;
	if (s->milter_backoff > 60000)
		s->milter_backoff = 60000;
	s->milter_due = mono_ms() + s->milter_backoff;
	s->milter_restarts++;
	/* the loop's wait: the part's deadline is now */
	for (int p = 0; p < NPARTS; p++)
		if (parts[p].start == milter_start)
			s->due[p] = s->milter_due;
	if (WIFSIGNALED(status))
		log_print(LOG_ERR, "milter: killed by signal %d; starting it again in %d s",
			  WTERMSIG(status), s->milter_backoff / 1000);
	else
		log_print(LOG_ERR, "milter: ended (status %d); starting it again in %d s",
			  WEXITSTATUS(status), s->milter_backoff / 1000);
}

static int milter_start(struct svc *s, int lfd, int *fd)
{
	char err[MXS_ERRLEN];

	(void)lfd;
	*fd = -1;	/* nothing to poll: SIGCHLD says when it ends */
	if (milter_listen_check(service_conf_get(&s->conf, "milter", "listen"), err,
				sizeof(err)))
		return ctl_err("[milter] listen: %s", err);
	milter_spawn(s);
	return 0;
}

static void milter_ready(struct svc *s)
{
	if (!s->milter_pid && s->milter_due >= 0 && s->milter_due <= mono_ms())
		milter_spawn(s);
}

static int milter_timeout(struct svc *s)
{
	int64_t left;

	if (s->milter_pid || s->milter_due < 0)
		return -1;
	left = s->milter_due - mono_ms();
	return left > 0 ? (int)left : 0;
}

static void milter_metrics(struct svc *s, FILE *out)
{
	metrics_head(out, "mxshield_milter_up", "gauge",
		     "1 while the content milter's process runs.");
	metrics_sample(out, "mxshield_milter_up", s->milter_pid > 0, NULL);
	metrics_head(out, "mxshield_milter_restarts_total", "counter",
		     "Times the content milter's process ended and was started again.");
	metrics_sample_u64(out, "mxshield_milter_restarts_total", s->milter_restarts, NULL);
}

static void milter_stop(struct svc *s)
{
	pid_t pid = s->milter_pid;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	s->milter_pid = 0;
}

/* ------------------------------------------------------ automatic blocks */

static void auto_conf_of(const struct service_conf *sc, struct autosvc_conf *ac)
{
	const char *ml = service_conf_get(sc, "auto", "maillog_file");
	const char *jn = service_conf_get(sc, "auto", "journal");

	ac->maillog_file = strcmp(ml, "no") ? ml : NULL;
	ac->journal = !strcmp(jn, "no") ? NULL : !strcmp(jn, "yes") ? "" : jn;
	ac->max_sources = strtoul(service_conf_get(sc, "auto", "max_sources"), NULL, 10);
	ac->remember = secs(sc, "auto", "remember");
}

/* The policy service's answers (its observer): counted, and the part
 * runs in this turn of the loop to push what they decided. */
static void auto_policy(void *arg, const char *client, const char *rcpt, const char *action)
{
	struct svc *s = arg;

	autosvc_policy(s->autos, client, rcpt, action);
	for (int p = 0; p < NPARTS; p++)
		if (parts[p].start == auto_start)
			s->due[p] = mono_ms();
}

static int auto_start(struct svc *s, int lfd, int *fd)
{
	struct autosvc_conf ac;

	(void)lfd;
	auto_conf_of(&s->conf, &ac);
	s->autos = autosvc_start(s->c, &ac, s->srcq);
	if (!s->autos)
		return 1;
	if (s->policy)
		policy_observe(s->policy, auto_policy, s);
	*fd = autosvc_fd(s->autos);
	return 0;
}

static void auto_ready(struct svc *s)
{
	autosvc_ready(s->autos);
}

static int auto_timeout(struct svc *s)
{
	return autosvc_timeout(s->autos);
}

static void auto_reload(struct svc *s)
{
	struct autosvc_conf ac;

	auto_conf_of(&s->conf, &ac);
	autosvc_reconf(s->autos, &ac);
}

static void auto_metrics(struct svc *s, FILE *out)
{
	autosvc_metrics(s->autos, out);
}

static void auto_stop(struct svc *s)
{
	if (s->policy)
		policy_observe(s->policy, NULL, NULL);
	autosvc_stop(s->autos);
	s->autos = NULL;
}

/* ---------------------------------------------------------- the fleet sync */

static volatile int sync_stopping;

static void sync_on_term(int sig)
{
	sync_stopping = 1;
}

/* The sync's loop blocks on etcd requests: a child of its own, so neither
 * the policy service nor the metrics ever wait for it. */
static int sync_spawn(struct svc *s)
{
	const struct service_conf *sc = &s->conf;
	pid_t pid = fork();

	if (pid < 0)
		return ctl_err("fork for the sync: %s", strerror(errno));
	if (!pid) {
		struct ctl c = { .state_dir = s->c->state_dir, .bpffs_dir = s->c->bpffs_dir,
				 .lock_fd = -1 };
		struct sigaction sa = { .sa_handler = sync_on_term };
		static char host[256];
		const char *v;
		struct sync_conf cf = {
			.endpoints = service_conf_get(sc, "sync", "endpoints"),
			.prefix = service_conf_get(sc, "sync", "prefix"),
			.share = service_conf_get(sc, "sync", "share"),
		};
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
		signal(SIGHUP, SIG_IGN);
		signal(SIGPIPE, SIG_IGN);
		v = service_conf_get(sc, "sync", "name");
		if (!v[0]) {
			if (gethostname(host, sizeof(host)))
				snprintf(host, sizeof(host), "edge");
			v = host;
		}
		cf.name = v;
#define PATHOPT(k) (strcmp(service_conf_get(sc, "sync", k), "no") ? \
		    service_conf_get(sc, "sync", k) : NULL)
		cf.cert = PATHOPT("cert");
		cf.key = PATHOPT("key");
		cf.cacert = PATHOPT("cacert");
#undef PATHOPT
		_exit(sync_run(&c, &cf, &sync_stopping));
	}
	s->sync_pid = pid;
	return 0;
}

static int sync_start(struct svc *s, int lfd, int *fd)
{
	(void)lfd;
	*fd = -1;
	if (!service_conf_get(&s->conf, "sync", "endpoints")[0])
		return ctl_err("[sync] enabled = yes needs endpoints = URL[,URL..] (etcd's "
			       "client URLs)");
	return sync_spawn(s);
}

static int sync_timeout(struct svc *s)
{
	int64_t left;

	if (s->sync_pid || s->stop)
		return -1;
	left = s->sync_restart - mono_ms();
	return left > 0 ? (int)left : 0;
}

static void sync_ready(struct svc *s)
{
	if (!s->sync_pid && !s->stop && mono_ms() >= s->sync_restart && sync_spawn(s))
		s->sync_restart = mono_ms() + 5000;
}

static void sync_metrics(struct svc *s, FILE *out)
{
	struct sync_status st;

	if (sync_status_read(s->c, &st))
		memset(&st, 0, sizeof(st));
	metrics_head(out, "mxshield_sync_connected", "gauge",
		     "1 while the fleet sync is connected to etcd and current.");
	metrics_sample(out, "mxshield_sync_connected", st.connected, NULL);
	metrics_head(out, "mxshield_sync_applied_revision", "gauge",
		     "The etcd revision of the shared lists this edge has applied.");
	metrics_sample(out, "mxshield_sync_applied_revision", (double)st.rev, NULL);
	metrics_head(out, "mxshield_sync_lag_seconds", "gauge",
		     "Seconds since this edge was last known current with the fleet (0 while "
		     "connected).");
	metrics_sample(out, "mxshield_sync_lag_seconds", st.lag, NULL);
	metrics_head(out, "mxshield_sync_changes_applied_total", "counter",
		     "Changes of the fleet applied to this edge's lists.");
	metrics_sample_u64(out, "mxshield_sync_changes_applied_total", st.changes_in, NULL);
	metrics_head(out, "mxshield_sync_changes_sent_total", "counter",
		     "This edge's own changes written to etcd.");
	metrics_sample_u64(out, "mxshield_sync_changes_sent_total", st.changes_out, NULL);
	metrics_head(out, "mxshield_sync_full_reads_total", "counter",
		     "Times every shared list was read again (joining, or etcd compacted past "
		     "this edge's revision).");
	metrics_sample_u64(out, "mxshield_sync_full_reads_total", st.full_reads, NULL);
	metrics_head(out, "mxshield_sync_errors_total", "counter",
		     "Errors of the sync (etcd unreachable, a request refused).");
	metrics_sample_u64(out, "mxshield_sync_errors_total", st.errors, NULL);
	metrics_head(out, "mxshield_sync_last_error", "gauge",
		     "1, labelled with the sync's last error (none: no sample).");
	if (st.error[0])
		metrics_sample(out, "mxshield_sync_last_error", 1, "error", st.error, NULL);
}

static void sync_stop(struct svc *s)
{
	int status;

	if (s->sync_pid > 0) {
		kill(s->sync_pid, SIGTERM);
		waitpid(s->sync_pid, &status, 0);
	}
	s->sync_pid = 0;
}

/* -------------------------------------------------------------- the parts */

/* The sockets systemd passed, by FileDescriptorName=: "policy" and
 * "metrics"; a single socket of another name (systemd-socket-activate -l,
 * a .socket unit without the name) is the policy socket, as before the
 * metrics part came. 0, or 1 after an error. */
static int take_sockets(int *policy_fd, int *metrics_fd)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names), rc = 0;

	*policy_fd = *metrics_fd = -1;
	if (n < 0)
		return ctl_err("LISTEN_FDS: %s", strerror(-n));
	for (int i = 0; i < n && !rc; i++) {
		const char *name = names && names[i] ? names[i] : "unknown";
		int fd = SD_LISTEN_FDS_START + i;

		if (!strcmp(name, "metrics") && *metrics_fd < 0)
			*metrics_fd = fd;
		else if ((!strcmp(name, "policy") || n == 1) && *policy_fd < 0)
			*policy_fd = fd;
		else
			rc = ctl_err("systemd passed a socket named '%s': the service takes one "
				     "named 'policy' and one named 'metrics' (FileDescriptorName= "
				     "in the .socket units)", name);
	}
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	if (!rc && *metrics_fd >= 0 && sd_is_socket(*metrics_fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0)
		rc = ctl_err("the socket named 'metrics' is not a listening stream socket "
			     "(ListenStream= in its .socket unit)");
	return rc;
}

static void parts_due(struct svc *s, int p)
{
	int t = parts[p].timeout ? parts[p].timeout(s) : -1;

	s->due[p] = t < 0 ? -1 : mono_ms() + t;
}

/* When to apply the queued pushes: SRCQ_WINDOW_MS after the oldest (a
 * burst becomes one batch), or at once when SRCQ_BATCH are waiting. */
static void push_arm(struct svc *s)
{
	double oldest = srcq_oldest(s->srcq);

	if (!srcq_pending(s->srcq)) {
		s->push_due = -1;
		return;
	}
	if (s->push_due >= 0)
		return;		/* a retry is set */
	s->push_due = srcq_pending(s->srcq) >= SRCQ_BATCH ? 0 :
		(int64_t)(oldest * 1000) + SRCQ_WINDOW_MS;
}

static void push_flush(struct svc *s)
{
	int rc;

	if (s->push_due < 0 || s->push_due > mono_ms())
		return;
	rc = srcq_flush(&s->qctl, s->srcq);
	/* busy: a change holds the lock, try again soon; an error was
	 * logged and the batch stays queued: try again later */
	s->push_due = rc > 0 ? mono_ms() + SRCQ_RETRY_MS : rc < 0 ? mono_ms() + 1000 : -1;
}

/* The loop's wait: the soonest of the policy service's and the parts'. */
static int loop_timeout(struct svc *s)
{
	int64_t now = mono_ms();
	int t = s->policy ? s->policy_timeout : -1;

	push_arm(s);
	if (s->push_due >= 0) {
		int64_t left = s->push_due > now ? s->push_due - now : 0;

		if (t < 0 || left < t)
			t = (int)left;
	}
	for (int p = 0; p < NPARTS; p++) {
		int64_t left;

		if (!s->on[p] || s->due[p] < 0)
			continue;
		left = s->due[p] > now ? s->due[p] - now : 0;
		if (t < 0 || left < t)
			t = (int)left;
	}
	return t;
}

/* ------------------------------------------------------------------ main */

static int add_fd(struct svc *s, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev) ?
		ctl_err("epoll: %s", strerror(errno)) : 0;
}

static void print_conf(const struct service_conf *sc)
{
	const char *sec = "";

	printf("# %s%s\n", sc->path, sc->file_read ? "" : " (not there: the defaults)");
	for (int i = 0; i < NKEYS; i++) {
		if (strcmp(sec, keys[i].section))
			printf("%s[%s]\n", i ? "\n" : "", sec = keys[i].section);
		printf("%s = %s", keys[i].key, sc->val[i]);
		if (sc->line[i])
			printf("\t# line %d", sc->line[i]);
		else if (sc->from[i])
			printf("\t# %s", sc->from[i]);
		printf("\n");
	}
}

int service_run(struct ctl *c, const struct service_opts *o)
{
	static struct svc s;
	enum log_target lt;
	char err[MXS_ERRLEN];
	sigset_t mask;
	int lfd = -1, mfd = -1;

	memset(&s, 0, sizeof(s));
	s.c = c;
	s.o = o;
	s.ep = s.sfd = s.sweep_tfd = s.geo_tfd = s.feeds_tfd = s.ifd = s.iwd = -1;
	s.push_due = -1;
	if (conf_load(o, &s.conf))
		return 1;
	if (o->check) {
		print_conf(&s.conf);
		return 0;
	}
	log_parse_target(service_conf_get(&s.conf, "service", "log"), &lt, err, sizeof(err));
	log_open(lt, "mxshield");

	/* socket activation: systemd bound the policy and metrics sockets */
	if (take_sockets(&lfd, &mfd))
		return 1;
	if (lfd >= 0 && !yes(&s.conf, "policy", "enabled"))
		return ctl_err("systemd passed a socket but [policy] enabled = no");
	if (mfd >= 0 && !yes(&s.conf, "metrics", "enabled"))
		return ctl_err("systemd passed a socket named 'metrics' but [metrics] enabled = no");

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	s.ep = epoll_create1(EPOLL_CLOEXEC);
	s.sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	s.sweep_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s.geo_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s.feeds_tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s.ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s.ep < 0 || s.sfd < 0 || s.sweep_tfd < 0 || s.geo_tfd < 0 || s.feeds_tfd < 0 ||
	    s.ifd < 0)
		return ctl_err("setting up the loop: %s", strerror(errno));
	if (add_fd(&s, s.sfd, &s.sfd) || add_fd(&s, s.sweep_tfd, &s.sweep_tfd) ||
	    add_fd(&s, s.geo_tfd, &s.geo_tfd) || add_fd(&s, s.feeds_tfd, &s.feeds_tfd) ||
	    add_fd(&s, s.ifd, &s.ifd))
		return 1;

	s.srcq = srcq_new();
	if (!s.srcq)
		return ctl_err("out of memory");
	s.qctl = (struct ctl){ .state_dir = c->state_dir, .bpffs_dir = c->bpffs_dir,
			       .lock_fd = -1 };
	if (yes(&s.conf, "policy", "enabled")) {
		struct policy_opts po;

		policy_opts_of(&s.conf, &po);
		po.srcq = s.srcq;
		s.policy = policy_open(c, &po, lfd);
		if (!s.policy || add_fd(&s, policy_fd(s.policy), &s.policy))
			return 1;
		policy_begin(s.policy);
	}
	for (int p = 0; p < NPARTS; p++) {
		s.part_fd[p] = s.due[p] = -1;
		if (!yes(&s.conf, parts[p].section, "enabled"))
			continue;
		if (parts[p].start(&s, !strcmp(parts[p].section, "metrics") ? mfd : -1,
				   &s.part_fd[p]))
			return 1;
		s.on[p] = true;
		if (s.part_fd[p] >= 0 && add_fd(&s, s.part_fd[p], (void *)&parts[p]))
			return 1;
		parts_due(&s, p);
	}
	if (s.httpd)
		log_print(LOG_INFO, "metrics on http://%s%s%s", s.maddr, MXS_METRICS_PATH,
			  mfd >= 0 ? " (socket from systemd)" : "");
	/* from here on, errors are the log's */
	ctl_errors_to_log(true);
	log_print(LOG_NOTICE, "mxshield %s serving (%s%s; log: %s)", MXS_VERSION,
		  s.conf.file_read ? "config " : "no config file, the defaults",
		  s.conf.file_read ? s.conf.path : "", log_target_name(lt));
	sweep_arm(&s);
	feeds_arm(&s);
	geo_arm(&s);
	want(&s, JOB_MAX_AGE | (yes(&s.conf, "sweep", "enabled") ? JOB_SWEEP : 0));
	sd_notify(0, "READY=1");
	notify_status(&s, "");

	s.policy_timeout = -1;
	while (!s.stop) {
		struct epoll_event evs[16];
		int n = epoll_wait(s.ep, evs, 16, loop_timeout(&s));
		bool policy_due = n == 0, part_ready[NPARTS] = {};
		int64_t now;

		if (n < 0 && errno != EINTR) {
			log_print(LOG_ERR, "epoll_wait: %s", strerror(errno));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			void *t = evs[i].data.ptr;
			uint64_t ticks;

			if (t == &s.policy) {
				policy_due = true;
			} else if (t >= (void *)parts && t < (void *)(parts + NPARTS)) {
				part_ready[(const struct service_part *)t - parts] = true;
			} else if (t == &s.sweep_tfd) {
				if (read(s.sweep_tfd, &ticks, sizeof(ticks)) > 0)
					want(&s, JOB_SWEEP);
			} else if (t == &s.feeds_tfd) {
				feeds_tick(&s);
			} else if (t == &s.geo_tfd) {
				if (read(s.geo_tfd, &ticks, sizeof(ticks)) > 0)
					want(&s, JOB_GEO);
			} else if (t == &s.ifd) {
				geo_event(&s);
			} else if (t == &s.sfd) {
				struct signalfd_siginfo si;

				while (read(s.sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGHUP)
						reload(&s);
					else if (si.ssi_signo == SIGCHLD)
						jobs_reap(&s);
					else
						s.stop = true;
				}
			}
		}
		if (s.policy && (policy_due || s.policy_timeout >= 0)) {
			s.policy_timeout = policy_run(s.policy);
			if (s.policy_timeout == -2)
				return 1;
		}
		push_arm(&s);
		push_flush(&s);
		now = mono_ms();
		for (int p = 0; p < NPARTS; p++) {
			if (!s.on[p] || (!part_ready[p] && (s.due[p] < 0 || s.due[p] > now)))
				continue;
			parts[p].ready(&s);
			parts_due(&s, p);
		}
	}
	/* SIGTERM: stop answering, let upkeep finish (a build is never cut
	 * off by us), and leave the filter as it is */
	sd_notify(0, "STOPPING=1\nSTATUS=stopping");
	log_print(LOG_NOTICE, "stopping (the filter stays attached)");
	for (int p = 0; p < NPARTS; p++)
		if (s.on[p] && parts[p].stop)
			parts[p].stop(&s);
	if (srcq_pending(s.srcq)) {	/* what was decided is applied, if it can be */
		s.push_due = 0;
		push_flush(&s);
	}
	if (s.child > 0)
		waitpid(s.child, NULL, 0);
	return 0;
}
