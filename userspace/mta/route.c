// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Per-recipient routes to an external scanner (see route.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "../core/ctl.h"
#include "../state/recfile.h"
#include "envelope.h"
#include "route.h"

int route_parse_rcpt(const char *in, char *out, size_t outlen, char *err, size_t errlen)
{
	if (in[0] == '@') {
		if (outlen < 2)
			return mxs_fail(err, errlen, "'%s': too long", in);
		out[0] = '@';
		if (parse_domain(in + 1, out + 1, outlen - 1, err, errlen))
			return -1;
		for (char *p = out; *p; p++)
			*p = tolower((unsigned char)*p);
		return 0;
	}
	if (!strchr(in, '@'))
		return mxs_fail(err, errlen, "'%s': a recipient (user@domain) or a domain "
				"(@domain)", in);
	return env_parse_value(ENV_RECIPIENT, false, in, out, outlen, err, errlen);
}

int route_parse_via(const char *in, char *via, size_t vialen, char *host, size_t hostlen,
		    char *err, size_t errlen)
{
	const char *colon = strchr(in, ':'), *open, *close;
	char tr[64], h[256];
	unsigned long port = 25;
	size_t tl, hl;

	if (!colon || colon == in)
		return mxs_fail(err, errlen, "'%s': expected TRANSPORT:[HOST]:PORT, e.g. "
				"smtp:[scanner.example]:25", in);
	tl = colon - in;
	if (tl >= sizeof(tr))
		return mxs_fail(err, errlen, "'%s': transport name too long", in);
	for (size_t i = 0; i < tl; i++)
		if (!islower((unsigned char)in[i]) && !isdigit((unsigned char)in[i]) &&
		    in[i] != '-' && in[i] != '_')
			return mxs_fail(err, errlen, "'%s': the transport is a name of master.cf "
					"(a-z, 0-9, '-', '_')", in);
	memcpy(tr, in, tl);
	tr[tl] = '\0';
	open = colon + 1;
	close = strchr(open, ']');
	if (*open != '[' || !close)
		return mxs_fail(err, errlen, "'%s': the host in brackets ([scanner.example]), so "
				"that Postfix looks up no MX record for it", in);
	hl = close - open - 1;
	if (!hl || hl >= sizeof(h))
		return mxs_fail(err, errlen, "'%s': no host in the brackets", in);
	memcpy(h, open + 1, hl);
	h[hl] = '\0';
	if (close[1] == ':') {
		char *end;

		port = strtoul(close + 2, &end, 10);
		if (!isdigit((unsigned char)close[2]) || *end || !port || port > 65535)
			return mxs_fail(err, errlen, "'%s': the port is a number from 1 to 65535", in);
	} else if (close[1]) {
		return mxs_fail(err, errlen, "'%s': unexpected text after ']'", in);
	}
	if (!strncasecmp(h, "ipv6:", 5)) {
		struct mxs_prefix p;

		if (parse_addr(h + 5, &p, err, errlen) || !p.v6)
			return mxs_fail(err, errlen, "'%s': not an IPv6 address after ipv6:", in);
		snprintf(host, hostlen, "%s", h + 5);
	} else {
		struct mxs_prefix p;
		char e2[MXS_ERRLEN], dom[256];

		if (parse_addr(h, &p, e2, sizeof(e2))) {
			if (strchr(h, ':'))
				return mxs_fail(err, errlen, "'%s': an IPv6 address is written "
						"[ipv6:2001:db8::25]", in);
			if (parse_domain(h, dom, sizeof(dom), err, errlen))
				return -1;
		} else if (p.v6) {
			return mxs_fail(err, errlen, "'%s': an IPv6 address is written "
					"[ipv6:2001:db8::25]", in);
		}
		snprintf(host, hostlen, "%s", h);
	}
	if ((size_t)snprintf(via, vialen, "%s:[%s]:%lu", tr, h, port) >= vialen)
		return mxs_fail(err, errlen, "'%s': too long", in);
	return 0;
}

void route_free(struct route_set *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->r[i].addrs);
	free(s->r);
	memset(s, 0, sizeof(*s));
}

int route_load(const struct ctl *c, struct route_set *s, char *err, size_t errlen)
{
	struct recfile f;
	char p[4096], e2[MXS_ERRLEN];

	memset(s, 0, sizeof(*s));
	state_path(c, ST_ROUTES, p, sizeof(p));
	if (state_read(p, &f, err, errlen))
		return -1;
	s->r = calloc(f.n ? f.n : 1, sizeof(*s->r));
	for (int i = 0; s->r && i < f.n; i++) {
		const struct rec *r = &f.r[i];
		struct route *rt = &s->r[s->n];
		char host[256], **addrs;
		int na;

		if (route_parse_rcpt(rec_get(r, "rcpt") ? : "", rt->rcpt, sizeof(rt->rcpt), e2,
				     sizeof(e2)) ||
		    route_parse_via(rec_get(r, "via") ? : "", rt->via, sizeof(rt->via), host,
				    sizeof(host), e2, sizeof(e2)))
			goto bad;
		addrs = env_split_csv(rec_get(r, "addr"), &na);
		rt->addrs = calloc(na ? na : 1, sizeof(*rt->addrs));
		for (int k = 0; k < na; k++)
			if (!rt->addrs || parse_prefix(addrs[k], &rt->addrs[rt->naddrs++], e2,
						       sizeof(e2))) {
				env_free_strv(addrs, na);
				s->n++;		/* route_free() frees its addrs */
				goto bad;
			}
		env_free_strv(addrs, na);
		s->n++;
		continue;
bad:
		snprintf(err, errlen, "routes:%d: %s", r->line, e2);
		recfile_free(&f);
		route_free(s);
		return -1;
	}
	recfile_free(&f);
	return 0;
}

const struct route *route_find(const struct route_set *s, const char *rcpt)
{
	const char *at = rcpt ? strrchr(rcpt, '@') : NULL;
	const struct route *dom = NULL;

	if (!at)
		return NULL;
	for (int i = 0; i < s->n; i++) {
		const char *v = s->r[i].rcpt;

		if (v[0] != '@' && !strcasecmp(v, rcpt))
			return &s->r[i];
		if (v[0] == '@' && !dom && !strcasecmp(v + 1, at + 1))
			dom = &s->r[i];
	}
	return dom;
}

bool route_is_scanner(const struct route_set *s, const struct mxs_prefix *a)
{
	for (int i = 0; i < s->n; i++)
		for (int k = 0; k < s->r[i].naddrs; k++)
			if (prefix_contains(&s->r[i].addrs[k], a))
				return true;
	return false;
}
