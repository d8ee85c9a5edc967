// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Routes: the mail of selected recipients through an external scanner
 * that hands it back (mta/route.h). The policy service answers FILTER for
 * them; this file keeps the state file "routes". A route is refused when
 * its scanner's addresses are not on the gateway list: the gateway list
 * is how the service knows mail coming back from the scanner, so without
 * it the returned mail would be sent to the scanner again, in a loop.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include "../core/cli.h"
#include "../core/ctl.h"
#include "../core/json.h"
#include "../core/parse.h"
#include "../core/utf8.h"
#include "../filter/build.h"
#include "../mta/route.h"
#include "../state/recfile.h"
#include "objects.h"

#define MAX_SCANNER_ADDRS 16

/* The scanner's addresses: @host itself, or what the name resolves to.
 * The count, or -1 after an error. */
static int scanner_addrs(const char *host, struct mxs_prefix *out, int max)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char err[MXS_ERRLEN];
	int n = 0, rc;

	if (!parse_addr(host, &out[0], err, sizeof(err)))
		return 1;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc)
		return ctl_err("%s: cannot resolve it (%s): give the scanner's address, or make "
			       "the name resolve here", host, gai_strerror(rc)), -1;
	for (ai = res; ai && n < max; ai = ai->ai_next) {
		char a[INET6_ADDRSTRLEN];
		const void *src = ai->ai_family == AF_INET6 ?
			(const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr :
			(const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
		bool dup = false;

		if (!inet_ntop(ai->ai_family, src, a, sizeof(a)) ||
		    parse_addr(a, &out[n], err, sizeof(err)))
			continue;
		for (int k = 0; k < n; k++)
			dup |= !memcmp(&out[k], &out[n], sizeof(out[n]));
		n += !dup;
	}
	freeaddrinfo(res);
	if (!n)
		return ctl_err("%s: resolves to no address", host), -1;
	return n;
}

static int find(const struct recfile *f, const char *rcpt)
{
	return recfile_find(f, "rcpt", rcpt);
}

static int do_add(struct ctl *c, const struct cli_args *a)
{
	const char *via_in = cli_opt(a, "via"), *comment = cli_opt(a, "comment");
	char rcpt[320], via[300], host[256], err[MXS_ERRLEN], addrs[MAX_SCANNER_ADDRS * 48] = "";
	struct mxs_prefix sc[MAX_SCANNER_ADDRS];
	struct recfile f;
	struct rec *r;
	int n, i, rc = 1;
	bool is_new;

	if (!via_in)
		return cli_usage(a, "route add needs --via TRANSPORT:[HOST]:PORT");
	if (route_parse_rcpt(a->pos[0], rcpt, sizeof(rcpt), err, sizeof(err)) ||
	    route_parse_via(via_in, via, sizeof(via), host, sizeof(host), err, sizeof(err)) ||
	    (comment && utf8_text_check("comment", comment, err, sizeof(err))))
		return ctl_err("%s", err);
	if (ctl_lock(c))
		return 1;
	n = scanner_addrs(host, sc, MAX_SCANNER_ADDRS);
	if (n < 0)
		return 1;
	for (int k = 0; k < n; k++) {
		struct mxs_rule m;
		char ps[MXS_PFX_STRLEN];

		prefix_str(&sc[k], ps);
		if (sc[k].plen == (sc[k].v6 ? 128 : 32))
			ps[strcspn(ps, "/")] = '\0';	/* an address */
		if (!ctl_list_match(c, MXS_LIST_GATEWAY, &sc[k], now_tai_ns(), NULL, &m))
			return ctl_err("the scanner %s (%s) is not on the gateway list: mail it hands "
				       "back could not be told from new mail and would be routed "
				       "again; add it first: mxshield gateway add %s", host, ps, ps);
		snprintf(addrs + strlen(addrs), sizeof(addrs) - strlen(addrs), "%s%s",
			 k ? "," : "", ps);
	}
	if (ctl_read(c, ST_ROUTES, &f))
		return 1;
	i = find(&f, rcpt);
	is_new = i < 0;
	r = is_new ? recfile_add(&f) : &f.r[i];
	rec_set(r, "rcpt", rcpt);
	rec_set(r, "via", via);
	rec_set(r, "addr", addrs);
	if (comment || is_new)
		rec_set(r, "comment", comment ? comment : "");
	if (ctl_write(c, ST_ROUTES, &f))
		goto out;
	rc = 0;
	if (c->json) {
		jw_obj();
		jw_kstr(is_new ? "added" : "updated", rcpt);
		jw_kstr("via", via);
		jw_kstr("scanner_addresses", addrs);
		jw_end_obj();
	} else {
		printf("route %s %s: via %s (scanner %s)\n", rcpt, is_new ? "added" : "updated",
		       via, addrs);
	}
out:
	recfile_free(&f);
	return rc;
}

static int do_del(struct ctl *c, const struct cli_args *a)
{
	char rcpt[320], err[MXS_ERRLEN];
	struct recfile f;
	int i, rc = 1;

	if (route_parse_rcpt(a->pos[0], rcpt, sizeof(rcpt), err, sizeof(err)))
		return ctl_err("%s", err);
	if (ctl_lock(c) || ctl_read(c, ST_ROUTES, &f))
		return 1;
	i = find(&f, rcpt);
	if (i < 0) {
		ctl_err("%s has no route", rcpt);
		goto out;
	}
	recfile_del(&f, i);
	if (ctl_write(c, ST_ROUTES, &f))
		goto out;
	rc = 0;
	if (c->json) {
		jw_obj();
		jw_kstr("deleted", rcpt);
		jw_end_obj();
	} else {
		printf("route %s deleted\n", rcpt);
	}
out:
	recfile_free(&f);
	return rc;
}

static int do_list(struct ctl *c, const struct cli_args *a)
{
	struct recfile f;

	if (ctl_lock_ro(c) || ctl_read(c, ST_ROUTES, &f))
		return 1;
	if (c->json)
		jw_arr();
	else if (f.n)
		printf("%-32s %-32s %-20s %s\n", "RECIPIENT", "VIA", "SCANNER", "COMMENT");
	for (int i = 0; i < f.n; i++) {
		const struct rec *r = &f.r[i];

		if (c->json) {
			jw_obj();
			jw_kstr("recipient", rec_get(r, "rcpt") ? : "");
			jw_kstr("via", rec_get(r, "via") ? : "");
			jw_kstr("scanner_addresses", rec_get(r, "addr") ? : "");
			jw_kstr("comment", rec_get(r, "comment") ? : "");
			jw_end_obj();
		} else {
			printf("%-32s %-32s %-20s %s\n", rec_get(r, "rcpt") ? : "",
			       rec_get(r, "via") ? : "", rec_get(r, "addr") ? : "",
			       rec_get(r, "comment") ? : "");
		}
	}
	if (c->json)
		jw_end_arr();
	recfile_free(&f);
	return 0;
}

static const struct cli_opt add_opts[] = {
	{ "via", "TRANSPORT:[HOST]:PORT", "the scanner, as Postfix's FILTER takes it: "
					  "smtp:[scanner.example]:25 (required; its addresses "
					  "must be on the gateway list)" },
	{ "comment", "TEXT", "a note kept with the route" },
	{ NULL }
};

static const struct cli_cmd route_cmds[] = {
	{ "add", do_add, "RECIPIENT|@DOMAIN", 1, 1,
	  "Send a recipient's (or a domain's) mail through an external scanner that hands "
	  "it back.", add_opts },
	{ "del", do_del, "RECIPIENT|@DOMAIN", 1, 1, "Remove a route." },
	{ "list", do_list, NULL, 0, 0, "Show the routes." },
	{ 0 }
};

const struct cli_obj obj_route = {
	"route", "per-recipient routing to an external scanner (the policy service)",
	route_cmds, .section = SECTION_MTA,
};
