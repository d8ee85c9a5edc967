// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The envelope side's parsers. The first input byte picks what the rest is:
 *   0  the "envelope" state file, loaded with env_load()
 *   1  the "partners" state file, loaded with env_load()
 *   2  lines, each parsed by env_parse_value() as every kind (sender,
 *      domain, TLD, recipient, pattern plain and regex)
 *   3  lines "A B", for domain_within() and cert_name_match()
 * Properties: loaded entries have a kind, list, value and action in range
 * and partners' addresses are networks; a normalised value is a fixed
 * point (parsing it again gives it back) and fits its buffer; a domain
 * is within itself, and within another only as itself or a subdomain.
 */
#include "fuzz.h"	/* first: it sets _GNU_SOURCE */
#include <ctype.h>
#include <strings.h>
#include "core/ctl.h"
#include "core/json.h"
#include "state/recfile.h"
#include "mta/envelope.h"
#include "mta/policy_decide.h"
#include "filter/classify.h"
#include "filter/install.h"

static void load(const char *file, const uint8_t *data, size_t size)
{
	struct ctl c = { .state_dir = fuzz_dir("state"), .lock_fd = -1 };
	struct env_set s;
	char err[MXS_ERRLEN + 64];

	fuzz_unlink(c.state_dir, ST_ENVELOPE);
	fuzz_unlink(c.state_dir, ST_PARTNERS);
	fuzz_write(c.state_dir, file, data, size);
	if (env_load(&c, &s, err, sizeof(err))) {
		FUZZ_CHECK(err[0], "refused without a reason");
		return;
	}
	for (int i = 0; i < s.n; i++) {
		const struct env_entry *e = &s.e[i];

		FUZZ_CHECK(e->kind < ENV_KIND_MAX && e->list < ENV_LIST_MAX && e->value &&
			   e->action < MXS_ACT_MAX, "entry %d", i);
		if (e->list == ENV_BLOCK)
			FUZZ_CHECK(e->action != MXS_ACT_NONE, "block entry %d without action", i);
	}
	for (int i = 0; i < s.np; i++) {
		const struct partner *p = &s.p[i];

		FUZZ_CHECK(strlen(p->name) < sizeof(p->name) &&
			   strlen(p->cert_name) < sizeof(p->cert_name), "partner %d", i);
		for (int j = 0; j < p->nips; j++) {
			struct mxs_prefix m = p->ips[j];

			FUZZ_CHECK(m.plen <= (m.v6 ? 128 : 32), "partner %d address %d", i, j);
			prefix_mask(&m);
			FUZZ_CHECK(!memcmp(m.addr, p->ips[j].addr, 16), "host bits in partner %d", i);
		}
		for (int j = 0; j < p->ndomains; j++)
			FUZZ_CHECK(p->domains[j] && *p->domains[j], "partner %d domain %d", i, j);
	}
	env_free(&s);
}

static void values(const char *line)
{
	for (int kind = 0; kind < ENV_KIND_MAX; kind++) {
		for (int regex = 0; regex <= (kind == ENV_PATTERN); regex++) {
			char out[512], again[512], err[MXS_ERRLEN + 600];

			memset(out, 0x55, sizeof(out));
			if (env_parse_value(kind, regex, line, out, sizeof(out), err, sizeof(err))) {
				FUZZ_CHECK(err[0], "kind %d refused without a reason", kind);
				continue;
			}
			FUZZ_CHECK(memchr(out, '\0', sizeof(out)), "kind %d: unterminated", kind);
			FUZZ_CHECK(!env_parse_value(kind, regex, out, again, sizeof(again), err,
						    sizeof(err)), "kind %d: '%s' refused: %s", kind, out, err);
			FUZZ_CHECK(!strcmp(out, again), "kind %d: '%s' normalises to '%s'", kind, out,
				   again);
		}
	}
}

static void names(char *line)
{
	char *b = strchr(line, ' ');
	size_t la, lb;

	if (!b)
		return;
	*b++ = '\0';
	la = strlen(line);
	lb = strlen(b);
	FUZZ_CHECK(domain_within(line, line), "'%s' not within itself", line);
	if (domain_within(line, b))
		FUZZ_CHECK(la >= lb && !strcasecmp(line + la - lb, b) &&
			   (la == lb || line[la - lb - 1] == '.'), "'%s' within '%s'", line, b);
	if (cert_name_match(line, b) && strncmp(line, "*.", 2))
		FUZZ_CHECK(!strcasecmp(line, b), "'%s' matches '%s'", line, b);
	if (cert_name_match(line, b) && !strncmp(line, "*.", 2))
		FUZZ_CHECK(lb > la - 1 && domain_within(b, line + 2) && strcasecmp(b, line + 2),
			   "wildcard '%s' matches '%s'", line, b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *line, *save;

	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0:
		load(ST_ENVELOPE, data + 1, size - 1);
		return 0;
	case 1:
		load(ST_PARTNERS, data + 1, size - 1);
		return 0;
	}
	buf = strndup((const char *)data + 1, size - 1);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (data[0] % 4 == 2)
			values(line);
		else
			names(line);
	}
	free(buf);
	return 0;
}
