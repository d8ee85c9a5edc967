// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
/*
 * One Postfix policy decision. Precedence, top wins:
 *
 *   IP trust / envelope trust          -> DUNNO, nothing else is checked
 *   partner connector rules            -> TLS required, certificate name
 *   partner lock-domain                -> the partner's domains only from its IPs
 *   allow (sender, domain)             -> cancels the list actions below,
 *                                         unless SPF for the sender fails
 *   block: IP tags (block list, country; same maps and precedence as the
 *          XDP program), the DNSBL score at or above its threshold,
 *          sender, domain (and subdomains), TLD, recipient,
 *          patterns                    -> the strongest action:
 *                                         reject > quarantine > spam
 *
 * Monitor mode turns every action into a header.
 */
#include <string.h>
#include <strings.h>
#include <stdio.h>
#include <time.h>
#include "../filter/classify.h"
#include "content.h"
#include "policy_decide.h"

static int severity(uint8_t a)
{
	switch (a) {
	case MXS_ACT_DROP:
	case MXS_ACT_REJECT:
		return 3;
	case MXS_ACT_QUARANTINE:
		return 2;
	case MXS_ACT_SPAM:
		return 1;
	}
	return 0;
}

static void escalate(uint8_t *act, char *reason, size_t rlen, uint8_t a, const char *why)
{
	if (severity(a) > severity(*act)) {
		*act = a == MXS_ACT_DROP ? MXS_ACT_REJECT : a;
		snprintf(reason, rlen, "%s", why);
	}
}

static const char *domain_of(const char *addr)
{
	const char *at = addr ? strrchr(addr, '@') : NULL;

	return at ? at + 1 : "";
}

static bool entry_matches(const struct env_entry *e, const char *sender, const char *sdom,
			  const char *rcpt)
{
	const char *dot;

	/* the service keeps lists loaded: an entry can expire under it */
	if (e->expires && e->expires <= time(NULL))
		return false;
	switch (e->kind) {
	case ENV_SENDER:
		return *sender && !strcasecmp(sender, e->value);
	case ENV_DOMAIN:
		return *sdom && domain_within(sdom, e->value);
	case ENV_TLD:
		dot = strrchr(sdom, '.');
		return *sdom && !strcasecmp(dot ? dot + 1 : sdom, e->value);
	case ENV_RECIPIENT:
		return rcpt && *rcpt && !strcasecmp(rcpt, e->value);
	case ENV_PATTERN:
		/* subject and content patterns are the milter's */
		if (e->field != PAT_SENDER)
			return false;
		if (e->regex)
			return regexec(&e->re, sender, 0, NULL, 0) == 0;
		return strcasestr(sender, e->value) != NULL;
	}
	return false;
}

static bool envelope_listed(const struct env_set *s, int list, const char *sender,
			    const char *sdom, const char **what)
{
	for (int i = 0; i < s->n; i++) {
		const struct env_entry *e = &s->e[i];

		if (e->list == list && (e->kind == ENV_SENDER || e->kind == ENV_DOMAIN) &&
		    entry_matches(e, sender, sdom, NULL)) {
			*what = e->value;
			return true;
		}
	}
	return false;
}

static bool partner_has_ip(const struct partner *p, const struct mxs_prefix *a)
{
	for (int i = 0; i < p->nips; i++)
		if (prefix_contains(&p->ips[i], a))
			return true;
	return false;
}

static int finish(struct policy_out *o, const char *action, const char *log)
{
	snprintf(o->action, sizeof(o->action), "%s", action);
	snprintf(o->log, sizeof(o->log), "%s", log);
	return 0;
}

/* A finding of the milter's content checks (policy_decide_content). */
struct content_finding {
	uint8_t action;
	const char *reason;
};

static int decide(const struct policy_req *q, const struct env_set *s,
		  const struct mxs_verdict *ipv, uint32_t flags, spf_fn spf, void *spf_arg,
		  const struct content_finding *cf, struct policy_out *o);

int policy_decide(const struct policy_req *q, const struct env_set *s,
		  const struct mxs_maps_view *mv, uint32_t flags, spf_fn spf, void *spf_arg,
		  struct policy_out *o)
{
	struct mxs_verdict v = { .list = MXS_LIST_NONE, .country = MXS_COUNTRY_NONE };
	struct mxs_prefix addr;
	char err[MXS_ERRLEN];

	memset(o, 0, sizeof(*o));
	if (!q->request || strcmp(q->request, "smtpd_access_policy"))
		return finish(o, "DUNNO", "not an smtpd_access_policy request");
	/* the IP verdict: gateway-only is a property of the NIC (the TCP peer
	 * passed it); here the address may be the original client behind a
	 * gateway (XCLIENT), so only the lists count */
	if (q->client_address && mv && !parse_addr(q->client_address, &addr, err, sizeof(err)))
		mxs_classify(mv, &addr, flags & ~MXS_F_GATEWAY_ONLY, now_tai_ns(), &v);
	return decide(q, s, &v, flags, spf, spf_arg, NULL, o);
}

int policy_decide_content(const struct policy_req *q, const struct env_set *s,
			  const struct mxs_verdict *ipv, uint32_t flags, spf_fn spf,
			  void *spf_arg, uint8_t action, const char *reason,
			  struct policy_out *o)
{
	struct content_finding cf = { action, reason };

	memset(o, 0, sizeof(*o));
	return decide(q, s, ipv, flags, spf, spf_arg, &cf, o);
}

/* The rule above, from the IP verdict @ipv on. @cf: the milter's content
 * finding, decided instead of the envelope's block lists (the policy
 * service applied those at RCPT, and the partner checks with them). */
static int decide(const struct policy_req *q, const struct env_set *s,
		  const struct mxs_verdict *ipv, uint32_t flags, spf_fn spf, void *spf_arg,
		  const struct content_finding *cf, struct policy_out *o)
{
	const char *sender = q->sender ? q->sender : "";
	const char *sdom = domain_of(sender);
	const char *what = NULL;
	const struct partner *pt = NULL;
	struct mxs_verdict v = *ipv;
	struct mxs_prefix addr;
	char err[MXS_ERRLEN], why[300], reason[300] = "";
	uint8_t act = MXS_ACT_NONE;
	bool have_addr, monitor = flags & MXS_F_MONITOR;

	have_addr = q->client_address &&
		    parse_addr(q->client_address, &addr, err, sizeof(err)) == 0;
	o->ip_list = v.list;
	if (v.list == MXS_LIST_TRUST)
		return finish(o, "DUNNO", "trusted IP");
	if (envelope_listed(s, ENV_TRUST, sender, sdom, &what)) {
		snprintf(why, sizeof(why), "trusted sender (%s)", what);
		return finish(o, "DUNNO", why);
	}
	if (v.list == MXS_LIST_PARTNER)
		for (int i = 0; i < s->np; i++)
			if (s->p[i].id == v.ref)
				pt = &s->p[i];

	if (cf) {
		/* a partner with --skip policy or --skip spam bypasses the
		 * content rules (issue 15: the connector is trusted for its
		 * content; its envelope and IP checks still ran at RCPT) */
		if (!(pt && (pt->skip & (PARTNER_SKIP_POLICY | PARTNER_SKIP_SPAM))))
			escalate(&act, reason, sizeof(reason), cf->action, cf->reason);
		goto allow;
	}
	if (pt && pt->tls_require && !(q->encryption_protocol && *q->encryption_protocol)) {
		snprintf(why, sizeof(why), "550 5.7.1 mxshield: connector %s requires TLS", pt->name);
		return finish(o, why, "partner without TLS");
	}
	if (pt && pt->cert_name[0] && !cert_name_match(pt->cert_name, q->ccert_subject)) {
		snprintf(why, sizeof(why),
			 "550 5.7.1 mxshield: client certificate does not match connector %s",
			 pt->name);
		return finish(o, why, "partner certificate mismatch");
	}
	for (int i = 0; i < s->np && *sdom; i++) {
		const struct partner *p = &s->p[i];

		if (!p->lock_domain || (have_addr && partner_has_ip(p, &addr)))
			continue;
		for (int d = 0; d < p->ndomains; d++) {
			if (!domain_within(sdom, p->domains[d]))
				continue;
			snprintf(why, sizeof(why), "550 5.7.1 mxshield: mail from %s is accepted "
				 "only through connector %s", p->domains[d], p->name);
			return finish(o, why, "partner domain from a foreign IP");
		}
	}

	/* list actions */
	if (v.list == MXS_LIST_BLOCK || v.list == MXS_LIST_COUNTRY) {
		if (v.list == MXS_LIST_COUNTRY) {
			char cc[3];

			country_code(v.country, cc);
			snprintf(why, sizeof(why), "country %s", cc);
		} else {
			struct mxs_prefix e = addr;
			char ps[MXS_PFX_STRLEN];

			e.plen = v.rule_plen;
			prefix_mask(&e);
			snprintf(why, sizeof(why), "IP block list %s", prefix_str(&e, ps));
		}
		escalate(&act, reason, sizeof(reason), v.action, why);
	}
	if (q->dnsbl) {
		snprintf(why, sizeof(why), "DNSBL %s score %d", q->dnsbl->why, q->dnsbl->score);
		escalate(&act, reason, sizeof(reason), q->dnsbl->action, why);
	}
	if (!(pt && (pt->skip & PARTNER_SKIP_POLICY))) {
		for (int i = 0; i < s->n; i++) {
			const struct env_entry *e = &s->e[i];

			if (e->list != ENV_BLOCK || !entry_matches(e, sender, sdom, q->recipient))
				continue;
			snprintf(why, sizeof(why), "%s block list %s", env_kind_name(e->kind), e->value);
			escalate(&act, reason, sizeof(reason), e->action, why);
		}
	}
allow:
	if (act != MXS_ACT_NONE && !(pt && (pt->skip & PARTNER_SKIP_POLICY)) &&
	    envelope_listed(s, ENV_ALLOW, sender, sdom, &what)) {
		if (spf && have_addr && spf(q->client_address, sender, spf_arg) == 1) {
			snprintf(why, sizeof(why), "%s (allow list %s ignored: SPF fail)", reason, what);
			snprintf(reason, sizeof(reason), "%s", why);
		} else {
			snprintf(why, sizeof(why), "allowed sender (%s) overrides %s", what, reason);
			return finish(o, "DUNNO", why);
		}
	}
	if (pt && (pt->skip & PARTNER_SKIP_SPAM) &&
	    (act == MXS_ACT_SPAM || act == MXS_ACT_QUARANTINE))
		act = MXS_ACT_NONE;

	o->verdict = act;
	snprintf(o->reason, sizeof(o->reason), "%s", reason);
	if (act == MXS_ACT_NONE)
		return finish(o, "DUNNO", pt ? "partner" : "no list matched");
	if (monitor) {
		snprintf(why, sizeof(why), "PREPEND X-Mxshield-Monitor: would %s (%s)",
			 action_name(act), reason);
		return finish(o, why, "monitor mode");
	}
	switch (act) {
	case MXS_ACT_REJECT:
		snprintf(why, sizeof(why), "550 5.7.1 mxshield: rejected (%s)", reason);
		break;
	case MXS_ACT_QUARANTINE:
		snprintf(why, sizeof(why), "HOLD mxshield: quarantined (%s)", reason);
		break;
	default:
		snprintf(why, sizeof(why), "PREPEND X-Spam-Flag: YES");
		o->header_pending = true;
		snprintf(o->data_header, sizeof(o->data_header), "X-Mxshield: spam; %s", reason);
		break;
	}
	return finish(o, why, reason);
}

void policy_route(const struct policy_req *q, const struct route_set *rs,
		  struct policy_out *o)
{
	const struct route *rt = rs->n ? route_find(rs, q->recipient) : NULL;
	struct mxs_prefix addr;
	char err[MXS_ERRLEN], log[sizeof(o->log)];

	if (!rt)
		return;
	/* mail coming back from the scanner goes on as any other */
	if (o->ip_list == MXS_LIST_GATEWAY ||
	    (q->client_address && !parse_addr(q->client_address, &addr, err, sizeof(err)) &&
	     route_is_scanner(rs, &addr)))
		return;
	/* rejected or held: there is nothing to scan (yet) */
	if (!strncmp(o->action, "HOLD", 4) || o->action[0] == '4' || o->action[0] == '5' ||
	    !strncasecmp(o->action, "REJECT", 6) || !strncasecmp(o->action, "DEFER", 5))
		return;
	if (!strncmp(o->action, "PREPEND ", 8) && !o->header_pending) {
		/* the monitor header: at DATA instead */
		snprintf(o->data_header, sizeof(o->data_header), "%s", o->action + 8);
		o->header_pending = true;
	}
	o->route = rt->via;
	snprintf(o->action, sizeof(o->action), "FILTER %s", rt->via);
	snprintf(log, sizeof(log), "%s; routed (%s)", o->log, rt->rcpt);
	snprintf(o->log, sizeof(o->log), "%s", log);
}
