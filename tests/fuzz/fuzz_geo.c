// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The MaxMind database walk: the input is an .mmdb file, opened and walked
 * whole by geo_collect() (every country wanted), walked under a few
 * prefixes by geo_collect_under(), and looked up by geo_country_of() (the
 * country of a documentation address). Properties: every network comes out
 * of one family with a length within it and no host bits, carrying a
 * country index; the per-country counts add up to the networks returned;
 * a walk under a prefix returns only networks that meet it (IPv4 ones
 * only under a prefix that meets ::/96, where an IPv6 database keeps them).
 */
#include "fuzz.h"	/* first: it sets _GNU_SOURCE */
#include "core/parse.h"
#include "filter/compile.h"
#include "filter/install.h"
#include "filter/classify.h"
#include "filter/geo.h"

static const char *const unders[] = { "192.0.2.0/24", "198.51.100.128/25", "0.0.0.0/0",
				      "2001:db8::/32", "::/0", "203.0.113.7/32" };

static const struct mxs_prefix v4_space = { .v6 = 1, .plen = 96 };

static void check_net(const struct mxs_prefix *p, uint32_t cc, const char *what)
{
	struct mxs_prefix m = *p;

	FUZZ_CHECK(p->plen <= (p->v6 ? 128 : 32), "%s: length %u", what, p->plen);
	prefix_mask(&m);
	FUZZ_CHECK(!memcmp(m.addr, p->addr, 16), "%s: host bits", what);
	FUZZ_CHECK(cc < MXS_COUNTRY_SLOTS, "%s: country %u", what, cc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t per_country[MXS_COUNTRY_SLOTS];
	const char *path = fuzz_write(fuzz_dir(""), "geo.mmdb", data, size);
	struct pfx_vec out = {};
	struct geo_meta meta;
	char err[MXS_ERRLEN + 600], code[3];
	uint64_t sum = 0;

	memset(per_country, 0, sizeof(per_country));
	if (geo_collect(path, NULL, &out, per_country, &meta, err, sizeof(err))) {
		FUZZ_CHECK(err[0], "refused without a reason");
		return 0;	/* a file refused is refused everywhere */
	}
	for (size_t i = 0; i < out.n; i++)
		check_net(&out.v[i], out.ref[i], "walk");
	for (size_t i = 0; i < MXS_COUNTRY_SLOTS; i++)
		sum += per_country[i];
	FUZZ_CHECK(sum == out.n, "%llu networks counted, %zu returned", (unsigned long long)sum,
		   out.n);
	FUZZ_CHECK(meta.networks >= out.n, "%llu networks seen, %zu returned",
		   (unsigned long long)meta.networks, out.n);
	pfx_vec_free(&out);

	for (size_t u = 0; u < sizeof(unders) / sizeof(unders[0]); u++) {
		struct mxs_prefix under;

		FUZZ_CHECK(!parse_prefix(unders[u], &under, err, sizeof(err)), "%s", err);
		if (geo_collect_under(path, NULL, &under, &out, err, sizeof(err)))
			continue;
		for (size_t i = 0; i < out.n; i++) {
			check_net(&out.v[i], out.ref[i], unders[u]);
			/* IPv4 networks are the ::/96 subtree of an IPv6 database */
			FUZZ_CHECK(prefix_meets(&out.v[i], &under) ||
				   (!out.v[i].v6 && prefix_meets(&v4_space, &under)),
				   "a network outside %s", unders[u]);
		}
		pfx_vec_free(&out);
	}
	for (size_t u = 0; u < 2; u++) {
		struct mxs_prefix a;

		parse_addr(u ? "2001:db8::1" : "192.0.2.1", &a, err, sizeof(err));
		if (!geo_country_of(path, &a, code, err, sizeof(err)))
			FUZZ_CHECK(strlen(code) == 2, "country '%s'", code);
	}
	return 0;
}

/* libmaxminddb 1.7.1 (Debian 12) leaks the metadata it had read when
 * MMDB_open() fails on a damaged file (fixed upstream in
 * maxmind/libmaxminddb#356): not ours to fix, not a finding here. The
 * library has no frame pointers, so the stack stops in it: matched by
 * module. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:MMDB_open\nleak:libmaxminddb.so\n";
}
