// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of mta/route.c and policy_route(): recipients and next hops
 * parsed and refused, a recipient's route before its domain's, the
 * scanners' addresses, and what the policy answer becomes for a routed
 * recipient (FILTER; not for rejected, held or returning mail; the spam
 * and monitor headers moved to DATA).
 */
#include <stdlib.h>
#include <string.h>
#include "core/ctl.h"
#include "core/parse.h"
#include "mta/policy_decide.h"
#include "mta/route.h"
#include "../check.h"

static void test_parse(void)
{
	char out[320], via[300], host[256], err[MXS_ERRLEN];

	CHECK("recipient lower-cased", !route_parse_rcpt("Boss@Corp.Example", out, sizeof(out), err,
						       sizeof(err)) && !strcmp(out, "boss@corp.example"),
	      "got %s (%s)", out, err);
	CHECK("@domain", !route_parse_rcpt("@Corp.Example", out, sizeof(out), err, sizeof(err)) &&
	      !strcmp(out, "@corp.example"), "got %s (%s)", out, err);
	CHECK("a bare word refused", route_parse_rcpt("corp", out, sizeof(out), err, sizeof(err)),
	      "accepted");
	CHECK("via with port", !route_parse_via("smtp:[scanner.example]:2525", via, sizeof(via), host,
						sizeof(host), err, sizeof(err)) &&
	      !strcmp(via, "smtp:[scanner.example]:2525") && !strcmp(host, "scanner.example"),
	      "got %s %s (%s)", via, host, err);
	CHECK("via: port 25 by default", !route_parse_via("smtp:[192.0.2.9]", via, sizeof(via), host,
							  sizeof(host), err, sizeof(err)) &&
	      !strcmp(via, "smtp:[192.0.2.9]:25"), "got %s (%s)", via, err);
	CHECK("via: IPv6", !route_parse_via("smtp:[ipv6:2001:db8::9]:25", via, sizeof(via), host,
					    sizeof(host), err, sizeof(err)) &&
	      !strcmp(host, "2001:db8::9"), "got %s (%s)", host, err);
	CHECK("via without brackets refused",
	      route_parse_via("smtp:scanner.example:25", via, sizeof(via), host, sizeof(host), err,
			      sizeof(err)) && strstr(err, "brackets"), "err=%s", err);
	CHECK("via: port 0 refused", route_parse_via("smtp:[a.example]:0", via, sizeof(via), host,
						     sizeof(host), err, sizeof(err)), "accepted");
	CHECK("via: bad transport refused", route_parse_via("SMTP x:[a.example]:25", via, sizeof(via),
							    host, sizeof(host), err, sizeof(err)),
	      "accepted");
	CHECK("via: bare IPv6 refused", route_parse_via("smtp:[2001:db8::9]:25", via, sizeof(via),
							host, sizeof(host), err, sizeof(err)) &&
	      strstr(err, "ipv6:"), "err=%s", err);
}

static struct route_set set(void)
{
	static struct mxs_prefix sc;
	static struct route r[2];
	char err[MXS_ERRLEN];

	parse_addr("192.0.2.99", &sc, err, sizeof(err));
	strcpy(r[0].rcpt, "@corp.example");
	strcpy(r[0].via, "smtp:[192.0.2.99]:25");
	r[0].addrs = &sc;
	r[0].naddrs = 1;
	strcpy(r[1].rcpt, "vip@corp.example");
	strcpy(r[1].via, "smtp:[192.0.2.99]:2525");
	r[1].addrs = &sc;
	r[1].naddrs = 1;
	return (struct route_set){ r, 2 };
}

static void test_find(void)
{
	struct route_set s = set();
	struct mxs_prefix a;
	char err[MXS_ERRLEN];
	const struct route *r;

	r = route_find(&s, "VIP@corp.example");
	CHECK("a recipient's own route first", r && r == &s.r[1], "got %s", r ? r->rcpt : "none");
	r = route_find(&s, "bob@corp.example");
	CHECK("else its domain's", r && r == &s.r[0], "got %s", r ? r->rcpt : "none");
	CHECK("a subdomain is not the domain", !route_find(&s, "bob@sub.corp.example"), "routed");
	CHECK("another domain: none", !route_find(&s, "bob@other.example"), "routed");
	parse_addr("192.0.2.99", &a, err, sizeof(err));
	CHECK("the scanner's address known", route_is_scanner(&s, &a), "no");
	parse_addr("192.0.2.98", &a, err, sizeof(err));
	CHECK("another address is no scanner", !route_is_scanner(&s, &a), "yes");
}

static void test_route(void)
{
	struct route_set s = set();
	struct policy_req q = { .request = "smtpd_access_policy", .protocol_state = "RCPT",
				.client_address = "198.51.100.7", .sender = "a@ok.example",
				.recipient = "bob@corp.example" };
	struct policy_out o;
	struct env_set e = {};

	policy_decide(&q, &e, NULL, 0, NULL, NULL, &o);
	policy_route(&q, &s, &o);
	CHECK("routed: FILTER", !strcmp(o.action, "FILTER smtp:[192.0.2.99]:25") && o.route,
	      "got %s", o.action);
	q.recipient = "bob@other.example";
	policy_decide(&q, &e, NULL, 0, NULL, NULL, &o);
	policy_route(&q, &s, &o);
	CHECK("not routed: DUNNO", !strcmp(o.action, "DUNNO") && !o.route, "got %s", o.action);
	q.recipient = "bob@corp.example";
	q.client_address = "192.0.2.99";
	policy_decide(&q, &e, NULL, 0, NULL, NULL, &o);
	policy_route(&q, &s, &o);
	CHECK("back from the scanner: not again", !strcmp(o.action, "DUNNO") && !o.route, "got %s",
	      o.action);
	q.client_address = "198.51.100.7";
	memset(&o, 0, sizeof(o));
	strcpy(o.action, "PREPEND X-Spam-Flag: YES");
	o.header_pending = true;
	strcpy(o.data_header, "X-Mxshield: spam; x");
	policy_route(&q, &s, &o);
	CHECK("spam and routed: FILTER, reason header at DATA",
	      !strcmp(o.action, "FILTER smtp:[192.0.2.99]:25") && o.header_pending &&
	      !strcmp(o.data_header, "X-Mxshield: spam; x"), "got %s / %s", o.action, o.data_header);
	memset(&o, 0, sizeof(o));
	strcpy(o.action, "PREPEND X-Mxshield-Monitor: would reject (x)");
	policy_route(&q, &s, &o);
	CHECK("monitor and routed: the monitor header at DATA",
	      !strncmp(o.action, "FILTER ", 7) && o.header_pending &&
	      !strcmp(o.data_header, "X-Mxshield-Monitor: would reject (x)"), "got %s / %s",
	      o.action, o.data_header);
	memset(&o, 0, sizeof(o));
	strcpy(o.action, "550 5.7.1 mxshield: rejected (x)");
	policy_route(&q, &s, &o);
	CHECK("rejected: not routed", !strncmp(o.action, "550", 3) && !o.route, "got %s", o.action);
	memset(&o, 0, sizeof(o));
	strcpy(o.action, "HOLD mxshield: quarantined (x)");
	policy_route(&q, &s, &o);
	CHECK("held: not routed", !strncmp(o.action, "HOLD", 4) && !o.route, "got %s", o.action);
	memset(&o, 0, sizeof(o));
	strcpy(o.action, "DUNNO");
	o.ip_list = MXS_LIST_GATEWAY;
	policy_route(&q, &s, &o);
	CHECK("from the gateway list: not routed", !strcmp(o.action, "DUNNO"), "got %s", o.action);
}

int main(void)
{
	test_parse();
	test_find();
	test_route();
	return failures ? 1 : 0;
}
