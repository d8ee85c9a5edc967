/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mta/route.c: per-recipient routing to an external scanner. A route
 * sends the mail of one recipient ("user@domain") or of a whole domain
 * ("@domain") through a content filter (Postfix's FILTER action,
 * "smtp:[scanner.example]:25"), which hands it back to this MX. State
 * file "routes": rcpt=, via=, addr= (the scanner's addresses, as checked
 * against the gateway list when the route was added), comment=.
 */
#ifndef MXS_ROUTE_H
#define MXS_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include "../core/parse.h"

struct ctl;

#define ST_ROUTES "routes"

struct route {
	char rcpt[320];		/* "user@domain" or "@domain", lower case */
	char via[300];		/* "smtp:[host]:port" as Postfix takes it */
	struct mxs_prefix *addrs;	/* the scanner's addresses */
	int naddrs;
};

struct route_set {
	struct route *r;
	int n;
};

/* "User@Example.com" or "@example.com" -> lower case into out. */
int route_parse_rcpt(const char *in, char *out, size_t outlen, char *err, size_t errlen);
/*
 * "TRANSPORT:[HOST]:PORT" (port optional, 25): the transport a name of
 * master.cf ([a-z0-9_-]), HOST an IPv4 address, "ipv6:ADDRESS" or a host
 * name. The brackets are required: Postfix looks up no MX for the
 * scanner. Normalised into via, the host alone into host.
 */
int route_parse_via(const char *in, char *via, size_t vialen, char *host, size_t hostlen,
		    char *err, size_t errlen);

int route_load(const struct ctl *c, struct route_set *s, char *err, size_t errlen);
void route_free(struct route_set *s);
/* The route of @rcpt: its own, else its domain's; NULL for none. */
const struct route *route_find(const struct route_set *s, const char *rcpt);
/* Is @a one of the scanners' addresses (mail coming back)? */
bool route_is_scanner(const struct route_set *s, const struct mxs_prefix *a);

#endif
