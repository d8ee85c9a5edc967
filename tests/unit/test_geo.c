// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The MaxMind database walker: exact results on small databases written with
 * libmaxmind-db-writer-perl in both schemas, errors on bad files, and on the
 * real CC0 database (npm @ip-location-db/geo-whois-asn-country-mmdb, data by
 * NRO) a differential check: for random addresses, the longest match over
 * the walked networks must name the country libmaxminddb's own lookup gives.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <maxminddb.h>
#include "core/parse.h"
#include "filter/compile.h"
#include "filter/install.h"
#include "filter/classify.h"
#include "filter/geo.h"
#include "../check.h"

static const char spec[] =
	"198.51.100.0/24 CN\n"
	"198.51.100.128/25 HK\n"		/* nested: more specific wins */
	"203.0.113.0/25 DE\n"
	"203.0.113.128/25 FR\n"			/* adjacent, other country */
	"192.0.2.64/26 us\n"			/* lower case in the source */
	"2001:db8:c0::/48 CN\n"
	"2001:db8:c0:8000::/49 HK\n"
	"2001:db8:de::/48 DE\n";

/* The prefixes the walk must produce (the writer splits nested networks). */
static const char *const expect_all[] = {
	"198.51.100.0/25 CN", "198.51.100.128/25 HK", "203.0.113.0/25 DE",
	"203.0.113.128/25 FR", "192.0.2.64/26 US", "2001:db8:c0::/49 CN",
	"2001:db8:c0:8000::/49 HK", "2001:db8:de::/48 DE",
};

static int write_db(const char *schema, const char *path)
{
	char cmd[512];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "scripts/make-test-mmdb.pl --schema %s %s 2>/dev/null", schema, path);
	p = popen(cmd, "w");
	if (!p)
		return -1;
	fputs(spec, p);
	return pclose(p);
}

static bool has(const struct pfx_vec *pv, const char *want)
{
	char s[MXS_PFX_STRLEN], line[MXS_PFX_STRLEN + 4], cc[3];

	for (size_t i = 0; i < pv->n; i++) {
		country_code(pv->ref[i], cc);
		snprintf(line, sizeof(line), "%s %s", prefix_str(&pv->v[i], s), cc);
		if (!strcmp(line, want))
			return true;
	}
	return false;
}

static void test_small(const char *schema, const char *want_schema)
{
	char path[] = "/tmp/mxs-geo.XXXXXX", err[512], name[128], cc[3];
	struct pfx_vec pv = {};
	struct geo_meta m;
	uint64_t per[MXS_COUNTRY_SLOTS] = {};
	uint8_t want[MXS_COUNTRY_SLOTS] = {};
	struct mxs_prefix a;
	uint32_t idx;
	int fd = mkstemp(path), rc, missing = 0;

	close(fd);
	snprintf(name, sizeof(name), "%s: database written", schema);
	CHECK(name, write_db(schema, path) == 0, "make-test-mmdb.pl failed");

	rc = geo_collect(path, NULL, &pv, per, &m, err, sizeof(err));
	snprintf(name, sizeof(name), "%s: walk finds exactly the networks", schema);
	for (size_t i = 0; i < sizeof(expect_all) / sizeof(expect_all[0]); i++)
		if (!has(&pv, expect_all[i]))
			missing++, printf("# missing %s\n", expect_all[i]);
	CHECK(name, rc == 0 && pv.n == 8 && missing == 0, "rc=%d n=%zu missing=%d err=%s", rc, pv.n,
	      missing, rc ? err : "");
	snprintf(name, sizeof(name), "%s: schema reported as %s", schema, want_schema);
	CHECK(name, m.schema && !strcmp(m.schema, want_schema), "got %s", m.schema ? m.schema : "(none)");
	parse_country("CN", &idx, NULL, err, sizeof(err));
	snprintf(name, sizeof(name), "%s: per-country counts", schema);
	CHECK(name, per[idx] == 2 && m.networks == 8, "CN=%llu networks=%llu",
	      (unsigned long long)per[idx], (unsigned long long)m.networks);
	pfx_vec_free(&pv);

	parse_country("DE", &idx, NULL, err, sizeof(err));
	want[idx] = 1;
	rc = geo_collect(path, want, &pv, NULL, &m, err, sizeof(err));
	snprintf(name, sizeof(name), "%s: filter to one country", schema);
	CHECK(name, rc == 0 && pv.n == 2 && has(&pv, "203.0.113.0/25 DE") &&
	      has(&pv, "2001:db8:de::/48 DE"), "n=%zu", pv.n);
	pfx_vec_free(&pv);

	parse_addr("198.51.100.200", &a, err, sizeof(err));
	rc = geo_country_of(path, &a, cc, err, sizeof(err));
	snprintf(name, sizeof(name), "%s: lookup nested IPv4", schema);
	CHECK(name, rc == 0 && !strcmp(cc, "HK"), "rc=%d cc=%s", rc, rc ? "" : cc);
	parse_addr("2001:db8:c0::1", &a, err, sizeof(err));
	rc = geo_country_of(path, &a, cc, err, sizeof(err));
	snprintf(name, sizeof(name), "%s: lookup IPv6", schema);
	CHECK(name, rc == 0 && !strcmp(cc, "CN"), "rc=%d cc=%s", rc, rc ? "" : cc);
	parse_addr("192.0.2.1", &a, err, sizeof(err));
	snprintf(name, sizeof(name), "%s: lookup outside every network", schema);
	CHECK(name, geo_country_of(path, &a, cc, err, sizeof(err)) == 1, "found");
	unlink(path);
}

static void test_errors(void)
{
	char path[] = "/tmp/mxs-geo-bad.XXXXXX", err[512];
	struct pfx_vec pv = {};
	struct geo_meta m;
	int fd = mkstemp(path);
	char junk[4096];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 131 + 7);
	if (write(fd, junk, sizeof(junk)) != sizeof(junk))
		printf("# short write\n");
	close(fd);
	CHECK("missing file: error names it", geo_collect("/nonexistent/x.mmdb", NULL, &pv, NULL, &m,
							  err, sizeof(err)) == -1 &&
	      strstr(err, "/nonexistent/x.mmdb"), "err=%s", err);
	CHECK("corrupt file: error", geo_collect(path, NULL, &pv, NULL, &m, err, sizeof(err)) == -1 &&
	      strstr(err, path), "err=%s", err);
	unlink(path);
}

/* Reference matcher: the walked networks sorted by (length, address); the
 * longest match is a binary search per prefix length, longest first. */
static int cmp_pfx(const void *x, const void *y)
{
	const struct mxs_prefix *a = x, *b = y;

	if (a->plen != b->plen)
		return a->plen - b->plen;
	return memcmp(a->addr, b->addr, 16);
}

static int ref_lookup(const struct pfx_vec *pv, const struct mxs_prefix *a)
{
	for (int len = a->v6 ? 128 : 32; len >= 0; len--) {
		struct mxs_prefix k = *a;
		size_t lo = 0, hi = pv->n;

		k.plen = len;
		prefix_mask(&k);
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			int c = cmp_pfx(&pv->v[mid], &k);

			if (!c)
				return mid;
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return -1;
}

static void test_real(void)
{
	char path[512] = "", err[512], cc[3], ref_cc[3];
	struct pfx_vec pv = {}, fam[2] = {};
	struct geo_meta m;
	uint64_t seed = 12345;
	int bad = 0, checked = 0, found = 0;
	FILE *p = popen("scripts/fetch-country-db.sh --max-age 3650d 2>&1", "r");	/* a real one, not a fresh one */

	if (!p || !fgets(path, sizeof(path), p)) {
		CHECK("real database fetched from npm", 0, "no output");
		if (p)
			pclose(p);
		return;
	}
	if (pclose(p) || strchr(path, ':')) {
		CHECK("real database fetched from npm", 0, "%s", path);
		return;
	}
	path[strcspn(path, "\n")] = '\0';
	CHECK("real database walks", geo_collect(path, NULL, &pv, NULL, &m, err, sizeof(err)) == 0,
	      "%s", err);
	CHECK("real database: over 100000 networks, country_code schema",
	      m.networks > 100000 && m.schema && !strcmp(m.schema, "country_code"),
	      "networks=%llu schema=%s", (unsigned long long)m.networks, m.schema ? m.schema : "-");
	printf("# %s: %llu networks, %zu with a country\n", path,
	       (unsigned long long)m.networks, pv.n);
	for (size_t i = 0; i < pv.n; i++)
		pfx_vec_push(&fam[pv.v[i].v6], &pv.v[i], pv.ref[i]);
	for (int v6 = 0; v6 < 2; v6++) {
		/* sort prefixes and their countries together */
		struct { struct mxs_prefix p; uint32_t ref; } *t = calloc(fam[v6].n, sizeof(*t));

		for (size_t i = 0; i < fam[v6].n; i++)
			t[i].p = fam[v6].v[i], t[i].ref = fam[v6].ref[i];
		qsort(t, fam[v6].n, sizeof(*t), cmp_pfx);	/* p is the first member */
		for (size_t i = 0; i < fam[v6].n; i++)
			fam[v6].v[i] = t[i].p, fam[v6].ref[i] = t[i].ref;
		free(t);
	}
	for (int i = 0; i < 4000; i++) {
		int v6 = i >= 2000, r;
		struct mxs_prefix a = { .v6 = v6, .plen = v6 ? 128 : 32 };

		for (int b = 0; b < 16; b++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			a.addr[b] = seed >> 56;
		}
		if (v6)
			a.addr[0] = 0x20 | (a.addr[0] & 0x1f);		/* 2000::/3 */
		else
			a.addr[0] = 1 + a.addr[0] % 223;		/* 1-223.x.x.x */
		r = ref_lookup(&fam[v6], &a);
		checked++;
		if (geo_country_of(path, &a, cc, err, sizeof(err)) == 0) {
			found++;
			country_code(r >= 0 ? fam[v6].ref[r] : 0xffff, ref_cc);
			if (r < 0 || strcmp(cc, ref_cc))
				bad++;
		} else if (r >= 0) {
			bad++;
		}
		if (bad && bad < 4 && (r < 0 || strcmp(cc, ref_cc))) {
			char s[MXS_PFX_STRLEN];

			printf("# %s: libmaxminddb %s, walk %s\n", prefix_str(&a, s), cc,
			       r >= 0 ? ref_cc : "none");
		}
	}
	CHECK("real database: walk agrees with libmaxminddb on 4000 random addresses",
	      bad == 0 && found > 1000, "%d of %d disagree (%d found)", bad, checked, found);
	pfx_vec_free(&pv);
	pfx_vec_free(&fam[0]);
	pfx_vec_free(&fam[1]);
}

/* A damaged database whose nodes share children: nodes 0-99 each lead to
 * the next one on both sides, node 100 to nothing. Every address path
 * of up to 100 bits is valid, and all 2^100 of them end in node 100: a
 * walk along each path never ends. It must be refused (seen while
 * writing tests/fuzz/fuzz_geo.c); the alarm turns a hang into a failure. */
static void on_alarm(int sig)
{
	printf("not ok - a search tree with shared nodes is refused: still walking after 20 s\n");
	exit(1);
}

static void test_shared_nodes(void)
{
	char path[] = "/tmp/mxs-geo-dag.XXXXXX", err[512];
	struct pfx_vec pv = {};
	struct geo_meta m;
	unsigned char *buf;
	long len;
	uint32_t nodes;
	int fd = mkstemp(path), rc;
	FILE *f;

	close(fd);
	if (write_db("geoip2", path)) {
		CHECK("a search tree with shared nodes is refused", 0, "make-test-mmdb.pl failed");
		return;
	}
	/* the writer's node count; 24-bit records: 6 bytes a node */
	rc = geo_collect(path, NULL, &pv, NULL, &m, err, sizeof(err));
	pfx_vec_free(&pv);
	f = fopen(path, "r+b");
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	buf = malloc(len);
	rewind(f);
	if (rc || fread(buf, 1, len, f) != (size_t)len) {
		CHECK("a search tree with shared nodes is refused", 0, "cannot read %s", path);
		fclose(f);
		free(buf);
		unlink(path);
		return;
	}
	{
		MMDB_s db;

		MMDB_open(path, MMDB_MODE_MMAP, &db);
		nodes = db.metadata.node_count;
		MMDB_close(&db);
	}
	for (uint32_t i = 0; i <= 100 && i < nodes; i++) {
		uint32_t to = i < 100 ? i + 1 : nodes;	/* node_count: empty */

		for (int side = 0; side < 2; side++) {
			buf[i * 6 + side * 3] = to >> 16;
			buf[i * 6 + side * 3 + 1] = to >> 8;
			buf[i * 6 + side * 3 + 2] = to;
		}
	}
	rewind(f);
	fwrite(buf, 1, len, f);
	fclose(f);
	free(buf);
	signal(SIGALRM, on_alarm);
	alarm(20);
	rc = geo_collect(path, NULL, &pv, NULL, &m, err, sizeof(err));
	alarm(0);
	CHECK("a search tree with shared nodes is refused", nodes > 100 && rc == -1 &&
	      strstr(err, "corrupt search tree"), "nodes=%u rc=%d err=%s", nodes, rc, rc ? err : "");
	pfx_vec_free(&pv);
	unlink(path);
}

int main(void)
{
	test_small("geoip2", "country.iso_code");
	test_small("country_code", "country_code");
	test_errors();
	test_shared_nodes();
	test_real();
	return failures ? 1 : 0;
}
