// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One document over HTTP (see httpd.h). libmicrohttpd does the protocol
 * (HTTP/1.0 and 1.1, keep-alive, timeouts, early answers to a request
 * with a body); it runs with MHD_USE_EPOLL and no thread of its own, so
 * the whole server is one epoll fd in the caller's loop and the callback
 * runs in the caller's thread (the ctl and its maps are not shared with a
 * thread).
 */
#define _GNU_SOURCE	/* ppoll */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include <systemd/sd-daemon.h>
#include "httpd.h"

struct httpd {
	struct MHD_Daemon *d;
	const char *path, *ctype;
	httpd_body_fn body;
	void *arg;
};

/* ------------------------------------------------------------ sockets */

int httpd_listen(const char *spec, char *err, size_t errlen)
{
	struct addrinfo hints = {
		.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	}, *ai = NULL;
	char host[256];
	const char *colon = strrchr(spec, ':'), *h = spec;
	size_t hl;
	int fd = -1, one = 1, rc;

	if (!colon || colon == spec || !colon[1]) {
		snprintf(err, errlen, "'%s': listen on ADDR:PORT (e.g. 127.0.0.1:9456, [::1]:9456)",
			 spec);
		return -1;
	}
	hl = colon - spec;
	if (spec[0] == '[') {		/* [IPv6]:PORT */
		if (spec[hl - 1] != ']') {
			snprintf(err, errlen, "'%s': an IPv6 address goes in brackets: [::1]:9456",
				 spec);
			return -1;
		}
		h++;
		hl -= 2;
	}
	if (hl >= sizeof(host) || hl == 0) {
		snprintf(err, errlen, "'%s': no address before the port", spec);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	rc = getaddrinfo(host, colon + 1, &hints, &ai);
	if (rc) {
		snprintf(err, errlen, "'%s': %s", spec,
			 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
		snprintf(err, errlen, "listening on %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

int httpd_activated(const char *name, char *err, size_t errlen)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(0, &names), fd = -2;

	err[0] = '\0';
	if (n <= 0) {
		if (n < 0)
			snprintf(err, errlen, "socket activation: %s", strerror(-n));
		return n < 0 ? -2 : -1;
	}
	for (int i = 0; i < n; i++) {
		int cand = SD_LISTEN_FDS_START + i;

		/* one socket: it is ours whatever its name; several: by name */
		if (n > 1 && (!names || strcmp(names[i], name)))
			continue;
		if (sd_is_socket(cand, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
			snprintf(err, errlen, "socket activation: fd %d is not a listening stream "
				 "socket (ListenStream= in the .socket unit)", cand);
			break;
		}
		fd = cand;
		break;
	}
	if (fd == -2 && !err[0])
		snprintf(err, errlen, "socket activation: %d sockets passed, none named '%s' "
			 "(FileDescriptorName=%s in the .socket unit)", n, name, name);
	for (int i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	return fd;
}

void httpd_sockname(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
			port = ntohs(s4->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
			port = ntohs(s6->sin6_port);
			snprintf(buf, len, "[%s]:%u", a, port);
			return;
		}
	}
	snprintf(buf, len, "%s:%u", a, port);
}

/* ------------------------------------------------------------ requests */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *ctype,
			     char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result text(struct MHD_Connection *conn, unsigned status, const char *msg)
{
	return reply(conn, status, "text/plain; charset=utf-8", (char *)msg, strlen(msg),
		     MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct httpd *h = cls;
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	/* answered at once, before any body: libmicrohttpd then discards
	 * the body and closes the connection */
	if (strcmp(url, h->path))
		return text(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: GET only\n");
	out = open_memstream(&buf, &len);
	if (!out)
		return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	h->body(out, h->arg);
	if (fclose(out)) {
		free(buf);
		return text(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	}
	return reply(conn, MHD_HTTP_OK, h->ctype, buf, len, MHD_RESPMEM_MUST_FREE);
}

/* ------------------------------------------------------------ the daemon */

struct httpd *httpd_start(int lfd, const char *path, const char *ctype, httpd_body_fn body,
			  void *arg, char *err, size_t errlen)
{
	struct httpd *h = calloc(1, sizeof(*h));

	if (!h) {
		snprintf(err, errlen, "out of memory");
		close(lfd);
		return NULL;
	}
	h->path = path;
	h->ctype = ctype;
	h->body = body;
	h->arg = arg;
	/* a scraper needs one connection; a few more for a person with
	 * curl; a stuck one goes after 10 s */
	h->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, h,
				MHD_OPTION_LISTEN_SOCKET, lfd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)32,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)8,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
				MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, errlen, "starting the HTTP server: %s", strerror(errno));
		close(lfd);
		free(h);
		return NULL;
	}
	return h;
}

int httpd_fd(const struct httpd *h)
{
	const union MHD_DaemonInfo *i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);

	return i ? i->epoll_fd : -1;
}

int httpd_timeout_ms(struct httpd *h)
{
	MHD_UNSIGNED_LONG_LONG t;

	if (MHD_get_timeout(h->d, &t) != MHD_YES)
		return -1;
	return t > 60000 ? 60000 : (int)t;
}

void httpd_run(struct httpd *h)
{
	MHD_run(h->d);
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);	/* closes the listening socket too */
	free(h);
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

int httpd_serve(struct httpd *h)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block, during;
	struct pollfd p = { .fd = httpd_fd(h), .events = POLLIN };

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	/* the signals arrive only inside ppoll: none is lost between the
	 * check of got_signal and the wait */
	sigprocmask(SIG_BLOCK, &block, &during);
	sigdelset(&during, SIGTERM);
	sigdelset(&during, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	got_signal = 0;
	while (!got_signal) {
		int ms = httpd_timeout_ms(h);
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

		if (ppoll(&p, 1, ms < 0 ? NULL : &ts, &during) < 0 && errno != EINTR)
			break;
		if (!got_signal)
			httpd_run(h);
	}
	return got_signal;
}
