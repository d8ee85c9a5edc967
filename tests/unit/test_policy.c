// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tests of the mail-server side: envelope value parsers, certificate
 * name matching, and policy_decide() over envelope lists and partners (the
 * IP part is covered by test_agree against the XDP program).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core/ctl.h"
#include "core/json.h"
#include "state/recfile.h"
#include "mta/envelope.h"
#include "mta/policy_decide.h"
#include "filter/classify.h"
#include "filter/install.h"
#include "../check.h"

static void test_values(void)
{
	char out[600], err[MXS_ERRLEN];

	CHECK("sender lower-cased", env_parse_value(ENV_SENDER, false, "Boss@Corp.Example", out,
						    sizeof(out), err, sizeof(err)) == 0 &&
	      !strcmp(out, "boss@corp.example"), "got %s", out);
	CHECK("sender without @ refused", env_parse_value(ENV_SENDER, false, "corp.example", out,
							  sizeof(out), err, sizeof(err)) == -1, "accepted");
	CHECK("sender with space refused", env_parse_value(ENV_SENDER, false, "a b@corp.example",
							   out, sizeof(out), err, sizeof(err)) == -1,
	      "accepted");
	CHECK("sender with bad domain refused", env_parse_value(ENV_SENDER, false, "a@corp..example",
								out, sizeof(out), err, sizeof(err)) == -1,
	      "accepted");
	CHECK("tld with dot prefix", env_parse_value(ENV_TLD, false, ".ZIP", out, sizeof(out), err,
						     sizeof(err)) == 0 && !strcmp(out, "zip"),
	      "got %s", out);
	CHECK("tld with inner dot refused", env_parse_value(ENV_TLD, false, "co.uk", out, sizeof(out),
							    err, sizeof(err)) == -1, "accepted");
	CHECK("regex compiled", env_parse_value(ENV_PATTERN, true, "^bulk-[0-9]+@", out, sizeof(out),
						err, sizeof(err)) == 0, "err=%s", err);
	CHECK("bad regex refused with a reason", env_parse_value(ENV_PATTERN, true, "a(b", out,
								 sizeof(out), err, sizeof(err)) == -1 &&
	      strstr(err, "bad regular expression"), "err=%s", err);
	/* found by tests/fuzz/fuzz_envelope.c: glibc's regcomp() copies what
	 * a repetition repeats, so these few characters took a gigabyte */
	{
		static const char *const big[] = {
			"ve++++++++++++++++++++++++++++++++++++++++(ym",
			"(((a{1,100}){1,100}){1,100})",
			"(((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+",
			/* small, but a second to compile, 4x more each '+' */
			"exam@ple.Odomain+*++++++++++se",
			"((((((((((n*)+)+)+)+)+)+)+)+)+)",
			/* a count past LONG_MAX overflowed the counting itself */
			"e]{2555555555555555555555555555555,}",
		};
		static const char *const fine[] = {
			"[a-z]{1,64}@example\\.com", "(free|cheap) (pills|meds)+",
			"[]a]{5}[[:alpha:]]+", "(a{1,100}){1,100}", "((((n*)+)+)+)",
			"(a+|b*)c{2,3}",
		};

		for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++)
			CHECK("regex that expands too far refused with a reason",
			      env_parse_value(ENV_PATTERN, true, big[i], out, sizeof(out), err,
					      sizeof(err)) == -1 && strstr(err, "too large"),
			      "%s: err=%s", big[i], err);
		for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++)
			CHECK("regex with bounded repetitions compiled",
			      env_parse_value(ENV_PATTERN, true, fine[i], out, sizeof(out), err,
					      sizeof(err)) == 0, "%s: err=%s", fine[i], err);
	}
	CHECK("text pattern lower-cased", env_parse_value(ENV_PATTERN, false, "Viagra", out,
							  sizeof(out), err, sizeof(err)) == 0 &&
	      !strcmp(out, "viagra"), "got %s", out);
}

static void test_names(void)
{
	CHECK("cert exact", cert_name_match("mx.acme.example", "MX.acme.example"), "no");
	CHECK("cert wildcard one label", cert_name_match("*.acme.example", "mx1.acme.example"), "no");
	CHECK("cert wildcard not two labels", !cert_name_match("*.acme.example", "a.b.acme.example"),
	      "matched");
	CHECK("cert wildcard not the apex", !cert_name_match("*.acme.example", "acme.example"),
	      "matched");
	CHECK("cert wildcard not an empty label", !cert_name_match("*.acme.example", ".acme.example"),
	      "matched");
	CHECK("cert missing", !cert_name_match("*.acme.example", NULL) &&
	      !cert_name_match("*.acme.example", ""), "matched");
	CHECK("domain within itself", domain_within("evil.example", "evil.example"), "no");
	CHECK("subdomain within", domain_within("a.b.evil.example", "evil.example"), "no");
	CHECK("suffix is not a subdomain", !domain_within("notevil.example", "evil.example"), "yes");
}

/* An env_set built in memory, as env_load() would from state. */
static struct env_entry entry(int kind, int list, uint8_t act, const char *v, bool regex)
{
	struct env_entry e = { .kind = kind, .list = list, .action = act, .regex = regex };

	e.value = strdup(v);
	if (regex)
		regcomp(&e.re, v, REG_EXTENDED | REG_ICASE | REG_NOSUB);
	return e;
}

static int spf_answer;	/* what the fake SPF says: 1 = fail */
static int spf_calls;

static int fake_spf(const char *client, const char *sender, void *arg)
{
	spf_calls++;
	return spf_answer;
}

static const char *decide(struct env_set *s, const char *client, const char *sender,
			  const char *rcpt, const char *tls, const char *cert)
{
	static struct policy_out o;
	struct policy_req q = {
		.request = "smtpd_access_policy", .protocol_state = "RCPT",
		.client_address = client, .sender = sender, .recipient = rcpt,
		.encryption_protocol = tls, .ccert_subject = cert, .instance = "x",
	};

	policy_decide(&q, s, NULL, 0, fake_spf, NULL, &o);
	return o.action;
}

static void test_decide(void)
{
	struct env_set s = {};
	struct partner *p;
	char err[MXS_ERRLEN];
	const char *a;

	s.e = calloc(16, sizeof(*s.e));
	s.e[s.n++] = entry(ENV_DOMAIN, ENV_BLOCK, MXS_ACT_REJECT, "evil.example", false);
	s.e[s.n++] = entry(ENV_TLD, ENV_BLOCK, MXS_ACT_QUARANTINE, "zip", false);
	s.e[s.n++] = entry(ENV_RECIPIENT, ENV_BLOCK, MXS_ACT_REJECT, "ceo@corp.example", false);
	s.e[s.n++] = entry(ENV_PATTERN, ENV_BLOCK, MXS_ACT_SPAM, "^bulk-[0-9]+@", true);
	s.e[s.n++] = entry(ENV_PATTERN, ENV_BLOCK, MXS_ACT_QUARANTINE, "lottery", false);
	s.e[s.n++] = entry(ENV_SENDER, ENV_ALLOW, 0, "friend@evil.example", false);
	s.e[s.n++] = entry(ENV_DOMAIN, ENV_TRUST, 0, "bank.example", false);
	s.e[s.n++] = entry(ENV_SENDER, ENV_BLOCK, MXS_ACT_SPAM, "x@bank.example", false);

	s.p = calloc(1, sizeof(*s.p));
	p = &s.p[0];
	p->id = 1;
	strcpy(p->name, "acme");
	p->ips = calloc(1, sizeof(*p->ips));
	parse_prefix("203.0.113.0/26", &p->ips[0], err, sizeof(err));
	p->nips = 1;
	p->domains = calloc(1, sizeof(char *));
	p->domains[0] = strdup("acme.example");
	p->ndomains = 1;
	p->lock_domain = true;
	s.np = 1;

	a = decide(&s, "198.51.100.9", "x@evil.example", "r@corp.example", "", "");
	CHECK("blocked domain rejects", !strncmp(a, "550 5.7.1", 9) && strstr(a, "evil.example"), "%s", a);
	a = decide(&s, "198.51.100.9", "x@mail.evil.example", "r@corp.example", "", "");
	CHECK("blocked domain covers subdomains", !strncmp(a, "550 ", 4), "%s", a);
	a = decide(&s, "198.51.100.9", "x@notevil.example", "r@corp.example", "", "");
	CHECK("a suffix is not a subdomain", !strcmp(a, "DUNNO"), "%s", a);
	a = decide(&s, "198.51.100.9", "x@shop.zip", "r@corp.example", "", "");
	CHECK("tld quarantines", !strncmp(a, "HOLD", 4), "%s", a);
	a = decide(&s, "198.51.100.9", "x@ok.example", "CEO@corp.example", "", "");
	CHECK("recipient block", !strncmp(a, "550 ", 4), "%s", a);
	a = decide(&s, "198.51.100.9", "bulk-42@ok.example", "r@corp.example", "", "");
	CHECK("regex pattern tags spam", !strcmp(a, "PREPEND X-Spam-Flag: YES"), "%s", a);
	a = decide(&s, "198.51.100.9", "bulk-x@ok.example", "r@corp.example", "", "");
	CHECK("regex pattern does not over-match", !strcmp(a, "DUNNO"), "%s", a);
	a = decide(&s, "198.51.100.9", "bulk-7@LOTTERY.example", "r@corp.example", "", "");
	CHECK("strongest action wins (quarantine over spam)", !strncmp(a, "HOLD", 4), "%s", a);

	spf_calls = 0;
	spf_answer = 0;
	a = decide(&s, "198.51.100.9", "friend@evil.example", "r@corp.example", "", "");
	CHECK("allow overrides block when SPF does not fail", !strcmp(a, "DUNNO") && spf_calls == 1,
	      "%s calls=%d", a, spf_calls);
	spf_answer = 1;
	a = decide(&s, "198.51.100.9", "friend@evil.example", "r@corp.example", "", "");
	CHECK("allow with SPF fail is not exempt", !strncmp(a, "550 ", 4) && strstr(a, "SPF fail"),
	      "%s", a);
	spf_calls = 0;
	a = decide(&s, "198.51.100.9", "friend@good.example", "r@corp.example", "", "");
	CHECK("SPF only asked when it decides", !strcmp(a, "DUNNO") && spf_calls == 0,
	      "%s calls=%d", a, spf_calls);
	a = decide(&s, "198.51.100.9", "x@bank.example", "r@corp.example", "", "");
	CHECK("trusted domain skips the block list", !strcmp(a, "DUNNO"), "%s", a);

	a = decide(&s, "198.51.100.9", "x@acme.example", "r@corp.example", "", "");
	CHECK("lock-domain rejects a foreign IP", !strncmp(a, "550 ", 4) && strstr(a, "acme"), "%s", a);
	a = decide(&s, "198.51.100.9", "x@eu.acme.example", "r@corp.example", "", "");
	CHECK("lock-domain covers subdomains", !strncmp(a, "550 ", 4), "%s", a);
	a = decide(&s, "203.0.113.9", "x@acme.example", "r@corp.example", "", "");
	CHECK("lock-domain accepts the partner's IP", !strcmp(a, "DUNNO"), "%s", a);

	a = decide(&s, "198.51.100.9", "x@ok.example", "r@corp.example", "", "");
	CHECK("nothing listed: DUNNO", !strcmp(a, "DUNNO"), "%s", a);
	s.e[s.n] = entry(ENV_DOMAIN, ENV_BLOCK, MXS_ACT_REJECT, "gone.example", false);
	s.e[s.n++].expires = time(NULL) - 1;
	a = decide(&s, "198.51.100.9", "x@gone.example", "r@corp.example", "", "");
	CHECK("an entry that expired while loaded stops matching", !strcmp(a, "DUNNO"), "%s", a);
	{
		struct policy_req q = { .request = "junk" };
		struct policy_out o;

		policy_decide(&q, &s, NULL, 0, NULL, NULL, &o);
		CHECK("non-policy request: DUNNO", !strcmp(o.action, "DUNNO"), "%s", o.action);
	}
	{
		struct policy_req q = {
			.request = "smtpd_access_policy", .client_address = "198.51.100.9",
			.sender = "x@evil.example", .recipient = "r@corp.example",
		};
		struct policy_out o;

		policy_decide(&q, &s, NULL, MXS_F_MONITOR, NULL, NULL, &o);
		CHECK("monitor mode: header instead of reject",
		      !strncmp(o.action, "PREPEND X-Mxshield-Monitor: would reject", 40), "%s", o.action);
	}
	env_free(&s);
}

/* env_load(): "type=regex" makes a pattern a regular expression and
 * nothing else (found by tests/fuzz/fuzz_envelope.c: a TLD with it had a
 * regex compiled, never used and never freed). */
static void test_load_regex_kinds(void)
{
	static const char *const recs[][5][2] = {
		{ { "kind", "tld" }, { "list", "block" }, { "value", "zi(p" },
		  { "type", "regex" }, { "action", "spam" } },
		{ { "kind", "pattern" }, { "list", "block" }, { "value", "^[0-9]+@" },
		  { "type", "regex" }, { "action", "reject" } },
	};
	char dir[] = "/tmp/mxs-test-policy.XXXXXX", path[300], err[MXS_ERRLEN + 64];
	struct ctl c = { .lock_fd = -1 };
	struct recfile f = {};
	struct env_set s;

	if (!mkdtemp(dir)) {
		CHECK("mkdtemp", 0, "failed");
		return;
	}
	c.state_dir = dir;
	for (int i = 0; i < 2; i++) {
		struct rec *r = recfile_add(&f);

		for (int k = 0; k < 5; k++)
			rec_set(r, recs[i][k][0], recs[i][k][1]);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, ST_ENVELOPE);
	if (state_write(path, &f, err, sizeof(err))) {
		CHECK("write the envelope state", 0, "%s", err);
	} else if (env_load(&c, &s, err, sizeof(err))) {
		CHECK("a TLD with type=regex loads as a plain TLD", 0, "%s", err);
	} else {
		CHECK("a TLD with type=regex loads as a plain TLD",
		      s.n == 2 && s.e[0].kind == ENV_TLD && !s.e[0].regex, "n %d regex %d", s.n,
		      s.n ? s.e[0].regex : -1);
		CHECK("a pattern with type=regex is a regular expression",
		      s.n == 2 && s.e[1].kind == ENV_PATTERN && s.e[1].regex, "n %d", s.n);
		env_free(&s);
	}
	recfile_free(&f);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_values();
	test_names();
	test_decide();
	test_load_regex_kinds();
	return failures ? 1 : 0;
}
