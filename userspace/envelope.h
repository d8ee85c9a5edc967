/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Envelope-level lists (sender, domain, TLD, recipient, pattern), partner
 * connector records, and the policy decision the Postfix policy service
 * returns. The IP part of every decision is mxs_classify(): the same maps
 * and precedence as the XDP program.
 */
#ifndef MXS_ENVELOPE_H
#define MXS_ENVELOPE_H

#include <regex.h>
#include "ctl.h"

#define ST_ENVELOPE "envelope"

enum env_kind { ENV_SENDER, ENV_DOMAIN, ENV_TLD, ENV_RECIPIENT, ENV_PATTERN, ENV_KIND_MAX };
enum env_list { ENV_ALLOW, ENV_BLOCK, ENV_TRUST, ENV_LIST_MAX };

struct env_entry {
	uint8_t kind;		/* enum env_kind */
	uint8_t list;		/* enum env_list */
	uint8_t action;		/* block: MXS_ACT_REJECT/QUARANTINE/SPAM */
	bool regex;		/* pattern: POSIX ERE (else plain text) */
	int64_t expires;	/* Unix seconds, 0 = never */
	char *value;		/* lower-cased */
	regex_t re;
};

#define PARTNER_SKIP_SPAM   (1U << 0)
#define PARTNER_SKIP_POLICY (1U << 1)

struct partner {
	uint32_t id;
	char name[64];
	struct mxs_prefix *ips;
	int nips;
	char **domains;
	int ndomains;
	bool lock_domain;
	bool tls_require;
	char cert_name[256];	/* "" = not checked */
	uint32_t skip;		/* PARTNER_SKIP_* */
};

struct env_set {
	struct env_entry *e;
	int n;
	struct partner *p;
	int np;
	char **org;		/* the organisation's own domains */
	int norg;
};

const char *env_kind_name(int kind);
const char *env_list_name(int list);
int env_kind_by_name(const char *s);
int env_list_by_name(const char *s);

/* Validate and normalise one value of @kind into out (lower case). */
int env_parse_value(int kind, bool regex, const char *in, char *out, size_t outlen,
		    char *err, size_t errlen);

/* Load envelope lists, partners, org domains from the state directory. */
int env_load(const struct ctl *c, struct env_set *s, char *err, size_t errlen);
void env_free(struct env_set *s);
int partner_from_rec(const struct rec *r, struct partner *p, char *err, size_t errlen);
void partner_free(struct partner *p);

/* Does the certificate name @name match @pattern ("*.x" = exactly one label)? */
bool cert_name_match(const char *pattern, const char *name);
/* Is @domain equal to @d or a subdomain of it? */
bool domain_within(const char *domain, const char *d);

/* ------------------------------------------------------------- decisions */

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
};

/* SPF result for (client, sender): 1 = fail, 0 = anything else. */
typedef int (*spf_fn)(const char *client, const char *sender, void *arg);

struct policy_out {
	char action[512];		/* the whole "action=" value */
	char log[512];			/* one line for the log */
	uint8_t verdict;		/* MXS_ACT_* the mail got (NONE = dunno) */
	bool header_pending;		/* spam: reason header still to add */
	char reason[256];		/* for the X-Mxshield header */
};

/* Decide one request. mv NULL = no maps (IP part skipped). */
int policy_decide(const struct policy_req *q, const struct env_set *s,
		  const struct mxs_maps_view *mv, uint32_t flags, spf_fn spf, void *spf_arg,
		  struct policy_out *o);

/* SPF through libspf2 (spf.c): 1 = fail, 0 otherwise. */
int spf_check_fail(const char *client, const char *sender, void *arg);

/* CLI */
int cmd_envelope(struct ctl *c, const char *obj, int argc, char **argv);
int cmd_org(struct ctl *c, int argc, char **argv);
int cmd_policy(struct ctl *c, int argc, char **argv);
int cmd_quarantine(struct ctl *c, int argc, char **argv);

#endif
