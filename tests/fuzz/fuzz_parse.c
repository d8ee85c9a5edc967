// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * parse.c, what an admin types: every input line goes to parse_prefix,
 * parse_addr, parse_duration, parse_domain, parse_country, parse_ports,
 * parse_name and parse_action. Properties of what they accept: a prefix
 * is a network that prints and parses back to itself, an address is a
 * full-length prefix, a duration is 1 s to 100 years, a domain is a fixed
 * point of its normalisation (at most 253 characters, labels of at most
 * 63), a country code maps to an index and back, ports are 1-65535 and
 * unique, a name is 1-63 characters; a refusal always says why.
 */
#include "fuzz.h"	/* first: it sets _GNU_SOURCE */
#include <ctype.h>
#include "core/parse.h"
#include "filter/compile.h"
#include "filter/install.h"
#include "filter/classify.h"
#include "filter/geo.h"

static void one(const char *s)
{
	char err[MXS_ERRLEN + 600], ps[MXS_PFX_STRLEN], out[300], again[300], code[3], back[3];
	struct mxs_prefix p, q;
	uint16_t ports[MXS_MAX_PORTS];
	uint32_t n, idx;
	int64_t secs;
	uint8_t act;

	err[0] = '\0';
	if (!parse_prefix(s, &p, err, sizeof(err))) {
		FUZZ_CHECK(p.plen <= (p.v6 ? 128 : 32), "'%s': length %u", s, p.plen);
		q = p;
		prefix_mask(&q);
		FUZZ_CHECK(!memcmp(q.addr, p.addr, 16), "'%s': host bits", s);
		prefix_str(&p, ps);
		FUZZ_CHECK(!parse_prefix(ps, &q, err, sizeof(err)) && q.v6 == p.v6 &&
			   q.plen == p.plen && !memcmp(q.addr, p.addr, 16), "'%s' -> '%s'", s, ps);
	} else {
		FUZZ_CHECK(err[0], "'%s': prefix refused without a reason", s);
	}
	if (!parse_addr(s, &p, err, sizeof(err)))
		FUZZ_CHECK(p.plen == (p.v6 ? 128 : 32), "'%s': address of length %u", s, p.plen);
	if (!parse_duration(s, &secs, err, sizeof(err)))
		FUZZ_CHECK(secs > 0 && secs <= 100LL * 365 * 86400, "'%s': %lld s", s, (long long)secs);
	if (!parse_domain(s, out, sizeof(out), err, sizeof(err))) {
		size_t len = strlen(out), label = 0;

		FUZZ_CHECK(len >= 1 && len <= 253, "'%s': %zu characters", s, len);
		for (size_t i = 0; i < len; i++) {
			label = out[i] == '.' ? 0 : label + 1;
			FUZZ_CHECK(label <= 63 && !isupper((unsigned char)out[i]), "'%s' -> '%s'", s, out);
		}
		FUZZ_CHECK(!parse_domain(out, again, sizeof(again), err, sizeof(err)) &&
			   !strcmp(out, again), "'%s' -> '%s' -> '%s'", s, out, again);
	}
	if (!parse_country(s, &idx, code, err, sizeof(err))) {
		FUZZ_CHECK(idx < MXS_COUNTRY_SLOTS, "'%s': index %u", s, idx);
		country_code(idx, back);
		FUZZ_CHECK(!strcmp(back, code) && toupper((unsigned char)s[0]) == code[0] &&
			   toupper((unsigned char)s[1]) == code[1], "'%s' -> %s -> %s", s, code, back);
	}
	if (!parse_ports(s, ports, &n, err, sizeof(err))) {
		FUZZ_CHECK(n >= 1 && n <= MXS_MAX_PORTS, "'%s': %u ports", s, n);
		for (uint32_t i = 0; i < n; i++) {
			FUZZ_CHECK(ports[i] >= 1, "'%s': port 0", s);
			for (uint32_t j = 0; j < i; j++)
				FUZZ_CHECK(ports[i] != ports[j], "'%s': port %u twice", s, ports[i]);
		}
	}
	if (!parse_name(s, err, sizeof(err)))
		FUZZ_CHECK(strlen(s) >= 1 && strlen(s) <= 63, "'%s': name", s);
	if (!parse_action(s, &act, err, sizeof(err)))
		FUZZ_CHECK(act > MXS_ACT_NONE && act < MXS_ACT_MAX && !strcmp(action_name(act), s),
			   "'%s': action %u", s, act);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = strndup((const char *)data, size), *line, *save;

	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		one(line);
	free(buf);
	return 0;
}
