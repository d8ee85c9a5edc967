// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * build/milter_bench SOCKET SECONDS SIZE [SUBJECT] : messages per second
 * through a running milter, speaking the milter protocol (version 6) as
 * Postfix does, one connection, one message after the other: connect,
 * MAIL, headers, end of headers, the body in 64 KiB chunks, end of
 * message, then abort (the next message). SIZE: the body's bytes (text,
 * quoted-printable lines of words). Prints "messages N seconds S rate R
 * actions a=N q=N r=N h=N". The milter's side of the exchange is what is
 * measured; run it pinned to one core (scripts/bench-milter.sh).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <libmilter/mfdef.h>

static int fd;
static uint32_t nr;	/* the milter's no-reply flags */

static void die(const char *what)
{
	fprintf(stderr, "milter_bench: %s: %s\n", what, errno ? strerror(errno) : "protocol");
	exit(1);
}

static void xwrite(const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w <= 0)
			die("write");
		c += w;
		n -= w;
	}
}

static void xread(void *p, size_t n)
{
	char *c = p;

	while (n) {
		ssize_t r = read(fd, c, n);

		if (r <= 0)
			die("read");
		c += r;
		n -= r;
	}
}

static void send_cmd(char cmd, const void *data, size_t len)
{
	uint32_t l = htonl(len + 1);

	xwrite(&l, 4);
	xwrite(&cmd, 1);
	if (len)
		xwrite(data, len);
}

/* One reply: its command byte (the data is read and dropped). */
static char reply(void)
{
	static char buf[70000];
	uint32_t l;
	char cmd;

	xread(&l, 4);
	l = ntohl(l);
	if (!l || l > sizeof(buf))
		die("reply length");
	xread(&cmd, 1);
	xread(buf, l - 1);
	return cmd;
}

/* The final reply of end of message, after the header changes. */
static char final_reply(unsigned *hdrs)
{
	for (;;) {
		char c = reply();

		if (c == SMFIR_ADDHEADER || c == SMFIR_INSHEADER || c == SMFIR_CHGHEADER ||
		    c == SMFIR_PROGRESS)
			(*hdrs)++;
		else if (c == SMFIR_QUARANTINE)
			(*hdrs) += 0x10000;	/* counted apart below */
		else
			return c;
	}
}

static char expect(uint32_t flag)
{
	return nr & flag ? SMFIR_CONTINUE : reply();
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *subject = argc > 4 ? argv[4] : "a message of the benchmark";
	double secs = argc > 2 ? atof(argv[2]) : 3;
	size_t size = argc > 3 ? strtoul(argv[3], NULL, 10) : 10240;
	static const char *const words[] = {
		"the", "quarterly", "report", "attached", "meeting", "tomorrow", "please", "review",
		"budget", "numbers", "before", "Friday", "thanks", "regards", "project", "update",
	};
	char *body = malloc(size + 128);
	unsigned long n = 0, acc = 0, rej = 0, quar = 0, hdr = 0;
	struct timespec t0, t1;
	size_t b = 0;
	uint32_t neg[3] = { htonl(6), htonl(0x1ff), htonl(0x1fffff) };

	if (argc < 2 || strncmp(argv[1], "unix:", 5))
		return fprintf(stderr, "usage: milter_bench unix:SOCKET [SECONDS] [SIZE] "
			       "[SUBJECT]\n"), 2;
	/* the body: lines of words, CRLF, like a text message */
	for (unsigned i = 0; b < size; i = i * 1103515245 + 12345) {
		const char *w = words[(i >> 16) % 16];
		size_t l = strlen(w);

		memcpy(body + b, w, l);
		b += l;
		if (b % 72 < 8) {	/* about 72 characters a line */
			body[b++] = '\r';
			body[b++] = '\n';
		} else {
			body[b++] = ' ';
		}
	}
	size = b;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1] + 5);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect");
	send_cmd(SMFIC_OPTNEG, neg, sizeof(neg));
	{
		uint32_t l, v[3];
		char cmd;

		xread(&l, 4);
		xread(&cmd, 1);
		if (cmd != SMFIC_OPTNEG || ntohl(l) < 13)
			die("option negotiation");
		xread(v, 12);
		for (uint32_t left = ntohl(l) - 13; left; left--)
			xread(&cmd, 1);
		nr = ntohl(v[2]);
	}
	{
		/* hostname, family '4', port (network order), address */
		static const char conn[] = "client.example\0" "4" "\x00\x19" "198.51.100.7";

		send_cmd(SMFIC_CONNECT, conn, sizeof(conn));
		expect(SMFIP_NR_CONN);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		static const char from[] = "<sender@example.org>";
		char h[600];
		unsigned hdrs = 0;
		int hl;
		char c;

		send_cmd(SMFIC_MAIL, from, sizeof(from));
		if (expect(SMFIP_NR_MAIL) != SMFIR_CONTINUE) {	/* no rules: accepted */
			acc++;
			n++;
			goto next;
		}
#define HDR(name, value) \
		(hl = snprintf(h, sizeof(h), "%s%c %s", name, 0, value), \
		 send_cmd(SMFIC_HEADER, h, hl + 1), expect(SMFIP_NR_HDR))
		HDR("From", "sender@example.org");
		HDR("To", "rcpt@example.com");
		HDR("Subject", subject);
		HDR("MIME-Version", "1.0");
		HDR("Content-Type", "text/plain; charset=utf-8");
		send_cmd(SMFIC_EOH, NULL, 0);
		expect(SMFIP_NR_EOH);
		for (size_t off = 0; off < size; off += 65535) {
			size_t l = size - off < 65535 ? size - off : 65535;

			send_cmd(SMFIC_BODY, body + off, l);
			if (expect(SMFIP_NR_BODY) == SMFIR_SKIP)
				break;
		}
		send_cmd(SMFIC_BODYEOB, NULL, 0);
		c = final_reply(&hdrs);
		n++;
		quar += hdrs >> 16;
		hdr += hdrs & 0xffff;
		if (c == SMFIR_REJECT || c == SMFIR_REPLYCODE)
			rej++;
		else
			acc++;
next:
		send_cmd(SMFIC_ABORT, NULL, 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9 < secs);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("messages %lu seconds %.2f rate %.0f actions a=%lu q=%lu r=%lu h=%lu\n", n, secs,
	       n / secs, acc, quar, rej, hdr);
	send_cmd(SMFIC_QUIT, NULL, 0);
	close(fd);
	free(body);
	return 0;
}
