/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * filter/dropevent.c: a record of the drop events' ring buffer (struct
 * mxs_event, maps/contract.h) in words, for its two readers: `mxshield
 * events` (cmd/events.c) prints it, `mxshield serve` logs it
 * (mta/service.c).
 */
#ifndef MXS_DROPEVENT_H
#define MXS_DROPEVENT_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../core/parse.h"

struct drop_event {
	char time[40];			/* RFC 3339, UTC, to the microsecond */
	int64_t unix_ns;
	unsigned ifindex;
	char iface[IF_NAMESIZE];	/* "" when this process cannot name it */
	char source[INET6_ADDRSTRLEN];	/* "" when the frame's was not read */
	unsigned port;			/* 0: not read */
	const char *reason, *action;
	const char *list;		/* NULL when no list decided */
	char rule[MXS_PFX_STRLEN];	/* the deciding entry, "" if none */
	char country[3];		/* "" unless the country table decided */
	bool dropped;			/* XDP_DROP (not a tag, not monitor mode) */
	bool syn;			/* it opened a new connection */
};

/* Decode one ring-buffer record: 0, or -1 when it is not an event (a
 * record of another size). */
int drop_event_decode(const void *data, size_t size, struct drop_event *e);

/* One line of text: "mx0 drop from 198.51.100.7 port 25 reason block rule
 * 198.51.100.0/24 new-connection" (no time: the caller's). */
void drop_event_line(const struct drop_event *e, char *buf, size_t len);

#endif
