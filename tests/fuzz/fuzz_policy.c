// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The policy service's request parser and decision: the input is what a
 * Postfix smtpd writes on a policy connection. It is cut into requests
 * the way the service's connection loop does (a block ended by "\n\n" or
 * "\r\n\r\n", no NUL bytes), each parsed by policy.c's parse_request()
 * (the file is compiled in: the function is static) and decided by
 * policy_decide() over fixed envelope lists and partners, loaded at
 * start-up with env_load() from a state directory written here, in
 * normal and in monitor mode. Properties: every answer is one non-empty
 * line (a CR or LF in it would end the reply early and desynchronise
 * Postfix), a verdict goes with a reason, DUNNO with none.
 *
 * The IP part is off (no maps), as in a service started before the filter.
 */
#include "../../userspace/mta/policy_service.c"
#include "fuzz.h"
#include "../../userspace/state/recfile.h"

static struct env_set env;

static void put(struct recfile *f, const char *const *kv)
{
	struct rec *r = recfile_add(f);

	for (; kv[0]; kv += 2)
		rec_set(r, kv[0], kv[1]);
}

static void write_state(struct ctl *c, const char *name, const char *const *const *recs)
{
	struct recfile f = {};

	for (; *recs; recs++)
		put(&f, *recs);
	FUZZ_CHECK(!ctl_write(c, name, &f), "cannot write %s", name);
	recfile_free(&f);
}

static void load_lists(void)
{
	static const char *const e1[] = { "kind", "sender", "list", "block", "value",
					  "spam@example.com", "action", "reject", NULL };
	static const char *const e2[] = { "kind", "domain", "list", "block", "value",
					  "bad.example", "action", "quarantine", NULL };
	static const char *const e3[] = { "kind", "tld", "list", "block", "value", "zip",
					  "action", "spam", NULL };
	static const char *const e4[] = { "kind", "pattern", "list", "block", "value",
					  "^[0-9]+@", "type", "regex", "action", "spam", NULL };
	static const char *const e5[] = { "kind", "pattern", "list", "block", "value", "viagra",
					  "action", "reject", NULL };
	static const char *const e6[] = { "kind", "recipient", "list", "block", "value",
					  "abuse@example.org", "action", "reject", NULL };
	static const char *const e7[] = { "kind", "domain", "list", "allow", "value",
					  "good.bad.example", NULL };
	static const char *const e8[] = { "kind", "sender", "list", "trust", "value",
					  "boss@example.org", NULL };
	static const char *const *const envelope[] = { e1, e2, e3, e4, e5, e6, e7, e8, NULL };
	static const char *const p1[] = { "name", "acme", "id", "1", "ip", "192.0.2.0/24,2001:db8::/32",
					  "domain", "acme.example,acme.test", "lock_domain", "yes",
					  "tls", "require", "cert_name", "*.acme.example",
					  "skip", "spam", NULL };
	static const char *const p2[] = { "name", "beta", "id", "2", "ip", "198.51.100.0/24",
					  "domain", "beta.example", "skip", "policy,spam", NULL };
	static const char *const *const partners[] = { p1, p2, NULL };
	static const char *const s1[] = { "org_domains", "example.org,example.net", NULL };
	static const char *const *const settings[] = { s1, NULL };
	struct ctl c = { .state_dir = fuzz_dir("state"), .lock_fd = -1 };
	char err[MXS_ERRLEN + 64];

	write_state(&c, ST_ENVELOPE, envelope);
	write_state(&c, ST_PARTNERS, partners);
	write_state(&c, ST_SETTINGS, settings);
	FUZZ_CHECK(!env_load(&c, &env, err, sizeof(err)), "%s", err);
	FUZZ_CHECK(env.n == 8 && env.np == 2 && env.norg == 2, "lists loaded: %d %d %d",
		   env.n, env.np, env.norg);
}

static int spf_by_length(const char *client, const char *sender, void *arg)
{
	return strlen(sender) & 1;	/* deterministic, both ways */
}

static void decide(const struct policy_req *q, uint32_t flags)
{
	struct policy_out o;

	policy_decide(q, &env, NULL, flags, spf_by_length, NULL, &o);
	FUZZ_CHECK(o.action[0] && !strpbrk(o.action, "\r\n"), "action '%s'", o.action);
	FUZZ_CHECK(!strpbrk(o.log, "\r\n"), "log line '%s'", o.log);
	FUZZ_CHECK(o.verdict < MXS_ACT_MAX, "verdict %u", o.verdict);
	if (o.verdict == MXS_ACT_NONE)
		FUZZ_CHECK(!strcmp(o.action, "DUNNO") || !strncmp(o.action, "550 ", 4),
			   "no verdict, action '%s'", o.action);
	else
		FUZZ_CHECK(o.reason[0] && strcmp(o.action, "DUNNO"), "verdict %u, action '%s'",
			   o.verdict, o.action);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *p, *end;

	if (!env.e)
		load_lists();
	if (size > MXS_POLICY_MAX_REQ || memchr(data, '\0', size))
		return 0;	/* the service closes such a connection unparsed */
	buf = malloc(size + 1);
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (p = buf; (end = strstr(p, "\n\n")) || (end = strstr(p, "\r\n\r\n")); ) {
		struct policy_req q;
		size_t used = end - p + (end[0] == '\r' ? 4 : 2);
		int bad;

		*end = '\0';
		bad = parse_request(p, &q);
		FUZZ_CHECK(bad >= 0, "bad lines %d", bad);
		if (!bad && q.request) {
			decide(&q, 0);
			decide(&q, MXS_F_MONITOR);
		}
		p += used;
	}
	free(buf);
	return 0;
}
