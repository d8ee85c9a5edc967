/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mta/policy_decide.c: the decision the Postfix policy service returns for
 * one request. Its IP part is mxs_classify() (filter/classify.h): the same
 * maps and precedence as the XDP program.
 */
#ifndef MXS_POLICY_DECIDE_H
#define MXS_POLICY_DECIDE_H

#include "envelope.h"
#include "route.h"
#include "../core/view.h"

/* A client's DNSBL verdict (mta/dnsbl.c). */
struct policy_dnsbl {
	uint8_t action;			/* MXS_ACT_REJECT, _QUARANTINE, _SPAM */
	int score;
	const char *why;		/* "zen.spamhaus.org=127.0.0.4*3 ..." */
};

/* The attributes of one Postfix policy request that the decision uses. */
struct policy_req {
	const char *request;		/* "smtpd_access_policy" */
	const char *protocol_state;	/* RCPT, DATA, END-OF-MESSAGE ... */
	const char *client_address;
	const char *sender;
	const char *recipient;
	const char *encryption_protocol;	/* "" without TLS */
	const char *ccert_subject;	/* verified client certificate CN */
	const char *instance;
	/* the client's DNSBL verdict when it scored at or above the
	 * threshold (mta/dnsbl.c), else NULL */
	const struct policy_dnsbl *dnsbl;
};

/* SPF result for (client, sender): 1 = fail, 0 = anything else. */
typedef int (*spf_fn)(const char *client, const char *sender, void *arg);

struct policy_out {
	char action[512];		/* the whole "action=" value */
	char log[512];			/* one line for the log */
	uint8_t verdict;		/* MXS_ACT_* the mail got (NONE = dunno) */
	bool header_pending;		/* a header still to add at DATA ... */
	char data_header[512];		/* ... this one ("X-Mxshield: spam; ...") */
	char reason[256];		/* for the X-Mxshield header */
	uint8_t ip_list;		/* the IP verdict's list (MXS_LIST_*) */
	const char *route;		/* policy_route(): the FILTER's next hop */
};

/* Decide one request. mv NULL = no maps (IP part skipped). */
int policy_decide(const struct policy_req *q, const struct env_set *s,
		  const struct mxs_maps_view *mv, uint32_t flags, spf_fn spf, void *spf_arg,
		  struct policy_out *o);

/*
 * Routing (after policy_decide(), at RCPT): a recipient with a route
 * (mta/route.h) gets "FILTER smtp:[scanner]:25" unless its mail is
 * rejected or held, or comes back from a scanner (a scanner's address or
 * the gateway list: no loop). FILTER takes the place of a PREPEND at RCPT
 * (one action per answer): the header then goes into data_header, for DATA.
 * Sets o->route when the recipient is routed.
 */
void policy_route(const struct policy_req *q, const struct route_set *rs,
		  struct policy_out *o);

/*
 * The milter's verdict on a message whose content checks found @action
 * (MXS_ACT_NONE: nothing) for @reason, by the same rule: a trusted source
 * (IP trust list, envelope trust) passes it; a partner with --skip policy
 * skips content rules, with --skip spam has spam and quarantine dropped;
 * an allow entry for the sender cancels it unless SPF fails; monitor mode
 * answers with a header. @ipv: the client's IP verdict (list
 * MXS_LIST_NONE when unknown). o->verdict and o->reason carry the result.
 */
int policy_decide_content(const struct policy_req *q, const struct env_set *s,
			  const struct mxs_verdict *ipv, uint32_t flags, spf_fn spf,
			  void *spf_arg, uint8_t action, const char *reason,
			  struct policy_out *o);

#endif
