// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
/*
 * `mxshield policy serve`: a Postfix SMTP access policy delegation server
 * (check_policy_service). Requests are "name=value" lines ended by an empty
 * line; each gets "action=...\n\n". Connections are reused by Postfix; each
 * gets a thread (at most MXS_POLICY_MAX_CONN at once). Requests larger than
 * MXS_POLICY_MAX_REQ or holding NUL bytes are logged and the connection is
 * closed; a request with malformed lines is logged and answered DUNNO.
 *
 * Decisions: policy_decide() at RCPT; at DATA the reason header for a
 * message marked as spam at RCPT (Postfix takes PREPEND up to DATA, not at
 * END-OF-MESSAGE). Lists are re-read when their state
 * files change.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "envelope.h"

#ifndef MXS_POLICY_MAX_CONN
#define MXS_POLICY_MAX_CONN 256		/* concurrent smtpd connections */
#endif
#ifndef MXS_POLICY_MAX_REQ
#define MXS_POLICY_MAX_REQ 16384	/* bytes of one request */
#endif
#define MXS_POLICY_IDLE 600		/* seconds a connection may idle */
#define INST_SLOTS 4096			/* messages awaiting their reason header */

struct server {
	struct ctl *c;
	bool have_maps;
	pthread_rwlock_t env_lock;
	struct env_set env;
	struct timespec env_stamp[3];
	pthread_mutex_t mu;
	int conns;
	struct inst {
		uint64_t hash;
		char reason[256];
	} inst[INST_SLOTS];
};

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	char ts[32], line[1200];
	time_t t = time(NULL);
	va_list ap;

	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", localtime(&t));
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s mxshield-policy: %s\n", ts, line);
}

/* Re-read the lists when a state file changed (checked per request). */
static void env_refresh(struct server *s)
{
	static const char *const files[3] = { ST_ENVELOPE, ST_PARTNERS, ST_SETTINGS };
	struct timespec now[3] = {};
	bool changed = false;
	struct env_set fresh;
	char err[MXS_ERRLEN + 64];

	for (int i = 0; i < 3; i++) {
		char p[4096];
		struct stat st;

		state_path(s->c, files[i], p, sizeof(p));
		if (!stat(p, &st))
			now[i] = st.st_mtim;
		if (now[i].tv_sec != s->env_stamp[i].tv_sec || now[i].tv_nsec != s->env_stamp[i].tv_nsec)
			changed = true;
	}
	if (!changed)
		return;
	if (env_load(s->c, &fresh, err, sizeof(err))) {
		logf_("keeping the previous lists: %s", err);
		return;
	}
	pthread_rwlock_wrlock(&s->env_lock);
	if (memcmp(now, s->env_stamp, sizeof(now))) {
		env_free(&s->env);
		s->env = fresh;
		memcpy(s->env_stamp, now, sizeof(now));
		logf_("lists loaded: %d envelope entries, %d partners", s->env.n, s->env.np);
	} else {
		env_free(&fresh);
	}
	pthread_rwlock_unlock(&s->env_lock);
}

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h | 1;
}

/* Answer one request; writes the action into out. */
static void answer(struct server *s, const struct policy_req *q, char *out, size_t outlen)
{
	struct policy_out o;
	uint32_t flags = 0;
	__u32 zero = 0;
	const char *state = q->protocol_state ? q->protocol_state : "RCPT";
	uint64_t h = hash_str(q->instance);
	struct inst *slot = &s->inst[h % INST_SLOTS];

	if (s->have_maps) {
		struct mxs_config cfg;

		if (!bpf_map_lookup_elem(s->c->fd_config, &zero, &cfg))
			flags = cfg.flags;
	}
	if (!strcmp(state, "DATA")) {
		pthread_mutex_lock(&s->mu);
		if (q->instance && slot->hash == h) {
			snprintf(out, outlen, "PREPEND X-Mxshield: spam; %s", slot->reason);
			slot->hash = 0;
		} else {
			snprintf(out, outlen, "DUNNO");
		}
		pthread_mutex_unlock(&s->mu);
		return;
	}
	if (strcmp(state, "RCPT")) {
		snprintf(out, outlen, "DUNNO");
		return;
	}
	env_refresh(s);
	pthread_rwlock_rdlock(&s->env_lock);
	policy_decide(q, &s->env, s->have_maps ? &s->c->mv : NULL, flags, spf_check_fail, NULL, &o);
	pthread_rwlock_unlock(&s->env_lock);

	if (o.header_pending) {
		/* one X-Spam-Flag per message, however many recipients */
		pthread_mutex_lock(&s->mu);
		if (q->instance && slot->hash == h) {
			snprintf(o.action, sizeof(o.action), "DUNNO");
		} else {
			slot->hash = h;
			snprintf(slot->reason, sizeof(slot->reason), "%s", o.reason);
		}
		pthread_mutex_unlock(&s->mu);
	}
	logf_("client=%s sender=<%s> rcpt=<%s> tls=%s -> %s (%s)",
	      q->client_address ? : "?", q->sender ? : "", q->recipient ? : "",
	      q->encryption_protocol && *q->encryption_protocol ? q->encryption_protocol : "no",
	      o.action, o.log);
	snprintf(out, outlen, "%s", o.action);
}

/* Parse one request (lines ended by '\n', the block without its empty
 * line). Returns the number of malformed lines. */
static int parse_request(char *req, struct policy_req *q)
{
	static const struct { const char *k; size_t off; } attrs[] = {
		{ "request", offsetof(struct policy_req, request) },
		{ "protocol_state", offsetof(struct policy_req, protocol_state) },
		{ "client_address", offsetof(struct policy_req, client_address) },
		{ "sender", offsetof(struct policy_req, sender) },
		{ "recipient", offsetof(struct policy_req, recipient) },
		{ "encryption_protocol", offsetof(struct policy_req, encryption_protocol) },
		{ "ccert_subject", offsetof(struct policy_req, ccert_subject) },
		{ "instance", offsetof(struct policy_req, instance) },
	};
	char *save, *line;
	int bad = 0;

	memset(q, 0, sizeof(*q));
	for (line = strtok_r(req, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		size_t n;

		if (line[0] && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		if (!eq || eq == line) {
			bad++;
			continue;
		}
		*eq = '\0';
		n = eq - line;
		for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
			if (strlen(attrs[i].k) == n && !memcmp(attrs[i].k, line, n))
				*(const char **)((char *)q + attrs[i].off) = eq + 1;
	}
	return bad;
}

struct conn {
	struct server *s;
	int fd;
	char peer[64];
};

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= n;
	}
	return 0;
}

static void *conn_main(void *arg)
{
	struct conn *cn = arg;
	struct server *s = cn->s;
	char *buf = malloc(MXS_POLICY_MAX_REQ + 1);
	size_t len = 0;
	struct timeval tv = { .tv_sec = MXS_POLICY_IDLE };

	setsockopt(cn->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (buf) {
		ssize_t n = read(cn->fd, buf + len, MXS_POLICY_MAX_REQ - len);
		char *end;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;		/* closed, error or idle timeout */
		if (memchr(buf + len, '\0', n)) {
			logf_("%s: NUL byte in request: closing", cn->peer);
			break;
		}
		len += n;
		buf[len] = '\0';
		/* answer every complete request in the buffer */
		while ((end = strstr(buf, "\n\n")) || (end = strstr(buf, "\r\n\r\n"))) {
			struct policy_req q;
			char action[600], reply[640];
			size_t used = end - buf + (end[0] == '\r' ? 4 : 2);
			int bad;

			*end = '\0';
			bad = parse_request(buf, &q);
			if (bad || !q.request) {
				logf_("%s: malformed request (%d bad line(s)%s): DUNNO", cn->peer, bad,
				      q.request ? "" : ", no request=");
				snprintf(action, sizeof(action), "DUNNO");
			} else {
				answer(s, &q, action, sizeof(action));
			}
			snprintf(reply, sizeof(reply), "action=%s\n\n", action);
			if (write_all(cn->fd, reply, strlen(reply))) {
				len = 0;
				goto out;
			}
			memmove(buf, buf + used, len - used + 1);
			len -= used;
		}
		if (len == MXS_POLICY_MAX_REQ) {
			logf_("%s: request larger than %d bytes: closing", cn->peer, MXS_POLICY_MAX_REQ);
			break;
		}
	}
out:
	if (len)
		logf_("%s: connection ended inside a request (%zu bytes dropped)", cn->peer, len);
	free(buf);
	close(cn->fd);
	pthread_mutex_lock(&s->mu);
	s->conns--;
	pthread_mutex_unlock(&s->mu);
	free(cn);
	return NULL;
}

static int listen_on(const char *spec)
{
	int fd, one = 1;

	if (!strncmp(spec, "unix:", 5)) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		if (strlen(spec + 5) >= sizeof(sa.sun_path) || !spec[5])
			return ctl_err("%s: bad socket path", spec), -1;
		strcpy(sa.sun_path, spec + 5);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		unlink(sa.sun_path);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128))
			return ctl_err("%s: %s", spec, strerror(errno)), -1;
		chmod(sa.sun_path, 0666);
		return fd;
	}
	if (!strncmp(spec, "inet:", 5)) {
		char host[256];
		const char *port = strrchr(spec + 5, ':');
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST },
				*ai;
		size_t hl;

		if (!port || port == spec + 5)
			return ctl_err("%s: expected inet:HOST:PORT", spec), -1;
		hl = port - (spec + 5);
		if (hl >= sizeof(host))
			return ctl_err("%s: host too long", spec), -1;
		memcpy(host, spec + 5, hl);
		host[hl] = '\0';
		if (host[0] == '[' && host[hl - 1] == ']') {
			memmove(host, host + 1, hl - 2);
			host[hl - 2] = '\0';
		}
		if (getaddrinfo(host, port + 1, &hints, &ai))
			return ctl_err("%s: expected a numeric address and port", spec), -1;
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 128)) {
			freeaddrinfo(ai);
			return ctl_err("%s: %s", spec, strerror(errno)), -1;
		}
		freeaddrinfo(ai);
		return fd;
	}
	return ctl_err("'%s': listen on unix:PATH or inet:HOST:PORT", spec), -1;
}

int cmd_policy(struct ctl *c, int argc, char **argv)
{
	static const char *const opts[] = { "listen", NULL };
	static struct server s;	/* large: keep it off the stack */
	struct cmd_args a;
	const char *spec;
	int lfd;

	if (get_args(argc, argv, opts, 0, &a) || strcmp(argv[0], "serve"))
		return ctl_err("usage: mxshield policy serve [--listen unix:PATH|inet:127.0.0.1:10040]");
	spec = arg(&a, opts, "listen") ? : "inet:127.0.0.1:10040";
	s.c = c;
	pthread_rwlock_init(&s.env_lock, NULL);
	pthread_mutex_init(&s.mu, NULL);
	s.have_maps = ctl_open_pinned(c) == 0;
	if (!s.have_maps)
		logf_("warning: the filter is not loaded under %s: IP verdicts are off", c->bpffs_dir);
	memset(s.env_stamp, 0xff, sizeof(s.env_stamp));	/* force the first load */
	env_refresh(&s);
	lfd = listen_on(spec);
	if (lfd < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	logf_("listening on %s", spec);
	fflush(stderr);
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
		struct conn *cn;
		pthread_t t;
		bool full;

		if (fd < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				logf_("accept: %s", strerror(errno));
			continue;
		}
		pthread_mutex_lock(&s.mu);
		full = s.conns >= MXS_POLICY_MAX_CONN;
		if (!full)
			s.conns++;
		pthread_mutex_unlock(&s.mu);
		if (full) {
			logf_("more than %d connections: refusing one", MXS_POLICY_MAX_CONN);
			close(fd);
			continue;
		}
		cn = calloc(1, sizeof(*cn));
		cn->s = &s;
		cn->fd = fd;
		snprintf(cn->peer, sizeof(cn->peer), "conn %d", fd);
		if (pthread_create(&t, NULL, conn_main, cn)) {
			logf_("cannot start a thread: %s", strerror(errno));
			close(fd);
			free(cn);
			pthread_mutex_lock(&s.mu);
			s.conns--;
			pthread_mutex_unlock(&s.mu);
			continue;
		}
		pthread_detach(t);
	}
	return 0;
}
