// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * top: a live view of the data plane, redrawn every interval -- rates per
 * reason and verdict, per XDP action, the busiest countries, list entries
 * and tagged sources. A read like stats: it never loads, and exits 3 when
 * nothing is loaded.
 *
 * The numbers come from filter/sample.c (two samples, their rates, the top
 * N of each list); this file only draws them. On a terminal it draws with
 * plain ANSI sequences (alternate screen, home, erase to end of line), cut
 * to the window's size, and reads single keys with the terminal out of
 * canonical mode; the mode and the screen are put back however it ends:
 * q, --count, a signal it handles (SIGINT, SIGTERM, SIGHUP, SIGQUIT), or
 * the filter going away. Anywhere else (a pipe, --once) each frame is
 * plain text, uncut, for scripts.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/json.h"
#include "../core/parse.h"
#include "../filter/loader.h"
#include "../filter/sample.h"
#include "objects.h"

/* ------------------------------------------------------------ terminal */

/* What the terminal was before, for the restore; set up before any
 * handler that uses it is installed. */
static struct termios tty_saved;
static volatile sig_atomic_t tty_raw, screen_on;
static volatile sig_atomic_t got_winch;
static bool watch_keys;		/* stdin is the terminal, keys come one by one */

#define ALT_SCREEN_ON  "\033[?1049h\033[?25l"	/* alternate screen, hide cursor */
#define ALT_SCREEN_OFF "\033[?25h\033[?1049l"

/* Put the terminal back. Async-signal-safe: the handlers call it. */
static void term_restore(void)
{
	if (screen_on) {
		ssize_t n = write(STDOUT_FILENO, ALT_SCREEN_OFF, sizeof(ALT_SCREEN_OFF) - 1);

		(void)n;
		screen_on = 0;
	}
	if (tty_raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &tty_saved);
		tty_raw = 0;
	}
}

/* A signal that ends top: restore the terminal, then die of the signal
 * as if top had not caught it (the shell sees why it ended). */
static void on_fatal(int sig)
{
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void on_winch(int sig)
{
	(void)sig;
	got_winch = 1;
}

static const int fatal_sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

static void handle_signals(void)
{
	struct sigaction sa = { .sa_handler = on_fatal };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal_sigs) / sizeof(fatal_sigs[0]); i++)
		sigaddset(&sa.sa_mask, fatal_sigs[i]);
	for (size_t i = 0; i < sizeof(fatal_sigs) / sizeof(fatal_sigs[0]); i++)
		sigaction(fatal_sigs[i], &sa, NULL);
	sa.sa_handler = on_winch;	/* no SA_RESTART: poll() wakes up */
	sigaction(SIGWINCH, &sa, NULL);
}

/* Keys one at a time, unechoed, without waiting for a line; ISIG stays,
 * so ^C is still SIGINT (and restores the terminal, above). */
static void term_keys(void)
{
	struct termios t;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &tty_saved))
		return;
	t = tty_saved;
	t.c_lflag &= ~(ICANON | ECHO);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0)
		tty_raw = watch_keys = 1;
}

static void term_screen(void)
{
	fputs(ALT_SCREEN_ON, stdout);
	fflush(stdout);
	screen_on = 1;
}

static void term_size(int *cols, int *rows)
{
	struct winsize ws;

	*cols = 80;
	*rows = 24;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col && ws.ws_row) {
		*cols = ws.ws_col;
		*rows = ws.ws_row;
	}
}

/* --------------------------------------------------------------- frame */

/* A frame being drawn: lines cut to @cols, at most @rows of them (0: no
 * limit, the plain text of --once and pipes). */
struct frame {
	FILE *f;
	int cols, rows, n;
	bool live;
};

static void line(struct frame *fr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(struct frame *fr, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int len;

	if (fr->rows && fr->n >= fr->rows)
		return;
	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (len < 0)
		len = 0;
	if (len >= (int)sizeof(buf))
		len = sizeof(buf) - 1;
	while (len > 0 && buf[len - 1] == ' ')
		len--;
	if (fr->cols && len > fr->cols)
		len = fr->cols;		/* ASCII only: a byte is a column */
	/* The last row of the screen gets no newline: it would scroll. Erase
	 * the rest of a short line only: at the last column the cursor waits
	 * to wrap, and an erase there would take the line's last character. */
	fprintf(fr->f, "%s%.*s%s", fr->n ? "\n" : "", len, buf,
		fr->live && len < fr->cols ? "\033[K" : "");
	fr->n++;
}

/* 1234 -> "1234", 12345 -> "12.3k": rates fit their column. */
static const char *fmt_rate(double v, char buf[16])
{
	static const char unit[] = " kMGTP";
	int u = 0;

	if (v < 9999.5) {
		snprintf(buf, 16, v < 10 && v != (long)v ? "%.1f" : "%.0f", v);
		return buf;
	}
	while (v >= 999.95 && u < 5) {
		v /= 1000;
		u++;
	}
	snprintf(buf, 16, "%.1f%c", v, unit[u]);
	return buf;
}

/* Rows for each top list: what the window leaves, shared out. */
static size_t top_rows(const struct frame *fr, int verdict_rows, size_t want)
{
	/* header, rule, NIC, blank, verdict header, rows, blank; 4 lists of
	 * a title and a blank each, the policy line */
	int fixed = 5 + verdict_rows + 2 + 4 * 2 + 1;
	int left;

	if (!fr->rows)
		return want;
	left = (fr->rows - fixed) / 3;	/* the dropped list is one line today */
	if (left < 1)
		left = 1;
	return (size_t)left < want ? (size_t)left : want;
}

/*
 * The policy service's decisions per action. They are counted inside the
 * policy service's process (mta/policy_service.c) and not published
 * anywhere another process can read. Hook: when the service exports its
 * counters (the metrics endpoint, a shared map), read them here and draw
 * one row per action. false and why, until then.
 */
static bool policy_decisions(const struct ctl *c, struct frame *fr, const char **why)
{
	(void)c;
	(void)fr;
	*why = "the policy service counts its decisions in its own process";
	return false;
}

static void draw_list_na(struct frame *fr, const char *title, const char *note)
{
	line(fr, "%s: n/a (%s)", title, note);
}

static void draw(struct ctl *c, const struct rates *r, double interval, size_t want,
		 struct frame *fr)
{
	char t[32], a[16], b[16], ps[MXS_PFX_STRLEN];
	time_t now = time(NULL);
	const char *why;
	int active = 0;
	size_t n;

	strftime(t, sizeof(t), "%H:%M:%S", localtime(&now));
	line(fr, "mxshield top  every %gs  %s  prog %u  %s", interval, t, filter_prog_id(c),
	     fr->live ? "(q quits)" : "");
	if (fr->live) {
		char rule[512];
		int w = fr->cols < (int)sizeof(rule) - 1 ? fr->cols : (int)sizeof(rule) - 1;

		memset(rule, '-', w);
		rule[w] = '\0';
		line(fr, "%s", rule);
	}
	{
		char nic[256];
		int len = snprintf(nic, sizeof(nic), "NIC/s");

		for (int x = 0; x < SAMPLE_XDP_ACTIONS; x++)
			if (r->xdp[x].total || x == 1 || x == 2)
				len += snprintf(nic + len, sizeof(nic) - len, "  %s %s",
						sample_xdp_names[x], fmt_rate(r->xdp[x].per_s, a));
		line(fr, "%s", nic);
	}
	line(fr, "%s", "");
	for (int re = 0; re < MXS_R_MAX; re++)
		for (int ac = 0; ac < MXS_ACT_MAX; ac++)
			active += r->verdict[re][ac].total != 0;
	/* CONN/S: new connections (SYNs, not their retransmissions) beside
	 * the packets, "-" for a filter loaded before they were counted */
	line(fr, "%-14s %-11s %9s %9s %9s %16s", "REASON", "VERDICT", "PKT/S", "CONN/S", "BYTES/S",
	     "PACKETS");
	for (int re = 0; re < MXS_R_MAX; re++) {
		for (int ac = 0; ac < MXS_ACT_MAX; ac++) {
			const struct rate *p = &r->verdict[re][ac];

			if (!p->total)
				continue;
			char cs[16];

			line(fr, "%-14s %-11s %9s %9s %9s %16llu", reason_name(re), action_name(ac),
			     fmt_rate(p->per_s, a),
			     r->has_conns ? fmt_rate(r->conns[re][ac].per_s, cs) : "-",
			     fmt_rate(r->verdict_bytes[re][ac].per_s, b),
			     (unsigned long long)p->total);
		}
	}
	if (!active)
		line(fr, "%s", "(no packets counted yet)");
	n = top_rows(fr, active ? active : 1, want);

	line(fr, "%s", "");
	line(fr, "%-14s %9s %16s", "TOP COUNTRIES", "PKT/S", "PACKETS");
	for (size_t i = 0; i < r->countries.n && i < n; i++) {
		char cc[3];

		country_code(r->countries.row[i].country, cc);
		line(fr, "%-14s %9s %16llu", cc, fmt_rate(r->countries.row[i].r.per_s, a),
		     (unsigned long long)r->countries.row[i].r.total);
	}
	if (!r->countries.n)
		line(fr, "%s", "(none: no country database, or no SMTP packets)");

	line(fr, "%s", "");
	line(fr, "%-14s %-43s %9s %12s", "TOP ENTRIES", "PREFIX", "HITS/S", "HITS");
	for (size_t i = 0; i < r->entries.n && i < n; i++) {
		const struct top_row *e = &r->entries.row[i];

		line(fr, "%-14s %-43s %9s %12llu", list_name(e->list), prefix_str(&e->p, ps),
		     fmt_rate(e->r.per_s, a), (unsigned long long)e->r.total);
	}
	if (!r->entries.n)
		line(fr, "%s", "(no entry has decided a packet yet)");

	line(fr, "%s", "");
	line(fr, "%-14s %-39s %-10s %-8s %9s %12s", "TOP TAGGED", "SOURCE", "ACTION", "LIST",
	     "PKT/S", "PACKETS");
	for (size_t i = 0; i < r->tagged.n && i < n; i++) {
		const struct top_row *e = &r->tagged.row[i];
		char h[INET6_ADDRSTRLEN];

		prefix_str(&e->p, ps);
		snprintf(h, sizeof(h), "%.*s", (int)strcspn(ps, "/"), ps);	/* a host */
		line(fr, "%-14s %-39s %-10s %-8s %9s %12llu", "", h, action_name(e->action),
		     list_name(e->list), fmt_rate(e->r.per_s, a), (unsigned long long)e->r.total);
	}
	if (!r->tagged.n)
		line(fr, "%s", "(no source tagged)");

	line(fr, "%s", "");
	if (r->dropped.na) {
		draw_list_na(fr, "TOP DROPPED SOURCES", r->dropped.note);
	} else {
		line(fr, "%-20s %-39s %9s %12s", "TOP DROPPED", "SOURCE", "PKT/S", "EVENTS");
		for (size_t i = 0; i < r->dropped.n && i < n; i++) {
			const struct top_row *e = &r->dropped.row[i];

			line(fr, "%-20s %-39s %9s %12llu", "", prefix_str(&e->p, ps),
			     fmt_rate(e->r.per_s, a), (unsigned long long)e->r.total);
		}
	}
	if (!policy_decisions(c, fr, &why))
		draw_list_na(fr, "POLICY DECISIONS", why);
}

/* --once --json: the rates as one document. */
static void draw_json(const struct rates *r)
{
	char cc[3], ps[MXS_PFX_STRLEN];

	jw_obj();
	jw_key("seconds");
	jw_u64((unsigned long long)(r->secs * 1000 + 0.5));	/* as ms, exact */
	jw_key("verdicts");
	jw_arr();
	for (int re = 0; re < MXS_R_MAX; re++) {
		for (int ac = 0; ac < MXS_ACT_MAX; ac++) {
			const struct rate *p = &r->verdict[re][ac];

			if (!p->total)
				continue;
			jw_obj();
			jw_kstr("reason", reason_name(re));
			jw_kstr("action", action_name(ac));
			jw_ku64("packets_per_s", (unsigned long long)(p->per_s + 0.5));
			jw_ku64("bytes_per_s",
				(unsigned long long)(r->verdict_bytes[re][ac].per_s + 0.5));
			jw_ku64("packets", p->total);
			if (r->has_conns) {
				jw_ku64("connections_per_s",
					(unsigned long long)(r->conns[re][ac].per_s + 0.5));
				jw_ku64("connections", r->conns[re][ac].total);
			}
			jw_end_obj();
		}
	}
	jw_end_arr();
	jw_key("xdp");
	jw_obj();
	for (int x = 0; x < SAMPLE_XDP_ACTIONS; x++)
		jw_ku64(sample_xdp_names[x], (unsigned long long)(r->xdp[x].per_s + 0.5));
	jw_end_obj();
	jw_key("countries");
	jw_arr();
	for (size_t i = 0; i < r->countries.n; i++) {
		country_code(r->countries.row[i].country, cc);
		jw_obj();
		jw_kstr("country", cc);
		jw_ku64("packets_per_s", (unsigned long long)(r->countries.row[i].r.per_s + 0.5));
		jw_ku64("packets", r->countries.row[i].r.total);
		jw_end_obj();
	}
	jw_end_arr();
	jw_key("entries");
	jw_arr();
	for (size_t i = 0; i < r->entries.n; i++) {
		const struct top_row *e = &r->entries.row[i];

		jw_obj();
		jw_kstr("list", list_name(e->list));
		jw_kstr("prefix", prefix_str(&e->p, ps));
		jw_ku64("hits_per_s", (unsigned long long)(e->r.per_s + 0.5));
		jw_ku64("hits", e->r.total);
		jw_end_obj();
	}
	jw_end_arr();
	jw_key("tagged");
	jw_arr();
	for (size_t i = 0; i < r->tagged.n; i++) {
		const struct top_row *e = &r->tagged.row[i];

		prefix_str(&e->p, ps);
		ps[strcspn(ps, "/")] = '\0';
		jw_obj();
		jw_kstr("source", ps);
		jw_kstr("action", action_name(e->action));
		jw_kstr("list", list_name(e->list));
		jw_ku64("packets_per_s", (unsigned long long)(e->r.per_s + 0.5));
		jw_ku64("packets", e->r.total);
		jw_end_obj();
	}
	jw_end_arr();
	jw_key("dropped");
	jw_null();	/* not available: see sample_top_dropped() */
	jw_key("policy");
	jw_null();	/* not available: see policy_decisions() */
	jw_end_obj();
}

/* ---------------------------------------------------------------- loop */

struct top_opts {
	double interval;
	long count;		/* frames, 0: until q */
	size_t top;		/* rows per list (0: fit the window) */
	bool live;		/* a terminal: redraw in place */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* Wait until @deadline (monotonic ns): 1 when q was pressed, 0 at the
 * deadline or on a resize (got_winch). */
static int wait_keys(uint64_t deadline)
{
	for (;;) {
		uint64_t now = now_ns();
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		int ms, rc;

		if (now >= deadline || got_winch)
			return 0;
		ms = (int)((deadline - now + 999999) / 1000000);
		rc = poll(&p, watch_keys ? 1 : 0, ms);
		if (rc > 0 && (p.revents & POLLIN)) {
			char k[16];
			ssize_t n = read(STDIN_FILENO, k, sizeof(k));

			for (ssize_t i = 0; i < n; i++)
				if (k[i] == 'q' || k[i] == 'Q')
					return 1;
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
				watch_keys = false;	/* the terminal went away */
		} else if (rc > 0) {
			watch_keys = false;	/* POLLHUP: stop watching keys */
		}
	}
}

static int show(struct ctl *c, const struct rates *r, const struct top_opts *o, int frame_no)
{
	struct frame fr = { .live = o->live };
	char *buf = NULL;
	size_t len = 0;

	if (c->json) {
		draw_json(r);
		return 0;
	}
	fr.f = open_memstream(&buf, &len);
	if (!fr.f)
		return 0;	/* no memory for this frame: the next one may */
	if (o->live) {
		term_size(&fr.cols, &fr.rows);
		fputs("\033[H", fr.f);
	} else if (frame_no) {
		fputs("\n", fr.f);	/* a blank line between plain frames */
	}
	draw(c, r, o->interval, o->top ? o->top : o->live ? 100 : 10, &fr);
	fputs(o->live ? "\033[J" : "\n", fr.f);	/* erase what the last frame left */
	fclose(fr.f);
	fwrite(buf, 1, len, stdout);
	fflush(stdout);
	free(buf);
	return 0;
}

static int run(struct ctl *c, const struct top_opts *o)
{
	struct sample s[2];
	struct rates r = {};
	bool have = false;
	int cur = 0, rc = 0, frames = 0;
	uint64_t next;

	int err = sample_take(c, &s[cur]);

	if (err)
		return ctl_err("reading the counters: %s", bpf_errstr(err));
	next = s[cur].at_ns + (uint64_t)(o->interval * 1e9);
	for (;;) {
		int q = o->live ? wait_keys(next) : 0;

		if (q)
			break;
		if (!o->live) {
			struct timespec ts;
			uint64_t now = now_ns();

			if (next > now) {
				ts.tv_sec = (next - now) / 1000000000ULL;
				ts.tv_nsec = (next - now) % 1000000000ULL;
				while (nanosleep(&ts, &ts) && errno == EINTR)
					;
			}
		}
		if (got_winch) {
			got_winch = 0;
			if (have) {	/* the same numbers, at the new size */
				fputs("\033[2J", stdout);
				show(c, &r, o, frames);
			}
			if (now_ns() < next)
				continue;
		}
		if (!filter_prog_id(c)) {	/* unloaded while we watched */
			term_restore();	/* the message on the shell's screen */
			rc = ctl_not_loaded(c, "the filter was unloaded");
			break;
		}
		err = sample_take(c, &s[!cur]);
		if (err) {
			term_restore();
			rc = ctl_err("reading the counters: %s", bpf_errstr(err));
			break;
		}
		rates_free(&r);
		if (sample_rates(&s[cur], &s[!cur], o->top ? o->top : 100, &r)) {
			term_restore();
			rc = ctl_err("out of memory");
			break;
		}
		have = true;
		sample_free(&s[cur]);
		cur = !cur;
		next += (uint64_t)(o->interval * 1e9);
		if (next < s[cur].at_ns)	/* a slow read: skip, do not catch up */
			next = s[cur].at_ns + (uint64_t)(o->interval * 1e9);
		show(c, &r, o, frames);
		if (o->count && ++frames >= o->count)
			break;
	}
	rates_free(&r);
	sample_free(&s[cur]);
	return rc;
}

static int do_top(struct ctl *c, const struct cli_args *a)
{
	const char *iv = cli_opt(a, "interval"), *cnt = cli_opt(a, "count"),
		   *top = cli_opt(a, "top");
	struct top_opts o = { .interval = 1 };
	bool once = cli_flag(a, "once");
	char *end;
	int rc;

	if (iv) {
		errno = 0;
		o.interval = strtod(iv, &end);
		if (errno || end == iv || *end || !(o.interval >= 0.1 && o.interval <= 3600))
			return cli_usage(a, "--interval %s: seconds from 0.1 to 3600", iv);
	}
	if (cnt) {
		errno = 0;
		o.count = strtol(cnt, &end, 10);
		if (errno || end == cnt || *end || o.count < 1)
			return cli_usage(a, "--count %s: a number of frames, 1 or more", cnt);
	}
	if (top) {
		long t;

		errno = 0;
		t = strtol(top, &end, 10);
		if (errno || end == top || *end || t < 1 || t > 1000)
			return cli_usage(a, "--top %s: rows per list, 1 to 1000", top);
		o.top = t;
	}
	if (once && cnt)
		return cli_usage(a, "--once is --count 1: give one of them");
	if (once)
		o.count = 1;
	if (c->json && o.count != 1)
		return cli_usage(a, "--json prints one document: add --once");
	if (ctl_open_ro(c))
		return 1;
	if (!c->loaded)
		return ctl_not_loaded(c, "no counters");
	/* The shared lock of a read would hold every change off for as long
	 * as top runs: the maps are open, each read of them is atomic. */
	if (c->lock_fd >= 0) {
		close(c->lock_fd);
		c->lock_fd = -1;
	}
	o.live = !once && !c->json && isatty(STDOUT_FILENO);
	if (o.live) {
		handle_signals();
		term_keys();
		term_screen();
	}
	rc = run(c, &o);
	term_restore();
	return rc;
}

static const struct cli_opt top_opts[] = {
	{ "interval", "SECONDS", "time between frames (default 1; 0.1 to 3600)" },
	{ "once", NULL, "print one frame (the rates over one interval) as plain text and exit" },
	{ "count", "N", "draw N frames, then exit" },
	{ "top", "N", "rows per list (default: what the window holds; 10 off a terminal)" },
	{ NULL }
};

static const struct cli_cmd top_cmds[] = {
	{ NULL, do_top, NULL, 0, 0,
	  "A live view, redrawn every interval: packets/s per reason and verdict and per "
	  "XDP action, the busiest countries, list entries (hits/s) and tagged sources; "
	  "q quits.", top_opts },
	{ 0 }
};

const struct cli_obj obj_top = {
	"top", "a live view of the data plane's rates", top_cmds, .verb = true,
	.section = SECTION_READ,
	.more = "On a terminal top redraws in place, cut to the window, and q quits; "
		"anywhere else (a pipe, --once) it prints plain frames for scripts. With "
		"--once --json it prints the rates as one document. Like stats, it never "
		"loads the filter and exits 3 when none is loaded. The policy service's "
		"decisions and the top dropped sources show n/a: neither is readable from "
		"another process yet.",
};
