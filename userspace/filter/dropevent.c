// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A drop event in words (see dropevent.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "../core/ctl.h"
#include "dropevent.h"

/* The deciding entry's prefix ("" when no IP list decided). */
static void rule_str(const struct mxs_event *ev, char *buf)
{
	struct mxs_prefix p = { .v6 = !!(ev->flags & MXS_EV_V6), .plen = ev->rule_plen };

	buf[0] = '\0';
	if (ev->list >= MXS_LIST_COUNTRY || !(ev->flags & MXS_EV_SRC))
		return;		/* a country decides as a whole: "country" names it */
	memcpy(p.addr, p.v6 ? ev->rule : ev->rule + 12, p.v6 ? 16 : 4);
	prefix_str(&p, buf);
}

int drop_event_decode(const void *data, size_t size, struct drop_event *e)
{
	const struct mxs_event *ev = data;
	struct tm tm;
	time_t sec;
	size_t n;

	if (size < sizeof(*ev))
		return -1;
	memset(e, 0, sizeof(*e));
	e->unix_ns = tai_ns_to_unix_ns(ev->tai_ns);
	sec = e->unix_ns / 1000000000LL;
	gmtime_r(&sec, &tm);
	n = strftime(e->time, sizeof(e->time), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(e->time + n, sizeof(e->time) - n, ".%06lldZ",
		 (long long)(e->unix_ns % 1000000000LL) / 1000);
	e->ifindex = ev->ifindex;
	if (!if_indextoname(ev->ifindex, e->iface))
		e->iface[0] = '\0';	/* in another namespace, or gone */
	if (ev->flags & MXS_EV_SRC) {
		if (ev->flags & MXS_EV_V6)
			inet_ntop(AF_INET6, ev->src, e->source, sizeof(e->source));
		else
			inet_ntop(AF_INET, ev->src + 12, e->source, sizeof(e->source));
	}
	e->port = ev->dport;
	e->reason = reason_name(ev->reason);
	e->action = action_name(ev->action);
	e->list = ev->list != MXS_LIST_NONE ? list_name(ev->list) : NULL;
	rule_str(ev, e->rule);
	if (ev->country != MXS_COUNTRY_NONE && ev->country < MXS_COUNTRY_SLOTS)
		country_code(ev->country, e->country);
	e->dropped = ev->flags & MXS_EV_DROPPED;
	e->syn = ev->flags & MXS_EV_SYN;
	return 0;
}

void drop_event_line(const struct drop_event *e, char *buf, size_t len)
{
	size_t n = snprintf(buf, len, "%s %s%s from %s", e->iface[0] ? e->iface : "-", e->action,
			    e->dropped ? "" : !strcmp(e->action, "drop") ? " (monitor: passed)" :
			    " (tagged)", e->source[0] ? e->source : "?");

	if (e->port && n < len)
		n += snprintf(buf + n, len - n, " port %u", e->port);
	if (n < len)
		n += snprintf(buf + n, len - n, " reason %s", e->reason);
	if (e->rule[0] && n < len)
		n += snprintf(buf + n, len - n, " rule %s", e->rule);
	if (e->country[0] && n < len)
		n += snprintf(buf + n, len - n, " country %s", e->country);
	if (e->syn && n < len)
		snprintf(buf + n, len - n, " new-connection");
}
