// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * feed add|list|del|update: lists kept by someone else, fetched on a
 * schedule, each the source "feed:NAME" of one IP list (filter/feed.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/fetch.h"
#include "../core/json.h"
#include "../core/parse.h"
#include "../filter/build.h"
#include "../filter/feed.h"
#include "../filter/loader.h"
#include "objects.h"

/* "64M", "512k", "1G" or bytes. 0, or -1 with err. */
static int parse_size(const char *s, uint64_t *out, char *err, size_t errlen)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return mxs_fail(err, errlen, "'%s': expected bytes, or a number with k, M or G", s);
	switch (*end) {
	case 'k': case 'K': n <<= 10; end++; break;
	case 'm': case 'M': n <<= 20; end++; break;
	case 'g': case 'G': n <<= 30; end++; break;
	}
	if (*end || !n)
		return mxs_fail(err, errlen, "'%s': expected bytes, or a number with k, M or G", s);
	*out = n;
	return 0;
}

static int opt_num(const struct cli_args *a, const char *name, long lo, long hi, int64_t *out)
{
	const char *v = cli_opt(a, name);
	char *end;
	long n;

	if (!v)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi)
		return ctl_err("--%s: '%s': expected a number from %ld to %ld", name, v, lo, hi);
	*out = n;
	return 0;
}

static int opt_dur(const struct cli_args *a, const char *name, int64_t lo, int64_t *out)
{
	const char *v = cli_opt(a, name);
	char err[MXS_ERRLEN];

	if (!v)
		return 0;
	if (parse_duration(v, out, err, sizeof(err)))
		return ctl_err("--%s: %s", name, err);
	if (*out < lo)
		return ctl_err("--%s: '%s': at least %llds", name, v, (long long)lo);
	return 0;
}

/* A URL as given (no blanks or control characters: it is logged and
 * stored), or a path made absolute (the service runs elsewhere). */
static int take_source(const char *arg, char *out, size_t len)
{
	char rp[PATH_MAX];

	for (const unsigned char *p = (const unsigned char *)arg; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return ctl_err("'%s': a URL or path without blanks or control characters",
				       arg);
	if (fetch_is_url(arg)) {
		if (strlen(arg) >= len)
			return ctl_err("URL longer than %zu characters", len - 1);
		snprintf(out, len, "%s", arg);
		return 0;
	}
	if (strstr(arg, "://"))
		return ctl_err("'%s': only http://, https:// and file:// URLs, or a path", arg);
	if (!realpath(arg, rp))
		return ctl_err("%s: %s", arg, strerror(errno));
	if (strlen(rp) >= len)
		return ctl_err("%s: path too long", rp);
	snprintf(out, len, "%s", rp);
	return 0;
}

static void print_feed_conf(const struct feed *f)
{
	printf("feed %s added: %s list%s%s, %s, format %s, every %llds\n", f->name, f->list,
	       *f->list == 'b' ? " action " : "", *f->list == 'b' ? action_name(f->action) : "",
	       f->url, f->format, (long long)f->every);
}

static int do_add(struct ctl *c, const struct cli_args *a)
{
	const char *list = cli_opt(a, "list"), *act = cli_opt(a, "action");
	const char *fmt = cli_opt(a, "format"), *size = cli_opt(a, "max-size");
	const char *ca = cli_opt(a, "cacert");
	const struct listdef *d;
	char err[MXS_ERRLEN];
	int64_t n;
	struct feed f = {
		.every = FEED_EVERY_DEFAULT, .min_entries = FEED_MIN_ENTRIES_DEFAULT,
		.max_shrink = FEED_MAX_SHRINK_DEFAULT, .timeout = FEED_TIMEOUT_DEFAULT,
		.max_size = FEED_MAX_SIZE_DEFAULT,
	};

	if (feed_name_check(a->pos[0], err, sizeof(err)))
		return ctl_err("%s", err);
	snprintf(f.name, sizeof(f.name), "%s", a->pos[0]);
	d = listdef_by_name(list ? list : "block");
	if (!d)
		return cli_usage(a, "--list: trust, gateway or block");
	snprintf(f.list, sizeof(f.list), "%s", d->name);
	f.action = d->has_action ? MXS_ACT_DROP : 0;
	if (act && !d->has_action)
		return cli_usage(a, "--action: %s entries have no action", d->name);
	if (act && parse_action(act, &f.action, err, sizeof(err)))
		return ctl_err("--action: %s", err);
	snprintf(f.format, sizeof(f.format), "%s", fmt ? fmt : "plain");
	if (!feed_format_known(f.format))
		return cli_usage(a, "--format: '%s' is not a feed format", f.format);
	if (take_source(a->pos[1], f.url, sizeof(f.url)))
		return 1;
	if (opt_dur(a, "every", FEED_EVERY_MIN, &f.every) ||
	    opt_dur(a, "timeout", 1, &f.timeout))
		return 1;
	n = f.min_entries;
	if (opt_num(a, "min-entries", 0, 100000000, &n))
		return 1;
	f.min_entries = n;
	n = f.max_shrink;
	if (opt_num(a, "max-shrink", 0, 100, &n))
		return 1;
	f.max_shrink = n;
	if (size && parse_size(size, &f.max_size, err, sizeof(err)))
		return ctl_err("--max-size: %s", err);
	if (ca) {
		char rp[PATH_MAX];

		if (!realpath(ca, rp) || access(rp, R_OK))
			return ctl_err("--cacert %s: %s", ca, strerror(errno));
		snprintf(f.cacert, sizeof(f.cacert), "%s", rp);
	}
	if (ctl_lock(c) || feed_add(c, &f))
		return 1;
	if (c->json) {
		jw_obj();
		jw_kstr("added", f.name);
		jw_kstr("list", f.list);
		jw_kstr("url", f.url);
		jw_end_obj();
	} else {
		print_feed_conf(&f);
	}
	return 0;
}

static int do_del(struct ctl *c, const struct cli_args *a)
{
	if (ctl_ensure_loaded(c) || feed_del(c, a->pos[0]))
		return 1;
	if (c->json) {
		jw_obj();
		jw_kstr("deleted", a->pos[0]);
		jw_end_obj();
	} else {
		printf("feed %s deleted, and its entries with it\n", a->pos[0]);
	}
	return 0;
}

/* "3m12s", "2d4h" */
static char *fmt_span(int64_t a, char *buf, size_t len)
{
	if (a >= 86400)
		snprintf(buf, len, "%lldd%lldh", (long long)(a / 86400),
			 (long long)(a % 86400 / 3600));
	else if (a >= 3600)
		snprintf(buf, len, "%lldh%lldm", (long long)(a / 3600), (long long)(a % 3600 / 60));
	else if (a >= 60)
		snprintf(buf, len, "%lldm%llds", (long long)(a / 60), (long long)(a % 60));
	else
		snprintf(buf, len, "%llds", (long long)a);
	return buf;
}

/* "3m12s ago", "in 5m", "now", "never" */
static char *fmt_when(int64_t t, int64_t now, char *buf, size_t len)
{
	int64_t d = t - now, a = d < 0 ? -d : d;
	char span[32];

	if (!t) {
		snprintf(buf, len, "never");
		return buf;
	}
	fmt_span(a, span, sizeof(span));
	if (!a)
		snprintf(buf, len, "now");
	else
		snprintf(buf, len, d > 0 ? "in %s" : "%s ago", span);
	return buf;
}

static void list_json(const struct feed *f, int64_t now)
{
	int64_t due = feed_next_due(f);

	jw_obj();
	jw_kstr("name", f->name);
	jw_kstr("list", f->list);
	if (!strcmp(f->list, "block"))
		jw_kstr("action", action_name(f->action));
	jw_kstr("url", f->url);
	jw_kstr("format", f->format);
	jw_ki64("every", f->every);
	jw_ku64("min_entries", f->min_entries);
	jw_ki64("max_shrink", f->max_shrink);
	jw_ki64("timeout", f->timeout);
	jw_ku64("max_size", f->max_size);
	jw_kstr("cacert", f->cacert);
	jw_ku64("entries", f->entries);
	jw_key("age");
	if (f->success)
		jw_i64(now - f->success);
	else
		jw_null();
	jw_ki64("last_attempt", f->attempt);
	jw_ki64("last_success", f->success);
	jw_ki64("last_change", f->changed);
	jw_kstr("error", f->error);
	jw_kstr("last_error", f->last_error);
	jw_ki64("last_error_time", f->error_time);
	jw_ku64("failures", f->failures);
	jw_ki64("next_due", due > now ? due : now);
	jw_end_obj();
}

static int do_list(struct ctl *c, const struct cli_args *a)
{
	int64_t now = time(NULL);
	struct feed *v;
	int n;

	if (ctl_lock_ro(c) || feed_read_all(c, &v, &n))
		return 1;
	if (c->json) {
		jw_arr();
		for (int i = 0; i < n; i++)
			list_json(&v[i], now);
		jw_end_arr();
		free(v);
		return 0;
	}
	if (n)
		printf("%-16s %-7s %-6s %-6s %8s %-8s %-20s %-10s  %s\n", "NAME", "LIST", "FORMAT",
		       "EVERY", "ENTRIES", "AGE", "LAST-SUCCESS", "NEXT", "URL / LAST ERROR");
	for (int i = 0; i < n; i++) {
		const struct feed *f = &v[i];
		char every[32], age[32], ok[32], next[32], ago[32];
		int64_t due = feed_next_due(f);

		snprintf(every, sizeof(every), "%llds", (long long)f->every);
		if (f->every % 3600 == 0)
			snprintf(every, sizeof(every), "%lldh", (long long)f->every / 3600);
		else if (f->every % 60 == 0)
			snprintf(every, sizeof(every), "%lldm", (long long)f->every / 60);
		if (f->success) {
			fmt_time(f->success, ok, sizeof(ok));
			/* the age: how long since the copy held was last found current */
			snprintf(age, sizeof(age), "%s", fmt_span(now - f->success, ago, sizeof(ago)));
		} else {
			snprintf(age, sizeof(age), "-");
			snprintf(ok, sizeof(ok), "never");
		}
		fmt_when(due > now ? due : now, now, next, sizeof(next));
		printf("%-16s %-7s %-6s %-6s %8llu %-8s %-20s %-10s  %s\n", f->name, f->list,
		       f->format, every, (unsigned long long)f->entries, age, ok, next, f->url);
		if (*f->error)
			printf("%-16s error %s: %s\n", "", fmt_when(f->error_time, now, ago,
								   sizeof(ago)), f->error);
	}
	free(v);
	return 0;
}

static const char *const outcome_names[] = {
	[FEED_UPDATED] = "updated", [FEED_UNCHANGED] = "unchanged",
	[FEED_FAILED] = "failed", [FEED_BUSY] = "busy",
};

static void report(struct ctl *c, const char *name, const struct feed_result *r)
{
	if (c->json) {
		jw_obj();
		jw_kstr("name", name);
		jw_kstr("outcome", outcome_names[r->outcome]);
		jw_ku64("entries", r->outcome == FEED_FAILED ? r->before : r->entries);
		jw_ku64("before", r->before);
		jw_ku64("bytes", r->bytes);
		if (r->outcome == FEED_FAILED || r->outcome == FEED_BUSY)
			jw_kstr("error", r->error);
		jw_end_obj();
		return;
	}
	switch (r->outcome) {
	case FEED_UPDATED:
		printf("feed %s: updated, %llu entries (had %llu), %llu bytes\n", name,
		       (unsigned long long)r->entries, (unsigned long long)r->before,
		       (unsigned long long)r->bytes);
		break;
	case FEED_UNCHANGED:
		printf("feed %s: unchanged (%llu entries)\n", name,
		       (unsigned long long)r->entries);
		break;
	case FEED_BUSY:
		printf("feed %s: skipped: %s\n", name, r->error);
		break;
	case FEED_FAILED:
		printf("feed %s: FAILED: %s; the last good copy stays (%llu entries)\n", name,
		       r->error, (unsigned long long)r->before);
		break;
	}
}

/*
 * mxshield feed update [NAME...] [--due] [--force]: the feeds named, or
 * every feed (with --due, those due). Exit 1 when one failed: a timer's
 * unit then shows it failed, while the last good copies stay in force.
 */
static int do_update(struct ctl *c, const struct cli_args *a)
{
	bool due = cli_flag(a, "due"), force = cli_flag(a, "force");
	int64_t now = time(NULL);
	struct feed *v;
	int n, rc = 0;

	if (feed_read_all(c, &v, &n))
		return 1;
	for (int i = 0; i < a->npos; i++) {
		int j;

		for (j = 0; j < n && strcmp(v[j].name, a->pos[i]); j++)
			;
		if (j == n) {
			free(v);
			return ctl_err("no feed named '%s' ('mxshield feed list' shows them)",
				       a->pos[i]);
		}
	}
	if (c->json)
		jw_arr();
	for (int i = 0; i < n; i++) {
		struct feed_result r;
		bool named = !a->npos;

		for (int j = 0; j < a->npos; j++)
			named |= !strcmp(a->pos[j], v[i].name);
		if (!named || (due && feed_next_due(&v[i]) > now))
			continue;
		if (feed_refresh(c, v[i].name, force, FEED_LOAD, &r)) {
			rc = 1;
			continue;
		}
		report(c, v[i].name, &r);
		if (r.outcome == FEED_FAILED)
			rc = 1;
	}
	if (c->json)
		jw_end_arr();
	c->json_result = true;	/* the report stands, failed refreshes in it */
	free(v);
	return rc;
}

static const char *const list_names[] = { "trust", "gateway", "block", NULL };

static const struct cli_opt add_opts[] = {
	{ "list", "LIST", "the list it fills: block (default), trust or gateway", list_names },
	{ "action", "ACTION", "block list: drop (at the NIC, default), reject, quarantine or "
			      "spam", cli_actions },
	{ "format", "FORMAT", "plain: one address or CIDR a line, '#' comments, text after "
			      "';' or '#' kept as the comment", feed_formats },
	{ "every", "DURATION", "refresh interval (default 1h, at least 10s)" },
	{ "min-entries", "N", "a copy with fewer entries is refused (default 1)" },
	{ "max-shrink", "PCT", "a copy shrinking by more than PCT %% of the last good one is "
			       "refused (default 50; 100: any)" },
	{ "timeout", "DURATION", "for the whole download (default 60s)" },
	{ "max-size", "BYTES", "a larger download is aborted (default 64M; k, M, G)" },
	{ "cacert", "FILE", "CA certificates (PEM) to verify the server with, instead of the "
			    "system's" },
	{ NULL }
};
static const struct cli_opt update_opts[] = {
	{ "due", NULL, "only the feeds whose interval has passed (what the timer runs)" },
	{ "force", NULL, "fetch whole (no If-None-Match / If-Modified-Since) and take any "
			 "shrink" },
	{ NULL }
};

static const struct cli_cmd feed_cmds[] = {
	{ "add", do_add, "NAME URL|PATH", 2, 2,
	  "Add a feed: a list fetched from URL (http, https, file) or PATH on a schedule, "
	  "kept as the source feed:NAME of its list.", add_opts },
	{ "list", do_list, NULL, 0, 0,
	  "Show the feeds: entries, age of the copy held, last success, next refresh, last "
	  "error." },
	{ "del", do_del, "NAME", 1, 1, "Delete a feed and its entries (one switch)." },
	{ "update", do_update, "[NAME...]", 0, CLI_MAX_POS,
	  "Refresh the feeds named (default: all): a copy that fails any check is refused and "
	  "the last good one stays.", update_opts },
	{ 0 }
};

const struct cli_obj obj_feed = {
	"feed", "lists fetched on a schedule (public blocklists), each a source of its list",
	feed_cmds, .section = SECTION_LISTS,
};
