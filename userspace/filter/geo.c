// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * MaxMind-format country databases, read with libmaxminddb.
 *
 * geo_collect() walks the whole search tree with MMDB_read_node() and
 * returns the networks of the wanted countries. In an IPv6 database the
 * IPv4 space lives under ::/96; the same subtree is also reachable as
 * ::ffff:0:0/96 and 2002::/16 (aliases), which are skipped so that every
 * IPv4 network comes out once, as IPv4.
 *
 * A node reached twice (a damaged file whose paths share nodes) is an
 * error, not a walk of every path.
 *
 * The country of a record: country.iso_code (GeoLite2/GeoIP2), else
 * registered_country.iso_code, else country_code (ip-location-db).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <maxminddb.h>
#include "geo.h"

int pfx_vec_push(struct pfx_vec *pv, const struct mxs_prefix *p, uint32_t ref)
{
	if (pv->n == pv->cap) {
		size_t cap = pv->cap ? pv->cap * 2 : 1024;
		void *v = realloc(pv->v, cap * sizeof(*pv->v));

		if (!v)
			return -ENOMEM;
		pv->v = v;
		v = realloc(pv->ref, cap * sizeof(*pv->ref));
		if (!v)
			return -ENOMEM;
		pv->ref = v;
		pv->cap = cap;
	}
	pv->v[pv->n] = *p;
	pv->ref[pv->n++] = ref;
	return 0;
}

void pfx_vec_free(struct pfx_vec *pv)
{
	free(pv->v);
	free(pv->ref);
	memset(pv, 0, sizeof(*pv));
}

#define CC_NONE 0xffffffffU

static const char *const schema_names[] = { "country.iso_code", "country.iso_code",
					    "country_code" };

/* Country index of a data record, or CC_NONE. *schema gets which key had it. */
static uint32_t record_country(MMDB_entry_s *e, int *schema)
{
	static const char *const p0[] = { "country", "iso_code", NULL };
	static const char *const p1[] = { "registered_country", "iso_code", NULL };
	static const char *const p2[] = { "country_code", NULL };
	static const char *const *const paths[] = { p0, p1, p2 };

	for (int i = 0; i < 3; i++) {
		MMDB_entry_data_s d;
		char c0, c1;

		if (MMDB_aget_value(e, &d, paths[i]) != MMDB_SUCCESS || !d.has_data ||
		    d.type != MMDB_DATA_TYPE_UTF8_STRING || d.data_size != 2)
			continue;
		c0 = d.utf8_string[0] & ~0x20;
		c1 = d.utf8_string[1] & ~0x20;
		if (c0 < 'A' || c0 > 'Z' || c1 < 'A' || c1 > 'Z')
			continue;
		*schema = i;
		return (c0 - 'A') * 26 + (c1 - 'A');
	}
	return CC_NONE;
}

/* data offset -> country index, open addressing */
struct cc_cache {
	uint64_t *key;		/* offset + 1; 0 = empty */
	uint32_t *val;
	size_t cap, n;
};

static int cache_get(struct cc_cache *c, uint64_t off, uint32_t *val)
{
	size_t i = (off * 0x9e3779b97f4a7c15ULL) & (c->cap - 1);

	for (; c->key[i]; i = (i + 1) & (c->cap - 1)) {
		if (c->key[i] == off + 1) {
			*val = c->val[i];
			return 1;
		}
	}
	return 0;
}

static int cache_put(struct cc_cache *c, uint64_t off, uint32_t val)
{
	size_t i;

	if ((c->n + 1) * 2 > c->cap) {
		struct cc_cache big = { .cap = c->cap * 2 };

		big.key = calloc(big.cap, sizeof(*big.key));
		big.val = calloc(big.cap, sizeof(*big.val));
		if (!big.key || !big.val) {
			free(big.key);
			free(big.val);
			return -ENOMEM;
		}
		for (size_t j = 0; j < c->cap; j++)
			if (c->key[j])
				cache_put(&big, c->key[j] - 1, c->val[j]);
		free(c->key);
		free(c->val);
		*c = big;
	}
	i = (off * 0x9e3779b97f4a7c15ULL) & (c->cap - 1);
	while (c->key[i])
		i = (i + 1) & (c->cap - 1);
	c->key[i] = off + 1;
	c->val[i] = val;
	c->n++;
	return 0;
}

struct walk_item {
	uint32_t node;
	uint8_t depth;
	uint8_t v4;		/* inside the IPv4 subtree (bits counted from 96) */
	uint8_t bits[16];
};

static void set_bit(uint8_t *bits, int i)
{
	bits[i / 8] |= 0x80 >> (i % 8);
}

static int open_db(const char *path, MMDB_s *db, char *err, size_t errlen)
{
	int rc = MMDB_open(path, MMDB_MODE_MMAP, db);

	if (rc != MMDB_SUCCESS) {
		snprintf(err, errlen, "%s: %s%s%s", path, MMDB_strerror(rc),
			 rc == MMDB_IO_ERROR ? ": " : "", rc == MMDB_IO_ERROR ? strerror(errno) : "");
		return -1;
	}
	return 0;
}

int geo_meta_read(const char *path, struct geo_meta *meta, char *err, size_t errlen)
{
	MMDB_s db;

	memset(meta, 0, sizeof(*meta));
	if (open_db(path, &db, err, errlen))
		return -1;
	snprintf(meta->type, sizeof(meta->type), "%s",
		 db.metadata.database_type ? db.metadata.database_type : "?");
	meta->build_epoch = db.metadata.build_epoch;
	MMDB_close(&db);
	return 0;
}

/* Follow @under's bits from @node: 1 and the start of the walk when the
 * tree branches below it, 0 when no network or one network covers it
 * (then pushed to @out when wanted), -1 on a damaged tree. */
static int descend(MMDB_s *db, uint32_t node, const struct mxs_prefix *under, int v4_base,
		   const uint8_t *want, struct pfx_vec *out, struct walk_item *it)
{
	memset(it, 0, sizeof(*it));
	it->v4 = !under->v6;
	it->depth = v4_base;
	for (int i = 0; i < under->plen; i++) {
		int bit = under->addr[i / 8] >> (7 - i % 8) & 1;
		MMDB_search_node_s sn;
		uint8_t type;

		if (MMDB_read_node(db, node, &sn) != MMDB_SUCCESS)
			return -1;
		type = bit ? sn.right_record_type : sn.left_record_type;
		if (bit)
			set_bit(it->bits, i);
		it->depth++;
		if (type == MMDB_RECORD_TYPE_SEARCH_NODE) {
			node = bit ? sn.right_record : sn.left_record;
			continue;
		}
		if (type == MMDB_RECORD_TYPE_DATA) {
			MMDB_entry_s ent = bit ? sn.right_record_entry : sn.left_record_entry;
			struct mxs_prefix p = { .v6 = under->v6, .plen = i + 1 };
			uint32_t cc = record_country(&ent, &(int){ 0 });

			memcpy(p.addr, it->bits, 16);
			if (cc != CC_NONE && (!want || want[cc]) && pfx_vec_push(out, &p, cc))
				return -1;
		}
		return type == MMDB_RECORD_TYPE_INVALID ? -1 : 0;
	}
	it->node = node;
	return 1;
}

static int collect(const char *path, const uint8_t *want, const struct mxs_prefix *under,
		   struct pfx_vec *out, uint64_t *per_country, struct geo_meta *meta,
		   char *err, size_t errlen)
{
	struct cc_cache cache = { .cap = 1 << 12 };
	struct walk_item *stack = NULL;
	size_t sp = 0, scap = 0;
	uint64_t visits = 0;
	uint32_t v4_start = UINT32_MAX;
	int schema = -1, rc = -1;
	MMDB_s db;

	memset(meta, 0, sizeof(*meta));
	if (open_db(path, &db, err, errlen))
		return -1;
	snprintf(meta->type, sizeof(meta->type), "%s",
		 db.metadata.database_type ? db.metadata.database_type : "?");
	meta->build_epoch = db.metadata.build_epoch;
	cache.key = calloc(cache.cap, sizeof(*cache.key));
	cache.val = calloc(cache.cap, sizeof(*cache.val));
	if (!cache.key || !cache.val)
		goto nomem;

	if (db.metadata.ip_version == 6) {
		/* the node reached by 96 zero bits roots the IPv4 space */
		uint32_t n = 0;
		int i;

		for (i = 0; i < 96 && n < db.metadata.node_count; i++) {
			MMDB_search_node_s sn;

			if (MMDB_read_node(&db, n, &sn) != MMDB_SUCCESS)
				break;
			if (sn.left_record_type != MMDB_RECORD_TYPE_SEARCH_NODE)
				break;
			n = sn.left_record;
		}
		if (i == 96)
			v4_start = n;
	}

	scap = 512;
	stack = malloc(scap * sizeof(*stack));
	if (!stack)
		goto nomem;
	memset(&stack[0], 0, sizeof(stack[0]));
	stack[0].v4 = db.metadata.ip_version == 4;
	sp = 1;
	if (under) {
		int base = db.metadata.ip_version == 6 && !under->v6 ? 96 : 0;
		uint32_t root = base ? v4_start : 0;
		int d;

		if ((base && v4_start == UINT32_MAX) || (db.metadata.ip_version == 4 && under->v6)) {
			rc = 0;	/* no such family in this database */
			goto out;
		}
		d = descend(&db, root, under, base, want, out, &stack[0]);
		if (d < 0) {
			snprintf(err, errlen, "%s: corrupt search tree", path);
			goto out;
		}
		sp = d;
	}
	while (sp) {
		struct walk_item it = stack[--sp];
		MMDB_search_node_s sn;
		int maxd = it.v4 ? 32 : 128;
		int d = it.v4 ? it.depth - (db.metadata.ip_version == 6 ? 96 : 0) : it.depth;

		/* with the aliases cut, a search tree reaches each node once; a
		 * damaged one whose nodes share children would be walked once
		 * per path, 2^depth times (test_geo crafts one) */
		if (++visits > db.metadata.node_count) {
			snprintf(err, errlen, "%s: corrupt search tree (node %u reached twice)",
				 path, it.node);
			goto out;
		}
		if (MMDB_read_node(&db, it.node, &sn) != MMDB_SUCCESS) {
			snprintf(err, errlen, "%s: corrupt search tree (node %u)", path, it.node);
			goto out;
		}
		for (int side = 1; side >= 0; side--) {
			uint8_t type = side ? sn.right_record_type : sn.left_record_type;
			uint64_t rec = side ? sn.right_record : sn.left_record;
			MMDB_entry_s ent = side ? sn.right_record_entry : sn.left_record_entry;
			struct walk_item child = it;

			child.depth = it.depth + 1;
			if (side)
				set_bit(child.bits, it.v4 ? d : it.depth);
			if (type == MMDB_RECORD_TYPE_EMPTY)
				continue;
			if (type == MMDB_RECORD_TYPE_INVALID) {
				snprintf(err, errlen, "%s: corrupt search tree (record of node %u)",
					 path, it.node);
				goto out;
			}
			if (type == MMDB_RECORD_TYPE_SEARCH_NODE) {
				if (d + 1 >= maxd) {
					snprintf(err, errlen, "%s: search tree deeper than %d bits", path, maxd);
					goto out;
				}
				child.node = rec;
				if (rec == v4_start && !it.v4) {
					/* ::/96 is the IPv4 root; any other path to it is an alias */
					bool zero = true;

					for (int b = 0; b < 12; b++)
						zero &= child.bits[b] == 0;
					if (!zero || child.depth != 96)
						continue;
					child.v4 = 1;
					memset(child.bits, 0, sizeof(child.bits));
				}
				if (sp == scap) {
					void *ns = realloc(stack, 2 * scap * sizeof(*stack));

					if (!ns)
						goto nomem;
					stack = ns;
					scap *= 2;
				}
				stack[sp++] = child;
				continue;
			}
			/* a data record: the network is the path so far plus this bit */
			{
				struct mxs_prefix p = { .v6 = !child.v4 };
				uint32_t cc;
				int sch = -1;

				if (!cache_get(&cache, ent.offset, &cc)) {
					cc = record_country(&ent, &sch);
					if (sch >= 0 && schema < 0)
						schema = sch;
					if (cache_put(&cache, ent.offset, cc))
						goto nomem;
				}
				meta->networks++;
				if (cc == CC_NONE)
					continue;
				p.plen = child.v4 ? d + 1 : child.depth;
				memcpy(p.addr, child.bits, child.v4 ? 4 : 16);
				if (per_country)
					per_country[cc]++;
				if (want && !want[cc])
					continue;
				if (pfx_vec_push(out, &p, cc))
					goto nomem;
			}
		}
	}
	meta->schema = schema >= 0 ? schema_names[schema] : NULL;
	rc = 0;
	goto out;
nomem:
	snprintf(err, errlen, "%s: out of memory", path);
out:
	if (rc)
		pfx_vec_free(out);
	free(stack);
	free(cache.key);
	free(cache.val);
	MMDB_close(&db);
	return rc;
}

int geo_collect(const char *path, const uint8_t *want, struct pfx_vec *out,
		uint64_t *per_country, struct geo_meta *meta, char *err, size_t errlen)
{
	return collect(path, want, NULL, out, per_country, meta, err, errlen);
}

int geo_collect_under(const char *path, const uint8_t *want, const struct mxs_prefix *under,
		      struct pfx_vec *out, char *err, size_t errlen)
{
	struct geo_meta meta;

	return collect(path, want, under, out, NULL, &meta, err, errlen);
}

int geo_country_of(const char *path, const struct mxs_prefix *addr, char code[3],
		   char *err, size_t errlen)
{
	char a[INET6_ADDRSTRLEN];
	int gai = 0, mrc = 0, schema, rc = 1;
	MMDB_lookup_result_s r;
	MMDB_s db;

	if (open_db(path, &db, err, errlen))
		return -1;
	inet_ntop(addr->v6 ? AF_INET6 : AF_INET, addr->addr, a, sizeof(a));
	r = MMDB_lookup_string(&db, a, &gai, &mrc);
	if (gai || mrc != MMDB_SUCCESS) {
		snprintf(err, errlen, "%s: lookup of %s: %s", path, a,
			 gai ? gai_strerror(gai) : MMDB_strerror(mrc));
		rc = -1;
	} else if (r.found_entry) {
		uint32_t cc = record_country(&r.entry, &schema);

		if (cc != CC_NONE) {
			country_code(cc, code);
			rc = 0;
		}
	}
	MMDB_close(&db);
	return rc;
}
