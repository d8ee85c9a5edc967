/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * mta/envelope.c: the envelope-level lists (sender, domain, TLD, recipient,
 * pattern), partner connector records and the organisation's domains, as
 * the policy service and the CLI read them from the state directory.
 */
#ifndef MXS_ENVELOPE_H
#define MXS_ENVELOPE_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include "../core/parse.h"
#include "language.h"

struct ctl;
struct rec;

enum env_kind { ENV_SENDER, ENV_DOMAIN, ENV_TLD, ENV_RECIPIENT, ENV_PATTERN, ENV_KIND_MAX };
enum env_list { ENV_ALLOW, ENV_BLOCK, ENV_TRUST, ENV_LIST_MAX };

struct env_entry {
	uint8_t kind;		/* enum env_kind */
	uint8_t list;		/* enum env_list */
	uint8_t action;		/* block: MXS_ACT_REJECT/QUARANTINE/SPAM */
	bool regex;		/* pattern: a regex (else plain text): POSIX ERE
				 * for the sender, PCRE2 for subject and content */
	uint8_t field;		/* pattern: enum pat_field (content.h) */
	int64_t expires;	/* Unix seconds, 0 = never */
	char *value;		/* lower-cased (subject/content text: mime_fold) */
	regex_t re;		/* a sender regex (content.c compiles the others) */
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
	uint8_t empty_action;	/* "content empty": MXS_ACT_NONE (off), SPAM, QUARANTINE */
	struct lang_set lang;	/* the language rules (state file "language") */
};

/* Which lists (bit 1 << enum env_list) each kind may be on. */
extern const uint8_t env_kind_lists[ENV_KIND_MAX];
/* "a,b,c" -> a vector of strings (NULL and *n 0 for none); free with
 * env_free_strv. */
char **env_split_csv(const char *s, int *n);
void env_free_strv(char **v, int n);

const char *env_kind_name(int kind);
const char *env_list_name(int list);
int env_kind_by_name(const char *s);
int env_list_by_name(const char *s);

/* Validate and normalise one value of @kind into out (lower case); a
 * pattern of the sender field. */
int env_parse_value(int kind, bool regex, const char *in, char *out, size_t outlen,
		    char *err, size_t errlen);
/* The same for a pattern of @field (enum pat_field). */
int env_parse_pattern(int field, bool regex, const char *in, char *out, size_t outlen,
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

#endif
